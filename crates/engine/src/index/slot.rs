//! One token in the index ([`Slot`]): what a verification decides on and answers
//! with, packed into one allocator block, and its live counters.

use std::sync::Arc;

use parking_lot::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use smallvec::SmallVec;
use tessera_core::grant::{Grant, Powers};
use tessera_core::ratelimit::RateLimit;
use tessera_core::record::{CreditsBalance, TokenRecord};
use tessera_core::resource::Resources;
use tessera_core::token::TokenHash;
use tessera_core::usage::{self, Balance, Caps, Left};
use tessera_core::verify::Verdict;
use tessera_store::ChangeSeq;

use super::family::{Family, GrantedScopes};

/// A handle on one version of a token in the index. `triomphe`'s `Arc` has no weak
/// count: its header is 8 bytes where std's takes 16 (see [`Slot`] for why they count).
pub type SlotRef = triomphe::Arc<Slot>;

/// A token's own texts, packed into one buffer: its id, name, owner and resource
/// patterns (joined by spaces). Inline up to 80 bytes, as realistic ones are
/// (`tok_…` 20, a name 20 to 30, an owner 10 to 20, one resource 20), else on the
/// heap; one buffer instead of four strings saves three lengths and three
/// capacities, which at 10M tokens is a quarter of a gigabyte.
pub(super) struct Texts {
    bytes: SmallVec<[u8; 80]>,
    /// Where the id, the name and the owner end in `bytes`; the patterns run to the
    /// end. Validated settings keep these far below `u16::MAX` (see `Texts::clip`).
    ends: [u16; 3],
    flags: u8,
}

impl Texts {
    const HAS_OWNER: u8 = 1;
    const ALL_RESOURCES: u8 = 2;
    /// The slot's [`Extras`] hold a `not_before`: read here, beside the resources a
    /// check reads anyway, so that a token with only `meta` costs a check no visit
    /// to its box.
    const HAS_NOT_BEFORE: u8 = 4;
    /// The token's `meta` is too long for the index and is read from the store: a
    /// flag, not an extras box, so that such a token costs nothing more here.
    const META_IN_STORE: u8 = 8;
    /// The slot's [`Extras`] hold usage caps: a check spends from them.
    const HAS_CAPS: u8 = 16;
    /// Longest id, name or owner kept: far beyond what validation lets through, so
    /// it never cuts a real one, and the ends always fit a `u16`.
    const MOST: usize = 16_000;

    pub(super) fn new(id: &str, name: &str, owner: Option<&str>, resources: Resources<'_>) -> Self {
        let patterns = match resources {
            Resources::All => "",
            Resources::Only(joined) => joined,
        };
        let (id, name, owner_text) = (
            Self::clip(id),
            Self::clip(name),
            Self::clip(owner.unwrap_or_default()),
        );
        let mut bytes = SmallVec::new();
        let mut ends = [0u16; 3];
        for (end, text) in ends.iter_mut().zip([id, name, owner_text]) {
            bytes.extend_from_slice(text.as_bytes());
            *end = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
        }
        bytes.extend_from_slice(patterns.as_bytes());
        let mut flags = 0;
        if owner.is_some() {
            flags |= Self::HAS_OWNER;
        }
        if resources == Resources::All {
            flags |= Self::ALL_RESOURCES;
        }
        Self { bytes, ends, flags }
    }

    /// Notes what the slot's extras hold that a check reads, from the extras
    /// themselves, so that the two cannot disagree.
    pub(super) fn flag_extras(mut self, extras: Option<&Extras>, meta_in_store: bool) -> Self {
        if extras.is_some_and(|extras| extras.not_before.is_some()) {
            self.flags |= Self::HAS_NOT_BEFORE;
        }
        if extras.is_some_and(|extras| extras.caps.is_some()) {
            self.flags |= Self::HAS_CAPS;
        }
        if meta_in_store {
            self.flags |= Self::META_IN_STORE;
        }
        self
    }

    fn meta_in_store(&self) -> bool {
        self.flags & Self::META_IN_STORE != 0
    }

    fn has_not_before(&self) -> bool {
        self.flags & Self::HAS_NOT_BEFORE != 0
    }

    fn has_caps(&self) -> bool {
        self.flags & Self::HAS_CAPS != 0
    }

    fn clip(text: &str) -> &str {
        if text.len() <= Self::MOST {
            return text;
        }
        let mut end = Self::MOST;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        &text[..end]
    }

    /// The text between two ends: whole strings were written there, so it is UTF-8.
    fn between(&self, from: u16, to: Option<u16>) -> &str {
        let bytes = match to {
            Some(to) => self.bytes.get(usize::from(from)..usize::from(to)),
            None => self.bytes.get(usize::from(from)..),
        };
        bytes
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default()
    }

    pub(super) fn id(&self) -> &str {
        self.between(0, Some(self.ends[0]))
    }

    pub(super) fn name(&self) -> &str {
        self.between(self.ends[0], Some(self.ends[1]))
    }

    pub(super) fn owner(&self) -> Option<&str> {
        (self.flags & Self::HAS_OWNER != 0).then(|| self.between(self.ends[1], Some(self.ends[2])))
    }

    pub(super) fn resources(&self) -> Resources<'_> {
        if self.flags & Self::ALL_RESOURCES != 0 {
            Resources::All
        } else {
            Resources::Only(self.between(self.ends[2], None))
        }
    }
}

/// The part of a token's hash the index keeps and looks up by: 96 bits, as HMAC
/// truncated for IPsec and TLS. Finding a token by another's 96 bits would take
/// some 2^96 guesses at an HMAC under a key the guesser does not know (and the
/// token checksum refuses random ones before any lookup); the rest of the digest
/// would add nothing but 20 bytes a token.
pub(super) type IndexedHash = [u8; 12];

pub(super) fn indexed(hash: &TokenHash) -> IndexedHash {
    let mut kept = [0u8; 12];
    kept.copy_from_slice(&hash.0[..12]);
    kept
}

/// `expires_at` of a token that never expires, and `revoked_at` of one not revoked:
/// an `Option<i64>` would take 16 bytes where these take 8.
pub(super) const NEVER: i64 = i64::MAX;
const NOT_REVOKED: i64 = i64::MIN;

/// One token in the index, as the write numbered `seq` left it: what a verification
/// decides on and answers with, and its live counters. Description, `start`,
/// timestamps other than creation and usage totals live in the store (see
/// `Engine::record`).
///
/// Sized to make, with [`SlotRef`]'s 8-byte count, a 184-byte request, which
/// mimalloc serves from a smaller size class than 192 (BENCHMARKS.md, "Why 184
/// bytes and not 192", gives the memory of each).
/// Laid out in declaration order (`repr(C)`): what every check reads and writes
/// comes first, in the block's first cache line; what answers and the API read
/// follows. At a million tokens and more a slot is rarely in cache, and each line
/// is a miss.
///
/// An edit builds a new slot and swaps it into the tables; the rate-limit state
/// carries over (see `Slot::carry_over`).
#[repr(C)]
pub struct Slot {
    pub(super) hash: IndexedHash,
    /// Uses not yet written to the store; the store holds the rest. The usage
    /// writer empties it every period, long before one token could be used 2^32
    /// times; if it ever were, the count stops there (see `TokenIndex::count_use`).
    pub(super) pending_uses: AtomicU32,
    /// GCRA theoretical arrival time, nanoseconds.
    pub(super) tat: AtomicU64,
    pub(super) expires_at: i64,
    pub(super) revoked_at: i64,
    pub(super) family: Arc<Family>,
    pub(super) seq: ChangeSeq,
    pub(super) created_at: i64,
    pub(super) last_used_at: AtomicI64,
    pub(super) extras: Option<Box<Extras>>,
    pub(super) texts: Texts,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 176);

impl Slot {
    /// The slot of `record` as the write numbered `seq` left it, with fresh
    /// counters: its powers compiled (`grant`) and shared with its family.
    pub(super) fn new(
        record: TokenRecord,
        grant: &Grant,
        family: Arc<Family>,
        seq: ChangeSeq,
    ) -> Self {
        let caps = settings_caps(&record);
        let settings = record.settings;
        let meta = settings.meta.map(IndexedMeta::of);
        let meta_in_store = matches!(meta, Some(IndexedMeta::InStore));
        let extras = Extras::of(meta.filter(|_| !meta_in_store), settings.not_before, caps);
        Self {
            hash: indexed(&record.hash),
            tat: AtomicU64::new(0),
            expires_at: grant.expires_at.unwrap_or(NEVER),
            revoked_at: record.revoked_at.unwrap_or(NOT_REVOKED),
            family,
            seq,
            created_at: record.created_at,
            last_used_at: AtomicI64::new(record.last_used_at.unwrap_or(0)),
            pending_uses: AtomicU32::new(0),
            texts: Texts::new(
                &record.id,
                &settings.name,
                settings.owner.as_deref(),
                grant.resources.view(),
            )
            .flag_extras(extras.as_deref(), meta_in_store),
            extras,
        }
    }

    /// The change number of the write this version of the token comes from. A slot
    /// held across an `await` may have been replaced since: [`TokenIndex::current`]
    /// gives the newest.
    pub fn seq(&self) -> ChangeSeq {
        self.seq
    }

    pub fn id(&self) -> &str {
        self.texts.id()
    }

    /// The token that created this one; `None` for admin tokens.
    pub fn parent_id(&self) -> Option<&str> {
        self.family.parent.as_deref()
    }

    pub fn name(&self) -> &str {
        self.texts.name()
    }

    /// How many live tokens may be made through this one; `None`: no bound of its own.
    pub fn max_descendants(&self) -> Option<u32> {
        self.family.max_descendants
    }

    pub fn owner(&self) -> Option<&str> {
        self.texts.owner()
    }

    pub fn meta(&self) -> Option<&IndexedMeta> {
        /// What every token whose `meta` is in the store answers.
        static IN_STORE: IndexedMeta = IndexedMeta::InStore;
        if self.texts.meta_in_store() {
            return Some(&IN_STORE);
        }
        self.extras.as_ref().and_then(|extras| extras.meta.as_ref())
    }

    /// Before this instant the token is not valid yet.
    pub fn not_before(&self) -> Option<i64> {
        if !self.texts.has_not_before() {
            return None;
        }
        self.extras.as_ref().and_then(|extras| extras.not_before)
    }

    /// The token's usage caps and their live balance, if it has any.
    pub fn caps(&self) -> Option<&CapsCell> {
        if !self.texts.has_caps() {
            return None;
        }
        self.extras.as_ref().and_then(|extras| extras.caps.as_ref())
    }

    /// Makes this slot, the next version of `previous`, keep the balance of its
    /// caps: the very same one while its credits are as they were (so that a check
    /// on the old version at the swap spends from it too, and nothing is over-spent),
    /// a fresh one from its new credits, with the uses so far, when an edit gave new
    /// ones. Called before the slot is shared.
    pub(super) fn adopt_balance(&mut self, previous: &Slot) {
        let Some(cell) = self.extras.as_mut().and_then(|extras| extras.caps.as_mut()) else {
            return;
        };
        let Some(before) = previous.caps() else {
            // Caps just set: the uses not yet written count too.
            let pending = u64::from(previous.pending_uses.load(Ordering::Acquire));
            let mut balance = cell.balance.lock();
            balance.uses = balance.uses.saturating_add(pending);
            return;
        };
        if before.caps.credits == cell.caps.credits {
            cell.balance = Arc::clone(&before.balance);
        } else {
            let uses = before.balance.lock().uses;
            *cell.balance.lock() = Balance::fresh(&cell.caps, uses);
        }
    }

    pub fn granted_scopes(&self) -> &GrantedScopes {
        &self.family.granted
    }

    /// The rate-limit profile the limit came from, if any.
    pub fn rate_profile(&self) -> Option<&str> {
        self.family.rate_profile.as_deref()
    }

    pub fn is_admin(&self) -> bool {
        self.family.is_admin
    }

    pub fn is_revoked(&self) -> bool {
        self.revoked_at != NOT_REVOKED
    }

    /// When it stops working, if it ever does: its revocation, or its expiry
    /// (whichever comes first; an expiry may still be ahead). Retention counts from
    /// there.
    pub fn dead_since(&self) -> Option<i64> {
        let revoked = self.is_revoked().then_some(self.revoked_at);
        let expired = (self.expires_at != NEVER).then_some(self.expires_at);
        match (revoked, expired) {
            (Some(revoked), Some(expired)) => Some(revoked.min(expired)),
            (revoked, expired) => revoked.or(expired),
        }
    }

    /// Neither revoked nor expired at `now_ms`: it holds a place in a quota.
    pub fn is_live(&self, now_ms: i64) -> bool {
        !self.is_revoked() && (self.expires_at == NEVER || self.expires_at > now_ms)
    }

    pub fn created_at(&self) -> i64 {
        self.created_at
    }

    /// When it expires, if it does.
    pub fn expires_at(&self) -> Option<i64> {
        (self.expires_at != NEVER).then_some(self.expires_at)
    }

    /// The token's rate limit, if it has one.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.family.rate_limit
    }

    /// What checks decide on, borrowed.
    pub fn powers(&self) -> Powers<'_> {
        Powers {
            scopes: &self.family.scopes,
            resources: self.texts.resources(),
            expires_at: (self.expires_at != NEVER).then_some(self.expires_at),
            not_before: self.not_before(),
            rate_limit: self.family.rate_limit,
            networks: &self.family.networks,
        }
    }

    /// Adds the uses not yet written to a stored record's counts. The caller holds
    /// off the usage writer (see `Engine::flush_usage`), so no use is counted twice.
    pub fn overlay_usage(&self, record: &mut TokenRecord) {
        record.use_count = record
            .use_count
            .saturating_add(u64::from(self.pending_uses.load(Ordering::Acquire)));
        let last = self.last_used_at.load(Ordering::Relaxed);
        if last > record.last_used_at.unwrap_or(0) {
            record.last_used_at = Some(last);
        }
        // The live balance, where it is of the record's credits.
        if let Some(cell) = self.caps()
            && let Some(given) = record.settings.credits
            && cell.caps.credits == Some(given)
        {
            let balance = *cell.balance.lock();
            record.credits_balance = Some(CreditsBalance {
                left: balance.credits_left,
                period: balance.period,
                of: given.set_at,
            });
        }
    }

    /// The uses not yet written, and when the last one was.
    pub fn pending(&self) -> (u64, i64) {
        (
            u64::from(self.pending_uses.load(Ordering::Acquire)),
            self.last_used_at.load(Ordering::Relaxed),
        )
    }

    /// Records that `uses` of the pending ones are written; returns how many are
    /// still pending (made meanwhile).
    pub fn mark_written(&self, uses: u64) -> u64 {
        let uses = u32::try_from(uses).unwrap_or(u32::MAX);
        u64::from(
            self.pending_uses
                .fetch_sub(uses, Ordering::AcqRel)
                .saturating_sub(uses),
        )
    }

    /// Makes this slot, the next version of `previous`, keep its rate-limit state
    /// and time of last use. A check that found the old version just before the
    /// swap still spends from the old state, so at most one request per core in
    /// flight at that instant goes uncounted against the limit.
    ///
    /// Unwritten uses stay with the version that counted them: it is queued for the
    /// usage writer, which writes them from there. Moving them could count them
    /// twice if a flush had already read them. Until that flush (one usage period),
    /// an answer about the new version shows the stored count without them.
    pub(super) fn carry_over(&self, previous: &Slot) {
        self.tat
            .store(previous.tat.load(Ordering::Acquire), Ordering::Release);
        self.last_used_at.fetch_max(
            previous.last_used_at.load(Ordering::Relaxed),
            Ordering::Relaxed,
        );
    }
}

/// What few tokens have, kept out of the slot so that the rest pay one pointer for
/// it: the slot is sized to the byte (see [`Slot`]).
pub(super) struct Extras {
    pub(super) meta: Option<IndexedMeta>,
    pub(super) not_before: Option<i64>,
    pub(super) caps: Option<CapsCell>,
}

impl Extras {
    /// The extras of a token that has any.
    pub(super) fn of(
        meta: Option<IndexedMeta>,
        not_before: Option<i64>,
        caps: Option<CapsCell>,
    ) -> Option<Box<Self>> {
        (meta.is_some() || not_before.is_some() || caps.is_some()).then(|| {
            Box::new(Self {
                meta,
                not_before,
                caps,
            })
        })
    }
}

/// A capped token's caps and their live balance: on one node the balance checks
/// spend from; in a cluster a copy of what Redis last answered, written to the
/// store with the usage and spent from while Redis is down (`redis_failure =
/// "open"`).
pub struct CapsCell {
    caps: Caps,
    balance: Arc<Mutex<Balance>>,
}

impl CapsCell {
    pub fn caps(&self) -> &Caps {
        &self.caps
    }

    /// Spends a use and `cost` credits at `now_ms` (see [`usage::spend`]).
    pub fn spend(&self, cost: u64, now_ms: i64) -> Result<Left, Left> {
        usage::spend(&self.caps, &mut self.balance.lock(), cost, now_ms)
    }

    /// The balance as it stands at `now_ms`.
    pub fn balance_at(&self, now_ms: i64) -> Balance {
        self.balance.lock().at(&self.caps, now_ms)
    }

    /// What is left at `now_ms`.
    pub fn left_at(&self, now_ms: i64) -> Left {
        self.balance_at(now_ms).left(&self.caps)
    }

    /// Takes the balance the cluster's shared counter answered with.
    pub fn adopt(&self, balance: Balance) {
        *self.balance.lock() = balance;
    }
}

/// The caps cell a record starts with, if it has caps.
fn settings_caps(record: &TokenRecord) -> Option<CapsCell> {
    let caps = record.settings.caps();
    (!caps.is_none()).then(|| CapsCell {
        caps,
        balance: Arc::new(Mutex::new(record.balance())),
    })
}

/// Longest `meta`, as JSON, that the index keeps. Most are a few ids or flags; a
/// longer one is read from the store when a verify answer shows it, so that what a
/// token costs in memory stays near the slot's size whatever its `meta` holds
/// (BENCHMARKS.md measures both).
pub const INLINE_META_BYTES: usize = 256;

/// A token's `meta` as the index keeps it.
pub enum IndexedMeta {
    /// The JSON text, ready to be written into an answer as it is.
    Inline(Box<RawValue>),
    /// Longer than [`INLINE_META_BYTES`]: in the store only.
    InStore,
}

impl IndexedMeta {
    fn of(meta: Map<String, Value>) -> Self {
        match serde_json::value::to_raw_value(&meta) {
            Ok(text) if text.get().len() <= INLINE_META_BYTES => Self::Inline(text),
            _ => Self::InStore,
        }
    }
}

/// The result of checking a token that is in the index: the version of the token
/// the verdict was reached on, and the verdict.
pub struct Checked {
    pub slot: SlotRef,
    pub verdict: Verdict,
    /// What a capped token has left after this request (or, refused for it, before).
    pub left: Option<Left>,
    /// This is the token's first allowed use since the last usage flush: the one
    /// whose client address is kept as where it was last used from (one address a
    /// second, not one per request: the hot path stores nothing more).
    pub first_use: bool,
}
