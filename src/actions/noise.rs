//! `noise`: calibrated differentially private noise on each value, within clamping bounds.
//!
//! Everything that defines it: its options and how they are read, the column kinds it takes,
//! its kernel, and how the summary, lineage and report describe it.

use super::{CheckContext, Compiled, Context, Definition, Kernel};
use crate::dp::mechanism::Calibrated;
use crate::dp::mechanism::ValueKind;
use crate::dp::mechanism::{CellRng, add_noise};
use crate::job::Issue;
use crate::job::check::Kind;
use crate::job::check::issue;
use crate::job::config::*;
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;
use crate::job::*;
use crate::plan::PlanError;
use crate::record::{ColumnSummary, RunSummary};
use crate::transform::{Input, TransformError};
use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use serde::Deserialize;
use std::sync::Arc;

pub(crate) static DEFINITION: Definition = Definition {
    name: "noise",
    needs_key: false,
    parse,
    compile,
    accepts,
    check,
    reason,
    describe,
    output_type: super::same_type,
    hides_as: Some("noise"),
    apply,
};

/// `action: noise`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoiseConfig {
    /// `laplace` (default) or `gaussian`.
    #[serde(default)]
    pub mechanism: Mechanism,
    pub epsilon: f64,
    /// Gaussian only.
    pub delta: Option<f64>,
    /// `[low, high]`; values are clamped to them before noise. Dates: `YYYY-MM-DD` or days
    /// since 1970-01-01.
    pub bounds: Vec<BoundValue>,
    /// Dates: the unit noise is counted in.
    pub unit: Option<NoiseUnit>,
    /// Clamp noisy values to the bounds again (biases means).
    #[serde(default)]
    pub clamp_output: bool,
}

/// One bound of `noise`: a number, or a date for date columns.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum BoundValue {
    Number(f64),
    Date(String),
}

fn parse(p: &mut Parser<'_>, _column: &str, value: serde_json::Value, path: &KeyPath) -> Option<Action> {
    let c: NoiseConfig = p.de_json(value, path)?;
    // Checked now, returned after the bounds: both problems are reported together.
    let epsilon = p.epsilon(c.epsilon, &path.join("epsilon"));
    let mut numbers = Vec::with_capacity(c.bounds.len());
    for bound in &c.bounds {
        match bound {
            BoundValue::Number(n) => numbers.push(*n),
            BoundValue::Date(text) if c.unit.is_some() => match chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                Ok(d) => numbers.push(f64::from(crate::text::days_from_date(d))),
                Err(_) => {
                    p.issue(&path.join("bounds"), "date bounds are written YYYY-MM-DD");
                    return None;
                }
            },
            BoundValue::Date(_) => {
                p.issue(&path.join("bounds"), "bounds are numbers (dates only with `unit: days`)");
                return None;
            }
        }
    }
    let bounds = p.bounds(&numbers, &path.join("bounds"));
    let (epsilon, bounds) = (epsilon?, bounds?);
    let delta = match (c.mechanism, c.delta) {
        (Mechanism::Gaussian, None) => {
            p.issue(&path.join("delta"), "the gaussian mechanism needs `delta`, in (0, 1)");
            return None;
        }
        (Mechanism::Gaussian, Some(d)) => {
            if !(d.is_finite() && d > 0.0 && d < 1.0) {
                p.issue(&path.join("delta"), "delta is in (0, 1)");
                return None;
            }
            Delta::new(d)
        }
        (Mechanism::Laplace, Some(_)) => {
            p.issue(&path.join("delta"), "the laplace mechanism is pure differential privacy and takes no `delta`");
            return None;
        }
        (Mechanism::Laplace, None) => None,
    };
    Some(Action::Noise(Noise {
        mechanism: c.mechanism,
        epsilon,
        delta,
        bounds,
        unit_days: c.unit.is_some(),
        clamp_output: c.clamp_output,
    }))
}

/// The kernel and the summary's detail of a column with this action: the noise calibrated to
/// the column's type.
pub(crate) fn compile(action: &Action, context: &Context<'_>) -> Result<Compiled, PlanError> {
    let Action::Noise(n) = action else {
        return Err(super::not_this(context, "noise"));
    };
    let kind = match context.input_type {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => ValueKind::Float,
        DataType::Date32 | DataType::Date64 => ValueKind::Date,
        _ => ValueKind::Integer,
    };
    let calibrated = Calibrated::new(context.column, n, kind).map_err(PlanError::Calibration)?;
    let days = if kind == ValueKind::Date { " days" } else { "" };
    let detail = match (calibrated.scale, calibrated.variance) {
        (Some((num, den)), _) => format!(
            "laplace, epsilon {}, scale {:.6}{days}",
            calibrated.epsilon,
            num as f64 / den as f64 * 2f64.powi(calibrated.grid_exponent),
        ),
        (_, Some((num, den))) => format!(
            "gaussian, epsilon {}, delta {}, sigma {:.6}{days}",
            calibrated.epsilon,
            calibrated.delta,
            (num as f64 / den as f64).sqrt() * 2f64.powi(calibrated.grid_exponent),
        ),
        _ => String::new(),
    };
    let kernel = Kernel::Noise { calibrated: Arc::new(calibrated), master: context.noise_master };
    Ok(Compiled { kernel: Some(kernel), detail, dropped: None })
}

/// The kinds of column it takes.
fn accepts(_: &Action) -> Option<&'static [Kind]> {
    use Kind::*;
    Some(&[Integer, Float, Date])
}

/// Checks beyond the column's kind: the exact numeric types the kernel handles, and `unit: days`
/// exactly on dates.
fn check(action: &Action, context: &CheckContext<'_>) -> Vec<Issue> {
    let Action::Noise(n) = action else { return Vec::new() };
    let mut issues = Vec::new();
    if matches!(context.kind, Kind::Integer | Kind::Float) && !takes(context.data_type) {
        issues.push(issue(
            context.path.clone(),
            format!(
                "`noise` takes 8- to 64-bit integers, 32- and 64-bit floats and dates; this column is {}",
                context.data_type
            ),
            Some("convert the column to float64 or int64 before the run".into()),
        ));
    }
    if n.unit_days != (context.kind == Kind::Date) {
        let message = if n.unit_days {
            "`unit: days` applies to date columns only"
        } else {
            "noise on a date column needs `unit: days`"
        };
        issues.push(issue(context.path.clone(), message, None));
    }
    issues
}

/// The numeric types the noise kernel handles (decimals and half floats are not among them).
fn takes(data_type: &DataType) -> bool {
    Kind::of(data_type) == Kind::Integer || matches!(data_type, DataType::Float32 | DataType::Float64)
}

/// Why a column gets this action, in plain words, for the report.
fn reason(action: &Action, _job: &Job, _summary: &RunSummary) -> String {
    match action {
        Action::Noise(n) => format!(
            "A number released with differential privacy: values are clamped to the declared bounds and random noise is added ({} mechanism, epsilon {}), so no single row can be inferred from the output.",
            format!("{:?}", n.mechanism).to_lowercase(),
            n.epsilon.get()
        ),
        _ => String::new(),
    }
}

/// What was done, in plain words, for the column lineage and the report: the mechanism and its
/// parameters.
fn describe(_: &Action, column: &ColumnSummary, summary: &RunSummary) -> String {
    match summary.dp.as_ref().and_then(|d| d.columns.iter().find(|n| n.column == column.name)) {
        Some(n) => format!(
            "noise: {:?} mechanism, epsilon {}{}, values clamped to their bounds",
            n.mechanism,
            n.epsilon,
            if n.delta > 0.0 { format!(", delta {}", n.delta) } else { String::new() }
        )
        .to_lowercase(),
        None => format!("noise{}", super::detail_suffix(column)),
    }
}

/// Every value with its noise, drawn from the generator of its row (file, row index).
fn apply(kernel: &Kernel, input: &Input<'_>) -> Result<ArrayRef, TransformError> {
    let Kernel::Noise { calibrated, master } = kernel else { return Err(input.no_text("noise")) };
    let mut rng = CellRng::new(master, input.column, input.rows.file);
    add_noise(calibrated, input.values, &mut rng, input.rows.rows).ok_or_else(|| input.no_text("noise"))
}
