//! The row-local path on 1 million generated rows: read Parquet → pseudonymize two columns,
//! mask one, drop two → write Parquet; against a plain copy through the same code path.
//!
//! `cargo bench --bench row_local`; `scripts/bench-row-local.sh` prints rows per second and the
//! ratio from the release binary.

use anonymize::job::DataFormat;
use anonymize::runner::{RunOptions, run};
use criterion::{Criterion, criterion_group, criterion_main};
use std::path::Path;

const ROWS: u64 = 1_000_000;

fn job(dir: &Path, name: &str, actions: bool) -> anonymize::job::Job {
    let columns = if actions {
        "  customer_id: { action: pseudonymize, domain: customer }\n  email: { action: pseudonymize, keep_domain: true }\n\
         \x20 phone: { action: mask, keep_last: 2 }\n  full_name: drop\n  birth_date: drop\n"
    } else {
        "  customer_id: keep\n  email: keep\n  phone: keep\n  full_name: keep\n  birth_date: keep\n"
    };
    let text = format!(
        "version: 1\nname: {name}\ninput: {{ path: input.parquet }}\noutput: {{ path: {name}.parquet, overwrite: true }}\n\
         secrets: {{ pseudonym_key: {{ env: ANONYMIZE_BENCH_KEY }} }}\ncolumns:\n{columns}\
         \x20 zip: keep\n  gender: keep\n  city: keep\n  income: keep\n  spend_90d: keep\n  segment: keep\n\
         \x20 card_number: keep\n  signup_date: keep\n  consent_analytics: keep\n"
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).expect("job written");
    anonymize::job::load(&path).expect("bench job is valid")
}

fn row_local(c: &mut Criterion) {
    // SAFETY: set before any other thread reads the environment.
    unsafe { std::env::set_var("ANONYMIZE_BENCH_KEY", "42".repeat(32)) };
    let dir = tempfile::tempdir().expect("temp dir");
    anonymize::sample::write(&dir.path().join("input.parquet"), DataFormat::Parquet, ROWS, 7, true).expect("input");
    let copy = job(dir.path(), "copy", false);
    let actions = job(dir.path(), "actions", true);
    let options = RunOptions::default();
    let mut group = c.benchmark_group("row_local_1m_rows");
    group.sample_size(10);
    group.throughput(criterion::Throughput::Elements(ROWS));
    group.bench_function("plain_copy", |b| b.iter(|| run(&copy, &options).expect("copy runs")));
    group.bench_function("pseudonymize2_mask1_drop2", |b| b.iter(|| run(&actions, &options).expect("actions run")));
    group.finish();
}

criterion_group!(benches, row_local);
criterion_main!(benches);
