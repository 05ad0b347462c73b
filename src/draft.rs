//! `anonymize init`: profile an input in one streaming pass and draft a commented job for it.
//!
//! The profile holds counts, types, shapes and the names of the patterns found, never a value
//! (a quasi-identifier's range and lengths are kept only to size its hierarchy, and are written
//! nowhere but there). Each column gets a role from its name, type and values:
//!
//! - a **consent** flag (a boolean named like consent / opt-in) is wired to `consent.column`;
//! - a **direct identifier** (e-mail, phone, card, bank account, national id, IP address, a
//!   person's name, an id column whose values are all distinct) gets `pseudonymize`, `encrypt`
//!   (card and account numbers, which someone may need back) or `drop` (names);
//! - **free text** (long values with spaces) is dropped;
//! - a **quasi-identifier** (date of birth, postcode, age, gender, city/region/country, job
//!   title, and demographic categories) gets `generalize` with a hierarchy sized from the data,
//!   under `privacy.k_anonymity` (k = 5, 4 % suppression);
//! - everything else is kept, with a comment saying why.

use crate::io::{DataSource, IoError};
use crate::job::check::Kind;
use crate::job::{ColumnType, CsvOptions, DataFormat};
use crate::text::to_text;
use arrow::array::{Array, RecordBatch, StringArray};
use arrow::datatypes::DataType;
use std::collections::{BTreeMap, HashSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Rows profiled at most; larger inputs are profiled on their first rows (the hierarchies
/// drafted cover any value, whatever the rows not seen hold).
pub const SAMPLE_ROWS: u64 = 100_000;
/// Distinct values counted exactly up to this many per column.
const DISTINCT_CAP: usize = 20_000;
/// Values per column matched against identifier patterns.
const PATTERN_SAMPLE: usize = 10_000;
/// The k and suppression limit of a draft.
pub const DRAFT_K: u64 = 5;
pub const DRAFT_SUPPRESSION: f64 = 0.04;

/// Why a draft cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error(transparent)]
    Io(#[from] IoError),
    #[error("the input's first line looks like values, not column names ({0}); `init` needs a header line")]
    NoHeader(String),
    #[error("the input has no column")]
    NoColumns,
}

/// What one pass over an input found.
#[derive(Debug, Clone)]
pub struct Profile {
    pub path: PathBuf,
    pub format: DataFormat,
    pub delimiter: u8,
    pub rows: u64,
    /// The input's rows when its format records them (Parquet).
    pub rows_total: Option<u64>,
    /// Every row was profiled.
    pub complete: bool,
    pub columns: Vec<ColumnProfile>,
    /// CSV columns read as text so that leading zeros survive (postcodes).
    pub as_text: Vec<String>,
}

/// One column's profile: counts and shapes only.
#[derive(Debug, Clone)]
pub struct ColumnProfile {
    pub name: String,
    pub data_type: DataType,
    pub kind: Kind,
    pub nulls: u64,
    /// Distinct non-null values (at most [`DISTINCT_CAP`], then `distinct_capped`).
    pub distinct: u64,
    pub distinct_capped: bool,
    /// The identifier pattern most values match, if any.
    pub pattern: Option<&'static str>,
    /// Smallest and largest value of numbers (and of dates, in days), for interval widths.
    range: Option<(f64, f64)>,
    /// Shortest and longest text value, in characters.
    lengths: Option<(usize, usize)>,
    /// Every text value is ASCII digits with spaces or dashes between them (card numbers).
    digit_groups: bool,
    /// Share of text values holding a space, and their mean length.
    spaced: f64,
    mean_length: f64,
}

/// What a column becomes in the draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Consent,
    DirectIdentifier,
    FreeText,
    QuasiIdentifier,
    Kept,
}

impl Role {
    pub fn label(&self) -> &'static str {
        match self {
            Role::Consent => "consent",
            Role::DirectIdentifier => "direct identifier",
            Role::FreeText => "free text",
            Role::QuasiIdentifier => "quasi-identifier",
            Role::Kept => "kept",
        }
    }
}

/// One column's decision.
#[derive(Debug, Clone)]
pub struct Choice {
    pub column: String,
    pub role: Role,
    /// The action in job-file YAML (`drop`, `{ action: … }`).
    pub action: String,
    /// Why, in a few words (the comment beside it and the printed table).
    pub why: String,
}

/// A drafted job: its text and the decisions in it.
#[derive(Debug, Clone)]
pub struct Draft {
    pub text: String,
    pub choices: Vec<Choice>,
    pub needs_key: bool,
}

/// Profiles `path` (CSV or Parquet; `delimiter` `None`: sniffed from the first line) in one
/// pass over at most [`SAMPLE_ROWS`] rows.
///
/// # Errors
/// The input cannot be read, or its header looks like data.
pub fn profile(path: &Path, delimiter: Option<u8>) -> Result<Profile, DraftError> {
    let format = crate::job::format_from_extension(path).unwrap_or(DataFormat::Csv);
    let delimiter = match (format, delimiter) {
        (_, Some(d)) => d,
        (DataFormat::Csv, None) => sniff_delimiter(path),
        _ => b',',
    };
    let mut csv = CsvOptions { delimiter, ..CsvOptions::default() };
    let first = DataSource::open_path(path, Some(format), &csv, crate::io::BATCH_SIZE)?;
    let schema = first.schema();
    if schema.fields().is_empty() {
        return Err(DraftError::NoColumns);
    }
    let data_like: Vec<String> = schema
        .fields()
        .iter()
        .enumerate()
        .filter_map(|(i, f)| crate::job::check::data_shape(f.name()).map(|s| format!("field {} looks like {s}", i + 1)))
        .collect();
    if !data_like.is_empty() {
        return Err(DraftError::NoHeader(data_like.join(", ")));
    }
    // Postcodes inferred as numbers lose their leading zeros: read them as text.
    let as_text: Vec<String> = schema
        .fields()
        .iter()
        .filter(|f| format == DataFormat::Csv && Kind::of(f.data_type()) == Kind::Integer && is_postcode_name(f.name()))
        .map(|f| f.name().clone())
        .collect();
    let source = if as_text.is_empty() {
        first
    } else {
        csv.types = as_text.iter().map(|n| (n.clone(), ColumnType::String)).collect::<BTreeMap<_, _>>();
        DataSource::open_path(path, Some(format), &csv, crate::io::BATCH_SIZE)?
    };
    let schema = source.schema();
    let mut state: Vec<ColumnState> = schema.fields().iter().map(|_| ColumnState::default()).collect();
    let mut rows = 0u64;
    let mut complete = true;
    for batch in source.batches() {
        let batch = batch?;
        let take = (SAMPLE_ROWS - rows).min(batch.num_rows() as u64) as usize;
        let batch = if take < batch.num_rows() { batch.slice(0, take) } else { batch };
        observe(&batch, &mut state);
        rows += take as u64;
        if rows >= SAMPLE_ROWS {
            complete = false;
            break;
        }
    }
    let columns = schema.fields().iter().zip(state).map(|(f, s)| s.finish(f.name(), f.data_type())).collect();
    Ok(Profile {
        path: path.to_path_buf(),
        format,
        delimiter,
        rows,
        rows_total: source.known_rows(),
        complete: complete || source.known_rows() == Some(rows),
        columns,
        as_text,
    })
}

/// The delimiter of a CSV file's first line: the most frequent of `,`, `;`, tab and `|`.
fn sniff_delimiter(path: &Path) -> u8 {
    use std::io::BufRead;
    let Ok(file) = crate::files::open_regular(path) else { return b',' };
    let mut line = Vec::new();
    let _ = std::io::BufReader::new(file).take(1 << 16).read_until(b'\n', &mut line);
    [b',', b';', b'\t', b'|']
        .into_iter()
        .max_by_key(|&d| (line.iter().filter(|&&b| b == d).count(), d == b','))
        .unwrap_or(b',')
}

#[derive(Default)]
struct ColumnState {
    nulls: u64,
    distinct: HashSet<String>,
    capped: bool,
    sample: Vec<String>,
    min: Option<f64>,
    max: Option<f64>,
    lengths: Option<(usize, usize)>,
    digit_groups: bool,
    seen_text: bool,
    spaced: u64,
    total_length: u64,
    values: u64,
}

fn observe(batch: &RecordBatch, state: &mut [ColumnState]) {
    for (column, s) in batch.columns().iter().zip(state.iter_mut()) {
        s.nulls += column.null_count() as u64;
        let kind = Kind::of(column.data_type());
        if matches!(kind, Kind::Integer | Kind::Float | Kind::Date | Kind::Timestamp) {
            let as_float = match kind {
                Kind::Date | Kind::Timestamp => arrow::compute::cast(column, &DataType::Date32)
                    .and_then(|d| arrow::compute::cast(&d, &DataType::Int32))
                    .and_then(|d| arrow::compute::cast(&d, &DataType::Float64)),
                _ => arrow::compute::cast(column, &DataType::Float64),
            };
            if let Ok(values) = as_float
                && let Some(values) = values.as_any().downcast_ref::<arrow::array::Float64Array>()
            {
                for v in values.iter().flatten().filter(|v| v.is_finite()) {
                    s.min = Some(s.min.map_or(v, |m: f64| m.min(v)));
                    s.max = Some(s.max.map_or(v, |m: f64| m.max(v)));
                }
            }
        }
        let Some(text) = to_text(column) else { continue };
        let is_text = kind == Kind::Text;
        if is_text && !s.seen_text {
            s.digit_groups = true;
            s.seen_text = true;
        }
        for i in (0..text.len()).filter(|&i| !text.is_null(i)) {
            let value = text.value(i);
            if !s.capped && !s.distinct.contains(value) {
                if s.distinct.len() >= DISTINCT_CAP {
                    s.capped = true;
                } else {
                    s.distinct.insert(value.to_string());
                }
            }
            if s.sample.len() < PATTERN_SAMPLE {
                s.sample.push(value.to_string());
            }
            if is_text {
                let length = value.chars().count();
                s.lengths = Some(s.lengths.map_or((length, length), |(a, b)| (a.min(length), b.max(length))));
                s.digit_groups &= value.bytes().filter(u8::is_ascii_digit).count() >= 6
                    && value.bytes().all(|b| b.is_ascii_digit() || b == b' ' || b == b'-');
                s.spaced += u64::from(value.trim().contains(' '));
                s.total_length += length as u64;
                s.values += 1;
            }
        }
    }
}

impl ColumnState {
    fn finish(self, name: &str, data_type: &DataType) -> ColumnProfile {
        let kind = Kind::of(data_type);
        let pattern = if kind == Kind::Text || kind == Kind::Integer {
            crate::identifiers::by_values(&StringArray::from(self.sample))
        } else {
            None
        };
        ColumnProfile {
            name: name.to_string(),
            data_type: data_type.clone(),
            kind,
            nulls: self.nulls,
            distinct: self.distinct.len() as u64,
            distinct_capped: self.capped,
            pattern,
            range: self.min.zip(self.max),
            lengths: self.lengths,
            digit_groups: self.seen_text && self.digit_groups,
            spaced: if self.values == 0 { 0.0 } else { self.spaced as f64 / self.values as f64 },
            mean_length: if self.values == 0 { 0.0 } else { self.total_length as f64 / self.values as f64 },
        }
    }
}

/// The lowercase words of a column name (`dateOfBirth` → date, of, birth; `mobile_no` →
/// mobile, no).
fn words(name: &str) -> Vec<String> {
    let mut spaced = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c.is_uppercase() && previous_lower {
            spaced.push(' ');
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        spaced.push(c);
    }
    spaced.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect()
}

fn has_word(name: &str, candidates: &[&str]) -> bool {
    let words = words(name);
    words.iter().any(|w| candidates.contains(&w.as_str())) || candidates.contains(&words.concat().as_str())
}

fn is_postcode_name(name: &str) -> bool {
    has_word(
        name,
        &["zip", "zipcode", "postcode", "postal", "postalcode", "plz", "postleitzahl", "cap", "cp", "pincode"],
    )
}

/// Each column's role and action, in input order.
pub fn choose(profile: &Profile, purpose: Option<&str>) -> Vec<Choice> {
    // The consent column: a boolean named like consent, the one naming the purpose first.
    let consent_like = |c: &ColumnProfile| {
        c.kind == Kind::Boolean
            && has_word(
                &c.name,
                &[
                    "consent",
                    "consented",
                    "opt",
                    "optin",
                    "gdpr",
                    "permission",
                    "agreed",
                    "einwilligung",
                    "zustimmung",
                    "consentement",
                    "consentimiento",
                ],
            )
    };
    let mut flags: Vec<&ColumnProfile> = profile.columns.iter().filter(|c| consent_like(c)).collect();
    if let Some(purpose) = purpose {
        flags.sort_by_key(|c| !words(&c.name).iter().any(|w| w == &purpose.to_lowercase()));
    }
    let consent = flags.first().map(|c| c.name.clone());
    let rows = profile.rows.max(1);
    profile
        .columns
        .iter()
        .map(|c| {
            let (role, action, why) = if consent.as_deref() == Some(c.name.as_str()) {
                (Role::Consent, "drop".to_string(), "the consent flag: rows where it is not true are left out (`consent.column`); the flag itself is dropped".to_string())
            } else {
                choose_column(c, rows, profile.complete)
            };
            Choice { column: c.name.clone(), role, action, why }
        })
        .collect()
}

fn choose_column(c: &ColumnProfile, rows: u64, complete: bool) -> (Role, String, String) {
    let non_null = rows.saturating_sub(c.nulls).max(1);
    let all_distinct = c.distinct_capped || (c.distinct == non_null && non_null > 1);
    let by_name = crate::identifiers::by_name(&c.name);
    let found =
        c.pattern.map(|p| format!("most values look like {p}")).or(by_name.map(|n| format!("its name suggests {n}")));
    let direct = |action: &str, what: &str| {
        (
            Role::DirectIdentifier,
            action.to_string(),
            format!("a direct identifier ({}): {what}", found.clone().unwrap_or_default()),
        )
    };
    let identifier = c.pattern.or(by_name);
    // Format-preserving encryption takes digits (separators stay in place).
    let digits = matches!(c.kind, Kind::Integer) || (c.kind == Kind::Text && c.digit_groups);
    match identifier {
        Some(p) if p.contains("name") => return direct("drop", "names are not needed for analytics"),
        Some(p)
            if (p.contains("card") || p.contains("bank")) && digits && matches!(c.kind, Kind::Text | Kind::Integer) =>
        {
            return direct(
                "{ action: encrypt, method: ff1 }",
                "encrypted with the key, format kept, so someone holding the key can recover it (`anonymize decrypt`)",
            );
        }
        Some(_) if matches!(c.kind, Kind::Text | Kind::Integer | Kind::Date) => {
            return direct("pseudonymize", "a keyed token: joinable across tables with the same key, not reversible");
        }
        Some(_) => return direct("drop", "its type takes no pseudonym"),
        None => {}
    }
    // An id by name (`id`, `customer_no`, `kundennummer`, `userId`) whose values are all distinct.
    let id_named = has_word(
        &c.name,
        &["id", "uuid", "guid", "identifier", "number", "nummer", "nr", "no", "num", "ref", "reference"],
    ) || words(&c.name)
        .last()
        .is_some_and(|w| w.len() > 3 && ["id", "nummer", "number", "nr"].iter().any(|suffix| w.ends_with(suffix)));
    if id_named && all_distinct && matches!(c.kind, Kind::Text | Kind::Integer) {
        let unique = if complete && !c.distinct_capped { ", unique: true" } else { "" };
        return (
            Role::DirectIdentifier,
            format!("{{ action: pseudonymize{unique} }}"),
            format!(
                "a direct identifier (an id: {}): a keyed token, joinable across tables with the same key{}",
                if c.distinct_capped {
                    format!("over {DISTINCT_CAP} distinct values in the rows profiled")
                } else {
                    "every value distinct".to_string()
                },
                if unique.is_empty() { "" } else { "; the run stops if two rows share one" }
            ),
        );
    }
    if c.kind == Kind::Text && c.mean_length > 30.0 && c.spaced > 0.5 {
        return (
            Role::FreeText,
            "drop".into(),
            "free text (long values with spaces): it may hold anything, names included".into(),
        );
    }
    if let Some((action, why)) = quasi_identifier(c) {
        return (Role::QuasiIdentifier, action, why);
    }
    let distinct = if c.distinct_capped { format!("over {DISTINCT_CAP}") } else { c.distinct.to_string() };
    let why = match c.kind {
        Kind::Integer | Kind::Float => format!(
            "a measure ({distinct} distinct values): exact amounts can single rows out; the run's `left risk` says whether they do; then use `noise` (with a budget) or `generalize` with an interval"
        ),
        Kind::Date | Kind::Timestamp => format!(
            "an event date ({distinct} distinct values): exact dates can single rows out; the run's `left risk` says whether they do; then `shift` it by the subject or `generalize` it"
        ),
        Kind::Boolean => "a flag: two values identify nobody".into(),
        _ if !c.distinct_capped && c.distinct <= 50 => {
            format!("a category with {distinct} values; no identifier by its name or values")
        }
        _ => format!(
            "text with {distinct} distinct values and no identifier pattern; the run's `left risk` says whether it singles rows out"
        ),
    };
    (Role::Kept, "keep".into(), why)
}

/// The `generalize` action and why, when the column is a quasi-identifier.
fn quasi_identifier(c: &ColumnProfile) -> Option<(String, String)> {
    let temporal = matches!(c.kind, Kind::Date | Kind::Timestamp);
    if temporal && has_word(&c.name, &["dob", "birth", "birthday", "birthdate", "born", "dateofbirth", "geburtsdatum"])
    {
        return Some((
            "{ action: generalize, hierarchy: { type: date, levels: [month, year, 5y, 10y] } }".into(),
            "a quasi-identifier (date of birth): month, year, 5 and 10 years, or *".into(),
        ));
    }
    if is_postcode_name(&c.name) && matches!(c.kind, Kind::Text | Kind::Integer) {
        let (short, long) = c.lengths.unwrap_or((5, 5));
        let length = if short == long { long } else { short.max(2) };
        let keep: Vec<String> = (1..length.min(4)).rev().map(|k| k.to_string()).collect();
        let keep = if keep.is_empty() { "1".to_string() } else { keep.join(", ") };
        return Some((
            format!("{{ action: generalize, hierarchy: {{ type: prefix, keep: [{keep}] }} }}"),
            format!("a quasi-identifier (postcode): its first {keep} characters kept, or *"),
        ));
    }
    let numeric = matches!(c.kind, Kind::Integer | Kind::Float);
    if numeric && has_word(&c.name, &["age", "birthyear", "yob", "yearofbirth", "alter"]) {
        let widths = widths(c.range);
        return Some((
            format!("{{ action: generalize, hierarchy: {{ type: interval, widths: [{widths}] }} }}"),
            format!("a quasi-identifier (age): intervals of {widths}, or *"),
        ));
    }
    let categorical = c.kind == Kind::Text || c.kind == Kind::Boolean && has_word(&c.name, &["male", "female"]);
    let what = [
        (&["gender", "sex", "geschlecht"][..], "gender"),
        (
            &[
                "city",
                "town",
                "region",
                "state",
                "county",
                "country",
                "province",
                "district",
                "municipality",
                "place",
                "ort",
                "stadt",
            ][..],
            "place",
        ),
        (
            &["job", "title", "jobtitle", "occupation", "profession", "position", "role", "workclass", "employer"][..],
            "work",
        ),
        (
            &["race", "ethnicity", "ethnic", "marital", "education", "religion", "nationality", "citizenship"][..],
            "demographic",
        ),
    ]
    .into_iter()
    .find(|(names, _)| has_word(&c.name, names))
    .map(|(_, what)| what)?;
    if !categorical && !matches!(c.kind, Kind::Integer) {
        return None;
    }
    Some((
        "generalize".into(),
        format!("a quasi-identifier ({what}, {} distinct values): kept, or * where k-anonymity needs it", c.distinct),
    ))
}

/// Three interval widths for a numeric quasi-identifier: a round width near a twentieth of its
/// range, then twice and four times it.
fn widths(range: Option<(f64, f64)>) -> String {
    let span = range.map_or(100.0, |(lo, hi)| (hi - lo).abs()).max(1.0);
    let raw = span / 20.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let base = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * magnitude).find(|w| *w >= raw).unwrap_or(10.0 * magnitude);
    let base = base.max(1.0);
    [base, 2.0 * base, 4.0 * base].iter().map(|w| format!("{w}")).collect::<Vec<_>>().join(", ")
}

/// How a column name is written as a YAML key: plain when it is safe, else double-quoted.
fn yaml_key(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-. ".contains(c))
        && !name.ends_with(' ')
        && !["true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"].contains(&name.to_lowercase().as_str());
    if plain { name.to_string() } else { serde_json::to_string(name).unwrap_or_default() }
}

/// A path as YAML: plain when safe, else double-quoted.
fn yaml_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    if text.chars().all(|c| c.is_ascii_alphanumeric() || "_-./".contains(c)) && !text.is_empty() {
        text.into_owned()
    } else {
        serde_json::to_string(&text).unwrap_or_default()
    }
}

/// `target` relative to the folder `from` (both made absolute first).
pub fn relative_to(target: &Path, from: &Path) -> PathBuf {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let (target, from) = (absolute(target), absolute(from));
    let t: Vec<_> = target.components().collect();
    let f: Vec<_> = from.components().collect();
    let common = t.iter().zip(&f).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return target;
    }
    let mut out = PathBuf::new();
    for _ in common..f.len() {
        out.push("..");
    }
    for part in &t[common..] {
        out.push(part.as_os_str());
    }
    out
}

/// The settings of a draft.
pub struct DraftOptions<'a> {
    /// Where the job will be written (paths in it are relative to its folder).
    pub job_path: &'a Path,
    pub purpose: Option<&'a str>,
    /// The key file's path relative to the job's folder, when a column needs a key.
    pub key_file: &'a Path,
}

/// Drafts the job for `profile`.
pub fn draft(profile: &Profile, options: &DraftOptions<'_>) -> Draft {
    use std::fmt::Write;
    let choices = choose(profile, options.purpose);
    let folder = options.job_path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let stem = profile.path.file_stem().map_or("data".into(), |s| s.to_string_lossy().into_owned());
    let name: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect::<String>()
        .trim_matches('_')
        .to_string();
    let name = if name.is_empty() { "data".to_string() } else { name };
    let needs_key = choices.iter().any(|c| c.action.contains("pseudonymize") || c.action.contains("encrypt"));
    let quasi = choices.iter().filter(|c| c.role == Role::QuasiIdentifier).count();
    let consent = choices.iter().find(|c| c.role == Role::Consent);
    let mut t = String::new();
    let sampled = if profile.complete {
        format!("all {} rows profiled", profile.rows)
    } else {
        match profile.rows_total {
            Some(total) => format!("the first {} of {total} rows profiled", profile.rows),
            None => format!("the first {} rows profiled", profile.rows),
        }
    };
    let _ = writeln!(
        t,
        "# Drafted by `anonymize init` from {} ({sampled}).",
        yaml_path(&profile.path.file_name().map_or(PathBuf::new(), PathBuf::from))
    );
    let _ = writeln!(t, "# Every choice below is a guess from column names, types and value patterns: review each");
    let _ = writeln!(t, "# one, then `anonymize validate` and `anonymize run` this file.");
    let _ = writeln!(t, "version: 1");
    let _ = writeln!(t, "name: {name}");
    if let Some(purpose) = options.purpose {
        let _ = writeln!(t, "purpose: {}", serde_json::to_string(purpose).unwrap_or_default());
    }
    let _ = writeln!(t, "\ninput:");
    let _ = writeln!(t, "  path: {}", yaml_path(&relative_to(&profile.path, folder)));
    if profile.format == DataFormat::Csv && profile.delimiter != b',' {
        let _ = writeln!(
            t,
            "  delimiter: {}",
            serde_json::to_string(&(profile.delimiter as char).to_string()).unwrap_or_default()
        );
    }
    if !profile.as_text.is_empty() {
        let _ = writeln!(t, "  # Read as text so that leading zeros survive.");
        let _ = writeln!(t, "  types:");
        for column in &profile.as_text {
            let _ = writeln!(t, "    {}: string", yaml_key(column));
        }
    }
    match consent {
        Some(c) => {
            let _ = writeln!(t, "\n# Rows without consent never reach an output. Add opt-out and deletion lists under");
            let _ = writeln!(t, "# `exclude:` (see README.md, `consent`).");
            let _ = writeln!(t, "consent:\n  column: {}", yaml_key(&c.column));
        }
        None => {
            let _ = writeln!(t, "\n# No consent flag was found. If consent is recorded, name its boolean column here:");
            let _ = writeln!(t, "# consent: {{ column: COLUMN }}");
        }
    }
    if needs_key {
        let _ = writeln!(t, "\nsecrets:");
        let _ = writeln!(t, "  # A fresh key made by `anonymize init`, readable by its owner only. Keep it out of");
        let _ = writeln!(t, "  # version control; in production use `{{ env: ANONYMIZE_KEY }}` or a secret manager.");
        let _ = writeln!(t, "  pseudonym_key: {{ file: {} }}", yaml_path(options.key_file));
    }
    let _ = writeln!(t, "\n# Columns added to the input later are left out until someone decides about them.");
    let _ = writeln!(t, "unlisted_columns: drop");
    let _ = writeln!(t, "\ncolumns:");
    let width = choices.iter().map(|c| yaml_key(&c.column).chars().count()).max().unwrap_or(0) + 1;
    for choice in &choices {
        let key = format!("{}:", yaml_key(&choice.column));
        let _ = writeln!(t, "  {key:width$} {}  # {}", choice.action, choice.why);
    }
    let _ = writeln!(t, "\nprivacy:");
    if quasi > 0 {
        let _ = writeln!(t, "  # Every combination of the quasi-identifiers is shared by at least k rows; rows that");
        let _ = writeln!(t, "  # cannot be (at most the suppression limit) get * in every quasi-identifier.");
        let _ = writeln!(t, "  k_anonymity: {{ k: {DRAFT_K}, suppression_limit: {DRAFT_SUPPRESSION} }}");
    }
    let _ = writeln!(t, "  # Uncomment once the run's `left risk` is low enough: runs that leave more than 5% of rows");
    let _ = writeln!(t, "  # unique over the columns they release as values then fail, writing nothing.");
    let _ = writeln!(t, "  # risk: {{ max_unique_rows: 0.05 }}");
    if quasi == 0 {
        let _ = writeln!(t, "  {{}}");
    }
    let _ = writeln!(t, "\noutput:");
    let _ = writeln!(t, "  path: {}", yaml_path(Path::new(&format!("{name}_anon.parquet"))));
    let _ = writeln!(t, "  overwrite: true");
    let _ = writeln!(t, "# OpenLineage events; the privacy report goes beside the output.");
    let _ = writeln!(t, "lineage: {}", yaml_path(Path::new(&format!("{name}_anon.lineage.jsonl"))));
    Draft { text: t, choices, needs_key }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_into_words() {
        assert_eq!(words("dateOfBirth"), ["date", "of", "birth"]);
        assert_eq!(words("mobile_no"), ["mobile", "no"]);
        assert_eq!(words("native-country"), ["native", "country"]);
        assert!(has_word("DOB", &["dob"]));
        assert!(has_word("date_of_birth", &["dateofbirth"]));
        assert!(is_postcode_name("plz") && is_postcode_name("Postal Code") && !is_postcode_name("capital"));
    }

    #[test]
    fn widths_are_round_and_cover_the_range() {
        assert_eq!(widths(Some((17.0, 90.0))), "5, 10, 20");
        assert_eq!(widths(Some((0.0, 250_000.0))), "20000, 40000, 80000");
        assert_eq!(widths(None), "5, 10, 20");
        assert_eq!(widths(Some((3.0, 3.0))), "1, 2, 4");
    }

    #[test]
    fn keys_and_paths_are_quoted_when_they_must_be() {
        assert_eq!(yaml_key("marital-status"), "marital-status");
        assert_eq!(yaml_key("a: b"), "\"a: b\"");
        assert_eq!(yaml_key("yes"), "\"yes\"");
        assert_eq!(yaml_key("#x"), "\"#x\"");
        assert_eq!(yaml_path(Path::new("../data/in put.csv")), "\"../data/in put.csv\"");
        assert_eq!(relative_to(Path::new("/a/b/c.csv"), Path::new("/a/d")), Path::new("../b/c.csv"));
    }
}
