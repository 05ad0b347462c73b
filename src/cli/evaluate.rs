//! `anonymize evaluate JOB`: the utility evaluation alone (see
//! [`anonymize::runner::utility`]): what models trained on the job's anonymized output keep of
//! the accuracy of models trained on the original. Nothing is written.

use super::Failure;
use anonymize::job::Utility;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_help = "The input's rows with consent are split by seed into a train and a held-out test part \
(stratified by the target). The train part is anonymized exactly as the job says; the test part is recoded with \
the train part's decisions (no suppression). A logistic regression and gradient-boosted trees are trained on the \
anonymized and on the original train part and scored on the test part: accuracy, AUC, recall per class, per \
protected group, and each column's distribution distance. The job's `utility:` section gives the defaults; the \
options below override it. Nothing is written; the figures come from the raw rows (treat them like the input's \
statistics).")]
pub struct EvaluateArgs {
    /// The job file (.yaml, .yml or .toml).
    pub job: PathBuf,
    /// The kept column to predict (default: the job's `utility.target`).
    #[arg(long)]
    pub target: Option<String>,
    /// The share of rows held out for testing, in (0, 1) (default: `utility.holdout`, else 0.3).
    #[arg(long)]
    pub holdout: Option<f64>,
    /// The split's seed (default: `utility.seed`, else 0).
    #[arg(long)]
    pub split_seed: Option<u64>,
    /// Make the anonymization's random draws reproducible (noise columns), as `run --seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads (default: all cores). The figures are identical for any value.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Print the evaluation as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: EvaluateArgs) -> Result<(), Failure> {
    let mut job = anonymize::job::load(&args.job).map_err(Failure::user)?;
    let defaults = job.utility.clone();
    let target = match (args.target.clone(), defaults.as_ref()) {
        (Some(t), _) => t,
        (None, Some(u)) => u.target.clone(),
        (None, None) => {
            return Err(Failure {
                error: anyhow::anyhow!("the job has no `utility:` section and no `--target` was given"),
                exit_code: 1,
                hint: Some("name the kept column to predict: `--target COLUMN`, or add `utility: { target: COLUMN }` to the job".into()),
            });
        }
    };
    let holdout = args.holdout.or(defaults.as_ref().map(|u| u.holdout)).unwrap_or(0.3);
    if !(holdout.is_finite() && holdout > 0.0 && holdout < 1.0) {
        return Err(Failure::user(anyhow::anyhow!("--holdout is the share of rows kept for testing, in (0, 1)")));
    }
    match job.column(&target).map(|c| &c.action) {
        Some(anonymize::job::Action::Keep { .. }) => {}
        _ => {
            return Err(Failure {
                error: anyhow::anyhow!("the target `{target}` is not a kept column of the job"),
                exit_code: 1,
                hint: Some("a target is predicted from the other columns and kept as it is: `action: keep`".into()),
            });
        }
    }
    job.utility = Some(Utility {
        target,
        holdout,
        seed: args.split_seed.or(defaults.as_ref().map(|u| u.seed)).unwrap_or(0),
        max_rows: defaults.as_ref().map_or(200_000, |u| u.max_rows),
    });
    anonymize::interrupt::install().map_err(|e| Failure { error: e.into(), exit_code: 2, hint: None })?;
    let bound = anonymize::plan::bind(&job).map_err(|e| super::run::run_failure(e.into()))?;
    let threads = args.threads.map_or_else(rayon::current_num_threads, usize::from).max(1);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| Failure {
        error: e.into(),
        exit_code: 2,
        hint: None,
    })?;
    let summary =
        anonymize::runner::utility::evaluate(&job, &bound.source, args.seed, &pool).map_err(super::run::run_failure)?;
    let mut text = format!("anonymize: utility of job `{}` evaluated in {:.2} s\n", job.name, summary.seconds);
    super::summary::utility_lines(&summary, &mut text);
    eprint!("{text}");
    if args.json {
        let json = serde_json::to_string_pretty(&summary).map_err(|e| Failure {
            error: e.into(),
            exit_code: 2,
            hint: None,
        })?;
        super::emit(&format!("{json}\n"), "the JSON evaluation")?;
    }
    Ok(())
}
