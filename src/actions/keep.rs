//! `keep`: the value is written unchanged (a sensitive column is protected by l-diversity and t-closeness).
//!
//! Its options and how they are read from a job file.

use super::Definition;
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;
use crate::job::*;
use serde::Deserialize;

pub(crate) const DEFINITION: Definition = Definition { name: "keep", parse };

/// `action: keep`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeepConfig {
    /// Protected by l-diversity / t-closeness when true.
    #[serde(default)]
    pub sensitive: bool,
}

fn parse(p: &mut Parser<'_>, _column: &str, value: serde_json::Value, path: &KeyPath) -> Option<Action> {
    p.de_json::<KeepConfig>(value, path).map(|c| Action::Keep { sensitive: c.sensitive })
}
