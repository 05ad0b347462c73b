//! `anonymize` turns raw customer data into analytics-safe data, as a declarative job file says.
//!
//! The pipeline flows one way:
//!
//! 1. [`job`]: the job file (YAML or TOML) is parsed and validated, every problem at once, into
//!    a [`job::Job`].
//! 2. [`plan`]: the job is bound to its input's schema (no rows read) and compiled into one
//!    step per column.
//! 3. [`io`]: CSV or Parquet input streams as Arrow record batches.
//! 4. [`consent`]: rows without consent and subjects on exclusion lists are removed first.
//! 5. [`engine`]: the phases any driver calls: a census of the input (mergeable, as bytes),
//!    decisions from it (the k-anonymity search or Mondrian, [`privacy`]), then per-batch
//!    application of every column's kernel ([`transform`]; noise and aggregate releases from
//!    exact samplers, [`dp`]). The [`runner`] is the local driver: one ordered-parallel pipeline
//!    for each pass, the budget ledger, staged outputs made visible together ([`io::output`]).
//! 6. [`record`]: what the run did, in figures and names; below both the runner and lineage.
//! 7. [`lineage`]: OpenLineage events (START before reading, COMPLETE or FAIL at the end; typed
//!    in [`lineage::openlineage`]), BLAKE3 checksums of every file read and written
//!    (`anonymize verify`), and the privacy report; [`runner::recorded`] runs a job with them.
//!
//! Dependencies point one way: [`text`] and [`files`] are leaves; the job imports neither io
//! nor any kernel module's internals; kernels take their own parameter types.
//! [`keys`] holds the secret key; [`decrypt`] reverses `encrypt` columns for key holders;
//! [`sample`] generates synthetic customer tables; [`draft`] profiles an input and drafts a job
//! for it (`anonymize init`).

pub mod actions;
pub mod consent;
pub mod decrypt;
pub mod dp;
pub mod draft;
pub mod engine;
pub mod files;
pub mod identifiers;
pub mod interrupt;
pub mod io;
pub mod job;
pub mod keys;
pub mod lineage;
pub mod plan;
pub mod privacy;
pub mod record;
pub mod runner;
pub mod sample;
pub mod text;
pub mod transform;
pub mod utility;
