//! Wire types: the job file's sections as serde sees them.
//!
//! Every struct refuses unknown keys. Sections whose shape depends on a tag (`action`, a
//! hierarchy's `type`, a measure) are split by hand in `super::parse`, so each payload keeps
//! `deny_unknown_fields` (serde-rs/serde#2123) and its messages stay precise.

pub use crate::dp::mechanism::Mechanism;
pub use crate::privacy::Algorithm;
pub use crate::privacy::hierarchy::DateLevel;
pub use crate::privacy::recode::SuppressedRows;
pub use crate::privacy::search::DiversityVariant;
pub use crate::privacy::search::Metric;
pub use crate::transform::pseudonymize::PseudonymMethod;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `input:`: where the data comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// A file, a folder of files, or a glob, relative to the job file.
    pub path: String,
    /// `csv` or `parquet`; default from the extension.
    pub format: Option<DataFormat>,
    /// CSV only: the field delimiter, one character (default `,`).
    pub delimiter: Option<String>,
    /// CSV only: whether the first line names the columns (default true).
    pub has_header: Option<bool>,
    /// CSV only: cell texts read as null (default: the empty cell).
    pub null_values: Option<Vec<String>>,
    /// CSV only: column types that override inference.
    pub types: Option<BTreeMap<String, ColumnType>>,
}

/// A data file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    Csv,
    Parquet,
}

/// A column type a CSV column can be read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    String,
    Int64,
    Float64,
    Bool,
    Date,
    Timestamp,
}

/// `consent:`: which rows may be used at all.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentConfig {
    /// Boolean column; false or null excludes the row. Default `consent_<purpose>`.
    pub column: Option<String>,
    /// Opt-out and deletion-request lists.
    #[serde(default)]
    pub exclude: Vec<ExcludeConfig>,
}

/// One exclusion list: every row whose `key` value is listed is excluded.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExcludeConfig {
    /// CSV or Parquet file, relative to the job file.
    pub path: String,
    /// Column present in both the list and the input.
    pub key: String,
    /// `csv` or `parquet`; default from the extension.
    pub format: Option<DataFormat>,
}

/// `unlisted_columns:`: what happens to input columns the job does not name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnlistedColumns {
    /// Fail closed: every input column must be listed.
    #[default]
    Error,
    /// Leave unlisted columns out of the output.
    Drop,
}

/// An encryption method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EncryptMethod {
    /// NIST SP 800-38G FF1 over AES-256.
    #[default]
    Ff1,
}

/// The unit of noise on dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseUnit {
    Days,
}

/// `privacy.k_anonymity`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KAnonymityConfig {
    pub k: u64,
    #[serde(default)]
    pub suppression_limit: f64,
    #[serde(default)]
    pub suppressed_rows: SuppressedRows,
    #[serde(default)]
    pub metric: Metric,
    #[serde(default)]
    pub algorithm: Algorithm,
    /// An earlier run's decisions file: reuse its levels or split tree instead of searching.
    pub decisions: Option<String>,
    /// With `decisions`: what a value their hierarchies do not cover becomes.
    pub unknown_values: Option<UnknownValues>,
    /// With `metric: classification`: the kept column the output will be used to predict.
    pub target: Option<String>,
    /// With `metric: classification`: its weight against `loss`, in [0, 1] (default 0.5).
    pub classification_weight: Option<f64>,
}

/// What a value that frozen decisions do not cover becomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownValues {
    /// The run fails, naming the column and how many rows.
    #[default]
    Error,
    /// The value becomes `*` in that column.
    Top,
}

/// `privacy.l_diversity`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LDiversityConfig {
    pub l: u64,
    #[serde(default)]
    pub variant: DiversityVariant,
}

/// `privacy.t_closeness`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TClosenessConfig {
    pub t: f64,
}

/// `privacy.budget`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// The ledger file, relative to the job file.
    pub ledger: String,
    /// What the budget is tracked for.
    pub dataset: String,
    /// Total epsilon allowed over all runs.
    pub epsilon: f64,
    /// Total delta allowed over all runs (default 0).
    #[serde(default)]
    pub delta: f64,
}

/// `privacy.risk`: the guardrail on what the output leaves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskConfig {
    /// The largest share of output rows that may be unique over the released attributes.
    pub max_unique_rows: f64,
}

/// `privacy:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    pub k_anonymity: Option<KAnonymityConfig>,
    pub l_diversity: Option<LDiversityConfig>,
    pub t_closeness: Option<TClosenessConfig>,
    pub budget: Option<BudgetConfig>,
    pub risk: Option<RiskConfig>,
    pub fairness: Option<FairnessConfig>,
}

/// `privacy.fairness`: a bound on how much more a protected group may be suppressed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FairnessConfig {
    /// Protected columns (they need not be quasi-identifiers).
    pub protected: Vec<String>,
    /// A group's suppression share may be at most this many times the base share.
    pub max_suppression_ratio: f64,
}

/// `utility:`: a train-on-anonymized against train-on-original evaluation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UtilityConfig {
    /// The kept column the models predict.
    pub target: String,
    /// The share of rows held out for testing, in (0, 1) (default 0.3).
    pub holdout: Option<f64>,
    /// The split's seed (default 0; `--seed` does not change it).
    pub seed: Option<u64>,
    /// The most rows the evaluation reads (default 200,000), a seeded sample beyond.
    pub max_rows: Option<u64>,
}

/// `output:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    pub path: String,
    pub format: Option<DataFormat>,
    #[serde(default)]
    pub overwrite: bool,
    /// Where the decisions file goes (default: beside the output, `NAME.decisions.json`).
    pub decisions: Option<String>,
}

/// One aggregate release, without its measures (parsed by hand).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateOptions {
    pub name: String,
    pub path: String,
    pub privacy_unit: String,
    #[serde(default)]
    pub group_by: Vec<String>,
    #[serde(default = "one")]
    pub max_groups_per_unit: u64,
    pub epsilon: f64,
    pub delta: Option<f64>,
    pub public_groups: Option<Vec<String>>,
}

fn one() -> u64 {
    1
}

/// `{ sum: col, bounds: [..] }` and friends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundedMeasureConfig {
    pub bounds: Vec<f64>,
}

/// `{ histogram: col }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistogramMeasureConfig {
    /// Bin edges for numeric columns; categories are used as they are otherwise.
    pub bins: Option<Vec<f64>>,
}
