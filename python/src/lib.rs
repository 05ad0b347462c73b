//! `anonymize._native`: the engine for Python. The package `anonymize` (python/anonymize)
//! wraps it with docstrings, keyword arguments and `AnonymizeError`.
//!
//! Every function takes the GIL off while the engine works. Errors are raised as
//! `_native.Failure(message, hint, exit_code)`, with the same message, hint and exit code as the
//! command line; like the command line's, they never carry a cell value or a key.

use anonymize::engine::Decisions;
use anonymize::io::Unit;
use anonymize::io::{BATCH_SIZE, DataSource};
use anonymize::job::{Job as JobSpec, Syntax};
use anonymize::lineage::events::Parent;
use anonymize::lineage::report::Format;
use anonymize::runner::distributed::{
    Cluster, Distributed, Executor, Shipment, Task, apply_reply, census_reply, failure_reply,
};
use anonymize::runner::recorded::{self, ReportTarget};
use anonymize::runner::{OutputSpec, RunError, RunOptions, in_memory};
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

/// A cluster whose tasks a Python callable runs (the Spark driver in `anonymize.spark`):
/// `call(kind, shipment, units, decisions, folder, spec)` returns every task's reply.
struct PyCluster {
    call: Py<PyAny>,
}

impl Cluster for PyCluster {
    fn run(&self, shipment: &[u8], units: &[Unit], task: &Task) -> Result<Vec<Vec<u8>>, RunError> {
        let units: Vec<String> = units.iter().map(|u| serde_json::to_string(u).unwrap_or_default()).collect();
        let (kind, decisions, folder, spec) = match task {
            Task::Census => ("census", None, None, None),
            Task::Apply { decisions, folder, spec } => (
                "apply",
                Some(decisions.clone()),
                Some(folder.clone()),
                Some(serde_json::to_string(spec).unwrap_or_default()),
            ),
        };
        Python::attach(|py| {
            let decisions = decisions.map(|d| pyo3::types::PyBytes::new(py, &d).unbind());
            let shipment = pyo3::types::PyBytes::new(py, shipment);
            self.call
                .call1(py, (kind, shipment, units, decisions, folder, spec))
                .and_then(|replies| replies.extract::<Vec<Vec<u8>>>(py))
                .map_err(|error| {
                    if let Err(stopped) = anonymize::interrupt::check() {
                        return RunError::Interrupted(stopped);
                    }
                    // The driver's own exception (a lost executor, a cancelled job): its type and
                    // first line; the Spark log has the rest.
                    let text = error.value(py).to_string();
                    let first = text.lines().next().unwrap_or_default().chars().take(300).collect::<String>();
                    RunError::Remote {
                        message: format!("the cluster could not run the {kind} tasks: {first}"),
                        hint: Some("see the Spark driver's log for the failed task".into()),
                        exit_code: 2,
                    }
                })
        })
    }
}

/// Runs a job file with its rows read and written by a cluster's tasks (see
/// `anonymize.spark`); returns the summary as JSON and in `anonymize run`'s words. `cluster`
/// runs the tasks; `parent` is
/// (namespace, job name, run id) of the run that contains this one, for lineage.
#[pyfunction]
#[pyo3(signature = (job_path, cluster, max_unit_bytes, seed=None, threads=None, dry_run=false, batch_rows=None, report_format=None, parent=None))]
#[allow(clippy::too_many_arguments)]
fn run_distributed(
    py: Python<'_>,
    job_path: PathBuf,
    cluster: Py<PyAny>,
    max_unit_bytes: u64,
    seed: Option<u64>,
    threads: Option<usize>,
    dry_run: bool,
    batch_rows: Option<usize>,
    report_format: Option<String>,
    parent: Option<(String, String, String)>,
) -> PyResult<(String, String)> {
    let options = options(seed, threads, dry_run)?;
    if batch_rows == Some(0) {
        return Err(failure("batch_rows must be at least 1".into(), None, 1));
    }
    let format = match report_format.as_deref() {
        None => None,
        Some("html") => Some(Format::Html),
        Some("markdown") => Some(Format::Markdown),
        Some(text) => return Err(failure(format!("unknown report format `{text}` (html or markdown)"), None, 1)),
    };
    interruptible(py, || {
        let job = anonymize::job::load(&job_path).map_err(|e| user_error(&e))?;
        let report = ReportTarget::of(&job, format);
        let batch = batch_rows.unwrap_or(BATCH_SIZE);
        let source = anonymize::plan::bind_with(&job, batch).map_err(|e| run_error(&RunError::Plan(e)))?.source;
        let mut options = RunOptions { run_id: Some(anonymize::runner::run_id_for(seed, &job)), batch_rows, ..options };
        let cluster = std::sync::Arc::new(PyCluster { call: cluster });
        let passes = Distributed::new(&job, &source, &options, max_unit_bytes, cluster).map_err(|e| run_error(&e))?;
        options.passes = Some(std::sync::Arc::new(passes));
        let parent = parent.map(|(namespace, name, run_id)| Parent { namespace, name, run_id, root: None });
        let summary = recorded::run_job_under(&job, &options, &report, parent).map_err(|e| run_error(&e))?;
        let json = serde_json::to_string(&summary).map_err(|e| failure(e.to_string(), None, 2))?;
        Ok((json, anonymize::record::human::human(&summary)))
    })
}

/// The executors built in this process, by the BLAKE3 of their shipment, and decisions read,
/// by the BLAKE3 of their bytes: a worker that runs many tasks of one run compiles the job,
/// loads the key and reads the decisions once.
type Cache<T> = std::sync::Mutex<std::collections::HashMap<[u8; 32], std::sync::Arc<T>>>;
static EXECUTORS: std::sync::OnceLock<Cache<Executor>> = std::sync::OnceLock::new();
static DECISIONS: std::sync::OnceLock<Cache<Decisions>> = std::sync::OnceLock::new();

fn cached<T>(
    cache: &'static std::sync::OnceLock<Cache<T>>,
    bytes: &[u8],
    make: impl FnOnce() -> Result<T, RunError>,
) -> Result<std::sync::Arc<T>, RunError> {
    let key = *blake3::hash(bytes).as_bytes();
    let cache = cache.get_or_init(Default::default);
    if let Some(found) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(found);
    }
    let made = std::sync::Arc::new(make()?);
    if let Ok(mut c) = cache.lock() {
        // A worker serves one run at a time; older runs' entries go.
        if c.len() >= 4 {
            c.clear();
        }
        c.insert(key, made.clone());
    }
    Ok(made)
}

/// One task of a distributed run, on an executor: `kind` is `census` or `apply`; `units` are
/// the units' JSON. Returns the reply bytes, which carry the engine's failure rather than
/// raising it (so that the coordinator reports it as the command line would).
#[pyfunction]
#[pyo3(signature = (kind, shipment, units, decisions=None, folder=None, spec=None))]
fn task(
    py: Python<'_>,
    kind: &str,
    shipment: &[u8],
    units: Vec<String>,
    decisions: Option<&[u8]>,
    folder: Option<PathBuf>,
    spec: Option<String>,
) -> PyResult<Vec<u8>> {
    let kind = kind.to_string();
    let shipment = shipment.to_vec();
    let decisions = decisions.map(<[u8]>::to_vec);
    py.detach(move || {
        let units = units
            .iter()
            .map(|u| serde_json::from_str::<Unit>(u))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| RunError::Engine("a task got units it cannot read".into()));
        let executor = units.and_then(|units| {
            cached(&EXECUTORS, &shipment, || Executor::new(&Shipment::from_bytes(&shipment)?)).map(|e| (units, e))
        });
        let (units, executor) = match executor {
            Ok(found) => found,
            Err(error) => return Ok(failure_reply(&error)),
        };
        Ok(match (kind.as_str(), decisions, folder, spec) {
            ("census", _, _, _) => census_reply(&units, executor.census(&units)),
            ("apply", Some(decisions), Some(folder), Some(spec)) => {
                let outcome = serde_json::from_str::<OutputSpec>(&spec)
                    .map_err(|_| RunError::Engine("a task got an output spec it cannot read".into()))
                    .and_then(|spec| {
                        let decided =
                            cached(&DECISIONS, &decisions, || executor.engine().decisions_from_bytes(&decisions))?;
                        executor.apply(&decided, &units, &folder, &spec)
                    });
                apply_reply(outcome)
            }
            _ => failure_reply(&RunError::Engine(format!("unknown task `{kind}`"))),
        })
    })
}

/// Whether a stop was asked for (Ctrl-C during a call): a driver waiting on a cluster cancels
/// its jobs when it is.
#[pyfunction]
fn interrupted() -> bool {
    anonymize::interrupt::requested()
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
    m.add_function(wrap_pyfunction!(run_distributed, m)?)?;
    m.add_function(wrap_pyfunction!(task, m)?)?;
    m.add_function(wrap_pyfunction!(interrupted, m)?)?;
    m.add_class::<Job>()?;
    Ok(())
}
