//! Checks of a [`Job`] against the input's schema: every named column exists, every input
//! column is accounted for, every action fits its column's type.

use super::issues::{Issue, Issues, KeyPath, closest};
use super::model::{Action, Hierarchy, Job, Measure};
use arrow::datatypes::{DataType, Schema};

/// The broad kind of an Arrow type, as actions see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Float,
    Boolean,
    Date,
    Timestamp,
    Other,
}

impl Kind {
    /// The kind of an Arrow type.
    pub fn of(data_type: &DataType) -> Kind {
        match data_type {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Kind::Text,
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64 => Kind::Integer,
            DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal128(..)
            | DataType::Decimal256(..) => Kind::Float,
            DataType::Boolean => Kind::Boolean,
            DataType::Date32 | DataType::Date64 => Kind::Date,
            DataType::Timestamp(..) => Kind::Timestamp,
            _ => Kind::Other,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Integer => "integer",
            Kind::Float => "floating-point",
            Kind::Boolean => "boolean",
            Kind::Date => "date",
            Kind::Timestamp => "timestamp",
            Kind::Other => "nested or binary",
        }
    }
}

/// The kinds of column an action accepts, or `None` for any.
fn accepted(action: &Action) -> Option<&'static [Kind]> {
    use Kind::*;
    Some(match action {
        Action::Keep { .. } | Action::Drop | Action::Redact { .. } => return None,
        Action::Mask(_) => &[Text, Integer],
        Action::Pseudonymize(p) if p.keep_domain => &[Text],
        Action::Pseudonymize(_) => &[Text, Integer, Date],
        Action::Encrypt(_) => &[Text, Integer],
        Action::Shift(_) => &[Date, Timestamp],
        Action::Generalize(g) => match &g.hierarchy {
            None => &[Text, Integer, Float, Boolean, Date, Timestamp],
            Some(Hierarchy::Interval { .. }) => &[Integer, Float],
            Some(Hierarchy::Date { .. }) => &[Date, Timestamp],
            Some(Hierarchy::Prefix { .. }) => &[Text, Integer],
            Some(Hierarchy::Map { .. } | Hierarchy::File { .. }) => &[Text, Integer, Boolean],
        },
        Action::Noise(_) => &[Integer, Float, Date],
    })
}

fn issue(path: KeyPath, message: impl Into<String>, hint: Option<String>) -> Issue {
    Issue { path, position: None, message: message.into(), hint }
}

/// Every problem of `job` against the input schema and the schemas of its exclusion lists
/// (in the order of `consent.exclude`).
pub fn against_schema(job: &Job, input: &Schema, exclusion_lists: &[Schema]) -> Issues {
    let mut issues = Issues::default();
    let names: Vec<&str> = input.fields().iter().map(|f| f.name().as_str()).collect();
    let kind_of = |name: &str| input.field_with_name(name).ok().map(|f| Kind::of(f.data_type()));
    let missing = |path: KeyPath, what: &str, name: &str| {
        let hint = match closest(name, names.iter().copied()) {
            Some(c) => Some(format!("did you mean `{c}`?")),
            None => Some(format!("input columns: {}", names.join(", "))),
        };
        issue(path, format!("{what} `{name}` is not in the input"), hint)
    };

    for column in &job.columns {
        let path = KeyPath::root("columns").join(&column.name);
        let Some(kind) = kind_of(&column.name) else {
            issues.push(missing(path, "column", &column.name));
            continue;
        };
        if let Some(kinds) = accepted(&column.action)
            && !kinds.contains(&kind)
        {
            let expected: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
            issues.push(issue(
                path.clone(),
                format!(
                    "`{}` does not fit a {} column (it takes {})",
                    column.action.name(),
                    kind.name(),
                    expected.join(", ")
                ),
                (job.input.format != Some(super::DataFormat::Parquet))
                    .then(|| format!("for CSV input, set the type with `input.types.{}`", column.name)),
            ));
        }
        if let Action::Noise(n) = &column.action
            && n.unit_days != (kind == Kind::Date)
        {
            let message = if n.unit_days {
                "`unit: days` applies to date columns only"
            } else {
                "noise on a date column needs `unit: days`"
            };
            issues.push(issue(path.clone(), message, None));
        }
        if let Action::Encrypt(e) = &column.action
            && kind == Kind::Integer
            && !(e.alphabet.len() == 10 && e.alphabet.iter().all(char::is_ascii_digit))
        {
            issues.push(issue(
                path.join("alphabet"),
                "an integer column is encrypted digit by digit: its alphabet is the ten digits",
                (job.input.format != Some(super::DataFormat::Parquet))
                    .then(|| format!("to encrypt it as text, set `input.types.{}: string`", column.name)),
            ));
        }
        if let Action::Shift(shift) = &column.action {
            match kind_of(&shift.by) {
                None => issues.push(missing(path.join("by"), "subject column", &shift.by)),
                Some(Kind::Other) => issues.push(issue(
                    path.join("by"),
                    format!("the subject column `{}` is nested or binary and cannot identify a subject", shift.by),
                    None,
                )),
                Some(_) => {}
            }
        }
    }

    let unlisted: Vec<&str> = names.iter().copied().filter(|n| job.column(n).is_none()).collect();
    if !unlisted.is_empty() && job.unlisted_columns == super::config::UnlistedColumns::Error {
        issues.push(issue(
            KeyPath::root("columns"),
            format!("input columns not named in the job: {}", unlisted.join(", ")),
            Some("give each an action (`keep` if it is safe), or set `unlisted_columns: drop`".into()),
        ));
    }

    for name in job.input.csv.types.keys() {
        if kind_of(name).is_none() {
            issues.push(missing(KeyPath::root("input").join("types").join(name), "column", name));
        }
    }

    if let Some(consent) = &job.consent {
        if let Some(column) = &consent.column {
            let path = KeyPath::root("consent").join("column");
            match kind_of(column) {
                None => issues.push(missing(path, "consent column", column)),
                Some(Kind::Boolean) => {}
                Some(kind) => issues.push(issue(
                    path,
                    format!("the consent column `{column}` is {}, not boolean", kind.name()),
                    Some(format!("for CSV input, set `input.types.{column}: bool`")),
                )),
            }
        }
        for (i, (exclusion, schema)) in consent.exclude.iter().zip(exclusion_lists).enumerate() {
            let path = KeyPath::root("consent").join("exclude").join(i).join("key");
            if kind_of(&exclusion.key).is_none() {
                issues.push(missing(path.clone(), "key column", &exclusion.key));
            }
            if schema.field_with_name(&exclusion.key).is_err() {
                issues.push(issue(
                    path,
                    format!("the exclusion list `{}` has no column `{}`", exclusion.path.display(), exclusion.key),
                    None,
                ));
            }
        }
    }

    for (i, aggregate) in job.aggregates.iter().enumerate() {
        let path = KeyPath::root("aggregates").join(i);
        for (key, name) in std::iter::once(("privacy_unit", &aggregate.privacy_unit))
            .chain(aggregate.group_by.iter().map(|g| ("group_by", g)))
        {
            if kind_of(name).is_none() {
                issues.push(missing(path.join(key), "column", name));
            }
        }
        for (j, measure) in aggregate.measures.iter().enumerate() {
            let (column, numeric) = match measure {
                Measure::Count => continue,
                Measure::Sum { column, .. } | Measure::Mean { column, .. } => (column, true),
                Measure::Histogram { column, bins } => (column, bins.is_some()),
            };
            match kind_of(column) {
                None => issues.push(missing(path.join("measures").join(j), "column", column)),
                Some(Kind::Integer | Kind::Float) => {}
                Some(kind) if numeric => issues.push(issue(
                    path.join("measures").join(j),
                    format!("`{column}` is a {} column; sums, means and binned histograms need numbers", kind.name()),
                    None,
                )),
                Some(_) => {}
            }
        }
    }
    for issue in &mut issues.0 {
        issue.position = job.document.position_of(&issue.path.0);
    }
    issues
}
