//! The privacy report: one file per run that tells, in plain words, what happened to every
//! column and why, how many rows consent excluded, what k-anonymity and differential privacy
//! guaranteed, the risk before and after, the budget spent and left, and the distortion each
//! protected column took. It holds names, counts and parameters only: never a data value.
//!
//! The content is built once as a [`Document`] of blocks and rendered as self-contained HTML
//! (inline SVG charts, no script, a content security policy that forbids every request) or as
//! Markdown for pasting into a ticket.

mod content;
mod html;
mod markdown;

pub use content::build;

use std::path::{Path, PathBuf};

/// The report's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// One self-contained HTML page.
    #[default]
    Html,
    /// Markdown (GitHub flavoured tables).
    Markdown,
}

impl Format {
    /// The format a report path's extension implies (`.md`, `.markdown`: Markdown).
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("md" | "markdown") => Some(Format::Markdown),
            Some("html" | "htm") => Some(Format::Html),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Markdown => "md",
        }
    }
}

/// Where a job's report goes: its `report` path, else beside the output as
/// `<output name without extension>.report.html` (or `.report.md`).
pub fn target(job: &crate::job::Job, format: Format) -> PathBuf {
    if let Some(path) = &job.report {
        return path.clone();
    }
    let output = &job.output.path;
    let stem = output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "output".into());
    output.with_file_name(format!("{stem}.report.{}", format.extension()))
}

/// Renders the document in `format`.
pub fn render(document: &Document, format: Format) -> String {
    match format {
        Format::Html => html::render(document),
        Format::Markdown => markdown::render(document),
    }
}

/// Writes the report under a temporary name, to be published with the run's outputs.
///
/// # Errors
/// [`crate::io::IoError`] when it cannot be written, or exists and `overwrite` is false.
pub fn stage(path: &Path, text: &str, overwrite: bool) -> Result<crate::io::output::Staged, crate::io::IoError> {
    use std::io::Write;
    let (file, mut handle) = crate::io::output::AtomicFile::create(path, overwrite)?;
    handle
        .write_all(text.as_bytes())
        .map_err(|source| crate::io::IoError::Write { path: path.to_path_buf(), source })?;
    file.stage(handle)
}

/// A report: a title and blocks in reading order.
#[derive(Debug, Clone, Default)]
pub struct Document {
    pub title: String,
    pub blocks: Vec<Block>,
}

/// One piece of a report.
#[derive(Debug, Clone)]
pub enum Block {
    Heading(String),
    Paragraph(String),
    /// Something the reader must not miss (a demo key, a seeded run).
    Warning(String),
    /// Label → value pairs shown as a row of figures.
    Figures(Vec<(String, String)>),
    Table {
        head: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    Chart(Chart),
}

/// A chart: an SVG in HTML, a table of values in Markdown.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    /// What the chart shows, in words (the SVG's description, and the text under it).
    pub caption: String,
    pub kind: ChartKind,
}

/// The shapes a report draws.
#[derive(Debug, Clone)]
pub enum ChartKind {
    /// One horizontal bar per label; `value` formatted by `format`.
    Bars { bars: Vec<(String, f64)>, max: f64, format: ValueFormat },
    /// Two bars per label, before and after.
    BeforeAfter { rows: Vec<(String, f64, f64)>, max: f64, format: ValueFormat },
    /// One bar split into parts that add up to a whole.
    Stacked { parts: Vec<(String, f64)>, format: ValueFormat },
}

/// How a chart prints its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    Count,
    Percent,
    Probability,
    Epsilon,
}

impl ValueFormat {
    pub fn show(self, value: f64) -> String {
        match self {
            ValueFormat::Count => format!("{value:.0}"),
            ValueFormat::Percent => format!("{:.1}%", value * 100.0),
            ValueFormat::Probability => format!("{value:.3}"),
            ValueFormat::Epsilon => format!("{value:.4}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_follows_the_extension_and_the_default_sits_beside_the_output() {
        assert_eq!(Format::from_path(Path::new("a/report.MD")), Some(Format::Markdown));
        assert_eq!(Format::from_path(Path::new("report.html")), Some(Format::Html));
        assert_eq!(Format::from_path(Path::new("report")), None);
        let job = crate::job::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/adult_k5.yaml")).unwrap();
        let beside = target(&job, Format::Markdown);
        assert_eq!(beside.file_name().unwrap(), "adult_k5.report.md");
        assert_eq!(beside.parent(), job.output.path.parent());
    }
}
