//! Outputs that appear whole or not at all, and together.
//!
//! Data is written to a hidden temporary file in the target folder (`.NAME.anonymize-PID-N.tmp`,
//! readable by its owner only, locked by its writer for as long as it lives). [`AtomicFile::stage`]
//! syncs it and keeps it under its temporary name; [`publish`] then moves every staged file of a
//! run under its final name in one step that is rolled back if any of them fails, and
//! [`Published::roll_back`] undoes it if what comes after fails (the lineage record), so that a
//! failed run leaves nothing new visible. A failed run removes its temporary files; a killed run
//! may leave them behind, never a partial file under a final name, and the next run writing the
//! same target removes them (their writers' locks are gone).

use super::IoError;
use crate::job::DataFormat;
use crate::text::to_text;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use rayon::iter::{IndexedParallelIterator, IntoParallelIterator, IntoParallelRefMutIterator, ParallelIterator};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A file being written under a temporary name.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temporary: PathBuf,
    overwrite: bool,
    staged: bool,
}

/// Refuses an existing target unless `overwrite`, and any target that exists and is not a
/// regular file (a device, FIFO, socket or folder is never replaced).
///
/// # Errors
/// [`IoError::Exists`] or [`IoError::NotReplaceable`].
pub fn check_target(target: &Path, overwrite: bool) -> Result<(), IoError> {
    crate::files::check_replaceable(target)
        .map_err(|source| IoError::NotReplaceable { path: target.to_path_buf(), source })?;
    if !overwrite && target.exists() {
        return Err(IoError::Exists { path: target.to_path_buf() });
    }
    Ok(())
}

/// The folder `target` is in (`.` for a bare name).
fn folder_of(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn temporary_prefix(target: &Path) -> String {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!(".{name}.anonymize-")
}

/// Removes the temporary files that killed runs left for `target`: those whose writer's lock
/// can be taken (the process that held it is gone), and backups of replaced files (`.old`) that a
/// run killed between publishing and confirming left more than ten minutes ago (a live run
/// holds one for the seconds its COMPLETE event takes). Returns how many were removed.
pub fn remove_stale_temporaries(target: &Path) -> usize {
    let folder = folder_of(target);
    let prefix = temporary_prefix(target);
    let Ok(entries) = std::fs::read_dir(&folder) else { return 0 };
    let mut removed = 0;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(&prefix) && (name.ends_with(".tmp") || name.ends_with(".old"))) {
            continue;
        }
        let path = entry.path();
        // Never follow a link or open a special file planted under such a name.
        if !entry.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let Ok(file) = File::options().write(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(&path) else {
            continue;
        };
        let stale = if name.ends_with(".tmp") {
            file.try_lock().is_ok()
        } else {
            use std::os::unix::fs::MetadataExt;
            // A hard link's creation sets the inode's change time.
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            file.metadata().is_ok_and(|m| u64::try_from(m.ctime()).is_ok_and(|c| now.saturating_sub(c) > 600))
        };
        if stale && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

impl AtomicFile {
    /// Creates the temporary file beside `target` (and `target`'s folder if needed), locked by
    /// this process and readable by its owner only.
    ///
    /// # Errors
    /// The target exists and `overwrite` is false, is not a regular file, or the folder is not
    /// writable.
    pub fn create(target: &Path, overwrite: bool) -> Result<(Self, File), IoError> {
        check_target(target, overwrite)?;
        let write_error = |source| IoError::Write { path: target.to_path_buf(), source };
        let folder = folder_of(target);
        std::fs::create_dir_all(&folder).map_err(write_error)?;
        remove_stale_temporaries(target);
        let (temporary, file) = loop {
            let nonce = nonce();
            let temporary = folder.join(format!("{}{}-{nonce:016x}.tmp", temporary_prefix(target), std::process::id()));
            match File::options().write(true).create_new(true).mode(0o600).open(&temporary) {
                Ok(file) => break (temporary, file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(write_error(e)),
            }
        };
        let this = Self { target: target.to_path_buf(), temporary, overwrite, staged: false };
        // Held until the file is published or removed: a run that finds it unlocked may delete it.
        file.lock().map_err(write_error)?;
        Ok((this, file))
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes `file` to disk and keeps it under its temporary name, ready for [`publish`].
    ///
    /// # Errors
    /// The sync failed.
    pub fn stage(mut self, file: File) -> Result<Staged, IoError> {
        file.sync_all().map_err(|source| IoError::Write { path: self.target.clone(), source })?;
        self.staged = true;
        Ok(Staged {
            target: std::mem::take(&mut self.target),
            temporary: std::mem::take(&mut self.temporary),
            overwrite: self.overwrite,
            file: Some(file),
            folder: false,
        })
    }

    /// Stages `file` and publishes it alone.
    ///
    /// # Errors
    /// As [`AtomicFile::stage`] and [`publish`].
    pub fn commit(self, file: File) -> Result<(), IoError> {
        publish(vec![self.stage(file)?])?.confirm();
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.staged {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

fn nonce() -> u64 {
    use rand::TryRng;
    let mut bytes = [0u8; 8];
    if rand::rngs::SysRng.try_fill_bytes(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64).to_le_bytes();
    }
    u64::from_le_bytes(bytes)
}

/// A complete, synced file (or folder of part files, see [`PartsFolder`]) under its temporary
/// name. Dropped unpublished, it is removed.
#[derive(Debug)]
pub struct Staged {
    target: PathBuf,
    temporary: PathBuf,
    overwrite: bool,
    /// Kept open (and so locked) until published.
    file: Option<File>,
    folder: bool,
}

impl Staged {
    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Where the content is now (for checksums before publishing).
    pub fn content(&self) -> &Path {
        &self.temporary
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.file.is_some() {
            remove_any(&self.temporary);
        }
    }
}

/// Removes a file, or a folder with everything in it (never following a link).
fn remove_any(path: &Path) {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = std::fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = std::fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// The empty file that marks a complete folder of part files (as Spark and Hadoop write it).
pub const SUCCESS: &str = "_SUCCESS";

/// Refuses a folder-of-parts target that exists unless `overwrite`, and even then anything but
/// a regular file or a folder of part files (a folder with other content is never replaced).
///
/// # Errors
/// [`IoError::Exists`] or [`IoError::NotReplaceable`].
pub fn check_folder_target(target: &Path, overwrite: bool) -> Result<(), IoError> {
    let refuse = |why: &str| IoError::NotReplaceable {
        path: target.to_path_buf(),
        source: std::io::Error::other(why.to_string()),
    };
    match std::fs::symlink_metadata(target) {
        Err(_) => Ok(()),
        Ok(_) if !overwrite => Err(IoError::Exists { path: target.to_path_buf() }),
        Ok(m) if m.is_file() => Ok(()),
        Ok(m) if m.is_dir() => match crate::files::is_parts_folder(target) {
            Ok(true) => Ok(()),
            Ok(false) => Err(refuse("it is a folder that holds more than part files")),
            Err(source) => Err(IoError::NotReplaceable { path: target.to_path_buf(), source }),
        },
        Ok(m) => Err(refuse(crate::files::kind_name(m.file_type()))),
    }
}

/// A folder of part files being written (by this process or by a cluster's tasks) under a
/// temporary name beside its target (`.NAME.anonymize-PID-N.tmp.d`). [`PartsFolder::stage`]
/// hands it to [`publish`], which renames it into place with the run's other files; dropped, it
/// is removed with its parts. A killed driver may leave one behind, never a partial folder under
/// the target's name.
#[derive(Debug)]
pub struct PartsFolder {
    target: PathBuf,
    temporary: PathBuf,
    overwrite: bool,
    staged: bool,
}

impl PartsFolder {
    /// Creates the temporary folder (readable as the umask allows: a cluster's tasks may run as
    /// another user).
    ///
    /// # Errors
    /// As [`check_folder_target`], or the folder cannot be created.
    pub fn create(target: &Path, overwrite: bool) -> Result<Self, IoError> {
        check_folder_target(target, overwrite)?;
        let write_error = |source| IoError::Write { path: target.to_path_buf(), source };
        let parent = folder_of(target);
        std::fs::create_dir_all(&parent).map_err(write_error)?;
        let temporary = loop {
            let temporary =
                parent.join(format!("{}{}-{:016x}.tmp.d", temporary_prefix(target), std::process::id(), nonce()));
            match std::fs::create_dir(&temporary) {
                Ok(()) => break temporary,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(write_error(e)),
            }
        };
        Ok(Self { target: target.to_path_buf(), temporary, overwrite, staged: false })
    }

    /// Where the parts are written now.
    pub fn path(&self) -> &Path {
        &self.temporary
    }

    /// Marks the folder complete (`_SUCCESS`), syncs it and keeps it under its temporary name,
    /// ready for [`publish`].
    ///
    /// # Errors
    /// The marker or the sync failed.
    pub fn stage(mut self) -> Result<Staged, IoError> {
        let write_error = |source| IoError::Write { path: self.target.clone(), source };
        File::create(self.temporary.join(SUCCESS)).and_then(|f| f.sync_all()).map_err(write_error)?;
        let folder = File::open(&self.temporary).map_err(write_error)?;
        folder.sync_all().map_err(write_error)?;
        self.staged = true;
        Ok(Staged {
            target: std::mem::take(&mut self.target),
            temporary: std::mem::take(&mut self.temporary),
            overwrite: self.overwrite,
            file: Some(folder),
            folder: true,
        })
    }
}

impl Drop for PartsFolder {
    fn drop(&mut self) {
        if !self.staged {
            remove_any(&self.temporary);
        }
    }
}

/// Moves a staged folder under its name (see [`publish_one`]).
fn publish_folder(file: &Staged) -> Result<Option<PathBuf>, IoError> {
    use std::os::unix::fs::PermissionsExt;
    let write_error = |source| IoError::Write { path: file.target.clone(), source };
    check_folder_target(&file.target, file.overwrite)?;
    let mode = default_folder_mode() | 0o700;
    std::fs::set_permissions(&file.temporary, std::fs::Permissions::from_mode(mode)).map_err(write_error)?;
    if std::fs::symlink_metadata(&file.target).is_ok() {
        let backup = file.temporary.with_extension("old");
        std::fs::rename(&file.target, &backup).map_err(write_error)?;
        if let Err(e) = std::fs::rename(&file.temporary, &file.target) {
            let _ = std::fs::rename(&backup, &file.target);
            return Err(write_error(e));
        }
        return Ok(Some(backup));
    }
    // Refuses a target that appeared since the run started.
    let from =
        std::ffi::CString::new(file.temporary.as_os_str().as_encoded_bytes()).map_err(|e| write_error(e.into()))?;
    let to = std::ffi::CString::new(file.target.as_os_str().as_encoded_bytes()).map_err(|e| write_error(e.into()))?;
    // SAFETY: both are NUL-terminated paths that live across the call.
    let done =
        unsafe { libc::renameat2(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::RENAME_NOREPLACE) };
    if done == 0 {
        return Ok(None);
    }
    let error = std::io::Error::last_os_error();
    if error.kind() == std::io::ErrorKind::AlreadyExists {
        Err(IoError::Exists { path: file.target.clone() })
    } else {
        Err(write_error(error))
    }
}

/// Files made visible by [`publish`]: confirm to keep them, or roll back.
#[must_use = "confirm or roll back a publication"]
#[derive(Debug)]
pub struct Published {
    /// Per file: its target and, when it replaced an older file, where that file is kept.
    done: Vec<(PathBuf, Option<PathBuf>)>,
}

impl Published {
    /// Keeps the new files and deletes the replaced ones.
    pub fn confirm(mut self) {
        for (_, backup) in self.done.drain(..) {
            if let Some(backup) = backup {
                remove_any(&backup);
            }
        }
    }

    /// Takes the new files away again and puts back the files they replaced.
    pub fn roll_back(mut self) {
        undo(&mut self.done);
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        for (_, backup) in self.done.drain(..) {
            if let Some(backup) = backup {
                remove_any(&backup);
            }
        }
    }
}

fn undo(done: &mut Vec<(PathBuf, Option<PathBuf>)>) {
    for (target, backup) in done.drain(..).rev() {
        match backup {
            Some(backup) => {
                if std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
                    remove_any(&target);
                }
                let _ = std::fs::rename(&backup, &target);
            }
            None => remove_any(&target),
        }
    }
}

/// Moves every staged file under its final name, all or none: if one cannot be moved (its
/// target appeared meanwhile without `overwrite`, or the folder refuses), those already moved are
/// taken back and the files they replaced restored.
///
/// # Errors
/// The first file that could not be moved; then nothing new is visible.
pub fn publish(mut staged: Vec<Staged>) -> Result<Published, IoError> {
    let mut done: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    for file in &mut staged {
        match publish_one(file) {
            Ok(backup) => {
                done.push((file.target.clone(), backup));
                // Moved: nothing left to remove under the temporary name.
                file.file.take();
            }
            Err(e) => {
                undo(&mut done);
                return Err(e);
            }
        }
    }
    for file in &staged {
        if let Some(folder) = file.target.parent().filter(|p| !p.as_os_str().is_empty())
            && let Ok(dir) = File::open(folder)
        {
            let _ = dir.sync_all();
        }
    }
    Ok(Published { done })
}

/// The process's umask, read from `/proc/self/status`.
fn umask() -> Option<u32> {
    std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines().find_map(|l| l.strip_prefix("Umask:")).and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
    })
}

/// The permissions a file created now gets (0o666 less the process's umask; 0o644 where the
/// umask cannot be read).
fn default_mode() -> u32 {
    umask().map_or(0o644, |umask| 0o666 & !umask)
}

/// The permissions a folder created now gets (0o777 less the umask; 0o755 without it).
fn default_folder_mode() -> u32 {
    umask().map_or(0o755, |umask| 0o777 & !umask)
}

/// Moves one staged file under its name; returns where the file it replaced is kept. The file
/// was its owner's alone while written; it now gets the mode of the file it replaces, or the
/// mode a new file gets.
fn publish_one(file: &Staged) -> Result<Option<PathBuf>, IoError> {
    use std::os::unix::fs::PermissionsExt;
    if file.folder {
        return publish_folder(file);
    }
    let write_error = |source| IoError::Write { path: file.target.clone(), source };
    check_target(&file.target, file.overwrite)?;
    let mode = match std::fs::metadata(&file.target) {
        Ok(m) if file.overwrite => m.permissions().mode() & 0o7777,
        _ => default_mode(),
    };
    std::fs::set_permissions(&file.temporary, std::fs::Permissions::from_mode(mode)).map_err(write_error)?;
    if file.overwrite {
        let backup = match std::fs::symlink_metadata(&file.target) {
            Ok(_) => {
                let backup = file.temporary.with_extension("old");
                std::fs::hard_link(&file.target, &backup).map_err(write_error)?;
                Some(backup)
            }
            Err(_) => None,
        };
        if let Err(e) = std::fs::rename(&file.temporary, &file.target) {
            if let Some(backup) = &backup {
                let _ = std::fs::remove_file(backup);
            }
            return Err(write_error(e));
        }
        Ok(backup)
    } else {
        // A hard link refuses to replace a file that appeared since the run started.
        match std::fs::hard_link(&file.temporary, &file.target) {
            Ok(()) => {
                let _ = std::fs::remove_file(&file.temporary);
                Ok(None)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(IoError::Exists { path: file.target.clone() })
            }
            Err(e) => Err(write_error(e)),
        }
    }
}

/// Writes the pending rows in slices of exactly [`PARQUET_CHUNK`] rows, keeping the remainder
/// pending (or writing it too, at the end).
fn write_chunks(
    writer: &mut ColumnsWriter,
    pending: &mut Vec<RecordBatch>,
    pending_rows: &mut usize,
    last: bool,
) -> Result<(), parquet::errors::ParquetError> {
    let all = if pending.len() <= 1 {
        let Some(only) = pending.pop() else { return Ok(()) };
        only
    } else {
        let schema = pending[0].schema();
        let joined = arrow::compute::concat_batches(&schema, pending.iter())?;
        pending.clear();
        joined
    };
    let mut offset = 0;
    while all.num_rows() - offset >= PARQUET_CHUNK {
        writer.write(&all.slice(offset, PARQUET_CHUNK))?;
        offset += PARQUET_CHUNK;
    }
    let rest = all.num_rows() - offset;
    if rest > 0 {
        if last {
            writer.write(&all.slice(offset, rest))?;
        } else {
            pending.push(all.slice(offset, rest));
        }
    }
    *pending_rows = if last { 0 } else { rest };
    Ok(())
}

/// A Parquet writer that encodes and compresses the columns of a row group as separate rayon
/// tasks on the calling thread's pool, where [`ArrowWriter`] encodes them one after another on
/// the writing thread (a whole run's bottleneck: zstd and dictionary building for every column).
/// Each column's bytes do not depend on which thread made them, and row groups end where
/// `ArrowWriter`'s row limit ends them, so the file is the same whatever the thread count.
struct ColumnsWriter {
    file: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// The open row group's column writers, one per leaf column.
    group: Option<Vec<ArrowColumnWriter>>,
    group_rows: usize,
    groups: usize,
    max_group_rows: usize,
}

impl ColumnsWriter {
    /// A writer of `schema` into `file`, with row groups as long as `properties` allow.
    fn new(file: File, schema: SchemaRef, properties: WriterProperties) -> Result<Self, parquet::errors::ParquetError> {
        let max_group_rows = properties.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
        let (file, factory) = ArrowWriter::try_new(file, schema.clone(), Some(properties))?.into_serialized_writer()?;
        Ok(Self { file, factory, schema, group: None, group_rows: 0, groups: 0, max_group_rows })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), parquet::errors::ParquetError> {
        let mut offset = 0;
        while offset < batch.num_rows() {
            let take = (self.max_group_rows - self.group_rows).min(batch.num_rows() - offset);
            let part = batch.slice(offset, take);
            let writers = match &mut self.group {
                Some(writers) => writers,
                group => group.insert(self.factory.create_column_writers(self.groups)?),
            };
            let mut leaves = Vec::with_capacity(writers.len());
            for (field, column) in self.schema.fields().iter().zip(part.columns()) {
                leaves.extend(compute_leaves(field, column)?);
            }
            writers.par_iter_mut().zip(leaves).try_for_each(|(writer, leaf)| writer.write(&leaf))?;
            self.group_rows += take;
            offset += take;
            if self.group_rows == self.max_group_rows {
                self.end_group()?;
            }
        }
        Ok(())
    }

    /// Closes the open row group (its columns' last pages compressed in parallel) and appends
    /// its column chunks in column order.
    fn end_group(&mut self) -> Result<(), parquet::errors::ParquetError> {
        let Some(writers) = self.group.take() else { return Ok(()) };
        let chunks =
            writers.into_par_iter().map(ArrowColumnWriter::close).collect::<Result<Vec<ArrowColumnChunk>, _>>()?;
        let mut group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group)?;
        }
        group.close()?;
        self.groups += 1;
        self.group_rows = 0;
        Ok(())
    }

    /// Ends the last row group, writes the footer and returns the file.
    fn into_inner(mut self) -> Result<File, parquet::errors::ParquetError> {
        self.end_group()?;
        self.file.into_inner()
    }
}

/// Writes record batches as Parquet (zstd) or CSV into an [`AtomicFile`].
pub struct BatchWriter {
    file: AtomicFile,
    inner: Inner,
    rows: u64,
}

/// Rows per Parquet write. The Parquet writer decides page boundaries (and so the file's bytes)
/// by the batches it is given; handing it slices of a fixed size makes the file independent of
/// how the rows arrived (batch size, consent filter, partitioning).
const PARQUET_CHUNK: usize = 16_384;

enum Inner {
    Parquet { writer: ColumnsWriter, pending: Vec<RecordBatch>, pending_rows: usize },
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
                let writer = ColumnsWriter::new(file, schema, properties)
                    .map_err(|source| IoError::ParquetWrite { path: target.to_path_buf(), source })?;
                Inner::Parquet { writer, pending: Vec::new(), pending_rows: 0 }
            }
            DataFormat::Csv => Inner::Csv {
                writer: ::csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, file)),
                header_written: false,
                schema,
            },
        };
        Ok(Self { file: atomic, inner, rows: 0 })
    }

    /// Appends one batch. A Parquet output encodes its columns on the current rayon pool (call
    /// it inside the run's pool to keep to its thread count).
    ///
    /// # Errors
    /// The write failed.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), IoError> {
        let path = self.file.target().to_path_buf();
        self.rows += batch.num_rows() as u64;
        match &mut self.inner {
            Inner::Parquet { writer, pending, pending_rows } => {
                if batch.num_rows() == 0 {
                    return Ok(());
                }
                pending.push(batch.clone());
                *pending_rows += batch.num_rows();
                if *pending_rows >= PARQUET_CHUNK {
                    write_chunks(writer, pending, pending_rows, false)
                        .map_err(|source| IoError::ParquetWrite { path, source })?;
                }
                Ok(())
            }
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
        let (rows, staged) = self.stage()?;
        publish(vec![staged])?.confirm();
        Ok(rows)
    }

    /// Finishes the file under its temporary name (see [`publish`]); returns the rows written.
    ///
    /// # Errors
    /// The footer, flush or sync failed.
    pub fn stage(self) -> Result<(u64, Staged), IoError> {
        let path = self.file.target().to_path_buf();
        let file = match self.inner {
            Inner::Parquet { mut writer, mut pending, mut pending_rows } => {
                write_chunks(&mut writer, &mut pending, &mut pending_rows, true)
                    .and_then(|()| writer.into_inner())
                    .map_err(|source| IoError::ParquetWrite { path, source })?
            }
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
        Ok((self.rows, self.file.stage(file)?))
    }
}

use arrow::array::Array;

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns encoded in parallel give the bytes `ArrowWriter` gives, row groups included
    /// (batches that straddle the row limit, nulls, text and numbers, one thread or several).
    #[test]
    fn parallel_columns_write_arrow_writers_bytes() {
        use arrow::array::{ArrayRef, Int64Array, StringArray};
        use arrow::datatypes::{DataType, Field, Schema};
        use std::sync::Arc;
        let schema: SchemaRef =
            Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, true), Field::new("s", DataType::Utf8, true)]));
        let batch = |from: i64, rows: i64| {
            let n: ArrayRef =
                Arc::new(Int64Array::from_iter((from..from + rows).map(|i| (i % 7 != 0).then_some(i * 31))));
            let s: ArrayRef = Arc::new(StringArray::from_iter(
                (from..from + rows).map(|i| (i % 5 != 0).then(|| format!("v{}", i % 97))),
            ));
            RecordBatch::try_new(schema.clone(), vec![n, s]).unwrap()
        };
        let batches = [batch(0, 700), batch(700, 1300), batch(2000, 3001), batch(5001, 1)];
        let properties = || {
            WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap()))
                .set_max_row_group_row_count(Some(1000))
                .build()
        };
        let dir = tempfile::tempdir().unwrap();
        let mut reference =
            ArrowWriter::try_new(File::create(dir.path().join("a")).unwrap(), schema.clone(), Some(properties()))
                .unwrap();
        for b in &batches {
            reference.write(b).unwrap();
        }
        reference.close().unwrap();
        let expected = std::fs::read(dir.path().join("a")).unwrap();
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut ours =
                ColumnsWriter::new(File::create(dir.path().join("b")).unwrap(), schema.clone(), properties()).unwrap();
            pool.install(|| batches.iter().try_for_each(|b| ours.write(b))).unwrap();
            ours.into_inner().unwrap();
            let written = std::fs::read(dir.path().join("b")).unwrap();
            assert!(written == expected, "{threads} threads: other bytes than ArrowWriter's");
        }
    }

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

    fn staged(target: &Path, overwrite: bool, text: &[u8]) -> Staged {
        let (atomic, mut file) = AtomicFile::create(target, overwrite).unwrap();
        file.write_all(text).unwrap();
        atomic.stage(file).unwrap()
    }

    /// Files become visible together: if one cannot be published, those already moved are taken
    /// back and the files they replaced restored; a rollback after publishing does the same.
    #[test]
    fn publishing_is_all_or_nothing_and_can_be_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        std::fs::write(&a, b"old a").unwrap();
        let first = staged(&a, true, b"new a");
        let second = staged(&b, false, b"new b");
        std::fs::write(&b, b"appeared meanwhile").unwrap();
        assert!(matches!(publish(vec![first, second]), Err(IoError::Exists { .. })));
        assert_eq!(std::fs::read(&a).unwrap(), b"old a");
        assert_eq!(std::fs::read(&b).unwrap(), b"appeared meanwhile");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary file or backup is left");

        std::fs::remove_file(&b).unwrap();
        let published = publish(vec![staged(&a, true, b"new a"), staged(&b, false, b"new b")]).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"new a");
        published.roll_back();
        assert_eq!(std::fs::read(&a).unwrap(), b"old a");
        assert!(!b.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        publish(vec![staged(&a, true, b"new a"), staged(&b, false, b"new b")]).unwrap().confirm();
        assert_eq!(std::fs::read(&a).unwrap(), b"new a");
        assert_eq!(std::fs::read(&b).unwrap(), b"new b");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "the backup is gone once confirmed");
    }

    /// A folder of parts replaces an older one (or a file) only with `overwrite`, never a folder
    /// with other content, and a rollback puts the older one back.
    #[test]
    fn folders_of_parts_are_published_whole_and_replace_only_folders_of_parts() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.parquet");
        let parts = |text: &[u8]| {
            let folder = PartsFolder::create(&target, true).unwrap();
            std::fs::write(folder.path().join("part-00000.parquet"), text).unwrap();
            folder.stage().unwrap()
        };
        publish(vec![parts(b"first")]).unwrap().confirm();
        assert_eq!(std::fs::read(target.join("part-00000.parquet")).unwrap(), b"first");
        assert!(target.join(SUCCESS).is_file());
        assert!(matches!(PartsFolder::create(&target, false), Err(IoError::Exists { .. })));
        publish(vec![parts(b"second")]).unwrap().roll_back();
        assert_eq!(std::fs::read(target.join("part-00000.parquet")).unwrap(), b"first");
        publish(vec![parts(b"third")]).unwrap().confirm();
        assert_eq!(std::fs::read(target.join("part-00000.parquet")).unwrap(), b"third");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary folder or backup is left");
        // Dropped unpublished: nothing remains.
        drop(parts(b"dropped"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // A folder that holds anything else is never replaced.
        std::fs::write(target.join("notes.txt"), b"mine").unwrap();
        assert!(matches!(PartsFolder::create(&target, true), Err(IoError::NotReplaceable { .. })));
        assert!(target.join("notes.txt").is_file());
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
