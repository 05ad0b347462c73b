//! `anonymize budget LEDGER`.

use super::{anonymize, stderr, stdout};
use anonymize::dp::ledger::{self, Request};

#[test]
fn budget_shows_spent_and_left_per_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("budget.json");
    let request = |run_id, epsilon| Request {
        dataset: "customers",
        total_epsilon: 2.0,
        total_delta: 1e-6,
        epsilon,
        delta: 0.0,
        run_id,
        job: "daily",
        seeded: false,
    };
    ledger::reserve(&path, &request("r1", 0.5)).unwrap().commit().unwrap();
    let held = ledger::reserve(&path, &request("r2", 0.25)).unwrap();
    let out = anonymize(dir.path(), &["budget", "budget.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("customers: epsilon 0.75 of 2 spent, 1.25 left"), "{text}");
    assert!(text.contains("run r1") && text.contains("committed"), "{text}");
    assert!(text.contains("run r2") && text.contains("reserved"), "{text}");
    held.commit().unwrap();
    let json = anonymize(dir.path(), &["budget", "budget.json", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(value["datasets"]["customers"]["spending"][1]["state"], "committed");

    let missing = anonymize(dir.path(), &["budget", "nope.json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("does not exist"), "{}", stderr(&missing));
}
