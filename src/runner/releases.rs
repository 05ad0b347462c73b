//! Private aggregate releases: computed by the engine from the census pass
//! ([`crate::engine::Engine::release`]), each written as its own file, atomically.

use crate::engine::Release;
use crate::io::output::{BatchWriter, Staged};
use crate::job::{Aggregate, Job};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use std::sync::Arc;

/// Writes the job's releases (in its order) under temporary names, to be published with the
/// run's output.
///
/// # Errors
/// [`super::RunError`] for the first release that cannot be written.
pub fn write(
    job: &Job,
    releases: &[Release],
    overwrite: bool,
    provenance: &[(String, String)],
) -> Result<Vec<Staged>, super::RunError> {
    job.aggregates.iter().zip(releases).map(|(spec, r)| write_release(spec, &r.rows, overwrite, provenance)).collect()
}

fn write_release(
    spec: &Aggregate,
    rows: &[crate::dp::aggregate::Released],
    overwrite: bool,
    provenance: &[(String, String)],
) -> Result<Staged, super::RunError> {
    let mut fields: Vec<Field> = spec.group_by.iter().map(|g| Field::new(g, DataType::Utf8, true)).collect();
    fields.extend([
        Field::new("measure", DataType::Utf8, false),
        Field::new("bin", DataType::Utf8, true),
        Field::new("value", DataType::Float64, false),
        Field::new("noise_scale", DataType::Float64, true),
        Field::new("error_95", DataType::Float64, true),
    ]);
    let schema = Arc::new(Schema::new(fields));
    let mut columns: Vec<ArrayRef> = (0..spec.group_by.len())
        .map(|g| Arc::new(StringArray::from(rows.iter().map(|r| r.group[g].clone()).collect::<Vec<_>>())) as ArrayRef)
        .collect();
    columns.push(Arc::new(StringArray::from(rows.iter().map(|r| r.measure.clone()).collect::<Vec<_>>())));
    columns.push(Arc::new(StringArray::from(rows.iter().map(|r| r.bin.clone()).collect::<Vec<_>>())));
    columns.push(Arc::new(Float64Array::from(rows.iter().map(|r| r.value).collect::<Vec<_>>())));
    columns.push(Arc::new(Float64Array::from(rows.iter().map(|r| r.noise_scale).collect::<Vec<_>>())));
    columns.push(Arc::new(Float64Array::from(rows.iter().map(|r| r.error_95).collect::<Vec<_>>())));
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let mut metadata = provenance.to_vec();
    metadata.push(("anonymize.release".to_string(), spec.name.clone()));
    let mut writer = BatchWriter::create(&spec.path, spec.format, overwrite, schema, metadata, &[])?;
    writer.write(&batch)?;
    Ok(writer.stage()?.1)
}
