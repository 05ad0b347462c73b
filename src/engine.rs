//! The engine in phases, for any driver (the command line, a notebook, a cluster):
//!
//! 1. [`Engine::new`]: a validated [`Job`] compiled against an Arrow schema, its key and consent
//!    lists loaded. No row is read.
//! 2. **Census** ([`Engine::census_of`], [`Census::merge`]): the statistics pass. Each batch (or
//!    partition) gives a census (rows per combination of quasi-identifiers with the sensitive
//!    histograms, aggregate partial totals, consent counts); censuses merge into the census of
//!    the whole, in any order, with the same result, and travel as bytes
//!    ([`Census::to_bytes`]).
//! 3. **Decide** ([`Engine::decide`]): from the merged census to the run's [`Decisions`] (levels
//!    or Mondrian partitions, suppression, metrics, risk), on the coordinator; they travel as
//!    bytes too.
//! 4. **Apply** ([`Engine::apply`]): one record batch and its rows' identities (input file,
//!    row index in it) to the output batch. Pure and thread-safe: any executor, any order.
//! 5. **Release** ([`Engine::release`]): the differentially private aggregates, noised once from
//!    the merged census, on the coordinator.
//! 6. **Measure** ([`Engine::exposure_of`] each applied batch, [`Exposure::merge`], bytes with
//!    [`Exposure::to_bytes`], then [`Engine::measure`] on the coordinator): the
//!    re-identification risk the output leaves over its released attributes, which a job's
//!    `privacy.risk.max_unique_rows` checks before anything is made visible.
//!
//! Nothing depends on how the input is cut: the census merges exactly (canonical ids, integer
//! sums), noise is keyed by each row's identity, and the search runs on a canonical table.
//!
//! Census and decisions bytes hold input values of the quasi-identifiers (and aggregate groups
//! and privacy units): treat them like the input. They never hold the key or the noise key.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use anonymize::engine::Engine;
//! use anonymize::io::RowOrigin;
//! let job = anonymize::job::load(std::path::Path::new("pipelines/adult_k5.yaml"))?;
//! let source = anonymize::plan::bind(&job)?.source;
//! let engine = Engine::new(&job, &source.schema(), Some(7))?;
//! // Each partition makes its census; the coordinator merges them.
//! let mut census = engine.empty_census();
//! for batch in source.batches() {
//!     census.merge(engine.census_of(&batch?)?)?;
//! }
//! let bytes = census.to_bytes();
//! let mut census = anonymize::engine::Census::from_bytes(&bytes)?;
//! let decisions = engine.decide(&mut census)?;
//! // Executors apply the decisions batch by batch and count what the output releases.
//! let mut exposure = engine.empty_exposure();
//! for item in source.batches_with_origin() {
//!     let (origin, batch): (RowOrigin, _) = item?;
//!     let applied = engine.apply(&decisions, &batch, origin.rows(batch.num_rows()).as_rows())?;
//!     exposure.merge(engine.exposure_of(&applied, exposure.has_detail())?);
//!     println!("{} rows out", applied.batch.num_rows());
//! }
//! let left = engine.measure(&exposure);
//! println!("{:.1}% of the output's rows are unique", 100.0 * left.risk.unique_rows);
//! # Ok(()) }
//! ```

use crate::consent::{ConsentFilter, Excluded};
use crate::dp::aggregate::{Accumulator, Partials, ReleaseSummary, Released, Row};
use crate::dp::mechanism::batch_rng;
use crate::io::Rows;
use crate::job::{Job, Measure};
use crate::plan::{self, Plan};
use crate::privacy::decisions::DecisionsFile;
use crate::privacy::exposure::{Exposure, NotCounted, ReleasedRisk};
use crate::privacy::recode::Recoding;
use crate::privacy::table::FrequencyTable;
use crate::runner::RunError;
use crate::runner::anonymity::{self, PrivacySummary, Setup};
use crate::text::to_text;
use crate::transform::unique::{self, Conflict, Fingerprint, UniqueTokens};
use crate::transform::{Kernel, TransformError};
use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Schema, SchemaRef};

/// The version of the census and decisions byte forms; a reader refuses any other.
pub const FORMAT_VERSION: u32 = 1;

/// A job compiled against its input's schema: the phases of a run.
pub struct Engine {
    job: Job,
    plan: Plan,
    consent: ConsentFilter,
    anonymity: Option<Setup>,
    noise_master: zeroize::Zeroizing<[u8; 32]>,
    key_id: Option<String>,
    demo_key: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("job", &self.job.name).field("plan", &self.plan).finish_non_exhaustive()
    }
}

/// The statistics of some rows, mergeable with other rows' (see the module documentation).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Census {
    format: String,
    version: u32,
    /// The BLAKE3 of the job file that made it: censuses of other jobs do not merge.
    job_blake3: String,
    /// Rows seen, before the consent filter.
    pub rows_read: u64,
    /// Rows the consent filter removed.
    pub excluded: Excluded,
    /// The quasi-identifiers' frequency table (`None` when the job has none).
    table: Option<FrequencyTable>,
    /// One per aggregate release, in the job's order.
    releases: Vec<Partials>,
    /// [`Engine::decide`] has taken the table (it sorts it in place of copying it).
    #[serde(skip)]
    decided: bool,
}

/// What a run decided from the census: the recoding of the quasi-identifiers and what it
/// guarantees. Apply them to any batch of the same input.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Decisions {
    format: String,
    version: u32,
    job_blake3: String,
    /// `None` when the job has no quasi-identifiers.
    recoding: Option<Recoding>,
    /// k-anonymity's outcome (its `search_seconds` is the only figure that varies by run).
    pub privacy: Option<PrivacySummary>,
    /// The decisions file to write beside the output (its `run_id` left for the driver).
    pub file: Option<DecisionsFile>,
}

/// One batch after the consent filter and every column's action.
#[derive(Debug)]
pub struct Applied {
    /// The output rows, in the output schema.
    pub batch: RecordBatch,
    /// Rows the consent filter removed.
    pub excluded: Excluded,
    /// Per `unique` column, in column order: what [`UniqueCheck`] needs.
    fingerprints: Vec<Vec<Fingerprint>>,
    /// 1-based row number of each kept row, when a `unique` column needs it.
    row_numbers: Vec<u64>,
}

/// One aggregate release, noised, not yet written.
#[derive(Debug, Clone)]
pub struct Release {
    pub rows: Vec<Released>,
    pub summary: ReleaseSummary,
}

/// Checks `unique: true` columns over every batch of a run (feed it every [`Applied`]). A
/// driver that applies partitions on several machines makes one check per partition and merges
/// them on the coordinator ([`UniqueCheck::merge`], bytes with [`UniqueCheck::to_bytes`]) before
/// it makes the outputs visible: the fingerprints are taken where the tokens are computed, so the
/// census pass does not compute every token twice.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UniqueCheck {
    /// (column, token length, tokens seen).
    columns: Vec<(String, usize, UniqueTokens)>,
}

/// The identities of a batch's rows (see [`Engine::apply`]): owned, for rows that follow one
/// another in one file.
#[derive(Debug, Clone)]
pub struct RowIds {
    pub file: u32,
    pub rows: Vec<u64>,
}

impl RowIds {
    /// The borrowed form [`Engine::apply`] takes.
    pub fn as_rows(&self) -> Rows<'_> {
        Rows { file: self.file, rows: &self.rows }
    }
}

impl crate::io::RowOrigin {
    /// The identities of the `count` rows that start here.
    pub fn rows(self, count: usize) -> RowIds {
        RowIds { file: self.file, rows: (self.first_row..self.first_row + count as u64).collect() }
    }
}

/// Where bytes stopped making sense, without the parser's message, which may quote them (census
/// and decisions hold input values).
fn where_in(error: &serde_json::Error) -> String {
    let kind = match error.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "not the expected content",
        serde_json::error::Category::Eof => "cut short",
    };
    format!("{kind} at line {}, column {}", error.line(), error.column())
}

fn bytes_error(what: &str, problem: impl std::fmt::Display) -> RunError {
    RunError::Engine(format!("{what}: {problem}"))
}

impl Census {
    /// Adds the rows of another census of the same job.
    ///
    /// # Errors
    /// The other census is of another job or has another shape.
    pub fn merge(&mut self, other: Census) -> Result<(), RunError> {
        if other.job_blake3 != self.job_blake3 || other.releases.len() != self.releases.len() {
            return Err(bytes_error("cannot merge censuses", "they are of different jobs"));
        }
        if self.decided || other.decided {
            return Err(bytes_error("cannot merge censuses", "one was already decided (its table is used up)"));
        }
        self.rows_read += other.rows_read;
        self.excluded += other.excluded;
        match (&mut self.table, other.table) {
            (Some(mine), Some(theirs)) => {
                if mine.quasi.len() != theirs.quasi.len() || mine.sensitive.len() != theirs.sensitive.len() {
                    return Err(bytes_error("cannot merge censuses", "their tables have other columns"));
                }
                // Drivers merge censuses holding no lock: the appended list may be sorted in parallel.
                mine.append(theirs);
            }
            (None, None) => {}
            _ => return Err(bytes_error("cannot merge censuses", "only one has a frequency table")),
        }
        for (mine, theirs) in self.releases.iter_mut().zip(other.releases) {
            mine.merge(theirs);
        }
        Ok(())
    }

    /// Rows the census counts after the consent filter.
    pub fn rows_kept(&self) -> u64 {
        self.rows_read - self.excluded.total()
    }

    /// The census as bytes (versioned JSON; holds input values, see the module documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A census from [`Census::to_bytes`]; every id is checked.
    ///
    /// # Errors
    /// Not a census of this format version, or inconsistent.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RunError> {
        let census: Census = serde_json::from_slice(bytes).map_err(|e| bytes_error("not a census", where_in(&e)))?;
        check_form(&census.format, "anonymize.census", census.version)?;
        Ok(census)
    }
}

impl Decisions {
    /// The decisions as bytes (versioned JSON; holds input values, see the module documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The recoding of the quasi-identifiers (`None` when the job has none).
    pub fn recoding(&self) -> Option<&Recoding> {
        self.recoding.as_ref()
    }

    /// Decisions from [`Decisions::to_bytes`], as they are, for inspection; to apply them, read
    /// them with [`Engine::decisions_from_bytes`], which checks them against the job.
    ///
    /// # Errors
    /// Not decisions of this format version.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RunError> {
        let decisions: Decisions =
            serde_json::from_slice(bytes).map_err(|e| bytes_error("not decisions", where_in(&e)))?;
        check_form(&decisions.format, "anonymize.decisions", decisions.version)?;
        Ok(decisions)
    }
}

fn check_form(format: &str, expected: &str, version: u32) -> Result<(), RunError> {
    if format != expected || version != FORMAT_VERSION {
        return Err(bytes_error(
            &format!("not {expected} version {FORMAT_VERSION}"),
            // The format's text comes from the bytes, which may hold anything: not echoed.
            format_args!("found {} version {version}", if format == expected { "it in" } else { "another format," }),
        ));
    }
    Ok(())
}

impl UniqueCheck {
    /// Adds another part's check (same job).
    ///
    /// # Errors
    /// [`RunError::NotUniqueAcrossParts`] when two parts share a token, or the checks are of other
    /// columns.
    pub fn merge(&mut self, other: UniqueCheck) -> Result<(), RunError> {
        let same = self.columns.len() == other.columns.len()
            && self.columns.iter().zip(&other.columns).all(|(a, b)| a.0 == b.0 && a.1 == b.1);
        if !same {
            return Err(bytes_error("cannot merge unique checks", "they are of other columns"));
        }
        for ((column, _, mine), (_, _, theirs)) in self.columns.iter_mut().zip(other.columns) {
            if let Err(conflict) = mine.merge(theirs) {
                return Err(RunError::NotUniqueAcrossParts {
                    column: column.clone(),
                    repeated: matches!(conflict, Conflict::RepeatedValue { .. }),
                });
            }
        }
        Ok(())
    }

    /// The check as bytes (JSON of fingerprints: no value, no token).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// A check from [`UniqueCheck::to_bytes`].
    ///
    /// # Errors
    /// Not such bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, RunError> {
        serde_json::from_slice(bytes).map_err(|e| bytes_error("not a unique check", where_in(&e)))
    }

    /// Adds one applied batch's tokens.
    ///
    /// # Errors
    /// [`RunError::NotUnique`] at the first repeated input value or token collision.
    pub fn add(&mut self, applied: &Applied) -> Result<(), RunError> {
        for ((column, length, seen), prints) in self.columns.iter_mut().zip(&applied.fingerprints) {
            if let Err(conflict) = seen.add(prints) {
                let (row, repeated) = match conflict {
                    Conflict::RepeatedValue { row } => (row, true),
                    Conflict::Collision { row } => (row, false),
                };
                return Err(RunError::NotUnique {
                    column: column.clone(),
                    row: applied.row_numbers.get(row).copied().unwrap_or_default(),
                    repeated,
                    length: *length,
                });
            }
        }
        Ok(())
    }
}

impl Engine {
    /// Compiles `job` against `schema` (the input's), loads its key and consent lists. With a
    /// seed every random draw is reproducible (and not differentially private); without one,
    /// each engine draws its own noise key, so engines of one run on several machines add
    /// independent noise (private, but not reproducible).
    ///
    /// # Errors
    /// [`RunError`] when the job does not fit the schema, the key or a list cannot be loaded.
    pub fn new(job: &Job, schema: &Schema, seed: Option<u64>) -> Result<Self, RunError> {
        let key = plan::load_key(job)?;
        let noise_master = crate::runner::privacy_budget::noise_master(seed, &job.file_blake3)?;
        let plan = plan::compile(job, schema, key.as_ref(), noise_master)?;
        let consent = ConsentFilter::load(job.consent.as_ref(), schema)?;
        Ok(Self::from_parts(job, plan, consent, noise_master, key.as_ref()))
    }

    /// An engine from a plan already compiled (the local runner's path).
    pub(crate) fn from_parts(
        job: &Job,
        plan: Plan,
        consent: ConsentFilter,
        noise_master: [u8; 32],
        key: Option<&crate::keys::Key>,
    ) -> Self {
        let anonymity = Setup::of(job, &plan);
        Self {
            job: job.clone(),
            plan,
            consent,
            anonymity,
            noise_master: zeroize::Zeroizing::new(noise_master),
            key_id: key.map(crate::keys::Key::id),
            demo_key: key.is_some_and(crate::keys::Key::is_demo),
        }
    }

    /// The compiled plan: one step per input column.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The schema of [`Engine::apply`]'s batches.
    pub fn output_schema(&self) -> SchemaRef {
        self.plan.output_schema.clone()
    }

    /// The key's public id, when the job uses a key.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// Whether the key is the public demo key.
    pub fn demo_key(&self) -> bool {
        self.demo_key
    }

    /// The consent filter (its lists' files).
    pub fn consent(&self) -> &ConsentFilter {
        &self.consent
    }

    /// Whether decisions need a census: the job has quasi-identifiers or aggregate releases.
    /// Otherwise [`Engine::decide`] on an empty census is enough.
    pub fn needs_census(&self) -> bool {
        self.anonymity.is_some() || !self.job.aggregates.is_empty()
    }

    /// A census of no rows.
    pub fn empty_census(&self) -> Census {
        Census {
            format: "anonymize.census".into(),
            version: FORMAT_VERSION,
            job_blake3: self.job.file_blake3.clone(),
            rows_read: 0,
            excluded: Excluded::default(),
            table: self.anonymity.as_ref().map(Setup::empty_table),
            releases: self.job.aggregates.iter().map(|_| Partials::default()).collect(),
            decided: false,
        }
    }

    /// The input columns [`Engine::census_of`] reads, in input order: a driver may give it
    /// batches whose other columns are placeholders (all null, say) and decode only these.
    pub fn census_columns(&self) -> Vec<usize> {
        let index = |name: &str| self.plan.steps.iter().position(|s| s.name == name);
        let releases = self.job.aggregates.iter().flat_map(release_columns).filter_map(index);
        let mut columns: Vec<usize> =
            self.consent.columns().chain(self.anonymity.iter().flat_map(|s| s.columns())).chain(releases).collect();
        columns.sort_unstable();
        columns.dedup();
        columns
    }

    /// The census of one batch of the input (any batch, any order).
    ///
    /// # Errors
    /// A column the job reads has no text form, or a consent list cannot be applied.
    pub fn census_of(&self, batch: &RecordBatch) -> Result<Census, RunError> {
        let filtered = self.consent.apply(batch)?;
        let kept = &filtered.batch;
        let mut census = self.empty_census();
        census.rows_read = batch.num_rows() as u64;
        census.excluded = filtered.excluded;
        if let Some(setup) = &self.anonymity {
            census.table = Some(setup.table_of(kept)?);
        }
        for (spec, partials) in self.job.aggregates.iter().zip(&mut census.releases) {
            let mut accumulator = Accumulator::resume(spec, std::mem::take(partials));
            observe_release(spec, kept, &mut accumulator)?;
            *partials = accumulator.into_partials();
        }
        Ok(census)
    }

    /// The decisions from the census of the whole input, on the current rayon pool (the search
    /// is parallel). Puts the census's table in canonical order first (ids by value, combinations
    /// in key order), so the decisions do not depend on the order in which censuses were merged.
    /// The table is sorted where it lies rather than copied, so it is used up: merge and
    /// serialize a census before deciding; afterwards it serves [`Engine::release`] only.
    ///
    /// # Errors
    /// [`RunError`] when a value is not covered by its hierarchy, or the privacy target cannot
    /// be met; [`RunError::Engine`] for a census already decided.
    pub fn decide(&self, census: &mut Census) -> Result<Decisions, RunError> {
        if census.job_blake3 != self.job.file_blake3 {
            return Err(bytes_error("cannot decide", "the census is of another job"));
        }
        if census.decided {
            return Err(bytes_error("cannot decide", "the census was already decided (its table is used up)"));
        }
        // A census read from bytes has the shape its bytes say: check it against the job.
        let empty = self.empty_census();
        let shape = |c: &Census| (c.releases.len(), c.table.as_ref().map(|t| (t.quasi.len(), t.sensitive.len())));
        if shape(census) != shape(&empty) {
            return Err(bytes_error("cannot decide", "the census does not fit the job"));
        }
        let (recoding, privacy, file) = match (&self.anonymity, census.table.take()) {
            (Some(setup), Some(table)) => {
                census.decided = true;
                let started = std::time::Instant::now();
                let table = table.canonical();
                let decided = anonymity::decide(&self.job, setup, &table, started);
                let (recoding, privacy, file) = decided?;
                (Some(recoding), Some(privacy), Some(file))
            }
            (None, None) => (None, None, None),
            _ => return Err(bytes_error("cannot decide", "the census does not fit the job")),
        };
        Ok(Decisions {
            format: "anonymize.decisions".into(),
            version: FORMAT_VERSION,
            job_blake3: self.job.file_blake3.clone(),
            recoding,
            privacy,
            file,
        })
    }

    /// Whether [`Engine::apply`] reads row identities (a column takes per-row noise); when it
    /// does not, an empty list will do.
    pub fn needs_row_ids(&self) -> bool {
        self.plan.steps.iter().any(|s| matches!(s.output, Some((Kernel::Noise { .. }, _))))
    }

    /// Decisions shipped as bytes ([`Decisions::to_bytes`]), checked against this engine's job:
    /// the same job file, the same quasi-identifiers, hierarchies and partitions that hold
    /// together (so that applying them cannot fail on a lookup).
    ///
    /// # Errors
    /// [`RunError::Engine`] naming what does not fit.
    pub fn decisions_from_bytes(&self, bytes: &[u8]) -> Result<Decisions, RunError> {
        let decisions = Decisions::from_bytes(bytes)?;
        if decisions.job_blake3 != self.job.file_blake3 {
            return Err(bytes_error("cannot use the decisions", "they are of another job"));
        }
        match (&self.anonymity, &decisions.recoding) {
            (Some(setup), Some(recoding)) => {
                recoding.check(&setup.quasi_identifiers()).map_err(|e| bytes_error("cannot use the decisions", e))?;
            }
            (None, None) => {}
            _ => return Err(bytes_error("cannot use the decisions", "they do not fit the job")),
        }
        Ok(decisions)
    }

    /// A check of `unique: true` columns across batches.
    pub fn unique_check(&self) -> UniqueCheck {
        UniqueCheck {
            columns: self
                .plan
                .steps
                .iter()
                .filter(|s| s.output.is_some())
                .filter_map(|s| s.unique.map(|length| (s.name.clone(), length, UniqueTokens::default())))
                .collect(),
        }
    }

    /// The output batch of one input batch. `rows` are the identities of the batch's rows (the
    /// input file's place in name order, each row's 0-based index in that file): per-row noise is
    /// derived from them, so a row gets the same noise in whatever batch or partition it comes.
    /// Row numbers in errors are `rows.rows[i] + 1`. `decisions` come from [`Engine::decide`] or
    /// [`Engine::decisions_from_bytes`].
    ///
    /// # Errors
    /// [`RunError`] when a value cannot be transformed (naming the row, never the value).
    pub fn apply(&self, decisions: &Decisions, batch: &RecordBatch, rows: Rows<'_>) -> Result<Applied, RunError> {
        if rows.rows.len() != batch.num_rows() && (self.needs_row_ids() || !rows.rows.is_empty()) {
            return Err(bytes_error("cannot apply", "the batch and its row identities differ in length"));
        }
        self.apply_numbered(decisions, batch, rows, None)
    }

    /// As [`Engine::apply`]; `first_row` (0-based, counted across files) numbers rows in errors
    /// when given.
    pub(crate) fn apply_numbered(
        &self,
        decisions: &Decisions,
        batch: &RecordBatch,
        rows: Rows<'_>,
        first_row: Option<u64>,
    ) -> Result<Applied, RunError> {
        if decisions.job_blake3 != self.job.file_blake3 || decisions.recoding.is_some() != self.anonymity.is_some() {
            return Err(bytes_error("cannot apply", "the decisions are of another job"));
        }
        let plan = &self.plan;
        let filtered = self.consent.apply(batch)?;
        let kept = &filtered.batch;
        let number = |index: usize| match first_row {
            Some(first) => first + index as u64 + 1,
            None => rows.rows.get(index).map_or(index as u64 + 1, |row| row + 1),
        };
        let input_row = |index: u64| number(filtered.input_index(index as usize));
        // Row identities feed per-row randomness only: no noise column, no work.
        // The kept rows' identities: the given ones when no row was filtered out (no copy).
        let identities: std::borrow::Cow<'_, [u64]> = match &filtered.kept {
            _ if !self.needs_row_ids() => std::borrow::Cow::Borrowed(&[]),
            None => std::borrow::Cow::Borrowed(rows.rows),
            Some(mask) => mask.values().set_indices().map(|i| rows.rows[i]).collect(),
        };
        let kept_rows = Rows { file: rows.file, rows: &identities };
        let mut columns = Vec::with_capacity(plan.output_schema.fields().len());
        let mut fingerprints = Vec::new();
        let recoded = decisions.recoding.as_ref().map(|r| r.apply(kept)).transpose()?;
        let mut recoded_columns = recoded.as_ref().map(|r| r.columns.iter());
        for step in &plan.steps {
            let Some((kernel, _)) = &step.output else { continue };
            let input = kept.column(step.input_index);
            let recoded_column = match kernel {
                Kernel::Recoded => recoded_columns.as_mut().and_then(Iterator::next),
                _ => None,
            };
            let out = match recoded_column.map(Vec::as_slice) {
                Some([label]) => label.clone(),
                // `format: bounds`: low and high, in the input column's own type.
                Some(bounds) => {
                    for array in bounds {
                        columns.push(arrow::compute::cast(array, &step.input_type)?);
                    }
                    continue;
                }
                None => kernel.apply(&step.name, input, kept, &kept_rows).map_err(|e| e.map_rows(input_row))?,
            };
            if step.unique.is_some() {
                let text = |array: &ArrayRef| {
                    to_text(array)
                        .ok_or_else(|| TransformError::NoText { column: step.name.clone(), action: "pseudonymize" })
                };
                fingerprints.push(unique::fingerprints(&text(input)?, &text(&out)?));
            }
            columns.push(out);
        }
        let row_numbers = match (&filtered.kept, fingerprints.is_empty()) {
            (_, true) => Vec::new(),
            (None, false) => (0..kept.num_rows()).map(number).collect(),
            (Some(mask), false) => mask.values().set_indices().map(number).collect(),
        };
        if plan.suppressed_flag {
            let flags = recoded
                .as_ref()
                .and_then(|r| r.flags.clone())
                .unwrap_or_else(|| arrow::array::BooleanArray::from(vec![false; kept.num_rows()]));
            columns.push(std::sync::Arc::new(flags));
        }
        let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(kept.num_rows()));
        let mut out = RecordBatch::try_new_with_options(plan.output_schema.clone(), columns, &options)?;
        // Suppressed rows with `suppressed_rows: remove` leave the output here.
        if let Some(keep) = recoded.as_ref().and_then(|r| r.keep.as_ref()) {
            out = arrow::compute::filter_record_batch(&out, keep)?;
        }
        Ok(Applied { batch: out, excluded: filtered.excluded, fingerprints, row_numbers })
    }

    /// The output columns written as values (the released attributes: kept, masked, shifted,
    /// generalized, redacted), as (output index, name shown), and the others with what they
    /// hold instead. See [`crate::privacy::exposure`].
    pub fn released_columns(&self) -> (Vec<(usize, String)>, Vec<NotCounted>) {
        let (mut released, mut hidden) = (Vec::new(), Vec::new());
        let outputs = self.plan.steps.iter().filter_map(|s| s.output.as_ref().map(|(k, _)| (s, k)));
        let mut index = 0;
        for (step, kernel) in outputs {
            let name = crate::runner::shown_name(&self.job, &step.name, step.input_index);
            let bounds = matches!(
                self.job.column(&step.name).map(|c| &c.action),
                Some(crate::job::Action::Generalize(g)) if g.bounds
            );
            match kernel.hides_as() {
                // Both bounds are released values.
                None if bounds => {
                    released.push((index, format!("{name}_low")));
                    released.push((index + 1, format!("{name}_high")));
                    index += 1;
                }
                None => released.push((index, name)),
                Some(why) => hidden.push(NotCounted { name, why: why.to_string() }),
            }
            index += 1;
        }
        (released, hidden)
    }

    /// No released rows yet: merge [`Engine::exposure_of`] every applied batch into it.
    pub fn empty_exposure(&self) -> Exposure {
        Exposure::empty(self.released_columns().0.len())
    }

    /// The released rows of one applied batch; merge them over the run and [`Engine::measure`]
    /// the whole. `detail: false` skips the per-column table (a merged exposure that no longer
    /// has it, see [`Exposure::has_detail`], will not take it).
    ///
    /// # Errors
    /// A released column without a text or row form (an internal error: every output type has
    /// both).
    pub fn exposure_of(&self, applied: &Applied, detail: bool) -> Result<Exposure, RunError> {
        let (released, _) = self.released_columns();
        let columns: Vec<ArrayRef> = released.iter().map(|(index, _)| applied.batch.column(*index).clone()).collect();
        let texts = if detail {
            Some(
                released
                    .iter()
                    .map(|(index, name)| {
                        to_text(applied.batch.column(*index))
                            .ok_or_else(|| RunError::Internal(format!("output column `{name}` has no text form")))
                    })
                    .collect::<Result<Vec<StringArray>, RunError>>()?,
            )
        } else {
            None
        };
        Ok(Exposure::of_batch(&columns, applied.batch.num_rows(), texts.as_deref())?)
    }

    /// The re-identification risk over the released attributes of the rows in `exposure`.
    pub fn measure(&self, exposure: &Exposure) -> ReleasedRisk {
        let (released, hidden) = self.released_columns();
        let names: Vec<String> = released.into_iter().map(|(_, name)| name).collect();
        exposure.measure(&names, hidden)
    }

    /// Every aggregate release of the job, noised once from the census of the whole input.
    pub fn release(&self, census: &Census) -> Vec<Release> {
        let master = &*self.noise_master;
        self.job
            .aggregates
            .iter()
            .zip(&census.releases)
            .map(|(spec, partials)| {
                let mut rng = batch_rng(master, &format!("aggregate:{}", spec.name), 0);
                let (rows, summary) = Accumulator::resume(spec, partials.clone()).release(&mut rng, master);
                Release { rows, summary }
            })
            .collect()
    }
}

/// Every column [`observe_release`] reads for `spec`.
fn release_columns(spec: &crate::job::Aggregate) -> impl Iterator<Item = &str> {
    let measured = spec.measures.iter().filter_map(|m| match m {
        Measure::Count => None,
        Measure::Sum { column, .. } | Measure::Mean { column, .. } | Measure::Histogram { column, .. } => {
            Some(column.as_str())
        }
    });
    std::iter::once(spec.privacy_unit.as_str()).chain(spec.group_by.iter().map(String::as_str)).chain(measured)
}

/// Feeds one (consent-filtered) batch to a release's accumulator.
fn observe_release(
    spec: &crate::job::Aggregate,
    kept: &RecordBatch,
    accumulator: &mut Accumulator<'_>,
) -> Result<(), RunError> {
    let schema = kept.schema();
    let column = |name: &str| -> Result<&ArrayRef, RunError> {
        let index = schema.index_of(name).map_err(|_| RunError::Internal(format!("column `{name}` vanished")))?;
        Ok(kept.column(index))
    };
    let text = |name: &str| -> Result<StringArray, RunError> {
        to_text(column(name)?).ok_or_else(|| RunError::Internal(format!("`{name}` has no text")))
    };
    let unit = text(&spec.privacy_unit)?;
    let groups = spec.group_by.iter().map(|g| text(g)).collect::<Result<Vec<_>, _>>()?;
    let values = spec
        .measures
        .iter()
        .map(|m| match m {
            Measure::Count | Measure::Histogram { bins: None, .. } => Ok(None),
            Measure::Sum { column: name, .. }
            | Measure::Mean { column: name, .. }
            | Measure::Histogram { column: name, bins: Some(_) } => {
                Ok(Some(arrow::compute::cast(column(name)?, &DataType::Float64)?))
            }
        })
        .collect::<Result<Vec<Option<ArrayRef>>, RunError>>()?;
    let categories = spec
        .measures
        .iter()
        .map(|m| match m {
            Measure::Histogram { column: name, bins: None } => text(name).map(Some),
            _ => Ok(None),
        })
        .collect::<Result<Vec<Option<StringArray>>, RunError>>()?;
    for row in 0..kept.num_rows() {
        let value = |a: &StringArray| (!a.is_null(row)).then(|| a.value(row).to_string());
        accumulator.add(Row {
            unit: value(&unit),
            group: groups.iter().map(value).collect(),
            values: values
                .iter()
                .map(|v| {
                    v.as_ref().and_then(|a| {
                        let f = a.as_any().downcast_ref::<Float64Array>()?;
                        (!f.is_null(row)).then(|| f.value(row)).filter(|x| x.is_finite())
                    })
                })
                .collect(),
            categories: categories.iter().map(|c| c.as_ref().and_then(value)).collect(),
        });
    }
    Ok(())
}
