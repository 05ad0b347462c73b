//! Differential privacy: exact samplers ([`samplers`]) and the budget ledger ([`ledger`]).
//! The noise action, private aggregates and accounting build on them (not available yet in
//! this version).

pub mod ledger;
pub mod samplers;
