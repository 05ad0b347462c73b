//! The one ordered-parallel pipeline every pass over the input uses: a reader thread, windows of
//! batches mapped in parallel on the pool, and a sink thread that receives the results in input
//! order. Whatever the thread count, the sink sees the same sequence.

use super::RunError;
use crate::io::{DataSource, IoError, RowOrigin};
use arrow::array::RecordBatch;
use rayon::prelude::*;
use std::sync::mpsc;

/// One batch on its way through the pipeline.
pub struct Piece {
    /// Which file and which of its rows.
    pub origin: RowOrigin,
    /// The 0-based row number of the batch's first row, counted across files (for messages).
    pub first_row: u64,
    pub batch: RecordBatch,
}

/// Maps every batch of `source` with `map` on `pool` (up to `window` at a time) and hands each
/// result to `sink` in input order, on a thread of its own so that mapping and sinking overlap.
/// An interruption (SIGINT, SIGTERM) ends the input like an unreadable batch.
///
/// # Errors
/// The first error of reading, `map` or `sink`; the others stop at their next step.
pub fn ordered<T: Send>(
    source: &DataSource,
    pool: &rayon::ThreadPool,
    window: usize,
    map: impl Fn(&Piece) -> Result<T, RunError> + Sync,
    sink: &mut (dyn FnMut(T) -> Result<(), RunError> + Send),
) -> Result<(), RunError> {
    let window = window.max(1);
    std::thread::scope(|scope| -> Result<(), RunError> {
        let (to_mapper, from_reader) = mpsc::sync_channel::<Result<(RowOrigin, RecordBatch), IoError>>(window);
        scope.spawn(move || {
            for batch in source.batches_with_origin() {
                let batch = crate::interrupt::check().map_err(IoError::from).and(batch);
                let failed = batch.is_err();
                if to_mapper.send(batch).is_err() || failed {
                    break;
                }
            }
        });
        let (to_sink, from_mapper) = mpsc::sync_channel::<T>(window);
        let sunk = scope.spawn(move || -> Result<(), RunError> {
            for item in from_mapper {
                sink(item)?;
            }
            Ok(())
        });
        let mapped = (|| -> Result<(), RunError> {
            let mut chunk: Vec<Piece> = Vec::with_capacity(window);
            let mut next_row = 0u64;
            loop {
                chunk.clear();
                while chunk.len() < window {
                    match from_reader.recv() {
                        Ok(batch) => {
                            let (origin, batch) = batch?;
                            let first_row = next_row;
                            next_row += batch.num_rows() as u64;
                            chunk.push(Piece { origin, first_row, batch });
                        }
                        Err(_) => break,
                    }
                }
                if chunk.is_empty() {
                    return Ok(());
                }
                let results: Vec<Result<T, RunError>> = pool.install(|| chunk.par_iter().map(&map).collect());
                for result in results {
                    // A closed channel means the sink failed; its error is collected below.
                    if to_sink.send(result?).is_err() {
                        return Ok(());
                    }
                }
            }
        })();
        drop(from_reader);
        drop(to_sink);
        let sunk = sunk.join().map_err(|_| RunError::Internal("a pipeline thread panicked".into()))?;
        mapped?;
        sunk
    })
}
