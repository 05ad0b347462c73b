//! `anonymize budget LEDGER [--json]`: what each dataset has spent of its privacy budget.

use super::Failure;
use anonymize::dp::ledger::{self, State};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct BudgetArgs {
    /// The budget ledger file (`privacy.budget.ledger` in the job).
    pub ledger: PathBuf,
    /// Print the ledger as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: BudgetArgs) -> Result<(), Failure> {
    if !args.ledger.exists() {
        return Err(Failure {
            error: anyhow::anyhow!("the budget ledger `{}` does not exist", args.ledger.display()),
            exit_code: 1,
            hint: Some("a ledger is created by the first run of a job with `privacy.budget`".into()),
        });
    }
    let file = ledger::read(&args.ledger).map_err(Failure::user)?;
    if args.json {
        let json =
            serde_json::to_string_pretty(&file).map_err(|e| Failure { error: e.into(), exit_code: 2, hint: None })?;
        return super::emit(&format!("{json}\n"), "the JSON");
    }
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "privacy budget ledger {}", args.ledger.display());
    if file.datasets.is_empty() {
        let _ = writeln!(out, "  no dataset has spent anything yet");
    }
    for (name, budget) in &file.datasets {
        let (spent_epsilon, spent_delta) = budget.spent();
        let (left_epsilon, left_delta) = budget.left();
        let _ = writeln!(
            out,
            "  {name}: epsilon {spent_epsilon} of {} spent, {left_epsilon} left; delta {spent_delta} of {} spent, {left_delta} left",
            budget.total_epsilon, budget.total_delta
        );
        for s in &budget.spending {
            let state = match s.state {
                State::Committed => "committed",
                State::Reserved => "reserved (running, or released when its process is gone)",
            };
            let seeded = if s.seeded { ", seeded: not differentially private" } else { "" };
            let _ = writeln!(
                out,
                "    {}  {}  run {}  epsilon {}  delta {}  {state}{seeded}",
                s.at, s.job, s.run_id, s.epsilon, s.delta
            );
        }
    }
    super::emit(&out, "the budget")
}
