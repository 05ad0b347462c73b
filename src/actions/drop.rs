//! `drop`: the column is left out of the output.
//!
//! Everything that defines it: its options and how they are read, the column kinds it takes,
//! its kernel, and how the summary, lineage and report describe it.

use super::{Compiled, Context, Definition, Kernel};
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;
use crate::job::*;
use crate::plan::DropReason;
use crate::plan::PlanError;
use crate::record::RunSummary;
use crate::transform::{Input, TransformError};
use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use serde::Deserialize;

pub(crate) static DEFINITION: Definition = Definition {
    name: "drop",
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

/// `action: drop`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DropConfig {}

fn parse(p: &mut Parser<'_>, _column: &str, value: serde_json::Value, path: &KeyPath) -> Option<Action> {
    p.de_json::<DropConfig>(value, path).map(|_| Action::Drop)
}

/// The kernel and the summary's detail of a column with this action.
pub(crate) fn compile(action: &Action, context: &Context<'_>) -> Result<Compiled, PlanError> {
    let Action::Drop = action else {
        return Err(super::not_this(context, "drop"));
    };
    Ok(Compiled { kernel: None, detail: String::new(), dropped: Some(DropReason::Action) })
}

/// Why a column gets this action, in plain words, for the report.
fn reason(action: &Action, _job: &Job, _summary: &RunSummary) -> String {
    match action {
        Action::Drop => "Treated as a direct identifier with no use downstream: it is not in the output at all.".into(),
        _ => String::new(),
    }
}

/// Never called: a dropped column has no kernel.
fn output_type(_: &Kernel, input: &DataType) -> DataType {
    input.clone()
}

/// Never called: a dropped column has no kernel.
fn apply(_: &Kernel, input: &Input<'_>) -> Result<ArrayRef, TransformError> {
    Err(TransformError::NotRowLocal { column: input.column.to_string() })
}
