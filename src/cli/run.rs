//! `anonymize run JOB`: the run itself, bracketed by its lineage events (START before any row
//! is read, COMPLETE or FAIL at the end) and followed by the privacy report.

use super::Failure;
use anonymize::io::IoError;
use anonymize::job::Job;
use anonymize::lineage::Environment;
use anonymize::lineage::checksums::{self, FileChecksum, Role};
use anonymize::lineage::events::{self, Context};
use anonymize::lineage::report::{self, Format};
use anonymize::lineage::transport::{self, Endpoint};
use anonymize::runner::{self, RunError, RunOptions, RunSummary};
use clap::Args;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

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
    /// The privacy report's format (default: from the `report:` path's extension, else html).
    #[arg(long, value_enum)]
    pub report_format: Option<Format>,
}

pub fn run(args: RunArgs) -> Result<(), Failure> {
    let job = anonymize::job::load(&args.job).map_err(Failure::user)?;
    let format = args.report_format.or_else(|| job.report.as_deref().and_then(Format::from_path)).unwrap_or_default();
    let report_path = report::target(&job, format);
    let run_id = runner::run_id_for(args.seed, &job);
    let options = RunOptions {
        threads: args.threads.map(usize::from),
        seed: args.seed,
        dry_run: args.dry_run,
        progress: !args.quiet && std::io::stderr().is_terminal(),
        run_id: Some(run_id.clone()),
    };
    if args.dry_run {
        let mut summary = runner::run(&job, &options).map_err(run_failure)?;
        summary.report = Some(report_path.display().to_string());
        summary.lineage = job.lineage.as_ref().map(|p| p.display().to_string());
        return print(&summary, &args);
    }

    let environment = Environment::from_lookup(|name| std::env::var(name).ok());
    for warning in &environment.warnings {
        eprintln!("warning: {warning}");
    }
    let endpoint = environment.url.as_deref().and_then(|url| {
        Endpoint::new(url, environment.endpoint.as_deref(), environment.api_key.as_deref())
            .map_err(|message| eprintln!("warning: {message}; lineage events are not sent"))
            .ok()
    });
    let emitter = Emitter { file: job.lineage.as_deref(), endpoint };
    let context = Context {
        job: &job,
        run_id: &run_id,
        parent: environment.parent.as_ref(),
        threads: args.threads.map(usize::from),
        seed: args.seed,
    };
    // Without its START event recorded, the run does not begin.
    emitter.emit(&events::start(&context)).map_err(Failure::user)?;
    let outcome = carry_out(&job, &options, &report_path, format, &context, &emitter);
    match outcome {
        Ok(summary) => print(&summary, &args),
        Err(failure) => {
            let message = format!("{:#}", failure.error);
            if let Err(e) = emitter.emit(&events::fail(&context, &message)) {
                eprintln!("warning: {e:#}");
            }
            Err(failure)
        }
    }
}

/// The run, its checksums, its report and its COMPLETE event.
fn carry_out(
    job: &Job,
    options: &RunOptions,
    report_path: &Path,
    format: Format,
    context: &Context<'_>,
    emitter: &Emitter<'_>,
) -> Result<RunSummary, Failure> {
    anonymize::io::output::check_target(report_path, job.output.overwrite).map_err(Failure::user)?;
    let mut summary = runner::run(job, options).map_err(run_failure)?;
    let written = |error: anyhow::Error| Failure {
        error: error.context(format!(
            "the output `{}` was written, but the run could not be completed",
            job.output.path.display()
        )),
        exit_code: 1,
        hint: None,
    };
    let mut files: Vec<(Role, PathBuf)> = vec![(Role::Job, job.file.clone())];
    files.extend(summary.input_files.iter().map(|f| (Role::Input, PathBuf::from(f))));
    files.extend(summary.consent_files.iter().map(|f| (Role::ConsentList, PathBuf::from(f))));
    files.push((Role::Output, job.output.path.clone()));
    files.extend(job.aggregates.iter().map(|a| (Role::Release, a.path.clone())));
    let mut sums: Vec<FileChecksum> =
        checksums::compute(files.iter().map(|(r, p)| (*r, p.as_path()))).map_err(|e| written(e.into()))?;
    let document = report::build(job, &summary, &sums, job.lineage.as_deref());
    report::write(report_path, &report::render(&document, format), job.output.overwrite)
        .map_err(|e| written(e.into()))?;
    sums.extend(checksums::compute([(Role::Report, report_path)]).map_err(|e| written(e.into()))?);
    summary.report = Some(report_path.display().to_string());
    summary.lineage = job.lineage.as_ref().map(|p| p.display().to_string());
    emitter.emit(&events::complete(context, &summary, &sums)).map_err(|e| written(e.into()))?;
    Ok(summary)
}

/// Where events go: the lineage file (must succeed) and the HTTP endpoint (may fail).
struct Emitter<'a> {
    file: Option<&'a Path>,
    endpoint: Option<Endpoint>,
}

impl Emitter<'_> {
    fn emit(&self, event: &serde_json::Value) -> Result<(), transport::LineageFileError> {
        if let Some(path) = self.file {
            transport::append(path, event)?;
        }
        if let Some(endpoint) = &self.endpoint
            && let Err(message) = endpoint.post(event)
        {
            let kind = event["eventType"].as_str().unwrap_or("a");
            let kept =
                if self.file.is_some() { "it is kept in the lineage file" } else { "it is lost (no `lineage:` file)" };
            eprintln!("warning: the {kind} lineage event was not sent: {message}; {kept}");
        }
        Ok(())
    }
}

fn print(summary: &RunSummary, args: &RunArgs) -> Result<(), Failure> {
    if !args.quiet {
        eprint!("{}", summary.human());
    }
    if args.json {
        let json =
            serde_json::to_string_pretty(summary).map_err(|e| Failure { error: e.into(), exit_code: 2, hint: None })?;
        println!("{json}");
    }
    Ok(())
}

fn run_failure(error: RunError) -> Failure {
    let hint = hint(&error);
    Failure { exit_code: error.exit_code(), error: error.into(), hint }
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
