//! Results never depend on how the input is cut: the same job, input and `--seed` give the same
//! bytes for any `--batch-rows` and `--threads`. Row-local kernels, noise (keyed by each row's
//! file and index), k-anonymity with l-diversity (census merged from batches) and an aggregate
//! release are all exercised, on an input of several files and more than 100,000 rows, so that
//! batches of 1,000 rows cut it into more than a hundred pieces.

use super::{anonymize, stderr, write_job};

const JOB: &str = "version: 1
name: cutting
input: { path: parts }
consent: { column: consent_analytics }
secrets: { pseudonym_key: { env: ANONYMIZE_TEST_KEY } }
columns:
  customer_id: { action: pseudonymize, domain: customer }
  full_name: drop
  email: { action: pseudonymize, keep_domain: true }
  phone: { action: mask, keep_last: 2 }
  birth_date: { action: generalize, hierarchy: { type: date, levels: [year, 5y, 10y] } }
  zip: { action: generalize, hierarchy: { type: prefix, keep: [3, 2, 1] } }
  gender: { action: generalize }
  city: { action: keep, sensitive: true }
  income: { action: noise, epsilon: 1.0, bounds: [0, 500000] }
  spend_90d: { action: noise, mechanism: gaussian, epsilon: 1.0, delta: 1.0e-6, bounds: [0, 20000] }
  segment: { action: redact, with: hidden }
  card_number: { action: encrypt }
  signup_date: { action: shift, by: customer_id, max_days: 30 }
  consent_analytics: drop
privacy:
  k_anonymity: { k: 5, suppression_limit: 0.05 }
  l_diversity: { l: 2 }
  budget: { ledger: budget.json, dataset: cutting, epsilon: 1000.0, delta: 0.001 }
aggregates:
  - name: spend_by_city
    path: out/spend_by_city.csv
    privacy_unit: customer_id
    group_by: [city]
    measures: [count, { sum: spend_90d, bounds: [0, 20000] }]
    epsilon: 1.0
    delta: 1.0e-6
output: { path: out/customers.parquet, overwrite: true }
";

#[test]
fn batch_size_and_threads_never_change_a_byte() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("parts")).unwrap();
    for (i, rows) in [(1, "45000"), (2, "38000"), (3, "30001")] {
        let out = anonymize(
            dir.path(),
            &["sample", "--rows", rows, "--seed", &i.to_string(), "--out", &format!("parts/part{i}.parquet")],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    write_job(dir.path(), "job.yaml", JOB);
    let mut reference: Option<(Vec<u8>, Vec<u8>)> = None;
    for (batch_rows, threads) in [("16384", "2"), ("1000", "1"), ("1000", "2"), ("100000", "1"), ("16384", "1")] {
        let out = anonymize(
            dir.path(),
            &["run", "job.yaml", "--seed", "11", "--batch-rows", batch_rows, "--threads", threads, "--quiet"],
        );
        assert_eq!(out.status.code(), Some(0), "batch {batch_rows}, threads {threads}: {}", stderr(&out));
        let bytes = (
            std::fs::read(dir.path().join("out/customers.parquet")).unwrap(),
            std::fs::read(dir.path().join("out/spend_by_city.csv")).unwrap(),
        );
        match &reference {
            None => reference = Some(bytes),
            Some(first) => {
                assert!(first.0 == bytes.0, "batch {batch_rows}, threads {threads}: the output differs");
                assert!(first.1 == bytes.1, "batch {batch_rows}, threads {threads}: the release differs");
            }
        }
    }
}
