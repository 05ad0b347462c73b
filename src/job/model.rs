//! The validated job: every value checked and typed, every path resolved against the job file's
//! folder. Built by `super::parse`; nothing here refers to the input's schema yet.

use super::config::{
    Algorithm, ColumnType, DataFormat, DateLevel, DiversityVariant, Metric, SuppressedRows, UnlistedColumns,
};
pub use crate::dp::Bounds;
pub use crate::dp::Delta;
pub use crate::dp::Epsilon;
pub use crate::dp::mechanism::Noise;
pub use crate::transform::mask::Mask;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The k of k-anonymity: at least 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct K(u64);

impl K {
    /// `None` when `value < 2`.
    pub fn new(value: u64) -> Option<Self> {
        (value >= 2).then_some(Self(value))
    }

    /// k = 1: every class stays. Only for recoding without suppression (the utility
    /// evaluation's test rows); a job file cannot ask for it.
    pub(crate) fn recode_only() -> Self {
        Self(1)
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

/// Where the pseudonymization key comes from. Never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Env(String),
    File(PathBuf),
}
pub use crate::actions::Action;
pub use crate::actions::encrypt::Encrypt;
pub use crate::actions::generalize::Generalize;
pub use crate::actions::pseudonymize::Pseudonymize;
pub use crate::actions::shift::Shift;

/// The validated job.
#[derive(Debug, Clone)]
pub struct Job {
    /// The job file as given on the command line.
    pub file: PathBuf,
    /// Lowercase hex BLAKE3 of the job file's bytes.
    pub file_blake3: String,
    pub name: String,
    pub namespace: String,
    pub owner: Option<String>,
    pub purpose: Option<String>,
    pub description: Option<String>,
    pub input: Input,
    pub consent: Option<Consent>,
    pub pseudonym_key: Option<KeySource>,
    pub unlisted_columns: UnlistedColumns,
    /// In the order the job lists them.
    pub columns: Vec<ColumnSpec>,
    pub privacy: Privacy,
    pub aggregates: Vec<Aggregate>,
    pub output: Output,
    pub lineage: Option<PathBuf>,
    pub report: Option<PathBuf>,
    /// `utility:`, when set.
    pub utility: Option<Utility>,
    /// The parsed document, to point later problems at their line and column.
    pub document: super::tree::Node,
}

impl Job {
    /// The action for a column, if the job names it.
    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Where the data comes from and how to read it.
#[derive(Debug, Clone)]
pub struct Input {
    /// The path as written, resolved against the job file's folder.
    pub path: PathBuf,
    /// `None`: from the files' extensions.
    pub format: Option<DataFormat>,
    pub csv: CsvOptions,
}

/// How CSV files are read.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    pub delimiter: u8,
    pub has_header: bool,
    pub null_values: Vec<String>,
    pub types: BTreeMap<String, ColumnType>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self { delimiter: b',', has_header: true, null_values: vec![String::new()], types: BTreeMap::new() }
    }
}

/// Which rows may be used.
#[derive(Debug, Clone)]
pub struct Consent {
    pub column: Option<String>,
    pub exclude: Vec<Exclusion>,
}

/// An opt-out or deletion-request list.
#[derive(Debug, Clone)]
pub struct Exclusion {
    pub path: PathBuf,
    pub key: String,
    pub format: DataFormat,
}

/// One column and what happens to it.
#[derive(Debug, Clone)]
pub struct ColumnSpec {
    pub name: String,
    pub action: Action,
    /// `protected: true`: per-group figures of what de-identification did to its values.
    pub protected: bool,
}

/// A generalization hierarchy; every one ends with the fully suppressed level `*`.
#[derive(Debug, Clone)]
pub enum Hierarchy {
    Interval { widths: Vec<f64> },
    Date { levels: Vec<DateLevel> },
    Prefix { keep: Vec<u32> },
    Map { values: BTreeMap<String, Vec<String>> },
    File { path: PathBuf, delimiter: u8 },
}

impl Hierarchy {
    /// Levels above the original value, the final `*` included (a file's count is known only
    /// once it is read, so it is `None` here).
    pub fn levels(&self) -> Option<u32> {
        let n = match self {
            Hierarchy::Interval { widths } => widths.len(),
            Hierarchy::Date { levels } => levels.len(),
            Hierarchy::Prefix { keep } => keep.len(),
            Hierarchy::Map { values } => values.values().next().map_or(0, Vec::len),
            Hierarchy::File { .. } => return None,
        };
        Some(n as u32 + 1)
    }
}

/// `privacy:`.
#[derive(Debug, Clone, Default)]
pub struct Privacy {
    pub k_anonymity: Option<KAnonymity>,
    pub l_diversity: Option<LDiversity>,
    pub t_closeness: Option<f64>,
    pub budget: Option<Budget>,
    /// `risk.max_unique_rows`: a run whose output leaves a larger share of rows unique over its
    /// released attributes fails, writing nothing.
    pub max_unique_rows: Option<f64>,
    /// `fairness`: (protected columns, max suppression ratio).
    pub fairness: Option<(Vec<String>, f64)>,
}

/// `privacy.k_anonymity`.
#[derive(Debug, Clone)]
pub struct KAnonymity {
    pub k: K,
    pub suppression_limit: f64,
    pub suppressed_rows: SuppressedRows,
    pub metric: Metric,
    pub algorithm: Algorithm,
    /// `decisions`: an earlier run's decisions file, reused instead of searching.
    pub decisions: Option<PathBuf>,
    pub unknown_values: crate::job::config::UnknownValues,
    /// Whether suppression beyond the limit fails the run (always, for a job file; `anonymize
    /// apply` without `--require-k` reports it instead).
    pub enforce_limit: bool,
    /// `target` (with `metric: classification`): the column the output will be used to predict.
    pub target: Option<String>,
    /// `classification_weight`: the classification metric's weight against `loss`.
    pub classification_weight: f64,
}

/// `utility:`: how the run measures what the anonymized data keeps for machine learning.
#[derive(Debug, Clone, PartialEq)]
pub struct Utility {
    pub target: String,
    pub holdout: f64,
    pub seed: u64,
    pub max_rows: u64,
}

/// `privacy.l_diversity`.
#[derive(Debug, Clone)]
pub struct LDiversity {
    pub l: u64,
    pub variant: DiversityVariant,
}

/// `privacy.budget`.
#[derive(Debug, Clone)]
pub struct Budget {
    pub ledger: PathBuf,
    pub dataset: String,
    pub epsilon: Epsilon,
    pub delta: Delta,
}

/// One private aggregate release.
#[derive(Debug, Clone)]
pub struct Aggregate {
    pub name: String,
    pub path: PathBuf,
    pub format: DataFormat,
    pub privacy_unit: String,
    pub group_by: Vec<String>,
    pub max_groups_per_unit: u64,
    pub measures: Vec<Measure>,
    pub epsilon: Epsilon,
    pub delta: Option<Delta>,
    pub public_groups: Option<Vec<String>>,
}

/// One measure of an aggregate.
#[derive(Debug, Clone)]
pub enum Measure {
    Count,
    Sum { column: String, bounds: Bounds },
    Mean { column: String, bounds: Bounds },
    Histogram { column: String, bins: Option<Vec<f64>> },
}

/// Where the de-identified table goes.
#[derive(Debug, Clone)]
pub struct Output {
    pub path: PathBuf,
    pub format: DataFormat,
    pub overwrite: bool,
    /// Where the decisions file goes, when the job has quasi-identifiers.
    pub decisions: Option<PathBuf>,
}
