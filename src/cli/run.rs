//! `anonymize run JOB`: the library's recorded run ([`anonymize::runner::recorded`]: lineage
//! events, checksums, report), with a progress bar and warnings on stderr.

use super::Failure;
use anonymize::lineage::report::Format;
use anonymize::runner::recorded::{self, ReportTarget};
use anonymize::runner::{self, RunError, RunOptions, RunSummary};
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_help = "Lineage: with `lineage:` in the job, OpenLineage START and COMPLETE/FAIL events are appended \
to that file. With OPENLINEAGE_URL set (http or https), they are also POSTed to $OPENLINEAGE_URL/api/v1/lineage \
(OPENLINEAGE_ENDPOINT changes the path, OPENLINEAGE_API_KEY is sent as a bearer token, OPENLINEAGE_DISABLED=true \
turns POSTs off); a failed POST is a warning. \
OPENLINEAGE_PARENT_ID (namespace/job/run_id) or OPENLINEAGE_PARENT_JOB_NAMESPACE, _JOB_NAME and _RUN_ID link a parent run \
(ROOT_PARENT likewise for the root).\n\nReport: written beside the output as <name>.report.html unless the job's \
`report:` names a path; `anonymize verify LINEAGE_FILE` rechecks the files afterwards.")]
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
    /// No summary and no progress bar on stderr (errors and warnings are still printed).
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the run summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Rows per record batch, for memory tuning (default 16384; the census pass of a k-anonymous
    /// job or a release reads four times as many rows, of only the columns it counts). Never
    /// changes any result.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub batch_rows: Option<u32>,
    /// The privacy report's format (default: from the `report:` path's extension, else html).
    #[arg(long, value_enum)]
    pub report_format: Option<Format>,
}

pub fn run(args: RunArgs) -> Result<(), Failure> {
    let job = anonymize::job::load(&args.job).map_err(Failure::user)?;
    let report = ReportTarget::of(&job, args.report_format);
    let options = RunOptions {
        threads: args.threads.map(usize::from),
        seed: args.seed,
        dry_run: args.dry_run,
        observer: Some(std::sync::Arc::new(super::progress::Observer::new(
            !args.quiet && std::io::stderr().is_terminal(),
        ))),
        run_id: Some(runner::run_id_for(args.seed, &job)),
        batch_rows: args.batch_rows.map(|n| n as usize),
        passes: None,
    };
    if !args.dry_run {
        // SIGINT and SIGTERM stop the run at its next safe point, with cleanup and a FAIL event.
        anonymize::interrupt::install().map_err(|e| Failure { error: e.into(), exit_code: 2, hint: None })?;
    }
    let summary = recorded::run_job(&job, &options, &report).map_err(run_failure)?;
    print(&summary, &args)
}

fn print(summary: &RunSummary, args: &RunArgs) -> Result<(), Failure> {
    if !args.quiet {
        eprint!("{}", super::summary::human(summary));
    }
    if args.json {
        let json =
            serde_json::to_string_pretty(summary).map_err(|e| Failure { error: e.into(), exit_code: 2, hint: None })?;
        // The run is complete and recorded; a reader that went away loses only this copy.
        if let Err(failure) = super::emit(&format!("{json}\n"), "the JSON summary") {
            eprintln!("warning: {:#}; the run itself completed (its lineage has the same figures)", failure.error);
        }
    }
    Ok(())
}

pub(super) fn run_failure(error: RunError) -> Failure {
    let hint = error.hint();
    Failure { exit_code: error.exit_code(), error: error.into(), hint }
}
