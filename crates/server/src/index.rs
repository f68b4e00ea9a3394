//! The in-memory index every verification reads: all tokens, keyed by their hash.
//!
//! Loaded from the store at start and updated by every write before that write is
//! acknowledged, so verification never waits on the database and a revocation holds
//! from the very next request.
//!
//! Each token is one [`Slot`]: what never changes (hash, id, parent), its settings as
//! of one write, and its live counters, in one allocation. A verification therefore
//! follows the table to the slot and finds everything it decides on and answers with
//! there: one dependent memory access fewer than a slot pointing to a separate
//! settings snapshot, which at a million tokens and more is a cache miss saved on
//! every check. An edit builds a new slot and swaps it into the tables under their
//! write locks, and the rate-limit state moves to it (see [`Slot::succeeded_by`]).
//!
//! Each slot carries the change number of the write it came from, and a slot only
//! ever replaces an older one. Two writers feed the index (this node's own writes,
//! and the follower bringing in every node's writes from the store's change feed) in
//! no particular order; the numbers make the outcome the same either way.
//!
//! Memory is kept to what verification decides on and answers with (see [`Entry`]);
//! the rest of a token's record is read from the store when an API call asks for it.
//! The hash map is split into shards so that two cores verifying at once rarely
//! touch the same lock word.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use compact_str::CompactString;
use hashbrown::HashTable;
use parking_lot::{Mutex, RwLock};
use serde_json::{Map, Value};
use tessera_core::grant::Grant;
use tessera_core::record::{ScopeGrant, TokenRecord};
use tessera_core::scope::{Access, ScopeCatalogue};
use tessera_core::token::{Pepper, Presented, TokenHash, TokenHasher, TokenPrefix};
use tessera_core::verify::{self, Requirement, Verdict};
use tessera_store::{Change, ChangeSeq};

/// The scopes as a token was granted them, for answers: patterns or an access level.
#[derive(Clone, Debug)]
pub enum GrantedScopes {
    /// The patterns joined by spaces (a pattern never holds one), kept once for
    /// every token granted the same list.
    Patterns(Arc<str>),
    Access(Access),
}

impl GrantedScopes {
    /// The `scopes` and `access` fields of an answer: one of them is set.
    pub fn fields(&self) -> (Option<Vec<String>>, Option<String>) {
        match self {
            Self::Patterns(joined) => (
                Some(
                    joined
                        .split(' ')
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned)
                        .collect(),
                ),
                None,
            ),
            Self::Access(access) => (None, Some(access.as_str().to_owned())),
        }
    }
}

/// What the index keeps of a token: what a verification decides on and what it
/// answers with, as of the write numbered `seq`. Description, `start`, timestamps
/// other than creation and usage totals live in the store (see `Engine::record`).
///
/// Laid out in declaration order (`repr(C)`), what a check reads first: see [`Slot`].
#[derive(Debug)]
#[repr(C)]
pub struct Entry {
    pub seq: ChangeSeq,
    pub grant: Grant,
    pub revoked_at: Option<i64>,
    pub is_admin: bool,
    pub created_at: i64,
    /// Inline up to 24 bytes, as most names and owners are.
    pub name: CompactString,
    pub owner: Option<CompactString>,
    pub meta: Option<Box<Map<String, Value>>>,
    pub scopes: GrantedScopes,
    /// The rate-limit profile the limit came from, if any.
    pub rate_profile: Option<Arc<str>>,
}

impl Entry {
    pub fn is_revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// One token in the index, as the write numbered `entry.seq` left it: what never
/// changes (hash, id, parent), its settings, and its live counters.
///
/// Laid out in declaration order (`repr(C)`): what every check reads and writes
/// (hash, counters, grant, revocation) comes first, in the first three cache lines
/// of the block, and what only answers and the API read comes after. At a million
/// tokens and more a slot is rarely in cache, and lines fetched together cost about
/// one miss.
#[repr(C)]
pub struct Slot {
    hash: TokenHash,
    /// GCRA theoretical arrival time, nanoseconds.
    tat: AtomicU64,
    /// Uses not yet written to the store; the store holds the rest.
    pending_uses: AtomicU64,
    last_used_at: AtomicI64,
    entry: Entry,
    id: CompactString,
    parent: Option<CompactString>,
}

impl Slot {
    /// The token's settings in this version of the slot. A slot held across an
    /// `await` may have been replaced since: [`TokenIndex::current`] gives the newest.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    pub fn id(&self) -> &str {
        self.id.as_str()
    }

    /// The token that created this one; `None` for admin tokens.
    pub fn parent_id(&self) -> Option<&str> {
        self.parent.as_ref().map(CompactString::as_str)
    }

    /// Adds the uses not yet written to a stored record's counts. The caller holds
    /// off the usage writer (see `Engine::flush_usage`), so no use is counted twice.
    pub fn overlay_usage(&self, record: &mut TokenRecord) {
        record.use_count = record
            .use_count
            .saturating_add(self.pending_uses.load(Ordering::Acquire));
        let last = self.last_used_at.load(Ordering::Relaxed);
        if last > record.last_used_at.unwrap_or(0) {
            record.last_used_at = Some(last);
        }
    }

    /// The uses not yet written, and when the last one was.
    pub fn pending(&self) -> (u64, i64) {
        (
            self.pending_uses.load(Ordering::Acquire),
            self.last_used_at.load(Ordering::Relaxed),
        )
    }

    /// Records that `uses` of the pending ones are written; returns how many are
    /// still pending (made meanwhile).
    pub fn mark_written(&self, uses: u64) -> u64 {
        self.pending_uses
            .fetch_sub(uses, Ordering::AcqRel)
            .saturating_sub(uses)
    }

    /// The next version of this token, with `entry` as its settings. The rate-limit
    /// state and the time of last use carry over. A check that found the old version
    /// just before the swap still spends from the old state, so at most one request
    /// per core in flight at that instant goes uncounted against the limit.
    ///
    /// Unwritten uses stay with the version that counted them: it is queued for the
    /// usage writer, which writes them from there. Moving them could count them
    /// twice if a flush had already read them. Until that flush (one usage period),
    /// an answer about the new version shows the stored count without them.
    fn succeeded_by(&self, entry: Entry) -> Self {
        Self {
            hash: self.hash,
            id: self.id.clone(),
            parent: self.parent.clone(),
            entry,
            tat: AtomicU64::new(self.tat.load(Ordering::Acquire)),
            pending_uses: AtomicU64::new(0),
            last_used_at: AtomicI64::new(self.last_used_at.load(Ordering::Relaxed)),
        }
    }
}

/// The result of checking a token that is in the index.
pub struct Checked {
    pub slot: Arc<Slot>,
    pub verdict: Verdict,
}

impl Checked {
    /// The settings the verdict was reached on.
    pub fn entry(&self) -> &Entry {
        self.slot.entry()
    }
}

/// Shards of the hash table: a power of two, well above the core count.
const SHARDS: usize = 64;

/// One shard, alone on its cache lines (two, for the adjacent-line prefetcher):
/// taking a read lock writes the lock word, and two cores reading different shards
/// must not fight over one line.
#[repr(align(128))]
struct Shard(RwLock<HashTable<Arc<Slot>>>);

/// Where a token hash is looked up: its first 8 bytes pick the bucket (the digest is
/// uniform already, so no hasher runs) and byte 8 the shard.
fn bucket_of(hash: &TokenHash) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash.0[..8]);
    u64::from_le_bytes(first)
}

fn shard_of(hash: &TokenHash) -> usize {
    usize::from(hash.0[8]) % SHARDS
}

/// Texts many tokens share (scope lists, profile names), kept once. Never emptied:
/// it holds at most one text per distinct scope list or profile ever granted.
#[derive(Default)]
struct Interner(Mutex<HashSet<Arc<str>>>);

impl Interner {
    fn intern(&self, text: &str) -> Arc<str> {
        let mut known = self.0.lock();
        if let Some(found) = known.get(text) {
            return Arc::clone(found);
        }
        let shared: Arc<str> = text.into();
        known.insert(Arc::clone(&shared));
        shared
    }
}

/// Every token of the deployment, in memory.
pub struct TokenIndex {
    by_hash: Box<[Shard]>,
    by_id: RwLock<HashTable<Arc<Slot>>>,
    /// Ids are chosen by the server but looked up from requests: a keyed hasher.
    id_hasher: RandomState,
    children: RwLock<HashMap<CompactString, Vec<Arc<Slot>>>>,
    shared_texts: Interner,
    catalogue: ScopeCatalogue,
    /// Tokens used since the last usage flush.
    dirty: Mutex<Vec<Arc<Slot>>>,
}

impl TokenIndex {
    pub fn new(catalogue: ScopeCatalogue, changes: Vec<Change>) -> Self {
        let index = Self {
            by_hash: (0..SHARDS)
                .map(|_| Shard(RwLock::new(HashTable::new())))
                .collect(),
            by_id: RwLock::new(HashTable::new()),
            id_hasher: RandomState::new(),
            children: RwLock::new(HashMap::new()),
            shared_texts: Interner::default(),
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
        self.by_id.read().len()
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
        let settings = record.settings;
        let scopes = match &settings.scopes {
            ScopeGrant::Patterns(patterns) => {
                GrantedScopes::Patterns(self.shared_texts.intern(&patterns.join(" ")))
            }
            ScopeGrant::Access(access) => GrantedScopes::Access(*access),
        };
        Entry {
            seq,
            grant,
            is_admin: record.is_admin,
            revoked_at: record.revoked_at,
            created_at: record.created_at,
            name: CompactString::from(settings.name),
            owner: settings.owner.map(CompactString::from),
            meta: settings.meta.map(Box::new),
            scopes,
            rate_profile: settings
                .rate_limit
                .and_then(|limit| limit.profile)
                .map(|name| self.shared_texts.intern(&name)),
        }
    }

    fn id_bucket(&self, id: &str) -> u64 {
        self.id_hasher.hash_one(id)
    }

    /// Brings in a token as the write numbered `seq` left it: adds it if it is new,
    /// else swaps in its next version (see [`Slot::succeeded_by`]) unless the index
    /// already holds a newer one. A token's hash never changes, so an edit keeps the
    /// slot under the same key of the hash table.
    ///
    /// Locks are taken in one order, ids then a hash shard then children, and the
    /// ids lock is held throughout, so two writers bringing in the same token cannot
    /// interleave.
    pub fn apply(&self, seq: ChangeSeq, record: TokenRecord) {
        let id = CompactString::new(&record.id);
        let hash = record.hash;
        let parent = record.parent_id.as_deref().map(CompactString::new);
        let last_used_at = record.last_used_at.unwrap_or(0);
        let entry = self.entry_for(record, seq);
        let id_bucket = self.id_bucket(id.as_str());
        let mut ids = self.by_id.write();
        if let Some(held) = ids.find_mut(id_bucket, |s| s.id == id) {
            if held.entry.seq >= seq {
                return;
            }
            let previous = Arc::clone(held);
            let next = Arc::new(previous.succeeded_by(entry));
            *held = Arc::clone(&next);
            if let Some(held) = self.by_hash[shard_of(&previous.hash)]
                .0
                .write()
                .find_mut(bucket_of(&previous.hash), |s| Arc::ptr_eq(s, &previous))
            {
                *held = Arc::clone(&next);
            }
            if let Some(parent) = &next.parent
                && let Some(siblings) = self.children.write().get_mut(parent)
                && let Some(held) = siblings.iter_mut().find(|s| Arc::ptr_eq(s, &previous))
            {
                *held = Arc::clone(&next);
            }
            return;
        }
        let slot = Arc::new(Slot {
            hash,
            id,
            parent,
            entry,
            tat: AtomicU64::new(0),
            pending_uses: AtomicU64::new(0),
            last_used_at: AtomicI64::new(last_used_at),
        });
        ids.insert_unique(id_bucket, Arc::clone(&slot), |s| self.id_bucket(s.id()));
        self.by_hash[shard_of(&hash)].0.write().insert_unique(
            bucket_of(&hash),
            Arc::clone(&slot),
            |s| bucket_of(&s.hash),
        );
        if let Some(parent) = slot.parent.clone() {
            self.children.write().entry(parent).or_default().push(slot);
        }
    }

    /// The newest version of `slot`'s token: the one a request that started before
    /// an edit should judge the caller by now.
    pub fn current(&self, slot: &Arc<Slot>) -> Arc<Slot> {
        self.by_id(slot.id()).unwrap_or_else(|| Arc::clone(slot))
    }

    pub fn by_id(&self, id: &str) -> Option<Arc<Slot>> {
        self.by_id
            .read()
            .find(self.id_bucket(id), |s| s.id() == id)
            .cloned()
    }

    pub fn by_hash(&self, hash: &TokenHash) -> Option<Arc<Slot>> {
        // `==` on hashes is constant time.
        self.by_hash[shard_of(hash)]
            .0
            .read()
            .find(bucket_of(hash), |s| s.hash == *hash)
            .cloned()
    }

    /// Tokens made by no other token: admin tokens. A full scan, for rare admin work.
    pub fn root_slots(&self) -> Vec<Arc<Slot>> {
        self.by_id
            .read()
            .iter()
            .filter(|slot| slot.parent.is_none())
            .cloned()
            .collect()
    }

    /// Every token created through `id`, directly or further down.
    pub fn descendants(&self, id: &str) -> Vec<Arc<Slot>> {
        // Read before taking `children`: `apply` locks ids first, then children.
        let most = self.len();
        let children = self.children.read();
        let mut found: Vec<Arc<Slot>> = Vec::new();
        let mut next = 0;
        let mut parent = id;
        // More descendants than tokens would mean a cycle in stored parents: stop.
        while found.len() <= most {
            if let Some(direct) = children.get(parent) {
                found.extend(direct.iter().cloned());
            }
            let Some(slot) = found.get(next) else {
                break;
            };
            parent = slot.id();
            next += 1;
        }
        found
    }

    /// True when `id` was created through `ancestor`, directly or further down.
    pub fn descends_from(&self, id: &str, ancestor: &str) -> bool {
        let mut current = self
            .by_id(id)
            .and_then(|slot| slot.parent_id().map(str::to_owned));
        // A chain longer than the index would be a cycle: stop rather than loop.
        for _ in 0..=self.len() {
            match current {
                None => return false,
                Some(parent) if parent == ancestor => return true,
                Some(parent) => {
                    current = self
                        .by_id(&parent)
                        .and_then(|slot| slot.parent_id().map(str::to_owned));
                }
            }
        }
        false
    }

    /// Decides a request for a token already looked up.
    pub fn check_slot(&self, slot: Arc<Slot>, need: &Requirement, now_ms: i64) -> Checked {
        let entry = &slot.entry;
        loop {
            let tat = slot.tat.load(Ordering::Acquire);
            let verdict = verify::decide(&entry.grant, entry.is_revoked(), need, now_ms, tat);
            if let Some(next_tat) = verdict.next_tat
                && slot
                    .tat
                    .compare_exchange(tat, next_tat, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            {
                // Another request spent budget at the same moment: decide again.
                continue;
            }
            return self.settle(slot, verdict, now_ms);
        }
    }

    /// Records a verdict reached on `slot` (here or by the shared limiter): counts
    /// the use if it was allowed.
    pub fn settle(&self, slot: Arc<Slot>, verdict: Verdict, now_ms: i64) -> Checked {
        if verdict.code == verify::Code::Valid {
            self.count_use(&slot, now_ms);
        }
        Checked { slot, verdict }
    }

    fn count_use(&self, slot: &Arc<Slot>, now_ms: i64) {
        // Most uses fall in a millisecond already recorded: a read, not a write.
        if slot.last_used_at.load(Ordering::Relaxed) < now_ms {
            slot.last_used_at.fetch_max(now_ms, Ordering::Relaxed);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::record::Settings;
    use tessera_core::token::SecretToken;

    fn record(id: &str, parent: Option<&str>, hasher: &TokenHasher) -> (TokenRecord, SecretToken) {
        let secret = SecretToken::generate(&TokenPrefix::default());
        let record = TokenRecord {
            id: id.to_owned(),
            hash: hasher.hash(&secret),
            start: secret.start(),
            is_admin: false,
            settings: Settings {
                name: format!("token {id}"),
                description: None,
                scopes: ScopeGrant::Patterns(vec!["repo:read".into()]),
                resources: Some(vec!["repo:a".into()]),
                rate_limit: None,
                expires_at: None,
                owner: None,
                meta: None,
            },
            parent_id: parent.map(str::to_owned),
            created_at: 1,
            updated_at: 1,
            revoked_at: None,
            last_used_at: None,
            use_count: 0,
        };
        (record, secret)
    }

    fn index() -> (TokenIndex, TokenHasher) {
        let hasher = TokenHasher::new(&Pepper::generate());
        (
            TokenIndex::new(ScopeCatalogue::default_catalogue(), Vec::new()),
            hasher,
        )
    }

    #[test]
    fn finds_by_hash_and_by_id_short_and_long() {
        let (index, hasher) = index();
        let long_id = "tok_".to_owned() + &"x".repeat(40);
        for id in ["tok_short", long_id.as_str()] {
            let (record, secret) = record(id, None, &hasher);
            index.apply(1, record);
            let found = index
                .by_hash(&hasher.hash(&secret))
                .map(|s| s.id().to_owned());
            assert_eq!(found.as_deref(), Some(id));
            assert_eq!(
                index.by_id(id).map(|s| s.id().to_owned()).as_deref(),
                Some(id)
            );
        }
        let (_, stranger) = record("tok_none", None, &hasher);
        assert!(index.by_hash(&hasher.hash(&stranger)).is_none());
        assert!(index.by_id("tok_none").is_none());
        assert_eq!(index.len(), 2);
    }

    #[test]
    fn descendants_span_every_level_and_ancestry_is_followed() {
        let (index, hasher) = index();
        for (id, parent) in [
            ("tok_root", None),
            ("tok_a", Some("tok_root")),
            ("tok_b", Some("tok_a")),
            ("tok_c", Some("tok_b")),
            ("tok_other", Some("tok_root")),
        ] {
            index.apply(1, record(id, parent, &hasher).0);
        }
        let mut below_a: Vec<String> = index
            .descendants("tok_a")
            .iter()
            .map(|s| s.id().to_owned())
            .collect();
        below_a.sort();
        assert_eq!(below_a, ["tok_b", "tok_c"]);
        assert_eq!(index.descendants("tok_root").len(), 4);
        assert!(index.descends_from("tok_c", "tok_root"));
        assert!(!index.descends_from("tok_other", "tok_a"));
        assert_eq!(index.root_slots().len(), 1);
    }

    #[test]
    fn a_newer_snapshot_wins_whichever_arrives_first() {
        let name_of = |index: &TokenIndex| index.by_id("tok_x").map(|s| s.entry().name.to_string());
        let (index, hasher) = index();
        let (older, _) = record("tok_x", None, &hasher);
        let mut newer = older.clone();
        newer.settings.name = "renamed".into();
        index.apply(5, newer.clone());
        index.apply(3, older.clone());
        assert_eq!(name_of(&index).as_deref(), Some("renamed"));
        // Two writers adding the same new token at once leave one slot.
        let (index, _) = self::index();
        std::thread::scope(|scope| {
            scope.spawn(|| index.apply(5, newer.clone()));
            scope.spawn(|| index.apply(3, older.clone()));
        });
        assert_eq!(index.len(), 1);
        assert_eq!(name_of(&index).as_deref(), Some("renamed"));
    }

    #[test]
    fn an_edit_keeps_the_spent_budget_and_the_unwritten_uses() {
        let (index, hasher) = index();
        index.apply(1, record("tok_root", None, &hasher).0);
        let (mut child, secret) = record("tok_child", Some("tok_root"), &hasher);
        child.settings.rate_limit = Some(tessera_core::record::RateLimitSetting {
            profile: None,
            per_minute: 1,
            burst: 1,
        });
        index.apply(2, child.clone());
        let check = |index: &TokenIndex| {
            let slot = index.by_hash(&hasher.hash(&secret)).expect("indexed");
            index
                .check_slot(slot, &Requirement::default(), 1_000)
                .verdict
                .code
        };
        assert_eq!(check(&index), verify::Code::Valid);
        let before = index.by_id("tok_child").expect("indexed");

        child.settings.name = "renamed".into();
        index.apply(3, child);
        let after = index.by_id("tok_child").expect("indexed");
        assert_eq!(after.entry().name, "renamed");
        assert!(Arc::ptr_eq(&index.current(&before), &after));
        assert!(Arc::ptr_eq(
            &index.by_hash(&hasher.hash(&secret)).expect("indexed"),
            &after
        ));
        assert!(Arc::ptr_eq(&index.descendants("tok_root")[0], &after));
        // The budget stays spent; the use waits to be written from the version
        // that counted it.
        assert_eq!(check(&index), verify::Code::RateLimited);
        assert_eq!((before.pending().0, after.pending().0), (1, 0));
        assert!(index.take_dirty().iter().any(|s| Arc::ptr_eq(s, &before)));
    }
}
