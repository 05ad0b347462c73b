//! `encrypt`: format-preserving encryption (FF1): reversible by key holders, same length and alphabet.
//!
//! Its options and how they are read from a job file.

use super::Definition;
use crate::job::config::*;
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;
use crate::job::*;
use serde::Deserialize;

pub(crate) const DEFINITION: Definition = Definition { name: "encrypt", parse };

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
