//! The `noise` action: values clamped to their bounds, then exact discrete noise calibrated to
//! the bounds' width (the sensitivity: one customer's value can move anywhere within them).
//!
//! - Integers and dates (days) get integer noise directly.
//! - Floats go through a power-of-two grid, as OpenDP and Google's library do: a value is
//!   rounded to the nearest multiple of g = 2^k (k chosen 32 binary places below the bounds'
//!   width), noise is added in grid units, and the result is a multiple of g again. Rounding can
//!   move two values one grid step further apart, so the sensitivity counts one extra unit.
//! - Laplace: discrete Laplace with scale = width / epsilon (pure epsilon-DP).
//! - Gaussian: discrete Gaussian calibrated in zero-concentrated DP: the (epsilon, delta) of
//!   the job is met by rho = (sqrt(ln(1/delta) + epsilon) - sqrt(ln(1/delta)))^2, since
//!   rho-zCDP implies (rho + 2 sqrt(rho ln(1/delta)), delta)-DP; sigma² = width² / (2 rho).
//!
//! Scales and variances are rounded *up* to a multiple of 2^-24 (more noise, never less), so the
//! exact samplers get rational parameters and the guarantee is met exactly.

use super::samplers::{discrete_gaussian, discrete_laplace};
use super::{Bounds, Delta, Epsilon};
use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Date64Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use std::sync::Arc;

/// The key derivation context of per-batch noise generators.
pub const NOISE_CONTEXT: &str = "anonymize noise v1";

/// Denominator of the rounded-up rational scales and variances.
const RATIONAL_DENOMINATOR: u128 = 1 << 24;

/// Why a noise column cannot be calibrated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrationError {
    #[error("the bounds of column `{column}` hold no integer (an integer column needs integer values between them)")]
    NoIntegerInBounds { column: String },
    #[error("the noise of column `{column}` would need a scale beyond what this version samples")]
    TooLarge { column: String },
}

/// How the values are read and written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    Integer,
    Float,
    /// Days (Date32, or Date64 milliseconds by whole days).
    Date,
}

/// One column's calibrated mechanism.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Calibrated {
    pub column: String,
    pub mechanism: Mechanism,
    pub epsilon: f64,
    pub delta: f64,
    /// zCDP rho of a Gaussian column.
    pub rho: Option<f64>,
    pub kind: ValueKind,
    /// The grid step 2^grid_exponent (0 for integers and dates).
    pub grid_exponent: i32,
    /// Bounds in grid units.
    pub low: i128,
    pub high: i128,
    /// Sensitivity in grid units.
    pub sensitivity: u128,
    /// Laplace scale (grid units) as num / den.
    pub scale: Option<(u128, u128)>,
    /// Gaussian variance (grid units²) as num / den.
    pub variance: Option<(u128, u128)>,
    pub clamp_output: bool,
}

impl Calibrated {
    /// Calibrates a column of `kind` for its `noise` action.
    ///
    /// # Errors
    /// [`CalibrationError`] when integer bounds hold no integer or the scale is out of range.
    pub fn new(column: &str, noise: &Noise, kind: ValueKind) -> Result<Self, CalibrationError> {
        let Bounds { low, high } = noise.bounds;
        let (grid_exponent, low_units, high_units, sensitivity) = match kind {
            ValueKind::Integer | ValueKind::Date => {
                let (l, h) = (low.ceil(), high.floor());
                if l > h {
                    return Err(CalibrationError::NoIntegerInBounds { column: column.to_string() });
                }
                (0, l as i128, h as i128, (h - l) as u128)
            }
            ValueKind::Float => {
                if !(high - low).is_finite() {
                    return Err(CalibrationError::TooLarge { column: column.to_string() });
                }
                let k = (high - low).log2().floor() as i32 - 32;
                let g = 2f64.powi(k);
                let (l, h) = ((low / g).floor() as i128, (high / g).ceil() as i128);
                (k, l, h, (h - l) as u128 + 1)
            }
        };
        let too_large = || CalibrationError::TooLarge { column: column.to_string() };
        let epsilon = noise.epsilon.get();
        let delta = noise.delta.map_or(0.0, |d| d.get());
        let rounded_up = |x: f64| -> Result<(u128, u128), CalibrationError> {
            let scaled = (x * RATIONAL_DENOMINATOR as f64 * (1.0 + 1e-12)).ceil();
            if !(scaled.is_finite() && scaled >= 1.0 && scaled < 2f64.powi(100)) {
                return Err(too_large());
            }
            Ok((scaled as u128, RATIONAL_DENOMINATOR))
        };
        let sensitivity = sensitivity.max(1);
        let width = sensitivity as f64;
        let (scale, variance, rho) = match noise.mechanism {
            Mechanism::Laplace => (Some(rounded_up(width / epsilon)?), None, None),
            Mechanism::Gaussian => {
                let log = (1.0 / delta).ln();
                let rho = ((log + epsilon).sqrt() - log.sqrt()).powi(2);
                (None, Some(rounded_up(width * width / (2.0 * rho))?), Some(rho))
            }
        };
        Ok(Self {
            column: column.to_string(),
            mechanism: noise.mechanism,
            epsilon,
            delta,
            rho,
            kind,
            grid_exponent,
            low: low_units,
            high: high_units,
            sensitivity,
            scale,
            variance,
            clamp_output: noise.clamp_output,
        })
    }

    /// The size of one grid unit in the column's values (days for dates).
    pub fn unit(&self) -> f64 {
        2f64.powi(self.grid_exponent)
    }

    /// The noise's scale in the column's units: Laplace's b, or the Gaussian's sigma.
    pub fn noise_scale(&self) -> f64 {
        let units = match (self.scale, self.variance) {
            (Some((num, den)), _) => num as f64 / den as f64,
            (_, Some((num, den))) => (num as f64 / den as f64).sqrt(),
            (None, None) => 0.0,
        };
        units * self.unit()
    }

    /// The smallest distance d (in the column's units) with P(|noise| < d) ≥ 95 %: the typical
    /// distortion of one value, before any clamping of the output.
    pub fn error_95(&self) -> f64 {
        let units = match (self.scale, self.variance) {
            (Some((num, den)), _) => super::aggregate::error_bound(num as f64 / den as f64, 0.05),
            (_, Some((num, den))) => gaussian_error_bound(num as f64 / den as f64, 0.05),
            (None, None) => 0.0,
        };
        units * self.unit()
    }

    /// Noise in grid units.
    fn sample(&self, rng: &mut ChaCha20Rng) -> i128 {
        match (self.scale, self.variance) {
            // discrete_laplace(s, t) has scale t / s.
            (Some((num, den)), _) => discrete_laplace(rng, den, num),
            (_, Some((num, den))) => discrete_gaussian(rng, num, den),
            (None, None) => 0,
        }
    }

    /// Clamps to the bounds, adds noise, clamps again only with `clamp_output`.
    fn noisy(&self, units: i128, rng: &mut ChaCha20Rng) -> i128 {
        let value = units.clamp(self.low, self.high).saturating_add(self.sample(rng));
        if self.clamp_output { value.clamp(self.low, self.high) } else { value }
    }
}

/// The smallest k with P(|X| ≥ k) ≤ `p` for the discrete Gaussian of this variance: summed
/// term by term while that is cheap, else the continuous bound (within one unit of it there).
fn gaussian_error_bound(variance: f64, p: f64) -> f64 {
    let sigma = variance.sqrt();
    if sigma > 1000.0 {
        // z with P(|N(0,1)| ≥ z) = p, for p = 0.05.
        return (1.959_963_985 * sigma).ceil() + 1.0;
    }
    let weight = |x: f64| (-x * x / (2.0 * variance)).exp();
    let reach = (40.0 * sigma).ceil().max(10.0) as i64;
    let total: f64 = 1.0 + 2.0 * (1..=reach).map(|x| weight(x as f64)).sum::<f64>();
    // P(|X| ≥ k) = 1 − P(|X| ≤ k − 1).
    let mut inside = 1.0 / total;
    let mut k = 1i64;
    while 1.0 - inside > p && k <= reach {
        inside += 2.0 * weight(k as f64) / total;
        k += 1;
    }
    k as f64
}

/// The generator of one column's noise, positioned per cell by the row's identity (the input
/// file's place in name order and the row's index in that file), never by how rows were cut into
/// batches, threads or partitions: ChaCha20 keyed by BLAKE3 of the run's noise key and the
/// column, stream = the file, and for row r the words from r * 2^32 on (each row has 2^32 words
/// of its own, far more than any draw needs, so no two cells ever share randomness).
pub struct CellRng {
    rng: ChaCha20Rng,
}

impl CellRng {
    /// The generator of `column` for the rows of input file `file`.
    pub fn new(master: &[u8; 32], column: &str, file: u32) -> Self {
        let mut material = zeroize::Zeroizing::new(Vec::with_capacity(32 + column.len()));
        material.extend_from_slice(master);
        material.extend_from_slice(column.as_bytes());
        let mut rng = ChaCha20Rng::from_seed(blake3::derive_key(NOISE_CONTEXT, &material));
        rng.set_stream(u64::from(file));
        Self { rng }
    }

    /// The generator positioned at row `row`'s own words.
    fn at(&mut self, row: u64) -> &mut ChaCha20Rng {
        self.rng.set_word_pos(u128::from(row) << 32);
        &mut self.rng
    }
}

/// A generator for draws that are not per row (aggregate releases on the coordinator).
pub fn batch_rng(master: &[u8; 32], column: &str, first_row: u64) -> ChaCha20Rng {
    let mut material = Vec::with_capacity(48 + column.len());
    material.extend_from_slice(master);
    material.extend_from_slice(&first_row.to_le_bytes());
    material.extend_from_slice(column.as_bytes());
    ChaCha20Rng::from_seed(blake3::derive_key(NOISE_CONTEXT, &material))
}

/// Adds calibrated noise to every non-null value (null stays null). The column keeps its type;
/// integers beyond their type after noise are held at the type's limits. `rows` holds each
/// value's row index in its input file; the noise of a cell depends on it alone.
///
/// # Errors
/// `None` for a type the kernel does not take (validation refuses those first).
pub fn add_noise(calibrated: &Calibrated, values: &ArrayRef, rng: &mut CellRng, rows: &[u64]) -> Option<ArrayRef> {
    fn integers<T: ArrowPrimitiveType>(c: &Calibrated, values: &ArrayRef, rng: &mut CellRng, rows: &[u64]) -> ArrayRef
    where
        T::Native: TryFrom<i128> + Into<i128> + num_bounds::Bounded,
    {
        let out: PrimitiveArray<T> = values
            .as_primitive::<T>()
            .iter()
            .zip(rows)
            .map(|(v, &row)| {
                v.map(|v| {
                    let noisy = c.noisy(v.into(), rng.at(row));
                    T::Native::try_from(noisy).unwrap_or(if noisy < 0 {
                        <T::Native as num_bounds::Bounded>::MIN
                    } else {
                        <T::Native as num_bounds::Bounded>::MAX
                    })
                })
            })
            .collect();
        Arc::new(out.with_data_type(values.data_type().clone()))
    }
    let g = 2f64.powi(calibrated.grid_exponent);
    Some(match values.data_type() {
        DataType::Int8 => integers::<Int8Type>(calibrated, values, rng, rows),
        DataType::Int16 => integers::<Int16Type>(calibrated, values, rng, rows),
        DataType::Int32 => integers::<Int32Type>(calibrated, values, rng, rows),
        DataType::Int64 => integers::<Int64Type>(calibrated, values, rng, rows),
        DataType::UInt8 => integers::<UInt8Type>(calibrated, values, rng, rows),
        DataType::UInt16 => integers::<UInt16Type>(calibrated, values, rng, rows),
        DataType::UInt32 => integers::<UInt32Type>(calibrated, values, rng, rows),
        DataType::UInt64 => integers::<UInt64Type>(calibrated, values, rng, rows),
        DataType::Date32 => integers::<Date32Type>(calibrated, values, rng, rows),
        DataType::Date64 => {
            const DAY: i64 = 86_400_000;
            let out: PrimitiveArray<Date64Type> = values
                .as_primitive::<Date64Type>()
                .iter()
                .zip(rows)
                .map(|(v, &row)| {
                    v.map(|ms| {
                        let days = calibrated.noisy(i128::from(ms.div_euclid(DAY)), rng.at(row));
                        i64::try_from(days).ok().and_then(|d| d.checked_mul(DAY)).unwrap_or(if days < 0 {
                            i64::MIN
                        } else {
                            i64::MAX
                        })
                    })
                })
                .collect();
            Arc::new(out)
        }
        DataType::Float64 => {
            let out: PrimitiveArray<Float64Type> = values
                .as_primitive::<Float64Type>()
                .iter()
                .zip(rows)
                .map(|(v, &row)| v.map(|x| saturate(calibrated.noisy(grid_units(x, g), rng.at(row)) as f64 * g)))
                .collect();
            Arc::new(out)
        }
        DataType::Float32 => {
            let out: PrimitiveArray<Float32Type> = values
                .as_primitive::<Float32Type>()
                .iter()
                .zip(rows)
                .map(|(v, &row)| {
                    v.map(|x| {
                        let y = calibrated.noisy(grid_units(f64::from(x), g), rng.at(row)) as f64 * g;
                        // Held at the type's limits, as integers are: never an infinity.
                        y.clamp(f64::from(f32::MIN), f64::from(f32::MAX)) as f32
                    })
                })
                .collect();
            Arc::new(out)
        }
        _ => return None,
    })
}

/// A noisy value held within the finite floats, as integers are held at their type's limits:
/// noise never turns a value into an infinity (which later arithmetic would turn into NaN).
fn saturate(y: f64) -> f64 {
    if y.is_nan() { 0.0 } else { y.clamp(f64::MIN, f64::MAX) }
}

/// The nearest grid point (NaN counts as the lower bound's side: clamped away).
fn grid_units(x: f64, g: f64) -> i128 {
    if x.is_nan() { i128::MIN } else { (x / g).round() as i128 }
}

/// Integer type limits for holding noisy values within their type.
mod num_bounds {
    pub trait Bounded {
        const MIN: Self;
        const MAX: Self;
    }
    macro_rules! bounded {
        ($($t:ty),*) => { $(impl Bounded for $t { const MIN: Self = <$t>::MIN; const MAX: Self = <$t>::MAX; })* };
    }
    bounded!(i8, i16, i32, i64, u8, u16, u32, u64);
}

/// A noise mechanism.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mechanism {
    #[default]
    Laplace,
    Gaussian,
}

/// `noise`.
#[derive(Debug, Clone)]
pub struct Noise {
    pub mechanism: Mechanism,
    pub epsilon: Epsilon,
    pub delta: Option<Delta>,
    pub bounds: Bounds,
    pub unit_days: bool,
    pub clamp_output: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Delta, Epsilon};
    use arrow::array::{Float64Array, Int64Array};

    fn noise(mechanism: Mechanism, epsilon: f64, low: f64, high: f64, clamp_output: bool) -> Noise {
        Noise {
            mechanism,
            epsilon: Epsilon::new(epsilon).unwrap(),
            delta: (mechanism == Mechanism::Gaussian).then(|| Delta::new(1e-6).unwrap()),
            bounds: Bounds::new(low, high).unwrap(),
            unit_days: false,
            clamp_output,
        }
    }

    #[test]
    fn calibration_is_never_below_the_exact_scale() {
        let c = Calibrated::new("income", &noise(Mechanism::Laplace, 0.7, 0.0, 500_000.0, false), ValueKind::Integer)
            .unwrap();
        let (num, den) = c.scale.unwrap();
        assert!(num as f64 / den as f64 >= 500_000.0 / 0.7);
        assert!(num as f64 / den as f64 <= 500_000.0 / 0.7 * (1.0 + 1e-9));
        let g =
            Calibrated::new("spend", &noise(Mechanism::Gaussian, 1.0, 0.0, 100.0, false), ValueKind::Float).unwrap();
        let rho = g.rho.unwrap();
        // rho-zCDP converts back to exactly the job's epsilon at its delta.
        let epsilon = rho + 2.0 * (rho * (1e6f64).ln()).sqrt();
        assert!((epsilon - 1.0).abs() < 1e-12);
        let (num, den) = g.variance.unwrap();
        let width = g.sensitivity as f64;
        assert!(num as f64 / den as f64 >= width * width / (2.0 * rho));
        assert!(matches!(
            Calibrated::new("n", &noise(Mechanism::Laplace, 1.0, 0.2, 0.8, false), ValueKind::Integer),
            Err(CalibrationError::NoIntegerInBounds { .. })
        ));
    }

    /// The stated 95 % distortion is what the samplers do: at least 95 % of 100,000 draws fall
    /// inside it (4.3 standard errors of slack), and one unit less would be too small at the
    /// scales where a unit matters.
    #[test]
    fn the_stated_95_percent_error_covers_95_percent_of_the_noise() {
        let draws = 100_000;
        let slack = 4.3 * (0.95f64 * 0.05 / draws as f64).sqrt();
        for (mechanism, epsilon, width) in [
            (Mechanism::Laplace, 1.0, 3.0),
            (Mechanism::Laplace, 0.5, 40.0),
            (Mechanism::Laplace, 2.0, 1000.0),
            (Mechanism::Gaussian, 1.0, 3.0),
            (Mechanism::Gaussian, 0.5, 40.0),
            (Mechanism::Gaussian, 1.0, 2000.0),
        ] {
            let c = Calibrated::new("x", &noise(mechanism, epsilon, 0.0, width, false), ValueKind::Integer).unwrap();
            let bound = c.error_95();
            let mut rng = batch_rng(&[7; 32], "x", 0);
            let samples: Vec<f64> = (0..draws).map(|_| c.sample(&mut rng).unsigned_abs() as f64).collect();
            let inside = |d: f64| samples.iter().filter(|&&x| x < d).count() as f64 / draws as f64;
            assert!(inside(bound) >= 0.95 - slack, "{mechanism:?} {width}: {} inside {bound}", inside(bound));
            assert!(inside(bound - 1.0) < 0.95 + slack, "{mechanism:?} {width}: bound {bound} is loose");
            assert!(c.noise_scale() > 0.0);
        }
    }

    /// Values are clamped before noise: with a tiny scale (huge epsilon), every output sits at
    /// its clamped input, integers stay integers, floats sit on the grid.
    #[test]
    fn inputs_are_clamped_and_types_kept() {
        let c = Calibrated::new("n", &noise(Mechanism::Laplace, 1e9, 10.0, 20.0, false), ValueKind::Integer).unwrap();
        let values: ArrayRef = Arc::new(Int64Array::from(vec![Some(-5), Some(15), None, Some(99)]));
        let out = add_noise(&c, &values, &mut CellRng::new(&[7; 32], "n", 0), &rows(4)).unwrap();
        assert_eq!(out.data_type(), &DataType::Int64);
        assert_eq!(
            out.as_primitive::<Int64Type>().iter().collect::<Vec<_>>(),
            vec![Some(10), Some(15), None, Some(20)]
        );

        let f = Calibrated::new("x", &noise(Mechanism::Laplace, 1e12, 0.0, 1.0, false), ValueKind::Float).unwrap();
        let values: ArrayRef = Arc::new(Float64Array::from(vec![-3.0, 0.25, 7.5, f64::NAN]));
        let out = add_noise(&f, &values, &mut CellRng::new(&[7; 32], "x", 0), &rows(4)).unwrap();
        let out: Vec<f64> = out.as_primitive::<Float64Type>().values().to_vec();
        assert_eq!(out, vec![0.0, 0.25, 1.0, 0.0]);
    }

    /// With real noise, outputs leave the bounds (no clamping afterwards) unless asked, and the
    /// noise in grid units has the calibrated discrete Laplace distribution's variance.
    #[test]
    fn noise_is_calibrated_and_output_clamping_is_optional() {
        let c = Calibrated::new("n", &noise(Mechanism::Laplace, 1.0, 0.0, 10.0, false), ValueKind::Integer).unwrap();
        let values: ArrayRef = Arc::new(Int64Array::from(vec![5i64; 200_000]));
        let out = add_noise(&c, &values, &mut CellRng::new(&[1; 32], "n", 0), &rows(200_000)).unwrap();
        let drawn: Vec<f64> = out.as_primitive::<Int64Type>().values().iter().map(|&v| (v - 5) as f64).collect();
        assert!(drawn.iter().any(|&x| x > 5.0) && drawn.iter().any(|&x| x < -5.0));
        let n = drawn.len() as f64;
        let q = (-1.0f64 / 10.0).exp();
        let variance = 2.0 * q / (1.0 - q).powi(2);
        let mean = drawn.iter().sum::<f64>() / n;
        let sample_variance = drawn.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        // Var of the sample variance ≈ (mu4 − sigma⁴)/n; mu4 of discrete Laplace ≈ 6 sigma⁴ here.
        let se = (5.0 * variance * variance / n).sqrt();
        assert!((sample_variance - variance).abs() < 4.9 * se, "{sample_variance} vs {variance}");
        assert!(mean.abs() < 4.9 * (variance / n).sqrt());

        let clamped =
            Calibrated::new("n", &noise(Mechanism::Laplace, 1.0, 0.0, 10.0, true), ValueKind::Integer).unwrap();
        let out = add_noise(&clamped, &values, &mut CellRng::new(&[1; 32], "n", 0), &rows(200_000)).unwrap();
        assert!(out.as_primitive::<Int64Type>().values().iter().all(|v| (0..=10).contains(v)));
    }

    /// Kolmogorov-Smirnov on grid floats: the noise a float column receives, in real units,
    /// against the discrete Laplace CDF on its grid. The critical value is the Dvoretzky-Kiefer-
    /// Wolfowitz-Massart bound P(D > d) ≤ 2·exp(−2·n·d²), exact for every n and conservative for
    /// discrete distributions; significance 1e-6. The same samples are rejected against a scale
    /// 10% off (power).
    #[test]
    fn float_noise_passes_kolmogorov_smirnov_on_its_grid() {
        let n = 200_000usize;
        let critical = ((2.0f64 / 1e-6).ln() / (2.0 * n as f64)).sqrt();
        for (i, epsilon) in [0.5f64, 2.0].into_iter().enumerate() {
            let c =
                Calibrated::new("x", &noise(Mechanism::Laplace, epsilon, 0.0, 1.0, false), ValueKind::Float).unwrap();
            let g = 2f64.powi(c.grid_exponent);
            let values: ArrayRef = Arc::new(Float64Array::from(vec![0.5; n]));
            let out = add_noise(&c, &values, &mut CellRng::new(&[9; 32], "x", i as u32), &rows(n)).unwrap();
            let mut units: Vec<i64> =
                out.as_primitive::<Float64Type>().values().iter().map(|&v| ((v - 0.5) / g).round() as i64).collect();
            assert!(out.as_primitive::<Float64Type>().values().iter().all(|&v| ((v / g).round() * g - v).abs() == 0.0));
            units.sort_unstable();
            let (num, den) = c.scale.unwrap();
            let ks = |scale_units: f64| {
                // CDF of the discrete Laplace with parameter q = exp(−1/scale).
                let q = (-1.0 / scale_units).exp();
                let cdf = |x: i64| {
                    if x < 0 { q.powf(-(x as f64)) / (1.0 + q) } else { 1.0 - q.powf(x as f64 + 1.0) / (1.0 + q) }
                };
                let mut d: f64 = 0.0;
                let mut i = 0;
                while i < units.len() {
                    let x = units[i];
                    let below = i as f64 / n as f64;
                    while i < units.len() && units[i] == x {
                        i += 1;
                    }
                    let at = i as f64 / n as f64;
                    d = d.max((at - cdf(x)).abs()).max((below - cdf(x - 1)).abs());
                }
                d
            };
            let scale = num as f64 / den as f64;
            assert!(ks(scale) < critical, "epsilon {epsilon}: D = {} ≥ {critical}", ks(scale));
            assert!(ks(scale * 1.1) > critical, "epsilon {epsilon}: a 10% wrong scale passes");
        }
    }

    fn rows(n: usize) -> Vec<u64> {
        (0..n as u64).collect()
    }

    /// A cell's noise depends on its file, row, column and key alone: cut into any pieces, the
    /// column gets the same noise; another row, file, column or key gets other noise; and
    /// neighbouring rows' noise is uncorrelated (lag-1 correlation within 5 standard errors of
    /// zero, over 200,000 rows; a shared stream would show r near 1).
    #[test]
    fn noise_follows_the_row_not_the_batch() {
        let c = Calibrated::new("n", &noise(Mechanism::Laplace, 1.0, 0.0, 100.0, false), ValueKind::Integer).unwrap();
        let n = 200_000;
        let values: ArrayRef = Arc::new(Int64Array::from(vec![50i64; n]));
        let whole = add_noise(&c, &values, &mut CellRng::new(&[5; 32], "n", 3), &rows(n)).unwrap();
        let mut pieces = Vec::new();
        for (start, end) in [(0, 1), (1, 16_384), (16_384, 100_001), (100_001, n)] {
            let part: ArrayRef = Arc::new(Int64Array::from(vec![50i64; end - start]));
            let ids: Vec<u64> = (start as u64..end as u64).collect();
            let out = add_noise(&c, &part, &mut CellRng::new(&[5; 32], "n", 3), &ids).unwrap();
            pieces.extend(out.as_primitive::<Int64Type>().values().iter().copied());
        }
        let whole: Vec<i64> = whole.as_primitive::<Int64Type>().values().to_vec();
        assert_eq!(pieces, whole);
        let first = |rng: &mut CellRng, ids: &[u64]| {
            let one: ArrayRef = Arc::new(Int64Array::from(vec![50i64; ids.len()]));
            add_noise(&c, &one, rng, ids).unwrap().as_primitive::<Int64Type>().values().to_vec()
        };
        let reference = first(&mut CellRng::new(&[5; 32], "n", 3), &[7, 8, 9, 10]);
        for other in [
            first(&mut CellRng::new(&[5; 32], "n", 4), &[7, 8, 9, 10]),
            first(&mut CellRng::new(&[5; 32], "m", 3), &[7, 8, 9, 10]),
            first(&mut CellRng::new(&[6; 32], "n", 3), &[7, 8, 9, 10]),
            first(&mut CellRng::new(&[5; 32], "n", 3), &[8, 9, 10, 11]),
        ] {
            assert_ne!(other, reference);
        }
        assert_eq!(first(&mut CellRng::new(&[5; 32], "n", 3), &[7, 8, 9, 10]), reference);
        let x: Vec<f64> = whole.iter().map(|&v| (v - 50) as f64).collect();
        let mean = x.iter().sum::<f64>() / n as f64;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
        let lag: f64 = x.windows(2).map(|w| (w[0] - mean) * (w[1] - mean)).sum();
        let r = lag / var;
        assert!(r.abs() < 5.0 / (n as f64).sqrt(), "lag-1 correlation {r}");
    }

    #[test]
    fn batches_get_their_own_reproducible_streams() {
        use rand::Rng;
        let a = batch_rng(&[3; 32], "income", 0).next_u64();
        assert_eq!(a, batch_rng(&[3; 32], "income", 0).next_u64());
        assert_ne!(a, batch_rng(&[3; 32], "income", 16_384).next_u64());
        assert_ne!(a, batch_rng(&[3; 32], "spend", 0).next_u64());
        assert_ne!(a, batch_rng(&[4; 32], "income", 0).next_u64());
    }
}
