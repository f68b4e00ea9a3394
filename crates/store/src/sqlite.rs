//! The embedded backend: one SQLite file in WAL mode with `synchronous=FULL`, so a
//! write is on disk before the call returns.
//!
//! rusqlite is synchronous; every call runs on tokio's blocking pool so the async
//! runtime never waits on the disk.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use tessera_core::record::{RateLimitSetting, ScopeGrant, Settings, Status, TokenRecord};
use tessera_core::scope::Access;
use tessera_core::token::TokenHash;

use crate::{ListPage, ListQuery, StoreError, TokenStore, UsageUpdate};

/// Schema migrations, applied in order; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE tokens (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    hash            BLOB NOT NULL UNIQUE,
    start           TEXT NOT NULL,
    is_admin        INTEGER NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    scopes          TEXT,
    access          TEXT,
    resources       TEXT,
    rate_profile    TEXT,
    rate_per_minute INTEGER,
    rate_burst      INTEGER,
    expires_at      INTEGER,
    owner           TEXT,
    meta            TEXT,
    parent_id       TEXT REFERENCES tokens(id),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    last_used_at    INTEGER,
    use_count       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX tokens_parent ON tokens(parent_id);
CREATE INDEX tokens_owner ON tokens(owner);
CREATE TABLE token_resources (
    token_id TEXT NOT NULL REFERENCES tokens(id),
    pattern  TEXT NOT NULL,
    PRIMARY KEY (token_id, pattern)
);
CREATE INDEX token_resources_pattern ON token_resources(pattern);
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"#];

const COLUMNS: &str = "seq, id, hash, start, is_admin, name, description, scopes, access, resources, \
     rate_profile, rate_per_minute, rate_burst, expires_at, owner, meta, parent_id, created_at, \
     updated_at, revoked_at, last_used_at, use_count";

/// A token store in one SQLite database file.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path).map_err(unavailable)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(unavailable)?;
        // FULL: in WAL mode, NORMAL may lose the last commits on power loss.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(unavailable)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(unavailable)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(unavailable)?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `work` with the connection on the blocking pool.
    async fn with_conn<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Unavailable("a previous database call panicked".into()))?;
            work(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("database task failed: {e}")))?
    }
}

impl SqliteStore {
    /// Runs `work` in one transaction on the blocking pool: all of it is committed
    /// (durably) or none of it, so a failed write leaves the store unchanged.
    async fn in_transaction<F>(&self, work: F) -> Result<(), StoreError>
    where
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<(), StoreError> + Send + 'static,
    {
        self.with_conn(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            work(&tx)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let applied: usize = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(unavailable)?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction().map_err(unavailable)?;
        tx.execute_batch(migration).map_err(unavailable)?;
        tx.pragma_update(None, "user_version", index + 1)
            .map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
    }
    Ok(())
}

fn unavailable(error: rusqlite::Error) -> StoreError {
    match error {
        rusqlite::Error::SqliteFailure(code, _)
            if code.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict(error.to_string())
        }
        other => StoreError::Unavailable(other.to_string()),
    }
}

fn corrupt(what: &str) -> impl Fn(serde_json::Error) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

fn json_list(list: Option<&Vec<String>>) -> Option<String> {
    list.map(|items| serde_json::Value::from(items.clone()).to_string())
}

/// The columns a record's settings occupy, in `COLUMNS` order from `name` on.
struct SettingsColumns {
    scopes: Option<String>,
    access: Option<&'static str>,
    resources: Option<String>,
    meta: Option<String>,
}

impl SettingsColumns {
    fn of(settings: &Settings) -> Self {
        let (scopes, access) = match &settings.scopes {
            ScopeGrant::Patterns(patterns) => (json_list(Some(patterns)), None),
            ScopeGrant::Access(access) => (None, Some(access.as_str())),
        };
        Self {
            scopes,
            access,
            resources: json_list(settings.resources.as_ref()),
            meta: settings
                .meta
                .as_ref()
                .map(|m| serde_json::Value::Object(m.clone()).to_string()),
        }
    }
}

fn write_resources(tx: &rusqlite::Transaction<'_>, record: &TokenRecord) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM token_resources WHERE token_id = ?1",
        [&record.id],
    )
    .map_err(unavailable)?;
    for pattern in record.settings.resources.iter().flatten() {
        tx.execute(
            "INSERT OR IGNORE INTO token_resources (token_id, pattern) VALUES (?1, ?2)",
            params![record.id, pattern],
        )
        .map_err(unavailable)?;
    }
    Ok(())
}

/// Inserts a token: its fixed columns here, its settings through [`write_settings`].
fn insert_row(tx: &rusqlite::Transaction<'_>, record: &TokenRecord) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO tokens (id, hash, start, is_admin, name, parent_id, created_at, updated_at, \
         revoked_at, last_used_at, use_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            record.id,
            &record.hash.0[..],
            record.start,
            record.is_admin,
            record.settings.name,
            record.parent_id,
            record.created_at,
            record.updated_at,
            record.revoked_at,
            record.last_used_at,
            i64::try_from(record.use_count).unwrap_or(i64::MAX),
        ],
    )
    .map_err(unavailable)?;
    write_settings(tx, record)
}

/// Writes a stored token's settings, `updated_at` and resource rows.
fn write_settings(tx: &rusqlite::Transaction<'_>, record: &TokenRecord) -> Result<(), StoreError> {
    let s = &record.settings;
    let columns = SettingsColumns::of(s);
    let limit = s.rate_limit.as_ref();
    let changed = tx
        .execute(
            "UPDATE tokens SET name = ?2, description = ?3, scopes = ?4, access = ?5, resources = ?6, \
             rate_profile = ?7, rate_per_minute = ?8, rate_burst = ?9, expires_at = ?10, owner = ?11, \
             meta = ?12, updated_at = ?13 WHERE id = ?1",
            params![
                record.id,
                s.name,
                s.description,
                columns.scopes,
                columns.access,
                columns.resources,
                limit.and_then(|l| l.profile.clone()),
                limit.map(|l| l.per_minute),
                limit.map(|l| l.burst),
                s.expires_at,
                s.owner,
                columns.meta,
                record.updated_at,
            ],
        )
        .map_err(unavailable)?;
    if changed != 1 {
        return Err(StoreError::Conflict(format!(
            "token {} is not stored",
            record.id
        )));
    }
    write_resources(tx, record)
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<(i64, RawRow)> {
    Ok((
        row.get(0)?,
        RawRow {
            id: row.get(1)?,
            hash: row.get(2)?,
            start: row.get(3)?,
            is_admin: row.get(4)?,
            name: row.get(5)?,
            description: row.get(6)?,
            scopes: row.get(7)?,
            access: row.get(8)?,
            resources: row.get(9)?,
            rate_profile: row.get(10)?,
            rate_per_minute: row.get(11)?,
            rate_burst: row.get(12)?,
            expires_at: row.get(13)?,
            owner: row.get(14)?,
            meta: row.get(15)?,
            parent_id: row.get(16)?,
            created_at: row.get(17)?,
            updated_at: row.get(18)?,
            revoked_at: row.get(19)?,
            last_used_at: row.get(20)?,
            use_count: row.get(21)?,
        },
    ))
}

/// A row as SQLite hands it over, before it is checked into a [`TokenRecord`].
struct RawRow {
    id: String,
    hash: Vec<u8>,
    start: String,
    is_admin: bool,
    name: String,
    description: Option<String>,
    scopes: Option<String>,
    access: Option<String>,
    resources: Option<String>,
    rate_profile: Option<String>,
    rate_per_minute: Option<u32>,
    rate_burst: Option<u32>,
    expires_at: Option<i64>,
    owner: Option<String>,
    meta: Option<String>,
    parent_id: Option<String>,
    created_at: i64,
    updated_at: i64,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
    use_count: i64,
}

impl RawRow {
    fn into_record(self) -> Result<TokenRecord, StoreError> {
        let hash: [u8; 32] = self.hash.try_into().map_err(|_| {
            StoreError::Corrupt(format!("token {} has a hash of the wrong length", self.id))
        })?;
        let scopes = match (self.scopes, self.access) {
            (_, Some(access)) => ScopeGrant::Access(Access::parse(&access).ok_or_else(|| {
                StoreError::Corrupt(format!("token {} has access {access:?}", self.id))
            })?),
            (Some(json), None) => {
                ScopeGrant::Patterns(serde_json::from_str(&json).map_err(corrupt("scopes"))?)
            }
            (None, None) => ScopeGrant::Patterns(Vec::new()),
        };
        let resources = self
            .resources
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(corrupt("resources"))?;
        let meta = self
            .meta
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(corrupt("meta"))?;
        let rate_limit = match (self.rate_per_minute, self.rate_burst) {
            (Some(per_minute), Some(burst)) => Some(RateLimitSetting {
                profile: self.rate_profile,
                per_minute,
                burst,
            }),
            (None, None) => None,
            _ => {
                // Half a limit must not read as "unlimited": fail closed.
                return Err(StoreError::Corrupt(format!(
                    "token {} has half a rate limit",
                    self.id
                )));
            }
        };
        Ok(TokenRecord {
            id: self.id,
            hash: TokenHash(hash),
            start: self.start,
            is_admin: self.is_admin,
            settings: Settings {
                name: self.name,
                description: self.description,
                scopes,
                resources,
                rate_limit,
                expires_at: self.expires_at,
                owner: self.owner,
                meta,
            },
            parent_id: self.parent_id,
            created_at: self.created_at,
            updated_at: self.updated_at,
            revoked_at: self.revoked_at,
            last_used_at: self.last_used_at,
            use_count: u64::try_from(self.use_count).unwrap_or(0),
        })
    }
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn check_pepper(&self, fingerprint: &str) -> Result<(), StoreError> {
        let fingerprint = fingerprint.to_owned();
        self.with_conn(move |conn| {
            let stored: Option<String> = conn
                .query_row("SELECT value FROM settings WHERE key = 'pepper_fingerprint'", [], |row| row.get(0))
                .optional()
                .map_err(unavailable)?;
            match stored {
                Some(stored) if stored == fingerprint => Ok(()),
                Some(_) => Err(StoreError::WrongPepper(
                    "this store was created with a different pepper, so every token would be rejected: \
                     supply the original pepper (config `pepper`, TESSERA_PEPPER or the data dir's `pepper` file)"
                        .into(),
                )),
                None => {
                    conn.execute(
                        "INSERT INTO settings (key, value) VALUES ('pepper_fingerprint', ?1)",
                        [&fingerprint],
                    )
                    .map_err(unavailable)?;
                    Ok(())
                }
            }
        })
        .await
    }

    async fn load_all(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.with_conn(|conn| {
            let mut statement = conn
                .prepare(&format!("SELECT {COLUMNS} FROM tokens ORDER BY seq"))
                .map_err(unavailable)?;
            let rows = statement.query_map([], read_row).map_err(unavailable)?;
            rows.map(|row| {
                row.map_err(unavailable)
                    .and_then(|(_, raw)| raw.into_record())
            })
            .collect()
        })
        .await
    }

    async fn insert(&self, record: &TokenRecord) -> Result<(), StoreError> {
        let record = record.clone();
        self.in_transaction(move |tx| insert_row(tx, &record)).await
    }

    async fn replace_admin(&self, record: &TokenRecord) -> Result<(), StoreError> {
        let record = record.clone();
        self.in_transaction(move |tx| {
            tx.execute(
                "UPDATE tokens SET revoked_at = ?1 WHERE is_admin = 1 AND revoked_at IS NULL",
                [record.created_at],
            )
            .map_err(unavailable)?;
            insert_row(tx, &record)
        })
        .await
    }

    async fn update(&self, record: &TokenRecord) -> Result<(), StoreError> {
        let record = record.clone();
        self.in_transaction(move |tx| write_settings(tx, &record))
            .await
    }

    async fn revoke(&self, ids: &[String], at: i64) -> Result<(), StoreError> {
        let ids = ids.to_vec();
        self.in_transaction(move |tx| {
            let mut statement = tx
                .prepare("UPDATE tokens SET revoked_at = ?2, updated_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
                .map_err(unavailable)?;
            for id in &ids {
                statement.execute(params![id, at]).map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }

    async fn get(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            conn.query_row(
                &format!("SELECT {COLUMNS} FROM tokens WHERE id = ?1"),
                [&id],
                read_row,
            )
            .optional()
            .map_err(unavailable)?
            .map(|(_, raw)| raw.into_record())
            .transpose()
        })
        .await
    }

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        let query = query.clone();
        self.with_conn(move |conn| list(conn, &query)).await
    }

    async fn record_usage(&self, updates: &[UsageUpdate]) -> Result<(), StoreError> {
        let updates = updates.to_vec();
        self.in_transaction(move |tx| {
            let mut statement = tx
                .prepare(
                    "UPDATE tokens SET use_count = use_count + ?2, \
                     last_used_at = MAX(COALESCE(last_used_at, 0), ?3) WHERE id = ?1",
                )
                .map_err(unavailable)?;
            for update in &updates {
                let uses = i64::try_from(update.uses).unwrap_or(i64::MAX);
                statement
                    .execute(params![update.id, uses, update.last_used_at])
                    .map_err(unavailable)?;
            }
            Ok(())
        })
        .await
    }
}

fn list(conn: &mut Connection, query: &ListQuery) -> Result<ListPage, StoreError> {
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    let mut bind = |value: rusqlite::types::Value| {
        values.push(value);
        format!("?{}", values.len())
    };
    let mut with = String::new();
    if let Some(root) = &query.descendants_of {
        let root = bind(root.clone().into());
        with = format!(
            "WITH RECURSIVE subtree(id) AS (SELECT id FROM tokens WHERE parent_id = {root} \
             UNION SELECT t.id FROM tokens t JOIN subtree s ON t.parent_id = s.id) "
        );
        conditions.push("id IN (SELECT id FROM subtree)".into());
    }
    match query.status {
        Some(Status::Revoked) => conditions.push("revoked_at IS NOT NULL".into()),
        Some(Status::Expired) => {
            let now = bind(query.now_ms.into());
            conditions.push(format!("revoked_at IS NULL AND expires_at <= {now}"));
        }
        Some(Status::Active) => {
            let now = bind(query.now_ms.into());
            conditions.push(format!(
                "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > {now})"
            ));
        }
        None => {}
    }
    if let Some(owner) = &query.owner {
        let owner = bind(owner.clone().into());
        conditions.push(format!("owner = {owner}"));
    }
    if let Some(name) = &query.name {
        let name = bind(name.to_lowercase().into());
        conditions.push(format!("instr(lower(name), {name}) > 0"));
    }
    if let Some(resource) = &query.resource {
        let exact = bind(resource.clone().into());
        let kind = resource.split(':').next().unwrap_or_default();
        let any = bind(format!("{kind}:*").into());
        conditions.push(format!(
            "id IN (SELECT token_id FROM token_resources WHERE pattern = {exact} OR pattern = {any})"
        ));
    }
    if let Some(after) = query.after {
        let after = bind(after.into());
        conditions.push(format!("seq < {after}"));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    // One row more than asked tells whether another page follows.
    let fetch = bind((i64::from(query.limit) + 1).into());
    let sql =
        format!("{with}SELECT {COLUMNS} FROM tokens {filter} ORDER BY seq DESC LIMIT {fetch}");
    let mut statement = conn.prepare(&sql).map_err(unavailable)?;
    let rows = statement
        .query_map(rusqlite::params_from_iter(values), read_row)
        .map_err(unavailable)?;
    let mut tokens = Vec::new();
    let mut last_seq = None;
    let mut more = false;
    for row in rows {
        let (seq, raw) = row.map_err(unavailable)?;
        if tokens.len() == query.limit as usize {
            more = true;
            break;
        }
        tokens.push(raw.into_record()?);
        last_seq = Some(seq);
    }
    Ok(ListPage {
        tokens,
        next_cursor: if more { last_seq } else { None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::record::ScopeGrant;

    fn record(id: &str, parent: Option<&str>, resources: Option<Vec<&str>>) -> TokenRecord {
        let mut hash = [0u8; 32];
        hash[..id.len()].copy_from_slice(id.as_bytes());
        TokenRecord {
            id: id.into(),
            hash: TokenHash(hash),
            start: "tsr_abcd".into(),
            is_admin: false,
            settings: Settings {
                name: format!("name {id}"),
                description: None,
                scopes: ScopeGrant::Patterns(vec!["repo:read".into()]),
                resources: resources.map(|r| r.into_iter().map(String::from).collect()),
                rate_limit: Some(RateLimitSetting {
                    profile: Some("restricted".into()),
                    per_minute: 10,
                    burst: 5,
                }),
                expires_at: None,
                owner: Some("alice".into()),
                meta: Some(serde_json::json!({"k": 1}).as_object().unwrap().clone()),
            },
            parent_id: parent.map(String::from),
            created_at: 1,
            updated_at: 1,
            revoked_at: None,
            last_used_at: None,
            use_count: 0,
        }
    }

    #[tokio::test]
    async fn round_trip_cascade_listing_and_usage() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let root = record("root", None, None);
        let child = record("child", Some("root"), Some(vec!["repo:a"]));
        let grandchild = record("grand", Some("child"), Some(vec!["repo:*"]));
        for r in [&root, &child, &grandchild] {
            store.insert(r).await.unwrap();
        }
        assert!(matches!(
            store.insert(&root).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.get("child").await.unwrap().unwrap(), child);

        let all = ListQuery {
            limit: 2,
            ..ListQuery::default()
        };
        let first = store.list(&all).await.unwrap();
        assert_eq!(
            first
                .tokens
                .iter()
                .map(|t| t.id.as_str())
                .collect::<Vec<_>>(),
            ["grand", "child"]
        );
        let second = store
            .list(&ListQuery {
                after: first.next_cursor,
                ..all.clone()
            })
            .await
            .unwrap();
        assert_eq!(second.tokens.len(), 1);
        assert_eq!(second.next_cursor, None);

        let subtree = ListQuery {
            descendants_of: Some("root".into()),
            limit: 10,
            ..ListQuery::default()
        };
        assert_eq!(store.list(&subtree).await.unwrap().tokens.len(), 2);
        let by_repo = ListQuery {
            resource: Some("repo:a".into()),
            limit: 10,
            ..ListQuery::default()
        };
        assert_eq!(store.list(&by_repo).await.unwrap().tokens.len(), 2);

        store
            .revoke(&["child".into(), "grand".into()], 5)
            .await
            .unwrap();
        let revoked = ListQuery {
            status: Some(Status::Revoked),
            limit: 10,
            ..ListQuery::default()
        };
        assert_eq!(store.list(&revoked).await.unwrap().tokens.len(), 2);

        store
            .record_usage(&[UsageUpdate {
                id: "root".into(),
                uses: 3,
                last_used_at: 9,
            }])
            .await
            .unwrap();
        let root_again = store.get("root").await.unwrap().unwrap();
        assert_eq!(
            (root_again.use_count, root_again.last_used_at),
            (3, Some(9))
        );

        let mut edited = root_again.clone();
        edited.settings.scopes = ScopeGrant::Access(Access::Write);
        edited.settings.resources = Some(vec!["app:1".into()]);
        store.update(&edited).await.unwrap();
        drop(store);
        let reopened = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let loaded = reopened.load_all().await.unwrap();
        assert_eq!(loaded.len(), 3);
        assert_eq!(loaded[0], edited);
        assert_eq!(loaded[1].revoked_at, Some(5));
    }

    #[tokio::test]
    async fn a_different_pepper_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        store.check_pepper("aaaa").await.unwrap();
        store.check_pepper("aaaa").await.unwrap();
        assert!(matches!(
            store.check_pepper("bbbb").await,
            Err(StoreError::WrongPepper(_))
        ));
    }
}
