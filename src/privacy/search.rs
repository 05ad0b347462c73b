//! Optimal full-domain generalization with suppression, searched over the generalization
//! lattice on the frequency table (never on rows).
//!
//! A node of the lattice gives every quasi-identifier one level. Its equivalence classes are
//! the table's combinations grouped by their generalized values. Classes that fail the privacy
//! criteria (fewer than k rows, too little diversity, too far from the overall distribution) are
//! suppressed; a node is acceptable when at most `floor(suppression_limit × rows)` rows are.
//! Among acceptable nodes the best metric wins, ties going to the lower level sum, then to the
//! lexicographically smaller levels.
//!
//! Nodes are evaluated layer by layer (by level sum), in parallel within a layer. A node's
//! classes are rolled up from a node one level finer in one column, the one with the fewest
//! classes, so the work per node shrinks as the lattice rises. Generalizing merges classes,
//! which is why k-anonymity (and distinct l-diversity) only ever suppress fewer rows going up:
//! that monotonicity is what the brute-force property test checks alongside the optimum.

use super::hierarchy::Generalization;
use super::table::{Entry, FrequencyTable, Histogram, add_to_histogram};
use rayon::prelude::*;
use std::collections::HashMap;

/// The privacy criteria a class must meet to stay.
#[derive(Debug, Clone, PartialEq)]
pub struct Criteria {
    pub k: u64,
    pub suppression_limit: f64,
    pub l_diversity: Option<(u64, DiversityVariant)>,
    pub t_closeness: Option<f64>,
}

/// One sensitive column, as l-diversity and t-closeness see it.
#[derive(Debug, Clone)]
pub struct Sensitive {
    pub name: String,
    /// For ordered (numeric, date) columns, the rank of each value id; `None`: categorical.
    pub rank: Option<Vec<u32>>,
    /// The whole table's distribution, by value id.
    pub overall: Vec<f64>,
}

/// The metric values of a transformation; lower is better for each.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Metrics {
    pub discernibility: f64,
    pub aecs: f64,
    pub precision: f64,
    pub loss: f64,
    pub entropy: f64,
}

/// What a node's evaluation found.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub levels: Vec<u32>,
    pub suppressed_rows: u64,
    pub classes: u64,
    pub acceptable: bool,
    /// The objective (the chosen metric); exact integer for discernibility.
    pub score: Score,
    /// With a fairness constraint: the protected group furthest from it (its ratio), whether or
    /// not it breaks it.
    pub worst_group: Option<GroupRatio>,
}

/// A protected group's suppression share over the base share (see [`Fairness`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroupRatio {
    pub ratio: f64,
    /// The protected column (index into [`Fairness::columns`]) and the group's rows.
    pub column: usize,
    pub rows: u64,
}

/// `privacy.fairness`: no protected group (of at least k rows; values held by fewer rows form
/// one group "other") may have a suppression share above `ratio` times the base share: the
/// share of all rows suppressed when rows outside the group are suppressed too, else 1 / n
/// (so that suppressing a group's rows alone is judged against one row in the whole table).
/// Not monotone over the lattice (the base falls too), so it is checked at every node the
/// search evaluates; the metric bound's pruning does not depend on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Fairness {
    pub ratio: f64,
    /// Per protected column: its slot in the table's per-combination histograms, and per value
    /// id its group (groups below k rows share the last one, "other").
    pub columns: Vec<(usize, Vec<u32>)>,
    /// Rows per group, per protected column.
    pub group_rows: Vec<Vec<u64>>,
}

/// A metric value that compares exactly for discernibility.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Score {
    Exact(u128),
    Real(f64),
}

impl Score {
    fn cmp(&self, other: &Score) -> std::cmp::Ordering {
        match (self, other) {
            (Score::Exact(a), Score::Exact(b)) => a.cmp(b),
            (Score::Real(a), Score::Real(b)) => a.total_cmp(b),
            (a, b) => a.value().total_cmp(&b.value()),
        }
    }

    pub fn value(&self) -> f64 {
        match self {
            Score::Exact(v) => *v as f64,
            Score::Real(v) => *v,
        }
    }
}

/// The problem: quasi-identifier hierarchies, the table's combinations, criteria and metric.
pub struct Problem<'a> {
    pub columns: &'a [Generalization],
    /// A pinned level per column (`level:` in the job), else `None`.
    pub pinned: Vec<Option<u32>>,
    /// The table's combinations (leaf ids and rows), in key order.
    pub combos: Vec<(&'a [u32], &'a Entry)>,
    pub rows: u64,
    pub criteria: Criteria,
    pub sensitive: Vec<Sensitive>,
    pub metric: Metric,
    /// `privacy.fairness`, when set.
    pub fairness: Option<Fairness>,
    /// Rows per group, per column and level (input counts, for the entropy metric).
    group_rows: Vec<Vec<Vec<u64>>>,
    /// Σ over rows of a column's loss at each level, ignoring suppression (for bounds).
    loss_rows: Vec<Vec<f64>>,
    shifts: Vec<u32>,
    masks: Vec<u128>,
    /// Bits of a packed class key.
    bits: u32,
    /// Bytes the search may keep for one layer's classes (see [`MAX_SEARCH_MEMORY`]).
    pub memory_budget: u64,
}

/// The most transformations the optimal search considers. Beyond it, `validate` and every run
/// refuse the job (pin levels, use fewer levels, or Mondrian): a lattice of 8 columns with 11
/// levels each has 214 million nodes, which no search should try to hold.
pub const MAX_LATTICE: u64 = 1_000_000;

/// The most memory the search keeps for the classes of one layer of nodes (the sources the next
/// layer rolls up from), or a quarter of the machine's memory if that is less. A node with more
/// classes than its share is not kept: nodes above it compute their classes from another finer
/// node or the table, which gives the same classes more slowly. So memory does not grow with the
/// lattice: a 5-column lattice of 249,000 nodes over 3,000 rows once held 1.3 GB here.
pub const MAX_SEARCH_MEMORY: u64 = 4 << 30;

/// [`MAX_SEARCH_MEMORY`], or a quarter of the physical memory when that is less.
fn search_memory() -> u64 {
    // SAFETY: sysconf has no preconditions; a failure returns -1, handled below.
    let (pages, page_size) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    match (u64::try_from(pages), u64::try_from(page_size)) {
        (Ok(pages), Ok(size)) if pages > 0 && size > 0 => MAX_SEARCH_MEMORY.min(pages.saturating_mul(size) / 4),
        _ => MAX_SEARCH_MEMORY,
    }
}

/// Why a search cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(
        "the quasi-identifiers have too many distinct values to search together ({bits} bits per combination, at most 128)"
    )]
    TooWide { bits: u32 },
}

/// A class key: every column's group id packed into bit fields. `u64` when the fields fit
/// (half the memory traffic of `u128`, where the search spends its time), else `u128`.
pub trait ClassKey: Copy + Eq + Send + Sync + std::fmt::Debug + Default + 'static {
    fn field(self, shift: u32, mask: u128) -> u32;
    fn with_field(self, shift: u32, mask: u128, id: u32) -> Self;
    fn fold(self) -> u64;
    fn to_u128(self) -> u128;
}

impl ClassKey for u64 {
    #[inline]
    fn field(self, shift: u32, mask: u128) -> u32 {
        ((self >> shift) & mask as u64) as u32
    }
    #[inline]
    fn with_field(self, shift: u32, mask: u128, id: u32) -> Self {
        (self & !((mask as u64) << shift)) | (u64::from(id) << shift)
    }
    #[inline]
    fn fold(self) -> u64 {
        self
    }
    fn to_u128(self) -> u128 {
        u128::from(self)
    }
}

impl ClassKey for u128 {
    #[inline]
    fn field(self, shift: u32, mask: u128) -> u32 {
        ((self >> shift) & mask) as u32
    }
    #[inline]
    fn with_field(self, shift: u32, mask: u128, id: u32) -> Self {
        (self & !(mask << shift)) | (u128::from(id) << shift)
    }
    #[inline]
    fn fold(self) -> u64 {
        (self as u64) ^ ((self >> 64) as u64).rotate_left(17)
    }
    fn to_u128(self) -> u128 {
        self
    }
}

/// The classes of one node, struct-of-arrays.
#[derive(Debug, Clone, Default)]
pub struct Classes<K = u128> {
    pub keys: Vec<K>,
    pub counts: Vec<u64>,
    /// Per class, one histogram per sensitive column (empty without sensitive columns).
    pub histograms: Vec<Vec<Histogram>>,
}

impl<K> Classes<K> {
    /// Gives back capacity when more than half of it is unused (a reallocation copies the
    /// arrays, so a node that filled most of its room keeps it).
    fn shrink_to_fit(&mut self) {
        if self.keys.capacity() > 2 * self.keys.len() {
            self.keys.shrink_to_fit();
            self.counts.shrink_to_fit();
            self.histograms.shrink_to_fit();
        }
    }
}

/// The search's answer.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The best acceptable node, if any.
    pub best: Option<Evaluation>,
    pub nodes: usize,
    /// Nodes whose classes were computed (the others were pruned by the metric's bound).
    pub computed: usize,
    /// The largest k some node reaches within the suppression limit (meeting the other
    /// criteria), for the message when nothing is acceptable.
    pub best_reachable_k: Option<u64>,
    /// With a fairness constraint: the lowest worst-group ratio of the nodes within the
    /// suppression limit, for the message when nothing is acceptable.
    pub fairest: Option<GroupRatio>,
}

impl<'a> Problem<'a> {
    /// Sets up a search over `table` (its quasi-identifiers in the order of `columns`).
    ///
    /// # Errors
    /// [`SearchError::TooWide`] when a combination needs more than 128 bits.
    pub fn new(
        columns: &'a [Generalization],
        pinned: Vec<Option<u32>>,
        table: &'a FrequencyTable,
        criteria: Criteria,
        sensitive: Vec<Sensitive>,
        metric: Metric,
    ) -> Result<Self, SearchError> {
        // In key order: with a canonical table, every sum over combinations (a metric's last bit
        // included) is the same however the data was cut.
        let combos: Vec<(&[u32], &Entry)> = table.sorted_combos();
        let mut shifts = Vec::new();
        let mut masks = Vec::new();
        let mut bits = 0u32;
        for column in columns {
            let width = 32 - (column.groups(0).max(1) as u32).leading_zeros();
            shifts.push(bits);
            masks.push(if width >= 128 { u128::MAX } else { (1u128 << width) - 1 });
            bits += width;
        }
        if bits > 128 {
            return Err(SearchError::TooWide { bits });
        }
        let group_rows = columns
            .iter()
            .enumerate()
            .zip(table.marginals())
            .map(|((_, g), leaves)| {
                (0..=g.max_level)
                    .map(|level| {
                        let mut rows = vec![0u64; g.groups(level)];
                        for (leaf, &n) in leaves.iter().enumerate() {
                            rows[g.lift(leaf as u32, 0, level) as usize] += n;
                        }
                        rows
                    })
                    .collect()
            })
            .collect();
        let loss_rows: Vec<Vec<f64>> = columns
            .iter()
            .zip(&group_rows)
            .map(|(g, rows): (&Generalization, &Vec<Vec<u64>>)| {
                (0..=g.max_level)
                    .map(|level| {
                        rows[level as usize]
                            .iter()
                            .enumerate()
                            .map(|(id, &r)| r as f64 * g.loss(level, id as u32))
                            .sum()
                    })
                    .collect()
            })
            .collect();
        Ok(Self {
            columns,
            pinned,
            combos,
            rows: table.rows,
            criteria,
            sensitive,
            metric,
            fairness: None,
            group_rows,
            loss_rows,
            shifts,
            masks,
            bits,
            memory_budget: search_memory(),
        })
    }

    fn id<K: ClassKey>(&self, key: K, column: usize) -> u32 {
        key.field(self.shifts[column], self.masks[column])
    }

    fn min_level(&self, column: usize) -> u32 {
        self.pinned[column].unwrap_or(0)
    }

    fn max_level(&self, column: usize) -> u32 {
        self.pinned[column].unwrap_or(self.columns[column].max_level)
    }

    /// Every node of the lattice, by layer (level sum above the bottom).
    pub fn layers(&self) -> Vec<Vec<Vec<u32>>> {
        let n = self.columns.len();
        let mut layers: Vec<Vec<Vec<u32>>> = Vec::new();
        let mut node: Vec<u32> = (0..n).map(|c| self.min_level(c)).collect();
        loop {
            let height: u32 = (0..n).map(|c| node[c] - self.min_level(c)).sum();
            if layers.len() <= height as usize {
                layers.resize(height as usize + 1, Vec::new());
            }
            layers[height as usize].push(node.clone());
            // Next node in mixed radix, last column fastest.
            let mut c = n;
            loop {
                if c == 0 {
                    return layers;
                }
                c -= 1;
                if node[c] < self.max_level(c) {
                    node[c] += 1;
                    break;
                }
                node[c] = self.min_level(c);
            }
        }
    }

    /// The classes of a node straight from the table (the brute-force path and the bottom).
    pub fn classes_from_table(&self, levels: &[u32]) -> Classes {
        self.classes_from_table_as::<u128>(levels)
    }

    fn classes_from_table_as<K: ClassKey>(&self, levels: &[u32]) -> Classes<K> {
        let mut grouper = Grouper::with_capacity(self.combos.len());
        let mut classes = Classes::default();
        for (leaves, entry) in &self.combos {
            let mut key = K::default();
            for (c, &leaf) in leaves.iter().enumerate() {
                key = key.with_field(self.shifts[c], self.masks[c], self.columns[c].lift(leaf, 0, levels[c]));
            }
            self.add(&mut classes, &mut grouper, key, entry.count, &entry.sensitive);
        }
        classes.shrink_to_fit();
        classes
    }

    /// The classes of `levels` from those of `from`, one level finer in `column`.
    fn roll_up<K: ClassKey>(&self, from: &Classes<K>, from_levels: &[u32], column: usize) -> Classes<K> {
        let mut grouper = Grouper::with_capacity(from.keys.len());
        let mut classes = Classes {
            keys: Vec::with_capacity(from.keys.len() / 2),
            counts: Vec::with_capacity(from.keys.len() / 2),
            histograms: Vec::new(),
        };
        let level = from_levels[column];
        let (shift, mask) = (self.shifts[column], self.masks[column]);
        let up = &self.columns[column];
        for (i, &key) in from.keys.iter().enumerate() {
            let key = key.with_field(shift, mask, up.up(level, key.field(shift, mask)));
            let histograms = from.histograms.get(i).map_or(&[][..], Vec::as_slice);
            self.add(&mut classes, &mut grouper, key, from.counts[i], histograms);
        }
        // A layer of nodes is held at once: each keeps only what it has, not its source's size.
        classes.shrink_to_fit();
        classes
    }

    #[inline]
    fn add<K: ClassKey>(
        &self,
        classes: &mut Classes<K>,
        grouper: &mut Grouper,
        key: K,
        count: u64,
        histograms: &[Histogram],
    ) {
        match grouper.find_or_insert(key, &classes.keys) {
            Some(i) => {
                classes.counts[i] += count;
                for (mine, theirs) in classes.histograms.get_mut(i).into_iter().flatten().zip(histograms) {
                    for &(id, rows) in theirs {
                        add_to_histogram(mine, id, rows);
                    }
                }
            }
            None => {
                classes.keys.push(key);
                classes.counts.push(count);
                if self.keeps_histograms() {
                    classes.histograms.push(histograms.to_vec());
                }
            }
        }
    }

    /// Whether a class meets the criteria other than its size.
    pub(crate) fn diverse(&self, histograms: &[Histogram]) -> bool {
        histograms.iter().zip(&self.sensitive).all(|(h, s)| {
            let total: u64 = h.iter().map(|&(_, n)| n).sum();
            let l_ok = match self.criteria.l_diversity {
                None => true,
                Some((l, DiversityVariant::Distinct)) => h.len() as u64 >= l,
                Some((l, DiversityVariant::Entropy)) => entropy(h, total) >= (l as f64).ln() - 1e-12,
            };
            let t_ok = self.criteria.t_closeness.is_none_or(|t| earth_movers_distance(h, total, s) <= t + 1e-12);
            l_ok && t_ok
        })
    }

    /// Whether classes carry their per-value histograms (diversity or fairness needs them).
    fn keeps_histograms(&self) -> bool {
        !self.sensitive.is_empty() || self.fairness.is_some()
    }

    /// The protected group furthest from the fairness rule at this node (`None` without one).
    fn worst_group<K: ClassKey>(&self, classes: &Classes<K>) -> Option<GroupRatio> {
        let fairness = self.fairness.as_ref()?;
        let mut suppressed_total = 0u64;
        let mut suppressed: Vec<Vec<u64>> = fairness.group_rows.iter().map(|g| vec![0; g.len()]).collect();
        for (i, &count) in classes.counts.iter().enumerate() {
            if count >= self.criteria.k && self.class_is_diverse(classes, i) {
                continue;
            }
            suppressed_total += count;
            for ((slot, group_of), groups) in fairness.columns.iter().zip(&mut suppressed) {
                for &(id, n) in classes.histograms.get(i).and_then(|h| h.get(*slot)).map_or(&[][..], Vec::as_slice) {
                    groups[group_of[id as usize] as usize] += n;
                }
            }
        }
        let n = self.rows.max(1) as f64;
        let mut worst: Option<GroupRatio> = None;
        for (column, (groups, rows)) in suppressed.iter().zip(&fairness.group_rows).enumerate() {
            for (&s, &r) in groups.iter().zip(rows) {
                if r < self.criteria.k || r == 0 {
                    continue;
                }
                let base = if suppressed_total > s { suppressed_total as f64 / n } else { 1.0 / n };
                let ratio = (s as f64 / r as f64) / base;
                if worst.is_none_or(|w| ratio > w.ratio) {
                    worst = Some(GroupRatio { ratio, column, rows: r });
                }
            }
        }
        worst
    }

    /// Whether class `i` stays: k rows and the other criteria.
    pub fn class_stays<K: ClassKey>(&self, classes: &Classes<K>, i: usize) -> bool {
        classes.counts[i] >= self.criteria.k && self.class_is_diverse(classes, i)
    }

    /// Bit offsets of each column's id in a class key.
    pub fn shifts(&self) -> &[u32] {
        &self.shifts
    }

    /// Whether class `i` stays (its other criteria, not its size).
    fn class_is_diverse<K: ClassKey>(&self, classes: &Classes<K>, i: usize) -> bool {
        self.sensitive.is_empty() || self.diverse(&classes.histograms[i])
    }

    /// Suppressed rows and kept classes of a node for a given k.
    fn suppression<K: ClassKey>(&self, classes: &Classes<K>, k: u64) -> (u64, u64) {
        let mut suppressed = 0;
        let mut kept = 0;
        for (i, &count) in classes.counts.iter().enumerate() {
            if count >= k && self.class_is_diverse(classes, i) {
                kept += 1;
            } else {
                suppressed += count;
            }
        }
        (suppressed, kept)
    }

    /// The most rows that may be suppressed.
    pub fn allowed_suppression(&self) -> u64 {
        (self.criteria.suppression_limit * self.rows as f64).floor() as u64
    }

    /// A lower bound on the metric of this node and of every node above it (more general).
    /// Each holds row by row going up the lattice: classes only merge, levels only rise, a
    /// group's loss and entropy only grow, and a suppressed row costs at least as much as a
    /// kept one. A node whose bound is no better than the best acceptable node found in a
    /// lower layer cannot win, nor can anything above it (it would also lose the tie on the
    /// level sum), so those nodes are never computed.
    fn lower_bound<K: ClassKey>(&self, levels: &[u32], classes: &Classes<K>) -> Score {
        let n = self.rows as f64;
        let q = self.columns.len() as f64;
        match self.metric {
            Metric::Discernibility => Score::Exact(classes.counts.iter().map(|&c| u128::from(c) * u128::from(c)).sum()),
            Metric::Aecs => Score::Real(n / (classes.keys.len() + 1) as f64),
            Metric::Precision => Score::Real(
                levels
                    .iter()
                    .zip(self.columns)
                    .map(|(&l, g)| f64::from(l) / f64::from(g.max_level.max(1)))
                    .sum::<f64>()
                    / q,
            ),
            Metric::Loss => {
                let total: f64 = levels.iter().enumerate().map(|(c, &l)| self.loss_rows[c][l as usize]).sum();
                Score::Real(total / (n * q))
            }
            Metric::Entropy => {
                let x_log_x =
                    |rows: &[u64]| rows.iter().filter(|&&r| r > 0).map(|&r| r as f64 * (r as f64).log2()).sum::<f64>();
                Score::Real(
                    levels
                        .iter()
                        .enumerate()
                        .map(|(c, &l)| x_log_x(&self.group_rows[c][l as usize]) - x_log_x(&self.group_rows[c][0]))
                        .sum(),
                )
            }
        }
    }

    /// Evaluates a node: suppression, acceptability and the objective metric.
    pub fn evaluate<K: ClassKey>(&self, levels: &[u32], classes: &Classes<K>) -> Evaluation {
        let (suppressed_rows, kept) = self.suppression(classes, self.criteria.k);
        let within = suppressed_rows <= self.allowed_suppression();
        let worst_group = if within { self.worst_group(classes) } else { None };
        let fair = match (&self.fairness, worst_group) {
            (Some(f), Some(w)) => w.ratio <= f.ratio * (1.0 + 1e-12),
            _ => true,
        };
        let acceptable = within && fair;
        let score = if acceptable { self.score(levels, classes) } else { Score::Real(f64::INFINITY) };
        Evaluation { levels: levels.to_vec(), suppressed_rows, classes: kept, acceptable, score, worst_group }
    }

    fn score<K: ClassKey>(&self, levels: &[u32], classes: &Classes<K>) -> Score {
        if self.metric == Metric::Discernibility {
            return Score::Exact(self.discernibility(classes));
        }
        let m = self.metrics(levels, classes, Some(self.metric));
        Score::Real(match self.metric {
            Metric::Aecs => m.aecs,
            Metric::Precision => m.precision,
            Metric::Entropy => m.entropy,
            Metric::Loss | Metric::Discernibility => m.loss,
        })
    }

    fn discernibility<K: ClassKey>(&self, classes: &Classes<K>) -> u128 {
        let mut total = 0u128;
        for (i, &count) in classes.counts.iter().enumerate() {
            let count = u128::from(count);
            if count >= u128::from(self.criteria.k) && self.class_is_diverse(classes, i) {
                total += count * count;
            } else {
                total += count * u128::from(self.rows);
            }
        }
        total
    }

    /// Every metric of a node (or only `only`, the others left 0).
    pub fn metrics<K: ClassKey>(&self, levels: &[u32], classes: &Classes<K>, only: Option<Metric>) -> Metrics {
        let wants = |m: Metric| only.is_none_or(|o| o == m);
        let n = self.rows as f64;
        let columns = self.columns.len() as f64;
        let (suppressed, kept) = self.suppression(classes, self.criteria.k);
        let mut metrics = Metrics::default();
        if n == 0.0 {
            return metrics;
        }
        if wants(Metric::Discernibility) {
            metrics.discernibility = self.discernibility(classes) as f64;
        }
        if wants(Metric::Aecs) {
            metrics.aecs = n / (kept + u64::from(suppressed > 0)) as f64;
        }
        let s = suppressed as f64;
        if wants(Metric::Precision) {
            let per_row: f64 = levels
                .iter()
                .zip(self.columns)
                .map(|(&l, g)| f64::from(l) / f64::from(g.max_level.max(1)))
                .sum::<f64>();
            metrics.precision = ((n - s) * per_row + s * columns) / (n * columns);
        }
        if wants(Metric::Loss) || wants(Metric::Entropy) {
            let mut loss = s * columns;
            let mut entropy_adjust = 0.0;
            let log_n = n.log2();
            for (i, &key) in classes.keys.iter().enumerate() {
                let count = classes.counts[i];
                let stays = count >= self.criteria.k && self.class_is_diverse(classes, i);
                for (c, g) in self.columns.iter().enumerate() {
                    let id = self.id(key, c);
                    if stays {
                        loss += count as f64 * g.loss(levels[c], id);
                    } else {
                        let group = self.group_rows[c][levels[c] as usize][id as usize] as f64;
                        entropy_adjust += count as f64 * (log_n - group.log2());
                    }
                }
            }
            metrics.loss = loss / (n * columns);
            let mut entropy = entropy_adjust;
            for (c, _) in self.columns.iter().enumerate() {
                let x_log_x =
                    |rows: &[u64]| rows.iter().filter(|&&r| r > 0).map(|&r| r as f64 * (r as f64).log2()).sum::<f64>();
                entropy += x_log_x(&self.group_rows[c][levels[c] as usize]) - x_log_x(&self.group_rows[c][0]);
            }
            metrics.entropy = entropy;
        }
        metrics
    }

    /// Each column's share of the loss metric at a node: 0 when its values are kept, 1 when all
    /// are `*` (suppressed rows count 1). Their mean is [`Metrics::loss`].
    pub fn column_losses<K: ClassKey>(&self, levels: &[u32], classes: &Classes<K>) -> Vec<f64> {
        let n = self.rows as f64;
        if n == 0.0 {
            return vec![0.0; self.columns.len()];
        }
        let mut losses = vec![0.0; self.columns.len()];
        for (i, &key) in classes.keys.iter().enumerate() {
            let count = classes.counts[i] as f64;
            let stays = self.class_stays(classes, i);
            for (c, g) in self.columns.iter().enumerate() {
                losses[c] += if stays { count * g.loss(levels[c], self.id(key, c)) } else { count };
            }
        }
        losses.iter().map(|l| l / n).collect()
    }

    /// The largest k a node reaches within the suppression limit (diversity criteria included).
    fn reachable_k<K: ClassKey>(&self, classes: &Classes<K>) -> u64 {
        let allowed = self.allowed_suppression();
        let mut sizes: Vec<(u64, bool)> =
            classes.counts.iter().enumerate().map(|(i, &c)| (c, self.class_is_diverse(classes, i))).collect();
        sizes.sort_unstable();
        // Rows that must go whatever k is: classes that fail the other criteria.
        let mut removed: u64 = sizes.iter().filter(|s| !s.1).map(|s| s.0).sum();
        if removed > allowed {
            return 0;
        }
        let diverse: Vec<u64> = sizes.iter().filter(|s| s.1).map(|s| s.0).collect();
        let mut best = diverse.first().copied().unwrap_or(0);
        for (i, &size) in diverse.iter().enumerate() {
            removed += size;
            if removed > allowed {
                break;
            }
            best = diverse.get(i + 1).copied().unwrap_or(best);
        }
        best
    }

    /// Searches the whole lattice.
    pub fn search(&self) -> Outcome {
        self.search_with(false)
    }

    fn search_with(&self, reach: bool) -> Outcome {
        if self.bits <= 64 { self.search_keyed::<u64>(reach) } else { self.search_keyed::<u128>(reach) }
    }

    fn search_keyed<K: ClassKey>(&self, reach: bool) -> Outcome {
        let layers = self.layers();
        let nodes = layers.iter().map(Vec::len).sum();
        // The most classes a node may keep for the layer above (see `MAX_SEARCH_MEMORY`): the
        // budget shared by the widest layer. Which nodes keep theirs changes speed, never results.
        let slots = self.sensitive.len() + self.fairness.as_ref().map_or(0, |f| f.columns.len());
        // A histogram slot costs a Vec header and a small heap block: about 100-130 bytes.
        let per_class = std::mem::size_of::<K>() as u64 + 8 + 128 * slots as u64;
        let widest = layers.iter().map(Vec::len).max().unwrap_or(1).max(1) as u64;
        let keep_limit = usize::try_from(self.memory_budget / per_class / widest).unwrap_or(usize::MAX).max(1);
        let mut best: Option<Evaluation> = None;
        let mut fairest: Option<GroupRatio> = None;
        let mut best_k: Option<u64> = None;
        let mut previous: HashMap<Vec<u32>, Classes<K>> = HashMap::new();
        let mut pruned: std::collections::HashSet<Vec<u32>> = std::collections::HashSet::new();
        let mut computed_nodes = 0;
        for layer in layers {
            // A signal stops the search between layers (the caller checks again and fails).
            if crate::interrupt::requested() {
                break;
            }
            // A node above a pruned node is pruned too (its bound is no better).
            let layer: Vec<Vec<u32>> = layer
                .into_iter()
                .filter(|levels| {
                    let mut finer = levels.clone();
                    let above_pruned = (0..levels.len()).any(|c| {
                        levels[c] > self.min_level(c) && {
                            finer[c] -= 1;
                            let hit = pruned.contains(&finer);
                            finer[c] += 1;
                            hit
                        }
                    });
                    if above_pruned {
                        pruned.insert(levels.clone());
                    }
                    !above_pruned
                })
                .collect();
            let best_before_layer = best.clone();
            let computed: Vec<Computed<K>> = layer
                .into_par_iter()
                .map(|levels| {
                    let classes = self.classes_of(&levels, &previous);
                    let evaluation = self.evaluate(&levels, &classes);
                    let k = if reach { self.reachable_k(&classes) } else { 0 };
                    // Pruned for the layers above when even the bound cannot beat the best of
                    // a lower layer (never while looking for the best reachable k).
                    let hopeless = !reach
                        && best_before_layer
                            .as_ref()
                            .is_some_and(|b| self.lower_bound(&levels, &classes).cmp(&b.score).is_ge());
                    let classes = (classes.keys.len() <= keep_limit).then_some(classes);
                    (levels, classes, evaluation, k, hopeless)
                })
                .collect();
            previous.clear();
            for (levels, classes, evaluation, k, hopeless) in computed {
                computed_nodes += 1;
                best_k = Some(best_k.map_or(k, |b| b.max(k)));
                if let Some(w) = evaluation.worst_group
                    && fairest.is_none_or(|f| w.ratio < f.ratio)
                {
                    fairest = Some(w);
                }
                if evaluation.acceptable && best.as_ref().is_none_or(|b| better(&evaluation, b)) {
                    best = Some(evaluation);
                }
                if hopeless {
                    pruned.insert(levels.clone());
                }
                if let Some(classes) = classes {
                    previous.insert(levels, classes);
                }
            }
        }
        Outcome { best, nodes, computed: computed_nodes, best_reachable_k: if reach { best_k } else { None }, fairest }
    }

    /// The largest k reachable within the limit, for the failure message (a second search).
    pub fn best_reachable_k(&self) -> u64 {
        self.search_with(true).best_reachable_k.unwrap_or(0)
    }

    fn classes_of<K: ClassKey>(&self, levels: &[u32], previous: &HashMap<Vec<u32>, Classes<K>>) -> Classes<K> {
        let mut source: Option<(usize, &Vec<u32>, &Classes<K>)> = None;
        let mut finer = levels.to_vec();
        for c in 0..levels.len() {
            if levels[c] > self.min_level(c) {
                finer[c] -= 1;
                if let Some((key, classes)) = previous.get_key_value(&finer)
                    && source.is_none_or(|(_, _, best)| classes.keys.len() < best.keys.len())
                {
                    source = Some((c, key, classes));
                }
                finer[c] += 1;
            }
        }
        match source {
            Some((column, from_levels, from)) => self.roll_up(from, from_levels, column),
            None => self.classes_from_table_as(levels),
        }
    }
}

/// An open-addressing index from class keys to their position in a [`Classes`], sized once
/// for at most `capacity` keys (a node never has more classes than its source). Linear probing
/// over a power-of-two table at most half full; far cheaper than a general hash map here,
/// which is where the search spends its time.
struct Grouper {
    slots: Vec<u32>,
    mask: usize,
    /// 64 − log2(table size): the multiplicative hash keeps its best (top) bits.
    shift: u32,
}

const EMPTY: u32 = u32::MAX;

thread_local! {
    /// Each worker thread's slot table, reused from node to node (fresh tables cost page faults).
    static SLOTS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Grouper {
    fn with_capacity(capacity: usize) -> Self {
        let size = (capacity * 2).next_power_of_two().max(16);
        let mut slots = SLOTS.with(|s| std::mem::take(&mut *s.borrow_mut()));
        slots.clear();
        slots.resize(size, EMPTY);
        Self { slots, mask: size - 1, shift: 64 - size.trailing_zeros() }
    }

    /// The position of `key` in `keys`, or `None` after reserving the next position for it.
    #[inline]
    fn find_or_insert<K: ClassKey>(&mut self, key: K, keys: &[K]) -> Option<usize> {
        let folded = key.fold();
        let mut slot = (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize;
        loop {
            let at = self.slots[slot];
            if at == EMPTY {
                self.slots[slot] = keys.len() as u32;
                return None;
            }
            if keys[at as usize] == key {
                return Some(at as usize);
            }
            slot = (slot + 1) & self.mask;
        }
    }
}

impl Drop for Grouper {
    fn drop(&mut self) {
        let slots = std::mem::take(&mut self.slots);
        SLOTS.with(|s| *s.borrow_mut() = slots);
    }
}

/// A node of a layer once computed: levels, classes (unless too many to keep), evaluation, reachable k, and whether its
/// bound prunes everything above it.
type Computed<K> = (Vec<u32>, Option<Classes<K>>, Evaluation, u64, bool);

/// Whether `a` beats `b`: better score, then lower level sum, then smaller levels.
pub fn better(a: &Evaluation, b: &Evaluation) -> bool {
    let sum = |e: &Evaluation| e.levels.iter().map(|&l| u64::from(l)).sum::<u64>();
    a.score.cmp(&b.score).then(sum(a).cmp(&sum(b))).then(a.levels.cmp(&b.levels)).is_lt()
}

/// Shannon entropy (natural log) of a histogram.
fn entropy(histogram: &Histogram, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    let total = total as f64;
    histogram
        .iter()
        .filter(|&&(_, n)| n > 0)
        .map(|&(_, n)| {
            let p = n as f64 / total;
            -p * p.ln()
        })
        .sum()
}

/// Earth mover's distance between a class's distribution and the overall one: half the total
/// variation for categorical columns (every pair of values at distance 1), the mean absolute
/// cumulative difference over m − 1 steps for ordered ones.
pub fn earth_movers_distance(histogram: &Histogram, total: u64, sensitive: &Sensitive) -> f64 {
    let mut p = vec![0.0; sensitive.overall.len()];
    for &(id, n) in histogram {
        if let Some(slot) = p.get_mut(id as usize) {
            *slot = n as f64 / total.max(1) as f64;
        }
    }
    match &sensitive.rank {
        None => p.iter().zip(&sensitive.overall).map(|(a, b)| (a - b).abs()).sum::<f64>() / 2.0,
        Some(rank) => {
            let m = rank.len();
            if m < 2 {
                return 0.0;
            }
            let mut by_rank = vec![0.0; m];
            for (id, &r) in rank.iter().enumerate() {
                by_rank[r as usize] = p[id] - sensitive.overall[id];
            }
            let mut cumulative = 0.0;
            let mut sum = 0.0;
            for d in by_rank.iter().take(m - 1) {
                cumulative += d;
                sum += f64::abs(cumulative);
            }
            sum / (m - 1) as f64
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::job::Hierarchy;
    use crate::privacy::table::FrequencyTable;
    use arrow::array::StringArray;
    use rand::{RngExt, SeedableRng};

    pub(crate) const ADULT: [&str; 9] = [
        "sex",
        "age",
        "race",
        "marital-status",
        "education",
        "native-country",
        "workclass",
        "occupation",
        "salary-class",
    ];

    /// Adult's frequency table and ARX's hierarchies.
    pub(crate) fn adult() -> (FrequencyTable, Vec<Generalization>) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sample_data/adult");
        let text = std::fs::read_to_string(dir.join("adult.csv")).unwrap();
        let mut lines = text.lines();
        lines.next();
        let mut columns: Vec<Vec<String>> = vec![Vec::new(); 9];
        for line in lines {
            for (c, field) in line.trim_end_matches('\r').split(';').enumerate() {
                columns[c].push(field.to_string());
            }
        }
        let arrays: Vec<StringArray> = columns.iter().map(|c| StringArray::from_iter_values(c.iter())).collect();
        let table = FrequencyTable::from_batch(&arrays, &[]);
        let generalizations = ADULT
            .iter()
            .enumerate()
            .map(|(c, name)| {
                let h = Hierarchy::File { path: dir.join(format!("adult_hierarchy_{name}.csv")), delimiter: b';' };
                Generalization::build(name, Some(&h), table.quasi[c].values(), &table.marginals()[c]).unwrap()
            })
            .collect();
        (table, generalizations)
    }

    fn criteria(k: u64, limit: f64) -> Criteria {
        Criteria { k, suppression_limit: limit, l_diversity: None, t_closeness: None }
    }

    /// ARX's optimum for Adult, k = 5, 4% suppression, discernibility.
    #[test]
    fn adult_matches_arx() {
        let (table, columns) = adult();
        assert_eq!(table.rows, 30_162);
        let problem =
            Problem::new(&columns, vec![None; 9], &table, criteria(5, 0.04), Vec::new(), Metric::Discernibility)
                .unwrap();
        let outcome = problem.search();
        assert_eq!(outcome.nodes, 12_960);
        // The discernibility bound spares the upper lattice.
        assert!(outcome.computed < 12_000, "{} nodes computed", outcome.computed);
        // Keys fit 64 bits here; the 128-bit path gives the same answer.
        assert!(problem.bits <= 64);
        assert_eq!(problem.search_keyed::<u128>(false).best, outcome.best);
        let best = outcome.best.unwrap();
        assert_eq!(best.levels, vec![0, 0, 1, 2, 3, 2, 2, 1, 1]);
        assert_eq!(best.suppressed_rows, 105);
        assert_eq!(best.classes, 356);
        assert_eq!(best.score, Score::Exact(7_220_555));
        // Per-column losses: the first two columns are kept, so only suppressed rows cost them;
        // their mean is the loss metric.
        let classes = problem.classes_from_table(&best.levels);
        let losses = problem.column_losses(&best.levels, &classes);
        let metrics = problem.metrics(&best.levels, &classes, None);
        assert!((losses[0] - 105.0 / 30_162.0).abs() < 1e-12, "{losses:?}");
        assert!(losses[4] > losses[0]);
        let mean = losses.iter().sum::<f64>() / losses.len() as f64;
        assert!((mean - metrics.loss).abs() < 1e-12, "{mean} vs {}", metrics.loss);
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    /// Property test: on random small tables, with random k, limits, pinned levels, l-diversity
    /// and t-closeness, the search's optimum equals brute force over the whole lattice (each
    /// node's classes computed straight from the table), for every metric; and suppression
    /// only falls going up the lattice for k-anonymity alone.
    /// With almost no memory to keep classes in, nodes compute theirs from the table instead of
    /// a finer node: the same answer, only slower.
    #[test]
    fn a_tiny_memory_budget_changes_nothing_but_speed() {
        let (table, columns) = adult();
        let mut problem =
            Problem::new(&columns, vec![None; 9], &table, criteria(5, 0.04), Vec::new(), Metric::Discernibility)
                .unwrap();
        let roomy = problem.search();
        problem.memory_budget = 1;
        let tight = problem.search();
        assert_eq!(roomy.best, tight.best);
        assert_eq!(tight.best.unwrap().levels, vec![0, 0, 1, 2, 3, 2, 2, 1, 1]);
    }

    #[test]
    fn search_equals_brute_force() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(5);
        let mut map = std::collections::BTreeMap::new();
        for (leaf, group) in [("a", "ab"), ("b", "ab"), ("c", "cd"), ("d", "cd"), ("e", "ef"), ("f", "ef")] {
            let top = if group == "ef" { "other" } else { "letters" };
            map.insert(leaf.to_string(), vec![group.to_string(), top.to_string()]);
        }
        let hierarchies =
            [Some(Hierarchy::Map { values: map }), Some(Hierarchy::Interval { widths: vec![2.0, 4.0] }), None];
        let metrics = [Metric::Discernibility, Metric::Aecs, Metric::Precision, Metric::Loss, Metric::Entropy];
        let mut cases = 0;
        let mut pruned_cases = 0;
        let mut binding_cases = 0;
        for case in 0..150 {
            let rows = rng.random_range(10..90);
            let mut columns: Vec<Vec<String>> = vec![Vec::new(); 3];
            let mut sensitive = Vec::new();
            for _ in 0..rows {
                columns[0].push(["a", "b", "c", "d", "e", "f"][rng.random_range(0..6)].to_string());
                columns[1].push(rng.random_range(0..10).to_string());
                columns[2].push(["x", "y", "z"][rng.random_range(0..3)].to_string());
                sensitive.push(rng.random_range(0..4).to_string());
            }
            let arrays: Vec<StringArray> = columns.iter().map(|c| StringArray::from_iter_values(c.iter())).collect();
            let with_sensitive = case % 3 == 0;
            // A protected column (a skewed group per row) for the fairness cases.
            let with_protected = case % 3 == 1;
            let protected: Vec<String> =
                (0..rows).map(|i| if i % 7 == 0 { "minority" } else { "majority" }.to_string()).collect();
            let sensitive_arrays = if with_sensitive {
                vec![StringArray::from_iter_values(sensitive.iter())]
            } else if with_protected {
                vec![StringArray::from_iter_values(protected.iter())]
            } else {
                vec![]
            };
            let table = FrequencyTable::from_batch(&arrays, &sensitive_arrays);
            let generalizations: Vec<Generalization> = (0..3)
                .map(|c| {
                    Generalization::build("c", hierarchies[c].as_ref(), table.quasi[c].values(), &table.marginals()[c])
                        .unwrap()
                })
                .collect();
            let mut pinned = vec![None; 3];
            if case % 5 == 1 {
                pinned[rng.random_range(0..3)] = Some(1);
            }
            let limit = [0.0, 0.1, 0.25][rng.random_range(0..3)];
            let mut criteria = criteria(rng.random_range(2..6), limit);
            let mut sensitive_columns = Vec::new();
            if with_sensitive {
                let dictionary = &table.sensitive[0];
                let mut overall = vec![0.0; dictionary.len()];
                for entry in table.combos.values() {
                    for &(id, n) in &entry.sensitive[0] {
                        overall[id as usize] += n as f64 / table.rows as f64;
                    }
                }
                let rank = (case % 2 == 0).then(|| {
                    let mut ids: Vec<u32> = (0..dictionary.len() as u32).collect();
                    ids.sort_by_key(|&id| dictionary.values()[id as usize].clone());
                    let mut rank = vec![0u32; ids.len()];
                    for (r, id) in ids.into_iter().enumerate() {
                        rank[id as usize] = r as u32;
                    }
                    rank
                });
                sensitive_columns.push(Sensitive { name: "s".into(), rank, overall });
                match case % 4 {
                    0 => criteria.l_diversity = Some((2, DiversityVariant::Distinct)),
                    1 => criteria.l_diversity = Some((2, DiversityVariant::Entropy)),
                    _ => criteria.t_closeness = Some(0.3),
                }
            }
            let ratio = [1.5, 3.0, 1e9][(case / 3) % 3];
            for metric in metrics {
                let mut problem = Problem::new(
                    &generalizations,
                    pinned.clone(),
                    &table,
                    criteria.clone(),
                    sensitive_columns.clone(),
                    metric,
                )
                .unwrap();
                let unbound = problem.search();
                if with_protected {
                    // Groups as the run makes them: values of at least k rows, the rest "other".
                    let dictionary = &table.sensitive[0];
                    let mut rows = vec![0u64; dictionary.len()];
                    for entry in table.combos.values() {
                        for &(id, n) in &entry.sensitive[0] {
                            rows[id as usize] += n;
                        }
                    }
                    let named: Vec<usize> = (0..rows.len()).filter(|&i| rows[i] >= criteria.k).collect();
                    let group_of: Vec<u32> = (0..rows.len())
                        .map(|i| named.iter().position(|&n| n == i).unwrap_or(named.len()) as u32)
                        .collect();
                    let mut group_rows = vec![0u64; named.len() + 1];
                    for (i, &n) in rows.iter().enumerate() {
                        group_rows[group_of[i] as usize] += n;
                    }
                    problem.fairness =
                        Some(Fairness { ratio, columns: vec![(0, group_of)], group_rows: vec![group_rows] });
                }
                let outcome = problem.search();
                // A bound that never binds changes nothing.
                if with_protected && ratio > 1e6 {
                    assert_eq!(
                        outcome.best.as_ref().map(|b| (&b.levels, b.score)),
                        unbound.best.as_ref().map(|b| (&b.levels, b.score)),
                        "case {case} {metric:?}"
                    );
                }
                if let (Some(f), Some(b)) = (&problem.fairness, &outcome.best) {
                    assert!(b.worst_group.is_none_or(|w| w.ratio <= f.ratio * (1.0 + 1e-12)), "case {case}");
                }
                if with_protected
                    && outcome.best.as_ref().map(|b| &b.levels) != unbound.best.as_ref().map(|b| &b.levels)
                {
                    binding_cases += 1;
                }
                pruned_cases += usize::from(outcome.computed < outcome.nodes);
                let mut brute: Option<Evaluation> = None;
                let mut all = Vec::new();
                for levels in problem.layers().into_iter().flatten() {
                    let e = problem.evaluate(&levels, &problem.classes_from_table(&levels));
                    if e.acceptable && brute.as_ref().is_none_or(|b| better(&e, b)) {
                        brute = Some(e.clone());
                    }
                    all.push(e);
                }
                match (&outcome.best, &brute) {
                    (None, None) => {}
                    (Some(found), Some(expected)) => {
                        assert!(close(found.score.value(), expected.score.value()), "case {case} {metric:?}");
                        let same = all.iter().find(|e| e.levels == found.levels).unwrap();
                        assert!(same.acceptable && close(same.score.value(), found.score.value()));
                        assert_eq!(same.suppressed_rows, found.suppressed_rows);
                        cases += 1;
                    }
                    _ => panic!("case {case} {metric:?}: search {:?} brute force {:?}", outcome.best, brute),
                }
                if criteria.l_diversity.is_none() && criteria.t_closeness.is_none() {
                    for a in &all {
                        for b in &all {
                            if a.levels.iter().zip(&b.levels).all(|(x, y)| x <= y) {
                                assert!(b.suppressed_rows <= a.suppressed_rows);
                            }
                        }
                    }
                }
            }
        }
        assert!(cases > 500, "{cases} cases had an optimum");
        assert!(pruned_cases > 100, "the bounds pruned in only {pruned_cases} cases");
        assert!(binding_cases > 10, "the fairness bound changed the optimum in only {binding_cases} cases");
    }
}

/// A utility metric for the k-anonymity search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    #[default]
    Loss,
    Discernibility,
    Aecs,
    Precision,
    Entropy,
}

/// An l-diversity variant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiversityVariant {
    #[default]
    Distinct,
    Entropy,
}
