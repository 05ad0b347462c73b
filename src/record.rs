//! The record of a run: what it read, did, guaranteed and wrote, in figures and names only
//! (never a cell value or a key). The runner fills it in; the summary on stderr, `--json`,
//! the lineage events and the report all read it. It sits below both the runner and lineage.

pub mod human;

use crate::consent::Excluded;
use crate::dp::mechanism::Calibrated;
use crate::job::{Algorithm, DataFormat, Metric, SuppressedRows};
use crate::plan::DropReason;
use crate::privacy::risk::Risk;
use crate::privacy::search::Metrics;
use serde::{Deserialize, Serialize};

/// What a run did, for the human summary and `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub job: String,
    pub job_file: String,
    pub job_blake3: String,
    pub run_id: String,
    pub dry_run: bool,
    pub input_files: Vec<String>,
    pub input_bytes: u64,
    /// The files of the consent exclusion lists (opt-outs, deletion requests).
    pub consent_files: Vec<String>,
    pub rows_read: u64,
    pub rows_excluded: Excluded,
    pub rows_written: u64,
    pub columns: Vec<ColumnSummary>,
    /// The input's columns and Arrow types, in order.
    pub input_schema: Vec<FieldSummary>,
    /// The output's columns and Arrow types, in order.
    pub output_schema: Vec<FieldSummary>,
    pub output: OutputSummary,
    pub key_id: Option<String>,
    pub demo_key: bool,
    /// k-anonymity and friends, when the job has quasi-identifiers.
    pub privacy: Option<PrivacySummary>,
    /// The transformations the k-anonymity search would consider (dry runs).
    pub lattice_size: Option<u64>,
    /// Differential privacy, when the job has noise columns.
    pub dp: Option<DpSummary>,
    pub seeded: bool,
    pub threads: usize,
    pub elapsed_seconds: f64,
    /// Where the privacy report went (set by the caller that writes it).
    pub report: Option<String>,
    /// The lineage file the run's events were appended to.
    pub lineage: Option<String>,
    /// Re-identification risk over the output's released attributes, measured on the written
    /// values (`None` for a dry run).
    pub released: Option<crate::privacy::exposure::ReleasedRisk>,
    /// Where the decisions file went (jobs with quasi-identifiers).
    pub decisions: Option<String>,
    /// The utility evaluation (`utility:` in the job).
    pub utility: Option<UtilitySummary>,
}

/// What the de-identified data keeps for machine learning: the same models trained on the
/// anonymized and on the original train part, scored on the same held-out rows (see
/// [`crate::runner::utility`]). Names, figures and the target's classes; never a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UtilitySummary {
    pub target: String,
    pub holdout: f64,
    pub seed: u64,
    /// Rows evaluated (with consent and a target value).
    pub rows: u64,
    /// When the input had more rows than `max_rows`: how many; the evaluation used a seeded
    /// sample of `rows`.
    pub sampled_from: Option<u64>,
    /// Rows left out because their target is null.
    pub unlabelled_rows: u64,
    pub train_rows: u64,
    pub test_rows: u64,
    /// The target's classes, in the order of every per-class figure.
    pub classes: Vec<String>,
    /// The models' input columns (quasi-identifiers and kept columns but the target).
    pub features: Vec<String>,
    /// Test accuracy of always predicting the train part's most frequent class.
    pub majority_baseline: f64,
    /// The train part's anonymization: rows suppressed, levels per quasi-identifier.
    pub train_suppressed_rows: u64,
    /// The smallest class of the anonymized train part, counted from its output rows (the
    /// quasi-identifiers' shown values; suppressed rows aside): at least k.
    pub train_smallest_class: u64,
    pub train_levels: Vec<(String, Option<u32>)>,
    pub models: Vec<ModelUtility>,
    /// Per feature: the total variation distance between its original train values and the
    /// output's, on the original values (see [`crate::utility::total_variation`]).
    pub distances: Vec<(String, f64)>,
    /// Per protected column and group: the test rows and each model's accuracy on them.
    pub groups: Vec<GroupUtility>,
    pub seconds: f64,
}

/// One model family's scores, trained on the original and on the anonymized train part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelUtility {
    pub family: crate::utility::Family,
    pub original: crate::utility::Scores,
    pub anonymized: crate::utility::Scores,
    /// (original − anonymized accuracy) × 100.
    pub accuracy_loss_points: f64,
}

/// A protected group's accuracy on the test rows, per model family (in the order of
/// [`UtilitySummary::models`]) as (trained on original, trained on anonymized).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupUtility {
    pub column: String,
    /// The value, or "other" for the values held by fewer than k test rows.
    pub group: String,
    pub rows: u64,
    pub accuracy: Vec<(f64, f64)>,
}

/// One input column in the summary.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnSummary {
    pub name: String,
    pub action: &'static str,
    pub detail: String,
    pub input_type: String,
    /// `None` when the column is not in the output.
    pub output_type: Option<String>,
    pub dropped: Option<DropReason>,
}

/// A column of a schema.
#[derive(Debug, Clone, Serialize)]
pub struct FieldSummary {
    pub name: String,
    pub data_type: String,
}

/// Where the output went.
#[derive(Debug, Clone, Serialize)]
pub struct OutputSummary {
    pub path: String,
    pub format: DataFormat,
    pub written: bool,
}

/// One quasi-identifier in the summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuasiIdentifierSummary {
    pub name: String,
    /// The chosen level (`None` for Mondrian, whose levels vary by class).
    pub level: Option<u32>,
    pub max_level: u32,
    pub pinned: bool,
    /// The column's information loss: 0 when its values are kept, 1 when all are `*`
    /// (suppressed rows count 1).
    pub loss: f64,
}

/// What the dataset-wide step guaranteed, for the summary, lineage and report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrivacySummary {
    pub algorithm: Algorithm,
    /// `None` when columns are only generalized to pinned levels.
    pub k: Option<u64>,
    /// The smallest class in the output (its suppressed rows aside).
    pub smallest_class: u64,
    pub l_diversity: Option<String>,
    pub t_closeness: Option<f64>,
    pub suppression_limit: f64,
    pub suppressed_rows_mode: SuppressedRows,
    pub rows: u64,
    pub suppressed_rows: u64,
    pub classes: u64,
    pub quasi_identifiers: Vec<QuasiIdentifierSummary>,
    pub sensitive: Vec<String>,
    pub metric: Metric,
    pub metrics: Metrics,
    pub lattice_nodes: usize,
    /// Transformations whose classes were computed and checked.
    pub nodes_computed: usize,
    /// Transformations never computed because monotonicity told whether they were acceptable
    /// (those below one that suppresses too much, or that must suppress too much whatever their
    /// classes); with no optimum among them, they needed no metric.
    #[serde(default)]
    pub nodes_tagged: usize,
    /// Transformations never computed because a bound of the metric showed they could not win.
    #[serde(default)]
    pub nodes_pruned: usize,
    pub search_seconds: f64,
    pub risk_before: Risk,
    pub risk_after: Risk,
    /// When the levels or partitions were reused from an earlier run's decisions file.
    #[serde(default)]
    pub frozen: Option<FrozenFrom>,
    /// Per sensitive column: what suppression took from it, and attribute disclosure.
    #[serde(default)]
    pub sensitive_effects: Vec<SensitiveEffect>,
    /// Per protected column: what de-identification did to each group.
    #[serde(default)]
    pub protected_groups: Vec<ProtectedColumn>,
    /// `privacy.fairness.max_suppression_ratio`, when the search was bound by it.
    #[serde(default)]
    pub fairness: Option<f64>,
}

/// The warning for a quasi-identifier that is `*` in every row.
pub fn starred_warning(column: &str) -> String {
    format!(
        "`{column}` is `*` in every output row: the chosen levels generalize it to the top, so it carries nothing; if it matters to the output's users, give it a `weight` above 1, pin a lower `level`, or choose another metric (see README.md, \"Choosing a metric\")"
    )
}

impl PrivacySummary {
    /// The quasi-identifiers that are `*` in every output row (generalized to the top, or every
    /// row suppressed): they carry nothing, which the summary and the report warn about.
    pub fn starred_columns(&self) -> Vec<&str> {
        self.quasi_identifiers.iter().filter(|q| q.loss >= 1.0 - 1e-9).map(|q| q.name.as_str()).collect()
    }
}

/// A protected column's groups (values held by fewer than k rows together as "other").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtectedColumn {
    pub column: String,
    /// Suppressed rows over all rows.
    pub overall_share: f64,
    pub groups: Vec<ProtectedGroup>,
}

/// One protected group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtectedGroup {
    pub value: String,
    pub rows: u64,
    pub suppressed: u64,
    /// Its rows suppressed over its rows.
    pub share: f64,
    /// `share` over the overall share (0 when nothing is suppressed).
    pub ratio: f64,
    /// The `loss` metric over its rows (1 for a suppressed row).
    pub mean_loss: f64,
    /// Suppressed more than twice the overall share.
    pub flagged: bool,
}

/// Where frozen decisions came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrozenFrom {
    /// The decisions file read.
    pub path: String,
    /// The run that made the decisions (the first one, when they were reused before).
    pub run_id: String,
}

/// A sensitive column among suppressed rows and in the output's classes. Values are shown
/// only when at least k rows hold them (or 5 without k); the rest count as "other".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensitiveEffect {
    pub column: String,
    pub rows: u64,
    pub suppressed_rows: u64,
    /// Value, share among all rows, share among suppressed rows; most frequent first.
    pub values: Vec<(String, f64, f64)>,
    /// The values not shown, together: share among all rows, among suppressed rows.
    pub other: (f64, f64),
    /// Rows of kept classes in which the column takes a single value (anyone who knows a
    /// person's quasi-identifiers learns it), and their share of all rows.
    pub single_value_rows: u64,
    pub single_value_share: f64,
    pub single_value_classes: u64,
}

/// What the run's noise spends and guarantees.
#[derive(Debug, Clone, Serialize)]
pub struct DpSummary {
    pub columns: Vec<Calibrated>,
    /// Sequential composition of the columns' (epsilon, delta): what the ledger is charged.
    pub epsilon: f64,
    pub delta: f64,
    /// Gaussian columns composed in zero-concentrated DP (rho adds up), converted to
    /// (epsilon, delta) at their summed delta: a tighter statement of the same noise.
    pub gaussian_rho: Option<f64>,
    pub gaussian_epsilon_from_rho: Option<f64>,
    pub ledger: String,
    pub dataset: String,
    pub epsilon_left: f64,
    pub delta_left: f64,
    /// The dataset's whole budget.
    pub epsilon_total: f64,
    pub delta_total: f64,
    /// `--seed` was given: the noise is reproducible and the output is not differentially
    /// private.
    pub seeded: bool,
    /// The aggregate releases written.
    pub releases: Vec<crate::dp::aggregate::ReleaseSummary>,
    /// A dry run: nothing was spent; the figures say what the run would spend and leave.
    pub planned: bool,
}
