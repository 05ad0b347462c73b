//! Format-preserving encryption, exactly as the contract's "Keys and tokens" section defines it:
//! NIST SP 800-38G FF1 over AES-256 with
//! `key = BLAKE3-derive-key("anonymize encrypt v1", key ‖ domain)` and the domain's UTF-8 bytes as
//! the tweak. The characters of a value that belong to the `alphabet` form the numeral string
//! (radix = alphabet size, numeral = position in the alphabet); every other character stays where
//! it is, so `4111-1111-1111-1111` encrypts to another `dddd-dddd-dddd-dddd`.
//!
//! Integer columns stay integers of the same digit count and sign: the digits are encrypted and,
//! when the result would start with `0` or not fit the column's type, encrypted again ("cycle
//! walking", a permutation of the valid values), so decryption walks back the same way.
//!
//! The FF1 rounds of short values run on our fast path (`super::ff1`); longer ones on the
//! `fpe` crate. Both are checked against NIST's AES-256 samples and against each other. This
//! module owns key derivation, the alphabet mapping and the integer rules.

use super::ff1::FastFf1;
use crate::keys::Key;
use crate::text::to_text;
use aes::Aes256;
use aes::cipher::KeyInit;
use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray, StringArray, StringBuilder};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type,
    UInt64Type,
};
use fpe::ff1::{FF1, FlexibleNumeralString, NumeralStringError};
use std::collections::HashMap;
use std::fmt::Write;
use std::ops::Range;
use std::sync::Arc;

/// The key derivation context of `ff1`.
pub const ENCRYPT_CONTEXT: &str = "anonymize encrypt v1";

/// The NIST minimum domain size: radix^length must reach it.
pub const MIN_DOMAIN_SIZE: u64 = 1_000_000;

/// The characters that are encrypted, each mapped to its numeral.
#[derive(Debug, Clone)]
pub struct Alphabet {
    chars: Vec<char>,
    ascii: [u16; 128],
    other: HashMap<char, u16>,
}

const NOT_IN_ALPHABET: u16 = u16::MAX;

impl Alphabet {
    /// An alphabet of 2 to 65,535 distinct characters; `None` otherwise.
    pub fn new(chars: &[char]) -> Option<Self> {
        if chars.len() < 2 || chars.len() > usize::from(NOT_IN_ALPHABET) {
            return None;
        }
        let mut ascii = [NOT_IN_ALPHABET; 128];
        let mut other = HashMap::new();
        for (numeral, &c) in chars.iter().enumerate() {
            let numeral = numeral as u16;
            let fresh = if c.is_ascii() {
                std::mem::replace(&mut ascii[c as usize], numeral) == NOT_IN_ALPHABET
            } else {
                other.insert(c, numeral).is_none()
            };
            if !fresh {
                return None;
            }
        }
        Some(Self { chars: chars.to_vec(), ascii, other })
    }

    /// The ten digits.
    pub fn digits() -> Self {
        let chars: Vec<char> = ('0'..='9').collect();
        Self::new(&chars).unwrap_or_else(|| unreachable!("ten distinct digits"))
    }

    fn numeral(&self, c: char) -> Option<u16> {
        let n = if c.is_ascii() { self.ascii[c as usize] } else { *self.other.get(&c)? };
        (n != NOT_IN_ALPHABET).then_some(n)
    }

    fn radix(&self) -> u32 {
        self.chars.len() as u32
    }

    /// The fewest alphabet characters a value needs: radix^n ≥ one million.
    pub fn min_length(&self) -> usize {
        let radix = u64::from(self.radix());
        let mut size = radix;
        let mut length = 1;
        while size < MIN_DOMAIN_SIZE {
            size = size.saturating_mul(radix);
            length += 1;
        }
        length.max(2)
    }

    /// Whether the alphabet is the ten digits, in any order.
    pub fn is_digits(&self) -> bool {
        self.chars.len() == 10 && self.chars.iter().all(char::is_ascii_digit)
    }
}

/// Why one value cannot be encrypted or decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("it has {found} characters of the alphabet, fewer than the {needed} FF1 needs")]
    TooShort { found: usize, needed: usize },
    #[error("it is not a value this column can hold")]
    OutOfRange,
    #[error("it has {found} characters of the alphabet, more than the {limit} this tool encrypts")]
    TooLong { found: usize, limit: usize },
}

/// The most alphabet characters one value may have. FF1's cost grows with the square of the
/// length on the general path (a 200,000-digit cell took a minute); identifiers are far shorter
/// (card numbers 19, e-mail addresses at most 254 characters).
pub const MAX_LENGTH: usize = 1024;

/// FF1 for one column: derived AES-256 key, tweak and alphabet.
#[derive(Clone)]
pub struct Ff1 {
    /// The general algorithm, for values too long for the fast path.
    cipher: Arc<FF1<Aes256>>,
    aes: Arc<Aes256>,
    fast: Arc<FastFf1>,
    tweak: Vec<u8>,
    alphabet: Alphabet,
    min_length: usize,
}

impl Ff1 {
    /// The column cipher of the contract: key derived from the job key and `domain`, which is
    /// also the tweak.
    pub fn for_domain(key: &Key, domain: &str, alphabet: Alphabet) -> Self {
        let mut material = zeroize::Zeroizing::new(Vec::with_capacity(32 + domain.len()));
        material.extend_from_slice(key.bytes());
        material.extend_from_slice(domain.as_bytes());
        let aes_key = zeroize::Zeroizing::new(blake3::derive_key(ENCRYPT_CONTEXT, &material));
        Self::with_aes_key(&aes_key, domain.as_bytes(), alphabet)
    }

    /// FF1 with a raw AES-256 key and tweak (NIST's test vectors use these directly).
    pub fn with_aes_key(aes_key: &[u8; 32], tweak: &[u8], alphabet: Alphabet) -> Self {
        let cipher = FF1::<Aes256>::new(aes_key, alphabet.radix())
            .unwrap_or_else(|_| unreachable!("Alphabet::new keeps the radix within 2..=65535"));
        let aes = Aes256::new(&(*aes_key).into());
        let fast = FastFf1::new(&aes, tweak, alphabet.radix());
        let min_length = alphabet.min_length();
        Self {
            cipher: Arc::new(cipher),
            aes: Arc::new(aes),
            fast: Arc::new(fast),
            tweak: tweak.to_vec(),
            alphabet,
            min_length,
        }
    }

    /// Encrypts a numeral string.
    ///
    /// # Errors
    /// [`ValueError::TooShort`] below the NIST minimum domain size.
    pub fn encrypt_numerals(&self, numerals: Vec<u16>) -> Result<Vec<u16>, ValueError> {
        self.numerals(numerals, Direction::Encrypt)
    }

    /// Decrypts a numeral string.
    ///
    /// # Errors
    /// [`ValueError::TooShort`] below the NIST minimum domain size.
    pub fn decrypt_numerals(&self, numerals: Vec<u16>) -> Result<Vec<u16>, ValueError> {
        self.numerals(numerals, Direction::Decrypt)
    }

    fn numerals(&self, mut numerals: Vec<u16>, direction: Direction) -> Result<Vec<u16>, ValueError> {
        let found = numerals.len();
        if found < self.min_length {
            return Err(ValueError::TooShort { found, needed: self.min_length });
        }
        if found > MAX_LENGTH {
            return Err(ValueError::TooLong { found, limit: MAX_LENGTH });
        }
        if self.fast.covers(found) && numerals.iter().all(|&n| u32::from(n) < self.alphabet.radix()) {
            let span = 0..found;
            self.fast.run_many(&self.aes, &mut numerals, std::slice::from_ref(&span), direction == Direction::Decrypt);
            return Ok(numerals);
        }
        self.reference(numerals, direction)
    }

    /// The general FF1 of the `fpe` crate, used beyond the fast path (and by tests as the
    /// reference the fast path must equal).
    fn reference(&self, numerals: Vec<u16>, direction: Direction) -> Result<Vec<u16>, ValueError> {
        let found = numerals.len();
        let numerals = FlexibleNumeralString::from(numerals);
        match direction {
            Direction::Encrypt => self.cipher.encrypt(&self.tweak, &numerals),
            Direction::Decrypt => self.cipher.decrypt(&self.tweak, &numerals),
        }
        .map(Vec::from)
        .map_err(|e| self.numeral_error(e, found))
    }

    fn numeral_error(&self, error: NumeralStringError, found: usize) -> ValueError {
        match error {
            NumeralStringError::TooShort { min_len, .. } => ValueError::TooShort { found, needed: min_len },
            _ => ValueError::OutOfRange,
        }
    }

    /// Encrypts the alphabet characters of `value` in place of themselves, appending to `out`.
    ///
    /// # Errors
    /// [`ValueError::TooShort`] when the value has too few alphabet characters.
    pub fn encrypt_text(&self, value: &str, out: &mut String) -> Result<(), ValueError> {
        self.text(value, out, Direction::Encrypt)
    }

    /// Reverses [`Ff1::encrypt_text`].
    ///
    /// # Errors
    /// [`ValueError::TooShort`] when the value has too few alphabet characters.
    pub fn decrypt_text(&self, value: &str, out: &mut String) -> Result<(), ValueError> {
        self.text(value, out, Direction::Decrypt)
    }

    fn text(&self, value: &str, out: &mut String, direction: Direction) -> Result<(), ValueError> {
        let numerals: Vec<u16> = value.chars().filter_map(|c| self.alphabet.numeral(c)).collect();
        let numerals = match direction {
            Direction::Encrypt => self.encrypt_numerals(numerals)?,
            Direction::Decrypt => self.decrypt_numerals(numerals)?,
        };
        let mut next = numerals.into_iter();
        for c in value.chars() {
            match self.alphabet.numeral(c) {
                Some(_) => out.push(next.next().map_or(c, |n| self.alphabet.chars[usize::from(n)])),
                None => out.push(c),
            }
        }
        Ok(())
    }

    /// Encrypts an integer to another of the same sign and digit count within `range`
    /// (the column type's), by cycle walking. The alphabet must be the ten digits.
    ///
    /// # Errors
    /// [`ValueError::TooShort`] below six digits.
    pub fn encrypt_integer(&self, value: i128, range: IntegerRange) -> Result<i128, ValueError> {
        self.integer(value, range, Direction::Encrypt)
    }

    /// Reverses [`Ff1::encrypt_integer`].
    ///
    /// # Errors
    /// [`ValueError::TooShort`] below six digits; [`ValueError::OutOfRange`] for a value that
    /// no encryption in `range` produced.
    pub fn decrypt_integer(&self, value: i128, range: IntegerRange) -> Result<i128, ValueError> {
        self.integer(value, range, Direction::Decrypt)
    }

    fn integer(&self, value: i128, range: IntegerRange, direction: Direction) -> Result<i128, ValueError> {
        if !range.contains(value) {
            return Err(ValueError::OutOfRange);
        }
        let negative = value < 0;
        let magnitude = value.unsigned_abs();
        let digits = magnitude.to_string();
        let mut numerals: Vec<u16> = digits.bytes().map(|b| self.digit_numeral(b)).collect();
        // At most a few steps on average (a leading zero has odds 1/10); the bound only guards
        // against a broken cipher.
        for _ in 0..10_000 {
            numerals = match direction {
                Direction::Encrypt => self.encrypt_numerals(numerals)?,
                Direction::Decrypt => self.decrypt_numerals(numerals)?,
            };
            if let Some(candidate) = self.valid_integer(&numerals, negative, range) {
                return Ok(candidate);
            }
        }
        Err(ValueError::OutOfRange)
    }

    fn digit_numeral(&self, digit: u8) -> u16 {
        self.alphabet.numeral(char::from(digit)).unwrap_or(0)
    }
}

/// Which way a cipher runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Encrypt,
    Decrypt,
}

/// The values of a batch that could not be encrypted or decrypted: batch-local row indices
/// (at most [`ROWS_REPORTED`]), how many there were in all, and the first problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub rows: Vec<usize>,
    pub count: usize,
    pub problem: ValueError,
}

/// Row numbers named in an error; the rest are counted.
pub const ROWS_REPORTED: usize = 5;

impl Ff1 {
    /// Runs FF1 over many numeral strings of `digits` (each span at least the minimum length):
    /// those the fast path covers together, the rest one by one on the general algorithm.
    fn run_spans(&self, digits: &mut [u16], spans: &[Range<usize>], direction: Direction) {
        let (fast, general): (Vec<Range<usize>>, Vec<Range<usize>>) =
            spans.iter().cloned().partition(|span| self.fast.covers(span.len()));
        self.fast.run_many(&self.aes, digits, &fast, direction == Direction::Decrypt);
        for span in general {
            let numerals = digits[span.clone()].to_vec();
            // Length and radix were checked, so the general algorithm cannot refuse.
            if let Ok(out) = self.reference(numerals, direction) {
                digits[span].copy_from_slice(&out);
            }
        }
    }

    /// Encrypts or decrypts every value of an integer or text array; null stays null.
    /// Integer arrays keep their type; anything else is taken by its canonical text and comes
    /// back as text.
    ///
    /// # Errors
    /// [`Rejected`] with the rows whose values FF1 cannot take.
    pub fn apply(&self, values: &ArrayRef, direction: Direction) -> Result<ArrayRef, Rejected> {
        let mut rejected = Rejected { rows: Vec::new(), count: 0, problem: ValueError::OutOfRange };
        let out = match values.data_type() {
            DataType::Int8 => self.integers::<Int8Type>(values, direction, &mut rejected),
            DataType::Int16 => self.integers::<Int16Type>(values, direction, &mut rejected),
            DataType::Int32 => self.integers::<Int32Type>(values, direction, &mut rejected),
            DataType::Int64 => self.integers::<Int64Type>(values, direction, &mut rejected),
            DataType::UInt8 => self.integers::<UInt8Type>(values, direction, &mut rejected),
            DataType::UInt16 => self.integers::<UInt16Type>(values, direction, &mut rejected),
            DataType::UInt32 => self.integers::<UInt32Type>(values, direction, &mut rejected),
            DataType::UInt64 => self.integers::<UInt64Type>(values, direction, &mut rejected),
            _ => match to_text(values) {
                Some(text) => self.texts(&text, direction, &mut rejected),
                None => {
                    rejected.reject(0, ValueError::OutOfRange);
                    return Err(rejected);
                }
            },
        };
        if rejected.count > 0 { Err(rejected) } else { Ok(out) }
    }

    fn texts(&self, text: &StringArray, direction: Direction, rejected: &mut Rejected) -> ArrayRef {
        let mut digits = Vec::with_capacity(text.value_data().len());
        let mut spans = Vec::with_capacity(text.len());
        let mut row_span = Vec::with_capacity(text.len());
        for (row, value) in text.iter().enumerate() {
            let Some(value) = value else {
                row_span.push(None);
                continue;
            };
            let start = digits.len();
            digits.extend(value.chars().filter_map(|c| self.alphabet.numeral(c)));
            let found = digits.len() - start;
            if found < self.min_length || found > MAX_LENGTH {
                digits.truncate(start);
                let problem = if found > MAX_LENGTH {
                    ValueError::TooLong { found, limit: MAX_LENGTH }
                } else {
                    ValueError::TooShort { found, needed: self.min_length }
                };
                rejected.reject(row, problem);
                row_span.push(None);
            } else {
                row_span.push(Some(spans.len()));
                spans.push(start..digits.len());
            }
        }
        self.run_spans(&mut digits, &spans, direction);
        let mut builder = StringBuilder::with_capacity(text.len(), text.value_data().len());
        let mut buffer = String::new();
        for (value, span) in text.iter().zip(row_span) {
            let (Some(value), Some(span)) = (value, span) else {
                builder.append_null();
                continue;
            };
            buffer.clear();
            let mut next = digits[spans[span].clone()].iter();
            for c in value.chars() {
                match self.alphabet.numeral(c) {
                    Some(_) => buffer.push(next.next().map_or(c, |&n| self.alphabet.chars[usize::from(n)])),
                    None => buffer.push(c),
                }
            }
            builder.append_value(&buffer);
        }
        Arc::new(builder.finish())
    }

    /// Integers by cycle walking, batched: every pending value takes one FF1 step per pass and
    /// leaves the pending set once it is a valid value of the type.
    fn integers<T: ArrowPrimitiveType>(
        &self,
        values: &ArrayRef,
        direction: Direction,
        rejected: &mut Rejected,
    ) -> ArrayRef
    where
        T::Native: TryFrom<i128> + Into<i128>,
    {
        let typed = values.as_primitive::<T>();
        let Some(range) = integer_range(values.data_type()) else {
            rejected.reject(0, ValueError::OutOfRange);
            return values.clone();
        };
        let mut digits: Vec<u16> = Vec::with_capacity(typed.len() * 20);
        let mut spans = Vec::with_capacity(typed.len());
        let mut rows = Vec::with_capacity(typed.len());
        let mut text = String::new();
        for (row, value) in typed.iter().enumerate() {
            let Some(value) = value else { continue };
            let value: i128 = value.into();
            text.clear();
            let _ = write!(text, "{}", value.unsigned_abs());
            if text.len() < self.min_length {
                rejected.reject(row, ValueError::TooShort { found: text.len(), needed: self.min_length });
                continue;
            }
            let start = digits.len();
            digits.extend(text.bytes().map(|b| self.alphabet.numeral(char::from(b)).unwrap_or(0)));
            spans.push(start..digits.len());
            rows.push((row, value < 0));
        }
        let mut results: Vec<Option<T::Native>> = vec![None; typed.len()];
        let mut pending: Vec<usize> = (0..spans.len()).collect();
        // Each pass leaves about nine in ten values done; 200 passes only guard a broken cipher.
        for _ in 0..200 {
            if pending.is_empty() {
                break;
            }
            let batch: Vec<Range<usize>> = pending.iter().map(|&i| spans[i].clone()).collect();
            self.run_spans(&mut digits, &batch, direction);
            pending.retain(|&i| {
                let (row, negative) = rows[i];
                match self.valid_integer(&digits[spans[i].clone()], negative, range) {
                    Some(v) => {
                        results[row] = T::Native::try_from(v).ok();
                        false
                    }
                    None => true,
                }
            });
        }
        for &i in &pending {
            rejected.reject(rows[i].0, ValueError::OutOfRange);
        }
        let out: PrimitiveArray<T> = results.into_iter().collect();
        Arc::new(out.with_data_type(values.data_type().clone()))
    }

    /// The integer that `numerals` spell with `negative`'s sign, when it has no leading zero
    /// and fits `range`.
    fn valid_integer(&self, numerals: &[u16], negative: bool, range: IntegerRange) -> Option<i128> {
        let mut magnitude: u128 = 0;
        for (i, &n) in numerals.iter().enumerate() {
            let digit = self.alphabet.chars[usize::from(n)].to_digit(10)?;
            if i == 0 && digit == 0 && numerals.len() > 1 {
                return None;
            }
            magnitude = magnitude.checked_mul(10)?.checked_add(u128::from(digit))?;
        }
        let magnitude = i128::try_from(magnitude).ok()?;
        let value = if negative { -magnitude } else { magnitude };
        range.contains(value).then_some(value)
    }
}

/// The values an integer column's type can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegerRange {
    pub min: i128,
    pub max: i128,
}

impl IntegerRange {
    fn contains(self, value: i128) -> bool {
        (self.min..=self.max).contains(&value)
    }
}

/// The values an integer type can hold; `None` for other types.
pub fn integer_range(data_type: &DataType) -> Option<IntegerRange> {
    let (min, max) = match data_type {
        DataType::Int8 => (i128::from(i8::MIN), i128::from(i8::MAX)),
        DataType::Int16 => (i128::from(i16::MIN), i128::from(i16::MAX)),
        DataType::Int32 => (i128::from(i32::MIN), i128::from(i32::MAX)),
        DataType::Int64 => (i128::from(i64::MIN), i128::from(i64::MAX)),
        DataType::UInt8 => (0, i128::from(u8::MAX)),
        DataType::UInt16 => (0, i128::from(u16::MAX)),
        DataType::UInt32 => (0, i128::from(u32::MAX)),
        DataType::UInt64 => (0, i128::from(u64::MAX)),
        _ => return None,
    };
    Some(IntegerRange { min, max })
}

impl Rejected {
    fn reject(&mut self, row: usize, problem: ValueError) {
        if self.count == 0 {
            self.problem = problem;
        }
        self.count += 1;
        if self.rows.len() < ROWS_REPORTED {
            self.rows.push(row);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NIST_KEY: [u8; 32] = [
        0x2B, 0x7E, 0x15, 0x16, 0x28, 0xAE, 0xD2, 0xA6, 0xAB, 0xF7, 0x15, 0x88, 0x09, 0xCF, 0x4F, 0x3C, 0xEF, 0x43,
        0x59, 0xD8, 0xD5, 0x80, 0xAA, 0x4F, 0x7F, 0x03, 0x6D, 0x6F, 0x04, 0xFC, 0x6A, 0x94,
    ];

    fn alphabet(s: &str) -> Alphabet {
        Alphabet::new(&s.chars().collect::<Vec<_>>()).unwrap()
    }

    /// NIST SP 800-38G FF1 samples 7, 8 and 9 (AES-256), through our text mapping.
    #[test]
    fn nist_aes256_samples() {
        let base36 = "0123456789abcdefghijklmnopqrstuvwxyz";
        let samples: [(&str, &[u8], &str, &str); 3] = [
            ("0123456789", b"", "0123456789", "6657667009"),
            ("0123456789", b"9876543210", "0123456789", "1001623463"),
            (base36, b"7777pqrs777", "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"),
        ];
        for (chars, tweak, plain, cipher) in samples {
            let ff1 = Ff1::with_aes_key(&NIST_KEY, tweak, alphabet(chars));
            let mut out = String::new();
            ff1.encrypt_text(plain, &mut out).unwrap();
            assert_eq!(out, cipher);
            let mut back = String::new();
            ff1.decrypt_text(&out, &mut back).unwrap();
            assert_eq!(back, plain);
        }
    }

    /// The same samples through the general algorithm of `fpe`.
    #[test]
    fn nist_aes256_samples_on_the_reference_path() {
        let ff1 = Ff1::with_aes_key(&NIST_KEY, b"9876543210", Alphabet::digits());
        let plain: Vec<u16> = (0..10).collect();
        assert!(ff1.fast.covers(10));
        let expected = vec![1, 0, 0, 1, 6, 2, 3, 4, 6, 3];
        assert_eq!(ff1.reference(plain.clone(), Direction::Encrypt).unwrap(), expected);
        assert_eq!(ff1.encrypt_numerals(plain).unwrap(), expected);
    }

    /// The fast path equals `fpe`'s general algorithm, both ways, for random keys, tweaks,
    /// radices and every length the fast path covers.
    #[test]
    fn fast_path_equals_the_reference() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let mut compared = 0;
        for radix in [2u32, 3, 7, 10, 16, 26, 36, 62, 255, 256, 1000, 65_535] {
            for _ in 0..3 {
                let key: [u8; 32] = rng.random();
                let tweak: Vec<u8> = (0..rng.random_range(0..40)).map(|_| rng.random()).collect();
                let chars: Vec<char> = (0..radix)
                    .map(|i| char::from_u32(if 0x100 + i < 0xD800 { 0x100 + i } else { 0x10000 + i }).unwrap())
                    .collect();
                let ff1 = Ff1::with_aes_key(&key, &tweak, Alphabet::new(&chars).unwrap());
                let top = (ff1.min_length..200).take_while(|&n| ff1.fast.covers(n)).last().unwrap();
                for n in ff1.min_length..=top {
                    let plain: Vec<u16> = (0..n).map(|_| rng.random_range(0..radix) as u16).collect();
                    let fast = ff1.encrypt_numerals(plain.clone()).unwrap();
                    assert_eq!(fast, ff1.reference(plain.clone(), Direction::Encrypt).unwrap(), "radix {radix} n {n}");
                    assert_eq!(ff1.decrypt_numerals(fast.clone()).unwrap(), plain);
                    assert_eq!(ff1.reference(fast, Direction::Decrypt).unwrap(), plain);
                    compared += 1;
                }
                assert!(!ff1.fast.covers(top + 1));
            }
        }
        assert!(compared > 300, "{compared}");
    }

    /// Property test: random alphabets (ASCII and not), random values mixing alphabet and other
    /// characters; decrypt(encrypt(x)) = x, lengths and non-alphabet characters kept, and values
    /// below the minimum refused. Long values exercise the general algorithm.
    #[test]
    fn round_trip_keeps_the_format() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(11);
        let pool: Vec<char> =
            ('0'..='9').chain('a'..='z').chain('A'..='Z').chain(['é', 'ß', 'ø', '中', '文']).collect();
        let others = ['-', ' ', '/', '.', '@', '+'];
        for case in 0..3_000 {
            let size = rng.random_range(2..pool.len());
            let mut chars = pool.clone();
            for i in 0..size {
                let j = rng.random_range(i..chars.len());
                chars.swap(i, j);
            }
            chars.truncate(size);
            let alphabet = Alphabet::new(&chars).unwrap();
            let min = alphabet.min_length();
            let ff1 = Ff1::with_aes_key(&rng.random(), format!("case {case}").as_bytes(), alphabet);
            let n = rng.random_range(min.saturating_sub(2)..min + if case % 10 == 0 { 120 } else { 30 });
            let mut value = String::new();
            for _ in 0..n {
                if rng.random_bool(0.2) {
                    value.push(others[rng.random_range(0..others.len())]);
                }
                value.push(chars[rng.random_range(0..chars.len())]);
            }
            let mut encrypted = String::new();
            match ff1.encrypt_text(&value, &mut encrypted) {
                Err(ValueError::TooShort { found, needed }) => {
                    assert!(n < min && found == n && needed == min);
                    continue;
                }
                Err(e) => panic!("{e}"),
                Ok(()) => assert!(n >= min),
            }
            assert_eq!(encrypted.chars().count(), value.chars().count());
            for (a, b) in value.chars().zip(encrypted.chars()) {
                assert_eq!(others.contains(&a), others.contains(&b));
                if others.contains(&a) {
                    assert_eq!(a, b);
                } else {
                    assert!(chars.contains(&b));
                }
            }
            let mut back = String::new();
            ff1.decrypt_text(&encrypted, &mut back).unwrap();
            assert_eq!(back, value);
        }
    }

    #[test]
    fn separators_stay_in_place() {
        let ff1 = Ff1::with_aes_key(&NIST_KEY, b"card_number", Alphabet::digits());
        let mut out = String::new();
        ff1.encrypt_text("4111-1111-1111-1111", &mut out).unwrap();
        assert_eq!(out.len(), 19);
        assert!(out.chars().enumerate().all(|(i, c)| if i % 5 == 4 { c == '-' } else { c.is_ascii_digit() }));
        assert_ne!(out, "4111-1111-1111-1111");
    }

    #[test]
    fn too_short_is_refused_with_the_minimum() {
        let ff1 = Ff1::with_aes_key(&NIST_KEY, b"", Alphabet::digits());
        let error = ff1.encrypt_text("12-345", &mut String::new()).unwrap_err();
        assert_eq!(error, ValueError::TooShort { found: 5, needed: 6 });
        assert_eq!(Alphabet::digits().min_length(), 6);
        assert_eq!(alphabet("01").min_length(), 20);
        assert_eq!(alphabet("0123456789abcdefghijklmnopqrstuvwxyz").min_length(), 4);
    }

    #[test]
    fn integers_keep_sign_and_digit_count_and_range() {
        let ff1 = Ff1::with_aes_key(&NIST_KEY, b"id", Alphabet::digits());
        let i64_range = IntegerRange { min: i128::from(i64::MIN), max: i128::from(i64::MAX) };
        for value in [100_000i128, 999_999, -123_456_789, 9_223_372_036_854_775_807, -9_223_372_036_854_775_808] {
            let encrypted = ff1.encrypt_integer(value, i64_range).unwrap();
            assert_eq!(encrypted.signum(), value.signum());
            assert_eq!(encrypted.unsigned_abs().to_string().len(), value.unsigned_abs().to_string().len());
            assert!(i64_range.contains(encrypted));
            assert_eq!(ff1.decrypt_integer(encrypted, i64_range).unwrap(), value);
        }
        assert!(matches!(ff1.encrypt_integer(99_999, i64_range), Err(ValueError::TooShort { .. })));
    }

    /// Cycle walking is a permutation: on every 6-digit number of a small range, encryption is
    /// injective and stays within the 6-digit numbers.
    #[test]
    fn cycle_walking_is_a_permutation_of_six_digit_numbers() {
        let ff1 = Ff1::with_aes_key(&NIST_KEY, b"walk", Alphabet::digits());
        let range = IntegerRange { min: -999_999, max: 999_999 };
        let mut seen = std::collections::HashSet::new();
        for value in 100_000..=120_000i128 {
            let e = ff1.encrypt_integer(value, range).unwrap();
            assert!((100_000..=999_999).contains(&e));
            assert!(seen.insert(e));
            assert_eq!(ff1.decrypt_integer(e, range).unwrap(), value);
        }
    }

    /// The batched array kernel equals the one-value functions, and reverses itself; nulls stay
    /// null and short values are reported by row.
    #[test]
    fn array_kernel_equals_value_functions() {
        use arrow::array::Int64Array;
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        let ff1 = Ff1::with_aes_key(&NIST_KEY, b"customer_id", Alphabet::digits());
        let range = integer_range(&DataType::Int64).unwrap();
        let ints: Vec<Option<i64>> = (0..5_000)
            .map(|i| match i % 50 {
                0 => None,
                _ => {
                    let digits = rng.random_range(6..=19u32);
                    let low = 10i64.pow(digits - 1);
                    let v = rng.random_range(low..=low.saturating_mul(10).saturating_sub(1).max(low));
                    Some(if rng.random_bool(0.3) { -v } else { v })
                }
            })
            .collect();
        let array: ArrayRef = Arc::new(Int64Array::from(ints.clone()));
        let encrypted = ff1.apply(&array, Direction::Encrypt).unwrap();
        let typed = encrypted.as_primitive::<Int64Type>();
        for (i, v) in ints.iter().enumerate() {
            match v {
                None => assert!(typed.is_null(i)),
                Some(v) => assert_eq!(i128::from(typed.value(i)), ff1.encrypt_integer(i128::from(*v), range).unwrap()),
            }
        }
        let back = ff1.apply(&encrypted, Direction::Decrypt).unwrap();
        assert_eq!(back.as_primitive::<Int64Type>(), array.as_primitive::<Int64Type>());

        let texts: ArrayRef = Arc::new(StringArray::from(vec![
            Some("4111-1111-1111-1111"),
            None,
            Some("12"),
            Some("98765"),
            Some("0000000"),
        ]));
        let rejected = ff1.apply(&texts, Direction::Encrypt).unwrap_err();
        assert_eq!(rejected.rows, vec![2, 3]);
        assert_eq!(rejected.count, 2);
        assert_eq!(rejected.problem, ValueError::TooShort { found: 2, needed: 6 });
        let texts: ArrayRef = Arc::new(StringArray::from(vec![Some("4111-1111-1111-1111"), None, Some("0000000")]));
        let encrypted = ff1.apply(&texts, Direction::Encrypt).unwrap();
        let mut one = String::new();
        ff1.encrypt_text("0000000", &mut one).unwrap();
        assert_eq!(encrypted.as_string::<i32>().value(2), one);
        assert!(encrypted.is_null(1));
        assert_eq!(&ff1.apply(&encrypted, Direction::Decrypt).unwrap(), &texts);
    }

    #[test]
    fn alphabets_must_be_distinct() {
        assert!(Alphabet::new(&['a']).is_none());
        assert!(Alphabet::new(&['a', 'b', 'a']).is_none());
        assert!(Alphabet::new(&['é', 'ü', 'é']).is_none());
        assert!(alphabet("9876543210").is_digits());
        assert!(!alphabet("0123456789a").is_digits());
    }
}
