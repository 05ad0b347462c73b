//! OpenLineage 2-0-2 run events as JSON: START before any row is read, then COMPLETE (with
//! schemas, statistics, column lineage, the `anonymize_privacy` and `anonymize_checksums`
//! facets) or FAIL (with the error message). Datasets are named by OpenLineage's convention
//! for local files: namespace `file`, name the absolute path.

use super::checksums::{FileChecksum, Role};
use super::openlineage::*;
use crate::job::{Action, Job, Measure};
use crate::record::RunSummary;
use std::collections::BTreeMap;
use std::path::Path;

/// The producer URI of every event and facet.
pub const PRODUCER: &str = concat!("https://github.com/anonymize/anonymize/tree/v", env!("CARGO_PKG_VERSION"));
/// The core schema of run events.
pub const RUN_EVENT_SCHEMA: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
/// Our custom facets' schemas: `spec/facets/*.json` in the repository.
pub const PRIVACY_FACET_SCHEMA: &str = concat!(
    "https://github.com/anonymize/anonymize/blob/v",
    env!("CARGO_PKG_VERSION"),
    "/spec/facets/AnonymizePrivacyRunFacet.json#/$defs/AnonymizePrivacyRunFacet"
);
pub const CHECKSUMS_FACET_SCHEMA: &str = concat!(
    "https://github.com/anonymize/anonymize/blob/v",
    env!("CARGO_PKG_VERSION"),
    "/spec/facets/AnonymizeChecksumsRunFacet.json#/$defs/AnonymizeChecksumsRunFacet"
);
/// The run facet that holds the checksums `anonymize verify` recomputes.
pub const CHECKSUMS_FACET: &str = "anonymize_checksums";
/// The run facet that states what the run guaranteed.
pub const PRIVACY_FACET: &str = "anonymize_privacy";

const FACETS: &str = "https://openlineage.io/spec/facets";

/// The run that started this one (an Airflow task, say), from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    pub namespace: String,
    pub name: String,
    pub run_id: String,
    /// The run at the top of the chain (an Airflow DAG run), when given.
    pub root: Option<Box<Parent>>,
}

impl Parent {
    /// `OPENLINEAGE_PARENT_ID` (`namespace/job_name/run_id`, as Airflow's `lineage_parent_id`
    /// macro prints it) or the three parts `OPENLINEAGE_PARENT_JOB_NAMESPACE`,
    /// `OPENLINEAGE_PARENT_JOB_NAME` and `OPENLINEAGE_PARENT_RUN_ID`; the same with `ROOT_PARENT`
    /// for the root. A malformed value is a warning and no parent.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>, warnings: &mut Vec<String>) -> Option<Self> {
        let read = |prefix: &str, warnings: &mut Vec<String>| -> Option<Parent> {
            let combined = format!("OPENLINEAGE_{prefix}_ID");
            let parts = if let Some(id) = get(&combined) {
                let Some((namespace, rest)) = id.split_once('/') else {
                    warnings.push(format!("{combined} is not `namespace/job_name/run_id`; no parent run is linked"));
                    return None;
                };
                let Some((name, run_id)) = rest.rsplit_once('/') else {
                    warnings.push(format!("{combined} is not `namespace/job_name/run_id`; no parent run is linked"));
                    return None;
                };
                (namespace.to_string(), name.to_string(), run_id.to_string(), combined)
            } else {
                let run = format!("OPENLINEAGE_{prefix}_RUN_ID");
                let (Some(namespace), Some(name), Some(run_id)) = (
                    get(&format!("OPENLINEAGE_{prefix}_JOB_NAMESPACE")),
                    get(&format!("OPENLINEAGE_{prefix}_JOB_NAME")),
                    get(&run),
                ) else {
                    return None;
                };
                (namespace, name, run_id, run)
            };
            let (namespace, name, run_id, source) = parts;
            if namespace.is_empty() || name.is_empty() || !is_uuid(&run_id) {
                warnings.push(format!(
                    "{source} does not hold a namespace, a job name and a UUID run id; no parent run is linked"
                ));
                return None;
            }
            Some(Parent { namespace, name, run_id, root: None })
        };
        let mut parent = read("PARENT", warnings)?;
        parent.root = read("ROOT_PARENT", warnings).map(Box::new);
        Some(parent)
    }
}

/// Whether `text` is a UUID in its canonical 8-4-4-4-12 hex form.
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// What every event of a run shares.
pub struct Context<'a> {
    pub job: &'a Job,
    pub run_id: &'a str,
    pub parent: Option<&'a Parent>,
    pub threads: Option<usize>,
    pub seed: Option<u64>,
}

fn facet<T>(schema: &str, body: T) -> Facet<T> {
    Facet { producer: PRODUCER.to_string(), schema_url: schema.to_string(), body }
}

fn standard<T>(file: &str, name: &str, body: T) -> Facet<T> {
    facet(&format!("{FACETS}/{file}#/$defs/{name}"), body)
}

fn dataset_name(path: &Path) -> String {
    super::absolute(path).display().to_string()
}

fn data_source() -> Facet<DataSource> {
    standard(
        "1-0-1/DatasourceDatasetFacet.json",
        "DatasourceDatasetFacet",
        DataSource { name: "file".into(), uri: "file:///".into() },
    )
}

fn job_block(job: &Job) -> JobRef {
    let facets = JobFacets {
        job_type: standard(
            "2-0-4/JobTypeJobFacet.json",
            "JobTypeJobFacet",
            JobType { processing_type: "BATCH".into(), integration: "ANONYMIZE".into(), job_type: "JOB".into() },
        ),
        documentation: job.description.as_ref().map(|description| {
            standard(
                "1-1-0/DocumentationJobFacet.json",
                "DocumentationJobFacet",
                Documentation { description: description.clone(), content_type: "text/plain".into() },
            )
        }),
        ownership: job.owner.as_ref().map(|owner| {
            standard(
                "1-0-1/OwnershipJobFacet.json",
                "OwnershipJobFacet",
                Ownership { owners: vec![Owner { name: owner.clone(), kind: "OWNER".into() }] },
            )
        }),
    };
    JobRef { namespace: job.namespace.clone(), name: job.name.clone(), facets }
}

fn run_block(context: &Context<'_>) -> Run {
    let parameter = |key: &str, value: String| Parameter { key: key.into(), value };
    let mut parameters = vec![
        parameter("job_file", dataset_name(&context.job.file)),
        parameter("job_blake3", context.job.file_blake3.clone()),
    ];
    if let Some(threads) = context.threads {
        parameters.push(parameter("threads", threads.to_string()));
    }
    if let Some(seed) = context.seed {
        parameters.push(parameter("seed", seed.to_string()));
    }
    let reference = |p: &Parent| {
        (RunRef { run_id: p.run_id.clone() }, JobName { namespace: p.namespace.clone(), name: p.name.clone() })
    };
    let parent = context.parent.map(|parent| {
        let (run, job) = reference(parent);
        let root = parent.root.as_deref().map(|root| {
            let (run, job) = reference(root);
            RootRun { run, job }
        });
        standard("1-2-0/ParentRunFacet.json", "ParentRunFacet", ParentRun { run, job, root })
    });
    let version = env!("CARGO_PKG_VERSION").to_string();
    Run {
        run_id: context.run_id.to_string(),
        facets: RunFacets {
            processing_engine: standard(
                "1-1-1/ProcessingEngineRunFacet.json",
                "ProcessingEngineRunFacet",
                ProcessingEngine {
                    name: "anonymize".into(),
                    version: version.clone(),
                    openlineage_adapter_version: version,
                },
            ),
            execution_parameters: standard(
                "1-0-0/ExecutionParametersRunFacet.json",
                "ExecutionParametersRunFacet",
                ExecutionParameters { parameters },
            ),
            parent,
            error_message: None,
            anonymize_privacy: None,
            anonymize_checksums: None,
        },
    }
}

fn event(kind: EventType, context: &Context<'_>, run: Run, inputs: Vec<Dataset>, outputs: Vec<Dataset>) -> RunEvent {
    RunEvent {
        event_type: kind,
        event_time: super::now(),
        producer: PRODUCER.to_string(),
        schema_url: RUN_EVENT_SCHEMA.to_string(),
        run,
        job: job_block(context.job),
        inputs,
        outputs,
    }
}

/// A file dataset with only its data source facet.
fn bare(path: &Path) -> Dataset {
    Dataset {
        namespace: "file".into(),
        name: dataset_name(path),
        facets: DatasetFacets { data_source: data_source(), schema: None, column_lineage: None, version: None },
        input_facets: None,
        output_facets: None,
    }
}

/// The datasets of a job, before anything is known of their contents.
fn bare_datasets(job: &Job) -> (Vec<Dataset>, Vec<Dataset>) {
    let mut inputs = vec![bare(&job.input.path)];
    inputs.extend(job.consent.iter().flat_map(|c| &c.exclude).map(|e| bare(&e.path)));
    let mut outputs = vec![bare(&job.output.path)];
    outputs.extend(job.aggregates.iter().map(|a| bare(&a.path)));
    (inputs, outputs)
}

/// START: the run begins (nothing has been read yet).
pub fn start(context: &Context<'_>) -> RunEvent {
    let (inputs, outputs) = bare_datasets(context.job);
    event(EventType::Start, context, run_block(context), inputs, outputs)
}

/// FAIL: the run stopped; `message` is the error chain (never a cell value or a key).
pub fn fail(context: &Context<'_>, message: &str) -> RunEvent {
    let mut run = run_block(context);
    run.facets.error_message = Some(standard(
        "1-0-1/ErrorMessageRunFacet.json",
        "ErrorMessageRunFacet",
        ErrorMessage { message: crate::keys::redact(message), programming_language: "Rust".into() },
    ));
    let (inputs, outputs) = bare_datasets(context.job);
    event(EventType::Fail, context, run, inputs, outputs)
}

fn schema_facet(fields: Vec<(String, String)>) -> Facet<SchemaFacet> {
    let fields = fields
        .into_iter()
        .enumerate()
        .map(|(i, (name, data_type))| SchemaField { name, data_type, ordinal_position: i + 1 })
        .collect();
    standard("1-2-0/SchemaDatasetFacet.json", "SchemaDatasetFacet", SchemaFacet { fields })
}

fn version(blake3: String) -> Facet<DatasetVersion> {
    standard(
        "1-0-1/DatasetVersionDatasetFacet.json",
        "DatasetVersionDatasetFacet",
        DatasetVersion { dataset_version: blake3 },
    )
}

fn output_statistics(row_count: u64, size: u64) -> OutputFacets {
    OutputFacets {
        output_statistics: standard(
            "1-0-2/OutputStatisticsOutputDatasetFacet.json",
            "OutputStatisticsOutputDatasetFacet",
            Statistics { row_count, size, file_count: 1 },
        ),
    }
}

/// COMPLETE: everything is written; the event carries the run's whole story.
pub fn complete(context: &Context<'_>, summary: &RunSummary, checksums: &[FileChecksum]) -> RunEvent {
    let job = context.job;
    let mut run = run_block(context);
    run.facets.anonymize_privacy = Some(privacy_facet(summary));
    run.facets.anonymize_checksums =
        Some(facet(CHECKSUMS_FACET_SCHEMA, ChecksumsFacet { algorithm: "blake3".into(), files: checksums.to_vec() }));
    let size_of = |role: Role| checksums.iter().filter(|c| c.role == role).map(|c| c.size).sum::<u64>();
    let input_name = dataset_name(&job.input.path);
    let fields_of = |fields: &[crate::record::FieldSummary]| -> Vec<(String, String)> {
        fields.iter().map(|f| (f.name.clone(), f.data_type.clone())).collect()
    };
    let mut input = bare(&job.input.path);
    input.facets.schema = Some(schema_facet(fields_of(&summary.input_schema)));
    input.input_facets = Some(InputFacets {
        input_statistics: standard(
            "1-0-0/InputStatisticsInputDatasetFacet.json",
            "InputStatisticsInputDatasetFacet",
            Statistics {
                row_count: summary.rows_read,
                size: size_of(Role::Input),
                file_count: summary.input_files.len(),
            },
        ),
    });
    let mut inputs = vec![input];
    inputs.extend(job.consent.iter().flat_map(|c| &c.exclude).map(|e| bare(&e.path)));
    let output_version =
        checksums.iter().find(|c| c.role == Role::Output).map(|c| c.blake3.clone()).unwrap_or_default();
    let mut output = bare(&job.output.path);
    output.facets.schema = Some(schema_facet(fields_of(&summary.output_schema)));
    output.facets.column_lineage = Some(column_lineage(job, summary, &input_name));
    output.facets.version = Some(version(output_version));
    output.output_facets = Some(output_statistics(summary.rows_written, size_of(Role::Output)));
    let mut outputs = vec![output];
    let releases = summary.dp.as_ref().map(|d| d.releases.as_slice()).unwrap_or_default();
    for aggregate in &job.aggregates {
        let Some(release) = releases.iter().find(|r| r.name == aggregate.name) else { continue };
        let path = dataset_name(&aggregate.path);
        let checksum = checksums.iter().find(|c| c.role == Role::Release && c.path == path);
        let mut fields: Vec<(String, String)> =
            aggregate.group_by.iter().map(|g| (g.clone(), "Utf8".to_string())).collect();
        for (name, data_type) in [
            ("measure", "Utf8"),
            ("bin", "Utf8"),
            ("value", "Float64"),
            ("noise_scale", "Float64"),
            ("error_95", "Float64"),
        ] {
            fields.push((name.to_string(), data_type.to_string()));
        }
        let mut dataset = bare(&aggregate.path);
        dataset.facets.schema = Some(schema_facet(fields));
        dataset.facets.column_lineage = Some(release_lineage(aggregate, release, &input_name));
        dataset.facets.version = Some(version(checksum.map(|c| c.blake3.clone()).unwrap_or_default()));
        dataset.output_facets = Some(output_statistics(release.rows as u64, checksum.map_or(0, |c| c.size)));
        outputs.push(dataset);
    }
    event(EventType::Complete, context, run, inputs, outputs)
}

fn transformation(kind: &str, subtype: &str, description: String, masking: bool) -> Transformation {
    Transformation { kind: kind.into(), subtype: subtype.into(), description, masking }
}

fn input_field(input: &str, field: &str, transformations: Vec<Transformation>) -> InputField {
    InputField { namespace: "file".into(), name: input.into(), field: field.into(), transformations }
}

/// Plain words for what a column's action did, as the column lineage and the report say it.
pub fn describe_action(job: &Job, summary: &RunSummary, column: &str) -> String {
    let Some(c) = summary.columns.iter().find(|c| c.name == column) else { return String::new() };
    match job.column(column) {
        Some(spec) => crate::actions::describe(&spec.action, c, summary),
        None => crate::actions::plain_description(c),
    }
}

fn column_lineage_facet(fields: BTreeMap<String, FieldLineage>, dataset: Vec<InputField>) -> Facet<ColumnLineage> {
    standard("1-2-0/ColumnLineageDatasetFacet.json", "ColumnLineageDatasetFacet", ColumnLineage { fields, dataset })
}

fn column_lineage(job: &Job, summary: &RunSummary, input: &str) -> Facet<ColumnLineage> {
    let mut fields = BTreeMap::new();
    for c in summary.columns.iter().filter(|c| c.output_type.is_some()) {
        let description = describe_action(job, summary, &c.name);
        let masking = !matches!(job.column(&c.name).map(|s| &s.action), Some(Action::Keep { .. }));
        let subtype = if masking { "TRANSFORMATION" } else { "IDENTITY" };
        let mut inputs =
            vec![input_field(input, &c.name, vec![transformation("DIRECT", subtype, description, masking)])];
        if let Some(Action::Shift(shift)) = job.column(&c.name).map(|s| &s.action)
            && shift.by != c.name
        {
            inputs.push(input_field(
                input,
                &shift.by,
                vec![transformation(
                    "DIRECT",
                    "TRANSFORMATION",
                    format!("the shift of `{}` is keyed by this column", c.name),
                    true,
                )],
            ));
        }
        match job.column(&c.name).map(|s| &s.action) {
            // `format: bounds`: two output fields from the one input column.
            Some(Action::Generalize(g)) if g.bounds => {
                for end in ["low", "high"] {
                    fields.insert(format!("{}_{end}", c.name), FieldLineage { input_fields: inputs.clone() });
                }
            }
            _ => {
                fields.insert(c.name.clone(), FieldLineage { input_fields: inputs });
            }
        }
    }
    // Columns that decide which rows reach the output.
    let mut dataset = Vec::new();
    if let Some(consent) = &job.consent {
        if let Some(column) = &consent.column {
            dataset.push(input_field(
                input,
                column,
                vec![transformation("INDIRECT", "FILTER", "rows without consent are excluded".into(), false)],
            ));
        }
        for exclusion in &consent.exclude {
            dataset.push(input_field(
                input,
                &exclusion.key,
                vec![transformation(
                    "INDIRECT",
                    "FILTER",
                    format!("subjects listed in {} are excluded", dataset_name(&exclusion.path)),
                    false,
                )],
            ));
        }
    }
    if let Some(p) = &summary.privacy
        && let Some(k) = p.k
    {
        for q in &p.quasi_identifiers {
            dataset.push(input_field(
                input,
                &q.name,
                vec![transformation(
                    "INDIRECT",
                    "FILTER",
                    format!("rows of equivalence classes smaller than k = {k} are suppressed"),
                    true,
                )],
            ));
        }
    }
    column_lineage_facet(fields, dataset)
}

fn release_lineage(
    aggregate: &crate::job::Aggregate,
    release: &crate::dp::aggregate::ReleaseSummary,
    input: &str,
) -> Facet<ColumnLineage> {
    let mut fields = BTreeMap::new();
    for g in &aggregate.group_by {
        let selection = if release.partition_selection {
            "groups released only when their noisy count of privacy units clears the selection threshold"
        } else {
            "public groups"
        };
        fields.insert(
            g.clone(),
            FieldLineage {
                input_fields: vec![input_field(
                    input,
                    g,
                    vec![transformation("DIRECT", "IDENTITY", selection.to_string(), false)],
                )],
            },
        );
    }
    let mut measured = vec![input_field(
        input,
        &aggregate.privacy_unit,
        vec![transformation(
            "DIRECT",
            "AGGREGATION",
            format!(
                "count of privacy units, at most {} groups each, with discrete Laplace noise",
                aggregate.max_groups_per_unit
            ),
            true,
        )],
    )];
    for m in &aggregate.measures {
        let (column, what) = match m {
            Measure::Count => continue,
            Measure::Sum { column, .. } => (column, "sum"),
            Measure::Mean { column, .. } => (column, "mean"),
            Measure::Histogram { column, .. } => (column, "histogram"),
        };
        measured.push(input_field(
            input,
            column,
            vec![transformation(
                "DIRECT",
                "AGGREGATION",
                format!("{what} with discrete Laplace noise, epsilon {} per measure", release.epsilon_per_share),
                true,
            )],
        ));
    }
    fields.insert("value".into(), FieldLineage { input_fields: measured });
    let dataset: Vec<InputField> = aggregate
        .group_by
        .iter()
        .map(|g| {
            input_field(
                input,
                g,
                vec![transformation("INDIRECT", "GROUP_BY", format!("release `{}`", aggregate.name), false)],
            )
        })
        .collect();
    column_lineage_facet(fields, dataset)
}

fn risk(r: &crate::privacy::risk::Risk) -> RiskFigures {
    RiskFigures {
        prosecutor_highest: r.prosecutor_highest,
        prosecutor_average: r.prosecutor_average,
        journalist_highest: r.journalist_highest,
        marketer: r.marketer,
        unique_rows: r.unique_rows,
        rows_above_0_2: r.rows_above_0_2,
        classes: r.classes,
        smallest_class: r.smallest_class,
    }
}

/// The `anonymize_privacy` run facet (schema: `spec/facets/AnonymizePrivacyRunFacet.json`).
pub fn privacy_facet(summary: &RunSummary) -> Facet<PrivacyFacet> {
    let k_anonymity = summary.privacy.as_ref().map(|p| KAnonymityFigures {
        algorithm: p.algorithm,
        k: p.k,
        smallest_class: p.smallest_class,
        suppressed_rows: p.suppressed_rows,
        suppression_limit: p.suppression_limit,
        suppressed_rows_mode: p.suppressed_rows_mode,
        classes: p.classes,
        metric: p.metric,
        l_diversity: p.l_diversity.clone(),
        t_closeness: p.t_closeness,
        quasi_identifiers: p
            .quasi_identifiers
            .iter()
            .map(|q| QuasiIdentifierFigures {
                name: q.name.clone(),
                level: q.level,
                max_level: q.max_level,
                pinned: q.pinned,
                loss: q.loss,
            })
            .collect(),
        risk_before: risk(&p.risk_before),
        risk_after: risk(&p.risk_after),
        frozen_from: p
            .frozen
            .as_ref()
            .map(|f| FrozenFigures { run_id: f.run_id.clone(), decisions_file: dataset_name(Path::new(&f.path)) }),
        attribute_disclosure: p
            .sensitive_effects
            .iter()
            .map(|e| DisclosureFigures {
                column: e.column.clone(),
                single_value_share: e.single_value_share,
                single_value_classes: e.single_value_classes,
                suppressed_rows: e.suppressed_rows,
            })
            .collect(),
        protected_groups: p
            .protected_groups
            .iter()
            .map(|c| ProtectedFigures {
                column: c.column.clone(),
                overall_share: c.overall_share,
                max_suppression_ratio: p.fairness,
                groups: c
                    .groups
                    .iter()
                    .map(|g| GroupFigures {
                        group: g.value.clone(),
                        rows: g.rows,
                        suppressed: g.suppressed,
                        share: g.share,
                        ratio: g.ratio,
                        mean_loss: g.mean_loss,
                        flagged: g.flagged,
                    })
                    .collect(),
            })
            .collect(),
    });
    let differential_privacy = summary.dp.as_ref().map(|d| DpFigures {
        dataset: d.dataset.clone(),
        ledger: dataset_name(Path::new(&d.ledger)),
        epsilon_spent: d.epsilon,
        delta_spent: d.delta,
        epsilon_left: d.epsilon_left,
        delta_left: d.delta_left,
        epsilon_total: d.epsilon_total,
        delta_total: d.delta_total,
        columns: d
            .columns
            .iter()
            .map(|c| NoiseColumnFigures {
                name: c.column.clone(),
                mechanism: c.mechanism,
                epsilon: c.epsilon,
                delta: c.delta,
                noise_scale: c.noise_scale(),
                error_95: c.error_95(),
            })
            .collect(),
        releases: d
            .releases
            .iter()
            .map(|r| ReleaseFigures {
                name: r.name.clone(),
                epsilon: r.epsilon,
                delta: r.delta,
                groups_released: r.groups_released,
            })
            .collect(),
    });
    facet(
        PRIVACY_FACET_SCHEMA,
        PrivacyFacet {
            key_id: summary.key_id.clone(),
            seeded: summary.seeded,
            differentially_private: summary.dp.is_some() && !summary.seeded,
            consent: ConsentFigures {
                rows_read: summary.rows_read,
                rows_excluded: summary.rows_excluded.total(),
                rows_without_consent: summary.rows_excluded.by_column,
                rows_on_exclusion_lists: summary.rows_excluded.by_list,
            },
            rows_written: summary.rows_written,
            k_anonymity,
            differential_privacy,
            released_attributes: summary.released.as_ref().map(|r| ReleasedFigures {
                columns: r.columns.clone(),
                not_counted: r.not_counted.iter().map(|n| n.name.clone()).collect(),
                risk: risk(&r.risk),
                drivers: r.drivers.clone(),
                drivers_unique_rows: r.drivers_unique_rows,
                columns_measured: r.columns_measured,
                per_column: r
                    .per_column
                    .iter()
                    .map(|c| ReleasedColumnFigures {
                        name: c.name.clone(),
                        distinct: c.distinct,
                        distinct_ratio: c.distinct_ratio,
                        unique_rows_alone: c.unique_rows_alone,
                    })
                    .collect(),
            }),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent(vars: &[(&str, &str)]) -> (Option<Parent>, Vec<String>) {
        let get = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        let mut warnings = Vec::new();
        (Parent::from_lookup(&get, &mut warnings), warnings)
    }

    #[test]
    fn parents_come_from_either_convention_and_bad_values_only_warn() {
        let id = "01963f2e-6000-7000-8000-00000000a1f1";
        let (p, w) = parent(&[("OPENLINEAGE_PARENT_ID", &format!("airflow/dag.with/slash.task/{id}"))]);
        let p = p.unwrap();
        assert_eq!((p.namespace.as_str(), p.name.as_str(), p.run_id.as_str()), ("airflow", "dag.with/slash.task", id));
        assert!(p.root.is_none() && w.is_empty());
        let (p, _) = parent(&[
            ("OPENLINEAGE_PARENT_JOB_NAMESPACE", "ns"),
            ("OPENLINEAGE_PARENT_JOB_NAME", "dag.task"),
            ("OPENLINEAGE_PARENT_RUN_ID", id),
            ("OPENLINEAGE_ROOT_PARENT_ID", &format!("ns/dag/{id}")),
        ]);
        let p = p.unwrap();
        assert_eq!(p.name, "dag.task");
        assert_eq!(p.root.unwrap().name, "dag");
        // A run id that is not a UUID, a missing part, or no slash: no parent, one warning.
        for bad in ["ns/job/not-a-uuid", "no-slashes", &format!("/job/{id}")] {
            let (p, w) = parent(&[("OPENLINEAGE_PARENT_ID", bad)]);
            assert!(p.is_none() && w.len() == 1, "{bad}: {w:?}");
        }
        // Incomplete parts are simply no parent.
        let (p, w) = parent(&[("OPENLINEAGE_PARENT_RUN_ID", id)]);
        assert!(p.is_none() && w.is_empty());
        assert!(is_uuid(id) && !is_uuid("01963f2e60007000800000000000a1f1"));
    }
}
