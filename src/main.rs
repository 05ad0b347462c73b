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
    // Last line of defence: a key that reached a message by a path nobody foresaw is not shown.
    anonymize::keys::redact(&text)
}

fn main() -> ExitCode {
    // A usage error (an unknown flag, `--threads 0`) is the caller's mistake: exit 1, as for a
    // wrong job. Exit 2 stays reserved for bugs. Help and version are not errors.
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() { ExitCode::from(1) } else { ExitCode::SUCCESS };
        }
    };
    match std::panic::catch_unwind(|| cli::run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(failure)) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "{}", render(&failure.error, failure.hint.as_deref()));
            ExitCode::from(failure.exit_code)
        }
        Err(_) => {
            eprintln!("error: internal error (a bug in anonymize); nothing was written under the output's name");
            ExitCode::from(2)
        }
    }
}
