//! The few counters an operator watches, served at `/metrics` in Prometheus' text
//! format. Hand-written: a handful of atomics does not need a metrics framework.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// A number that only goes up.
#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn increment(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counters kept by the engine and its background tasks.
#[derive(Default)]
pub struct Metrics {
    /// Catch-ups from the change feed that failed (the database was unreachable).
    pub feed_failures: Counter,
    /// Checks the shared rate limiter (Redis) could not answer.
    pub rate_limiter_failures: Counter,
    /// Tokens presented that did not work: unknown, malformed, expired, revoked.
    pub failed_authentications: Counter,
}

/// One sample of a gauge or counter, for [`render`].
pub struct Sample<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub help: &'a str,
    pub value: u64,
}

/// The samples in Prometheus' text exposition format.
pub fn render(samples: &[Sample<'_>]) -> String {
    let mut out = String::new();
    for sample in samples {
        let _ = writeln!(out, "# HELP {} {}", sample.name, sample.help);
        let _ = writeln!(out, "# TYPE {} {}", sample.name, sample.kind);
        let _ = writeln!(out, "{} {}", sample.name, sample.value);
    }
    out
}
