//! Problems found in a job file, each with its key path and, where known, its position.

use super::tree::Position;
use std::fmt;

/// A key path inside the job file: `columns`, `email`, `keep_last`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPath(pub Vec<String>);

impl KeyPath {
    /// The path of one top-level key.
    pub fn root(key: &str) -> Self {
        Self(vec![key.to_string()])
    }

    /// This path extended by one key or index.
    #[must_use]
    pub fn join(&self, segment: impl ToString) -> Self {
        let mut segments = self.0.clone();
        segments.push(segment.to_string());
        Self(segments)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        f.write_str(&self.0.join("."))
    }
}

/// One problem in a job file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub path: KeyPath,
    pub position: Option<Position>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(p) = self.position {
            write!(f, " ({p})")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n    hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem of one job file, in the order found.
#[derive(Debug, Clone, Default)]
pub struct Issues(pub Vec<Issue>);

impl Issues {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn push(&mut self, issue: Issue) {
        self.0.push(issue);
    }
}

/// The most problems printed; the rest are counted.
const SHOWN: usize = 100;

impl fmt::Display for Issues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.0.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "  - {issue}")?;
        }
        if self.0.len() > SHOWN {
            write!(f, "\n  … and {} more", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}

/// The closest of `candidates` to `name`, when it is close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&name.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= c.chars().count().div_ceil(3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_only() {
        assert_eq!(closest("emial", ["email", "phone"]), Some("email"));
        assert_eq!(closest("zzz", ["email", "phone"]), None);
    }
}
