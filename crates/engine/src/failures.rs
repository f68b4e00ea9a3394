//! Failed authentications counted per client address. Past its budget an address is
//! refused whatever it presents, valid tokens included, so that guessing from it
//! stops and a guess that happens to be right is not confirmed; other addresses are
//! never slowed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tessera_core::ratelimit::{self, RateLimit};

use crate::pace::Pace;

/// Addresses followed at once. An attacker with more addresses than this is not
/// followed past it (logged); the budget of each one it has is still small.
const MAX_TRACKED: usize = 100_000;

/// Per-address budgets of failed authentications.
pub struct FailureThrottle {
    limit: Option<RateLimit>,
    /// Each address's theoretical arrival time (ns), as the token buckets keep it.
    buckets: Mutex<HashMap<AddressKey, u64>>,
    /// `buckets.len()`, read without the lock: with no failure to remember, the
    /// check on every authentication is this one load.
    tracked: AtomicUsize,
    /// Running out of room is logged at most once a minute.
    warnings: Pace,
}

/// One client: an IPv4 address, or the /64 network of an IPv6 one, which is what a
/// single host is commonly given.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct AddressKey(u128);

impl From<IpAddr> for AddressKey {
    fn from(address: IpAddr) -> Self {
        match address {
            IpAddr::V4(v4) => Self(u128::from(u32::from(v4))),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(u128::from(u32::from(v4))),
                None => Self((u128::from(v6) >> 64 << 64) | 1 << 32),
            },
        }
    }
}

impl FailureThrottle {
    /// `None`: failures are not counted.
    pub fn new(limit: Option<RateLimit>) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
            tracked: AtomicUsize::new(0),
            warnings: Pace::new(Duration::from_secs(60)),
        }
    }

    /// Milliseconds until `address` may try again, if it has spent its budget.
    /// `now_ms` is read only when some address has failed lately: the common case
    /// costs one atomic load.
    pub fn refusal(&self, address: IpAddr, now_ms: impl FnOnce() -> i64) -> Option<u64> {
        let limit = self.limit.as_ref()?;
        if self.tracked.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let tat = *self.buckets.lock().get(&AddressKey::from(address))?;
        let now = ratelimit::nanos_from_millis(now_ms());
        let (decision, _) = ratelimit::check(limit, tat, now);
        (!decision.allowed).then_some(decision.retry_after_ms)
    }

    /// Counts one failed authentication from `address`.
    pub fn record(&self, address: IpAddr, now_ms: i64) {
        let Some(limit) = self.limit.as_ref() else {
            return;
        };
        let now = ratelimit::nanos_from_millis(now_ms);
        let key = AddressKey::from(address);
        let mut buckets = self.buckets.lock();
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&key) {
            // A full bucket says nothing: forget those first.
            buckets.retain(|_, tat| *tat > now);
            if buckets.len() >= MAX_TRACKED {
                drop(buckets);
                self.warn_full();
                return;
            }
        }
        let tat = buckets.get(&key).copied().unwrap_or(0);
        // Spent even past the budget: a client that keeps failing stays refused.
        let next = tat.max(now) + limit.interval_ns();
        let cap = now + limit.capacity_ns() + limit.interval_ns();
        buckets.insert(key, next.min(cap));
        self.tracked.store(buckets.len(), Ordering::Relaxed);
    }

    /// Takes the budget of `address` as every node spent it (`tat_ns`, from the
    /// shared bucket), where that is less than this node knows of.
    pub fn adopt(&self, address: IpAddr, tat_ns: u64) {
        let key = AddressKey::from(address);
        let mut buckets = self.buckets.lock();
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&key) {
            return;
        }
        let tat = buckets.entry(key).or_insert(0);
        *tat = (*tat).max(tat_ns);
        self.tracked.store(buckets.len(), Ordering::Relaxed);
    }

    /// The name of `address`'s bucket in the store every node shares.
    pub fn shared_name(address: IpAddr) -> String {
        format!("failed-auth:{:032x}", AddressKey::from(address).0)
    }

    fn warn_full(&self) {
        if self.warnings.due() {
            tracing::warn!(
                tracked = MAX_TRACKED,
                "failed authentications come from more addresses than are followed; \
                 new ones are not throttled until older ones expire"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_past_its_budget_is_refused_until_it_refills() {
        let throttle = FailureThrottle::new(Some(RateLimit::new(60, 3).unwrap()));
        let attacker = ip("203.0.113.9");
        let now = 1_000_000;
        for _ in 0..3 {
            assert_eq!(throttle.refusal(attacker, || now), None);
            throttle.record(attacker, now);
        }
        let wait = throttle
            .refusal(attacker, || now)
            .expect("the budget is spent");
        assert!((1..=1000).contains(&wait), "{wait}");
        assert_eq!(
            throttle.refusal(ip("203.0.113.10"), || now),
            None,
            "others pass"
        );
        // Failing on while refused keeps it refused, within bounds.
        for _ in 0..100 {
            throttle.record(attacker, now);
        }
        let wait = throttle.refusal(attacker, || now).unwrap();
        assert!(wait <= 2000, "{wait}");
        assert_eq!(throttle.refusal(attacker, || now + 5_000), None);
    }

    #[test]
    fn an_ipv6_host_is_its_slash_64() {
        let throttle = FailureThrottle::new(Some(RateLimit::new(60, 1).unwrap()));
        throttle.record(ip("2001:db8:1:2::1"), 0);
        assert!(throttle.refusal(ip("2001:db8:1:2::ffff"), || 0).is_some());
        assert!(throttle.refusal(ip("2001:db8:1:3::1"), || 0).is_none());
        assert_ne!(
            AddressKey::from(ip("0.0.0.1")),
            AddressKey::from(ip("::1")),
            "IPv4 and IPv6 keys never meet"
        );
    }

    #[test]
    fn without_a_limit_nothing_is_counted() {
        let throttle = FailureThrottle::new(None);
        throttle.record(ip("10.0.0.1"), 0);
        assert_eq!(throttle.refusal(ip("10.0.0.1"), || 0), None);
    }
}
