//! Checks of a [`Job`] against the input's schema: every named column exists, every input
//! column is accounted for, every action fits its column's type.

use super::issues::{Issue, Issues, KeyPath, closest};
use super::model::{Job, Measure};
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

    pub(crate) fn name(self) -> &'static str {
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

/// What a column name that looks like a value looks like (`None`: it looks like a name).
pub fn data_shape(name: &str) -> Option<&'static str> {
    let text = name.trim();
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    let at = text.find('@');
    if at.is_some_and(|i| i > 0 && text[i + 1..].contains('.') && !text.contains(char::is_whitespace)) {
        Some("an e-mail address")
    } else if !text.is_empty() && text.parse::<f64>().is_ok_and(f64::is_finite) {
        Some("a number")
    } else if text.len() >= 8
        && text.bytes().take(4).all(|b| b.is_ascii_digit())
        && matches!(text.as_bytes().get(4), Some(b'-' | b'/'))
    {
        Some("a date")
    } else if digits >= 7 && text.bytes().all(|b| b.is_ascii_digit() || b" +-().".contains(&b)) {
        Some("a phone or account number")
    } else if ["true", "false", "yes", "no"].iter().any(|b| text.eq_ignore_ascii_case(b)) {
        Some("a boolean value")
    } else {
        None
    }
}

/// A name's shape, for messages that must not show it.
fn shape(name: &str) -> String {
    let chars = name.chars().count();
    match data_shape(name) {
        Some(shape) => format!("looks like {shape}"),
        None if name.contains(char::is_whitespace) => format!("{chars} characters with spaces"),
        None => format!("{chars} characters"),
    }
}

pub(crate) fn issue(path: KeyPath, message: impl Into<String>, hint: Option<String>) -> Issue {
    Issue { path, position: None, message: message.into(), hint }
}

/// Every problem of `job` against the input schema and the schemas of its exclusion lists
/// (in the order of `consent.exclude`).
pub fn against_schema(job: &Job, input: &Schema, exclusion_lists: &[Schema]) -> Issues {
    let mut issues = Issues::default();
    let names: Vec<&str> = input.fields().iter().map(|f| f.name().as_str()).collect();
    let kind_of = |name: &str| input.field_with_name(name).ok().map(|f| Kind::of(f.data_type()));
    // An input column the job does not name may be data (a CSV without a header makes its
    // first row the names): it is described by position and shape, never by its name.
    let job_names: std::collections::HashSet<&str> = job.columns.iter().map(|c| c.name.as_str()).collect();
    let listed = |name: &str| job_names.contains(name);
    let named: Vec<&str> = names.iter().copied().filter(|n| listed(n)).collect();
    let named = if named.is_empty() { "none".to_string() } else { named.join(", ") };
    let missing = |path: KeyPath, what: &str, name: &str| {
        let hint = match closest(name, names.iter().copied()) {
            Some(c) if listed(c) => Some(format!("did you mean `{c}`?")),
            Some(c) => Some(format!(
                "did you mean field {} of the input? (its name is not shown: the job does not name it)",
                names.iter().position(|n| *n == c).map_or(0, |i| i + 1)
            )),
            None => Some(format!("the input has {} columns; those the job names: {named}", names.len())),
        };
        issue(path, format!("{what} `{name}` is not in the input"), hint)
    };

    for column in &job.columns {
        let path = KeyPath::root("columns").join(&column.name);
        let Some(kind) = kind_of(&column.name) else {
            issues.push(missing(path, "column", &column.name));
            continue;
        };
        if let Some(kinds) = crate::actions::accepts(&column.action)
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
        let Ok(field) = input.field_with_name(&column.name) else { continue };
        let context = crate::actions::CheckContext {
            column: &column.name,
            path: &path,
            kind,
            data_type: field.data_type(),
            parquet: job.input.format == Some(super::DataFormat::Parquet),
            kind_of: &kind_of,
            missing: &missing,
        };
        for problem in crate::actions::check(&column.action, &context) {
            issues.push(problem);
        }
    }

    let unlisted: Vec<(usize, &str)> = names.iter().copied().enumerate().filter(|(_, n)| !listed(n)).collect();
    let data_like: Vec<String> = unlisted
        .iter()
        .filter_map(|(i, n)| data_shape(n).map(|shape| format!("field {} looks like {shape}", i + 1)))
        .collect();
    if !data_like.is_empty() && job.input.csv.has_header && job.input.format != Some(super::DataFormat::Parquet) {
        issues.push(issue(
            KeyPath::root("input").join("has_header"),
            format!("the input's first line looks like data, not a header: {}", data_like.join(", ")),
            Some(
                "if the file has no header, set `input.has_header: false` (the columns are then column_1, column_2, …)"
                    .into(),
            ),
        ));
    } else if !unlisted.is_empty() && job.unlisted_columns == super::config::UnlistedColumns::Error {
        let described: Vec<String> = unlisted.iter().map(|(i, n)| format!("field {} ({})", i + 1, shape(n))).collect();
        issues.push(issue(
            KeyPath::root("columns"),
            format!(
                "{} of the input not named in the job (names not shown: they may be data): {}",
                super::plural(unlisted.len(), "column"),
                described.join(", ")
            ),
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
    let positions = job.document.position_index();
    for issue in &mut issues.0 {
        issue.position = positions.position_of(&issue.path.0);
    }
    issues
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;

    fn job(columns: &str, extra: &str) -> Job {
        let text = format!(
            "version: 1\nname: t\ninput: {{ path: in.csv }}\nsecrets: {{ pseudonym_key: {{ env: K }} }}\n{extra}\
             columns:\n{columns}output: {{ path: out.csv }}\n"
        );
        crate::job::from_text(&text, crate::job::Syntax::Yaml, std::path::Path::new("/t")).unwrap()
    }

    fn schema(fields: &[(&str, DataType)]) -> Schema {
        Schema::new(fields.iter().map(|(n, t)| Field::new(*n, t.clone(), true)).collect::<Vec<_>>())
    }

    fn messages(issues: &Issues) -> String {
        issues.to_string()
    }

    #[test]
    fn actions_must_fit_their_column_types() {
        let job = job(
            "  id: mask\n  at: { action: shift, by: id, max_days: 3 }\n  x: { action: noise, epsilon: 1, bounds: [0, 1] }\n",
            "privacy: { budget: { ledger: b.json, dataset: d, epsilon: 2 } }\n",
        );
        let input = schema(&[("id", DataType::Boolean), ("at", DataType::Utf8), ("x", DataType::Decimal128(10, 2))]);
        let text = messages(&against_schema(&job, &input, &[]));
        assert!(text.contains("`mask` does not fit a boolean column"), "{text}");
        assert!(text.contains("`shift` does not fit a text column"), "{text}");
        assert!(text.contains("this column is Decimal128(10, 2)"), "{text}");
        let fine = schema(&[("id", DataType::Utf8), ("at", DataType::Date32), ("x", DataType::Float64)]);
        assert!(against_schema(&job, &fine, &[]).is_empty());
    }

    /// Names the job does not list are never shown: described by position and shape, and a
    /// header row of values is refused with a hint about `has_header`.
    #[test]
    fn unlisted_names_are_described_never_shown() {
        let job = job("  id: keep\n  emial: keep\n", "");
        let input = schema(&[("id", DataType::Int64), ("email", DataType::Utf8), ("Zoe Quinn", DataType::Utf8)]);
        let text = messages(&against_schema(&job, &input, &[]));
        assert!(text.contains("did you mean field 2 of the input?"), "{text}");
        assert!(text.contains("field 3 (9 characters with spaces)"), "{text}");
        assert!(!text.contains("Zoe") && !text.contains("`email`"), "{text}");
        let headerless =
            schema(&[("1", DataType::Int64), ("ann@x.test", DataType::Utf8), ("1984-02-09", DataType::Utf8)]);
        let text = messages(&against_schema(&job, &headerless, &[]));
        assert!(text.contains("input.has_header") && text.contains("field 2 looks like an e-mail address"), "{text}");
        assert!(!text.contains("ann@x.test") && !text.contains("1984"), "{text}");
    }

    #[test]
    fn data_shapes() {
        for (text, shape) in [
            ("ann@x.test", Some("an e-mail address")),
            ("42", Some("a number")),
            ("-1.5e3", Some("a number")),
            ("2024-02-29", Some("a date")),
            ("+1 (617) 555-0101", Some("a phone or account number")),
            ("TRUE", Some("a boolean value")),
            ("customer_id", None),
            ("First Name", None),
            ("zip5", None),
        ] {
            assert_eq!(data_shape(text), shape, "{text}");
        }
    }
}
