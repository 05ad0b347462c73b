//! Differentially private aggregates per group (`aggregates:` in the job).
//!
//! - **Contribution bounding.** Each privacy unit (say, a customer) contributes to at most
//!   `max_groups_per_unit` groups: those whose keyed hash BLAKE3-keyed(run key, unit, group) is
//!   smallest (a choice that depends on the unit's own rows only, and not on their order, so any
//!   cut of the input into batches or partitions chooses the same groups). Within a group it
//!   contributes once: to `count` as one unit, to `sum` its total clamped to `bounds`, to a
//!   histogram the smallest bin (or category) among its values. Rows without a privacy unit are
//!   left out.
//! - **Budget.** The release's epsilon is split evenly over its measures, plus one share for
//!   partition selection when the groups are not public; `mean` is a noisy sum over a noisy count,
//!   each from half its share. Delta is split evenly over what selects from the data: partition
//!   selection and each histogram over categories.
//! - **Partition selection** (groups not public): a group is released only if its noisy unit
//!   count (discrete Laplace, scale m/epsilon) reaches 1 + ceil(scale · ln(m/delta)), so a group
//!   made by one unit appears with probability at most delta/m (m = max_groups_per_unit).
//! - **Noise.** Discrete Laplace: counts and histogram cells with scale m/epsilon; sums on a
//!   power-of-two grid with scale m · (largest |bound| in grid units + 1)/epsilon. Each released
//!   value carries its noise scale and a 95% error bound (|noise| stays below it with
//!   probability at least 0.95); a mean (a ratio of two noisy values) has no single scale, and
//!   its bound comes from both noises' 97.5% bounds.

use super::samplers::discrete_laplace;
use crate::job::{Aggregate, Measure};
use rand_chacha::ChaCha20Rng;
use std::collections::{BTreeMap, HashMap};

/// One output row of a release.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Released {
    /// The group's values (`None`: null), in `group_by` order.
    pub group: Vec<Option<String>>,
    pub measure: String,
    /// Histogram bin (`[low, high)`), else `None`.
    pub bin: Option<String>,
    pub value: f64,
    pub noise_scale: Option<f64>,
    pub error_95: Option<f64>,
}

/// What a release did, for the summary.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReleaseSummary {
    pub name: String,
    pub path: String,
    pub epsilon: f64,
    pub delta: f64,
    /// The epsilon of each measure (and of partition selection, when groups are not public).
    pub epsilon_per_share: f64,
    pub partition_selection: bool,
    /// Groups released (how many groups the data has is not released: it is not private).
    pub groups_released: usize,
    /// Rows left out: no privacy unit, a unit's groups beyond the bound, or not a public group.
    pub rows_dropped: u64,
    /// Rows of the release file (one per released group, measure and bin).
    pub rows: usize,
}

/// One row's inputs to a release: privacy unit, group values, and per measure a value.
#[derive(Debug, Clone)]
pub struct Row {
    pub unit: Option<String>,
    pub group: Vec<Option<String>>,
    /// Per measure: the number it adds (`None`: null or not a number).
    pub values: Vec<Option<f64>>,
    /// Per measure: the category of a histogram without bins (else `None`).
    pub categories: Vec<Option<String>>,
}

/// Sums are kept in integers of 2^-40 (about 1e-12), so that they are exact: however rows are
/// cut into batches and partitions, and in whatever order partial sums are merged, every total
/// is the same to the last bit. Values beyond ±2^87 saturate (bounds clamp them anyway).
const FIXED_POINT: f64 = (1u64 << 40) as f64;

fn to_fixed(value: f64) -> i128 {
    // `as` saturates, and NaN never reaches here (non-finite values are skipped).
    (value * FIXED_POINT).round() as i128
}

fn from_fixed(total: i128) -> f64 {
    total as f64 / FIXED_POINT
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct Contribution {
    /// Per measure: running total in units of 2^-40 (sum, mean; clamped at release).
    totals: Vec<i128>,
    /// Per measure: the smallest bin (histogram with bins).
    bins: Vec<Option<usize>>,
    /// Per measure: the smallest category (histogram without bins).
    categories: Vec<Option<String>>,
    /// The unit's rows in this group.
    rows: u64,
}

impl Contribution {
    fn merge(&mut self, other: Contribution) {
        for (mine, theirs) in self.totals.iter_mut().zip(other.totals) {
            *mine = mine.saturating_add(theirs);
        }
        for (mine, theirs) in self.bins.iter_mut().zip(other.bins) {
            *mine = match (*mine, theirs) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        for (mine, theirs) in self.categories.iter_mut().zip(other.categories) {
            if let Some(theirs) = theirs
                && mine.as_ref().is_none_or(|m| theirs < *m)
            {
                *mine = Some(theirs);
            }
        }
        self.rows += other.rows;
    }
}

/// The rows one release has seen, before bounding and noise: per privacy unit, its
/// contribution to each group. Partials of separate parts of the data merge into the partials of
/// the whole, in any order, with the same result (sums are exact; bins and categories keep their
/// smallest), so a cluster can collect them per partition and release once.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "PartialsForm", into = "PartialsForm")]
pub struct Partials {
    /// Group values → id (in order of first appearance here).
    groups: BTreeMap<Vec<Option<String>>, usize>,
    /// Per unit: every group (id) it appears in, with its contribution; bounded to
    /// `max_groups_per_unit` at release.
    units: HashMap<String, Vec<(usize, Contribution)>>,
    rows_dropped: u64,
}

/// The serialized form of [`Partials`]: groups by value, units sorted by their text.
#[derive(serde::Serialize, serde::Deserialize)]
struct PartialsForm {
    groups: Vec<Vec<Option<String>>>,
    units: Vec<(String, Vec<(usize, Contribution)>)>,
    rows_dropped: u64,
}

impl From<Partials> for PartialsForm {
    fn from(partials: Partials) -> Self {
        let mut groups = vec![Vec::new(); partials.groups.len()];
        for (values, id) in partials.groups {
            groups[id] = values;
        }
        let mut units: Vec<(String, Vec<(usize, Contribution)>)> = partials.units.into_iter().collect();
        units.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Self { groups, units, rows_dropped: partials.rows_dropped }
    }
}

impl TryFrom<PartialsForm> for Partials {
    type Error = String;

    fn try_from(form: PartialsForm) -> Result<Self, String> {
        let count = form.groups.len();
        let groups: BTreeMap<Vec<Option<String>>, usize> =
            form.groups.into_iter().enumerate().map(|(i, g)| (g, i)).collect();
        if groups.len() != count {
            return Err("a release's partials list a group twice".into());
        }
        if form.units.iter().any(|(_, c)| c.iter().any(|(g, _)| *g >= count)) {
            return Err("a release's partials name a group they do not list".into());
        }
        let units: HashMap<String, Vec<(usize, Contribution)>> = form.units.into_iter().collect();
        Ok(Self { groups, units, rows_dropped: form.rows_dropped })
    }
}

impl Partials {
    /// Adds another part's rows.
    pub fn merge(&mut self, other: Partials) {
        let mut ids = vec![0usize; other.groups.len()];
        for (values, id) in other.groups {
            let next = self.groups.len();
            ids[id] = *self.groups.entry(values).or_insert(next);
        }
        for (unit, contributions) in other.units {
            let mine = self.units.entry(unit).or_default();
            for (group, contribution) in contributions {
                let group = ids[group];
                match mine.iter_mut().find(|(g, _)| *g == group) {
                    Some((_, existing)) => existing.merge(contribution),
                    None => mine.push((group, contribution)),
                }
            }
        }
        self.rows_dropped += other.rows_dropped;
    }
}

/// Collects rows, bounded per unit, then releases.
#[derive(Debug)]
pub struct Accumulator<'a> {
    spec: &'a Aggregate,
    partials: Partials,
}

/// The rank of a (unit, group) pair in the unit's choice of groups: a keyed hash of both, so the
/// choice depends on no row order, and nobody without the run's key can steer it.
fn choice_rank(key: &[u8; 32], unit: &str, group: &[Option<String>]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_keyed(key);
    hasher.update(&(unit.len() as u64).to_le_bytes());
    hasher.update(unit.as_bytes());
    for value in group {
        match value {
            Some(v) => {
                hasher.update(&[1]);
                hasher.update(&(v.len() as u64).to_le_bytes());
                hasher.update(v.as_bytes());
            }
            None => {
                hasher.update(&[0]);
            }
        }
    }
    *hasher.finalize().as_bytes()
}

/// Discrete Laplace noise with scale `scale` (rounded up to a multiple of 2^-24).
fn laplace(rng: &mut ChaCha20Rng, scale: f64) -> i128 {
    const DEN: u128 = 1 << 24;
    let num = (scale * DEN as f64 * (1.0 + 1e-12)).ceil().max(1.0) as u128;
    discrete_laplace(rng, DEN, num)
}

/// The smallest k with P(|X| ≥ k) ≤ 0.05 for discrete Laplace of this scale:
/// P(|X| ≥ k) = 2q^k/(1+q) with q = exp(−1/scale).
fn error_95(scale: f64) -> f64 {
    error_bound(scale, 0.05)
}

/// The smallest k with P(|X| ≥ k) ≤ `p` for discrete Laplace of this scale.
pub(crate) fn error_bound(scale: f64, p: f64) -> f64 {
    let q = (-1.0 / scale).exp();
    (scale * (2.0 / (p * (1.0 + q))).ln()).ceil()
}

impl<'a> Accumulator<'a> {
    pub fn new(spec: &'a Aggregate) -> Self {
        Self::resume(spec, Partials::default())
    }

    /// Goes on from partials collected elsewhere (other batches, other partitions).
    pub fn resume(spec: &'a Aggregate, partials: Partials) -> Self {
        Self { spec, partials }
    }

    /// The rows seen so far, to merge with other parts' before [`Accumulator::release`].
    pub fn into_partials(self) -> Partials {
        self.partials
    }

    fn public(&self, group: &[Option<String>]) -> bool {
        if group.is_empty() {
            return true;
        }
        match &self.spec.public_groups {
            None => true,
            Some(list) => {
                let key: Vec<&str> = group.iter().map(|g| g.as_deref().unwrap_or("")).collect();
                list.iter().any(|p| *p == key.join("|"))
            }
        }
    }

    /// Adds one row.
    pub fn add(&mut self, row: Row) {
        let Some(unit) = row.unit else {
            self.partials.rows_dropped += 1;
            return;
        };
        if !self.public(&row.group) {
            self.partials.rows_dropped += 1;
            return;
        }
        let partials = &mut self.partials;
        let next = partials.groups.len();
        let group = *partials.groups.entry(row.group).or_insert(next);
        let measures = &self.spec.measures;
        let entry = partials.units.entry(unit).or_default();
        let index = match entry.iter().position(|(g, _)| *g == group) {
            Some(i) => i,
            None => {
                entry.push((
                    group,
                    Contribution {
                        totals: vec![0; measures.len()],
                        bins: vec![None; measures.len()],
                        categories: vec![None; measures.len()],
                        rows: 0,
                    },
                ));
                entry.len() - 1
            }
        };
        let contribution = &mut entry[index].1;
        contribution.rows += 1;
        for (m, (measure, (value, category))) in
            measures.iter().zip(row.values.into_iter().zip(row.categories)).enumerate()
        {
            match measure {
                Measure::Count => {}
                Measure::Sum { .. } | Measure::Mean { .. } => {
                    contribution.totals[m] = contribution.totals[m].saturating_add(to_fixed(value.unwrap_or(0.0)));
                }
                // The smallest bin and category: whatever order the unit's rows come in.
                Measure::Histogram { bins: Some(edges), .. } => {
                    if let Some(bin) = value.and_then(|v| bin_of(edges, v)) {
                        contribution.bins[m] = Some(contribution.bins[m].map_or(bin, |b| b.min(bin)));
                    }
                }
                Measure::Histogram { bins: None, .. } => {
                    if let Some(category) = category
                        && contribution.categories[m].as_ref().is_none_or(|c| category < *c)
                    {
                        contribution.categories[m] = Some(category);
                    }
                }
            }
        }
    }

    /// Releases the noisy values, in group order. `key` keys the choice of each unit's groups
    /// (see the module's documentation).
    pub fn release(self, rng: &mut ChaCha20Rng, key: &[u8; 32]) -> (Vec<Released>, ReleaseSummary) {
        let spec = self.spec;
        let mut partials = self.partials;
        let limit = spec.max_groups_per_unit as usize;
        let group_values: Vec<&Vec<Option<String>>> = {
            let mut by_id = vec![None; partials.groups.len()];
            for (g, id) in &partials.groups {
                by_id[*id] = Some(g);
            }
            by_id.into_iter().flatten().collect()
        };
        for (unit, contributions) in &mut partials.units {
            if contributions.len() > limit {
                contributions.sort_by_cached_key(|(g, _)| choice_rank(key, unit, group_values[*g]));
                for (_, dropped) in contributions.drain(limit..) {
                    partials.rows_dropped += dropped.rows;
                }
            }
        }
        let m = spec.max_groups_per_unit as f64;
        let global = spec.group_by.is_empty();
        let Split { select, epsilon, delta_each } = Split::of(spec);
        let delta = spec.delta.map_or(0.0, |d| d.get());
        let groups: Vec<Vec<Option<String>>> = {
            let mut by_id = vec![Vec::new(); partials.groups.len()];
            for (g, id) in &partials.groups {
                by_id[*id] = g.clone();
            }
            by_id
        };
        // Per group: units, and per measure the clamped totals and histogram cells.
        let mut units = vec![0u64; groups.len()];
        let mut totals = vec![vec![0i128; spec.measures.len()]; groups.len()];
        let mut cells: Vec<Vec<BTreeMap<usize, u64>>> = vec![vec![BTreeMap::new(); spec.measures.len()]; groups.len()];
        let mut category_cells: Vec<Vec<BTreeMap<String, u64>>> =
            vec![vec![BTreeMap::new(); spec.measures.len()]; groups.len()];
        // Totals are integers (see `FIXED_POINT`): the order units come in changes nothing.
        for contributions in partials.units.values() {
            for (g, c) in contributions {
                units[*g] += 1;
                for (i, measure) in spec.measures.iter().enumerate() {
                    match measure {
                        Measure::Sum { bounds, .. } | Measure::Mean { bounds, .. } => {
                            let clamped = from_fixed(c.totals[i]).clamp(bounds.low, bounds.high);
                            totals[*g][i] = totals[*g][i].saturating_add(to_fixed(clamped));
                        }
                        Measure::Histogram { .. } => {
                            if let Some(b) = c.bins[i] {
                                *cells[*g][i].entry(b).or_default() += 1;
                            }
                            if let Some(category) = &c.categories[i] {
                                *category_cells[*g][i].entry(category.clone()).or_default() += 1;
                            }
                        }
                        Measure::Count => {}
                    }
                }
            }
        }
        // Groups in the order of their values, whatever order rows came in.
        let mut order: Vec<usize> = (0..groups.len()).collect();
        order.sort_by(|a, b| groups[*a].cmp(&groups[*b]));
        let mut public_order: Vec<Vec<Option<String>>> = Vec::new();
        if let Some(list) = &spec.public_groups {
            // Every public group is released, present in the data or not.
            for p in list {
                let values: Vec<Option<String>> = if spec.group_by.len() <= 1 {
                    vec![Some(p.clone())]
                } else {
                    p.split('|').map(|v| Some(v.to_string())).collect()
                };
                public_order.push(values);
            }
        }
        let id_of: HashMap<&Vec<Option<String>>, usize> = groups.iter().enumerate().map(|(i, g)| (g, i)).collect();
        if global {
            public_order.push(Vec::new());
        }
        let candidates: Vec<(Vec<Option<String>>, Option<usize>)> = if select {
            order.iter().map(|&i| (groups[i].clone(), Some(i))).collect()
        } else {
            public_order.iter().map(|g| (g.clone(), id_of.get(g).copied())).collect()
        };
        let mut out = Vec::new();
        let mut released = 0;
        let count_scale = m / epsilon;
        for (group, id) in candidates {
            let n = id.map_or(0, |i| units[i]);
            if select {
                let threshold = selection_threshold(count_scale, m, delta_each);
                if (n as i128 + laplace(rng, count_scale)) < threshold as i128 {
                    continue;
                }
            }
            released += 1;
            for (i, measure) in spec.measures.iter().enumerate() {
                let total = id.map_or(0.0, |g| from_fixed(totals[g][i]));
                match measure {
                    Measure::Count => out.push(Released {
                        group: group.clone(),
                        measure: "count".into(),
                        bin: None,
                        value: (n as i128 + laplace(rng, count_scale)) as f64,
                        noise_scale: Some(count_scale),
                        error_95: Some(error_95(count_scale)),
                    }),
                    Measure::Sum { column, bounds } => {
                        let (value, scale) = noisy_sum(total, bounds.low, bounds.high, m, epsilon, rng);
                        out.push(Released {
                            group: group.clone(),
                            measure: format!("sum_{column}"),
                            bin: None,
                            value,
                            noise_scale: Some(scale),
                            error_95: Some(error_95(scale)),
                        });
                    }
                    Measure::Mean { column, bounds } => {
                        let (sum, sum_scale) = noisy_sum(total, bounds.low, bounds.high, m, epsilon / 2.0, rng);
                        let noisy_count = (n as i128 + laplace(rng, 2.0 * count_scale)) as f64;
                        let raw = sum / noisy_count.max(1.0);
                        // With probability ≥ 95% both noises stay within their 97.5% bounds (a and
                        // b), and then |Ŝ/Ĉ − S/C| ≤ (|Ŝ/Ĉ|·b + a) / (Ĉ − b): computed from the noisy
                        // values only. Clamping to the bounds can only bring the mean closer.
                        let (a, b) = (error_bound(sum_scale, 0.025), error_bound(2.0 * count_scale, 0.025));
                        let width = bounds.high - bounds.low;
                        let error =
                            if noisy_count > b { ((raw.abs() * b + a) / (noisy_count - b)).min(width) } else { width };
                        out.push(Released {
                            group: group.clone(),
                            measure: format!("mean_{column}"),
                            bin: None,
                            value: raw.clamp(bounds.low, bounds.high),
                            noise_scale: None,
                            error_95: Some(error),
                        });
                    }
                    Measure::Histogram { column, bins: None } => {
                        // Categories come from the data: a cell is released only when its noisy
                        // count clears the selection threshold (noisy-count thresholding).
                        let threshold = selection_threshold(count_scale, m, delta_each);
                        let Some(g) = id else { continue };
                        for (category, &cell) in &category_cells[g][i] {
                            let noisy = cell as i128 + laplace(rng, count_scale);
                            if (noisy as f64) < threshold {
                                continue;
                            }
                            out.push(Released {
                                group: group.clone(),
                                measure: format!("histogram_{column}"),
                                bin: Some(category.clone()),
                                value: noisy as f64,
                                noise_scale: Some(count_scale),
                                error_95: Some(error_95(count_scale)),
                            });
                        }
                    }
                    Measure::Histogram { column, bins } => {
                        let edges = bins.as_deref().unwrap_or(&[]);
                        for b in 0..edges.len().saturating_sub(1) {
                            let cell = id.and_then(|g| cells[g][i].get(&b).copied()).unwrap_or(0);
                            out.push(Released {
                                group: group.clone(),
                                measure: format!("histogram_{column}"),
                                bin: Some(format!("[{}, {})", edges[b], edges[b + 1])),
                                value: (cell as i128 + laplace(rng, count_scale)) as f64,
                                noise_scale: Some(count_scale),
                                error_95: Some(error_95(count_scale)),
                            });
                        }
                    }
                }
            }
        }
        let summary = ReleaseSummary {
            name: spec.name.clone(),
            path: spec.path.display().to_string(),
            epsilon: spec.epsilon.get(),
            delta,
            epsilon_per_share: epsilon,
            partition_selection: select,
            groups_released: released,
            rows_dropped: partials.rows_dropped,
            rows: out.len(),
        };
        (out, summary)
    }
}

/// How a release divides its budget.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Split {
    /// Groups are selected privately (not public, and there is a `group_by`).
    select: bool,
    /// Epsilon of each measure and of partition selection.
    epsilon: f64,
    /// Delta of each selection from the data: partition selection and each histogram over
    /// categories, so together they never spend more than the release's delta.
    delta_each: f64,
}

impl Split {
    fn of(spec: &Aggregate) -> Self {
        // Without `group_by` there is one group, the whole table, and it is public.
        let select = spec.public_groups.is_none() && !spec.group_by.is_empty();
        let shares = spec.measures.len() + usize::from(select);
        let selectors = usize::from(select)
            + spec.measures.iter().filter(|m| matches!(m, Measure::Histogram { bins: None, .. })).count();
        Self {
            select,
            epsilon: spec.epsilon.get() / shares as f64,
            delta_each: spec.delta.map_or(0.0, |d| d.get()) / selectors.max(1) as f64,
        }
    }
}

/// The noisy unit count a group (or category) must reach: 1 + ceil(scale · ln(m / delta)), so
/// one made by a single unit clears it with probability at most delta / m.
fn selection_threshold(scale: f64, m: f64, delta: f64) -> f64 {
    1.0 + (scale * (m / delta.max(f64::MIN_POSITIVE)).ln()).ceil()
}

/// A noisy sum on a power-of-two grid: (value, noise scale in the value's units).
fn noisy_sum(total: f64, low: f64, high: f64, m: f64, epsilon: f64, rng: &mut ChaCha20Rng) -> (f64, f64) {
    let largest = low.abs().max(high.abs()).max(f64::MIN_POSITIVE);
    let k = largest.log2().floor() as i32 - 32;
    let g = 2f64.powi(k);
    let sensitivity_units = m * ((largest / g).ceil() + 1.0);
    let scale_units = sensitivity_units / epsilon;
    let units = (total / g).round() as i128 + laplace(rng, scale_units);
    (units as f64 * g, scale_units * g)
}

/// The bin of `value` among `edges` (`[e_i, e_{i+1})`, the last one closed).
fn bin_of(edges: &[f64], value: f64) -> Option<usize> {
    let last = edges.len().checked_sub(1)?;
    if value == edges[last] {
        return last.checked_sub(1);
    }
    (0..last).find(|&i| value >= edges[i] && value < edges[i + 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Bounds, DataFormat, Delta, Epsilon};
    use rand::SeedableRng;

    fn spec(public: bool, measures: Vec<Measure>, epsilon: f64) -> Aggregate {
        Aggregate {
            name: "r".into(),
            path: "r.csv".into(),
            format: DataFormat::Csv,
            privacy_unit: "id".into(),
            group_by: vec!["region".into()],
            max_groups_per_unit: 1,
            measures,
            epsilon: Epsilon::new(epsilon).unwrap(),
            delta: Delta::new(1e-3),
            public_groups: public.then(|| vec!["north".into(), "south".into()]),
        }
    }

    fn row(unit: &str, region: &str, value: f64) -> Row {
        Row {
            unit: Some(unit.into()),
            group: vec![Some(region.into())],
            values: vec![Some(value), Some(value)],
            categories: vec![None, Some(format!("c{value}"))],
        }
    }

    /// Partials of parts, merged in any order (and through their bytes), release exactly what
    /// one accumulator over all rows releases: groups, bounded contributions, sums, drops.
    #[test]
    fn partials_merge_in_any_order_into_the_whole() {
        let s = spec(
            false,
            vec![
                Measure::Sum { column: "x".into(), bounds: Bounds::new(0.0, 1000.0).unwrap() },
                Measure::Histogram { column: "kind".into(), bins: None },
            ],
            1e6,
        );
        // Values whose float sum depends on the order they are added in.
        let rows: Vec<Row> = (0..300)
            .map(|i| row(&format!("u{}", i % 37), ["north", "south", "east"][i % 3], 0.1 + f64::from(i as u32) * 1e-3))
            .collect();
        let mut whole = Accumulator::new(&s);
        for r in &rows {
            whole.add(r.clone());
        }
        let parts: Vec<Partials> = (0..4)
            .map(|p| {
                let mut part = Accumulator::new(&s);
                for r in rows.iter().skip(p).step_by(4) {
                    part.add(r.clone());
                }
                let bytes = serde_json::to_vec(&part.into_partials()).unwrap();
                serde_json::from_slice(&bytes).unwrap()
            })
            .collect();
        let release = |order: &[usize]| {
            let mut merged = Partials::default();
            for &p in order {
                merged.merge(parts[p].clone());
            }
            Accumulator::resume(&s, merged).release(&mut ChaCha20Rng::seed_from_u64(9), &[3; 32])
        };
        let reference = whole.release(&mut ChaCha20Rng::seed_from_u64(9), &[3; 32]);
        assert_eq!(reference.0.len(), 3, "{:?}", reference.0);
        for order in [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1]] {
            let (rows, summary) = release(&order);
            assert_eq!(rows, reference.0, "merge order {order:?}");
            assert_eq!(summary.rows_dropped, reference.1.rows_dropped);
        }
    }

    #[test]
    fn contributions_are_bounded_per_unit() {
        let s = spec(
            true,
            vec![Measure::Count, Measure::Sum { column: "x".into(), bounds: Bounds::new(0.0, 10.0).unwrap() }],
            1e9,
        );
        // Unit a: two rows in north (one contribution, its total 7 + 8 clamped to 10) and one in
        // south; with max_groups_per_unit = 1 it keeps the group of smaller keyed rank, whatever
        // order its rows come in.
        let north = vec![Some("north".to_string())];
        let south = vec![Some("south".to_string())];
        let key = [0u8; 32];
        let keeps_north = choice_rank(&key, "a", &north) < choice_rank(&key, "a", &south);
        let rows = [row("a", "north", 7.0), row("a", "north", 8.0), row("a", "south", 5.0), row("b", "north", 3.0)];
        let mut releases = Vec::new();
        for order in [[0, 1, 2, 3], [2, 3, 1, 0], [1, 2, 0, 3]] {
            let mut acc = Accumulator::new(&s);
            for i in order {
                acc.add(rows[i].clone());
            }
            acc.add(Row {
                unit: None,
                group: vec![Some("north".into())],
                values: vec![Some(1.0), Some(1.0)],
                categories: vec![None, None],
            });
            acc.add(row("c", "west", 1.0));
            releases.push(acc.release(&mut ChaCha20Rng::seed_from_u64(1), &key));
        }
        let (out, summary) = releases[0].clone();
        assert!(releases.iter().all(|(o, _)| *o == out), "the choice depends on the rows' order");
        // The row without a unit, west's row (not a public group), and a's rows in the group not
        // kept.
        assert_eq!(summary.rows_dropped, if keeps_north { 3 } else { 4 });
        let get = |group: &str, measure: &str| {
            out.iter().find(|r| r.group == vec![Some(group.to_string())] && r.measure == measure).unwrap().value
        };
        // With an enormous epsilon the noise is (next to) nothing: the bounded values come out.
        if keeps_north {
            assert_eq!(get("north", "count"), 2.0);
            assert!((get("north", "sum_x") - 13.0).abs() < 1e-6);
            assert_eq!(get("south", "count"), 0.0);
        } else {
            assert_eq!(get("north", "count"), 1.0);
            assert!((get("north", "sum_x") - 3.0).abs() < 1e-6);
            assert_eq!(get("south", "count"), 1.0);
        }
        assert!(out.iter().all(|r| r.group != vec![Some("west".to_string())]));
        // Another key may choose otherwise, but never both groups.
        let other = [9u8; 32];
        assert_ne!(choice_rank(&key, "a", &north), choice_rank(&other, "a", &north));
    }

    #[test]
    fn groups_of_one_unit_are_not_released_without_public_groups() {
        let s = spec(false, vec![Measure::Count], 1.0);
        let mut acc = Accumulator::new(&s);
        for i in 0..500 {
            acc.add(row(&format!("u{i}"), "big", 1.0));
        }
        acc.add(row("lonely", "tiny", 1.0));
        let (out, summary) = acc.release(&mut ChaCha20Rng::seed_from_u64(2), &[0; 32]);
        assert_eq!(summary.groups_released, 1);
        assert!(out.iter().all(|r| r.group == vec![Some("big".to_string())]));
    }

    /// Empirical privacy: two datasets differing in one privacy unit. Over 40,000 seeded
    /// releases each, every outcome of the unit's group count that both see at least 400 times
    /// has frequencies within e^epsilon of each other (plus 5 binomial standard errors).
    #[test]
    fn neighbouring_datasets_are_hard_to_tell_apart() {
        let epsilon = 0.5;
        let s = spec(true, vec![Measure::Count], epsilon);
        let runs = 40_000;
        let outcomes = |with_unit: bool| {
            let mut freq: BTreeMap<i64, f64> = BTreeMap::new();
            for seed in 0..runs {
                let mut acc = Accumulator::new(&s);
                for i in 0..20 {
                    acc.add(row(&format!("u{i}"), "north", 1.0));
                }
                if with_unit {
                    acc.add(row("target", "north", 1.0));
                }
                let (out, _) = acc.release(&mut ChaCha20Rng::seed_from_u64(seed), &[0; 32]);
                let count = out.iter().find(|r| r.group == vec![Some("north".to_string())]).unwrap().value;
                *freq.entry(count as i64).or_default() += 1.0 / runs as f64;
            }
            freq
        };
        let (with, without) = (outcomes(true), outcomes(false));
        let bound = epsilon.exp();
        let mut compared = 0;
        for (o, p) in &with {
            let Some(q) = without.get(o) else { continue };
            if p * (runs as f64) < 400.0 || q * (runs as f64) < 400.0 {
                continue;
            }
            let slack = 5.0 * (p / runs as f64).sqrt() + 5.0 * bound * (q / runs as f64).sqrt();
            assert!(*p <= bound * q + slack, "outcome {o}: {p} vs {q}");
            assert!(*q <= bound * p + slack, "outcome {o}: {q} vs {p}");
            compared += 1;
        }
        assert!(compared >= 10, "{compared} outcomes compared");
        // Power: the check notices a mechanism with half the noise (epsilon doubled).
        let mut leaky_with = 0.0;
        let mut leaky_without = 0.0;
        let mut r = ChaCha20Rng::seed_from_u64(9);
        for _ in 0..runs {
            leaky_with += f64::from(u8::from(21 + laplace(&mut r, 1.0 / (4.0 * epsilon)) == 21)) / runs as f64;
            leaky_without += f64::from(u8::from(20 + laplace(&mut r, 1.0 / (4.0 * epsilon)) == 21)) / runs as f64;
        }
        assert!(leaky_with > bound * leaky_without + 0.01);
    }

    /// Categories of a histogram without bins are released only when their noisy count clears
    /// the threshold: a category held by one unit stays hidden.
    #[test]
    fn rare_categories_stay_hidden() {
        let s = spec(true, vec![Measure::Count, Measure::Histogram { column: "kind".into(), bins: None }], 1.0);
        let mut acc = Accumulator::new(&s);
        for i in 0..300 {
            acc.add(row(&format!("u{i}"), "north", 1.0));
        }
        acc.add(row("odd", "north", 2.0));
        let (out, _) = acc.release(&mut ChaCha20Rng::seed_from_u64(4), &[0; 32]);
        let bins: Vec<&str> = out.iter().filter_map(|r| r.bin.as_deref()).collect();
        assert_eq!(bins, ["c1"]);
    }

    /// Without `group_by` the whole table is one public group, always released.
    #[test]
    fn a_release_without_groups_is_the_whole_table() {
        let mut s = spec(false, vec![Measure::Count], 1e9);
        s.group_by.clear();
        let mut acc = Accumulator::new(&s);
        for i in 0..7 {
            acc.add(Row { unit: Some(format!("u{i}")), group: vec![], values: vec![None], categories: vec![None] });
        }
        let (out, summary) = acc.release(&mut ChaCha20Rng::seed_from_u64(5), &[0; 32]);
        assert_eq!(summary.groups_released, 1);
        assert!(!summary.partition_selection);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].value, 7.0);
    }

    /// The 95% error bound of a mean covers the true mean at least 95% of the time.
    #[test]
    fn mean_error_bounds_cover_the_true_mean() {
        let s = spec(true, vec![Measure::Mean { column: "x".into(), bounds: Bounds::new(0.0, 100.0).unwrap() }], 1.0);
        let runs = 4_000;
        let mut covered = 0;
        for seed in 0..runs {
            let mut acc = Accumulator::new(&s);
            for i in 0..60 {
                acc.add(row(&format!("u{i}"), "north", f64::from(i % 50)));
            }
            let (out, _) = acc.release(&mut ChaCha20Rng::seed_from_u64(seed), &[0; 32]);
            let r = out.iter().find(|r| r.group == vec![Some("north".to_string())]).unwrap();
            let truth = (0..60).map(|i| f64::from(i % 50)).sum::<f64>() / 60.0;
            covered += usize::from((r.value - truth).abs() <= r.error_95.unwrap());
        }
        // At least 95%, with 4.9 standard errors of slack for 4,000 runs.
        assert!(covered as f64 >= runs as f64 * (0.95 - 4.9 * (0.95f64 * 0.05 / runs as f64).sqrt()), "{covered}");
    }

    /// Epsilon and delta are divided so that the parts add up to the release's: delta over the
    /// selections from the data, epsilon over the measures and partition selection.
    #[test]
    fn the_budget_split_never_exceeds_the_release() {
        let histogram = Measure::Histogram { column: "kind".into(), bins: None };
        let cases = [
            (false, vec![Measure::Count, histogram.clone()], true, 1.0 / 3.0, 0.5e-3),
            (true, vec![Measure::Count, histogram.clone()], false, 0.5, 1e-3),
            (false, vec![Measure::Count], true, 0.5, 1e-3),
            (false, vec![Measure::Count, histogram.clone(), histogram], true, 0.25, 1e-3 / 3.0),
        ];
        for (public, measures, select, epsilon, delta_each) in cases {
            let split = Split::of(&spec(public, measures, 1.0));
            assert_eq!(split.select, select);
            assert!((split.epsilon - epsilon).abs() < 1e-15, "{split:?}");
            assert!((split.delta_each - delta_each).abs() < 1e-18, "{split:?}");
        }
        // A group of one unit clears the threshold with probability at most delta / m.
        let (scale, m, delta) = (4.0, 2.0, 1e-3);
        let t = selection_threshold(scale, m, delta) - 1.0;
        let q = (-1.0f64 / scale).exp();
        assert!(q.powf(t) / (1.0 + q) <= delta / m);
    }

    #[test]
    fn error_bounds_hold() {
        let mut r = ChaCha20Rng::seed_from_u64(3);
        for scale in [0.5, 2.0, 37.0] {
            let bound = error_95(scale);
            let beyond = (0..100_000).filter(|_| (laplace(&mut r, scale) as f64).abs() >= bound).count();
            assert!(beyond < 5_300, "scale {scale}: {beyond} of 100,000 beyond the 95% bound");
        }
        assert_eq!(bin_of(&[0.0, 10.0, 20.0], 10.0), Some(1));
        assert_eq!(bin_of(&[0.0, 10.0, 20.0], 20.0), Some(1));
        assert_eq!(bin_of(&[0.0, 10.0, 20.0], 25.0), None);
    }
}
