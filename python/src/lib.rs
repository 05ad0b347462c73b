//! `anonymize._native`: the engine for Python. The package `anonymize` (python/anonymize)
//! wraps it with docstrings, keyword arguments and `AnonymizeError`.
//!
//! Every function takes the GIL off while the engine works. Errors are raised as
//! `_native.Failure(message, hint, exit_code)`, with the same message, hint and exit code as the
//! command line; like the command line's, they never carry a cell value or a key.

use anonymize::io::{BATCH_SIZE, DataSource};
use anonymize::job::{Job as JobSpec, Syntax};
use anonymize::runner::recorded::{self, ReportTarget};
use anonymize::runner::{RunError, RunOptions, in_memory};
use arrow_pyarrow::{FromPyArrow, IntoPyArrow, Table};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use std::path::{Path, PathBuf};

create_exception!(_native, Failure, PyException, "A failed call: (message, hint or None, exit code).");

fn failure(message: String, hint: Option<String>, exit_code: u8) -> PyErr {
    Failure::new_err((message, hint, exit_code))
}

fn run_error(error: &RunError) -> PyErr {
    failure(recorded::chain(error), error.hint(), error.exit_code())
}

fn user_error(error: &dyn std::error::Error) -> PyErr {
    failure(recorded::chain(error), None, 1)
}

/// Runs `work` on a thread of its own while this one, holding the GIL only in short turns,
/// watches for Python's signals: on Ctrl-C (`KeyboardInterrupt`) the engine is asked to stop at
/// its next safe point (temporary files removed, budget reservation released, FAIL recorded),
/// and the exception is raised once it has.
fn interruptible<T: Send>(py: Python<'_>, work: impl FnOnce() -> PyResult<T> + Send) -> PyResult<T> {
    std::thread::scope(|scope| {
        let worker = scope.spawn(work);
        while !worker.is_finished() {
            py.detach(|| std::thread::sleep(std::time::Duration::from_millis(20)));
            if let Err(signal) = py.check_signals() {
                anonymize::interrupt::request(2); // SIGINT, as a terminal's Ctrl-C
                let _ = py.detach(|| worker.join());
                anonymize::interrupt::clear();
                return Err(signal);
            }
        }
        py.detach(|| worker.join()).unwrap_or_else(|_| Err(failure("the engine panicked".into(), None, 2)))
    })
}

fn options(seed: Option<u64>, threads: Option<usize>, dry_run: bool) -> PyResult<RunOptions> {
    if threads == Some(0) {
        return Err(failure("threads must be at least 1".into(), None, 1));
    }
    Ok(RunOptions { threads, seed, dry_run, ..RunOptions::default() })
}

/// Runs the job file at `job_path` as `anonymize run` does; returns the summary as JSON.
#[pyfunction]
#[pyo3(signature = (job_path, seed=None, threads=None, dry_run=false))]
fn run(
    py: Python<'_>,
    job_path: PathBuf,
    seed: Option<u64>,
    threads: Option<usize>,
    dry_run: bool,
) -> PyResult<String> {
    let options = options(seed, threads, dry_run)?;
    interruptible(py, || {
        let job = anonymize::job::load(&job_path).map_err(|e| user_error(&e))?;
        let report = ReportTarget::of(&job, None);
        let options = RunOptions { run_id: Some(anonymize::runner::run_id_for(seed, &job)), ..options };
        let summary = recorded::run_job(&job, &options, &report).map_err(|e| run_error(&e))?;
        serde_json::to_string(&summary).map_err(|e| failure(e.to_string(), None, 2))
    })
}

/// A validated job file. It holds the job's settings and the place of its key (never the key:
/// that is read from its environment variable or file when the job runs).
#[pyclass(frozen, module = "anonymize._native")]
struct Job {
    job: JobSpec,
}

#[pymethods]
impl Job {
    /// Loads and validates a job file (.yaml, .yml or .toml).
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        py.detach(|| anonymize::job::load(&path).map(|job| Self { job }).map_err(|e| user_error(&e)))
    }

    /// Validates a job given as YAML text; its relative paths resolve against `base_dir`.
    #[staticmethod]
    fn from_yaml(py: Python<'_>, text: &str, base_dir: PathBuf) -> PyResult<Self> {
        py.detach(|| {
            anonymize::job::from_text(text, Syntax::Yaml, &base_dir).map(|job| Self { job }).map_err(|e| user_error(&e))
        })
    }

    #[getter]
    fn name(&self) -> String {
        self.job.name.clone()
    }

    #[getter]
    fn file(&self) -> PathBuf {
        self.job.file.clone()
    }

    fn __repr__(&self) -> String {
        format!("Job(name={:?}, file={:?})", self.job.name, self.job.file.display().to_string())
    }

    /// The job applied to `data` (any object with `__arrow_c_stream__`) in place of its input:
    /// returns (a pyarrow Table, the summary as JSON).
    #[pyo3(signature = (data, seed=None, threads=None))]
    fn transform<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        seed: Option<u64>,
        threads: Option<usize>,
    ) -> PyResult<(Bound<'py, PyAny>, String)> {
        let options = options(seed, threads, false)?;
        let table = Table::from_pyarrow_bound(data)?;
        let (batches, schema) = table.into_inner();
        let done = interruptible(py, || {
            let options = RunOptions { run_id: Some(anonymize::runner::run_id_for(seed, &self.job)), ..options };
            in_memory::transform(&self.job, &schema, &batches, &options).map_err(|e| run_error(&e))
        })?;
        let summary = serde_json::to_string(&done.summary).map_err(|e| failure(e.to_string(), None, 2))?;
        let table = Table::try_new(done.batches, done.schema).map_err(|e| failure(e.to_string(), None, 2))?;
        Ok((table.into_pyarrow(py)?, summary))
    }
}

/// `anonymize risk`'s figures for `data` (an Arrow stream object, or a path to a CSV or Parquet
/// file, folder or glob) as JSON.
#[pyfunction]
#[pyo3(signature = (data, quasi_identifiers, sensitive=None, delimiter=","))]
fn risk(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    quasi_identifiers: Vec<String>,
    sensitive: Option<String>,
    delimiter: &str,
) -> PyResult<String> {
    let source = if let Ok(path) = data.extract::<PathBuf>() {
        let delimiter = match delimiter.as_bytes() {
            [b] if b.is_ascii() => *b,
            _ => return Err(failure("the delimiter must be one ASCII character".into(), None, 1)),
        };
        let csv = anonymize::job::CsvOptions { delimiter, ..Default::default() };
        py.detach(|| DataSource::open_path(Path::new(&path), None, &csv, BATCH_SIZE)).map_err(|e| user_error(&e))?
    } else {
        let (batches, schema) = Table::from_pyarrow_bound(data)?.into_inner();
        DataSource::in_memory(&schema, &batches, BATCH_SIZE).map_err(|e| user_error(&e))?
    };
    py.detach(|| {
        let measured = anonymize::privacy::risk::measure(&source, &quasi_identifiers, sensitive.as_deref()).map_err(
            |e| match &e {
                anonymize::privacy::risk::MeasureError::NoColumn { hint, .. } => {
                    failure(e.to_string(), Some(hint.clone()), 1)
                }
                _ => user_error(&e),
            },
        )?;
        serde_json::to_string(&measured).map_err(|e| failure(e.to_string(), None, 2))
    })
}

/// The engine's version.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("Failure", m.py().get_type::<Failure>())?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(risk, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_class::<Job>()?;
    Ok(())
}
