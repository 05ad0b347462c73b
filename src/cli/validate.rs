//! `anonymize validate JOB...`: every problem of every file, no rows read.

use super::Failure;
use anonymize::plan;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Job files (.yaml, .yml, .toml).
    #[arg(required = true)]
    pub jobs: Vec<PathBuf>,
}

pub fn run(args: ValidateArgs) -> Result<(), Failure> {
    let mut failed = 0;
    for path in &args.jobs {
        let outcome = anonymize::job::load(path).map_err(anyhow::Error::from).and_then(|job| {
            plan::bind(&job)?;
            for warning in anonymize::identifiers::kept_identifiers(&job, None) {
                eprintln!("warning: {}: {warning}", path.display());
            }
            Ok(())
        });
        match outcome {
            Ok(()) => eprintln!("ok: {}", path.display()),
            Err(error) => {
                failed += 1;
                eprintln!("{}", crate::render(&error, None));
            }
        }
    }
    if failed == 0 {
        Ok(())
    } else {
        let files = anonymize::job::plural(failed, "job file");
        Err(Failure::user(anyhow::anyhow!("{files} of {} did not validate", args.jobs.len())))
    }
}
