//! Differential privacy: exact samplers ([`samplers`]), the calibrated `noise` kernel
//! ([`mechanism`]), private aggregates ([`aggregate`]) and the budget ledger ([`ledger`]).

pub mod aggregate;
pub mod ledger;
pub mod mechanism;
pub mod samplers;

/// A privacy-loss parameter: finite and greater than zero.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, serde::Serialize)]
pub struct Epsilon(f64);

impl Epsilon {
    /// `None` unless `value` is finite and positive.
    pub fn new(value: f64) -> Option<Self> {
        (value.is_finite() && value > 0.0).then_some(Self(value))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

/// A failure probability: finite, in `[0, 1)`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, serde::Serialize)]
pub struct Delta(f64);

impl Delta {
    /// `None` unless `value` is in `[0, 1)`.
    pub fn new(value: f64) -> Option<Self> {
        (value.is_finite() && (0.0..1.0).contains(&value)).then_some(Self(value))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

/// Clamping bounds: finite, `low < high`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Bounds {
    pub low: f64,
    pub high: f64,
}

impl Bounds {
    /// `None` unless both are finite, `low < high` and the width `high - low` is finite too
    /// (`[-1e308, 1e308]` is two finite numbers whose width is not).
    pub fn new(low: f64, high: f64) -> Option<Self> {
        (low.is_finite() && high.is_finite() && low < high && (high - low).is_finite()).then_some(Self { low, high })
    }
}
