//! Exact samplers for differential privacy, after Canonne, Kamath and Steinke, "The Discrete
//! Gaussian for Differential Privacy" (NeurIPS 2020), Algorithms 1–3. Every draw is an integer
//! comparison against a uniformly random integer; there is no floating point anywhere, so the
//! output distribution is exactly the one the privacy proof assumes (floating-point Laplace
//! from `ln(u)` is not: Mironov 2012).
//!
//! Rationals are `num / den` in `u128`, with checked arithmetic; when a product would overflow,
//! the same algorithm runs on arbitrary-precision integers (`num-bigint`), so no input is
//! refused and no result is approximate. Generic over any `rand` 0.10 generator.

use num_bigint::BigUint;
use rand::{Rng, RngExt};

/// Bernoulli(`num / den`): true with probability num/den. Requires `0 < den` and `num ≤ den`.
pub fn bernoulli<R: Rng + ?Sized>(rng: &mut R, num: u128, den: u128) -> bool {
    debug_assert!(den > 0 && num <= den);
    if num == 0 {
        return false;
    }
    if num >= den {
        return true;
    }
    match u64::try_from(den) {
        // Narrower draws are much cheaper, and exactly as uniform.
        Ok(d) => u128::from(rng.random_range(0..d)) < num,
        Err(_) => rng.random_range(0..den) < num,
    }
}

/// A uniform integer in `[0, bound)` by rejection from random bytes.
fn uniform_below_big<R: Rng + ?Sized>(rng: &mut R, bound: &BigUint) -> BigUint {
    let bits = bound.bits();
    let bytes = bits.div_ceil(8) as usize;
    let top_bits = bits - 8 * (bytes as u64 - 1);
    let mut buffer = vec![0u8; bytes];
    loop {
        rng.fill_bytes(&mut buffer);
        if top_bits < 8 {
            buffer[0] &= (1u8 << top_bits) - 1;
        }
        let x = BigUint::from_bytes_be(&buffer);
        if &x < bound {
            return x;
        }
    }
}

fn bernoulli_big<R: Rng + ?Sized>(rng: &mut R, num: &BigUint, den: &BigUint) -> bool {
    if num >= den {
        return true;
    }
    &uniform_below_big(rng, den) < num
}

/// Bernoulli(exp(−`num / den`)) (CKS20 Algorithm 1). Requires `den > 0`.
pub fn bernoulli_exp<R: Rng + ?Sized>(rng: &mut R, num: u128, den: u128) -> bool {
    if num <= den {
        return bernoulli_exp_unit(rng, num, den);
    }
    // exp(−γ) = exp(−1)^floor(γ) · exp(−(γ − floor(γ))); stops at the first failure.
    let whole = num / den;
    let mut i = 0;
    while i < whole {
        if !bernoulli_exp_unit(rng, 1, 1) {
            return false;
        }
        i += 1;
    }
    bernoulli_exp_unit(rng, num % den, den)
}

/// γ = num/den in [0, 1]: draw A_k ~ Bernoulli(γ/k) for k = 1, 2, … until one fails; the
/// result is whether that k is odd (its probability is exactly exp(−γ)).
fn bernoulli_exp_unit<R: Rng + ?Sized>(rng: &mut R, num: u128, den: u128) -> bool {
    let mut k: u128 = 1;
    loop {
        let success = match den.checked_mul(k) {
            Some(d) => bernoulli(rng, num, d),
            None => bernoulli_big(rng, &BigUint::from(num), &(BigUint::from(den) * k)),
        };
        if !success {
            return k % 2 == 1;
        }
        k += 1;
    }
}

/// Bernoulli(exp(−num/den)) on arbitrary-precision rationals.
pub fn bernoulli_exp_big<R: Rng + ?Sized>(rng: &mut R, num: &BigUint, den: &BigUint) -> bool {
    let whole = num / den;
    let fraction = num % den;
    let mut i = BigUint::ZERO;
    while i < whole {
        if !bernoulli_exp_unit(rng, 1, 1) {
            return false;
        }
        i += 1u32;
    }
    let mut k = BigUint::from(1u32);
    loop {
        if !bernoulli_big(rng, &fraction, &(den * &k)) {
            return &k % 2u32 == BigUint::from(1u32);
        }
        k += 1u32;
    }
}

/// The number of successes before the first failure of Bernoulli(exp(−num/den)) trials:
/// P(v) = (1 − e^−γ)·e^−γv, a geometric distribution.
pub fn geometric_exp<R: Rng + ?Sized>(rng: &mut R, num: u128, den: u128) -> u128 {
    let mut v = 0;
    while bernoulli_exp(rng, num, den) {
        v += 1;
    }
    v
}

/// The discrete Laplace distribution with scale `t / s` (CKS20 Algorithm 2):
/// P(x) ∝ exp(−|x| · s / t) over the integers. Requires `s, t ≥ 1`.
///
/// ```
/// use rand::SeedableRng;
/// let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
/// let x = anonymize::dp::samplers::discrete_laplace(&mut rng, 1, 3);
/// assert!(x.abs() < 1_000);
/// ```
pub fn discrete_laplace<R: Rng + ?Sized>(rng: &mut R, s: u128, t: u128) -> i128 {
    debug_assert!(s >= 1 && t >= 1);
    loop {
        let u =
            if let Ok(t64) = u64::try_from(t) { u128::from(rng.random_range(0..t64)) } else { rng.random_range(0..t) };
        if !bernoulli_exp(rng, u, t) {
            continue;
        }
        let v = geometric_exp(rng, 1, 1);
        // X = U + t·V is geometric with parameter exp(−1/t); Y = floor(X / s).
        let Some(x) = v.checked_mul(t).and_then(|tv| tv.checked_add(u)) else { continue };
        let y = x / s;
        let negative = bernoulli(rng, 1, 2);
        if negative && y == 0 {
            continue;
        }
        let y = i128::try_from(y).unwrap_or(i128::MAX);
        return if negative { -y } else { y };
    }
}

/// The discrete Gaussian with variance parameter `σ² = num / den` (CKS20 Algorithm 3):
/// P(x) ∝ exp(−x² / 2σ²) over the integers, by rejection from a discrete Laplace of scale
/// t = floor(σ) + 1. Requires `num, den ≥ 1`.
pub fn discrete_gaussian<R: Rng + ?Sized>(rng: &mut R, num: u128, den: u128) -> i128 {
    debug_assert!(num >= 1 && den >= 1);
    // floor(sqrt(σ²)) = floor(sqrt(floor(σ²))), exactly.
    let t = (num / den).isqrt() + 1;
    loop {
        let y = discrete_laplace(rng, 1, t);
        let magnitude = y.unsigned_abs();
        // Accept with probability exp(−(|y| − σ²/t)² / 2σ²)
        //   = exp(−(|y|·den·t − num)² / (2·num·den·t²)).
        let small = magnitude
            .checked_mul(den)
            .and_then(|v| v.checked_mul(t))
            .map(|v| v.abs_diff(num))
            .and_then(|d| d.checked_mul(d))
            .zip(
                num.checked_mul(den)
                    .and_then(|v| v.checked_mul(2))
                    .and_then(|v| v.checked_mul(t))
                    .and_then(|v| v.checked_mul(t)),
            );
        let accept = match small {
            Some((n, d)) => bernoulli_exp(rng, n, d),
            None => {
                let (num_b, den_b, t_b) = (BigUint::from(num), BigUint::from(den), BigUint::from(t));
                let scaled = BigUint::from(magnitude) * &den_b * &t_b;
                let diff = if scaled >= num_b { &scaled - &num_b } else { &num_b - &scaled };
                let numerator = &diff * &diff;
                let denominator = BigUint::from(2u32) * &num_b * &den_b * &t_b * &t_b;
                bernoulli_exp_big(rng, &numerator, &denominator)
            }
        };
        if accept {
            return y;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    const SAMPLES: usize = 200_000;
    /// Significance of every distribution test; with fixed seeds the tests are deterministic,
    /// and a correct sampler fails one with probability 1e-6.
    const ALPHA: f64 = 1e-6;

    fn rng(seed: u64) -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(seed)
    }

    /// Regularized upper incomplete gamma Q(a, x), by series or continued fraction (Numerical
    /// Recipes' gser/gcf), for exact chi-square p-values.
    fn gamma_q(a: f64, x: f64) -> f64 {
        fn ln_gamma(x: f64) -> f64 {
            // Lanczos, g = 7, n = 9: relative error below 1e-15 for x > 0.
            const C: [f64; 9] = [
                0.999_999_999_999_809_9,
                676.520_368_121_885_1,
                -1_259.139_216_722_402_8,
                771.323_428_777_653_1,
                -176.615_029_162_140_6,
                12.507_343_278_686_905,
                -0.138_571_095_265_720_12,
                9.984_369_578_019_572e-6,
                1.505_632_735_149_311_6e-7,
            ];
            let x = x - 1.0;
            let mut sum = C[0];
            for (i, c) in C.iter().enumerate().skip(1) {
                sum += c / (x + i as f64);
            }
            let t = x + 7.5;
            0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
        }
        if x <= 0.0 {
            return 1.0;
        }
        let front = (-x + a * x.ln() - ln_gamma(a)).exp();
        if x < a + 1.0 {
            let (mut term, mut sum, mut n) = (1.0 / a, 1.0 / a, a);
            for _ in 0..10_000 {
                n += 1.0;
                term *= x / n;
                sum += term;
                if term.abs() < sum.abs() * 1e-17 {
                    break;
                }
            }
            1.0 - sum * front
        } else {
            let mut b = x + 1.0 - a;
            let mut c = 1e300;
            let mut d = 1.0 / b;
            let mut h = d;
            for i in 1..10_000 {
                let an = -(i as f64) * (i as f64 - a);
                b += 2.0;
                d = an * d + b;
                d = if d.abs() < 1e-300 { 1e300 } else { 1.0 / d };
                c = b + an / c;
                let delta = c * d;
                h *= delta;
                if (delta - 1.0).abs() < 1e-16 {
                    break;
                }
            }
            front * h
        }
    }

    /// Chi-square p-value of integer samples against a probability mass function: bins with
    /// expected count ≥ 5, the rest merged into the two tails.
    fn chi_square_p(samples: &[i128], pmf: impl Fn(i128) -> f64) -> f64 {
        let n = samples.len() as f64;
        let mut counts = std::collections::BTreeMap::<i128, f64>::new();
        for &x in samples {
            *counts.entry(x).or_default() += 1.0;
        }
        // The central bins, widened while their expected counts stay ≥ 5.
        let mut high = 0i128;
        while pmf(high + 1) * n >= 5.0 {
            high += 1;
        }
        let low = -high;
        let inside: f64 = (low..=high).map(&pmf).sum();
        let tail = (1.0 - inside) / 2.0;
        let mut bins: Vec<(f64, f64)> =
            (low..=high).map(|x| (counts.get(&x).copied().unwrap_or(0.0), pmf(x) * n)).collect();
        let below: f64 = counts.range(..low).map(|(_, c)| c).sum();
        let above: f64 = counts.range(high + 1..).map(|(_, c)| c).sum();
        if tail * n >= 5.0 {
            bins.push((below, tail * n));
            bins.push((above, tail * n));
        } else {
            // Tails too thin for their own bins: fold them into the outermost ones.
            bins[0].0 += below;
            bins[0].1 += tail * n;
            let last = bins.len() - 1;
            bins[last].0 += above;
            bins[last].1 += tail * n;
        }
        let statistic: f64 = bins.iter().map(|(o, e)| (o - e) * (o - e) / e).sum();
        gamma_q((bins.len() - 1) as f64 / 2.0, statistic / 2.0)
    }

    fn laplace_pmf(scale: f64) -> impl Fn(i128) -> f64 {
        let q = (-1.0 / scale).exp();
        move |x| (1.0 - q) / (1.0 + q) * q.powi(x.unsigned_abs() as i32)
    }

    fn gaussian_pmf(sigma2: f64) -> impl Fn(i128) -> f64 {
        let weight = move |x: i128| (-(x as f64).powi(2) / (2.0 * sigma2)).exp();
        let total: f64 = (-10_000..=10_000).map(weight).sum();
        move |x| weight(x) / total
    }

    /// Mean and variance within 4.9 standard errors of the distribution's.
    fn moments_agree(samples: &[i128], pmf: impl Fn(i128) -> f64) {
        let n = samples.len() as f64;
        let support = -20_000..=20_000i128;
        let variance: f64 = support.clone().map(|x| pmf(x) * (x as f64).powi(2)).sum();
        let fourth: f64 = support.map(|x| pmf(x) * (x as f64).powi(4)).sum();
        let mean = samples.iter().map(|&x| x as f64).sum::<f64>() / n;
        let sample_variance = samples.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / (n - 1.0);
        assert!(mean.abs() <= 4.9 * (variance / n).sqrt(), "mean {mean} (variance {variance})");
        let se = ((fourth - variance * variance) / n).sqrt();
        assert!((sample_variance - variance).abs() <= 4.9 * se, "variance {sample_variance} vs {variance}");
    }

    #[test]
    fn known_answers() {
        let mut r = rng(42);
        let laplace: Vec<i128> = (0..12).map(|_| discrete_laplace(&mut r, 2, 7)).collect();
        let mut r = rng(42);
        let gaussian: Vec<i128> = (0..12).map(|_| discrete_gaussian(&mut r, 9, 2)).collect();
        let mut r = rng(42);
        let bernoulli: Vec<bool> = (0..12).map(|_| bernoulli_exp(&mut r, 5, 4)).collect();
        let mut r = rng(42);
        let geometric: Vec<u128> = (0..12).map(|_| geometric_exp(&mut r, 1, 3)).collect();
        insta::assert_debug_snapshot!("sampler_known_answers", (laplace, gaussian, bernoulli, geometric));
    }

    #[test]
    fn bernoulli_exp_matches_its_probability_and_the_big_path_agrees() {
        for (i, (num, den)) in [(0u128, 1u128), (1, 3), (1, 1), (5, 2), (29, 10)].into_iter().enumerate() {
            let p = (-(num as f64) / den as f64).exp();
            let n = SAMPLES as f64;
            let mut r = rng(100 + i as u64);
            let hits = (0..SAMPLES).filter(|_| bernoulli_exp(&mut r, num, den)).count() as f64;
            let se = (p * (1.0 - p) / n).sqrt().max(1e-12);
            assert!((hits / n - p).abs() <= 4.9 * se, "γ = {num}/{den}: {} vs {p}", hits / n);
            let mut r = rng(200 + i as u64);
            let big = (0..SAMPLES / 4)
                .filter(|_| bernoulli_exp_big(&mut r, &BigUint::from(num), &BigUint::from(den)))
                .count() as f64;
            let se = (p * (1.0 - p) / (n / 4.0)).sqrt().max(1e-12);
            assert!((big / (n / 4.0) - p).abs() <= 4.9 * se, "big γ = {num}/{den}");
        }
        // A probability 10% off is rejected by the same test (power), at p = exp(−1/3).
        let p = (-1.0f64 / 3.0).exp();
        let mut r = rng(101);
        let hits = (0..SAMPLES).filter(|_| bernoulli_exp(&mut r, 1, 3)).count() as f64;
        let wrong = p * 0.9;
        assert!((hits / SAMPLES as f64 - wrong).abs() > 4.9 * (wrong * (1.0 - wrong) / SAMPLES as f64).sqrt());
    }

    #[test]
    fn discrete_laplace_has_its_distribution_and_the_test_has_power() {
        for (i, (s, t)) in [(2u128, 1u128), (1, 1), (10, 37), (1, 10)].into_iter().enumerate() {
            let scale = t as f64 / s as f64;
            let mut r = rng(300 + i as u64);
            let samples: Vec<i128> = (0..SAMPLES).map(|_| discrete_laplace(&mut r, s, t)).collect();
            let p = chi_square_p(&samples, laplace_pmf(scale));
            assert!(p > ALPHA, "scale {scale}: p = {p}");
            let wrong = chi_square_p(&samples, laplace_pmf(scale * 1.1));
            assert!(wrong < ALPHA, "scale {scale}: a 10% wrong scale is not rejected (p = {wrong})");
            moments_agree(&samples, laplace_pmf(scale));
        }
    }

    #[test]
    fn discrete_gaussian_has_its_distribution_and_the_test_has_power() {
        for (i, (num, den)) in [(1u128, 4u128), (1, 1), (9, 1), (441, 4)].into_iter().enumerate() {
            let sigma2 = num as f64 / den as f64;
            let mut r = rng(400 + i as u64);
            let samples: Vec<i128> = (0..SAMPLES).map(|_| discrete_gaussian(&mut r, num, den)).collect();
            let p = chi_square_p(&samples, gaussian_pmf(sigma2));
            assert!(p > ALPHA, "σ² {sigma2}: p = {p}");
            let wrong = chi_square_p(&samples, gaussian_pmf(sigma2 * 1.21));
            assert!(wrong < ALPHA, "σ² {sigma2}: σ 10% wrong is not rejected (p = {wrong})");
            moments_agree(&samples, gaussian_pmf(sigma2));
        }
    }

    /// Parameters whose products overflow u128 take the exact big-integer path and still give
    /// the right distribution (σ² = 2.25 written with huge numerator and denominator).
    #[test]
    fn huge_rationals_take_the_exact_fallback() {
        let scale = 10u128.pow(30);
        let mut r = rng(500);
        let samples: Vec<i128> = (0..SAMPLES / 4).map(|_| discrete_gaussian(&mut r, 9 * scale, 4 * scale)).collect();
        let p = chi_square_p(&samples, gaussian_pmf(2.25));
        assert!(p > ALPHA, "p = {p}");
    }

    #[test]
    fn chi_square_p_values_are_right() {
        // Known quantiles: P(χ²₁ > 3.841) = 0.05; P(χ²₁₀ > 29.588) = 0.001.
        assert!((gamma_q(0.5, 3.841 / 2.0) - 0.05).abs() < 1e-4);
        assert!((gamma_q(5.0, 29.588 / 2.0) - 0.001).abs() < 1e-5);
    }
}
