//! A validated [`Job`] bound to its input and compiled into ordered per-column steps.
//!
//! Binding reads schemas only (the input's and the exclusion lists'), so `anonymize validate`
//! and `anonymize run --dry-run` see every problem `anonymize run` would, without reading rows.

use crate::consent;
use crate::io::{BATCH_SIZE, DataSource, IoError};
use crate::job::{Action, Issue, Issues, Job, KeyPath, check, plural};
use crate::keys::{Key, KeyError};
use crate::privacy::decisions::{DecisionsError, DecisionsFile, HierarchySpec, type_kind};
use crate::transform::Kernel;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use std::fmt;
use std::sync::Arc;

/// Why a job cannot be planned.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read the input")]
    Input(#[source] IoError),
    #[error("cannot read exclusion list `{path}`")]
    ExclusionList {
        path: std::path::PathBuf,
        #[source]
        source: IoError,
    },
    #[error("job file `{path}` does not fit its input; {count}:\n{issues}", count = plural(issues.len(), "problem"))]
    Invalid { path: std::path::PathBuf, issues: Issues },
    #[error("cannot load the key")]
    Key(#[source] KeyError),
    #[error("column `{column}` needs a key, and `secrets.pseudonym_key` is not set")]
    MissingKey { column: String },
    #[error("internal error: {0}")]
    Internal(String),
    #[error("cannot calibrate the noise")]
    Calibration(#[source] crate::dp::mechanism::CalibrationError),
    #[error(transparent)]
    Decisions(#[from] DecisionsError),
}

/// The input opened and the job checked against its schema.
pub struct Bound {
    pub source: DataSource,
}

/// Opens the input and checks the job against its schema and its lists' schemas.
///
/// # Errors
/// [`PlanError::Invalid`] with every problem, or an input that cannot be read.
pub fn bind(job: &Job) -> Result<Bound, PlanError> {
    bind_with(job, BATCH_SIZE)
}

/// As [`bind`], reading `batch_rows` rows per record batch (results never depend on it).
///
/// # Errors
/// As [`bind`].
pub fn bind_with(job: &Job, batch_rows: usize) -> Result<Bound, PlanError> {
    let source = DataSource::open(&job.input, batch_rows.max(1)).map_err(PlanError::Input)?;
    bind_source(job, source)
}

/// As [`bind_with`], for a source the caller opened (data in memory, in place of the job's
/// `input`): the same checks against its schema.
///
/// # Errors
/// As [`bind_with`], but for opening the input.
pub fn bind_source(job: &Job, source: DataSource) -> Result<Bound, PlanError> {
    let mut list_schemas = Vec::new();
    if let Some(consent) = &job.consent {
        for exclusion in &consent.exclude {
            let schema = consent::list_schema(exclusion)
                .map_err(|source| PlanError::ExclusionList { path: exclusion.path.clone(), source })?;
            list_schemas.push(schema);
        }
    }
    let mut issues = check::against_schema(job, &source.schema(), &list_schemas);
    if let Some(issue) = lattice_issue(job) {
        issues.push(issue);
    }
    if let Some(path) = job.privacy.k_anonymity.as_ref().and_then(|k| k.decisions.as_deref()) {
        let file = DecisionsFile::load(path)?;
        issues.0.extend(frozen_issues(job, &source.schema(), &file));
    }
    if !issues.is_empty() {
        return Err(PlanError::Invalid { path: job.file.clone(), issues });
    }
    Ok(Bound { source })
}

/// The optimal search's lattice, when it exceeds [`crate::privacy::search::MAX_LATTICE`]: the
/// product over quasi-identifiers of their levels (a pinned column counts once). Needs the
/// hierarchies only, no data, so `validate` and dry runs refuse such a job.
fn lattice_issue(job: &Job) -> Option<crate::job::Issue> {
    use crate::job::{Action, Algorithm, KeyPath};
    let k_anonymity = job.privacy.k_anonymity.as_ref()?;
    if k_anonymity.algorithm == Algorithm::Mondrian || k_anonymity.decisions.is_some() {
        return None;
    }
    let mut size = 1u64;
    let mut factors = Vec::new();
    for column in &job.columns {
        if let Action::Generalize(g) = &column.action {
            let levels = crate::privacy::hierarchy::levels_of(g.hierarchy.as_ref()).ok()?;
            let choices = if g.level.is_some() { 1 } else { u64::from(levels) + 1 };
            size = size.saturating_mul(choices);
            factors.push(format!("{} {choices}", column.name));
        }
    }
    let limit = crate::privacy::search::MAX_LATTICE;
    (size > limit).then(|| {
        let path = KeyPath::root("privacy").join("k_anonymity");
        crate::job::Issue {
            position: job.document.position_of(&path.0),
            path,
            message: format!(
                "the k-anonymity search would consider {size} transformations ({}), more than the {limit} it searches",
                factors.join(" × ")
            ),
            hint: Some(
                "pin some columns with `level:`, use hierarchies with fewer levels, or set `algorithm: mondrian`"
                    .into(),
            ),
        }
    })
}

/// Why a column is not in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// `action: drop`.
    Action,
    /// Not named in the job, with `unlisted_columns: drop`.
    Unlisted,
}

/// One input column and what becomes of it.
#[derive(Clone)]
pub struct Step {
    pub name: String,
    pub input_index: usize,
    pub input_type: DataType,
    /// `None`: the column is dropped.
    pub output: Option<(Kernel, DataType)>,
    pub action: &'static str,
    /// Parameters worth stating in the summary (method, domain, kept characters).
    pub detail: String,
    pub dropped: Option<DropReason>,
    /// `pseudonymize` with `unique: true`: the token length; tokens are checked for collisions.
    pub unique: Option<usize>,
}

/// The compiled job.
pub struct Plan {
    /// One step per input column, in input order.
    pub steps: Vec<Step>,
    /// The steps' outputs, then `suppressed` with `suppressed_rows: flag`.
    pub output_schema: SchemaRef,
    /// `privacy.k_anonymity.decisions`, read and checked against the job and the input.
    pub frozen: Option<Arc<DecisionsFile>>,
    /// Whether the output ends with the boolean column `suppressed`.
    pub suppressed_flag: bool,
}

/// The name of the column `suppressed_rows: flag` adds.
pub const SUPPRESSED_COLUMN: &str = "suppressed";

impl fmt::Debug for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plan").field("columns", &self.steps.iter().map(|s| &s.name).collect::<Vec<_>>()).finish()
    }
}

/// Loads the job's key if any column needs it.
///
/// # Errors
/// [`PlanError::Key`] when the key is needed and cannot be loaded.
pub fn load_key(job: &Job) -> Result<Option<Key>, PlanError> {
    let Some(column) = job.columns.iter().find(|c| c.action.needs_key()) else {
        return Ok(None);
    };
    match &job.pseudonym_key {
        Some(source) => Key::load(source).map(Some).map_err(PlanError::Key),
        // `load` refuses such a job; kept for callers that build a `Job` by hand.
        None => Err(PlanError::MissingKey { column: column.name.clone() }),
    }
}

/// Compiles the job against the input schema.
///
/// # Errors
/// [`PlanError`] when a column's action cannot apply or its key or noise is unusable.
pub fn compile(job: &Job, schema: &Schema, key: Option<&Key>, noise_master: [u8; 32]) -> Result<Plan, PlanError> {
    compile_with(job, schema, key, noise_master, None)
}

/// As [`compile`], with `frozen` standing for the file `privacy.k_anonymity.decisions` names
/// (decisions made in this process, checked against the job the same way).
///
/// # Errors
/// As [`compile`].
pub(crate) fn compile_with(
    job: &Job,
    schema: &Schema,
    key: Option<&Key>,
    noise_master: [u8; 32],
    frozen: Option<DecisionsFile>,
) -> Result<Plan, PlanError> {
    let given = frozen;
    let mut steps = Vec::new();
    let mut fields = Vec::new();
    for (input_index, field) in schema.fields().iter().enumerate() {
        let name = field.name().clone();
        let input_type = field.data_type().clone();
        let spec = job.column(&name);
        let (kernel, action, detail, dropped) = match spec.map(|s| &s.action) {
            None => (None, "drop", "not listed; unlisted_columns: drop".to_string(), Some(DropReason::Unlisted)),
            Some(action) => {
                let context =
                    crate::actions::Context { column: &name, input_type: &input_type, schema, key, noise_master };
                let compiled = crate::actions::compile(action, &context)?;
                (compiled.kernel, action.name(), compiled.detail, compiled.dropped)
            }
        };
        let output = kernel.map(|k| {
            let t = k.output_type(&input_type);
            (k, t)
        });
        match (&output, spec.map(|s| &s.action)) {
            // `format: bounds`: the column becomes its low and high bounds, in its own type.
            (Some(_), Some(Action::Generalize(g))) if g.bounds => {
                for end in ["low", "high"] {
                    fields.push(Field::new(format!("{name}_{end}"), input_type.clone(), true));
                }
            }
            (Some((_, t)), _) => fields.push(Field::new(&name, t.clone(), true)),
            (None, _) => {}
        }
        let unique = match spec.map(|s| &s.action) {
            Some(Action::Pseudonymize(p)) if p.unique => Some(p.length),
            _ => None,
        };
        steps.push(Step { name, input_index, input_type, output, action, detail, dropped, unique });
    }
    // Who chooses the generalized columns' levels, when the job does not pin them.
    if let Some(k) = job.privacy.k_anonymity.as_ref() {
        let chooser = match (&k.decisions, k.algorithm) {
            (Some(path), _) => format!("levels frozen from {}", path.display()),
            (None, crate::job::Algorithm::Mondrian) => "partitions chosen by Mondrian".to_string(),
            (None, crate::job::Algorithm::Optimal) => "level chosen by the search".to_string(),
        };
        for step in steps.iter_mut().filter(|s| matches!(s.output, Some((Kernel::Recoded, _)))) {
            step.detail = step.detail.replace("level chosen by the search", &chooser);
        }
    }
    let mut issues = Issues::default();
    let mut seen = std::collections::HashSet::new();
    for field in &fields {
        if !seen.insert(field.name().as_str()) {
            issues.push(issue(
                job,
                KeyPath::root("columns"),
                format!(
                    "two output columns would be called `{}` (`format: bounds` adds `NAME_low` and `NAME_high`)",
                    field.name()
                ),
                Some("rename or drop the input column of that name"),
            ));
        }
    }
    let quasi = steps.iter().any(|s| matches!(s.output, Some((Kernel::Recoded, _))));
    let k_anonymity = job.privacy.k_anonymity.as_ref();
    let suppressed_flag =
        quasi && k_anonymity.is_some_and(|k| k.suppressed_rows == crate::privacy::recode::SuppressedRows::Flag);
    if suppressed_flag {
        if fields.iter().any(|f| f.name() == SUPPRESSED_COLUMN) {
            issues.push(issue(
                job,
                KeyPath::root("privacy").join("k_anonymity").join("suppressed_rows"),
                format!(
                    "`suppressed_rows: flag` adds the column `{SUPPRESSED_COLUMN}`, and the output already has one"
                ),
                Some("rename or drop the output's `suppressed` column, or use `mask` or `remove`"),
            ));
        }
        fields.push(Field::new(SUPPRESSED_COLUMN, DataType::Boolean, false));
    }
    let frozen = match k_anonymity.and_then(|k| k.decisions.as_deref()) {
        Some(path) if quasi => {
            let file = match given {
                Some(file) => file,
                None => DecisionsFile::load(path)?,
            };
            issues.0.extend(frozen_issues(job, schema, &file));
            Some(Arc::new(file))
        }
        _ => None,
    };
    if !issues.is_empty() {
        return Err(PlanError::Invalid { path: job.file.clone(), issues });
    }
    Ok(Plan { steps, output_schema: Arc::new(Schema::new(fields)), frozen, suppressed_flag })
}

fn issue(job: &Job, path: KeyPath, message: impl Into<String>, hint: Option<&str>) -> Issue {
    Issue { position: job.document.position_of(&path.0), path, message: message.into(), hint: hint.map(Into::into) }
}

/// What keeps a job from reusing `file`: other quasi-identifiers, other kinds of input column,
/// other hierarchies, or pinned levels that say otherwise.
fn frozen_issues(job: &Job, schema: &Schema, file: &DecisionsFile) -> Vec<Issue> {
    let mut issues = Vec::new();
    let at = KeyPath::root("privacy").join("k_anonymity").join("decisions");
    let generalized: Vec<&Field> = schema
        .fields()
        .iter()
        .filter(|f| matches!(job.column(f.name()).map(|c| &c.action), Some(Action::Generalize(_))))
        .map(AsRef::as_ref)
        .collect();
    let mut ours: Vec<&str> = generalized.iter().map(|f| f.name().as_str()).collect();
    let mut theirs: Vec<&str> = file.quasi_identifiers.iter().map(|q| q.name.as_str()).collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    if ours != theirs {
        issues.push(issue(
            job,
            at,
            format!(
                "the decisions are for the quasi-identifiers {}; this job generalizes {}",
                theirs.join(", "),
                ours.join(", ")
            ),
            Some(
                "generalize the same columns as the run that made the decisions, or remove `decisions` to search anew",
            ),
        ));
        return issues;
    }
    for field in generalized {
        let Some(decided) = file.quasi(field.name()) else { continue };
        let column = KeyPath::root("columns").join(field.name());
        let (was, is) = (type_kind(&decided.input_type), type_kind(&field.data_type().to_string()));
        if was != is {
            issues.push(issue(
                job,
                column.clone(),
                format!("the decisions were made for {was} values; this input's column holds {is} values"),
                Some("declare the column's type with `input.types`"),
            ));
        }
        let Some(Action::Generalize(g)) = job.column(field.name()).map(|c| &c.action) else { continue };
        if let Some(level) = g.level
            && decided.level.is_some_and(|l| l != level)
        {
            issues.push(issue(
                job,
                column.join("level"),
                format!("the decisions chose level {} for this column, not {level}", decided.level.unwrap_or(0)),
                Some("remove `level` (the decisions fix it)"),
            ));
        }
        if HierarchySpec::embed(g.hierarchy.as_ref()).is_ok_and(|h| h != decided.hierarchy) {
            issues.push(issue(
                job,
                column.join("hierarchy"),
                "this hierarchy differs from the one the decisions were made with; their labels would not be this job's",
                Some("restore the hierarchy of the run that made the decisions, or remove `decisions` to search anew"),
            ));
        }
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;

    fn job(columns: &str) -> Job {
        let text = format!(
            "version: 1\nname: t\ninput: {{ path: in.csv }}\nsecrets: {{ pseudonym_key: {{ env: K }} }}\n\
             unlisted_columns: drop\ncolumns:\n{columns}\
             privacy: {{ budget: {{ ledger: b.json, dataset: d, epsilon: 5 }} }}\noutput: {{ path: out.csv }}\n"
        );
        crate::job::from_text(&text, crate::job::Syntax::Yaml, std::path::Path::new("/t")).unwrap()
    }

    /// One step per input column in input order; the output keeps the input's order and drops
    /// what is dropped; each action gets its kernel and output type.
    #[test]
    fn a_job_compiles_to_one_step_per_input_column() {
        let job = job("  id: pseudonymize\n  name: drop\n  phone: { action: mask, keep_last: 2 }\n\
             \x20 income: { action: noise, epsilon: 1, bounds: [0, 1000] }\n  note: { action: redact, with: x }\n");
        let schema = Schema::new(vec![
            Field::new("note", DataType::Utf8, true),
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("secret", DataType::Utf8, true),
            Field::new("phone", DataType::Utf8, true),
            Field::new("income", DataType::Float64, true),
        ]);
        let key = Key::from_hex(&"11".repeat(32)).unwrap();
        let plan = compile(&job, &schema, Some(&key), [3; 32]).unwrap();
        let steps: Vec<(&str, &str, Option<DropReason>)> =
            plan.steps.iter().map(|s| (s.name.as_str(), s.action, s.dropped)).collect();
        assert_eq!(
            steps,
            [
                ("note", "redact", None),
                ("id", "pseudonymize", None),
                ("name", "drop", Some(DropReason::Action)),
                ("secret", "drop", Some(DropReason::Unlisted)),
                ("phone", "mask", None),
                ("income", "noise", None),
            ]
        );
        let output: Vec<(String, DataType)> =
            plan.output_schema.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect();
        assert_eq!(
            output,
            [
                ("note".to_string(), DataType::Utf8),
                ("id".to_string(), DataType::Utf8),
                ("phone".to_string(), DataType::Utf8),
                ("income".to_string(), DataType::Float64),
            ]
        );
        assert!(plan.steps[5].detail.starts_with("laplace, epsilon 1"), "{}", plan.steps[5].detail);
        // Without the key, a column that needs it is named.
        let error = compile(&job, &schema, None, [3; 32]).unwrap_err();
        assert!(error.to_string().contains("id"), "{error}");
    }
}
