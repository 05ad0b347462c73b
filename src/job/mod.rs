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
pub(crate) mod parse;
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
    let bytes = crate::files::read_bounded(path, JOB_FILE_LIMIT)
        .map_err(|source| JobError::Read { path: path.to_path_buf(), source })?;
    // The parsers and the checks recurse once per level of nesting. The YAML and TOML parsers
    // cap the depth, but a caller's thread may have a small stack (a test harness's 2 MiB, a
    // thread pool's), so the whole parse runs on a thread with room to spare.
    let extension = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let syntax = match extension.as_deref() {
        Some("yaml" | "yml") => Syntax::Yaml,
        Some("toml") => Syntax::Toml,
        _ => return Err(JobError::Extension { path: path.to_path_buf() }),
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    on_big_stack(path, dir, syntax, bytes)
}

/// The syntax of a job's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Yaml,
    Toml,
}

/// Parses and validates a job given as text (a notebook cell, a scheduler's template), with
/// relative paths resolved against `base_dir`. The job's `file` is `base_dir/(inline job)`:
/// there is no file to checksum, and messages name it so.
///
/// ```
/// let text = "version: 1\nname: demo\ninput: { path: data.csv }\ncolumns: { id: keep }\n\
///             output: { path: out.csv }\n";
/// let job = anonymize::job::from_text(text, anonymize::job::Syntax::Yaml, std::path::Path::new("/data")).unwrap();
/// assert_eq!(job.input.path, std::path::Path::new("/data/data.csv"));
/// ```
///
/// # Errors
/// As [`load`].
pub fn from_text(text: &str, syntax: Syntax, base_dir: &Path) -> Result<Job, JobError> {
    if text.len() as u64 > JOB_FILE_LIMIT {
        let source = std::io::Error::other(format!("it is larger than {JOB_FILE_LIMIT} bytes"));
        return Err(JobError::Read { path: base_dir.join(INLINE_NAME), source });
    }
    on_big_stack(&base_dir.join(INLINE_NAME), base_dir.to_path_buf(), syntax, text.as_bytes().to_vec())
}

/// How a job given as text is named in messages and lineage.
const INLINE_NAME: &str = "(inline job)";

fn on_big_stack(path: &Path, dir: PathBuf, syntax: Syntax, bytes: Vec<u8>) -> Result<Job, JobError> {
    // The parsers and the checks recurse once per level of nesting. The YAML and TOML parsers
    // cap the depth, but a caller's thread may have a small stack (a test harness's 2 MiB, a
    // thread pool's), so the whole parse runs on a thread with room to spare.
    let path_owned = path.to_path_buf();
    std::thread::Builder::new()
        .name("anonymize-job".into())
        .stack_size(64 << 20)
        .spawn(move || parse(&path_owned, &dir, syntax, bytes))
        .map_err(|source| JobError::Read { path: path.to_path_buf(), source })?
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn parse(path: &Path, dir: &Path, syntax: Syntax, bytes: Vec<u8>) -> Result<Job, JobError> {
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
    let parsed = match syntax {
        Syntax::Yaml => tree::parse_yaml(&text),
        Syntax::Toml => tree::parse_toml(&text),
    };
    let root = parsed.map_err(|e| {
        invalid(Issues(vec![Issue { path: KeyPath::default(), position: e.position, message: e.message, hint: None }]))
    })?;
    let mut parser = parse::Parser::new(&root, dir);
    let job = parser.job(path, blake3::hash(&bytes).to_hex().to_string());
    match job {
        Some(job) if parser.issues.is_empty() => Ok(job),
        _ => Err(invalid(parser.issues)),
    }
}

/// Whether an input `path` (file, folder or glob) would read a file at `candidate`, which may
/// not exist yet: a file written there would be read back as input on the next run.
pub fn would_read(path: &Path, candidate: &Path) -> bool {
    let real = crate::files::real_path(candidate);
    let text = path.to_string_lossy();
    if path.is_dir() {
        real.parent() == Some(crate::files::real_path(path).as_path())
            && !is_hidden(&real)
            && format_from_extension(&real).is_some()
    } else if text.contains(['*', '?', '[']) {
        glob::Pattern::new(&text)
            .is_ok_and(|pattern| !is_hidden(&real) && (pattern.matches_path(&real) || pattern.matches_path(candidate)))
    } else {
        crate::files::real_path(path) == real
    }
}

/// Whether a folder or glob input skips the file at `path` (names starting with `.` or `_`).
pub fn is_hidden(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') || n.starts_with('_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Result<Job, JobError> {
        from_text(text, Syntax::Yaml, Path::new("/jobs"))
    }

    const GOOD: &str = "version: 1\nname: demo\ninput: { path: ../data/in.csv }\n\
                        secrets: { pseudonym_key: { env: ANONYMIZE_KEY } }\n\
                        columns:\n  id: pseudonymize\n  age: { action: generalize, hierarchy: { type: interval, widths: [5, 10] } }\n\
                        privacy: { k_anonymity: { k: 5 } }\noutput: { path: out/x.parquet }\n";

    #[test]
    fn a_job_from_text_resolves_paths_against_its_base() {
        let job = yaml(GOOD).unwrap();
        assert_eq!(job.input.path, Path::new("/data/in.csv"));
        assert_eq!(job.output.path, Path::new("/jobs/out/x.parquet"));
        assert_eq!(job.output.format, DataFormat::Parquet);
        assert_eq!(job.pseudonym_key, Some(KeySource::Env("ANONYMIZE_KEY".into())));
        assert_eq!(job.privacy.k_anonymity.as_ref().map(|k| k.k.get()), Some(5));
        assert_eq!(job.file, Path::new("/jobs/(inline job)"));
    }

    #[test]
    fn yaml_and_toml_mean_the_same_job() {
        let toml = "version = 1\nname = \"demo\"\n[input]\npath = \"../data/in.csv\"\n\
                    [secrets.pseudonym_key]\nenv = \"ANONYMIZE_KEY\"\n[columns]\nid = \"pseudonymize\"\n\
                    age = { action = \"generalize\", hierarchy = { type = \"interval\", widths = [5, 10] } }\n\
                    [privacy.k_anonymity]\nk = 5\n[output]\npath = \"out/x.parquet\"\n";
        let (a, b) = (yaml(GOOD).unwrap(), from_text(toml, Syntax::Toml, Path::new("/jobs")).unwrap());
        // TOML tables come in key order, YAML mappings in document order; output columns follow
        // the input's order either way.
        let sorted = |job: &Job| {
            let mut columns: Vec<String> = job.columns.iter().map(|c| format!("{c:?}")).collect();
            columns.sort();
            columns
        };
        assert_eq!(sorted(&a), sorted(&b));
        assert_eq!((a.input.path, a.output.path, a.pseudonym_key), (b.input.path, b.output.path, b.pseudonym_key));
    }

    /// Every problem at once, each with its key path and line, in the order found.
    #[test]
    fn every_problem_is_reported_with_its_path_and_line() {
        let text = "version: 1\nname: two words\ninput: { path: in.csv }\ncolumns:\n  id: { action: hash }\n\
                    \x20 age: { action: noise, epsilon: 0, bounds: [5, 1] }\n  zip: { action: mask, keep_frist: 2 }\n\
                    output: { path: in.csv }\nsurprise: 1\n";
        let Err(JobError::Invalid { issues, .. }) = yaml(text) else { panic!("accepted") };
        let found: Vec<(String, Option<u64>)> =
            issues.0.iter().map(|i| (i.path.to_string(), i.position.map(|p| p.line))).collect();
        for (path, line) in [
            ("surprise", 9),
            ("name", 2),
            ("columns.id.action", 5),
            ("columns.age.epsilon", 6),
            ("columns.age.bounds", 6),
            ("columns.zip.keep_frist", 7),
            ("output.path", 8),
        ] {
            assert!(found.contains(&(path.to_string(), Some(line))), "{path} at line {line} missing from {found:?}");
        }
        assert!(issues.to_string().contains("did you mean `keep_first`?"), "{issues}");
    }

    #[test]
    fn oversized_and_non_utf8_jobs_are_refused() {
        let big = "#".repeat(JOB_FILE_LIMIT as usize + 1);
        assert!(matches!(yaml(&big), Err(JobError::Read { .. })));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.yaml");
        std::fs::write(&path, b"version: 1\nname: \xff\n").unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("1 problem"));
        assert!(matches!(load(&dir.path().join("job.json")), Err(JobError::Read { .. } | JobError::Extension { .. })));
    }
}
