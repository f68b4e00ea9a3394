//! Per-token rate limits: a token bucket that holds `burst` requests and refills
//! `per_minute` per minute, computed as GCRA (the generic cell rate algorithm).
//!
//! GCRA keeps one number per token, the theoretical arrival time (TAT): the instant at
//! which the bucket would be full again. That makes a check a pure function of
//! `(limit, tat, now)` that the in-memory index applies with one compare-and-swap, and
//! that a Redis script can apply the same way for cluster-wide limits.

use serde::{Deserialize, Serialize};

const NANOS_PER_MINUTE: u64 = 60_000_000_000;
const NANOS_PER_MILLI: u64 = 1_000_000;

/// The largest refill rate: one million requests per second.
pub const MAX_PER_MINUTE: u32 = 60_000_000;
/// The largest bucket.
pub const MAX_BURST: u32 = 1_000_000;
/// The longest a bucket may take to refill from empty: 2^53 ns, about 104 days. Beyond
/// it, times in the shared limiter's Lua script (doubles) would no longer be exact.
pub const MAX_CAPACITY_NS: u64 = 1 << 53;

/// A rate limit: `burst` requests at once, refilled at `per_minute` per minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

/// Relay's built-in profiles.
pub const PROFILES: [(&str, RateLimit); 4] = [
    (
        "burst_friendly",
        RateLimit {
            per_minute: 120,
            burst: 200,
        },
    ),
    (
        "steady_stream",
        RateLimit {
            per_minute: 60,
            burst: 30,
        },
    ),
    (
        "api_heavy",
        RateLimit {
            per_minute: 300,
            burst: 500,
        },
    ),
    (
        "restricted",
        RateLimit {
            per_minute: 10,
            burst: 5,
        },
    ),
];

impl RateLimit {
    pub fn new(per_minute: u32, burst: u32) -> Result<Self, String> {
        if !(1..=MAX_PER_MINUTE).contains(&per_minute) {
            return Err(format!(
                "per_minute must be between 1 and {MAX_PER_MINUTE}, not {per_minute}"
            ));
        }
        if !(1..=MAX_BURST).contains(&burst) {
            return Err(format!(
                "burst must be between 1 and {MAX_BURST}, not {burst}"
            ));
        }
        let limit = Self { per_minute, burst };
        if limit.capacity_ns() > MAX_CAPACITY_NS {
            return Err(format!(
                "a burst of {burst} at {per_minute} per minute takes over 100 days to refill; \
                 raise per_minute or lower burst"
            ));
        }
        Ok(limit)
    }

    /// True when this limit never allows more than `other`, over any window.
    pub fn within(&self, other: &RateLimit) -> bool {
        self.per_minute <= other.per_minute && self.burst <= other.burst
    }

    /// One request's worth of time.
    pub fn interval_ns(&self) -> u64 {
        NANOS_PER_MINUTE / u64::from(self.per_minute.max(1))
    }

    /// The time a full bucket holds: `burst` intervals.
    pub fn capacity_ns(&self) -> u64 {
        self.interval_ns() * u64::from(self.burst)
    }
}

/// What one check decided, with what a client needs to pace itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    /// The bucket's size (`burst`).
    pub limit: u32,
    /// Requests that could follow at once.
    pub remaining: u32,
    /// Milliseconds until the bucket is full again.
    pub reset_ms: u64,
    /// When denied, milliseconds until one request would be allowed; else 0.
    pub retry_after_ms: u64,
}

/// Milliseconds since the epoch to the nanosecond timeline the TAT lives on.
pub fn nanos_from_millis(ms: i64) -> u64 {
    u64::try_from(ms)
        .unwrap_or(0)
        .saturating_mul(NANOS_PER_MILLI)
}

fn ceil_ms(nanos: u64) -> u64 {
    nanos.div_ceil(NANOS_PER_MILLI)
}

/// Decides one request against `limit`, given the stored `tat` and the time `now`
/// (both in nanoseconds). Returns the decision and, when allowed, the new TAT to store.
pub fn check(limit: &RateLimit, tat: u64, now: u64) -> (RateDecision, Option<u64>) {
    let interval = limit.interval_ns();
    let capacity = limit.capacity_ns();
    let start = tat.max(now);
    let next_tat = start + interval;
    let occupied = next_tat - now;
    if occupied > capacity {
        let decision = RateDecision {
            allowed: false,
            limit: limit.burst,
            remaining: 0,
            reset_ms: ceil_ms(start - now),
            retry_after_ms: ceil_ms(occupied - capacity).max(1),
        };
        return (decision, None);
    }
    let remaining = (capacity - occupied) / interval;
    let decision = RateDecision {
        allowed: true,
        limit: limit.burst,
        remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        reset_ms: ceil_ms(occupied),
        retry_after_ms: 0,
    };
    (decision, Some(next_tat))
}

/// One request against several buckets at once (a token's and its makers', when a
/// manager's budget bounds its whole subtree): allowed only if every bucket has
/// room, and then spent from all; refused by the first bucket that has none, and
/// then spent from none. The decision reported is the refusing bucket's, or the
/// tightest one's (fewest requests left). `buckets` holds each bucket's limit and
/// theoretical arrival time; the new times come back in the same order.
pub fn check_all(buckets: &[(RateLimit, u64)], now: u64) -> (RateDecision, Option<Vec<u64>>) {
    let mut next = Vec::with_capacity(buckets.len());
    let mut tightest: Option<RateDecision> = None;
    for (limit, tat) in buckets {
        let (decision, next_tat) = check(limit, *tat, now);
        let Some(next_tat) = next_tat else {
            return (decision, None);
        };
        next.push(next_tat);
        if tightest.is_none_or(|t| decision.remaining < t.remaining) {
            tightest = Some(decision);
        }
    }
    match tightest {
        Some(decision) => (decision, Some(next)),
        // No bucket: nothing limits the request.
        None => (
            RateDecision {
                allowed: true,
                limit: 0,
                remaining: u32::MAX,
                reset_ms: 0,
                retry_after_ms: 0,
            },
            Some(next),
        ),
    }
}

/// The state of a bucket without spending from it, for reporting.
pub fn peek(limit: &RateLimit, tat: u64, now: u64) -> RateDecision {
    let interval = limit.interval_ns();
    let occupied = tat.saturating_sub(now);
    let remaining = limit.capacity_ns().saturating_sub(occupied) / interval;
    RateDecision {
        allowed: remaining > 0,
        limit: limit.burst,
        remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
        reset_ms: ceil_ms(occupied),
        retry_after_ms: 0,
    }
}

/// Looks up a built-in profile by name.
pub fn profile(name: &str) -> Option<RateLimit> {
    PROFILES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, limit)| *limit)
}

/// The `RateLimit-Policy` field of draft-ietf-httpapi-ratelimit-headers-10 for a
/// limit: its quota is the bucket (`q`), its window the time the bucket takes to
/// refill from empty (`w`, whole seconds, rounded up). `name` is the profile's name.
pub fn policy_field(name: &str, limit: &RateLimit) -> String {
    let window_ns = limit.capacity_ns();
    let window_s = window_ns.div_ceil(1_000_000_000).max(1);
    format!("\"{}\";q={};w={window_s}", field_name(name), limit.burst)
}

/// The `RateLimit` field (same draft) after a decision: what remains (`r`) and the
/// seconds until it is worth trying again (`t`): when denied, until one request
/// passes; when allowed, until the bucket is full.
pub fn state_field(name: &str, decision: &RateDecision) -> String {
    let wait_ms = if decision.allowed {
        decision.reset_ms
    } else {
        decision.retry_after_ms
    };
    format!(
        "\"{}\";r={};t={}",
        field_name(name),
        decision.remaining,
        wait_ms.div_ceil(1000)
    )
}

/// A policy name as a structured-field string: printable ASCII without `"` or `\\`.
fn field_name(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn several_buckets_spend_together_or_not_at_all() {
        let tight = RateLimit::new(60, 1).unwrap();
        let loose = RateLimit::new(600, 10).unwrap();
        let now = 1_000_000_000_000;
        let (decision, next) = check_all(&[(loose, 0), (tight, 0)], now);
        assert!(decision.allowed);
        assert_eq!(decision.remaining, 0, "the tightest bucket is reported");
        let next = next.unwrap();
        assert_eq!(
            next,
            vec![now + loose.interval_ns(), now + tight.interval_ns()]
        );
        // The tight bucket is empty now: refused, and the loose one keeps its budget.
        let (decision, next) = check_all(&[(loose, next[0]), (tight, next[1])], now);
        assert!(!decision.allowed && next.is_none());
        assert_eq!(decision.limit, 1);
    }

    proptest::proptest! {
        #[test]
        fn a_joint_spend_is_allowed_exactly_when_each_bucket_allows(
            limits in proptest::collection::vec((1u32..600, 1u32..20, 0u64..120_000_000_000), 0..5),
        ) {
            let now = 1_000_000_000_000u64;
            let buckets: Vec<(RateLimit, u64)> = limits
                .iter()
                .map(|&(per_minute, burst, ahead)| (RateLimit::new(per_minute, burst).unwrap(), now + ahead))
                .collect();
            let (decision, next) = check_all(&buckets, now);
            let each: Vec<_> = buckets.iter().map(|(l, t)| check(l, *t, now)).collect();
            let all_allow = each.iter().all(|(d, _)| d.allowed);
            proptest::prop_assert_eq!(decision.allowed, all_allow);
            proptest::prop_assert_eq!(next.is_some(), all_allow);
            if let Some(next) = next {
                let singly: Vec<u64> = each.iter().filter_map(|(_, n)| *n).collect();
                proptest::prop_assert_eq!(next, singly);
            }
        }
    }

    use super::*;
    use proptest::prelude::*;

    const SECOND: u64 = 1_000_000_000;

    /// Runs `requests` as fast as they come at the instants given, returning how many passed.
    fn run(limit: &RateLimit, instants: &[u64]) -> usize {
        let mut tat = 0;
        instants
            .iter()
            .filter(|&&now| {
                let (decision, next) = check(limit, tat, now);
                if let Some(next) = next {
                    tat = next;
                }
                decision.allowed
            })
            .count()
    }

    #[test]
    fn a_full_bucket_allows_exactly_burst_at_once() {
        let limit = profile("restricted").unwrap();
        let now = 1000 * SECOND;
        assert_eq!(run(&limit, &[now; 20]), 5);
    }

    #[test]
    fn refill_follows_the_rate() {
        let limit = RateLimit::new(60, 1).unwrap();
        let start = 1000 * SECOND;
        let (first, tat) = check(&limit, 0, start);
        assert!(first.allowed);
        assert_eq!(first.remaining, 0);
        let tat = tat.unwrap();
        let (denied, _) = check(&limit, tat, start + SECOND / 2);
        assert!(!denied.allowed);
        assert_eq!(denied.retry_after_ms, 500);
        let (later, _) = check(&limit, tat, start + SECOND);
        assert!(later.allowed);
    }

    #[test]
    fn remaining_counts_down() {
        let limit = RateLimit::new(60, 3).unwrap();
        let now = 10 * SECOND;
        let (a, tat) = check(&limit, 0, now);
        let (b, tat) = check(&limit, tat.unwrap(), now);
        let (c, tat) = check(&limit, tat.unwrap(), now);
        let (d, _) = check(&limit, tat.unwrap(), now);
        assert_eq!([a.remaining, b.remaining, c.remaining], [2, 1, 0]);
        assert!(!d.allowed);
        assert_eq!(c.reset_ms, 3000);
        assert_eq!(peek(&limit, tat.unwrap(), now).remaining, 0);
    }

    #[test]
    fn limits_are_validated() {
        assert!(RateLimit::new(0, 1).is_err());
        assert!(RateLimit::new(1, 0).is_err());
        assert!(RateLimit::new(MAX_PER_MINUTE + 1, 1).is_err());
        assert!(RateLimit::new(MAX_PER_MINUTE, MAX_BURST).is_ok());
        assert!(profile("api_heavy").is_some() && profile("nope").is_none());
    }

    proptest! {
        /// Over any run of requests, no more pass than burst + rate x elapsed: the
        /// token bucket's promise.
        #[test]
        fn never_more_than_burst_plus_refill(
            per_minute in 1u32..100_000,
            burst in 1u32..1000,
            gaps in proptest::collection::vec(0u64..2 * SECOND, 1..300),
        ) {
            let limit = RateLimit::new(per_minute, burst).unwrap();
            let start = 1_000 * SECOND;
            let mut instants = Vec::with_capacity(gaps.len());
            let mut now = start;
            for gap in gaps {
                now += gap;
                instants.push(now);
            }
            let elapsed = now - start;
            let allowed = run(&limit, &instants) as u64;
            let refilled = elapsed * u64::from(per_minute) / NANOS_PER_MINUTE + 1;
            prop_assert!(allowed <= u64::from(burst) + refilled,
                "allowed {allowed} > burst {burst} + refill {refilled}");
        }

        /// A client that waits its Retry-After is allowed.
        #[test]
        fn retry_after_is_honest(per_minute in 1u32..100_000, burst in 1u32..50) {
            let limit = RateLimit::new(per_minute, burst).unwrap();
            let now = 1_000 * SECOND;
            let mut tat = 0;
            for _ in 0..burst {
                tat = check(&limit, tat, now).1.unwrap();
            }
            let (denied, none) = check(&limit, tat, now);
            prop_assert!(!denied.allowed && none.is_none());
            let later = now + denied.retry_after_ms * NANOS_PER_MILLI;
            prop_assert!(check(&limit, tat, later).0.allowed);
        }
    }
    #[test]
    fn header_fields_follow_the_draft() {
        let limit = RateLimit::new(60, 10).unwrap();
        assert_eq!(
            policy_field("restricted", &limit),
            "\"restricted\";q=10;w=10"
        );
        let (first, _) = check(&limit, 0, nanos_from_millis(1_000));
        assert_eq!(state_field("restricted", &first), "\"restricted\";r=9;t=1");
        let denied = RateDecision {
            allowed: false,
            limit: 10,
            remaining: 0,
            reset_ms: 10_000,
            retry_after_ms: 1_500,
        };
        assert_eq!(state_field("a\"b", &denied), "\"a_b\";r=0;t=2");
    }
}
