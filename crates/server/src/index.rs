//! The in-memory index every verification reads: all tokens, keyed by their hash.
//!
//! Loaded from the store at start and updated by every write before that write is
//! acknowledged, so verification never waits on the database and a revocation holds
//! from the very next request. Each token's settings sit behind an `ArcSwap`, so an
//! edit swaps them in one step while readers go on without a lock; its rate-limit
//! state (the GCRA TAT) is one atomic updated by compare-and-swap.
//!
//! Each snapshot carries the change number of the write it came from, and a snapshot
//! only ever replaces an older one. Two writers feed the index (this node's own
//! writes, and the follower bringing in every node's writes from the store's change
//! feed) in no particular order; the numbers make the outcome the same either way.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use arc_swap::ArcSwap;
use parking_lot::{Mutex, RwLock};
use tessera_core::grant::Grant;
use tessera_core::record::TokenRecord;
use tessera_core::scope::ScopeCatalogue;
use tessera_core::token::{Pepper, Presented, TokenHash, TokenHasher, TokenPrefix};
use tessera_core::verify::{self, Requirement, Verdict};
use tessera_store::{Change, ChangeSeq};

/// Hashes a [`TokenHash`] key by taking the `u64` its `Hash` impl writes.
///
/// Hand-written: the key is already an HMAC output, uniformly random, so SipHash over
/// it would be wasted work on every verification.
#[derive(Default)]
pub struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached if a key type other than TokenHash were used; fold the bytes in.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type ByHash = HashMap<TokenHash, Arc<Slot>, BuildHasherDefault<PassThroughHasher>>;

/// A token's record with its compiled grant: one consistent snapshot, as of the
/// write numbered `seq`.
#[derive(Debug)]
pub struct Entry {
    pub record: TokenRecord,
    pub grant: Grant,
    pub seq: ChangeSeq,
}

/// One token in the index: its current snapshot and its live counters.
pub struct Slot {
    current: ArcSwap<Entry>,
    /// GCRA theoretical arrival time, nanoseconds.
    tat: AtomicU64,
    /// Uses since start, including those already written to the store.
    total_uses: AtomicU64,
    /// Uses not yet written to the store.
    pending_uses: AtomicU64,
    last_used_at: AtomicI64,
}

impl Slot {
    pub fn entry(&self) -> Arc<Entry> {
        self.current.load_full()
    }

    pub fn id(&self) -> String {
        self.current.load().record.id.clone()
    }

    /// The record with live usage counts filled in.
    pub fn live_record(&self) -> TokenRecord {
        let mut record = self.current.load().record.clone();
        self.overlay_usage(&mut record);
        record
    }

    /// Replaces a stored record's usage counts with the live ones.
    pub fn overlay_usage(&self, record: &mut TokenRecord) {
        record.use_count = self.total_uses.load(Ordering::Relaxed);
        let last = self.last_used_at.load(Ordering::Relaxed);
        record.last_used_at = (last > 0).then_some(last);
    }

    /// Takes the uses not yet written, and when the last one was.
    pub fn take_pending(&self) -> (u64, i64) {
        (
            self.pending_uses.swap(0, Ordering::AcqRel),
            self.last_used_at.load(Ordering::Relaxed),
        )
    }

    /// Puts back uses whose write failed, so the next flush retries them.
    pub fn restore_pending(&self, uses: u64) {
        self.pending_uses.fetch_add(uses, Ordering::AcqRel);
    }
}

/// Swaps in `entry` unless the slot holds a snapshot at least as new.
fn swap_if_newer(slot: &Slot, entry: Entry) {
    let entry = Arc::new(entry);
    slot.current.rcu(|current| {
        if current.seq >= entry.seq {
            Arc::clone(current)
        } else {
            Arc::clone(&entry)
        }
    });
}

/// The result of checking a token that is in the index.
pub struct Checked {
    pub slot: Arc<Slot>,
    pub entry: Arc<Entry>,
    pub verdict: Verdict,
}

#[derive(Default)]
struct Maps {
    by_hash: ByHash,
    by_id: HashMap<String, Arc<Slot>>,
    children: HashMap<String, Vec<String>>,
}

/// Every token of the deployment, in memory.
pub struct TokenIndex {
    maps: RwLock<Maps>,
    catalogue: ScopeCatalogue,
    /// Tokens used since the last usage flush.
    dirty: Mutex<Vec<Arc<Slot>>>,
}

impl TokenIndex {
    pub fn new(catalogue: ScopeCatalogue, changes: Vec<Change>) -> Self {
        let index = Self {
            maps: RwLock::new(Maps::default()),
            catalogue,
            dirty: Mutex::new(Vec::new()),
        };
        for change in changes {
            index.apply(change.seq, change.record);
        }
        index
    }

    pub fn catalogue(&self) -> &ScopeCatalogue {
        &self.catalogue
    }

    pub fn len(&self) -> usize {
        self.maps.read().by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn entry_for(&self, record: TokenRecord, seq: ChangeSeq) -> Entry {
        let grant = if record.is_admin {
            Grant::unlimited(&self.catalogue)
        } else {
            Grant::of(&record.settings, &self.catalogue)
        };
        Entry { record, grant, seq }
    }

    /// Brings in a token as the write numbered `seq` left it: adds it if it is new,
    /// else swaps in its new snapshot (its rate-limit state and counters carry over)
    /// unless the index already holds a newer one.
    pub fn apply(&self, seq: ChangeSeq, record: TokenRecord) {
        if let Some(slot) = self.by_id(&record.id) {
            return swap_if_newer(&slot, self.entry_for(record, seq));
        }
        let entry = self.entry_for(record, seq);
        let mut maps = self.maps.write();
        if let Some(slot) = maps.by_id.get(&entry.record.id).cloned() {
            // Added by the other writer since the look-up above.
            drop(maps);
            return swap_if_newer(&slot, entry);
        }
        let hash = entry.record.hash;
        let id = entry.record.id.clone();
        let parent = entry.record.parent_id.clone();
        let slot = Arc::new(Slot {
            total_uses: AtomicU64::new(entry.record.use_count),
            pending_uses: AtomicU64::new(0),
            last_used_at: AtomicI64::new(entry.record.last_used_at.unwrap_or(0)),
            tat: AtomicU64::new(0),
            current: ArcSwap::from_pointee(entry),
        });
        maps.by_hash.insert(hash, Arc::clone(&slot));
        maps.by_id.insert(id.clone(), slot);
        if let Some(parent) = parent {
            maps.children.entry(parent).or_default().push(id);
        }
    }

    pub fn by_id(&self, id: &str) -> Option<Arc<Slot>> {
        self.maps.read().by_id.get(id).cloned()
    }

    pub fn by_hash(&self, hash: &TokenHash) -> Option<Arc<Slot>> {
        self.maps.read().by_hash.get(hash).cloned()
    }

    /// Tokens made by no other token: admin tokens. A full scan, for rare admin work.
    pub fn root_slots(&self) -> Vec<Arc<Slot>> {
        self.maps
            .read()
            .by_id
            .values()
            .filter(|slot| slot.current.load().record.parent_id.is_none())
            .cloned()
            .collect()
    }

    /// `id` and every token created through it, directly or further down.
    pub fn subtree(&self, id: &str) -> Vec<String> {
        let maps = self.maps.read();
        let mut found = vec![id.to_owned()];
        let mut next = 0;
        while next < found.len() {
            if let Some(children) = maps.children.get(&found[next]) {
                found.extend(children.iter().cloned());
            }
            next += 1;
        }
        found
    }

    /// True when `id` was created through `ancestor`, directly or further down.
    pub fn descends_from(&self, id: &str, ancestor: &str) -> bool {
        let mut current = self
            .by_id(id)
            .and_then(|slot| slot.current.load().record.parent_id.clone());
        // A chain longer than the index would be a cycle: stop rather than loop.
        for _ in 0..=self.len() {
            match current {
                None => return false,
                Some(parent) if parent == ancestor => return true,
                Some(parent) => {
                    current = self
                        .by_id(&parent)
                        .and_then(|slot| slot.current.load().record.parent_id.clone());
                }
            }
        }
        false
    }

    /// Decides a request for a token already looked up.
    pub fn check_slot(&self, slot: Arc<Slot>, need: &Requirement, now_ms: i64) -> Checked {
        loop {
            let entry = slot.entry();
            let tat = slot.tat.load(Ordering::Acquire);
            let verdict = verify::decide(
                &entry.grant,
                entry.record.revoked_at.is_some(),
                need,
                now_ms,
                tat,
            );
            if let Some(next_tat) = verdict.next_tat
                && slot
                    .tat
                    .compare_exchange(tat, next_tat, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            {
                // Another request spent budget at the same moment: decide again.
                continue;
            }
            if verdict.code == verify::Code::Valid {
                self.count_use(&slot, now_ms);
            }
            return Checked {
                slot,
                entry,
                verdict,
            };
        }
    }

    /// Records a verdict reached elsewhere (the shared limiter): counts the use if
    /// it was allowed.
    pub fn settle(
        &self,
        slot: Arc<Slot>,
        entry: Arc<Entry>,
        verdict: Verdict,
        now_ms: i64,
    ) -> Checked {
        if verdict.code == verify::Code::Valid {
            self.count_use(&slot, now_ms);
        }
        Checked {
            slot,
            entry,
            verdict,
        }
    }

    fn count_use(&self, slot: &Arc<Slot>, now_ms: i64) {
        slot.total_uses.fetch_add(1, Ordering::Relaxed);
        slot.last_used_at.fetch_max(now_ms, Ordering::Relaxed);
        if slot.pending_uses.fetch_add(1, Ordering::AcqRel) == 0 {
            self.dirty.lock().push(Arc::clone(slot));
        }
    }

    /// Takes the tokens used since the last call, for the usage writer.
    pub fn take_dirty(&self) -> Vec<Arc<Slot>> {
        std::mem::take(&mut *self.dirty.lock())
    }

    /// Queues a token for the next usage flush again.
    pub fn requeue(&self, slot: Arc<Slot>) {
        self.dirty.lock().push(slot);
    }
}

/// The whole local verification: parse the presented text, hash it, look it up and
/// decide. Synchronous and free of I/O, so the benchmarks measure exactly what a
/// request pays.
pub struct Verifier {
    prefix: TokenPrefix,
    hasher: TokenHasher,
    index: TokenIndex,
}

impl Verifier {
    pub fn new(prefix: TokenPrefix, pepper: &Pepper, index: TokenIndex) -> Self {
        Self {
            prefix,
            hasher: TokenHasher::new(pepper),
            index,
        }
    }

    pub fn index(&self) -> &TokenIndex {
        &self.index
    }

    pub fn hasher(&self) -> &TokenHasher {
        &self.hasher
    }

    pub fn prefix(&self) -> &TokenPrefix {
        &self.prefix
    }

    /// The token `secret` is, if it exists. Malformed text and a bad checksum find
    /// nothing without hashing.
    pub fn find(&self, secret: &str) -> Option<Arc<Slot>> {
        let token = Presented::parse(&self.prefix, secret)?;
        self.index.by_hash(&self.hasher.hash_presented(token))
    }

    /// Finds and decides in one step, spending from the node's own bucket; `None` is
    /// `NOT_FOUND`.
    pub fn check(&self, secret: &str, need: &Requirement, now_ms: i64) -> Option<Checked> {
        let slot = self.find(secret)?;
        Some(self.index.check_slot(slot, need, now_ms))
    }
}
