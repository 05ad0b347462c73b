//! Executes a plan: read batches → consent filter → per-column kernels (in parallel) → write,
//! in input order, so the output is byte-identical whatever the thread count. Jobs with
//! quasi-identifiers first make a statistics pass and a search ([`anonymity`]).

pub use crate::record::{ColumnSummary, FieldSummary, OutputSummary, RunSummary};

pub mod anonymity;
pub mod distributed;
pub mod in_memory;
pub mod pipeline;
pub mod privacy_budget;
pub mod recorded;
pub mod releases;
pub mod utility;

use crate::consent::{ConsentFilter, Excluded};
use crate::dp::ledger::Reservation;
use crate::engine::{Applied, Census, Decisions, Engine, RowIds};
use crate::io::IoError;
use crate::io::output::{BatchWriter, Published, Staged, check_target};
use crate::job::{Job, JobError};
use crate::plan::{self, Plan, PlanError};
use crate::privacy::exposure::SharedExposure;
use crate::transform::TransformError;
use std::time::Instant;

/// Told how a run progresses, so that a driver can show it (the command line draws a progress
/// bar; a notebook or Spark driver may log). Called from the run's own threads.
pub trait RunObserver: Send + Sync {
    /// The census pass begins (k-anonymity and aggregate releases need one; it is the only
    /// other pass over the input).
    fn census_started(&self) {}
    /// The output pass begins; `rows` is the input's row count when its format records it.
    fn output_started(&self, _rows: Option<u64>) {}
    /// `rows` more input rows went through the output pass.
    fn rows_done(&self, _rows: u64) {}
    /// The output pass is over (successfully or not).
    fn output_finished(&self) {}
    /// The utility evaluation begins (`utility:`): a read of the input, two small runs of the
    /// job and four model fits.
    fn evaluation_started(&self) {}
    /// Something the user should know that does not stop the run (never a value or a key).
    fn warning(&self, _message: &str) {}
    /// A lineage event (`START`, `COMPLETE`, `FAIL`) was recorded.
    fn lineage_event(&self, _kind: &str) {}
}

/// How a run is carried out (not what it does: that is the job's).
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Worker threads; `None`: all cores.
    pub threads: Option<usize>,
    /// Makes every random draw reproducible (and the run not differentially private).
    pub seed: Option<u64>,
    /// Plan only: read schemas, write nothing.
    pub dry_run: bool,
    /// Told how the run progresses (`None`: nobody is).
    pub observer: Option<std::sync::Arc<dyn RunObserver>>,
    /// The run id to use (lineage events are sent before the run starts); `None`: a new one.
    pub run_id: Option<String>,
    /// Rows per record batch (`None`: [`crate::io::BATCH_SIZE`]). Memory tuning only: no output
    /// byte depends on it.
    pub batch_rows: Option<usize>,
    /// Where the rows are read and written (`None`: by this process's threads, into one file).
    /// A cluster's driver gives [`distributed::Distributed`]; everything else about the run
    /// (checks, budget, decisions, releases, guardrail, records) stays here.
    pub passes: Option<std::sync::Arc<dyn RowPasses>>,
}

/// What a run's output pass must put in every output file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OutputSpec {
    /// Parquet footer key-value pairs (provenance and the privacy summary).
    pub metadata: Vec<(String, String)>,
    /// Columns of (nearly) unique tokens (no dictionary encoding).
    pub unique_columns: Vec<String>,
}

/// What an output pass did: the output staged (not yet visible) and its figures.
#[derive(Debug)]
pub struct Output {
    pub staged: Staged,
    pub rows_read: u64,
    pub excluded: Excluded,
    pub rows_written: u64,
    /// What the output releases, for the guardrail and the summary.
    pub exposure: crate::privacy::exposure::Exposure,
}

/// The two passes over a run's rows, carried out elsewhere than in this process (a cluster's
/// tasks). Both must check `unique: true` columns over all rows and return only once every row
/// is done; a failure anywhere is an error, and an error leaves nothing staged.
pub trait RowPasses: Send + Sync {
    /// The census of every row, merged (called only when the engine needs one).
    ///
    /// # Errors
    /// Any part's failure.
    fn census(&self, engine: &Engine) -> Result<Census, RunError>;
    /// Applies `decisions` to every row and stages the output under a temporary name.
    ///
    /// # Errors
    /// Any part's failure, or a `unique: true` column that repeats across parts.
    fn output(&self, job: &Job, engine: &Engine, decisions: &Decisions, spec: &OutputSpec) -> Result<Output, RunError>;
    /// Whether the output is a folder of part files (checked and replaced as one).
    fn writes_folder(&self) -> bool {
        true
    }
}

impl std::fmt::Debug for RunOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunOptions")
            .field("threads", &self.threads)
            .field("seed", &self.seed)
            .field("dry_run", &self.dry_run)
            .field("observer", &self.observer.is_some())
            .field("run_id", &self.run_id)
            .field("batch_rows", &self.batch_rows)
            .field("passes", &self.passes.is_some())
            .finish()
    }
}

/// Why a run failed. Nothing is left under an output's final name when it does.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Io(#[from] IoError),
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error("Arrow failed on a batch")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Anonymity(#[from] anonymity::AnonymityError),
    #[error(transparent)]
    Budget(#[from] crate::dp::ledger::LedgerError),
    #[error(transparent)]
    Recode(#[from] crate::privacy::recode::RecodeError),
    #[error(transparent)]
    Interrupted(#[from] crate::interrupt::Interrupted),
    /// A census or decisions that do not fit (another job, another format version, torn bytes).
    #[error("{0}")]
    Engine(String),
    #[error(transparent)]
    Lineage(#[from] crate::lineage::transport::LineageFileError),
    #[error(transparent)]
    Checksum(#[from] crate::lineage::checksums::ChecksumError),
    #[error(
        "the run's COMPLETE event could not be recorded, so its outputs were taken back and nothing new is visible{}",
        if *spent { " (its privacy spending stays recorded as spent)" } else { "" }
    )]
    NotRecorded {
        spent: bool,
        #[source]
        source: crate::lineage::transport::LineageFileError,
    },
    #[error(
        "column `{column}` has `unique: true`, but {}",
        if *repeated { format!("its input repeats a value (row {row})") }
        else { format!("two different values got the same {length}-character token (row {row})") }
    )]
    NotUnique { column: String, row: u64, repeated: bool, length: usize },
    #[error(
        "column `{column}` has `unique: true`, but {} in two parts of the input",
        if *repeated { "its input repeats a value" } else { "two different values got the same token" }
    )]
    NotUniqueAcrossParts { column: String, repeated: bool },
    /// The guardrail `privacy.risk.max_unique_rows` was exceeded.
    #[error(
        "{:.2}% of the output's rows are unique over its released attributes, more than the {:.2}% `privacy.risk.max_unique_rows` allows; nothing was written{}",
        100.0 * share, 100.0 * limit,
        if drivers.is_empty() { String::new() } else { format!(" (driven by {})", drivers.join(", ")) }
    )]
    TooManyUniqueRows { share: f64, limit: f64, drivers: Vec<String> },
    /// A failure reported by another machine of the run (a cluster's task), as it reported it.
    #[error("{message}")]
    Remote { message: String, hint: Option<String>, exit_code: u8 },
    #[error(transparent)]
    Utility(#[from] utility::UtilityProblem),
    /// The utility evaluation could not anonymize or recode one of its parts.
    #[error("the utility evaluation could not process its {part} part (the run wrote nothing)")]
    Evaluation {
        part: &'static str,
        #[source]
        source: Box<RunError>,
    },
    #[error(
        "the outputs were complete but could not be made visible; nothing new is visible{}",
        if *spent { " (the privacy spending stays recorded as spent)" } else { "" }
    )]
    Publish {
        spent: bool,
        #[source]
        source: IoError,
    },
}

impl RunError {
    /// 1 when the job or its data is wrong, 2 for an internal error.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Arrow(_) | RunError::Internal(_) | RunError::Plan(PlanError::Internal(_)) => 2,
            RunError::Evaluation { source, .. } => source.exit_code(),
            RunError::Remote { exit_code, .. } => *exit_code,
            _ => 1,
        }
    }

    /// What to do about it, when a fix is known (never a value).
    pub fn hint(&self) -> Option<String> {
        match self {
            RunError::Io(IoError::Cell { column, .. }) if !column.starts_with('(') => Some(format!(
                "the column's type was inferred from the first {} rows; declare it with `input.types.{column}` (string, int64, float64, bool, date, timestamp)",
                crate::io::csv::INFERENCE_ROWS
            )),
            RunError::Remote { hint, .. } => hint.clone(),
            RunError::Plan(PlanError::Key(_)) => {
                Some("keys are 64 hex characters; make one with `anonymize keygen`".into())
            }
            RunError::TooManyUniqueRows { drivers, .. } => Some(format!(
                "make {} quasi-identifiers with `action: generalize` under `privacy.k_anonymity` (k-anonymity bounds every class), or drop, pseudonymize or add noise to columns nobody needs as values; see README.md, \"Risk\"",
                if drivers.is_empty() {
                    "the released columns".to_string()
                } else {
                    drivers.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")
                }
            )),
            _ => None,
        }
    }
}

/// The fields of `schema`; a column the job does not name is shown as `field N` (its name may
/// be data: see [`crate::job::check::data_shape`]).
fn field_summaries(schema: &arrow::datatypes::Schema, job: &Job) -> Vec<FieldSummary> {
    schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| FieldSummary { name: shown_name(job, f.name(), i), data_type: f.data_type().to_string() })
        .collect()
}

/// A column's name for summaries, lineage and the report: as written when the job names it,
/// else `field N` (1-based position), since a name the job does not list may be data.
pub fn shown_name(job: &Job, name: &str, index: usize) -> String {
    if job.column(name).is_some() { name.to_string() } else { format!("field {}", index + 1) }
}

/// An output column's name for summaries: as [`shown_name`], and also the columns a job adds
/// (`NAME_low` and `NAME_high` of `format: bounds`, `suppressed` of `suppressed_rows: flag`).
fn output_name(job: &Job, name: &str, index: usize, flag: bool) -> String {
    let bounds_of = |end: &str| {
        name.strip_suffix(end)
            .and_then(|base| job.column(base))
            .is_some_and(|c| matches!(&c.action, crate::job::Action::Generalize(g) if g.bounds))
    };
    let added = (flag && name == crate::plan::SUPPRESSED_COLUMN) || bounds_of("_low") || bounds_of("_high");
    if added && job.column(name).is_none() { name.to_string() } else { shown_name(job, name, index) }
}

/// A fresh random run id in UUID v4 form (as OpenLineage expects).
pub fn new_run_id() -> String {
    use rand::TryRng;
    let mut bytes = [0u8; 16];
    if rand::rngs::SysRng.try_fill_bytes(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        bytes = (nanos ^ u128::from(std::process::id())).to_le_bytes();
    }
    uuid_v4(bytes)
}

/// A run id derived from the seed and the job file, for reproducible test runs.
pub fn seeded_run_id(seed: u64, job_blake3: &str) -> String {
    let mut hasher = blake3::Hasher::new_derive_key("anonymize seeded run id v1");
    hasher.update(&seed.to_le_bytes());
    hasher.update(job_blake3.as_bytes());
    uuid_v4(hasher.finalize().as_bytes()[..16].try_into().unwrap_or([0; 16]))
}

fn uuid_v4(bytes: [u8; 16]) -> String {
    uuid::Builder::from_random_bytes(bytes).into_uuid().hyphenated().to_string()
}

/// The run id of a run of `job`: derived from the seed (reproducible) or fresh.
pub fn run_id_for(seed: Option<u64>, job: &Job) -> String {
    match seed {
        Some(seed) => seeded_run_id(seed, &job.file_blake3),
        None => new_run_id(),
    }
}

/// A run whose outputs are complete under temporary names and not yet visible, with its
/// budget reservation still open. [`Prepared::finish`] commits the budget and makes the files
/// visible together; dropped instead, it removes the files and releases the reservation.
pub struct Prepared {
    pub summary: RunSummary,
    /// The main output, then each release, in the job's order (none for a dry run).
    pub staged: Vec<Staged>,
    /// The decisions file, when the job has quasi-identifiers.
    pub decisions: Option<Staged>,
    reservation: Option<Reservation>,
}

impl Prepared {
    /// Commits the run's privacy spending, then publishes `staged` (the run's files and any the
    /// caller adds, such as the report) all at once. The spending is committed first, so that no
    /// output is ever visible while its spending could be released; if publishing then fails,
    /// the spending stays committed (counted, never lost) and nothing is visible.
    ///
    /// # Errors
    /// The ledger refused the commit (nothing visible, nothing spent), or a file could not be
    /// published (nothing visible, the spending stays).
    pub fn finish(self, extra: Vec<Staged>) -> Result<Published, RunError> {
        crate::interrupt::check()?;
        if let Some(reservation) = self.reservation {
            reservation.commit()?;
        }
        let mut staged = self.staged;
        staged.extend(self.decisions);
        staged.extend(extra);
        crate::io::output::publish(staged).map_err(|e| RunError::Publish {
            spent: self.summary.dp.as_ref().is_some_and(|d| d.epsilon > 0.0 || d.delta > 0.0),
            source: e,
        })
    }
}

/// Runs a loaded job up to its outputs, complete but not yet visible (see [`Prepared`]).
///
/// Everything that can be checked is checked before the first row is read: the job against the
/// input schema, the key, the output target. Then batches stream through into temporary files.
///
/// # Errors
/// [`RunError`]; see [`RunError::exit_code`].
pub fn run(job: &Job, options: &RunOptions) -> Result<Prepared, RunError> {
    let bound = plan::bind_with(job, options.batch_rows.unwrap_or(crate::io::BATCH_SIZE));
    run_bound(job, bound, options)
}

/// As [`run`], with `source` in place of the job's `input` (a driver's data in memory): the
/// same checks, phases, budget and staged outputs.
///
/// # Errors
/// As [`run`].
pub fn run_on(job: &Job, source: crate::io::DataSource, options: &RunOptions) -> Result<Prepared, RunError> {
    run_bound(job, plan::bind_source(job, source), options)
}

fn run_bound(job: &Job, bound: Result<plan::Bound, PlanError>, options: &RunOptions) -> Result<Prepared, RunError> {
    run_unchecked(job, bound, options).map_err(|error| match error {
        // A cell of a column the job does not name (`unlisted_columns: drop`): its name may be
        // data, so it is not shown.
        RunError::Io(IoError::Cell { path, line, column, problem }) if job.column(&column).is_none() => {
            RunError::Io(IoError::Cell { path, line, column: "(not named in the job)".into(), problem })
        }
        other => other,
    })
}

fn run_unchecked(job: &Job, bound: Result<plan::Bound, PlanError>, options: &RunOptions) -> Result<Prepared, RunError> {
    let started = Instant::now();
    // Seeded runs are reproducible byte for byte, their run id included.
    let run_id = options.run_id.clone().unwrap_or_else(|| run_id_for(options.seed, job));
    let plan::Bound { source } = bound?;
    let key = plan::load_key(job)?;
    let noise_master = privacy_budget::noise_master(options.seed, &job.file_blake3)?;
    let plan = plan::compile(job, &source.schema(), key.as_ref(), noise_master)?;
    let passes = options.passes.as_deref();
    if passes.is_some_and(RowPasses::writes_folder) {
        crate::io::output::check_folder_target(&job.output.path, job.output.overwrite)?;
    } else {
        check_target(&job.output.path, job.output.overwrite)?;
    }
    for aggregate in &job.aggregates {
        check_target(&aggregate.path, job.output.overwrite)?;
    }
    if let Some(path) = &job.output.decisions {
        check_target(path, job.output.overwrite)?;
    }
    // Spending is reserved before any row is read; a failed run drops the reservation,
    // which releases it.
    let (dp, reservation) = match privacy_budget::reserve(job, &plan, &run_id, options.seed.is_some(), options.dry_run)?
    {
        Some((dp, reservation)) => (Some(dp), reservation),
        None => (None, None),
    };
    let threads = options.threads.unwrap_or_else(rayon::current_num_threads).max(1);

    let mut summary = RunSummary {
        job: job.name.clone(),
        job_file: job.file.display().to_string(),
        job_blake3: job.file_blake3.clone(),
        run_id: run_id.clone(),
        dry_run: options.dry_run,
        input_files: source.files().map(|p| p.display().to_string()).collect(),
        input_bytes: source.bytes(),
        consent_files: Vec::new(),
        rows_read: 0,
        rows_excluded: Excluded::default(),
        rows_written: 0,
        columns: column_summaries(&plan, job),
        input_schema: field_summaries(&source.schema(), job),
        output_schema: plan
            .output_schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| FieldSummary {
                name: output_name(job, f.name(), i, plan.suppressed_flag),
                data_type: f.data_type().to_string(),
            })
            .collect(),
        output: OutputSummary {
            path: job.output.path.display().to_string(),
            format: job.output.format,
            written: false,
        },
        key_id: key.as_ref().map(crate::keys::Key::id),
        demo_key: key.as_ref().is_some_and(crate::keys::Key::is_demo),
        privacy: None,
        lattice_size: None,
        dp,
        seeded: options.seed.is_some(),
        threads,
        elapsed_seconds: 0.0,
        report: None,
        lineage: None,
        released: None,
        decisions: None,
        utility: None,
    };
    if options.dry_run {
        summary.lattice_size = anonymity::lattice_size(job, &plan)?;
        summary.elapsed_seconds = started.elapsed().as_secs_f64();
        return Ok(Prepared { summary, staged: Vec::new(), decisions: None, reservation });
    }

    let consent = ConsentFilter::load(job.consent.as_ref(), &source.schema())?;
    summary.consent_files = consent.files().iter().map(|p| p.display().to_string()).collect();
    let engine = Engine::from_parts(job, plan, consent, noise_master, key.as_ref());
    if let Some(observer) = options.observer.as_deref() {
        // Kept columns whose values look like direct identifiers (from the first batch).
        let first = source.batches().next().transpose()?;
        for warning in crate::identifiers::kept_identifiers(job, first.as_ref()) {
            observer.warning(&warning);
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("anonymize-{i}"))
        .build()
        .map_err(|e| RunError::Internal(format!("cannot start {threads} worker threads: {e}")))?;
    let window = threads * 2;
    // The census pass, when k-anonymity or a release needs one: batch censuses merged in order.
    let mut census = engine.empty_census();
    if engine.needs_census() {
        if let Some(observer) = options.observer.as_deref() {
            observer.census_started();
        }
        match passes {
            Some(passes) => census = pool.install(|| passes.census(&engine))?,
            None => {
                // Only the columns the census reads are decoded, in batches of
                // CENSUS_BATCHES output batches (fewer batch tables and dictionaries to build
                // and merge); the merge runs on the pool too (a table's appended combinations
                // are sorted in parallel).
                let read = source
                    .only_columns(&engine.census_columns())
                    .with_batch_size(source.batch_size().saturating_mul(CENSUS_BATCHES));
                let mut merge = |part: Census| pool.install(|| census.merge(part));
                pipeline::ordered(&read, &pool, window, |piece| engine.census_of(&piece.batch), &mut merge)?;
            }
        }
    }
    let decisions = pool.install(|| engine.decide(&mut census))?;
    crate::interrupt::check()?;
    summary.privacy = decisions.privacy.clone();
    let releases = engine.release(&census);
    drop(census);
    // Every Parquet output (main and releases) says which run and job made it.
    let provenance = vec![
        ("anonymize.version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ("anonymize.run_id".to_string(), run_id),
        ("anonymize.job".to_string(), job.name.clone()),
        ("anonymize.job_blake3".to_string(), job.file_blake3.clone()),
    ];
    let mut metadata = provenance.clone();
    if let Some(id) = &summary.key_id {
        metadata.push(("anonymize.key_id".to_string(), id.clone()));
    }
    metadata.push(("anonymize.privacy".to_string(), compact_privacy(&summary)));
    let unique_columns: Vec<String> = engine
        .plan()
        .steps
        .iter()
        .filter(|s| {
            matches!(
                s.output,
                Some((crate::transform::Kernel::Pseudonymize(_) | crate::transform::Kernel::Encrypt(_), _))
            )
        })
        .map(|s| s.name.clone())
        .collect();
    let spec = OutputSpec { metadata, unique_columns };
    let observer = options.observer.as_deref();
    let output = match passes {
        Some(passes) => {
            if let Some(observer) = observer {
                observer.output_started(source.known_rows());
            }
            let output = passes.output(job, &engine, &decisions, &spec);
            if let Some(observer) = observer {
                observer.output_finished();
            }
            output?
        }
        None => local_output(job, &engine, &decisions, &source, &pool, window, spec, observer)?,
    };
    // What the output leaves, measured on the written values; the guardrail stops the run
    // before anything is staged (the writer's temporary file goes with it).
    let released = engine.measure(&output.exposure);
    if let Some(limit) = job.privacy.max_unique_rows
        && released.risk.unique_rows > limit
    {
        return Err(RunError::TooManyUniqueRows {
            share: released.risk.unique_rows,
            limit,
            drivers: released.drivers.clone(),
        });
    }
    summary.released = Some(released);
    // The utility evaluation, before anything is staged: a failure leaves nothing behind.
    if job.utility.is_some() {
        if let Some(observer) = observer {
            observer.evaluation_started();
        }
        summary.utility = Some(utility::evaluate(job, &source, options.seed, &pool)?);
    }
    let mut staged = vec![output.staged];
    staged.extend(releases::write(job, &releases, job.output.overwrite, &provenance)?);
    let decisions_file = match (decisions.file.clone(), &job.output.decisions) {
        (Some(mut file), Some(path)) => {
            file.run_id = summary.run_id.clone();
            let text = file.to_json().map_err(|e| RunError::Plan(e.into()))?;
            summary.decisions = Some(path.display().to_string());
            Some(crate::lineage::report::stage(path, &text, job.output.overwrite)?)
        }
        _ => None,
    };
    if let Some(dp) = summary.dp.as_mut() {
        dp.releases = releases.iter().map(|r| r.summary.clone()).collect();
    }
    summary.rows_read = output.rows_read;
    summary.rows_excluded = output.excluded;
    summary.rows_written = output.rows_written;
    summary.output.written = true;
    summary.elapsed_seconds = started.elapsed().as_secs_f64();
    Ok(Prepared { summary, staged, decisions: decisions_file, reservation })
}

/// How many output batches' rows the census pass reads per batch. Its batches hold only the
/// columns it counts, so they are cheap to make larger, and each batch's table and text
/// dictionaries cost about as much to build and merge whatever their rows: on 10 M generated
/// customers (4 quasi-identifiers, k = 10) four times the rows took a second off a 14-15 s run,
/// while the output pass ran slower with larger batches (its encoder works batch by batch).
const CENSUS_BATCHES: usize = 4;

/// The output pass in this process: every batch applied in parallel, checked and written in
/// input order into one file, staged.
#[allow(clippy::too_many_arguments)]
fn local_output(
    job: &Job,
    engine: &Engine,
    decisions: &Decisions,
    source: &crate::io::DataSource,
    pool: &rayon::ThreadPool,
    window: usize,
    spec: OutputSpec,
    observer: Option<&dyn RunObserver>,
) -> Result<Output, RunError> {
    let mut writer = BatchWriter::create(
        &job.output.path,
        job.output.format,
        job.output.overwrite,
        engine.output_schema(),
        spec.metadata,
        &spec.unique_columns,
    )?;
    if let Some(observer) = observer {
        observer.output_started(source.known_rows());
    }
    // The output pass: every batch applied in parallel, checked and written in input order.
    let mut totals = Totals { rows_read: 0, excluded: Excluded::default() };
    let mut unique = engine.unique_check();
    // Released rows are counted by the workers, off the writing thread.
    let exposure = SharedExposure::new(engine.empty_exposure());
    let row_ids = engine.needs_row_ids();
    let mut write = |(rows_in, applied): (u64, Applied)| -> Result<(), RunError> {
        unique.add(&applied)?;
        totals.rows_read += rows_in;
        totals.excluded += applied.excluded;
        if applied.batch.num_rows() > 0 {
            // Parquet columns are encoded in parallel, on the run's pool.
            pool.install(|| writer.write(&applied.batch))?;
        }
        if let Some(observer) = observer {
            observer.rows_done(rows_in);
        }
        Ok(())
    };
    let streamed = pipeline::ordered(
        source,
        pool,
        window,
        |piece| {
            let rows = piece.batch.num_rows();
            let ids =
                if row_ids { piece.origin.rows(rows) } else { RowIds { file: piece.origin.file, rows: Vec::new() } };
            let applied = engine.apply_numbered(decisions, &piece.batch, ids.as_rows(), Some(piece.first_row))?;
            exposure.add(engine.exposure_of(&applied, exposure.has_detail())?);
            Ok((rows as u64, applied))
        },
        &mut write,
    );
    if let Some(observer) = observer {
        observer.output_finished();
    }
    streamed?;
    let (rows_written, staged) = writer.stage()?;
    Ok(Output {
        staged,
        rows_read: totals.rows_read,
        excluded: totals.excluded,
        rows_written,
        exposure: exposure.into_exposure(),
    })
}

struct Totals {
    rows_read: u64,
    excluded: Excluded,
}

/// The guarantees an output carries in its Parquet footer (`anonymize.privacy`), as compact
/// JSON: what was done to each column, k-anonymity's outcome, the differential privacy spent,
/// and whether the run was seeded. Figures only; never a value.
fn compact_privacy(summary: &RunSummary) -> String {
    let columns: serde_json::Map<String, serde_json::Value> =
        summary.columns.iter().map(|c| (c.name.clone(), serde_json::Value::from(c.action))).collect();
    let mut out = serde_json::json!({ "columns": columns, "seeded": summary.seeded });
    if let Some(p) = &summary.privacy {
        out["k_anonymity"] = serde_json::json!({
            "algorithm": p.algorithm,
            "k": p.k,
            "smallest_class": p.smallest_class,
            "suppressed_rows": p.suppressed_rows,
            "suppressed_rows_mode": p.suppressed_rows_mode,
            "classes": p.classes,
            "levels": p.quasi_identifiers.iter().map(|q| (q.name.clone(), q.level)).collect::<std::collections::BTreeMap<_, _>>(),
            "l_diversity": p.l_diversity,
            "t_closeness": p.t_closeness,
            "prosecutor_risk_highest": p.risk_after.prosecutor_highest,
        });
    }
    if let Some(dp) = &summary.dp {
        out["differential_privacy"] = serde_json::json!({
            "epsilon": dp.epsilon,
            "delta": dp.delta,
            "dataset": dp.dataset,
            "not_private_seeded": dp.seeded,
        });
    }
    out.to_string()
}

fn column_summaries(plan: &Plan, job: &Job) -> Vec<ColumnSummary> {
    plan.steps
        .iter()
        .map(|s| ColumnSummary {
            name: shown_name(job, &s.name, s.input_index),
            action: s.action,
            detail: s.detail.clone(),
            input_type: s.input_type.to_string(),
            output_type: s.output.as_ref().map(|(_, t)| t.to_string()),
            dropped: s.dropped,
        })
        .collect()
}
