//! Kernel throughput of the reversible protections, single thread, in values per second
//! (criterion prints `thrpt` in elements/s): FF1 on 1 million 16-digit values, FF1 decryption
//! of the same, FF1 on 1 million 16-digit integers (with cycle walking), and date shifting of
//! 1 million dates by 1 million distinct subjects.
//!
//! `cargo bench --bench reversible`

use anonymize::keys::Key;
use anonymize::transform::encrypt::{Alphabet, Direction, Ff1};
use anonymize::transform::shift::Shifter;
use arrow::array::{ArrayRef, Date32Array, Int64Array, StringArray};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;

const VALUES: usize = 1_000_000;

fn reversible(c: &mut Criterion) {
    let key = Key::from_hex(&"42".repeat(32)).expect("bench key");
    let ff1 = Ff1::for_domain(&key, "card_number", Alphabet::digits());
    // Deterministic spread of 16-digit numbers.
    let numbers: Vec<i64> =
        (0..VALUES as i64).map(|i| 4_000_000_000_000_000 + (i * 7_919_393_133) % 999_999_999_999_999).collect();
    let text: ArrayRef = Arc::new(StringArray::from_iter_values(numbers.iter().map(i64::to_string)));
    let integers: ArrayRef = Arc::new(Int64Array::from(numbers.clone()));
    let encrypted = ff1.apply(&text, Direction::Encrypt).expect("16 digits are long enough");

    let shifter = Shifter::new(&key, 180);
    let dates: ArrayRef = Arc::new(Date32Array::from_iter_values((0..VALUES as i32).map(|i| 10_000 + i % 15_000)));
    let subjects = StringArray::from_iter_values((0..VALUES).map(|i| (100_000 + i).to_string()));

    let mut group = c.benchmark_group("reversible_1m_values");
    group.sample_size(10);
    group.throughput(Throughput::Elements(VALUES as u64));
    group.bench_function("ff1_encrypt_16_digit_text", |b| b.iter(|| ff1.apply(&text, Direction::Encrypt)));
    group.bench_function("ff1_decrypt_16_digit_text", |b| b.iter(|| ff1.apply(&encrypted, Direction::Decrypt)));
    group.bench_function("ff1_encrypt_16_digit_int64", |b| b.iter(|| ff1.apply(&integers, Direction::Encrypt)));
    group.bench_function("shift_dates", |b| b.iter(|| shifter.shift(&dates, &subjects)));
    group.finish();
}

criterion_group!(benches, reversible);
criterion_main!(benches);
