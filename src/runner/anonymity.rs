//! The dataset-wide part of a run: one streaming, parallel statistics pass builds the
//! frequency table of the quasi-identifiers (`generalize` columns) and sensitive columns; the
//! hierarchies are compiled over the values seen; the k-anonymity search (or Mondrian) picks
//! the transformation; the returned [`Recoding`] is applied batch by batch in the output pass.

use crate::actions::generalize::LabelFormat;
use crate::job::{Action, Algorithm, Hierarchy, Job, Metric, SuppressedRows};
use crate::plan::Plan;
use crate::privacy::decisions::{
    CriteriaRecord, DecisionsFile, HierarchySpec, JobRef, LRecord, QuasiDecision, SplitTree,
};
use crate::privacy::hierarchy::{Generalization, HierarchyError};
use crate::privacy::mondrian::{self, Dimension};
use crate::privacy::recode::{BoundsKind, PartitionLabels, RecodedColumn, Recoding, Scheme};
use crate::privacy::risk::Risk;
use crate::privacy::search::{Criteria, Fairness, GroupRatio, Metrics, Problem, SearchError, Sensitive, Target};
use crate::privacy::table::{CanonicalTable, Column, FrequencyTable};
use crate::transform::Kernel;
use arrow::datatypes::DataType;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

/// Why the privacy target cannot be met or searched for. Never carries a data value.
#[derive(Debug, thiserror::Error)]
pub enum AnonymityError {
    #[error(transparent)]
    Hierarchy(#[from] HierarchyError),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(
        "no transformation meets {target} with at most {allowed} of {rows} rows suppressed \
         (suppression_limit {limit}); {failed}; the best k reachable within the limit is {best_k}; nothing was written"
    )]
    Unreachable { target: String, allowed: u64, rows: u64, limit: f64, failed: String, best_k: u64 },
    #[error("`algorithm: mondrian` chooses its own partitions: remove the pinned `level` of column `{column}`")]
    MondrianPinned { column: String },
    #[error("the input has no rows left after the consent filter; there is nothing to anonymize")]
    Empty,
    #[error(
        "no transformation within the suppression limit meets `privacy.fairness` (max_suppression_ratio {limit}): \
         {column}: a group of {rows} rows would be suppressed {ratio:.2} times the base share at best; nothing was written"
    )]
    Unfair { column: String, rows: u64, ratio: f64, limit: f64 },
    #[error(
        "the frozen decisions of run {run_id} leave {suppressed} of {rows} rows in classes that miss {target}; \
         at most {allowed} may be suppressed (suppression_limit {limit}); nothing was written"
    )]
    FrozenMissed { run_id: String, target: String, suppressed: u64, allowed: u64, rows: u64, limit: f64 },
    #[error(
        "column `{column}`: {rows} rows hold values outside the ranges of the partitions the decisions route them to"
    )]
    NotCovered { column: String, rows: u64 },
}

pub use crate::record::{
    FrozenFrom, PrivacySummary, ProtectedColumn, ProtectedGroup, QuasiIdentifierSummary, SensitiveEffect,
};

#[derive(Debug, Clone)]
struct QuasiIdentifier {
    name: String,
    input_index: usize,
    input_type: String,
    hierarchy: Option<Hierarchy>,
    pinned: Option<u32>,
    /// `format: bounds`, with the kind of the column's values.
    bounds: Option<BoundsKind>,
    /// `weight` in loss, precision and entropy.
    weight: f64,
}

/// Decisions reused from an earlier run (`privacy.k_anonymity.decisions`).
#[derive(Debug, Clone)]
struct Frozen {
    path: std::path::PathBuf,
    file: std::sync::Arc<DecisionsFile>,
    unknown_top: bool,
}

/// The number of transformations the search would consider: the product of each quasi-
/// identifier's levels (a pinned column counts once). Reads hierarchy files, not data.
///
/// # Errors
/// An unreadable hierarchy file.
pub fn lattice_size(job: &Job, plan: &Plan) -> Result<Option<u64>, super::RunError> {
    if !needed(plan) {
        return Ok(None);
    }
    let mut size = 1u64;
    for step in plan.steps.iter().filter(|s| matches!(s.output, Some((Kernel::Recoded, _)))) {
        if let Some(Action::Generalize(g)) = job.column(&step.name).map(|c| &c.action) {
            let levels = crate::privacy::hierarchy::levels_of(g.hierarchy.as_ref()).map_err(AnonymityError::from)?;
            let choices = if g.level.is_some() { 1 } else { u64::from(levels) + 1 };
            size = size.saturating_mul(choices);
        }
    }
    Ok(Some(size))
}

/// Whether a plan has dataset-wide work.
pub fn needed(plan: &Plan) -> bool {
    plan.steps.iter().any(|s| matches!(s.output, Some((Kernel::Recoded, _))))
}

/// The columns a job's dataset-wide step reads: its quasi-identifiers and, when l-diversity or
/// t-closeness is asked for, its sensitive columns.
#[derive(Debug, Clone)]
pub struct Setup {
    quasi: Vec<QuasiIdentifier>,
    /// (name, input index, ordered) of each sensitive column.
    sensitive: Vec<(String, usize, bool)>,
    /// Whether l-diversity or t-closeness is checked over the sensitive columns.
    diversity: bool,
    frozen: Option<Frozen>,
    /// (name, input index) of each protected column: counted per combination after the
    /// sensitive columns, in the table's histograms.
    protected: Vec<(String, usize)>,
    /// (name, input index) of `k_anonymity.target` (`metric: classification`), counted after
    /// the protected columns.
    target: Option<(String, usize)>,
}

impl Setup {
    /// The setup of `plan`, or `None` when it has no dataset-wide work.
    pub fn of(job: &Job, plan: &Plan) -> Option<Self> {
        if !needed(plan) {
            return None;
        }
        let quasi: Vec<QuasiIdentifier> = plan
            .steps
            .iter()
            .filter(|s| matches!(s.output, Some((Kernel::Recoded, _))))
            .filter_map(|s| match job.column(&s.name).map(|c| &c.action) {
                Some(Action::Generalize(g)) => Some(QuasiIdentifier {
                    name: s.name.clone(),
                    input_index: s.input_index,
                    input_type: s.input_type.to_string(),
                    hierarchy: g.hierarchy.clone(),
                    pinned: g.level,
                    weight: g.weight,
                    bounds: g.bounds.then(|| match &s.input_type {
                        t if t.is_integer() => BoundsKind::Integer,
                        DataType::Date32 | DataType::Date64 => BoundsKind::Date,
                        _ => BoundsKind::Float,
                    }),
                }),
                _ => None,
            })
            .collect();
        let diversity = job.privacy.l_diversity.is_some() || job.privacy.t_closeness.is_some();
        // Sensitive columns are counted per class even without l-diversity or t-closeness:
        // the summary says what suppression took from them.
        let sensitive = plan
            .steps
            .iter()
            .filter(|s| matches!(job.column(&s.name).map(|c| &c.action), Some(Action::Keep { sensitive: true })))
            .map(|s| {
                let ordered = s.input_type.is_numeric() || matches!(s.input_type, DataType::Date32 | DataType::Date64);
                (s.name.clone(), s.input_index, ordered)
            })
            .collect();
        let frozen = plan.frozen.as_ref().and_then(|file| {
            let k = job.privacy.k_anonymity.as_ref()?;
            Some(Frozen {
                path: k.decisions.clone()?,
                file: file.clone(),
                unknown_top: k.unknown_values == crate::job::config::UnknownValues::Top,
            })
        });
        let fairness_columns = job.privacy.fairness.as_ref().map(|f| f.0.clone()).unwrap_or_default();
        let protected = plan
            .steps
            .iter()
            .filter(|s| job.column(&s.name).is_some_and(|c| c.protected) || fairness_columns.contains(&s.name))
            .map(|s| (s.name.clone(), s.input_index))
            .collect();
        let target = job
            .privacy
            .k_anonymity
            .as_ref()
            .filter(|k| k.metric == Metric::Classification)
            .and_then(|k| k.target.as_ref())
            .and_then(|t| plan.steps.iter().find(|s| &s.name == t))
            .map(|s| (s.name.clone(), s.input_index));
        Some(Self { quasi, sensitive, diversity, frozen, protected, target })
    }

    /// The quasi-identifiers (name, input index), in recoding order.
    pub fn quasi_identifiers(&self) -> Vec<(&str, usize)> {
        self.quasi.iter().map(|q| (q.name.as_str(), q.input_index)).collect()
    }

    /// The input columns [`Setup::table_of`] reads: quasi-identifiers, then the sensitive,
    /// protected and target columns.
    pub fn columns(&self) -> impl Iterator<Item = usize> + '_ {
        let quasi = self.quasi.iter().map(|q| q.input_index);
        let sensitive = self.sensitive.iter().map(|(_, i, _)| *i);
        let counted = self.protected.iter().chain(&self.target).map(|(_, i)| *i);
        quasi.chain(sensitive).chain(counted)
    }

    /// An empty frequency table of these columns (its shape is what a census must have).
    pub fn empty_table(&self) -> FrequencyTable {
        FrequencyTable::new(
            self.quasi.len(),
            self.sensitive.len() + self.protected.len() + usize::from(self.target.is_some()),
        )
    }

    /// The frequency table of one batch (already through the consent filter).
    ///
    /// # Errors
    /// A column without a text form.
    pub fn table_of(&self, batch: &arrow::array::RecordBatch) -> Result<FrequencyTable, super::RunError> {
        // Integer and date columns are counted by value: no per-row text.
        let column = |index: usize, name: &str| -> Result<Column, super::RunError> {
            Column::of(batch.column(index)).ok_or_else(|| {
                super::RunError::Transform(crate::transform::TransformError::NoText {
                    column: name.to_string(),
                    action: "generalize",
                })
            })
        };
        let q = self.quasi.iter().map(|q| column(q.input_index, &q.name)).collect::<Result<Vec<_>, _>>()?;
        let s = self
            .sensitive
            .iter()
            .map(|(n, i, _)| column(*i, n))
            .chain(self.protected.iter().map(|(n, i)| column(*i, n)))
            .chain(self.target.iter().map(|(n, i)| column(*i, n)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FrequencyTable::from_columns(&q, &s))
    }
}

/// What [`decide`] returns: the recoding for the output pass, what it guarantees, and the
/// decisions file to write beside the output (its `run_id` is the caller's to fill in).
pub type Decided = (Recoding, PrivacySummary, DecisionsFile);

/// One way of recoding, however it was chosen.
struct Chosen {
    scheme: Scheme,
    levels: Vec<Option<u32>>,
    suppressed: u64,
    classes: u64,
    metrics: Metrics,
    column_losses: Vec<f64>,
    /// Transformations: in the lattice, checked, tagged by monotonicity, pruned by bounds.
    nodes: [usize; 4],
    class_sizes: Vec<u64>,
    /// Per combination of `problem.combos`: its output class, `None` when suppressed.
    class_of: Vec<Option<usize>>,
    /// Per combination: the loss of each of its rows (1 when suppressed).
    row_loss: Vec<f64>,
    tree: Option<SplitTree>,
}

/// From the frequency table of the whole input (canonical: see
/// [`FrequencyTable::canonical`]) to the recoding and what it guarantees: hierarchies compiled
/// over the values seen, then the optimal search or Mondrian (or an earlier run's frozen
/// decisions, checked on this data), on the current rayon pool. `started` is when the caller
/// began putting the table in canonical order: the reported search time counts from there.
///
/// # Errors
/// [`super::RunError`] for uncovered values or an unreachable target.
pub fn decide(job: &Job, setup: &Setup, table: &CanonicalTable, started: Instant) -> Result<Decided, super::RunError> {
    let Setup { quasi, sensitive, diversity, frozen, protected, target: target_column } = setup;
    let k_anonymity = job.privacy.k_anonymity.as_ref();
    if table.rows == 0 {
        return Err(AnonymityError::Empty.into());
    }
    let marginals = table.marginals();
    // Frozen decisions bring their own hierarchies (the plan checked they are the job's).
    let specs: Vec<HierarchySpec> = quasi
        .iter()
        .map(|q| match frozen.as_ref().and_then(|f| f.file.quasi(&q.name)) {
            Some(decided) => Ok(decided.hierarchy.clone()),
            None => HierarchySpec::embed(q.hierarchy.as_ref()),
        })
        .collect::<Result<_, HierarchyError>>()
        .map_err(AnonymityError::from)?;
    let unknown_top = frozen.as_ref().is_some_and(|f| f.unknown_top);
    let generalizations = quasi
        .iter()
        .zip(&specs)
        .enumerate()
        .map(|(c, (q, spec))| {
            let hierarchy = spec.to_hierarchy();
            let g = Generalization::build_with(
                &q.name,
                hierarchy.as_ref(),
                table.quasi[c].values(),
                &marginals[c],
                unknown_top,
            )?;
            if let Some(level) = q.pinned {
                g.check_level(level)?;
            }
            Ok(g)
        })
        .collect::<Result<Vec<_>, HierarchyError>>()
        .map_err(AnonymityError::from)?;
    let sensitive_columns: Vec<Sensitive> = sensitive
        .iter()
        .enumerate()
        .map(|(s, (name, _, ordered))| sensitive_column(table, s, name, *ordered))
        .collect();

    let criteria = match k_anonymity {
        Some(k) => Criteria {
            k: k.k.get(),
            suppression_limit: k.suppression_limit,
            l_diversity: job.privacy.l_diversity.as_ref().map(|l| (l.l, l.variant)),
            t_closeness: job.privacy.t_closeness,
        },
        // Pinned levels only: every row stays.
        None => Criteria { k: 1, suppression_limit: 0.0, l_diversity: None, t_closeness: None },
    };
    let metric = k_anonymity.map_or(Metric::Loss, |k| k.metric);
    let algorithm = match frozen {
        Some(f) => f.file.algorithm,
        None => k_anonymity.map_or(Algorithm::Optimal, |k| k.algorithm),
    };
    let suppressed_rows_mode = k_anonymity.map_or(SuppressedRows::Mask, |k| k.suppressed_rows);
    let frozen_levels: Option<Vec<u32>> = frozen
        .as_ref()
        .filter(|f| f.file.algorithm == Algorithm::Optimal)
        .map(|f| quasi.iter().map(|q| f.file.quasi(&q.name).and_then(|d| d.level).unwrap_or(0)).collect());
    let pinned: Vec<Option<u32>> = match &frozen_levels {
        Some(levels) => levels.iter().map(|&l| Some(l)).collect(),
        None => quasi.iter().map(|q| q.pinned).collect(),
    };
    // The search's time counts from the caller's `started`, before the census's table was put in
    // key order: the sort, compiling the hierarchies over the values seen, setting up the
    // problem, the search and the chosen node's classes.
    let checked = if *diversity { sensitive_columns } else { Vec::new() };
    let mut problem = Problem::new(&generalizations, pinned.clone(), table, criteria.clone(), checked, metric)
        .map_err(AnonymityError::from)?;
    problem.weights = quasi.iter().map(|q| q.weight).collect();
    if target_column.is_some() {
        problem.target = Some(Target {
            slot: sensitive.len() + protected.len(),
            weight: k_anonymity.map_or(1.0, |k| k.classification_weight),
        });
    }
    // `privacy.fairness`: its columns' groups, counted in the table after the sensitive ones.
    let mut fairness_names = Vec::new();
    if let Some((names, ratio)) = &job.privacy.fairness {
        let mut columns = Vec::new();
        let mut group_rows = Vec::new();
        for (i, (name, _)) in protected.iter().enumerate().filter(|(_, (n, _))| names.contains(n)) {
            let slot = sensitive.len() + i;
            let groups = groups_of(table, slot, criteria.k);
            columns.push((slot, groups.group_of));
            group_rows.push(groups.rows);
            fairness_names.push(name.clone());
        }
        problem.fairness = Some(Fairness { ratio: *ratio, columns, group_rows });
    }
    let unfair = |w: GroupRatio| AnonymityError::Unfair {
        column: fairness_names.get(w.column).cloned().unwrap_or_default(),
        rows: w.rows,
        ratio: w.ratio,
        limit: job.privacy.fairness.as_ref().map_or(0.0, |f| f.1),
    };
    let risk_before = Risk::of_sizes(table.combos.iter().map(|(_, e)| e.count));

    let columns: Vec<RecodedColumn> = quasi
        .iter()
        .zip(&generalizations)
        .zip(&table.quasi)
        .map(|((q, g), d)| RecodedColumn {
            name: q.name.clone(),
            input_index: q.input_index,
            generalization: g.clone(),
            dictionary: d.clone(),
            bounds: q.bounds,
        })
        .collect();
    let target = describe_target(&criteria);
    let enforce = k_anonymity.is_none_or(|k| k.enforce_limit);
    let dimensions: Vec<Dimension> = specs.iter().zip(&table.quasi).map(|(h, d)| dimension(h, d.values())).collect();
    let chosen = match (frozen, algorithm) {
        (Some(f), Algorithm::Mondrian) => {
            let tree = f.file.partitions.clone().ok_or_else(|| super::RunError::Internal("no split tree".into()))?;
            let chosen = frozen_partitions(&problem, &dimensions, &specs, tree, unknown_top)?;
            check_frozen(f, &problem, &target, chosen.suppressed, enforce)?;
            chosen
        }
        (_, Algorithm::Mondrian) => {
            if let Some(q) = quasi.iter().find(|q| q.pinned.is_some()) {
                return Err(AnonymityError::MondrianPinned { column: q.name.clone() }.into());
            }
            let Some(partitioning) = mondrian::partition(&problem, &dimensions) else {
                // Mondrian suppresses nothing: the best it can do is the whole table as one class.
                return Err(unreachable(&problem, &criteria, target, problem.rows).into());
            };
            // Partitions that print the same labels are one class in the output.
            let mut by_labels: BTreeMap<&[Option<Arc<str>>], usize> = BTreeMap::new();
            let mut sizes = Vec::new();
            let mut class_of = vec![None; problem.combos.len()];
            let mut row_loss = vec![0.0; problem.combos.len()];
            let losses = mondrian::part_losses(&problem, &dimensions, &partitioning.partitions);
            for ((p, labels), loss) in partitioning.partitions.iter().zip(&partitioning.labels).zip(losses) {
                let next = by_labels.len();
                let class = *by_labels.entry(labels).or_insert(next);
                if class == sizes.len() {
                    sizes.push(0);
                }
                for &i in p {
                    sizes[class] += problem.combos[i].1.count;
                    class_of[i] = Some(class);
                    row_loss[i] = loss;
                }
            }
            Chosen {
                scheme: Scheme::Partitions { labels: partitioning.label_map(&problem) },
                levels: vec![None; quasi.len()],
                suppressed: 0,
                classes: sizes.len() as u64,
                metrics: partitioning.metrics,
                column_losses: partitioning.column_losses.clone(),
                nodes: [1, 1, 0, 0],
                class_sizes: sizes,
                class_of,
                row_loss,
                tree: Some(partitioning.tree),
            }
        }
        (_, Algorithm::Optimal) => {
            let (best, nodes, known) = match (&frozen_levels, frozen) {
                (Some(levels), Some(f)) => {
                    let classes = problem.classes_from_table(levels);
                    let evaluation = problem.evaluate(levels, &classes);
                    check_frozen(f, &problem, &target, evaluation.suppressed_rows, enforce)?;
                    if let (Some(fair), Some(w)) = (&problem.fairness, evaluation.worst_group)
                        && enforce
                        && w.ratio > fair.ratio * (1.0 + 1e-12)
                    {
                        return Err(unfair(w).into());
                    }
                    (evaluation, [1, 1, 0, 0], Some(classes))
                }
                _ => {
                    let outcome = problem.search();
                    crate::interrupt::check()?;
                    let Some(best) = outcome.best else {
                        // Within the suppression limit somewhere, but never fair enough.
                        if let Some(w) = outcome.fairest.filter(|_| problem.fairness.is_some()) {
                            return Err(unfair(w).into());
                        }
                        let best_k = problem.best_reachable_k();
                        return Err(unreachable(&problem, &criteria, target, best_k).into());
                    };
                    (best, [outcome.nodes, outcome.computed, outcome.tagged, outcome.pruned], outcome.best_classes)
                }
            };
            let classes = known.unwrap_or_else(|| problem.classes_from_table(&best.levels));
            let mut kept = std::collections::HashSet::default();
            let mut index: std::collections::HashMap<u128, usize, crate::privacy::FxBuildHasher> = Default::default();
            let mut sizes = Vec::new();
            for (i, &key) in classes.keys.iter().enumerate() {
                if problem.class_stays(&classes, i) {
                    kept.insert(key);
                    index.insert(key, sizes.len());
                    sizes.push(classes.counts[i]);
                }
            }
            // Per column, every leaf's group at the chosen level (in place in a class key) and
            // its weighted loss: each combination is then one lookup per column.
            let shifts = problem.shifts();
            let weights = &problem.weights;
            let columns = weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
            let per_leaf: Vec<(Vec<u128>, Vec<f64>)> = generalizations
                .iter()
                .enumerate()
                .map(|(c, g)| {
                    (0..g.groups(0) as u32)
                        .map(|leaf| {
                            let group = g.lift(leaf, 0, best.levels[c]);
                            (u128::from(group) << shifts[c], weights[c] * g.loss(best.levels[c], group))
                        })
                        .unzip()
                })
                .collect();
            let (class_of, row_loss): (Vec<Option<usize>>, Vec<f64>) = problem
                .combos
                .par_iter()
                .map(|(leaves, _)| {
                    let key =
                        leaves.iter().zip(&per_leaf).fold(0u128, |key, (&leaf, (group, _))| key | group[leaf as usize]);
                    match index.get(&key) {
                        None => (None, 1.0),
                        Some(&class) => {
                            let loss =
                                leaves.iter().zip(&per_leaf).map(|(&leaf, (_, loss))| loss[leaf as usize]).sum::<f64>();
                            (Some(class), loss / columns)
                        }
                    }
                })
                .unzip();
            Chosen {
                metrics: problem.metrics(&best.levels, &classes, None),
                column_losses: problem.column_losses(&best.levels, &classes),
                scheme: Scheme::FullDomain {
                    levels: best.levels.clone(),
                    kept: k_anonymity.is_some().then_some(kept),
                    shifts: shifts.to_vec(),
                },
                levels: best.levels.iter().map(|&l| Some(l)).collect(),
                suppressed: best.suppressed_rows,
                classes: best.classes,
                nodes,
                class_sizes: sizes,
                class_of,
                row_loss,
                tree: None,
            }
        }
    };
    let search_seconds = started.elapsed().as_secs_f64();
    let smallest_class = chosen.class_sizes.iter().copied().min().unwrap_or(0);
    let shown_from = k_anonymity.map_or(5, |k| k.k.get());
    let sensitive_effects = sensitive
        .iter()
        .enumerate()
        .map(|(s, (name, _, _))| effect(&problem, table, s, name, &chosen.class_of, shown_from))
        .collect();
    let protected_groups = protected
        .iter()
        .enumerate()
        .map(|(i, (name, _))| {
            protected_column(&problem, table, sensitive.len() + i, name, &chosen.class_of, &chosen.row_loss, criteria.k)
        })
        .collect();
    let mut after = chosen.class_sizes.clone();
    if suppressed_rows_mode != SuppressedRows::Remove {
        after.push(chosen.suppressed);
    }
    let decisions_file = DecisionsFile {
        format: crate::privacy::decisions::FORMAT.into(),
        version: crate::privacy::decisions::VERSION,
        job: JobRef { name: job.name.clone(), blake3: job.file_blake3.clone() },
        run_id: String::new(),
        algorithm,
        criteria: CriteriaRecord {
            k: criteria.k,
            suppression_limit: criteria.suppression_limit,
            l_diversity: criteria.l_diversity.map(|(l, variant)| LRecord { l, variant }),
            t_closeness: criteria.t_closeness,
        },
        suppressed_rows: suppressed_rows_mode,
        unlisted_columns: job.unlisted_columns,
        quasi_identifiers: quasi
            .iter()
            .zip(&specs)
            .zip(&generalizations)
            .zip(&chosen.levels)
            .map(|(((q, spec), g), level)| QuasiDecision {
                name: q.name.clone(),
                input_type: q.input_type.clone(),
                hierarchy: spec.clone(),
                max_level: g.max_level,
                level: *level,
                format: if q.bounds.is_some() { LabelFormat::Bounds } else { LabelFormat::Label },
            })
            .collect(),
        sensitive: sensitive.iter().map(|s| s.0.clone()).collect(),
        kept: job
            .columns
            .iter()
            .filter(|c| matches!(c.action, Action::Keep { sensitive: false }))
            .map(|c| c.name.clone())
            .collect(),
        partitions: chosen.tree,
        frozen_from: frozen.as_ref().map(|f| f.file.frozen_from.clone().unwrap_or_else(|| f.file.run_id.clone())),
    };
    let summary = PrivacySummary {
        algorithm,
        k: k_anonymity.map(|k| k.k.get()),
        smallest_class,
        l_diversity: job.privacy.l_diversity.as_ref().map(|l| format!("{} ({:?})", l.l, l.variant).to_lowercase()),
        t_closeness: job.privacy.t_closeness,
        suppression_limit: criteria.suppression_limit,
        suppressed_rows_mode,
        rows: table.rows,
        suppressed_rows: chosen.suppressed,
        classes: chosen.classes,
        quasi_identifiers: quasi
            .iter()
            .zip(&generalizations)
            .zip(&chosen.levels)
            .zip(chosen.column_losses)
            .map(|(((q, g), level), loss)| QuasiIdentifierSummary {
                name: q.name.clone(),
                level: *level,
                max_level: g.max_level,
                pinned: q.pinned.is_some(),
                loss,
            })
            .collect(),
        sensitive: sensitive.iter().map(|s| s.0.clone()).collect(),
        metric,
        metrics: chosen.metrics,
        lattice_nodes: chosen.nodes[0],
        nodes_computed: chosen.nodes[1],
        nodes_tagged: chosen.nodes[2],
        nodes_pruned: chosen.nodes[3],
        search_seconds,
        risk_before,
        risk_after: Risk::of_sizes(after),
        protected_groups,
        fairness: job.privacy.fairness.as_ref().map(|f| f.1),
        frozen: frozen.as_ref().map(|f| FrozenFrom {
            path: f.path.display().to_string(),
            run_id: decisions_file.frozen_from.clone().unwrap_or_default(),
        }),
        sensitive_effects,
    };
    Ok((Recoding { columns, scheme: chosen.scheme, suppressed_rows: suppressed_rows_mode }, summary, decisions_file))
}

/// Frozen decisions on new data: suppression beyond the job's limit fails the run.
fn check_frozen(
    frozen: &Frozen,
    problem: &Problem<'_>,
    target: &str,
    suppressed: u64,
    enforce: bool,
) -> Result<(), AnonymityError> {
    let allowed = problem.allowed_suppression();
    if enforce && suppressed > allowed {
        return Err(AnonymityError::FrozenMissed {
            run_id: frozen.file.frozen_from.clone().unwrap_or_else(|| frozen.file.run_id.clone()),
            target: target.to_string(),
            suppressed,
            allowed,
            rows: problem.rows,
            limit: problem.criteria.suppression_limit,
        });
    }
    Ok(())
}

/// Routes every combination of the new data through an earlier Mondrian run's split tree, and
/// labels it as that run's partition does: a categorical value by its group at the partition's
/// level, a number or date by the partition's bounds (a value outside them is not covered).
/// Classes (by labels) below k or failing the other criteria are suppressed.
fn frozen_partitions(
    problem: &Problem<'_>,
    dimensions: &[Dimension],
    specs: &[HierarchySpec],
    tree: SplitTree,
    unknown_top: bool,
) -> Result<Chosen, super::RunError> {
    use crate::privacy::decisions::{PartitionColumn, SplitNode, Threshold};
    let columns = problem.columns;
    // Thresholds parsed once per node.
    let numbers: Vec<f64> = tree
        .nodes
        .iter()
        .map(|n| match n {
            SplitNode::Split { column, at: Threshold::Value(v), .. } => specs[*column].number(v).unwrap_or(f64::NAN),
            _ => f64::NAN,
        })
        .collect();
    // Per partition node and column: the bounds and their label.
    type Bounds = Option<(f64, f64, Arc<str>)>;
    let bounds: Vec<Vec<Bounds>> = tree
        .nodes
        .iter()
        .map(|n| match n {
            SplitNode::Partition { columns: parts } => parts
                .iter()
                .zip(specs)
                .map(|(p, spec)| match p {
                    PartitionColumn::Bounds { low, high } => Some((
                        spec.number(low).unwrap_or(f64::NAN),
                        spec.number(high).unwrap_or(f64::NAN),
                        Arc::from(mondrian::bounds_label(low, high)),
                    )),
                    _ => None,
                })
                .collect(),
            SplitNode::Split { .. } => Vec::new(),
        })
        .collect();
    let star: Arc<str> = Arc::from(crate::privacy::hierarchy::SUPPRESSED);
    let mut uncovered = vec![0u64; columns.len()];
    let mut labels_of: Vec<Vec<Option<Arc<str>>>> = Vec::with_capacity(problem.combos.len());
    for (leaves, entry) in problem.combos {
        let value = |c: usize| match &dimensions[c] {
            Dimension::Numeric(values) => values[leaves[c] as usize],
            Dimension::Categorical { .. } => f64::NAN,
        };
        let node = tree.route(|node, c, at| match at {
            Threshold::Value(_) => value(c) <= numbers[node],
            Threshold::Path(p) => mondrian::path(&columns[c], leaves[c], p.len() as u32).as_slice() <= p.as_slice(),
        });
        let SplitNode::Partition { columns: parts } = &tree.nodes[node] else {
            return Err(super::RunError::Internal("the split tree ended on a split".into()));
        };
        let mut labels = Vec::with_capacity(columns.len());
        for (c, part) in parts.iter().enumerate() {
            let g = &columns[c];
            let leaf = leaves[c];
            let label = match part {
                PartitionColumn::Level { level } => g.label(*level, g.lift(leaf, 0, *level)).cloned(),
                PartitionColumn::Null | PartitionColumn::Bounds { .. } => {
                    let v = value(c);
                    let is_null = g.label(0, leaf).is_none();
                    match &bounds[node][c] {
                        // A null in a partition with bounds carries its label, as in the run.
                        Some((low, high, label)) if is_null || (*low <= v && v <= *high) => Some(label.clone()),
                        None if is_null => None,
                        _ if unknown_top => Some(star.clone()),
                        _ => {
                            uncovered[c] += entry.count;
                            None
                        }
                    }
                }
            };
            labels.push(label);
        }
        labels_of.push(labels);
    }
    if let Some(c) = uncovered.iter().position(|&n| n > 0) {
        return Err(AnonymityError::NotCovered { column: columns[c].column.clone(), rows: uncovered[c] }.into());
    }
    // Classes by labels, in first-seen order over the sorted combinations.
    let mut index: std::collections::HashMap<&[Option<Arc<str>>], usize> = std::collections::HashMap::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for (i, labels) in labels_of.iter().enumerate() {
        let next = members.len();
        let class = *index.entry(labels.as_slice()).or_insert(next);
        if class == members.len() {
            members.push(Vec::new());
        }
        members[class].push(i);
    }
    let mut class_of = vec![None; problem.combos.len()];
    let mut row_loss = vec![1.0; problem.combos.len()];
    let mut sizes = Vec::new();
    let mut kept_parts = Vec::new();
    let mut labels = PartitionLabels::default();
    let mut suppressed = 0;
    for part in members {
        let rows: u64 = part.iter().map(|&i| problem.combos[i].1.count).sum();
        if mondrian::allowed(problem, &part) {
            for &i in &part {
                class_of[i] = Some(sizes.len());
                labels.insert(Box::from(&problem.combos[i].0[..]), labels_of[i].clone());
            }
            sizes.push(rows);
            kept_parts.push(part);
        } else {
            suppressed += rows;
        }
    }
    for (part, loss) in kept_parts.iter().zip(mondrian::part_losses(problem, dimensions, &kept_parts)) {
        for &i in part {
            row_loss[i] = loss;
        }
    }
    let (metrics, column_losses) = mondrian::metrics(problem, dimensions, &kept_parts);
    Ok(Chosen {
        scheme: Scheme::Partitions { labels },
        levels: vec![None; columns.len()],
        suppressed,
        classes: sizes.len() as u64,
        metrics,
        column_losses,
        nodes: [1, 1, 0, 0],
        class_sizes: sizes,
        class_of,
        row_loss,
        tree: Some(tree),
    })
}

/// A protected column's groups: value id → group (values held by fewer than `k` rows share
/// the last group, "other"), and rows per group.
struct Groups {
    group_of: Vec<u32>,
    rows: Vec<u64>,
    /// The value id of each named group (the last group, when it holds small values, has none).
    named: Vec<u32>,
    /// How many values the "other" group holds.
    other_values: u64,
}

fn groups_of(table: &CanonicalTable, slot: usize, k: u64) -> Groups {
    let values = table.sensitive[slot].len();
    let mut rows = vec![0u64; values];
    for (_, entry) in &table.combos {
        for &(id, n) in &entry.sensitive[slot] {
            rows[id as usize] += n;
        }
    }
    let named: Vec<u32> = (0..values as u32).filter(|&id| rows[id as usize] >= k.max(1)).collect();
    let other = named.len() as u32;
    let mut group_of = vec![other; values];
    for (g, &id) in named.iter().enumerate() {
        group_of[id as usize] = g as u32;
    }
    let mut group_rows = vec![0u64; named.len() + 1];
    for (id, &n) in rows.iter().enumerate() {
        group_rows[group_of[id] as usize] += n;
    }
    let other_values = (values - named.len()) as u64;
    if other_values == 0 {
        group_rows.pop();
    }
    Groups { group_of, rows: group_rows, named, other_values }
}

/// What de-identification did to each group of a protected column: rows, rows suppressed and
/// their share, the mean loss of its rows; groups suppressed more than twice the overall share
/// are flagged.
fn protected_column(
    problem: &Problem<'_>,
    table: &CanonicalTable,
    slot: usize,
    name: &str,
    class_of: &[Option<usize>],
    row_loss: &[f64],
    k: u64,
) -> ProtectedColumn {
    let groups = groups_of(table, slot, k);
    let mut suppressed = vec![0u64; groups.rows.len()];
    let mut loss = vec![0.0f64; groups.rows.len()];
    for (((_, entry), class), &l) in problem.combos.iter().zip(class_of).zip(row_loss) {
        for &(id, n) in &entry.sensitive[slot] {
            let g = groups.group_of[id as usize] as usize;
            if class.is_none() {
                suppressed[g] += n;
            }
            loss[g] += l * n as f64;
        }
    }
    let total: u64 = groups.rows.iter().sum();
    let overall = suppressed.iter().sum::<u64>() as f64 / total.max(1) as f64;
    let dictionary = &table.sensitive[slot];
    let groups = groups
        .rows
        .iter()
        .enumerate()
        .map(|(g, &rows)| {
            let value = match groups.named.get(g) {
                Some(&id) => dictionary.values()[id as usize].clone().unwrap_or_else(|| "(null)".into()),
                None => format!("other ({} values of fewer than {} rows)", groups.other_values, k.max(1)),
            };
            let share = suppressed[g] as f64 / rows.max(1) as f64;
            ProtectedGroup {
                value,
                rows,
                suppressed: suppressed[g],
                share,
                ratio: if overall > 0.0 { share / overall } else { 0.0 },
                mean_loss: loss[g] / rows.max(1) as f64,
                flagged: overall > 0.0 && share > 2.0 * overall,
            }
        })
        .collect();
    ProtectedColumn { column: name.to_string(), overall_share: overall, groups }
}

/// What suppression took from sensitive column `s`, and the rows of kept classes in which it
/// takes a single value. Values held by fewer than `shown_from` rows are not named.
fn effect(
    problem: &Problem<'_>,
    table: &CanonicalTable,
    s: usize,
    name: &str,
    class_of: &[Option<usize>],
    shown_from: u64,
) -> SensitiveEffect {
    let dictionary = &table.sensitive[s];
    let mut all = vec![0u64; dictionary.len()];
    let mut suppressed = vec![0u64; dictionary.len()];
    let mut per_class: std::collections::HashMap<usize, (u64, Option<u32>, bool)> = std::collections::HashMap::new();
    for ((_, entry), class) in problem.combos.iter().zip(class_of) {
        for &(id, n) in &entry.sensitive[s] {
            all[id as usize] += n;
            match class {
                None => suppressed[id as usize] += n,
                Some(c) => {
                    let slot = per_class.entry(*c).or_insert((0, Some(id), true));
                    slot.0 += n;
                    slot.2 &= slot.1 == Some(id);
                }
            }
        }
    }
    let rows: u64 = all.iter().sum();
    let suppressed_rows: u64 = suppressed.iter().sum();
    let share = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let mut order: Vec<usize> = (0..all.len()).filter(|&i| all[i] >= shown_from.max(2)).collect();
    order.sort_by(|&a, &b| all[b].cmp(&all[a]).then_with(|| dictionary.values()[a].cmp(&dictionary.values()[b])));
    order.truncate(10);
    let values: Vec<(String, f64, f64)> = order
        .iter()
        .map(|&i| {
            let value = dictionary.values()[i].clone().unwrap_or_else(|| "(null)".into());
            (value, share(all[i], rows), share(suppressed[i], suppressed_rows))
        })
        .collect();
    let shown_all: u64 = order.iter().map(|&i| all[i]).sum();
    let shown_suppressed: u64 = order.iter().map(|&i| suppressed[i]).sum();
    let single: Vec<u64> = per_class.values().filter(|(_, _, one)| *one).map(|(n, _, _)| *n).collect();
    let single_value_rows: u64 = single.iter().sum();
    SensitiveEffect {
        column: name.to_string(),
        rows,
        suppressed_rows,
        values,
        other: (share(rows - shown_all, rows), share(suppressed_rows - shown_suppressed, suppressed_rows)),
        single_value_rows,
        single_value_share: share(single_value_rows, rows),
        single_value_classes: single.len() as u64,
    }
}

fn describe_target(criteria: &Criteria) -> String {
    let mut parts = vec![format!("k = {}", criteria.k)];
    if let Some((l, variant)) = criteria.l_diversity {
        parts.push(format!("{variant:?} l-diversity with l = {l}").to_lowercase());
    }
    if let Some(t) = criteria.t_closeness {
        parts.push(format!("t-closeness with t = {t}"));
    }
    parts.join(" and ")
}

fn unreachable(problem: &Problem<'_>, criteria: &Criteria, target: String, best_k: u64) -> AnonymityError {
    let failed = if criteria.l_diversity.is_some() || criteria.t_closeness.is_some() {
        "the diversity criteria (l-diversity / t-closeness) cannot be met together with k".to_string()
    } else if problem.rows < criteria.k {
        format!("the data has only {} rows", problem.rows)
    } else {
        "the pinned levels leave too many small classes".to_string()
    };
    AnonymityError::Unreachable {
        target,
        allowed: problem.allowed_suppression(),
        rows: problem.rows,
        limit: criteria.suppression_limit,
        failed,
        best_k,
    }
}

/// Mondrian's view of a column: numbers and dates split by value, the rest by hierarchy order.
fn dimension(hierarchy: &HierarchySpec, values: &[Option<String>]) -> Dimension {
    if hierarchy.is_numeric() {
        Dimension::Numeric(
            values.iter().map(|v| v.as_deref().and_then(|t| hierarchy.number(t)).unwrap_or(f64::NAN)).collect(),
        )
    } else {
        Dimension::Categorical { listed: hierarchy.is_listed() }
    }
}

fn sensitive_column(table: &CanonicalTable, s: usize, name: &str, ordered: bool) -> Sensitive {
    let dictionary = &table.sensitive[s];
    let mut overall = vec![0.0; dictionary.len()];
    for (_, entry) in &table.combos {
        for &(id, n) in &entry.sensitive[s] {
            overall[id as usize] += n as f64;
        }
    }
    overall.iter_mut().for_each(|p| *p /= table.rows.max(1) as f64);
    let rank = ordered.then(|| {
        let mut ids: Vec<u32> = (0..dictionary.len() as u32).collect();
        let number = |id: u32| {
            dictionary.values()[id as usize].as_deref().and_then(|t| t.parse::<f64>().ok()).unwrap_or(f64::NEG_INFINITY)
        };
        // Dates compare as their ISO text; numbers by value.
        ids.sort_by(|&a, &b| {
            number(a)
                .total_cmp(&number(b))
                .then_with(|| dictionary.values()[a as usize].cmp(&dictionary.values()[b as usize]))
        });
        let mut rank = vec![0u32; ids.len()];
        for (r, id) in ids.into_iter().enumerate() {
            rank[id as usize] = r as u32;
        }
        rank
    });
    Sensitive { name: name.to_string(), rank, overall }
}
