//! What a check spends: rate-limit budget from the token's own bucket, and a use
//! counted for the usage writer.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;

use compact_str::CompactString;
use std::sync::atomic::Ordering;

use tessera_core::ratelimit::{self, RateLimit};
use tessera_core::verify::{self, Admission, Verdict};

use super::TokenIndex;
use super::slot::{Checked, SlotRef};

/// Locks for spends from several buckets at once, one per subtree under the admin
/// token (striped): every chain that shares a bucket shares its top token, so two
/// such spends take the same lock, and spends in unrelated subtrees do not wait
/// on each other.
pub(super) struct TreeLocks([parking_lot::Mutex<()>; TREE_LOCKS]);

const TREE_LOCKS: usize = 64;

impl Default for TreeLocks {
    fn default() -> Self {
        Self(std::array::from_fn(|_| parking_lot::Mutex::new(())))
    }
}

/// Refusals of tokens that exist, since the last usage flush: forbidden, rate
/// limited, usage exhausted, by token id. Striped by id (like [`TreeLocks`]), so that
/// two cores refusing different tokens rarely share a lock; refusals are far rarer
/// than the allowed uses, which each slot counts itself.
pub(super) struct Refusals([parking_lot::Mutex<HashMap<CompactString, [u64; 3]>>; TREE_LOCKS]);

impl Default for Refusals {
    fn default() -> Self {
        Self(std::array::from_fn(|_| {
            parking_lot::Mutex::new(HashMap::new())
        }))
    }
}

impl TokenIndex {
    /// Finishes a request [`verify::admit`] has judged, spending from the token's
    /// own bucket if it was admitted under a rate limit, then (`cost`) from its caps.
    pub fn check_admitted(
        &self,
        slot: SlotRef,
        admission: Admission,
        now_ms: i64,
        cost: Option<u64>,
    ) -> Checked {
        let verdict = Self::rate_token(&slot, admission, now_ms);
        self.settle(slot, verdict, now_ms, cost)
    }

    /// The rate limit's verdict on an admitted request, spent from the token's own
    /// bucket; nothing else is spent or counted.
    pub fn rate_token(slot: &SlotRef, admission: Admission, now_ms: i64) -> Verdict {
        let rate_limit = slot.rate_limit();
        loop {
            let tat = slot.tat.load(Ordering::Acquire);
            let verdict = verify::conclude(admission, rate_limit, now_ms, tat);
            if let Some(next_tat) = verdict.next_tat
                && slot
                    .tat
                    .compare_exchange(tat, next_tat, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            {
                // Another request spent budget at the same moment: decide again.
                continue;
            }
            return verdict;
        }
    }

    /// [`TokenIndex::rate_token`] for `rate_limit_scope = "tree"`: a request spends
    /// from its token's bucket and from the bucket of every token the token was
    /// made through, allowed only if each has budget, and then spent from all
    /// ([`ratelimit::check_all`]).
    pub fn rate_tree(&self, slot: &SlotRef, admission: Admission, now_ms: i64) -> Verdict {
        if let Admission::Refused(_) = admission {
            return Self::rate_token(slot, admission, now_ms);
        }
        let chain = self.limited_chain(slot);
        let Some((top, _)) = chain.last() else {
            return Self::rate_token(slot, Admission::Unlimited, now_ms);
        };
        let stripe = self.id_hasher.hash_one(top.id()) as usize % TREE_LOCKS;
        {
            let _spending = self.tree_locks.0[stripe].lock();
            let buckets: Vec<(RateLimit, u64)> = chain
                .iter()
                .map(|(slot, limit)| (*limit, slot.tat.load(Ordering::Acquire)))
                .collect();
            let (decision, next) =
                ratelimit::check_all(&buckets, ratelimit::nanos_from_millis(now_ms));
            for ((slot, _), tat) in chain.iter().zip(next.into_iter().flatten()) {
                slot.tat.store(tat, Ordering::Release);
            }
            Verdict::rated(decision, None)
        }
    }

    /// `slot` and every token it was made through, as they are now, each with its
    /// rate limit: those without one spend nothing.
    pub fn limited_chain(&self, slot: &SlotRef) -> Vec<(SlotRef, RateLimit)> {
        self.lineage(SlotRef::clone(slot))
            .filter_map(|link| link.rate_limit().map(|limit| (link, limit)))
            .collect()
    }

    /// Records a verdict reached on `slot` (here or by the shared limiter): an
    /// allowed request spends a use and `cost` credits from the token's caps, if it
    /// has any (with `cost` given: `None` when the cluster's counter has spent
    /// already), and is refused `USAGE_EXHAUSTED` when they cannot pay; the use is
    /// counted if it stays allowed.
    pub fn settle(
        &self,
        slot: SlotRef,
        mut verdict: Verdict,
        now_ms: i64,
        cost: Option<u64>,
    ) -> Checked {
        let mut left = None;
        let mut first_use = false;
        if verdict.code == verify::Code::Valid {
            if let (Some(cost), Some(caps)) = (cost, slot.caps()) {
                match caps.spend(cost, now_ms) {
                    Ok(after) => left = Some(after),
                    Err(before) => {
                        verdict.code = verify::Code::UsageExhausted;
                        left = Some(before);
                    }
                }
            }
            if verdict.code == verify::Code::Valid {
                first_use = self.count_use(&slot, now_ms);
            }
        }
        let refused = match verdict.code {
            verify::Code::Forbidden => Some(0),
            verify::Code::RateLimited => Some(1),
            verify::Code::UsageExhausted => Some(2),
            _ => None,
        };
        if let Some(kind) = refused {
            let stripe = self.id_hasher.hash_one(slot.id()) as usize % TREE_LOCKS;
            let mut counts = self.refusals.0[stripe].lock();
            counts.entry(CompactString::new(slot.id())).or_default()[kind] += 1;
        }
        Checked {
            slot,
            verdict,
            left,
            first_use,
        }
    }

    /// Counts an allowed use; true for the first since the last usage flush.
    fn count_use(&self, slot: &SlotRef, now_ms: i64) -> bool {
        // Most uses fall in a millisecond already recorded: a read, not a write.
        if slot.last_used_at.load(Ordering::Relaxed) < now_ms {
            slot.last_used_at.fetch_max(now_ms, Ordering::Relaxed);
        }
        match slot.pending_uses.fetch_add(1, Ordering::AcqRel) {
            0 => {
                self.dirty.lock().push(SlotRef::clone(slot));
                return true;
            }
            // Wrapped to 0: stay at the most that can be told instead.
            u32::MAX => slot.pending_uses.store(u32::MAX, Ordering::Release),
            _ => {}
        }
        false
    }

    /// Keeps `client` as where the token `id` was last used from, for the next
    /// usage flush.
    pub fn note_client(&self, id: &str, client: IpAddr) {
        self.clients.lock().insert(CompactString::new(id), client);
    }

    /// Puts back an address a failed flush did not write, unless a newer one came.
    pub fn restore_client(&self, id: &str, client: IpAddr) {
        self.clients
            .lock()
            .entry(CompactString::new(id))
            .or_insert(client);
    }

    /// Takes the client addresses noted since the last call, for the usage writer.
    pub fn take_clients(&self) -> HashMap<CompactString, IpAddr> {
        std::mem::take(&mut *self.clients.lock())
    }

    /// Takes the refusals counted since the last call, for the usage writer:
    /// forbidden, rate limited, usage exhausted, by token id.
    pub fn take_refusals(&self) -> Vec<(CompactString, [u64; 3])> {
        self.refusals
            .0
            .iter()
            .flat_map(|stripe| std::mem::take(&mut *stripe.lock()))
            .collect()
    }

    /// Puts refusals back that a failed flush did not write.
    pub fn restore_refusals(&self, id: CompactString, counts: [u64; 3]) {
        let stripe = self.id_hasher.hash_one(id.as_str()) as usize % TREE_LOCKS;
        let mut refusals = self.refusals.0[stripe].lock();
        let held = refusals.entry(id).or_default();
        for (held, more) in held.iter_mut().zip(counts) {
            *held += more;
        }
    }

    /// Takes the tokens used since the last call, for the usage writer.
    pub fn take_dirty(&self) -> Vec<SlotRef> {
        std::mem::take(&mut *self.dirty.lock())
    }

    /// Queues a token for the next usage flush again.
    pub fn requeue(&self, slot: SlotRef) {
        self.dirty.lock().push(slot);
    }
}
