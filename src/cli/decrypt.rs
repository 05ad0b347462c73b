//! `anonymize decrypt JOB --column C VALUE...` and `--input FILE --output FILE`.

use super::Failure;
use anonymize::decrypt::{self, DecryptError, ValueKind};
use anonymize::transform::encrypt::ValueError;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_help = "Decrypted values are raw customer data: print them only where such data may be. \
Values go to stdout, one per line, in the order given.")]
pub struct DecryptArgs {
    /// The job file whose key, domain and alphabet encrypted the column.
    pub job: PathBuf,
    /// The encrypted column.
    #[arg(long)]
    pub column: String,
    /// Encrypted values to decrypt (or use --input and --output).
    #[arg(required_unless_present = "input", conflicts_with = "input")]
    pub values: Vec<String>,
    /// A CSV or Parquet file (an output of the job) whose column is decrypted.
    #[arg(long, requires = "output")]
    pub input: Option<PathBuf>,
    /// Where the decrypted copy goes (.csv or .parquet); written atomically.
    #[arg(long, requires = "input")]
    pub output: Option<PathBuf>,
    /// Replace an existing --output file.
    #[arg(long)]
    pub overwrite: bool,
    /// What the column held before encryption, when the job's input schema cannot tell
    /// (its input is gone): integers are decrypted differently from text.
    #[arg(long = "as", value_enum)]
    pub kind: Option<Kind>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Integer,
    Text,
}

pub fn run(args: DecryptArgs) -> Result<(), Failure> {
    let job = anonymize::job::load(&args.job).map_err(Failure::user)?;
    let failure = |error: DecryptError| {
        let hint = match &error {
            DecryptError::Value { problem: ValueError::TooShort { .. } | ValueError::OutOfRange, .. }
            | DecryptError::Row { .. } => {
                Some("check that the value comes from this job's output and that the key is the one it ran with".into())
            }
            DecryptError::Key(_) => Some("decrypting needs the key the job ran with".into()),
            _ => None,
        };
        Failure { exit_code: 1, error: error.into(), hint }
    };
    let cipher = decrypt::column_cipher(&job, &args.column).map_err(failure)?;
    let kind = || match args.kind {
        Some(Kind::Text) => Ok(ValueKind::Text),
        Some(Kind::Integer) => Ok(decrypt::kind_of_type(&arrow::datatypes::DataType::Int64).unwrap_or(ValueKind::Text)),
        None => decrypt::kind_from_job_input(&job, &args.column),
    };
    match (&args.input, &args.output) {
        (Some(input), Some(output)) => {
            let rows =
                decrypt::decrypt_file(&cipher, &args.column, kind, input, output, args.overwrite).map_err(failure)?;
            eprintln!(
                "decrypted `{}` in {rows} rows of {} into {}; that file holds raw identifiers again",
                args.column,
                input.display(),
                output.display()
            );
        }
        _ => {
            let values = decrypt::decrypt_values(&cipher, kind().map_err(failure)?, &args.values).map_err(failure)?;
            let text: String = values.iter().map(|v| format!("{v}\n")).collect();
            super::emit(&text, "the decrypted values")?;
        }
    }
    Ok(())
}
