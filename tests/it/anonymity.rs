//! k-anonymity, l-diversity, t-closeness and Mondrian through the real binary, every output
//! confirmed by an independent checker; the ARX reference case; `anonymize risk`.

use super::{anonymize, root, run_json, stderr, stdout, write_job};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

const ADULT: [&str; 9] =
    ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation", "salary-class"];

/// The output's rows as strings, read with the `csv` crate alone (not our reader).
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect();
    (header, rows)
}

/// What the checker found.
#[derive(Debug, PartialEq)]
struct Checked {
    classes: usize,
    suppressed: usize,
    smallest: usize,
}

/// The independent checker: groups the output's rows by their quasi-identifier strings. Rows
/// with `*` in every quasi-identifier are the suppressed ones; every other class must have at
/// least `k` rows, at least `l` distinct sensitive values and a distribution within `t` of the
/// whole output's (earth mover's distance, equal ground distance for text, ordered for numbers).
fn check(path: &Path, quasi: &[&str], k: usize, sensitive: Option<&str>, l: usize, t: Option<f64>) -> Checked {
    let (header, rows) = read_csv(path);
    let at = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"));
    let q: Vec<usize> = quasi.iter().map(|n| at(n)).collect();
    let s = sensitive.map(at);
    let mut classes: HashMap<Vec<&str>, Vec<&str>> = HashMap::new();
    let mut suppressed = 0;
    for row in &rows {
        let key: Vec<&str> = q.iter().map(|&i| row[i].as_str()).collect();
        if key.iter().all(|v| *v == "*") {
            suppressed += 1;
            continue;
        }
        classes.entry(key).or_default().push(s.map_or("", |i| row[i].as_str()));
    }
    let overall: Vec<&str> = rows.iter().map(|r| s.map_or("", |i| r[i].as_str())).collect();
    let mut smallest = usize::MAX;
    for members in classes.values() {
        smallest = smallest.min(members.len());
        assert!(members.len() >= k, "a class has {} rows, fewer than k = {k}", members.len());
        let distinct: std::collections::HashSet<&&str> = members.iter().collect();
        assert!(distinct.len() >= l, "a class has {} distinct sensitive values, l = {l}", distinct.len());
        if let Some(t) = t {
            let d = emd(members, &overall);
            assert!(d <= t + 1e-9, "a class is {d} from the overall distribution, t = {t}");
        }
    }
    Checked { classes: classes.len(), suppressed, smallest }
}

fn emd(class: &[&str], overall: &[&str]) -> f64 {
    let distribution = |values: &[&str]| {
        let mut d: BTreeMap<String, f64> = BTreeMap::new();
        for v in values {
            *d.entry((*v).to_string()).or_default() += 1.0 / values.len() as f64;
        }
        d
    };
    let (p, q) = (distribution(class), distribution(overall));
    let numeric = q.keys().all(|v| v.parse::<f64>().is_ok());
    if !numeric {
        return q.iter().map(|(v, qv)| (p.get(v).copied().unwrap_or(0.0) - qv).abs()).sum::<f64>() / 2.0;
    }
    let mut values: Vec<&String> = q.keys().collect();
    values.sort_by(|a, b| a.parse::<f64>().unwrap().total_cmp(&b.parse::<f64>().unwrap()));
    let (mut cumulative, mut sum) = (0.0, 0.0);
    for v in &values[..values.len() - 1] {
        cumulative += p.get(*v).copied().unwrap_or(0.0) - q[*v];
        sum += f64::abs(cumulative);
    }
    sum / (values.len() - 1) as f64
}

/// An Adult job in `dir` with the given quasi-identifiers (ARX hierarchy files), extra column
/// lines and privacy block.
fn adult_job(dir: &Path, name: &str, quasi: &[&str], extra: &str, privacy: &str) -> String {
    let data = root().join("sample_data/adult");
    let mut columns = String::new();
    for q in quasi {
        columns.push_str(&format!(
            "  {q}: {{ action: generalize, hierarchy: {{ type: file, path: {} }} }}\n",
            data.join(format!("adult_hierarchy_{q}.csv")).display()
        ));
    }
    let job = format!(
        "version: 1\nname: {name}\ninput: {{ path: {}, delimiter: \";\" }}\nunlisted_columns: drop\n\
         columns:\n{columns}{extra}privacy:\n{privacy}output: {{ path: {name}.csv, overwrite: true }}\n",
        data.join("adult.csv").display()
    );
    write_job(dir, &format!("{name}.yaml"), &job);
    format!("{name}.yaml")
}

#[test]
fn the_arx_reference_case_is_found_exactly_and_checks_out() {
    let dir = tempfile::tempdir().unwrap();
    let main = std::fs::read_to_string(root().join("pipelines/adult_k5.yaml")).unwrap();
    let job = main
        .replace("../sample_data", root().join("sample_data").to_str().unwrap())
        .replace("../out/adult_k5.csv", "adult_k5.csv");
    write_job(dir.path(), "adult_k5.yaml", &job);
    // A dry run reads hierarchy files, not data, and states the lattice it would search.
    let dry = anonymize(dir.path(), &["run", "adult_k5.yaml", "--dry-run", "--json"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let planned: serde_json::Value = serde_json::from_str(&stdout(&dry)).unwrap();
    assert_eq!(planned["lattice_size"], 12_960);
    assert!(!dir.path().join("adult_k5.csv").exists());
    let summary = run_json(dir.path(), "adult_k5.yaml");
    let privacy = &summary["privacy"];
    let levels: Vec<u64> =
        privacy["quasi_identifiers"].as_array().unwrap().iter().map(|q| q["level"].as_u64().unwrap()).collect();
    assert_eq!(levels, vec![0, 0, 1, 2, 3, 2, 2, 1, 1]);
    assert_eq!(privacy["suppressed_rows"], 105);
    assert_eq!(privacy["classes"], 356);
    assert_eq!(privacy["metrics"]["discernibility"], 7_220_555.0);
    assert_eq!(privacy["lattice_nodes"], 12_960);
    // How the search spent itself: checked, tagged by monotonicity, pruned by bounds.
    let count = |key: &str| privacy[key].as_u64().unwrap_or_else(|| panic!("no {key}"));
    assert_eq!(count("nodes_computed") + count("nodes_tagged") + count("nodes_pruned"), 12_960);
    assert!(count("nodes_tagged") > 0 && count("nodes_computed") < 12_960 / 2, "{privacy}");
    let checked = check(&dir.path().join("adult_k5.csv"), &ADULT, 5, None, 1, None);
    assert_eq!(checked, Checked { classes: 356, suppressed: 105, smallest: 5 });
    assert_eq!(privacy["smallest_class"], 5);
    // Risk before and after, from the same class sizes.
    assert_eq!(privacy["risk_after"]["prosecutor_highest"], 0.2);
    assert!(privacy["risk_before"]["unique_rows"].as_f64().unwrap() > 0.5);
}

#[test]
fn other_k_limits_and_metrics_always_check_out() {
    let dir = tempfile::tempdir().unwrap();
    let quasi = ["sex", "age", "race", "marital-status", "education", "native-country"];
    for (i, (k, limit, metric)) in
        [(2, 0.0, "loss"), (10, 0.04, "precision"), (50, 0.04, "aecs"), (5, 0.01, "entropy")].into_iter().enumerate()
    {
        let name = format!("variant{i}");
        let privacy = format!("  k_anonymity: {{ k: {k}, suppression_limit: {limit}, metric: {metric} }}\n");
        let job = adult_job(dir.path(), &name, &quasi, "", &privacy);
        let summary = run_json(dir.path(), &job);
        let checked = check(&dir.path().join(format!("{name}.csv")), &quasi, k, None, 1, None);
        let p = &summary["privacy"];
        assert_eq!(checked.suppressed as u64, p["suppressed_rows"].as_u64().unwrap(), "{name}");
        assert_eq!(checked.classes as u64, p["classes"].as_u64().unwrap(), "{name}");
        assert!(checked.suppressed as f64 <= (limit * 30_162.0_f64).floor(), "{name}");
    }
}

#[test]
fn l_diversity_and_t_closeness_hold_on_the_sensitive_column() {
    let dir = tempfile::tempdir().unwrap();
    let quasi = ["sex", "age", "race", "marital-status", "education"];
    for (name, privacy, l, t) in [
        ("distinct", "  k_anonymity: { k: 5, suppression_limit: 0.04 }\n  l_diversity: { l: 2 }\n", 2, None),
        (
            "entropy",
            "  k_anonymity: { k: 5, suppression_limit: 0.04 }\n  l_diversity: { l: 3, variant: entropy }\n",
            3,
            None,
        ),
        ("closeness", "  k_anonymity: { k: 5, suppression_limit: 0.04 }\n  t_closeness: { t: 0.15 }\n", 1, Some(0.15)),
    ] {
        // Entropy 3-diversity needs a column with more values than salary-class's two.
        let sensitive = if name == "entropy" { "occupation" } else { "salary-class" };
        let extra = format!("  {sensitive}: {{ action: keep, sensitive: true }}\n");
        let job = adult_job(dir.path(), name, &quasi, &extra, privacy);
        let summary = run_json(dir.path(), &job);
        let checked = check(&dir.path().join(format!("{name}.csv")), &quasi, 5, Some(sensitive), l, t);
        if name == "entropy" {
            assert_entropy_diverse(&dir.path().join("entropy.csv"), &quasi, "occupation", 3.0);
        }
        assert_eq!(checked.suppressed as u64, summary["privacy"]["suppressed_rows"].as_u64().unwrap());
        assert!(checked.suppressed <= 1_206);
    }
}

/// Entropy l-diversity, checked independently: every kept class's sensitive values have
/// entropy at least ln(l).
fn assert_entropy_diverse(path: &Path, quasi: &[&str], sensitive: &str, l: f64) {
    let (header, rows) = read_csv(path);
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut classes: HashMap<Vec<&str>, HashMap<&str, f64>> = HashMap::new();
    for row in &rows {
        let key: Vec<&str> = quasi.iter().map(|q| row[at(q)].as_str()).collect();
        if key.iter().all(|v| *v == "*") {
            continue;
        }
        *classes.entry(key).or_default().entry(row[at(sensitive)].as_str()).or_default() += 1.0;
    }
    for counts in classes.values() {
        let total: f64 = counts.values().sum();
        let entropy: f64 = counts.values().map(|c| -(c / total) * (c / total).ln()).sum();
        assert!(entropy >= l.ln() - 1e-9, "a class has entropy {entropy} < ln {l}");
    }
}

#[test]
fn removed_rows_leave_the_output_and_threads_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let quasi = ["sex", "age", "race", "marital-status", "education", "native-country"];
    let privacy = "  k_anonymity: { k: 10, suppression_limit: 0.04, suppressed_rows: remove }\n";
    let job = adult_job(dir.path(), "removed", &quasi, "", privacy);
    let summary = run_json(dir.path(), &job);
    let suppressed = summary["privacy"]["suppressed_rows"].as_u64().unwrap();
    assert!(suppressed > 0);
    let checked = check(&dir.path().join("removed.csv"), &quasi, 10, None, 1, None);
    assert_eq!(checked.suppressed, 0);
    assert_eq!(summary["rows_written"].as_u64().unwrap(), 30_162 - suppressed);
    let first = std::fs::read(dir.path().join("removed.csv")).unwrap();
    let run = anonymize(dir.path(), &["run", &job, "--threads", "1", "--quiet"]);
    assert_eq!(run.status.code(), Some(0));
    assert_eq!(std::fs::read(dir.path().join("removed.csv")).unwrap(), first);
}

#[test]
fn mondrian_partitions_numbers_and_dates_and_checks_out() {
    let dir = tempfile::tempdir().unwrap();
    let data = root().join("sample_data/adult");
    let job = format!(
        "version: 1\nname: mondrian\ninput: {{ path: {}, delimiter: \";\" }}\nunlisted_columns: drop\n\
         columns:\n  age: {{ action: generalize, hierarchy: {{ type: interval, widths: [5, 10, 20] }} }}\n\
         \x20 sex: {{ action: generalize, hierarchy: {{ type: file, path: {} }} }}\n\
         \x20 education: {{ action: generalize, hierarchy: {{ type: file, path: {} }} }}\n\
         privacy:\n  k_anonymity: {{ k: 10, algorithm: mondrian }}\noutput: {{ path: mondrian.csv }}\n",
        data.join("adult.csv").display(),
        data.join("adult_hierarchy_sex.csv").display(),
        data.join("adult_hierarchy_education.csv").display()
    );
    write_job(dir.path(), "mondrian.yaml", &job);
    let summary = run_json(dir.path(), "mondrian.yaml");
    let checked = check(&dir.path().join("mondrian.csv"), &["age", "sex", "education"], 10, None, 1, None);
    assert_eq!(checked.suppressed, 0);
    assert_eq!(checked.classes as u64, summary["privacy"]["classes"].as_u64().unwrap());
    // Mondrian recodes locally: far more classes than a single full-domain level would give.
    assert!(checked.classes > 300, "{checked:?}");
    let (header, rows) = read_csv(&dir.path().join("mondrian.csv"));
    let age = header.iter().position(|h| h == "age").unwrap();
    assert!(rows.iter().any(|r| r[age].starts_with('[') && r[age].ends_with(']')), "ages are partition bounds");
    // Its metrics are reported like the optimal search's.
    assert!(summary["privacy"]["metrics"]["loss"].as_f64().unwrap() > 0.0);

    // Dates and prefixes on the sample customers.
    let sample = root().join("sample_data/customers.csv");
    write_job(
        dir.path(),
        "customers.yaml",
        &format!(
            "version: 1\nname: customers\ninput: {{ path: {}, types: {{ zip: string }} }}\nunlisted_columns: drop\n\
             columns:\n  customer_id: keep\n  birth_date: {{ action: generalize, hierarchy: {{ type: date, levels: [month, year, 5y, 10y] }} }}\n\
             \x20 zip: {{ action: generalize, hierarchy: {{ type: prefix, keep: [4, 3, 2] }} }}\n  gender: generalize\n\
             \x20 segment: keep\nprivacy:\n  k_anonymity: {{ k: 5, algorithm: mondrian }}\noutput: {{ path: customers.csv }}\n",
            sample.display()
        ),
    );
    run_json(dir.path(), "customers.yaml");
    let checked = check(&dir.path().join("customers.csv"), &["birth_date", "zip", "gender"], 5, None, 1, None);
    // Columns before and between the quasi-identifiers keep their own values.
    let (header, rows) = read_csv(&dir.path().join("customers.csv"));
    assert_eq!(header, ["customer_id", "birth_date", "zip", "gender", "segment"]);
    assert_eq!(rows[0][0], "100001");
    assert!(rows.iter().all(|r| ["bronze", "silver", "gold", "platinum"].contains(&r[4].as_str())), "{:?}", rows[0]);
    assert!(checked.classes > 50, "{checked:?}");
}

#[test]
fn an_unreachable_target_stops_the_run_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let quasi = ["sex", "race"];
    // Pinned at the original values, sex × race has classes far below 500 rows.
    let data = root().join("sample_data/adult");
    let job = format!(
        "version: 1\nname: pinned\ninput: {{ path: {}, delimiter: \";\" }}\nunlisted_columns: drop\ncolumns:\n\
         \x20 sex: {{ action: generalize, level: 0 }}\n\
         \x20 race: {{ action: generalize, hierarchy: {{ type: file, path: {} }}, level: 0 }}\n\
         privacy:\n  k_anonymity: {{ k: 500, suppression_limit: 0.01 }}\noutput: {{ path: pinned.csv }}\n",
        data.join("adult.csv").display(),
        data.join("adult_hierarchy_race.csv").display()
    );
    let _ = quasi;
    write_job(dir.path(), "pinned.yaml", &job);
    let run = anonymize(dir.path(), &["run", "pinned.yaml"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let message = stderr(&run);
    assert!(message.contains("no transformation meets k = 500"), "{message}");
    assert!(message.contains("the best k reachable within the limit is"), "{message}");
    assert!(!dir.path().join("pinned.csv").exists());
}

#[test]
fn values_a_hierarchy_does_not_cover_are_counted_not_shown() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("people.csv"), "city,n\nBoston,1\nSalem,2\nAtlantis-Secret,3\nBoston,4\n").unwrap();
    write_job(
        dir.path(),
        "map.yaml",
        "version: 1\nname: map\ninput: { path: people.csv }\ncolumns:\n\
         \x20 city: { action: generalize, hierarchy: { type: map, values: { Boston: [MA], Salem: [MA] } } }\n\
         \x20 n: keep\nprivacy:\n  k_anonymity: { k: 2 }\noutput: { path: out.csv }\n",
    );
    let run = anonymize(dir.path(), &["run", "map.yaml"]);
    assert_eq!(run.status.code(), Some(1));
    let message = stderr(&run);
    assert!(message.contains("column `city`: 1 rows hold values that its hierarchy does not cover"), "{message}");
    assert!(!message.contains("Atlantis"), "{message}");
    assert!(!dir.path().join("out.csv").exists());
}

#[test]
fn risk_reports_class_sizes_of_any_file() {
    let dir = tempfile::tempdir().unwrap();
    // Classes: (a, x) 3 rows, (a, y) 1 row, (b, x) 2 rows.
    std::fs::write(dir.path().join("d.csv"), "p,q,s\na,x,1\na,x,2\na,x,1\na,y,3\nb,x,1\nb,x,1\n").unwrap();
    let run = anonymize(dir.path(), &["risk", "d.csv", "--quasi-identifiers", "p,q", "--sensitive", "s", "--json"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let r: serde_json::Value = serde_json::from_str(&stdout(&run)).unwrap();
    assert_eq!(r["rows"], 6);
    assert_eq!(r["classes"], 3);
    assert_eq!(r["prosecutor_highest"], 1.0);
    assert_eq!(r["prosecutor_average"], 0.5);
    assert_eq!(r["unique_rows"].as_f64().unwrap(), 1.0 / 6.0);
    assert_eq!(r["rows_above_0_2"], 1.0);
    assert_eq!(r["l_distinct"], 1);
    let human = anonymize(dir.path(), &["risk", "d.csv", "--quasi-identifiers", "p,qq"]);
    assert_eq!(human.status.code(), Some(1));
    assert!(stderr(&human).contains("did you mean `q`?"), "{}", stderr(&human));
}
