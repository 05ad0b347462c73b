//! `anonymize run JOB`.

use super::Failure;
use anonymize::io::IoError;
use anonymize::runner::{self, RunError, RunOptions};
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The job file (.yaml, .yml or .toml).
    pub job: PathBuf,
    /// Validate and plan only: read schemas, print what would happen, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Make every random draw reproducible (for tests: output is then not differentially private).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores). The output is identical for any value.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// No summary and no progress bar on stderr (errors are still printed).
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the run summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: RunArgs) -> Result<(), Failure> {
    let job = anonymize::job::load(&args.job).map_err(Failure::user)?;
    let options = RunOptions {
        threads: args.threads.map(usize::from),
        seed: args.seed,
        dry_run: args.dry_run,
        progress: !args.quiet && std::io::stderr().is_terminal(),
    };
    let summary = runner::run(&job, &options).map_err(|error| {
        let hint = hint(&error);
        Failure { exit_code: error.exit_code(), error: error.into(), hint }
    })?;
    if !args.quiet {
        eprint!("{}", summary.human());
    }
    if args.json {
        let json = serde_json::to_string_pretty(&summary).map_err(|e| Failure {
            error: e.into(),
            exit_code: 2,
            hint: None,
        })?;
        println!("{json}");
    }
    Ok(())
}

fn hint(error: &RunError) -> Option<String> {
    match error {
        RunError::Io(IoError::Cell { column, .. }) => Some(format!(
            "the column's type was inferred from the first {} rows; declare it with `input.types.{column}` (string, int64, float64, bool, date, timestamp)",
            anonymize::io::csv::INFERENCE_ROWS
        )),
        RunError::Plan(anonymize::plan::PlanError::Key(_)) => {
            Some("keys are 64 hex characters; make one with `anonymize keygen`".into())
        }
        _ => None,
    }
}
