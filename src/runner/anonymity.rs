//! The dataset-wide part of a run: one streaming, parallel statistics pass builds the
//! frequency table of the quasi-identifiers (`generalize` columns) and sensitive columns; the
//! hierarchies are compiled over the values seen; the k-anonymity search (or Mondrian) picks
//! the transformation; the returned [`Recoding`] is applied batch by batch in the output pass.

use crate::job::{Action, Algorithm, Hierarchy, Job, Metric, SuppressedRows};
use crate::plan::Plan;
use crate::privacy::hierarchy::{Generalization, HierarchyError};
use crate::privacy::mondrian::{self, Dimension};
use crate::privacy::recode::{RecodedColumn, Recoding, Scheme};
use crate::privacy::risk::Risk;
use crate::privacy::search::{Criteria, Problem, SearchError, Sensitive};
use crate::privacy::table::FrequencyTable;
use crate::text::to_text;
use crate::transform::Kernel;
use arrow::array::StringArray;
use arrow::datatypes::DataType;
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
}

pub use crate::record::{PrivacySummary, QuasiIdentifierSummary};

#[derive(Debug, Clone)]
struct QuasiIdentifier {
    name: String,
    input_index: usize,
    hierarchy: Option<Hierarchy>,
    pinned: Option<u32>,
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
                    hierarchy: g.hierarchy.clone(),
                    pinned: g.level,
                }),
                _ => None,
            })
            .collect();
        let uses_sensitive = job.privacy.l_diversity.is_some() || job.privacy.t_closeness.is_some();
        let sensitive = plan
            .steps
            .iter()
            .filter(|_| uses_sensitive)
            .filter(|s| matches!(job.column(&s.name).map(|c| &c.action), Some(Action::Keep { sensitive: true })))
            .map(|s| {
                let ordered = s.input_type.is_numeric() || matches!(s.input_type, DataType::Date32 | DataType::Date64);
                (s.name.clone(), s.input_index, ordered)
            })
            .collect();
        Some(Self { quasi, sensitive })
    }

    /// The quasi-identifiers (name, input index), in recoding order.
    pub fn quasi_identifiers(&self) -> Vec<(&str, usize)> {
        self.quasi.iter().map(|q| (q.name.as_str(), q.input_index)).collect()
    }

    /// An empty frequency table of these columns (its shape is what a census must have).
    pub fn empty_table(&self) -> FrequencyTable {
        FrequencyTable::new(self.quasi.len(), self.sensitive.len())
    }

    /// The frequency table of one batch (already through the consent filter).
    ///
    /// # Errors
    /// A column without a text form.
    pub fn table_of(&self, batch: &arrow::array::RecordBatch) -> Result<FrequencyTable, super::RunError> {
        let text = |index: usize, name: &str| -> Result<StringArray, super::RunError> {
            to_text(batch.column(index)).ok_or_else(|| {
                super::RunError::Transform(crate::transform::TransformError::NoText {
                    column: name.to_string(),
                    action: "generalize",
                })
            })
        };
        let q = self.quasi.iter().map(|q| text(q.input_index, &q.name)).collect::<Result<Vec<_>, _>>()?;
        let s = self.sensitive.iter().map(|(n, i, _)| text(*i, n)).collect::<Result<Vec<_>, _>>()?;
        Ok(FrequencyTable::from_batch(&q, &s))
    }
}

/// From the frequency table of the whole input (canonical: see
/// [`FrequencyTable::canonical`]) to the recoding and what it guarantees: hierarchies compiled
/// over the values seen, then the optimal search or Mondrian, on the current rayon pool.
///
/// # Errors
/// [`super::RunError`] for uncovered values or an unreachable target.
pub fn decide(job: &Job, setup: &Setup, table: &FrequencyTable) -> Result<(Recoding, PrivacySummary), super::RunError> {
    let Setup { quasi, sensitive } = setup;
    let k_anonymity = job.privacy.k_anonymity.as_ref();
    if table.rows == 0 {
        return Err(AnonymityError::Empty.into());
    }
    let marginals = table.marginals();
    let generalizations = quasi
        .iter()
        .enumerate()
        .map(|(c, q)| {
            let g = Generalization::build(&q.name, q.hierarchy.as_ref(), table.quasi[c].values(), &marginals[c])?;
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
    let algorithm = k_anonymity.map_or(Algorithm::Optimal, |k| k.algorithm);
    let suppressed_rows_mode = k_anonymity.map_or(SuppressedRows::Mask, |k| k.suppressed_rows);
    let pinned: Vec<Option<u32>> = quasi.iter().map(|q| q.pinned).collect();
    let problem = Problem::new(&generalizations, pinned.clone(), table, criteria.clone(), sensitive_columns, metric)
        .map_err(AnonymityError::from)?;
    let risk_before = Risk::of_sizes(table.combos.values().map(|e| e.count));
    let started = Instant::now();

    let columns: Vec<RecodedColumn> = quasi
        .iter()
        .zip(&generalizations)
        .zip(&table.quasi)
        .map(|((q, g), d)| RecodedColumn {
            name: q.name.clone(),
            input_index: q.input_index,
            generalization: g.clone(),
            dictionary: d.clone(),
        })
        .collect();
    let target = describe_target(&criteria);
    let (scheme, summary_levels, suppressed, classes, (metrics, column_losses), nodes, class_sizes) = match algorithm {
        Algorithm::Mondrian => {
            if let Some(q) = quasi.iter().find(|q| q.pinned.is_some()) {
                return Err(AnonymityError::MondrianPinned { column: q.name.clone() }.into());
            }
            let dimensions: Vec<Dimension> =
                quasi.iter().zip(&table.quasi).map(|(q, d)| dimension(q.hierarchy.as_ref(), d.values())).collect();
            let Some(partitioning) = mondrian::partition(&problem, &dimensions) else {
                // Mondrian suppresses nothing: the best it can do is the whole table as one class.
                return Err(unreachable(&problem, &criteria, target, problem.rows).into());
            };
            // Partitions that print the same labels are one class in the output.
            let mut by_labels: std::collections::BTreeMap<&[Option<std::sync::Arc<str>>], u64> = Default::default();
            for (p, labels) in partitioning.partitions.iter().zip(&partitioning.labels) {
                *by_labels.entry(labels).or_default() += p.iter().map(|&i| problem.combos[i].1.count).sum::<u64>();
            }
            let sizes: Vec<u64> = by_labels.into_values().collect();
            let scheme = Scheme::Partitions { labels: partitioning.label_map(&problem) };
            let classes = sizes.len() as u64;
            let measured = (partitioning.metrics, partitioning.column_losses.clone());
            (scheme, vec![None; quasi.len()], 0, classes, measured, (1, 1), sizes)
        }
        Algorithm::Optimal => {
            let outcome = problem.search();
            crate::interrupt::check()?;
            let Some(best) = outcome.best else {
                let best_k = problem.best_reachable_k();
                return Err(unreachable(&problem, &criteria, target, best_k).into());
            };
            let classes = problem.classes_from_table(&best.levels);
            let measured =
                (problem.metrics(&best.levels, &classes, None), problem.column_losses(&best.levels, &classes));
            let mut kept = std::collections::HashSet::default();
            let mut sizes = Vec::new();
            for (i, &key) in classes.keys.iter().enumerate() {
                if problem.class_stays(&classes, i) {
                    kept.insert(key);
                    sizes.push(classes.counts[i]);
                }
            }
            let scheme = Scheme::FullDomain {
                levels: best.levels.clone(),
                kept: k_anonymity.is_some().then_some(kept),
                shifts: problem.shifts().to_vec(),
            };
            let levels = best.levels.iter().map(|&l| Some(l)).collect();
            (scheme, levels, best.suppressed_rows, best.classes, measured, (outcome.nodes, outcome.computed), sizes)
        }
    };
    let search_seconds = started.elapsed().as_secs_f64();
    let smallest_class = class_sizes.iter().copied().min().unwrap_or(0);
    let mut after = class_sizes;
    if suppressed_rows_mode == SuppressedRows::Mask {
        after.push(suppressed);
    }
    let summary = PrivacySummary {
        algorithm,
        k: k_anonymity.map(|k| k.k.get()),
        smallest_class,
        l_diversity: job.privacy.l_diversity.as_ref().map(|l| format!("{} ({:?})", l.l, l.variant).to_lowercase()),
        t_closeness: job.privacy.t_closeness,
        suppression_limit: criteria.suppression_limit,
        suppressed_rows_mode,
        rows: table.rows,
        suppressed_rows: suppressed,
        classes,
        quasi_identifiers: quasi
            .iter()
            .zip(&generalizations)
            .zip(summary_levels)
            .zip(column_losses)
            .map(|(((q, g), level), loss)| QuasiIdentifierSummary {
                name: q.name.clone(),
                level,
                max_level: g.max_level,
                pinned: q.pinned.is_some(),
                loss,
            })
            .collect(),
        sensitive: sensitive.iter().map(|s| s.0.clone()).collect(),
        metric,
        metrics,
        lattice_nodes: nodes.0,
        nodes_computed: nodes.1,
        search_seconds,
        risk_before,
        risk_after: Risk::of_sizes(after),
    };
    Ok((Recoding { columns, scheme, suppressed_rows: suppressed_rows_mode }, summary))
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
fn dimension(hierarchy: Option<&Hierarchy>, values: &[Option<String>]) -> Dimension {
    match hierarchy {
        Some(Hierarchy::Interval { .. }) => Dimension::Numeric(
            values.iter().map(|v| v.as_deref().and_then(|t| t.parse().ok()).unwrap_or(f64::NAN)).collect(),
        ),
        Some(Hierarchy::Date { .. }) => Dimension::Numeric(
            values
                .iter()
                .map(|v| {
                    v.as_deref()
                        .and_then(crate::privacy::hierarchy::parse_date)
                        .map_or(f64::NAN, |d| f64::from(crate::text::days_from_date(d)))
                })
                .collect(),
        ),
        _ => Dimension::Categorical,
    }
}

fn sensitive_column(table: &FrequencyTable, s: usize, name: &str, ordered: bool) -> Sensitive {
    let dictionary = &table.sensitive[s];
    let mut overall = vec![0.0; dictionary.len()];
    for entry in table.combos.values() {
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
