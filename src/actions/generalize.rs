//! `generalize`: values become coarser along a hierarchy, to the level the k-anonymity search (or Mondrian, or the job) chooses.
//!
//! Everything that defines it: its options and how they are read, the column kinds it takes,
//! its kernel, and how the summary, lineage and report describe it.

use super::{Compiled, Context, Definition, Kernel};
use crate::job::check::Kind;
use crate::job::config::*;
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;
use crate::job::*;
use crate::plan::PlanError;
use crate::record::{ColumnSummary, RunSummary};
use crate::transform::{Input, TransformError};
use arrow::array::ArrayRef;
use serde::Deserialize;
use std::collections::BTreeMap;

/// `generalize`.
#[derive(Debug, Clone)]
pub struct Generalize {
    /// `None`: only the original value and `*`.
    pub hierarchy: Option<Hierarchy>,
    /// A pinned level; `None` lets the search choose.
    pub level: Option<u32>,
    /// `format: bounds`: typed `<column>_low` and `<column>_high` instead of the text label.
    pub bounds: bool,
    /// `weight`: the column's weight in the loss, precision and entropy metrics (default 1).
    pub weight: f64,
}

/// `format:` of a generalized column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelFormat {
    /// One text column: the label (`[30, 35)`, `1980-1989`, `021**`, `*`).
    #[default]
    Label,
    /// Two columns of the input's type: the lowest and highest value the label covers.
    Bounds,
}

pub(crate) static DEFINITION: Definition = Definition {
    name: "generalize",
    needs_key: false,
    parse,
    compile,
    accepts,
    check: super::no_checks,
    reason,
    describe,
    output_type: super::text_type,
    hides_as: None,
    apply,
};

/// `action: generalize` without its hierarchy (parsed by hand, tagged by `type`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GeneralizeOptions {
    /// Pins the level instead of letting the k-anonymity search choose it.
    pub level: Option<u32>,
    /// `label` (default) or `bounds`.
    #[serde(default)]
    pub format: LabelFormat,
    /// The column's weight in the loss, precision and entropy metrics (default 1): a weighted
    /// mean, so a column of weight 2 counts as much as two columns of weight 1.
    pub weight: Option<f64>,
}

/// `hierarchy: { type: interval }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IntervalHierarchyConfig {
    /// Interval width per level, increasing, each a multiple of the one before.
    pub widths: Vec<f64>,
}

/// `hierarchy: { type: date }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DateHierarchyConfig {
    /// Levels from finest to coarsest.
    pub levels: Vec<DateLevel>,
}

/// `hierarchy: { type: prefix }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PrefixHierarchyConfig {
    /// Characters kept per level, decreasing.
    pub keep: Vec<u32>,
}

/// `hierarchy: { type: map }`: each value with its generalization per level.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MapHierarchyConfig {
    pub values: BTreeMap<String, Vec<String>>,
}

/// `hierarchy: { type: file }`: an ARX hierarchy CSV.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileHierarchyConfig {
    pub path: String,
    /// Field delimiter (default `;`).
    pub delimiter: Option<String>,
}

fn parse(p: &mut Parser<'_>, _column: &str, mut value: serde_json::Value, path: &KeyPath) -> Option<Action> {
    let hierarchy = value.as_object_mut().and_then(|m| m.remove("hierarchy"));
    let options: GeneralizeOptions = p.de_json(value, path)?;
    let hierarchy = match hierarchy {
        None | Some(serde_json::Value::Null) => None,
        Some(h) => Some(read_hierarchy(p, h, &path.join("hierarchy"))?),
    };
    let levels = hierarchy.as_ref().map_or(Some(1), Hierarchy::levels);
    if let (Some(level), Some(levels)) = (options.level, levels)
        && level > levels
    {
        p.issue(
            &path.join("level"),
            format!("level {level} does not exist; this hierarchy has levels 0 (original) to {levels} (`*`)"),
        );
        return None;
    }
    let bounds = options.format == LabelFormat::Bounds;
    if bounds && !matches!(hierarchy, Some(Hierarchy::Interval { .. } | Hierarchy::Date { .. })) {
        p.issue_with_hint(
            &path.join("format"),
            "`format: bounds` needs an interval or date hierarchy: only numbers and dates have bounds",
            Some("use `hierarchy: { type: interval, widths: [...] }` or `{ type: date, levels: [...] }`, or `format: label`"),
        );
        return None;
    }
    let weight = options.weight.unwrap_or(1.0);
    if !(weight.is_finite() && weight > 0.0 && weight <= 1000.0) {
        p.issue(&path.join("weight"), "a weight is a number above 0 and at most 1000");
        return None;
    }
    Some(Action::Generalize(Generalize { hierarchy, level: options.level, bounds, weight }))
}

fn read_hierarchy(p: &mut Parser<'_>, mut value: serde_json::Value, path: &KeyPath) -> Option<Hierarchy> {
    let Some(object) = value.as_object_mut() else {
        p.issue(path, "expected a mapping with `type`");
        return None;
    };
    let kind = match object.remove("type") {
        Some(serde_json::Value::String(kind)) => kind,
        _ => {
            p.issue(path, "missing key `type` (interval, date, prefix, map or file)");
            return None;
        }
    };
    match kind.as_str() {
        "interval" => {
            let c: IntervalHierarchyConfig = p.de_json(value, path)?;
            let valid = !c.widths.is_empty()
                && c.widths.iter().all(|w| w.is_finite() && *w > 0.0)
                && c.widths.windows(2).all(|w| {
                    let ratio = w[1] / w[0];
                    w[1] > w[0] && (ratio - ratio.round()).abs() < 1e-9
                });
            if !valid {
                p.issue(
                    &path.join("widths"),
                    "widths are positive and increasing, each a multiple of the one before (so intervals nest)",
                );
                return None;
            }
            Some(Hierarchy::Interval { widths: c.widths })
        }
        "date" => {
            let c: DateHierarchyConfig = p.de_json(value, path)?;
            if c.levels.is_empty() || !c.levels.windows(2).all(|w| w[0] < w[1]) {
                p.issue(&path.join("levels"), "levels go from finest to coarsest: day, month, quarter, year, 5y, 10y");
                return None;
            }
            Some(Hierarchy::Date { levels: c.levels })
        }
        "prefix" => {
            let c: PrefixHierarchyConfig = p.de_json(value, path)?;
            if c.keep.is_empty() || !c.keep.windows(2).all(|w| w[0] > w[1]) {
                p.issue(&path.join("keep"), "keep lists the characters kept per level, decreasing, such as [4, 3, 2]");
                return None;
            }
            Some(Hierarchy::Prefix { keep: c.keep })
        }
        "map" => {
            let c: MapHierarchyConfig = p.de_json(value, path)?;
            let lengths: Vec<usize> = c.values.values().map(Vec::len).collect();
            // Empty lists are a hierarchy of listed values and `*` (a one-level hierarchy file
            // becomes one in a decisions file).
            if lengths.is_empty() || lengths.iter().any(|&l| l != lengths[0]) {
                p.issue(
                    &path.join("values"),
                    "every value lists its generalization for each level, all lists of one length",
                );
                return None;
            }
            Some(Hierarchy::Map { values: c.values })
        }
        "file" => {
            let c: FileHierarchyConfig = p.de_json(value, path)?;
            let delimiter = match c.delimiter.as_deref().map_or(Some(b';'), crate::job::parse::single_byte) {
                Some(d) => d,
                None => {
                    p.issue(&path.join("delimiter"), "a delimiter is one ASCII character");
                    return None;
                }
            };
            let resolved = p.resolve(&c.path);
            if !resolved.is_file() {
                p.issue(&path.join("path"), format!("hierarchy file `{}` does not exist", c.path));
                return None;
            }
            Some(Hierarchy::File { path: resolved, delimiter })
        }
        other => {
            p.issue(
                &path.join("type"),
                format!("unknown hierarchy type `{other}`, expected one of: interval, date, prefix, map, file"),
            );
            None
        }
    }
}

/// The kernel and the summary's detail of a column with this action (its values come from the
/// dataset-wide recoding, so the kernel only marks the column).
pub(crate) fn compile(action: &Action, context: &Context<'_>) -> Result<Compiled, PlanError> {
    let Action::Generalize(g) = action else {
        return Err(super::not_this(context, "generalize"));
    };
    let hierarchy = match &g.hierarchy {
        None => "value or *".to_string(),
        Some(h) => describe_hierarchy(h),
    };
    let level = match g.level {
        Some(l) => format!("level {l}"),
        None => "level chosen by the search".to_string(),
    };
    Ok(Compiled { kernel: Some(Kernel::Recoded), detail: format!("{hierarchy}, {level}"), dropped: None })
}

fn describe_hierarchy(hierarchy: &crate::job::Hierarchy) -> String {
    use crate::job::Hierarchy;
    match hierarchy {
        Hierarchy::Interval { widths } => {
            format!("intervals of {}", widths.iter().map(f64::to_string).collect::<Vec<_>>().join(", "))
        }
        Hierarchy::Date { levels } => {
            use crate::job::DateLevel;
            let names: Vec<&str> = levels
                .iter()
                .map(|l| match l {
                    DateLevel::Day => "day",
                    DateLevel::Month => "month",
                    DateLevel::Quarter => "quarter",
                    DateLevel::Year => "year",
                    DateLevel::FiveYears => "5y",
                    DateLevel::TenYears => "10y",
                })
                .collect();
            format!("date levels {}", names.join(", "))
        }
        Hierarchy::Prefix { keep } => {
            format!("prefixes of {} characters", keep.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))
        }
        Hierarchy::Map { .. } => "map hierarchy".to_string(),
        Hierarchy::File { path, .. } => format!("hierarchy file {}", path.display()),
    }
}

/// The kinds of column it takes.
fn accepts(action: &Action) -> Option<&'static [Kind]> {
    use Kind::*;
    let Action::Generalize(g) = action else { return None };
    Some(match &g.hierarchy {
        None => &[Text, Integer, Float, Boolean, Date, Timestamp],
        Some(Hierarchy::Interval { .. }) => &[Integer, Float],
        // Bounds of a date hierarchy are dates: a timestamp's would need a time of day.
        Some(Hierarchy::Date { .. }) if g.bounds => &[Date],
        Some(Hierarchy::Date { .. }) => &[Date, Timestamp],
        Some(Hierarchy::Prefix { .. }) => &[Text, Integer],
        Some(Hierarchy::Map { .. } | Hierarchy::File { .. }) => &[Text, Integer, Boolean],
    })
}

/// Why a column gets this action, in plain words, for the report.
fn reason(action: &Action, _job: &Job, summary: &RunSummary) -> String {
    match action {
        Action::Generalize(_) => {
            let k = summary.privacy.as_ref().and_then(|p| p.k);
            format!(
                "A quasi-identifier: harmless alone, identifying in combination with others. Replaced by a coarser value{}.",
                match k {
                    Some(k) =>
                        format!(" so that every combination of quasi-identifiers is shared by at least {k} rows"),
                    None => " at the level the job pins".into(),
                }
            )
        }
        _ => String::new(),
    }
}

/// What was done, in plain words, for the column lineage and the report: the level chosen.
fn describe(_: &Action, column: &ColumnSummary, summary: &RunSummary) -> String {
    let detail = super::detail_suffix(column);
    let q = summary.privacy.as_ref().and_then(|p| p.quasi_identifiers.iter().find(|q| q.name == column.name));
    match q.and_then(|q| q.level.map(|l| (l, q.max_level))) {
        Some((level, max)) => format!("generalize to level {level} of {max}{detail}"),
        None => format!("generalize per equivalence class (Mondrian){detail}"),
    }
}

/// Never row by row: the dataset-wide recoding fills the column ([`crate::engine`]).
fn apply(_: &Kernel, input: &Input<'_>) -> Result<ArrayRef, TransformError> {
    Err(TransformError::NotRowLocal { column: input.column.to_string() })
}
