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

/// `action: keep`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepConfig {
    /// Protected by l-diversity / t-closeness when true.
    #[serde(default)]
    pub sensitive: bool,
}

/// `action: drop`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropConfig {}

/// `action: redact`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactConfig {
    /// Constant written instead of null.
    pub with: Option<String>,
}

/// `action: mask`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskConfig {
    /// Characters kept at the start.
    #[serde(default)]
    pub keep_first: u32,
    /// Characters kept at the end.
    #[serde(default)]
    pub keep_last: u32,
    /// The replacement character (default `*`).
    pub char: Option<String>,
}

/// `action: pseudonymize`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PseudonymizeConfig {
    #[serde(default)]
    pub method: PseudonymMethod,
    /// Token space; default the column name.
    pub domain: Option<String>,
    /// Hex characters kept, 16 to 64 (default 32).
    pub length: Option<u32>,
    /// E-mail: append `@` and the original domain to the token.
    #[serde(default)]
    pub keep_domain: bool,
    /// The input values are unique (a primary key): stop the run if two tokens collide.
    #[serde(default)]
    pub unique: bool,
}

/// An encryption method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EncryptMethod {
    /// NIST SP 800-38G FF1 over AES-256.
    #[default]
    Ff1,
}

/// `action: encrypt`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptConfig {
    #[serde(default)]
    pub method: EncryptMethod,
    /// Characters that are encrypted (default the ten digits); others stay in place.
    pub alphabet: Option<String>,
    /// Key and tweak domain; default the column name.
    pub domain: Option<String>,
}

/// `action: shift`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShiftConfig {
    /// The column that identifies the subject; all of a subject's dates move together.
    pub by: String,
    /// The largest shift in days, either way.
    pub max_days: u32,
}

/// `action: generalize` without its hierarchy (parsed by hand, tagged by `type`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneralizeOptions {
    /// Pins the level instead of letting the k-anonymity search choose it.
    pub level: Option<u32>,
}

/// `hierarchy: { type: interval }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntervalHierarchyConfig {
    /// Interval width per level, increasing, each a multiple of the one before.
    pub widths: Vec<f64>,
}

/// `hierarchy: { type: date }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateHierarchyConfig {
    /// Levels from finest to coarsest.
    pub levels: Vec<DateLevel>,
}

/// `hierarchy: { type: prefix }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixHierarchyConfig {
    /// Characters kept per level, decreasing.
    pub keep: Vec<u32>,
}

/// `hierarchy: { type: map }`: each value with its generalization per level.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapHierarchyConfig {
    pub values: BTreeMap<String, Vec<String>>,
}

/// `hierarchy: { type: file }`: an ARX hierarchy CSV.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileHierarchyConfig {
    pub path: String,
    /// Field delimiter (default `;`).
    pub delimiter: Option<String>,
}

/// The unit of noise on dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseUnit {
    Days,
}

/// `action: noise`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseConfig {
    /// `laplace` (default) or `gaussian`.
    #[serde(default)]
    pub mechanism: Mechanism,
    pub epsilon: f64,
    /// Gaussian only.
    pub delta: Option<f64>,
    /// `[low, high]`; values are clamped to them before noise. Dates: `YYYY-MM-DD` or days
    /// since 1970-01-01.
    pub bounds: Vec<BoundValue>,
    /// Dates: the unit noise is counted in.
    pub unit: Option<NoiseUnit>,
    /// Clamp noisy values to the bounds again (biases means).
    #[serde(default)]
    pub clamp_output: bool,
}

/// One bound of `noise`: a number, or a date for date columns.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum BoundValue {
    Number(f64),
    Date(String),
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

/// `privacy:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    pub k_anonymity: Option<KAnonymityConfig>,
    pub l_diversity: Option<LDiversityConfig>,
    pub t_closeness: Option<TClosenessConfig>,
    pub budget: Option<BudgetConfig>,
}

/// `output:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    pub path: String,
    pub format: Option<DataFormat>,
    #[serde(default)]
    pub overwrite: bool,
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
