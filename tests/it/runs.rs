//! Whole runs: consent, overwrite, killed runs, features not available yet, summaries.

use super::{anonymize, cells, column_names, root, stderr, stdout, write_job};
use std::path::Path;

fn people_job(dir: &Path, extra: &str, output: &str) -> String {
    let people = root().join("tests/fixtures/people.csv");
    let deletions = root().join("tests/fixtures/deletions.csv");
    format!(
        "version: 1\nname: people\npurpose: analytics\ninput:\n  path: {}\n  types: {{ consent: bool }}\n\
         consent:\n  column: consent\n  exclude:\n    - {{ path: {}, key: id }}\n\
         secrets: {{ pseudonym_key: {{ env: ANONYMIZE_TEST_KEY }} }}\n\
         output:\n  path: {}\n{extra}columns:\n  id: {{ action: pseudonymize, domain: person }}\n  name: drop\n\
         \x20 email: {{ action: pseudonymize, method: hmac-sha256, keep_domain: true, length: 16 }}\n\
         \x20 phone: {{ action: mask, keep_last: 4, char: '#' }}\n  age: keep\n  zip: {{ action: redact, with: withheld }}\n\
         \x20 consent: drop\n  signup: keep\n  score: keep\n  note: redact\n",
        people.display(),
        deletions.display(),
        dir.join(output).display()
    )
}

#[test]
fn consent_and_exclusion_lists_remove_rows_before_anything_else() {
    let dir = tempfile::tempdir().unwrap();
    write_job(dir.path(), "job.yaml", &people_job(dir.path(), "", "out.csv"));
    let output = anonymize(dir.path(), &["run", "job.yaml", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    // Row 2 refused consent, row 4 has none (null), row 3 asked for deletion.
    assert_eq!(summary["rows_read"], 5);
    assert_eq!(summary["rows_excluded"]["by_column"], 2);
    assert_eq!(summary["rows_excluded"]["by_list"], 1);
    assert_eq!(summary["rows_written"], 2);
    assert_eq!(summary["key_id"].as_str().unwrap().len(), 16);
    let rows = cells(&dir.path().join("out.csv"));
    assert_eq!(
        column_names(&dir.path().join("out.csv")),
        ["id", "email", "phone", "age", "zip", "signup", "score", "note"]
    );
    assert_eq!(rows.len(), 2);
    // The kept rows are Ann (1) and Ed (5): their ages and masked phones.
    assert_eq!(rows[0][3].as_deref(), Some("34"));
    assert_eq!(rows[1][3].as_deref(), Some("57"));
    assert_eq!(rows[0][2].as_deref(), Some("###########0101"));
    assert!(rows[0][1].as_deref().unwrap().ends_with("@example.com"));
    assert_eq!(rows[0][1].as_deref().unwrap().len(), 16 + "@example.com".len());
    assert!(rows.iter().all(|r| r[7].is_none()), "note is redacted to null");
    assert!(rows.iter().all(|r| r[4].as_deref() == Some("withheld")), "zip is redacted to the constant");
    // The summary on stderr states the exclusions.
    assert!(
        stderr(&output).contains("3 excluded by consent (2 without consent, 1 on exclusion lists)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn parquet_outputs_carry_the_run_story_but_never_the_key() {
    let dir = tempfile::tempdir().unwrap();
    write_job(dir.path(), "job.yaml", &people_job(dir.path(), "", "out.parquet"));
    let output = anonymize(dir.path(), &["run", "job.yaml", "--json", "-q"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let file = std::fs::File::open(dir.path().join("out.parquet")).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    use parquet::file::reader::FileReader;
    let pairs: std::collections::HashMap<String, Option<String>> = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect();
    assert_eq!(pairs["anonymize.run_id"].as_deref(), summary["run_id"].as_str());
    assert_eq!(pairs["anonymize.key_id"].as_deref(), summary["key_id"].as_str());
    assert_eq!(pairs["anonymize.job"].as_deref(), Some("people"));
    assert_eq!(pairs["anonymize.job_blake3"].as_deref(), summary["job_blake3"].as_str());
    let privacy: serde_json::Value = serde_json::from_str(pairs["anonymize.privacy"].as_deref().unwrap()).unwrap();
    assert_eq!(privacy["columns"]["id"], "pseudonymize");
    assert_eq!(privacy["seeded"], false);
    let bytes = std::fs::read(dir.path().join("out.parquet")).unwrap();
    let key = "11".repeat(32);
    assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()), "the key's hex is in the output");
    assert!(!bytes.windows(32).any(|w| w == [0x11; 32]), "the key's bytes are in the output");
    assert!(!stdout(&output).contains(&key));
}

#[test]
fn same_key_and_domain_give_the_same_token_in_every_run() {
    let dir = tempfile::tempdir().unwrap();
    for out in ["a.csv", "b.csv"] {
        write_job(dir.path(), "job.yaml", &people_job(dir.path(), "", out));
        assert_eq!(anonymize(dir.path(), &["run", "job.yaml", "-q"]).status.code(), Some(0));
    }
    assert_eq!(cells(&dir.path().join("a.csv")), cells(&dir.path().join("b.csv")));
}

#[test]
fn existing_outputs_are_kept_unless_overwrite_is_set() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("out.csv"), "precious").unwrap();
    write_job(dir.path(), "job.yaml", &people_job(dir.path(), "", "out.csv"));
    let output = anonymize(dir.path(), &["run", "job.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("exists; set `output.overwrite: true`"), "{}", stderr(&output));
    assert_eq!(std::fs::read_to_string(dir.path().join("out.csv")).unwrap(), "precious");
    let job = people_job(dir.path(), "", "out.csv").replace("  path: ", "  overwrite: true\n  path: ");
    write_job(dir.path(), "job.yaml", &job.replacen("  overwrite: true\n", "", 1));
    assert_eq!(anonymize(dir.path(), &["run", "job.yaml", "-q"]).status.code(), Some(0));
    assert_eq!(cells(&dir.path().join("out.csv")).len(), 2);
}

#[test]
fn a_missing_key_stops_the_run_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let job = people_job(dir.path(), "", "out.csv").replace("ANONYMIZE_TEST_KEY", "ANONYMIZE_UNSET_KEY");
    write_job(dir.path(), "job.yaml", &job);
    let output = anonymize(dir.path(), &["run", "job.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("the key variable `ANONYMIZE_UNSET_KEY` is not set"), "{}", stderr(&output));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only the job file is there");
}

#[test]
fn dry_run_plans_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write_job(dir.path(), "job.yaml", &people_job(dir.path(), "lineage: out.lineage.jsonl\n", "out.csv"));
    let output = anonymize(dir.path(), &["run", "job.yaml", "--dry-run", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["dry_run"], true);
    assert_eq!(summary["output"]["written"], false);
    assert_eq!(summary["columns"][1]["action"], "drop");
    assert!(summary["report"].as_str().unwrap().ends_with("out.report.html"));
    assert!(stderr(&output).contains("out.report.html (would be written)"), "{}", stderr(&output));
    // No output, no report, no lineage event: only the job file is there.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn toml_and_yaml_jobs_mean_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let people = root().join("tests/fixtures/people.csv");
    let toml = format!(
        "version = 1\nname = \"people\"\nunlisted_columns = \"drop\"\n[input]\npath = '{}'\n[output]\npath = \"t.csv\"\n\
         [secrets]\npseudonym_key = {{ env = \"ANONYMIZE_TEST_KEY\" }}\n\
         [columns]\nid = {{ action = \"pseudonymize\", domain = \"person\" }}\nage = \"keep\"\n",
        people.display()
    );
    let yaml = format!(
        "version: 1\nname: people\nunlisted_columns: drop\ninput: {{ path: '{}' }}\noutput: {{ path: y.csv }}\n\
         secrets: {{ pseudonym_key: {{ env: ANONYMIZE_TEST_KEY }} }}\n\
         columns:\n  id: {{ action: pseudonymize, domain: person }}\n  age: keep\n",
        people.display()
    );
    write_job(dir.path(), "job.toml", &toml);
    write_job(dir.path(), "job.yaml", &yaml);
    for job in ["job.toml", "job.yaml"] {
        let output = anonymize(dir.path(), &["run", job, "-q"]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
    let t = std::fs::read(dir.path().join("t.csv")).unwrap();
    assert_eq!(t, std::fs::read(dir.path().join("y.csv")).unwrap());
    assert_eq!(cells(&dir.path().join("t.csv")).len(), 5);
}

#[test]
fn folders_and_globs_read_every_file_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let parts = dir.path().join("parts");
    std::fs::create_dir(&parts).unwrap();
    std::fs::write(parts.join("b.csv"), "id,v\n3,c\n").unwrap();
    std::fs::write(parts.join("a.csv"), "id,v\n1,a\n2,b\n").unwrap();
    std::fs::write(parts.join(".hidden.csv"), "id,v\n9,z\n").unwrap();
    for (name, path) in [("folder", "parts"), ("glob", "parts/*.csv")] {
        let job = format!(
            "version: 1\nname: {name}\ninput: {{ path: '{path}' }}\noutput: {{ path: {name}.csv }}\ncolumns: {{ id: keep, v: keep }}\n"
        );
        write_job(dir.path(), "job.yaml", &job);
        let output = anonymize(dir.path(), &["run", "job.yaml", "-q"]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert_eq!(std::fs::read_to_string(dir.path().join(format!("{name}.csv"))).unwrap(), "id,v\n1,a\n2,b\n3,c\n");
    }
    std::fs::write(parts.join("c.csv"), "id,w\n4,d\n").unwrap();
    std::fs::remove_file(dir.path().join("glob.csv")).unwrap();
    std::fs::remove_file(dir.path().join("glob.report.html")).unwrap();
    let output = anonymize(dir.path(), &["run", "job.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("does not have the same columns"), "{}", stderr(&output));
}

#[test]
fn a_failure_late_in_the_input_leaves_no_output_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,age\n");
    for i in 0..50_000 {
        csv.push_str(&format!("{i},{}\n", i % 90));
    }
    csv.push_str("50000,old\n");
    std::fs::write(dir.path().join("in.csv"), csv).unwrap();
    let job = "version: 1\nname: late\ninput: { path: in.csv }\noutput: { path: out/late.parquet }\ncolumns: { id: keep, age: keep }\n";
    write_job(dir.path(), "job.yaml", job);
    let output = anonymize(dir.path(), &["run", "job.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("in.csv, line 50002, column `age`: the value does not read as int64"), "{text}");
    assert!(text.contains("hint: the column's type was inferred"), "{text}");
    let left: Vec<_> = std::fs::read_dir(dir.path().join("out")).unwrap().collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[cfg(unix)]
#[test]
fn a_killed_run_leaves_nothing_under_the_output_name() {
    let dir = tempfile::tempdir().unwrap();
    let generated = anonymize(dir.path(), &["sample", "--rows", "400000", "--out", "big.csv"]);
    assert_eq!(generated.status.code(), Some(0), "{}", stderr(&generated));
    let names = column_names(&dir.path().join("big.csv"));
    let mut job = String::from(
        "version: 1\nname: killed\ninput: { path: big.csv }\noutput: { path: out/killed.csv }\n\
         unlisted_columns: drop\nsecrets: { pseudonym_key: { env: ANONYMIZE_TEST_KEY } }\ncolumns:\n",
    );
    for n in
        names.iter().filter(|n| !["birth_date", "spend_90d", "signup_date", "consent_analytics"].contains(&n.as_str()))
    {
        job.push_str(&format!("  {n}: pseudonymize\n"));
    }
    write_job(dir.path(), "job.yaml", &job);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_anonymize"))
        .args(["run", "job.yaml", "--threads", "1"])
        .current_dir(dir.path())
        .env("ANONYMIZE_TEST_KEY", "11".repeat(32))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the temporary output has data in it, then kill -9.
    let out = dir.path().join("out");
    let started = std::time::Instant::now();
    let mut saw_partial = false;
    while started.elapsed() < std::time::Duration::from_secs(60) {
        let partial = std::fs::read_dir(&out)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".tmp") && e.metadata().is_ok_and(|m| m.len() > 0));
        if partial {
            saw_partial = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(saw_partial, "the run finished before it could be killed mid-write");
    assert!(!out.join("killed.csv").exists(), "a killed run left a file under the output name");
}

#[test]
fn keygen_prints_a_fresh_valid_key() {
    let a = anonymize(&root(), &["keygen"]);
    let b = anonymize(&root(), &["keygen"]);
    assert_eq!(a.status.code(), Some(0));
    let key = stdout(&a).trim().to_string();
    assert_eq!(key.len(), 64);
    assert!(key.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(key, stdout(&b).trim());
    assert!(!stderr(&a).contains(&key), "the key id line must not repeat the key");
}

/// Rows excluded by consent reach no statistic: the k-anonymity search, its risk figures and an
/// aggregate count all see exactly the 4,368 consenting rows of the 5,000.
#[test]
fn consent_excluded_rows_reach_no_statistic() {
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("sample_data");
    let job = format!(
        "version: 1\nname: consented\npurpose: analytics\n\
         input: {{ path: {0}/customers.csv, types: {{ zip: string }} }}\n\
         consent:\n  exclude:\n    - {{ path: {0}/deletion_requests.csv, key: customer_id }}\n\
         unlisted_columns: drop\n\
         columns:\n  customer_id: keep\n  gender: generalize\n  zip: {{ action: generalize, hierarchy: {{ type: prefix, keep: [3, 1] }} }}\n\
         privacy:\n  k_anonymity: {{ k: 2, suppression_limit: 0.05 }}\n\
         \x20 budget: {{ ledger: budget.json, dataset: customers, epsilon: 10000, delta: 1.0e-5 }}\n\
         aggregates:\n  - {{ name: everyone, path: everyone.csv, privacy_unit: customer_id, epsilon: 5000, measures: [count] }}\n\
         output: {{ path: out.csv }}\n",
        sample.display()
    );
    write_job(dir.path(), "job.yaml", &job);
    let run = anonymize(dir.path(), &["run", "job.yaml", "--quiet", "--json", "--seed", "4"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&run)).unwrap();
    assert_eq!(summary["rows_read"], 5000);
    assert_eq!(summary["rows_written"], 4368);
    assert_eq!(summary["privacy"]["rows"], 4368);
    assert_eq!(summary["privacy"]["risk_before"]["rows"], 4368);
    assert_eq!(summary["privacy"]["risk_after"]["rows"], 4368);
    // A count with next to no noise (epsilon 5000) counts the consenting customers only.
    let release = dir.path().join("everyone.csv");
    let value = column_names(&release).iter().position(|c| c == "value").unwrap();
    let rows = cells(&release);
    assert_eq!(rows.len(), 1);
    let count: f64 = rows[0][value].as_deref().unwrap().parse().unwrap();
    assert!((count - 4368.0).abs() < 1.0, "{count}");
}

/// A kept column that looks like a direct identifier is warned about, by name in `validate` and
/// by values in `run`, naming the column and the pattern, never a value.
#[test]
fn kept_columns_that_look_like_identifiers_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("in.csv"),
        "id,contact,mobile_no,pan,note\n1,ann@x.test,+1 860 555 0101,4111 1111 1111 1111,blue\n\
         2,bo@y.test,+1 860 555 0102,5500 0000 0000 0004,green\n",
    )
    .unwrap();
    write_job(
        dir.path(),
        "job.yaml",
        "version: 1\nname: ids\ninput: { path: in.csv, types: { mobile_no: string, pan: string } }\n\
         columns:\n  id: keep\n  contact: keep\n  mobile_no: keep\n  pan: keep\n  note: keep\n\
         output: { path: out.csv }\n",
    );
    let out = anonymize(dir.path(), &["validate", "job.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("column `mobile_no` is kept unchanged, but its name suggests a phone number"), "{text}");
    assert!(text.contains("column `pan` is kept unchanged, but its name suggests a card number"), "{text}");
    assert!(!text.contains("`contact`") && !text.contains("`note`"), "{text}");
    let out = anonymize(dir.path(), &["run", "job.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("column `contact` is kept unchanged, but most of its values look like e-mail addresses"),
        "{text}"
    );
    assert!(
        text.contains("column `mobile_no` is kept unchanged, but most of its values look like phone numbers"),
        "{text}"
    );
    assert!(
        text.contains("`pan` is kept unchanged, but most of its values look like card numbers (valid Luhn digit)"),
        "{text}"
    );
    assert!(!text.contains("`note`") && !text.contains("`id`"), "{text}");
    for value in ["ann@x.test", "bo@y.test", "555 0101", "4111", "5500"] {
        assert!(!text.contains(value), "a value reached the warnings: {text}");
    }
}
