//! Parquet input: the footer's schema and row count, and batches cast to the normalized schema.

use super::IoError;
use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use std::fs::File;
use std::path::{Path, PathBuf};

fn builder(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, IoError> {
    let file = crate::files::open_regular(path).map_err(|source| IoError::Open { path: path.to_path_buf(), source })?;
    ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|source| IoError::Parquet { path: path.to_path_buf(), source })
}

/// The Arrow schema stored in a Parquet file.
///
/// # Errors
/// The file cannot be opened or is not Parquet.
pub fn read_schema(path: &Path) -> Result<Schema, IoError> {
    Ok(builder(path)?.schema().as_ref().clone())
}

/// Rows recorded in a Parquet file's footer.
///
/// # Errors
/// The file cannot be opened or is not Parquet.
pub fn row_count(path: &Path) -> Result<u64, IoError> {
    Ok(builder(path)?.metadata().file_metadata().num_rows().max(0) as u64)
}

/// Each row group's rows and compressed bytes, in file order.
///
/// # Errors
/// The file cannot be opened or is not Parquet.
pub fn row_groups(path: &Path) -> Result<Vec<(u64, u64)>, IoError> {
    Ok(builder(path)?
        .metadata()
        .row_groups()
        .iter()
        .map(|g| (g.num_rows().max(0) as u64, g.compressed_size().max(0) as u64))
        .collect())
}

/// Streams one Parquet file as batches of the normalized schema.
pub struct ParquetBatches {
    path: PathBuf,
    reader: ParquetRecordBatchReader,
    schema: SchemaRef,
    /// With a projection: whether each column of `schema` is read (the others are placeholders).
    read: Option<Vec<bool>>,
}

impl ParquetBatches {
    /// Opens `path`, checking that its columns match `schema`; with `row_groups`, only those
    /// row groups (`start..end`) are read. With `columns` (indices into `schema`), only those
    /// columns are decoded: the batches keep `schema`, the others all null (see
    /// [`super::DataSource::only_columns`]).
    ///
    /// # Errors
    /// The file cannot be opened, or has other columns or types, or fewer row groups.
    pub fn open(
        path: &Path,
        schema: SchemaRef,
        batch_size: usize,
        row_groups: Option<std::ops::Range<usize>>,
        columns: Option<&[usize]>,
    ) -> Result<Self, IoError> {
        let builder = builder(path)?;
        let own = super::normalize_schema(builder.schema());
        let same = own.fields().len() == schema.fields().len()
            && own
                .fields()
                .iter()
                .zip(schema.fields())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !same {
            return Err(IoError::SchemaMismatch { path: path.to_path_buf() });
        }
        let builder = match row_groups {
            Some(range) => {
                if range.end > builder.metadata().num_row_groups() {
                    return Err(IoError::Changed { path: path.to_path_buf() });
                }
                builder.with_row_groups(range.collect())
            }
            None => builder,
        };
        let (builder, read) = match columns {
            Some(columns) => {
                let mut read = vec![false; schema.fields().len()];
                for &c in columns {
                    if let Some(r) = read.get_mut(c) {
                        *r = true;
                    }
                }
                let indices = read.iter().enumerate().filter(|(_, r)| **r).map(|(c, _)| c);
                let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
                (builder.with_projection(mask), Some(read))
            }
            None => (builder, None),
        };
        let reader = builder
            .with_batch_size(batch_size)
            .build()
            .map_err(|source| IoError::Parquet { path: path.to_path_buf(), source })?;
        Ok(Self { path: path.to_path_buf(), reader, schema, read })
    }
}

impl Iterator for ParquetBatches {
    type Item = Result<RecordBatch, IoError>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = match self.reader.next()? {
            Ok(batch) => batch,
            Err(source) => {
                return Some(Err(IoError::Parquet { path: self.path.clone(), source: source.into() }));
            }
        };
        let batch = match &self.read {
            None => super::conform(&batch, &self.schema),
            Some(read) => super::conform_projected(&batch, &self.schema, read),
        };
        Some(batch.map_err(|source| IoError::Arrow { source }))
    }
}
