//! Decisions that outlive a run: the decisions file, `anonymize apply`, frozen levels for
//! scheduled jobs, `suppressed_rows: flag`. Every check reads the files the binary wrote.

use super::{anonymize, root, run_json, stderr, stdout, write_job};
use std::collections::{BTreeSet, HashMap};
use std::path::Path;

/// The rows of a CSV file (any delimiter) as strings, read with the `csv` crate alone.
fn read(path: &Path, delimiter: u8) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    (header, rows)
}

/// Adult's rows split in two parts (`first` rows, then the rest), written as `;` CSV files.
fn split_adult(dir: &Path, first: usize) -> (String, String) {
    let text = std::fs::read_to_string(root().join("sample_data/adult/adult.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let write = |name: &str, part: &[&str]| {
        std::fs::write(dir.join(name), format!("{header}\n{}\n", part.join("\n"))).unwrap();
        name.to_string()
    };
    (write("part1.csv", &rows[..first]), write("part2.csv", &rows[first..]))
}

/// A job over Adult-shaped data with `age` (interval), `sex`, `education` and `marital-status`
/// (ARX files) as quasi-identifiers and `salary-class` kept sensitive.
fn adult_job(dir: &Path, name: &str, input: &str, privacy: &str) -> String {
    let data = root().join("sample_data/adult");
    let file = |c: &str| data.join(format!("adult_hierarchy_{c}.csv")).display().to_string();
    let job = format!(
        "version: 1\nname: {name}\ninput: {{ path: {input}, delimiter: \";\", types: {{ age: int64 }} }}\n\
         unlisted_columns: drop\ncolumns:\n\
         \x20 age: {{ action: generalize, hierarchy: {{ type: interval, widths: [5, 10, 20] }} }}\n\
         \x20 sex: {{ action: generalize, hierarchy: {{ type: file, path: {} }} }}\n\
         \x20 education: {{ action: generalize, hierarchy: {{ type: file, path: {} }} }}\n\
         \x20 marital-status: {{ action: generalize, hierarchy: {{ type: file, path: {} }} }}\n\
         \x20 salary-class: {{ action: keep, sensitive: true }}\n\
         privacy:\n{privacy}output: {{ path: {name}.csv, overwrite: true }}\n",
        file("sex"),
        file("education"),
        file("marital-status"),
    );
    write_job(dir, &format!("{name}.yaml"), &job);
    format!("{name}.yaml")
}

fn apply(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["apply"];
    all.extend_from_slice(args);
    anonymize(dir, &all)
}

/// A run, then `apply` of its decisions to the run's own input, gives the run's output byte for
/// byte: full-domain (masked, removed, flagged) and Mondrian (numbers, files, dates, prefixes).
#[test]
fn applying_a_runs_decisions_to_its_own_input_gives_its_output_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let adult = root().join("sample_data/adult/adult.csv").display().to_string();
    for (name, privacy) in [
        ("masked", "  k_anonymity: { k: 5, suppression_limit: 0.04 }\n"),
        ("removed", "  k_anonymity: { k: 5, suppression_limit: 0.04, suppressed_rows: remove }\n"),
        ("flagged", "  k_anonymity: { k: 10, suppression_limit: 0.05, suppressed_rows: flag }\n"),
        ("mondrian", "  k_anonymity: { k: 10, algorithm: mondrian }\n"),
    ] {
        let job = adult_job(dir.path(), name, &adult, privacy);
        let summary = run_json(dir.path(), &job);
        let decisions = format!("{name}.decisions.json");
        assert!(summary["decisions"].as_str().unwrap().ends_with(&decisions), "{}", summary["decisions"]);
        let out = format!("{name}.applied.csv");
        let applied = apply(dir.path(), &[&decisions, "--input", &adult, "--delimiter", ";", "--output", &out]);
        assert_eq!(applied.status.code(), Some(0), "{name}: {}", stderr(&applied));
        let run_bytes = std::fs::read(dir.path().join(format!("{name}.csv"))).unwrap();
        assert_eq!(run_bytes, std::fs::read(dir.path().join(&out)).unwrap(), "{name}: apply differs from the run");
        assert!(stderr(&applied).contains("holds on the recoded data"), "{}", stderr(&applied));
    }
    // `flag`: the suppressed rows are kept, `*` in every quasi-identifier, and flagged.
    let (header, rows) = read(&dir.path().join("flagged.csv"), b',');
    assert_eq!(header.last().map(String::as_str), Some("suppressed"));
    let flagged = rows.iter().filter(|r| r[r.len() - 1] == "true").count();
    let starred = rows.iter().filter(|r| r[..4].iter().all(|v| v == "*")).count();
    assert!(flagged > 0, "the flagged job suppresses some rows");
    assert_eq!(flagged, starred);
    assert_eq!(rows.len(), 30_162);
    // Mondrian's labels use one notation: `[low, high]` for every age.
    let (header, rows) = read(&dir.path().join("mondrian.csv"), b',');
    let age = header.iter().position(|h| h == "age").unwrap();
    assert!(rows.iter().all(|r| r[age].starts_with('[') && r[age].ends_with(']')), "{:?}", rows[0]);
}

/// Decisions recode a disjoint sample: every row lands in exactly one class, with labels that
/// contain its value (Mondrian) or come from the hierarchy (full-domain).
#[test]
fn decisions_recode_a_disjoint_sample_into_one_class_per_row() {
    let dir = tempfile::tempdir().unwrap();
    let (day1, day2) = split_adult(dir.path(), 20_000);
    let (_, original) = read(&dir.path().join(&day2), b';');
    for (name, privacy) in [
        ("levels", "  k_anonymity: { k: 5, suppression_limit: 0.04 }\n"),
        ("mondrian", "  k_anonymity: { k: 10, algorithm: mondrian }\n"),
    ] {
        let job = adult_job(dir.path(), name, &day1, privacy);
        run_json(dir.path(), &job);
        let out = format!("{name}.day2.csv");
        let decisions = format!("{name}.decisions.json");
        let applied = apply(
            dir.path(),
            &[&decisions, "--input", &day2, "--delimiter", ";", "--output", &out, "--unknown", "top", "--json", "-q"],
        );
        assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
        let figures: serde_json::Value = serde_json::from_str(&stdout(&applied)).unwrap();
        let (header, rows) = read(&dir.path().join(&out), b',');
        assert_eq!(rows.len(), original.len(), "masking keeps every row");
        assert_eq!(figures["rows_written"].as_u64(), Some(rows.len() as u64));
        let age = header.iter().position(|h| h == "age").unwrap();
        for (row, input) in rows.iter().zip(&original) {
            let value: f64 = input[1].parse().unwrap();
            let label = &row[age];
            if label == "*" {
                continue;
            }
            // `[lo, hi)` (interval hierarchy) or `[lo, hi]` (Mondrian): the value lies within.
            let inner = label.trim_start_matches('[').trim_end_matches([')', ']']);
            let (lo, hi) = inner.split_once(", ").unwrap_or_else(|| panic!("{label}"));
            let (lo, hi): (f64, f64) = (lo.parse().unwrap(), hi.parse().unwrap());
            let within = value >= lo && if label.ends_with(')') { value < hi } else { value <= hi };
            assert!(within, "{name}: {value} outside {label}");
        }
        // Every other label comes from the column's hierarchy (or is the value itself).
        let sex_labels: BTreeSet<String> =
            std::fs::read_to_string(root().join("sample_data/adult/adult_hierarchy_sex.csv"))
                .unwrap()
                .lines()
                .flat_map(|l| l.split(';').map(str::to_string).collect::<Vec<_>>())
                .chain(["*".to_string()])
                .collect();
        let sex = header.iter().position(|h| h == "sex").unwrap();
        assert!(rows.iter().all(|r| sex_labels.contains(&r[sex])), "{name}");
        // k is measured on the recoded data and reported.
        assert!(figures["classes"].as_u64().unwrap() > 1);
        assert!(figures["k_holds"].is_boolean());
    }
}

/// A scheduled pair: day 1 searches; day 2 (other rows) reuses day 1's decisions: the same
/// levels, k checked on day 2's rows; a day 2 that cannot meet k within the limit fails cleanly.
#[test]
fn a_scheduled_job_reuses_yesterdays_levels_and_checks_k_on_todays_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (day1, day2) = split_adult(dir.path(), 15_000);
    let job1 = adult_job(dir.path(), "day1", &day1, "  k_anonymity: { k: 5, suppression_limit: 0.04 }\n");
    let first = run_json(dir.path(), &job1);
    let frozen = "  k_anonymity: { k: 5, suppression_limit: 0.04, decisions: day1.decisions.json }\n";
    let job2 = adult_job(dir.path(), "day2", &day2, frozen);
    let second = run_json(dir.path(), &job2);
    let levels = |s: &serde_json::Value| -> Vec<serde_json::Value> {
        s["privacy"]["quasi_identifiers"].as_array().unwrap().iter().map(|q| q["level"].clone()).collect()
    };
    assert_eq!(levels(&first), levels(&second));
    assert_eq!(second["privacy"]["frozen"]["run_id"], first["run_id"]);
    assert_eq!(second["privacy"]["lattice_nodes"], 1, "no search");
    // k holds on day 2's output, checked from the file.
    let (header, rows) = read(&dir.path().join("day2.csv"), b',');
    let quasi: Vec<usize> = ["age", "sex", "education", "marital-status"]
        .iter()
        .map(|q| header.iter().position(|h| h == q).unwrap())
        .collect();
    let mut classes: HashMap<Vec<&str>, usize> = HashMap::new();
    for row in &rows {
        *classes.entry(quasi.iter().map(|&i| row[i].as_str()).collect()).or_default() += 1;
    }
    let star: Vec<&str> = vec!["*"; 4];
    assert!(classes.iter().all(|(key, &n)| *key == star || n >= 5), "a class below k on day 2");
    let suppressed = classes.get(&star).copied().unwrap_or(0) as u64;
    assert_eq!(second["privacy"]["suppressed_rows"].as_u64(), Some(suppressed));
    // Day 2's decisions file points back to the run that decided.
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("day2.decisions.json")).unwrap()).unwrap();
    assert_eq!(written["frozen_from"], first["run_id"]);

    // A day with 60 rows cannot keep k = 5 at these levels within 4 %: exit 1, nothing written.
    let text = std::fs::read_to_string(dir.path().join(&day2)).unwrap();
    let small: Vec<&str> = text.lines().take(61).collect();
    std::fs::write(dir.path().join("small.csv"), small.join("\n") + "\n").unwrap();
    std::fs::rename(dir.path().join("small.csv"), dir.path().join("tiny.csv")).unwrap();
    let job3 = adult_job(dir.path(), "small", "tiny.csv", frozen);
    let run = anonymize(dir.path(), &["run", &job3, "--quiet"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let message = stderr(&run);
    assert!(message.contains("frozen decisions of run") && message.contains("k = 5"), "{message}");
    assert!(!dir.path().join("small.csv").exists() && !dir.path().join("small.decisions.json").exists());
    assert!(!dir.path().join("small.report.html").exists(), "nothing written");
}

/// Values the decisions' hierarchies do not cover: `error` names the column and the count,
/// never the value; `top` gives `*`. `--require-k` refuses a miss with nothing written.
#[test]
fn unknown_values_and_require_k() {
    let dir = tempfile::tempdir().unwrap();
    let adult = root().join("sample_data/adult/adult.csv").display().to_string();
    let job = adult_job(dir.path(), "base", &adult, "  k_anonymity: { k: 5, suppression_limit: 0.04 }\n");
    run_json(dir.path(), &job);
    let text = std::fs::read_to_string(root().join("sample_data/adult/adult.csv")).unwrap();
    let mut lines: Vec<String> = text.lines().take(400).map(str::to_string).collect();
    for line in lines.iter_mut().skip(1).take(3) {
        *line = line.replacen("Male;", "Zorblax-Secret;", 1).replacen("Female;", "Zorblax-Secret;", 1);
    }
    std::fs::write(dir.path().join("new.csv"), lines.join("\n") + "\n").unwrap();
    let args = ["base.decisions.json", "--input", "new.csv", "--delimiter", ";", "--output", "new.out.csv"];
    let refused = apply(dir.path(), &args);
    assert_eq!(refused.status.code(), Some(1));
    let message = stderr(&refused);
    assert!(message.contains("`sex`") && message.contains("3 rows"), "{message}");
    assert!(message.contains("--unknown top"), "{message}");
    assert!(!message.contains("Zorblax"), "{message}");
    assert!(!dir.path().join("new.out.csv").exists());
    let mut top = args.to_vec();
    top.extend(["--unknown", "top"]);
    let recoded = apply(dir.path(), &top);
    assert_eq!(recoded.status.code(), Some(0), "{}", stderr(&recoded));
    let (_, rows) = read(&dir.path().join("new.out.csv"), b',');
    assert!(rows[..3].iter().all(|r| r[1] == "*"), "{:?}", &rows[..3]);
    assert!(!std::fs::read_to_string(dir.path().join("new.out.csv")).unwrap().contains("Zorblax"));
    // 399 rows at the full data's levels leave many small classes: without --require-k they
    // are suppressed and reported; with it, exit 1 and nothing written.
    let mut strict = top.clone();
    strict[6] = "strict.csv";
    strict.push("--require-k");
    let missed = apply(dir.path(), &strict);
    let figures = stderr(&recoded);
    if figures.contains("does NOT hold") {
        assert_eq!(missed.status.code(), Some(1), "{}", stderr(&missed));
        assert!(stderr(&missed).contains("k = 5"), "{}", stderr(&missed));
        assert!(!dir.path().join("strict.csv").exists());
    } else {
        panic!("399 rows were expected to miss k = 5 within 4 %: {figures}");
    }
}

/// The decisions file holds no cell value the output does not already show: Mondrian over
/// prefix-generalized zips and dates writes only labels and bounds that appear in the output.
#[test]
fn a_decisions_file_holds_no_value_the_output_does_not_show() {
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("sample_data/customers.csv");
    write_job(
        dir.path(),
        "m.yaml",
        &format!(
            "version: 1\nname: m\ninput: {{ path: {}, types: {{ zip: string }} }}\nunlisted_columns: drop\n\
             columns:\n  birth_date: {{ action: generalize, hierarchy: {{ type: date, levels: [month, year, 5y, 10y] }} }}\n\
             \x20 zip: {{ action: generalize, hierarchy: {{ type: prefix, keep: [4, 3, 2] }} }}\n  gender: generalize\n\
             privacy:\n  k_anonymity: {{ k: 5, algorithm: mondrian }}\noutput: {{ path: m.csv }}\n",
            sample.display()
        ),
    );
    run_json(dir.path(), "m.yaml");
    let decisions = std::fs::read_to_string(dir.path().join("m.decisions.json")).unwrap();
    let output = std::fs::read_to_string(dir.path().join("m.csv")).unwrap();
    // Every text the decisions file holds.
    let parsed: serde_json::Value = serde_json::from_str(&decisions).unwrap();
    let mut written = BTreeSet::new();
    let mut stack = vec![&parsed];
    while let Some(value) = stack.pop() {
        match value {
            serde_json::Value::String(s) => {
                written.insert(s.as_str());
            }
            serde_json::Value::Array(items) => stack.extend(items),
            serde_json::Value::Object(map) => {
                written.extend(map.keys().map(String::as_str));
                stack.extend(map.values());
            }
            _ => {}
        }
    }
    let (header, input) = read(&sample, b',');
    // Every piece of text the output shows, bounds of `[low, high]` labels included.
    let shown: BTreeSet<&str> = output.split([',', '\n', '[', ']', ')']).map(str::trim).collect();
    for column in ["zip", "birth_date", "full_name", "email"] {
        let at = header.iter().position(|h| h == column).unwrap();
        let hidden: Vec<&String> = input.iter().map(|r| &r[at]).filter(|v| !shown.contains(v.as_str())).collect();
        assert!(!hidden.is_empty() || column == "birth_date", "{column}: some values are generalized away");
        for value in hidden {
            assert!(!written.contains(value.as_str()), "{column} value in the decisions file");
        }
    }
    // And the run is reproduced by `apply`.
    let applied =
        apply(dir.path(), &["m.decisions.json", "--input", &sample.display().to_string(), "--output", "a.csv"]);
    assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
    assert_eq!(std::fs::read(dir.path().join("a.csv")).unwrap(), output.as_bytes());
}

/// A job whose quasi-identifiers differ from the decisions' is refused before any row is read.
#[test]
fn decisions_of_other_quasi_identifiers_are_refused_by_validate() {
    let dir = tempfile::tempdir().unwrap();
    let adult = root().join("sample_data/adult/adult.csv").display().to_string();
    let job = adult_job(dir.path(), "a", &adult, "  k_anonymity: { k: 5, suppression_limit: 0.04 }\n");
    run_json(dir.path(), &job);
    let data = root().join("sample_data/adult");
    write_job(
        dir.path(),
        "other.yaml",
        &format!(
            "version: 1\nname: other\ninput: {{ path: {adult}, delimiter: \";\" }}\nunlisted_columns: drop\n\
             columns:\n  race: {{ action: generalize, hierarchy: {{ type: file, path: {} }} }}\n\
             privacy:\n  k_anonymity: {{ k: 5, decisions: a.decisions.json }}\noutput: {{ path: o.csv }}\n",
            data.join("adult_hierarchy_race.csv").display()
        ),
    );
    let validate = anonymize(dir.path(), &["validate", "other.yaml"]);
    assert_eq!(validate.status.code(), Some(1));
    assert!(stderr(&validate).contains("the decisions are for the quasi-identifiers"), "{}", stderr(&validate));
    // A damaged file is named, not quoted.
    std::fs::write(dir.path().join("a.decisions.json"), "{\"format\": \"Zorblax").unwrap();
    let validate = anonymize(dir.path(), &["validate", "other.yaml"]);
    assert_eq!(validate.status.code(), Some(1));
    assert!(stderr(&validate).contains("a.decisions.json") && !stderr(&validate).contains("Zorblax"));
}

/// A sensitive column's distribution among suppressed rows and its attribute disclosure, as the
/// summary states them, equal an independent count from the output file.
#[test]
fn what_suppression_took_from_a_sensitive_column_matches_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let adult = root().join("sample_data/adult/adult.csv").display().to_string();
    let job = adult_job(dir.path(), "s", &adult, "  k_anonymity: { k: 5, suppression_limit: 0.04 }\n");
    let summary = run_json(dir.path(), &job);
    let effect = &summary["privacy"]["sensitive_effects"][0];
    assert_eq!(effect["column"], "salary-class");
    let (header, rows) = read(&dir.path().join("s.csv"), b',');
    let at = |n: &str| header.iter().position(|h| h == n).unwrap();
    let quasi: Vec<usize> = ["age", "sex", "education", "marital-status"].iter().map(|q| at(q)).collect();
    let salary = at("salary-class");
    let mut classes: HashMap<Vec<&str>, Vec<&str>> = HashMap::new();
    for row in &rows {
        classes.entry(quasi.iter().map(|&i| row[i].as_str()).collect()).or_default().push(row[salary].as_str());
    }
    let star = vec!["*"; 4];
    let suppressed = classes.get(&star).cloned().unwrap_or_default();
    assert!(!suppressed.is_empty());
    assert_eq!(effect["suppressed_rows"].as_u64(), Some(suppressed.len() as u64));
    let share = |rows: &[&str], value: &str| rows.iter().filter(|v| **v == value).count() as f64 / rows.len() as f64;
    let all: Vec<&str> = rows.iter().map(|r| r[salary].as_str()).collect();
    for entry in effect["values"].as_array().unwrap() {
        let value = entry[0].as_str().unwrap();
        assert!((entry[1].as_f64().unwrap() - share(&all, value)).abs() < 1e-9, "{value}");
        assert!((entry[2].as_f64().unwrap() - share(&suppressed, value)).abs() < 1e-9, "{value}");
    }
    let single: usize = classes
        .iter()
        .filter(|(key, values)| **key != star && values.iter().all(|v| *v == values[0]))
        .map(|(_, values)| values.len())
        .sum();
    let stated = effect["single_value_share"].as_f64().unwrap();
    assert!((stated - single as f64 / rows.len() as f64).abs() < 1e-9, "{stated} vs {single}");
    assert!(single > 0);
    // The summary and the report say it.
    let run = anonymize(dir.path(), &["run", &job]);
    assert!(stderr(&run).contains("sensitive    salary-class"), "{}", stderr(&run));
    let report = std::fs::read_to_string(dir.path().join("s.report.html")).unwrap();
    assert!(report.contains("attribute disclosure") && report.contains("suppressed rows"));
}

/// `format: bounds` round trip: every original value lies within its row's typed bounds, the
/// bounds keep the input's type, suppressed rows have none; `apply` writes the same.
#[test]
fn bounds_are_typed_and_hold_every_original_value() {
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("sample_data/customers.csv");
    for (name, algorithm) in [("levels", "optimal"), ("mondrian", "mondrian")] {
        write_job(
            dir.path(),
            &format!("{name}.yaml"),
            &format!(
                "version: 1\nname: {name}\ninput: {{ path: {}, types: {{ zip: string }} }}\nunlisted_columns: drop\n\
                 columns:\n  customer_id: keep\n\
                 \x20 birth_date: {{ action: generalize, format: bounds, hierarchy: {{ type: date, levels: [month, year, 5y, 10y] }} }}\n\
                 \x20 income: {{ action: generalize, format: bounds, hierarchy: {{ type: interval, widths: [5000, 25000, 100000] }} }}\n\
                 \x20 gender: generalize\n\
                 privacy:\n  k_anonymity: {{ k: 5, suppression_limit: 0.05, suppressed_rows: flag, algorithm: {algorithm} }}\n\
                 output: {{ path: {name}.parquet }}\n",
                sample.display()
            ),
        );
        let summary = run_json(dir.path(), &format!("{name}.yaml"));
        let out = dir.path().join(format!("{name}.parquet"));
        let names = super::column_names(&out);
        assert_eq!(
            names,
            ["customer_id", "birth_date_low", "birth_date_high", "gender", "income_low", "income_high", "suppressed"]
        );
        let types: Vec<&str> =
            summary["output_schema"].as_array().unwrap().iter().map(|f| f["data_type"].as_str().unwrap()).collect();
        assert_eq!(types, ["Int64", "Date32", "Date32", "Utf8", "Int64", "Int64", "Boolean"], "{name}");
        let (header, input) = read(&sample, b',');
        let at = |n: &str| header.iter().position(|h| h == n).unwrap();
        let by_id: HashMap<&str, &Vec<String>> = input.iter().map(|r| (r[at("customer_id")].as_str(), r)).collect();
        let rows = super::cells(&out);
        let mut bounded = 0;
        for row in &rows {
            let original = by_id[row[0].as_deref().unwrap()];
            let suppressed = row[6].as_deref() == Some("true");
            for (low, high, column) in [(1, 2, "birth_date"), (4, 5, "income")] {
                let value = &original[at(column)];
                match (&row[low], &row[high]) {
                    // Mondrian gives a null in a partition with bounds the partition's bounds
                    // (its class), as its label.
                    (Some(_), Some(_)) if value.is_empty() => assert_eq!(name, "mondrian"),
                    (Some(lo), Some(hi)) => {
                        assert!(!suppressed, "{name}: a suppressed row has bounds");
                        let within = if column == "income" {
                            let v: i64 = value.parse().unwrap();
                            lo.parse::<i64>().unwrap() <= v && v <= hi.parse::<i64>().unwrap()
                        } else {
                            lo.as_str() <= value.as_str() && value.as_str() <= hi.as_str()
                        };
                        assert!(within, "{name}: {column} {value} outside [{lo}, {hi}]");
                        bounded += 1;
                    }
                    (None, None) => assert!(suppressed || value.is_empty(), "{name}: {column} lost its bounds"),
                    other => panic!("{name}: one bound only: {other:?}"),
                }
            }
        }
        assert!(bounded > rows.len(), "{name}: most rows keep both columns' bounds");
        // `apply` reproduces the typed output byte for byte.
        let applied = apply(
            dir.path(),
            &[
                &format!("{name}.decisions.json"),
                "--input",
                &sample.display().to_string(),
                "--output",
                "again.parquet",
                "--overwrite",
            ],
        );
        assert_eq!(applied.status.code(), Some(0), "{}", stderr(&applied));
        assert_eq!(super::cells(&dir.path().join("again.parquet")), rows, "{name}");
    }
}
