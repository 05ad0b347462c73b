//! Applies a chosen transformation to each batch of the second pass: every quasi-identifier
//! becomes its generalized label, and rows of suppressed classes become `*` in every
//! quasi-identifier (or are removed).

use super::FxBuildHasher;
use super::hierarchy::{Generalization, SUPPRESSED};
use super::table::Dictionary;
use crate::text::to_text;
use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch, StringArray, StringBuilder};
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

/// A recoded batch: one text array per quasi-identifier, and the rows to keep when suppressed
/// rows are removed.
pub struct Recoded {
    pub columns: Vec<ArrayRef>,
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
        let texts = self
            .columns
            .iter()
            .map(|c| to_text(batch.column(c.input_index)).ok_or_else(|| RecodeError::NoText { column: c.name.clone() }))
            .collect::<Result<Vec<StringArray>, _>>()?;
        let mut leaves = vec![vec![0u32; rows]; self.columns.len()];
        for (c, (column, text)) in self.columns.iter().zip(&texts).enumerate() {
            for (row, slot) in leaves[c].iter_mut().enumerate() {
                let value = (!text.is_null(row)).then(|| text.value(row));
                *slot =
                    column.dictionary.get(value).ok_or_else(|| RecodeError::Changed { column: column.name.clone() })?;
            }
        }
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
        Ok(Recoded {
            columns: builders.into_iter().map(|mut b| Arc::new(b.finish()) as ArrayRef).collect(),
            keep,
            suppressed,
            flags,
        })
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
            },
            RecodedColumn {
                name: "zip".into(),
                input_index: 1,
                generalization: zip,
                dictionary: table.quasi[1].clone(),
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
            texts(&out.columns[0]),
            [Some("[30, 40)".into()), Some("[30, 40)".into()), None, Some("[50, 60)".into())]
        );
        assert_eq!(
            texts(&out.columns[1]),
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
        assert_eq!(texts(&out.columns[1])[3], Some("*".into()));
        let (recoding, _) = setup(Some(&kept), SuppressedRows::Remove);
        let out = recoding.apply(&batch).unwrap();
        assert_eq!(out.keep.unwrap().iter().collect::<Vec<_>>(), [Some(true), Some(true), Some(false), Some(false)]);
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
