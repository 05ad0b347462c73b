//! Formal privacy guarantees over quasi-identifiers: k-anonymity by optimal full-domain
//! generalization with suppression ([`search`]) or Mondrian ([`mondrian`]), l-diversity and
//! t-closeness as extra criteria, utility metrics, and re-identification risk ([`risk`]).
//!
//! Everything here works on a [`table::FrequencyTable`] (rows per combination of
//! quasi-identifier values), built in one streaming pass; [`recode::Recoding`] then applies the
//! chosen transformation to each batch of the second pass.

pub mod decisions;
pub mod exposure;
pub mod hierarchy;
pub mod mondrian;
pub mod recode;
pub mod risk;
pub mod search;
pub mod table;

/// The fast non-cryptographic hasher of the search's integer keys (rustc's Fx, from the
/// `rustc-hash` crate). The keys are ids we assign, not attacker-chosen input, so hash flooding
/// is not a concern.
pub type FxBuildHasher = rustc_hash::FxBuildHasher;

/// The k-anonymity algorithm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Optimal full-domain generalization with suppression.
    #[default]
    Optimal,
    /// Top-down multidimensional local recoding.
    Mondrian,
}
