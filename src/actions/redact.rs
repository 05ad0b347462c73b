//! `redact`: every value becomes null, or one constant.
//!
//! Its options and how they are read from a job file.

use super::{Compiled, Context, Definition};
use crate::job::check::Kind;
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;
use crate::job::*;
use crate::plan::PlanError;
use crate::record::RunSummary;
use crate::transform::Kernel;
use serde::Deserialize;

pub(crate) const DEFINITION: Definition =
    Definition { name: "redact", parse, compile, accepts, check: super::no_checks, reason, describe: super::plain };

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

/// The kinds of column it takes (`None`: any).
fn accepts(_: &Action) -> Option<&'static [Kind]> {
    None
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
