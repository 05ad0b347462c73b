//! Reversing an `encrypt` column with the job's key: single values from the command line, or a
//! whole column of a CSV or Parquet file (written atomically, like every output).
//!
//! Integer columns are encrypted with cycle walking over the column type's range, text columns
//! character by character, so decryption must know which one a column was. A Parquet file
//! says so by its column type; for CSV files and command-line values the job's input schema
//! does, or the caller states it ([`ValueKind`]).

use crate::io::output::BatchWriter;
use crate::io::{BATCH_SIZE, DataSource, IoError};
use crate::job::{Action, ColumnType, CsvOptions, DataFormat, Job, format_from_extension};
use crate::keys::{Key, KeyError};
use crate::transform::encrypt::{Alphabet, Direction, Ff1, IntegerRange, ValueError, integer_range};
use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the encrypted column held before encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Text: every alphabet character was encrypted in place.
    Text,
    /// Integers of a type with this range (sign and digit count kept).
    Integer(IntegerRange),
}

/// Why decryption failed. Never carries a value.
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    #[error("column `{column}` is not in the job{}", hint.as_ref().map(|h| format!(" (did you mean `{h}`?)")).unwrap_or_default())]
    UnknownColumn { column: String, hint: Option<String> },
    #[error("column `{column}` is not encrypted by this job: its action is `{action}`, which cannot be reversed")]
    NotEncrypted { column: String, action: &'static str },
    #[error("the job has no key (`secrets.pseudonym_key`)")]
    MissingKey,
    #[error("cannot load the key")]
    Key(#[source] KeyError),
    #[error(
        "cannot tell whether `{column}` held integers or text: the job's input cannot be read; \
         pass `--as integer` or `--as text`"
    )]
    UnknownKind {
        column: String,
        #[source]
        source: IoError,
    },
    #[error("the file has no column `{column}`")]
    MissingColumn { column: String },
    #[error("value {position} cannot be decrypted: {problem}")]
    Value { position: usize, problem: ValueError },
    #[error("`{column}` in row {row} cannot be decrypted: {problem}")]
    Row { column: String, row: u64, problem: ValueError },
    #[error("`{path}` ends neither in .csv nor in .parquet")]
    Format { path: PathBuf },
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("Arrow failed on a batch")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// The cipher of one `encrypt` column of a job, with the job's key.
///
/// # Errors
/// The column is not an `encrypt` column of the job, or the key cannot be loaded.
pub fn column_cipher(job: &Job, column: &str) -> Result<Ff1, DecryptError> {
    let spec = job.column(column).ok_or_else(|| DecryptError::UnknownColumn {
        column: column.to_string(),
        hint: crate::job::issues::closest(column, job.columns.iter().map(|c| c.name.as_str())).map(str::to_string),
    })?;
    let Action::Encrypt(encrypt) = &spec.action else {
        return Err(DecryptError::NotEncrypted { column: column.to_string(), action: spec.action.name() });
    };
    let source = job.pseudonym_key.as_ref().ok_or(DecryptError::MissingKey)?;
    let key = Key::load(source).map_err(DecryptError::Key)?;
    let alphabet = Alphabet::new(&encrypt.alphabet).unwrap_or_else(Alphabet::digits);
    Ok(Ff1::for_domain(&key, &encrypt.domain, alphabet))
}

/// The kind of a column in the job's input, read from its schema (no rows).
///
/// # Errors
/// [`DecryptError::UnknownKind`] when the input cannot be opened.
pub fn kind_from_job_input(job: &Job, column: &str) -> Result<ValueKind, DecryptError> {
    let source = DataSource::open(&job.input, BATCH_SIZE)
        .map_err(|source| DecryptError::UnknownKind { column: column.to_string(), source })?;
    let schema = source.schema();
    let field = schema.field_with_name(column).map_err(|_| DecryptError::MissingColumn { column: column.into() })?;
    Ok(kind_of_type(field.data_type()).unwrap_or(ValueKind::Text))
}

/// The integer range of an integer type; `None` for other types.
pub fn kind_of_type(data_type: &DataType) -> Option<ValueKind> {
    integer_range(data_type).map(ValueKind::Integer)
}

/// Decrypts one value's text.
///
/// # Errors
/// The value's [`ValueError`].
pub fn decrypt_value(cipher: &Ff1, kind: ValueKind, value: &str) -> Result<String, ValueError> {
    match kind {
        ValueKind::Text => {
            let mut out = String::with_capacity(value.len());
            cipher.decrypt_text(value, &mut out)?;
            Ok(out)
        }
        ValueKind::Integer(range) => {
            let integer: i128 = value.trim().parse().map_err(|_| ValueError::OutOfRange)?;
            cipher.decrypt_integer(integer, range).map(|v| v.to_string())
        }
    }
}

/// Decrypts command-line values, in order.
///
/// # Errors
/// [`DecryptError::Value`] naming the first value (1-based) that cannot be decrypted.
pub fn decrypt_values(cipher: &Ff1, kind: ValueKind, values: &[String]) -> Result<Vec<String>, DecryptError> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            decrypt_value(cipher, kind, v).map_err(|problem| DecryptError::Value { position: i + 1, problem })
        })
        .collect()
}

/// Decrypts `column` of a CSV or Parquet file into `output` (same format as its extension);
/// other columns are copied. Returns the rows written.
///
/// `kind` is needed for CSV input only; a Parquet file's column type decides by itself.
///
/// # Errors
/// [`DecryptError`]; nothing is left under `output` when it fails.
pub fn decrypt_file(
    cipher: &Ff1,
    column: &str,
    kind: impl FnOnce() -> Result<ValueKind, DecryptError>,
    input: &Path,
    output: &Path,
    overwrite: bool,
) -> Result<u64, DecryptError> {
    let in_format = format_from_extension(input).ok_or_else(|| DecryptError::Format { path: input.into() })?;
    let out_format = format_from_extension(output).ok_or_else(|| DecryptError::Format { path: output.into() })?;
    let mut csv = CsvOptions::default();
    // The encrypted column is read as it was written: leading zeros and all.
    csv.types.insert(column.to_string(), ColumnType::String);
    let source = DataSource::open_path(input, Some(in_format), &csv, BATCH_SIZE)?;
    let schema = source.schema();
    let index = schema.index_of(column).map_err(|_| DecryptError::MissingColumn { column: column.into() })?;
    let column_type = schema.field(index).data_type().clone();
    let kind = match (in_format, kind_of_type(&column_type)) {
        (_, Some(integer)) => integer,
        (DataFormat::Parquet, None) => ValueKind::Text,
        (DataFormat::Csv, None) => kind()?,
    };
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| if f.name() == column { Field::new(column, column_type.clone(), true) } else { f.as_ref().clone() })
        .collect();
    let out_schema = Arc::new(Schema::new(fields));
    let metadata = vec![
        ("anonymize.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("anonymize.decrypted_column".to_string(), column.to_string()),
    ];
    let mut writer = BatchWriter::create(output, out_format, overwrite, out_schema.clone(), metadata, &[])?;
    let mut first_row = 0u64;
    for batch in source.batches() {
        let batch = batch?;
        let values = batch.column(index);
        let decrypted: ArrayRef = match kind {
            // Text read from CSV that holds integers: decrypt as integers, keep the text type.
            ValueKind::Integer(_) if !column_type.is_integer() => {
                let text = crate::text::to_text(values).unwrap_or_else(|| StringArray::new_null(values.len()));
                let mut out = Vec::with_capacity(text.len());
                for (row, value) in text.iter().enumerate() {
                    out.push(match value {
                        None => None,
                        Some(v) => Some(decrypt_value(cipher, kind, v).map_err(|problem| DecryptError::Row {
                            column: column.into(),
                            row: first_row + row as u64 + 1,
                            problem,
                        })?),
                    });
                }
                Arc::new(StringArray::from(out))
            }
            _ => cipher.apply(values, Direction::Decrypt).map_err(|rejected| DecryptError::Row {
                column: column.into(),
                row: first_row + rejected.rows.first().copied().unwrap_or(0) as u64 + 1,
                problem: rejected.problem,
            })?,
        };
        let mut columns = batch.columns().to_vec();
        columns[index] = decrypted;
        writer.write(&RecordBatch::try_new(out_schema.clone(), columns)?)?;
        first_row += batch.num_rows() as u64;
    }
    Ok(writer.finish()?)
}
