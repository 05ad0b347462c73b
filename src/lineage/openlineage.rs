//! The OpenLineage 2-0-2 run event and every facet `anonymize` emits, as typed serde structs
//! (the spec's JSON names; absent optional facets are left out, absent values of our own facets
//! are `null` as their schemas allow). `tests/it/lineage.rs` validates every event against the
//! vendored schemas.

use super::checksums::FileChecksum;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// START, COMPLETE or FAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    Start,
    Complete,
    Fail,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Start => "START",
            EventType::Complete => "COMPLETE",
            EventType::Fail => "FAIL",
        }
    }
}

/// One run event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunEvent {
    pub event_type: EventType,
    pub event_time: String,
    pub producer: String,
    #[serde(rename = "schemaURL")]
    pub schema_url: String,
    pub run: Run,
    pub job: JobRef,
    pub inputs: Vec<Dataset>,
    pub outputs: Vec<Dataset>,
}

impl RunEvent {
    /// The event as a JSON value (for the lineage file and the HTTP transport).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// A facet: its producer and schema, then its own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facet<T> {
    #[serde(rename = "_producer")]
    pub producer: String,
    #[serde(rename = "_schemaURL")]
    pub schema_url: String,
    #[serde(flatten)]
    pub body: T,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub run_id: String,
    pub facets: RunFacets,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFacets {
    pub processing_engine: Facet<ProcessingEngine>,
    #[serde(rename = "executionParameters")]
    pub execution_parameters: Facet<ExecutionParameters>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parent: Option<Facet<ParentRun>>,
    #[serde(rename = "errorMessage", skip_serializing_if = "Option::is_none", default)]
    pub error_message: Option<Facet<ErrorMessage>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub anonymize_privacy: Option<Facet<PrivacyFacet>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub anonymize_checksums: Option<Facet<ChecksumsFacet>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessingEngine {
    pub name: String,
    pub version: String,
    pub openlineage_adapter_version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionParameters {
    pub parameters: Vec<Parameter>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParentRun {
    pub run: RunRef,
    pub job: JobName,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub root: Option<RootRun>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RootRun {
    pub run: RunRef,
    pub job: JobName,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRef {
    pub run_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobName {
    pub namespace: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorMessage {
    pub message: String,
    pub programming_language: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRef {
    pub namespace: String,
    pub name: String,
    pub facets: JobFacets,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobFacets {
    #[serde(rename = "jobType")]
    pub job_type: Facet<JobType>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub documentation: Option<Facet<Documentation>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ownership: Option<Facet<Ownership>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobType {
    pub processing_type: String,
    pub integration: String,
    pub job_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Documentation {
    pub description: String,
    pub content_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ownership {
    pub owners: Vec<Owner>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Owner {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// An input or output dataset (files: namespace `file`, name the absolute path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dataset {
    pub namespace: String,
    pub name: String,
    pub facets: DatasetFacets,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub input_facets: Option<InputFacets>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub output_facets: Option<OutputFacets>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetFacets {
    pub data_source: Facet<DataSource>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub schema: Option<Facet<SchemaFacet>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub column_lineage: Option<Facet<ColumnLineage>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<Facet<DatasetVersion>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSource {
    pub name: String,
    pub uri: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaFacet {
    pub fields: Vec<SchemaField>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaField {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    pub ordinal_position: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DatasetVersion {
    pub dataset_version: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputFacets {
    pub input_statistics: Facet<Statistics>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputFacets {
    pub output_statistics: Facet<Statistics>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statistics {
    pub row_count: u64,
    pub size: u64,
    pub file_count: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnLineage {
    /// Output column → the input columns it comes from.
    pub fields: BTreeMap<String, FieldLineage>,
    /// Input columns that decide which rows reach the output.
    pub dataset: Vec<InputField>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldLineage {
    pub input_fields: Vec<InputField>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputField {
    pub namespace: String,
    pub name: String,
    pub field: String,
    pub transformations: Vec<Transformation>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transformation {
    #[serde(rename = "type")]
    pub kind: String,
    pub subtype: String,
    pub description: String,
    pub masking: bool,
}

/// `anonymize_checksums` (schema: `spec/facets/AnonymizeChecksumsRunFacet.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChecksumsFacet {
    pub algorithm: String,
    pub files: Vec<FileChecksum>,
}

/// `anonymize_privacy` (schema: `spec/facets/AnonymizePrivacyRunFacet.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrivacyFacet {
    pub key_id: Option<String>,
    pub seeded: bool,
    pub differentially_private: bool,
    pub consent: ConsentFigures,
    pub rows_written: u64,
    pub k_anonymity: Option<KAnonymityFigures>,
    pub differential_privacy: Option<DpFigures>,
    /// Risk over the output's released attributes (absent for dry runs and failed runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_attributes: Option<ReleasedFigures>,
}

/// Risk over what the output releases as values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleasedFigures {
    pub columns: Vec<String>,
    pub not_counted: Vec<String>,
    pub risk: RiskFigures,
    pub drivers: Vec<String>,
    pub drivers_unique_rows: f64,
    /// False when the output had too many distinct released rows or values for the per-column
    /// figures and the drivers (then empty).
    pub columns_measured: bool,
    pub per_column: Vec<ReleasedColumnFigures>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleasedColumnFigures {
    pub name: String,
    pub distinct: u64,
    pub distinct_ratio: f64,
    pub unique_rows_alone: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsentFigures {
    pub rows_read: u64,
    pub rows_excluded: u64,
    pub rows_without_consent: u64,
    pub rows_on_exclusion_lists: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KAnonymityFigures {
    pub algorithm: crate::job::Algorithm,
    pub k: Option<u64>,
    pub smallest_class: u64,
    pub suppressed_rows: u64,
    pub suppression_limit: f64,
    pub suppressed_rows_mode: crate::job::SuppressedRows,
    pub classes: u64,
    pub metric: crate::job::Metric,
    pub l_diversity: Option<String>,
    pub t_closeness: Option<f64>,
    pub quasi_identifiers: Vec<QuasiIdentifierFigures>,
    pub risk_before: RiskFigures,
    pub risk_after: RiskFigures,
    /// When the levels were reused from an earlier run's decisions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_from: Option<FrozenFigures>,
    /// Per sensitive column (figures only, never a value).
    #[serde(default)]
    pub attribute_disclosure: Vec<DisclosureFigures>,
    /// Per protected column, per group (named only when at least k rows hold the value).
    #[serde(default)]
    pub protected_groups: Vec<ProtectedFigures>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProtectedFigures {
    pub column: String,
    pub overall_share: f64,
    pub max_suppression_ratio: Option<f64>,
    pub groups: Vec<GroupFigures>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupFigures {
    pub group: String,
    pub rows: u64,
    pub suppressed: u64,
    pub share: f64,
    pub ratio: f64,
    pub mean_loss: f64,
    pub flagged: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrozenFigures {
    pub run_id: String,
    pub decisions_file: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisclosureFigures {
    pub column: String,
    pub single_value_share: f64,
    pub single_value_classes: u64,
    pub suppressed_rows: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuasiIdentifierFigures {
    pub name: String,
    pub level: Option<u32>,
    pub max_level: u32,
    pub pinned: bool,
    pub loss: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskFigures {
    pub prosecutor_highest: f64,
    pub prosecutor_average: f64,
    pub journalist_highest: f64,
    pub marketer: f64,
    pub unique_rows: f64,
    #[serde(rename = "rowsAbove0_2")]
    pub rows_above_0_2: f64,
    pub classes: u64,
    pub smallest_class: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DpFigures {
    pub dataset: String,
    pub ledger: String,
    pub epsilon_spent: f64,
    pub delta_spent: f64,
    pub epsilon_left: f64,
    pub delta_left: f64,
    pub epsilon_total: f64,
    pub delta_total: f64,
    pub columns: Vec<NoiseColumnFigures>,
    pub releases: Vec<ReleaseFigures>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NoiseColumnFigures {
    pub name: String,
    pub mechanism: crate::job::config::Mechanism,
    pub epsilon: f64,
    pub delta: f64,
    pub noise_scale: f64,
    #[serde(rename = "error95")]
    pub error_95: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseFigures {
    pub name: String,
    pub epsilon: f64,
    pub delta: f64,
    pub groups_released: usize,
}
