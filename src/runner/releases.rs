//! Private aggregate releases: one more pass over the input (after the consent filter) feeds
//! each release's accumulator; each release is written as its own file, atomically.

use crate::consent::ConsentFilter;
use crate::dp::aggregate::{Accumulator, ReleaseSummary, Row};
use crate::dp::mechanism::batch_rng;
use crate::io::DataSource;
use crate::io::output::{BatchWriter, Staged};
use crate::io::text::to_text;
use crate::job::{Aggregate, Job, Measure};
use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema};
use std::sync::Arc;

/// A release computed and not yet written.
pub struct Computed<'a> {
    spec: &'a Aggregate,
    rows: Vec<crate::dp::aggregate::Released>,
    pub summary: ReleaseSummary,
}

/// Computes every release of the job (one pass over the input; nothing written).
///
/// # Errors
/// [`super::RunError`] for unreadable input.
pub fn compute<'a>(
    job: &'a Job,
    source: &DataSource,
    consent: &ConsentFilter,
    master: &[u8; 32],
) -> Result<Vec<Computed<'a>>, super::RunError> {
    if job.aggregates.is_empty() {
        return Ok(Vec::new());
    }
    let schema = source.schema();
    let index =
        |name: &str| schema.index_of(name).map_err(|_| super::RunError::Internal(format!("column `{name}` vanished")));
    let mut accumulators: Vec<Accumulator<'_>> = job.aggregates.iter().map(Accumulator::new).collect();
    for batch in source.batches() {
        crate::interrupt::check()?;
        let kept = consent.apply(&batch?)?.batch;
        for (spec, accumulator) in job.aggregates.iter().zip(&mut accumulators) {
            let text = |name: &str| -> Result<StringArray, super::RunError> {
                to_text(kept.column(index(name)?))
                    .ok_or_else(|| super::RunError::Internal(format!("`{name}` has no text")))
            };
            let unit = text(&spec.privacy_unit)?;
            let groups = spec.group_by.iter().map(|g| text(g)).collect::<Result<Vec<_>, _>>()?;
            let values = spec
                .measures
                .iter()
                .map(|m| match m {
                    Measure::Count | Measure::Histogram { bins: None, .. } => Ok(None),
                    Measure::Sum { column, .. }
                    | Measure::Mean { column, .. }
                    | Measure::Histogram { column, bins: Some(_) } => {
                        let numbers: ArrayRef = cast(kept.column(index(column)?), &DataType::Float64)?;
                        Ok(Some(numbers))
                    }
                })
                .collect::<Result<Vec<Option<ArrayRef>>, super::RunError>>()?;
            let categories = spec
                .measures
                .iter()
                .map(|m| match m {
                    Measure::Histogram { column, bins: None } => text(column).map(Some),
                    _ => Ok(None),
                })
                .collect::<Result<Vec<Option<StringArray>>, super::RunError>>()?;
            for row in 0..kept.num_rows() {
                let value = |a: &StringArray| (!a.is_null(row)).then(|| a.value(row).to_string());
                accumulator.add(Row {
                    unit: value(&unit),
                    group: groups.iter().map(value).collect(),
                    values: values
                        .iter()
                        .map(|v| {
                            v.as_ref().and_then(|a| {
                                let f = a.as_any().downcast_ref::<Float64Array>()?;
                                (!f.is_null(row)).then(|| f.value(row)).filter(|x| x.is_finite())
                            })
                        })
                        .collect(),
                    categories: categories.iter().map(|c| c.as_ref().and_then(value)).collect(),
                });
            }
        }
    }
    Ok(job
        .aggregates
        .iter()
        .zip(accumulators)
        .map(|(spec, accumulator)| {
            let mut rng = batch_rng(master, &format!("aggregate:{}", spec.name), 0);
            let (rows, summary) = accumulator.release(&mut rng, master);
            Computed { spec, rows, summary }
        })
        .collect())
}

/// Writes computed releases under temporary names, to be published with the run's output.
///
/// # Errors
/// [`super::RunError`] for the first release that cannot be written.
pub fn write(
    computed: &[Computed<'_>],
    overwrite: bool,
    provenance: &[(String, String)],
) -> Result<Vec<Staged>, super::RunError> {
    computed.iter().map(|c| write_release(c.spec, &c.rows, overwrite, provenance)).collect()
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
