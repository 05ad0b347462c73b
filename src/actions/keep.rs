//! `keep`: the value is written unchanged (a sensitive column is protected by l-diversity and t-closeness).
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
use arrow::array::ArrayRef;
use serde::Deserialize;

pub(crate) static DEFINITION: Definition = Definition {
    name: "keep",
    needs_key: false,
    parse,
    compile,
    accepts: super::any_kind,
    check: super::no_checks,
    reason,
    describe: super::plain,
    output_type: super::same_type,
    hides_as: None,
    apply,
};

/// `action: keep`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeepConfig {
    /// Protected by l-diversity / t-closeness when true.
    #[serde(default)]
    pub sensitive: bool,
}

fn parse(p: &mut Parser<'_>, _column: &str, value: serde_json::Value, path: &KeyPath) -> Option<Action> {
    p.de_json::<KeepConfig>(value, path).map(|c| Action::Keep { sensitive: c.sensitive })
}

/// The kernel and the summary's detail of a column with this action.
pub(crate) fn compile(action: &Action, context: &Context<'_>) -> Result<Compiled, PlanError> {
    let Action::Keep { sensitive } = action else {
        return Err(super::not_this(context, "keep"));
    };
    let detail = if *sensitive { "sensitive".into() } else { String::new() };
    Ok(Compiled { kernel: Some(Kernel::Keep), detail, dropped: None })
}

/// Why a column gets this action, in plain words, for the report.
fn reason(action: &Action, job: &Job, _summary: &RunSummary) -> String {
    match action {
        Action::Keep { sensitive: true } => {
            if job.privacy.l_diversity.is_some() || job.privacy.t_closeness.is_some() {
                "The sensitive attribute the analysis needs: kept, and protected by l-diversity / t-closeness within every class of quasi-identifiers.".into()
            } else {
                "Marked sensitive and kept unchanged.".into()
            }
        }
        Action::Keep { sensitive: false } => "Kept unchanged.".into(),
        _ => String::new(),
    }
}

/// The values as they are.
fn apply(_: &Kernel, input: &Input<'_>) -> Result<ArrayRef, TransformError> {
    Ok(input.values.clone())
}
