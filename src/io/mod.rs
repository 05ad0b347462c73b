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

/// One input: its files, their common schema, and how to read them.
#[derive(Debug, Clone)]
pub struct DataSource {
    files: Vec<(PathBuf, DataFormat)>,
    schema: SchemaRef,
    csv: crate::job::CsvOptions,
    batch_size: usize,
    /// Batches already in memory, in place of `files` (then one entry named [`IN_MEMORY`]).
    memory: Option<Arc<[RecordBatch]>>,
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
        Ok(Self { files, schema, csv: csv.clone(), batch_size, memory: None })
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
                parquet::ParquetBatches::open(path, self.schema.clone(), self.batch_size).map(|b| Box::new(b) as _)
            }
        };
        match opened {
            Ok(batches) => batches,
            Err(e) => Box::new(std::iter::once(Err(e))),
        }
    }
}
