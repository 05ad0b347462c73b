//! `redact`: every value becomes null, or one constant.
//!
//! Everything that defines it: its options and how they are read, the column kinds it takes,
//! its kernel, and how the summary, lineage and report describe it.

use super::{Compiled, Context, Definition, Kernel};
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;
use crate::job::*;
use crate::plan::PlanError;
use crate::record::RunSummary;
use crate::transform::{Input, TransformError};
use arrow::array::{ArrayRef, StringArray, new_null_array};
use arrow::datatypes::DataType;
use serde::Deserialize;
use std::sync::Arc;

pub(crate) static DEFINITION: Definition = Definition {
    name: "redact",
    needs_key: false,
    parse,
    compile,
    accepts: super::any_kind,
    check: super::no_checks,
    reason,
    describe: super::plain,
    output_type,
    hides_as: None,
    apply,
};

/// `action: redact`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedactConfig {
    /// Constant written instead of null.
    pub with: Option<String>,
}

fn parse(p: &mut Parser<'_>, _column: &str, value: serde_json::Value, path: &KeyPath) -> Option<Action> {
    p.de_json::<RedactConfig>(value, path).map(|c| Action::Redact { with: c.with })
}

/// The kernel and the summary's detail of a column with this action.
pub(crate) fn compile(action: &Action, context: &Context<'_>) -> Result<Compiled, PlanError> {
    let Action::Redact { with } = action else {
        return Err(super::not_this(context, "redact"));
    };
    let detail = if with.is_some() { "replaced by a constant" } else { "set to null" };
    Ok(Compiled { kernel: Some(Kernel::Redact { with: with.clone() }), detail: detail.into(), dropped: None })
}

/// Why a column gets this action, in plain words, for the report.
fn reason(action: &Action, _job: &Job, _summary: &RunSummary) -> String {
    match action {
        Action::Redact { with: None } => "Treated as a direct identifier: every value is replaced by null.".into(),
        Action::Redact { with: Some(_) } => {
            "Treated as a direct identifier: every value is replaced by one constant.".into()
        }
        _ => String::new(),
    }
}

/// Null keeps the input's type; a constant is text.
fn output_type(kernel: &Kernel, input: &DataType) -> DataType {
    match kernel {
        Kernel::Redact { with: Some(_) } => DataType::Utf8,
        _ => input.clone(),
    }
}

/// Every value becomes null, or the constant.
fn apply(kernel: &Kernel, input: &Input<'_>) -> Result<ArrayRef, TransformError> {
    let rows = input.values.len();
    Ok(match kernel {
        Kernel::Redact { with: Some(constant) } => {
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n(constant.as_str(), rows)))
        }
        _ => new_null_array(input.values.data_type(), rows),
    })
}
