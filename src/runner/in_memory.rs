//! A job run on data a driver holds in memory (a notebook's table), giving the output as record
//! batches: the same checks, phases, consent filtering, budget charge and guardrails as
//! [`super::run`] on a file holding those rows, and the same rows and values.
//!
//! The output is staged in a private temporary folder, published there only when the run
//! succeeds (after the budget commit), read back and removed. The job's releases, decisions file,
//! utility evaluation, lineage and report belong to its recorded runs and are not made here.

use super::{RunError, RunOptions, RunSummary};
use crate::io::{DataSource, IN_MEMORY, IoError};
use crate::job::{DataFormat, Job};
use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};

/// The output of a job run on data in memory.
#[derive(Debug)]
pub struct Transformed {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub summary: RunSummary,
}

/// Runs `job` with `batches` in place of its input (see the module documentation). Row
/// identities are (file 0, row index), as for a job whose input is one file with these rows.
///
/// # Errors
/// [`RunError`], as for [`super::run`]; nothing is charged to the budget when it fails.
pub fn transform(
    job: &Job,
    schema: &Schema,
    batches: &[RecordBatch],
    options: &RunOptions,
) -> Result<Transformed, RunError> {
    let folder = private_folder()?;
    let target = folder.path().join("output.parquet");
    let mut job = job.clone();
    job.output.path = target.clone();
    job.output.format = DataFormat::Parquet;
    job.output.overwrite = false;
    job.output.decisions = None;
    job.aggregates.clear();
    job.utility = None;
    job.lineage = None;
    let source = DataSource::in_memory(schema, batches, options.batch_rows.unwrap_or(crate::io::BATCH_SIZE))?;
    let options = RunOptions { dry_run: false, ..options.clone() };
    let prepared = super::run_on(&job, source, &options)?;
    let mut summary = prepared.summary.clone();
    prepared.finish(Vec::new())?.confirm();
    let written = DataSource::open_path(&target, Some(DataFormat::Parquet), &job.input.csv, crate::io::BATCH_SIZE)?;
    let batches = written.batches().collect::<Result<Vec<_>, _>>()?;
    summary.output.path = IN_MEMORY.to_string();
    summary.input_files = vec![IN_MEMORY.to_string()];
    Ok(Transformed { schema: written.schema(), batches, summary })
}

/// A new temporary folder only this user can read (the output is de-identified, but it is
/// staged there), removed when dropped.
fn private_folder() -> Result<tempfile::TempDir, RunError> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(".anonymize-transform-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    builder.tempdir().map_err(|source| RunError::Io(IoError::Write { path: std::env::temp_dir(), source }))
}

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[test]
    fn the_staging_folder_is_private_and_removed() {
        use std::os::unix::fs::PermissionsExt;
        let folder = super::private_folder().unwrap();
        let path = folder.path().to_path_buf();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o700);
        drop(folder);
        assert!(!path.exists());
    }
}
