//! Canonical text of Arrow values: what pseudonyms hash, exclusion lists match on and CSV
//! output prints. Integers in decimal, dates as `YYYY-MM-DD`, timestamps as ISO 8601, booleans
//! as `true`/`false`, floats in the shortest form that reads back to the same number.

use arrow::array::{Array, ArrayRef, AsArray, StringArray, StringBuilder};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use chrono::{DateTime, NaiveDate};
use std::fmt::Write;

/// Days from 0001-01-01 (chrono's day 1) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// A date from days since 1970-01-01.
pub fn date_from_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)?)
}

/// Days since 1970-01-01 of a date.
pub fn days_from_date(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - UNIX_EPOCH_DAYS_FROM_CE
}

use chrono::Datelike;

/// The canonical text of every value of `array`; null stays null.
///
/// Returns `None` for types that have no canonical text (lists, structs, binary).
///
/// ```
/// use arrow::array::{Array, ArrayRef, Int64Array};
/// use std::sync::Arc;
/// let values: ArrayRef = Arc::new(Int64Array::from(vec![Some(-7), None]));
/// let text = anonymize::text::to_text(&values).unwrap();
/// assert_eq!(text.value(0), "-7");
/// assert!(text.is_null(1));
/// ```
pub fn to_text(array: &ArrayRef) -> Option<StringArray> {
    macro_rules! each {
        ($t:ty, $f:expr) => {{
            let typed = array.as_primitive::<$t>();
            let mut builder = StringBuilder::with_capacity(typed.len(), typed.len() * 8);
            let mut buffer = String::new();
            for value in typed.iter() {
                match value {
                    Some(v) => {
                        buffer.clear();
                        #[allow(clippy::redundant_closure_call)]
                        ($f)(&mut buffer, v);
                        builder.append_value(&buffer);
                    }
                    None => builder.append_null(),
                }
            }
            builder.finish()
        }};
    }
    let integer = |b: &mut String, v: &dyn std::fmt::Display| {
        let _ = write!(b, "{v}");
    };
    Some(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().clone(),
        DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..) => {
            let cast = arrow::compute::cast(array, &DataType::Utf8).ok()?;
            cast.as_string::<i32>().clone()
        }
        DataType::Boolean => array.as_boolean().iter().map(|v| v.map(|b| if b { "true" } else { "false" })).collect(),
        DataType::Int8 => each!(Int8Type, |b: &mut String, v: i8| integer(b, &v)),
        DataType::Int16 => each!(Int16Type, |b: &mut String, v: i16| integer(b, &v)),
        DataType::Int32 => each!(Int32Type, |b: &mut String, v: i32| integer(b, &v)),
        DataType::Int64 => each!(Int64Type, |b: &mut String, v: i64| integer(b, &v)),
        DataType::UInt8 => each!(UInt8Type, |b: &mut String, v: u8| integer(b, &v)),
        DataType::UInt16 => each!(UInt16Type, |b: &mut String, v: u16| integer(b, &v)),
        DataType::UInt32 => each!(UInt32Type, |b: &mut String, v: u32| integer(b, &v)),
        DataType::UInt64 => each!(UInt64Type, |b: &mut String, v: u64| integer(b, &v)),
        DataType::Float16 => {
            let cast = arrow::compute::cast(array, &DataType::Float32).ok()?;
            return to_text(&cast);
        }
        DataType::Float32 => each!(Float32Type, |b: &mut String, v: f32| float32(b, v)),
        DataType::Float64 => each!(Float64Type, |b: &mut String, v: f64| float(b, v)),
        DataType::Date32 => each!(Date32Type, |b: &mut String, v: i32| date(b, v)),
        DataType::Date64 => each!(Date64Type, |b: &mut String, v: i64| timestamp(b, v, TimeUnit::Millisecond, true)),
        DataType::Timestamp(unit, _) => match unit {
            TimeUnit::Second => each!(TimestampSecondType, |b: &mut String, v: i64| timestamp(b, v, *unit, false)),
            TimeUnit::Millisecond => {
                each!(TimestampMillisecondType, |b: &mut String, v: i64| timestamp(b, v, *unit, false))
            }
            TimeUnit::Microsecond => {
                each!(TimestampMicrosecondType, |b: &mut String, v: i64| timestamp(b, v, *unit, false))
            }
            TimeUnit::Nanosecond => {
                each!(TimestampNanosecondType, |b: &mut String, v: i64| timestamp(b, v, *unit, false))
            }
        },
        DataType::Decimal128(..) | DataType::Decimal256(..) => {
            let cast = arrow::compute::cast(array, &DataType::Utf8).ok()?;
            cast.as_string::<i32>().clone()
        }
        _ => return None,
    })
}

/// Writes one whole number of a column as its canonical text (see [`whole_numbers`]).
pub type WholeText = fn(&mut String, i64);

/// The values of an integer or date column as whole numbers (a date as its days since
/// 1970-01-01), with the function that writes one of them as [`to_text`] writes it: for
/// counting distinct values without writing every row's text. `None` for every other type,
/// `UInt64` included (not all of its values fit an `i64`).
///
/// ```
/// use arrow::array::{ArrayRef, Date32Array};
/// use std::sync::Arc;
/// let days: ArrayRef = Arc::new(Date32Array::from(vec![Some(0), None]));
/// let (values, write) = anonymize::text::whole_numbers(&days).unwrap();
/// assert_eq!(values, vec![Some(0), None]);
/// let mut text = String::new();
/// write(&mut text, 0);
/// assert_eq!(text, "1970-01-01");
/// ```
pub fn whole_numbers(array: &ArrayRef) -> Option<(Vec<Option<i64>>, WholeText)> {
    macro_rules! widen {
        ($t:ty) => {
            array.as_primitive::<$t>().iter().map(|v| v.map(i64::from)).collect()
        };
    }
    let integer: WholeText = |b, v| {
        let _ = write!(b, "{v}");
    };
    Some(match array.data_type() {
        DataType::Int8 => (widen!(Int8Type), integer),
        DataType::Int16 => (widen!(Int16Type), integer),
        DataType::Int32 => (widen!(Int32Type), integer),
        DataType::Int64 => (widen!(Int64Type), integer),
        DataType::UInt8 => (widen!(UInt8Type), integer),
        DataType::UInt16 => (widen!(UInt16Type), integer),
        DataType::UInt32 => (widen!(UInt32Type), integer),
        // Every value came from an i32, so the narrowing below is exact.
        DataType::Date32 => (widen!(Date32Type), |b, v| date(b, v as i32)),
        _ => return None,
    })
}

fn float(buffer: &mut String, v: f64) {
    if v.is_nan() {
        buffer.push_str("NaN");
    } else if v.is_infinite() {
        buffer.push_str(if v > 0.0 { "inf" } else { "-inf" });
    } else {
        let _ = write!(buffer, "{v}");
    }
}

fn float32(buffer: &mut String, v: f32) {
    if v.is_finite() {
        let _ = write!(buffer, "{v}");
    } else {
        float(buffer, f64::from(v));
    }
}

fn date(buffer: &mut String, days: i32) {
    match date_from_days(days) {
        Some(d) => push_ymd(buffer, d),
        None => {
            let _ = write!(buffer, "{days}");
        }
    }
}

/// `YYYY-MM-DD` (chrono's `format` parses its pattern on every call; this runs per cell).
fn push_ymd(buffer: &mut String, d: NaiveDate) {
    let year = d.year();
    if (0..=9999).contains(&year) {
        let digits = |b: &mut String, v: u32, n: usize| {
            let mut chars = [b'0'; 4];
            let mut v = v;
            for slot in chars[..n].iter_mut().rev() {
                *slot = b'0' + (v % 10) as u8;
                v /= 10;
            }
            b.extend(chars[..n].iter().map(|&c| char::from(c)));
        };
        digits(buffer, year as u32, 4);
        buffer.push('-');
        digits(buffer, d.month(), 2);
        buffer.push('-');
        digits(buffer, d.day(), 2);
    } else {
        let _ = write!(buffer, "{}", d.format("%Y-%m-%d"));
    }
}

fn timestamp(buffer: &mut String, value: i64, unit: TimeUnit, date_only_if_midnight: bool) {
    // Seconds and the fraction apart: nanoseconds since 1970 in an i64 only reach 1677-2262,
    // and a timestamp outside those years is still a timestamp.
    let per_second: i64 = match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    let seconds = value.div_euclid(per_second);
    let nanos = (value.rem_euclid(per_second) * (1_000_000_000 / per_second)) as u32;
    let Some(moment) = DateTime::from_timestamp(seconds, nanos) else {
        // Beyond chrono's ±262,000 years: no calendar date can be written.
        let _ = write!(buffer, "{value}");
        return;
    };
    let naive = moment.naive_utc();
    if date_only_if_midnight && naive.time() == chrono::NaiveTime::MIN {
        push_ymd(buffer, naive.date());
    } else {
        let _ = write!(buffer, "{}", naive.format("%Y-%m-%dT%H:%M:%S%.f"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BooleanArray, Date32Array, Float64Array, TimestampMicrosecondArray};
    use std::sync::Arc;

    fn text(array: ArrayRef) -> Vec<Option<String>> {
        to_text(&array).unwrap().iter().map(|v| v.map(String::from)).collect()
    }

    /// Whole numbers written one at a time give exactly `to_text`'s text, nulls and extremes
    /// included; other types have no whole-number form.
    #[test]
    fn whole_numbers_write_what_to_text_writes() {
        use arrow::array::{Int8Array, Int64Array, UInt32Array, UInt64Array};
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(Int8Array::from(vec![Some(i8::MIN), None, Some(0), Some(i8::MAX)])),
            Arc::new(Int64Array::from(vec![Some(i64::MIN), Some(-1), None, Some(i64::MAX)])),
            Arc::new(UInt32Array::from(vec![Some(u32::MAX), None, Some(7)])),
            Arc::new(Date32Array::from(vec![
                Some(i32::MIN),
                Some(-719_529),
                Some(0),
                None,
                Some(2_932_897),
                Some(i32::MAX),
            ])),
        ];
        for array in &arrays {
            let (values, write) = whole_numbers(array).unwrap();
            let ours: Vec<Option<String>> = values
                .iter()
                .map(|v| {
                    v.map(|v| {
                        let mut text = String::new();
                        write(&mut text, v);
                        text
                    })
                })
                .collect();
            assert_eq!(ours, text(array.clone()), "{}", array.data_type());
        }
        let wide: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX]));
        assert!(whole_numbers(&wide).is_none());
        assert!(whole_numbers(&(Arc::new(Float64Array::from(vec![1.0])) as ArrayRef)).is_none());
    }

    /// The hand-written date formatting equals chrono's across and beyond years 0 to 9999.
    #[test]
    fn dates_format_like_chrono() {
        for days in (-800_000..3_000_000).step_by(37).chain([-719_528, -719_529, 2_932_896, 2_932_897]) {
            let mut ours = String::new();
            date(&mut ours, days);
            let chrono = date_from_days(days).map_or(days.to_string(), |d| d.format("%Y-%m-%d").to_string());
            assert_eq!(ours, chrono, "day {days}");
        }
    }

    #[test]
    fn canonical_texts() {
        assert_eq!(
            text(Arc::new(Date32Array::from(vec![Some(0), Some(19_000), None]))),
            vec![Some("1970-01-01".into()), Some("2022-01-08".into()), None]
        );
        assert_eq!(
            text(Arc::new(Float64Array::from(vec![0.1, 1e21, -2.5]))),
            vec![Some("0.1".into()), Some("1000000000000000000000".into()), Some("-2.5".into())]
        );
        assert_eq!(
            text(Arc::new(BooleanArray::from(vec![true, false]))),
            vec![Some("true".into()), Some("false".into())]
        );
        assert_eq!(
            text(Arc::new(TimestampMicrosecondArray::from(vec![1_500_000]))),
            vec![Some("1970-01-01T00:00:01.500".into())]
        );
        // Outside 1677-2262 (beyond i64 nanoseconds) and before 1970 with a fraction.
        assert_eq!(
            text(Arc::new(TimestampMicrosecondArray::from(vec![-11_676_096_000_000_000, 9_000_000_000_000_000, -1]))),
            vec![
                Some("1600-01-01T00:00:00".into()),
                Some("2255-03-14T16:00:00".into()),
                Some("1969-12-31T23:59:59.999999".into())
            ]
        );
        assert_eq!(days_from_date(NaiveDate::from_ymd_opt(2022, 1, 8).unwrap()), 19_000);
    }
}
