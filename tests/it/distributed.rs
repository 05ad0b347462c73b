//! A run spread over a cluster's tasks ([`anonymize::runner::distributed`]), with a cluster made
//! of this process: the input is Parquet files with small row groups, cut into units, grouped
//! into tasks that run in reverse order, one task answering twice (a retry). The run writes a
//! folder of part files with exactly the command line's rows, the same release and records;
//! failures in a task or across tasks leave nothing under the output's name.

use super::{anonymize, cells, root, stderr, write_job};
use anonymize::io::Unit;
use anonymize::runner::distributed::{
    Cluster, Distributed, Executor, Shipment, Task, apply_reply, census_reply, failure_reply,
};
use anonymize::runner::recorded::{ReportTarget, run_job};
use anonymize::runner::{RunError, RunOptions};
use std::path::Path;
use std::sync::Arc;

/// Tasks of two units each, run last first; the first task answers twice.
struct Reversed;

impl Cluster for Reversed {
    fn run(&self, shipment: &[u8], units: &[Unit], task: &Task) -> Result<Vec<Vec<u8>>, RunError> {
        let shipment = Shipment::from_bytes(shipment)?;
        let mut replies = Vec::new();
        for group in units.chunks(2).rev() {
            let executor = match Executor::new(&shipment) {
                Ok(executor) => executor,
                Err(error) => {
                    replies.push(failure_reply(&error));
                    continue;
                }
            };
            replies.push(match task {
                Task::Census => census_reply(group, executor.census(group)),
                Task::Apply { decisions, folder, spec } => {
                    let outcome = executor
                        .engine()
                        .decisions_from_bytes(decisions)
                        .and_then(|d| executor.apply(&d, group, folder, spec));
                    apply_reply(outcome)
                }
            });
        }
        let first = replies.last().cloned();
        replies.extend(first);
        Ok(replies)
    }
}

/// The customer sample as three Parquet files of rows in 23-row groups.
fn split_input(dir: &Path) -> std::path::PathBuf {
    let csv = anonymize::job::CsvOptions {
        types: [("zip".to_string(), anonymize::job::ColumnType::String)].into_iter().collect(),
        ..anonymize::job::CsvOptions::default()
    };
    let source =
        anonymize::io::DataSource::open_path(&root().join("sample_data/customers.csv"), None, &csv, 1 << 20).unwrap();
    let batches: Vec<_> = source.batches().map(Result::unwrap).collect();
    let all = arrow::compute::concat_batches(&source.schema(), &batches).unwrap();
    let folder = dir.join("input");
    std::fs::create_dir(&folder).unwrap();
    let third = all.num_rows() / 3;
    for (i, (start, length)) in
        [(0, third), (third, third), (2 * third, all.num_rows() - 2 * third)].into_iter().enumerate()
    {
        let file = std::fs::File::create(folder.join(format!("customers-{i}.parquet"))).unwrap();
        let properties =
            parquet::file::properties::WriterProperties::builder().set_max_row_group_row_count(Some(23)).build();
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, source.schema(), Some(properties)).unwrap();
        writer.write(&all.slice(start, length)).unwrap();
        writer.close().unwrap();
    }
    folder
}

fn distributed_run(dir: &Path, job_file: &str, seed: u64) -> Result<anonymize::runner::RunSummary, RunError> {
    let job = anonymize::job::load(&dir.join(job_file)).unwrap();
    let source = anonymize::plan::bind(&job).unwrap().source;
    // 4 KiB units: several row groups each, every file cut into several units.
    let mut options = RunOptions {
        seed: Some(seed),
        run_id: Some(anonymize::runner::run_id_for(Some(seed), &job)),
        batch_rows: Some(64),
        ..RunOptions::default()
    };
    let passes = Distributed::new(&job, &source, &options, 4096, Arc::new(Reversed))?;
    assert!(passes.units().len() > 6, "{} units", passes.units().len());
    options.passes = Some(Arc::new(passes));
    run_job(&job, &options, &ReportTarget::of(&job, None))
}

#[test]
fn a_run_over_shuffled_tasks_writes_the_command_lines_rows_release_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let folder = split_input(dir.path());
    let text = super::partitions::customers_job(dir.path())
        .replace(&root().join("sample_data/customers.csv").display().to_string(), &folder.display().to_string())
        .replace(
            "output: { path: out.parquet, overwrite: true }",
            "output: { path: out.parquet, overwrite: true }\nlineage: runs.jsonl",
        );
    write_job(dir.path(), "job.yaml", &text);
    let out = anonymize(dir.path(), &["run", "job.yaml", "--seed", "5", "--quiet", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cli_rows = cells(&dir.path().join("out.parquet"));
    let cli_release = std::fs::read(dir.path().join("spend_by_city.csv")).unwrap();
    std::fs::remove_file(dir.path().join("out.parquet")).unwrap();
    std::fs::remove_file(dir.path().join("spend_by_city.csv")).unwrap();

    let summary = distributed_run(dir.path(), "job.yaml", 5).expect("the distributed run succeeds");
    let parts = dir.path().join("out.parquet");
    assert!(parts.is_dir() && parts.join("_SUCCESS").is_file());
    // Part files are in unit order, so the rows come back in input order.
    assert!(cells(&parts) == cli_rows, "the distributed rows differ from the command line's");
    assert_eq!(std::fs::read(dir.path().join("spend_by_city.csv")).unwrap(), cli_release, "release");
    let summary: serde_json::Value = serde_json::from_str(&serde_json::to_string(&summary).unwrap()).unwrap();
    for figure in ["rows_read", "rows_written", "rows_excluded", "run_id"] {
        assert_eq!(summary[figure], cli[figure], "{figure}");
    }
    assert_eq!(summary["privacy"]["classes"], cli["privacy"]["classes"]);
    assert_eq!(summary["released"], cli["released"]);
    // The ledger has both runs, committed; the lineage file both runs' START and COMPLETE, the
    // distributed run's output checksummed part by part.
    let ledger = std::fs::read_to_string(dir.path().join("budget.json")).unwrap();
    assert_eq!(ledger.matches("\"committed\"").count(), 2, "{ledger}");
    let events = std::fs::read_to_string(dir.path().join("runs.jsonl")).unwrap();
    let kinds: Vec<&str> = events
        .lines()
        .map(|l| {
            ["START", "COMPLETE", "FAIL"].into_iter().find(|k| l.contains(&format!("\"eventType\":\"{k}\""))).unwrap()
        })
        .collect();
    assert_eq!(kinds, ["START", "COMPLETE", "START", "COMPLETE"]);
    let verify = anonymize(dir.path(), &["verify", "runs.jsonl"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
    // Nothing temporary is left beside the output.
    let hidden: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}

#[test]
fn a_failing_task_or_a_token_repeated_across_tasks_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let folder = split_input(dir.path());
    std::fs::write(dir.path().join("key.hex"), "11".repeat(32)).unwrap();
    let job = |extra: &str| {
        format!(
            "version: 1
name: failing
input: {{ path: {} }}
secrets: {{ pseudonym_key: {{ file: key.hex }} }}
unlisted_columns: drop
columns:
  customer_id: {{ action: pseudonymize, unique: true }}
{extra}privacy:
  budget: {{ ledger: budget.json, dataset: failing, epsilon: 10 }}
output: {{ path: out.parquet }}
lineage: runs.jsonl
",
            folder.display()
        )
    };
    // A value too short for FF1 in a later file: the task fails with the engine's message.
    write_job(
        dir.path(),
        "short.yaml",
        &job(
            "  zip: { action: encrypt, alphabet: \"0123456789\" }\n  income: { action: noise, epsilon: 1, bounds: [0, 100] }\n",
        ),
    );
    let error = distributed_run(dir.path(), "short.yaml", 1).expect_err("FF1 refuses a 5-digit zip");
    assert_eq!(error.exit_code(), 1);
    assert!(error.to_string().contains("zip"), "{error}");
    // A customer repeated in two files: the tasks each see it once.
    let duplicate = dir.path().join("input/customers-9.parquet");
    std::fs::copy(dir.path().join("input/customers-0.parquet"), &duplicate).unwrap();
    write_job(dir.path(), "unique.yaml", &job(""));
    let error = distributed_run(dir.path(), "unique.yaml", 1).expect_err("a repeated customer stops the run");
    assert!(matches!(error, RunError::NotUniqueAcrossParts { .. } | RunError::NotUnique { .. }), "{error}");
    for name in std::fs::read_dir(dir.path()).unwrap().filter_map(Result::ok).map(|e| e.file_name()) {
        let name = name.to_string_lossy().into_owned();
        assert!(!name.starts_with("out") && !name.starts_with('.'), "{name} is left behind");
    }
    let ledger = std::fs::read_to_string(dir.path().join("budget.json")).unwrap_or_default();
    assert!(!ledger.contains("\"committed\""), "{ledger}");
    let lineage = std::fs::read_to_string(dir.path().join("runs.jsonl")).unwrap();
    assert_eq!(lineage.matches("\"FAIL\"").count(), 2);
    assert_eq!(lineage.matches("\"COMPLETE\"").count(), 0);
}
