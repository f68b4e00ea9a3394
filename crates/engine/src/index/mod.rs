//! The in-memory index every verification reads: all tokens, keyed by their hash.
//!
//! Loaded from the store at start and updated by every write before that write is
//! acknowledged, so verification never waits on the database and a revocation holds
//! from the very next request.
//!
//! Each token is one [`Slot`]: its settings as of one write and its live counters,
//! in one 192-byte allocator block, with its texts packed inline and what whole
//! families of tokens share (scopes, rate limit, parent) kept once in a [`Family`].
//! A verification follows the table to the slot and finds everything it decides on
//! in the slot's first cache line and its family, which stays in cache. An edit
//! builds a new slot and swaps it into the tables under their write locks, and the
//! rate-limit state moves to it (see `Slot::carry_over`).
//!
//! Each slot carries the change number of the write it came from, and a slot only
//! ever replaces an older one. Two writers feed the index (this node's own writes,
//! and the follower bringing in every node's writes from the store's change feed) in
//! no particular order; the numbers make the outcome the same either way.
//!
//! Memory is kept to what verification decides on and answers with (see [`Slot`]);
//! the rest of a token's record is read from the store when an API call asks for it.
//! The hash map is split into shards so that two cores verifying at once rarely
//! touch the same lock word.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};

use compact_str::CompactString;
use hashbrown::HashTable;
use parking_lot::{Mutex, RwLock};
use subtle::ConstantTimeEq;
use tessera_core::grant::Grant;
use tessera_core::record::{ScopeGrant, Status, TokenRecord};
use tessera_core::scope::ScopeCatalogue;
use tessera_core::token::TokenHash;
use tessera_store::{Change, ChangeSeq};

mod family;
mod retired;
mod slot;
mod spend;
mod verifier;

pub use family::GrantedScopes;
pub use retired::RetiredSecret;
pub use slot::{Checked, INLINE_META_BYTES, IndexedMeta, Slot, SlotRef};
pub use verifier::Verifier;

use family::{Families, Family};
use slot::{IndexedHash, indexed};

/// Shards of the hash table: a power of two, well above the core count.
const SHARDS: usize = 64;

/// One shard, alone on its cache lines (two, for the adjacent-line prefetcher):
/// taking a read lock writes the lock word, and two cores reading different shards
/// must not fight over one line.
#[repr(align(128))]
struct Shard(RwLock<HashTable<SlotRef>>);

/// Where a token hash is looked up: its first 8 bytes pick the bucket (the digest is
/// uniform already, so no hasher runs) and byte 8 the shard.
fn bucket_of(hash: &IndexedHash) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    u64::from_le_bytes(first)
}

fn shard_of(hash: &IndexedHash) -> usize {
    usize::from(hash[8]) % SHARDS
}

/// What [`TokenIndex::apply`] did with a token's version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The token was not in the index.
    New,
    /// It replaced an older version.
    Replaced,
    /// The index held this version or a newer one: nothing changed.
    Stale,
}

/// Every token of the deployment, in memory.
pub struct TokenIndex {
    by_hash: Box<[Shard]>,
    by_id: RwLock<HashTable<SlotRef>>,
    /// Ids are chosen by the server but looked up from requests: a keyed hasher.
    id_hasher: RandomState,
    children: RwLock<HashMap<CompactString, Vec<SlotRef>>>,
    /// Each owner's tokens, for the per-owner quota: one pointer per owned token.
    owned: RwLock<HashMap<CompactString, Vec<SlotRef>>>,
    families: Families,
    tree_locks: spend::TreeLocks,
    catalogue: ScopeCatalogue,
    /// Tokens used since the last usage flush.
    dirty: Mutex<Vec<SlotRef>>,
    /// Where tokens were first used from since the last usage flush.
    clients: Mutex<HashMap<CompactString, std::net::IpAddr>>,
    /// The secrets rotated tokens had before.
    retired: retired::Retired,
    /// Refusals since the last usage flush, per token (allowed uses are counted in
    /// the slot itself).
    refusals: spend::Refusals,
}

impl TokenIndex {
    pub fn new(catalogue: ScopeCatalogue, changes: Vec<Change>) -> Self {
        let mut index = Self {
            by_hash: (0..SHARDS)
                .map(|_| Shard(RwLock::new(HashTable::new())))
                .collect(),
            by_id: RwLock::new(HashTable::new()),
            id_hasher: RandomState::new(),
            children: RwLock::new(HashMap::new()),
            owned: RwLock::new(HashMap::new()),
            families: Families::default(),
            tree_locks: spend::TreeLocks::default(),
            catalogue,
            dirty: Mutex::new(Vec::new()),
            clients: Mutex::new(HashMap::new()),
            retired: retired::Retired::default(),
            refusals: spend::Refusals::default(),
        };
        index.reserve(changes.len());
        for change in changes {
            index.apply(change.seq, change.record);
        }
        // Tokens load in the order of their last change, not of their creation: put
        // each parent's children back in creation order (see `sibling_of`). Most
        // are in order already, which one pass tells.
        for siblings in index.children.get_mut().values_mut() {
            if !siblings.is_sorted_by_key(|s| s.created_at) {
                siblings.sort_by_cached_key(|s| s.created_at);
            }
        }
        index
    }

    /// Makes room for `tokens` more without growing a table on the way: a table
    /// that grows leaves its old, smaller copy behind, which the allocator takes a
    /// while to give back (the memory run measures such copies: BENCHMARKS.md).
    pub fn reserve(&self, tokens: usize) {
        self.by_id
            .write()
            .reserve(tokens, |s| self.id_bucket(s.id()));
        // Tokens spread evenly over the shards; an eighth more for the unevenness.
        let per_shard = tokens / SHARDS + tokens / SHARDS / 8;
        for shard in &self.by_hash {
            shard.0.write().reserve(per_shard, |s| bucket_of(&s.hash));
        }
    }

    pub fn catalogue(&self) -> &ScopeCatalogue {
        &self.catalogue
    }

    /// The tokens that stopped working (revoked, or expired) before `cutoff_ms`.
    /// Reads one hash shard at a time, each under its own read
    /// lock for a sixty-fourth of the index, so checks go on and writes wait at most
    /// that long.
    pub fn dead_before(&self, cutoff_ms: i64) -> Vec<SlotRef> {
        let mut dead = Vec::new();
        for shard in self.by_hash.iter() {
            dead.extend(
                shard
                    .0
                    .read()
                    .iter()
                    .filter(|slot| slot.dead_since().is_some_and(|at| at < cutoff_ms))
                    .cloned(),
            );
        }
        dead
    }

    /// Tokens not revoked whose expiry falls from `from_ms` to `to_ms`: those an
    /// expiry notice may be due for. A shard at a time, as [`TokenIndex::dead_before`].
    pub fn expiring_between(&self, from_ms: i64, to_ms: i64) -> Vec<SlotRef> {
        let mut found = Vec::new();
        for shard in self.by_hash.iter() {
            found.extend(
                shard
                    .0
                    .read()
                    .iter()
                    .filter(|slot| !slot.is_revoked())
                    .filter(|slot| {
                        slot.expires_at()
                            .is_some_and(|at| (from_ms..=to_ms).contains(&at))
                    })
                    .cloned(),
            );
        }
        found
    }

    /// Takes these tokens out of the lookup tables (by id, by hash, retired
    /// secrets) if the version the index holds now is dead since before
    /// `cutoff_ms` (an edit may have given an expired token a new expiry since it
    /// was found). Returns how many went. The locks are taken in `apply`'s order,
    /// once for the batch: a caller keeps batches small, so that writes wait
    /// little. The per-maker and per-owner lists follow in [`TokenIndex::prune`].
    pub fn remove_dead(&self, slots: &[SlotRef], cutoff_ms: i64) -> usize {
        let dead = |slot: &SlotRef| slot.dead_since().is_some_and(|at| at < cutoff_ms);
        let mut ids = self.by_id.write();
        let mut removed = 0;
        for slot in slots {
            let Ok(entry) = ids.find_entry(self.id_bucket(slot.id()), |s| s.id() == slot.id())
            else {
                continue;
            };
            let held = SlotRef::clone(entry.get());
            // An admin token stays (a replaced one still made the tokens below it),
            // and so does a maker while tokens made through it are in the index:
            // an edit of one is bounded by its maker.
            if !dead(&held)
                || held.is_admin()
                || self
                    .children
                    .read()
                    .get(held.id())
                    .is_some_and(|c| !c.is_empty())
            {
                continue;
            }
            entry.remove();
            if let Ok(entry) = self.by_hash[shard_of(&held.hash)]
                .0
                .write()
                .find_entry(bucket_of(&held.hash), |s| SlotRef::ptr_eq(s, &held))
            {
                entry.remove();
            }
            self.retired.replace(held.id(), &[]);
            removed += 1;
        }
        removed
    }

    /// Drops tokens dead since before `cutoff_ms` from the per-maker and per-owner
    /// lists, one list at a time (one maker's list under the lock at once), and
    /// gives the tables' room back once most of it is empty. After a purge's
    /// [`TokenIndex::remove_dead`]: a list holds each token's current version, so
    /// what it drops is what those took out.
    /// Returns the longest a lock was held for it.
    pub fn prune(&self, cutoff_ms: i64) -> std::time::Duration {
        let mut longest = std::time::Duration::ZERO;
        let dead = |slot: &SlotRef| slot.dead_since().is_some_and(|at| at < cutoff_ms);
        // A list is pruned a window at a time, each under the lock for a moment
        // (the window, and one move of what follows it): one maker may have
        // millions of tokens. Between windows `apply` may replace an entry in
        // place or push a new one at the end; neither moves what is left to do.
        const WINDOW: usize = 65_536;
        let mut prune = |lists: &RwLock<HashMap<CompactString, Vec<SlotRef>>>| {
            let keys: Vec<CompactString> = lists.read().keys().cloned().collect();
            for key in keys {
                let mut at = 0;
                loop {
                    let mut lists = lists.write();
                    let held = std::time::Instant::now();
                    let Some(list) = lists.get_mut(&key) else {
                        break;
                    };
                    // The list may have shrunk since the last window (an owner changed).
                    at = at.min(list.len());
                    let end = list.len().min(at + WINDOW);
                    if list[at..end].iter().any(dead) {
                        let kept: Vec<SlotRef> =
                            list[at..end].iter().filter(|s| !dead(s)).cloned().collect();
                        let next = at + kept.len();
                        list.splice(at..end, kept);
                        at = next;
                    } else {
                        at = end;
                    }
                    if at < list.len() {
                        longest = longest.max(held.elapsed());
                        continue;
                    }
                    if list.is_empty() {
                        lists.remove(&key);
                    } else if list.len() * 4 < list.capacity() {
                        list.shrink_to_fit();
                    }
                    longest = longest.max(held.elapsed());
                    break;
                }
            }
            let mut lists = lists.write();
            if lists.len() * 4 < lists.capacity() {
                lists.shrink_to_fit();
            }
        };
        prune(&self.children);
        prune(&self.owned);
        {
            let mut ids = self.by_id.write();
            if ids.len() * 4 < ids.capacity() {
                ids.shrink_to_fit(|s| self.id_bucket(s.id()));
            }
        }
        for shard in self.by_hash.iter() {
            let mut table = shard.0.write();
            if table.len() * 4 < table.capacity() {
                table.shrink_to_fit(|s| bucket_of(&s.hash));
            }
        }
        longest
    }

    /// How many tokens of the index are in each status at `now_ms`: active,
    /// pending, expired, revoked. Walks the index a hash shard at a time (a
    /// scrape's cost, not a check's; writers wait at most one shard's walk): a
    /// status changes with the clock, so no running count stays true.
    pub fn count_by_status(&self, now_ms: i64) -> [(Status, u64); 4] {
        let mut counts = [
            (Status::Active, 0),
            (Status::Pending, 0),
            (Status::Expired, 0),
            (Status::Revoked, 0),
        ];
        for slot in self
            .by_hash
            .iter()
            .flat_map(|shard| shard.0.read().iter().cloned().collect::<Vec<_>>())
        {
            let status = if slot.is_revoked() {
                Status::Revoked
            } else if slot.expires_at != slot::NEVER && slot.expires_at <= now_ms {
                Status::Expired
            } else if slot.not_before().is_some_and(|at| at > now_ms) {
                Status::Pending
            } else {
                Status::Active
            };
            if let Some((_, count)) = counts.iter_mut().find(|(s, _)| *s == status) {
                *count += 1;
            }
        }
        counts
    }

    pub fn len(&self) -> usize {
        self.by_id.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The slot of `record` as the write numbered `seq` left it, with fresh counters.
    fn slot_for(&self, record: TokenRecord, seq: ChangeSeq) -> Slot {
        let grant = if record.is_admin {
            Grant::unlimited(&self.catalogue)
        } else {
            Grant::of(&record.settings, &self.catalogue)
        };
        let settings = &record.settings;
        let granted = match &settings.scopes {
            ScopeGrant::Patterns(patterns) => GrantedScopes::Patterns(patterns.join(" ").into()),
            ScopeGrant::Access(access) => GrantedScopes::Access(*access),
        };
        let family = self.families.intern(Family {
            scopes: grant.scopes.clone(),
            rate_limit: grant.rate_limit,
            granted,
            rate_profile: settings
                .rate_limit
                .as_ref()
                .and_then(|limit| limit.profile.as_deref())
                .map(Box::from),
            is_admin: record.is_admin,
            parent: record.parent_id.as_deref().map(CompactString::new),
            max_descendants: settings.max_descendants,
            networks: grant.networks.clone(),
        });
        Slot::new(record, &grant, family, seq)
    }

    fn id_bucket(&self, id: &str) -> u64 {
        self.id_hasher.hash_one(id)
    }

    /// Brings in a token as the write numbered `seq` left it: adds it if it is new,
    /// else swaps in its next version (see `Slot::carry_over`) unless the index
    /// already holds a newer one. A token's hash never changes, so an edit keeps the
    /// slot under the same key of the hash table.
    ///
    /// Locks are taken in one order, ids then a hash shard then children then
    /// owners, and the ids lock is held throughout, so two writers bringing in the
    /// same token cannot interleave. A rotation changes a token's hash: its slot
    /// moves to the new key, and the secrets it had go to the retired table.
    pub fn apply(&self, seq: ChangeSeq, mut record: TokenRecord) -> Applied {
        let id_bucket = self.id_bucket(&record.id);
        let previous_secrets = std::mem::take(&mut record.previous_secrets);
        let mut slot = SlotRef::new(self.slot_for(record, seq));
        let mut ids = self.by_id.write();
        if let Some(held) = ids.find_mut(id_bucket, |s| s.id() == slot.id()) {
            if held.seq >= seq {
                return Applied::Stale;
            }
            let previous = SlotRef::clone(held);
            // Not shared yet: only this writer holds it.
            if let Some(unshared) = SlotRef::get_mut(&mut slot) {
                unshared.adopt_balance(&previous);
            }
            slot.carry_over(&previous);
            *held = SlotRef::clone(&slot);
            self.retired.replace(slot.id(), &previous_secrets);
            if previous.hash == slot.hash {
                if let Some(held) = self.by_hash[shard_of(&previous.hash)]
                    .0
                    .write()
                    .find_mut(bucket_of(&previous.hash), |s| SlotRef::ptr_eq(s, &previous))
                {
                    *held = SlotRef::clone(&slot);
                }
            } else {
                self.rekey(&previous, &slot);
            }
            if let Some(parent) = slot.parent_id()
                && let Some(siblings) = self.children.write().get_mut(parent)
                && let Some(held) = sibling_of(siblings, &previous)
            {
                *held = SlotRef::clone(&slot);
            }
            self.move_owned(&previous, slot);
            return Applied::Replaced;
        }
        self.retired.replace(slot.id(), &previous_secrets);
        ids.insert_unique(id_bucket, SlotRef::clone(&slot), |s| self.id_bucket(s.id()));
        self.by_hash[shard_of(&slot.hash)].0.write().insert_unique(
            bucket_of(&slot.hash),
            SlotRef::clone(&slot),
            |s| bucket_of(&s.hash),
        );
        if let Some(parent) = slot.parent_id() {
            let parent = CompactString::new(parent);
            self.children
                .write()
                .entry(parent)
                .or_default()
                .push(SlotRef::clone(&slot));
        }
        if let Some(owner) = slot.owner() {
            let owner = CompactString::new(owner);
            self.owned.write().entry(owner).or_default().push(slot);
        }
        Applied::New
    }

    /// Moves a rotated token from its old hash's place to its new one's.
    fn rekey(&self, previous: &SlotRef, slot: &SlotRef) {
        if let Ok(entry) = self.by_hash[shard_of(&previous.hash)]
            .0
            .write()
            .find_entry(bucket_of(&previous.hash), |s| SlotRef::ptr_eq(s, previous))
        {
            entry.remove();
        }
        self.by_hash[shard_of(&slot.hash)].0.write().insert_unique(
            bucket_of(&slot.hash),
            SlotRef::clone(slot),
            |s| bucket_of(&s.hash),
        );
    }

    /// The retired secret `hash` is, if a rotated token had it.
    pub fn retired(&self, hash: &TokenHash) -> Option<RetiredSecret> {
        self.retired.find(hash)
    }

    /// Puts `slot`, the next version of `previous`, where its owner's tokens are.
    fn move_owned(&self, previous: &SlotRef, slot: SlotRef) {
        let mut owned = self.owned.write();
        if let Some(owner) = previous.owner()
            && let Some(tokens) = owned.get_mut(owner)
            && let Some(at) = tokens.iter().position(|s| SlotRef::ptr_eq(s, previous))
        {
            if slot.owner() == Some(owner) {
                tokens[at] = slot;
                return;
            }
            tokens.swap_remove(at);
            if tokens.is_empty() {
                owned.remove(owner);
            }
        }
        if let Some(owner) = slot.owner() {
            owned
                .entry(CompactString::new(owner))
                .or_default()
                .push(slot);
        }
    }

    /// How many of `owner`'s tokens are live at `now_ms` (neither revoked nor
    /// expired; one not valid yet counts, as it will be).
    pub fn live_owned_by(&self, owner: &str, now_ms: i64) -> usize {
        self.owned.read().get(owner).map_or(0, |tokens| {
            tokens.iter().filter(|s| s.is_live(now_ms)).count()
        })
    }

    /// How many tokens created through `id`, directly or further down, are live at
    /// `now_ms`. Walks the subtree: a quota keeps it small.
    pub fn live_descendants(&self, id: &str, now_ms: i64) -> usize {
        self.descendants(id)
            .iter()
            .filter(|s| s.is_live(now_ms))
            .count()
    }

    /// The newest version of `slot`'s token: the one a request that started before
    /// an edit should judge the caller by now.
    pub fn current(&self, slot: &SlotRef) -> SlotRef {
        self.by_id(slot.id())
            .unwrap_or_else(|| SlotRef::clone(slot))
    }

    pub fn by_id(&self, id: &str) -> Option<SlotRef> {
        self.by_id
            .read()
            .find(self.id_bucket(id), |s| s.id() == id)
            .cloned()
    }

    pub fn by_hash(&self, hash: &TokenHash) -> Option<SlotRef> {
        let hash = indexed(hash);
        self.by_hash[shard_of(&hash)]
            .0
            .read()
            .find(bucket_of(&hash), |s| bool::from(s.hash.ct_eq(&hash)))
            .cloned()
    }

    /// Tokens made by no other token: admin tokens. A full scan, for rare admin work.
    pub fn root_slots(&self) -> Vec<SlotRef> {
        self.by_id
            .read()
            .iter()
            .filter(|slot| slot.parent_id().is_none())
            .cloned()
            .collect()
    }

    /// Every token created through `id`, directly or further down.
    pub fn descendants(&self, id: &str) -> Vec<SlotRef> {
        // Read before taking `children`: `apply` locks ids first, then children.
        let most = self.len();
        let children = self.children.read();
        let mut found: Vec<SlotRef> = Vec::new();
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
        self.by_id(id).is_some_and(|slot| {
            self.lineage(slot)
                .skip(1)
                .any(|maker| maker.id() == ancestor)
        })
    }

    /// `slot`, then the token that made it, and so on up to a token no other made,
    /// each as the index holds it now. A chain longer than the index would be a
    /// cycle in stored parents: it stops there rather than loop.
    pub fn lineage(&self, slot: SlotRef) -> impl Iterator<Item = SlotRef> + '_ {
        std::iter::successors(Some(slot), |link| {
            link.parent_id().and_then(|parent| self.by_id(parent))
        })
        .take(self.len() + 1)
    }
}

/// Where `slot` sits among its siblings. They are pushed as they are created (and
/// put back in that order at start-up), so their creation times ascend and a binary
/// search finds the few created in the same millisecond: an edit of one of a million
/// tokens made by one manager need not scan the million. Where the order breaks (a
/// clock stepped back between two creations, or a follower caught up in the order
/// of last changes), the whole list is scanned instead.
fn sibling_of<'a>(siblings: &'a mut [SlotRef], slot: &SlotRef) -> Option<&'a mut SlotRef> {
    let created = slot.created_at;
    let from = siblings.partition_point(|s| s.created_at < created);
    let found = siblings[from..]
        .iter()
        .take_while(|s| s.created_at == created)
        .position(|s| SlotRef::ptr_eq(s, slot))
        .map(|at| from + at)
        .or_else(|| siblings.iter().position(|s| SlotRef::ptr_eq(s, slot)));
    found.map(|at| &mut siblings[at])
}

#[cfg(test)]
mod tests {
    use super::slot::Texts;
    use super::*;
    use tessera_core::record::Settings;
    use tessera_core::resource::ResourceScope;
    use tessera_core::resource::Resources;
    use tessera_core::token::SecretToken;
    use tessera_core::token::{Pepper, TokenHasher, TokenPrefix};
    use tessera_core::verify::{self, Requirement};

    fn record(id: &str, parent: Option<&str>, hasher: &TokenHasher) -> (TokenRecord, SecretToken) {
        let secret = SecretToken::generate(&TokenPrefix::default());
        let record = TokenRecord {
            id: id.to_owned(),
            hash: hasher.hash(&secret),
            start: secret.start(),
            is_admin: false,
            settings: Settings {
                name: format!("token {id}").as_str().try_into().unwrap(),
                description: None,
                scopes: ScopeGrant::Patterns(vec!["repo:read".into()]),
                resources: ResourceScope::parse(Some(&["repo:a".into()])).unwrap(),
                ..Settings::default()
            },
            parent_id: parent.map(str::to_owned),
            created_at: 1,
            updated_at: 1,
            revoked_at: None,
            last_used_at: None,
            last_used_ip: None,
            use_count: 0,
            previous_secrets: Vec::new(),
            credits_balance: None,
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
    fn every_token_is_found_as_the_tables_grow_and_strangers_are_not() {
        let (index, hasher) = index();
        let secrets: Vec<SecretToken> = (0..3_000)
            .map(|i| {
                let (record, secret) = record(&format!("tok_{i}"), None, &hasher);
                index.apply(1, record);
                secret
            })
            .collect();
        for (i, secret) in secrets.iter().enumerate() {
            let found = index
                .by_hash(&hasher.hash(secret))
                .map(|s| s.id().to_owned());
            assert_eq!(found, Some(format!("tok_{i}")));
        }
        for _ in 0..1_000 {
            let (_, stranger) = record("tok_none", None, &hasher);
            assert!(index.by_hash(&hasher.hash(&stranger)).is_none());
        }
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
    fn a_rotation_moves_the_token_to_its_new_hash_and_retires_the_old_one() {
        let (index, hasher) = index();
        let (record, old) = record("tok_r", None, &hasher);
        index.apply(1, record.clone());
        let new = SecretToken::generate(&TokenPrefix::default());
        let rotated = record.rotated(hasher.hash(&new), new.start(), 60_000, 1_000);
        assert_eq!(index.apply(2, rotated), Applied::Replaced);
        assert!(index.by_hash(&hasher.hash(&old)).is_none());
        assert_eq!(index.by_hash(&hasher.hash(&new)).map(|s| s.seq), Some(2));
        let retired = index.retired(&hasher.hash(&old)).expect("retired");
        assert_eq!(
            (retired.token_id.as_str(), retired.valid_until),
            ("tok_r", 61_000)
        );
        assert!(index.retired(&hasher.hash(&new)).is_none());
        assert_eq!(index.len(), 1);
    }

    #[test]
    fn a_newer_snapshot_wins_whichever_arrives_first() {
        let name_of = |index: &TokenIndex| index.by_id("tok_x").map(|s| s.name().to_owned());
        let (index, hasher) = index();
        let (older, _) = record("tok_x", None, &hasher);
        let mut newer = older.clone();
        newer.settings.name = "renamed".try_into().unwrap();
        assert_eq!(index.apply(5, newer.clone()), Applied::New);
        assert_eq!(index.apply(3, older.clone()), Applied::Stale);
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
    fn an_edit_replaces_the_right_sibling_even_after_a_clock_step_back() {
        let (index, hasher) = index();
        index.apply(1, record("tok_root", None, &hasher).0);
        // Created at 5, 3 (the clock stepped back), 5, 5 and 9 milliseconds.
        let mut children = Vec::new();
        for (i, created_at) in [5, 3, 5, 5, 9].into_iter().enumerate() {
            let mut child = record(&format!("tok_{i}"), Some("tok_root"), &hasher).0;
            child.created_at = created_at;
            index.apply(2 + i as ChangeSeq, child.clone());
            children.push(child);
        }
        for (i, child) in children.iter_mut().enumerate() {
            child.settings.name = format!("edited {i}").as_str().try_into().unwrap();
            index.apply(10 + i as ChangeSeq, child.clone());
        }
        let siblings = index.descendants("tok_root");
        assert_eq!(siblings.len(), 5);
        for sibling in &siblings {
            let current = index.by_id(sibling.id()).expect("indexed");
            assert!(SlotRef::ptr_eq(sibling, &current), "{}", sibling.id());
            assert!(sibling.name().starts_with("edited"));
        }
    }

    #[test]
    fn siblings_loaded_in_change_order_are_put_in_creation_order() {
        let hasher = TokenHasher::new(&Pepper::generate());
        let mut changes = vec![Change {
            seq: 1,
            record: record("tok_root", None, &hasher).0,
        }];
        // The one created first was changed last.
        for (seq, created_at) in [(2, 20), (3, 30), (4, 10)] {
            let mut child = record(&format!("tok_{created_at}"), Some("tok_root"), &hasher).0;
            child.created_at = created_at;
            changes.push(Change { seq, record: child });
        }
        let index = TokenIndex::new(ScopeCatalogue::default_catalogue(), changes);
        let order: Vec<i64> = index
            .descendants("tok_root")
            .iter()
            .map(|s| s.created_at())
            .collect();
        assert_eq!(order, [10, 20, 30]);
    }

    #[test]
    fn families_no_token_holds_are_swept() {
        let (index, hasher) = index();
        let limited = |record: &mut TokenRecord, per_minute: u32| {
            record.settings.rate_limit = Some(tessera_core::record::RateLimitSetting {
                profile: None,
                per_minute,
                burst: 1,
            });
        };
        // 3,000 tokens of 3,000 families, then every one edited into the same family.
        let mut records: Vec<TokenRecord> = (0..3000)
            .map(|i| record(&format!("tok_{i}"), None, &hasher).0)
            .collect();
        for (i, record) in records.iter_mut().enumerate() {
            limited(record, u32::try_from(i).unwrap() + 1);
            index.apply(1, record.clone());
        }
        assert_eq!(index.families.len(), 3000);
        for record in &mut records {
            limited(record, 1_000_000);
            index.apply(2, record.clone());
        }
        // The 3,000 left behind go at the sweep of the first insertion into a set of
        // 4,096: what stays is the shared family and the 1,096 new ones.
        assert_eq!(index.families.len(), 3001);
        for i in 0..1096 {
            let mut new = record(&format!("tok_new_{i}"), None, &hasher).0;
            limited(&mut new, 2_000_000 + i);
            index.apply(3, new);
        }
        assert_eq!(index.families.len(), 1097);
        let shared = index.by_id("tok_0").and_then(|slot| slot.rate_limit());
        assert_eq!(shared.map(|limit| limit.per_minute), Some(1_000_000));
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
            let admission = verify::admit(
                slot.powers(),
                slot.is_revoked(),
                &Requirement::default(),
                1_000,
            );
            index
                .check_admitted(slot, admission, 1_000, Some(1))
                .verdict
                .code
        };
        assert_eq!(check(&index), verify::Code::Valid);
        let before = index.by_id("tok_child").expect("indexed");

        child.settings.name = "renamed".try_into().unwrap();
        index.apply(3, child);
        let after = index.by_id("tok_child").expect("indexed");
        assert_eq!(after.name(), "renamed");
        assert!(SlotRef::ptr_eq(&index.current(&before), &after));
        assert!(SlotRef::ptr_eq(
            &index.by_hash(&hasher.hash(&secret)).expect("indexed"),
            &after
        ));
        assert!(SlotRef::ptr_eq(&index.descendants("tok_root")[0], &after));
        // The budget stays spent; the use waits to be written from the version
        // that counted it.
        assert_eq!(check(&index), verify::Code::RateLimited);
        assert_eq!((before.pending().0, after.pending().0), (1, 0));
        assert!(
            index
                .take_dirty()
                .iter()
                .any(|s| SlotRef::ptr_eq(s, &before))
        );
    }

    #[test]
    fn texts_come_back_as_written_inline_or_not() {
        let long = "n".repeat(300);
        for (id, name, owner, resources) in [
            (
                "tok_a",
                "short",
                Some("user_1"),
                Resources::Only("repo:a app:*"),
            ),
            ("tok_b", long.as_str(), None, Resources::All),
            ("tok_c", "", Some(""), Resources::Only("")),
            (
                "tok_d",
                "ünïcødé",
                Some(long.as_str()),
                Resources::Only("repo:x"),
            ),
        ] {
            let texts = Texts::new(id, name, owner, resources);
            assert_eq!(
                (texts.id(), texts.name(), texts.owner(), texts.resources()),
                (id, name, owner, resources)
            );
        }
    }
}
