//! The embedded backend: one SQLite file in WAL mode with `synchronous=FULL`, so a
//! write is on disk before the call returns.
//!
//! rusqlite is synchronous; every call runs on tokio's blocking pool so the async
//! runtime never waits on the disk.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};
use tessera_core::audit::{Event, Head};
use tessera_core::record::TokenRecord;

use crate::audit::{self, AuditPage, AuditQuery};
use crate::webhooks::{self, Attempt, Delivery, DeliveryPage, Endpoint, WebhookStore};

use crate::group::{Gathering, GroupCommit, GroupFailure, Write, WriteGroup, Written};
use crate::rows::{self, Dialect, RawRow, ReadColumn, SqlValue, Standing};
use crate::{
    Basis, ChangeSeq, Changes, ListPage, ListQuery, Revocation, StoreError, Tally, TokenStore,
    UsageUpdate,
};

/// Schema migrations, applied in order; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    r#"
ALTER TABLE tokens ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
UPDATE tokens SET change_seq = 1;
CREATE INDEX tokens_change_seq ON tokens(change_seq);
CREATE TABLE change_feed (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO change_feed (id, seq) SELECT 1, COUNT(*) > 0 FROM tokens;
"#,
    audit::SCHEMA,
    webhooks::SCHEMA,
];

/// A token store in one SQLite database file.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    writes: Arc<GroupCommit>,
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
        let conn = Arc::new(Mutex::new(conn));
        Ok(Self {
            writes: Arc::new(GroupCommit::new(GroupWriter {
                conn: Arc::clone(&conn),
            })),
            conn,
        })
    }

    /// Loads many tokens in one transaction under one change number, for the start-up
    /// benchmark. Each parent must be stored and live, or come earlier in `records`.
    pub async fn import(&self, records: Vec<TokenRecord>) -> Result<ChangeSeq, StoreError> {
        self.change(move |tx, seq| {
            for record in &records {
                insert_row(tx, record, seq, Basis::default())?;
            }
            Ok(seq)
        })
        .await
    }

    /// Runs `work` with the connection on the blocking pool.
    async fn with_conn<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        on_connection(&self.conn, work).await
    }

    /// Runs `work` in one transaction on the blocking pool: all of it is committed
    /// (durably) or none of it, so a failed write leaves the store unchanged.
    async fn in_transaction<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.with_conn(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            let done = work(&tx)?;
            tx.commit().map_err(unavailable)?;
            Ok(done)
        })
        .await
    }

    /// [`SqliteStore::in_transaction`] for a change: `work` gets the write's sequence
    /// number. SQLite has one writer at a time, so numbers follow commit order.
    async fn change<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>, ChangeSeq) -> Result<T, StoreError> + Send + 'static,
    {
        self.in_transaction(move |tx| {
            let seq = tx
                .query_row(
                    "UPDATE change_feed SET seq = seq + 1 RETURNING seq",
                    [],
                    |row| row.get(0),
                )
                .map_err(unavailable)?;
            work(tx, seq)
        })
        .await
    }
}

/// Runs `work` with the connection on the blocking pool.
async fn on_connection<T, F>(conn: &Arc<Mutex<Connection>>, work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
{
    let conn = Arc::clone(conn);
    tokio::task::spawn_blocking(move || {
        let mut guard = conn
            .lock()
            .map_err(|_| StoreError::Unavailable("a previous database call panicked".into()))?;
        work(&mut guard)
    })
    .await
    .map_err(|e| StoreError::Unavailable(format!("database task failed: {e}").into()))?
}

/// Writes the process's groups of token writes, each in one transaction.
struct GroupWriter {
    conn: Arc<Mutex<Connection>>,
}

#[async_trait]
impl WriteGroup for GroupWriter {
    async fn write_group(
        &self,
        gathering: &mut Gathering<'_>,
    ) -> Result<Vec<Written>, GroupFailure> {
        let group = gathering.close();
        let outcome = on_connection(&self.conn, move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            let newest: ChangeSeq = tx
                .query_row("SELECT seq FROM change_feed", [], |row| row.get(0))
                .map_err(unavailable)?;
            let mut written = Vec::with_capacity(group.len());
            for (at, write) in group.iter().enumerate() {
                let seq = newest + 1 + at as ChangeSeq;
                match write_one(&tx, write, seq) {
                    Ok(outcome) => written.push(outcome),
                    // Dropped, the transaction rolls back.
                    Err(error) => {
                        return Ok(Err(GroupFailure {
                            write: Some(at),
                            error,
                        }));
                    }
                }
            }
            append_entries(&tx, Write::events(&group, &written))?;
            tx.execute(
                "UPDATE change_feed SET seq = ?1",
                [newest + group.len() as ChangeSeq],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(Ok(written))
        })
        .await;
        outcome.map_err(GroupFailure::whole)?
    }
}

/// One write of a group, numbered `seq`.
fn write_one(
    tx: &rusqlite::Transaction<'_>,
    write: &Write,
    seq: ChangeSeq,
) -> Result<Written, StoreError> {
    match write {
        Write::Insert { record, basis, .. } => {
            insert_row(tx, record, seq, *basis)?;
            Ok(Written::new(seq))
        }
        Write::Update { record, basis, .. } => {
            check_edit(tx, record, *basis)?;
            write_settings(tx, record, seq)?;
            Ok(Written::new(seq))
        }
        Write::Revoke { id, at, .. } => {
            let mut statement = tx
                .prepare_cached(&rows::revoke_subtree_sql(&DIALECT))
                .map_err(unavailable)?;
            let revoked = statement
                .query_map(params![id, at, seq], read_row)
                .map_err(unavailable)?
                .map(|row| row.map_err(unavailable).and_then(RawRow::into_record))
                .collect::<Result<_, _>>()?;
            Ok(Revocation { seq, revoked })
        }
    }
}

/// Appends `events` to the audit log after its head, in the caller's transaction;
/// returns the place of the last one (`None`: there were none).
fn append_entries(
    tx: &rusqlite::Transaction<'_>,
    events: Vec<Event>,
) -> Result<Option<i64>, StoreError> {
    if events.is_empty() {
        return Ok(None);
    }
    let (seq, hash): (i64, String) = tx
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .map_err(unavailable)?;
    let mut head = audit::head(seq, &hash)?;
    let mut insert = tx
        .prepare_cached(audit::INSERT_ENTRY)
        .map_err(unavailable)?;
    for entry in head.append(events) {
        insert
            .execute(params_from_iter(audit::entry_values(&entry)))
            .map_err(unavailable)?;
    }
    tx.execute(audit::MOVE_HEAD, params![head.seq, hex::encode(head.hash)])
        .map_err(unavailable)?;
    Ok(Some(head.seq))
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let applied: usize = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(unavailable)?;
    crate::refuse_newer_schema(applied, MIGRATIONS.len())?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction().map_err(unavailable)?;
        tx.execute_batch(migration).map_err(unavailable)?;
        tx.pragma_update(None, "user_version", index + 1)
            .map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
    }
    for (column, add) in rows::added_columns(&DIALECT) {
        let present: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('tokens') WHERE name = ?1",
                [column],
                |row| row.get(0),
            )
            .map_err(unavailable)?;
        if present == 0 {
            conn.execute(&add, []).map_err(unavailable)?;
        }
    }
    for statement in crate::DEATH_INDEXES.iter().chain([&crate::USAGE_TABLE]) {
        conn.execute(statement, []).map_err(unavailable)?;
    }
    Ok(())
}

/// Copies the SQLite database at `from` into a new database at `to`, consistent as of
/// one moment even while other connections (a running server) go on writing:
/// SQLite's online backup, a few pages at a time, restarting when a write lands
/// between steps. The copy is checked (`PRAGMA integrity_check`) before it counts.
pub fn copy_database(from: &Path, to: &Path) -> Result<(), StoreError> {
    use rusqlite::OpenFlags;
    use rusqlite::backup::Backup;
    let source = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(unavailable)?;
    source
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(unavailable)?;
    let mut target = Connection::open(to).map_err(unavailable)?;
    Backup::new(&source, &mut target)
        .and_then(|copy| copy.run_to_completion(256, std::time::Duration::from_millis(2), None))
        .map_err(unavailable)?;
    let verdict: String = target
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .map_err(unavailable)?;
    if verdict != "ok" {
        return Err(StoreError::Corrupt(format!(
            "the copy of {} fails SQLite's integrity check: {verdict}",
            from.display()
        )));
    }
    // Closing the connection writes the copy through (and folds in a write-ahead
    // log, if the copy has one) before anyone relies on it.
    target.close().map_err(|(_, error)| unavailable(error))
}

fn unavailable(error: rusqlite::Error) -> StoreError {
    match error {
        rusqlite::Error::SqliteFailure(code, _)
            if code.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict(error.to_string())
        }
        other => StoreError::Unavailable(other.into()),
    }
}

const DIALECT: Dialect = Dialect {
    placeholder: |n| format!("?{n}"),
    contains: |haystack, needle| format!("instr({haystack}, {needle}) > 0"),
    text_param: "{}",
    millis_type: "INTEGER",
    in_subquery: "IN ({})",
    children_in_subtree: "SELECT t.id FROM tokens t JOIN subtree s ON t.parent_id = s.id",
    change_number: "{}",
};

fn write_resources(tx: &rusqlite::Transaction<'_>, record: &TokenRecord) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM token_resources WHERE token_id = ?1",
        [&record.id],
    )
    .map_err(unavailable)?;
    for pattern in record.settings.resources.view().patterns() {
        tx.execute(
            "INSERT OR IGNORE INTO token_resources (token_id, pattern) VALUES (?1, ?2)",
            params![record.id, pattern],
        )
        .map_err(unavailable)?;
    }
    Ok(())
}

/// Token `id`'s change number and whether it is revoked; `None` if there is no such token.
fn standing(tx: &rusqlite::Transaction<'_>, id: &str) -> Result<Option<Standing>, StoreError> {
    tx.query_row(
        "SELECT change_seq, revoked_at IS NOT NULL AS revoked FROM tokens WHERE id = ?1",
        [id],
        |row| {
            Ok(Standing {
                seq: row.get("change_seq")?,
                revoked: row.get("revoked")?,
            })
        },
    )
    .optional()
    .map_err(unavailable)
}

/// Inserts a token with all its columns, then its resource rows.
fn insert_row(
    tx: &rusqlite::Transaction<'_>,
    record: &TokenRecord,
    seq: ChangeSeq,
    basis: Basis,
) -> Result<(), StoreError> {
    if let Some(parent) = &record.parent_id {
        rows::check_standing(parent, standing(tx, parent)?, basis.parent)?;
    }
    let (sql, values) = rows::insert_sql(record, seq, &DIALECT);
    tx.execute(&sql, params_from_iter(&values))
        .map_err(unavailable)?;
    write_resources(tx, record)
}

/// Checks an edit's [`Basis`]: the token and its parent are live and unchanged, and
/// no token created through it is newer than what the deciding node knew.
fn check_edit(
    tx: &rusqlite::Transaction<'_>,
    record: &TokenRecord,
    basis: Basis,
) -> Result<(), StoreError> {
    rows::check_standing(&record.id, standing(tx, &record.id)?, basis.token)?;
    if let Some(parent) = &record.parent_id {
        rows::check_standing(parent, standing(tx, parent)?, basis.parent)?;
    }
    if let Some(known) = basis.children_known_up_to {
        let newer: Option<String> = tx
            .query_row(
                "SELECT id FROM tokens WHERE parent_id = ?1 AND change_seq > ?2 LIMIT 1",
                params![record.id, known],
                |row| row.get(0),
            )
            .optional()
            .map_err(unavailable)?;
        if let Some(child) = newer {
            return Err(rows::stale(&child));
        }
    }
    Ok(())
}

/// Writes a live token's settings, `updated_at` and resource rows.
fn write_settings(
    tx: &rusqlite::Transaction<'_>,
    record: &TokenRecord,
    seq: ChangeSeq,
) -> Result<(), StoreError> {
    let (sql, values) = rows::update_sql(record, seq, &DIALECT);
    let changed = tx
        .execute(&sql, params_from_iter(&values))
        .map_err(unavailable)?;
    if changed != 1 {
        return Err(rows::revoked(&record.id));
    }
    write_resources(tx, record)
}

impl rusqlite::ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            SqlValue::Text(text) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
            SqlValue::Int(number) => ToSqlOutput::Owned(Value::Integer(*number)),
            SqlValue::Bool(flag) => ToSqlOutput::Owned(Value::Integer(i64::from(*flag))),
            SqlValue::Bytes(bytes) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
            SqlValue::NullText | SqlValue::NullInt => ToSqlOutput::Owned(Value::Null),
        })
    }
}

impl ReadColumn for Row<'_> {
    type Error = rusqlite::Error;

    fn text(&self, name: &str) -> rusqlite::Result<String> {
        self.get(name)
    }

    fn opt_text(&self, name: &str) -> rusqlite::Result<Option<String>> {
        self.get(name)
    }

    fn int(&self, name: &str) -> rusqlite::Result<i64> {
        self.get(name)
    }

    fn opt_int(&self, name: &str) -> rusqlite::Result<Option<i64>> {
        self.get(name)
    }

    fn bytes(&self, name: &str) -> rusqlite::Result<Vec<u8>> {
        self.get(name)
    }

    fn boolean(&self, name: &str) -> rusqlite::Result<bool> {
        self.get(name)
    }
}

/// Reads a token row; a named function, as rusqlite's row callbacks must take a row
/// of any statement.
fn read_row(row: &Row<'_>) -> rusqlite::Result<RawRow> {
    RawRow::read(row)
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_endpoint(&self, endpoint: &Endpoint, event: Event) -> Result<i64, StoreError> {
        let endpoint = endpoint.clone();
        self.in_transaction(move |tx| {
            let since = append_entries(tx, vec![event])?.unwrap_or_default();
            tx.execute(
                webhooks::INSERT_ENDPOINT,
                params_from_iter(webhooks::endpoint_values(&endpoint, since)),
            )
            .map_err(unavailable)?;
            Ok(since)
        })
        .await
    }

    async fn update_endpoint(&self, endpoint: &Endpoint, event: Event) -> Result<bool, StoreError> {
        let values = webhooks::update_values(endpoint);
        self.in_transaction(move |tx| {
            let changed = tx
                .execute(webhooks::UPDATE_ENDPOINT, params_from_iter(values))
                .map_err(unavailable)?;
            if changed == 0 {
                return Ok(false);
            }
            append_entries(tx, vec![event]).map(|_| true)
        })
        .await
    }

    async fn delete_endpoint(&self, id: &str, event: Event) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.in_transaction(move |tx| {
            let gone = tx
                .execute("DELETE FROM webhook_endpoints WHERE id = ?1", [&id])
                .map_err(unavailable)?;
            if gone == 0 {
                return Ok(false);
            }
            tx.execute(
                "DELETE FROM webhook_deliveries WHERE endpoint_id = ?1",
                [&id],
            )
            .map_err(unavailable)?;
            append_entries(tx, vec![event]).map(|_| true)
        })
        .await
    }

    async fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        self.with_conn(|conn| {
            let mut statement = conn
                .prepare_cached(&format!(
                    "SELECT {} FROM webhook_endpoints ORDER BY created_at, id",
                    webhooks::ENDPOINT_COLUMNS
                ))
                .map_err(unavailable)?;
            let rows = statement
                .query_map([], |row| Ok(webhooks::read_endpoint(row)))
                .map_err(unavailable)?;
            rows.map(|row| row.map_err(unavailable).and_then(|endpoint| endpoint))
                .collect()
        })
        .await
    }

    async fn fanned_out(&self) -> Result<i64, StoreError> {
        self.with_conn(|conn| {
            conn.query_row("SELECT seq FROM webhook_cursor WHERE id = 1", [], |row| {
                row.get(0)
            })
            .map_err(unavailable)
        })
        .await
    }

    async fn enqueue(
        &self,
        from: i64,
        to: i64,
        deliveries: &[Delivery],
    ) -> Result<bool, StoreError> {
        let deliveries = deliveries.to_vec();
        self.in_transaction(move |tx| {
            let moved = tx
                .execute(
                    "UPDATE webhook_cursor SET seq = ?1 WHERE id = 1 AND seq = ?2",
                    params![to, from],
                )
                .map_err(unavailable)?;
            if moved == 0 {
                return Ok(false);
            }
            let mut insert = tx
                .prepare_cached(webhooks::INSERT_DELIVERY)
                .map_err(unavailable)?;
            for delivery in &deliveries {
                insert
                    .execute(params_from_iter(webhooks::delivery_values(delivery)))
                    .map_err(unavailable)?;
            }
            Ok(true)
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        self.in_transaction(move |tx| {
            let mut statement = tx
                .prepare_cached(&webhooks::claim_sql(""))
                .map_err(unavailable)?;
            let rows = statement
                .query_map(params![lease_until, now, limit], |row| {
                    Ok(webhooks::read_delivery(row))
                })
                .map_err(unavailable)?;
            rows.map(|row| row.map_err(unavailable).and_then(|delivery| delivery))
                .collect()
        })
        .await
    }

    async fn record_attempt(&self, attempt: &Attempt) -> Result<bool, StoreError> {
        let values = webhooks::attempt_values(attempt);
        self.with_conn(move |conn| {
            conn.execute(webhooks::RECORD_ATTEMPT, params_from_iter(values))
                .map(|changed| changed > 0)
                .map_err(unavailable)
        })
        .await
    }

    async fn deliveries(
        &self,
        endpoint_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<DeliveryPage, StoreError> {
        let endpoint_id = endpoint_id.to_owned();
        self.with_conn(move |conn| {
            let mut statement = conn
                .prepare_cached(&webhooks::deliveries_sql())
                .map_err(unavailable)?;
            let rows = statement
                .query_map(
                    params![
                        endpoint_id,
                        before.unwrap_or(i64::MAX),
                        i64::from(limit) + 1
                    ],
                    |row| Ok(webhooks::read_delivery(row)),
                )
                .map_err(unavailable)?;
            let deliveries = rows
                .map(|row| row.map_err(unavailable).and_then(|delivery| delivery))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(webhooks::into_page(deliveries, limit))
        })
        .await
    }

    async fn record_notice(
        &self,
        token_id: &str,
        notice: &str,
        event: Event,
    ) -> Result<bool, StoreError> {
        let (token_id, notice) = (token_id.to_owned(), notice.to_owned());
        self.in_transaction(move |tx| {
            let new = tx
                .execute(
                    "INSERT INTO token_notices (token_id, notice) VALUES (?1, ?2) \
                     ON CONFLICT DO NOTHING",
                    params![token_id, notice],
                )
                .map_err(unavailable)?;
            if new == 0 {
                return Ok(false);
            }
            append_entries(tx, vec![event]).map(|_| true)
        })
        .await
    }
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn check_pepper(&self, fingerprint: &str) -> Result<(), StoreError> {
        let fingerprint = fingerprint.to_owned();
        self.with_conn(move |conn| {
            let stored: Option<String> = conn
                .query_row(
                    "SELECT value FROM settings WHERE key = 'pepper_fingerprint'",
                    [],
                    |row| row.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            match stored {
                Some(stored) => crate::compare_pepper(&stored, &fingerprint),
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

    async fn changes_since(&self, seq: ChangeSeq) -> Result<Changes, StoreError> {
        self.in_transaction(move |tx| {
            let up_to: ChangeSeq = tx
                .query_row("SELECT seq FROM change_feed", [], |row| row.get(0))
                .map_err(unavailable)?;
            let mut statement = tx
                .prepare(&format!(
                    "SELECT {} FROM tokens WHERE change_seq > ?1 ORDER BY change_seq, seq",
                    rows::columns()
                ))
                .map_err(unavailable)?;
            let changes = statement
                .query_map([seq], read_row)
                .map_err(unavailable)?
                .map(|row| row.map_err(unavailable).and_then(RawRow::into_change))
                .collect::<Result<_, _>>()?;
            Ok(Changes { changes, up_to })
        })
        .await
    }

    async fn insert(
        &self,
        record: &TokenRecord,
        basis: Basis,
        event: Event,
    ) -> Result<ChangeSeq, StoreError> {
        self.writes.insert(record.clone(), basis, event).await
    }

    async fn insert_first_admin(
        &self,
        record: &TokenRecord,
        event: Event,
    ) -> Result<Option<ChangeSeq>, StoreError> {
        let record = record.clone();
        self.change(move |tx, seq| {
            let exists: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM tokens WHERE is_admin = 1 AND revoked_at IS NULL)",
                    [],
                    |row| row.get(0),
                )
                .map_err(unavailable)?;
            if exists {
                return Ok(None);
            }
            insert_row(tx, &record, seq, Basis::default())?;
            append_entries(tx, audit::completed(event, seq, None).into_iter().collect())?;
            Ok(Some(seq))
        })
        .await
    }

    async fn replace_admin(
        &self,
        record: &TokenRecord,
        event: Event,
    ) -> Result<Revocation, StoreError> {
        let record = record.clone();
        self.change(move |tx, seq| {
            let mut statement = tx
                .prepare(&format!(
                    "UPDATE tokens SET revoked_at = ?1, updated_at = ?1, change_seq = ?2 \
                     WHERE is_admin = 1 AND revoked_at IS NULL RETURNING {}",
                    rows::columns()
                ))
                .map_err(unavailable)?;
            let revoked = statement
                .query_map(params![record.created_at, seq], read_row)
                .map_err(unavailable)?
                .map(|row| row.map_err(unavailable).and_then(RawRow::into_record))
                .collect::<Result<_, _>>()?;
            insert_row(tx, &record, seq, Basis::default())?;
            let revocation = Revocation { seq, revoked };
            append_entries(tx, vec![audit::completed_reset(event, seq, &revocation)])?;
            Ok(revocation)
        })
        .await
    }

    async fn update(
        &self,
        record: &TokenRecord,
        basis: Basis,
        event: Event,
    ) -> Result<ChangeSeq, StoreError> {
        self.writes.update(record.clone(), basis, event).await
    }

    async fn revoke_subtree(
        &self,
        id: &str,
        at: i64,
        event: Event,
    ) -> Result<Revocation, StoreError> {
        self.writes.revoke(id.to_owned(), at, event).await
    }

    async fn append_audit(&self, event: Event) -> Result<i64, StoreError> {
        self.in_transaction(move |tx| {
            append_entries(tx, vec![event]).map(Option::unwrap_or_default)
        })
        .await
    }

    async fn audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        let (sql, values) = audit::list_sql(query, &DIALECT);
        let query = query.clone();
        self.with_conn(move |conn| {
            let mut statement = conn.prepare_cached(&sql).map_err(unavailable)?;
            let entries = statement
                .query_map(params_from_iter(values), |row| Ok(audit::read_entry(row)))
                .map_err(unavailable)?
                .map(|row| row.map_err(unavailable).and_then(|entry| entry))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(audit::into_page(entries, &query))
        })
        .await
    }

    async fn audit_head(&self) -> Result<Head, StoreError> {
        self.with_conn(|conn| {
            let (seq, hash): (i64, String) = conn
                .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .map_err(unavailable)?;
            audit::head(seq, &hash)
        })
        .await
    }

    async fn get(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            conn.query_row(
                &format!("SELECT {} FROM tokens WHERE id = ?1", rows::columns()),
                [&id],
                read_row,
            )
            .optional()
            .map_err(unavailable)?
            .map(RawRow::into_record)
            .transpose()
        })
        .await
    }

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        let query = query.clone();
        self.with_conn(move |conn| {
            let (sql, values) = rows::list_sql(&query, &DIALECT);
            let mut statement = conn.prepare(&sql).map_err(unavailable)?;
            let rows = statement
                .query_map(params_from_iter(&values), read_row)
                .map_err(unavailable)?;
            rows::into_page(rows.map(|row| row.map_err(unavailable)), query.limit)
        })
        .await
    }

    async fn record_usage(&self, updates: &[UsageUpdate]) -> Result<(), StoreError> {
        let updates = updates.to_vec();
        self.in_transaction(move |tx| {
            let mut statement = tx
                .prepare(
                    "UPDATE tokens SET use_count = use_count + ?2, \
                     last_used_at = MAX(COALESCE(last_used_at, 0), ?3), \
                     last_used_ip = COALESCE(?4, last_used_ip) WHERE id = ?1",
                )
                .map_err(unavailable)?;
            let mut credits = tx
                .prepare(
                    "UPDATE tokens SET credits_left = ?2, credits_period = ?3, credits_of = ?4 \
                     WHERE id = ?1",
                )
                .map_err(unavailable)?;
            let mut hourly = tx.prepare(crate::ADD_USAGE).map_err(unavailable)?;
            for update in &updates {
                let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
                if update.uses > 0 {
                    statement
                        .execute(params![
                            update.id,
                            count(update.uses),
                            update.last_used_at,
                            update.last_client.map(|ip| ip.to_string())
                        ])
                        .map_err(unavailable)?;
                }
                let tally = &update.tally;
                if !tally.is_empty() {
                    hourly
                        .execute(params![
                            update.id,
                            update.hour,
                            count(tally.valid),
                            count(tally.forbidden),
                            count(tally.rate_limited),
                            count(tally.usage_exhausted)
                        ])
                        .map_err(unavailable)?;
                }
                if let Some(balance) = update.credits {
                    let left = i64::try_from(balance.left).unwrap_or(i64::MAX);
                    credits
                        .execute(params![update.id, left, balance.period, balance.of])
                        .map_err(unavailable)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn usage(
        &self,
        id: &str,
        from_hour: i64,
        to_hour: i64,
    ) -> Result<Vec<(i64, Tally)>, StoreError> {
        let id = id.to_owned();
        self.with_conn(move |conn| {
            let mut query = conn.prepare(crate::USAGE_HOURS).map_err(unavailable)?;
            let rows = query
                .query_map(params![id, from_hour, to_hour], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        crate::tally([row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?]),
                    ))
                })
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
        .await
    }

    async fn purge_usage(&self, before_hour: i64) -> Result<usize, StoreError> {
        self.in_transaction(move |tx| {
            tx.execute(
                "DELETE FROM token_usage WHERE hour < ?1",
                params![before_hour],
            )
            .map_err(unavailable)
        })
        .await
    }

    async fn purge_dead(&self, before_ms: i64, limit: u32) -> Result<usize, StoreError> {
        self.in_transaction(move |tx| {
            let ids: Vec<String> = {
                let mut dead = tx.prepare(crate::DEAD_LEAVES).map_err(unavailable)?;
                let rows = dead
                    .query_map(params![before_ms, limit], |row| row.get::<_, String>(0))
                    .map_err(unavailable)?;
                rows.collect::<Result<_, _>>().map_err(unavailable)?
            };
            let mut resources = tx
                .prepare("DELETE FROM token_resources WHERE token_id = ?1")
                .map_err(unavailable)?;
            let mut notices = tx
                .prepare("DELETE FROM token_notices WHERE token_id = ?1")
                .map_err(unavailable)?;
            let mut tokens = tx
                .prepare("DELETE FROM tokens WHERE id = ?1")
                .map_err(unavailable)?;
            for id in &ids {
                resources.execute(params![id]).map_err(unavailable)?;
                notices.execute(params![id]).map_err(unavailable)?;
                tokens.execute(params![id]).map_err(unavailable)?;
            }
            Ok(ids.len())
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with_conn(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(unavailable)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database a newer tessera upgraded is refused, not half-read.
    #[test]
    fn a_database_from_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("newer.db");
        drop(SqliteStore::open(&path).unwrap());
        let newer = Connection::open(&path).unwrap();
        newer
            .pragma_update(None, "user_version", MIGRATIONS.len() + 1)
            .unwrap();
        drop(newer);
        let Err(refused) = SqliteStore::open(&path) else {
            panic!("a newer schema opened");
        };
        assert!(
            refused.to_string().contains("newer than this tessera's"),
            "{refused}"
        );
    }

    /// A database written before the change feed existed still opens, and its tokens
    /// read back (the migration added `change_seq` after the other columns).
    #[tokio::test]
    async fn a_database_from_the_first_schema_opens_and_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(MIGRATIONS[0]).unwrap();
        old.pragma_update(None, "user_version", 1).unwrap();
        old.execute(
            "INSERT INTO tokens (id, hash, start, is_admin, name, scopes, expires_at, owner, \
             created_at, updated_at) \
             VALUES ('old', ?1, 'tsr_old', 0, 'Old', '[\"repo:read\"]', 5, 'bob', 1, 2)",
            [&[3u8; 32][..]],
        )
        .unwrap();
        drop(old);

        let store = SqliteStore::open(&path).unwrap();
        let loaded = store.load_all().await.unwrap();
        assert_eq!(loaded.up_to, 1);
        let [change] = &loaded.changes[..] else {
            panic!("one token, got {:?}", loaded.changes);
        };
        assert_eq!(change.seq, 1);
        let token = &change.record;
        assert_eq!(
            (
                token.id.as_str(),
                token.settings.name.as_str(),
                token.updated_at
            ),
            ("old", "Old", 2)
        );
        assert_eq!(
            (token.settings.expires_at, token.settings.owner.as_deref()),
            (Some(5), Some("bob"))
        );
        assert_eq!(store.get("old").await.unwrap().as_ref(), Some(token));
        assert_eq!(token.settings.not_before, None);
        // Opened again: every migration and added column is there already.
        drop(store);
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(again.load_all().await.unwrap().changes.len(), 1);
    }
}
