//! `drop`: the column is left out of the output.
//!
//! Its options and how they are read from a job file.

use super::Definition;
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;
use crate::job::*;
use serde::Deserialize;

pub(crate) const DEFINITION: Definition = Definition { name: "drop", parse };

/// `action: drop`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DropConfig {}

fn parse(p: &mut Parser<'_>, _column: &str, value: serde_json::Value, path: &KeyPath) -> Option<Action> {
    p.de_json::<DropConfig>(value, path).map(|_| Action::Drop)
}
