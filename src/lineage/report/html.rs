//! The report as one self-contained HTML page: inline CSS and SVG, no script, and a content
//! security policy that forbids every request, so opening it never touches the network.

use super::{Block, Chart, ChartKind, Document, ValueFormat};
use std::fmt::Write;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// `code` spans for text between backticks, the rest escaped.
fn inline(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", escape(part));
        } else {
            out.push_str(&escape(part));
        }
    }
    out
}

const STYLE: &str = "
:root { --ink: #1d2330; --muted: #5b6475; --line: #d8dce4; --before: #9aa3b2; --after: #1f6feb; --warn: #9a3412; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: var(--ink); margin: 0; background: #fff; }
main { max-width: 980px; margin: 0 auto; padding: 32px 24px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p { margin: 8px 0; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; background: #f2f4f8; padding: 1px 4px; border-radius: 3px; overflow-wrap: anywhere; }
.subtitle { color: var(--muted); margin: 0 0 16px; }
.warning { border-left: 4px solid var(--warn); background: #fff7ed; color: var(--warn); padding: 8px 12px; margin: 12px 0; font-weight: 600; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.figure { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 140px; }
.figure .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.figure .value { font-size: 20px; font-weight: 600; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; margin: 12px 0; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
th { overflow-wrap: normal; }
th { background: #f6f8fa; }
figure { margin: 16px 0; }
figcaption { color: var(--muted); font-size: 13px; }
svg text { font: 12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; fill: var(--ink); }
svg .before { fill: var(--before); }
svg .after { fill: var(--after); }
svg .track { fill: #eef1f5; }
svg .part0 { fill: #1f6feb; } svg .part1 { fill: #d97706; } svg .part2 { fill: #9aa3b2; } svg .part3 { fill: #b91c1c; } svg .part4 { fill: #15803d; }
footer { color: var(--muted); font-size: 12px; margin-top: 40px; }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  figure, table, .figures, .warning { break-inside: avoid; }
  .figure, th { background: none; }
  svg .track { fill: #f4f4f4; }
}
";

/// Renders the whole page.
pub fn render(document: &Document) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"anonymize {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
        env!("CARGO_PKG_VERSION"),
        escape(&document.title),
        escape(&document.title)
    );
    let _ = writeln!(
        out,
        "<p class=\"subtitle\">Written by anonymize {} at the end of the run.</p>",
        env!("CARGO_PKG_VERSION")
    );
    for (i, block) in document.blocks.iter().enumerate() {
        match block {
            Block::Heading(text) => {
                let _ = writeln!(out, "<h2>{}</h2>", inline(text));
            }
            Block::Paragraph(text) => {
                let _ = writeln!(out, "<p>{}</p>", inline(text));
            }
            Block::Warning(text) => {
                let _ = writeln!(out, "<p class=\"warning\" role=\"note\">{}</p>", inline(text));
            }
            Block::Figures(figures) => {
                out.push_str("<div class=\"figures\">\n");
                for (label, value) in figures {
                    let _ = writeln!(
                        out,
                        "<div class=\"figure\"><div class=\"label\">{}</div><div class=\"value\">{}</div></div>",
                        escape(label),
                        escape(value)
                    );
                }
                out.push_str("</div>\n");
            }
            Block::Table { head, rows } => {
                out.push_str("<table>\n<thead><tr>");
                for h in head {
                    let _ = write!(out, "<th scope=\"col\">{}</th>", escape(h));
                }
                out.push_str("</tr></thead>\n<tbody>\n");
                for row in rows {
                    out.push_str("<tr>");
                    for (c, cell) in row.iter().enumerate() {
                        if c == 0 {
                            let _ = write!(out, "<th scope=\"row\">{}</th>", inline(cell));
                        } else {
                            let _ = write!(out, "<td>{}</td>", inline(cell));
                        }
                    }
                    out.push_str("</tr>\n");
                }
                out.push_str("</tbody>\n</table>\n");
            }
            Block::Chart(chart) => chart_svg(&mut out, chart, i),
        }
    }
    out.push_str("<footer>This report holds names, counts, parameters and checksums only: no value of the data.</footer>\n</main>\n</body>\n</html>\n");
    out
}

const WIDTH: f64 = 760.0;
const LABEL: f64 = 210.0;
const VALUE: f64 = 90.0;

fn bar_length(value: f64, max: f64) -> f64 {
    let area = WIDTH - LABEL - VALUE;
    if max > 0.0 && value.is_finite() { (value / max).clamp(0.0, 1.0) * area } else { 0.0 }
}

fn chart_svg(out: &mut String, chart: &Chart, id: usize) {
    let title_id = format!("chart{id}-title");
    let desc_id = format!("chart{id}-desc");
    let mut body = String::new();
    let height = match &chart.kind {
        ChartKind::Bars { bars, max, format } => {
            for (row, (label, value)) in bars.iter().enumerate() {
                let y = 8.0 + row as f64 * 26.0;
                bar_row(&mut body, y, label, *value, *max, *format, "after", 18.0);
            }
            16.0 + bars.len() as f64 * 26.0
        }
        ChartKind::BeforeAfter { rows, max, format } => {
            let _ = write!(
                body,
                "<rect class=\"before\" x=\"{LABEL}\" y=\"4\" width=\"12\" height=\"12\"/><text x=\"{}\" y=\"14\">before</text>\
                 <rect class=\"after\" x=\"{}\" y=\"4\" width=\"12\" height=\"12\"/><text x=\"{}\" y=\"14\">after</text>",
                LABEL + 18.0,
                LABEL + 80.0,
                LABEL + 98.0
            );
            for (row, (label, before, after)) in rows.iter().enumerate() {
                let y = 28.0 + row as f64 * 40.0;
                bar_row(&mut body, y, label, *before, *max, *format, "before", 14.0);
                bar_row(&mut body, y + 16.0, "", *after, *max, *format, "after", 14.0);
            }
            36.0 + rows.len() as f64 * 40.0
        }
        ChartKind::Stacked { parts, format } => {
            let total: f64 = parts.iter().map(|(_, v)| v.max(0.0)).sum();
            let mut x = 0.0;
            let _ = write!(body, "<rect class=\"track\" x=\"0\" y=\"8\" width=\"{WIDTH}\" height=\"26\"/>");
            for (i, (label, value)) in parts.iter().enumerate() {
                let w = if total > 0.0 { value.max(0.0) / total * WIDTH } else { 0.0 };
                let _ = write!(
                    body,
                    "<rect class=\"part{}\" x=\"{x:.2}\" y=\"8\" width=\"{w:.2}\" height=\"26\"><title>{}: {}</title></rect>",
                    i % 5,
                    escape(label),
                    format.show(*value)
                );
                x += w;
            }
            for (i, (label, value)) in parts.iter().enumerate() {
                let y = 52.0 + i as f64 * 20.0;
                let share =
                    if total > 0.0 { format!(" ({:.1}%)", 100.0 * value.max(0.0) / total) } else { String::new() };
                let _ = write!(
                    body,
                    "<rect class=\"part{}\" x=\"0\" y=\"{}\" width=\"12\" height=\"12\"/><text x=\"18\" y=\"{}\">{}: {}{share}</text>",
                    i % 5,
                    y - 10.0,
                    y,
                    escape(label),
                    format.show(*value)
                );
            }
            52.0 + parts.len() as f64 * 20.0
        }
    };
    let _ = write!(
        out,
        "<figure>\n<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-labelledby=\"{title_id} {desc_id}\" \
         viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" style=\"max-width:{WIDTH}px\">\
         <title id=\"{title_id}\">{}</title><desc id=\"{desc_id}\">{}</desc>{body}</svg>\n\
         <figcaption><strong>{}.</strong> {}</figcaption>\n</figure>\n",
        escape(&chart.title),
        escape(&chart.caption),
        escape(&chart.title),
        inline(&chart.caption)
    );
}

#[allow(clippy::too_many_arguments)]
fn bar_row(out: &mut String, y: f64, label: &str, value: f64, max: f64, format: ValueFormat, class: &str, height: f64) {
    let length = bar_length(value, max);
    let area = WIDTH - LABEL - VALUE;
    let text_y = y + height - 3.0;
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{text_y:.1}\" text-anchor=\"end\">{}</text>\
         <rect class=\"track\" x=\"{LABEL}\" y=\"{y:.1}\" width=\"{area:.1}\" height=\"{height}\"/>\
         <rect class=\"{class}\" x=\"{LABEL}\" y=\"{y:.1}\" width=\"{length:.2}\" height=\"{height}\"><title>{}: {}</title></rect>\
         <text x=\"{:.1}\" y=\"{text_y:.1}\">{}</text>",
        LABEL - 8.0,
        escape(label),
        escape(if label.is_empty() { "after" } else { label }),
        format.show(value),
        LABEL + area + 6.0,
        format.show(value)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_everywhere() {
        let document = Document {
            title: "<script>alert(1)</script>".into(),
            blocks: vec![
                Block::Paragraph("a `<b>` & \"c\"".into()),
                Block::Table { head: vec!["<h>".into()], rows: vec![vec!["<x onload=1>".into()]] },
                Block::Chart(Chart {
                    title: "<t>".into(),
                    caption: "<c>".into(),
                    kind: ChartKind::Bars { bars: vec![("<l>".into(), 1.0)], max: 2.0, format: ValueFormat::Count },
                }),
            ],
        };
        let html = render(&document);
        for raw in ["<script>", "<b>", "<h>", "<x onload", "<t>", "<c>", "<l>"] {
            assert!(!html.contains(raw), "{raw} is not escaped");
        }
        assert!(html.contains("<code>&lt;b&gt;</code>"));
    }
}
