//! Runs a job from a driver's own code, as a notebook or scheduler integration would: the job
//! comes as text with a base folder, progress goes to an observer, and the outputs become
//! visible only when the run is finished (budget committed, files published together).
//!
//! `cargo run --example embed` (from the repository root) de-identifies the shipped sample into
//! `out/embed/customers.csv` and prints what happened to each column.

use anonymize::job::{self, Syntax};
use anonymize::runner::{self, RunObserver, RunOptions};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts rows as they go through the output pass.
#[derive(Default)]
struct Rows(AtomicU64);

impl RunObserver for Rows {
    fn rows_done(&self, rows: u64) {
        self.0.fetch_add(rows, Ordering::Relaxed);
    }
}

const JOB: &str = "
version: 1
name: embedded
input: { path: sample_data/customers.csv, types: { zip: string } }
consent: { column: consent_analytics }
secrets: { pseudonym_key: { file: sample_data/keys/DEMO-KEY-public-do-not-use.hex } }
unlisted_columns: drop
columns:
  customer_id: { action: pseudonymize, domain: customer }
  zip: { action: mask, keep_first: 3 }
  city: keep
  consent_analytics: drop
output: { path: out/embed/customers.csv, overwrite: true }
";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let job = job::from_text(JOB, Syntax::Yaml, Path::new(env!("CARGO_MANIFEST_DIR")))?;
    let rows = Arc::new(Rows::default());
    let options = RunOptions { observer: Some(rows.clone()), ..RunOptions::default() };
    let prepared = runner::run(&job, &options)?;
    // Nothing is visible yet: a driver could checksum `prepared.staged` or add its own files.
    let summary = prepared.summary.clone();
    prepared.finish(Vec::new())?.confirm();
    println!(
        "{} rows read, {} written to {} ({} seen by the observer)",
        summary.rows_read,
        summary.rows_written,
        summary.output.path,
        rows.0.load(Ordering::Relaxed)
    );
    for column in &summary.columns {
        println!("  {:<18} {} {}", column.name, column.action, column.detail);
    }
    Ok(())
}
