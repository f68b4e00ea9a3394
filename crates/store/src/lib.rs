//! Durable storage for tessera, behind one trait.
//!
//! The store is the system of record; it is never on the verification path (that reads
//! the server's in-memory index). Each backend implements [`TokenStore`]; the service
//! decides *what* to write (which tokens a cascade revokes, what a token may be given)
//! and the store only writes it, durably and atomically, before the call returns.

use async_trait::async_trait;
use tessera_core::record::{Status, TokenRecord};

mod sqlite;

pub use sqlite::SqliteStore;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is busy; the caller may retry later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A write conflicts with what is stored (a duplicate id or hash).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Stored data does not read back as a token; a bug or tampering.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The store was made with a different pepper, so every token would fail.
    #[error("{0}")]
    WrongPepper(String),
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

/// Usage counted in memory since the last flush, for one token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageUpdate {
    pub id: String,
    pub uses: u64,
    pub last_used_at: i64,
}

/// What every storage backend does.
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Checks the store was made with this pepper (by fingerprint), recording it if
    /// the store is new.
    async fn check_pepper(&self, fingerprint: &str) -> Result<(), StoreError>;

    /// Every token, revoked ones included, to build the index at start-up.
    async fn load_all(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// Stores a new token.
    async fn insert(&self, record: &TokenRecord) -> Result<(), StoreError>;

    /// Stores a new admin token and revokes every other admin token, atomically:
    /// `tessera init` and `tessera admin reset-token`.
    async fn replace_admin(&self, record: &TokenRecord) -> Result<(), StoreError>;

    /// Replaces a token's settings (`record.settings`) and `updated_at`.
    async fn update(&self, record: &TokenRecord) -> Result<(), StoreError>;

    /// Marks these tokens revoked at `at`, all or none. Already revoked ones keep
    /// their first revocation time.
    async fn revoke(&self, ids: &[String], at: i64) -> Result<(), StoreError>;

    async fn get(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError>;

    /// Adds batched usage counts; runs in the background, never on a request's path.
    async fn record_usage(&self, updates: &[UsageUpdate]) -> Result<(), StoreError>;
}
