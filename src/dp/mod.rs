//! Differential privacy: exact samplers ([`samplers`]), the calibrated `noise` kernel
//! ([`mechanism`]) and the budget ledger ([`ledger`]). Private aggregates come in a later
//! version.

pub mod ledger;
pub mod mechanism;
pub mod samplers;
