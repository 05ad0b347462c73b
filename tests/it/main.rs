//! Integration tests: they drive the real `anonymize` binary.

mod anonymity;
mod bad_jobs;
mod budget;
mod cutting;
mod decisions;
mod distributed;
mod fairness;
mod fuzz;
mod hostile;
mod init;
mod leaks;
mod lineage;
mod noise;
mod partitions;
mod reversible;
mod roundtrip;
mod runs;
mod showcase;
mod tokens;
mod utility;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary in `dir` with `args`.
pub fn anonymize(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_anonymize"))
        .args(args)
        .current_dir(dir)
        .env_remove("ANONYMIZE_KEY")
        .env("ANONYMIZE_TEST_KEY", "11".repeat(32))
        .output()
        .expect("the binary runs")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The main job's text with every path it reads pointing into the repository and every path
/// it writes (the output, the lineage file `{stem}.lineage.jsonl`, the report
/// `{stem}.report.html`, the budget ledger `{stem}.budget.json` and the release
/// `{stem}.spend_by_segment.csv`) relative to the job's own folder, so tests write only there.
pub fn main_job_text(stem: &str, output: &str) -> String {
    job_text("pipelines/customers.yaml", stem, output)
}

/// The main job as it was before it showed k-anonymity and noise (`gender`, `city`, `income`,
/// `spend_90d`, `segment` kept, `phone` masked, `signup_date` shifted), paths as in
/// [`main_job_text`]: the tests of per-column behaviour and of the risk guardrail use it.
pub fn plain_job_text(stem: &str, output: &str) -> String {
    job_text("tests/fixtures/customers_v1.yaml", stem, output)
}

fn job_text(file: &str, stem: &str, output: &str) -> String {
    let text = std::fs::read_to_string(root().join(file))
        .unwrap()
        .replace("../sample_data", root().join("sample_data").to_str().unwrap())
        .replace("../out/customers_anon.parquet", output)
        .replace("../out/customers_anon.lineage.jsonl", &format!("{stem}.lineage.jsonl"))
        .replace("../out/customers_anon.report.html", &format!("{stem}.report.html"))
        .replace("../out/customers.budget.json", &format!("{stem}.budget.json"))
        .replace("../out/customers_spend_by_segment.csv", &format!("{stem}.spend_by_segment.csv"));
    assert!(!text.contains("../"), "the job writes outside the test folder:\n{text}");
    text
}

/// Runs `job` in `dir` with `--json`, expects success, and returns the summary.
pub fn run_json(dir: &Path, job: &str) -> serde_json::Value {
    let run = anonymize(dir, &["run", job, "--json", "--quiet"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    serde_json::from_str(&stdout(&run)).expect("a JSON summary")
}

/// Writes a job file into `dir` and returns its path.
pub fn write_job(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("job written");
    path
}

/// Every cell of a CSV or Parquet file as text, read back through the library.
pub fn cells(path: &Path) -> Vec<Vec<Option<String>>> {
    let source = anonymize::io::DataSource::open_path(
        path,
        None,
        &anonymize::job::CsvOptions {
            types: std::collections::BTreeMap::new(),
            ..anonymize::job::CsvOptions::default()
        },
        1024,
    )
    .expect("output readable");
    let mut rows = Vec::new();
    for batch in source.batches() {
        let batch = batch.expect("batch");
        let texts: Vec<_> = batch.columns().iter().map(|c| anonymize::text::to_text(c).expect("text")).collect();
        for row in 0..batch.num_rows() {
            rows.push(
                texts
                    .iter()
                    .map(|t| {
                        use arrow::array::Array;
                        (!t.is_null(row)).then(|| t.value(row).to_string())
                    })
                    .collect(),
            );
        }
    }
    rows
}

/// The column names of a data file.
pub fn column_names(path: &Path) -> Vec<String> {
    let source = anonymize::io::DataSource::open_path(path, None, &anonymize::job::CsvOptions::default(), 1024)
        .expect("readable");
    source.schema().fields().iter().map(|f| f.name().clone()).collect()
}
