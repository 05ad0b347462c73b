//! The k-anonymity search on Adult (30,162 rows, all nine quasi-identifiers with ARX's
//! hierarchies, 12,960 transformations), for k in 2, 5, 10, 50 and suppression limits 0 and 4%,
//! metric discernibility. The frequency table is built once; each iteration is one search.
//!
//! `cargo bench --bench search`

use anonymize::io::DataSource;
use anonymize::job::{CsvOptions, Hierarchy, Metric};
use anonymize::privacy::hierarchy::Generalization;
use anonymize::privacy::search::{Criteria, Problem};
use anonymize::privacy::table::{CanonicalTable, FrequencyTable};
use anonymize::text::to_text;
use arrow::array::StringArray;
use criterion::{Criterion, criterion_group, criterion_main};
use std::path::Path;

const COLUMNS: [&str; 9] =
    ["sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation", "salary-class"];

fn adult() -> (CanonicalTable, Vec<Generalization>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/adult");
    let csv = CsvOptions { delimiter: b';', ..CsvOptions::default() };
    let source = DataSource::open_path(&dir.join("adult.csv"), None, &csv, 16_384).expect("adult.csv");
    let mut table = FrequencyTable::new(9, 0);
    for batch in source.batches() {
        let batch = batch.expect("batch");
        let columns: Vec<StringArray> =
            COLUMNS.iter().map(|c| to_text(batch.column_by_name(c).expect("column")).expect("text")).collect();
        table.merge(FrequencyTable::from_batch(&columns, &[]));
    }
    // What a run searches: ids in value order, combinations in key order.
    let table = table.canonical();
    let generalizations = COLUMNS
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let h = Hierarchy::File { path: dir.join(format!("adult_hierarchy_{name}.csv")), delimiter: b';' };
            Generalization::build(name, Some(&h), table.quasi[c].values(), &table.marginals()[c]).expect("hierarchy")
        })
        .collect();
    (table, generalizations)
}

fn search(c: &mut Criterion) {
    let (table, generalizations) = adult();
    let mut group = c.benchmark_group("adult_search_9_quasi_identifiers");
    group.sample_size(10);
    for k in [2u64, 5, 10, 50] {
        for limit in [0.0, 0.04] {
            let criteria = Criteria { k, suppression_limit: limit, l_diversity: None, t_closeness: None };
            let problem =
                Problem::new(&generalizations, vec![None; 9], &table, criteria, Vec::new(), Metric::Discernibility)
                    .expect("problem");
            group.bench_function(format!("k{k}_limit{limit}"), |b| b.iter(|| problem.search()));
        }
    }
    group.finish();
}

criterion_group!(benches, search);
criterion_main!(benches);
