//! `anonymize sample`: synthetic customer tables.

use super::Failure;
use anonymize::job::{DataFormat, format_from_extension};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct SampleArgs {
    /// How many customers.
    #[arg(long, default_value_t = 5000)]
    pub rows: u64,
    /// Output file; `.csv` or `.parquet`.
    #[arg(long)]
    pub out: PathBuf,
    /// Same seed, same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Also write a deletion-request list (every 40th customer) to this CSV file.
    #[arg(long)]
    pub deletion_requests: Option<PathBuf>,
    /// Replace existing files.
    #[arg(long)]
    pub overwrite: bool,
}

pub fn run(args: SampleArgs) -> Result<(), Failure> {
    let format: DataFormat = format_from_extension(&args.out).ok_or_else(|| {
        Failure::user(anyhow::anyhow!("`{}` ends neither in .csv nor in .parquet", args.out.display()))
    })?;
    let rows =
        anonymize::sample::write(&args.out, format, args.rows, args.seed, args.overwrite).map_err(Failure::user)?;
    eprintln!("wrote {rows} synthetic customers to {}", args.out.display());
    if let Some(path) = &args.deletion_requests {
        let listed =
            anonymize::sample::write_deletion_requests(path, args.rows, 40, args.overwrite).map_err(Failure::user)?;
        eprintln!("wrote {listed} deletion requests to {}", path.display());
    }
    Ok(())
}
