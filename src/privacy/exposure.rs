//! Re-identification risk over what a run actually releases: the output's columns written as
//! values (kept, masked, shifted, generalized, redacted), counted from the output batches
//! themselves, so the figures describe the file the analyst receives, not what the job
//! intended. Tokens and ciphertexts (one per subject, linkable only with the key) and noised
//! columns (covered by their differential privacy) are not released attributes.
//!
//! Besides the figures of [`Risk`], it says which columns drive uniqueness: each column's
//! distinct values and the rows it alone makes unique, and the smallest set of columns that
//! already makes [`DRIVER_SHARE`] of the unique rows unique.

use super::FxBuildHasher;
use super::risk::Risk;
use super::table::FrequencyTable;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The driving columns are the smallest set that leaves at least this share of the rows that
/// all released attributes together leave unique.
pub const DRIVER_SHARE: f64 = 0.9;

/// Above this many (column subsets × combinations) the exact smallest driving set is not
/// searched; columns are added greedily instead (most unique rows first).
const EXACT_WORK: u64 = 50_000_000;

/// The measured risk over a run's released attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleasedRisk {
    /// The released attributes, in output order.
    pub columns: Vec<String>,
    /// Output columns that are not counted, with why (`token`, `ciphertext`, `noise`).
    pub not_counted: Vec<NotCounted>,
    /// Figures over the released attributes (rows sharing all their values form a class).
    pub risk: Risk,
    /// Rows alone in their class.
    pub unique_row_count: u64,
    pub per_column: Vec<ColumnExposure>,
    /// The smallest set of columns leaving [`DRIVER_SHARE`] of the unique rows unique (empty
    /// when no row is unique).
    pub drivers: Vec<String>,
    /// The share of all rows that the driving columns alone make unique.
    pub drivers_unique_rows: f64,
    /// The driving set is the smallest there is (false: found greedily, over many columns and
    /// classes; small, not necessarily smallest).
    pub drivers_exact: bool,
    /// The per-column figures and driving columns were measured (false: the output has more
    /// than [`DETAIL_LIMIT`] distinct released rows or values, and only the row figures were).
    pub columns_measured: bool,
}

/// An output column that is not a released attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotCounted {
    pub name: String,
    /// `token`, `ciphertext` or `noise`.
    pub why: String,
}

/// One released attribute's part in the risk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnExposure {
    pub name: String,
    /// Distinct values in the output (null counts as one).
    pub distinct: u64,
    /// Distinct values / rows.
    pub distinct_ratio: f64,
    /// The share of rows this column alone makes unique.
    pub unique_rows_alone: f64,
}

/// The detailed table (each column's values and their combinations) is kept while it has at
/// most this many combinations and dictionary entries; beyond, only the fingerprints are.
pub const DETAIL_LIMIT: usize = 200_000;

/// Released rows, counted batch by batch and merged (in any order, with the same result).
///
/// Every row is counted by a 64-bit fingerprint of its released values (SipHash-1-3 of Arrow's
/// row encoding): about 16 bytes per distinct row, and the class sizes are exact unless two of
/// the distinct rows share a fingerprint (for ten million distinct rows, a chance of about 3 in
/// a million, which would merge two classes). The per-column figures and the driving columns
/// need the values themselves: a [`FrequencyTable`] of the released columns, kept while it
/// stays within [`DETAIL_LIMIT`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ExposureForm")]
pub struct Exposure {
    /// (fingerprint, rows), sorted by fingerprint, each fingerprint once.
    rows: Vec<(u64, u64)>,
    total: u64,
    /// `None` once it outgrew [`DETAIL_LIMIT`].
    detail: Option<FrequencyTable>,
}

/// The serialized form of an [`Exposure`], checked when read back.
#[derive(Deserialize)]
struct ExposureForm {
    rows: Vec<(u64, u64)>,
    total: u64,
    detail: Option<FrequencyTable>,
}

impl TryFrom<ExposureForm> for Exposure {
    type Error = String;

    fn try_from(form: ExposureForm) -> Result<Self, String> {
        if !form.rows.windows(2).all(|w| w[0].0 < w[1].0) || form.rows.iter().any(|&(_, n)| n == 0) {
            return Err("the fingerprints are not sorted, repeat or count no row".into());
        }
        let counted = form.rows.iter().try_fold(0u64, |sum, &(_, n)| sum.checked_add(n));
        if counted != Some(form.total) || form.detail.as_ref().is_some_and(|d| d.rows != form.total) {
            return Err("the counts do not add up to the rows".into());
        }
        Ok(Self { rows: form.rows, total: form.total, detail: form.detail })
    }
}

impl Exposure {
    /// The exposure as bytes (JSON: fingerprints and counts, and, while kept, the released
    /// values of the detailed table: treat them like the output).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// An exposure from [`Exposure::to_bytes`], checked (sorted fingerprints, counts that add up).
    ///
    /// # Errors
    /// Not such bytes; the message says where, never what the bytes hold.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| {
            let what = if e.is_data() { "its figures do not fit or add up" } else { "it does not parse" };
            format!("not an exposure: {what} (line {}, column {})", e.line(), e.column())
        })
    }

    /// No rows yet, over `columns` released columns.
    pub fn empty(columns: usize) -> Self {
        Self { rows: Vec::new(), total: 0, detail: Some(FrequencyTable::new(columns, 0)) }
    }

    /// The rows of one batch: its released columns (all of one length `rows`) and their text
    /// (for the detailed table; `None`: not wanted, as it was already dropped).
    ///
    /// # Errors
    /// Arrow cannot encode a column's type as rows.
    pub fn of_batch(
        columns: &[arrow::array::ArrayRef],
        rows: usize,
        text: Option<&[arrow::array::StringArray]>,
    ) -> Result<Self, arrow::error::ArrowError> {
        use std::hash::Hasher;
        let mut fingerprints: Vec<u64> = if columns.is_empty() {
            vec![0; rows]
        } else {
            let fields = columns.iter().map(|c| arrow::row::SortField::new(c.data_type().clone())).collect();
            let encoded = arrow::row::RowConverter::new(fields)?.convert_columns(columns)?;
            encoded
                .iter()
                .map(|row| {
                    let mut hasher = std::hash::DefaultHasher::new();
                    hasher.write(row.as_ref());
                    hasher.finish()
                })
                .collect()
        };
        // Sorted and counted in runs: no hash table per batch.
        fingerprints.sort_unstable();
        let counts = count_runs(fingerprints.into_iter().map(|f| (f, 1)));
        let detail = text.map(|text| {
            let mut table = FrequencyTable::from_batch(text, &[]);
            table.rows = rows as u64;
            table
        });
        Ok(Self { rows: counts, total: rows as u64, detail })
    }

    /// Whether the detailed table is still kept (a driver may stop making it for later batches).
    pub fn has_detail(&self) -> bool {
        self.detail.is_some()
    }

    /// Adds another part's counts.
    pub fn merge(&mut self, other: Exposure) {
        self.merge_within(other, DETAIL_LIMIT);
    }

    fn merge_within(&mut self, other: Exposure, limit: usize) {
        self.rows = merge_sorted(std::mem::take(&mut self.rows), other.rows);
        self.total += other.total;
        self.detail = merge_detail(self.detail.take(), other.detail, limit);
    }

    /// The figures, naming the columns `names` (the released columns, in order).
    pub fn measure(&self, names: &[String], not_counted: Vec<NotCounted>) -> ReleasedRisk {
        let rows = self.total;
        let risk = Risk::of_sizes(self.rows.iter().map(|&(_, n)| n));
        let unique_all = self.rows.iter().filter(|&&(_, n)| n == 1).count() as u64;
        let share = |n: u64| if rows == 0 { 0.0 } else { n as f64 / rows as f64 };
        let (per_column, drivers, drivers_unique, exact) = match &self.detail {
            Some(table) => {
                let per_column = (0..table.quasi.len())
                    .map(|c| ColumnExposure {
                        name: names.get(c).cloned().unwrap_or_default(),
                        distinct: table.quasi[c].len() as u64,
                        distinct_ratio: share(table.quasi[c].len() as u64),
                        unique_rows_alone: share(unique_rows(table, &[c])),
                    })
                    .collect();
                let unique_detail = unique_rows(table, &(0..table.quasi.len()).collect::<Vec<_>>());
                let (drivers, unique, exact) = drivers(table, unique_detail);
                (per_column, drivers, unique, exact)
            }
            None => (Vec::new(), Vec::new(), 0, false),
        };
        ReleasedRisk {
            columns: names.to_vec(),
            not_counted,
            risk,
            unique_row_count: unique_all,
            per_column,
            drivers: drivers.iter().map(|&c| names.get(c).cloned().unwrap_or_default()).collect(),
            drivers_unique_rows: share(drivers_unique),
            drivers_exact: exact,
            columns_measured: self.detail.is_some(),
        }
    }
}

/// An [`Exposure`] that worker threads add their batches to directly, so the counting is
/// spread over the workers instead of waiting on the thread that writes the output. The result
/// does not depend on the order of the additions.
#[derive(Debug)]
pub struct SharedExposure {
    shards: Vec<std::sync::Mutex<Shard>>,
    total: std::sync::atomic::AtomicU64,
    detail: std::sync::Mutex<Option<FrequencyTable>>,
    has_detail: std::sync::atomic::AtomicBool,
}

impl SharedExposure {
    const SHARDS: usize = 64;

    /// Starts from `start` (usually [`Exposure::empty`]).
    pub fn new(start: Exposure) -> Self {
        let mut shards: Vec<Shard> = (0..Self::SHARDS).map(|_| Shard::default()).collect();
        for group in start.rows.chunk_by(|a, b| Self::shard(a.0) == Self::shard(b.0)) {
            shards[Self::shard(group[0].0)].sorted = group.to_vec();
        }
        Self {
            shards: shards.into_iter().map(std::sync::Mutex::new).collect(),
            total: std::sync::atomic::AtomicU64::new(start.total),
            has_detail: std::sync::atomic::AtomicBool::new(start.detail.is_some()),
            detail: std::sync::Mutex::new(start.detail),
        }
    }

    fn shard(fingerprint: u64) -> usize {
        (fingerprint >> 58) as usize
    }

    /// Whether the detailed table is still kept (batches need not make theirs otherwise).
    pub fn has_detail(&self) -> bool {
        self.has_detail.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Adds one part.
    pub fn add(&self, part: Exposure) {
        use std::sync::atomic::Ordering;
        // Sorted fingerprints come grouped by shard (the shard is their top bits): one lock each.
        for group in part.rows.chunk_by(|a, b| Self::shard(a.0) == Self::shard(b.0)) {
            lock(&self.shards[Self::shard(group[0].0)]).add(group);
        }
        self.total.fetch_add(part.total, Ordering::Relaxed);
        let mut detail = lock(&self.detail);
        *detail = merge_detail(detail.take(), part.detail, DETAIL_LIMIT);
        if detail.is_none() {
            self.has_detail.store(false, Ordering::Relaxed);
        }
    }

    /// The whole.
    pub fn into_exposure(self) -> Exposure {
        // Shards hold consecutive ranges of fingerprints: their sorted lists concatenate in order.
        let mut rows: Vec<(u64, u64)> = Vec::new();
        for shard in self.shards {
            let mut shard = into_inner(shard);
            shard.compact();
            rows.extend(shard.sorted);
        }
        Exposure { rows, total: self.total.into_inner(), detail: into_inner(self.detail) }
    }
}

/// One shard's counts: a sorted list, and entries appended since it was last compacted (memory
/// stays within about twice the distinct fingerprints, and no insertion jumps around a large
/// hash table).
#[derive(Debug, Default)]
struct Shard {
    sorted: Vec<(u64, u64)>,
    pending: Vec<(u64, u64)>,
}

impl Shard {
    fn add(&mut self, entries: &[(u64, u64)]) {
        self.pending.extend_from_slice(entries);
        if self.pending.len() > self.sorted.len().max(1 << 16) {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let mut pending = std::mem::take(&mut self.pending);
        pending.sort_unstable_by_key(|e| e.0);
        self.sorted = merge_sorted(std::mem::take(&mut self.sorted), count_runs(pending));
    }
}

/// Sorted (fingerprint, rows) entries with each fingerprint once, counts of equal ones added.
fn count_runs(sorted: impl IntoIterator<Item = (u64, u64)>) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for (fingerprint, rows) in sorted {
        match runs.last_mut() {
            Some((last, n)) if *last == fingerprint => *n += rows,
            _ => runs.push((fingerprint, rows)),
        }
    }
    runs
}

/// Two parts' detailed tables as one, or `None` when either was dropped or the whole outgrows
/// `limit` entries (combinations or dictionary values).
fn merge_detail(mine: Option<FrequencyTable>, theirs: Option<FrequencyTable>, limit: usize) -> Option<FrequencyTable> {
    let (mut mine, theirs) = (mine?, theirs?);
    // On the calling thread: `SharedExposure::add` calls this holding its lock.
    mine.merge(theirs);
    let entries = mine.len().max(mine.quasi.iter().map(|d| d.len()).sum());
    (entries <= limit).then_some(mine)
}

/// Two sorted (fingerprint, rows) lists as one, counts of equal fingerprints added.
fn merge_sorted(a: Vec<(u64, u64)>, b: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                let (x, y) = (a.next(), b.next());
                x.zip(y).map(|(x, y)| (x.0, x.1 + y.1))
            }
            (Some(x), Some(y)) if x.0 < y.0 => a.next(),
            (Some(_), Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, _) => b.next(),
        };
        match next {
            Some(entry) => out.push(entry),
            None => return out,
        }
    }
}

/// A mutex's guard; a panic elsewhere does not make the counts unusable.
fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn into_inner<T>(mutex: std::sync::Mutex<T>) -> T {
    mutex.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Rows alone in their class over the columns `subset` of `table`.
fn unique_rows(table: &FrequencyTable, subset: &[usize]) -> u64 {
    let widths: Vec<u32> = subset.iter().map(|&c| u32::BITS - (table.quasi[c].len() as u32).leading_zeros()).collect();
    let mut counts: HashMap<u128, u64, FxBuildHasher> = HashMap::default();
    if widths.iter().sum::<u32>() <= 128 {
        for (key, entry) in table.entries() {
            let packed = subset.iter().zip(&widths).fold(0u128, |acc, (&c, &w)| (acc << w) | u128::from(key[c]));
            *counts.entry(packed).or_default() += entry.count;
        }
        return counts.values().filter(|&&n| n == 1).count() as u64;
    }
    let mut wide: HashMap<Vec<u32>, u64, FxBuildHasher> = HashMap::default();
    for (key, entry) in table.entries() {
        *wide.entry(subset.iter().map(|&c| key[c]).collect()).or_default() += entry.count;
    }
    wide.values().filter(|&&n| n == 1).count() as u64
}

/// The smallest set of columns (in column order) leaving at least [`DRIVER_SHARE`] of
/// `unique_all` rows unique, its unique rows, and whether it is exactly the smallest.
/// Exact by size (the first size with a qualifying set, the set with most unique rows, then
/// the first in column order) while the work stays under [`EXACT_WORK`]; greedy beyond.
fn drivers(table: &FrequencyTable, unique_all: u64) -> (Vec<usize>, u64, bool) {
    if unique_all == 0 {
        return (Vec::new(), 0, true);
    }
    let n = table.quasi.len();
    let target = (DRIVER_SHARE * unique_all as f64).ceil() as u64;
    let combos = table.len().max(1) as u64;
    let mut work = 0u64;
    for size in 1..=n {
        let subsets = choose(n, size);
        if work.saturating_add(subsets.saturating_mul(combos)) > EXACT_WORK {
            return greedy(table, target);
        }
        work += subsets * combos;
        let mut best: Option<(Vec<usize>, u64)> = None;
        let mut subset: Vec<usize> = (0..size).collect();
        loop {
            let unique = unique_rows(table, &subset);
            if unique >= target && best.as_ref().is_none_or(|(_, b)| unique > *b) {
                best = Some((subset.clone(), unique));
            }
            if !next_subset(&mut subset, n) {
                break;
            }
        }
        if let Some((set, unique)) = best {
            return (set, unique, true);
        }
    }
    ((0..n).collect(), unique_all, true)
}

/// Adds the column that leaves the most unique rows until `target` is met.
fn greedy(table: &FrequencyTable, target: u64) -> (Vec<usize>, u64, bool) {
    let n = table.quasi.len();
    let mut set: Vec<usize> = Vec::new();
    let mut unique = 0;
    while unique < target && set.len() < n {
        let (column, rows) = (0..n)
            .filter(|c| !set.contains(c))
            .map(|c| {
                let mut candidate = set.clone();
                candidate.push(c);
                candidate.sort_unstable();
                (c, unique_rows(table, &candidate))
            })
            .fold((usize::MAX, 0u64), |best, (c, u)| if best.0 == usize::MAX || u > best.1 { (c, u) } else { best });
        set.push(column);
        set.sort_unstable();
        unique = rows;
    }
    (set, unique, false)
}

/// n choose k, saturating.
fn choose(n: usize, k: usize) -> u64 {
    (0..k).fold(1u64, |acc, i| acc.saturating_mul((n - i) as u64) / (i as u64 + 1))
}

/// The next k-subset of 0..n in lexicographic order; false after the last.
fn next_subset(subset: &mut [usize], n: usize) -> bool {
    let k = subset.len();
    let Some(i) = (0..k).rev().find(|&i| subset[i] < n - k + i) else {
        return false;
    };
    subset[i] += 1;
    for j in i + 1..k {
        subset[j] = subset[j - 1] + 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringArray;

    /// An output that releases no column as a value still counts its rows, and its bytes read
    /// back (a cluster's tasks send them).
    #[test]
    fn an_exposure_over_no_column_travels_as_bytes() {
        let mut exposure = Exposure::empty(0);
        for rows in [5, 0, 3] {
            exposure.merge(Exposure::of_batch(&[], rows, Some(&[])).unwrap());
        }
        let back = Exposure::from_bytes(&exposure.to_bytes()).expect("reads back");
        assert_eq!(back, exposure);
        assert_eq!(back.total, 8);
    }

    fn exposure(columns: &[&[&str]]) -> Exposure {
        let arrays: Vec<StringArray> = columns.iter().map(|c| StringArray::from(c.to_vec())).collect();
        let refs: Vec<arrow::array::ArrayRef> =
            arrays.iter().map(|a| std::sync::Arc::new(a.clone()) as arrow::array::ArrayRef).collect();
        let rows = columns.first().map_or(0, |c| c.len());
        let mut whole = Exposure::empty(columns.len());
        whole.merge(Exposure::of_batch(&refs, rows, Some(&arrays)).unwrap());
        whole
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    /// Brute force: the smallest size at which some subset reaches the target.
    fn smallest_size(columns: &[&[&str]], target: u64) -> usize {
        let n = columns.len();
        let rows = columns[0].len();
        (1..=n)
            .find(|&size| {
                (0u32..1 << n).filter(|m| m.count_ones() as usize == size).any(|mask| {
                    let key = |r: usize| -> Vec<&str> {
                        (0..n).filter(|c| mask & (1 << c) != 0).map(|c| columns[c][r]).collect()
                    };
                    let unique = (0..rows).filter(|&r| (0..rows).filter(|&o| key(o) == key(r)).count() == 1).count();
                    unique as u64 >= target
                })
            })
            .unwrap_or(n)
    }

    #[test]
    fn figures_and_drivers_of_a_small_table() {
        // 6 rows; c0 alone leaves nothing unique; c1 leaves rows 4 and 5 unique; c0 and c2
        // together make every row unique.
        let columns: &[&[&str]] =
            &[&["a", "a", "b", "b", "c", "c"], &["x", "x", "y", "y", "z", "w"], &["1", "2", "1", "2", "1", "2"]];
        let e = exposure(columns);
        let r = e.measure(&names(3), Vec::new());
        assert_eq!(r.risk.rows, 6);
        assert_eq!(r.unique_row_count, 6);
        assert_eq!(r.risk.unique_rows, 1.0);
        assert_eq!(r.per_column[0].distinct, 3);
        assert_eq!(r.per_column[0].unique_rows_alone, 0.0);
        assert!((r.per_column[1].unique_rows_alone - 2.0 / 6.0).abs() < 1e-12);
        // 90 % of 6 unique rows: 6 (ceil 5.4); one column never does it, {c0, c2} does.
        assert_eq!(r.drivers, ["c0", "c2"]);
        assert_eq!(r.drivers_unique_rows, 1.0);
        assert!(r.drivers_exact);
        assert_eq!(smallest_size(columns, 6), 2);
    }

    #[test]
    fn nothing_unique_means_no_drivers() {
        let r = exposure(&[&["a", "a", "b", "b"]]).measure(&names(1), Vec::new());
        assert_eq!(r.unique_row_count, 0);
        assert!(r.drivers.is_empty());
        // No released column at all: every row in one class.
        let none = Exposure::of_batch(&[], 3, Some(&[])).unwrap();
        let r = none.measure(&[], Vec::new());
        assert_eq!((r.risk.classes, r.risk.rows, r.unique_row_count), (1, 3, 0));
    }

    #[test]
    fn merged_parts_measure_as_the_whole() {
        let whole = exposure(&[&["a", "b", "c", "a"], &["1", "1", "2", "1"]]);
        let mut merged = exposure(&[&["a", "b"], &["1", "1"]]);
        merged.merge(exposure(&[&["c", "a"], &["2", "1"]]));
        assert_eq!(merged.measure(&names(2), Vec::new()), whole.measure(&names(2), Vec::new()));
        let mut reversed = exposure(&[&["c", "a"], &["2", "1"]]);
        reversed.merge(exposure(&[&["a", "b"], &["1", "1"]]));
        assert_eq!(reversed.measure(&names(2), Vec::new()), whole.measure(&names(2), Vec::new()));
    }

    #[test]
    fn bytes_round_trip_and_tampered_ones_are_refused() {
        let whole = exposure(&[&["a", "b", "c", "a"], &["1", "1", "2", "1"]]);
        let back = Exposure::from_bytes(&whole.to_bytes()).unwrap();
        assert_eq!(back, whole);
        let mut unsorted = whole.clone();
        unsorted.rows.reverse();
        assert!(Exposure::from_bytes(&unsorted.to_bytes()).is_err());
        let mut miscounted = whole.clone();
        miscounted.total += 1;
        assert!(Exposure::from_bytes(&miscounted.to_bytes()).is_err());
        let error = Exposure::from_bytes(b"{\"rows\": \"secret value\"}").unwrap_err();
        assert!(!error.contains("secret"), "{error}");
    }

    #[test]
    fn shared_additions_in_any_order_give_the_whole() {
        let whole = exposure(&[&["a", "b", "c", "a"], &["1", "1", "2", "1"]]);
        let parts = [exposure(&[&["a", "b"], &["1", "1"]]), exposure(&[&["c", "a"], &["2", "1"]])];
        // Starting from a part gives the same as adding it.
        let started = SharedExposure::new(parts[0].clone());
        started.add(parts[1].clone());
        assert_eq!(started.into_exposure().measure(&names(2), Vec::new()), whole.measure(&names(2), Vec::new()));
        for order in [[0, 1], [1, 0]] {
            let shared = SharedExposure::new(Exposure::empty(2));
            assert!(shared.has_detail());
            for i in order {
                shared.add(parts[i].clone());
            }
            assert!(shared.has_detail());
            assert_eq!(shared.into_exposure().measure(&names(2), Vec::new()), whole.measure(&names(2), Vec::new()));
        }
    }

    /// Beyond the limit, the detailed table goes (whatever the order of the parts) and the row
    /// figures stay exact.
    #[test]
    fn a_large_table_keeps_its_row_figures_and_drops_the_detail() {
        let whole = exposure(&[&["a", "b", "c", "a"], &["1", "1", "2", "1"]]);
        let (first, second) = (exposure(&[&["a", "b"], &["1", "1"]]), exposure(&[&["c", "a"], &["2", "1"]]));
        let mut small = first.clone();
        small.merge_within(second.clone(), 2);
        assert!(!small.has_detail());
        let mut other = second;
        other.merge_within(first, 2);
        assert!(!other.has_detail());
        let (r, full) = (small.measure(&names(2), Vec::new()), whole.measure(&names(2), Vec::new()));
        assert_eq!(r, other.measure(&names(2), Vec::new()));
        assert_eq!((r.risk.clone(), r.unique_row_count), (full.risk.clone(), full.unique_row_count));
        assert!(!r.columns_measured && r.drivers.is_empty() && r.per_column.is_empty());
        assert!(full.columns_measured);
    }

    #[test]
    fn the_driving_set_is_as_small_as_brute_force_finds() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for _ in 0..30 {
            let n = rng.random_range(1..=5usize);
            let rows = rng.random_range(1..=25usize);
            let values: Vec<Vec<String>> = (0..n)
                .map(|_| {
                    let spread = rng.random_range(1..=6u32);
                    (0..rows).map(|_| rng.random_range(0..spread).to_string()).collect()
                })
                .collect();
            let refs: Vec<Vec<&str>> = values.iter().map(|c| c.iter().map(String::as_str).collect()).collect();
            let columns: Vec<&[&str]> = refs.iter().map(Vec::as_slice).collect();
            let r = exposure(&columns).measure(&names(n), Vec::new());
            if r.unique_row_count == 0 {
                assert!(r.drivers.is_empty());
                continue;
            }
            let target = (DRIVER_SHARE * r.unique_row_count as f64).ceil() as u64;
            assert_eq!(r.drivers.len(), smallest_size(&columns, target), "{values:?}");
            assert!((r.drivers_unique_rows * rows as f64).round() as u64 >= target);
            // The greedy fallback (many columns and classes) also reaches the target.
            let table = exposure(&columns).detail.unwrap();
            let (set, unique, exact) = greedy(&table, target);
            assert!(unique >= target && !exact && set.len() >= r.drivers.len() && set.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn subsets_are_enumerated_in_order() {
        let mut s = vec![0, 1];
        let mut all = vec![s.clone()];
        while next_subset(&mut s, 4) {
            all.push(s.clone());
        }
        assert_eq!(all.len() as u64, choose(4, 2));
        assert_eq!(all.last().unwrap(), &vec![2, 3]);
    }
}
