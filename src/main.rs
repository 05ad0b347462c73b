//! `anonymize`: parse arguments → `cli::run` → render the error chain → exit code.

mod cli;

use clap::Parser;
use std::process::ExitCode;

/// `error: …`, then `  Caused by: …` for each cause, then `hint: …`.
pub(crate) fn render(error: &anyhow::Error, hint: Option<&str>) -> String {
    let mut text = format!("error: {error}");
    for cause in error.chain().skip(1) {
        text.push_str(&format!("\n  Caused by: {cause}"));
    }
    if let Some(hint) = hint {
        text.push_str(&format!("\nhint: {hint}"));
    }
    text
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match std::panic::catch_unwind(|| cli::run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(failure)) => {
            eprintln!("{}", render(&failure.error, failure.hint.as_deref()));
            ExitCode::from(failure.exit_code)
        }
        Err(_) => {
            eprintln!("error: internal error (a bug in anonymize); nothing was written under the output's name");
            ExitCode::from(2)
        }
    }
}
