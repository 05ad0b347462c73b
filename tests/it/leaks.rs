//! No raw value of a protected column reaches any output byte; no cell value reaches any
//! error message.

use super::{anonymize, cells, root, stderr, write_job};
use std::collections::HashSet;

/// The main job, with its outputs redirected into `dir`, as CSV (so bytes can be scanned
/// uncompressed) and as Parquet.
fn run_main_job(dir: &std::path::Path, output: &str) {
    write_job(dir, "job.yaml", &super::main_job_text("job", output));
    let run = anonymize(dir, &["run", "job.yaml", "--quiet"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
}

#[test]
fn the_main_job_leaks_no_protected_value() {
    let dir = tempfile::tempdir().unwrap();
    run_main_job(dir.path(), "out.csv");
    run_main_job(dir.path(), "out.parquet");
    let raw = cells(&root().join("sample_data/customers.csv"));
    let names = super::column_names(&root().join("sample_data/customers.csv"));
    let index = |n: &str| names.iter().position(|c| c == n).unwrap();

    // Values that contain letters or punctuation cannot occur inside hex tokens by chance:
    // none of them may appear anywhere in the CSV output's bytes, the Parquet file's bytes
    // (footer metadata is uncompressed) or the Parquet output's decoded cells.
    let text_columns = ["full_name", "email", "phone", "birth_date", "card_number"];
    let mut needles: Vec<&str> = Vec::new();
    for row in &raw {
        for column in text_columns {
            if let Some(value) = &row[index(column)] {
                needles.push(value);
            }
        }
    }
    assert!(needles.len() > 20_000, "only {} values checked", needles.len());
    let parquet_cells: Vec<Vec<Option<String>>> = cells(&dir.path().join("out.parquet"));
    let parquet_text = parquet_cells.iter().flatten().flatten().cloned().collect::<Vec<_>>().join("\n");
    let haystacks = [
        ("CSV output", std::fs::read(dir.path().join("out.csv")).unwrap()),
        ("Parquet file", std::fs::read(dir.path().join("out.parquet")).unwrap()),
        ("Parquet cells", parquet_text.into_bytes()),
        ("lineage events", std::fs::read(dir.path().join("job.lineage.jsonl")).unwrap()),
        ("privacy report", std::fs::read(dir.path().join("job.report.html")).unwrap()),
    ];
    for (what, bytes) in &haystacks {
        if let Some(found) = find_any(bytes, &needles) {
            panic!("a raw value of length {} is in the {what}", found.len());
        }
    }
    // The check itself finds a value that is there.
    assert!(find_any(format!("x{}y", needles[7]).as_bytes(), &needles).is_some());

    // Short numeric identifiers could collide with other numbers by chance, so they are checked
    // in their own column: no output id or zip equals a raw one.
    let out_names = super::column_names(&dir.path().join("out.parquet"));
    let csv_cells = cells(&dir.path().join("out.csv"));
    for column in ["customer_id", "zip"] {
        let raw_values: HashSet<&str> = raw.iter().filter_map(|r| r[index(column)].as_deref()).collect();
        let at = out_names.iter().position(|n| n == column).unwrap();
        for rows in [&csv_cells, &parquet_cells] {
            assert!(
                rows.iter().all(|r| r[at].as_deref().is_some_and(|v| !raw_values.contains(v))),
                "a raw {column} is in the output"
            );
        }
    }
    // Dropped columns are gone; encrypted card numbers keep their format (and, above, none is
    // a raw card number).
    for dropped in ["full_name", "signup_date", "consent_analytics"] {
        assert!(!out_names.iter().any(|n| n == dropped));
    }
    let card = out_names.iter().position(|n| n == "card_number").unwrap();
    let cards: Vec<&str> = parquet_cells.iter().filter_map(|r| r[card].as_deref()).collect();
    assert!(cards.len() > 3_000, "{} card numbers", cards.len());
    let format = |c: &str| c.len() == 19 && c.bytes().enumerate().all(|(i, b)| (i % 5 == 4) == (b == b'-'));
    assert!(cards.iter().all(|c| format(c)));
}

#[test]
fn failing_runs_never_print_cell_values() {
    let dir = tempfile::tempdir().unwrap();
    let secret_cell = "Zx9SECRETcell";
    let cases: Vec<(&str, String)> = vec![
        // A value that does not parse as the declared type.
        ("types", format!("id,age\n1,30\n2,{secret_cell}\n")),
        // A row with too many fields.
        ("fields", format!("id,age\n1,30\n2,40,{secret_cell}\n")),
        // An unclosed quote.
        ("quote", format!("id,age\n1,30\n2,\"{secret_cell}\n")),
    ];
    for (name, csv) in cases {
        std::fs::write(dir.path().join(format!("{name}.csv")), csv).unwrap();
        let job = format!(
            "version: 1\nname: leak_{name}\ninput:\n  path: {name}.csv\n  types: {{ age: int64 }}\n\
             output:\n  path: out_{name}.parquet\ncolumns:\n  id: keep\n  age: keep\n"
        );
        write_job(dir.path(), &format!("{name}.yaml"), &job);
        let output = anonymize(dir.path(), &["run", &format!("{name}.yaml")]);
        let text = stderr(&output) + &super::stdout(&output);
        assert_eq!(output.status.code(), Some(1), "{name}: {text}");
        assert!(!text.contains(secret_cell), "{name}: a cell value is in the message: {text}");
        assert!(text.contains(&format!("{name}.csv")), "{name}: the message names the file: {text}");
        assert!(!dir.path().join(format!("out_{name}.parquet")).exists());
    }
    // A malformed key is named by its source, never shown.
    let key = "ab".repeat(31) + "zz";
    std::fs::write(dir.path().join("bad.key"), &key).unwrap();
    std::fs::write(dir.path().join("k.csv"), "id\n1\n").unwrap();
    write_job(
        dir.path(),
        "key.yaml",
        "version: 1\nname: key\ninput: { path: k.csv }\noutput: { path: k.parquet }\n\
         secrets: { pseudonym_key: { file: bad.key } }\ncolumns:\n  id: pseudonymize\n",
    );
    let output = anonymize(dir.path(), &["run", "key.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("bad.key"), "{}", stderr(&output));
    assert!(!stderr(&output).contains("abab"), "{}", stderr(&output));
    assert!(!dir.path().join("k.parquet").exists());
}

/// The first of `needles` that occurs in `haystack`: one sliding window per needle length.
fn find_any<'a>(haystack: &[u8], needles: &[&'a str]) -> Option<&'a str> {
    let mut by_length: std::collections::HashMap<usize, HashSet<&[u8]>> = std::collections::HashMap::new();
    for n in needles.iter().filter(|n| !n.is_empty()) {
        by_length.entry(n.len()).or_default().insert(n.as_bytes());
    }
    for (length, set) in &by_length {
        if let Some(window) = haystack.windows(*length).find(|w| set.contains(w)) {
            return needles.iter().copied().find(|n| n.as_bytes() == window);
        }
    }
    None
}
