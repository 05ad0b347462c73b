//! `redact`: every value becomes null, or one constant.
//!
//! Its options and how they are read from a job file.

use super::Definition;
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;
use crate::job::*;
use serde::Deserialize;

pub(crate) const DEFINITION: Definition = Definition { name: "redact", parse };

/// `action: redact`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RedactConfig {
    /// Constant written instead of null.
    pub with: Option<String>,
}

fn parse(p: &mut Parser<'_>, _column: &str, value: serde_json::Value, path: &KeyPath) -> Option<Action> {
    p.de_json::<RedactConfig>(value, path).map(|c| Action::Redact { with: c.with })
}
