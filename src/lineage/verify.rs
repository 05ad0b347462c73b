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
    /// Lines of the lineage file that are not whole JSON events (passed over).
    pub torn_lines: Vec<usize>,
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
    let read_error = |source| VerifyError::Read { path: path.to_path_buf(), source };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut crate::files::open_regular(path).map_err(read_error)?, &mut text)
        .map_err(read_error)?;
    let mut found = None;
    let mut torn_lines = Vec::new();
    let mut events = 0;
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        // A line that is not a whole event (a write torn by a crash or a full disk, by an older
        // version or another tool) is reported and passed over: the events around it stand.
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            torn_lines.push(i + 1);
            continue;
        };
        events += 1;
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
            torn_lines: Vec::new(),
        });
    }
    if events == 0
        && let Some(&line) = torn_lines.first()
    {
        return Err(VerifyError::Malformed { path: path.to_path_buf(), line });
    }
    let mut verification =
        found.ok_or_else(|| VerifyError::NoRun { path: path.to_path_buf(), run: run_id.map(str::to_string) })?;
    verification.torn_lines = torn_lines;
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
