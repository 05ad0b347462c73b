//! Commands of the contract that later versions deliver. They parse their arguments, so help
//! shows them, and refuse to run with a clear message.

use super::Failure;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// An OpenLineage JSON-lines file written by `anonymize run`.
    pub lineage_file: PathBuf,
}

pub fn not_available(command: &str) -> Result<(), Failure> {
    Err(Failure::user(anyhow::anyhow!("`{command}` is not available yet in this version of anonymize")))
}
