//! `anonymize verify LINEAGE_FILE`: recompute the checksums a run recorded.

use super::Failure;
use anonymize::lineage::verify::{Status, verify};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// An OpenLineage JSON-lines file written by `anonymize run` (the job's `lineage:`).
    pub lineage_file: PathBuf,
    /// The run to check (default: the last completed run in the file).
    #[arg(long)]
    pub run: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: VerifyArgs) -> Result<(), Failure> {
    let verification = verify(&args.lineage_file, args.run.as_deref()).map_err(Failure::user)?;
    if args.json {
        let json = serde_json::to_string_pretty(&verification).map_err(|e| Failure {
            error: e.into(),
            exit_code: 2,
            hint: None,
        })?;
        super::emit(&format!("{json}\n"), "the JSON")?;
    }
    eprintln!(
        "anonymize: run {} of job `{}` (completed {}): {} files recorded",
        verification.run_id,
        verification.job,
        verification.event_time,
        verification.files.len()
    );
    for file in &verification.files {
        let status = match file.status {
            Status::Unchanged => "ok       ",
            Status::Changed => "CHANGED  ",
            Status::Missing => "MISSING  ",
        };
        eprintln!("  {status} {:<12} {}", file.recorded.role.as_str(), file.recorded.path);
    }
    for line in &verification.torn_lines {
        eprintln!("warning: line {line} of the lineage file is not a whole event (a torn write?); it was passed over");
    }
    if verification.passed() {
        eprintln!("every file is as the run left it");
        Ok(())
    } else {
        let bad = verification.files.iter().filter(|f| f.status != Status::Unchanged).count();
        Err(Failure::user(anyhow::anyhow!(
            "{bad} of {} files differ from what run {} recorded",
            verification.files.len(),
            verification.run_id
        )))
    }
}
