//! `anonymize apply DECISIONS --input DATA --output OUT`: recode other data with a run's
//! decisions, without searching. It runs a job built from the decisions file (its
//! quasi-identifiers with the embedded hierarchies, its kept and sensitive columns, its
//! criteria, `decisions:` pointing at the file) through the same engine as `anonymize run`,
//! so labels, suppression and atomic output are the run's own.

use super::Failure;
use anonymize::job::config::UnknownValues;
use anonymize::privacy::decisions::{DecisionsFile, HierarchySpec, type_kind};
use anonymize::runner::{self, RunError, RunOptions, RunSummary};
use clap::Args;
use serde::Serialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
#[command(after_help = "The recoded data gets the run's labels: the same levels (optimal search) or the same \
partitions (Mondrian: every row routed through the split tree to exactly one partition). Rows in classes that miss \
the decisions' k (or l, t) are suppressed as the run did (mask, remove or flag). Whether k holds is measured on \
the recoded data: it holds when the suppressed rows stay within the run's suppression limit. Columns the run kept are \
carried through; other columns are dropped or refused as the run's `unlisted_columns` says (`--keep` carries more).")]
pub struct ApplyArgs {
    /// The decisions file a run wrote (NAME.decisions.json).
    pub decisions: PathBuf,
    /// The data to recode: a CSV or Parquet file, folder or glob.
    #[arg(long)]
    pub input: PathBuf,
    /// Where the recoded data goes (.csv or .parquet), written atomically.
    #[arg(long)]
    pub output: PathBuf,
    /// A value the decisions' hierarchies do not cover: `error` names the column and how many
    /// rows (never the value); `top` makes it `*`.
    #[arg(long, value_enum, default_value = "error")]
    pub unknown: Unknown,
    /// Fail (exit 1, nothing written) when k does not hold within the run's suppression limit.
    #[arg(long)]
    pub require_k: bool,
    /// More columns to carry through unchanged (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub keep: Vec<String>,
    /// CSV input: the field delimiter.
    #[arg(long, default_value = ",")]
    pub delimiter: char,
    /// Replace the output if it exists.
    #[arg(long)]
    pub overwrite: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// No summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print the figures as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `--unknown`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Unknown {
    Error,
    Top,
}

/// What `apply` did, for `--json` and the summary.
#[derive(Debug, Serialize)]
struct Applied {
    decisions: String,
    decisions_run_id: String,
    job: String,
    input: Vec<String>,
    output: String,
    rows_read: u64,
    rows_written: u64,
    k: u64,
    classes: u64,
    smallest_class: u64,
    suppressed_rows: u64,
    suppression_limit: f64,
    /// Whether the recoded data meets k (and l, t) with at most the run's limit suppressed.
    k_holds: bool,
    privacy: Option<anonymize::runner::anonymity::PrivacySummary>,
}

pub fn run(args: ApplyArgs) -> Result<(), Failure> {
    let decisions = DecisionsFile::load(&args.decisions).map_err(Failure::user)?;
    let text = job_text(&decisions, &args).map_err(|e| Failure { error: e.into(), exit_code: 2, hint: None })?;
    let here = std::env::current_dir().map_err(|e| Failure::user(anyhow::Error::from(e)))?;
    let mut job = anonymize::job::from_text(&text, anonymize::job::Syntax::Yaml, &here)
        .map_err(|e| Failure::user(anyhow::Error::from(e).context("the decisions do not fit this input")))?;
    if let Some(k) = job.privacy.k_anonymity.as_mut() {
        k.enforce_limit = args.require_k;
    }
    // `apply` decides nothing new: it writes no decisions file of its own.
    job.output.decisions = None;
    let options = RunOptions {
        threads: args.threads.map(usize::from),
        observer: Some(std::sync::Arc::new(super::progress::Observer::new(
            !args.quiet && std::io::stderr().is_terminal(),
        ))),
        ..RunOptions::default()
    };
    anonymize::interrupt::install().map_err(|e| Failure { error: e.into(), exit_code: 2, hint: None })?;
    let prepared = runner::run(&job, &options).map_err(|e| failure(e, &decisions))?;
    let summary = prepared.summary.clone();
    let applied = figures(&summary, &decisions, &args);
    if args.require_k && !applied.k_holds {
        // The run enforces the limit itself; this is a second guard (nothing published yet).
        return Err(Failure::user(anyhow::anyhow!("k = {} does not hold on the recoded data", applied.k)));
    }
    prepared.finish(Vec::new()).map_err(|e| failure(e, &decisions))?.confirm();
    if !args.quiet {
        eprint!("{}", human(&applied));
    }
    if args.json {
        let json = serde_json::to_string_pretty(&applied).map_err(|e| Failure {
            error: e.into(),
            exit_code: 2,
            hint: None,
        })?;
        super::emit(&format!("{json}\n"), "the JSON summary")?;
    }
    Ok(())
}

fn failure(error: RunError, decisions: &DecisionsFile) -> Failure {
    let hint = match &error {
        RunError::Anonymity(anonymize::runner::anonymity::AnonymityError::NotCovered { .. })
        | RunError::Anonymity(anonymize::runner::anonymity::AnonymityError::Hierarchy(
            anonymize::privacy::hierarchy::HierarchyError::Uncovered { .. }
            | anonymize::privacy::hierarchy::HierarchyError::NotParsable { .. },
        )) => Some("`--unknown top` recodes values the decisions do not cover as `*`".to_string()),
        RunError::Anonymity(anonymize::runner::anonymity::AnonymityError::FrozenMissed { .. }) => Some(format!(
            "without `--require-k` the rows are suppressed and the output written; the run that made the decisions ({}) allowed {:.1}%",
            decisions.run_id,
            100.0 * decisions.criteria.suppression_limit
        )),
        _ => error.hint(),
    };
    Failure { exit_code: error.exit_code(), error: error.into(), hint }
}

fn figures(summary: &RunSummary, decisions: &DecisionsFile, args: &ApplyArgs) -> Applied {
    let privacy = summary.privacy.clone();
    let (classes, smallest, suppressed, rows) =
        privacy.as_ref().map_or((0, 0, 0, 0), |p| (p.classes, p.smallest_class, p.suppressed_rows, p.rows));
    let allowed = (decisions.criteria.suppression_limit * rows as f64).floor() as u64;
    Applied {
        decisions: args.decisions.display().to_string(),
        decisions_run_id: decisions.frozen_from.clone().unwrap_or_else(|| decisions.run_id.clone()),
        job: decisions.job.name.clone(),
        input: summary.input_files.clone(),
        output: summary.output.path.clone(),
        rows_read: summary.rows_read,
        rows_written: summary.rows_written,
        k: decisions.criteria.k,
        classes,
        smallest_class: smallest,
        suppressed_rows: suppressed,
        suppression_limit: decisions.criteria.suppression_limit,
        k_holds: suppressed <= allowed,
        privacy,
    }
}

fn human(a: &Applied) -> String {
    let share = |n: u64| 100.0 * n as f64 / a.rows_read.max(1) as f64;
    let verdict = if a.k_holds { "holds" } else { "does NOT hold" };
    format!(
        "applied   {} (run {}, job {})\n  rows      {} read, {} written -> {}\n  classes   {} (smallest {})\n  k = {}     {verdict} on the recoded data: {} rows ({:.1}%) in classes below k were suppressed; the run allowed {:.1}%\n",
        a.decisions,
        a.decisions_run_id,
        a.job,
        a.rows_read,
        a.rows_written,
        a.output,
        a.classes,
        a.smallest_class,
        a.k,
        a.suppressed_rows,
        share(a.suppressed_rows),
        100.0 * a.suppression_limit
    )
}

/// The job that applies `decisions` to the input, as JSON (which YAML reads).
fn job_text(decisions: &DecisionsFile, args: &ApplyArgs) -> Result<String, serde_json::Error> {
    use serde_json::{Map, Value, json};
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()).display().to_string();
    let frozen = decisions.criteria.k >= 2;
    let mut columns = Map::new();
    let mut types = Map::new();
    for q in &decisions.quasi_identifiers {
        let mut column = json!({ "action": "generalize" });
        if !matches!(q.hierarchy, HierarchySpec::None) {
            column["hierarchy"] = serde_json::to_value(&q.hierarchy)?;
        }
        if q.format == anonymize::actions::generalize::LabelFormat::Bounds {
            column["format"] = json!("bounds");
        }
        if !frozen {
            // Pinned levels without k: the decisions' levels are the job's.
            column["level"] = json!(q.level.unwrap_or(0));
        }
        columns.insert(q.name.clone(), column);
        let declared = match type_kind(&q.input_type) {
            "integer" => Some("int64"),
            "float" => Some("float64"),
            "date" => Some("date"),
            "timestamp" => Some("timestamp"),
            "boolean" => Some("bool"),
            "text" => Some("string"),
            _ => None,
        };
        if let Some(t) = declared {
            types.insert(q.name.clone(), json!(t));
        }
    }
    for name in &decisions.sensitive {
        columns.insert(name.clone(), json!({ "action": "keep", "sensitive": true }));
    }
    for name in decisions.kept.iter().chain(&args.keep) {
        columns.entry(name.clone()).or_insert(json!("keep"));
    }
    let csv = anonymize::job::format_from_extension(&args.input) == Some(anonymize::job::DataFormat::Csv);
    let mut input = json!({ "path": absolute(&args.input) });
    if csv {
        input["types"] = Value::Object(types);
        input["delimiter"] = json!(args.delimiter.to_string());
    }
    let mut privacy = Map::new();
    if frozen {
        privacy.insert(
            "k_anonymity".into(),
            json!({
                "k": decisions.criteria.k,
                "suppression_limit": decisions.criteria.suppression_limit,
                "suppressed_rows": decisions.suppressed_rows,
                "decisions": absolute(&args.decisions),
                "unknown_values": match args.unknown { Unknown::Error => UnknownValues::Error, Unknown::Top => UnknownValues::Top },
            }),
        );
        if let Some(l) = &decisions.criteria.l_diversity {
            privacy.insert("l_diversity".into(), json!({ "l": l.l, "variant": l.variant }));
        }
        if let Some(t) = decisions.criteria.t_closeness {
            privacy.insert("t_closeness".into(), json!({ "t": t }));
        }
    }
    let job = json!({
        "version": 1,
        "name": format!("{}.apply", decisions.job.name),
        "input": input,
        "unlisted_columns": decisions.unlisted_columns,
        "columns": columns,
        "privacy": privacy,
        "output": { "path": absolute(&args.output), "overwrite": args.overwrite },
    });
    serde_json::to_string(&job)
}
