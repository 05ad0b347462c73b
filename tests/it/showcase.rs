//! The main job is the product's showcase, and every run measures the risk it leaves: checked
//! from the files the runs write, independently of the code that computed the figures.

use super::{anonymize, cells, main_job_text, plain_job_text, root, run_json, stderr, stdout, write_job};
use std::collections::{HashMap, HashSet};

/// The share of `rows` unique over the columns `at`, counted by hand.
fn unique_share(rows: &[Vec<Option<String>>], at: &[usize]) -> f64 {
    let mut classes: HashMap<Vec<Option<&str>>, usize> = HashMap::new();
    for row in rows {
        *classes.entry(at.iter().map(|&i| row[i].as_deref()).collect()).or_default() += 1;
    }
    classes.values().filter(|&&n| n == 1).count() as f64 / rows.len() as f64
}

/// The input rows the consent rules let through, in input order (consent column true, subject
/// not on the deletion list).
fn consented_rows() -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let input = root().join("sample_data/customers.csv");
    let names = super::column_names(&input);
    let raw = cells(&input);
    let deleted: HashSet<String> =
        cells(&root().join("sample_data/deletion_requests.csv")).into_iter().filter_map(|r| r[0].clone()).collect();
    let consent = names.iter().position(|n| n == "consent_analytics").unwrap();
    let id = names.iter().position(|n| n == "customer_id").unwrap();
    let kept = raw
        .into_iter()
        .filter(|r| r[consent].as_deref() == Some("true") && !r[id].as_ref().is_some_and(|v| deleted.contains(v)))
        .collect();
    (names, kept)
}

#[test]
fn the_main_job_is_k_anonymous_noisy_released_and_measured() {
    let dir = tempfile::tempdir().unwrap();
    write_job(dir.path(), "main.yaml", &main_job_text("main", "main.csv"));
    let summary = run_json(dir.path(), "main.yaml");
    let names = super::column_names(&dir.path().join("main.csv"));
    let rows = cells(&dir.path().join("main.csv"));
    let at = |n: &str| names.iter().position(|c| c == n).unwrap_or_else(|| panic!("no column {n}"));

    // k-anonymity, from the output file: every class over the quasi-identifiers has at least
    // k = 5 rows, except the suppressed rows (every quasi-identifier `*`), at most 4 %.
    let quasi = ["birth_date", "zip", "gender", "city", "segment"];
    let q: Vec<usize> = quasi.iter().map(|n| at(n)).collect();
    let mut classes: HashMap<Vec<Option<&str>>, usize> = HashMap::new();
    for row in &rows {
        *classes.entry(q.iter().map(|&i| row[i].as_deref()).collect()).or_default() += 1;
    }
    let star: Vec<Option<&str>> = vec![Some("*"); quasi.len()];
    let suppressed = classes.get(&star).copied().unwrap_or(0);
    assert!(suppressed as f64 <= 0.04 * rows.len() as f64, "{suppressed} suppressed");
    let smallest = classes.iter().filter(|(k, _)| **k != star).map(|(_, &n)| n).min().unwrap();
    assert!(smallest >= 5, "a class of {smallest} rows");
    assert!(classes.len() > 20, "only {} classes: the job generalizes everything away", classes.len());
    assert_eq!(summary["privacy"]["k"], 5);
    // Birth dates are decades, not days.
    assert!(rows.iter().filter_map(|r| r[at("birth_date")].as_deref()).all(|v| v == "*" || v.len() == 9));

    // The noise columns are noisy: rows come out in input order after the consent filter, and
    // hardly any value survives unchanged.
    let (input_names, input) = consented_rows();
    assert_eq!(input.len(), rows.len());
    for (column, scale) in [("income", 400_000.0), ("spend_90d", 10_000.0)] {
        let i = input_names.iter().position(|n| n == column).unwrap();
        let pairs: Vec<(f64, f64)> = input
            .iter()
            .zip(&rows)
            .filter_map(|(a, b)| Some((a[i].as_deref()?.parse().ok()?, b[at(column)].as_deref()?.parse().ok()?)))
            .collect();
        assert!(pairs.len() > 4_000, "{column}: {} values", pairs.len());
        let same = pairs.iter().filter(|(a, b)| a == b).count();
        let mean_distance = pairs.iter().map(|(a, b)| (a - b).abs()).sum::<f64>() / pairs.len() as f64;
        assert!(same * 100 < pairs.len(), "{column}: {same} values unchanged");
        // Laplace noise of scale b has mean |noise| = b; allow wide margins.
        assert!(mean_distance > 0.5 * scale && mean_distance < 2.0 * scale, "{column}: mean distance {mean_distance}");
    }
    assert_eq!(summary["dp"]["epsilon"], 3.0);

    // The release exists: count, sum and mean for each public segment.
    let release = cells(&dir.path().join("main.spend_by_segment.csv"));
    assert_eq!(release.len(), 12, "{release:?}");
    let segments: HashSet<&str> = release.iter().filter_map(|r| r[0].as_deref()).collect();
    assert_eq!(segments, HashSet::from(["bronze", "silver", "gold", "platinum"]));

    // The measured risk: over the released attributes (the quasi-identifiers; tokens,
    // ciphertexts and noise do not count), as computed by hand from the file, and in the report.
    let released = &summary["released"];
    let columns: Vec<&str> = released["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(columns, quasi);
    let not_counted: Vec<&str> =
        released["not_counted"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(not_counted, ["customer_id", "email", "phone", "income", "spend_90d", "card_number"]);
    let share = unique_share(&rows, &q);
    assert_eq!(released["risk"]["unique_rows"].as_f64().unwrap(), share);
    assert!(share <= 0.05);
    assert_eq!(released["risk"]["prosecutor_highest"].as_f64().unwrap(), 1.0 / suppressed.min(smallest) as f64);
    let report = std::fs::read_to_string(dir.path().join("main.report.html")).unwrap();
    assert!(report.contains("What the output leaves: risk over its released attributes"), "no risk section");
    assert!(report.contains(&format!("{:.1}% of the {} rows are unique", 100.0 * share, rows.len())));
    assert!(!report.contains("Not identifying"), "a column is called not identifying without figures");
    // The lineage facet carries the same figures.
    let events = std::fs::read_to_string(dir.path().join("main.lineage.jsonl")).unwrap();
    let complete: serde_json::Value = serde_json::from_str(events.lines().last().unwrap()).unwrap();
    let facet = &complete["run"]["facets"]["anonymize_privacy"]["releasedAttributes"];
    assert_eq!(facet["risk"]["uniqueRows"].as_f64().unwrap(), share);
    assert_eq!(facet["columns"].as_array().unwrap().len(), quasi.len());
}

#[test]
fn the_guardrail_stops_the_old_main_job_and_names_the_columns_that_drive_it() {
    let dir = tempfile::tempdir().unwrap();
    // Without the guardrail the old main job runs; its figures match a count from its file.
    write_job(dir.path(), "plain.yaml", &plain_job_text("plain", "plain.csv"));
    let summary = run_json(dir.path(), "plain.yaml");
    let names = super::column_names(&dir.path().join("plain.csv"));
    let rows = cells(&dir.path().join("plain.csv"));
    let released = &summary["released"];
    let columns: Vec<&str> = released["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    // A masked phone and a shifted date still identify: they count.
    assert_eq!(columns, ["phone", "zip", "gender", "city", "income", "spend_90d", "segment", "signup_date"]);
    let at: Vec<usize> = columns.iter().map(|c| names.iter().position(|n| n == c).unwrap()).collect();
    let share = unique_share(&rows, &at);
    assert_eq!(released["risk"]["unique_rows"].as_f64().unwrap(), share);
    assert!(share > 0.9, "{share}");
    // The issue's own measurement: over gender, city and income alone, 86 % of rows are unique.
    let three: Vec<usize> =
        ["gender", "city", "income"].iter().map(|c| names.iter().position(|n| n == c).unwrap()).collect();
    assert!((unique_share(&rows, &three) - 0.8615).abs() < 0.001, "{}", unique_share(&rows, &three));
    // The drivers alone leave at least 90 % of the unique rows unique, and no smaller set of
    // columns does (checked by hand over every smaller set).
    let drivers: Vec<&str> = released["drivers"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let driver_at: Vec<usize> = drivers.iter().map(|c| names.iter().position(|n| n == c).unwrap()).collect();
    assert!(unique_share(&rows, &driver_at) >= 0.9 * share);
    for mask in 1u32..(1 << at.len()) {
        if (mask.count_ones() as usize) < drivers.len() {
            let subset: Vec<usize> = (0..at.len()).filter(|b| mask & (1 << b) != 0).map(|b| at[b]).collect();
            assert!(unique_share(&rows, &subset) < 0.9 * share, "a smaller set {subset:?} does it");
        }
    }
    // Kept columns are described by the figures, not as "not identifying".
    let report = std::fs::read_to_string(dir.path().join("plain.report.html")).unwrap();
    assert!(!report.contains("Not identifying"));
    assert!(report.contains("it is one of the columns that drive the output&#39;s uniqueness"));

    // With the guardrail at 5 %, the same job fails, writes nothing and says why.
    let text = plain_job_text("guarded", "guarded.csv")
        .replace("\noutput:", "\nprivacy:\n  risk: { max_unique_rows: 0.05 }\noutput:");
    write_job(dir.path(), "guarded.yaml", &text);
    let run = anonymize(dir.path(), &["run", "guarded.yaml"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let message = stderr(&run);
    assert!(
        message.contains("of the output's rows are unique over its released attributes, more than the 5.00%"),
        "{message}"
    );
    assert!(message.contains(&format!("driven by {}", drivers.join(", "))), "{message}");
    assert!(
        message.contains("hint:") && message.contains("generalize") && message.contains("k_anonymity"),
        "{message}"
    );
    for written in ["guarded.csv", "guarded.report.html"] {
        assert!(!dir.path().join(written).exists(), "{written} was written");
    }
    let leftovers: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("guarded") && n != "guarded.yaml" && n != "guarded.lineage.jsonl")
        .collect();
    assert_eq!(leftovers, Vec::<String>::new());
    let events = std::fs::read_to_string(dir.path().join("guarded.lineage.jsonl")).unwrap();
    assert!(events.lines().last().unwrap().contains("\"FAIL\""));

    // A guarded run that spends privacy budget and fails the guardrail spends nothing: the main
    // job with its signup date kept (a date per customer) leaves most rows unique.
    let text = main_job_text("spender", "spender.csv").replace("signup_date:       drop", "signup_date:       keep");
    assert!(text.contains("signup_date:       keep"));
    write_job(dir.path(), "spender.yaml", &text);
    let run = anonymize(dir.path(), &["run", "spender.yaml"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(stderr(&run).contains("driven by"), "{}", stderr(&run));
    assert!(!dir.path().join("spender.csv").exists() && !dir.path().join("spender.spend_by_segment.csv").exists());
    let budget = anonymize(dir.path(), &["budget", "spender.budget.json", "--json"]);
    assert_eq!(budget.status.code(), Some(0), "{}", stderr(&budget));
    let ledger: serde_json::Value = serde_json::from_str(&stdout(&budget)).unwrap();
    // The run reserved its spending (the dataset is in the ledger) and released it.
    let spending = ledger["datasets"]["sample_customers"]["spending"].as_array().unwrap();
    let committed = spending.iter().filter(|s| s["state"] == "committed").count();
    assert_eq!(committed, 0, "the failed run's spending was committed: {ledger}");

    // The new main job passes the same guardrail (it sets it itself).
    assert!(
        std::fs::read_to_string(root().join("pipelines/customers.yaml")).unwrap().contains("max_unique_rows: 0.05")
    );
    write_job(dir.path(), "main.yaml", &main_job_text("main", "main.csv"));
    let summary = run_json(dir.path(), "main.yaml");
    assert!(summary["released"]["risk"]["unique_rows"].as_f64().unwrap() <= 0.05);
}

#[test]
fn the_minimal_job_runs_and_passes_its_guardrail() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join("pipelines/customers_minimal.yaml"))
        .unwrap()
        .replace("../sample_data", root().join("sample_data").to_str().unwrap())
        .replace("../out/customers_minimal.parquet", "minimal.parquet");
    assert!(!text.contains("../"));
    write_job(dir.path(), "minimal.yaml", &text);
    let summary = run_json(dir.path(), "minimal.yaml");
    let names = super::column_names(&dir.path().join("minimal.parquet"));
    assert_eq!(names, ["customer_id", "email", "city", "segment"]);
    assert_eq!(summary["released"]["columns"], serde_json::json!(["city", "segment"]));
    assert_eq!(summary["released"]["risk"]["unique_rows"], 0.0);
}
