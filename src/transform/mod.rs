//! Per-column kernels over Arrow arrays. Each is a free function or a small compiled value
//! ([`Kernel`]) applied batch by batch; the runner decides about parallelism.

pub mod encrypt;
mod ff1;
pub mod mask;
pub mod pseudonymize;
pub mod shift;
pub mod unique;

use crate::text::to_text;
use arrow::array::{ArrayRef, RecordBatch, StringArray, new_null_array};
use arrow::datatypes::DataType;
use mask::Mask;
use std::sync::Arc;

/// A column transformation, compiled from an action with its key material.
#[derive(Clone)]
pub enum Kernel {
    Keep,
    Redact {
        with: Option<String>,
    },
    Mask(Mask),
    Pseudonymize(pseudonymize::Pseudonymizer),
    Encrypt(Box<encrypt::Ff1>),
    /// Shifts dates by the subject in input column `by`.
    Shift {
        shifter: shift::Shifter,
        by: usize,
    },
    /// A quasi-identifier: the runner fills it from the dataset-wide recoding.
    Recoded,
    /// Differentially private noise; `master` keys the per-batch generators.
    Noise {
        calibrated: Arc<crate::dp::mechanism::Calibrated>,
        master: [u8; 32],
    },
}

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

impl Kernel {
    /// The output type for an input type.
    pub fn output_type(&self, input: &DataType) -> DataType {
        match self {
            Kernel::Keep | Kernel::Redact { with: None } | Kernel::Shift { .. } | Kernel::Noise { .. } => input.clone(),
            Kernel::Encrypt(_) if input.is_integer() => input.clone(),
            Kernel::Redact { with: Some(_) }
            | Kernel::Mask(_)
            | Kernel::Pseudonymize(_)
            | Kernel::Encrypt(_)
            | Kernel::Recoded => DataType::Utf8,
        }
    }

    /// Transforms one column of one batch; `batch` holds the row's other input columns.
    ///
    /// # Errors
    /// [`TransformError`] when the column has no text form for a text kernel, or values the
    /// kernel cannot take (too short for FF1, dates shifted out of range).
    pub fn apply(
        &self,
        column: &str,
        values: &ArrayRef,
        batch: &RecordBatch,
        origin: &crate::io::Rows<'_>,
    ) -> Result<ArrayRef, TransformError> {
        let text =
            |action| to_text(values).ok_or_else(|| TransformError::NoText { column: column.to_string(), action });
        Ok(match self {
            Kernel::Keep => values.clone(),
            Kernel::Redact { with: None } => new_null_array(values.data_type(), values.len()),
            Kernel::Redact { with: Some(constant) } => {
                Arc::new(StringArray::from_iter_values(std::iter::repeat_n(constant.as_str(), values.len())))
            }
            Kernel::Mask(rule) => Arc::new(mask::mask(&text("mask")?, rule)),
            Kernel::Pseudonymize(p) => Arc::new(p.pseudonymize(&text("pseudonymize")?)),
            Kernel::Encrypt(ff1) => {
                ff1.apply(values, encrypt::Direction::Encrypt).map_err(|r| TransformError::Values {
                    column: column.to_string(),
                    action: "encrypt",
                    rows: r.rows.iter().map(|&i| i as u64).collect(),
                    count: r.count,
                    problem: r.problem.to_string(),
                })?
            }
            Kernel::Recoded => return Err(TransformError::NotRowLocal { column: column.to_string() }),
            Kernel::Noise { calibrated, master } => {
                let mut rng = crate::dp::mechanism::CellRng::new(master, column, origin.file);
                crate::dp::mechanism::add_noise(calibrated, values, &mut rng, origin.rows)
                    .ok_or_else(|| TransformError::NoText { column: column.to_string(), action: "noise" })?
            }
            Kernel::Shift { shifter, by } => {
                let subjects = to_text(batch.column(*by))
                    .ok_or_else(|| TransformError::NoText { column: column.to_string(), action: "shift" })?;
                shifter.shift(values, &subjects).map_err(|e| match e {
                    shift::ShiftError::Type => TransformError::NoText { column: column.to_string(), action: "shift" },
                    shift::ShiftError::Overflow(rows) => TransformError::Values {
                        column: column.to_string(),
                        action: "shift",
                        count: rows.len(),
                        rows: rows.iter().take(encrypt::ROWS_REPORTED).map(|&i| i as u64).collect(),
                        problem: "the shifted date does not fit the column's type".into(),
                    },
                })?
            }
        })
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
