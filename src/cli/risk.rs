//! `anonymize risk DATA --quasi-identifiers a,b,c [--sensitive d] [--json]`: re-identification
//! risk of any dataset, ours or not.

use super::Failure;
use anonymize::io::{BATCH_SIZE, DataSource};
use anonymize::job::CsvOptions;
use anonymize::privacy::risk::{self, MeasureError, Measured};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_help = "Risk is measured on the data as given: each row's prosecutor risk is 1 / the size of its \
class (the rows sharing its quasi-identifier values), with the data as its own population. \
See README.md, \"Risk\".")]
pub struct RiskArgs {
    /// A CSV or Parquet file, folder or glob.
    pub data: PathBuf,
    /// Comma-separated quasi-identifier columns.
    #[arg(long, value_delimiter = ',', required = true)]
    pub quasi_identifiers: Vec<String>,
    /// A sensitive column: also report the smallest number of distinct sensitive values in a
    /// class (distinct l-diversity reached).
    #[arg(long)]
    pub sensitive: Option<String>,
    /// CSV field delimiter.
    #[arg(long, default_value = ",")]
    pub delimiter: char,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    data: String,
    #[serde(flatten)]
    measured: Measured,
}

pub fn run(args: RiskArgs) -> Result<(), Failure> {
    let csv = CsvOptions {
        delimiter: u8::try_from(args.delimiter)
            .map_err(|_| Failure::user(anyhow::anyhow!("the delimiter must be one ASCII character")))?,
        ..CsvOptions::default()
    };
    let source = DataSource::open_path(&args.data, None, &csv, BATCH_SIZE).map_err(Failure::user)?;
    let measured = risk::measure(&source, &args.quasi_identifiers, args.sensitive.as_deref()).map_err(|e| match e {
        MeasureError::NoColumn { ref hint, .. } => {
            Failure { hint: Some(hint.clone()), error: anyhow::anyhow!(e.to_string()), exit_code: 1 }
        }
        other => Failure::user(other),
    })?;
    let report = Report { data: args.data.display().to_string(), measured };
    if args.json {
        let json =
            serde_json::to_string_pretty(&report).map_err(|e| Failure { error: e.into(), exit_code: 2, hint: None })?;
        return super::emit(&format!("{json}\n"), "the JSON");
    }
    use std::fmt::Write;
    let mut out = String::new();
    let r = &report.measured.risk;
    let percent = |x: f64| format!("{:.2}%", 100.0 * x);
    let _ = writeln!(
        out,
        "re-identification risk of {} over {}",
        report.data,
        report.measured.quasi_identifiers.join(", ")
    );
    let _ = writeln!(out, "  rows                     {}", r.rows);
    let _ = writeln!(out, "  classes                  {} (smallest {})", r.classes, r.smallest_class);
    let _ = writeln!(
        out,
        "  prosecutor risk          highest {:.4}, average {:.4}",
        r.prosecutor_highest, r.prosecutor_average
    );
    let _ = writeln!(out, "  journalist risk          highest {:.4}", r.journalist_highest);
    let _ = writeln!(out, "  marketer risk            {:.4}", r.marketer);
    let _ = writeln!(out, "  unique rows              {}", percent(r.unique_rows));
    let _ = writeln!(out, "  rows with risk above 0.2 {}", percent(r.rows_above_0_2));
    if let (Some(s), Some(l)) = (&report.measured.sensitive, report.measured.l_distinct) {
        let _ = writeln!(out, "  distinct l on {s:<13}{l}");
    }
    let _ = writeln!(out, "  class sizes");
    for b in &r.class_sizes {
        let _ = writeln!(out, "    {:>6}  {:>8} classes  {:>10} rows", b.sizes, b.classes, b.rows);
    }
    super::emit(&out, "the risk report")
}
