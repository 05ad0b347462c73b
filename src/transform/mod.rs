//! Per-column kernels over Arrow arrays. Each is a free function or a small compiled value
//! ([`Kernel`]) applied batch by batch; the runner decides about parallelism.

pub mod encrypt;
mod ff1;
pub mod mask;
pub mod pseudonymize;
pub mod shift;
pub mod unique;

pub use crate::actions::Kernel;
use crate::text::to_text;
use arrow::array::{ArrayRef, RecordBatch, StringArray};

/// A column's values could not be transformed. Row numbers are batch-local indices of the
/// rows given to the kernel until the runner turns them into input row numbers.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("column `{column}` has a type that `{action}` cannot take")]
    NoText { column: String, action: &'static str },
    #[error("internal error: column `{column}` is generalized across the dataset, not row by row")]
    NotRowLocal { column: String },
    #[error(
        "column `{column}`: `{action}` cannot take the value {}{}: {problem}",
        rows_text(rows),
        if *count > rows.len() { format!(" (and {} more in the same batch)", count - rows.len()) } else { String::new() }
    )]
    Values { column: String, action: &'static str, rows: Vec<u64>, count: usize, problem: String },
}

fn rows_text(rows: &[u64]) -> String {
    let list: Vec<String> = rows.iter().map(u64::to_string).collect();
    match list.len() {
        1 => format!("in row {}", list[0]),
        _ => format!("in rows {}", list.join(", ")),
    }
}

/// What a kernel transforms: one column of one batch.
pub struct Input<'a> {
    pub column: &'a str,
    pub values: &'a ArrayRef,
    /// The batch's other input columns (`shift` reads its subject column).
    pub batch: &'a RecordBatch,
    /// The identities of the batch's rows (per-row noise is derived from them).
    pub rows: &'a crate::io::Rows<'a>,
}

impl Input<'_> {
    /// The column's canonical text, for kernels that work on text.
    ///
    /// # Errors
    /// [`TransformError::NoText`] naming `action`.
    pub fn text(&self, action: &'static str) -> Result<StringArray, TransformError> {
        to_text(self.values).ok_or_else(|| TransformError::NoText { column: self.column.to_string(), action })
    }

    /// [`TransformError::NoText`] for this column and `action`.
    pub fn no_text(&self, action: &'static str) -> TransformError {
        TransformError::NoText { column: self.column.to_string(), action }
    }
}

impl TransformError {
    /// Turns batch-local row indices into input row numbers.
    pub fn map_rows(mut self, to_input_row: impl Fn(u64) -> u64) -> Self {
        if let TransformError::Values { rows, .. } = &mut self {
            rows.iter_mut().for_each(|r| *r = to_input_row(*r));
        }
        self
    }
}
