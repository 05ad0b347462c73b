//! `mask`: characters are replaced, keeping a given number at the start and the end.
//!
//! Everything that defines it: its options and how they are read, the column kinds it takes,
//! its kernel, and how the summary, lineage and report describe it.

use super::{Compiled, Context, Definition, Kernel};
use crate::job::check::Kind;
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;
use crate::job::*;
use crate::plan::PlanError;
use crate::record::RunSummary;
use crate::transform::{Input, TransformError};
use arrow::array::ArrayRef;
use serde::Deserialize;
use std::sync::Arc;

pub(crate) static DEFINITION: Definition = Definition {
    name: "mask",
    needs_key: false,
    parse,
    compile,
    accepts,
    check: super::no_checks,
    reason,
    describe: super::plain,
    output_type: super::text_type,
    hides_as: None,
    apply,
};

/// `action: mask`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MaskConfig {
    /// Characters kept at the start.
    #[serde(default)]
    pub keep_first: u32,
    /// Characters kept at the end.
    #[serde(default)]
    pub keep_last: u32,
    /// The replacement character (default `*`).
    pub char: Option<String>,
}

fn parse(p: &mut Parser<'_>, _column: &str, value: serde_json::Value, path: &KeyPath) -> Option<Action> {
    let c: MaskConfig = p.de_json(value, path)?;
    let char = match c.char.as_deref() {
        None => '*',
        Some(s) => {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(ch), None) => ch,
                _ => {
                    p.issue(&path.join("char"), "the mask character is exactly one character");
                    return None;
                }
            }
        }
    };
    Some(Action::Mask(Mask { keep_first: c.keep_first as usize, keep_last: c.keep_last as usize, char }))
}

/// The kernel and the summary's detail of a column with this action.
pub(crate) fn compile(action: &Action, context: &Context<'_>) -> Result<Compiled, PlanError> {
    let Action::Mask(rule) = action else {
        return Err(super::not_this(context, "mask"));
    };
    let detail = format!("keeps first {}, last {} characters", rule.keep_first, rule.keep_last);
    Ok(Compiled { kernel: Some(Kernel::Mask(rule.clone())), detail, dropped: None })
}

/// The kinds of column it takes.
fn accepts(_: &Action) -> Option<&'static [Kind]> {
    use Kind::*;
    Some(&[Text, Integer])
}

/// Why a column gets this action, in plain words, for the report.
fn reason(action: &Action, _job: &Job, _summary: &RunSummary) -> String {
    match action {
        Action::Mask(m) => format!(
            "Treated as a direct identifier whose shape matters: only the first {} and last {} characters stay, the rest become `{}`.",
            m.keep_first, m.keep_last, m.char
        ),
        _ => String::new(),
    }
}

/// The masked text of every value.
fn apply(kernel: &Kernel, input: &Input<'_>) -> Result<ArrayRef, TransformError> {
    let Kernel::Mask(rule) = kernel else { return Err(input.no_text("mask")) };
    Ok(Arc::new(crate::transform::mask::mask(&input.text("mask")?, rule)))
}
