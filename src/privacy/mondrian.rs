//! Mondrian (LeFevre, DeWitt, Ramakrishnan 2006): top-down multidimensional local recoding.
//! The table's combinations are split recursively at the median of the dimension with the
//! widest normalized spread, as long as both halves keep at least k rows (and meet the other
//! criteria); each final partition is one equivalence class. Numeric and date columns come out
//! as the partition's bounds `[low, high]`; categorical ones as the lowest hierarchy group
//! covering all of the partition's values. Nothing is suppressed.

use super::decisions::{PartitionColumn, SplitNode, SplitTree, Threshold};
use super::recode::PartitionLabels;
use super::search::{Metrics, Problem};
use super::table::{Histogram, add_to_histogram};
use std::sync::Arc;

/// How a column orders its values for splitting.
#[derive(Debug, Clone)]
pub enum Dimension {
    /// A number per leaf (dates as days).
    Numeric(Vec<f64>),
    /// Categorical: split along the hierarchy's order. Unless the hierarchy lists its values
    /// (`listed`), a split falls only between groups of level 1 or above, so that its split
    /// point is a hierarchy label, never a raw value (see [`super::decisions`]).
    Categorical { listed: bool },
}

/// Mondrian's result.
#[derive(Debug, Clone)]
pub struct Partitioning {
    /// Per partition, the indices of `Problem::combos` it holds.
    pub partitions: Vec<Vec<usize>>,
    /// Per partition and column, the output label (`None`: null).
    pub labels: Vec<Vec<Option<Arc<str>>>>,
    pub metrics: Metrics,
    /// Each column's share of the loss metric (their mean is `metrics.loss`).
    pub column_losses: Vec<f64>,
    /// The split tree that routes any row to exactly one partition.
    pub tree: SplitTree,
}

impl Partitioning {
    /// Leaf tuple → labels, for the output pass.
    pub fn label_map(&self, problem: &Problem<'_>) -> PartitionLabels {
        let mut map = PartitionLabels::default();
        for (p, combos) in self.partitions.iter().enumerate() {
            for &i in combos {
                map.insert(Box::from(&problem.combos[i].0[..]), self.labels[p].clone());
            }
        }
        map
    }
}

/// Partitions the problem's table. `None` when even the whole table fails the criteria.
pub fn partition(problem: &Problem<'_>, dimensions: &[Dimension]) -> Option<Partitioning> {
    let columns = problem.columns;
    // Each leaf's rank along its dimension.
    let ranks: Vec<Vec<f64>> = columns
        .iter()
        .zip(dimensions)
        .map(|(g, d)| match d {
            Dimension::Numeric(values) => values.clone(),
            Dimension::Categorical { .. } => {
                let leaves = g.groups(0) as u32;
                let mut order: Vec<u32> = (0..leaves).collect();
                order.sort_by_key(|&leaf| path(g, leaf, g.max_level + 1));
                let mut rank = vec![0.0; leaves as usize];
                for (r, leaf) in order.into_iter().enumerate() {
                    rank[leaf as usize] = r as f64;
                }
                rank
            }
        })
        .collect();
    let spans: Vec<f64> = ranks
        .iter()
        .map(|r| {
            let (lo, hi) = r.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
            if hi > lo { hi - lo } else { 1.0 }
        })
        .collect();
    let all: Vec<usize> = (0..problem.combos.len()).collect();
    if !allowed(problem, &all) {
        return None;
    }
    // Nodes are numbered as they are made, so a split's children come after it.
    let mut nodes: Vec<Option<SplitNode>> = vec![None];
    let mut done: Vec<(Vec<usize>, usize)> = Vec::new();
    let mut stack = vec![(all, 0usize)];
    while let Some((part, node)) = stack.pop() {
        match split(problem, dimensions, &ranks, &spans, part) {
            Ok((c, left, right)) => {
                let at = threshold(problem, dimensions, c, &left, &right);
                let (l, r) = (nodes.len(), nodes.len() + 1);
                nodes.extend([None, None]);
                nodes[node] = Some(SplitNode::Split { column: c, at, left: l, right: r });
                stack.push((right, r));
                stack.push((left, l));
            }
            Err(part) => done.push((part, node)),
        }
    }
    done.sort();
    let labels: Vec<Vec<Option<Arc<str>>>> = done.iter().map(|(p, _)| labels_of(problem, dimensions, p)).collect();
    for (part, node) in &done {
        nodes[*node] = Some(SplitNode::Partition { columns: partition_columns(problem, dimensions, part) });
    }
    let tree = SplitTree { nodes: nodes.into_iter().flatten().collect() };
    let partitions: Vec<Vec<usize>> = done.into_iter().map(|(p, _)| p).collect();
    let (metrics, column_losses) = metrics(problem, dimensions, &partitions);
    Some(Partitioning { partitions, labels, metrics, column_losses, tree })
}

/// A leaf's labels from the top of its hierarchy down to level `top - depth` (`""` for null).
pub fn path(g: &super::hierarchy::Generalization, leaf: u32, depth: u32) -> Vec<String> {
    (g.max_level + 1 - depth..=g.max_level)
        .rev()
        .map(|l| g.label(l, g.lift(leaf, 0, l)).map_or(String::new(), |s| s.to_string()))
        .collect()
}

/// Where a split on column `c` cuts: at the left side's largest value (a numeric column), or
/// at its labels down to the level where the left side's last value and the right side's first
/// part (a categorical one): every left value is at most it, every right value above it.
fn threshold(problem: &Problem<'_>, dimensions: &[Dimension], c: usize, left: &[usize], right: &[usize]) -> Threshold {
    let g = &problem.columns[c];
    let leaf = |i: usize| problem.combos[i].0[c];
    match &dimensions[c] {
        Dimension::Numeric(values) => {
            let last =
                left.iter().copied().max_by(|&a, &b| values[leaf(a) as usize].total_cmp(&values[leaf(b) as usize]));
            Threshold::Value(last.and_then(|i| g.label(0, leaf(i))).map_or(String::new(), |s| s.to_string()))
        }
        Dimension::Categorical { .. } => {
            // Both sides are sorted by path: the left's last and the right's first are adjacent.
            let full = g.max_level + 1;
            let (a, b) = (path(g, leaf(left[left.len() - 1]), full), path(g, leaf(right[0]), full));
            let depth = a.iter().zip(&b).position(|(x, y)| x != y).map_or(full, |d| d as u32 + 1);
            Threshold::Path(path(g, leaf(left[left.len() - 1]), depth))
        }
    }
}

/// A final partition's entry per column in the split tree.
fn partition_columns(problem: &Problem<'_>, dimensions: &[Dimension], part: &[usize]) -> Vec<PartitionColumn> {
    dimensions
        .iter()
        .enumerate()
        .map(|(c, d)| {
            let g = &problem.columns[c];
            match d {
                Dimension::Numeric(values) => match numeric_bounds(values, problem, c, part) {
                    None => PartitionColumn::Null,
                    Some((low, high)) => {
                        let text = |leaf| g.label(0, leaf).map_or(String::new(), |s| s.to_string());
                        PartitionColumn::Bounds { low: text(low), high: text(high) }
                    }
                },
                Dimension::Categorical { .. } => PartitionColumn::Level { level: common_group(problem, c, part).0 },
            }
        })
        .collect()
}

fn rows_of(problem: &Problem<'_>, part: &[usize]) -> u64 {
    part.iter().map(|&i| problem.combos[i].1.count).sum()
}

/// Whether a partition may be a class: k rows and the other criteria.
pub(crate) fn allowed(problem: &Problem<'_>, part: &[usize]) -> bool {
    if rows_of(problem, part) < problem.criteria.k {
        return false;
    }
    // `privacy.fairness`: Mondrian suppresses nothing, and it does not leave a protected group
    // (of at least k rows) with fewer than k rows in a class.
    if let Some(fairness) = &problem.fairness {
        for ((slot, group_of), totals) in fairness.columns.iter().zip(&fairness.group_rows) {
            let mut counts = vec![0u64; totals.len()];
            for &i in part {
                for &(id, n) in problem.combos[i].1.sensitive.get(*slot).map_or(&[][..], Vec::as_slice) {
                    counts[group_of[id as usize] as usize] += n;
                }
            }
            let k = problem.criteria.k;
            if counts.iter().zip(totals).any(|(&c, &t)| t >= k && c > 0 && c < k) {
                return false;
            }
        }
    }
    if problem.sensitive.is_empty() {
        return true;
    }
    let mut histograms: Vec<Histogram> = vec![Vec::new(); problem.sensitive.len()];
    for &i in part {
        for (mine, theirs) in histograms.iter_mut().zip(&problem.combos[i].1.sensitive) {
            for &(id, n) in theirs {
                add_to_histogram(mine, id, n);
            }
        }
    }
    problem.diverse(&histograms)
}

/// Splits at the median of the widest dimension that allows it; gives the part back if none.
fn split(
    problem: &Problem<'_>,
    dimensions: &[Dimension],
    ranks: &[Vec<f64>],
    spans: &[f64],
    mut part: Vec<usize>,
) -> Result<(usize, Vec<usize>, Vec<usize>), Vec<usize>> {
    let rank = |i: usize, c: usize| ranks[c][problem.combos[i].0[c] as usize];
    let mut order: Vec<(f64, usize)> = (0..ranks.len())
        .map(|c| {
            let (lo, hi) = part
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &i| (a.min(rank(i, c)), b.max(rank(i, c))));
            ((hi - lo) / spans[c], c)
        })
        .filter(|&(w, _)| w > 0.0)
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let total = rows_of(problem, &part);
    // With a target (`metric: classification`): every dimension's cut is tried, and the one
    // that leaves the target purest (entropy, weighted by rows) wins; ties keep the widest.
    let mut best: Option<(f64, usize, Vec<usize>, Vec<usize>)> = None;
    // With a target, cuts at the quartiles are tried too (the purest wins); without, the median.
    let quantiles: &[(u64, u64)] =
        if problem.target.is_some() { &[(1, 2), (1, 4), (3, 4), (1, 8), (7, 8)] } else { &[(1, 2)] };
    for (_, c) in order {
        part.sort_by(|&a, &b| rank(a, c).total_cmp(&rank(b, c)).then(a.cmp(&b)));
        'cuts: for &(num, den) in quantiles {
            // The quantile value by rows; the split puts values ≤ it left (or < it when all are ≤).
            let mut cumulative = 0;
            let mut median = rank(part[0], c);
            for &i in &part {
                cumulative += problem.combos[i].1.count;
                if cumulative * den >= total * num {
                    median = rank(i, c);
                    break;
                }
            }
            for strict in [false, true] {
                let cut = part.partition_point(|&i| if strict { rank(i, c) < median } else { rank(i, c) <= median });
                if cut == 0 || cut == part.len() {
                    continue;
                }
                let (left, right) = part.split_at(cut);
                if let Dimension::Categorical { listed: false } = dimensions[c] {
                    // Only between groups: the two sides' neighbours differ at level 1.
                    let g = &problem.columns[c];
                    let group = |i: usize| g.lift(problem.combos[i].0[c], 0, 1.min(g.max_level));
                    if group(left[left.len() - 1]) == group(right[0]) {
                        continue;
                    }
                }
                if allowed(problem, left) && allowed(problem, right) {
                    let Some(target) = problem.target else {
                        return Ok((c, left.to_vec(), right.to_vec()));
                    };
                    let impurity =
                        target_entropy(problem, target.slot, left) + target_entropy(problem, target.slot, right);
                    if best.as_ref().is_none_or(|b| impurity < b.0 - 1e-9) {
                        best = Some((impurity, c, left.to_vec(), right.to_vec()));
                    }
                    continue 'cuts;
                }
            }
        }
    }
    match best {
        Some((_, c, left, right)) => Ok((c, left, right)),
        None => Err(part),
    }
}

/// Rows × the entropy of the target over a partition's rows (bits).
fn target_entropy(problem: &Problem<'_>, slot: usize, part: &[usize]) -> f64 {
    let mut histogram: Histogram = Vec::new();
    for &i in part {
        for &(id, n) in problem.combos[i].1.sensitive.get(slot).map_or(&[][..], Vec::as_slice) {
            crate::privacy::table::add_to_histogram(&mut histogram, id, n);
        }
    }
    let total: u64 = histogram.iter().map(|&(_, n)| n).sum();
    if total == 0 {
        return 0.0;
    }
    let t = total as f64;
    -histogram.iter().filter(|&&(_, n)| n > 0).map(|&(_, n)| n as f64 * (n as f64 / t).log2()).sum::<f64>()
}

/// The lowest level at which all of a partition's leaves share one group, and that group.
fn common_group(problem: &Problem<'_>, c: usize, part: &[usize]) -> (u32, u32) {
    let g = &problem.columns[c];
    for level in 0..=g.max_level {
        let first = g.lift(problem.combos[part[0]].0[c], 0, level);
        if part.iter().all(|&i| g.lift(problem.combos[i].0[c], 0, level) == first) {
            return (level, first);
        }
    }
    (g.max_level, 0)
}

/// The leaves with the lowest and highest value of a partition's column, nulls (NaN) aside;
/// `None` when every value is null.
fn numeric_bounds(values: &[f64], problem: &Problem<'_>, c: usize, part: &[usize]) -> Option<(u32, u32)> {
    let value = |i: usize| values[problem.combos[i].0[c] as usize];
    let first = part.iter().copied().find(|&i| !value(i).is_nan())?;
    let mut low = first;
    let mut high = first;
    for &i in part {
        let v = value(i);
        if v < values[problem.combos[low].0[c] as usize] {
            low = i;
        }
        if v > values[problem.combos[high].0[c] as usize] {
            high = i;
        }
    }
    Some((problem.combos[low].0[c], problem.combos[high].0[c]))
}

/// A partition's output labels, from its entries in the split tree: `[low, high]` for numbers
/// and dates (null when all are null), the common group's label for the others.
fn labels_of(problem: &Problem<'_>, dimensions: &[Dimension], part: &[usize]) -> Vec<Option<Arc<str>>> {
    partition_columns(problem, dimensions, part)
        .into_iter()
        .enumerate()
        .map(|(c, entry)| match entry {
            PartitionColumn::Bounds { low, high } => Some(Arc::from(bounds_label(&low, &high))),
            PartitionColumn::Null => None,
            PartitionColumn::Level { level } => {
                let g = &problem.columns[c];
                g.label(level, g.lift(problem.combos[part[0]].0[c], 0, level)).cloned()
            }
        })
        .collect()
}

/// The loss of each row of each partition (the `loss` metric restricted to it): per column,
/// the width of its bounds over the column's range (numbers, dates) or its group's loss (the
/// others), averaged over the columns.
pub fn part_losses(problem: &Problem<'_>, dimensions: &[Dimension], parts: &[Vec<usize>]) -> Vec<f64> {
    let columns = problem.weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    // Each numeric column's range, once.
    let ranges: Vec<f64> = dimensions
        .iter()
        .map(|d| match d {
            Dimension::Numeric(values) => {
                let (a, b) = values
                    .iter()
                    .filter(|v| !v.is_nan())
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
                if b > a { b - a } else { 0.0 }
            }
            Dimension::Categorical { .. } => 0.0,
        })
        .collect();
    parts
        .iter()
        .map(|part| {
            let mut total = 0.0;
            for (c, d) in dimensions.iter().enumerate() {
                total += problem.weights[c]
                    * match d {
                        Dimension::Numeric(values) => match numeric_bounds(values, problem, c, part) {
                            Some((low, high)) if ranges[c] > 0.0 => {
                                (values[high as usize] - values[low as usize]) / ranges[c]
                            }
                            _ => 0.0,
                        },
                        Dimension::Categorical { .. } => {
                            let (level, group) = common_group(problem, c, part);
                            problem.columns[c].loss(level, group)
                        }
                    };
            }
            total / columns
        })
        .collect()
}

/// A Mondrian numeric label: the closed range `[low, high]` of the partition's values (also
/// when they are equal, so that every interval reads the same way).
pub fn bounds_label(low: &str, high: &str) -> String {
    format!("[{low}, {high}]")
}

/// The metrics of a partitioning (each part a list of `problem.combos` indices) and each
/// column's share of the loss.
pub(crate) fn metrics(problem: &Problem<'_>, dimensions: &[Dimension], parts: &[Vec<usize>]) -> (Metrics, Vec<f64>) {
    let n = problem.rows as f64;
    let columns = problem.weights.iter().sum::<f64>().max(f64::MIN_POSITIVE);
    let mut m = Metrics::default();
    let mut column_losses = vec![0.0; problem.columns.len()];
    if n == 0.0 {
        return (m, column_losses);
    }
    // Input rows per leaf, and per numeric column the leaves in value order with prefix sums.
    let marginals: Vec<Vec<u64>> = (0..problem.columns.len())
        .map(|c| {
            let mut rows = vec![0u64; problem.columns[c].groups(0)];
            for (leaves, entry) in problem.combos {
                rows[leaves[c] as usize] += entry.count;
            }
            rows
        })
        .collect();
    let mut precision = 0.0;
    let mut loss = 0.0;
    let mut entropy = 0.0;
    for part in parts {
        let size = rows_of(problem, part);
        let size_f = size as f64;
        m.discernibility += size_f * size_f;
        for (c, d) in dimensions.iter().enumerate() {
            let g = &problem.columns[c];
            let (share, group_rows) = match d {
                Dimension::Numeric(values) => {
                    // All null: kept as null, nothing lost.
                    let Some((low, high)) = numeric_bounds(values, problem, c, part) else {
                        continue;
                    };
                    let (lo, hi) = (values[low as usize], values[high as usize]);
                    let range = {
                        let (a, b) =
                            values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
                        b - a
                    };
                    let share = if range > 0.0 { (hi - lo) / range } else { 0.0 };
                    let rows: u64 =
                        values.iter().zip(&marginals[c]).filter(|&(&v, _)| v >= lo && v <= hi).map(|(_, &r)| r).sum();
                    (share, rows)
                }
                Dimension::Categorical { .. } => {
                    let (level, group) = common_group(problem, c, part);
                    let rows: u64 = (0..g.groups(0) as u32)
                        .filter(|&leaf| g.lift(leaf, 0, level) == group)
                        .map(|leaf| marginals[c][leaf as usize])
                        .sum();
                    (f64::from(level) / f64::from(g.max_level.max(1)), rows)
                }
            };
            let loss_share = match d {
                Dimension::Numeric(_) => share,
                Dimension::Categorical { .. } => {
                    let (level, group) = common_group(problem, c, part);
                    g.loss(level, group)
                }
            };
            let w = problem.weights[c];
            precision += w * size_f * share;
            loss += w * size_f * loss_share;
            column_losses[c] += size_f * loss_share / n;
            for &i in part {
                let (leaves, entry) = &problem.combos[i];
                let leaf_rows = marginals[c][leaves[c] as usize] as f64;
                entropy += w * entry.count as f64 * ((group_rows as f64).log2() - leaf_rows.log2());
            }
        }
    }
    if let Some(target) = problem.target {
        // Mondrian suppresses nothing: each part's minority of the target.
        let mut penalized = 0u64;
        for part in parts {
            let mut histogram: Vec<(u32, u64)> = Vec::new();
            for &i in part {
                for &(id, rows) in problem.combos[i].1.sensitive.get(target.slot).map_or(&[][..], Vec::as_slice) {
                    crate::privacy::table::add_to_histogram(&mut histogram, id, rows);
                }
            }
            let size = rows_of(problem, part);
            penalized += size - histogram.iter().map(|&(_, r)| r).max().unwrap_or(0).min(size);
        }
        m.classification = penalized as f64 / n;
    }
    m.aecs = n / parts.len().max(1) as f64;
    m.precision = precision / (n * columns);
    m.loss = loss / (n * columns);
    m.entropy = entropy;
    (m, column_losses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Metric;
    use crate::privacy::search::Criteria;

    /// Every partition holds k rows, and the per-column losses average to the loss metric.
    #[test]
    fn adult_partitions_hold_k_rows_and_column_losses_add_up() {
        let (table, columns) = crate::privacy::search::tests::adult();
        let criteria = Criteria { k: 5, suppression_limit: 0.0, l_diversity: None, t_closeness: None };
        let problem = Problem::new(&columns, vec![None; 9], &table, criteria, Vec::new(), Metric::Loss).unwrap();
        let dimensions = vec![Dimension::Categorical { listed: true }; 9];
        let partitioning = partition(&problem, &dimensions).unwrap();
        for part in &partitioning.partitions {
            assert!(rows_of(&problem, part) >= 5);
        }
        let losses = &partitioning.column_losses;
        assert!(losses.iter().all(|&l| (0.0..=1.0).contains(&l)), "{losses:?}");
        let mean = losses.iter().sum::<f64>() / losses.len() as f64;
        assert!((mean - partitioning.metrics.loss).abs() < 1e-9, "{mean} vs {}", partitioning.metrics.loss);
    }

    /// With a target, Mondrian chooses its cuts for purity: every partition still holds k
    /// rows, and fewer rows fall outside their partition's majority than in the plain
    /// partitioning's (measured from the partitions, not from the metric).
    #[test]
    fn a_target_makes_purer_partitions_that_still_hold_k_rows() {
        let (table, columns) = crate::privacy::search::tests::adult_with_target();
        let criteria = Criteria { k: 5, suppression_limit: 0.0, l_diversity: None, t_closeness: None };
        let dimensions = vec![Dimension::Categorical { listed: true }; 8];
        let minority = |problem: &Problem<'_>, parts: &[Vec<usize>]| -> u64 {
            parts
                .iter()
                .map(|part| {
                    let mut counts = std::collections::HashMap::new();
                    for &i in part {
                        for &(id, n) in &problem.combos[i].1.sensitive[0] {
                            *counts.entry(id).or_insert(0u64) += n;
                        }
                    }
                    rows_of(problem, part) - counts.values().max().copied().unwrap_or(0)
                })
                .sum()
        };
        let mut problem =
            Problem::new(&columns, vec![None; 8], &table, criteria, Vec::new(), Metric::Classification).unwrap();
        let plain = partition(&problem, &dimensions).unwrap();
        problem.target = Some(crate::privacy::search::Target { slot: 0, weight: 1.0 });
        let aware = partition(&problem, &dimensions).unwrap();
        for part in &aware.partitions {
            assert!(rows_of(&problem, part) >= 5);
        }
        let covered: usize = aware.partitions.iter().map(Vec::len).sum();
        assert_eq!(covered, problem.combos.len());
        let (before, after) = (minority(&problem, &plain.partitions), minority(&problem, &aware.partitions));
        assert!((after as f64) < 0.95 * before as f64, "{after} rows outside the majority, plain {before}");
        assert!((aware.metrics.classification - after as f64 / table.rows as f64).abs() < 1e-12);
    }
}
