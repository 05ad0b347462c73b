//! `shift`: dates move by a keyed number of days per subject, so intervals within a subject stay.
//!
//! Everything that defines it: its options and how they are read, the column kinds it takes,
//! its kernel, and how the summary, lineage and report describe it.

use super::{CheckContext, Compiled, Context, Definition, Kernel};
use crate::job::Issue;
use crate::job::check::Kind;
use crate::job::check::issue;
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;
use crate::job::*;
use crate::plan::PlanError;
use crate::record::RunSummary;
use crate::text::to_text;
use crate::transform::encrypt::ROWS_REPORTED;
use crate::transform::shift::ShiftError;
use crate::transform::shift::Shifter;
use crate::transform::{Input, TransformError};
use arrow::array::ArrayRef;
use serde::Deserialize;

/// `shift`: every date of one subject moves by the same secret number of days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    /// The column that identifies the subject.
    pub by: String,
    /// Shifts are drawn uniformly from `-max_days..=max_days`.
    pub max_days: u32,
}

pub(crate) static DEFINITION: Definition = Definition {
    name: "shift",
    needs_key: true,
    parse,
    compile,
    accepts,
    check,
    reason,
    describe: super::plain,
    output_type: super::same_type,
    hides_as: None,
    apply,
};

/// `action: shift`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShiftConfig {
    /// The column that identifies the subject; all of a subject's dates move together.
    pub by: String,
    /// The largest shift in days, either way.
    pub max_days: u32,
}

fn parse(p: &mut Parser<'_>, column: &str, value: serde_json::Value, path: &KeyPath) -> Option<Action> {
    let c: ShiftConfig = p.de_json(value, path)?;
    if c.max_days == 0 || c.max_days > 36_500 {
        p.issue(&path.join("max_days"), format!("max_days is 1 to 36,500, not {}", c.max_days));
        return None;
    }
    if c.by == column {
        p.issue(&path.join("by"), "a column cannot be shifted by its own values");
        return None;
    }
    Some(Action::Shift(Shift { by: c.by, max_days: c.max_days }))
}

/// The kernel and the summary's detail of a column with this action.
pub(crate) fn compile(action: &Action, context: &Context<'_>) -> Result<Compiled, PlanError> {
    let Action::Shift(shift) = action else {
        return Err(super::not_this(context, "shift"));
    };
    let key = context.key()?;
    let Ok(by) = context.schema.index_of(&shift.by) else {
        return Err(PlanError::Internal(format!(
            "the subject column of `{}` passed validation but is missing",
            context.column
        )));
    };
    let detail = format!("by `{}`, up to {} days either way", shift.by, shift.max_days);
    let kernel = Kernel::Shift { shifter: Shifter::new(key, shift.max_days), by };
    Ok(Compiled { kernel: Some(kernel), detail, dropped: None })
}

/// The kinds of column it takes.
fn accepts(_: &Action) -> Option<&'static [Kind]> {
    use Kind::*;
    Some(&[Date, Timestamp])
}

/// Checks beyond the column's kind: the subject column exists and can identify a subject.
fn check(action: &Action, context: &CheckContext<'_>) -> Vec<Issue> {
    let Action::Shift(shift) = action else { return Vec::new() };
    match (context.kind_of)(&shift.by) {
        None => vec![(context.missing)(context.path.join("by"), "subject column", &shift.by)],
        Some(Kind::Other) => vec![issue(
            context.path.join("by"),
            format!("the subject column `{}` is nested or binary and cannot identify a subject", shift.by),
            None,
        )],
        Some(_) => Vec::new(),
    }
}

/// Why a column gets this action, in plain words, for the report.
fn reason(action: &Action, _job: &Job, _summary: &RunSummary) -> String {
    match action {
        Action::Shift(s) => format!(
            "A date that could identify someone together with other facts: moved by a secret number of days (up to {} either way) that is the same for every date of one `{}`, so intervals per subject stay true.",
            s.max_days, s.by
        ),
        _ => String::new(),
    }
}

/// Every date moved by its subject's shift.
fn apply(kernel: &Kernel, input: &Input<'_>) -> Result<ArrayRef, TransformError> {
    let Kernel::Shift { shifter, by } = kernel else { return Err(input.no_text("shift")) };
    let subjects = to_text(input.batch.column(*by)).ok_or_else(|| input.no_text("shift"))?;
    shifter.shift(input.values, &subjects).map_err(|e| match e {
        ShiftError::Type => input.no_text("shift"),
        ShiftError::Overflow(rows) => TransformError::Values {
            column: input.column.to_string(),
            action: "shift",
            count: rows.len(),
            rows: rows.iter().take(ROWS_REPORTED).map(|&i| i as u64).collect(),
            problem: "the shifted date does not fit the column's type".into(),
        },
    })
}
