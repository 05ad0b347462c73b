//! The gallery of bad job files: one problem each (and one with many), every message pinned.

use super::{anonymize, root, stderr};

#[test]
fn every_bad_job_is_refused_with_a_pinned_message() {
    let dir = root().join("tests/bad_jobs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".toml"))
        .collect();
    names.sort();
    assert!(names.len() >= 30, "the gallery has {} jobs", names.len());
    // Every file is checked, and every one that fails is named, not just the first.
    let mut failed = Vec::new();
    for name in names {
        let outcome = std::panic::catch_unwind(|| {
            let output = anonymize(&dir, &["validate", &name]);
            let report = format!("exit: {:?}\n{}", output.status.code(), stderr(&output));
            assert_eq!(output.status.code(), Some(1), "{name} must fail validation:\n{report}");
            insta::assert_snapshot!(format!("bad_job__{name}"), report);
            // `run` refuses the same file before reading any row, with the same problems.
            let run = anonymize(&dir, &["run", &name]);
            assert_eq!(run.status.code(), Some(1), "{name}: run must fail:\n{}", stderr(&run));
            assert!(!root().join("target-test-out/never.parquet").exists());
        });
        if outcome.is_err() {
            failed.push(name);
        }
    }
    assert!(failed.is_empty(), "{} bad jobs differ from their pinned messages: {failed:?}", failed.len());
}

#[test]
fn an_inline_key_is_never_echoed() {
    let dir = root().join("tests/bad_jobs");
    for args in [&["validate", "inline_key.yaml"][..], &["run", "inline_key.yaml"][..]] {
        let output = anonymize(&dir, args);
        assert!(!stderr(&output).contains("5f3a9c0e"), "{}", stderr(&output));
        assert!(!super::stdout(&output).contains("5f3a9c0e"));
    }
}

#[test]
fn validate_reports_every_file_and_passes_good_ones() {
    let dir = root().join("tests/bad_jobs");
    let good = root().join("pipelines/customers.yaml");
    let output = anonymize(&dir, &["validate", good.to_str().unwrap(), "unknown_action.yaml", "version_two.yaml"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(text.contains("ok: "), "{text}");
    assert!(text.contains("unknown action `hash`"), "{text}");
    assert!(text.contains("version 2 is not supported"), "{text}");
    assert!(text.contains("2 job files of 3 did not validate"), "{text}");
    let output = anonymize(&root(), &["validate", "pipelines/customers.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}
