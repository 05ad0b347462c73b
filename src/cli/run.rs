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
    /// Rows per record batch, for memory tuning (default 16384). Never changes any result.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub batch_rows: Option<u32>,
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
        observer: (!args.quiet && std::io::stderr().is_terminal())
            .then(|| std::sync::Arc::new(super::progress::Bar::default()) as std::sync::Arc<dyn runner::RunObserver>),
        run_id: Some(run_id.clone()),
        batch_rows: args.batch_rows.map(|n| n as usize),
    };
    if args.dry_run {
        let mut summary = runner::run(&job, &options).map_err(run_failure)?.summary;
        summary.report = Some(report_path.display().to_string());
        summary.lineage = job.lineage.as_ref().map(|p| p.display().to_string());
        return print(&summary, &args);
    }
    // SIGINT and SIGTERM stop the run at its next safe point, with cleanup and a FAIL event.
    anonymize::interrupt::install().map_err(|e| Failure { error: e.into(), exit_code: 2, hint: None })?;

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

/// The run, its checksums, its report and its COMPLETE event. Every file is written under a
/// temporary name first; the budget is committed; then the output, the releases and the report
/// become visible together; the COMPLETE event is recorded last, and if it cannot be, the files
/// are taken back: a failed run leaves nothing new visible.
fn carry_out(
    job: &Job,
    options: &RunOptions,
    report_path: &Path,
    format: Format,
    context: &Context<'_>,
    emitter: &Emitter<'_>,
) -> Result<RunSummary, Failure> {
    anonymize::io::output::check_target(report_path, job.output.overwrite).map_err(Failure::user)?;
    let mut prepared = runner::run(job, options).map_err(run_failure)?;
    let failed = |error: anyhow::Error| Failure { error, exit_code: 1, hint: None };
    // Checksums are of the staged content, recorded under the names the files will have.
    let mut files: Vec<(Role, PathBuf, PathBuf)> = vec![(Role::Job, job.file.clone(), job.file.clone())];
    let summary = &prepared.summary;
    files.extend(summary.input_files.iter().map(|f| (Role::Input, PathBuf::from(f), PathBuf::from(f))));
    files.extend(summary.consent_files.iter().map(|f| (Role::ConsentList, PathBuf::from(f), PathBuf::from(f))));
    for (i, staged) in prepared.staged.iter().enumerate() {
        let role = if i == 0 { Role::Output } else { Role::Release };
        files.push((role, staged.target().to_path_buf(), staged.content().to_path_buf()));
    }
    let mut sums: Vec<FileChecksum> =
        checksums::compute(files.iter().map(|(r, name, content)| (*r, name.as_path(), content.as_path())))
            .map_err(|e| failed(e.into()))?;
    let document = report::build(job, summary, &sums, job.lineage.as_deref());
    let report_file =
        report::stage(report_path, &report::render(&document, format), job.output.overwrite).map_err(Failure::user)?;
    sums.extend(
        checksums::compute([(Role::Report, report_path, report_file.content())]).map_err(|e| failed(e.into()))?,
    );
    prepared.summary.report = Some(report_path.display().to_string());
    prepared.summary.lineage = job.lineage.as_ref().map(|p| p.display().to_string());
    let summary = prepared.summary.clone();
    let published = prepared.finish(vec![report_file]).map_err(run_failure)?;
    if let Err(e) = emitter.emit(&events::complete(context, &summary, &sums)) {
        published.roll_back();
        let spent = if summary.dp.is_some() { " (its privacy spending stays recorded as spent)" } else { "" };
        return Err(failed(anyhow::Error::from(e).context(format!(
            "the run's COMPLETE event could not be recorded, so its outputs were taken back and nothing new is \
             visible{spent}"
        ))));
    }
    published.confirm();
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
        // The run is complete and recorded; a reader that went away loses only this copy.
        if let Err(failure) = super::emit(&format!("{json}\n"), "the JSON summary") {
            eprintln!("warning: {:#}; the run itself completed (its lineage has the same figures)", failure.error);
        }
    }
    Ok(())
}

fn run_failure(error: RunError) -> Failure {
    let hint = hint(&error);
    Failure { exit_code: error.exit_code(), error: error.into(), hint }
}

fn hint(error: &RunError) -> Option<String> {
    match error {
        RunError::Io(IoError::Cell { column, .. }) if !column.starts_with('(') => Some(format!(
            "the column's type was inferred from the first {} rows; declare it with `input.types.{column}` (string, int64, float64, bool, date, timestamp)",
            anonymize::io::csv::INFERENCE_ROWS
        )),
        RunError::Plan(anonymize::plan::PlanError::Key(_)) => {
            Some("keys are 64 hex characters; make one with `anonymize keygen`".into())
        }
        _ => None,
    }
}
