//! The guard's cache of recent positive answers.
//!
//! Exact while it serves: it answers only while the change stream is connected and
//! caught up (`live`), drops a token's answers when the stream names the token, and
//! never keeps an answer that a change may have overtaken: an answer is kept only
//! if no change was heard between the question and the answer (`generation`).
//! Answers for a token with a rate limit are never kept (each request must spend
//! from it), nor past the token's expiry.
//!
//! Hand-written rather than a cache crate's: answers are dropped by token id, a
//! second key, which the usual crates offer only through predicates they scan
//! lazily. Bounded by a count, oldest out first, and by a lifetime.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tessera_api::VerifyAnswer;
use tokio::sync::broadcast;

/// A question: the token (hashed: the cache keeps no token's text), the scopes, the
/// resource and the client's address (the answer for a token bound to networks
/// depends on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key([u8; 32]);

impl Key {
    pub fn of(
        token: &str,
        scopes: &[String],
        resource: Option<&str>,
        client_ip: Option<&str>,
    ) -> Self {
        let mut hash = Sha256::new();
        // Lengths first, so that no two questions write the same bytes.
        for part in std::iter::once(token)
            .chain(scopes.iter().map(String::as_str))
            .chain(resource)
            .chain(client_ip)
        {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part.as_bytes());
        }
        hash.update([u8::from(resource.is_some()), u8::from(client_ip.is_some())]);
        Self(hash.finalize().into())
    }
}

struct Entry {
    token_id: String,
    /// Milliseconds since the epoch.
    until_ms: i64,
    answer: Arc<VerifyAnswer>,
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Entry>,
    by_token: HashMap<String, Vec<Key>>,
    /// Keys in the order they came, some since dropped: the oldest go first.
    order: VecDeque<Key>,
}

pub struct VerifyCache {
    state: Mutex<State>,
    /// One more at every change heard, reset and loss of the stream.
    generation: AtomicU64,
    live: AtomicBool,
    capacity: usize,
    lifetime_ms: i64,
    dropped: broadcast::Sender<String>,
}

impl VerifyCache {
    pub fn new(capacity: usize, lifetime_ms: i64) -> Self {
        Self {
            state: Mutex::default(),
            generation: AtomicU64::new(0),
            live: AtomicBool::new(false),
            capacity,
            lifetime_ms,
            dropped: broadcast::channel(1024).0,
        }
    }

    /// Where the cache stands before a question goes to tessera: pass it to
    /// [`VerifyCache::keep`] with the answer.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, key: &Key, now_ms: i64) -> Option<Arc<VerifyAnswer>> {
        if !self.live.load(Ordering::Acquire) {
            return None;
        }
        let state = self.state.lock();
        let entry = state.entries.get(key)?;
        (entry.until_ms > now_ms).then(|| Arc::clone(&entry.answer))
    }

    /// Keeps a valid `answer` to the question `key`, asked at `generation`, unless it
    /// must not be kept (see the module's doc). `expires_ms` is the token's expiry.
    pub fn keep(
        &self,
        key: Key,
        answer: &Arc<VerifyAnswer>,
        expires_ms: Option<i64>,
        generation: u64,
        now_ms: i64,
    ) {
        let Some(token_id) = answer.token_id.clone() else {
            return;
        };
        // Each request of a rate-limited or capped token must spend from it: such
        // answers are never kept.
        if !answer.valid
            || answer.rate_limit.is_some()
            || answer.usage.is_some()
            || self.capacity == 0
        {
            return;
        }
        let until_ms = expires_ms.map_or(now_ms + self.lifetime_ms, |at| {
            at.min(now_ms + self.lifetime_ms)
        });
        let mut state = self.state.lock();
        // Checked under the lock that `drop_token` and `clear` take: a change heard
        // after the question was asked leaves its answer out.
        if !self.live.load(Ordering::Acquire) || self.generation() != generation {
            return;
        }
        while state.entries.len() >= self.capacity {
            let Some(oldest) = state.order.pop_front() else {
                break;
            };
            state.remove(&oldest);
        }
        if state.order.len() > 2 * self.capacity {
            let State { entries, order, .. } = &mut *state;
            order.retain(|key| entries.contains_key(key));
        }
        state
            .by_token
            .entry(token_id.clone())
            .or_default()
            .push(key);
        state.order.push_back(key);
        state.entries.insert(
            key,
            Entry {
                token_id,
                until_ms,
                answer: Arc::clone(answer),
            },
        );
    }

    /// Drops every answer about `token_id`: the change stream named it.
    pub fn drop_token(&self, token_id: &str) {
        let mut state = self.state.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(keys) = state.by_token.remove(token_id) {
            for key in keys {
                state.entries.remove(&key);
            }
        }
        drop(state);
        let _ = self.dropped.send(token_id.to_owned());
    }

    /// Drops everything: the stream could not tell what changed.
    pub fn clear(&self) {
        let mut state = self.state.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        *state = State::default();
    }

    /// Whether the change stream is connected and caught up. While it is not, the
    /// cache answers nothing and keeps nothing new.
    pub fn set_live(&self, live: bool) {
        let _state = self.state.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.live.store(live, Ordering::Release);
    }

    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    pub fn len(&self) -> usize {
        self.state.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The token ids whose answers are dropped, as they are (for tests and metrics).
    pub fn dropped(&self) -> broadcast::Receiver<String> {
        self.dropped.subscribe()
    }
}

impl State {
    fn remove(&mut self, key: &Key) {
        let Some(entry) = self.entries.remove(key) else {
            return;
        };
        if let Some(keys) = self.by_token.get_mut(&entry.token_id) {
            keys.retain(|k| k != key);
            if keys.is_empty() {
                self.by_token.remove(&entry.token_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(id: &str, limited: bool) -> Arc<VerifyAnswer> {
        Arc::new(VerifyAnswer {
            valid: true,
            code: "VALID".into(),
            token_id: Some(id.into()),
            name: None,
            owner: None,
            meta: None,
            scopes: None,
            access: None,
            resources: None,
            expires_at: None,
            rate_limit: limited.then_some(tessera_api::RateLimitState {
                limit: 1,
                remaining: 0,
                reset_ms: 1,
            }),
            missing: None,
            usage: None,
        })
    }

    fn live_cache(capacity: usize) -> VerifyCache {
        let cache = VerifyCache::new(capacity, 60_000);
        cache.set_live(true);
        cache
    }

    #[test]
    fn a_dropped_token_loses_every_answer_and_nothing_else() {
        let cache = live_cache(10);
        let read = Key::of("tsr_a", &["repo:read".into()], Some("repo:1"), None);
        let write = Key::of("tsr_a", &["repo:write".into()], Some("repo:1"), None);
        let other = Key::of("tsr_b", &["repo:read".into()], Some("repo:1"), None);
        for (key, id) in [(read, "tok_a"), (write, "tok_a"), (other, "tok_b")] {
            cache.keep(key, &answer(id, false), None, cache.generation(), 0);
        }
        assert_eq!(cache.len(), 3);
        cache.drop_token("tok_a");
        assert!(cache.get(&read, 1).is_none() && cache.get(&write, 1).is_none());
        assert!(cache.get(&other, 1).is_some());
    }

    #[test]
    fn an_answer_overtaken_by_a_change_is_not_kept() {
        let cache = live_cache(10);
        let key = Key::of("tsr_a", &[], None, None);
        let asked_at = cache.generation();
        cache.drop_token("tok_a");
        cache.keep(key, &answer("tok_a", false), None, asked_at, 0);
        assert!(cache.get(&key, 1).is_none());
    }

    #[test]
    fn nothing_is_kept_or_served_while_the_stream_is_down() {
        let cache = live_cache(10);
        let key = Key::of("tsr_a", &[], None, None);
        cache.keep(key, &answer("tok_a", false), None, cache.generation(), 0);
        cache.set_live(false);
        assert!(cache.get(&key, 1).is_none());
        let other = Key::of("tsr_b", &[], None, None);
        cache.keep(other, &answer("tok_b", false), None, cache.generation(), 0);
        cache.set_live(true);
        assert!(cache.get(&other, 1).is_none());
    }

    #[test]
    fn rate_limited_tokens_expiry_lifetime_and_capacity_bound_what_is_kept() {
        let cache = live_cache(2);
        let limited = Key::of("tsr_l", &[], None, None);
        cache.keep(limited, &answer("tok_l", true), None, cache.generation(), 0);
        assert!(
            cache.get(&limited, 1).is_none(),
            "a rate limit is spent per request"
        );
        let capped = Key::of("tsr_c", &[], None, None);
        let mut with_credits = (*answer("tok_c", false)).clone();
        with_credits.usage = Some(tessera_api::UsageLeft {
            uses_remaining: None,
            credits_remaining: Some(9),
        });
        cache.keep(capped, &Arc::new(with_credits), None, cache.generation(), 0);
        assert!(cache.get(&capped, 1).is_none(), "so are credits");

        let expiring = Key::of("tsr_e", &[], None, None);
        cache.keep(
            expiring,
            &answer("tok_e", false),
            Some(500),
            cache.generation(),
            0,
        );
        assert!(cache.get(&expiring, 499).is_some());
        assert!(
            cache.get(&expiring, 500).is_none(),
            "not past the token's expiry"
        );

        let plain = Key::of("tsr_p", &[], None, None);
        cache.keep(plain, &answer("tok_p", false), None, cache.generation(), 0);
        assert!(cache.get(&plain, 59_999).is_some());
        assert!(
            cache.get(&plain, 60_000).is_none(),
            "not past the cache's lifetime"
        );

        let third = Key::of("tsr_t", &[], None, None);
        cache.keep(third, &answer("tok_t", false), None, cache.generation(), 0);
        assert_eq!(cache.len(), 2, "the oldest went");
        assert!(cache.get(&expiring, 1).is_none());
    }

    #[test]
    fn questions_differing_in_any_part_have_different_keys() {
        let keys = [
            Key::of("tsr_a", &[], None, None),
            Key::of("tsr_a", &[], Some(""), None),
            Key::of("tsr_a", &["x".into()], None, None),
            Key::of("tsr_ax", &[], None, None),
            Key::of("tsr_a", &[], Some("x"), None),
            Key::of("tsr_a", &[], None, Some("x")),
            Key::of("tsr_a", &[], Some("x"), Some("10.0.0.1")),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
