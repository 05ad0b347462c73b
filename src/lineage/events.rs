//! OpenLineage 2-0-2 run events as JSON: START before any row is read, then COMPLETE (with
//! schemas, statistics, column lineage, the `anonymize_privacy` and `anonymize_checksums`
//! facets) or FAIL (with the error message). Datasets are named by OpenLineage's convention
//! for local files: namespace `file`, name the absolute path.

use super::checksums::{FileChecksum, Role};
use crate::job::{Action, Job, Measure};
use crate::runner::RunSummary;
use serde_json::{Value, json};
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

fn facet(schema: &str, body: Value) -> Value {
    let mut body = body;
    body["_producer"] = json!(PRODUCER);
    body["_schemaURL"] = json!(schema);
    body
}

fn standard(file: &str, name: &str, body: Value) -> Value {
    facet(&format!("{FACETS}/{file}#/$defs/{name}"), body)
}

fn dataset_name(path: &Path) -> String {
    super::absolute(path).display().to_string()
}

fn data_source() -> Value {
    standard(
        "1-0-1/DatasourceDatasetFacet.json",
        "DatasourceDatasetFacet",
        json!({ "name": "file", "uri": "file:///" }),
    )
}

fn job_block(job: &Job) -> Value {
    let mut facets = serde_json::Map::new();
    facets.insert(
        "jobType".into(),
        standard(
            "2-0-4/JobTypeJobFacet.json",
            "JobTypeJobFacet",
            json!({ "processingType": "BATCH", "integration": "ANONYMIZE", "jobType": "JOB" }),
        ),
    );
    if let Some(description) = &job.description {
        facets.insert(
            "documentation".into(),
            standard(
                "1-1-0/DocumentationJobFacet.json",
                "DocumentationJobFacet",
                json!({ "description": description, "contentType": "text/plain" }),
            ),
        );
    }
    if let Some(owner) = &job.owner {
        facets.insert(
            "ownership".into(),
            standard(
                "1-0-1/OwnershipJobFacet.json",
                "OwnershipJobFacet",
                json!({ "owners": [{ "name": owner, "type": "OWNER" }] }),
            ),
        );
    }
    json!({ "namespace": job.namespace, "name": job.name, "facets": facets })
}

fn run_block(context: &Context<'_>, extra: Vec<(&str, Value)>) -> Value {
    let mut facets = serde_json::Map::new();
    facets.insert(
        "processing_engine".into(),
        standard(
            "1-1-1/ProcessingEngineRunFacet.json",
            "ProcessingEngineRunFacet",
            json!({
                "name": "anonymize",
                "version": env!("CARGO_PKG_VERSION"),
                "openlineageAdapterVersion": env!("CARGO_PKG_VERSION"),
            }),
        ),
    );
    let mut parameters = vec![
        json!({ "key": "job_file", "value": dataset_name(&context.job.file) }),
        json!({ "key": "job_blake3", "value": context.job.file_blake3 }),
    ];
    if let Some(threads) = context.threads {
        parameters.push(json!({ "key": "threads", "value": threads.to_string() }));
    }
    if let Some(seed) = context.seed {
        parameters.push(json!({ "key": "seed", "value": seed.to_string() }));
    }
    facets.insert(
        "executionParameters".into(),
        standard(
            "1-0-0/ExecutionParametersRunFacet.json",
            "ExecutionParametersRunFacet",
            json!({ "parameters": parameters }),
        ),
    );
    if let Some(parent) = context.parent {
        let mut body = json!({
            "run": { "runId": parent.run_id },
            "job": { "namespace": parent.namespace, "name": parent.name },
        });
        if let Some(root) = &parent.root {
            body["root"] = json!({
                "run": { "runId": root.run_id },
                "job": { "namespace": root.namespace, "name": root.name },
            });
        }
        facets.insert("parent".into(), standard("1-2-0/ParentRunFacet.json", "ParentRunFacet", body));
    }
    for (name, value) in extra {
        facets.insert(name.into(), value);
    }
    json!({ "runId": context.run_id, "facets": facets })
}

fn event(kind: &str, context: &Context<'_>, run: Value, inputs: Vec<Value>, outputs: Vec<Value>) -> Value {
    json!({
        "eventType": kind,
        "eventTime": super::now(),
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
        "run": run,
        "job": job_block(context.job),
        "inputs": inputs,
        "outputs": outputs,
    })
}

/// The datasets of a job, before anything is known of their contents.
fn bare_datasets(job: &Job) -> (Vec<Value>, Vec<Value>) {
    let dataset = |path: &Path| json!({ "namespace": "file", "name": dataset_name(path), "facets": { "dataSource": data_source() } });
    let mut inputs = vec![dataset(&job.input.path)];
    inputs.extend(job.consent.iter().flat_map(|c| &c.exclude).map(|e| dataset(&e.path)));
    let mut outputs = vec![dataset(&job.output.path)];
    outputs.extend(job.aggregates.iter().map(|a| dataset(&a.path)));
    (inputs, outputs)
}

/// START: the run begins (nothing has been read yet).
pub fn start(context: &Context<'_>) -> Value {
    let (inputs, outputs) = bare_datasets(context.job);
    event("START", context, run_block(context, Vec::new()), inputs, outputs)
}

/// FAIL: the run stopped; `message` is the error chain (never a cell value or a key).
pub fn fail(context: &Context<'_>, message: &str) -> Value {
    let error = standard(
        "1-0-1/ErrorMessageRunFacet.json",
        "ErrorMessageRunFacet",
        json!({ "message": crate::keys::redact(message), "programmingLanguage": "Rust" }),
    );
    let (inputs, outputs) = bare_datasets(context.job);
    event("FAIL", context, run_block(context, vec![("errorMessage", error)]), inputs, outputs)
}

/// COMPLETE: everything is written; the event carries the run's whole story.
pub fn complete(context: &Context<'_>, summary: &RunSummary, checksums: &[FileChecksum]) -> Value {
    let job = context.job;
    let checksum_facet = facet(CHECKSUMS_FACET_SCHEMA, json!({ "algorithm": "blake3", "files": checksums }));
    let run = run_block(context, vec![(PRIVACY_FACET, privacy_facet(summary)), (CHECKSUMS_FACET, checksum_facet)]);
    let size_of = |role: Role| checksums.iter().filter(|c| c.role == role).map(|c| c.size).sum::<u64>();
    let input_name = dataset_name(&job.input.path);
    let schema_facet = |fields: Vec<(String, String)>| {
        let fields: Vec<Value> = fields
            .into_iter()
            .enumerate()
            .map(|(i, (name, data_type))| json!({ "name": name, "type": data_type, "ordinal_position": i + 1 }))
            .collect();
        standard("1-2-0/SchemaDatasetFacet.json", "SchemaDatasetFacet", json!({ "fields": fields }))
    };
    let mut inputs = vec![json!({
        "namespace": "file",
        "name": input_name,
        "facets": {
            "dataSource": data_source(),
            "schema": schema_facet(summary.input_schema.iter().map(|f| (f.name.clone(), f.data_type.clone())).collect()),
        },
        "inputFacets": {
            "inputStatistics": standard(
                "1-0-0/InputStatisticsInputDatasetFacet.json",
                "InputStatisticsInputDatasetFacet",
                json!({ "rowCount": summary.rows_read, "size": size_of(Role::Input), "fileCount": summary.input_files.len() }),
            ),
        },
    })];
    for exclusion in job.consent.iter().flat_map(|c| &c.exclude) {
        inputs.push(json!({
            "namespace": "file",
            "name": dataset_name(&exclusion.path),
            "facets": { "dataSource": data_source() },
        }));
    }
    let output_version =
        checksums.iter().find(|c| c.role == Role::Output).map(|c| c.blake3.clone()).unwrap_or_default();
    let mut outputs = vec![json!({
        "namespace": "file",
        "name": dataset_name(&job.output.path),
        "facets": {
            "dataSource": data_source(),
            "schema": schema_facet(summary.output_schema.iter().map(|f| (f.name.clone(), f.data_type.clone())).collect()),
            "columnLineage": column_lineage(job, summary, &input_name),
            "version": standard(
                "1-0-1/DatasetVersionDatasetFacet.json",
                "DatasetVersionDatasetFacet",
                json!({ "datasetVersion": output_version }),
            ),
        },
        "outputFacets": {
            "outputStatistics": standard(
                "1-0-2/OutputStatisticsOutputDatasetFacet.json",
                "OutputStatisticsOutputDatasetFacet",
                json!({ "rowCount": summary.rows_written, "size": size_of(Role::Output), "fileCount": 1 }),
            ),
        },
    })];
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
        outputs.push(json!({
            "namespace": "file",
            "name": path,
            "facets": {
                "dataSource": data_source(),
                "schema": schema_facet(fields),
                "columnLineage": release_lineage(aggregate, release, &input_name),
                "version": standard(
                    "1-0-1/DatasetVersionDatasetFacet.json",
                    "DatasetVersionDatasetFacet",
                    json!({ "datasetVersion": checksum.map(|c| c.blake3.clone()).unwrap_or_default() }),
                ),
            },
            "outputFacets": {
                "outputStatistics": standard(
                    "1-0-2/OutputStatisticsOutputDatasetFacet.json",
                    "OutputStatisticsOutputDatasetFacet",
                    json!({ "rowCount": release.rows, "size": checksum.map_or(0, |c| c.size), "fileCount": 1 }),
                ),
            },
        }));
    }
    event("COMPLETE", context, run, inputs, outputs)
}

fn transformation(kind: &str, subtype: &str, description: String, masking: bool) -> Value {
    json!({ "type": kind, "subtype": subtype, "description": description, "masking": masking })
}

fn input_field(input: &str, field: &str, transformations: Vec<Value>) -> Value {
    json!({ "namespace": "file", "name": input, "field": field, "transformations": transformations })
}

/// Plain words for what a column's action did, as the column lineage and the report say it.
pub fn describe_action(job: &Job, summary: &RunSummary, column: &str) -> String {
    let Some(c) = summary.columns.iter().find(|c| c.name == column) else { return String::new() };
    let detail = if c.detail.is_empty() { String::new() } else { format!(" ({})", c.detail) };
    match job.column(column).map(|s| &s.action) {
        Some(Action::Generalize(_)) => {
            let q = summary.privacy.as_ref().and_then(|p| p.quasi_identifiers.iter().find(|q| q.name == column));
            match q.and_then(|q| q.level.map(|l| (l, q.max_level))) {
                Some((level, max)) => format!("generalize to level {level} of {max}{detail}"),
                None => format!("generalize per equivalence class (Mondrian){detail}"),
            }
        }
        Some(Action::Noise(_)) => {
            match summary.dp.as_ref().and_then(|d| d.columns.iter().find(|n| n.column == column)) {
                Some(n) => format!(
                    "noise: {:?} mechanism, epsilon {}{}, values clamped to their bounds",
                    n.mechanism,
                    n.epsilon,
                    if n.delta > 0.0 { format!(", delta {}", n.delta) } else { String::new() }
                )
                .to_lowercase(),
                None => format!("noise{detail}"),
            }
        }
        _ => format!("{}{detail}", c.action),
    }
}

fn column_lineage(job: &Job, summary: &RunSummary, input: &str) -> Value {
    let mut fields = serde_json::Map::new();
    for c in summary.columns.iter().filter(|c| c.output_type.is_some()) {
        let description = describe_action(job, summary, &c.name);
        let masking = c.action != "keep";
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
        fields.insert(c.name.clone(), json!({ "inputFields": inputs }));
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
    standard(
        "1-2-0/ColumnLineageDatasetFacet.json",
        "ColumnLineageDatasetFacet",
        json!({ "fields": fields, "dataset": dataset }),
    )
}

fn release_lineage(
    aggregate: &crate::job::Aggregate,
    release: &crate::dp::aggregate::ReleaseSummary,
    input: &str,
) -> Value {
    let mut fields = serde_json::Map::new();
    for g in &aggregate.group_by {
        let selection = if release.partition_selection {
            "groups released only when their noisy count of privacy units clears the selection threshold"
        } else {
            "public groups"
        };
        fields.insert(
            g.clone(),
            json!({ "inputFields": [input_field(input, g, vec![transformation("DIRECT", "IDENTITY", selection.to_string(), false)])] }),
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
    fields.insert("value".into(), json!({ "inputFields": measured }));
    let dataset: Vec<Value> = aggregate
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
    standard(
        "1-2-0/ColumnLineageDatasetFacet.json",
        "ColumnLineageDatasetFacet",
        json!({ "fields": fields, "dataset": dataset }),
    )
}

fn risk(r: &crate::privacy::risk::Risk) -> Value {
    json!({
        "prosecutorHighest": r.prosecutor_highest,
        "prosecutorAverage": r.prosecutor_average,
        "journalistHighest": r.journalist_highest,
        "marketer": r.marketer,
        "uniqueRows": r.unique_rows,
        "rowsAbove0_2": r.rows_above_0_2,
        "classes": r.classes,
        "smallestClass": r.smallest_class,
    })
}

/// The `anonymize_privacy` run facet (schema: `spec/facets/AnonymizePrivacyRunFacet.json`).
pub fn privacy_facet(summary: &RunSummary) -> Value {
    let k_anonymity = summary.privacy.as_ref().map(|p| {
        json!({
            "algorithm": p.algorithm,
            "k": p.k,
            "smallestClass": p.smallest_class,
            "suppressedRows": p.suppressed_rows,
            "suppressionLimit": p.suppression_limit,
            "suppressedRowsMode": p.suppressed_rows_mode,
            "classes": p.classes,
            "metric": p.metric,
            "lDiversity": p.l_diversity,
            "tCloseness": p.t_closeness,
            "quasiIdentifiers": p.quasi_identifiers.iter().map(|q| json!({
                "name": q.name, "level": q.level, "maxLevel": q.max_level, "pinned": q.pinned, "loss": q.loss,
            })).collect::<Vec<_>>(),
            "riskBefore": risk(&p.risk_before),
            "riskAfter": risk(&p.risk_after),
        })
    });
    let differential_privacy = summary.dp.as_ref().map(|d| {
        json!({
            "dataset": d.dataset,
            "ledger": dataset_name(Path::new(&d.ledger)),
            "epsilonSpent": d.epsilon,
            "deltaSpent": d.delta,
            "epsilonLeft": d.epsilon_left,
            "deltaLeft": d.delta_left,
            "epsilonTotal": d.epsilon_total,
            "deltaTotal": d.delta_total,
            "columns": d.columns.iter().map(|c| json!({
                "name": c.column,
                "mechanism": c.mechanism,
                "epsilon": c.epsilon,
                "delta": c.delta,
                "noiseScale": c.noise_scale(),
                "error95": c.error_95(),
            })).collect::<Vec<_>>(),
            "releases": d.releases.iter().map(|r| json!({
                "name": r.name, "epsilon": r.epsilon, "delta": r.delta, "groupsReleased": r.groups_released,
            })).collect::<Vec<_>>(),
        })
    });
    facet(
        PRIVACY_FACET_SCHEMA,
        json!({
            "keyId": summary.key_id,
            "seeded": summary.seeded,
            "differentiallyPrivate": summary.dp.is_some() && !summary.seeded,
            "consent": {
                "rowsRead": summary.rows_read,
                "rowsExcluded": summary.rows_excluded.total(),
                "rowsWithoutConsent": summary.rows_excluded.by_column,
                "rowsOnExclusionLists": summary.rows_excluded.by_list,
            },
            "rowsWritten": summary.rows_written,
            "kAnonymity": k_anonymity,
            "differentialPrivacy": differential_privacy,
        }),
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
