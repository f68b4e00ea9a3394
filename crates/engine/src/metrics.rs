//! What an operator watches, counted where it happens: the hot endpoints' answers
//! and latencies, store writes, and the failures of what tessera depends on. The
//! server renders them at `/metrics` (through `prometheus-client`); this module only
//! counts, in plain atomics, so that the engine stays free of any exposition format.
//!
//! The hot endpoints count every request, on every core at once: a single atomic per
//! counter would bounce one cache line between the cores on each request. Their
//! counts are striped instead ([`Striped`]): each thread adds to its own stripe, on
//! its own cache lines, and a scrape sums the stripes.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tessera_core::verify::Code;

/// A number that only goes up, for events far rarer than requests.
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

/// The endpoints that answer whether a request may pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Verify,
    ForwardAuth,
    Gateway,
}

impl Endpoint {
    pub const ALL: [Endpoint; 3] = [Endpoint::Verify, Endpoint::ForwardAuth, Endpoint::Gateway];

    pub fn label(self) -> &'static str {
        match self {
            Endpoint::Verify => "verify",
            Endpoint::ForwardAuth => "forward_auth",
            Endpoint::Gateway => "gateway",
        }
    }
}

/// How a check ended, in the few kinds an alert is written on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Allowed (`VALID`, 2xx).
    Valid,
    /// No working token: unknown, expired, revoked, rotated, not valid yet, none sent
    /// (`401`).
    Invalid,
    /// A working token that may not do this (`FORBIDDEN`, `403`).
    Forbidden,
    /// Refused for now: rate limit, usage caps, too many failures (`429`).
    Limited,
    /// The request itself was wrong, or tessera failed (other 4xx, 5xx).
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Valid,
        Outcome::Invalid,
        Outcome::Forbidden,
        Outcome::Limited,
        Outcome::Error,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Valid => "valid",
            Outcome::Invalid => "invalid",
            Outcome::Forbidden => "forbidden",
            Outcome::Limited => "limited",
            Outcome::Error => "error",
        }
    }

    /// The outcome a verify answer's code tells.
    pub fn of_code(code: Code) -> Self {
        match code {
            Code::Valid => Outcome::Valid,
            Code::Forbidden => Outcome::Forbidden,
            Code::RateLimited | Code::UsageExhausted => Outcome::Limited,
            _ => Outcome::Invalid,
        }
    }

    /// The outcome an HTTP status tells (forward-auth, the gateway, and refusals
    /// of verify calls themselves).
    pub fn of_status(status: u16) -> Self {
        match status {
            200..=399 => Outcome::Valid,
            401 => Outcome::Invalid,
            403 => Outcome::Forbidden,
            429 => Outcome::Limited,
            _ => Outcome::Error,
        }
    }
}

/// Upper bounds of the latency buckets, in microseconds: from what an answer from
/// the index takes to what a wait on Redis or a slow proxy can.
pub const LATENCY_BOUNDS_US: [u64; 14] = [
    25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
];

const ENDPOINTS: usize = Endpoint::ALL.len();
const OUTCOMES: usize = Outcome::ALL.len();
/// The buckets, and one for what is beyond the last bound.
const BUCKETS: usize = LATENCY_BOUNDS_US.len() + 1;

/// One thread's share of the hot counts, alone on its cache lines.
#[repr(align(128))]
struct Stripe {
    answers: [AtomicU64; ENDPOINTS * OUTCOMES],
    buckets: [AtomicU64; ENDPOINTS * BUCKETS],
    sum_us: [AtomicU64; ENDPOINTS],
}

impl Default for Stripe {
    fn default() -> Self {
        Self {
            answers: std::array::from_fn(|_| AtomicU64::new(0)),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// More stripes than cores, so that threads rarely share one.
const STRIPES: usize = 16;

/// Answers by endpoint and outcome, and their latencies, striped by thread.
pub struct Striped {
    stripes: Box<[Stripe]>,
}

impl Default for Striped {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Stripe::default()).collect(),
        }
    }
}

/// The bucket a latency falls in, and the latency in microseconds.
fn bucket_of(elapsed: Duration) -> (usize, u64) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    let bucket = LATENCY_BOUNDS_US
        .iter()
        .position(|&bound| micros <= bound)
        .unwrap_or(LATENCY_BOUNDS_US.len());
    (bucket, micros)
}

/// A latency histogram as a scrape reads it.
pub struct LatencySnapshot {
    /// Cumulative counts, one per bound of [`LATENCY_BOUNDS_US`].
    pub cumulative: [u64; LATENCY_BOUNDS_US.len()],
    pub count: u64,
    pub sum: Duration,
}

impl LatencySnapshot {
    /// The snapshot of counts per bucket (the last beyond the last bound) and
    /// their sum.
    fn of(per_bucket: [u64; BUCKETS], sum_us: u64) -> Self {
        let mut cumulative = [0u64; LATENCY_BOUNDS_US.len()];
        let mut running = 0;
        for (bucket, total) in cumulative.iter_mut().enumerate() {
            running += per_bucket[bucket];
            *total = running;
        }
        Self {
            cumulative,
            count: running + per_bucket[LATENCY_BOUNDS_US.len()],
            sum: Duration::from_micros(sum_us),
        }
    }
}

impl Striped {
    /// Counts one answer of `endpoint`, which ended in `outcome` after `elapsed`.
    pub fn record(&self, endpoint: Endpoint, outcome: Outcome, elapsed: Duration) {
        let stripe = &self.stripes[this_stripe()];
        let at = endpoint as usize;
        stripe.answers[at * OUTCOMES + outcome as usize].fetch_add(1, Ordering::Relaxed);
        let (bucket, micros) = bucket_of(elapsed);
        stripe.buckets[at * BUCKETS + bucket].fetch_add(1, Ordering::Relaxed);
        stripe.sum_us[at].fetch_add(micros, Ordering::Relaxed);
    }

    /// The answers of `endpoint` that ended in `outcome`, summed over the stripes.
    pub fn answers(&self, endpoint: Endpoint, outcome: Outcome) -> u64 {
        let at = endpoint as usize * OUTCOMES + outcome as usize;
        self.stripes
            .iter()
            .map(|stripe| stripe.answers[at].load(Ordering::Relaxed))
            .sum()
    }

    /// `endpoint`'s latencies, summed over the stripes.
    pub fn latency(&self, endpoint: Endpoint) -> LatencySnapshot {
        let at = endpoint as usize;
        let mut per_bucket = [0u64; BUCKETS];
        let mut sum_us = 0u64;
        for stripe in self.stripes.iter() {
            for (bucket, count) in per_bucket.iter_mut().enumerate() {
                *count += stripe.buckets[at * BUCKETS + bucket].load(Ordering::Relaxed);
            }
            sum_us += stripe.sum_us[at].load(Ordering::Relaxed);
        }
        LatencySnapshot::of(per_bucket, sum_us)
    }
}

/// The stripe of the calling thread: given out in turn, once per thread.
fn this_stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
    }
    STRIPE.with(|stripe| *stripe)
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
    /// The hot endpoints' answers and latencies.
    pub answers: Striped,
    /// How long each durable write (or group of writes) took to store.
    pub store_writes: StoreWrites,
    /// Since when (ms) the follower has known of changes it has not applied; 0 when
    /// it has applied every change announced.
    pub feed_behind_since_ms: std::sync::atomic::AtomicI64,
    /// Webhook delivery attempts by what they came to: delivered, to be tried
    /// again, given up on.
    pub webhook_deliveries: [Counter; 3],
}

impl Metrics {
    /// Counts one webhook delivery attempt.
    pub fn webhook_delivery(&self, status: tessera_store::DeliveryStatus) {
        let at = WEBHOOK_RESULTS
            .iter()
            .position(|(counted, _)| *counted == status)
            .unwrap_or(0);
        self.webhook_deliveries[at].increment();
    }
}

/// The webhook delivery results counted, with their labels.
pub const WEBHOOK_RESULTS: [(tessera_store::DeliveryStatus, &str); 3] = [
    (tessera_store::DeliveryStatus::Delivered, "delivered"),
    (tessera_store::DeliveryStatus::Pending, "retry"),
    (tessera_store::DeliveryStatus::Failed, "failed"),
];

/// Store write latency: one histogram, writes being far rarer than checks.
pub struct StoreWrites {
    buckets: [AtomicU64; BUCKETS],
    sum_us: AtomicU64,
}

impl Default for StoreWrites {
    fn default() -> Self {
        Self {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
        }
    }
}

impl StoreWrites {
    pub fn record(&self, elapsed: Duration) {
        let (bucket, micros) = bucket_of(elapsed);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> LatencySnapshot {
        LatencySnapshot::of(
            self.buckets
                .each_ref()
                .map(|count| count.load(Ordering::Relaxed)),
            self.sum_us.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_from_many_threads_sum_at_a_scrape() {
        let striped = std::sync::Arc::new(Striped::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let striped = std::sync::Arc::clone(&striped);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        striped.record(Endpoint::Verify, Outcome::Valid, Duration::from_micros(40));
                    }
                    striped.record(Endpoint::Gateway, Outcome::Limited, Duration::from_secs(2));
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("a counting thread");
        }
        assert_eq!(striped.answers(Endpoint::Verify, Outcome::Valid), 4000);
        assert_eq!(striped.answers(Endpoint::Verify, Outcome::Invalid), 0);
        let verify = striped.latency(Endpoint::Verify);
        assert_eq!(verify.count, 4000);
        assert_eq!(verify.cumulative[0], 0, "none within 25 µs");
        assert_eq!(verify.cumulative[1], 4000, "all within 50 µs");
        assert_eq!(verify.sum, Duration::from_micros(160_000));
        let gateway = striped.latency(Endpoint::Gateway);
        assert_eq!(
            (gateway.count, gateway.cumulative[13]),
            (4, 0),
            "beyond the last bound"
        );
    }

    #[test]
    fn statuses_read_as_outcomes() {
        assert_eq!(Outcome::of_status(200), Outcome::Valid);
        assert_eq!(Outcome::of_status(401), Outcome::Invalid);
        assert_eq!(Outcome::of_status(403), Outcome::Forbidden);
        assert_eq!(Outcome::of_status(429), Outcome::Limited);
        assert_eq!(Outcome::of_status(400), Outcome::Error);
        assert_eq!(Outcome::of_status(503), Outcome::Error);
    }
}
