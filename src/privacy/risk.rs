//! Re-identification risk from equivalence-class sizes, with the sample as its own population
//! (no population table): a row's prosecutor risk is 1 / its class size.
//!
//! - prosecutor risk: highest = 1 / smallest class; average = classes / rows.
//! - journalist risk: with the sample as population, the same as the prosecutor's highest.
//! - marketer risk: the expected share of rows re-identified, classes / rows.
//! - unique rows: share of rows alone in their class; rows above 0.2: share in classes of
//!   fewer than 5 rows.

use serde::Serialize;

/// Class-size buckets of the distribution.
pub const BUCKETS: [(u64, u64); 8] = [(1, 1), (2, 2), (3, 4), (5, 9), (10, 19), (20, 49), (50, 99), (100, u64::MAX)];

/// Risk figures of one table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Risk {
    pub rows: u64,
    pub classes: u64,
    pub prosecutor_highest: f64,
    pub prosecutor_average: f64,
    pub journalist_highest: f64,
    pub marketer: f64,
    pub unique_rows: f64,
    pub rows_above_0_2: f64,
    pub smallest_class: u64,
    /// (label, classes, rows) per bucket of class sizes.
    pub class_sizes: Vec<ClassSizeBucket>,
}

/// Classes of sizes in `[from, to]`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ClassSizeBucket {
    pub sizes: String,
    pub classes: u64,
    pub rows: u64,
}

impl Risk {
    /// Risk of a table whose classes have these sizes (zero sizes ignored).
    pub fn of_sizes(sizes: impl IntoIterator<Item = u64>) -> Self {
        let mut risk = Risk {
            class_sizes: BUCKETS
                .iter()
                .map(|&(from, to)| ClassSizeBucket {
                    sizes: match (from, to) {
                        (a, b) if a == b => a.to_string(),
                        (a, u64::MAX) => format!("{a}+"),
                        (a, b) => format!("{a}-{b}"),
                    },
                    classes: 0,
                    rows: 0,
                })
                .collect(),
            smallest_class: u64::MAX,
            ..Risk::default()
        };
        let (mut unique, mut above) = (0u64, 0u64);
        for size in sizes.into_iter().filter(|&s| s > 0) {
            risk.rows += size;
            risk.classes += 1;
            risk.smallest_class = risk.smallest_class.min(size);
            if size == 1 {
                unique += size;
            }
            if size < 5 {
                above += size;
            }
            if let Some(b) = BUCKETS.iter().position(|&(from, to)| (from..=to).contains(&size)) {
                risk.class_sizes[b].classes += 1;
                risk.class_sizes[b].rows += size;
            }
        }
        if risk.rows == 0 {
            risk.smallest_class = 0;
            return risk;
        }
        let rows = risk.rows as f64;
        risk.prosecutor_highest = 1.0 / risk.smallest_class as f64;
        risk.prosecutor_average = risk.classes as f64 / rows;
        risk.journalist_highest = risk.prosecutor_highest;
        risk.marketer = risk.classes as f64 / rows;
        risk.unique_rows = unique as f64 / rows;
        risk.rows_above_0_2 = above as f64 / rows;
        risk
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_from_class_sizes() {
        // Classes of 1, 2 and 7 rows: 10 rows, 3 classes.
        let r = Risk::of_sizes([1, 2, 7, 0]);
        assert_eq!((r.rows, r.classes, r.smallest_class), (10, 3, 1));
        assert_eq!(r.prosecutor_highest, 1.0);
        assert!((r.prosecutor_average - 0.3).abs() < 1e-12);
        assert!((r.unique_rows - 0.1).abs() < 1e-12);
        assert!((r.rows_above_0_2 - 0.3).abs() < 1e-12);
        assert_eq!(r.class_sizes[3].classes, 1);
        assert_eq!(r.class_sizes[3].sizes, "5-9");
        assert_eq!(Risk::of_sizes([]).prosecutor_highest, 0.0);
    }
}

/// The re-identification risk of a dataset over named quasi-identifiers, as `anonymize risk`
/// reports it: for any driver (the command line, Python).
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub quasi_identifiers: Vec<String>,
    #[serde(flatten)]
    pub risk: Risk,
    pub sensitive: Option<String>,
    /// The fewest distinct sensitive values in any class.
    pub l_distinct: Option<u64>,
}

/// Why a dataset's risk cannot be measured. Names columns, never a value.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error("column `{name}` is not in the data")]
    NoColumn { name: String, hint: String },
    #[error("column `{name}` has no text form")]
    NoText { name: String },
    #[error(transparent)]
    Io(#[from] crate::io::IoError),
}

/// Measures `source`'s risk over `quasi_identifiers` (and the distinct l of `sensitive`).
///
/// # Errors
/// [`MeasureError`]: an unknown column (with the closest name, or a note that the data's first
/// line looks like values rather than a header), a column without text form, a read failure.
pub fn measure(
    source: &crate::io::DataSource,
    quasi_identifiers: &[String],
    sensitive: Option<&str>,
) -> Result<Measured, MeasureError> {
    use crate::privacy::table::FrequencyTable;
    let schema = source.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    // A first line of values (a file without a header) would be echoed as "column names":
    // then the names are described by position and shape only.
    let data_like: Vec<String> = names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| crate::job::check::data_shape(n).map(|s| format!("field {} looks like {s}", i + 1)))
        .collect();
    let index = |name: &str| {
        schema.index_of(name).map_err(|_| {
            let hint = if data_like.is_empty() {
                crate::job::issues::closest(name, names.iter().copied())
                    .map_or_else(|| format!("columns: {}", names.join(", ")), |c| format!("did you mean `{c}`?"))
            } else {
                format!(
                    "the data's first line looks like values, not column names ({}); `risk` needs a header line",
                    data_like.join(", ")
                )
            };
            MeasureError::NoColumn { name: name.to_string(), hint }
        })
    };
    let quasi = quasi_identifiers.iter().map(|q| index(q)).collect::<Result<Vec<_>, _>>()?;
    let sensitive_index = sensitive.map(index).transpose()?;
    let mut table = FrequencyTable::new(quasi.len(), usize::from(sensitive_index.is_some()));
    for batch in source.batches() {
        let batch = batch?;
        let text = |i: usize| {
            crate::text::to_text(batch.column(i))
                .ok_or_else(|| MeasureError::NoText { name: schema.field(i).name().clone() })
        };
        let q = quasi.iter().map(|&i| text(i)).collect::<Result<Vec<_>, _>>()?;
        let s = sensitive_index.iter().map(|&i| text(i)).collect::<Result<Vec<_>, _>>()?;
        table.merge(FrequencyTable::from_batch(&q, &s));
    }
    let risk = Risk::of_sizes(table.entries().map(|(_, e)| e.count));
    let l_distinct =
        sensitive_index.map(|_| table.entries().map(|(_, e)| e.sensitive[0].len() as u64).min().unwrap_or(0));
    Ok(Measured {
        quasi_identifiers: quasi_identifiers.to_vec(),
        risk,
        sensitive: sensitive.map(str::to_string),
        l_distinct,
    })
}
