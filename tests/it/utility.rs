//! The utility evaluation (`utility:`, `anonymize evaluate`) and the target-aware metric, on
//! Adult with ARX's hierarchies.

use super::{anonymize, root, stderr, stdout};
use std::path::Path;

/// Adult with its eight features as quasi-identifiers and the salary class kept, anonymized
/// for a model that predicts it (Mondrian, classification), `sex` protected, and `extra`
/// appended (a `utility:` section, or nothing).
fn adult_job(dir: &Path, name: &str, extra: &str) -> String {
    let data = root().join("sample_data/adult");
    let mut text = format!(
        "version: 1\nname: {name}\ninput:\n  path: {}\n  delimiter: \";\"\ncolumns:\n",
        data.join("adult.csv").display()
    );
    for column in ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"] {
        let protected = if column == "sex" { ", protected: true" } else { "" };
        text.push_str(&format!(
            "  {column}: {{ action: generalize{protected}, hierarchy: {{ type: file, path: {} }} }}\n",
            data.join(format!("adult_hierarchy_{column}.csv")).display()
        ));
    }
    text.push_str("  salary-class: keep\n");
    text.push_str(
        "privacy:\n  k_anonymity:\n    k: 5\n    suppression_limit: 0.04\n    metric: classification\n    target: salary-class\n    algorithm: mondrian\n",
    );
    text.push_str(&format!("output:\n  path: {name}.csv\n  overwrite: true\n{extra}"));
    let file = format!("{name}.yaml");
    std::fs::write(dir.join(&file), text).unwrap();
    file
}

fn json(output: &std::process::Output) -> serde_json::Value {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    serde_json::from_str(&stdout(output)).unwrap()
}

/// The evaluation reports both model families trained both ways, with figures that hold
/// together; it changes nothing in the run's output; threads do not change it; it names no
/// value of a quasi-identifier beyond the protected groups and the target's classes.
#[test]
fn the_evaluation_measures_without_touching_the_output() {
    let dir = tempfile::tempdir().unwrap();
    // A seeded sample of 10,000 of Adult's rows (the evaluation's `max_rows`), to keep it short.
    let with =
        adult_job(dir.path(), "with", "utility: { target: salary-class, holdout: 0.3, seed: 4, max_rows: 10000 }\n");
    let without = adult_job(dir.path(), "without", "");
    let run = json(&anonymize(dir.path(), &["run", &with, "--json", "--seed", "1"]));
    let plain = json(&anonymize(dir.path(), &["run", &without, "--json", "--seed", "1"]));
    assert!(plain["utility"].is_null());
    // The real output is the job on every row, whether or not the evaluation ran.
    let a = std::fs::read(dir.path().join("with.csv")).unwrap();
    let b = std::fs::read(dir.path().join("without.csv")).unwrap();
    assert!(a == b, "the evaluation changed the output");

    let u = &run["utility"];
    let (train, test) = (u["train_rows"].as_u64().unwrap(), u["test_rows"].as_u64().unwrap());
    assert_eq!(train + test, 10_000);
    assert_eq!(u["sampled_from"], 30_162);
    // Stratified 30 %: each class's share rounds, so the test part is 30 % to within a row per class.
    assert!((test as f64 - 0.3 * 10_000.0).abs() <= 2.0, "{test}");
    assert_eq!(u["classes"], serde_json::json!(["<=50K", ">50K"]));
    assert!(u["train_smallest_class"].as_u64().unwrap() >= 5, "{u}");
    let baseline = u["majority_baseline"].as_f64().unwrap();
    assert!((0.73..0.77).contains(&baseline), "{baseline}");
    let models = u["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    for m in models {
        for side in ["original", "anonymized"] {
            let accuracy = m[side]["accuracy"].as_f64().unwrap();
            let auc = m[side]["auc"].as_f64().unwrap();
            // Both trainings learn: well above always predicting the majority.
            assert!(accuracy > baseline + 0.04, "{} {side}: {accuracy}", m["family"]);
            assert!(auc > 0.8, "{} {side}: {auc}", m["family"]);
            assert_eq!(m[side]["recall"].as_array().unwrap().len(), 2);
        }
        let points = m["accuracy_loss_points"].as_f64().unwrap();
        let gap = 100.0 * (m["original"]["accuracy"].as_f64().unwrap() - m["anonymized"]["accuracy"].as_f64().unwrap());
        assert!((points - gap).abs() < 1e-9);
    }
    let distances = u["distances"].as_array().unwrap();
    assert_eq!(distances.len(), 8);
    assert!(distances.iter().all(|d| (0.0..=1.0).contains(&d[1].as_f64().unwrap())));
    // Per group of the protected column: the groups partition the test rows.
    let groups = u["groups"].as_array().unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g["group"].as_str().unwrap()).collect();
    assert_eq!(names, ["Female", "Male"]);
    assert_eq!(groups.iter().map(|g| g["rows"].as_u64().unwrap()).sum::<u64>(), test);
    // Each group's accuracy, weighted by its rows, is the model's accuracy.
    for (m, model) in models.iter().enumerate() {
        let weighted: f64 =
            groups.iter().map(|g| g["rows"].as_f64().unwrap() * g["accuracy"][m][1].as_f64().unwrap()).sum::<f64>()
                / test as f64;
        assert!((weighted - model["anonymized"]["accuracy"].as_f64().unwrap()).abs() < 1e-9);
    }

    // The same evaluation alone, on one thread: the same figures.
    let alone = json(&anonymize(dir.path(), &["evaluate", &with, "--threads", "1", "--json"]));
    let strip = |mut v: serde_json::Value| {
        v["seconds"] = serde_json::Value::Null;
        v
    };
    assert_eq!(strip(alone), strip(u.clone()));

    // No value of a quasi-identifier reaches the figures, save the protected groups' names.
    let text = u.to_string();
    for value in ["United-States", "Exec-managerial", "Married-civ-spouse", "Bachelors", "Private", "White"] {
        assert!(!text.contains(value), "`{value}` in the utility figures");
    }
}

/// The target-aware search keeps more of what predicts the target than discernibility does:
/// the same models lose less accuracy (measured by the evaluation itself).
#[test]
fn a_target_aware_metric_keeps_more_predictive_power_than_discernibility() {
    let dir = tempfile::tempdir().unwrap();
    let job = adult_job(dir.path(), "aware", "utility: { target: salary-class, max_rows: 12000 }\n");
    let text = std::fs::read_to_string(dir.path().join(&job)).unwrap().replace("    algorithm: mondrian\n", "");
    std::fs::write(dir.path().join(&job), &text).unwrap();
    let discernibility = text
        .replace("metric: classification", "metric: discernibility")
        .replace("    target: salary-class\n", "")
        .replace("name: aware", "name: blind")
        .replace("path: aware.csv", "path: blind.csv");
    std::fs::write(dir.path().join("blind.yaml"), discernibility).unwrap();
    let accuracy = |file: &str| {
        let v = json(&anonymize(dir.path(), &["evaluate", file, "--json"]));
        v["models"][1]["anonymized"]["accuracy"].as_f64().unwrap()
    };
    let (aware, blind) = (accuracy(&job), accuracy("blind.yaml"));
    assert!(aware > blind + 0.02, "classification {aware}, discernibility {blind}");
}

#[test]
fn a_target_with_too_many_values_or_no_utility_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("region,code,label\n");
    for i in 0..300 {
        csv.push_str(&format!("r{},c{i},{}\n", i % 3, if i % 2 == 0 { "yes" } else { "no" }));
    }
    std::fs::write(dir.path().join("data.csv"), csv).unwrap();
    let job = "version: 1\nname: wide\ninput: { path: data.csv }\ncolumns:\n  region: generalize\n  code: keep\n  label: keep\nprivacy: { k_anonymity: { k: 2 } }\noutput: { path: out.csv }\n";
    std::fs::write(dir.path().join("wide.yaml"), job).unwrap();
    let output = anonymize(dir.path(), &["evaluate", "wide.yaml", "--target", "code"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("`code` has 300 distinct values"), "{}", stderr(&output));
    assert!(!stderr(&output).contains("c17"), "a value in the message");
    let output = anonymize(dir.path(), &["evaluate", "wide.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("no `utility:` section"), "{}", stderr(&output));
    // A small learnable table evaluates, and nothing is written.
    let output = anonymize(dir.path(), &["evaluate", "wide.yaml", "--target", "label"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!dir.path().join("out.csv").exists());
}

/// The report warns about a quasi-identifier that is `*` in every row (the main job's `gender`).
#[test]
fn the_report_warns_about_a_column_left_as_star() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.yaml"), super::main_job_text("main", "main.parquet")).unwrap();
    let output = anonymize(dir.path(), &["run", "main.yaml", "--seed", "3"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = std::fs::read_to_string(dir.path().join("main.report.html")).unwrap();
    assert!(report.contains("in every output row"), "no warning in the report");
    assert!(stderr(&output).contains("note         `gender` is `*`"), "{}", stderr(&output));
}

/// A target class held by fewer than k rows is not named in the figures (its label could
/// single someone out); the other classes are.
#[test]
fn a_rare_target_class_is_not_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("region,label\n");
    for i in 0..300 {
        let label = if i < 3 {
            "rare-secret"
        } else if i % 2 == 0 {
            "yes"
        } else {
            "no"
        };
        csv.push_str(&format!("r{},{label}\n", i % 3));
    }
    std::fs::write(dir.path().join("data.csv"), csv).unwrap();
    let job = "version: 1\nname: rare\ninput: { path: data.csv }\ncolumns:\n  region: generalize\n  label: keep\nprivacy: { k_anonymity: { k: 5 } }\noutput: { path: out.csv }\nutility: { target: label }\n";
    std::fs::write(dir.path().join("rare.yaml"), job).unwrap();
    let output = anonymize(dir.path(), &["evaluate", "rare.yaml", "--json"]);
    let u = json(&output);
    assert_eq!(u["classes"], serde_json::json!(["no", "(a class of fewer than 5 rows)", "yes"]), "{u}");
    assert!(!stdout(&output).contains("rare-secret") && !stderr(&output).contains("rare-secret"));
    let output = anonymize(dir.path(), &["evaluate", "rare.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stdout(&output).contains("rare-secret") && !stderr(&output).contains("rare-secret"));
}
