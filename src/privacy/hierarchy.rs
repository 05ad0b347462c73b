//! Generalization hierarchies compiled over the values a column actually holds.
//!
//! A [`Generalization`] numbers the column's distinct values (its leaves, level 0) and, for
//! every level up to the top `*`, the generalized values (groups) with their labels, the group
//! each one belongs to one level up (`up`), and its information loss. Hierarchies must be
//! trees: a group belongs to exactly one group one level up, which is what lets the search roll
//! classes up from a finer transformation to a coarser one.

use crate::job::Hierarchy;
use crate::text::days_from_date;
use chrono::{Datelike, NaiveDate};
use std::collections::HashMap;
use std::sync::Arc;

/// The label of a fully generalized value.
pub const SUPPRESSED: &str = "*";

/// Why a hierarchy cannot be built. Never carries a data value.
#[derive(Debug, thiserror::Error)]
pub enum HierarchyError {
    #[error("column `{column}`: {rows} rows hold values that its hierarchy does not cover")]
    Uncovered { column: String, rows: u64 },
    #[error("column `{column}`: {rows} rows hold values that are not {expected}")]
    NotParsable { column: String, rows: u64, expected: &'static str },
    #[error("cannot read the hierarchy file `{path}`")]
    File {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the hierarchy file `{path}` line {line}: {problem}")]
    FileShape { path: std::path::PathBuf, line: usize, problem: String },
    #[error(
        "column `{column}`: its hierarchy is not a tree: a level-{level} group belongs to two groups at level {}",
        level + 1
    )]
    NotATree { column: String, level: u32 },
    #[error("column `{column}`: level {level} is above the hierarchy's top level {max}")]
    LevelTooHigh { column: String, level: u32, max: u32 },
}

/// A column's hierarchy over its leaves.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Generalization {
    pub column: String,
    /// Levels above the original values; the top one is `*`.
    pub max_level: u32,
    /// `labels[level][id]`; `None` is null (a null stays null below the top).
    labels: Vec<Vec<Option<Arc<str>>>>,
    /// `up[level][id]`: the group one level up.
    up: Vec<Vec<u32>>,
    /// `loss[level][id]` in [0, 1]: normalized certainty penalty of the group.
    loss: Vec<Vec<f64>>,
    /// `leaves[level][id]`: how many leaves of the hierarchy the group covers.
    leaf_counts: Vec<Vec<u64>>,
}

/// How a leaf generalizes: its label at each level above 0, the top `*` included.
type Chain = Vec<Option<String>>;

impl Generalization {
    /// Compiles `hierarchy` (`None`: only the value and `*`) over `leaves`, the column's distinct
    /// values in leaf-id order, with `rows[i]` input rows holding leaf `i`.
    ///
    /// # Errors
    /// [`HierarchyError`] when values are not covered or not parsable, the file is unreadable or
    /// malformed, or the hierarchy is not a tree.
    pub fn build(
        column: &str,
        hierarchy: Option<&Hierarchy>,
        leaves: &[Option<String>],
        rows: &[u64],
    ) -> Result<Self, HierarchyError> {
        Self::build_with(column, hierarchy, leaves, rows, false)
    }

    /// As [`Generalization::build`]; with `unknown_top`, a value the hierarchy does not cover
    /// (unlisted, or not a number or date) is `*` at every level above it instead of an error.
    ///
    /// # Errors
    /// As [`Generalization::build`].
    pub fn build_with(
        column: &str,
        hierarchy: Option<&Hierarchy>,
        leaves: &[Option<String>],
        rows: &[u64],
        unknown_top: bool,
    ) -> Result<Self, HierarchyError> {
        let uncovered = |bad_rows: &mut u64, r: u64, max_level: u32| {
            if unknown_top {
                vec![star(); max_level as usize]
            } else {
                *bad_rows += r;
                null_chain(max_level)
            }
        };
        let column_name = column.to_string();
        let mut chains: Vec<Chain> = Vec::with_capacity(leaves.len());
        let mut bad_rows = 0u64;
        // Categorical hierarchies count leaves in the hierarchy's own domain (a file may list
        // values the data lacks); computed ones in the data.
        let mut domain: Option<Vec<Chain>> = None;
        let mut numeric: Option<Numeric> = None;
        let max_level: u32;
        match hierarchy {
            None => {
                max_level = 1;
                chains = leaves.iter().map(|_| vec![star()]).collect();
            }
            Some(Hierarchy::Prefix { keep }) => {
                max_level = keep.len() as u32 + 1;
                for leaf in leaves {
                    chains.push(match leaf {
                        None => null_chain(max_level),
                        Some(v) => keep.iter().map(|&n| Some(prefix(v, n as usize))).chain([star()]).collect(),
                    });
                }
            }
            Some(Hierarchy::Interval { widths }) => {
                max_level = widths.len() as u32 + 1;
                let values: Vec<Option<f64>> =
                    leaves.iter().map(|l| l.as_deref().and_then(|v| v.parse().ok())).collect();
                let (low, high) = bounds(values.iter().flatten().copied());
                for ((leaf, value), &r) in leaves.iter().zip(&values).zip(rows) {
                    chains.push(match (leaf, value) {
                        (None, _) => null_chain(max_level),
                        (Some(_), None) => uncovered(&mut bad_rows, r, max_level),
                        (Some(_), Some(v)) => {
                            widths.iter().map(|&w| Some(interval_label(*v, w))).chain([star()]).collect()
                        }
                    });
                }
                numeric = Some(Numeric { range: high - low, widths: widths.clone() });
                if bad_rows > 0 {
                    return Err(HierarchyError::NotParsable {
                        column: column_name,
                        rows: bad_rows,
                        expected: "numbers",
                    });
                }
            }
            Some(Hierarchy::Date { levels }) => {
                max_level = levels.len() as u32 + 1;
                let dates: Vec<Option<NaiveDate>> = leaves.iter().map(|l| l.as_deref().and_then(parse_date)).collect();
                for ((leaf, date), &r) in leaves.iter().zip(&dates).zip(rows) {
                    chains.push(match (leaf, date) {
                        (None, _) => null_chain(max_level),
                        (Some(_), None) => uncovered(&mut bad_rows, r, max_level),
                        (Some(_), Some(d)) => levels.iter().map(|&l| Some(date_label(*d, l))).chain([star()]).collect(),
                    });
                }
                if bad_rows > 0 {
                    return Err(HierarchyError::NotParsable { column: column_name, rows: bad_rows, expected: "dates" });
                }
                let days = dates.iter().flatten().map(|d| f64::from(days_from_date(*d)));
                let (low, high) = bounds(days);
                numeric = Some(Numeric { range: high - low, widths: Vec::new() });
            }
            Some(Hierarchy::Map { values }) => {
                max_level = values.values().next().map_or(0, Vec::len) as u32 + 1;
                let table: HashMap<&str, Chain> = values
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.iter().cloned().map(Some).chain([star()]).collect()))
                    .collect();
                domain = Some(table.values().cloned().collect());
                chains = covered(leaves, rows, &table, max_level, &mut bad_rows, unknown_top);
            }
            Some(Hierarchy::File { path, delimiter }) => {
                let (table, top) = read_file(path, *delimiter)?;
                max_level = top;
                let lookup: HashMap<&str, Chain> = table.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
                domain = Some(table.iter().map(|(_, v)| v.clone()).collect());
                chains = covered(leaves, rows, &lookup, max_level, &mut bad_rows, unknown_top);
            }
        }
        if bad_rows > 0 {
            return Err(HierarchyError::Uncovered { column: column_name, rows: bad_rows });
        }

        // Intern the labels level by level and link each group to its parent.
        let levels = max_level as usize + 1;
        let mut labels: Vec<Vec<Option<Arc<str>>>> = vec![Vec::new(); levels];
        let mut index: Vec<HashMap<Option<String>, u32>> = vec![HashMap::new(); levels];
        labels[0] = leaves.iter().map(|l| l.as_deref().map(Arc::from)).collect();
        let mut ids: Vec<Vec<u32>> = vec![(0..leaves.len() as u32).collect()];
        for level in 1..levels {
            let mut level_ids = Vec::with_capacity(leaves.len());
            for chain in &chains {
                let label = &chain[level - 1];
                let next = labels[level].len() as u32;
                let id = *index[level].entry(label.clone()).or_insert_with(|| {
                    labels[level].push(label.as_deref().map(Arc::from));
                    next
                });
                level_ids.push(id);
            }
            ids.push(level_ids);
        }
        let mut up: Vec<Vec<u32>> = Vec::with_capacity(levels - 1);
        for level in 0..levels - 1 {
            let mut parent = vec![u32::MAX; labels[level].len()];
            for (&from, &to) in ids[level].iter().zip(&ids[level + 1]) {
                let from = from as usize;
                if parent[from] == u32::MAX {
                    parent[from] = to;
                } else if parent[from] != to {
                    return Err(HierarchyError::NotATree { column: column_name, level: level as u32 });
                }
            }
            up.push(parent);
        }

        // Leaves per group: in the hierarchy's domain for categorical hierarchies.
        let mut leaf_counts: Vec<Vec<u64>> = labels.iter().map(|l| vec![0; l.len()]).collect();
        let total_leaves = match &domain {
            Some(domain) => {
                for chain in domain {
                    for level in 1..levels {
                        if let Some(&id) = index[level].get(&chain[level - 1]) {
                            leaf_counts[level][id as usize] += 1;
                        }
                    }
                }
                leaf_counts[0].iter_mut().for_each(|c| *c = 1);
                domain.len() as u64
            }
            None => {
                for level in 0..levels {
                    for (leaf, value) in leaves.iter().enumerate() {
                        if value.is_some() {
                            leaf_counts[level][ids[level][leaf] as usize] += 1;
                        }
                    }
                }
                leaves.iter().flatten().count() as u64
            }
        };
        let mut loss: Vec<Vec<f64>> = Vec::with_capacity(levels);
        for level in 0..levels {
            let groups = &labels[level];
            loss.push(
                (0..groups.len())
                    .map(|id| {
                        if level == 0 {
                            0.0
                        } else if level == levels - 1 {
                            1.0
                        } else if groups[id].is_none() {
                            0.0
                        } else {
                            match &numeric {
                                Some(n) => n.loss(level, groups[id].as_deref()),
                                None if total_leaves <= 1 => 0.0,
                                None => (leaf_counts[level][id].saturating_sub(1)) as f64 / (total_leaves - 1) as f64,
                            }
                        }
                    })
                    .collect(),
            );
        }
        Ok(Self { column: column_name, max_level, labels, up, loss, leaf_counts })
    }

    /// The group of a level-`from` group at level `to` (`to ≥ from`).
    pub fn lift(&self, mut id: u32, from: u32, to: u32) -> u32 {
        for level in from..to {
            id = self.up[level as usize][id as usize];
        }
        id
    }

    /// The group one level up.
    pub fn up(&self, level: u32, id: u32) -> u32 {
        self.up[level as usize][id as usize]
    }

    /// How many groups a level has.
    pub fn groups(&self, level: u32) -> usize {
        self.labels[level as usize].len()
    }

    /// The label of a group.
    pub fn label(&self, level: u32, id: u32) -> Option<&Arc<str>> {
        self.labels[level as usize][id as usize].as_ref()
    }

    /// The loss of a group, in [0, 1].
    pub fn loss(&self, level: u32, id: u32) -> f64 {
        self.loss[level as usize][id as usize]
    }

    /// How many hierarchy leaves a group covers.
    pub fn leaves_under(&self, level: u32, id: u32) -> u64 {
        self.leaf_counts[level as usize][id as usize]
    }

    /// Whether the tables hold together over `leaves` leaves: one label table per level, every
    /// group's parent inside the next level (a generalization read from bytes is checked before
    /// it is used, so that no lookup can go out of bounds).
    pub fn is_consistent(&self, leaves: usize) -> bool {
        let levels = self.max_level as usize + 1;
        self.labels.len() == levels
            && self.loss.len() == levels
            && self.leaf_counts.len() == levels
            && self.up.len() == levels - 1
            && self.labels[0].len() == leaves
            && self
                .labels
                .iter()
                .zip(&self.loss)
                .zip(&self.leaf_counts)
                .all(|((l, s), c)| l.len() == s.len() && l.len() == c.len())
            && self.up.iter().enumerate().all(|(level, up)| {
                up.len() == self.labels[level].len() && up.iter().all(|&g| (g as usize) < self.labels[level + 1].len())
            })
    }

    /// Checks a pinned level.
    ///
    /// # Errors
    /// [`HierarchyError::LevelTooHigh`].
    pub fn check_level(&self, level: u32) -> Result<(), HierarchyError> {
        if level > self.max_level {
            return Err(HierarchyError::LevelTooHigh { column: self.column.clone(), level, max: self.max_level });
        }
        Ok(())
    }
}

fn star() -> Option<String> {
    Some(SUPPRESSED.to_string())
}

/// A null stays null up to the top level, which is `*`.
fn null_chain(max_level: u32) -> Chain {
    let mut chain = vec![None; max_level as usize];
    if let Some(top) = chain.last_mut() {
        *top = star();
    }
    chain
}

fn covered(
    leaves: &[Option<String>],
    rows: &[u64],
    table: &HashMap<&str, Chain>,
    max_level: u32,
    bad_rows: &mut u64,
    unknown_top: bool,
) -> Vec<Chain> {
    leaves
        .iter()
        .zip(rows)
        .map(|(leaf, &r)| match leaf {
            None => null_chain(max_level),
            Some(v) => match table.get(v.as_str()) {
                Some(chain) => chain.clone(),
                None => {
                    if !unknown_top {
                        *bad_rows += r;
                    }
                    vec![star(); max_level as usize]
                }
            },
        })
        .collect()
}

/// Levels above the original value of a hierarchy (`None`: value or `*`), reading a hierarchy
/// file when it has one; no data needed.
///
/// # Errors
/// An unreadable or malformed hierarchy file.
pub fn levels_of(hierarchy: Option<&Hierarchy>) -> Result<u32, HierarchyError> {
    match hierarchy {
        None => Ok(1),
        Some(Hierarchy::File { path, delimiter }) => read_file(path, *delimiter).map(|(_, top)| top),
        Some(other) => Ok(other.levels().unwrap_or(1)),
    }
}

/// A hierarchy file as a `map` hierarchy (value → its labels above it, the top `*` left out),
/// for embedding in a decisions file.
///
/// # Errors
/// An unreadable or malformed hierarchy file.
pub fn file_as_map(
    path: &std::path::Path,
    delimiter: u8,
) -> Result<std::collections::BTreeMap<String, Vec<String>>, HierarchyError> {
    let (rows, _) = read_file(path, delimiter)?;
    Ok(rows
        .into_iter()
        .map(|(value, mut chain)| {
            chain.pop();
            (value, chain.into_iter().flatten().collect())
        })
        .collect())
}

/// Reads an ARX hierarchy file: `value;level1;…`, one leaf per line, every line the same number
/// of fields. A `*` level is appended unless the last column is `*` throughout.
fn read_file(path: &std::path::Path, delimiter: u8) -> Result<(Vec<(String, Chain)>, u32), HierarchyError> {
    let file_error = |source| HierarchyError::File { path: path.to_path_buf(), source };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut crate::files::open_regular(path).map_err(file_error)?, &mut text)
        .map_err(file_error)?;
    // Spreadsheet programs save CSV with a byte-order mark; it is not part of the first value.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut rows: Vec<(String, Chain)> = Vec::new();
    let mut width = None;
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(char::from(delimiter)).collect();
        let shape = |problem: String| HierarchyError::FileShape { path: path.to_path_buf(), line: i + 1, problem };
        if fields.len() < 2 {
            return Err(shape("a line needs a value and at least one level".into()));
        }
        if *width.get_or_insert(fields.len()) != fields.len() {
            return Err(shape(format!("{} fields where the first line has {}", fields.len(), width.unwrap_or(0))));
        }
        if !seen.insert(fields[0].to_string()) {
            return Err(shape("the value is listed twice".into()));
        }
        rows.push((fields[0].to_string(), fields[1..].iter().map(|f| Some((*f).to_string())).collect()));
    }
    let Some(width) = width else {
        return Err(HierarchyError::FileShape {
            path: path.to_path_buf(),
            line: 1,
            problem: "the file is empty".into(),
        });
    };
    let ends_in_star = rows.iter().all(|(_, chain)| chain.last().is_some_and(|l| l.as_deref() == Some(SUPPRESSED)));
    if !ends_in_star {
        rows.iter_mut().for_each(|(_, chain)| chain.push(star()));
    }
    let top = if ends_in_star { width - 1 } else { width } as u32;
    Ok((rows, top))
}

fn prefix(value: &str, keep: usize) -> String {
    value.chars().enumerate().map(|(i, c)| if i < keep { c } else { '*' }).collect()
}

fn bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// The half-open interval `[low, high)` holding `value`: one notation for every interval label
/// (Mondrian's closed ranges are `[low, high]`).
fn interval_label(value: f64, width: f64) -> String {
    // `+ 0.0` turns -0 into 0.
    let low = (value / width).floor() * width + 0.0;
    let high = low + width;
    format!("[{low}, {high})")
}

/// The date at the start of `text` (`YYYY-MM-DD`, also the date part of a timestamp).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

fn date_label(date: NaiveDate, level: DateLevel) -> String {
    let year = date.year();
    let span = |n: i32| {
        let start = year.div_euclid(n) * n;
        format!("{start}-{}", start + n - 1)
    };
    match level {
        DateLevel::Day => date.format("%Y-%m-%d").to_string(),
        DateLevel::Month => date.format("%Y-%m").to_string(),
        DateLevel::Quarter => format!("{year}-Q{}", date.month0() / 3 + 1),
        DateLevel::Year => year.to_string(),
        DateLevel::FiveYears => span(5),
        DateLevel::TenYears => span(10),
    }
}

/// Loss of numeric groups: interval width (or days spanned) over the column's range.
#[derive(Debug, Clone)]
struct Numeric {
    range: f64,
    /// Interval widths per level (empty for dates, whose spans come from their labels).
    widths: Vec<f64>,
}

impl Numeric {
    fn loss(&self, level: usize, label: Option<&str>) -> f64 {
        if self.range <= 0.0 {
            return 1.0;
        }
        let width = match self.widths.get(level - 1) {
            Some(&w) => w,
            None => label.map_or(0.0, date_span_days),
        };
        (width / self.range).min(1.0)
    }
}

/// Days covered by a date label (`2024-03-05`, `2024-03`, `2024-Q1`, `2024`, `2020-2024`).
fn date_span_days(label: &str) -> f64 {
    let days = |from: Option<NaiveDate>, to: Option<NaiveDate>| match (from, to) {
        (Some(a), Some(b)) => (b - a).num_days() as f64,
        _ => 0.0,
    };
    let ymd = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1);
    if label.len() == 10 {
        return 1.0;
    }
    if let Some((y, q)) = label.split_once("-Q") {
        let (Ok(y), Ok(q)) = (y.parse::<i32>(), q.parse::<u32>()) else { return 0.0 };
        let start = ymd(y, 3 * (q - 1) + 1);
        let end = if q == 4 { ymd(y + 1, 1) } else { ymd(y, 3 * q + 1) };
        return days(start, end);
    }
    if let Some((a, b)) = label.split_once('-') {
        let (Ok(a), Ok(b)) = (a.parse::<i32>(), b.parse::<u32>()) else { return 0.0 };
        if label.len() == 7 {
            let end = if b == 12 { ymd(a + 1, 1) } else { ymd(a, b + 1) };
            return days(ymd(a, b), end);
        }
        return days(ymd(a, 1), ymd(b as i32 + 1, 1));
    }
    label.parse::<i32>().map_or(0.0, |y| days(ymd(y, 1), ymd(y + 1, 1)))
}

/// A date generalization level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, serde::Serialize)]
pub enum DateLevel {
    #[serde(rename = "day")]
    Day,
    #[serde(rename = "month")]
    Month,
    #[serde(rename = "quarter")]
    Quarter,
    #[serde(rename = "year")]
    Year,
    #[serde(rename = "5y")]
    FiveYears,
    #[serde(rename = "10y")]
    TenYears,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(values: &[&str]) -> Vec<Option<String>> {
        values.iter().map(|v| Some((*v).to_string())).collect()
    }

    #[test]
    fn interval_levels_labels_and_loss() {
        let h = Hierarchy::Interval { widths: vec![5.0, 10.0] };
        let l = leaves(&["31", "34", "38", "41"]);
        let g = Generalization::build("age", Some(&h), &l, &[1, 1, 1, 1]).unwrap();
        assert_eq!(g.max_level, 3);
        assert_eq!(g.label(1, g.lift(0, 0, 1)).map(|s| &**s), Some("[30, 35)"));
        assert_eq!(g.lift(0, 0, 1), g.lift(1, 0, 1));
        assert_eq!(g.label(2, g.lift(2, 0, 2)).map(|s| &**s), Some("[30, 40)"));
        assert_eq!(g.label(3, g.lift(3, 0, 3)).map(|s| &**s), Some("*"));
        // Width 5 over a range of 10.
        assert!((g.loss(1, g.lift(0, 0, 1)) - 0.5).abs() < 1e-12);
        assert_eq!(g.loss(3, 0), 1.0);
    }

    #[test]
    fn dates_nest_and_span_days() {
        let h = Hierarchy::Date {
            levels: vec![DateLevel::Month, DateLevel::Quarter, DateLevel::Year, DateLevel::TenYears],
        };
        let l = leaves(&["2024-02-10", "2024-03-31", "2019-12-31"]);
        let g = Generalization::build("d", Some(&h), &l, &[1, 1, 1]).unwrap();
        let label = |level, leaf| g.label(level, g.lift(leaf, 0, level)).map(|s| s.to_string());
        assert_eq!(label(1, 0).as_deref(), Some("2024-02"));
        assert_eq!(label(2, 1).as_deref(), Some("2024-Q1"));
        assert_eq!(label(4, 2).as_deref(), Some("2010-2019"));
        assert_eq!(date_span_days("2024-02"), 29.0);
        assert_eq!(date_span_days("2024-Q1"), 91.0);
        assert_eq!(date_span_days("2020-2024"), 1827.0);
    }

    #[test]
    fn maps_must_cover_and_be_trees() {
        let mut values = std::collections::BTreeMap::new();
        values.insert("a".to_string(), vec!["x".to_string(), "top".to_string()]);
        values.insert("b".to_string(), vec!["x".to_string(), "other".to_string()]);
        let h = Hierarchy::Map { values };
        assert!(matches!(
            Generalization::build("c", Some(&h), &leaves(&["a", "b"]), &[1, 1]),
            Err(HierarchyError::NotATree { level: 1, .. })
        ));
        assert!(matches!(
            Generalization::build("c", Some(&h), &leaves(&["a", "z"]), &[1, 7]),
            Err(HierarchyError::Uncovered { rows: 7, .. })
        ));
    }

    #[test]
    fn categorical_loss_counts_hierarchy_leaves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.csv");
        std::fs::write(&path, "a;ab;*\nb;ab;*\nc;cd;*\nd;cd;*\ne;e;*").unwrap();
        let h = Hierarchy::File { path, delimiter: b';' };
        // The data lacks `b` and `d`; losses count the file's leaves.
        let g = Generalization::build("c", Some(&h), &leaves(&["a", "c", "e"]), &[1, 1, 1]).unwrap();
        assert_eq!(g.max_level, 2);
        assert!((g.loss(1, g.lift(0, 0, 1)) - 0.25).abs() < 1e-12);
        assert_eq!(g.loss(1, g.lift(2, 0, 1)), 0.0);
        assert_eq!(g.leaves_under(1, g.lift(0, 0, 1)), 2);
    }

    #[test]
    fn nulls_stay_null_until_the_top() {
        let h = Hierarchy::Prefix { keep: vec![3] };
        let g = Generalization::build("zip", Some(&h), &[Some("02139".into()), None], &[1, 1]).unwrap();
        assert_eq!(g.label(1, g.lift(0, 0, 1)).map(|s| &**s), Some("021**"));
        assert_eq!(g.label(1, g.lift(1, 0, 1)), None);
        assert_eq!(g.label(2, g.lift(1, 0, 2)).map(|s| &**s), Some("*"));
    }
}
