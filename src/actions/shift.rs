//! `shift`: dates move by a keyed number of days per subject, so intervals within a subject stay.
//!
//! Its options and how they are read from a job file.

use super::Definition;
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;
use crate::job::*;
use serde::Deserialize;

pub(crate) const DEFINITION: Definition = Definition { name: "shift", parse };

/// `action: shift`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShiftConfig {
    /// The column that identifies the subject; all of a subject's dates move together.
    pub by: String,
    /// The largest shift in days, either way.
    pub max_days: u32,
}

fn parse(p: &mut Parser<'_>, column: &str, value: serde_json::Value, path: &KeyPath) -> Option<Action> {
    let c: ShiftConfig = p.de_json(value, path)?;
    if c.max_days == 0 || c.max_days > 36_500 {
        p.issue(&path.join("max_days"), format!("max_days is 1 to 36,500, not {}", c.max_days));
        return None;
    }
    if c.by == column {
        p.issue(&path.join("by"), "a column cannot be shifted by its own values");
        return None;
    }
    Some(Action::Shift(Shift { by: c.by, max_days: c.max_days }))
}
