//! Exact samplers, single thread, in samples per second (criterion's `thrpt`): discrete
//! Laplace at scales 1, 10 and 1000, discrete Gaussian at σ = 10, from a seeded ChaCha20.
//!
//! `cargo bench --bench samplers`

use anonymize::dp::samplers::{discrete_gaussian, discrete_laplace};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;

const SAMPLES: u64 = 100_000;

fn samplers(c: &mut Criterion) {
    let mut group = c.benchmark_group("samplers_100k");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SAMPLES));
    for t in [1u128, 10, 1000] {
        group.bench_function(format!("discrete_laplace_scale_{t}"), |b| {
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
            b.iter(|| (0..SAMPLES).map(|_| discrete_laplace(&mut rng, 1, t)).sum::<i128>())
        });
    }
    group.bench_function("discrete_gaussian_sigma_10", |b| {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        b.iter(|| (0..SAMPLES).map(|_| discrete_gaussian(&mut rng, 100, 1)).sum::<i128>())
    });
    group.finish();
}

criterion_group!(benches, samplers);
criterion_main!(benches);
