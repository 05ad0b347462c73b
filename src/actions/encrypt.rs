//! `encrypt`: format-preserving encryption (FF1): reversible by key holders, same length and alphabet.
//!
//! Everything that defines it: its options and how they are read, the column kinds it takes,
//! its kernel, and how the summary, lineage and report describe it.

use super::{CheckContext, Compiled, Context, Definition, Kernel};
use crate::job::Issue;
use crate::job::check::Kind;
use crate::job::check::issue;
use crate::job::config::*;
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;
use crate::job::*;
use crate::plan::PlanError;
use crate::record::RunSummary;
use crate::transform::encrypt::Alphabet;
use crate::transform::encrypt::Direction;
use crate::transform::encrypt::Ff1;
use crate::transform::{Input, TransformError};
use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use serde::Deserialize;

/// `encrypt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encrypt {
    pub method: EncryptMethod,
    pub alphabet: Vec<char>,
    pub domain: String,
}

pub(crate) static DEFINITION: Definition = Definition {
    name: "encrypt",
    needs_key: true,
    parse,
    compile,
    accepts,
    check,
    reason,
    describe: super::plain,
    output_type,
    hides_as: Some("ciphertext"),
    apply,
};

/// `action: encrypt`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EncryptConfig {
    #[serde(default)]
    pub method: EncryptMethod,
    /// Characters that are encrypted (default the ten digits); others stay in place.
    pub alphabet: Option<String>,
    /// Key and tweak domain; default the column name.
    pub domain: Option<String>,
}

fn parse(p: &mut Parser<'_>, column: &str, value: serde_json::Value, path: &KeyPath) -> Option<Action> {
    let c: EncryptConfig = p.de_json(value, path)?;
    let alphabet: Vec<char> = c.alphabet.as_deref().unwrap_or("0123456789").chars().collect();
    let mut sorted = alphabet.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if alphabet.len() < 2 || alphabet.len() > 65_535 || sorted.len() != alphabet.len() {
        p.issue(&path.join("alphabet"), "an alphabet has 2 to 65,535 characters, none repeated");
        return None;
    }
    let domain = c.domain.unwrap_or_else(|| column.to_string());
    if domain.is_empty() {
        p.issue(&path.join("domain"), "the domain is empty");
        return None;
    }
    Some(Action::Encrypt(Encrypt { method: c.method, alphabet, domain }))
}

/// The kernel and the summary's detail of a column with this action.
pub(crate) fn compile(action: &Action, context: &Context<'_>) -> Result<Compiled, PlanError> {
    let Action::Encrypt(e) = action else {
        return Err(super::not_this(context, "encrypt"));
    };
    let key = context.key()?;
    let Some(alphabet) = Alphabet::new(&e.alphabet) else {
        return Err(PlanError::Internal(format!(
            "the alphabet of `{}` passed validation but is invalid",
            context.column
        )));
    };
    let min_length = alphabet.min_length();
    let detail = format!(
        "ff1, domain `{}`, {} alphabet characters, values need at least {min_length} of them",
        e.domain,
        e.alphabet.len()
    );
    let kernel = Kernel::Encrypt(Box::new(Ff1::for_domain(key, &e.domain, alphabet)));
    Ok(Compiled { kernel: Some(kernel), detail, dropped: None })
}

/// The kinds of column it takes.
fn accepts(_: &Action) -> Option<&'static [Kind]> {
    use Kind::*;
    Some(&[Text, Integer])
}

/// Checks beyond the column's kind: an integer column is encrypted digit by digit.
fn check(action: &Action, context: &CheckContext<'_>) -> Vec<Issue> {
    let Action::Encrypt(e) = action else { return Vec::new() };
    if context.kind == Kind::Integer && !(e.alphabet.len() == 10 && e.alphabet.iter().all(char::is_ascii_digit)) {
        return vec![issue(
            context.path.join("alphabet"),
            "an integer column is encrypted digit by digit: its alphabet is the ten digits",
            (!context.parquet).then(|| format!("to encrypt it as text, set `input.types.{}: string`", context.column)),
        )];
    }
    Vec::new()
}

/// Why a column gets this action, in plain words, for the report.
fn reason(action: &Action, _job: &Job, _summary: &RunSummary) -> String {
    match action {
        Action::Encrypt(_) => "Treated as a direct identifier that key holders must be able to recover: encrypted in place with format-preserving encryption (NIST FF1), reversible only with the key (`anonymize decrypt`).".into(),
        _ => String::new(),
    }
}

/// Integers stay integers (encrypted digit by digit); the rest is text.
fn output_type(_: &Kernel, input: &DataType) -> DataType {
    if input.is_integer() { input.clone() } else { DataType::Utf8 }
}

/// Every value encrypted with FF1; values too short for it stop the run, naming their rows.
fn apply(kernel: &Kernel, input: &Input<'_>) -> Result<ArrayRef, TransformError> {
    let Kernel::Encrypt(ff1) = kernel else { return Err(input.no_text("encrypt")) };
    ff1.apply(input.values, Direction::Encrypt).map_err(|r| TransformError::Values {
        column: input.column.to_string(),
        action: "encrypt",
        rows: r.rows.iter().map(|&i| i as u64).collect(),
        count: r.count,
        problem: r.problem.to_string(),
    })
}
