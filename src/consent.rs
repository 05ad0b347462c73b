//! Consent: rows without consent, and subjects on an opt-out or deletion list, are removed
//! before any transformation, so they never reach an output.

use crate::io::{BATCH_SIZE, DataSource, IoError};
use crate::job::{ColumnType, Consent, CsvOptions, Exclusion};
use crate::text::to_text;
use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::Schema;
use std::collections::HashSet;

/// Rows removed from one batch, by reason. A row excluded for both reasons counts once, under
/// `by_column`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Excluded {
    /// Consent column false or null.
    pub by_column: u64,
    /// Subject on an exclusion list.
    pub by_list: u64,
}

impl std::ops::AddAssign for Excluded {
    fn add_assign(&mut self, other: Self) {
        self.by_column += other.by_column;
        self.by_list += other.by_list;
    }
}

impl Excluded {
    pub fn total(&self) -> u64 {
        self.by_column + self.by_list
    }
}

/// The consent rules of a job, bound to the input schema and with the lists loaded.
#[derive(Debug, Default)]
pub struct ConsentFilter {
    column: Option<usize>,
    lists: Vec<(usize, HashSet<String>)>,
    /// The exclusion lists' files, as read (for checksums).
    files: Vec<std::path::PathBuf>,
}

/// The schema of an exclusion list (header and inference only).
///
/// # Errors
/// The list cannot be read.
pub fn list_schema(exclusion: &Exclusion) -> Result<Schema, IoError> {
    Ok(list_source(exclusion)?.schema().as_ref().clone())
}

fn list_source(exclusion: &Exclusion) -> Result<DataSource, IoError> {
    let mut options = CsvOptions::default();
    // The key is matched as text, exactly as written.
    options.types.insert(exclusion.key.clone(), ColumnType::String);
    DataSource::open_path(&exclusion.path, Some(exclusion.format), &options, BATCH_SIZE)
}

impl ConsentFilter {
    /// Binds `consent` to `schema` and reads every exclusion list into memory.
    ///
    /// # Errors
    /// A list cannot be read. (Missing columns were reported by the job check before.)
    pub fn load(consent: Option<&Consent>, schema: &Schema) -> Result<Self, IoError> {
        let Some(consent) = consent else { return Ok(Self::default()) };
        let column = consent.column.as_ref().and_then(|c| schema.index_of(c).ok());
        let mut lists = Vec::new();
        let mut files = Vec::new();
        for exclusion in &consent.exclude {
            let Ok(index) = schema.index_of(&exclusion.key) else { continue };
            let source = list_source(exclusion)?;
            files.extend(source.files().map(std::path::Path::to_path_buf));
            let key_index = source.schema().index_of(&exclusion.key).map_err(|source| IoError::Arrow { source })?;
            let mut keys = HashSet::new();
            for batch in source.batches() {
                let batch = batch?;
                if let Some(text) = to_text(batch.column(key_index)) {
                    keys.extend(text.iter().flatten().map(str::to_string));
                }
            }
            lists.push((index, keys));
        }
        Ok(Self { column, lists, files })
    }

    /// The files of the exclusion lists that were read.
    pub fn files(&self) -> &[std::path::PathBuf] {
        &self.files
    }

    /// The input columns the filter reads (the consent column, the lists' key columns).
    pub fn columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.column.into_iter().chain(self.lists.iter().map(|(index, _)| *index))
    }

    /// Whether the filter removes anything at all.
    pub fn is_active(&self) -> bool {
        self.column.is_some() || !self.lists.is_empty()
    }

    /// Removes excluded rows from a batch; also returns which rows were kept when any was not.
    ///
    /// # Errors
    /// Arrow failed to filter.
    pub fn apply(&self, batch: &RecordBatch) -> Result<Filtered, arrow::error::ArrowError> {
        if !self.is_active() {
            return Ok(Filtered { batch: batch.clone(), excluded: Excluded::default(), kept: None });
        }
        let rows = batch.num_rows();
        let mut keep = vec![true; rows];
        let mut excluded = Excluded::default();
        if let Some(index) = self.column {
            let flags = batch.column(index).as_boolean();
            for (row, keep) in keep.iter_mut().enumerate() {
                if flags.is_null(row) || !flags.value(row) {
                    *keep = false;
                    excluded.by_column += 1;
                }
            }
        }
        for (index, keys) in &self.lists {
            let Some(text) = to_text(batch.column(*index)) else { continue };
            for (row, keep) in keep.iter_mut().enumerate() {
                if *keep && !text.is_null(row) && keys.contains(text.value(row)) {
                    *keep = false;
                    excluded.by_list += 1;
                }
            }
        }
        if excluded.total() == 0 {
            return Ok(Filtered { batch: batch.clone(), excluded, kept: None });
        }
        let mask = BooleanArray::from(keep);
        Ok(Filtered { batch: filter_record_batch(batch, &mask)?, excluded, kept: Some(mask) })
    }
}

/// A batch after the consent filter.
pub struct Filtered {
    pub batch: RecordBatch,
    pub excluded: Excluded,
    /// Which input rows were kept; `None` when all were.
    pub kept: Option<BooleanArray>,
}

impl Filtered {
    /// The 0-based index in the input batch of the kept row `index`.
    pub fn input_index(&self, index: usize) -> usize {
        match &self.kept {
            None => index,
            Some(mask) => mask.values().set_indices().nth(index).unwrap_or(index),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int64Array};
    use arrow::datatypes::{DataType, Field};
    use std::sync::Arc;

    #[test]
    fn a_row_excluded_for_both_reasons_counts_once() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("consent", DataType::Boolean, true),
        ]));
        let ids: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3, 4]));
        let flags: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), Some(false), None, Some(true)]));
        let batch = RecordBatch::try_new(schema, vec![ids, flags]).unwrap();
        // 2 refused consent and is also listed; 4 is listed only.
        let filter = ConsentFilter {
            column: Some(1),
            lists: vec![(0, HashSet::from(["2".to_string(), "4".to_string()]))],
            files: Vec::new(),
        };
        let filtered = filter.apply(&batch).unwrap();
        let (kept, excluded) = (&filtered.batch, filtered.excluded);
        assert_eq!(excluded, Excluded { by_column: 2, by_list: 1 });
        assert_eq!(kept.num_rows(), 1);
        assert_eq!(filtered.input_index(0), 0);
        assert_eq!(kept.column(0).as_primitive::<arrow::datatypes::Int64Type>().value(0), 1);
    }
}
