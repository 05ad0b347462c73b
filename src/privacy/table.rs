//! The frequency table: how many rows hold each combination of quasi-identifier values, with
//! the distribution of each sensitive column per combination. One streaming pass builds it
//! batch by batch (in parallel: each batch makes its own table, then they merge); the search
//! never touches rows again. Tables of separate parts of the data merge into the table of the
//! whole (counts add), so partial tables from a cluster can be searched the same way.

use super::FxBuildHasher;
use crate::text::{WholeText, to_text, whole_numbers};
use arrow::array::{Array, ArrayRef, StringArray};
use rayon::iter::{
    IndexedParallelIterator, IntoParallelIterator, IntoParallelRefIterator, IntoParallelRefMutIterator, ParallelExtend,
    ParallelIterator,
};
use rayon::slice::ParallelSliceMut;
use std::borrow::Cow;
use std::collections::HashMap;

/// Distinct values of one column, numbered in order of first appearance. Serialized as its
/// values in id order.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(into = "Vec<Option<String>>", try_from = "Vec<Option<String>>")]
pub struct Dictionary {
    values: Vec<Option<String>>,
    index: HashMap<String, u32, FxBuildHasher>,
    null: Option<u32>,
}

impl Dictionary {
    /// The id of `value`, added if new.
    pub fn intern(&mut self, value: Option<&str>) -> u32 {
        if let Some(id) = self.get(value) {
            return id;
        }
        let id = self.values.len() as u32;
        self.values.push(value.map(str::to_string));
        match value {
            Some(v) => {
                self.index.insert(v.to_string(), id);
            }
            None => self.null = Some(id),
        }
        id
    }

    /// The id of `value`, if present.
    pub fn get(&self, value: Option<&str>) -> Option<u32> {
        match value {
            Some(v) => self.index.get(v).copied(),
            None => self.null,
        }
    }

    /// Values in id order.
    pub fn values(&self) -> &[Option<String>] {
        &self.values
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

impl From<Dictionary> for Vec<Option<String>> {
    fn from(dictionary: Dictionary) -> Self {
        dictionary.values
    }
}

impl TryFrom<Vec<Option<String>>> for Dictionary {
    type Error = String;

    /// # Errors
    /// A value listed twice (ids would shift).
    fn try_from(values: Vec<Option<String>>) -> Result<Self, String> {
        let mut dictionary = Dictionary::default();
        for value in &values {
            dictionary.intern(value.as_deref());
        }
        if dictionary.len() != values.len() {
            return Err("a dictionary lists a value twice".into());
        }
        Ok(dictionary)
    }
}

impl PartialEq for Dictionary {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

/// One column of a batch as a table reads it.
pub enum Column {
    /// Canonical text ([`crate::text::to_text`]), one per row.
    Text(StringArray),
    /// Integers or dates as whole numbers ([`crate::text::whole_numbers`]): counted by value,
    /// so each distinct value's text is written once per batch, not once per row.
    Whole(Vec<Option<i64>>, WholeText),
}

impl Column {
    /// The column of `array`: whole numbers where it has them, else its canonical text; `None`
    /// for types without a text form.
    pub fn of(array: &ArrayRef) -> Option<Self> {
        match whole_numbers(array) {
            Some((values, write)) => Some(Self::Whole(values, write)),
            None => to_text(array).map(Self::Text),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Text(array) => array.len(),
            Self::Whole(values, _) => values.len(),
        }
    }

    /// Every row's id, `id_of` giving the id of a value's text: called once per row of text,
    /// once per distinct whole number (whose text is written only then). `None` as soon as
    /// `id_of` has no id for a value.
    pub fn ids_by(&self, mut id_of: impl FnMut(Option<&str>) -> Option<u32>) -> Option<Vec<u32>> {
        match self {
            Self::Text(array) => {
                (0..array.len()).map(|row| id_of((!array.is_null(row)).then(|| array.value(row)))).collect()
            }
            Self::Whole(values, write) => {
                let mut cache: HashMap<Option<i64>, u32, FxBuildHasher> = HashMap::default();
                let mut text = String::new();
                values
                    .iter()
                    .map(|&value| {
                        if let Some(&id) = cache.get(&value) {
                            return Some(id);
                        }
                        let id = match value {
                            Some(v) => {
                                text.clear();
                                write(&mut text, v);
                                id_of(Some(&text))?
                            }
                            None => id_of(None)?,
                        };
                        cache.insert(value, id);
                        Some(id)
                    })
                    .collect()
            }
        }
    }
}

/// A combination of quasi-identifier ids, one per column. Up to four are held inline, so a table
/// of millions of combinations does not allocate (and free, and chase a pointer) per combination.
pub type Key = smallvec::SmallVec<[u32; INLINE_IDS]>;

/// How many ids a [`Key`] holds without allocating.
const INLINE_IDS: usize = 4;

/// A sparse histogram: (value id, rows), sorted by id.
pub type Histogram = Vec<(u32, u64)>;

/// One combination's rows.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub count: u64,
    /// One histogram per sensitive column.
    pub sensitive: Box<[Histogram]>,
}

/// Rows per combination of quasi-identifier values. Serialized with its combinations in key
/// order, so a canonical table always gives the same bytes; deserializing checks every id.
///
/// The combinations are spread over [`SHARDS`] hash maps by their key's hash, so that a table
/// of millions of combinations can be drained on every thread of the pool; which shard holds a
/// combination changes nothing else.
///
/// [`FrequencyTable::append`] (how a census gathers its batches) does not look combinations up
/// at all: it lists them, and the list is sorted, and repeats added up, only when it is put in
/// canonical form or serialized, or when it has grown past [`LISTED`] entries and twice what its
/// last sort kept ([`FrequencyTable::settle`] does it on demand).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(try_from = "TableForm")]
pub struct FrequencyTable {
    pub quasi: Vec<Dictionary>,
    pub sensitive: Vec<Dictionary>,
    shards: Vec<Combos>,
    /// Combinations appended and not yet looked up: `sorted` in key order, each key once;
    /// `listed` in arrival order, keys repeated. A key may be in `shards`, `sorted` and `listed`
    /// at once: its rows are the sum.
    sorted: Vec<(Key, Entry)>,
    listed: Vec<(Key, Entry)>,
    pub rows: u64,
}

/// How many listed combinations [`FrequencyTable::append`] keeps unsorted at least (192 MB of
/// entries): the list is sorted once it holds this many and twice the sorted ones, so that its
/// memory follows the combinations, not the rows, and each sort takes at most half as many
/// entries again as it was given since the last one (at most 1.5 sorted entries per row).
const LISTED: usize = 1 << 22;

/// One shard of a table's combinations.
type Combos = HashMap<Key, Entry, FxBuildHasher>;

/// How many shards a [`FrequencyTable`] spreads its combinations over: enough for the pool's
/// threads to share a merge evenly, few enough that a one-batch table stays small.
const SHARDS: usize = 16;

/// The shard of a combination: bits 40-43 of its key's hash, which a map uses neither to place
/// an entry (the low bits) nor to tag it (the top seven), so each shard's map stays well spread.
fn shard_of(key: &[u32]) -> usize {
    use std::hash::BuildHasher;
    (FxBuildHasher::default().hash_one(key) >> 40) as usize % SHARDS
}

/// The entry of `key` in `shard`, added (empty, with `sensitive` histograms) if new.
fn entry_of(shard: &mut Combos, key: Key, sensitive: usize) -> &mut Entry {
    shard.entry(key).or_insert_with(|| Entry { count: 0, sensitive: vec![Vec::new(); sensitive].into_boxed_slice() })
}

impl Default for FrequencyTable {
    fn default() -> Self {
        Self::new(0, 0)
    }
}

/// Adds `rows` rows of value `id` to a sorted histogram.
pub fn add_to_histogram(histogram: &mut Histogram, id: u32, rows: u64) {
    match histogram.binary_search_by_key(&id, |&(v, _)| v) {
        Ok(i) => histogram[i].1 += rows,
        Err(i) => histogram.insert(i, (id, rows)),
    }
}

/// Adds `entry`'s rows (and histograms) to `mine`.
fn add_entry(mine: &mut Entry, entry: Entry) {
    mine.count += entry.count;
    for (s, histogram) in entry.sensitive.into_iter().enumerate() {
        for (id, rows) in histogram {
            add_to_histogram(&mut mine.sensitive[s], id, rows);
        }
    }
}

/// Rewrites a combination's ids through `quasi[column][id]` and `sensitive[column][id]`.
fn translate_ids(key: &mut Key, entry: &mut Entry, quasi: &[Vec<u32>], sensitive: &[Vec<u32>]) {
    for (c, id) in key.iter_mut().enumerate() {
        *id = quasi[c][*id as usize];
    }
    for (s, histogram) in entry.sensitive.iter_mut().enumerate() {
        for (id, _) in histogram.iter_mut() {
            *id = sensitive[s][*id as usize];
        }
    }
}

/// The combinations of `parts` in key order, each key once with the rows of all its listings
/// added up (histograms sorted by id). Counts-only tables whose keys pack into one word are
/// sorted as (packed key, rows) pairs, in parallel; others are moved in key order on the calling
/// thread.
fn sorted_distinct(parts: Vec<Vec<(Key, Entry)>>, quasi: &[Dictionary], slots: usize) -> Vec<(Key, Entry)> {
    let packing = Packing::of(quasi);
    if slots == 0 && quasi.len() <= INLINE_IDS && packing.bits <= 64 {
        // Counts only, keys packed in one word: (key, rows) pairs are sorted and added up in
        // place, and each key unpacked again, so no combination is fetched back through the
        // order (a cache miss each), and the parts are freed before the sort.
        let mut keyed: Vec<(u64, u64)> = listed(&parts, |k, e, _| (packing.pack(k) as u64, e.count));
        drop(parts);
        keyed.par_sort_unstable_by_key(|&(key, _)| key);
        keyed.dedup_by(|next, kept| {
            let repeat = next.0 == kept.0;
            if repeat {
                kept.1 += next.1;
            }
            repeat
        });
        return keyed
            .into_par_iter()
            .map(|(key, count)| (packing.unpack(key), Entry { count, sensitive: Box::default() }))
            .collect();
    }
    let (order, starts) = key_order(&parts, quasi, true);
    let end = |s: usize| starts.get(s + 1).copied().unwrap_or(order.len());
    let mut parts = parts;
    let mut out = Vec::with_capacity(starts.len());
    for s in 0..starts.len() {
        let (p, i) = unplace(order[starts[s]]);
        let mut combo = std::mem::take(&mut parts[p][i]);
        for histogram in combo.1.sensitive.iter_mut() {
            histogram.sort_unstable_by_key(|&(id, _)| id);
        }
        for &place in &order[starts[s] + 1..end(s)] {
            let (p, i) = unplace(place);
            add_entry(&mut combo.1, std::mem::take(&mut parts[p][i].1));
        }
        out.push(combo);
    }
    out
}

/// The serialized form of a [`FrequencyTable`].
#[derive(serde::Serialize, serde::Deserialize)]
struct TableForm {
    quasi: Vec<Dictionary>,
    sensitive: Vec<Dictionary>,
    combos: Vec<(Vec<u32>, Entry)>,
    rows: u64,
}

impl serde::Serialize for FrequencyTable {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut form = serializer.serialize_struct("TableForm", 4)?;
        form.serialize_field("quasi", &self.quasi)?;
        form.serialize_field("sensitive", &self.sensitive)?;
        form.serialize_field("combos", &self.sorted_combos())?;
        form.serialize_field("rows", &self.rows)?;
        form.end()
    }
}

impl TryFrom<TableForm> for FrequencyTable {
    type Error = String;

    fn try_from(form: TableForm) -> Result<Self, String> {
        let mut shards: Vec<Combos> = vec![HashMap::default(); SHARDS];
        let mut rows = 0u64;
        for (key, entry) in form.combos {
            let fits = key.len() == form.quasi.len()
                && key.iter().zip(&form.quasi).all(|(&id, d)| (id as usize) < d.len())
                && entry.sensitive.len() == form.sensitive.len()
                && entry.sensitive.iter().zip(&form.sensitive).all(|(h, d)| {
                    h.windows(2).all(|w| w[0].0 < w[1].0) && h.iter().all(|&(id, _)| (id as usize) < d.len())
                });
            if !fits {
                return Err("a combination does not fit the table's dictionaries".into());
            }
            rows = rows.checked_add(entry.count).ok_or("the row counts overflow")?;
            if shards[shard_of(&key)].insert(Key::from_vec(key), entry).is_some() {
                return Err("a combination is listed twice".into());
            }
        }
        // A table over no column (an output that releases no value as it is) counts rows only.
        let counts_only = form.quasi.is_empty() && shards.iter().all(HashMap::is_empty);
        if rows != form.rows && !counts_only {
            return Err("the combinations do not add up to the table's rows".into());
        }
        Ok(Self {
            quasi: form.quasi,
            sensitive: form.sensitive,
            shards,
            sorted: Vec::new(),
            listed: Vec::new(),
            rows: form.rows,
        })
    }
}

impl FrequencyTable {
    /// An empty table for `quasi` quasi-identifiers and `sensitive` sensitive columns.
    pub fn new(quasi: usize, sensitive: usize) -> Self {
        Self {
            quasi: vec![Dictionary::default(); quasi],
            sensitive: vec![Dictionary::default(); sensitive],
            shards: vec![HashMap::default(); SHARDS],
            sorted: Vec::new(),
            listed: Vec::new(),
            rows: 0,
        }
    }

    /// How many distinct combinations the table holds.
    ///
    /// # Panics
    /// Combinations appended and not settled ([`FrequencyTable::settle`]).
    pub fn len(&self) -> usize {
        self.assert_settled();
        self.shards.iter().map(HashMap::len).sum()
    }

    /// Whether the table holds no combination.
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(HashMap::is_empty) && self.sorted.is_empty() && self.listed.is_empty()
    }

    /// Every combination with its rows, in no particular order.
    ///
    /// # Panics
    /// Combinations appended and not settled ([`FrequencyTable::settle`]).
    pub fn entries(&self) -> impl Iterator<Item = (&[u32], &Entry)> {
        self.assert_settled();
        self.shards.iter().flatten().map(|(k, e)| (&k[..], e))
    }

    /// A table read by combination must have none pending: a silent count of some of them would
    /// be a wrong count.
    fn assert_settled(&self) {
        assert!(self.sorted.is_empty() && self.listed.is_empty(), "a frequency table read before it was settled");
    }

    /// The table of one batch, from the canonical text of its quasi-identifier and sensitive
    /// columns (all of one length).
    pub fn from_batch(quasi: &[StringArray], sensitive: &[StringArray]) -> Self {
        let wrap = |arrays: &[StringArray]| -> Vec<Column> { arrays.iter().cloned().map(Column::Text).collect() };
        Self::from_columns(&wrap(quasi), &wrap(sensitive))
    }

    /// The table of one batch of columns (all of one length).
    pub fn from_columns(quasi: &[Column], sensitive: &[Column]) -> Self {
        let mut table = Self::new(quasi.len(), sensitive.len());
        let rows = quasi.first().or(sensitive.first()).map_or(0, Column::len);
        // Column by column, every row's id in the column's dictionary.
        // (Interning always gives an id, so no column stops short.)
        let ids = |c: &Column, d: &mut Dictionary| c.ids_by(|v| Some(d.intern(v))).unwrap_or_default();
        let quasi_ids: Vec<Vec<u32>> = quasi.iter().zip(&mut table.quasi).map(|(c, d)| ids(c, d)).collect();
        let sensitive_ids: Vec<Vec<u32>> = sensitive.iter().zip(&mut table.sensitive).map(|(c, d)| ids(c, d)).collect();
        let mut key = vec![0u32; quasi.len()];
        for row in 0..rows {
            for (slot, ids) in key.iter_mut().zip(&quasi_ids) {
                *slot = ids[row];
            }
            let shard = &mut table.shards[shard_of(&key)];
            // A key of up to four ids costs nothing to build, so one probe finds or adds the
            // entry; a wider one would be allocated for every row, so it is looked up by slice
            // first and built only when new.
            let entry = match (key.len() > INLINE_IDS).then(|| shard.get_mut(&key[..])).flatten() {
                Some(entry) => entry,
                None => entry_of(shard, Key::from_slice(&key), sensitive.len()),
            };
            entry.count += 1;
            for (histogram, ids) in entry.sensitive.iter_mut().zip(&sensitive_ids) {
                add_to_histogram(histogram, ids[row], 1);
            }
        }
        table.rows = rows as u64;
        table
    }

    /// Adds another table's rows like [`FrequencyTable::merge`], but lists its combinations
    /// (ids translated) instead of looking each one up: for a census, which gathers thousands of
    /// batch tables into one of up to millions of combinations and only then reads it. The list
    /// is sorted and its repeats added up on the current rayon pool, when it grows past
    /// [`LISTED`] and twice the combinations already sorted, when the table is put in canonical
    /// form or serialized, or by [`FrequencyTable::settle`]. Never call it while holding a lock
    /// that a task of that pool may take: a thread waiting for the sort's tasks may run such a
    /// task meanwhile, and it would wait on its own lock.
    pub fn append(&mut self, other: FrequencyTable) {
        let (quasi, sensitive) = self.translation(&other);
        let translate = |(mut key, mut entry): (Key, Entry)| {
            translate_ids(&mut key, &mut entry, &quasi, &sensitive);
            (key, entry)
        };
        let mut theirs = other.sorted;
        theirs.extend(other.listed);
        theirs.extend(other.shards.into_iter().flatten());
        if theirs.len() < 1 << 16 {
            self.listed.extend(theirs.into_iter().map(translate));
        } else {
            self.listed.par_extend(theirs.into_par_iter().map(translate));
        }
        self.rows += other.rows;
        if self.listed.len() >= LISTED.max(2 * self.sorted.len()) {
            self.sort_listed();
        }
    }

    /// Sorts the listed combinations into the sorted ones, repeats added up.
    fn sort_listed(&mut self) {
        let parts = [std::mem::take(&mut self.sorted), std::mem::take(&mut self.listed)];
        self.sorted = sorted_distinct(parts.into(), &self.quasi, self.sensitive.len());
    }

    /// Looks up every appended combination ([`FrequencyTable::append`]), so that the table can be
    /// read by combination ([`FrequencyTable::len`], [`FrequencyTable::entries`]).
    pub fn settle(&mut self) {
        if self.sorted.is_empty() && self.listed.is_empty() {
            return;
        }
        self.sort_listed();
        let slots = self.sensitive.len();
        for (key, entry) in std::mem::take(&mut self.sorted) {
            let shard = &mut self.shards[shard_of(&key)];
            add_entry(entry_of(shard, key, slots), entry);
        }
    }

    /// For each of `other`'s quasi-identifier and sensitive dictionaries, this table's id of each
    /// of its ids (values new to this table are added).
    fn translation(&mut self, other: &FrequencyTable) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
        let translate = |mine: &mut [Dictionary], theirs: &[Dictionary]| -> Vec<Vec<u32>> {
            mine.iter_mut()
                .zip(theirs)
                .map(|(m, t)| t.values().iter().map(|v| m.intern(v.as_deref())).collect())
                .collect()
        };
        (translate(&mut self.quasi, &other.quasi), translate(&mut self.sensitive, &other.sensitive))
    }

    /// Adds another table's rows (its ids are translated to this table's), on the calling
    /// thread.
    pub fn merge(&mut self, mut other: FrequencyTable) {
        other.settle();
        let (quasi, sensitive) = self.translation(&other);
        let mut parts: Vec<Vec<(Key, Entry)>> = vec![Vec::new(); SHARDS];
        for (mut key, mut entry) in other.shards.into_iter().flatten() {
            translate_ids(&mut key, &mut entry, &quasi, &sensitive);
            parts[shard_of(&key)].push((key, entry));
        }
        let slots = sensitive.len();
        for (shard, part) in self.shards.iter_mut().zip(parts) {
            for (key, entry) in part {
                add_entry(entry_of(shard, key, slots), entry);
            }
        }
        self.rows += other.rows;
    }

    /// The table with every dictionary's ids in value order (null first, then by text) and its
    /// combinations in key order, so that ids, and everything computed in id or key order, do
    /// not depend on the order in which rows or partial tables arrived. The combinations move
    /// into a sorted list (no second hash table is built: the search only walks them).
    #[must_use]
    pub fn canonical(self) -> CanonicalTable {
        fn sorted(dictionary: &Dictionary) -> (Dictionary, Vec<u32>) {
            let mut order: Vec<u32> = (0..dictionary.len() as u32).collect();
            order.sort_by(|&a, &b| dictionary.values[a as usize].cmp(&dictionary.values[b as usize]));
            let mut remap = vec![0u32; order.len()];
            let mut out = Dictionary::default();
            for (new, &old) in order.iter().enumerate() {
                remap[old as usize] = new as u32;
                out.intern(dictionary.values[old as usize].as_deref());
            }
            (out, remap)
        }
        let (quasi, quasi_remap): (Vec<Dictionary>, Vec<Vec<u32>>) = self.quasi.iter().map(sorted).unzip();
        let (sensitive, sensitive_remap): (Vec<Dictionary>, Vec<Vec<u32>>) = self.sensitive.iter().map(sorted).unzip();
        // Each shard is drained into a list and remapped on a task of its own, so that every
        // thread of the pool writes (and first touches) its share of the entries' memory; the
        // appended combinations are remapped where they lie, in parallel.
        let remap = |(key, entry): &mut (Key, Entry)| {
            translate_ids(key, entry, &quasi_remap, &sensitive_remap);
            for histogram in entry.sensitive.iter_mut() {
                histogram.sort_unstable_by_key(|&(id, _)| id);
            }
        };
        let mut parts: Vec<Vec<(Key, Entry)>> = self
            .shards
            .into_par_iter()
            .map(|shard| {
                let mut part: Vec<(Key, Entry)> = shard.into_iter().collect();
                part.iter_mut().for_each(remap);
                part
            })
            .collect();
        let (mut sorted, mut listed) = (self.sorted, self.listed);
        let slots = sensitive.len();
        let combos = if sorted.is_empty() && listed.is_empty() {
            // Each key is in one shard: no repeats to add up.
            let (order, _) = key_order(&parts, &quasi, false);
            if slots == 0 && quasi.len() <= INLINE_IDS {
                // Inline keys and no histograms copy without allocating: gathered in parallel.
                order
                    .par_iter()
                    .map(|&place| {
                        let (p, i) = unplace(place);
                        parts[p][i].clone()
                    })
                    .collect()
            } else {
                order
                    .into_iter()
                    .map(|place| {
                        let (p, i) = unplace(place);
                        std::mem::take(&mut parts[p][i])
                    })
                    .collect()
            }
        } else {
            sorted.par_iter_mut().for_each(remap);
            listed.par_iter_mut().for_each(remap);
            parts.extend([sorted, listed]);
            sorted_distinct(parts, &quasi, slots)
        };
        CanonicalTable { quasi, sensitive, combos, rows: self.rows }
    }

    /// The combinations in key order (appended ones added up with the others).
    pub fn sorted_combos(&self) -> Vec<(Cow<'_, [u32]>, Cow<'_, Entry>)> {
        let combos: Vec<(&[u32], &Entry)> = self.shards.iter().flatten().map(|(k, e)| (&k[..], e)).collect();
        if self.sorted.is_empty() && self.listed.is_empty() {
            let (order, _) = key_order(std::slice::from_ref(&combos), &self.quasi, false);
            return order
                .into_iter()
                .map(|place| {
                    let (_, i) = unplace(place);
                    (Cow::Borrowed(combos[i].0), Cow::Borrowed(combos[i].1))
                })
                .collect();
        }
        let owned = combos.into_iter().map(|(k, e)| (Key::from_slice(k), e.clone())).collect();
        let parts = vec![owned, self.sorted.clone(), self.listed.clone()];
        let combos = sorted_distinct(parts, &self.quasi, self.sensitive.len());
        combos.into_iter().map(|(k, e)| (Cow::Owned(k.to_vec()), Cow::Owned(e))).collect()
    }

    /// Rows per value of every quasi-identifier (one pass over the combinations).
    pub fn marginals(&self) -> Vec<Vec<u64>> {
        let appended = self.sorted.iter().chain(&self.listed).map(|(k, e)| (&k[..], e));
        marginals(&self.quasi, self.shards.iter().flatten().map(|(k, e)| (&k[..], e)).chain(appended))
    }
}

/// Tables are equal when they hold the same dictionaries and the same rows per combination,
/// however the combinations are held (looked up or appended).
impl PartialEq for FrequencyTable {
    fn eq(&self, other: &Self) -> bool {
        self.quasi == other.quasi
            && self.sensitive == other.sensitive
            && self.rows == other.rows
            && self.sorted_combos() == other.sorted_combos()
    }
}

/// A [`FrequencyTable`] in canonical form ([`FrequencyTable::canonical`]): ids in value order,
/// combinations listed once each in key order. What the search and the decisions read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CanonicalTable {
    pub quasi: Vec<Dictionary>,
    pub sensitive: Vec<Dictionary>,
    /// Every combination once, in key order.
    pub combos: Vec<(Key, Entry)>,
    pub rows: u64,
}

impl CanonicalTable {
    /// Rows per value of every quasi-identifier (one pass over the combinations).
    pub fn marginals(&self) -> Vec<Vec<u64>> {
        marginals(&self.quasi, self.combos.iter().map(|(k, e)| (&k[..], e)))
    }
}

fn marginals<'a>(quasi: &[Dictionary], combos: impl Iterator<Item = (&'a [u32], &'a Entry)>) -> Vec<Vec<u64>> {
    let mut counts: Vec<Vec<u64>> = quasi.iter().map(|d| vec![0u64; d.len()]).collect();
    for (key, entry) in combos {
        for (c, &id) in key.iter().enumerate() {
            counts[c][id as usize] += entry.count;
        }
    }
    counts
}

/// Where a combination is in a list of lists: the list in the high 24 bits, the index in it in
/// the low 40 (one word, not two: an order of millions of combinations is half the size).
type Place = u64;

const INDEX_BITS: u32 = 40;

fn place(part: usize, index: usize) -> Place {
    ((part as u64) << INDEX_BITS) | index as u64
}

fn unplace(place: Place) -> (usize, usize) {
    ((place >> INDEX_BITS) as usize, (place & ((1 << INDEX_BITS) - 1)) as usize)
}

/// How keys pack into one integer: each column's id in as many bits as its dictionary needs,
/// the first column highest, so that packed keys sort (and compare) as the keys do, several
/// times faster than slices.
struct Packing {
    widths: Vec<u32>,
    bits: u32,
}

impl Packing {
    fn of(quasi: &[Dictionary]) -> Self {
        let widths: Vec<u32> = quasi.iter().map(|d| u32::BITS - (d.len() as u32).leading_zeros()).collect();
        Self { bits: widths.iter().sum(), widths }
    }

    /// The packed key (all its bits when [`Packing::bits`] is at most 128).
    fn pack(&self, key: &[u32]) -> u128 {
        key.iter().zip(&self.widths).fold(0u128, |acc, (&id, &w)| (acc << w) | u128::from(id))
    }

    /// The key that [`Packing::pack`] packed into at most 64 bits.
    fn unpack(&self, mut packed: u64) -> Key {
        let mut key = Key::from_elem(0, self.widths.len());
        for (id, &w) in key.iter_mut().zip(&self.widths).rev() {
            *id = (packed & ((1u64 << w) - 1)) as u32;
            packed = packed.checked_shr(w).unwrap_or(0);
        }
        key
    }
}

/// One item per combination of `parts`, from its key, entry and place ([`place`]), in part
/// order, written straight into one list (an indexed parallel extend per part: no intermediate
/// lists to copy).
fn listed<T: Send, K: Sync, E: Sync>(parts: &[Vec<(K, E)>], item: impl Fn(&K, &E, Place) -> T + Sync) -> Vec<T> {
    let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for (p, part) in parts.iter().enumerate() {
        out.par_extend(part.par_iter().enumerate().map(|(i, (k, e))| item(k, e, place(p, i))));
    }
    out
}

/// The order that puts combinations (each key one id per dictionary), held in `parts`, in key
/// order, as places ([`place`]), and, when `runs`, the positions in that order where a key's
/// listings begin. Each key is packed once ([`Packing`]), into 64 bits when it fits; tables too
/// wide to pack sort by slice. Where keys are distinct the order is total and does not depend
/// on how the combinations are spread over the parts; a repeated key's listings come out
/// together, in no particular order.
fn key_order<K: std::ops::Deref<Target = [u32]> + Sync, E: Sync>(
    parts: &[Vec<(K, E)>],
    quasi: &[Dictionary],
    runs: bool,
) -> (Vec<Place>, Vec<usize>) {
    let packing = Packing::of(quasi);
    fn by_packed<K: std::ops::Deref<Target = [u32]> + Sync, E: Sync, P: Ord + Send + Sync>(
        parts: &[Vec<(K, E)>],
        pack: impl Fn(&[u32]) -> P + Sync,
        runs: bool,
    ) -> (Vec<Place>, Vec<usize>) {
        let mut keyed: Vec<(P, Place)> = listed(parts, |k, _, place| (pack(k), place));
        keyed.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let starts = if runs {
            (0..keyed.len()).into_par_iter().filter(|&n| n == 0 || keyed[n].0 != keyed[n - 1].0).collect()
        } else {
            Vec::new()
        };
        (keyed.into_par_iter().map(|(_, place)| place).collect(), starts)
    }
    if packing.bits <= 64 {
        // Narrower keys sort faster.
        by_packed(parts, |k| packing.pack(k) as u64, runs)
    } else if packing.bits <= 128 {
        by_packed(parts, |k| packing.pack(k), runs)
    } else {
        let key = |place: Place| -> &[u32] {
            let (p, i) = unplace(place);
            &parts[p][i].0
        };
        let mut order: Vec<Place> = listed(parts, |_, _, place| place);
        order.par_sort_unstable_by(|&a, &b| key(a).cmp(key(b)));
        let starts = if runs {
            (0..order.len()).into_par_iter().filter(|&n| n == 0 || key(order[n]) != key(order[n - 1])).collect()
        } else {
            Vec::new()
        };
        (order, starts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(&str, Option<&str>, &str)]) -> FrequencyTable {
        let a = StringArray::from(rows.iter().map(|r| Some(r.0)).collect::<Vec<_>>());
        let b = StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
        let s = StringArray::from(rows.iter().map(|r| Some(r.2)).collect::<Vec<_>>());
        FrequencyTable::from_batch(&[a, b], &[s])
    }

    /// Content by value text, independent of ids.
    type Content = Vec<(Vec<Option<String>>, u64, Vec<(Option<String>, u64)>)>;

    fn content(t: &FrequencyTable) -> Content {
        content_of(&t.quasi, &t.sensitive, t.entries())
    }

    fn content_of<'a>(
        quasi: &[Dictionary],
        sensitive: &[Dictionary],
        combos: impl Iterator<Item = (&'a [u32], &'a Entry)>,
    ) -> Content {
        let mut out: Vec<_> = combos
            .map(|(k, e)| {
                let key = k.iter().enumerate().map(|(c, &id)| quasi[c].values()[id as usize].clone()).collect();
                // The first sensitive column's histogram (none without one).
                let mut hist: Vec<_> = e
                    .sensitive
                    .iter()
                    .take(1)
                    .flatten()
                    .map(|&(id, n)| (sensitive[0].values()[id as usize].clone(), n))
                    .collect();
                hist.sort();
                (key, e.count, hist)
            })
            .collect();
        out.sort();
        out
    }

    /// Whatever order the parts arrive in, the canonical table is the same, ids included.
    #[test]
    fn canonical_tables_do_not_depend_on_arrival_order() {
        let rows = [("b", Some("y"), "flu"), ("a", None, "cold"), ("c", Some("x"), "flu"), ("a", Some("x"), "asthma")];
        let mut forward = table(&rows[..2]);
        forward.merge(table(&rows[2..]));
        let mut backward = table(&rows[2..]);
        backward.merge(table(&rows[..2]));
        let (forward, backward) = (forward.canonical(), backward.canonical());
        assert_eq!(forward.quasi[0].values(), backward.quasi[0].values());
        assert_eq!(forward.quasi[1].values(), &[None, Some("x".to_string()), Some("y".to_string())]);
        assert_eq!(forward, backward);
        assert!(forward.combos.windows(2).all(|w| w[0].0 < w[1].0), "not in key order");
        let forward_content =
            content_of(&forward.quasi, &forward.sensitive, forward.combos.iter().map(|(k, e)| (&k[..], e)));
        assert_eq!(forward_content, content(&table(&rows)));
    }

    /// Packed keys sort exactly as the keys do, in 64 or 128 bits, and tables too wide to pack
    /// sort by slice.
    #[test]
    fn sorted_combos_are_in_key_order_packed_or_not() {
        for (columns, values) in [(3usize, 300u32), (5, 70_000), (8, 70_000)] {
            // Ids of 9 bits (3 columns: 27 bits, packed in 64) or 17 bits (5 columns: 85 bits,
            // packed in 128; 8 columns: 136 bits, sorted by slice).
            let arrays: Vec<StringArray> = (0..columns)
                .map(|c| {
                    StringArray::from(
                        (0..4000u32)
                            .map(|r| Some(format!("{:06}", (r.wrapping_mul(2_654_435_761) >> (c * 3)) % values)))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect();
            let mut table = FrequencyTable::from_batch(&arrays, &[]);
            // Dictionaries as wide as `values`, so the packed widths are what the comment says.
            for d in &mut table.quasi {
                for v in 0..values {
                    d.intern(Some(&format!("x{v}")));
                }
            }
            let sorted: Vec<Vec<u32>> = table.sorted_combos().into_iter().map(|(k, _)| k.into_owned()).collect();
            assert_eq!(sorted.len(), table.len());
            assert!(sorted.windows(2).all(|w| w[0] < w[1]), "{columns} columns: not in key order");
            let canonical = table.clone().canonical();
            assert_eq!(canonical.combos.len(), table.len());
            assert!(
                canonical.combos.windows(2).all(|w| w[0].0 < w[1].0),
                "{columns} columns: canonical not in key order"
            );
            // Copied in parallel (3 columns: inline keys) or moved (5 and 8): the same content.
            let moved =
                content_of(&canonical.quasi, &canonical.sensitive, canonical.combos.iter().map(|(k, e)| (&k[..], e)));
            assert_eq!(moved, content(&table), "{columns} columns: canonical content");
        }
    }

    /// Thousands of combinations (spread over every shard), with a sensitive column, cut at
    /// random points and merged in two orders: the canonical tables are identical, and their
    /// content is the whole table's.
    #[test]
    fn sharded_merges_in_any_order_give_the_whole_canonical_table() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let rows: Vec<(String, Option<String>, String)> = (0..6000)
            .map(|_| {
                let a = format!("a{}", rng.random_range(0..90));
                let b = (rng.random_range(0..10) > 0).then(|| format!("b{}", rng.random_range(0..70)));
                (a, b, format!("s{}", rng.random_range(0..5)))
            })
            .collect();
        let refs: Vec<(&str, Option<&str>, &str)> =
            rows.iter().map(|(a, b, s)| (&a[..], b.as_deref(), &s[..])).collect();
        let mut cuts: Vec<usize> = (0..12).map(|_| rng.random_range(0..refs.len())).collect();
        cuts.extend([0, refs.len()]);
        cuts.sort_unstable();
        let parts: Vec<FrequencyTable> = cuts.windows(2).map(|w| table(&refs[w[0]..w[1]])).collect();
        let whole = table(&refs);
        assert!(whole.shards.iter().all(|s| !s.is_empty()), "some shard holds nothing");
        let merged = |order: &mut dyn Iterator<Item = &FrequencyTable>| {
            let mut t = FrequencyTable::new(2, 1);
            for part in order {
                t.merge(part.clone());
            }
            t
        };
        let forward = merged(&mut parts.iter());
        let backward = merged(&mut parts.iter().rev());
        assert_eq!(forward.len(), whole.len());
        assert_eq!(content(&forward), content(&whole));
        let (forward, backward, whole) = (forward.canonical(), backward.canonical(), whole.canonical());
        assert_eq!(forward, backward);
        assert_eq!(forward, whole);
    }

    /// Batch tables appended (listed, sorted part of the way, settled or not) hold what merged
    /// ones hold: equal tables, the same serialized bytes and marginals, the same canonical
    /// table as the whole; with and without a sensitive column (histograms added up, or counts
    /// alone copied in parallel), and with keys wider than the inline ones.
    #[test]
    fn appended_tables_hold_what_merged_ones_hold() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for (columns, sensitive) in [(2usize, true), (2, false), (6, true), (6, false)] {
            let rows = 5000;
            let column = |rng: &mut rand_chacha::ChaCha8Rng, values: u32| {
                StringArray::from(
                    (0..rows).map(|_| Some(format!("v{}", rng.random_range(0..values)))).collect::<Vec<_>>(),
                )
            };
            let quasi: Vec<StringArray> = (0..columns).map(|c| column(&mut rng, if c < 2 { 12 } else { 2 })).collect();
            let target: Vec<StringArray> = if sensitive { vec![column(&mut rng, 4)] } else { Vec::new() };
            let mut cuts: Vec<usize> = (0..15).map(|_| rng.random_range(0..rows)).collect();
            cuts.extend([0, rows]);
            cuts.sort_unstable();
            let slice = |arrays: &[StringArray], w: &[usize]| -> Vec<StringArray> {
                arrays.iter().map(|a| a.slice(w[0], w[1] - w[0])).collect()
            };
            let parts: Vec<FrequencyTable> =
                cuts.windows(2).map(|w| FrequencyTable::from_batch(&slice(&quasi, w), &slice(&target, w))).collect();
            let whole = FrequencyTable::from_batch(&quasi, &target);
            let mut merged = FrequencyTable::new(columns, target.len());
            let mut appended = FrequencyTable::new(columns, target.len());
            // The first part merged (looked up), the rest appended, sorted a third of the way.
            appended.merge(parts[0].clone());
            for (n, part) in parts.iter().enumerate() {
                merged.merge(part.clone());
                if n > 0 {
                    appended.append(part.clone());
                }
                if n == parts.len() / 3 {
                    appended.sort_listed();
                }
            }
            let what = format!("{columns} columns, sensitive {sensitive}");
            assert!(!appended.sorted.is_empty() && !appended.listed.is_empty(), "{what}: not mixed");
            assert_eq!(appended, merged, "{what}");
            assert_eq!(serde_json::to_vec(&appended).unwrap(), serde_json::to_vec(&merged).unwrap(), "{what}");
            assert_eq!(appended.marginals(), merged.marginals(), "{what}");
            assert_eq!(appended.clone().canonical(), whole.clone().canonical(), "{what}");
            appended.settle();
            assert_eq!(appended.len(), whole.len(), "{what}");
            assert_eq!(content(&appended), content(&whole), "{what}");
            // An appended table merged into another, and another appended into it.
            let mut twice = FrequencyTable::new(columns, target.len());
            twice.append(appended.clone());
            twice.append(appended);
            let doubled = twice.canonical();
            let single = whole.canonical();
            assert_eq!(doubled.quasi, single.quasi, "{what}");
            let counts = |t: &CanonicalTable| -> Vec<u64> { t.combos.iter().map(|(_, e)| e.count).collect() };
            assert_eq!(counts(&doubled), counts(&single).iter().map(|c| 2 * c).collect::<Vec<_>>(), "{what}");
        }
    }

    /// Packed keys sort as the keys do, and a key packed into one word unpacks to itself, for
    /// columns of 0 to 32 bits (a dictionary of no value up to one of 2^32 - 1).
    #[test]
    fn packed_keys_keep_order_and_unpack_to_themselves() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
        for _ in 0..500 {
            let columns = rng.random_range(0..=INLINE_IDS);
            let mut widths: Vec<u32> = (0..columns).map(|_| rng.random_range(0..=32)).collect();
            while widths.iter().sum::<u32>() > 64 {
                let widest = (0..columns).max_by_key(|&c| widths[c]).unwrap_or(0);
                widths[widest] /= 2;
            }
            let packing = Packing { bits: widths.iter().sum(), widths: widths.clone() };
            let key = |rng: &mut rand_chacha::ChaCha8Rng| -> Key {
                widths.iter().map(|&w| if w == 0 { 0 } else { rng.random_range(0..=(u32::MAX >> (32 - w))) }).collect()
            };
            let (a, b) = (key(&mut rng), key(&mut rng));
            assert_eq!(packing.unpack(packing.pack(&a) as u64), a, "widths {widths:?}");
            assert_eq!(packing.pack(&a).cmp(&packing.pack(&b)), a.cmp(&b), "widths {widths:?}");
        }
    }

    /// Reading combinations one by one while some are only listed would miss them: it stops.
    #[test]
    #[should_panic(expected = "read before it was settled")]
    fn an_unsettled_table_is_not_read_by_combination() {
        let mut table = FrequencyTable::new(1, 0);
        table.append(FrequencyTable::from_batch(&[StringArray::from(vec!["a"])], &[]));
        let _ = table.len();
    }

    /// Keys wider than the inline ones (looked up by slice before being built) count repeats
    /// into one combination, in a batch and across a merge.
    #[test]
    fn wide_keys_count_repeated_combinations_once() {
        let column = |values: &[&str]| StringArray::from(values.to_vec());
        let wide = |values: &[&str]| -> Vec<StringArray> { (0..6).map(|_| column(values)).collect() };
        let mut table = FrequencyTable::from_batch(&wide(&["a", "b", "a", "a"]), &[]);
        assert_eq!((table.len(), table.rows), (2, 4));
        table.merge(FrequencyTable::from_batch(&wide(&["b", "a"]), &[]));
        let mut counts: Vec<(Vec<u32>, u64)> = table.entries().map(|(k, e)| (k.to_vec(), e.count)).collect();
        counts.sort();
        assert_eq!(counts, vec![(vec![0; 6], 4), (vec![1; 6], 2)]);
    }

    #[test]
    fn merged_parts_equal_the_whole() {
        let rows = [
            ("a", Some("x"), "flu"),
            ("b", None, "cold"),
            ("a", Some("x"), "cold"),
            ("c", Some("y"), "flu"),
            ("a", Some("x"), "flu"),
            ("b", None, "flu"),
        ];
        let whole = table(&rows);
        let mut merged = table(&rows[4..]);
        merged.merge(table(&rows[..2]));
        merged.merge(table(&rows[2..4]));
        assert_eq!(merged.rows, 6);
        assert_eq!(content(&merged), content(&whole));
        let ax = content(&whole).into_iter().find(|c| c.0 == vec![Some("a".into()), Some("x".into())]).unwrap();
        assert_eq!(ax.1, 3);
        assert_eq!(ax.2, vec![(Some("cold".into()), 1), (Some("flu".into()), 2)]);
    }
}
