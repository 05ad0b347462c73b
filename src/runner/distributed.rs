//! A run whose rows are read and written by a cluster's tasks (Spark's executors), while the
//! coordinator does everything else exactly as a local run does ([`super::run`]): it validates
//! the job once, reserves the budget, merges the census, decides, adds aggregate noise once,
//! checks `unique: true` columns across tasks and the risk guardrail, writes the report and the
//! lineage, and makes the output visible only when every task succeeded.
//!
//! The coordinator cuts the input into [`Unit`]s ([`DataSource::units`]) and ships each task a
//! [`Shipment`] (the job's text, the input's schema, the seed; never the key: each executor
//! reads it where the job says, from its own environment or file) with some units. A task
//! ([`Executor`]) makes the census of its units, or applies the decisions to them and writes one
//! part file per unit into the run's temporary folder; it answers with bytes
//! ([`census_reply`], [`apply_reply`]) that carry its figures or its failure (message, hint and
//! exit code, never a value). [`Distributed`] is the coordinator's side: give it a [`Cluster`]
//! that runs tasks and returns their replies, and put it in [`super::RunOptions::passes`].
//!
//! Results do not depend on how units are grouped into tasks or in which order tasks run: a
//! row's identity is (file, index in the file), censuses merge exactly, and part files are named
//! by unit.

use super::{Output, OutputSpec, RowPasses, RunError};
use crate::consent::Excluded;
use crate::engine::{Census, Decisions, Engine, UniqueCheck};
use crate::io::output::{BatchWriter, PartsFolder};
use crate::io::{DataSource, Unit};
use crate::job::{DataFormat, Job, Syntax};
use crate::privacy::exposure::Exposure;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What every task of a run gets: enough to compile the job against the input's schema. It
/// holds no key and no value (the key's place is in the job text, as a variable's or file's name).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Shipment {
    format: String,
    /// The job file's text, its syntax and the folder its relative paths resolve against.
    job_text: String,
    syntax: String,
    base_dir: PathBuf,
    job_blake3: String,
    /// The input's schema as the coordinator read it (name, Arrow type).
    schema: Vec<(String, String)>,
    seed: Option<u64>,
    batch_rows: usize,
    /// The run's id: an executor serves one run (an unseeded run's engines draw their own noise
    /// keys, which no other run may share).
    run_id: String,
}

const SHIPMENT_FORMAT: &str = "anonymize.shipment.v1";

impl Shipment {
    /// The shipment of run `run_id` of `job` (loaded from its file, which is read again and must
    /// not have changed) over an input of `schema`.
    ///
    /// # Errors
    /// The job file cannot be read again or changed, or a column type has no text form.
    pub fn of(
        job: &Job,
        schema: &Schema,
        seed: Option<u64>,
        batch_rows: usize,
        run_id: &str,
    ) -> Result<Self, RunError> {
        let bytes = crate::files::read_bounded(&job.file, 16 << 20)
            .map_err(|source| RunError::Job(crate::job::JobError::Read { path: job.file.clone(), source }))?;
        if blake3::hash(&bytes).to_hex().as_str() != job.file_blake3 {
            return Err(RunError::Engine(format!(
                "the job file `{}` changed while the run started",
                job.file.display()
            )));
        }
        let job_text = String::from_utf8(bytes).map_err(|_| RunError::Engine("the job file is not UTF-8".into()))?;
        let syntax = match job.file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("toml") => "toml",
            _ => "yaml",
        };
        let mut fields = Vec::new();
        for (index, field) in schema.fields().iter().enumerate() {
            let text = field.data_type().to_string();
            if text.parse::<DataType>().ok().as_ref() != Some(field.data_type()) {
                return Err(RunError::Engine(format!(
                    "column `{}` has type {text}, which cannot be sent to a cluster's tasks",
                    super::shown_name(job, field.name(), index)
                )));
            }
            fields.push((field.name().clone(), text));
        }
        let base_dir = crate::lineage::absolute(job.file.parent().unwrap_or(Path::new(".")));
        Ok(Self {
            format: SHIPMENT_FORMAT.into(),
            job_text,
            syntax: syntax.into(),
            base_dir,
            job_blake3: job.file_blake3.clone(),
            schema: fields,
            seed,
            batch_rows: batch_rows.max(1),
            run_id: run_id.to_string(),
        })
    }

    /// The shipment as bytes (JSON).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A shipment from [`Shipment::to_bytes`].
    ///
    /// # Errors
    /// Not such bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RunError> {
        let shipment: Shipment =
            serde_json::from_slice(bytes).map_err(|_| RunError::Engine("not a shipment of an anonymize run".into()))?;
        if shipment.format != SHIPMENT_FORMAT {
            return Err(RunError::Engine("the shipment is of another version of anonymize".into()));
        }
        Ok(shipment)
    }

    fn schema(&self) -> Result<SchemaRef, RunError> {
        let fields = self
            .schema
            .iter()
            .enumerate()
            .map(|(index, (name, text))| {
                // The column's place, not its name: a name the job does not list may be data.
                text.parse::<DataType>().map(|t| Field::new(name, t, true)).map_err(|_| {
                    RunError::Engine(format!("input column {} has a type this engine cannot read", index + 1))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(Schema::new(fields)))
    }
}

/// A task's side of a run: the job compiled against the shipped schema, its key and consent
/// lists loaded from this machine.
#[derive(Debug)]
pub struct Executor {
    job: Job,
    engine: Engine,
    source: DataSource,
}

impl Executor {
    /// Compiles the shipped job.
    ///
    /// # Errors
    /// The job does not parse or is not the coordinator's, or the key or a consent list cannot
    /// be read on this machine.
    pub fn new(shipment: &Shipment) -> Result<Self, RunError> {
        let syntax = if shipment.syntax == "toml" { Syntax::Toml } else { Syntax::Yaml };
        let job = crate::job::from_text(&shipment.job_text, syntax, &shipment.base_dir)?;
        if job.file_blake3 != shipment.job_blake3 {
            return Err(RunError::Engine("the shipped job is not the coordinator's".into()));
        }
        let schema = shipment.schema()?;
        let engine = Engine::new(&job, &schema, shipment.seed)?;
        let source = DataSource::for_units(schema, job.input.csv.clone(), shipment.batch_rows);
        Ok(Self { job, engine, source })
    }

    /// The census of `units`, merged.
    ///
    /// # Errors
    /// A unit cannot be read, or a value cannot be counted.
    pub fn census(&self, units: &[Unit]) -> Result<Census, RunError> {
        let mut census = self.engine.empty_census();
        // Only the columns the census reads are decoded.
        let read = self.source.only_columns(&self.engine.census_columns());
        for unit in units {
            for item in read.unit_batches(unit) {
                crate::interrupt::check()?;
                let (_, batch) = item?;
                census.merge(self.engine.census_of(&batch)?)?;
            }
        }
        Ok(census)
    }

    /// Applies `decisions` (bytes of [`Decisions`]) to `units`, writing `part-NNNNN.EXT` per
    /// unit into `folder` (replacing the part a failed attempt of the same task left).
    ///
    /// # Errors
    /// A unit cannot be read or written, a value cannot be transformed, or a `unique: true`
    /// column repeats within the task.
    pub fn apply(
        &self,
        decisions: &Decisions,
        units: &[Unit],
        folder: &Path,
        spec: &OutputSpec,
    ) -> Result<TaskOutcome, RunError> {
        let engine = &self.engine;
        let mut outcome = TaskOutcome {
            units: units.iter().map(|u| u.id).collect(),
            rows_read: 0,
            excluded: Excluded::default(),
            rows_written: 0,
            unique: engine.unique_check(),
            exposure: engine.empty_exposure(),
        };
        let row_ids = engine.needs_row_ids();
        for unit in units {
            let path = folder.join(part_name(unit.id, self.job.output.format));
            let mut writer = BatchWriter::create(
                &path,
                self.job.output.format,
                true,
                engine.output_schema(),
                spec.metadata.clone(),
                &spec.unique_columns,
            )?;
            let mut offset = 0u64;
            for item in self.source.unit_batches(unit) {
                crate::interrupt::check()?;
                let (origin, batch) = item?;
                let rows = batch.num_rows();
                let ids = if row_ids {
                    origin.rows(rows)
                } else {
                    crate::engine::RowIds { file: origin.file, rows: Vec::new() }
                };
                let numbered = unit.first_global_row.map(|first| first + offset);
                let applied = engine.apply_numbered(decisions, &batch, ids.as_rows(), numbered)?;
                offset += rows as u64;
                outcome.unique.add(&applied)?;
                outcome.exposure.merge(engine.exposure_of(&applied, outcome.exposure.has_detail())?);
                outcome.rows_read += rows as u64;
                outcome.excluded += applied.excluded;
                writer.write(&applied.batch)?;
            }
            outcome.rows_written += writer.finish()?;
        }
        Ok(outcome)
    }

    /// The engine, for decisions from bytes.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// The part file of unit `id`.
pub fn part_name(id: u32, format: DataFormat) -> String {
    let extension = match format {
        DataFormat::Parquet => "parquet",
        DataFormat::Csv => "csv",
    };
    format!("part-{id:05}.{extension}")
}

/// What an apply task did.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct TaskOutcome {
    /// The units it wrote (each as its own part file).
    pub units: Vec<u32>,
    pub rows_read: u64,
    pub excluded: Excluded,
    pub rows_written: u64,
    unique: UniqueCheck,
    exposure: Exposure,
}

/// A task's failure as the coordinator reports it (the engine's message, hint and exit code).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Failure {
    message: String,
    hint: Option<String>,
    exit_code: u8,
}

impl Failure {
    fn of(error: &RunError) -> Self {
        Self { message: super::recorded::chain(error), hint: error.hint(), exit_code: error.exit_code() }
    }
}

/// A census task's reply: `C`, the units' ids as JSON, a newline, the census bytes; or `E` and
/// the failure as JSON.
pub fn census_reply(units: &[Unit], census: Result<Census, RunError>) -> Vec<u8> {
    match census {
        Ok(census) => {
            let ids: Vec<u32> = units.iter().map(|u| u.id).collect();
            let mut reply = b"C".to_vec();
            reply.extend(serde_json::to_vec(&ids).unwrap_or_default());
            reply.push(b'\n');
            reply.extend(census.to_bytes());
            reply
        }
        Err(error) => failure_reply(&error),
    }
}

/// An apply task's reply: `A` and the [`TaskOutcome`] as JSON; or `E` and the failure.
pub fn apply_reply(outcome: Result<TaskOutcome, RunError>) -> Vec<u8> {
    match outcome {
        Ok(outcome) => {
            let mut reply = b"A".to_vec();
            reply.extend(serde_json::to_vec(&outcome).unwrap_or_default());
            reply
        }
        Err(error) => failure_reply(&error),
    }
}

/// A reply saying the task failed with `error` (a task that cannot even build its
/// [`Executor`] answers with it).
pub fn failure_reply(error: &RunError) -> Vec<u8> {
    let mut reply = b"E".to_vec();
    reply.extend(serde_json::to_vec(&Failure::of(error)).unwrap_or_default());
    reply
}

fn torn(what: &str) -> RunError {
    RunError::Engine(format!("a task's {what} reply is not readable"))
}

/// As [`torn`], saying where the bytes stopped making sense (never what they hold).
fn torn_at(what: &str, error: &serde_json::Error) -> RunError {
    let kind = if error.is_data() { "its figures do not fit" } else { "it does not parse" };
    RunError::Engine(format!(
        "a task's {what} reply is not readable: {kind} (line {}, column {})",
        error.line(),
        error.column()
    ))
}

fn failed(body: &[u8]) -> RunError {
    match serde_json::from_slice::<Failure>(body) {
        Ok(f) => RunError::Remote { message: f.message, hint: f.hint, exit_code: f.exit_code },
        Err(_) => torn("failure"),
    }
}

/// What a task must do.
#[derive(Debug, Clone)]
pub enum Task {
    /// The census of its units ([`Executor::census`], answered by [`census_reply`]).
    Census,
    /// Applying the decisions to its units, parts into `folder` ([`Executor::apply`], answered
    /// by [`apply_reply`]).
    Apply { decisions: Vec<u8>, folder: PathBuf, spec: OutputSpec },
}

/// A cluster that runs tasks: each of `units` must be in exactly one task (a retried or
/// speculative task may answer twice; the coordinator keeps one answer per unit).
pub trait Cluster: Send + Sync {
    /// Runs `task` over `units` with `shipment`; returns every task's reply.
    ///
    /// # Errors
    /// The cluster itself failed (not a task's engine failure, which is a reply).
    fn run(&self, shipment: &[u8], units: &[Unit], task: &Task) -> Result<Vec<Vec<u8>>, RunError>;
}

/// The coordinator's side of a distributed run (see the module documentation).
pub struct Distributed {
    shipment: Vec<u8>,
    units: Vec<Unit>,
    cluster: Arc<dyn Cluster>,
}

impl std::fmt::Debug for Distributed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Distributed").field("units", &self.units.len()).finish_non_exhaustive()
    }
}

impl Distributed {
    /// The passes of run `options.run_id` of `job` (with `options.seed` and `options.batch_rows`)
    /// over `source` cut into units of at most `max_unit_bytes`, on `cluster`.
    ///
    /// # Errors
    /// `options` has no run id; as [`Shipment::of`] and [`DataSource::units`].
    pub fn new(
        job: &Job,
        source: &DataSource,
        options: &super::RunOptions,
        max_unit_bytes: u64,
        cluster: Arc<dyn Cluster>,
    ) -> Result<Self, RunError> {
        let run_id =
            options.run_id.as_deref().ok_or_else(|| RunError::Internal("a distributed run needs its run id".into()))?;
        let batch_rows = options.batch_rows.unwrap_or(crate::io::BATCH_SIZE);
        let shipment = Shipment::of(job, &source.schema(), options.seed, batch_rows, run_id)?.to_bytes();
        let mut units = source.units(max_unit_bytes)?;
        for unit in &mut units {
            unit.path = crate::lineage::absolute(&unit.path);
        }
        Ok(Self { shipment, units, cluster })
    }

    /// The units the input was cut into.
    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    /// Each reply read by `read` (into the units it answers for and what it says), kept once per
    /// unit: a unit answered twice (a retried task) counts once, a unit never answered is an
    /// error.
    fn collect<'r, T>(
        &self,
        replies: &'r [Vec<u8>],
        tag: u8,
        read: impl Fn(&'r [u8]) -> Result<(Vec<u32>, T), RunError>,
    ) -> Result<Vec<T>, RunError> {
        let mut seen = vec![false; self.units.len()];
        let mut kept = Vec::new();
        for reply in replies {
            let (&kind, body) = reply.split_first().ok_or_else(|| torn("empty"))?;
            if kind == b'E' {
                return Err(failed(body));
            }
            if kind != tag {
                return Err(torn("unexpected"));
            }
            let (ids, said) = read(body)?;
            let slots: Vec<usize> = ids.iter().map(|&id| id as usize).collect();
            if slots.iter().any(|&s| s >= seen.len()) {
                return Err(torn("unit"));
            }
            if slots.iter().all(|&s| seen[s]) && !slots.is_empty() {
                continue;
            }
            if slots.iter().any(|&s| seen[s]) {
                return Err(RunError::Engine("two tasks answered for overlapping units".into()));
            }
            for s in slots {
                seen[s] = true;
            }
            kept.push(said);
        }
        if let Some(missing) = seen.iter().position(|s| !s) {
            return Err(RunError::Engine(format!(
                "no task answered for unit {missing} of {} (`{}`)",
                self.units.len(),
                self.units[missing].path.display()
            )));
        }
        Ok(kept)
    }
}

fn census_parts(body: &[u8]) -> Result<(Vec<u32>, &[u8]), RunError> {
    let newline = body.iter().position(|&b| b == b'\n').ok_or_else(|| torn("census"))?;
    let ids: Vec<u32> = serde_json::from_slice(&body[..newline]).map_err(|e| torn_at("census", &e))?;
    Ok((ids, &body[newline + 1..]))
}

impl RowPasses for Distributed {
    fn census(&self, engine: &Engine) -> Result<Census, RunError> {
        let replies = self.cluster.run(&self.shipment, &self.units, &Task::Census)?;
        let parts = self.collect(&replies, b'C', census_parts)?;
        let mut census = engine.empty_census();
        for part in parts {
            crate::interrupt::check()?;
            census.merge(Census::from_bytes(part)?)?;
        }
        Ok(census)
    }

    fn output(&self, job: &Job, engine: &Engine, decisions: &Decisions, spec: &OutputSpec) -> Result<Output, RunError> {
        let folder = PartsFolder::create(&job.output.path, job.output.overwrite)?;
        let task = Task::Apply {
            decisions: decisions.to_bytes(),
            folder: crate::lineage::absolute(folder.path()),
            spec: spec.clone(),
        };
        let replies = self.cluster.run(&self.shipment, &self.units, &task)?;
        let outcomes = self.collect(&replies, b'A', |body| {
            let outcome: TaskOutcome = serde_json::from_slice(body).map_err(|e| torn_at("apply", &e))?;
            Ok((outcome.units.clone(), outcome))
        })?;
        let mut unique = engine.unique_check();
        let mut exposure = engine.empty_exposure();
        let (mut rows_read, mut rows_written, mut excluded) = (0, 0, Excluded::default());
        for outcome in outcomes {
            unique.merge(outcome.unique)?;
            exposure.merge(outcome.exposure);
            rows_read += outcome.rows_read;
            rows_written += outcome.rows_written;
            excluded += outcome.excluded;
        }
        crate::interrupt::check()?;
        Ok(Output { staged: folder.stage()?, rows_read, excluded, rows_written, exposure })
    }
}
