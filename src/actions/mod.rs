//! One module per action: everything that defines it (its options, how they are read and
//! checked, the column types it takes, its kernel, and how the summary, lineage and report
//! describe it) lives in its file. This module is the registry: `REGISTRY` lists the
//! definitions (the job file's `action:` is looked up there and nowhere else), and [`Action`]
//! (the parsed options) and [`Kernel`] (the compiled column transformation) have one variant per
//! action, each mapped to its definition. Adding an action means one new file and its entries
//! here.

pub mod drop;
pub mod encrypt;
pub mod generalize;
pub mod keep;
pub mod mask;
pub mod noise;
pub mod pseudonymize;
pub mod redact;
pub mod shift;

use crate::job::Issue;
use crate::job::check::Kind;
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;
use crate::keys::Key;
use crate::plan::{DropReason, PlanError};
use crate::transform::{Input, TransformError};
use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Schema};

/// What happens to a column.
#[derive(Debug, Clone)]
pub enum Action {
    Keep { sensitive: bool },
    Drop,
    Redact { with: Option<String> },
    Mask(crate::transform::mask::Mask),
    Pseudonymize(pseudonymize::Pseudonymize),
    Encrypt(encrypt::Encrypt),
    Shift(shift::Shift),
    Generalize(generalize::Generalize),
    Noise(crate::dp::mechanism::Noise),
}

impl Action {
    /// The action's name as the job file spells it (its definition's, see [`crate::actions`]).
    pub fn name(&self) -> &'static str {
        crate::actions::definition(self).name
    }

    /// Whether the action needs the job's key.
    pub fn needs_key(&self) -> bool {
        definition(self).needs_key
    }
}

/// A column transformation, compiled from an action with its key material.
#[derive(Clone)]
pub enum Kernel {
    Keep,
    Redact {
        with: Option<String>,
    },
    Mask(crate::transform::mask::Mask),
    Pseudonymize(crate::transform::pseudonymize::Pseudonymizer),
    Encrypt(Box<crate::transform::encrypt::Ff1>),
    /// Shifts dates by the subject in input column `by`.
    Shift {
        shifter: crate::transform::shift::Shifter,
        by: usize,
    },
    /// A quasi-identifier: the runner fills it from the dataset-wide recoding.
    Recoded,
    /// Differentially private noise; `master` keys the per-batch generators.
    Noise {
        calibrated: std::sync::Arc<crate::dp::mechanism::Calibrated>,
        master: [u8; 32],
    },
}

impl Kernel {
    /// What the output holds instead of the value, when it is not a released attribute (see
    /// each action's `hides_as`).
    pub fn hides_as(&self) -> Option<&'static str> {
        crate::actions::kernel_definition(self).hides_as
    }

    /// The output type for an input type (see each action's `output_type`).
    pub fn output_type(&self, input: &DataType) -> DataType {
        (crate::actions::kernel_definition(self).output_type)(self, input)
    }

    /// Transforms one column of one batch; `batch` holds the row's other input columns, `rows`
    /// the identities of its rows (see each action's `apply`).
    ///
    /// # Errors
    /// [`TransformError`] when the column has no text form for a text kernel, or values the
    /// kernel cannot take (too short for FF1, dates shifted out of range).
    pub fn apply(
        &self,
        column: &str,
        values: &ArrayRef,
        batch: &RecordBatch,
        rows: &crate::io::Rows<'_>,
    ) -> Result<ArrayRef, TransformError> {
        (crate::actions::kernel_definition(self).apply)(self, &Input { column, values, batch, rows })
    }
}

/// Reads a column's options (its mapping without `action`) into the job's model, reporting
/// problems to the parser.
pub(crate) type ParseFn = fn(&mut Parser<'_>, &str, serde_json::Value, &KeyPath) -> Option<Action>;

/// What the registry knows of an action.
pub(crate) struct Definition {
    /// The action's name in job files.
    pub name: &'static str,
    /// Whether it needs the job's key.
    pub needs_key: bool,
    pub parse: ParseFn,
    /// The kernel and summary detail of a column with this action.
    pub compile: fn(&Action, &Context<'_>) -> Result<Compiled, PlanError>,
    /// The kinds of column it takes (`None`: any).
    pub accepts: fn(&Action) -> Option<&'static [Kind]>,
    /// Its checks against the input schema beyond the column's kind.
    pub check: fn(&Action, &CheckContext<'_>) -> Vec<Issue>,
    /// Why a column gets it, in plain words (the report's column table).
    pub reason: fn(&Action, &crate::job::Job, &crate::record::RunSummary) -> String,
    /// What was done to a column, in plain words (column lineage, report).
    pub describe: fn(&Action, &crate::record::ColumnSummary, &crate::record::RunSummary) -> String,
    /// The type its kernel writes for an input type.
    pub output_type: fn(&Kernel, &DataType) -> DataType,
    /// What the output holds instead of the value when it is not a released attribute (`token`,
    /// `ciphertext`, `noise`); `None`: the column is written as values and counts in the
    /// measured risk (see [`crate::privacy::exposure`]).
    pub hides_as: Option<&'static str>,
    /// Its kernel on one column of one batch.
    pub apply:
        fn(&Kernel, &crate::transform::Input<'_>) -> Result<arrow::array::ArrayRef, crate::transform::TransformError>,
}

/// Every action, in the order the documentation lists them.
pub(crate) static REGISTRY: &[&Definition] = &[
    &keep::DEFINITION,
    &drop::DEFINITION,
    &redact::DEFINITION,
    &mask::DEFINITION,
    &pseudonymize::DEFINITION,
    &encrypt::DEFINITION,
    &shift::DEFINITION,
    &generalize::DEFINITION,
    &noise::DEFINITION,
];

/// The action called `name` in job files.
pub(crate) fn find(name: &str) -> Option<&'static Definition> {
    REGISTRY.iter().copied().find(|d| d.name == name)
}

/// The names of every action.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|d| d.name).collect()
}

/// What compiling a column's action needs to know.
pub(crate) struct Context<'a> {
    pub column: &'a str,
    pub input_type: &'a DataType,
    /// The input's schema (`shift` looks up its subject column).
    pub schema: &'a Schema,
    pub key: Option<&'a Key>,
    pub noise_master: [u8; 32],
}

impl Context<'_> {
    /// The key, which this column's action needs.
    ///
    /// # Errors
    /// [`PlanError::MissingKey`].
    pub fn key(&self) -> Result<&Key, PlanError> {
        self.key.ok_or_else(|| PlanError::MissingKey { column: self.column.to_string() })
    }
}

/// A column's action compiled against its input type.
pub(crate) struct Compiled {
    /// `None`: the column is not in the output.
    pub kernel: Option<Kernel>,
    /// Parameters worth stating in the summary.
    pub detail: String,
    pub dropped: Option<DropReason>,
}

/// The definition of `action`'s kind.
pub(crate) fn definition(action: &Action) -> &'static Definition {
    match action {
        Action::Keep { .. } => &keep::DEFINITION,
        Action::Drop => &drop::DEFINITION,
        Action::Redact { .. } => &redact::DEFINITION,
        Action::Mask(_) => &mask::DEFINITION,
        Action::Pseudonymize(_) => &pseudonymize::DEFINITION,
        Action::Encrypt(_) => &encrypt::DEFINITION,
        Action::Shift(_) => &shift::DEFINITION,
        Action::Generalize(_) => &generalize::DEFINITION,
        Action::Noise(_) => &noise::DEFINITION,
    }
}

/// Compiles a column's action (see each action's `compile`).
///
/// # Errors
/// [`PlanError`] when the action cannot apply (its key, its noise calibration).
pub(crate) fn compile(action: &Action, context: &Context<'_>) -> Result<Compiled, PlanError> {
    (definition(action).compile)(action, context)
}

/// An action's `compile` called with another action's column (a bug in the registry).
fn not_this(context: &Context<'_>, action: &str) -> PlanError {
    PlanError::Internal(format!("column `{}` was compiled as `{action}`, which it is not", context.column))
}

/// What checking a column's action against the input schema needs to know.
pub(crate) struct CheckContext<'a> {
    pub column: &'a str,
    /// Where problems are reported.
    pub path: &'a KeyPath,
    pub kind: Kind,
    pub data_type: &'a DataType,
    /// The input is Parquet (type hints for CSV do not apply).
    pub parquet: bool,
    /// The kind of another input column (`None`: not in the input).
    pub kind_of: &'a dyn Fn(&str) -> Option<Kind>,
    /// The problem "`what` `name` is not in the input", with a hint.
    pub missing: &'a dyn Fn(KeyPath, &str, &str) -> Issue,
}

/// For actions that take any column kind.
fn any_kind(_: &Action) -> Option<&'static [Kind]> {
    None
}

/// For kernels whose output keeps the input's type.
fn same_type(_: &Kernel, input: &DataType) -> DataType {
    input.clone()
}

/// For kernels that write text.
fn text_type(_: &Kernel, _: &DataType) -> DataType {
    DataType::Utf8
}

/// For actions whose column kind is all there is to check.
fn no_checks(_: &Action, _: &CheckContext<'_>) -> Vec<Issue> {
    Vec::new()
}

/// The kinds of column `action` takes (`None`: any).
pub(crate) fn accepts(action: &Action) -> Option<&'static [Kind]> {
    (definition(action).accepts)(action)
}

/// `action`'s own checks against the input schema.
pub(crate) fn check(action: &Action, context: &CheckContext<'_>) -> Vec<Issue> {
    (definition(action).check)(action, context)
}

/// Why a column got `action`, in plain words (the report's column table).
pub(crate) fn reason(action: &Action, job: &crate::job::Job, summary: &crate::record::RunSummary) -> String {
    (definition(action).reason)(action, job, summary)
}

/// What was done to a column, in plain words (column lineage, report).
pub(crate) fn describe(
    action: &Action,
    column: &crate::record::ColumnSummary,
    summary: &crate::record::RunSummary,
) -> String {
    (definition(action).describe)(action, column, summary)
}

/// What the measured risk says of a column written as values (see
/// [`crate::privacy::exposure`]): its part in the output's uniqueness, from the figures, never
/// from what the job declares. Empty when the run measured nothing (a dry run).
pub(crate) fn measured(column: &str, summary: &crate::record::RunSummary) -> String {
    let Some(r) = &summary.released else { return String::new() };
    let Some(c) = r.per_column.iter().find(|c| c.name == column) else { return String::new() };
    let driver = r.drivers.iter().any(|d| d == column);
    let alone = if c.unique_rows_alone > 0.0 {
        format!("alone it makes {:.1}% of rows unique", 100.0 * c.unique_rows_alone)
    } else {
        "alone it makes no row unique".to_string()
    };
    let verdict = match (driver, r.risk.unique_rows > 0.0) {
        (true, _) => "it is one of the columns that drive the output's uniqueness",
        (false, true) => "the output's unique rows are driven by other columns (see the risk section)",
        (false, false) => "no row of the output is unique over the released attributes",
    };
    format!(
        " A released attribute, measured: {} distinct values ({:.1}% of rows); {alone}; {verdict}.",
        c.distinct,
        100.0 * c.distinct_ratio
    )
}

/// The action's name and the summary's detail, for actions with nothing more to say.
fn plain(_: &Action, column: &crate::record::ColumnSummary, _: &crate::record::RunSummary) -> String {
    plain_description(column)
}

/// A column's action name and its detail in parentheses.
pub(crate) fn plain_description(column: &crate::record::ColumnSummary) -> String {
    format!("{}{}", column.action, detail_suffix(column))
}

/// ` (detail)`, or nothing when the summary has no detail.
fn detail_suffix(column: &crate::record::ColumnSummary) -> String {
    if column.detail.is_empty() { String::new() } else { format!(" ({})", column.detail) }
}

/// The definition of the action a kernel was compiled from.
pub(crate) fn kernel_definition(kernel: &Kernel) -> &'static Definition {
    match kernel {
        Kernel::Keep => &keep::DEFINITION,
        Kernel::Redact { .. } => &redact::DEFINITION,
        Kernel::Mask(_) => &mask::DEFINITION,
        Kernel::Pseudonymize(_) => &pseudonymize::DEFINITION,
        Kernel::Encrypt(_) => &encrypt::DEFINITION,
        Kernel::Shift { .. } => &shift::DEFINITION,
        Kernel::Recoded => &generalize::DEFINITION,
        Kernel::Noise { .. } => &noise::DEFINITION,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every action is found by its own name, names are unique, each parsed action maps back to
    /// the definition that parsed it, and the README documents each one.
    #[test]
    fn the_registry_is_consistent_and_documented() {
        let names = names();
        let unique: std::collections::HashSet<&str> = names.iter().copied().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let mut columns = String::new();
        for &definition in REGISTRY {
            assert!(std::ptr::eq(find(definition.name).unwrap(), definition));
            assert!(readme.contains(&format!("`{}`", definition.name)), "README lacks `{}`", definition.name);
            let options = match definition.name {
                "mask" => "{ action: mask, keep_last: 2 }".to_string(),
                "shift" => "{ action: shift, by: id, max_days: 5 }".to_string(),
                "noise" => "{ action: noise, epsilon: 1, bounds: [0, 10] }".to_string(),
                "generalize" => "{ action: generalize, level: 1 }".to_string(),
                name => name.to_string(),
            };
            columns.push_str(&format!("  c_{}: {options}\n", definition.name));
        }
        let text = format!(
            "version: 1\nname: t\ninput: {{ path: in.csv }}\nsecrets: {{ pseudonym_key: {{ env: K }} }}\n\
             columns:\n  id: keep\n{columns}privacy: {{ budget: {{ ledger: b.json, dataset: d, epsilon: 5 }} }}\n\
             output: {{ path: out.csv }}\n"
        );
        let job = crate::job::from_text(&text, crate::job::Syntax::Yaml, std::path::Path::new("/t")).unwrap();
        for &definition in REGISTRY {
            let column = job.column(&format!("c_{}", definition.name)).unwrap();
            assert!(std::ptr::eq(super::definition(&column.action), definition), "{}", definition.name);
            assert_eq!(column.action.name(), definition.name);
            assert_eq!(column.action.needs_key(), definition.needs_key);
        }
    }
}
