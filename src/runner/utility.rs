//! The utility evaluation (`utility:` in a job, `anonymize evaluate`): what the de-identified
//! data keeps for a model that predicts `utility.target`.
//!
//! 1. The input's rows with consent (at most `max_rows`, a seeded sample beyond) are split by
//!    `utility.seed` into a train part and a held-out test part, stratified by the target: per
//!    class, the rows are ordered by a hash of (seed, file, row) and the first `holdout` share
//!    is held out. The split depends on neither the batch size nor the threads.
//! 2. The train part is anonymized exactly as the job says (its own census, search and
//!    suppression: the job run on those rows alone).
//! 3. The test part is recoded with the train part's decisions, without suppression (k = 1,
//!    values the train part never saw become `*`): what a model in production would see.
//! 4. Both model families of [`crate::utility`] are trained on the anonymized and on the
//!    original train part and scored on the test part in the matching form.
//!
//! Nothing is written: the run's real output is the job on the whole input, untouched by the
//! evaluation. The figures are computed from the raw rows and are not differentially private.

use super::RunError;
use crate::consent::ConsentFilter;
use crate::engine::{Decisions, Engine};
use crate::io::{DataSource, Rows};
use crate::job::{Action, Job, K, KAnonymity};
use crate::plan;
use crate::privacy::recode::SuppressedRows;
use crate::record::{GroupUtility, ModelUtility, UtilitySummary};
use crate::text::to_text;
use crate::utility::{self, Dataset, Family, TextColumn};
use arrow::array::{Array, BooleanArray, RecordBatch, StringArray, UInt32Array};
use rayon::prelude::*;
use std::time::Instant;

/// The most target classes the evaluation takes: it classifies.
pub const MAX_CLASSES: usize = 50;

/// Rows of one input file, consent already applied, with their row indices in the file.
struct Part {
    batch: RecordBatch,
    file: u32,
    rows: Vec<u64>,
}

impl Part {
    fn take(&self, indices: &[u32]) -> Result<Part, RunError> {
        let selection = UInt32Array::from(indices.to_vec());
        let columns = self
            .batch
            .columns()
            .iter()
            .map(|c| arrow::compute::take(c.as_ref(), &selection, None))
            .collect::<Result<Vec<_>, _>>()?;
        let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(indices.len()));
        Ok(Part {
            batch: RecordBatch::try_new_with_options(self.batch.schema(), columns, &options)?,
            file: self.file,
            rows: indices.iter().map(|&i| self.rows[i as usize]).collect(),
        })
    }
}

/// SplitMix64: a fixed, well-mixed hash of a row's identity (no secret involved).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn row_hash(seed: u64, domain: u64, file: u32, row: u64) -> u64 {
    mix(mix(mix(seed ^ domain) ^ u64::from(file)) ^ row)
}

const SAMPLE: u64 = 0x5341_4D50_4C45;
const SPLIT: u64 = 0x0053_504C_4954;

/// Reads the consented rows, keeping the `max_rows` of smallest sample hash once there are more.
fn read(source: &DataSource, consent: &ConsentFilter, seed: u64, max_rows: u64) -> Result<(Vec<Part>, u64), RunError> {
    let mut parts: Vec<Part> = Vec::new();
    let mut held = 0u64;
    let mut seen = 0u64;
    for item in source.batches_with_origin() {
        crate::interrupt::check()?;
        let (origin, batch) = item?;
        let filtered = consent.apply(&batch)?;
        let rows: Vec<u64> = match &filtered.kept {
            None => (0..batch.num_rows() as u64).map(|i| origin.first_row + i).collect(),
            Some(mask) => mask.values().set_indices().map(|i| origin.first_row + i as u64).collect(),
        };
        seen += rows.len() as u64;
        held += rows.len() as u64;
        parts.push(Part { batch: filtered.batch, file: origin.file, rows });
        if held > max_rows.saturating_mul(2) {
            parts = sample(&parts, seed, max_rows)?;
            held = max_rows;
        }
    }
    if held > max_rows {
        parts = sample(&parts, seed, max_rows)?;
    }
    Ok((parts, seen))
}

/// The `keep` rows of smallest sample hash, in their input order.
fn sample(parts: &[Part], seed: u64, keep: u64) -> Result<Vec<Part>, RunError> {
    let mut hashes: Vec<u64> =
        parts.iter().flat_map(|p| p.rows.iter().map(|&r| row_hash(seed, SAMPLE, p.file, r))).collect();
    let keep = usize::try_from(keep).unwrap_or(usize::MAX).min(hashes.len());
    if keep == 0 {
        return Ok(Vec::new());
    }
    let (_, &mut threshold, _) = hashes.select_nth_unstable(keep - 1);
    let mut out = Vec::new();
    for part in parts {
        let chosen: Vec<u32> = (0..part.rows.len() as u32)
            .filter(|&i| row_hash(seed, SAMPLE, part.file, part.rows[i as usize]) <= threshold)
            .collect();
        if !chosen.is_empty() {
            out.push(part.take(&chosen)?);
        }
    }
    Ok(out)
}

/// The job as the evaluation runs it on the train part: no releases, no budget, no guardrail
/// (nothing is published).
fn train_job(job: &Job) -> Job {
    let mut job = job.clone();
    job.aggregates.clear();
    job.privacy.budget = None;
    job.privacy.max_unique_rows = None;
    job
}

/// The job that recodes the test part with the train part's decisions: frozen, k = 1 (every
/// class stays), unknown values to `*`, no other criterion.
fn test_job(job: &Job) -> Job {
    let mut job = train_job(job);
    let k = job.privacy.k_anonymity.as_ref();
    job.privacy.k_anonymity = Some(KAnonymity {
        k: K::recode_only(),
        suppression_limit: 0.0,
        suppressed_rows: SuppressedRows::Mask,
        metric: crate::job::Metric::Loss,
        algorithm: k.map_or(crate::job::Algorithm::Optimal, |k| k.algorithm),
        decisions: Some("(the utility evaluation's train part)".into()),
        unknown_values: crate::job::config::UnknownValues::Top,
        enforce_limit: false,
        target: None,
        classification_weight: 1.0,
    });
    job.privacy.l_diversity = None;
    job.privacy.t_closeness = None;
    job.privacy.fairness = None;
    job
}

/// Census, decisions, then every part applied.
fn anonymize(
    engine: &Engine,
    parts: &[Part],
    pool: &rayon::ThreadPool,
) -> Result<(Decisions, Vec<RecordBatch>), RunError> {
    let mut census = engine.empty_census();
    pool.install(|| parts.iter().try_for_each(|part| census.merge(engine.census_of(&part.batch)?)))?;
    let decisions = pool.install(|| engine.decide(&mut census))?;
    let outputs = pool.install(|| {
        parts
            .par_iter()
            .map(|p| engine.apply(&decisions, &p.batch, Rows { file: p.file, rows: &p.rows }).map(|a| a.batch))
            .collect::<Result<Vec<_>, _>>()
    })?;
    Ok((decisions, outputs))
}

/// One column's text over several batches (by name; `None` when absent).
fn text_of(batches: &[RecordBatch], name: &str) -> Option<Vec<StringArray>> {
    batches.iter().map(|b| b.schema().index_of(name).ok().and_then(|i| to_text(b.column(i)))).collect()
}

fn column_of(arrays: &[StringArray]) -> TextColumn {
    TextColumn::from_values(arrays.iter().flat_map(|a| (0..a.len()).map(move |i| (!a.is_null(i)).then(|| a.value(i)))))
}

/// A feature's columns in `batches`: the column itself, or its `_low` and `_high` bounds.
fn feature_columns(batches: &[RecordBatch], name: &str) -> Vec<TextColumn> {
    if let Some(arrays) = text_of(batches, name) {
        return vec![column_of(&arrays)];
    }
    ["low", "high"].iter().filter_map(|end| text_of(batches, &format!("{name}_{end}"))).map(|a| column_of(&a)).collect()
}

/// Runs the evaluation of `job` (which has `utility:`) over `source`.
///
/// # Errors
/// [`RunError`] when the input cannot be read, the target is unusable, or the train part
/// cannot be anonymized as the job asks.
pub fn evaluate(
    job: &Job,
    source: &DataSource,
    seed: Option<u64>,
    pool: &rayon::ThreadPool,
) -> Result<UtilitySummary, RunError> {
    let spec = job.utility.as_ref().ok_or_else(|| RunError::Internal("the job has no `utility`".into()))?;
    let started = Instant::now();
    let schema = source.schema();
    let key = plan::load_key(job)?;
    let noise_master = super::privacy_budget::noise_master(seed, &job.file_blake3)?;
    let consent = ConsentFilter::load(job.consent.as_ref(), &schema)?;

    let (parts, seen) = read(source, &consent, spec.seed, spec.max_rows)?;
    // Per row its target; the classes in value order.
    let targets: Vec<StringArray> =
        text_of(&parts.iter().map(|p| p.batch.clone()).collect::<Vec<_>>(), &spec.target)
            .ok_or_else(|| RunError::Utility(UtilityProblem::NoTarget { column: spec.target.clone() }))?;
    let mut classes: Vec<String> = targets
        .iter()
        .flat_map(|a| a.iter().flatten().map(str::to_string))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    classes.sort();
    if classes.len() > MAX_CLASSES {
        return Err(RunError::Utility(UtilityProblem::TooManyClasses {
            column: spec.target.clone(),
            classes: classes.len(),
        }));
    }
    if classes.len() < 2 {
        return Err(RunError::Utility(UtilityProblem::OneClass { column: spec.target.clone() }));
    }
    let class_of = |v: &str| classes.binary_search_by(|c| c.as_str().cmp(v)).map(|i| i as u32).ok();

    // The stratified split: per class, rows in hash order, the first `holdout` share held out.
    let mut by_class: Vec<Vec<(u64, usize, u32)>> = vec![Vec::new(); classes.len()];
    let mut unlabelled = 0u64;
    for (p, (part, target)) in parts.iter().zip(&targets).enumerate() {
        for i in 0..part.rows.len() {
            match (!target.is_null(i)).then(|| target.value(i)).and_then(class_of) {
                Some(c) => {
                    by_class[c as usize].push((row_hash(spec.seed, SPLIT, part.file, part.rows[i]), p, i as u32))
                }
                None => unlabelled += 1,
            }
        }
    }
    let mut held_out: Vec<Vec<bool>> = parts.iter().map(|p| vec![false; p.rows.len()]).collect();
    let mut labelled: Vec<Vec<bool>> = held_out.clone();
    for rows in &mut by_class {
        rows.sort_unstable();
        let test = (rows.len() as f64 * spec.holdout).round() as usize;
        for (n, &(_, p, i)) in rows.iter().enumerate() {
            held_out[p][i as usize] = n < test;
            labelled[p][i as usize] = true;
        }
    }
    let mut train = Vec::new();
    let mut test = Vec::new();
    for (p, part) in parts.iter().enumerate() {
        let pick = |want: bool| -> Vec<u32> {
            (0..part.rows.len() as u32)
                .filter(|&i| labelled[p][i as usize] && held_out[p][i as usize] == want)
                .collect()
        };
        let (train_rows, test_rows) = (pick(false), pick(true));
        if !train_rows.is_empty() {
            train.push(part.take(&train_rows)?);
        }
        if !test_rows.is_empty() {
            test.push(part.take(&test_rows)?);
        }
    }
    drop(parts);
    let rows_in = |ps: &[Part]| ps.iter().map(|p| p.rows.len() as u64).sum::<u64>();
    let (train_rows, test_rows) = (rows_in(&train), rows_in(&test));
    if train_rows == 0 || test_rows == 0 {
        return Err(RunError::Utility(UtilityProblem::TooFewRows { rows: train_rows + test_rows }));
    }

    // 2. The train part, anonymized as the job says.
    let train_job = train_job(job);
    let train_plan = plan::compile(&train_job, &schema, key.as_ref(), noise_master)?;
    let train_engine = Engine::from_parts(&train_job, train_plan, ConsentFilter::default(), noise_master, key.as_ref());
    let (decisions, train_out) = anonymize(&train_engine, &train, pool)
        .map_err(|e| RunError::Evaluation { part: "train", source: Box::new(e) })?;
    // Which train rows were suppressed, to line the output up with the input when they leave.
    let flags: Vec<BooleanArray> = match decisions.recoding() {
        Some(recoding) => {
            let mut flagging = recoding.clone();
            flagging.suppressed_rows = SuppressedRows::Flag;
            train
                .iter()
                .map(|p| flagging.apply(&p.batch).map(|r| r.flags.unwrap_or_else(|| vec![false; p.rows.len()].into())))
                .collect::<Result<_, _>>()?
        }
        None => train.iter().map(|p| vec![false; p.rows.len()].into()).collect(),
    };
    let removed = decisions.recoding().is_some_and(|r| r.suppressed_rows == SuppressedRows::Remove);

    // 3. The test part, recoded with the train part's decisions.
    let test_job = test_job(job);
    let test_plan = plan::compile_with(&test_job, &schema, key.as_ref(), noise_master, decisions.file.clone())?;
    let test_engine = Engine::from_parts(&test_job, test_plan, ConsentFilter::default(), noise_master, key.as_ref());
    let (_, test_out) =
        anonymize(&test_engine, &test, pool).map_err(|e| RunError::Evaluation { part: "test", source: Box::new(e) })?;

    // 4. Features and targets, in both forms.
    let features: Vec<String> = job
        .columns
        .iter()
        .filter(|c| c.name != spec.target && matches!(c.action, Action::Generalize(_) | Action::Keep { .. }))
        .filter(|c| schema.index_of(&c.name).is_ok())
        .map(|c| c.name.clone())
        .collect();
    let batches = |parts: &[Part]| parts.iter().map(|p| p.batch.clone()).collect::<Vec<_>>();
    let (train_in, test_in) = (batches(&train), batches(&test));
    let target_codes = |batches: &[RecordBatch]| -> Vec<u32> {
        text_of(batches, &spec.target)
            .unwrap_or_default()
            .iter()
            .flat_map(|a| (0..a.len()).map(|i| class_of(a.value(i)).unwrap_or(0)).collect::<Vec<_>>())
            .collect()
    };
    let dataset = |batches: &[RecordBatch]| Dataset {
        features: features.iter().flat_map(|f| feature_columns(batches, f)).collect(),
        target: target_codes(batches),
    };
    let sets = [(dataset(&train_in), dataset(&test_in)), (dataset(&train_out), dataset(&test_out))];
    if sets[1].0.rows() == 0 {
        return Err(RunError::Utility(UtilityProblem::TooFewRows { rows: 0 }));
    }
    let jobs: Vec<(Family, usize)> = Family::ALL.iter().flat_map(|&f| [(f, 0), (f, 1)]).collect();
    let predictions = pool
        .install(|| {
            jobs.par_iter()
                .map(|&(family, s)| utility::predict(family, &sets[s].0, &sets[s].1, classes.len(), spec.seed))
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| RunError::Utility(e.into()))?;
    let truth = &sets[0].1.target;
    let mut models = Vec::new();
    let mut guesses = Vec::new();
    for (f, family) in Family::ALL.iter().enumerate() {
        let original = utility::scores(&predictions[2 * f], truth, classes.len());
        let anonymized = utility::scores(&predictions[2 * f + 1], &sets[1].1.target, classes.len());
        let accuracy_loss_points = 100.0 * (original.accuracy - anonymized.accuracy);
        guesses.push((utility::predicted(&predictions[2 * f]), utility::predicted(&predictions[2 * f + 1])));
        models.push(ModelUtility { family: *family, original, anonymized, accuracy_loss_points });
    }
    let majority = {
        let mut counts = vec![0u64; classes.len()];
        for &c in &sets[0].0.target {
            counts[c as usize] += 1;
        }
        let top = (0..classes.len()).max_by_key(|&c| (counts[c], std::cmp::Reverse(c))).unwrap_or(0) as u32;
        truth.iter().filter(|&&t| t == top).count() as f64 / truth.len().max(1) as f64
    };

    // Distribution distances, on the train part's rows.
    let distances = features
        .iter()
        .map(|name| {
            let original = feature_columns(&train_in, name).into_iter().next().unwrap_or_default();
            let shown_columns = feature_columns(&train_out, name);
            let shown_text: Vec<Option<String>> = (0..shown_columns.first().map_or(0, TextColumn::len))
                .map(|i| {
                    let parts: Vec<&str> = shown_columns.iter().filter_map(|c| c.get(i)).collect();
                    (parts.len() == shown_columns.len()).then(|| parts.join(", "))
                })
                .collect();
            let mut next = 0;
            let shown: Vec<Option<Option<&str>>> = flags
                .iter()
                .flat_map(|f| (0..f.len()).map(move |i| f.value(i)))
                .map(|suppressed| {
                    if removed && suppressed {
                        return None;
                    }
                    let value = shown_text.get(next).map(Option::as_deref).unwrap_or(None);
                    next += 1;
                    Some(value)
                })
                .collect();
            (name.clone(), utility::total_variation(&original, &shown))
        })
        .collect();

    // k on the anonymized train part, counted from its output values (not from the search).
    let quasi: Vec<&str> =
        job.columns.iter().filter(|c| matches!(c.action, Action::Generalize(_))).map(|c| c.name.as_str()).collect();
    let shown: Vec<TextColumn> = quasi.iter().flat_map(|q| feature_columns(&train_out, q)).collect();
    let suppressed: Vec<bool> =
        flags.iter().flat_map(|f| (0..f.len()).map(move |i| f.value(i))).filter(|&s| !(removed && s)).collect();
    let mut classes_seen: std::collections::HashMap<Vec<u32>, u64> = std::collections::HashMap::new();
    for (i, &s) in suppressed.iter().enumerate() {
        if !s {
            *classes_seen.entry(shown.iter().map(|c| c.codes[i]).collect()).or_default() += 1;
        }
    }
    let train_smallest_class = classes_seen.values().copied().min().unwrap_or(0);

    // Accuracy per protected group, on the test rows.
    let k = job.privacy.k_anonymity.as_ref().map_or(5, |k| k.k.get());
    let protected: Vec<&str> = job
        .columns
        .iter()
        .filter(|c| c.protected || job.privacy.fairness.as_ref().is_some_and(|f| f.0.contains(&c.name)))
        .map(|c| c.name.as_str())
        .collect();
    let mut groups = Vec::new();
    for column in protected {
        let Some(arrays) = text_of(&test_in, column) else { continue };
        let values = column_of(&arrays);
        let mut rows = vec![0u64; values.values.len()];
        for &c in &values.codes {
            if let Some(r) = rows.get_mut(c as usize) {
                *r += 1;
            }
        }
        let mut named: Vec<usize> = (0..rows.len()).filter(|&v| rows[v] >= k).collect();
        named.sort_by(|&a, &b| values.values[a].cmp(&values.values[b]));
        let group_of = |i: usize| named.iter().position(|&v| v == values.codes[i] as usize).unwrap_or(named.len());
        for g in 0..=named.len() {
            let members: Vec<usize> = (0..values.len()).filter(|&i| group_of(i) == g).collect();
            if members.is_empty() {
                continue;
            }
            let accuracy = guesses
                .iter()
                .map(|(o, a)| {
                    let hit = |guess: &Vec<u32>| members.iter().filter(|&&i| guess[i] == truth[i]).count() as f64;
                    (hit(o) / members.len() as f64, hit(a) / members.len() as f64)
                })
                .collect();
            groups.push(GroupUtility {
                column: column.to_string(),
                group: named.get(g).map_or_else(|| "other".to_string(), |&v| values.values[v].clone()),
                rows: members.len() as u64,
                accuracy,
            });
        }
    }
    let privacy = decisions.privacy.as_ref();
    Ok(UtilitySummary {
        target: spec.target.clone(),
        holdout: spec.holdout,
        seed: spec.seed,
        rows: train_rows + test_rows,
        sampled_from: (seen > spec.max_rows).then_some(seen),
        unlabelled_rows: unlabelled,
        train_rows,
        test_rows,
        // A class held by fewer than k rows is not named (its label could single someone out).
        classes: classes
            .iter()
            .zip(&by_class)
            .map(
                |(label, rows)| {
                    if (rows.len() as u64) < k { format!("(a class of fewer than {k} rows)") } else { label.clone() }
                },
            )
            .collect(),
        features,
        majority_baseline: majority,
        train_suppressed_rows: privacy.map_or(0, |p| p.suppressed_rows),
        train_smallest_class,
        train_levels: privacy
            .map_or_else(Vec::new, |p| p.quasi_identifiers.iter().map(|q| (q.name.clone(), q.level)).collect()),
        models,
        distances,
        groups,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Why the evaluation cannot use the job's target.
#[derive(Debug, thiserror::Error)]
pub enum UtilityProblem {
    #[error("the utility target `{column}` is not a column of the input")]
    NoTarget { column: String },
    #[error(
        "the utility target `{column}` has {classes} distinct values; the evaluation classifies, and takes at most {MAX_CLASSES}"
    )]
    TooManyClasses { column: String, classes: usize },
    #[error("the utility target `{column}` holds a single value (or none); there is nothing to predict")]
    OneClass { column: String },
    #[error("the utility evaluation has {rows} rows to train and test on; it needs rows in both parts")]
    TooFewRows { rows: u64 },
    #[error(transparent)]
    Model(#[from] utility::UtilityError),
}
