//! Applies a chosen transformation to each batch of the second pass: every quasi-identifier
//! becomes its generalized label, and rows of suppressed classes become `*` in every
//! quasi-identifier (or are removed).

use super::FxBuildHasher;
use super::hierarchy::{Generalization, SUPPRESSED};
use super::table::{Column, Dictionary};
use arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray, StringBuilder};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One quasi-identifier in the output pass.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RecodedColumn {
    pub name: String,
    pub input_index: usize,
    pub generalization: Generalization,
    /// Leaf ids of the statistics pass.
    pub dictionary: Dictionary,
    /// `format: bounds`: the column is written as its bounds, of this kind.
    #[serde(default)]
    pub bounds: Option<BoundsKind>,
}

/// What a column's bounds are: [`Recoded`] gives them as `Int64`, `Float64` or `Date32`, which
/// the engine casts to the input column's own type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BoundsKind {
    Integer,
    Float,
    Date,
}

/// Output labels per combination of leaves (Mondrian); `None` is null.
pub type PartitionLabels = HashMap<Box<[u32]>, Vec<Option<Arc<str>>>, FxBuildHasher>;

/// How rows map to output labels. Serialized with its sets and maps in key order, so one
/// decision always gives the same bytes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// One level per column; rows whose class key (level ids packed) is not in `kept` are
    /// suppressed. `kept: None` keeps every row (fixed levels without k-anonymity).
    FullDomain {
        levels: Vec<u32>,
        #[serde(with = "sorted_set")]
        kept: Option<HashSet<u128, FxBuildHasher>>,
        shifts: Vec<u32>,
    },
    /// Mondrian: each combination of leaves has its partition's labels.
    Partitions {
        #[serde(with = "sorted_map")]
        labels: PartitionLabels,
    },
}

/// A set of class keys as a sorted list (JSON has no sets, and hash order is not stable).
mod sorted_set {
    use super::FxBuildHasher;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::HashSet;

    pub fn serialize<S: Serializer>(set: &Option<HashSet<u128, FxBuildHasher>>, s: S) -> Result<S::Ok, S::Error> {
        let sorted = set.as_ref().map(|set| {
            let mut keys: Vec<u128> = set.iter().copied().collect();
            keys.sort_unstable();
            keys
        });
        sorted.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<HashSet<u128, FxBuildHasher>>, D::Error> {
        Ok(Option::<Vec<u128>>::deserialize(d)?.map(|keys| keys.into_iter().collect()))
    }
}

/// Mondrian's labels as a list sorted by leaf combination (JSON map keys must be text).
mod sorted_map {
    use super::PartitionLabels;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::sync::Arc;

    type Pair = (Box<[u32]>, Vec<Option<Arc<str>>>);
    type PairRef<'a> = (&'a Box<[u32]>, &'a Vec<Option<Arc<str>>>);

    pub fn serialize<S: Serializer>(map: &PartitionLabels, s: S) -> Result<S::Ok, S::Error> {
        let mut pairs: Vec<PairRef<'_>> = map.iter().collect();
        pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
        pairs.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PartitionLabels, D::Error> {
        Ok(Vec::<Pair>::deserialize(d)?.into_iter().collect())
    }
}

/// The second pass's recoding of all quasi-identifiers.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Recoding {
    pub columns: Vec<RecodedColumn>,
    pub scheme: Scheme,
    pub suppressed_rows: SuppressedRows,
}

/// Why a batch cannot be recoded.
#[derive(Debug, thiserror::Error)]
pub enum RecodeError {
    #[error("column `{column}` holds a value the statistics pass did not see: the input changed while the job ran")]
    Changed { column: String },
    #[error("column `{column}` has no text form")]
    NoText { column: String },
}

/// A recoded batch: per quasi-identifier its text label, or its low and high bounds (`format:
/// bounds`), and the rows to keep when suppressed rows are removed.
pub struct Recoded {
    pub columns: Vec<Vec<ArrayRef>>,
    pub keep: Option<BooleanArray>,
    pub suppressed: u64,
    /// With `suppressed_rows: flag`: whether each row was suppressed.
    pub flags: Option<BooleanArray>,
}

impl Recoding {
    /// Checks a recoding (read from bytes) against the quasi-identifiers `expected` (name, input
    /// index) of the job it is applied for: the same columns, consistent hierarchies, levels
    /// within them, partitions over known leaves.
    ///
    /// # Errors
    /// What does not fit, in words (never a value).
    pub fn check(&self, expected: &[(&str, usize)]) -> Result<(), String> {
        let columns: Vec<(&str, usize)> = self.columns.iter().map(|c| (c.name.as_str(), c.input_index)).collect();
        if columns != expected {
            return Err("the decisions recode other columns than the job's quasi-identifiers".into());
        }
        if let Some(c) = self.columns.iter().find(|c| !c.generalization.is_consistent(c.dictionary.len())) {
            return Err(format!("the decisions' hierarchy of column `{}` does not hold together", c.name));
        }
        match &self.scheme {
            Scheme::FullDomain { levels, shifts, .. } => {
                let fits = levels.len() == self.columns.len()
                    && shifts.len() == self.columns.len()
                    && shifts.iter().all(|&s| s < 128)
                    && levels.iter().zip(&self.columns).all(|(&l, c)| l <= c.generalization.max_level);
                if !fits {
                    return Err("the decisions' levels do not fit the hierarchies".into());
                }
            }
            Scheme::Partitions { labels } => {
                let fits = labels.iter().all(|(key, row)| {
                    key.len() == self.columns.len()
                        && row.len() == self.columns.len()
                        && key.iter().zip(&self.columns).all(|(&id, c)| (id as usize) < c.dictionary.len())
                });
                if !fits {
                    return Err("the decisions' partitions do not fit the columns".into());
                }
            }
        }
        Ok(())
    }

    /// Recodes the quasi-identifiers of one (consent-filtered) batch.
    ///
    /// # Errors
    /// [`RecodeError`] when a value is unknown to the statistics pass.
    pub fn apply(&self, batch: &RecordBatch) -> Result<Recoded, RecodeError> {
        let rows = batch.num_rows();
        // Each row's id in its column's dictionary (integers and dates by value: no per-row text).
        let leaves = self
            .columns
            .iter()
            .map(|c| {
                let column = Column::of(batch.column(c.input_index))
                    .ok_or_else(|| RecodeError::NoText { column: c.name.clone() })?;
                column.ids_by(|v| c.dictionary.get(v)).ok_or_else(|| RecodeError::Changed { column: c.name.clone() })
            })
            .collect::<Result<Vec<Vec<u32>>, _>>()?;
        let mut builders: Vec<StringBuilder> =
            self.columns.iter().map(|_| StringBuilder::with_capacity(rows, rows * 8)).collect();
        let mut keep = Vec::with_capacity(rows);
        let mut flags: Vec<bool> = Vec::new();
        let mut suppressed = 0u64;
        let mut key_buffer = vec![0u32; self.columns.len()];
        let mut ids = vec![0u32; self.columns.len()];
        let suppress = |builders: &mut Vec<StringBuilder>, keep: &mut Vec<bool>| {
            keep.push(self.suppressed_rows != SuppressedRows::Remove);
            for builder in builders.iter_mut() {
                builder.append_value(SUPPRESSED);
            }
        };
        let append = |builder: &mut StringBuilder, label: Option<&Arc<str>>| match label {
            Some(l) => builder.append_value(&**l),
            None => builder.append_null(),
        };
        for row in 0..rows {
            let row_suppressed = match &self.scheme {
                Scheme::FullDomain { levels, kept, shifts } => {
                    let mut key = 0u128;
                    for (c, column) in self.columns.iter().enumerate() {
                        ids[c] = column.generalization.lift(leaves[c][row], 0, levels[c]);
                        key |= u128::from(ids[c]) << shifts[c];
                    }
                    if kept.as_ref().is_none_or(|k| k.contains(&key)) {
                        keep.push(true);
                        for (c, builder) in builders.iter_mut().enumerate() {
                            append(builder, self.columns[c].generalization.label(levels[c], ids[c]));
                        }
                        false
                    } else {
                        suppress(&mut builders, &mut keep);
                        true
                    }
                }
                Scheme::Partitions { labels } => {
                    for (slot, column) in key_buffer.iter_mut().zip(&leaves) {
                        *slot = column[row];
                    }
                    match labels.get(&key_buffer[..]) {
                        Some(partition) => {
                            keep.push(true);
                            for (builder, label) in builders.iter_mut().zip(partition) {
                                append(builder, label.as_ref());
                            }
                            false
                        }
                        None => {
                            suppress(&mut builders, &mut keep);
                            true
                        }
                    }
                }
            };
            suppressed += u64::from(row_suppressed);
            if self.suppressed_rows == SuppressedRows::Flag {
                flags.push(row_suppressed);
            }
        }
        let flags = (self.suppressed_rows == SuppressedRows::Flag).then(|| flags.into_iter().collect::<BooleanArray>());
        let keep = (self.suppressed_rows == SuppressedRows::Remove && suppressed > 0).then(|| BooleanArray::from(keep));
        let columns = builders
            .into_iter()
            .zip(&self.columns)
            .map(|(mut b, column)| {
                let labels = b.finish();
                match column.bounds {
                    None => vec![Arc::new(labels) as ArrayRef],
                    Some(kind) => {
                        let (low, high) = bounds_of(&labels, kind);
                        vec![low, high]
                    }
                }
            })
            .collect();
        Ok(Recoded { columns, keep, suppressed, flags })
    }
}

/// The bounds of each label: the lowest and highest value it covers (`[lo, hi)` of an integer
/// column ends at the last integer before `hi`; of a float column, at `hi` itself). A plain
/// value (level 0) is its own bounds; `*` and null have none.
pub fn bounds_of(labels: &StringArray, kind: BoundsKind) -> (ArrayRef, ArrayRef) {
    use arrow::array::{Date32Array, Float64Array, Int64Array};
    let mut cache: HashMap<&str, Option<(f64, f64)>> = HashMap::new();
    let pairs: Vec<Option<(f64, f64)>> = labels
        .iter()
        .map(|label| {
            let label = label?;
            *cache.entry(label).or_insert_with(|| match kind {
                BoundsKind::Date => date_bounds(label).map(|(a, b)| (f64::from(a), f64::from(b))),
                BoundsKind::Integer | BoundsKind::Float => number_bounds(label, kind == BoundsKind::Integer),
            })
        })
        .collect();
    let low = pairs.iter().map(|p| p.map(|(l, _)| l));
    let high = pairs.iter().map(|p| p.map(|(_, h)| h));
    match kind {
        BoundsKind::Float => {
            (Arc::new(low.collect::<Float64Array>()) as ArrayRef, Arc::new(high.collect::<Float64Array>()) as ArrayRef)
        }
        BoundsKind::Integer => (
            Arc::new(low.map(|v| v.map(|v| v as i64)).collect::<Int64Array>()),
            Arc::new(high.map(|v| v.map(|v| v as i64)).collect::<Int64Array>()),
        ),
        BoundsKind::Date => (
            Arc::new(low.map(|v| v.map(|v| v as i32)).collect::<Date32Array>()),
            Arc::new(high.map(|v| v.map(|v| v as i32)).collect::<Date32Array>()),
        ),
    }
}

/// `[lo, hi)`, `[lo, hi]` or a plain number.
fn number_bounds(label: &str, integer: bool) -> Option<(f64, f64)> {
    let Some(inner) = label.strip_prefix('[') else {
        let v: f64 = label.parse().ok()?;
        return Some((v, v));
    };
    let closed = inner.ends_with(']');
    let (lo, hi) = inner.trim_end_matches([')', ']']).split_once(", ")?;
    let (lo, hi): (f64, f64) = (lo.parse().ok()?, hi.parse().ok()?);
    Some(match (integer, closed) {
        (true, false) => (lo.ceil(), hi.ceil() - 1.0),
        (true, true) => (lo.ceil(), hi.floor()),
        (false, _) => (lo, hi),
    })
}

/// A date label's first and last day (days since 1970-01-01): `2024-03-05`, `2024-03`,
/// `2024-Q1`, `2024`, `1980-1989`, or Mondrian's `[2024-01-02, 2024-05-06]`.
fn date_bounds(label: &str) -> Option<(i32, i32)> {
    use chrono::NaiveDate;
    let day = |d: NaiveDate| crate::text::days_from_date(d);
    let ymd = |y: i32, m: u32, d: u32| NaiveDate::from_ymd_opt(y, m, d);
    let month_end = |y: i32, m: u32| {
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        ymd(ny, nm, 1).map(|d| d - chrono::Days::new(1))
    };
    if let Some(inner) = label.strip_prefix('[') {
        let (lo, hi) = inner.trim_end_matches(']').split_once(", ")?;
        return Some((date_bounds(lo)?.0, date_bounds(hi)?.1));
    }
    if let Some(d) = super::hierarchy::parse_date(label).filter(|_| label.len() == 10) {
        return Some((day(d), day(d)));
    }
    let parts: Vec<&str> = label.splitn(2, '-').collect();
    match parts.as_slice() {
        [year] => {
            let y: i32 = year.parse().ok()?;
            Some((day(ymd(y, 1, 1)?), day(ymd(y, 12, 31)?)))
        }
        [year, rest] => {
            let y: i32 = year.parse().ok()?;
            if let Some(q) = rest.strip_prefix('Q') {
                let q: u32 = q.parse().ok().filter(|q| (1..=4).contains(q))?;
                return Some((day(ymd(y, 3 * q - 2, 1)?), day(month_end(y, 3 * q)?)));
            }
            let n: i32 = rest.parse().ok()?;
            if rest.len() == 2 {
                let m = u32::try_from(n).ok()?;
                return Some((day(ymd(y, m, 1)?), day(month_end(y, m)?)));
            }
            Some((day(ymd(y, 1, 1)?), day(ymd(n, 12, 31)?)))
        }
        _ => None,
    }
}

/// What happens to rows in classes smaller than k.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SuppressedRows {
    /// Kept, every quasi-identifier `*`.
    #[default]
    Mask,
    /// Left out of the output.
    Remove,
    /// Kept as with `mask`, and a boolean column `suppressed` says which rows they are.
    Flag,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Hierarchy;
    use crate::privacy::table::FrequencyTable;
    use arrow::array::Array;
    use arrow::datatypes::{DataType, Field, Schema};

    /// A batch of ages and zips, its statistics, and a recoding at `levels` keeping `kept` keys.
    fn setup(kept: Option<&[(u32, u32)]>, mode: SuppressedRows) -> (Recoding, RecordBatch) {
        let ages = StringArray::from(vec![Some("31"), Some("37"), None, Some("52")]);
        let zips = StringArray::from(vec![Some("02139"), Some("02141"), Some("02139"), Some("94110")]);
        let table = FrequencyTable::from_batch(&[ages.clone(), zips.clone()], &[]).canonical();
        let marginals = table.marginals();
        let age = Generalization::build(
            "age",
            Some(&Hierarchy::Interval { widths: vec![10.0] }),
            table.quasi[0].values(),
            &marginals[0],
        )
        .unwrap();
        let zip = Generalization::build(
            "zip",
            Some(&Hierarchy::Prefix { keep: vec![3] }),
            table.quasi[1].values(),
            &marginals[1],
        )
        .unwrap();
        let shifts = vec![0, 32];
        let kept = kept.map(|pairs| {
            pairs.iter().map(|&(a, z)| u128::from(a) | (u128::from(z) << 32)).collect::<HashSet<u128, FxBuildHasher>>()
        });
        let columns = vec![
            RecodedColumn {
                name: "age".into(),
                input_index: 0,
                generalization: age,
                dictionary: table.quasi[0].clone(),
                bounds: None,
            },
            RecodedColumn {
                name: "zip".into(),
                input_index: 1,
                generalization: zip,
                dictionary: table.quasi[1].clone(),
                bounds: None,
            },
        ];
        let recoding = Recoding {
            columns,
            scheme: Scheme::FullDomain { levels: vec![1, 1], kept, shifts },
            suppressed_rows: mode,
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("age", DataType::Utf8, true),
            Field::new("zip", DataType::Utf8, true),
        ]));
        (recoding, RecordBatch::try_new(schema, vec![Arc::new(ages), Arc::new(zips)]).unwrap())
    }

    fn texts(array: &ArrayRef) -> Vec<Option<String>> {
        let array = array.as_any().downcast_ref::<StringArray>().unwrap();
        array.iter().map(|v| v.map(str::to_string)).collect()
    }

    #[test]
    fn rows_are_recoded_to_their_levels_and_nulls_stay_null() {
        let (recoding, batch) = setup(None, SuppressedRows::Mask);
        let out = recoding.apply(&batch).unwrap();
        assert_eq!(out.suppressed, 0);
        assert!(out.keep.is_none());
        assert_eq!(
            texts(&out.columns[0][0]),
            [Some("[30, 40)".into()), Some("[30, 40)".into()), None, Some("[50, 60)".into())]
        );
        assert_eq!(
            texts(&out.columns[1][0]),
            [Some("021**".into()), Some("021**".into()), Some("021**".into()), Some("941**".into())]
        );
    }

    /// Rows whose class is not kept are masked (`*` in every quasi-identifier) or removed.
    #[test]
    fn rows_outside_the_kept_classes_are_masked_or_removed() {
        let (probe, batch) = setup(None, SuppressedRows::Mask);
        // The class ids of the first row ([30, 40), 021**), as the recoding computes them.
        let leaf = |c: usize, v: &str| probe.columns[c].dictionary.get(Some(v)).unwrap();
        let class = |c: usize, v: &str| probe.columns[c].generalization.lift(leaf(c, v), 0, 1);
        let kept = [(class(0, "31"), class(1, "02139"))];
        let (recoding, _) = setup(Some(&kept), SuppressedRows::Mask);
        let out = recoding.apply(&batch).unwrap();
        assert_eq!(out.suppressed, 2, "the null-age row and the 94110 row are other classes");
        assert_eq!(texts(&out.columns[1][0])[3], Some("*".into()));
        let (recoding, _) = setup(Some(&kept), SuppressedRows::Remove);
        let out = recoding.apply(&batch).unwrap();
        assert_eq!(out.keep.unwrap().iter().collect::<Vec<_>>(), [Some(true), Some(true), Some(false), Some(false)]);
    }

    /// Every label form gives the bounds of what it covers.
    #[test]
    fn labels_give_their_bounds() {
        use arrow::array::{Date32Array, Float64Array, Int64Array};
        let labels = StringArray::from(vec![Some("[30, 35)"), Some("[31, 36]"), Some("39"), Some("*"), None]);
        let (low, high) = bounds_of(&labels, BoundsKind::Integer);
        let ints = |a: &ArrayRef| a.as_any().downcast_ref::<Int64Array>().unwrap().iter().collect::<Vec<_>>();
        assert_eq!(ints(&low), [Some(30), Some(31), Some(39), None, None]);
        assert_eq!(ints(&high), [Some(34), Some(36), Some(39), None, None]);
        let (_, high) = bounds_of(&StringArray::from(vec!["[0.5, 1)"]), BoundsKind::Float);
        assert_eq!(high.as_any().downcast_ref::<Float64Array>().unwrap().value(0), 1.0);
        let dates = StringArray::from(vec![
            "2024-03-05",
            "2024-02",
            "2024-Q4",
            "2024",
            "1980-1989",
            "[2024-01-02, 2024-05-06]",
        ]);
        let (low, high) = bounds_of(&dates, BoundsKind::Date);
        let text = |a: &ArrayRef| {
            let a = a.as_any().downcast_ref::<Date32Array>().unwrap();
            (0..a.len()).map(|i| a.value_as_date(i).unwrap().to_string()).collect::<Vec<_>>()
        };
        assert_eq!(text(&low), ["2024-03-05", "2024-02-01", "2024-10-01", "2024-01-01", "1980-01-01", "2024-01-02"]);
        assert_eq!(text(&high), ["2024-03-05", "2024-02-29", "2024-12-31", "2024-12-31", "1989-12-31", "2024-05-06"]);
    }

    #[test]
    fn a_value_the_statistics_pass_did_not_see_is_an_error() {
        let (recoding, batch) = setup(None, SuppressedRows::Mask);
        let changed = RecordBatch::try_new(
            batch.schema(),
            vec![Arc::new(StringArray::from(vec![Some("99")])), Arc::new(StringArray::from(vec![Some("02139")]))],
        )
        .unwrap();
        assert!(matches!(recoding.apply(&changed), Err(RecodeError::Changed { column }) if column == "age"));
    }
}
