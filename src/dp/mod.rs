//! Differential privacy: exact samplers ([`samplers`]). The noise action, private aggregates,
//! accounting and the budget ledger build on them (not available yet in this version).

pub mod samplers;
