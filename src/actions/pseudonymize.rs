//! `pseudonymize`: a keyed token per value (the same value, key and domain always give the same token).
//!
//! Everything that defines it: its options and how they are read, the column kinds it takes,
//! its kernel, and how the summary, lineage and report describe it.

use super::{Compiled, Context, Definition, Kernel};
use crate::job::check::Kind;
use crate::job::config::*;
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;
use crate::job::*;
use crate::plan::PlanError;
use crate::record::RunSummary;
use crate::transform::pseudonymize::Pseudonymizer;
use crate::transform::{Input, TransformError};
use arrow::array::ArrayRef;
use serde::Deserialize;
use std::sync::Arc;

/// `pseudonymize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pseudonymize {
    pub method: PseudonymMethod,
    pub domain: String,
    /// Hex characters, 16 to 64.
    pub length: usize,
    pub keep_domain: bool,
    /// Stop the run if two distinct values get the same token.
    pub unique: bool,
}

pub(crate) static DEFINITION: Definition = Definition {
    name: "pseudonymize",
    needs_key: true,
    parse,
    compile,
    accepts,
    check: super::no_checks,
    reason,
    describe: super::plain,
    output_type: super::text_type,
    hides_as: Some("token"),
    apply,
};

/// `action: pseudonymize`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PseudonymizeConfig {
    #[serde(default)]
    pub method: PseudonymMethod,
    /// Token space; default the column name.
    pub domain: Option<String>,
    /// Hex characters kept, 16 to 64 (default 32).
    pub length: Option<u32>,
    /// E-mail: append `@` and the original domain to the token.
    #[serde(default)]
    pub keep_domain: bool,
    /// The input values are unique (a primary key): stop the run if two tokens collide.
    #[serde(default)]
    pub unique: bool,
}

fn parse(p: &mut Parser<'_>, column: &str, value: serde_json::Value, path: &KeyPath) -> Option<Action> {
    let c: PseudonymizeConfig = p.de_json(value, path)?;
    let length = c.length.unwrap_or(32);
    if !(16..=64).contains(&length) {
        p.issue(&path.join("length"), format!("length is 16 to 64 hex characters, not {length}"));
        return None;
    }
    let domain = c.domain.unwrap_or_else(|| column.to_string());
    if domain.is_empty() {
        p.issue(&path.join("domain"), "the domain is empty");
        return None;
    }
    Some(Action::Pseudonymize(Pseudonymize {
        method: c.method,
        domain,
        length: length as usize,
        keep_domain: c.keep_domain,
        unique: c.unique,
    }))
}

/// The kernel and the summary's detail of a column with this action.
pub(crate) fn compile(action: &Action, context: &Context<'_>) -> Result<Compiled, PlanError> {
    let Action::Pseudonymize(p) = action else {
        return Err(super::not_this(context, "pseudonymize"));
    };
    let key = context.key()?;
    let method = match p.method {
        PseudonymMethod::KeyedHash => "keyed-hash",
        PseudonymMethod::HmacSha256 => "hmac-sha256",
    };
    let kernel = Pseudonymizer::new(key, p.method, &p.domain, p.length, p.keep_domain);
    let mut detail = format!("{method}, domain `{}`, {} hex characters", p.domain, p.length);
    if p.keep_domain {
        detail.push_str(", e-mail domain kept");
    }
    if p.unique {
        detail.push_str(", checked unique");
    }
    Ok(Compiled { kernel: Some(Kernel::Pseudonymize(kernel)), detail, dropped: None })
}

/// The kinds of column it takes.
fn accepts(action: &Action) -> Option<&'static [Kind]> {
    use Kind::*;
    let Action::Pseudonymize(p) = action else { return None };
    Some(if p.keep_domain { &[Text] } else { &[Text, Integer, Date] })
}

/// Why a column gets this action, in plain words, for the report.
fn reason(action: &Action, _job: &Job, _summary: &RunSummary) -> String {
    match action {
        Action::Pseudonymize(p) => format!(
            "Treated as a direct identifier needed to link records: replaced by a keyed one-way token ({}), the same for the same value, which cannot be reversed or recomputed without the key{}.",
            match p.method {
                crate::job::config::PseudonymMethod::KeyedHash => "BLAKE3 keyed hash",
                crate::job::config::PseudonymMethod::HmacSha256 => "HMAC-SHA256",
            },
            if p.keep_domain { "; the e-mail domain is kept" } else { "" }
        ),
        _ => String::new(),
    }
}

/// The token of every value.
fn apply(kernel: &Kernel, input: &Input<'_>) -> Result<ArrayRef, TransformError> {
    let Kernel::Pseudonymize(p) = kernel else { return Err(input.no_text("pseudonymize")) };
    Ok(Arc::new(p.pseudonymize(&input.text("pseudonymize")?)))
}
