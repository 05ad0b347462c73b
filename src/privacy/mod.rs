//! Formal privacy guarantees over quasi-identifiers: k-anonymity by optimal full-domain
//! generalization with suppression ([`search`]) or Mondrian ([`mondrian`]), l-diversity and
//! t-closeness as extra criteria, utility metrics, and re-identification risk ([`risk`]).
//!
//! Everything here works on a [`table::FrequencyTable`] (rows per combination of
//! quasi-identifier values), built in one streaming pass; [`recode::Recoding`] then applies the
//! chosen transformation to each batch of the second pass.

pub mod hierarchy;
pub mod mondrian;
pub mod recode;
pub mod risk;
pub mod search;
pub mod table;

use std::hash::{BuildHasherDefault, Hasher};

/// A fast non-cryptographic hasher for the search's integer keys (the Firefox/rustc "Fx"
/// multiply-rotate scheme). The keys are ids we assign, not attacker-chosen input, so hash
/// flooding is not a concern.
#[derive(Debug, Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_u128(&mut self, n: u128) {
        self.add(n as u64);
        self.add((n >> 64) as u64);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Builds [`FxHasher`]s.
pub type FxBuildHasher = BuildHasherDefault<FxHasher>;
