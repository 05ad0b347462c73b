//! The run summary in words, from the library ([`anonymize::record::human`]).

pub use anonymize::record::human::{human, utility_lines};
