//! The job file: wire types (serde) → parse (all problems at once) → model ([`Job`]), then
//! checks against the input's schema ([`check`]).
//!
//! A job is read in two steps so that `anonymize validate` and `anonymize run` report the same
//! problems before any row is read: [`load`] checks the file on its own, [`check::against_schema`]
//! checks it against the columns and types of the input.

pub mod check;
pub mod config;
pub mod issues;
pub mod model;
mod parse;
pub mod tree;

pub use config::{Algorithm, ColumnType, DataFormat, DateLevel, DiversityVariant, Metric, SuppressedRows};
pub use issues::{Issue, Issues, KeyPath};
pub use model::*;
pub use parse::format_from_extension;

use std::path::{Path, PathBuf};

/// The largest job file read (a job of thousands of columns is a few hundred KiB).
pub const JOB_FILE_LIMIT: u64 = 16 << 20;

/// Why a job file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("cannot read job file `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("job file `{path}` is neither YAML (.yaml, .yml) nor TOML (.toml)")]
    Extension { path: PathBuf },
    #[error("job file `{path}` has {count}:\n{issues}", count = plural(issues.len(), "problem"))]
    Invalid { path: PathBuf, issues: Issues },
}

/// "1 problem", "3 problems".
pub fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// Reads, parses and validates a job file on its own (no data is read).
///
/// # Errors
/// [`JobError::Invalid`] with every problem found, or a read or extension error.
pub fn load(path: &Path) -> Result<Job, JobError> {
    let bytes = crate::io::files::read_bounded(path, JOB_FILE_LIMIT)
        .map_err(|source| JobError::Read { path: path.to_path_buf(), source })?;
    // The parsers and the checks recurse once per level of nesting. The YAML and TOML parsers
    // cap the depth, but a caller's thread may have a small stack (a test harness's 2 MiB, a
    // thread pool's), so the whole parse runs on a thread with room to spare.
    let path_owned = path.to_path_buf();
    std::thread::Builder::new()
        .name("anonymize-job".into())
        .stack_size(64 << 20)
        .spawn(move || parse(&path_owned, bytes))
        .map_err(|source| JobError::Read { path: path.to_path_buf(), source })?
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn parse(path: &Path, bytes: Vec<u8>) -> Result<Job, JobError> {
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let invalid = |issues: Issues| JobError::Invalid { path: path.to_path_buf(), issues };
    let text = match String::from_utf8(bytes.clone()) {
        Ok(text) => text,
        Err(_) => {
            let issue = Issue {
                path: KeyPath::default(),
                position: None,
                message: "the file is not UTF-8 text".into(),
                hint: None,
            };
            return Err(invalid(Issues(vec![issue])));
        }
    };
    let parsed = match extension.as_deref() {
        Some("yaml" | "yml") => tree::parse_yaml(&text),
        Some("toml") => tree::parse_toml(&text),
        _ => return Err(JobError::Extension { path: path.to_path_buf() }),
    };
    let root = parsed.map_err(|e| {
        invalid(Issues(vec![Issue { path: KeyPath::default(), position: e.position, message: e.message, hint: None }]))
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut parser = parse::Parser::new(&root, &dir);
    let job = parser.job(path, blake3::hash(&bytes).to_hex().to_string());
    match job {
        Some(job) if parser.issues.is_empty() => Ok(job),
        _ => Err(invalid(parser.issues)),
    }
}
