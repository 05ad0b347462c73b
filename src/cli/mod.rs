//! The command line: one file per subcommand. Errors leave here as `anyhow` chains with an exit
//! code; `main` renders them.

mod apply;
mod budget;
mod decrypt;
mod evaluate;
mod init;
mod keygen;
mod progress;
mod risk;
mod run;
mod sample;
mod summary;
mod validate;
mod verify;

use clap::{Parser, Subcommand};

/// De-identify customer data as a job file declares: pseudonymization, masking, k-anonymity and
/// differential privacy, with lineage and a privacy report.
#[derive(Debug, Parser)]
#[command(name = "anonymize", version, about, long_about = None, propagate_version = true)]
#[command(after_help = "Exit codes: 0 success; 1 the job or its data is wrong, or a privacy target cannot be met \
(nothing is written); 2 internal error.\nDocumentation: README.md, section \"Job file reference\".")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a job: read the input, protect every column, write the output atomically.
    Run(run::RunArgs),
    /// Recode other data (a test set, tomorrow's rows) with a run's decisions file: the same
    /// labels, no search; k measured on the recoded data.
    Apply(apply::ApplyArgs),
    /// Measure what the job's output keeps for machine learning: models trained on its anonymized
    /// rows against models trained on the original, on held-out rows. Writes nothing.
    Evaluate(evaluate::EvaluateArgs),
    /// Check job files (every problem of every file) against their inputs' schemas; no rows are read.
    Validate(validate::ValidateArgs),
    /// Draft a commented job for a CSV or Parquet file: profile it, find identifiers and
    /// quasi-identifiers, and write a job that validates and runs.
    Init(init::InitArgs),
    /// Print a new random 256-bit key as 64 hex characters.
    Keygen,
    /// Write a synthetic customer table (for demos and benchmarks), deterministic by seed.
    Sample(sample::SampleArgs),
    /// Re-identification risk of any dataset over the quasi-identifiers you name.
    Risk(risk::RiskArgs),
    /// Show what each dataset has spent of its privacy budget.
    Budget(budget::BudgetArgs),
    /// Reverse an `encrypt` column with the job's key: values, or a column of a CSV/Parquet file.
    Decrypt(decrypt::DecryptArgs),
    /// Recompute the BLAKE3 checksums a run recorded in its lineage file: are its files untouched?
    Verify(verify::VerifyArgs),
}

/// An error with the exit code it should end the process with.
#[derive(Debug)]
pub struct Failure {
    pub error: anyhow::Error,
    pub exit_code: u8,
    pub hint: Option<String>,
}

impl Failure {
    /// A failure caused by the job, its data or the user's input (exit 1).
    pub fn user(error: impl Into<anyhow::Error>) -> Self {
        Self { error: error.into(), exit_code: 1, hint: None }
    }
}

/// Writes `text` to standard output and flushes it. A closed pipe or a full disk is the
/// reader's or the machine's problem, not a bug: it comes back as a failure with exit 1
/// (printing with `println!` would panic and exit 2).
///
/// # Errors
/// A [`Failure`] naming what could not be written.
pub fn emit(text: &str, what: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::user(anyhow::Error::from(e).context(format!("cannot write {what} to standard output"))))
}

/// Runs the parsed command line.
///
/// # Errors
/// A [`Failure`] with its exit code.
pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Init(args) => init::run(args),
        Command::Keygen => keygen::run(),
        Command::Sample(args) => sample::run(args),
        Command::Risk(args) => risk::run(args),
        Command::Budget(args) => budget::run(args),
        Command::Decrypt(args) => decrypt::run(args),
        Command::Verify(args) => verify::run(args),
    }
}
