//! A bounded mutation fuzzer over job parsing and CSV reading: the shipped and gallery job files
//! and CSV files, mutated byte by byte and token by token (quotes, delimiters, anchors, huge
//! numbers, byte-order marks, key material), must each load or be refused with an error, never
//! panic or hang. Deterministic by seed; `ANONYMIZE_FUZZ_CASES` and `ANONYMIZE_FUZZ_SEED` run
//! it longer or elsewhere. A failing input is saved beside the test's temporary folder's name.

use super::root;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

const TOKENS: &[&[u8]] = &[
    b"\"",
    b",",
    b"\n",
    b"\r\n",
    b": ",
    b"{",
    b"}",
    b"[",
    b"]",
    b"- ",
    b"&a ",
    b"*a",
    b"!!binary ",
    b"<<: *a\n",
    b"0x7fffffffffffffffffff",
    b"123456789012345678901234567890",
    b"1e999",
    b"-0",
    b".nan",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\0",
    b"0f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a69780f1e2d3c4b5a6978",
    b"    ",
    b"\t",
    b"#",
    b"'",
    b"~",
    b"null",
    b"true",
    b"= ",
    b"[[x]]\n",
    b"\"\"\"",
];

fn seeds(ext: &[&str], dirs: &[PathBuf]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in dirs {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
        names.sort();
        for path in names {
            if path.extension().and_then(|e| e.to_str()).is_some_and(|e| ext.contains(&e)) {
                let mut bytes = std::fs::read(&path).unwrap();
                bytes.truncate(64 * 1024);
                out.push(bytes);
            }
        }
    }
    assert!(!out.is_empty());
    out
}

fn mutate(rng: &mut ChaCha8Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut bytes = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..6) {
        let at = if bytes.is_empty() { 0 } else { rng.random_range(0..=bytes.len()) };
        match rng.random_range(0..6) {
            0 if !bytes.is_empty() => {
                let i = at.min(bytes.len() - 1);
                bytes[i] ^= 1 << rng.random_range(0..8);
            }
            1 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                bytes.splice(at..at, token.iter().copied());
            }
            2 if !bytes.is_empty() => {
                let end = (at + rng.random_range(1..64)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            3 if !bytes.is_empty() => {
                let end = (at + rng.random_range(1..256)).min(bytes.len());
                let copy = bytes[at.min(end)..end].to_vec();
                for _ in 0..rng.random_range(1..20) {
                    bytes.splice(at..at, copy.iter().copied());
                }
            }
            4 => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                let from = rng.random_range(0..=other.len());
                let end = (from + rng.random_range(0..512)).min(other.len());
                bytes.splice(at..at, other[from..end].iter().copied());
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}

fn cases() -> (u64, u64) {
    let cases = std::env::var("ANONYMIZE_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1500);
    let seed = std::env::var("ANONYMIZE_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(20_261_130);
    (cases, seed)
}

/// Runs `check` on `bytes` written to `path`; a panic fails the test with the input saved.
fn survive(path: &Path, bytes: &[u8], case: u64, check: impl FnOnce(&Path)) {
    std::fs::write(path, bytes).unwrap();
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(path))).is_err() {
        let saved = std::env::temp_dir().join(format!("anonymize-fuzz-case-{case}"));
        std::fs::write(&saved, bytes).unwrap();
        panic!("case {case} panicked; its input is saved in {}", saved.display());
    }
}

#[test]
fn mutated_job_files_load_or_are_refused_never_panic() {
    let (cases, seed) = cases();
    let seeds = seeds(&["yaml", "yml", "toml"], &[root().join("pipelines"), root().join("tests/bad_jobs")]);
    let dir = tempfile::tempdir().unwrap();
    // Relative paths in the seeds resolve against this folder, as they would next to the seeds.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut loaded, mut refused) = (0, 0);
    for case in 0..cases {
        let bytes = mutate(&mut rng, &seeds);
        let name = if rng.random_bool(0.5) { "job.yaml" } else { "job.toml" };
        let outcome = std::cell::Cell::new(false);
        survive(&dir.path().join(name), &bytes, case, |path| {
            outcome.set(anonymize::job::load(path).is_ok());
        });
        if outcome.get() { loaded += 1 } else { refused += 1 }
    }
    // Mutations that keep a job valid happen; so do refusals: both paths were exercised.
    assert!(loaded > 0 && refused > 0, "{loaded} loaded, {refused} refused");
}

#[test]
fn mutated_csv_files_read_or_are_refused_never_panic() {
    let (cases, seed) = cases();
    let mut seeds = seeds(&["csv"], &[root().join("tests/fixtures"), root().join("tests/fixtures/parts")]);
    let sample = std::fs::read(root().join("sample_data/customers.csv")).unwrap();
    seeds.push(sample[..sample.len().min(8_000)].to_vec());
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let (mut read, mut refused) = (0, 0);
    for case in 0..cases {
        let bytes = mutate(&mut rng, &seeds);
        let options = anonymize::job::CsvOptions { has_header: rng.random_bool(0.8), ..Default::default() };
        let outcome = std::cell::Cell::new(false);
        survive(&dir.path().join("data.csv"), &bytes, case, |path| {
            let result = anonymize::io::DataSource::open_path(path, None, &options, 7).and_then(|source| {
                source.batches().try_for_each(|b| b.map(drop))?;
                Ok(())
            });
            outcome.set(result.is_ok());
        });
        if outcome.get() { read += 1 } else { refused += 1 }
    }
    assert!(read > 0 && refused > 0, "{read} read, {refused} refused");
}
