//! Reading and writing data: CSV and Parquet inputs streamed as Arrow record batches, and
//! outputs written to a temporary file that is renamed into place only when complete.

pub mod csv;
pub mod output;
pub mod parquet;

use crate::files;

use crate::job::{DataFormat, Input, format_from_extension, is_hidden};
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows per record batch.
pub const BATCH_SIZE: usize = 16_384;

/// A problem reading or writing data. Never carries a cell's value.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("no input files match `{path}`")]
    NoFiles { path: PathBuf },
    #[error("input pattern `{pattern}` is not a valid glob")]
    Pattern { pattern: String },
    #[error("cannot tell the format of `{path}` from its extension; set `format: csv` or `format: parquet`")]
    UnknownFormat { path: PathBuf },
    #[error("cannot open `{path}`")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {problem}", location(path, *line))]
    Malformed { path: PathBuf, line: Option<u64>, problem: String },
    #[error("{}, column `{column}`: the value {problem}", location(path, *line))]
    Cell { path: PathBuf, line: Option<u64>, column: String, problem: String },
    #[error("`{path}` does not have the same columns and types as the first input file")]
    SchemaMismatch { path: PathBuf },
    #[error("cannot read Parquet file `{path}`")]
    Parquet {
        path: PathBuf,
        #[source]
        source: ::parquet::errors::ParquetError,
    },
    #[error("cannot write `{path}`")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write Parquet file `{path}`")]
    ParquetWrite {
        path: PathBuf,
        #[source]
        source: ::parquet::errors::ParquetError,
    },
    #[error("output `{path}` exists; set `output.overwrite: true` to replace it")]
    Exists { path: PathBuf },
    #[error("`{path}` cannot be written")]
    NotReplaceable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("`{path}` changed since the run planned its work (its row groups or size differ)")]
    Changed { path: PathBuf },
    #[error(transparent)]
    Interrupted(#[from] crate::interrupt::Interrupted),
    #[error("Arrow could not build a batch")]
    Arrow {
        #[source]
        source: arrow::error::ArrowError,
    },
}

fn location(path: &Path, line: Option<u64>) -> String {
    match line {
        Some(line) => format!("{}, line {line}", path.display()),
        None => path.display().to_string(),
    }
}

/// The files an input path names: a file, every data file of a folder, or a glob's matches,
/// in name order so that runs are reproducible.
///
/// # Errors
/// [`IoError::NoFiles`] when nothing matches, [`IoError::Pattern`] for a bad glob.
pub fn resolve_files(path: &Path) -> Result<Vec<PathBuf>, IoError> {
    let text = path.to_string_lossy();
    let mut files: Vec<PathBuf> = if path.is_dir() {
        std::fs::read_dir(path)
            .map_err(|source| IoError::Open { path: path.to_path_buf(), source })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && !is_hidden(p) && format_from_extension(p).is_some())
            .collect()
    } else if text.contains(['*', '?', '[']) {
        glob::glob(&text)
            .map_err(|_| IoError::Pattern { pattern: text.to_string() })?
            .filter_map(Result::ok)
            .filter(|p| p.is_file() && !is_hidden(p))
            .collect()
    } else if path.is_file() {
        vec![path.to_path_buf()]
    } else if path.exists() {
        // A FIFO, device or socket: say what it is rather than that nothing matches.
        return Err(IoError::Open {
            path: path.to_path_buf(),
            source: files::open_regular(path).err().unwrap_or_else(|| std::io::Error::other("not a regular file")),
        });
    } else {
        Vec::new()
    };
    files.sort();
    if files.is_empty() {
        return Err(IoError::NoFiles { path: path.to_path_buf() });
    }
    Ok(files)
}

/// Text columns of any encoding are read as `Utf8`, so kernels see one string type.
fn normalize_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::Dictionary(_, value)
            if matches!(**value, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) =>
        {
            DataType::Utf8
        }
        other => other.clone(),
    }
}

fn normalize_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> =
        schema.fields().iter().map(|f| Field::new(f.name(), normalize_type(f.data_type()), true)).collect();
    Arc::new(Schema::new(fields))
}

/// `batch` with each column cast to `schema`'s type (the normalized one) where it differs.
fn conform(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, arrow::error::ArrowError> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(
            |(c, f)| {
                if c.data_type() == f.data_type() { Ok(c.clone()) } else { arrow::compute::cast(c, f.data_type()) }
            },
        )
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

/// [`conform`] for a batch of only the columns `read` marks: each read column is cast, the
/// others are all-null placeholders of their type.
fn conform_projected(
    batch: &RecordBatch,
    schema: &SchemaRef,
    read: &[bool],
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut decoded = batch.columns().iter();
    let columns = schema
        .fields()
        .iter()
        .zip(read)
        .map(|(f, &read)| {
            if !read {
                return Ok(arrow::array::new_null_array(f.data_type(), batch.num_rows()));
            }
            match decoded.next() {
                Some(c) if c.data_type() == f.data_type() => Ok(c.clone()),
                Some(c) => arrow::compute::cast(c, f.data_type()),
                None => Err(arrow::error::ArrowError::SchemaError("a projected column is missing".into())),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )
}

/// How an in-memory input is named wherever a file's path would be shown.
pub const IN_MEMORY: &str = "(in memory)";

/// Where a batch's rows come from: the input file's place in name order and the index (0-based)
/// in that file of the batch's first row. A row's identity, (file, index), does not depend on how
/// the input is cut into batches, threads or partitions; per-row randomness is derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowOrigin {
    pub file: u32,
    pub first_row: u64,
}

/// The identities of some rows of one file: the file's place and each row's index in it.
#[derive(Debug, Clone, Copy)]
pub struct Rows<'a> {
    pub file: u32,
    pub rows: &'a [u64],
}

/// A unit of work for a cluster: some rows of one input file (a CSV file whole, a run of a Parquet
/// file's row groups), read by any machine that sees the file under the same path. Units never
/// change a result: a row's identity is (file, index in the file) however the input is cut.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unit {
    /// Its place in the run's list of units (part files are named by it).
    pub id: u32,
    /// The input file's place in name order.
    pub file: u32,
    pub path: PathBuf,
    pub format: DataFormat,
    /// Parquet: the row groups `start..end`; `None`: the whole file.
    pub row_groups: Option<(usize, usize)>,
    /// The index in its file of the unit's first row.
    pub first_row: u64,
    /// The unit's first row counted across files (0-based), when known (Parquet footers record
    /// it; a CSV file's rows are known only once read): rows in messages are numbered from it.
    pub first_global_row: Option<u64>,
    /// Compressed bytes (Parquet) or the file's size (CSV).
    pub bytes: u64,
}

/// One input: its files, their common schema, and how to read them.
#[derive(Debug, Clone)]
pub struct DataSource {
    files: Vec<(PathBuf, DataFormat)>,
    schema: SchemaRef,
    csv: crate::job::CsvOptions,
    batch_size: usize,
    /// Batches already in memory, in place of `files` (then one entry named [`IN_MEMORY`]).
    memory: Option<Arc<[RecordBatch]>>,
    /// The columns decoded from Parquet files ([`DataSource::only_columns`]); `None`: all.
    only: Option<Arc<[usize]>>,
}

impl DataSource {
    /// Finds the input's files and reads their schema (CSV: header and the first rows for type
    /// inference; Parquet: the footer). No data is read beyond that.
    ///
    /// # Errors
    /// Missing files, unknown formats, unreadable headers or footers.
    pub fn open(input: &Input, batch_size: usize) -> Result<Self, IoError> {
        Self::open_path(&input.path, input.format, &input.csv, batch_size)
    }

    /// As [`DataSource::open`], for a path with explicit options.
    ///
    /// # Errors
    /// As [`DataSource::open`].
    pub fn open_path(
        path: &Path,
        format: Option<DataFormat>,
        csv: &crate::job::CsvOptions,
        batch_size: usize,
    ) -> Result<Self, IoError> {
        let files = resolve_files(path)?
            .into_iter()
            .map(|p| {
                let f = format
                    .or_else(|| format_from_extension(&p))
                    .ok_or_else(|| IoError::UnknownFormat { path: p.clone() })?;
                Ok((p, f))
            })
            .collect::<Result<Vec<_>, IoError>>()?;
        let (first, first_format) = &files[0];
        let schema = match first_format {
            DataFormat::Csv => csv::infer_schema(first, csv)?,
            DataFormat::Parquet => normalize_schema(&parquet::read_schema(first)?),
        };
        Ok(Self { files, schema, csv: csv.clone(), batch_size, memory: None, only: None })
    }

    /// Record batches already in memory (a notebook's table), read as one input file would be:
    /// row identities are (file 0, row index), text of any encoding becomes `Utf8`, and batches
    /// are cut to `batch_size` rows (no result depends on it).
    ///
    /// # Errors
    /// A batch whose columns differ from `schema`, or a column that cannot be normalized.
    pub fn in_memory(schema: &Schema, batches: &[RecordBatch], batch_size: usize) -> Result<Self, IoError> {
        let normalized = normalize_schema(schema);
        let batch_size = batch_size.max(1);
        let mut pieces = Vec::new();
        for batch in batches {
            if batch.schema().fields().len() != schema.fields().len()
                || batch.schema().fields().iter().zip(schema.fields()).any(|(a, b)| a.name() != b.name())
            {
                return Err(IoError::SchemaMismatch { path: PathBuf::from(IN_MEMORY) });
            }
            let batch = conform(batch, &normalized).map_err(|source| IoError::Arrow { source })?;
            let mut offset = 0;
            while offset < batch.num_rows() {
                let length = batch_size.min(batch.num_rows() - offset);
                pieces.push(batch.slice(offset, length));
                offset += length;
            }
        }
        Ok(Self {
            files: vec![(PathBuf::from(IN_MEMORY), DataFormat::Parquet)],
            schema: normalized,
            csv: crate::job::CsvOptions::default(),
            batch_size,
            memory: Some(pieces.into()),
            only: None,
        })
    }

    /// The schema every batch has.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The input files, in reading order.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(p, _)| p.as_path())
    }

    /// Rows in all files when the format records it (Parquet), for progress bars.
    pub fn known_rows(&self) -> Option<u64> {
        if let Some(memory) = &self.memory {
            return Some(memory.iter().map(|b| b.num_rows() as u64).sum());
        }
        self.files.iter().map(|(p, f)| if *f == DataFormat::Parquet { parquet::row_count(p).ok() } else { None }).sum()
    }

    /// Bytes of all input files.
    pub fn bytes(&self) -> u64 {
        if let Some(memory) = &self.memory {
            return memory.iter().map(|b| b.get_array_memory_size() as u64).sum();
        }
        self.files.iter().filter_map(|(p, _)| std::fs::metadata(p).ok()).map(|m| m.len()).sum()
    }

    /// The input cut into [`Unit`]s of at most `max_bytes` each where the format allows (Parquet
    /// row groups are packed in order; a row group larger than `max_bytes` is a unit of its own;
    /// a CSV file is one unit). Reads Parquet footers only.
    ///
    /// # Errors
    /// An in-memory source (it has no files), or a footer that cannot be read.
    pub fn units(&self, max_bytes: u64) -> Result<Vec<Unit>, IoError> {
        if self.memory.is_some() {
            return Err(IoError::NoFiles { path: PathBuf::from(IN_MEMORY) });
        }
        let max_bytes = max_bytes.max(1);
        let mut units = Vec::new();
        let mut global = Some(0u64);
        for (file, (path, format)) in self.files.iter().enumerate() {
            let file = u32::try_from(file).unwrap_or(u32::MAX);
            let push = |units: &mut Vec<Unit>, row_groups, first_row, first_global_row, bytes| {
                let id = u32::try_from(units.len()).unwrap_or(u32::MAX);
                units.push(Unit {
                    id,
                    file,
                    path: path.clone(),
                    format: *format,
                    row_groups,
                    first_row,
                    first_global_row,
                    bytes,
                });
            };
            match format {
                DataFormat::Csv => {
                    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                    push(&mut units, None, 0, global, bytes);
                    // The rows of a CSV file are not known before it is read.
                    global = None;
                }
                DataFormat::Parquet => {
                    let groups = parquet::row_groups(path)?;
                    let (mut start, mut rows, mut bytes, mut first_row) = (0usize, 0u64, 0u64, 0u64);
                    for (index, (group_rows, group_bytes)) in groups.iter().enumerate() {
                        if index > start && bytes + group_bytes > max_bytes {
                            push(&mut units, Some((start, index)), first_row, global, bytes);
                            first_row += rows;
                            global = global.map(|g| g + rows);
                            (start, rows, bytes) = (index, 0, 0);
                        }
                        rows += group_rows;
                        bytes += group_bytes;
                    }
                    if groups.len() > start || groups.is_empty() {
                        push(&mut units, Some((start, groups.len())), first_row, global, bytes);
                        global = global.map(|g| g + rows);
                    }
                }
            }
        }
        Ok(units)
    }

    /// The batches of one [`Unit`] of this input (or of an input with the same schema and CSV
    /// options), with their rows' origins.
    pub fn unit_batches<'s>(
        &'s self,
        unit: &'s Unit,
    ) -> Box<dyn Iterator<Item = Result<(RowOrigin, RecordBatch), IoError>> + Send + 's> {
        let opened: Result<Box<dyn Iterator<Item = Result<RecordBatch, IoError>> + Send>, IoError> = match unit.format {
            DataFormat::Csv => csv::CsvBatches::open(&unit.path, &self.csv, self.schema.clone(), self.batch_size)
                .map(|b| Box::new(b) as _),
            DataFormat::Parquet => parquet::ParquetBatches::open(
                &unit.path,
                self.schema.clone(),
                self.batch_size,
                unit.row_groups.map(|(start, end)| start..end),
                self.only.as_deref(),
            )
            .map(|b| Box::new(b) as _),
        };
        let batches = match opened {
            Ok(batches) => batches,
            Err(e) => return Box::new(std::iter::once(Err(e))),
        };
        let mut next_row = unit.first_row;
        Box::new(batches.map(move |batch| {
            batch.map(|batch| {
                let origin = RowOrigin { file: unit.file, first_row: next_row };
                next_row += batch.num_rows() as u64;
                (origin, batch)
            })
        }))
    }

    /// A source that reads units of an input whose schema is known (an executor's, given the
    /// coordinator's schema): no file is opened until a unit is read.
    pub fn for_units(schema: SchemaRef, csv: crate::job::CsvOptions, batch_size: usize) -> Self {
        Self { files: Vec::new(), schema, csv, batch_size: batch_size.max(1), memory: None, only: None }
    }

    /// This source with only `columns` (indices into its schema, in any order) decoded from
    /// Parquet files: their batches keep the whole schema, every other column all null, and
    /// skip those columns' decompression and decoding. For a pass that reads only some columns
    /// (the census). CSV files and batches in memory are read whole as before (a CSV line is
    /// parsed whole either way). Out-of-range indices are ignored.
    pub fn only_columns(&self, columns: &[usize]) -> Self {
        let mut only: Vec<usize> = columns.iter().copied().filter(|&c| c < self.schema.fields().len()).collect();
        only.sort_unstable();
        only.dedup();
        Self { only: Some(only.into()), ..self.clone() }
    }

    /// The same files read `rows` rows per batch (batches already in memory keep their size).
    #[must_use]
    pub fn with_batch_size(&self, rows: usize) -> Self {
        Self { batch_size: rows.max(1), ..self.clone() }
    }

    /// Rows per batch read from files.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Every batch of every file, in order. Batches never span two files.
    pub fn batches(&self) -> impl Iterator<Item = Result<RecordBatch, IoError>> + Send + '_ {
        self.batches_with_origin().map(|b| b.map(|(_, batch)| batch))
    }

    /// Every batch of every file, in order, with where its rows come from.
    pub fn batches_with_origin(&self) -> impl Iterator<Item = Result<(RowOrigin, RecordBatch), IoError>> + Send + '_ {
        self.files.iter().enumerate().flat_map(move |(file, (path, format))| {
            let mut next_row = 0u64;
            let file = u32::try_from(file).unwrap_or(u32::MAX);
            self.file_batches(path, *format).map(move |batch| {
                batch.map(|batch| {
                    let origin = RowOrigin { file, first_row: next_row };
                    next_row += batch.num_rows() as u64;
                    (origin, batch)
                })
            })
        })
    }

    fn file_batches<'s>(
        &'s self,
        path: &'s Path,
        format: DataFormat,
    ) -> Box<dyn Iterator<Item = Result<RecordBatch, IoError>> + Send + 's> {
        if let Some(memory) = &self.memory {
            return Box::new(memory.iter().cloned().map(Ok));
        }
        let opened: Result<Box<dyn Iterator<Item = Result<RecordBatch, IoError>> + Send>, IoError> = match format {
            DataFormat::Csv => {
                csv::CsvBatches::open(path, &self.csv, self.schema.clone(), self.batch_size).map(|b| Box::new(b) as _)
            }
            DataFormat::Parquet => {
                parquet::ParquetBatches::open(path, self.schema.clone(), self.batch_size, None, self.only.as_deref())
                    .map(|b| Box::new(b) as _)
            }
        };
        match opened {
            Ok(batches) => batches,
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, ArrayRef, Int64Array, StringArray};

    /// A Parquet file of three columns in row groups of 7 rows.
    fn three_columns(dir: &Path) -> PathBuf {
        let ids: ArrayRef = Arc::new(Int64Array::from_iter((0..40).map(|i| (i % 9 != 0).then_some(i))));
        let names: ArrayRef = Arc::new(StringArray::from_iter_values((0..40).map(|i| format!("name {i}"))));
        let zips: ArrayRef = Arc::new(StringArray::from_iter((0..40).map(|i| (i % 5 != 0).then(|| format!("0{i}")))));
        let batch = RecordBatch::try_from_iter([("id", ids), ("name", names), ("zip", zips)]).unwrap();
        let path = dir.join("in.parquet");
        let properties =
            ::parquet::file::properties::WriterProperties::builder().set_max_row_group_row_count(Some(7)).build();
        let mut writer = ::parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&path).unwrap(),
            batch.schema(),
            Some(properties),
        )
        .unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        path
    }

    #[test]
    fn only_the_chosen_columns_are_read_and_the_others_are_null() {
        let dir = tempfile::tempdir().unwrap();
        let path = three_columns(dir.path());
        let source = DataSource::open_path(&path, None, &crate::job::CsvOptions::default(), 5).unwrap();
        let whole: Vec<RecordBatch> = source.batches().map(Result::unwrap).collect();
        // Given out of order, twice, and beyond the schema: columns 0 and 2 are read.
        let projected = source.only_columns(&[2, 0, 2, 9]);
        let some: Vec<RecordBatch> = projected.batches().map(Result::unwrap).collect();
        assert_eq!(whole.len(), some.len());
        for (w, s) in whole.iter().zip(&some) {
            assert_eq!(s.schema(), source.schema(), "the whole schema is kept");
            assert_eq!(s.num_rows(), w.num_rows());
            assert_eq!(s.column(0), w.column(0));
            assert_eq!(s.column(2), w.column(2));
            assert_eq!(s.column(1).null_count(), s.num_rows(), "an unread column is all null");
            assert_eq!(w.column(1).null_count(), 0);
        }
        // A cluster's unit (some row groups) reads the same way.
        let units = source.units(1).unwrap();
        let from_units: Vec<RecordBatch> =
            units.iter().flat_map(|u| projected.unit_batches(u).map(|b| b.unwrap().1).collect::<Vec<_>>()).collect();
        let rows = |b: &[RecordBatch]| arrow::compute::concat_batches(&source.schema(), b).unwrap();
        assert_eq!(rows(&from_units), rows(&some));
        // No column at all: rows are still counted.
        let none: usize = source.only_columns(&[]).batches().map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(none, 40);
    }
}
