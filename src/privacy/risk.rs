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
