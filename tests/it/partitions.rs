//! Partition invariance through the engine's API, as a cluster driver would use it: the input cut
//! into 7 partitions of shuffled rows, a census per partition (sent as bytes), merged in two
//! orders; the decisions equal those of one pass, and applying them partition by partition gives
//! exactly the rows (and the release) the command line writes.

use super::{anonymize, cells, root, stderr, write_job};
use anonymize::engine::{Census, Decisions, Engine, RowIds};
use arrow::array::{Array, RecordBatch, UInt32Array};
use std::path::Path;

const PARTITIONS: usize = 7;

/// The customer sample with every kind of work: consent, tokens, masks, k-anonymity with
/// l-diversity, per-row noise and an aggregate release.
pub(crate) fn customers_job(dir: &Path) -> String {
    std::fs::write(dir.join("key.hex"), "11".repeat(32)).unwrap();
    let input = root().join("sample_data/customers.csv");
    format!(
        "version: 1
name: partitions
input: {{ path: {input} }}
consent: {{ column: consent_analytics }}
secrets: {{ pseudonym_key: {{ file: key.hex }} }}
columns:
  customer_id: {{ action: pseudonymize, domain: customer }}
  full_name: drop
  email: {{ action: pseudonymize, keep_domain: true }}
  phone: {{ action: mask, keep_last: 2 }}
  birth_date: {{ action: generalize, hierarchy: {{ type: date, levels: [year, 5y, 10y] }} }}
  zip: {{ action: generalize, hierarchy: {{ type: prefix, keep: [3, 2, 1] }} }}
  gender: {{ action: generalize }}
  city: {{ action: keep, sensitive: true }}
  income: {{ action: noise, epsilon: 1.0, bounds: [0, 500000] }}
  spend_90d: {{ action: noise, mechanism: gaussian, epsilon: 1.0, delta: 1.0e-6, bounds: [0, 20000] }}
  segment: {{ action: redact, with: hidden }}
  card_number: {{ action: encrypt }}
  signup_date: {{ action: shift, by: customer_id, max_days: 30 }}
  consent_analytics: drop
privacy:
  k_anonymity: {{ k: 5, suppression_limit: 0.05 }}
  l_diversity: {{ l: 2 }}
  budget: {{ ledger: budget.json, dataset: partitions, epsilon: 1000.0, delta: 0.001 }}
aggregates:
  - name: spend_by_city
    path: spend_by_city.csv
    privacy_unit: customer_id
    group_by: [city]
    measures: [count, {{ sum: spend_90d, bounds: [0, 20000] }}, {{ histogram: segment }}]
    epsilon: 1.0
    delta: 1.0e-6
output: {{ path: out.parquet, overwrite: true }}
",
        input = input.display()
    )
}

/// ARX's Adult case (k = 5, 4 % suppression, all nine columns as quasi-identifiers).
fn adult_job() -> String {
    let adult = root().join("sample_data/adult");
    let mut columns = String::new();
    let header = std::fs::read_to_string(adult.join("adult.csv")).unwrap();
    for name in header.lines().next().unwrap().split(';') {
        let hierarchy = adult.join(format!("adult_hierarchy_{name}.csv"));
        columns.push_str(&format!(
            "  {name}: {{ action: generalize, hierarchy: {{ type: file, path: {} }} }}\n",
            hierarchy.display()
        ));
    }
    format!(
        "version: 1
name: adult_partitions
input: {{ path: {}, delimiter: \";\" }}
columns:
{columns}privacy:
  k_anonymity: {{ k: 5, suppression_limit: 0.04, metric: discernibility }}
output: {{ path: out.parquet, overwrite: true }}
",
        adult.join("adult.csv").display()
    )
}

/// A seeded shuffle of `0..n` cut into `PARTITIONS` parts of uneven sizes.
fn shuffled_partitions(n: usize, seed: u64) -> Vec<Vec<u32>> {
    let mut state = seed;
    let mut next = move || {
        // splitmix64
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut order: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        order.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    // Uneven cuts: part i gets a share proportional to i + 1.
    let weights: usize = (1..=PARTITIONS).sum();
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 0..PARTITIONS {
        let end = if i + 1 == PARTITIONS { n } else { start + n * (i + 1) / weights };
        parts.push(order[start..end].to_vec());
        start = end;
    }
    parts
}

fn text_rows(batch: &RecordBatch) -> Vec<Vec<Option<String>>> {
    let texts: Vec<_> = batch.columns().iter().map(|c| anonymize::text::to_text(c).expect("text")).collect();
    (0..batch.num_rows())
        .map(|row| texts.iter().map(|t| (!t.is_null(row)).then(|| t.value(row).to_string())).collect())
        .collect()
}

/// Decisions as bytes, with the search's wall time (the one figure that varies) set to zero.
fn comparable(decisions: &Decisions) -> Vec<u8> {
    let mut decisions = decisions.clone();
    if let Some(privacy) = decisions.privacy.as_mut() {
        privacy.search_seconds = 0.0;
    }
    decisions.to_bytes()
}

/// Runs `job_text` through the command line and through the API over shuffled partitions, and
/// compares decisions, rows and releases.
fn check(job_text: &str, dir: &Path, release: Option<&str>) {
    let job_path = write_job(dir, "job.yaml", job_text);
    let out = anonymize(dir, &["run", "job.yaml", "--seed", "5", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut cli_rows = cells(&dir.join("out.parquet"));
    cli_rows.sort();

    let job = anonymize::job::load(&job_path).expect("job loads");
    let source = anonymize::plan::bind(&job).expect("input binds").source;
    let engine = Engine::new(&job, &source.schema(), Some(5)).expect("engine");
    let batches: Vec<RecordBatch> = source.batches().map(|b| b.expect("batch")).collect();
    let all = arrow::compute::concat_batches(&source.schema(), &batches).unwrap();
    let parts: Vec<(RecordBatch, RowIds)> = shuffled_partitions(all.num_rows(), 42)
        .into_iter()
        .map(|rows| {
            let batch = arrow::compute::take_record_batch(&all, &UInt32Array::from(rows.clone())).unwrap();
            (batch, RowIds { file: 0, rows: rows.into_iter().map(u64::from).collect() })
        })
        .collect();
    assert_eq!(parts.len(), PARTITIONS);

    // Executors: one census per partition, sent as bytes.
    let sent: Vec<Vec<u8>> = parts.iter().map(|(batch, _)| engine.census_of(batch).unwrap().to_bytes()).collect();
    // The coordinator merges them in two orders; one pass over the unshuffled input is the reference.
    let merge = |order: &mut dyn Iterator<Item = &Vec<u8>>| {
        let mut census = engine.empty_census();
        for bytes in order {
            census.merge(Census::from_bytes(bytes).unwrap()).unwrap();
        }
        census
    };
    let mut forward = merge(&mut sent.iter());
    let mut backward = merge(&mut sent.iter().rev());
    let mut whole = engine.census_of(&all).unwrap();
    assert_eq!(forward.rows_read, all.num_rows() as u64);
    let decided = engine.decide(&mut whole).unwrap();
    let reference = comparable(&decided);
    assert!(comparable(&engine.decide(&mut forward).unwrap()) == reference, "merged forward: other decisions");
    assert!(comparable(&engine.decide(&mut backward).unwrap()) == reference, "merged backward: other decisions");
    assert!(decided.privacy.as_ref().is_some_and(|p| p.k == Some(5)), "{:?}", decided.privacy);

    // Executors apply the shipped decisions to their partitions, in any order.
    let shipped = engine.decisions_from_bytes(&decided.to_bytes()).unwrap();
    let mut api_rows = Vec::new();
    for (batch, ids) in parts.iter().rev() {
        let applied = engine.apply(&shipped, batch, ids.as_rows()).unwrap();
        api_rows.extend(text_rows(&applied.batch));
    }
    api_rows.sort();
    assert_eq!(api_rows.len(), cli_rows.len(), "row counts differ");
    assert!(api_rows == cli_rows, "the partitioned rows differ from the command line's");

    // The release, noised once on the coordinator from either merge, is the command line's.
    let released = engine.release(&forward);
    assert_eq!(released[..].len(), engine.release(&backward).len());
    for (a, b) in released.iter().zip(engine.release(&backward)) {
        assert_eq!(a.rows, b.rows, "the release depends on the merge order");
    }
    if let Some(release) = release {
        let cli: Vec<Vec<Option<String>>> = cells(&dir.join(release));
        let rows = &released[0].rows;
        assert!(!rows.is_empty());
        assert_eq!(cli.len(), rows.len(), "release rows");
        for (line, row) in cli.iter().zip(rows) {
            assert_eq!(line[0], row.group[0]);
            assert_eq!(line[1].as_deref(), Some(row.measure.as_str()));
            let value: f64 = line[3].as_deref().unwrap().parse().unwrap();
            assert_eq!(value.to_bits(), row.value.to_bits(), "{line:?} against {row:?}");
        }
    }
}

#[test]
fn customers_cut_into_shuffled_partitions_give_the_command_lines_rows() {
    let dir = tempfile::tempdir().unwrap();
    let job = customers_job(dir.path());
    check(&job, dir.path(), Some("spend_by_city.csv"));
}

#[test]
fn adult_cut_into_shuffled_partitions_gives_the_command_lines_rows() {
    let dir = tempfile::tempdir().unwrap();
    check(&adult_job(), dir.path(), None);
}

/// Bytes that are not a census, or a census of another job, are refused, not merged.
#[test]
fn foreign_or_torn_census_bytes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let job_path = write_job(dir.path(), "job.yaml", &adult_job());
    let job = anonymize::job::load(&job_path).unwrap();
    let source = anonymize::plan::bind(&job).unwrap().source;
    let engine = Engine::new(&job, &source.schema(), None).unwrap();
    let batch = source.batches().next().unwrap().unwrap();
    let bytes = engine.census_of(&batch).unwrap().to_bytes();
    assert!(Census::from_bytes(&bytes[..bytes.len() / 2]).is_err(), "a torn census was read");
    // A census whose content is wrong is refused without quoting it (it holds input values).
    let text = String::from_utf8(bytes.clone()).unwrap();
    let value = "Never-married";
    assert!(text.contains(value));
    // A value where a number belongs: the parser's own message would quote it.
    let rows_read = text.split("\"rows_read\":").nth(1).unwrap().split(',').next().unwrap();
    let wrong = text.replacen(&format!("\"rows_read\":{rows_read}"), &format!("\"rows_read\":\"{value}\""), 1);
    let error = Census::from_bytes(wrong.as_bytes()).unwrap_err().to_string();
    assert!(!error.contains(value) && error.contains("line 1"), "{error}");
    let renamed = text.replacen("\"anonymize.census\"", &format!("\"{value}\""), 1);
    let error = Census::from_bytes(renamed.as_bytes()).unwrap_err().to_string();
    assert!(!error.contains(value) && error.contains("another format"), "{error}");
    let text = String::from_utf8(bytes.clone()).unwrap();
    let forged = text.replacen("\"rows\":", "\"rows\":1", 1);
    assert!(Census::from_bytes(forged.as_bytes()).is_err(), "a census whose counts do not add up was read");
    let other_job = write_job(dir.path(), "other.yaml", &adult_job().replace("k: 5", "k: 6"));
    let other = anonymize::job::load(&other_job).unwrap();
    let other_engine = Engine::new(&other, &source.schema(), None).unwrap();
    let mut census = other_engine.empty_census();
    let error = census.merge(Census::from_bytes(&bytes).unwrap()).unwrap_err();
    assert!(error.to_string().contains("different jobs"), "{error}");
    // A census of this job's hash but another shape is refused by decide, not indexed blindly.
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    value["table"] = serde_json::json!({ "quasi": [[]], "sensitive": [], "combos": [], "rows": 0 });
    let mut forged = Census::from_bytes(&serde_json::to_vec(&value).unwrap()).unwrap();
    let error = engine.decide(&mut forged).unwrap_err();
    assert!(error.to_string().contains("does not fit the job"), "{error}");
}

/// Decisions are checked before an executor applies them: another job's, or ones whose columns,
/// levels or hierarchy tables were changed on the way, are refused instead of panicking on a
/// lookup or recoding the wrong column.
#[test]
fn tampered_or_foreign_decisions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let job_path = write_job(dir.path(), "job.yaml", &adult_job());
    let job = anonymize::job::load(&job_path).unwrap();
    let source = anonymize::plan::bind(&job).unwrap().source;
    let engine = Engine::new(&job, &source.schema(), None).unwrap();
    let mut census = engine.empty_census();
    for batch in source.batches() {
        census.merge(engine.census_of(&batch.unwrap()).unwrap()).unwrap();
    }
    let bytes = engine.decide(&mut census).unwrap().to_bytes();
    assert!(engine.decisions_from_bytes(&bytes).is_ok());
    // Deciding uses the census's table up: a second decide or a later merge is refused by name.
    let error = engine.decide(&mut census).unwrap_err().to_string();
    assert!(error.contains("already decided"), "{error}");
    let part = engine.census_of(&source.batches().next().unwrap().unwrap()).unwrap();
    let error = census.merge(part).unwrap_err().to_string();
    assert!(error.contains("already decided"), "{error}");
    let original: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let tampered = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut value = original.clone();
        change(&mut value);
        engine.decisions_from_bytes(&serde_json::to_vec(&value).unwrap()).map(|_| ()).unwrap_err().to_string()
    };
    let recoding = "/recoding";
    let message = tampered(&|v| *v.pointer_mut(&format!("{recoding}/columns/0/input_index")).unwrap() = 50.into());
    assert!(message.contains("other columns"), "{message}");
    let message =
        tampered(&|v| *v.pointer_mut(&format!("{recoding}/scheme/full_domain/levels/0")).unwrap() = 99.into());
    assert!(message.contains("levels do not fit"), "{message}");
    let message = tampered(&|v| {
        v.pointer_mut(&format!("{recoding}/columns/1/generalization/up/0")).unwrap().as_array_mut().unwrap().pop();
    });
    assert!(message.contains("does not hold together"), "{message}");
    let message = tampered(&|v| *v.pointer_mut("/job_blake3").unwrap() = "0".repeat(64).into());
    assert!(message.contains("another job"), "{message}");
}

/// `unique: true` holds across partitions: each executor checks its own tokens, the coordinator
/// merges the checks (as bytes); a row repeated in two partitions is caught there.
#[test]
fn unique_tokens_are_checked_across_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let text = customers_job(dir.path()).replace(
        "customer_id: { action: pseudonymize, domain: customer }",
        "customer_id: { action: pseudonymize, domain: customer, unique: true }",
    );
    let job_path = write_job(dir.path(), "job.yaml", &text);
    let job = anonymize::job::load(&job_path).unwrap();
    let source = anonymize::plan::bind(&job).unwrap().source;
    let engine = Engine::new(&job, &source.schema(), Some(5)).unwrap();
    let batches: Vec<RecordBatch> = source.batches().map(|b| b.unwrap()).collect();
    let all = arrow::compute::concat_batches(&source.schema(), &batches).unwrap();
    let mut census = engine.census_of(&all).unwrap();
    let decisions = engine.decide(&mut census).unwrap();
    let parts: Vec<(RecordBatch, RowIds)> = shuffled_partitions(all.num_rows(), 9)
        .into_iter()
        .map(|rows| {
            let batch = arrow::compute::take_record_batch(&all, &UInt32Array::from(rows.clone())).unwrap();
            (batch, RowIds { file: 0, rows: rows.into_iter().map(u64::from).collect() })
        })
        .collect();
    let check_of = |(batch, ids): &(RecordBatch, RowIds)| {
        let mut check = engine.unique_check();
        check.add(&engine.apply(&decisions, batch, ids.as_rows()).unwrap()).unwrap();
        check.to_bytes()
    };
    let sent: Vec<Vec<u8>> = parts.iter().map(check_of).collect();
    let mut merged = engine.unique_check();
    for bytes in &sent {
        merged.merge(anonymize::engine::UniqueCheck::from_bytes(bytes).unwrap()).unwrap();
    }
    // The first partition applied a second time (a retried task whose first output was kept).
    let error = merged.merge(anonymize::engine::UniqueCheck::from_bytes(&sent[0]).unwrap()).unwrap_err();
    assert!(error.to_string().contains("repeats a value in two parts"), "{error}");
}

/// The census reads only the columns `Engine::census_columns` names (the command line decodes
/// only those): with every other column all null, a census is the same to the byte; and each
/// named column does change it (so a column the census read but the list left out would show).
/// The job uses every census input: consent column and opt-out list, quasi-identifiers, a
/// sensitive and a protected column, and an aggregate's unit, group, sum and histogram.
#[test]
fn the_census_reads_only_the_columns_it_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("opt_out.csv"), "customer_id\n100002\n100007\n100011\n").unwrap();
    let job_text = customers_job(dir.path())
        .replace(
            "consent: { column: consent_analytics }",
            "consent:\n  column: consent_analytics\n  exclude:\n    - { path: opt_out.csv, key: customer_id }",
        )
        .replace("gender: { action: generalize }", "gender: { action: generalize, protected: true }");
    assert!(job_text.contains("opt_out.csv") && job_text.contains("protected: true"));
    let job_path = write_job(dir.path(), "job.yaml", &job_text);
    let job = anonymize::job::load(&job_path).expect("job loads");
    let source = anonymize::plan::bind(&job).expect("input binds").source;
    let schema = source.schema();
    let engine = Engine::new(&job, &schema, Some(5)).expect("engine");
    let batches: Vec<RecordBatch> = source.batches().map(|b| b.expect("batch")).collect();
    let all = arrow::compute::concat_batches(&schema, &batches).unwrap();

    let named = engine.census_columns();
    let names: Vec<&str> = named.iter().map(|&i| schema.field(i).name().as_str()).collect();
    assert_eq!(
        names,
        ["customer_id", "birth_date", "zip", "gender", "city", "spend_90d", "segment", "consent_analytics"],
        "in input order"
    );
    let only = |read: &[usize]| {
        let columns = (0..all.num_columns())
            .map(|i| {
                if read.contains(&i) {
                    all.column(i).clone()
                } else {
                    arrow::array::new_null_array(schema.field(i).data_type(), all.num_rows())
                }
            })
            .collect();
        RecordBatch::try_new(schema.clone(), columns).unwrap()
    };
    let whole = engine.census_of(&all).unwrap();
    assert!(whole.excluded.by_list > 0 && whole.excluded.by_column > 0, "{:?}", whole.excluded);
    assert!(engine.census_of(&only(&named)).unwrap().to_bytes() == whole.to_bytes(), "the other columns changed it");
    for (i, name) in named.iter().zip(&names) {
        let without: Vec<usize> = named.iter().copied().filter(|c| c != i).collect();
        let census = engine.census_of(&only(&without)).unwrap();
        assert!(census.to_bytes() != whole.to_bytes(), "`{name}` made no difference to the census");
    }
}
