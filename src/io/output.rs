//! Outputs that appear whole or not at all.
//!
//! Data is written to a hidden temporary file in the target folder and moved under its final
//! name only by [`AtomicFile::commit`], after an fsync. A failed run removes the temporary file;
//! a killed run leaves at most a `.NAME.anonymize-*.tmp` file, never a partial file under the
//! final name.

use super::IoError;
use super::text::to_text;
use crate::job::DataFormat;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file being written under a temporary name.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temporary: PathBuf,
    overwrite: bool,
    committed: bool,
}

/// Refuses an existing target unless `overwrite`.
///
/// # Errors
/// [`IoError::Exists`].
pub fn check_target(target: &Path, overwrite: bool) -> Result<(), IoError> {
    if !overwrite && target.exists() {
        return Err(IoError::Exists { path: target.to_path_buf() });
    }
    Ok(())
}

impl AtomicFile {
    /// Creates the temporary file beside `target` (and `target`'s folder if needed).
    ///
    /// # Errors
    /// The target exists and `overwrite` is false, or the folder is not writable.
    pub fn create(target: &Path, overwrite: bool) -> Result<(Self, File), IoError> {
        check_target(target, overwrite)?;
        let write_error = |source| IoError::Write { path: target.to_path_buf(), source };
        let folder = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&folder).map_err(write_error)?;
        let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let nonce = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let temporary = folder.join(format!(".{name}.anonymize-{}-{nonce:08x}.tmp", std::process::id()));
        let file = File::options().write(true).create_new(true).open(&temporary).map_err(write_error)?;
        Ok((Self { target: target.to_path_buf(), temporary, overwrite, committed: false }, file))
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes `file` to disk and moves it under the final name.
    ///
    /// # Errors
    /// The sync or the rename failed, or (without overwrite) the target appeared meanwhile.
    pub fn commit(mut self, file: File) -> Result<(), IoError> {
        let write_error = |source| IoError::Write { path: self.target.clone(), source };
        file.sync_all().map_err(write_error)?;
        drop(file);
        if self.overwrite {
            std::fs::rename(&self.temporary, &self.target).map_err(write_error)?;
        } else {
            // A hard link refuses to replace a file that appeared since the run started.
            match std::fs::hard_link(&self.temporary, &self.target) {
                Ok(()) => std::fs::remove_file(&self.temporary).map_err(write_error)?,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(IoError::Exists { path: self.target.clone() });
                }
                Err(_) => {
                    check_target(&self.target, false)?;
                    std::fs::rename(&self.temporary, &self.target).map_err(write_error)?;
                }
            }
        }
        if let Some(folder) = self.target.parent().filter(|p| !p.as_os_str().is_empty())
            && let Ok(dir) = File::open(folder)
        {
            let _ = dir.sync_all();
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

/// Writes record batches as Parquet (zstd) or CSV into an [`AtomicFile`].
pub struct BatchWriter {
    file: AtomicFile,
    inner: Inner,
    rows: u64,
}

enum Inner {
    Parquet(ArrowWriter<File>),
    Csv { writer: ::csv::Writer<BufWriter<File>>, header_written: bool, schema: SchemaRef },
}

impl BatchWriter {
    /// Starts an output of `schema`; `metadata` goes into the Parquet footer's key-value pairs.
    /// `unique_columns` hold (nearly) unique values such as tokens: Parquet skips the dictionary
    /// encoding it would build and then abandon for them.
    ///
    /// # Errors
    /// As [`AtomicFile::create`].
    pub fn create(
        target: &Path,
        format: DataFormat,
        overwrite: bool,
        schema: SchemaRef,
        metadata: Vec<(String, String)>,
        unique_columns: &[String],
    ) -> Result<Self, IoError> {
        let (atomic, file) = AtomicFile::create(target, overwrite)?;
        let inner = match format {
            DataFormat::Parquet => {
                let metadata =
                    metadata.into_iter().map(|(k, v)| parquet::file::metadata::KeyValue::new(k, v)).collect::<Vec<_>>();
                let mut properties = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
                    .set_key_value_metadata((!metadata.is_empty()).then_some(metadata));
                for column in unique_columns {
                    // Random hex gains little from a higher zstd level; level 1 is much faster.
                    properties =
                        properties.set_column_dictionary_enabled(column.as_str().into(), false).set_column_compression(
                            column.as_str().into(),
                            Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()),
                        );
                }
                let properties = properties.build();
                let writer = ArrowWriter::try_new(file, schema, Some(properties))
                    .map_err(|source| IoError::ParquetWrite { path: target.to_path_buf(), source })?;
                Inner::Parquet(writer)
            }
            DataFormat::Csv => Inner::Csv {
                writer: ::csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, file)),
                header_written: false,
                schema,
            },
        };
        Ok(Self { file: atomic, inner, rows: 0 })
    }

    /// Appends one batch.
    ///
    /// # Errors
    /// The write failed.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), IoError> {
        let path = self.file.target().to_path_buf();
        self.rows += batch.num_rows() as u64;
        match &mut self.inner {
            Inner::Parquet(writer) => writer.write(batch).map_err(|source| IoError::ParquetWrite { path, source }),
            Inner::Csv { writer, header_written, schema } => {
                let csv_error =
                    |e: ::csv::Error| IoError::Write { path: path.clone(), source: std::io::Error::other(e) };
                if !*header_written {
                    writer.write_record(schema.fields().iter().map(|f| f.name().as_str())).map_err(csv_error)?;
                    *header_written = true;
                }
                let texts: Vec<arrow::array::StringArray> = batch
                    .columns()
                    .iter()
                    .map(|c| to_text(c).unwrap_or_else(|| arrow::array::StringArray::new_null(c.len())))
                    .collect();
                let mut record = ::csv::ByteRecord::new();
                for row in 0..batch.num_rows() {
                    record.clear();
                    for text in &texts {
                        record.push_field(if text.is_null(row) { b"" } else { text.value(row).as_bytes() });
                    }
                    writer.write_byte_record(&record).map_err(csv_error)?;
                }
                Ok(())
            }
        }
    }

    /// Finishes the file and moves it into place; returns the rows written.
    ///
    /// # Errors
    /// The footer, flush, sync or rename failed.
    pub fn finish(self) -> Result<u64, IoError> {
        let path = self.file.target().to_path_buf();
        let file = match self.inner {
            Inner::Parquet(writer) => writer.into_inner().map_err(|source| IoError::ParquetWrite { path, source })?,
            Inner::Csv { mut writer, header_written, schema } => {
                let csv_error =
                    |e: ::csv::Error| IoError::Write { path: path.clone(), source: std::io::Error::other(e) };
                if !header_written {
                    writer.write_record(schema.fields().iter().map(|f| f.name().as_str())).map_err(csv_error)?;
                }
                let buffered =
                    writer.into_inner().map_err(|e| IoError::Write { path: path.clone(), source: e.into_error() })?;
                let mut file =
                    buffered.into_inner().map_err(|e| IoError::Write { path: path.clone(), source: e.into_error() })?;
                file.flush().map_err(|source| IoError::Write { path: path.clone(), source })?;
                file
            }
        };
        self.file.commit(file)?;
        Ok(self.rows)
    }
}

use arrow::array::Array;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uncommitted_files_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        {
            let (_atomic, mut file) = AtomicFile::create(&target, false).unwrap();
            file.write_all(b"partial").unwrap();
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_target_that_appears_during_the_run_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        let (atomic, mut file) = AtomicFile::create(&target, false).unwrap();
        file.write_all(b"new").unwrap();
        std::fs::write(&target, b"written meanwhile").unwrap();
        assert!(matches!(atomic.commit(file), Err(IoError::Exists { .. })));
        assert_eq!(std::fs::read(&target).unwrap(), b"written meanwhile");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the temporary file is removed");
    }

    #[test]
    fn existing_targets_are_kept_unless_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        std::fs::write(&target, b"old").unwrap();
        assert!(matches!(AtomicFile::create(&target, false), Err(IoError::Exists { .. })));
        let (atomic, mut file) = AtomicFile::create(&target, true).unwrap();
        file.write_all(b"new").unwrap();
        atomic.commit(file).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
