//! Durable storage for tessera, behind one trait.
//!
//! The store is the system of record; it is never on the verification path (that reads
//! the server's in-memory index). Each backend implements [`TokenStore`]; the service
//! decides *what* to write (what a token may be given) and the store writes it, durably
//! and atomically, before the call returns.
//!
//! Every write takes the next number of one gapless, commit-ordered change sequence and
//! stamps it on the rows it touched. That is the change feed: a node that has applied
//! everything up to `n` asks for the rows stamped after `n` and misses nothing, however
//! many notifications were lost on the way. Because writes are numbered in commit order,
//! the few rules that span tokens (a revoked parent makes no children, a revocation
//! reaches every descendant) are checked by the store itself, so two nodes writing at
//! once cannot slip past them.

use async_trait::async_trait;
use tessera_core::audit::{Event, Head};
use tessera_core::record::{CreditsBalance, Status, TokenRecord};
use tokio::sync::watch;

mod audit;
mod group;
mod postgres;
mod rows;
mod sqlite;
mod webhooks;

pub use audit::{AuditPage, AuditQuery};
pub use postgres::PostgresStore;
pub use postgres::tls::trusted_roots;
pub use sqlite::{SqliteStore, copy_database};
pub use webhooks::{Attempt, Delivery, DeliveryPage, DeliveryStatus, Endpoint, WebhookStore};

/// A write's place in the change feed: 1 for the first write, then one more each time.
pub type ChangeSeq = i64;

/// A token as it is after the write numbered `seq`, the last one to touch it.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub seq: ChangeSeq,
    pub record: TokenRecord,
}

/// Tokens read from the feed, and the sequence number they bring a reader up to.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub changes: Vec<Change>,
    /// The newest write the reader has now seen (every write up to it is included).
    pub up_to: ChangeSeq,
}

/// What the listening connection tells followers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FeedSignal {
    /// The newest change number announced.
    pub announced: ChangeSeq,
    /// Counts (re)connections: announcements made while disconnected were lost, so a
    /// new epoch means "catch up whatever was announced".
    pub epoch: u64,
}

/// What a cascading revocation did: the token and its descendants that were live, as
/// they are now (revoked by the write numbered `seq`).
#[derive(Clone, Debug, PartialEq)]
pub struct Revocation {
    pub seq: ChangeSeq,
    pub revoked: Vec<TokenRecord>,
}

impl Revocation {
    /// A write numbered `seq` that revoked nothing.
    pub(crate) fn new(seq: ChangeSeq) -> Self {
        Self {
            seq,
            revoked: Vec::new(),
        }
    }
}

/// What a write was decided on: the change numbers of the tokens the deciding node
/// read. A node's index may trail the store by a moment (a write made through another
/// node, or one of its own still being stored with its group); the store refuses the
/// write ([`StoreError::Stale`]) when any of these moved on since, so no write is
/// decided from an old copy (widen a child beyond a parent narrowed a moment ago, or
/// undo an edit made then).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Basis {
    /// The token's own number, for an edit.
    pub token: Option<ChangeSeq>,
    /// The parent's number: the bounds the token was checked against.
    pub parent: Option<ChangeSeq>,
    /// For an edit: the node knew every change up to this number, so no token created
    /// through this one may have a newer number (its bounds were not checked).
    pub children_known_up_to: Option<ChangeSeq>,
}

/// What the database's client said went wrong, kept whole (type and chain) for the
/// logs, where a string would keep only its words.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// An error and every error under it, in words: `a: b: c`. Some clients (such as
/// tokio-postgres) keep the database's own message in the source, not the top level.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut words = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let said = cause.to_string();
        // Errors that print their source already would say it twice.
        if !words.ends_with(&said) {
            words.push_str(": ");
            words.push_str(&said);
        }
        next = cause.source();
    }
    words
}

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is busy; the caller may retry later.
    #[error("the database is unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// A write conflicts with what is stored (a duplicate id or hash).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Stored data does not read back as a token; a bug or tampering.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The store was made with a different pepper, so every token would fail.
    #[error("{0}")]
    WrongPepper(String),
    /// A token the write depends on is revoked (by another node, a moment ago).
    #[error("{0}")]
    Revoked(String),
    /// A token the write was decided on has changed since (see [`Basis`]).
    #[error("{0}")]
    Stale(String),
    /// A value the database cannot hold (a NUL character in a text): the caller's fault.
    #[error("{0}")]
    Rejected(String),
}

/// Compares the pepper fingerprint a store was made with to the one a node runs with.
fn compare_pepper(stored: &str, running: &str) -> Result<(), StoreError> {
    if stored == running {
        return Ok(());
    }
    Err(StoreError::WrongPepper(
        "this store was created with a different pepper, so every token would be rejected: \
         supply the original pepper (config `pepper`, TESSERA_PEPPER or, for SQLite, the data \
         dir's `pepper` file); every node of a cluster needs the same one"
            .into(),
    ))
}

/// Filters and a page position for listing tokens.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    pub status: Option<Status>,
    /// Only tokens with exactly this owner.
    pub owner: Option<String>,
    /// Only tokens whose resource list names this resource, exactly or by `type:*`.
    pub resource: Option<String>,
    /// Only tokens whose name contains this, case-insensitively.
    pub name: Option<String>,
    /// Only tokens created through this token, directly or further down.
    pub descendants_of: Option<String>,
    /// Only live tokens that expire after `now_ms` and at most this many milliseconds
    /// later.
    pub expiring_within_ms: Option<i64>,
    /// At most this many (the caller bounds it).
    pub limit: u32,
    /// Continue after this cursor, from a previous page.
    pub after: Option<i64>,
    /// "Now", for telling expired from active.
    pub now_ms: i64,
}

/// One page of a listing, newest first.
#[derive(Clone, Debug)]
pub struct ListPage {
    pub tokens: Vec<TokenRecord>,
    /// Where the next page starts, if there is one.
    pub next_cursor: Option<i64>,
}

/// A token's answers in one hour (or, summed, one day): allowed, and refused for
/// lack of a scope or resource, by its rate limit, or by its usage caps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub valid: u64,
    pub forbidden: u64,
    pub rate_limited: u64,
    pub usage_exhausted: u64,
}

impl Tally {
    pub fn add(&mut self, other: &Tally) {
        self.valid += other.valid;
        self.forbidden += other.forbidden;
        self.rate_limited += other.rate_limited;
        self.usage_exhausted += other.usage_exhausted;
    }

    pub fn is_empty(&self) -> bool {
        *self == Tally::default()
    }
}

/// Usage counted in memory since the last flush, for one token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageUpdate {
    pub id: String,
    /// Allowed uses, added to the token's lifetime count; 0 for a token that was only
    /// refused (its last use stays as it was).
    pub uses: u64,
    pub last_used_at: i64,
    /// Where the token was used from, when the node knew (see
    /// `TokenRecord::last_used_ip`); `None` keeps the address stored.
    pub last_client: Option<std::net::IpAddr>,
    /// The answers to add to the token's count for `hour` (hours since 1970).
    pub tally: Tally,
    pub hour: i64,
    /// A capped token's credits left, as the node last knew them.
    pub credits: Option<CreditsBalance>,
}

/// The rows [`TokenStore::purge_dead`] may delete: dead since before `$1`, and no
/// other token's parent. `LIMIT $2`; both backends number their parameters so.
pub(crate) const DEAD_LEAVES: &str = "SELECT t.id FROM tokens t \
     WHERE ((t.revoked_at IS NOT NULL AND t.revoked_at < $1) \
         OR (t.expires_at IS NOT NULL AND t.expires_at < $1)) \
       AND NOT t.is_admin \
       AND NOT EXISTS (SELECT 1 FROM tokens c WHERE c.parent_id = t.id) \
     LIMIT $2";

/// Cuts a page read one row more than `limit` (that row only tells that another
/// page follows) back to `limit`; returns where the next page starts, if one does.
pub(crate) fn cut_page<T>(items: &mut Vec<T>, limit: u32, seq: impl Fn(&T) -> i64) -> Option<i64> {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    more.then(|| items.last().map(seq)).flatten()
}

/// Adds an hour's counts to a token's (both backends number parameters so).
pub(crate) const ADD_USAGE: &str = "INSERT INTO token_usage (token_id, hour, valid, forbidden, rate_limited, usage_exhausted) \
     VALUES ($1, $2, $3, $4, $5, $6) \
     ON CONFLICT (token_id, hour) DO UPDATE SET \
       valid = token_usage.valid + excluded.valid, \
       forbidden = token_usage.forbidden + excluded.forbidden, \
       rate_limited = token_usage.rate_limited + excluded.rate_limited, \
       usage_exhausted = token_usage.usage_exhausted + excluded.usage_exhausted";

/// A token's hours with counts, in a range.
pub(crate) const USAGE_HOURS: &str = "SELECT hour, valid, forbidden, rate_limited, usage_exhausted \
     FROM token_usage WHERE token_id = $1 AND hour >= $2 AND hour < $3 ORDER BY hour";

/// The hourly counts, kept beside the tokens (not a change: each node adds its own).
pub(crate) const USAGE_TABLE: &str = "CREATE TABLE IF NOT EXISTS token_usage ( \
     token_id TEXT NOT NULL, hour BIGINT NOT NULL, \
     valid BIGINT NOT NULL DEFAULT 0, forbidden BIGINT NOT NULL DEFAULT 0, \
     rate_limited BIGINT NOT NULL DEFAULT 0, usage_exhausted BIGINT NOT NULL DEFAULT 0, \
     PRIMARY KEY (token_id, hour))";

/// The tally of a row read with [`USAGE_HOURS`]'s columns.
pub(crate) fn tally(counts: [i64; 4]) -> Tally {
    let [valid, forbidden, rate_limited, usage_exhausted] =
        counts.map(|count| u64::try_from(count).unwrap_or(0));
    Tally {
        valid,
        forbidden,
        rate_limited,
        usage_exhausted,
    }
}

/// Indexes that let [`DEAD_LEAVES`] find the dead without reading every row.
pub(crate) const DEATH_INDEXES: [&str; 2] = [
    "CREATE INDEX IF NOT EXISTS tokens_revoked_at ON tokens(revoked_at)",
    "CREATE INDEX IF NOT EXISTS tokens_expires_at ON tokens(expires_at)",
];

/// Refuses a database whose numbered schema is newer than this binary's: a newer
/// tessera upgraded it, and this one would not know what it keeps. Migrations only
/// go forward; the way back is the backup taken before the upgrade.
pub(crate) fn refuse_newer_schema(applied: usize, known: usize) -> Result<(), StoreError> {
    if applied <= known {
        return Ok(());
    }
    Err(StoreError::Corrupt(format!(
        "the database's schema is version {applied}, newer than this tessera's ({known}): a newer \
         tessera upgraded it; run that version, or restore the backup taken before the upgrade"
    )))
}

/// What every storage backend does.
#[async_trait]
pub trait TokenStore: WebhookStore + Send + Sync + 'static {
    /// Checks the store was made with this pepper (by fingerprint), recording it if
    /// the store is new.
    async fn check_pepper(&self, fingerprint: &str) -> Result<(), StoreError>;

    /// Every token, revoked ones included, to build the index at start-up: the same as
    /// `changes_since(0)`, read as one consistent snapshot.
    async fn load_all(&self) -> Result<Changes, StoreError> {
        self.changes_since(0).await
    }

    /// Every token a write numbered after `seq` touched, oldest write first.
    async fn changes_since(&self, seq: ChangeSeq) -> Result<Changes, StoreError>;

    /// Stores a new token. Refused with [`StoreError::Revoked`] if its parent is
    /// revoked, [`StoreError::Stale`] if the parent changed since `basis.parent`.
    ///
    /// Every write takes the audit entry that records it (`event`) and appends it
    /// to the audit log in the same transaction, numbered with the write's change.
    async fn insert(
        &self,
        record: &TokenRecord,
        basis: Basis,
        event: Event,
    ) -> Result<ChangeSeq, StoreError>;

    /// Stores a new admin token and revokes every other admin token, atomically:
    /// `tessera admin reset-token`. Returns the admin tokens it revoked.
    async fn replace_admin(
        &self,
        record: &TokenRecord,
        event: Event,
    ) -> Result<Revocation, StoreError>;

    /// Stores the first admin token, unless a live one exists (made a moment ago by
    /// another node starting at the same time): then `None`, and nothing is written.
    async fn insert_first_admin(
        &self,
        record: &TokenRecord,
        event: Event,
    ) -> Result<Option<ChangeSeq>, StoreError>;

    /// Replaces a live token's settings (`record.settings`) and `updated_at`; refused
    /// with [`StoreError::Revoked`] if it is revoked, [`StoreError::Stale`] if what
    /// `basis` names changed since.
    async fn update(
        &self,
        record: &TokenRecord,
        basis: Basis,
        event: Event,
    ) -> Result<ChangeSeq, StoreError>;

    /// Revokes the token `id` and every live token created through it at `at`, all or
    /// none, as the store sees them (so descendants made on other nodes go too). The
    /// entry lists the descendants it revoked; a revocation of a token revoked
    /// before changes nothing and writes no entry.
    async fn revoke_subtree(
        &self,
        id: &str,
        at: i64,
        event: Event,
    ) -> Result<Revocation, StoreError>;

    /// Appends an entry that records no token write (a sign-in, a leak only
    /// flagged); returns its place in the chain.
    async fn append_audit(&self, event: Event) -> Result<i64, StoreError>;

    /// A page of the audit log.
    async fn audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError>;

    /// The newest entry as the last append recorded it, to check the chain's end by.
    async fn audit_head(&self) -> Result<Head, StoreError>;

    async fn get(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError>;

    /// Adds batched usage counts; runs in the background, never on a request's path.
    /// Not a change: usage is not part of what a token may do.
    async fn record_usage(&self, updates: &[UsageUpdate]) -> Result<(), StoreError>;

    /// A token's hourly counts from `from_hour` to before `to_hour` (hours since
    /// 1970), the hours with any, in order.
    async fn usage(
        &self,
        id: &str,
        from_hour: i64,
        to_hour: i64,
    ) -> Result<Vec<(i64, Tally)>, StoreError>;

    /// Deletes hourly counts of hours before `before_hour`.
    async fn purge_usage(&self, before_hour: i64) -> Result<usize, StoreError>;

    /// Deletes up to `limit` tokens dead (revoked, or expired) since before
    /// `before_ms`, leaves first: a token some other row names as its parent waits
    /// for that row to go. Returns how many were deleted. Not a change: every node drops such tokens by the same
    /// rule on its own (`index_retention`). Deleting leaves frees their makers for
    /// the next call.
    async fn purge_dead(&self, before_ms: i64, limit: u32) -> Result<usize, StoreError>;

    /// Wakes a follower when another process may have written. `None` when this
    /// process is the only writer (SQLite: the data dir is locked to one process).
    fn change_signals(&self) -> Option<watch::Receiver<FeedSignal>> {
        None
    }

    /// Whether the database answers now (for `/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}
