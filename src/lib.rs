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
//! 5. [`transform`]: per-column kernels (mask, redact, pseudonymize, encrypt, shift…), run batch
//!    by batch in parallel by the [`runner`]. Jobs with quasi-identifiers first make a statistics
//!    pass and search for the generalization ([`privacy`]: k-anonymity, l-diversity, t-closeness,
//!    risk); noise and aggregate releases come from exact samplers under a budget ledger ([`dp`]).
//! 6. [`io::output`]: the output is written to a temporary file and renamed into place whole.
//! 7. [`lineage`]: OpenLineage events (START before reading, COMPLETE or FAIL at the end),
//!    BLAKE3 checksums of every file read and written (`anonymize verify`), and the privacy
//!    report.
//!
//! [`keys`] holds the secret key; [`decrypt`] reverses `encrypt` columns for key holders;
//! [`sample`] generates synthetic customer tables.

pub mod consent;
pub mod decrypt;
pub mod dp;
pub mod engine;
pub mod files;
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
