//! The engine's phases as a cluster driver uses them (the Spark driver follows the same steps):
//! the input is cut into partitions, each "executor" makes a census and sends it as bytes, the
//! "coordinator" merges them and decides, and the executors apply the shipped decisions to their
//! own rows. The result is the command line's, whatever the cut.
//!
//! `cargo run --release --example phases` (from the repository root) makes Adult 5-anonymous
//! this way over 4 partitions and prints the levels chosen and the rows out of each partition.

use anonymize::engine::{Census, Engine};
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let job = anonymize::job::load(&root.join("pipelines/adult_k5.yaml"))?;
    // Batches of 4,096 rows, so that each partition gets several.
    let source = anonymize::plan::bind_with(&job, 4096)?.source;
    let engine = Engine::new(&job, &source.schema(), Some(1))?;

    // Four partitions of whole batches; each keeps its rows' identities (file, row in file).
    let mut partitions: Vec<Vec<_>> = vec![Vec::new(); 4];
    for (i, item) in source.batches_with_origin().enumerate() {
        let (origin, batch) = item?;
        let ids = origin.rows(batch.num_rows());
        partitions[i % 4].push((batch, ids));
    }

    // Executors: a census each, as bytes.
    let mut sent = Vec::new();
    for partition in &partitions {
        let mut census = engine.empty_census();
        for (batch, _) in partition {
            census.merge(engine.census_of(batch)?)?;
        }
        sent.push(census.to_bytes());
    }

    // Coordinator: merge in any order, decide once, ship the decisions.
    let mut census = engine.empty_census();
    for bytes in sent.iter().rev() {
        census.merge(Census::from_bytes(bytes)?)?;
    }
    let decisions = engine.decide(&mut census)?;
    if let Some(privacy) = &decisions.privacy {
        let levels: Vec<String> =
            privacy.quasi_identifiers.iter().map(|q| format!("{} {}", q.name, q.level.unwrap_or(0))).collect();
        println!("k = {:?}, {} rows suppressed; levels: {}", privacy.k, privacy.suppressed_rows, levels.join(", "));
    }
    let shipped = decisions.to_bytes();

    // Executors: apply the decisions to their own rows.
    let decisions = engine.decisions_from_bytes(&shipped)?;
    for (p, partition) in partitions.iter().enumerate() {
        let mut rows = 0;
        for (batch, ids) in partition {
            rows += engine.apply(&decisions, batch, ids.as_rows())?.batch.num_rows();
        }
        println!("partition {p}: {rows} rows out");
    }
    Ok(())
}
