//! Consistent date shifting: every date of one subject moves by the same secret number of days,
//! so the intervals between a subject's events survive while the dates themselves do not.
//!
//! The shift of a subject depends only on the key, `max_days` and the subject's canonical text,
//! never on the column, run or file, so it is the same everywhere the key is used:
//!
//! ```text
//! shift_key = BLAKE3-derive-key("anonymize shift v1", key)
//! stream    = BLAKE3-keyed(shift_key, subject) as an extendable output, read as little-endian u64s
//! n         = 2 × max_days + 1
//! shift     = (first u64 x with x < n × floor(2^64 / n)) mod n − max_days
//! ```
//!
//! The rejection step makes every shift in `-max_days..=max_days` exactly equally likely.

use crate::keys::Key;
use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray, StringArray};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Date64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};
use std::sync::Arc;

/// The key derivation context of `shift`.
pub const SHIFT_CONTEXT: &str = "anonymize shift v1";

/// The per-subject shifts of one job key.
#[derive(Clone)]
pub struct Shifter {
    shift_key: [u8; 32],
    max_days: u32,
}

impl Drop for Shifter {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.shift_key);
    }
}

/// Why a batch of dates could not be shifted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShiftError {
    #[error("the column has a type that cannot be shifted")]
    Type,
    /// Batch-local row indices whose shifted date does not fit the type.
    #[error("the shifted date does not fit the column's type")]
    Overflow(Vec<usize>),
}

impl Shifter {
    /// Derives the shift key from the job key.
    pub fn new(key: &Key, max_days: u32) -> Self {
        Self { shift_key: blake3::derive_key(SHIFT_CONTEXT, key.bytes()), max_days }
    }

    /// The shift in days of the subject whose canonical text is `subject`.
    ///
    /// ```
    /// let key = anonymize::keys::Key::from_hex(&"ab".repeat(32)).unwrap();
    /// let shifter = anonymize::transform::shift::Shifter::new(&key, 30);
    /// let days = shifter.days("100042");
    /// assert!((-30..=30).contains(&days));
    /// assert_eq!(days, shifter.days("100042"));
    /// ```
    pub fn days(&self, subject: &str) -> i64 {
        let span = 2 * u64::from(self.max_days) + 1;
        let zone = span * (u64::MAX / span);
        let mut hasher = blake3::Hasher::new_keyed(&self.shift_key);
        hasher.update(subject.as_bytes());
        let mut stream = hasher.finalize_xof();
        let mut word = [0u8; 8];
        loop {
            stream.fill(&mut word);
            let x = u64::from_le_bytes(word);
            if x < zone {
                return (x % span) as i64 - i64::from(self.max_days);
            }
        }
    }

    /// Shifts every date of `dates` by its row's subject in `subjects`; a row without a subject
    /// gets a null date (it cannot be shifted consistently, and unshifted it would leak).
    ///
    /// # Errors
    /// [`ShiftError`] for a type that is not a date or timestamp, or dates pushed out of range.
    pub fn shift(&self, dates: &ArrayRef, subjects: &StringArray) -> Result<ArrayRef, ShiftError> {
        const DAY_SECONDS: i64 = 86_400;
        Ok(match dates.data_type() {
            DataType::Date32 => {
                self.each::<Date32Type>(dates, subjects, |v, d| v.checked_add(i32::try_from(d).ok()?))?
            }
            DataType::Date64 => self.each::<Date64Type>(dates, subjects, per_day(DAY_SECONDS * 1_000))?,
            DataType::Timestamp(unit, _) => match unit {
                TimeUnit::Second => self.each::<TimestampSecondType>(dates, subjects, per_day(DAY_SECONDS))?,
                TimeUnit::Millisecond => {
                    self.each::<TimestampMillisecondType>(dates, subjects, per_day(DAY_SECONDS * 1_000))?
                }
                TimeUnit::Microsecond => {
                    self.each::<TimestampMicrosecondType>(dates, subjects, per_day(DAY_SECONDS * 1_000_000))?
                }
                TimeUnit::Nanosecond => {
                    self.each::<TimestampNanosecondType>(dates, subjects, per_day(DAY_SECONDS * 1_000_000_000))?
                }
            },
            _ => return Err(ShiftError::Type),
        })
    }

    fn each<T: ArrowPrimitiveType>(
        &self,
        dates: &ArrayRef,
        subjects: &StringArray,
        add: impl Fn(T::Native, i64) -> Option<T::Native>,
    ) -> Result<ArrayRef, ShiftError> {
        let dates = dates.as_primitive::<T>();
        let mut overflow = Vec::new();
        let shifted: PrimitiveArray<T> = dates
            .iter()
            .zip(subjects.iter())
            .enumerate()
            .map(|(row, (date, subject))| {
                let (date, subject) = (date?, subject?);
                let moved = add(date, self.days(subject));
                if moved.is_none() {
                    overflow.push(row);
                }
                moved
            })
            .collect();
        if !overflow.is_empty() {
            return Err(ShiftError::Overflow(overflow));
        }
        // Keeps a timestamp's time zone.
        Ok(Arc::new(shifted.with_data_type(dates.data_type().clone())))
    }
}

fn per_day(units_per_day: i64) -> impl Fn(i64, i64) -> Option<i64> {
    move |value, days| value.checked_add(days.checked_mul(units_per_day)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Date32Array, TimestampSecondArray};

    fn shifter(max_days: u32) -> Shifter {
        Shifter::new(&Key::from_hex(&"5a".repeat(32)).unwrap(), max_days)
    }

    #[test]
    fn one_subject_moves_together_across_types() {
        let s = shifter(180);
        let subjects = StringArray::from(vec![Some("7"), Some("7"), Some("8"), None]);
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![Some(100), Some(130), Some(100), Some(5)]));
        let out = s.shift(&dates, &subjects).unwrap();
        let out = out.as_primitive::<Date32Type>();
        assert_eq!(out.value(1) - out.value(0), 30);
        assert_eq!(i64::from(out.value(0) - 100), s.days("7"));
        assert_eq!(i64::from(out.value(2) - 100), s.days("8"));
        assert!(out.is_null(3));

        let stamps: ArrayRef =
            Arc::new(TimestampSecondArray::from(vec![Some(3_600), None, Some(0), Some(0)]).with_timezone("UTC"));
        let out = s.shift(&stamps, &subjects).unwrap();
        assert_eq!(out.data_type(), stamps.data_type());
        let out = out.as_primitive::<TimestampSecondType>();
        assert_eq!(out.value(0) - 3_600, s.days("7") * 86_400);
        assert!(out.is_null(1));
    }

    /// Every shift in the range occurs, and none outside it (361 values over 100,000 subjects:
    /// about 277 each; a missing value would have odds below 1e-100).
    #[test]
    fn shifts_cover_the_range_uniformly() {
        let s = shifter(180);
        let mut counts = vec![0u32; 361];
        for subject in 0..100_000 {
            let d = s.days(&subject.to_string());
            assert!((-180..=180).contains(&d));
            counts[(d + 180) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 150 && c < 420), "{counts:?}");
    }

    #[test]
    fn out_of_range_dates_are_refused_by_row() {
        let s = shifter(10);
        let subject = (0..).map(|i: u32| i.to_string()).find(|t| s.days(t) > 0).unwrap();
        let subjects = StringArray::from(vec![Some(subject.as_str()), Some(subject.as_str())]);
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![Some(0), Some(i32::MAX)]));
        assert_eq!(s.shift(&dates, &subjects).unwrap_err(), ShiftError::Overflow(vec![1]));
    }
}
