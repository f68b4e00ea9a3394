//! The cost of one verification, per outcome and index size, on one core and on two,
//! beside the physical floor measured in the same run: HMAC-SHA-256 of the same
//! token text alone.
//!
//! `TESSERA_BENCH_SIZES` picks the index sizes (default `10k,100k,1M,10M`);
//! `scripts/bench` reads criterion's estimates and prints the ratios.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    reason = "a benchmark: a setup that fails stops the run, loudly"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Bencher, Criterion};
use tessera_bench::{Fixture, Probe, check, parse_sizes, size_label};
use tessera_core::token::{SecretToken, TokenHasher};
use tessera_engine::Engine;

/// Runs `each` over the probes in turn, `iters` times.
fn cycle(probes: &[Probe], iters: u64, start: usize, mut each: impl FnMut(&Probe)) {
    let mut at = start % probes.len();
    for _ in 0..iters {
        each(&probes[at]);
        at += 1;
        if at == probes.len() {
            at = 0;
        }
    }
}

/// Times `each` on one core.
fn one_core(b: &mut Bencher<'_>, probes: &[Probe], each: impl Fn(&Probe) + Sync) {
    b.iter_custom(|iters| {
        let started = Instant::now();
        cycle(probes, iters, 0, &each);
        started.elapsed()
    });
}

/// Times `each` on two threads at once, each doing `iters`; reports the wall time
/// per pair, so 1 / time is the throughput of both cores together.
fn two_cores(b: &mut Bencher<'_>, probes: &[Probe], each: impl Fn(&Probe) + Sync) {
    b.iter_custom(|iters| {
        let started = Instant::now();
        std::thread::scope(|scope| {
            for thread in 0..2 {
                let each = &each;
                scope.spawn(move || cycle(probes, iters, thread * probes.len() / 2, each));
            }
        });
        started.elapsed() / 2
    });
}

/// The allocator the `tessera` binary runs on, so the index is laid out as in production.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One verification as production runs it: the engine's check.
fn verify(engine: &Engine, probe: &Probe) {
    black_box(check(engine, black_box(probe)));
}

fn bench_size(c: &mut Criterion, size: usize) {
    let built = Instant::now();
    let fixture = Fixture::new(size);
    eprintln!(
        "built an index of {} tokens in {:.1} s",
        size_label(size),
        built.elapsed().as_secs_f64()
    );
    let mut group = c.benchmark_group(format!("verify-{}", size_label(size)));
    let outcomes: [(&str, &[Probe]); 5] = [
        ("VALID", &fixture.valid),
        ("NOT_FOUND-checksum", &fixture.bad_checksum),
        ("NOT_FOUND-unknown", &fixture.unknown),
        ("FORBIDDEN", &fixture.forbidden),
        ("RATE_LIMITED", &fixture.rate_limited),
    ];
    let engine = &fixture.engine;
    for (outcome, probes) in outcomes {
        group.bench_function(format!("{outcome}-1core"), |b| {
            one_core(b, probes, |p| verify(engine, p));
        });
        group.bench_function(format!("{outcome}-2cores"), |b| {
            two_cores(b, probes, |p| verify(engine, p));
        });
    }
    group.finish();
}

/// The floor: keyed HMAC-SHA-256 of the token text, as verification computes it.
fn bench_baseline(c: &mut Criterion) {
    let fixture = Fixture::new(1_000);
    let hasher: &TokenHasher = &fixture.hasher;
    let prefix = &fixture.prefix;
    // The text is parsed once, outside the loop: the baseline is the hash alone.
    let parsed: Vec<SecretToken> = fixture
        .valid
        .iter()
        .filter_map(|p| SecretToken::parse(prefix, &p.secret))
        .collect();
    let mut group = c.benchmark_group("baseline");
    group.bench_function("HMAC-SHA-256-1core", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            let mut at = 0;
            for _ in 0..iters {
                black_box(hasher.hash(black_box(&parsed[at])));
                at = (at + 1) % parsed.len();
            }
            started.elapsed()
        });
    });
    group.bench_function("HMAC-SHA-256-2cores", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            std::thread::scope(|scope| {
                for thread in 0..2 {
                    let parsed = &parsed;
                    scope.spawn(move || {
                        let mut at = thread * parsed.len() / 2;
                        for _ in 0..iters {
                            black_box(hasher.hash(black_box(&parsed[at])));
                            at = (at + 1) % parsed.len();
                        }
                    });
                }
            });
            started.elapsed() / 2
        });
    });
    group.finish();
}

fn main() {
    let sizes = std::env::var("TESSERA_BENCH_SIZES").unwrap_or_else(|_| "10k,100k,1M,10M".into());
    let sizes = parse_sizes(&sizes).unwrap_or_else(|e| panic!("TESSERA_BENCH_SIZES: {e}"));
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench_baseline(&mut criterion);
    for size in sizes {
        bench_size(&mut criterion, size);
    }
    criterion.final_summary();
}
