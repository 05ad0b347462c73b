//! The report as Markdown, for pasting into a ticket: charts become tables of their values.

use super::{Block, ChartKind, Document};
use std::fmt::Write;

/// Escapes the characters that would break a table cell or start markup.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn table(out: &mut String, head: &[String], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", head.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(out, "|{}", " --- |".repeat(head.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
    }
    out.push('\n');
}

/// A bar of up to 20 blocks, for a value between 0 and `max`.
fn bar(value: f64, max: f64) -> String {
    let filled =
        if max > 0.0 && value.is_finite() { ((value / max).clamp(0.0, 1.0) * 20.0).round() as usize } else { 0 };
    format!("`{}{}`", "█".repeat(filled), "·".repeat(20 - filled))
}

/// Renders the whole document.
pub fn render(document: &Document) -> String {
    let mut out = format!("# {}\n\n", document.title);
    for block in &document.blocks {
        match block {
            Block::Heading(text) => {
                let _ = writeln!(out, "## {text}\n");
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "{text}\n");
            }
            Block::Warning(text) => {
                let _ = writeln!(out, "> **Warning:** {text}\n");
            }
            Block::Figures(figures) => {
                for (label, value) in figures {
                    let _ = writeln!(out, "- **{label}:** {value}");
                }
                out.push('\n');
            }
            Block::Table { head, rows } => table(&mut out, head, rows),
            Block::Chart(chart) => {
                let _ = writeln!(out, "**{}.** {}\n", chart.title, chart.caption);
                match &chart.kind {
                    ChartKind::Bars { bars, max, format } => {
                        let rows: Vec<Vec<String>> =
                            bars.iter().map(|(l, v)| vec![l.clone(), format.show(*v), bar(*v, *max)]).collect();
                        table(&mut out, &[String::new(), "Value".into(), String::new()], &rows);
                    }
                    ChartKind::BeforeAfter { rows, max, format } => {
                        let rows: Vec<Vec<String>> = rows
                            .iter()
                            .map(|(l, b, a)| vec![l.clone(), format.show(*b), format.show(*a), bar(*a, *max)])
                            .collect();
                        table(&mut out, &[String::new(), "Before".into(), "After".into(), "After".into()], &rows);
                    }
                    ChartKind::Stacked { parts, format } => {
                        let total: f64 = parts.iter().map(|(_, v)| v.max(0.0)).sum();
                        let rows: Vec<Vec<String>> = parts
                            .iter()
                            .map(|(l, v)| {
                                let share = if total > 0.0 { v.max(0.0) / total } else { 0.0 };
                                vec![l.clone(), format.show(*v), format!("{:.1}%", share * 100.0), bar(share, 1.0)]
                            })
                            .collect();
                        table(&mut out, &[String::new(), "Value".into(), "Share".into(), String::new()], &rows);
                    }
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "_Written by anonymize {}. This report holds names, counts, parameters and checksums only: no value of the data._",
        env!("CARGO_PKG_VERSION")
    );
    out
}
