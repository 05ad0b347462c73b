//! CSV input: type inference over the first rows, then streaming into Arrow record batches.
//!
//! A cell that does not parse as its column's type stops the read with the file, line and
//! column name; the cell's text is never part of the message.

use super::IoError;
use crate::job::{ColumnType, CsvOptions};
use arrow::array::{
    ArrayBuilder, ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{NaiveDate, NaiveDateTime};
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows read to infer column types.
pub const INFERENCE_ROWS: usize = 10_000;

/// The Arrow type of a declared column type.
pub fn arrow_type(t: ColumnType) -> DataType {
    match t {
        ColumnType::String => DataType::Utf8,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
    }
}

fn type_name(t: &DataType) -> &'static str {
    match t {
        DataType::Int64 => "int64",
        DataType::Float64 => "float64",
        DataType::Boolean => "bool",
        DataType::Date32 => "date (YYYY-MM-DD)",
        DataType::Timestamp(..) => "timestamp (YYYY-MM-DDTHH:MM:SS)",
        _ => "string",
    }
}

fn reader(path: &Path, options: &CsvOptions) -> Result<csv::Reader<BufReader<File>>, IoError> {
    let file = crate::files::open_regular(path).map_err(|source| IoError::Open { path: path.to_path_buf(), source })?;
    Ok(csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(BufReader::with_capacity(1 << 20, file)))
}

fn csv_error(path: &Path, error: csv::Error) -> IoError {
    let line = error.position().map(|p| p.line());
    match error.into_kind() {
        csv::ErrorKind::Io(source) => IoError::Open { path: path.to_path_buf(), source },
        _ => IoError::Malformed {
            path: path.to_path_buf(),
            line,
            problem: "the CSV structure is broken (an unclosed quote?)".into(),
        },
    }
}

/// Reads the header (or makes `column_1`…) and infers types from the first rows.
///
/// # Errors
/// Unreadable files, duplicate or empty column names, broken CSV structure.
pub fn infer_schema(path: &Path, options: &CsvOptions) -> Result<SchemaRef, IoError> {
    let mut reader = reader(path, options)?;
    let mut record = csv::ByteRecord::new();
    let mut names: Vec<String> = Vec::new();
    let mut first_line_is_data = !options.has_header;
    if reader.read_byte_record(&mut record).map_err(|e| csv_error(path, e))? {
        if options.has_header {
            for (i, field) in record.iter().enumerate() {
                let name = std::str::from_utf8(field).map_err(|_| IoError::Malformed {
                    path: path.to_path_buf(),
                    line: Some(1),
                    problem: format!("the name of column {} is not UTF-8", i + 1),
                })?;
                // Spreadsheet programs start CSV files with a byte-order mark; it is no part of a name.
                names.push(name.trim_start_matches('\u{feff}').trim().to_string());
            }
        } else {
            names = (1..=record.len()).map(|i| format!("column_{i}")).collect();
        }
    } else {
        return Err(IoError::Malformed { path: path.to_path_buf(), line: None, problem: "the file is empty".into() });
    }
    check_names(path, &names)?;

    let mut candidates = vec![Candidates::default(); names.len()];
    let mut rows = 0;
    loop {
        if first_line_is_data {
            first_line_is_data = false;
        } else if !reader.read_byte_record(&mut record).map_err(|e| csv_error(path, e))? {
            break;
        }
        if rows >= INFERENCE_ROWS {
            break;
        }
        rows += 1;
        for (i, field) in record.iter().enumerate().take(names.len()) {
            let Ok(text) = std::str::from_utf8(field) else {
                candidates[i].exclude_all();
                continue;
            };
            if options.null_values.iter().any(|n| n == text) {
                continue;
            }
            candidates[i].observe(text);
        }
    }
    let fields: Vec<Field> = names
        .iter()
        .zip(candidates)
        .map(|(name, c)| {
            let data_type = match options.types.get(name) {
                Some(t) => arrow_type(*t),
                None => c.best(),
            };
            Field::new(name, data_type, true)
        })
        .collect();
    Ok(Arc::new(Schema::new(fields)))
}

fn check_names(path: &Path, names: &[String]) -> Result<(), IoError> {
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(IoError::Malformed {
                path: path.to_path_buf(),
                line: Some(1),
                problem: format!("column {} has no name", i + 1),
            });
        }
        if names[..i].contains(name) {
            return Err(IoError::Malformed {
                path: path.to_path_buf(),
                line: Some(1),
                problem: format!("two columns are named `{name}`"),
            });
        }
    }
    Ok(())
}

/// Which types every value seen so far fits.
#[derive(Clone)]
struct Candidates {
    boolean: bool,
    integer: bool,
    float: bool,
    date: bool,
    timestamp: bool,
    seen: bool,
}

impl Default for Candidates {
    fn default() -> Self {
        Self { boolean: true, integer: true, float: true, date: true, timestamp: true, seen: false }
    }
}

impl Candidates {
    fn exclude_all(&mut self) {
        *self = Self { boolean: false, integer: false, float: false, date: false, timestamp: false, seen: true };
    }

    fn observe(&mut self, text: &str) {
        self.seen = true;
        self.boolean &= parse_bool_strict(text).is_some();
        self.integer &= parse_integer(text).is_some();
        self.float &= parse_float(text).is_some();
        self.date &= parse_date(text).is_some();
        self.timestamp &= parse_timestamp(text).is_some();
    }

    fn best(&self) -> DataType {
        if !self.seen {
            DataType::Utf8
        } else if self.boolean {
            DataType::Boolean
        } else if self.integer {
            DataType::Int64
        } else if self.float {
            DataType::Float64
        } else if self.date {
            DataType::Date32
        } else if self.timestamp {
            DataType::Timestamp(TimeUnit::Microsecond, None)
        } else {
            DataType::Utf8
        }
    }
}

fn parse_bool_strict(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Booleans when the type is declared: also yes/no, y/n, t/f and 1/0.
fn parse_bool(text: &str) -> Option<bool> {
    parse_bool_strict(text).or_else(|| match text.to_ascii_lowercase().as_str() {
        "yes" | "y" | "t" | "1" => Some(true),
        "no" | "n" | "f" | "0" => Some(false),
        _ => None,
    })
}

/// Integers; a leading zero (`007`, a zip code, an account number) is text, not a number.
fn parse_integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    text.parse().ok()
}

fn parse_float(text: &str) -> Option<f64> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let plain = text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'));
    let leading_zero = digits.len() > 1 && digits.starts_with('0') && !digits.starts_with("0.");
    if !plain || leading_zero || !digits.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

fn parse_date(text: &str) -> Option<i32> {
    if text.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(crate::text::days_from_date)
}

/// Microseconds since 1970-01-01 UTC. Offsets (`Z`, `+02:00`) are applied; naive times are UTC.
fn parse_timestamp(text: &str) -> Option<i64> {
    if text.len() < 19 {
        return None;
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_micros());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    None
}

enum ColumnBuilder {
    Text(StringBuilder),
    Integer(Int64Builder),
    Float(Float64Builder),
    Boolean(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl ColumnBuilder {
    fn new(data_type: &DataType, capacity: usize) -> Self {
        match data_type {
            DataType::Int64 => Self::Integer(Int64Builder::with_capacity(capacity)),
            DataType::Float64 => Self::Float(Float64Builder::with_capacity(capacity)),
            DataType::Boolean => Self::Boolean(BooleanBuilder::with_capacity(capacity)),
            DataType::Date32 => Self::Date(Date32Builder::with_capacity(capacity)),
            DataType::Timestamp(..) => Self::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity)),
            _ => Self::Text(StringBuilder::with_capacity(capacity, capacity * 16)),
        }
    }

    fn append_null(&mut self) {
        match self {
            Self::Text(b) => b.append_null(),
            Self::Integer(b) => b.append_null(),
            Self::Float(b) => b.append_null(),
            Self::Boolean(b) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Timestamp(b) => b.append_null(),
        }
    }

    /// Appends a parsed value; `false` when the text does not parse.
    fn append(&mut self, text: &str) -> bool {
        match self {
            Self::Text(b) => b.append_value(text),
            Self::Integer(b) => match text.trim().parse::<i64>() {
                Ok(v) => b.append_value(v),
                Err(_) => return false,
            },
            Self::Float(b) => match text.trim().parse::<f64>() {
                Ok(v) => b.append_value(v),
                Err(_) => return false,
            },
            Self::Boolean(b) => match parse_bool(text.trim()) {
                Some(v) => b.append_value(v),
                None => return false,
            },
            Self::Date(b) => match parse_date(text.trim()) {
                Some(v) => b.append_value(v),
                None => return false,
            },
            Self::Timestamp(b) => match parse_timestamp(text.trim()) {
                Some(v) => b.append_value(v),
                None => return false,
            },
        }
        true
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Text(b) => Arc::new(b.finish()),
            Self::Integer(b) => Arc::new(b.finish()),
            Self::Float(b) => Arc::new(b.finish()),
            Self::Boolean(b) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Timestamp(b) => Arc::new(b.finish()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Text(b) => b.len(),
            Self::Integer(b) => b.len(),
            Self::Float(b) => b.len(),
            Self::Boolean(b) => b.len(),
            Self::Date(b) => b.len(),
            Self::Timestamp(b) => b.len(),
        }
    }
}

/// Whether the file, read from byte `start` (a record's first byte) to its end, ends inside a
/// quoted field, by the same rules the csv parser follows (RFC 4180 quotes, `""` inside quotes).
fn ends_inside_quotes(path: &Path, start: u64, delimiter: u8) -> Result<bool, IoError> {
    use std::io::{Read, Seek, SeekFrom};
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let open_error = |source| IoError::Open { path: path.to_path_buf(), source };
    let mut file = crate::files::open_regular(path).map_err(open_error)?;
    file.seek(SeekFrom::Start(start)).map_err(open_error)?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut buffer = [0u8; 1 << 16];
    let mut state = State::FieldStart;
    loop {
        let n = reader.read(&mut buffer).map_err(open_error)?;
        if n == 0 {
            return Ok(state == State::Quoted);
        }
        for &b in &buffer[..n] {
            let ends_field = b == delimiter || b == b'\n' || b == b'\r';
            state = match state {
                State::FieldStart if b == b'"' => State::Quoted,
                State::FieldStart | State::Unquoted if ends_field => State::FieldStart,
                State::FieldStart | State::Unquoted => State::Unquoted,
                State::Quoted if b == b'"' => State::QuoteInQuoted,
                State::Quoted => State::Quoted,
                State::QuoteInQuoted if b == b'"' => State::Quoted,
                State::QuoteInQuoted if ends_field => State::FieldStart,
                State::QuoteInQuoted => State::Unquoted,
            };
        }
    }
}

/// Streams one CSV file as record batches of the given schema.
pub struct CsvBatches {
    path: PathBuf,
    delimiter: u8,
    /// Byte offset of the last record read, to check at the end that its quotes closed.
    last_record: Option<(u64, u64)>,
    reader: csv::Reader<BufReader<File>>,
    schema: SchemaRef,
    null_values: Vec<String>,
    batch_size: usize,
    record: csv::ByteRecord,
    done: bool,
}

impl CsvBatches {
    /// Opens `path`, checking that its header matches `schema`.
    ///
    /// # Errors
    /// The file cannot be opened, or its columns differ from the schema's.
    pub fn open(path: &Path, options: &CsvOptions, schema: SchemaRef, batch_size: usize) -> Result<Self, IoError> {
        let mut reader = reader(path, options)?;
        let mut record = csv::ByteRecord::new();
        if options.has_header {
            if !reader.read_byte_record(&mut record).map_err(|e| csv_error(path, e))? {
                return Err(IoError::Malformed {
                    path: path.to_path_buf(),
                    line: None,
                    problem: "the file is empty".into(),
                });
            }
            let names: Vec<String> = record
                .iter()
                .map(|f| String::from_utf8_lossy(f).trim_start_matches('\u{feff}').trim().to_string())
                .collect();
            let expected: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            if names != expected {
                return Err(IoError::SchemaMismatch { path: path.to_path_buf() });
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            delimiter: options.delimiter,
            last_record: None,
            reader,
            schema,
            null_values: options.null_values.clone(),
            batch_size,
            record,
            done: false,
        })
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>, IoError> {
        if self.done {
            return Ok(None);
        }
        let fields = self.schema.fields().clone();
        let mut builders: Vec<ColumnBuilder> =
            fields.iter().map(|f| ColumnBuilder::new(f.data_type(), self.batch_size)).collect();
        let mut rows = 0;
        while rows < self.batch_size {
            if !self.reader.read_byte_record(&mut self.record).map_err(|e| csv_error(&self.path, e))? {
                self.done = true;
                // The csv parser ends a quoted field at the end of the file without complaint,
                // which merges everything after a stray quote into one value: refuse that.
                if let Some((byte, line)) = self.last_record
                    && ends_inside_quotes(&self.path, byte, self.delimiter)?
                {
                    return Err(IoError::Malformed {
                        path: self.path.clone(),
                        line: Some(line),
                        problem: "a quoted field opened on this row is never closed (the file ends inside quotes)"
                            .into(),
                    });
                }
                break;
            }
            let line = self.record.position().map(|p| p.line());
            self.last_record = self.record.position().map(|p| (p.byte(), p.line()));
            if self.record.len() != fields.len() {
                // A blank line is not a row.
                if self.record.len() == 1 && self.record.get(0).is_some_and(<[u8]>::is_empty) {
                    continue;
                }
                return Err(IoError::Malformed {
                    path: self.path.clone(),
                    line,
                    problem: format!("the row has {} fields, the header {}", self.record.len(), fields.len()),
                });
            }
            for (i, (field, builder)) in self.record.iter().zip(builders.iter_mut()).enumerate() {
                let column = || fields[i].name().clone();
                let text = std::str::from_utf8(field).map_err(|_| IoError::Cell {
                    path: self.path.clone(),
                    line,
                    column: column(),
                    problem: "is not UTF-8 text".into(),
                })?;
                if self.null_values.iter().any(|n| n == text) {
                    builder.append_null();
                } else if !builder.append(text) {
                    return Err(IoError::Cell {
                        path: self.path.clone(),
                        line,
                        column: column(),
                        problem: format!("does not read as {}", type_name(fields[i].data_type())),
                    });
                }
            }
            rows += 1;
        }
        if rows == 0 {
            return Ok(None);
        }
        debug_assert!(builders.iter().all(|b| b.len() == rows));
        let columns: Vec<ArrayRef> = builders.iter_mut().map(ColumnBuilder::finish).collect();
        RecordBatch::try_new(self.schema.clone(), columns).map(Some).map_err(|source| IoError::Arrow { source })
    }
}

impl Iterator for CsvBatches {
    type Item = Result<RecordBatch, IoError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_batch() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quote_left_open_at_the_end_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let read = |text: &str| -> Result<usize, IoError> {
            let path = dir.path().join("x.csv");
            std::fs::write(&path, text).unwrap();
            let options = CsvOptions::default();
            let schema = infer_schema(&path, &options)?;
            let mut rows = 0;
            for batch in CsvBatches::open(&path, &options, schema, 1024)? {
                rows += batch?.num_rows();
            }
            Ok(rows)
        };
        assert_eq!(read("a,b\n1,\"x, \"\"y\"\"\"\n2,\"multi\nline\"\n").unwrap(), 2);
        assert_eq!(read("a,b\n1,ab\"c\n").unwrap(), 1, "a quote inside an unquoted field is text");
        let error = read("a,b\n1,x\n2,\"open\n3,y\n4,z\n").unwrap_err();
        assert!(error.to_string().contains("never closed"), "{error}");
        assert!(error.to_string().contains("line 3"), "{error}");
    }

    #[test]
    fn inference_rules() {
        assert_eq!(parse_integer("007"), None);
        assert_eq!(parse_integer("-12"), Some(-12));
        assert_eq!(parse_integer("0"), Some(0));
        assert_eq!(parse_float("0.5"), Some(0.5));
        assert_eq!(parse_float("007.5"), None);
        assert_eq!(parse_float("inf"), None);
        assert_eq!(parse_float("NaN"), None);
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
        assert_eq!(parse_date("2023-02-29"), None);
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(parse_timestamp("1970-01-01 01:00:00"), Some(3_600_000_000));
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool_strict("Yes"), None);
    }
}
