//! `anonymize verify`: finds a run's COMPLETE event in a lineage file and recomputes the BLAKE3
//! checksum of every file it recorded (job file, inputs, consent lists, outputs, releases,
//! report), so an auditor can tell whether they are the files the run read and wrote.

use super::checksums::{FileChecksum, file_blake3};
use super::events::CHECKSUMS_FACET;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Why a lineage file cannot be verified.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read the lineage file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("line {line} of `{}` is not an OpenLineage event (JSON)", path.display())]
    Malformed { path: PathBuf, line: usize },
    #[error("`{}` holds no COMPLETE event with checksums{}", path.display(), run.as_ref().map(|r| format!(" for run {r}")).unwrap_or_default())]
    NoRun { path: PathBuf, run: Option<String> },
}

/// What became of one recorded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Unchanged,
    Changed,
    Missing,
}

/// One recorded file, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Checked {
    #[serde(flatten)]
    pub recorded: FileChecksum,
    pub status: Status,
}

/// The outcome of a verification.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub run_id: String,
    pub job: String,
    pub event_time: String,
    pub files: Vec<Checked>,
}

impl Verification {
    /// Every file is as recorded.
    pub fn passed(&self) -> bool {
        self.files.iter().all(|f| f.status == Status::Unchanged)
    }
}

/// Checks the run `run_id` (default: the last completed run in the file).
///
/// # Errors
/// [`VerifyError`] when the file cannot be read, a line is not JSON, or no such run is recorded.
pub fn verify(path: &Path, run_id: Option<&str>) -> Result<Verification, VerifyError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| VerifyError::Read { path: path.to_path_buf(), source })?;
    let mut found = None;
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let event: serde_json::Value =
            serde_json::from_str(line).map_err(|_| VerifyError::Malformed { path: path.to_path_buf(), line: i + 1 })?;
        let this_run = event["run"]["runId"].as_str().unwrap_or_default();
        if event["eventType"] != "COMPLETE" || run_id.is_some_and(|r| r != this_run) {
            continue;
        }
        let files = event["run"]["facets"][CHECKSUMS_FACET]["files"].clone();
        let Ok(files) = serde_json::from_value::<Vec<FileChecksum>>(files) else {
            continue;
        };
        found = Some(Verification {
            run_id: this_run.to_string(),
            job: event["job"]["name"].as_str().unwrap_or_default().to_string(),
            event_time: event["eventTime"].as_str().unwrap_or_default().to_string(),
            files: files.into_iter().map(|recorded| Checked { recorded, status: Status::Missing }).collect(),
        });
    }
    let mut verification =
        found.ok_or_else(|| VerifyError::NoRun { path: path.to_path_buf(), run: run_id.map(str::to_string) })?;
    for file in &mut verification.files {
        let path = Path::new(&file.recorded.path);
        file.status = match std::fs::metadata(path) {
            Err(_) => Status::Missing,
            Ok(m) if m.len() != file.recorded.size => Status::Changed,
            Ok(_) => match file_blake3(path) {
                Ok((_, hex)) if hex == file.recorded.blake3 => Status::Unchanged,
                Ok(_) => Status::Changed,
                Err(_) => Status::Missing,
            },
        };
    }
    Ok(verification)
}
