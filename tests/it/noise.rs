//! The `noise` action through the binary: types kept, budget spent through the ledger,
//! refusals before anything is written, reproducible seeded runs, released reservations, and
//! processes racing on one ledger.

use super::{anonymize, cells, root, stderr, write_job};
use std::path::Path;

fn dp_job(dir: &Path, name: &str, output: &str, total: f64, input: &str) {
    let job = format!(
        "version: 1\nname: {name}\ninput: {{ path: {input}, types: {{ zip: string }} }}\nunlisted_columns: drop\n\
         columns:\n  customer_id: keep\n\
         \x20 income: {{ action: noise, mechanism: laplace, epsilon: 1.0, bounds: [0, 500000] }}\n\
         \x20 spend_90d: {{ action: noise, mechanism: gaussian, epsilon: 0.5, delta: 1.0e-6, bounds: [0, 20000] }}\n\
         \x20 signup_date: {{ action: noise, epsilon: 0.5, bounds: [\"2015-01-01\", \"2025-12-31\"], unit: days }}\n\
         privacy:\n  budget: {{ ledger: state/budget.json, dataset: customers, epsilon: {total}, delta: 1.0e-5 }}\n\
         output: {{ path: {output}, overwrite: true }}\n"
    );
    write_job(dir, &format!("{name}.yaml"), &job);
}

fn sample() -> String {
    root().join("sample_data/customers.csv").display().to_string()
}

fn spending(dir: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("state/budget.json")).unwrap();
    let ledger: serde_json::Value = serde_json::from_str(&text).unwrap();
    ledger["datasets"]["customers"]["spending"].as_array().cloned().unwrap_or_default()
}

#[test]
fn noise_keeps_types_spends_the_budget_and_refuses_overspending() {
    let dir = tempfile::tempdir().unwrap();
    dp_job(dir.path(), "dp", "out.csv", 5.0, &sample());
    // A dry run states what would be spent and leaves the ledger alone.
    let dry = anonymize(dir.path(), &["run", "dp.yaml", "--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert!(stderr(&dry).contains("epsilon 2 delta 0.000001 would be spent"), "{}", stderr(&dry));
    assert!(!dir.path().join("state/budget.json").exists());
    for _ in 0..2 {
        let run = anonymize(dir.path(), &["run", "dp.yaml", "--quiet"]);
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    }
    let rows = cells(&dir.path().join("out.csv"));
    assert_eq!(rows.len(), 5_000);
    let raw = cells(&root().join("sample_data/customers.csv"));
    let mut changed = 0;
    for (out, input) in rows.iter().zip(&raw) {
        // Null stays null; every other value keeps its type.
        for (o, i) in [(1, 8), (2, 9), (3, 12)] {
            assert_eq!(out[o].is_none(), input[i].is_none(), "column {o}");
        }
        if let Some(income) = out[1].as_deref() {
            assert!(income.parse::<i64>().is_ok(), "income stays an integer");
            changed += usize::from(out[1] != input[8]);
        }
        assert!(out[2].as_deref().is_none_or(|v| v.parse::<f64>().is_ok()));
        assert!(out[3].as_deref().is_none_or(|v| chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok()));
    }
    assert!(changed > 4_500, "{changed}");
    assert_eq!(spending(dir.path()).len(), 2);
    // A third run would spend 6 of 5: refused before reading, nothing written, nothing charged.
    dp_job(dir.path(), "dp", "third.csv", 5.0, &sample());
    let run = anonymize(dir.path(), &["run", "dp.yaml"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stderr(&run).contains("not enough privacy budget left: this run needs epsilon 2"), "{}", stderr(&run));
    assert!(!dir.path().join("third.csv").exists());
    assert_eq!(spending(dir.path()).len(), 2);
    assert!(spending(dir.path()).iter().all(|s| s["state"] == "committed"));
}

#[test]
fn seeded_noise_is_reproducible_across_threads_and_marked_not_private() {
    let dir = tempfile::tempdir().unwrap();
    dp_job(dir.path(), "dp", "out.csv", 100.0, &sample());
    // Batches of 500 rows: the 5,000 sample rows are cut into ten, so two threads really do
    // share the work (one batch would leave the second thread idle and the test toothless).
    let first = anonymize(dir.path(), &["run", "dp.yaml", "--seed", "7", "--threads", "1", "--batch-rows", "500"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(stderr(&first).contains("NOT differentially private"), "{}", stderr(&first));
    let bytes = std::fs::read(dir.path().join("out.csv")).unwrap();
    let second =
        anonymize(dir.path(), &["run", "dp.yaml", "--seed", "7", "--threads", "2", "--quiet", "--batch-rows", "700"]);
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(std::fs::read(dir.path().join("out.csv")).unwrap(), bytes);
    let other = anonymize(dir.path(), &["run", "dp.yaml", "--seed", "8", "--quiet"]);
    assert_eq!(other.status.code(), Some(0));
    assert_ne!(std::fs::read(dir.path().join("out.csv")).unwrap(), bytes);
    assert!(spending(dir.path()).iter().all(|s| s["seeded"] == true));
}

#[test]
fn a_failed_run_releases_its_reservation() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = std::fs::read_to_string(root().join("sample_data/customers.csv")).unwrap();
    // A value that is not a number, far into the file: the run fails while streaming.
    text.push_str("999999,Late Row,late@mail.example,+1-000-555-0000,1980-01-01,02139,F,Boston,notanumber,1.0,gold,,2020-01-01,true\n");
    std::fs::write(dir.path().join("broken.csv"), text).unwrap();
    dp_job(dir.path(), "dp", "out.csv", 5.0, "broken.csv");
    let job = std::fs::read_to_string(dir.path().join("dp.yaml"))
        .unwrap()
        .replace("zip: string", "zip: string, income: int64");
    write_job(dir.path(), "dp.yaml", &job);
    let run = anonymize(dir.path(), &["run", "dp.yaml"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(!dir.path().join("out.csv").exists());
    assert!(spending(dir.path()).is_empty(), "{:?}", spending(dir.path()));
}

/// Four processes start together on one ledger whose budget covers two of them.
#[test]
fn processes_racing_on_one_ledger_never_overspend() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..4 {
        dp_job(dir.path(), &format!("racer{i}"), &format!("out{i}.csv"), 4.5, &sample());
    }
    let children: Vec<_> = (0..4)
        .map(|i| {
            std::process::Command::new(env!("CARGO_BIN_EXE_anonymize"))
                .args(["run", &format!("racer{i}.yaml"), "--quiet"])
                .current_dir(dir.path())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let codes: Vec<i32> = children.into_iter().map(|c| c.wait_with_output().unwrap().status.code().unwrap()).collect();
    assert_eq!(codes.iter().filter(|&&c| c == 0).count(), 2, "{codes:?}");
    assert_eq!(codes.iter().filter(|&&c| c == 1).count(), 2, "{codes:?}");
    let spent: f64 = spending(dir.path()).iter().map(|s| s["epsilon"].as_f64().unwrap()).sum();
    assert_eq!(spent, 4.0);
    let written = (0..4).filter(|i| dir.path().join(format!("out{i}.csv")).exists()).count();
    assert_eq!(written, 2);
}

#[test]
fn aggregate_releases_are_written_with_scales_and_error_bounds_and_charged() {
    let dir = tempfile::tempdir().unwrap();
    let job = format!(
        "version: 1\nname: agg\ninput: {{ path: {} }}\nunlisted_columns: drop\ncolumns:\n  customer_id: keep\n\
         privacy:\n  budget: {{ ledger: state/budget.json, dataset: customers, epsilon: 5, delta: 1.0e-5 }}\n\
         aggregates:\n\
         \x20 - {{ name: by_city, path: by_city.csv, privacy_unit: customer_id, group_by: [city], epsilon: 1.0, delta: 1.0e-6,\n\
         \x20     measures: [count, {{ sum: spend_90d, bounds: [0, 20000] }}, {{ histogram: income, bins: [0, 50000, 500000] }}] }}\n\
         \x20 - {{ name: by_segment, path: by_segment.parquet, privacy_unit: customer_id, group_by: [segment], epsilon: 0.5,\n\
         \x20     measures: [count], public_groups: [bronze, silver, gold, platinum, diamond] }}\n\
         output: {{ path: ids.csv }}\n",
        sample()
    );
    write_job(dir.path(), "agg.yaml", &job);
    let run = anonymize(dir.path(), &["run", "agg.yaml", "--quiet", "--seed", "3"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let rows = cells(&dir.path().join("by_city.csv"));
    assert_eq!(
        super::column_names(&dir.path().join("by_city.csv")),
        ["city", "measure", "bin", "value", "noise_scale", "error_95"]
    );
    assert!(rows.len() >= 20 * 4, "{} rows", rows.len());
    for r in &rows {
        assert!(r[3].as_deref().unwrap().parse::<f64>().is_ok());
        let scale: f64 = r[4].as_deref().unwrap().parse().unwrap();
        let error: f64 = r[5].as_deref().unwrap().parse().unwrap();
        assert!(scale > 0.0 && error >= 2.9 * scale, "{r:?}");
    }
    // Public groups are all released, the one absent from the data too.
    let segments: Vec<String> =
        cells(&dir.path().join("by_segment.parquet")).iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(segments, ["bronze", "silver", "gold", "platinum", "diamond"]);
    let spent: f64 = spending(dir.path()).iter().map(|s| s["epsilon"].as_f64().unwrap()).sum();
    assert_eq!(spent, 1.5);
}
