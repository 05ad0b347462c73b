//! The decisions file (`NAME.decisions.json`): what a run with quasi-identifiers decided, in a
//! form that outlives the run. It holds the levels (optimal search) or the split tree
//! (Mondrian), every quasi-identifier's hierarchy embedded (a hierarchy file becomes a `map`),
//! the input types, the criteria and the job's hash; `anonymize apply` and
//! `privacy.k_anonymity.decisions` recode other data with it, without searching.
//!
//! It holds no cell value beyond the labels of the job's own hierarchies and, for Mondrian, the
//! split points and partition bounds, which the output shows as labels anyway (a split on a
//! numeric column is at the largest value of its left side, which is the upper bound of the
//! left partition that holds it). Mondrian splits a categorical column without a listed
//! hierarchy only between its hierarchy's groups, so that no split point is a raw value.

use crate::job::config::UnlistedColumns;
use crate::job::{Algorithm, DateLevel, DiversityVariant, Hierarchy, SuppressedRows};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The `format` field of every decisions file.
pub const FORMAT: &str = "anonymize.decisions";
/// The version this build writes and reads; a reader refuses any other.
pub const VERSION: u32 = 1;
/// A decisions file larger than this is refused unread (a hostile path must not exhaust memory).
pub const MAX_BYTES: u64 = 1 << 30;

/// A run's decisions, as written to and read from the decisions file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionsFile {
    pub format: String,
    pub version: u32,
    /// The job that decided: its name and the BLAKE3 of its file.
    pub job: JobRef,
    /// The run that decided (or that reused earlier decisions: see `frozen_from`).
    pub run_id: String,
    pub algorithm: Algorithm,
    pub criteria: CriteriaRecord,
    pub suppressed_rows: SuppressedRows,
    /// What the job did with columns it did not list: `apply` does the same.
    pub unlisted_columns: UnlistedColumns,
    /// In the job's column order.
    pub quasi_identifiers: Vec<QuasiDecision>,
    /// Columns `sensitive: true` (l-diversity and t-closeness are checked over them).
    #[serde(default)]
    pub sensitive: Vec<String>,
    /// Other columns the job kept unchanged: `apply` carries them through.
    #[serde(default)]
    pub kept: Vec<String>,
    /// Mondrian's split tree (`None` for the optimal search).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<SplitTree>,
    /// When the run reused earlier decisions: the run id that made them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_from: Option<String>,
}

/// The job that made the decisions.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobRef {
    pub name: String,
    pub blake3: String,
}

/// The privacy target the decisions met.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CriteriaRecord {
    pub k: u64,
    pub suppression_limit: f64,
    #[serde(default)]
    pub l_diversity: Option<LRecord>,
    #[serde(default)]
    pub t_closeness: Option<f64>,
}

/// `l_diversity` of the criteria.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LRecord {
    pub l: u64,
    pub variant: DiversityVariant,
}

/// One quasi-identifier's decision.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuasiDecision {
    pub name: String,
    /// The input column's Arrow type, as the run read it (`Int64`, `Utf8`, `Date32`, …).
    pub input_type: String,
    pub hierarchy: HierarchySpec,
    /// Levels above the value; the top one is `*`.
    pub max_level: u32,
    /// The chosen level (optimal search); `None` under Mondrian.
    pub level: Option<u32>,
    /// How the run wrote it: `label` or `bounds` (`apply` writes it the same way).
    #[serde(default)]
    pub format: crate::actions::generalize::LabelFormat,
}

/// A hierarchy, embedded.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum HierarchySpec {
    /// The value or `*`.
    None,
    Interval {
        widths: Vec<f64>,
    },
    Date {
        levels: Vec<DateLevel>,
    },
    Prefix {
        keep: Vec<u32>,
    },
    /// Value → its label at each level above it (the top `*` not listed).
    Map {
        values: BTreeMap<String, Vec<String>>,
    },
}

/// Mondrian's split tree: node 0 is the root; a split's children come after it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitTree {
    pub nodes: Vec<SplitNode>,
}

/// One node of the split tree.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SplitNode {
    /// Rows whose value of `column` is at most `at` go `left`, the others (nulls too) `right`.
    Split { column: usize, at: Threshold, left: usize, right: usize },
    /// A final partition: one entry per quasi-identifier.
    Partition { columns: Vec<PartitionColumn> },
}

/// Where a split cuts.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Threshold {
    /// A number or date (as its text) on a numeric dimension.
    Value(String),
    /// A categorical value's labels from the top of its hierarchy down to the level where the
    /// two sides part, compared in that order (`""` stands for null).
    Path(Vec<String>),
}

/// A partition's label of one column.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum PartitionColumn {
    /// A numeric or date column: the lowest and highest value of the partition (its label is
    /// `[low, high]`); a value outside them is not covered.
    Bounds { low: String, high: String },
    /// A numeric or date column whose partition held only nulls.
    Null,
    /// A categorical column: the partition's group is the value's group at `level`.
    Level { level: u32 },
}

/// Why a decisions file cannot be used. Never carries a value from it.
#[derive(Debug, thiserror::Error)]
pub enum DecisionsError {
    #[error("cannot read the decisions file `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the decisions file `{path}` is larger than {} MiB", MAX_BYTES >> 20)]
    TooLarge { path: PathBuf },
    #[error("the decisions file `{path}` is not valid decisions JSON ({problem})")]
    Syntax { path: PathBuf, problem: String },
    #[error("the decisions file `{path}` {problem}")]
    Shape { path: PathBuf, problem: String },
    #[error("cannot write the decisions: {0}")]
    Encode(String),
}

impl DecisionsFile {
    /// Reads and checks a decisions file: its format and version, hierarchies that hold
    /// together, levels within them, a split tree whose every index is in range and that
    /// cannot loop.
    ///
    /// # Errors
    /// [`DecisionsError`], naming the file and the problem (never a value in it).
    pub fn load(path: &Path) -> Result<Self, DecisionsError> {
        let read = |source| DecisionsError::Read { path: path.to_path_buf(), source };
        let file = crate::files::open_regular(path).map_err(read)?;
        if file.metadata().map_err(read)?.len() > MAX_BYTES {
            return Err(DecisionsError::TooLarge { path: path.to_path_buf() });
        }
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_BYTES + 1), &mut bytes).map_err(read)?;
        Self::from_bytes(&bytes).map_err(|e| match e {
            DecisionsError::Syntax { problem, .. } => DecisionsError::Syntax { path: path.to_path_buf(), problem },
            DecisionsError::Shape { problem, .. } => DecisionsError::Shape { path: path.to_path_buf(), problem },
            other => other,
        })
    }

    /// As [`DecisionsFile::load`], from bytes (errors name no path).
    ///
    /// # Errors
    /// [`DecisionsError::Syntax`] or [`DecisionsError::Shape`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecisionsError> {
        let decisions: Self = serde_json::from_slice(bytes).map_err(|e| DecisionsError::Syntax {
            path: PathBuf::new(),
            // The parser's own message may quote the bytes: say only where it stopped.
            problem: format!("line {}, column {}", e.line(), e.column()),
        })?;
        decisions.check().map_err(|problem| DecisionsError::Shape { path: PathBuf::new(), problem })?;
        Ok(decisions)
    }

    /// The file's text: pretty JSON, keys in a fixed order, so that the same decisions always
    /// give the same bytes.
    ///
    /// # Errors
    /// [`DecisionsError::Encode`] (a number JSON cannot hold).
    pub fn to_json(&self) -> Result<String, DecisionsError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| DecisionsError::Encode(e.to_string()))?;
        text.push('\n');
        Ok(text)
    }

    fn check(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("is not a decisions file (its format is not `{FORMAT}`)"));
        }
        if self.version != VERSION {
            return Err(format!(
                "has version {}; this build reads version {VERSION}: re-run the job that made it",
                self.version
            ));
        }
        if self.quasi_identifiers.is_empty() {
            return Err("lists no quasi-identifier".into());
        }
        if self.criteria.k < 2
            || !(0.0..1.0).contains(&self.criteria.suppression_limit)
            || self.criteria.t_closeness.is_some_and(|t| !(t > 0.0 && t <= 1.0))
        {
            return Err("has criteria out of range".into());
        }
        let mut names = std::collections::HashSet::new();
        for q in &self.quasi_identifiers {
            if !names.insert(q.name.as_str()) {
                return Err(format!("lists the quasi-identifier `{}` twice", q.name));
            }
            if q.hierarchy.levels() != Some(q.max_level) {
                return Err(format!("has a hierarchy for `{}` that does not hold together", q.name));
            }
            if q.level.is_some_and(|l| l > q.max_level) {
                return Err(format!("has a level for `{}` above its hierarchy's top", q.name));
            }
        }
        match (self.algorithm, &self.partitions) {
            (Algorithm::Optimal, None) => {
                if self.quasi_identifiers.iter().any(|q| q.level.is_none()) {
                    return Err("misses a level".into());
                }
            }
            (Algorithm::Mondrian, Some(tree)) => tree.check(&self.quasi_identifiers)?,
            _ => return Err("has a split tree that does not fit its algorithm".into()),
        }
        Ok(())
    }

    /// The quasi-identifier called `name`.
    pub fn quasi(&self, name: &str) -> Option<&QuasiDecision> {
        self.quasi_identifiers.iter().find(|q| q.name == name)
    }
}

impl SplitTree {
    fn check(&self, columns: &[QuasiDecision]) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("has an empty split tree".into());
        }
        let bad = |what: &str| Err(format!("has a split tree with {what}"));
        for (i, node) in self.nodes.iter().enumerate() {
            match node {
                SplitNode::Split { column, at, left, right } => {
                    // Children after their parent: no loop, and every node is reached once.
                    if *left <= i || *right <= i || *left >= self.nodes.len() || *right >= self.nodes.len() {
                        return bad("a child out of order");
                    }
                    let Some(q) = columns.get(*column) else { return bad("a column out of range") };
                    match (at, q.hierarchy.is_numeric()) {
                        (Threshold::Value(v), true) if q.hierarchy.number(v).is_some() => {}
                        (Threshold::Path(p), false) if !p.is_empty() && p.len() <= q.max_level as usize + 1 => {}
                        _ => return bad("a split point that does not fit its column"),
                    }
                }
                SplitNode::Partition { columns: parts } => {
                    if parts.len() != columns.len() {
                        return bad("a partition of another width");
                    }
                    for (p, q) in parts.iter().zip(columns) {
                        let fits = match p {
                            PartitionColumn::Bounds { low, high } => {
                                q.hierarchy.is_numeric()
                                    && q.hierarchy
                                        .number(low)
                                        .zip(q.hierarchy.number(high))
                                        .is_some_and(|(l, h)| l <= h)
                            }
                            PartitionColumn::Null => q.hierarchy.is_numeric(),
                            PartitionColumn::Level { level } => !q.hierarchy.is_numeric() && *level <= q.max_level,
                        };
                        if !fits {
                            return bad("a partition that does not fit its columns");
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The partition node a row reaches; `goes_left(node, column, at)` says whether the row's
    /// value of `column` is at most `at`, the split point of node `node`.
    pub fn route(&self, mut goes_left: impl FnMut(usize, usize, &Threshold) -> bool) -> usize {
        let mut node = 0;
        loop {
            match &self.nodes[node] {
                SplitNode::Partition { .. } => return node,
                SplitNode::Split { column, at, left, right } => {
                    node = if goes_left(node, *column, at) { *left } else { *right };
                }
            }
        }
    }
}

impl HierarchySpec {
    /// Levels above the value, the top `*` included (`None`: malformed).
    pub fn levels(&self) -> Option<u32> {
        let n = match self {
            HierarchySpec::None => 0,
            HierarchySpec::Interval { widths } => {
                if widths.iter().any(|w| !(w.is_finite() && *w > 0.0)) {
                    return None;
                }
                widths.len()
            }
            HierarchySpec::Date { levels } => levels.len(),
            HierarchySpec::Prefix { keep } => keep.len(),
            HierarchySpec::Map { values } => {
                let width = values.values().next().map_or(0, Vec::len);
                if values.is_empty() || values.values().any(|v| v.len() != width) {
                    return None;
                }
                width
            }
        };
        Some(n as u32 + 1)
    }

    /// Whether Mondrian splits the column by value (numbers and dates).
    pub fn is_numeric(&self) -> bool {
        matches!(self, HierarchySpec::Interval { .. } | HierarchySpec::Date { .. })
    }

    /// Whether the hierarchy lists its values (so that they are the job's text, not data).
    pub fn is_listed(&self) -> bool {
        matches!(self, HierarchySpec::Map { .. })
    }

    /// A value's position on a numeric dimension: the number, or a date's day number.
    pub fn number(&self, text: &str) -> Option<f64> {
        match self {
            HierarchySpec::Date { .. } => {
                super::hierarchy::parse_date(text).map(|d| f64::from(crate::text::days_from_date(d)))
            }
            _ => text.parse::<f64>().ok().filter(|v| v.is_finite()),
        }
    }

    /// The job's hierarchy as embedded in a decisions file (a hierarchy file is read and
    /// becomes a `map`).
    ///
    /// # Errors
    /// An unreadable or malformed hierarchy file.
    pub fn embed(hierarchy: Option<&Hierarchy>) -> Result<Self, super::hierarchy::HierarchyError> {
        Ok(match hierarchy {
            None => HierarchySpec::None,
            Some(Hierarchy::Interval { widths }) => HierarchySpec::Interval { widths: widths.clone() },
            Some(Hierarchy::Date { levels }) => HierarchySpec::Date { levels: levels.clone() },
            Some(Hierarchy::Prefix { keep }) => HierarchySpec::Prefix { keep: keep.clone() },
            Some(Hierarchy::Map { values }) => HierarchySpec::Map { values: values.clone() },
            Some(Hierarchy::File { path, delimiter }) => {
                HierarchySpec::Map { values: super::hierarchy::file_as_map(path, *delimiter)? }
            }
        })
    }

    /// The hierarchy to compile (`None`: the value or `*`).
    pub fn to_hierarchy(&self) -> Option<Hierarchy> {
        match self {
            HierarchySpec::None => None,
            HierarchySpec::Interval { widths } => Some(Hierarchy::Interval { widths: widths.clone() }),
            HierarchySpec::Date { levels } => Some(Hierarchy::Date { levels: levels.clone() }),
            HierarchySpec::Prefix { keep } => Some(Hierarchy::Prefix { keep: keep.clone() }),
            HierarchySpec::Map { values } => Some(Hierarchy::Map { values: values.clone() }),
        }
    }
}

/// An Arrow type's kind, for comparing a decisions file's input types with new data's (a CSV
/// and a Parquet file of the same data may differ in integer width, not in kind).
pub fn type_kind(data_type: &str) -> &'static str {
    let t = data_type.to_ascii_lowercase();
    if t.starts_with("int") || t.starts_with("uint") {
        "integer"
    } else if t.starts_with("float") {
        "float"
    } else if t.starts_with("decimal") {
        "decimal"
    } else if t.starts_with("date") {
        "date"
    } else if t.starts_with("timestamp") {
        "timestamp"
    } else if t.contains("utf8") || t.contains("string") || t.starts_with("dictionary") {
        "text"
    } else if t == "boolean" {
        "boolean"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DecisionsFile {
        DecisionsFile {
            format: FORMAT.into(),
            version: VERSION,
            job: JobRef { name: "j".into(), blake3: "00".into() },
            run_id: "r".into(),
            algorithm: Algorithm::Mondrian,
            criteria: CriteriaRecord { k: 5, suppression_limit: 0.0, l_diversity: None, t_closeness: None },
            suppressed_rows: SuppressedRows::Mask,
            unlisted_columns: UnlistedColumns::Drop,
            quasi_identifiers: vec![
                QuasiDecision {
                    name: "age".into(),
                    input_type: "Int64".into(),
                    hierarchy: HierarchySpec::Interval { widths: vec![10.0] },
                    max_level: 2,
                    level: None,
                    format: Default::default(),
                },
                QuasiDecision {
                    name: "sex".into(),
                    input_type: "Utf8".into(),
                    hierarchy: HierarchySpec::None,
                    max_level: 1,
                    level: None,
                    format: Default::default(),
                },
            ],
            sensitive: Vec::new(),
            kept: Vec::new(),
            partitions: Some(SplitTree {
                nodes: vec![
                    SplitNode::Split { column: 0, at: Threshold::Value("40".into()), left: 1, right: 2 },
                    SplitNode::Partition {
                        columns: vec![
                            PartitionColumn::Bounds { low: "20".into(), high: "40".into() },
                            PartitionColumn::Level { level: 1 },
                        ],
                    },
                    SplitNode::Partition {
                        columns: vec![
                            PartitionColumn::Bounds { low: "41".into(), high: "90".into() },
                            PartitionColumn::Level { level: 0 },
                        ],
                    },
                ],
            }),
            frozen_from: None,
        }
    }

    #[test]
    fn decisions_round_trip_and_route_rows_to_one_partition() {
        let decisions = sample();
        let text = decisions.to_json().unwrap();
        let back = DecisionsFile::from_bytes(text.as_bytes()).unwrap();
        assert_eq!(back, decisions);
        let tree = back.partitions.unwrap();
        let age = |value: f64| {
            move |_: usize, _: usize, at: &Threshold| match at {
                Threshold::Value(v) => value <= v.parse::<f64>().unwrap(),
                Threshold::Path(_) => unreachable!(),
            }
        };
        assert_eq!(tree.route(age(40.0)), 1);
        assert_eq!(tree.route(age(40.5)), 2);
        assert_eq!(tree.route(age(f64::NAN)), 2, "nulls go right, as in the run");
    }

    /// Damaged files are refused with a message that quotes nothing from them.
    #[test]
    fn damaged_decisions_are_refused_without_quoting_them() {
        let mut loop_back = sample();
        if let Some(tree) = loop_back.partitions.as_mut() {
            tree.nodes[0] = SplitNode::Split { column: 0, at: Threshold::Value("40".into()), left: 0, right: 2 };
        }
        let mut high_level = sample();
        high_level.algorithm = Algorithm::Optimal;
        high_level.partitions = None;
        high_level.quasi_identifiers[0].level = Some(7);
        let mut bad_point = sample();
        if let Some(tree) = bad_point.partitions.as_mut() {
            tree.nodes[0] =
                SplitNode::Split { column: 0, at: Threshold::Value("secret-value".into()), left: 1, right: 2 };
        }
        for (broken, expected) in [
            (loop_back, "a child out of order"),
            (high_level, "above its hierarchy's top"),
            (bad_point, "does not fit its column"),
        ] {
            let text = broken.to_json().unwrap();
            let error = DecisionsFile::from_bytes(text.as_bytes()).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
            assert!(!error.contains("secret-value"), "{error}");
        }
        let error = DecisionsFile::from_bytes(b"{\"format\": \"secret-value").unwrap_err().to_string();
        assert!(error.contains("line 1") && !error.contains("secret-value"), "{error}");
        let mut version = sample();
        version.version = 2;
        let error = DecisionsFile::from_bytes(version.to_json().unwrap().as_bytes()).unwrap_err().to_string();
        assert!(error.contains("version 2"), "{error}");
    }

    #[test]
    fn type_kinds_group_widths() {
        assert_eq!(type_kind("Int32"), type_kind("Int64"));
        assert_eq!(type_kind("Utf8"), type_kind("LargeUtf8"));
        assert_ne!(type_kind("Date32"), type_kind("Utf8"));
    }
}
