//! `anonymize init DATA [--out JOB] [--purpose P]`: profile an input and write a commented job
//! draft (see [`anonymize::draft`]).

use super::Failure;
use anonymize::draft::{self, DraftOptions, Role};
use anonymize::io::output::AtomicFile;
use anonymize::keys::Key;
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
#[command(after_help = "init reads at most the first 100,000 rows and prints only counts, types and the names of \
the patterns it found, never a value. It writes the job draft and, when a column needs one, a fresh key file \
beside it (JOB with the extension .key, readable by you only; an existing one is reused, never replaced). \
Every choice is a guess from column names, types and values: review the draft before use. The draft \
validates and runs as written. See README.md, \"Drafting a job\".")]
pub struct InitArgs {
    /// A CSV or Parquet file to profile.
    pub data: PathBuf,
    /// Where to write the job draft [default: NAME.yaml in the current folder, NAME from the data file].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// What the output is used for: written as the job's `purpose`, and a consent column that
    /// names it is preferred.
    #[arg(long)]
    pub purpose: Option<String>,
    /// CSV field delimiter [default: sniffed from the first line].
    #[arg(long)]
    pub delimiter: Option<char>,
    /// Replace an existing job file.
    #[arg(long)]
    pub overwrite: bool,
}

pub fn run(args: InitArgs) -> Result<(), Failure> {
    let delimiter = args
        .delimiter
        .map(|d| {
            u8::try_from(d).map_err(|_| Failure::user(anyhow::anyhow!("the delimiter must be one ASCII character")))
        })
        .transpose()?;
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = args.data.file_stem().map_or_else(|| "job".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from(format!("{stem}.yaml"))
    });
    let hint = |text: &str| Some(text.to_string());
    if out.exists() && !args.overwrite {
        return Err(Failure {
            error: anyhow::anyhow!("`{}` already exists", out.display()),
            exit_code: 1,
            hint: hint("choose another path with --out, or pass --overwrite"),
        });
    }
    let profile = draft::profile(&args.data, delimiter).map_err(|e| {
        let hint =
            matches!(e, draft::DraftError::NoHeader(_)).then(|| "add a header line with the column names".into());
        Failure { error: e.into(), exit_code: 1, hint }
    })?;
    let key_file = out.with_extension("key");
    let key_name = PathBuf::from(key_file.file_name().unwrap_or_default());
    let made =
        draft::draft(&profile, &DraftOptions { job_path: &out, purpose: args.purpose.as_deref(), key_file: &key_name });
    let folder = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf();

    // The draft must validate against its input before it is written: a draft that does not is
    // a bug here, not the user's.
    let job = anonymize::job::from_text(&made.text, anonymize::job::Syntax::Yaml, &folder).map_err(|e| Failure {
        error: anyhow::Error::from(e).context("internal error: the draft does not parse"),
        exit_code: 2,
        hint: None,
    })?;
    anonymize::plan::bind(&job).map_err(|e| Failure {
        error: anyhow::Error::from(e).context("internal error: the draft does not fit its input"),
        exit_code: 2,
        hint: None,
    })?;

    let key_made = if made.needs_key { write_key(&key_file)? } else { false };
    let written = AtomicFile::create(&out, args.overwrite).and_then(|(file, mut handle)| {
        handle
            .write_all(made.text.as_bytes())
            .map_err(|source| anonymize::io::IoError::Write { path: out.clone(), source })?;
        file.commit(handle)
    });
    if let Err(e) = written {
        if key_made {
            let _ = std::fs::remove_file(&key_file);
        }
        return Err(Failure::user(e));
    }
    eprint!("{}", table(&profile, &made.choices));
    eprintln!("wrote {}", out.display());
    if made.needs_key {
        let state = if key_made { "a fresh key, readable by you only" } else { "the key already there, reused" };
        eprintln!("key   {} ({state}; keep it out of version control)", key_file.display());
    }
    eprintln!("next  review every line of the draft, then: anonymize validate {0} && anonymize run {0}", out.display());
    Ok(())
}

/// Writes a fresh key to `path` (owner-only, never replacing a file); `false` when a valid key
/// is already there.
fn write_key(path: &Path) -> Result<bool, Failure> {
    if path.exists() {
        Key::load(&anonymize::job::KeySource::File(path.to_path_buf())).map_err(|e| Failure {
            error: anyhow::Error::from(e).context(format!("`{}` exists and is not a usable key", path.display())),
            exit_code: 1,
            hint: Some("move it away, or choose another job path with --out".into()),
        })?;
        return Ok(false);
    }
    use std::os::unix::fs::OpenOptionsExt;
    let key = Key::generate().map_err(|e| Failure { error: e.into(), exit_code: 2, hint: None })?;
    let cannot = |e: std::io::Error| {
        Failure::user(anyhow::Error::from(e).context(format!("cannot write the key file `{}`", path.display())))
    };
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(cannot)?;
    if let Err(e) = file.write_all(format!("{}\n", key.to_hex()).as_bytes()).and_then(|()| file.sync_all()) {
        let _ = std::fs::remove_file(path);
        return Err(cannot(e));
    }
    Ok(true)
}

/// `pseudonymize` of `{ action: pseudonymize, unique: true }`.
fn action_name(action: &str) -> &str {
    action.split_once("action: ").map_or(action, |(_, rest)| rest.split([',', ' ', '}']).next().unwrap_or(rest))
}

/// The printed table: each column's profile (counts and pattern names only) and choice.
fn table(profile: &draft::Profile, choices: &[draft::Choice]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let rows = if profile.complete {
        format!("{} rows", profile.rows)
    } else {
        format!("the first {} rows{}", profile.rows, profile.rows_total.map(|t| format!(" of {t}")).unwrap_or_default())
    };
    let _ =
        writeln!(s, "anonymize init: profiled {} ({rows}, {} columns)", profile.path.display(), profile.columns.len());
    let name_width = profile.columns.iter().map(|c| c.name.chars().count()).max().unwrap_or(6).max(6);
    let _ = writeln!(
        s,
        "  {:name_width$}  {:9}  {:>8}  {:>7}  {:18}  {:18}  action: why",
        "column", "type", "distinct", "nulls", "found", "role"
    );
    for (c, choice) in profile.columns.iter().zip(choices) {
        let distinct = if c.distinct_capped { format!(">{}", c.distinct) } else { c.distinct.to_string() };
        let found = c.pattern.map_or_else(
            || anonymize::identifiers::by_name(&c.name).map_or("-".to_string(), |n| format!("name: {n}")),
            |p| p.to_string(),
        );
        let found: String = found.chars().take(18).collect();
        let _ = writeln!(
            s,
            "  {:name_width$}  {:9}  {:>8}  {:>7}  {:18}  {:18}  {}: {}",
            c.name,
            format!("{:?}", c.kind).to_lowercase(),
            distinct,
            c.nulls,
            found,
            choice.role.label(),
            action_name(&choice.action),
            choice.why
        );
    }
    let quasi = choices.iter().filter(|c| c.role == Role::QuasiIdentifier).count();
    if quasi > 0 {
        let _ = writeln!(
            s,
            "  k-anonymity over {quasi} quasi-identifiers: k = {}, suppression limit {}",
            draft::DRAFT_K,
            draft::DRAFT_SUPPRESSION
        );
    }
    s
}
