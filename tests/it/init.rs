//! `anonymize init` drafts a job that protects every direct identifier, generalizes the
//! quasi-identifiers, validates and runs as written, and never shows a cell value.

use super::{anonymize, cells, root, stderr, stdout, write_job};
use std::path::Path;

/// Runs `init` on `data` into `dir/job.yaml`, then `validate` and `run` on the draft; returns
/// the draft's job and everything init printed and wrote.
fn init_and_run(dir: &Path, data: &Path) -> (anonymize::job::Job, String) {
    let init = anonymize(dir, &["init", data.to_str().unwrap(), "--out", "job.yaml"]);
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let text = std::fs::read_to_string(dir.join("job.yaml")).unwrap();
    let validate = anonymize(dir, &["validate", "job.yaml"]);
    assert_eq!(validate.status.code(), Some(0), "{}\n{text}", stderr(&validate));
    let run = anonymize(dir, &["run", "job.yaml", "--quiet"]);
    assert_eq!(run.status.code(), Some(0), "{}\n{text}", stderr(&run));
    let job = anonymize::job::load(&dir.join("job.yaml")).unwrap();
    (job, format!("{}\n{}\n{text}", stdout(&init), stderr(&init)))
}

fn action(job: &anonymize::job::Job, column: &str) -> &'static str {
    job.column(column).unwrap_or_else(|| panic!("the draft lacks {column}")).action.name()
}

/// The column of the first cell value of `data` (of at least 4 characters, booleans aside:
/// `true` is YAML too) found in `printed`, values of the `quasi` columns aside (their
/// hierarchies may hold them).
fn cell_value_in(data: &Path, printed: &str, quasi: &[&str]) -> Option<String> {
    let names = super::column_names(data);
    let mut checked = 0;
    for row in cells(data) {
        for (name, value) in names.iter().zip(row) {
            let Some(value) = value else { continue };
            if value.len() < 4 || quasi.contains(&name.as_str()) || value == "true" || value == "false" {
                continue;
            }
            checked += 1;
            if printed.contains(&value) {
                return Some(name.clone());
            }
        }
    }
    assert!(checked > 1_000, "only {checked} values checked");
    None
}

fn assert_no_cell_value(data: &Path, printed: &str, quasi: &[&str]) {
    assert_eq!(cell_value_in(data, printed, quasi), None, "a cell value is in what init printed or wrote");
}

#[test]
fn init_drafts_a_protective_job_for_the_customer_sample() {
    let dir = tempfile::tempdir().unwrap();
    let data = root().join("sample_data/customers.csv");
    let (job, printed) = init_and_run(dir.path(), &data);
    for (column, expected) in [
        ("customer_id", "pseudonymize"),
        ("full_name", "drop"),
        ("email", "pseudonymize"),
        ("phone", "pseudonymize"),
        ("card_number", "encrypt"),
        ("birth_date", "generalize"),
        ("zip", "generalize"),
        ("gender", "generalize"),
        ("city", "generalize"),
        ("segment", "keep"),
        ("consent_analytics", "drop"),
    ] {
        assert_eq!(action(&job, column), expected, "{column}");
    }
    assert_eq!(job.consent.as_ref().and_then(|c| c.column.as_deref()), Some("consent_analytics"));
    assert!(job.privacy.k_anonymity.is_some());
    // Every choice is explained beside it.
    let draft = std::fs::read_to_string(dir.path().join("job.yaml")).unwrap();
    for line in draft.lines().filter(|l| l.starts_with("  ") && l.contains(": ") && !l.trim_start().starts_with('#')) {
        if job.column(line.trim().split(':').next().unwrap()).is_some() {
            assert!(line.contains("  # "), "no reason beside: {line}");
        }
    }
    // The key file is the owner's alone; a second init refuses to replace the draft, and with
    // --overwrite keeps the key.
    use std::os::unix::fs::PermissionsExt;
    let key = dir.path().join("job.key");
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    let key_before = std::fs::read(&key).unwrap();
    let again = anonymize(dir.path(), &["init", data.to_str().unwrap(), "--out", "job.yaml"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already exists") && stderr(&again).contains("--overwrite"), "{}", stderr(&again));
    let again = anonymize(dir.path(), &["init", data.to_str().unwrap(), "--out", "job.yaml", "--overwrite"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(std::fs::read(&key).unwrap(), key_before);
    assert!(!printed.contains(std::str::from_utf8(&key_before).unwrap().trim()), "the key was printed");
    assert_no_cell_value(&data, &printed, &[]);
    // The check finds a value that is there.
    let planted = cells(&data)[9][2].clone().unwrap();
    assert_eq!(cell_value_in(&data, &format!("{printed}\n# {planted}"), &[]).as_deref(), Some("email"));
}

#[test]
fn init_drafts_adults_quasi_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    let data = root().join("sample_data/adult/adult.csv");
    let (job, printed) = init_and_run(dir.path(), &data);
    for column in ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"] {
        assert_eq!(action(&job, column), "generalize", "{column}");
    }
    assert_eq!(action(&job, "salary-class"), "keep");
    // The delimiter was found; no column needs a key, so no key file is made.
    assert_eq!(job.input.csv.delimiter, b';');
    assert!(!dir.path().join("job.key").exists());
    let quasi = ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"];
    assert_no_cell_value(&data, &printed, &quasi);
    // The run's output is 5-anonymous over the quasi-identifiers.
    let out = dir.path().join("adult_anon.parquet");
    let names = super::column_names(&out);
    let at: Vec<usize> = quasi.iter().map(|q| names.iter().position(|n| n == q).unwrap()).collect();
    let mut classes: std::collections::HashMap<Vec<Option<String>>, usize> = std::collections::HashMap::new();
    for row in cells(&out) {
        *classes.entry(at.iter().map(|&i| row[i].clone()).collect()).or_default() += 1;
    }
    let star = vec![Some("*".to_string()); quasi.len()];
    assert!(classes.iter().filter(|(k, _)| **k != star).all(|(_, &n)| n >= 5));
}

/// A table with other column names: e-mail under `contact`, phone under `mobile_no`, card
/// numbers (valid Luhn digit) under `pan`, a birth date under `dob`, a postcode under `plz`,
/// an IBAN under `konto`, an IP address under `last_login`, free text under `notiz`.
#[test]
fn init_finds_identifiers_under_other_names() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("kunden.csv");
    let mut csv = String::from(
        "kundennummer,contact,mobile_no,pan,dob,plz,geschlecht,stadt,konto,last_login,notiz,betrag,einwilligung\n",
    );
    let mut state = 7u64;
    let mut next = |n: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % n
    };
    let cities = ["Berlin", "Hamburg", "Dresden", "Leipzig", "Bremen"];
    for i in 0..600u64 {
        let mut pan: Vec<u32> = (0..15).map(|_| next(10) as u32).collect();
        let sum: u32 = pan
            .iter()
            .rev()
            .enumerate()
            .map(|(j, &d)| if j % 2 == 0 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d })
            .sum();
        pan.push((10 - sum % 10) % 10);
        let pan: String = pan.iter().map(|d| char::from_digit(*d, 10).unwrap()).collect();
        // A German IBAN with valid check digits: DE + check + 18 digits.
        let bban: String = (0..18).map(|_| char::from_digit(next(10) as u32, 10).unwrap()).collect();
        let numeric = format!("{bban}131400"); // D = 13, E = 14, check 00
        let remainder = numeric.bytes().fold(0u64, |r, b| (r * 10 + u64::from(b - b'0')) % 97);
        let iban = format!("DE{:02}{bban}", 98 - remainder);
        csv.push_str(&format!(
            "{},kunde{i}@post.example,+49 151 {:07},{pan},{}-{:02}-{:02},{},{},{},{iban},10.{}.{}.{},\"Rief am {} an und fragte nach der Rechnung vom letzten Monat\",{}.{:02},{}\n",
            900_000 + i,
            next(10_000_000),
            1940 + next(60),
            1 + next(12),
            1 + next(28),
            10_000 + next(90_000),
            ["w", "m", "d"][next(3) as usize],
            cities[next(5) as usize],
            next(256),
            next(256),
            next(256),
            1 + next(28),
            next(5000),
            next(100),
            if next(10) < 8 { "true" } else { "false" },
        ));
    }
    std::fs::write(&data, csv).unwrap();
    let (job, printed) = init_and_run(dir.path(), &data);
    for (column, expected) in [
        ("kundennummer", "pseudonymize"),
        ("contact", "pseudonymize"),
        ("mobile_no", "pseudonymize"),
        ("pan", "encrypt"),
        ("konto", "pseudonymize"),
        ("last_login", "pseudonymize"),
        ("notiz", "drop"),
        ("dob", "generalize"),
        ("plz", "generalize"),
        ("geschlecht", "generalize"),
        ("stadt", "generalize"),
        ("betrag", "keep"),
        ("einwilligung", "drop"),
    ] {
        assert_eq!(action(&job, column), expected, "{column}");
    }
    assert_eq!(job.consent.as_ref().and_then(|c| c.column.as_deref()), Some("einwilligung"));
    // Postcodes that look like numbers are read as text (a number would lose leading zeros).
    assert!(printed.contains("types:\n    plz: string"), "{printed}");
    assert_no_cell_value(&data, &printed, &[]);
    // What init found is named by pattern.
    for pattern in ["e-mail addresses", "phone numbers", "card numbers", "IBANs", "IP addresses"] {
        assert!(printed.contains(pattern), "{pattern} not reported");
    }
}

#[test]
fn init_refuses_a_headerless_file_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    write_job(dir.path(), "rows.csv", "anna@mail.example,1984-02-09,02139\nbob@mail.example,1990-01-01,10001\n");
    let init = anonymize(dir.path(), &["init", "rows.csv"]);
    assert_eq!(init.status.code(), Some(1));
    let message = stderr(&init);
    assert!(message.contains("looks like values") && message.contains("header"), "{message}");
    assert!(!message.contains("anna") && !message.contains("02139"), "{message}");
    assert!(!dir.path().join("rows.yaml").exists());
}
