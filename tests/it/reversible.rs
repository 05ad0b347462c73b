//! Reversible protection: `encrypt` (FF1) with `anonymize decrypt`, `shift`, and the
//! `unique: true` check of `pseudonymize`.

use super::{anonymize, cells, column_names, root, stderr, stdout, write_job};
use std::collections::HashMap;
use std::path::Path;

fn sample_csv() -> std::path::PathBuf {
    root().join("sample_data/customers.csv")
}

/// A job over the sample customers (no consent filter, so rows line up with the input) that
/// encrypts four identifier columns and keeps the rest.
fn encrypt_job(dir: &Path, output: &str, key: &str) {
    let job = format!(
        "version: 1\nname: reversible\ninput:\n  path: {input}\n  types: {{ zip: string }}\n\
         secrets: {{ pseudonym_key: {key} }}\n\
         columns:\n  customer_id: {{ action: encrypt }}\n  phone: {{ action: encrypt }}\n\
         \x20 card_number: {{ action: encrypt, method: ff1 }}\n\
         \x20 email: {{ action: encrypt, alphabet: abcdefghijklmnopqrstuvwxyz0123456789 }}\n\
         \x20 full_name: keep\n  birth_date: keep\n  zip: keep\n  gender: keep\n  city: keep\n  income: keep\n\
         \x20 spend_90d: keep\n  segment: keep\n  signup_date: keep\n  consent_analytics: keep\n\
         output: {{ path: {output}, overwrite: true }}\n",
        input = sample_csv().display()
    );
    write_job(dir, "encrypt.yaml", &job);
    let run = anonymize(dir, &["run", "encrypt.yaml", "--quiet"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
}

const TEST_KEY: &str = "{ env: ANONYMIZE_TEST_KEY }";

#[test]
fn encrypted_columns_keep_their_format_and_decrypt_back_to_the_input() {
    let dir = tempfile::tempdir().unwrap();
    encrypt_job(dir.path(), "out.csv", TEST_KEY);
    let raw = cells(&sample_csv());
    let names = column_names(&sample_csv());
    let out = cells(&dir.path().join("out.csv"));
    assert_eq!(out.len(), raw.len());
    let mut changed = 0;
    for column in ["customer_id", "phone", "card_number", "email"] {
        let at = names.iter().position(|n| n == column).unwrap();
        for (r, o) in raw.iter().zip(&out) {
            let (Some(r), Some(o)) = (&r[at], &o[at]) else {
                assert_eq!(r[at].is_none(), o[at].is_none(), "{column}: null stays null");
                continue;
            };
            // Same length; characters outside the alphabet in the same places.
            assert_eq!(r.chars().count(), o.chars().count(), "{column}");
            let outside = |c: char| if column == "email" { !c.is_ascii_alphanumeric() } else { !c.is_ascii_digit() };
            for (a, b) in r.chars().zip(o.chars()) {
                assert_eq!(outside(a), outside(b), "{column}");
                if outside(a) {
                    assert_eq!(a, b);
                }
            }
            if column == "customer_id" {
                assert!(!o.starts_with('0') && o.len() == 6);
            }
            changed += usize::from(r != o);
        }
    }
    assert!(changed > 18_000, "only {changed} values changed");

    // Decrypt one column after another: the result is the input, byte for byte.
    let mut current = "out.csv".to_string();
    for (i, column) in ["customer_id", "phone", "card_number", "email"].iter().enumerate() {
        let next = format!("decrypted{i}.csv");
        let run = anonymize(
            dir.path(),
            &["decrypt", "encrypt.yaml", "--column", column, "--input", &current, "--output", &next],
        );
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
        assert!(stdout(&run).is_empty(), "file mode prints nothing on stdout");
        current = next;
    }
    assert_eq!(std::fs::read(dir.path().join(current)).unwrap(), std::fs::read(sample_csv()).unwrap());
}

#[test]
fn parquet_integers_stay_integers_and_decrypt_by_their_type() {
    let dir = tempfile::tempdir().unwrap();
    encrypt_job(dir.path(), "out.parquet", TEST_KEY);
    let schema = anonymize::io::DataSource::open_path(
        &dir.path().join("out.parquet"),
        None,
        &anonymize::job::CsvOptions::default(),
        1024,
    )
    .unwrap()
    .schema();
    assert_eq!(schema.field_with_name("customer_id").unwrap().data_type(), &arrow::datatypes::DataType::Int64);
    let run = anonymize(
        dir.path(),
        &["decrypt", "encrypt.yaml", "--column", "customer_id", "--input", "out.parquet", "--output", "ids.parquet"],
    );
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let names = column_names(&sample_csv());
    let at = names.iter().position(|n| n == "customer_id").unwrap();
    let raw: Vec<Option<String>> = cells(&sample_csv()).into_iter().map(|r| r[at].clone()).collect();
    let back: Vec<Option<String>> = cells(&dir.path().join("ids.parquet")).into_iter().map(|r| r[at].clone()).collect();
    assert_eq!(back, raw);
}

#[test]
fn decrypt_takes_values_on_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    encrypt_job(dir.path(), "out.csv", TEST_KEY);
    let names = column_names(&sample_csv());
    let raw = cells(&sample_csv());
    let out = cells(&dir.path().join("out.csv"));
    for column in ["card_number", "customer_id", "email"] {
        let at = names.iter().position(|n| n == column).unwrap();
        let rows: Vec<usize> = (0..raw.len()).filter(|&r| raw[r][at].is_some()).take(5).collect();
        let mut args = vec!["decrypt", "encrypt.yaml", "--column", column];
        args.extend(rows.iter().map(|&r| out[r][at].as_deref().unwrap()));
        let run = anonymize(dir.path(), &args);
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
        let expected: String = rows.iter().map(|&r| format!("{}\n", raw[r][at].as_deref().unwrap())).collect();
        assert_eq!(stdout(&run), expected, "{column}");
    }

    // With the job's input gone, the column's kind must be stated.
    let id = out[0][names.iter().position(|n| n == "customer_id").unwrap()].clone().unwrap();
    let moved = std::fs::read_to_string(dir.path().join("encrypt.yaml"))
        .unwrap()
        .replace(&sample_csv().display().to_string(), "gone.csv");
    write_job(dir.path(), "moved.yaml", &moved);
    let run = anonymize(dir.path(), &["decrypt", "moved.yaml", "--column", "customer_id", &id]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stderr(&run).contains("--as integer"), "{}", stderr(&run));
    let run = anonymize(dir.path(), &["decrypt", "moved.yaml", "--column", "customer_id", "--as", "integer", &id]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(stdout(&run).trim(), raw[0][names.iter().position(|n| n == "customer_id").unwrap()].as_deref().unwrap());
}

#[test]
fn decrypt_refuses_without_the_key_and_for_columns_that_are_not_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    encrypt_job(dir.path(), "out.csv", TEST_KEY);
    let text = std::fs::read_to_string(dir.path().join("encrypt.yaml")).unwrap();
    write_job(dir.path(), "nokey.yaml", &text.replace("ANONYMIZE_TEST_KEY", "ANONYMIZE_UNSET_KEY"));
    let out = cells(&dir.path().join("out.csv"));
    let card = out.iter().find_map(|r| r[11].clone()).unwrap();
    let run = anonymize(dir.path(), &["decrypt", "nokey.yaml", "--column", "card_number", &card]);
    assert_eq!(run.status.code(), Some(1));
    assert!(stderr(&run).contains("ANONYMIZE_UNSET_KEY"), "{}", stderr(&run));
    assert!(stdout(&run).is_empty());
    assert!(!stderr(&run).contains(&card));

    // A wrong key decrypts to something else: the output alone allows no reversal.
    let other = anonymize::keys::Key::from_hex(&"22".repeat(32)).unwrap();
    let ff1 = anonymize::transform::encrypt::Ff1::for_domain(
        &other,
        "card_number",
        anonymize::transform::encrypt::Alphabet::digits(),
    );
    let mut wrong = String::new();
    ff1.decrypt_text(&card, &mut wrong).unwrap();
    let raw = cells(&sample_csv());
    assert!(!raw.iter().any(|r| r[11].as_deref() == Some(wrong.as_str())));

    for (column, expected) in [("full_name", "its action is `keep`"), ("fullname", "did you mean `full_name`?")] {
        let run = anonymize(dir.path(), &["decrypt", "encrypt.yaml", "--column", column, "x"]);
        assert_eq!(run.status.code(), Some(1));
        assert!(stderr(&run).contains(expected), "{}", stderr(&run));
    }
}

#[test]
fn values_too_short_for_ff1_stop_the_run_naming_the_input_row() {
    let dir = tempfile::tempdir().unwrap();
    // Row 2 has no consent; row 4's code has five digits, one fewer than FF1 needs.
    std::fs::write(
        dir.path().join("codes.csv"),
        "id,ok,code\n1,true,1234567\n2,false,7654321\n3,true,2345678\n4,true,44-551\n5,true,3456789\n",
    )
    .unwrap();
    write_job(
        dir.path(),
        "codes.yaml",
        "version: 1\nname: codes\ninput: { path: codes.csv, types: { code: string } }\n\
         consent: { column: ok }\nsecrets: { pseudonym_key: { env: ANONYMIZE_TEST_KEY } }\n\
         columns:\n  id: keep\n  ok: drop\n  code: { action: encrypt }\noutput: { path: out.csv }\n",
    );
    let run = anonymize(dir.path(), &["run", "codes.yaml"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    let message = stderr(&run);
    assert!(message.contains("column `code`"), "{message}");
    assert!(message.contains("in row 4"), "{message}");
    assert!(message.contains("fewer than the 6 FF1 needs"), "{message}");
    assert!(!message.contains("44-551") && !message.contains("44551"), "{message}");
    assert!(!dir.path().join("out.csv").exists());
}

#[test]
fn unique_tokens_stop_the_run_on_a_repeated_key_value() {
    let dir = tempfile::tempdir().unwrap();
    let job = |data: &str, unique: bool| {
        std::fs::write(dir.path().join("ids.csv"), data).unwrap();
        let text = format!(
            "version: 1\nname: ids\ninput: {{ path: ids.csv }}\nconsent: {{ column: ok }}\n\
             secrets: {{ pseudonym_key: {{ env: ANONYMIZE_TEST_KEY }} }}\n\
             columns:\n  id: {{ action: pseudonymize, length: 16, unique: {unique} }}\n  ok: drop\n\
             output: {{ path: out.csv, overwrite: true }}\n"
        );
        write_job(dir.path(), "unique.yaml", &text);
        let _ = std::fs::remove_file(dir.path().join("out.csv"));
        anonymize(dir.path(), &["run", "unique.yaml", "--quiet"])
    };
    // Row 2 has no consent; the 11 of row 3 repeats in row 5.
    let repeated = "id,ok\n10,true\n99,false\n11,true\n12,true\n11,true\n";
    let run = job(repeated, true);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(
        stderr(&run).contains("column `id` has `unique: true`, but its input repeats a value (row 5)"),
        "{}",
        stderr(&run)
    );
    assert!(!dir.path().join("out.csv").exists());
    // Without the promise the same data runs; a repeat among excluded rows breaks nothing.
    assert_eq!(job(repeated, false).status.code(), Some(0));
    let run = job("id,ok\n10,true\n11,false\n11,true\n", true);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    assert_eq!(cells(&dir.path().join("out.csv")).len(), 2);
}

/// Shifts of the sample's 5,000 customers (one subject each), from a job that shifts both date
/// columns by `customer_id`: (birth date shift, signup date shift) per row.
fn sample_shifts(dir: &Path) -> Vec<(i64, i64)> {
    let job = format!(
        "version: 1\nname: shifted\ninput: {{ path: {input} }}\nunlisted_columns: drop\n\
         secrets: {{ pseudonym_key: {{ env: ANONYMIZE_TEST_KEY }} }}\n\
         columns:\n  customer_id: keep\n  birth_date: {{ action: shift, by: customer_id, max_days: 180 }}\n\
         \x20 signup_date: {{ action: shift, by: customer_id, max_days: 180 }}\n\
         output: {{ path: shifted.parquet, overwrite: true }}\n",
        input = sample_csv().display()
    );
    write_job(dir, "shift.yaml", &job);
    let run = anonymize(dir, &["run", "shift.yaml", "--quiet"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let days = |text: &str| {
        let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap();
        i64::from(anonymize::text::days_from_date(date))
    };
    let raw = cells(&sample_csv());
    let out = cells(&dir.join("shifted.parquet"));
    assert_eq!(raw.len(), out.len());
    raw.iter()
        .zip(&out)
        .map(|(r, o)| {
            assert_eq!(r[0], o[0]);
            let birth = days(o[1].as_deref().unwrap()) - days(r[4].as_deref().unwrap());
            let signup = days(o[2].as_deref().unwrap()) - days(r[12].as_deref().unwrap());
            (birth, signup)
        })
        .collect()
}

/// Chi-square of counts against equal expected counts.
fn chi_square(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / counts.len() as f64;
    counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum()
}

/// Uniformity of shifts over 19 bins of 19 days (-180..=180 is 361 = 19 × 19 days) and
/// independence of consecutive subjects over a 6 × 6 table of their bins. Critical values at
/// significance 1e-6: 61.91 for 18 degrees of freedom, 89.95 for 35.
fn shift_statistics(shifts: &[i64]) -> (f64, f64) {
    let mut bins = vec![0u64; 19];
    for &d in shifts {
        bins[((d + 180) / 19) as usize] += 1;
    }
    let sixth = |d: i64| (((d + 180) * 6) / 361) as usize;
    let mut pairs = vec![0u64; 36];
    for w in shifts.windows(2) {
        pairs[sixth(w[0]) * 6 + sixth(w[1])] += 1;
    }
    (chi_square(&bins), chi_square(&pairs))
}

#[test]
fn one_subject_keeps_its_intervals_and_subjects_get_independent_uniform_shifts() {
    let dir = tempfile::tempdir().unwrap();
    let shifts = sample_shifts(dir.path());
    assert_eq!(shifts.len(), 5_000);
    // Both dates of a row (one subject) move together: the interval between them is exact.
    assert!(shifts.iter().all(|(birth, signup)| birth == signup));
    let shifts: Vec<i64> = shifts.iter().map(|s| s.0).collect();
    assert!(shifts.iter().all(|d| (-180..=180).contains(d)));
    let (uniform, independent) = shift_statistics(&shifts);
    assert!(uniform < 61.91, "shifts are not uniform: chi-square {uniform}");
    assert!(independent < 89.95, "consecutive subjects' shifts depend on each other: chi-square {independent}");
    // Consecutive subjects share a shift about 1 time in 361 (about 14 of 4,999 pairs).
    let same = shifts.windows(2).filter(|w| w[0] == w[1]).count();
    assert!(same < 40, "{same} consecutive subjects share their shift");

    // The tests have power: shifts that follow the subject's order, or cluster, are rejected.
    let dependent: Vec<i64> = (0..5_000).map(|i| ((i / 2) % 361) - 180).collect();
    assert!(shift_statistics(&dependent).1 > 89.95);
    let clustered: Vec<i64> = shifts.iter().map(|d| d / 2).collect();
    assert!(shift_statistics(&clustered).0 > 61.91);
}

#[test]
fn a_subject_moves_by_the_same_days_across_columns_runs_and_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("visits.csv"),
        "patient,visit,discharge\nA-1,2024-01-10,2024-01-12\nB-2,2024-02-01,2024-02-09\nA-1,2024-03-05,2024-03-06\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("claims.csv"), "member,claimed\nB-2,2024-02-20\nA-1,2024-01-11\n").unwrap();
    let secrets = "secrets: { pseudonym_key: { env: ANONYMIZE_TEST_KEY } }";
    write_job(
        dir.path(),
        "visits.yaml",
        &format!(
            "version: 1\nname: visits\ninput: {{ path: visits.csv }}\n{secrets}\ncolumns:\n  patient: keep\n\
             \x20 visit: {{ action: shift, by: patient, max_days: 90 }}\n\
             \x20 discharge: {{ action: shift, by: patient, max_days: 90 }}\noutput: {{ path: visits_out.csv }}\n"
        ),
    );
    write_job(
        dir.path(),
        "claims.yaml",
        &format!(
            "version: 1\nname: claims\ninput: {{ path: claims.csv }}\n{secrets}\ncolumns:\n  member: keep\n\
             \x20 claimed: {{ action: shift, by: member, max_days: 90 }}\noutput: {{ path: claims_out.csv }}\n"
        ),
    );
    for job in ["visits.yaml", "claims.yaml"] {
        let run = anonymize(dir.path(), &["run", job, "--quiet"]);
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    }
    let days = |t: &str| i64::from(anonymize::text::days_from_date(t.parse().unwrap()));
    let mut shift_of: HashMap<String, Vec<i64>> = HashMap::new();
    for (input, output) in [("visits.csv", "visits_out.csv"), ("claims.csv", "claims_out.csv")] {
        for (r, o) in cells(&dir.path().join(input)).iter().zip(cells(&dir.path().join(output))) {
            for c in 1..r.len() {
                let shift = days(o[c].as_deref().unwrap()) - days(r[c].as_deref().unwrap());
                shift_of.entry(r[0].clone().unwrap()).or_default().push(shift);
            }
        }
    }
    assert_eq!(shift_of["A-1"].len(), 5);
    assert_eq!(shift_of["B-2"].len(), 3);
    for shifts in shift_of.values() {
        assert!(shifts.iter().all(|&s| s == shifts[0]), "{shifts:?}");
    }
}
