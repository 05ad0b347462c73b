//! What de-identified data keeps for machine learning: models trained on it against the same
//! models trained on the original, scored on the same held-out rows.
//!
//! Two model families from `smartcore` (pure Rust, no BLAS, built on the `rand` the crate
//! already uses): a **logistic regression** (L2-regularized, L-BFGS) on one-hot categories and
//! standardized numbers, and **gradient-boosted trees** (squared error on each class's 0/1
//! indicator, one booster per class beyond two) on numbers and target-rate encoded
//! categories. Features are text columns as the output writes them: a column whose every
//! training value is a number is numeric, any other is categorical (a generalized label such as
//! `[30, 40)` or `*` is a category). Encodings are fitted on the training rows only; a test
//! value the training rows never held counts as missing.
//!
//! [`scores`] turns class probabilities into accuracy, AUC (Mann-Whitney, ties averaged; macro
//! one-vs-rest beyond two classes) and recall per class.

use smartcore::linalg::basic::arrays::Array;
use smartcore::linalg::basic::matrix::DenseMatrix;
use smartcore::linear::logistic_regression::{LogisticRegression, LogisticRegressionParameters};
use smartcore::xgboost::{XGRegressor, XGRegressorParameters};
use std::collections::HashMap;

/// A missing value's code in a [`TextColumn`].
pub const MISSING: u32 = u32::MAX;

/// One column's values, dictionary-coded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextColumn {
    /// Distinct values, by code.
    pub values: Vec<String>,
    /// Per row, its value's code or [`MISSING`].
    pub codes: Vec<u32>,
}

impl TextColumn {
    /// A column from row values (`None`: missing).
    pub fn from_values<'a>(rows: impl IntoIterator<Item = Option<&'a str>>) -> Self {
        let mut index: HashMap<&str, u32> = HashMap::new();
        let mut column = TextColumn::default();
        for value in rows {
            let code = match value {
                None => MISSING,
                Some(v) => *index.entry(v).or_insert_with(|| {
                    column.values.push(v.to_string());
                    (column.values.len() - 1) as u32
                }),
            };
            column.codes.push(code);
        }
        column
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Row `i`'s value.
    pub fn get(&self, i: usize) -> Option<&str> {
        self.values.get(self.codes[i] as usize).map(String::as_str)
    }
}

/// Rows to learn from or to score: feature columns and each row's class (an index into the
/// classes the caller numbered).
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub features: Vec<TextColumn>,
    pub target: Vec<u32>,
}

impl Dataset {
    pub fn rows(&self) -> usize {
        self.target.len()
    }
}

/// Why a model could not be trained.
#[derive(Debug, thiserror::Error)]
pub enum UtilityError {
    /// `reason` is the kind of smartcore's failure only: its message may quote numbers derived
    /// from cells.
    #[error("the {model} could not be trained: {reason}")]
    Fit { model: &'static str, reason: String },
    #[error("the training rows hold a single class of the target; there is nothing to learn")]
    OneClass,
}

/// A model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    LogisticRegression,
    GradientBoostedTrees,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::LogisticRegression, Family::GradientBoostedTrees];

    pub fn label(self) -> &'static str {
        match self {
            Family::LogisticRegression => "logistic regression",
            Family::GradientBoostedTrees => "gradient-boosted trees",
        }
    }
}

/// Trains `family` on `train` and returns, per row of `test`, the probability of each of the
/// `classes` classes. Deterministic for a given `seed`.
///
/// # Errors
/// [`UtilityError`] when the training rows hold one class or the solver fails.
pub fn predict(
    family: Family,
    train: &Dataset,
    test: &Dataset,
    classes: usize,
    seed: u64,
) -> Result<Vec<Vec<f64>>, UtilityError> {
    let present = {
        let mut seen = vec![false; classes];
        for &c in &train.target {
            seen[c as usize] = true;
        }
        seen
    };
    if present.iter().filter(|&&p| p).count() < 2 {
        return Err(UtilityError::OneClass);
    }
    match family {
        Family::LogisticRegression => logistic(train, test, classes),
        Family::GradientBoostedTrees => boosted(train, test, classes, &present, seed),
    }
}

/// How a feature column becomes numbers, fitted on the training rows.
enum Encoding {
    /// Numbers, or ranges of numbers (generalized labels `15-19`, `[30, 35)`, `[25, 40]`; `*`
    /// missing): the mean and standard deviation of their midpoints (for the linear model), and
    /// whether any value is a range (the trees then read both ends).
    Numeric { mean: f64, sd: f64, ranges: bool },
    /// Categories: the training codes (by value) and their row counts.
    Categorical { index: HashMap<String, usize>, counts: Vec<u64> },
}

fn number(value: &str) -> Option<f64> {
    value.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A value as a range of numbers: a number is its own range; `a-b`, `[a, b)` and `[a, b]` are
/// ranges; `*` (suppressed, or generalized to the top) is known to be nothing in particular.
enum Ranged {
    Range(f64, f64),
    Star,
}

fn range(value: &str) -> Option<Ranged> {
    let v = value.trim();
    if v == crate::privacy::hierarchy::SUPPRESSED {
        return Some(Ranged::Star);
    }
    if let Some(x) = number(v) {
        return Some(Ranged::Range(x, x));
    }
    let inner = v.strip_prefix('[').and_then(|r| r.strip_suffix(']').or_else(|| r.strip_suffix(')')));
    let (low, high) = match inner {
        Some(inner) => inner.split_once(',')?,
        // `15-19` (a leading minus belongs to the first number).
        None => {
            let at = v.char_indices().skip(1).find(|&(_, c)| c == '-')?.0;
            (&v[..at], &v[at + 1..])
        }
    };
    match (number(low), number(high)) {
        (Some(a), Some(b)) if a <= b => Some(Ranged::Range(a, b)),
        _ => None,
    }
}

impl Encoding {
    fn fit(column: &TextColumn) -> Encoding {
        let parsed: Vec<Option<Ranged>> = column.values.iter().map(|v| range(v)).collect();
        let some_number = parsed.iter().any(|p| matches!(p, Some(Ranged::Range(..))));
        if some_number && parsed.iter().all(Option::is_some) {
            let (mut sum, mut sum2, mut n) = (0.0, 0.0, 0.0);
            for &code in &column.codes {
                if let Some(Some(Ranged::Range(a, b))) = parsed.get(code as usize) {
                    let x = (a + b) / 2.0;
                    sum += x;
                    sum2 += x * x;
                    n += 1.0;
                }
            }
            let mean = if n > 0.0 { sum / n } else { 0.0 };
            let sd = if n > 1.0 { (sum2 / n - mean * mean).max(0.0).sqrt() } else { 0.0 };
            let ranges = parsed.iter().any(|p| matches!(p, Some(Ranged::Range(a, b)) if a < b));
            return Encoding::Numeric { mean, sd: if sd > 0.0 { sd } else { 1.0 }, ranges };
        }
        let mut counts = vec![0u64; column.values.len()];
        for &code in &column.codes {
            if let Some(c) = counts.get_mut(code as usize) {
                *c += 1;
            }
        }
        let index = column.values.iter().enumerate().map(|(i, v)| (v.clone(), i)).collect();
        Encoding::Categorical { index, counts }
    }

    /// Per row of `column`, its category among the training ones (`None`: missing or unseen).
    fn categories(&self, column: &TextColumn) -> Vec<Option<usize>> {
        let Encoding::Categorical { index, .. } = self else { return vec![None; column.len()] };
        let mapped: Vec<Option<usize>> = column.values.iter().map(|v| index.get(v).copied()).collect();
        column.codes.iter().map(|&c| mapped.get(c as usize).copied().flatten()).collect()
    }

    /// Per row of `column`, its range (`None`: missing, `*` or not a number).
    fn ranges(column: &TextColumn) -> Vec<Option<(f64, f64)>> {
        let parsed: Vec<Option<(f64, f64)>> = column
            .values
            .iter()
            .map(|v| match range(v) {
                Some(Ranged::Range(a, b)) => Some((a, b)),
                _ => None,
            })
            .collect();
        column.codes.iter().map(|&c| parsed.get(c as usize).copied().flatten()).collect()
    }
}

/// Categories with fewer training rows than this get no one-hot column of their own.
const MIN_CATEGORY_ROWS: u64 = 5;

/// The linear model's design matrix: standardized numbers (missing: 0, the mean), one-hot
/// categories of at least [`MIN_CATEGORY_ROWS`] training rows.
fn linear_design(encodings: &[Encoding], data: &Dataset) -> DenseMatrix<f64> {
    let rows = data.rows();
    let mut blocks: Vec<Vec<Vec<f64>>> = Vec::new();
    for (encoding, column) in encodings.iter().zip(&data.features) {
        match encoding {
            Encoding::Numeric { mean, sd, .. } => {
                let ranges = Encoding::ranges(column);
                let values = ranges.iter().map(|x| x.map_or(0.0, |(a, b)| ((a + b) / 2.0 - mean) / sd)).collect();
                let missing = ranges.iter().map(|x| if x.is_none() { 1.0 } else { 0.0 }).collect();
                blocks.push(vec![values, missing]);
            }
            Encoding::Categorical { counts, .. } => {
                let wide: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] >= MIN_CATEGORY_ROWS).collect();
                let mut slot = vec![usize::MAX; counts.len()];
                for (j, &i) in wide.iter().enumerate() {
                    slot[i] = j;
                }
                let mut block = vec![vec![0.0; rows]; wide.len()];
                for (r, category) in encoding.categories(column).into_iter().enumerate() {
                    if let Some(j) = category.map(|c| slot[c]).filter(|&j| j != usize::MAX) {
                        block[j][r] = 1.0;
                    }
                }
                blocks.push(block);
            }
        }
    }
    let columns: Vec<Vec<f64>> = blocks.into_iter().flatten().collect();
    let width = columns.len().max(1);
    let mut values = Vec::with_capacity(rows * width);
    if columns.is_empty() {
        values.resize(rows, 0.0);
    } else {
        for column in columns {
            values.extend(column);
        }
    }
    // Column-major, as built.
    DenseMatrix::new(rows, width, values, true).unwrap_or_else(|_| DenseMatrix::new(0, 1, Vec::new(), true).unwrap())
}

fn logistic(train: &Dataset, test: &Dataset, classes: usize) -> Result<Vec<Vec<f64>>, UtilityError> {
    let fail =
        |e: smartcore::error::Failed| UtilityError::Fit { model: "logistic regression", reason: e.error().to_string() };
    let encodings: Vec<Encoding> = train.features.iter().map(Encoding::fit).collect();
    let x = linear_design(&encodings, train);
    let y: Vec<u32> = train.target.clone();
    let parameters = LogisticRegressionParameters::default().with_alpha(1.0);
    let model: LogisticRegression<f64, u32, DenseMatrix<f64>, Vec<u32>> =
        LogisticRegression::fit(&x, &y, parameters).map_err(fail)?;
    let fitted: Vec<usize> = model.classes().iter().map(|&c| c as usize).collect();
    let coefficients = model.coefficients();
    let intercept = model.intercept();
    let t = linear_design(&encodings, test);
    let (rows, width) = t.shape();
    let mut out = Vec::with_capacity(rows);
    for r in 0..rows {
        let score = |k: usize| -> f64 {
            (0..width).map(|j| t.get((r, j)) * coefficients.get((k, j))).sum::<f64>() + intercept.get((k, 0))
        };
        let mut p = vec![0.0; classes];
        if fitted.len() == 2 {
            let one = 1.0 / (1.0 + (-score(0)).exp());
            p[fitted[1]] = one;
            p[fitted[0]] = 1.0 - one;
        } else {
            let scores: Vec<f64> = (0..fitted.len()).map(score).collect();
            let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let total: f64 = scores.iter().map(|s| (s - top).exp()).sum();
            for (k, &class) in fitted.iter().enumerate() {
                p[class] = (scores[k] - top).exp() / total;
            }
        }
        out.push(p);
    }
    Ok(out)
}

/// Smoothing of the target-rate encoding: a category's rate is pulled towards the overall rate
/// as if it held this many more rows at that rate.
const SMOOTHING: f64 = 20.0;

/// Trees' design matrix for the indicator of class `positive`: numbers as they are (ranges as
/// their two ends; missing and `*` below every number), categories as their smoothed training
/// rate of the class.
fn tree_design(encodings: &[Encoding], rates: &[Vec<f64>], prior: f64, data: &Dataset) -> DenseMatrix<f64> {
    let rows = data.rows();
    let mut values = Vec::with_capacity(rows * encodings.len().max(1));
    let mut width = 0;
    for ((encoding, column), rates) in encodings.iter().zip(&data.features).zip(rates) {
        width += 1;
        match encoding {
            Encoding::Numeric { ranges, .. } => {
                let parsed = Encoding::ranges(column);
                values.extend(parsed.iter().map(|x| x.map_or(-1e300, |(a, _)| a)));
                if *ranges {
                    width += 1;
                    values.extend(parsed.iter().map(|x| x.map_or(-1e300, |(_, b)| b)));
                }
            }
            Encoding::Categorical { .. } => {
                values.extend(encoding.categories(column).iter().map(|c| c.map_or(prior, |c| rates[c])));
            }
        }
    }
    if encodings.is_empty() {
        values.resize(rows, 0.0);
    }
    DenseMatrix::new(rows, width.max(1), values, true)
        .unwrap_or_else(|_| DenseMatrix::new(0, 1, Vec::new(), true).unwrap())
}

/// Boosting rounds, depth and learning rate of the trees.
const ROUNDS: usize = 120;
const DEPTH: u16 = 5;
const LEARNING_RATE: f64 = 0.1;
const MIN_LEAF_ROWS: usize = 20;

fn boosted(
    train: &Dataset,
    test: &Dataset,
    classes: usize,
    present: &[bool],
    seed: u64,
) -> Result<Vec<Vec<f64>>, UtilityError> {
    let encodings: Vec<Encoding> = train.features.iter().map(Encoding::fit).collect();
    // Two classes: one booster for the second; more: one per class, normalized.
    let modelled: Vec<usize> = if classes == 2 { vec![1] } else { (0..classes).filter(|&c| present[c]).collect() };
    let mut scores = vec![vec![0.0; classes]; test.rows()];
    for &positive in &modelled {
        let y: Vec<f64> = train.target.iter().map(|&c| f64::from(u8::from(c as usize == positive))).collect();
        let prior = y.iter().sum::<f64>() / y.len().max(1) as f64;
        let rates: Vec<Vec<f64>> = encodings
            .iter()
            .zip(&train.features)
            .map(|(encoding, column)| match encoding {
                Encoding::Numeric { .. } => Vec::new(),
                Encoding::Categorical { counts, .. } => {
                    let mut hits = vec![0.0; counts.len()];
                    for (category, &yi) in encoding.categories(column).into_iter().zip(&y) {
                        if let Some(c) = category {
                            hits[c] += yi;
                        }
                    }
                    hits.iter().zip(counts).map(|(&h, &n)| (h + SMOOTHING * prior) / (n as f64 + SMOOTHING)).collect()
                }
            })
            .collect();
        let x = tree_design(&encodings, &rates, prior, train);
        let parameters = XGRegressorParameters::default()
            .with_n_estimators(ROUNDS)
            .with_max_depth(DEPTH)
            .with_learning_rate(LEARNING_RATE)
            .with_min_child_weight(MIN_LEAF_ROWS)
            .with_base_score(prior)
            .with_seed(seed);
        let model: XGRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>> = XGRegressor::fit(&x, &y, parameters)
            .map_err(|e| UtilityError::Fit { model: "gradient-boosted trees", reason: e.error().to_string() })?;
        let t = tree_design(&encodings, &rates, prior, test);
        let predicted = model
            .predict(&t)
            .map_err(|e| UtilityError::Fit { model: "gradient-boosted trees", reason: e.error().to_string() })?;
        for (row, p) in scores.iter_mut().zip(predicted) {
            row[positive] = p.clamp(0.0, 1.0);
        }
    }
    for row in &mut scores {
        if classes == 2 {
            row[0] = 1.0 - row[1];
        } else {
            let total: f64 = row.iter().sum();
            if total > 0.0 {
                row.iter_mut().for_each(|p| *p /= total);
            }
        }
    }
    Ok(scores)
}

/// How well probabilities predict the true classes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scores {
    pub accuracy: f64,
    /// Area under the ROC curve (binary), or its macro mean one-vs-rest; `None` when the test
    /// rows hold a single class.
    pub auc: Option<f64>,
    /// Per class (in the caller's numbering), the share of its test rows predicted as it;
    /// `None` when no test row holds it.
    pub recall: Vec<Option<f64>>,
}

/// The class each row is predicted as: the most probable (ties to the lower index).
pub fn predicted(probabilities: &[Vec<f64>]) -> Vec<u32> {
    probabilities
        .iter()
        .map(|p| {
            p.iter().enumerate().fold((0, f64::NEG_INFINITY), |b, (i, &x)| if x > b.1 { (i, x) } else { b }).0 as u32
        })
        .collect()
}

/// Accuracy, AUC and recall of `probabilities` against `truth`.
pub fn scores(probabilities: &[Vec<f64>], truth: &[u32], classes: usize) -> Scores {
    let guess = predicted(probabilities);
    let n = truth.len().max(1) as f64;
    let accuracy = guess.iter().zip(truth).filter(|(g, t)| g == t).count() as f64 / n;
    let mut recall = Vec::with_capacity(classes);
    for c in 0..classes as u32 {
        let rows = truth.iter().filter(|&&t| t == c).count();
        let hit = guess.iter().zip(truth).filter(|&(&g, &t)| t == c && g == c).count();
        recall.push((rows > 0).then(|| hit as f64 / rows as f64));
    }
    let aucs: Vec<f64> = if classes == 2 {
        auc(probabilities.iter().map(|p| p[1]), truth.iter().map(|&t| t == 1)).into_iter().collect()
    } else {
        (0..classes)
            .filter_map(|c| auc(probabilities.iter().map(|p| p[c]), truth.iter().map(|&t| t as usize == c)))
            .collect()
    };
    let auc = (!aucs.is_empty()).then(|| aucs.iter().sum::<f64>() / aucs.len() as f64);
    Scores { accuracy, auc, recall }
}

/// The area under the ROC curve of `score` for the rows where `positive` holds (Mann-Whitney U
/// with tied scores sharing their mean rank); `None` without both kinds of row.
pub fn auc(score: impl Iterator<Item = f64>, positive: impl Iterator<Item = bool>) -> Option<f64> {
    let mut rows: Vec<(f64, bool)> = score.zip(positive).collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let positives = rows.iter().filter(|r| r.1).count() as f64;
    let negatives = rows.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return None;
    }
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < rows.len() {
        let mut j = i;
        while j < rows.len() && rows[j].0 == rows[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j share their mean.
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += mean_rank * rows[i..j].iter().filter(|r| r.1).count() as f64;
        i = j;
    }
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives))
}

/// The total variation distance between a column's original training values and what the
/// output shows for the same rows, on the original values: each output label's rows are spread
/// evenly over the original values it stands for (the values seen with it; a suppressed `*` over
/// all), as an analyst without the original would have to assume. 0: the distribution is
/// untouched; 1: nothing of it is left. `shown[i]` is `None` for a row the output does not hold
/// (removed).
pub fn total_variation(original: &TextColumn, shown: &[Option<Option<&str>>]) -> f64 {
    let values = original.values.len() + 1; // the last one: missing
    let slot = |i: usize| match original.codes[i] {
        MISSING => values - 1,
        c => c as usize,
    };
    let mut before = vec![0.0; values];
    for i in 0..original.len() {
        before[slot(i)] += 1.0;
    }
    // Per label shown, the original values it stood for and its rows.
    // Ordered, so that the sums below add up in the same order in every process.
    let mut labels: std::collections::BTreeMap<Option<&str>, (Vec<usize>, f64)> = std::collections::BTreeMap::new();
    let mut kept = 0.0;
    for (i, label) in shown.iter().enumerate() {
        let Some(label) = label else { continue };
        let entry = labels.entry(*label).or_default();
        entry.0.push(slot(i));
        entry.1 += 1.0;
        kept += 1.0;
    }
    if kept == 0.0 {
        return 1.0;
    }
    let mut after = vec![0.0; values];
    for (label, (mut members, rows)) in labels {
        if label == Some(crate::privacy::hierarchy::SUPPRESSED) {
            members = (0..values - 1).collect();
        } else {
            members.sort_unstable();
            members.dedup();
        }
        let share = rows / members.len().max(1) as f64;
        for m in members {
            after[m] += share;
        }
    }
    let n = original.len().max(1) as f64;
    before.iter().zip(&after).map(|(b, a)| (b / n - a / kept).abs()).sum::<f64>() / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn auc_counts_pairs_and_ties() {
        // Perfect, reversed, all tied.
        assert_eq!(auc([0.1, 0.2, 0.8, 0.9].into_iter(), [false, false, true, true].into_iter()), Some(1.0));
        assert_eq!(auc([0.9, 0.8, 0.2, 0.1].into_iter(), [false, false, true, true].into_iter()), Some(0.0));
        assert_eq!(auc([0.5; 4].into_iter(), [false, true, false, true].into_iter()), Some(0.5));
        // One of four pairs ordered wrongly: 3/4.
        assert_eq!(auc([0.1, 0.6, 0.5, 0.9].into_iter(), [false, false, true, true].into_iter()), Some(0.75));
        assert_eq!(auc([0.1, 0.2].into_iter(), [true, true].into_iter()), None);
    }

    #[test]
    fn total_variation_spreads_labels_over_their_values() {
        let original = TextColumn::from_values(["a", "a", "b", "c"].map(Some));
        // Unchanged: 0.
        let same: Vec<Option<Option<&str>>> = (0..4).map(|i| Some(original.get(i))).collect();
        assert!(total_variation(&original, &same).abs() < 1e-12);
        // a and b merged into "ab": 3 rows spread 1.5 / 1.5 against 2 / 1.
        let merged = [Some(Some("ab")), Some(Some("ab")), Some(Some("ab")), Some(Some("c"))];
        assert!((total_variation(&original, &merged) - 0.125).abs() < 1e-12);
        // Everything `*`: uniform over a, b, c against 1/2, 1/4, 1/4.
        let star = [Some(Some("*")); 4];
        let expected = ((0.5 - 1.0 / 3.0) + 2.0 * (1.0 / 3.0 - 0.25)) / 2.0;
        assert!((total_variation(&original, &star) - expected).abs() < 1e-12);
        // The `c` row removed: a, a, b kept as they are against the original with c.
        let removed = [Some(Some("a")), Some(Some("a")), Some(Some("b")), None];
        assert!((total_variation(&original, &removed) - 0.25).abs() < 1e-12);
    }

    /// A learnable problem: both families beat the majority class by far on held-out rows, and
    /// a feature of pure noise leaves them near it.
    #[test]
    fn models_learn_a_signal_and_not_noise() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let make = |rng: &mut rand_chacha::ChaCha20Rng, rows: usize, signal: bool| {
            let mut colour = Vec::new();
            let mut size = Vec::new();
            let mut target = Vec::new();
            for _ in 0..rows {
                let c = rng.random_range(0..4u32);
                let s = rng.random_range(0..100u32);
                let score = if signal { f64::from(c) * 0.8 + f64::from(s) / 25.0 } else { 0.0 };
                let positive = score + rng.random_range(0.0..2.0) > 4.0;
                colour.push(["red", "green", "blue", "grey"][c as usize]);
                size.push(s.to_string());
                target.push(u32::from(positive));
            }
            Dataset {
                features: vec![
                    TextColumn::from_values(colour.into_iter().map(Some)),
                    TextColumn::from_values(size.iter().map(|s| Some(s.as_str()))),
                ],
                target,
            }
        };
        let train = make(&mut rng, 3000, true);
        let test = make(&mut rng, 1000, true);
        let share = test.target.iter().filter(|&&t| t == 1).count() as f64 / test.rows() as f64;
        let baseline = share.max(1.0 - share);
        for family in Family::ALL {
            let p = predict(family, &train, &test, 2, 1).unwrap();
            let s = scores(&p, &test.target, 2);
            assert!(s.accuracy > baseline + 0.1, "{family:?}: {} vs {baseline}", s.accuracy);
            assert!(s.auc.unwrap() > 0.85, "{family:?}: auc {:?}", s.auc);
        }
        let mut noise_train = make(&mut rng, 3000, false);
        let mut noise_test = make(&mut rng, 1000, false);
        for (data, rows) in [(&mut noise_train, 3000), (&mut noise_test, 1000)] {
            data.target = (0..rows).map(|_| u32::from(rng.random_range(0..2u32) == 1)).collect();
        }
        for family in Family::ALL {
            let p = predict(family, &noise_train, &noise_test, 2, 1).unwrap();
            let auc = scores(&p, &noise_test.target, 2).auc.unwrap();
            assert!((auc - 0.5).abs() < 0.07, "{family:?} found a signal in noise: auc {auc}");
        }
    }

    #[test]
    fn three_classes_and_one_class() {
        let colours = ["red", "green", "blue"];
        let rows: Vec<u32> = (0..600).map(|i| i % 3).collect();
        let data = Dataset {
            features: vec![TextColumn::from_values(rows.iter().map(|&c| Some(colours[c as usize])))],
            target: rows.clone(),
        };
        for family in Family::ALL {
            let p = predict(family, &data, &data, 3, 1).unwrap();
            let s = scores(&p, &data.target, 3);
            assert!(s.accuracy > 0.99, "{family:?}: {}", s.accuracy);
            assert!(s.recall.iter().all(|r| r.is_some_and(|r| r > 0.99)));
            assert!(p.iter().all(|row| (row.iter().sum::<f64>() - 1.0).abs() < 1e-9));
        }
        let single = Dataset { features: data.features.clone(), target: vec![0; 600] };
        assert!(matches!(predict(Family::LogisticRegression, &single, &data, 3, 1), Err(UtilityError::OneClass)));
    }
}
