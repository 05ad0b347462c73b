//! One module per action: everything that defines it (its options, how they are read and
//! checked, the column types it takes, its kernel, and how the summary, lineage and report
//! describe it) lives in its file. [`REGISTRY`] lists them; the job file's `action:` is looked up
//! there and nowhere else.

pub mod drop;
pub mod encrypt;
pub mod generalize;
pub mod keep;
pub mod mask;
pub mod noise;
pub mod pseudonymize;
pub mod redact;
pub mod shift;

use crate::job::Action;
use crate::job::issues::KeyPath;
use crate::job::parse::Parser;

/// Reads a column's options (its mapping without `action`) into the job's model, reporting
/// problems to the parser.
pub(crate) type ParseFn = fn(&mut Parser<'_>, &str, serde_json::Value, &KeyPath) -> Option<Action>;

/// What the registry knows of an action.
pub(crate) struct Definition {
    /// The action's name in job files.
    pub name: &'static str,
    pub parse: ParseFn,
}

/// Every action, in the order the documentation lists them.
pub(crate) const REGISTRY: &[Definition] = &[
    keep::DEFINITION,
    drop::DEFINITION,
    redact::DEFINITION,
    mask::DEFINITION,
    pseudonymize::DEFINITION,
    encrypt::DEFINITION,
    shift::DEFINITION,
    generalize::DEFINITION,
    noise::DEFINITION,
];

/// The action called `name` in job files.
pub(crate) fn find(name: &str) -> Option<&'static Definition> {
    REGISTRY.iter().find(|d| d.name == name)
}

/// The names of every action.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|d| d.name).collect()
}
