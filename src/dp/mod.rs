//! Differential privacy: exact samplers ([`samplers`]), the calibrated `noise` kernel
//! ([`mechanism`]), private aggregates ([`aggregate`]) and the budget ledger ([`ledger`]).

pub mod aggregate;
pub mod ledger;
pub mod mechanism;
pub mod samplers;
