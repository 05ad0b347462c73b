//! Per-column kernels over Arrow arrays. Each is a free function or a small compiled value
//! ([`Kernel`]) applied batch by batch; the runner decides about parallelism.

pub mod mask;
pub mod pseudonymize;

use crate::io::text::to_text;
use crate::job::Mask;
use arrow::array::{ArrayRef, StringArray, new_null_array};
use arrow::datatypes::DataType;
use std::sync::Arc;

/// A column transformation, compiled from an action with its key material.
#[derive(Clone)]
pub enum Kernel {
    Keep,
    Redact { with: Option<String> },
    Mask(Mask),
    Pseudonymize(pseudonymize::Pseudonymizer),
}

/// A column's values could not be transformed.
#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("column `{column}` has a type that `{action}` cannot turn into text")]
    NoText { column: String, action: &'static str },
}

impl Kernel {
    /// The output type for an input type.
    pub fn output_type(&self, input: &DataType) -> DataType {
        match self {
            Kernel::Keep | Kernel::Redact { with: None } => input.clone(),
            Kernel::Redact { with: Some(_) } | Kernel::Mask(_) | Kernel::Pseudonymize(_) => DataType::Utf8,
        }
    }

    /// Transforms one column of one batch.
    ///
    /// # Errors
    /// [`TransformError`] when the column has no text form for a text kernel.
    pub fn apply(&self, column: &str, values: &ArrayRef) -> Result<ArrayRef, TransformError> {
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
        })
    }
}
