//! Non-discrimination: what de-identification does to protected groups, counted from the
//! output file, and `privacy.fairness` bounding it.

use super::{anonymize, root, run_json, stderr, write_job};
use std::collections::HashMap;
use std::path::Path;

/// Adult with ARX's hierarchies: 8 quasi-identifiers, `salary-class` kept, `sex` and `race`
/// protected; k = 5, 4 %, metric loss; `fairness` appended to `privacy` when given.
fn adult_job(dir: &Path, name: &str, fairness: &str) -> String {
    let data = root().join("sample_data/adult");
    let mut columns = String::new();
    for q in ["sex", "race", "age", "marital-status", "education", "native-country", "workclass", "occupation"] {
        let protected = if q == "sex" || q == "race" { "protected: true, " } else { "" };
        columns.push_str(&format!(
            "  {q}: {{ action: generalize, {protected}hierarchy: {{ type: file, path: {} }} }}\n",
            data.join(format!("adult_hierarchy_{q}.csv")).display()
        ));
    }
    let job = format!(
        "version: 1\nname: {name}\ninput: {{ path: {}, delimiter: \";\" }}\nunlisted_columns: drop\n\
         columns:\n{columns}  salary-class: keep\nprivacy:\n  k_anonymity: {{ k: 5, suppression_limit: 0.04 }}\n{fairness}\
         output: {{ path: {name}.csv, overwrite: true }}\n",
        data.join("adult.csv").display()
    );
    write_job(dir, &format!("{name}.yaml"), &job);
    format!("{name}.yaml")
}

/// Per group of `column`: (rows, suppressed), counted from the input (the group) and the output
/// file (suppressed: `*` in every quasi-identifier), row by row (masking keeps every row in order).
fn count(output: &Path, column: &str) -> HashMap<String, (u64, u64)> {
    let mut input =
        csv::ReaderBuilder::new().delimiter(b';').from_path(root().join("sample_data/adult/adult.csv")).unwrap();
    let at = input.headers().unwrap().iter().position(|h| h == column).unwrap();
    let mut out = csv::Reader::from_path(output).unwrap();
    let header: Vec<String> = out.headers().unwrap().iter().map(str::to_string).collect();
    let quasi: Vec<usize> = (0..header.len()).filter(|&i| header[i] != "salary-class").collect();
    let mut groups: HashMap<String, (u64, u64)> = HashMap::new();
    for (a, b) in input.records().zip(out.records()) {
        let (a, b) = (a.unwrap(), b.unwrap());
        let slot = groups.entry(a[at].to_string()).or_default();
        slot.0 += 1;
        slot.1 += u64::from(quasi.iter().all(|&i| &b[i] == "*"));
    }
    groups
}

/// The summary's groups of `column`: value → (rows, suppressed, share, ratio).
fn stated(summary: &serde_json::Value, column: &str) -> HashMap<String, (u64, u64, f64, f64)> {
    let columns = summary["privacy"]["protected_groups"].as_array().unwrap();
    let c = columns.iter().find(|c| c["column"] == column).unwrap();
    c["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let n = |k: &str| g[k].as_u64().unwrap();
            let f = |k: &str| g[k].as_f64().unwrap();
            (g["value"].as_str().unwrap().to_string(), (n("rows"), n("suppressed"), f("share"), f("ratio")))
        })
        .collect()
}

/// The per-group figures equal an independent count from the output file; without the
/// constraint the job suppresses minorities far more than the rest (so the next test can fail).
#[test]
fn per_group_figures_match_the_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let job = adult_job(dir.path(), "plain", "");
    let summary = run_json(dir.path(), &job);
    let total_suppressed = summary["privacy"]["suppressed_rows"].as_u64().unwrap();
    for column in ["sex", "race"] {
        let counted = count(&dir.path().join("plain.csv"), column);
        let stated = stated(&summary, column);
        assert_eq!(counted.len(), stated.len(), "{column}: every group of at least k rows is named");
        for (value, (rows, suppressed)) in &counted {
            let (r, s, share, ratio) = stated[value];
            assert_eq!((r, s), (*rows, *suppressed), "{column} {value}");
            assert!((share - s as f64 / r as f64).abs() < 1e-12);
            let overall = total_suppressed as f64 / 30_162.0;
            assert!((ratio - share / overall).abs() < 1e-9);
        }
    }
    // The measurement: minorities lose up to half of their rows.
    let race = stated(&summary, "race");
    assert!(race["Other"].3 > 10.0 && race["White"].3 < 1.0, "{race:?}");
    assert!(race.values().filter(|g| g.3 > 2.0).count() >= 3);
    // The summary and the report flag them.
    let run = anonymize(dir.path(), &["run", &job]);
    assert!(stderr(&run).contains("FLAGGED"), "{}", stderr(&run));
    let report = std::fs::read_to_string(dir.path().join("plain.report.html")).unwrap();
    assert!(report.contains("Rows suppressed per group of race") && report.contains("FLAGGED"));
}

/// `max_suppression_ratio: 2`: every group of at least k rows meets the rule in the output
/// file; an unreachable bound fails with the group named by column and size.
#[test]
fn the_fairness_bound_holds_in_the_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let job = adult_job(dir.path(), "fair", "  fairness: { protected: [sex, race], max_suppression_ratio: 2 }\n");
    let summary = run_json(dir.path(), &job);
    let n = 30_162.0;
    let total: u64 = count(&dir.path().join("fair.csv"), "sex").values().map(|g| g.1).sum();
    assert!(total > 0 && total as f64 <= 0.04 * n, "{total}");
    for column in ["sex", "race"] {
        for (value, (rows, suppressed)) in count(&dir.path().join("fair.csv"), column) {
            if rows < 5 {
                continue;
            }
            let base = if total > suppressed { total as f64 / n } else { 1.0 / n };
            let ratio = (suppressed as f64 / rows as f64) / base;
            assert!(ratio <= 2.0 + 1e-9, "{column} {value}: {ratio}");
        }
    }
    assert_eq!(summary["privacy"]["fairness"], 2.0);
    // k still holds.
    assert!(summary["privacy"]["smallest_class"].as_u64().unwrap() >= 5);

    // Suppressing nothing is always fair, so only pinned levels make a bound unreachable: with
    // age and education pinned, every transformation within 4 % suppresses some group more
    // than the base share.
    let strict = adult_job(dir.path(), "strict", "  fairness: { protected: [race], max_suppression_ratio: 1 }\n");
    let text = std::fs::read_to_string(dir.path().join(&strict))
        .unwrap()
        .replace("  age: { action: generalize,", "  age: { action: generalize, level: 1,")
        .replace("  education: { action: generalize,", "  education: { action: generalize, level: 1,");
    std::fs::write(dir.path().join(&strict), text).unwrap();
    let run = anonymize(dir.path(), &["run", &strict, "--quiet"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let message = stderr(&run);
    assert!(message.contains("race: a group of") && message.contains("rows would be suppressed"), "{message}");
    assert!(!dir.path().join("strict.csv").exists());
}

/// Mondrian under `fairness` suppresses nothing and leaves no protected group of at least k
/// rows with fewer than k rows in a class (counted from the input and the output file).
#[test]
fn mondrian_keeps_every_protected_group_at_k_rows_per_class() {
    let dir = tempfile::tempdir().unwrap();
    let job = adult_job(dir.path(), "m", "  fairness: { protected: [race], max_suppression_ratio: 2 }\n");
    let text = std::fs::read_to_string(dir.path().join(&job))
        .unwrap()
        .replace("k_anonymity: { k: 5, suppression_limit: 0.04 }", "k_anonymity: { k: 5, algorithm: mondrian }");
    std::fs::write(dir.path().join(&job), text).unwrap();
    let summary = run_json(dir.path(), &job);
    assert_eq!(summary["privacy"]["suppressed_rows"], 0);
    let mut input =
        csv::ReaderBuilder::new().delimiter(b';').from_path(root().join("sample_data/adult/adult.csv")).unwrap();
    let race = input.headers().unwrap().iter().position(|h| h == "race").unwrap();
    let mut out = csv::Reader::from_path(dir.path().join("m.csv")).unwrap();
    let header: Vec<String> = out.headers().unwrap().iter().map(str::to_string).collect();
    let quasi: Vec<usize> = (0..header.len()).filter(|&i| header[i] != "salary-class").collect();
    let mut per_class: HashMap<(Vec<String>, String), u64> = HashMap::new();
    let mut totals: HashMap<String, u64> = HashMap::new();
    for (a, b) in input.records().zip(out.records()) {
        let (a, b) = (a.unwrap(), b.unwrap());
        let key: Vec<String> = quasi.iter().map(|&i| b[i].to_string()).collect();
        *per_class.entry((key, a[race].to_string())).or_default() += 1;
        *totals.entry(a[race].to_string()).or_default() += 1;
    }
    for ((_, group), n) in &per_class {
        if totals[group] >= 5 {
            assert!(*n >= 5, "a class holds {n} rows of a protected group");
        }
    }
    assert!(per_class.len() > 20, "Mondrian still partitions: {}", per_class.len());
}

/// A value held by fewer than k rows is never named in the summary, the report or the lineage
/// events, neither as a sensitive value nor as a protected group: it counts under "other".
#[test]
fn rare_values_are_never_named() {
    let dir = tempfile::tempdir().unwrap();
    let job = adult_job(dir.path(), "rare", "");
    let text = std::fs::read_to_string(dir.path().join(&job)).unwrap();
    let start = text.find("  native-country:").unwrap();
    let end = start + text[start..].find('\n').unwrap() + 1;
    let text = format!(
        "{}  native-country: {{ action: keep, sensitive: true, protected: true }}\n{}lineage: rare.lineage.jsonl\n",
        &text[..start],
        &text[end..]
    );
    std::fs::write(dir.path().join(&job), text).unwrap();
    let run = anonymize(dir.path(), &["run", &job, "--json"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let mut counts: HashMap<String, u64> = HashMap::new();
    let mut input =
        csv::ReaderBuilder::new().delimiter(b';').from_path(root().join("sample_data/adult/adult.csv")).unwrap();
    let at = input.headers().unwrap().iter().position(|h| h == "native-country").unwrap();
    for record in input.records() {
        *counts.entry(record.unwrap()[at].to_string()).or_default() += 1;
    }
    let rare: Vec<&String> = counts.iter().filter(|&(_, &n)| n < 5).map(|(v, _)| v).collect();
    assert!(!rare.is_empty(), "Adult has countries of fewer than 5 rows");
    let summary = super::stdout(&run);
    let report = std::fs::read_to_string(dir.path().join("rare.report.html")).unwrap();
    let lineage = std::fs::read_to_string(dir.path().join("rare.lineage.jsonl")).unwrap();
    for value in rare {
        for (what, text) in
            [("summary", &summary), ("stderr", &stderr(&run)), ("report", &report), ("lineage", &lineage)]
        {
            assert!(!text.contains(value.as_str()), "{value} in the {what}");
        }
    }
    let parsed: serde_json::Value = serde_json::from_str(&summary).unwrap();
    let groups = &parsed["privacy"]["protected_groups"][2]["groups"];
    assert!(groups.as_array().unwrap().iter().any(|g| g["value"].as_str().unwrap().starts_with("other (")));
    let named = groups.as_array().unwrap().iter().filter(|g| !g["value"].as_str().unwrap().starts_with("other ("));
    assert!(named.clone().count() > 10 && named.into_iter().all(|g| g["rows"].as_u64().unwrap() >= 5));
}
