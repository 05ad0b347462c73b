//! The `unique: true` check of `pseudonymize`: a column whose input values are unique (a
//! primary key) must get unique tokens too, or joins on the token silently merge two people.
//!
//! Each row is remembered by a 128-bit fingerprint of its token and a 64-bit fingerprint of its
//! input value (both BLAKE3), 32 bytes per distinct value. Two rows with the same token and the
//! same input are a repeated input value; the same token from different inputs is a collision.
//! Fingerprints of different tokens coincide with odds near 2^-128 per pair, so a reported
//! collision is a real one.

use arrow::array::{Array, StringArray};
use std::collections::HashMap;

/// One row's fingerprints, with its batch-local index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub row: usize,
    token: u128,
    input: u64,
}

/// Fingerprints of the non-null rows of one batch.
pub fn fingerprints(input: &StringArray, tokens: &StringArray) -> Vec<Fingerprint> {
    let mut out = Vec::with_capacity(tokens.len());
    for row in 0..tokens.len() {
        if tokens.is_null(row) || input.is_null(row) {
            continue;
        }
        let token = blake3::hash(tokens.value(row).as_bytes());
        let value = blake3::hash(input.value(row).as_bytes());
        out.push(Fingerprint {
            row,
            token: u128::from_le_bytes(token.as_bytes()[..16].try_into().unwrap_or_default()),
            input: u64::from_le_bytes(value.as_bytes()[..8].try_into().unwrap_or_default()),
        });
    }
    out
}

/// Two rows that break uniqueness; `row` is the later one's batch-local index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The input value itself repeats.
    RepeatedValue { row: usize },
    /// Two different values got the same token.
    Collision { row: usize },
}

/// The tokens seen so far in one column. Serialized as its fingerprints in token order.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(into = "Vec<(u128, u64)>", from = "Vec<(u128, u64)>")]
pub struct UniqueTokens {
    seen: HashMap<u128, u64>,
}

impl From<UniqueTokens> for Vec<(u128, u64)> {
    fn from(tokens: UniqueTokens) -> Self {
        let mut seen: Vec<(u128, u64)> = tokens.seen.into_iter().collect();
        seen.sort_unstable();
        seen
    }
}

impl From<Vec<(u128, u64)>> for UniqueTokens {
    fn from(seen: Vec<(u128, u64)>) -> Self {
        Self { seen: seen.into_iter().collect() }
    }
}

impl UniqueTokens {
    /// Adds one batch's fingerprints, in row order.
    ///
    /// # Errors
    /// The first [`Conflict`] of the batch.
    pub fn add(&mut self, batch: &[Fingerprint]) -> Result<(), Conflict> {
        for f in batch {
            if let Some(&input) = self.seen.get(&f.token) {
                return Err(if input == f.input {
                    Conflict::RepeatedValue { row: f.row }
                } else {
                    Conflict::Collision { row: f.row }
                });
            }
            self.seen.insert(f.token, f.input);
        }
        Ok(())
    }

    /// Adds the tokens another part of the input saw (another partition's check). The conflict's
    /// `row` is 0: the two rows are in different parts.
    ///
    /// # Errors
    /// The first [`Conflict`] between the parts.
    pub fn merge(&mut self, other: UniqueTokens) -> Result<(), Conflict> {
        let mut theirs: Vec<(u128, u64)> = other.into();
        theirs.sort_unstable();
        for (token, input) in theirs {
            match self.seen.insert(token, input) {
                Some(mine) if mine == input => return Err(Conflict::RepeatedValue { row: 0 }),
                Some(_) => return Err(Conflict::Collision { row: 0 }),
                None => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_repeated_values_from_collisions() {
        let input = StringArray::from(vec![Some("a"), Some("b"), None, Some("c"), Some("a")]);
        let tokens = StringArray::from(vec![Some("t1"), Some("t2"), None, Some("t3"), Some("t1")]);
        let mut seen = UniqueTokens::default();
        let prints = fingerprints(&input, &tokens);
        assert_eq!(prints.len(), 4);
        assert_eq!(seen.add(&prints[..3]), Ok(()));
        assert_eq!(seen.add(&prints[3..]), Err(Conflict::RepeatedValue { row: 4 }));

        let mut seen = UniqueTokens::default();
        let input = StringArray::from(vec!["a", "b"]);
        let tokens = StringArray::from(vec!["same", "same"]);
        assert_eq!(seen.add(&fingerprints(&input, &tokens)), Err(Conflict::Collision { row: 1 }));
    }

    /// Checks of separate parts merge (through their bytes) and find what one check would.
    #[test]
    fn parts_merge_and_find_conflicts_between_them() {
        let part = |values: &[&str], tokens: &[&str]| {
            let mut seen = UniqueTokens::default();
            seen.add(&fingerprints(&StringArray::from(values.to_vec()), &StringArray::from(tokens.to_vec()))).unwrap();
            serde_json::from_slice::<UniqueTokens>(&serde_json::to_vec(&seen).unwrap()).unwrap()
        };
        let mut merged = part(&["a", "b"], &["t1", "t2"]);
        assert_eq!(merged.merge(part(&["c"], &["t3"])), Ok(()));
        assert_eq!(merged.clone().merge(part(&["a"], &["t1"])), Err(Conflict::RepeatedValue { row: 0 }));
        assert_eq!(merged.merge(part(&["d"], &["t2"])), Err(Conflict::Collision { row: 0 }));
    }
}
