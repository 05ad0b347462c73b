//! A run with its record, for every driver: the START event before any row is read (the run
//! does not begin without it), the run, the checksums of every file read and written, the privacy
//! report, the budget commit and the publication of every file together, then the COMPLETE event;
//! a FAIL event when anything fails. Warnings (an unreachable OpenLineage endpoint, a doubtful
//! environment variable) go to the run's [`RunObserver`].

use super::{RunError, RunObserver, RunOptions, RunSummary};
use crate::job::Job;
use crate::lineage::Environment;
use crate::lineage::checksums::{self, FileChecksum, Role};
use crate::lineage::events::{self, Context};
use crate::lineage::openlineage::RunEvent;
use crate::lineage::report::{self, Format};
use crate::lineage::transport::{self, Endpoint};
use std::path::{Path, PathBuf};

/// Where a run's privacy report goes.
#[derive(Debug, Clone)]
pub struct ReportTarget {
    pub path: PathBuf,
    pub format: Format,
}

impl ReportTarget {
    /// The job's report: `format`, else the `report:` path's extension, else HTML; beside the
    /// output unless `report:` names a path.
    pub fn of(job: &Job, format: Option<Format>) -> Self {
        let format = format.or_else(|| job.report.as_deref().and_then(Format::from_path)).unwrap_or_default();
        Self { path: report::target(job, format), format }
    }
}

/// Runs `job` with its lineage events, checksums and report (see the module documentation).
/// Nothing new is visible when it fails.
///
/// # Errors
/// [`RunError`]; see [`RunError::exit_code`].
pub fn run(
    job: &Job,
    options: &RunOptions,
    report: &ReportTarget,
    environment: &Environment,
) -> Result<RunSummary, RunError> {
    let observer = options.observer.as_deref();
    let warn = |message: &str| {
        if let Some(observer) = observer {
            observer.warning(message);
        }
    };
    for warning in &environment.warnings {
        warn(warning);
    }
    let endpoint = environment.url.as_deref().and_then(|url| {
        Endpoint::new(url, environment.endpoint.as_deref(), environment.api_key.as_deref())
            .map_err(|message| warn(&format!("{message}; lineage events are not sent")))
            .ok()
    });
    let run_id = options.run_id.clone().unwrap_or_else(|| super::run_id_for(options.seed, job));
    let options = RunOptions { run_id: Some(run_id.clone()), ..options.clone() };
    let emitter = Emitter { file: job.lineage.as_deref(), endpoint, observer };
    let context = Context {
        job,
        run_id: &run_id,
        parent: environment.parent.as_ref(),
        threads: options.threads,
        seed: options.seed,
    };
    emitter.emit(&events::start(&context))?;
    let outcome = carry_out(job, &options, report, &context, &emitter);
    if let Err(error) = &outcome
        && let Err(e) = emitter.emit(&events::fail(&context, &chain(error)))
    {
        warn(&chain(&e));
    }
    outcome
}

/// A job run as `anonymize run` runs it, for every driver: a dry run plans only (it writes and
/// records nothing); otherwise [`run`], with the lineage environment (`OPENLINEAGE_*`) read from
/// the process's variables.
///
/// # Errors
/// [`RunError`]; see [`RunError::exit_code`].
pub fn run_job(job: &Job, options: &RunOptions, report: &ReportTarget) -> Result<RunSummary, RunError> {
    run_job_under(job, options, report, None)
}

/// As [`run_job`]; `parent` is the run the events name as their parent when the environment
/// names none (a Spark driver gives its application).
///
/// # Errors
/// As [`run_job`].
pub fn run_job_under(
    job: &Job,
    options: &RunOptions,
    report: &ReportTarget,
    parent: Option<crate::lineage::events::Parent>,
) -> Result<RunSummary, RunError> {
    if options.dry_run {
        let mut summary = super::run(job, options)?.summary;
        summary.report = Some(report.path.display().to_string());
        summary.lineage = job.lineage.as_ref().map(|p| p.display().to_string());
        return Ok(summary);
    }
    let mut environment = Environment::from_lookup(|name| std::env::var(name).ok());
    if environment.parent.is_none() {
        environment.parent = parent;
    }
    run(job, options, report, &environment)
}

/// An error and its sources, joined by `: ` (as the command line prints them).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The run, its checksums, its report and its COMPLETE event. Every file is written under a
/// temporary name first; the budget is committed; then the output, the releases and the report
/// become visible together; the COMPLETE event is recorded last, and if it cannot be, the files
/// are taken back.
fn carry_out(
    job: &Job,
    options: &RunOptions,
    report: &ReportTarget,
    context: &Context<'_>,
    emitter: &Emitter<'_>,
) -> Result<RunSummary, RunError> {
    crate::io::output::check_target(&report.path, job.output.overwrite)?;
    let mut prepared = super::run(job, options)?;
    // Checksums are of the staged content, recorded under the names the files will have.
    let mut files: Vec<(Role, PathBuf, PathBuf)> = vec![(Role::Job, job.file.clone(), job.file.clone())];
    let summary = &prepared.summary;
    files.extend(summary.input_files.iter().map(|f| (Role::Input, PathBuf::from(f), PathBuf::from(f))));
    files.extend(summary.consent_files.iter().map(|f| (Role::ConsentList, PathBuf::from(f), PathBuf::from(f))));
    for (i, staged) in prepared.staged.iter().enumerate() {
        let role = if i == 0 { Role::Output } else { Role::Release };
        files.push((role, staged.target().to_path_buf(), staged.content().to_path_buf()));
    }
    if let Some(staged) = &prepared.decisions {
        files.push((Role::Decisions, staged.target().to_path_buf(), staged.content().to_path_buf()));
    }
    let mut sums: Vec<FileChecksum> =
        checksums::compute(files.iter().map(|(r, name, content)| (*r, name.as_path(), content.as_path())))?;
    let document = report::build(job, summary, &sums, job.lineage.as_deref());
    let report_file = report::stage(&report.path, &report::render(&document, report.format), job.output.overwrite)?;
    sums.extend(checksums::compute([(Role::Report, report.path.as_path(), report_file.content())])?);
    prepared.summary.report = Some(report.path.display().to_string());
    prepared.summary.lineage = job.lineage.as_ref().map(|p| p.display().to_string());
    let summary = prepared.summary.clone();
    let published = prepared.finish(vec![report_file])?;
    if let Err(source) = emitter.emit(&events::complete(context, &summary, &sums)) {
        published.roll_back();
        return Err(RunError::NotRecorded { spent: summary.dp.is_some(), source });
    }
    published.confirm();
    Ok(summary)
}

/// Where events go: the lineage file (must succeed) and the HTTP endpoint (may fail).
struct Emitter<'a> {
    file: Option<&'a Path>,
    endpoint: Option<Endpoint>,
    observer: Option<&'a dyn RunObserver>,
}

impl Emitter<'_> {
    fn emit(&self, event: &RunEvent) -> Result<(), transport::LineageFileError> {
        let json = event.to_json();
        if let Some(path) = self.file {
            transport::append(path, &json)?;
        }
        let kind = event.event_type.as_str();
        if let Some(endpoint) = &self.endpoint
            && let Err(message) = endpoint.post(&json)
            && let Some(observer) = self.observer
        {
            let kept =
                if self.file.is_some() { "it is kept in the lineage file" } else { "it is lost (no `lineage:` file)" };
            observer.warning(&format!("the {kind} lineage event was not sent: {message}; {kept}"));
        }
        if let Some(observer) = self.observer {
            observer.lineage_event(kind);
        }
        Ok(())
    }
}
