//! `anonymize risk DATA --quasi-identifiers a,b,c [--sensitive d] [--json]`: re-identification
//! risk of any dataset, ours or not.

use super::Failure;
use anonymize::io::{BATCH_SIZE, DataSource};
use anonymize::job::{CsvOptions, issues::closest};
use anonymize::privacy::risk::Risk;
use anonymize::privacy::table::FrequencyTable;
use anonymize::text::to_text;
use arrow::array::StringArray;
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
    quasi_identifiers: Vec<String>,
    #[serde(flatten)]
    risk: Risk,
    sensitive: Option<String>,
    /// The fewest distinct sensitive values in any class.
    l_distinct: Option<u64>,
}

pub fn run(args: RiskArgs) -> Result<(), Failure> {
    let csv = CsvOptions {
        delimiter: u8::try_from(args.delimiter)
            .map_err(|_| Failure::user(anyhow::anyhow!("the delimiter must be one ASCII character")))?,
        ..CsvOptions::default()
    };
    let source = DataSource::open_path(&args.data, None, &csv, BATCH_SIZE).map_err(Failure::user)?;
    let schema = source.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    // A first line of values (a file without a header) would be echoed as "column names":
    // then the names are described by position and shape only.
    let data_like: Vec<String> = names
        .iter()
        .enumerate()
        .filter_map(|(i, n)| anonymize::job::check::data_shape(n).map(|s| format!("field {} looks like {s}", i + 1)))
        .collect();
    let index = |name: &str| {
        schema.index_of(name).map_err(|_| {
            let hint = if data_like.is_empty() {
                closest(name, names.iter().copied())
                    .map_or_else(|| format!("columns: {}", names.join(", ")), |c| format!("did you mean `{c}`?"))
            } else {
                format!(
                    "the data's first line looks like values, not column names ({}); `risk` needs a header line",
                    data_like.join(", ")
                )
            };
            Failure { error: anyhow::anyhow!("column `{name}` is not in the data"), exit_code: 1, hint: Some(hint) }
        })
    };
    let quasi = args.quasi_identifiers.iter().map(|q| index(q)).collect::<Result<Vec<_>, _>>()?;
    let sensitive = args.sensitive.as_deref().map(index).transpose()?;
    let mut table = FrequencyTable::new(quasi.len(), usize::from(sensitive.is_some()));
    for batch in source.batches() {
        let batch = batch.map_err(Failure::user)?;
        let text = |i: usize| {
            to_text(batch.column(i))
                .ok_or_else(|| Failure::user(anyhow::anyhow!("column `{}` has no text form", schema.field(i).name())))
        };
        let q = quasi.iter().map(|&i| text(i)).collect::<Result<Vec<StringArray>, _>>()?;
        let s = sensitive.iter().map(|&i| text(i)).collect::<Result<Vec<StringArray>, _>>()?;
        table.merge(FrequencyTable::from_batch(&q, &s));
    }
    let risk = Risk::of_sizes(table.combos.values().map(|e| e.count));
    let l_distinct = sensitive.map(|_| table.combos.values().map(|e| e.sensitive[0].len() as u64).min().unwrap_or(0));
    let report = Report {
        data: args.data.display().to_string(),
        quasi_identifiers: args.quasi_identifiers.clone(),
        risk,
        sensitive: args.sensitive.clone(),
        l_distinct,
    };
    if args.json {
        let json =
            serde_json::to_string_pretty(&report).map_err(|e| Failure { error: e.into(), exit_code: 2, hint: None })?;
        return super::emit(&format!("{json}\n"), "the JSON");
    }
    use std::fmt::Write;
    let mut out = String::new();
    let r = &report.risk;
    let percent = |x: f64| format!("{:.2}%", 100.0 * x);
    let _ = writeln!(out, "re-identification risk of {} over {}", report.data, report.quasi_identifiers.join(", "));
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
    if let (Some(s), Some(l)) = (&report.sensitive, report.l_distinct) {
        let _ = writeln!(out, "  distinct l on {s:<13}{l}");
    }
    let _ = writeln!(out, "  class sizes");
    for b in &r.class_sizes {
        let _ = writeln!(out, "    {:>6}  {:>8} classes  {:>10} rows", b.sizes, b.classes, b.rows);
    }
    super::emit(&out, "the risk report")
}
