//! The audit log's table, written by both backends in the transaction of the change
//! it records (a change never lands without its entry), and read back for listing
//! and for checking the chain.
//!
//! Entries are chained in one order across the deployment: every append reads and
//! moves the one row of `audit_head` in its transaction, which on PostgreSQL locks
//! it until commit, so appends from all nodes follow one another. A token write
//! already holds the change feed's lock by then, so the entries of token writes
//! follow the feed's order.

use tessera_core::audit::{Digest32, Entry, Event, Head};

use crate::rows::{Dialect, ReadColumn, SqlValue};
use crate::{ChangeSeq, Revocation, StoreError};

/// The tables, the same for both backends (hashes as hex text, ids lists as
/// space-separated text).
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE audit_log (
    seq           BIGINT PRIMARY KEY,
    at            BIGINT NOT NULL,
    action        TEXT NOT NULL,
    actor_id      TEXT,
    actor_name    TEXT,
    target_id     TEXT,
    lineage       TEXT NOT NULL,
    change_seq    BIGINT,
    client_ip     TEXT,
    request_id    TEXT,
    details       TEXT NOT NULL,
    cascade       TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    hash          TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log(actor_id, seq);
CREATE INDEX audit_log_target ON audit_log(target_id, seq);
CREATE INDEX audit_log_action ON audit_log(action, seq);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
"#;

/// Moves the head after an append (`$1` seq, `$2` hash).
pub(crate) const MOVE_HEAD: &str = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1";

/// Adds one entry; the values in [`entry_values`]' order.
pub(crate) const INSERT_ENTRY: &str = "INSERT INTO audit_log (seq, at, action, actor_id, \
     actor_name, target_id, lineage, change_seq, client_ip, request_id, details, cascade, \
     previous_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

const COLUMNS: &str = "seq, at, action, actor_id, actor_name, target_id, lineage, change_seq, \
     client_ip, request_id, details, cascade, previous_hash, hash";

/// The head as stored.
pub(crate) fn head(seq: i64, hash: &str) -> Result<Head, StoreError> {
    Ok(Head {
        seq,
        hash: digest(hash)?,
    })
}

fn digest(text: &str) -> Result<Digest32, StoreError> {
    let mut out = [0; 32];
    hex::decode_to_slice(text, &mut out).map_err(|_| {
        StoreError::Corrupt(format!("an audit hash is not 64 hex digits: {text:?}"))
    })?;
    Ok(out)
}

/// An entry's values, bound to [`INSERT_ENTRY`].
pub(crate) fn entry_values(entry: &Entry) -> Vec<SqlValue> {
    let text = |value: &Option<String>| value.clone().map_or(SqlValue::NullText, SqlValue::Text);
    let event = &entry.event;
    vec![
        SqlValue::Int(entry.seq),
        SqlValue::Int(event.at),
        SqlValue::Text(event.action.clone()),
        text(&event.actor_id),
        text(&event.actor_name),
        text(&event.target_id),
        SqlValue::Text(event.lineage.join(" ")),
        event.change_seq.map_or(SqlValue::NullInt, SqlValue::Int),
        text(&event.client_ip),
        text(&event.request_id),
        SqlValue::Text(event.details.clone()),
        SqlValue::Text(event.cascade.join(" ")),
        SqlValue::Text(hex::encode(entry.previous_hash)),
        SqlValue::Text(hex::encode(entry.hash)),
    ]
}

/// Reads an entry from a row of [`COLUMNS`].
pub(crate) fn read_entry<R: ReadColumn + ?Sized>(row: &R) -> Result<Entry, StoreError>
where
    R::Error: std::fmt::Display,
{
    let corrupt = |e: R::Error| StoreError::Corrupt(format!("an audit entry does not read: {e}"));
    let list = |text: String| -> Vec<String> {
        text.split(' ')
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let event = Event {
        at: row.int("at").map_err(corrupt)?,
        action: row.text("action").map_err(corrupt)?,
        actor_id: row.opt_text("actor_id").map_err(corrupt)?,
        actor_name: row.opt_text("actor_name").map_err(corrupt)?,
        target_id: row.opt_text("target_id").map_err(corrupt)?,
        lineage: list(row.text("lineage").map_err(corrupt)?),
        change_seq: row.opt_int("change_seq").map_err(corrupt)?,
        client_ip: row.opt_text("client_ip").map_err(corrupt)?,
        request_id: row.opt_text("request_id").map_err(corrupt)?,
        details: row.text("details").map_err(corrupt)?,
        cascade: list(row.text("cascade").map_err(corrupt)?),
    };
    Ok(Entry {
        seq: row.int("seq").map_err(corrupt)?,
        event,
        previous_hash: digest(&row.text("previous_hash").map_err(corrupt)?)?,
        hash: digest(&row.text("hash").map_err(corrupt)?)?,
    })
}

/// An event with what only the store knows: the change number of its write and,
/// for a revocation, the other tokens it took down. `None` for a revocation that
/// revoked nothing (the token was revoked already): nothing changed to record.
pub(crate) fn completed(
    mut event: Event,
    seq: ChangeSeq,
    revocation: Option<&Revocation>,
) -> Option<Event> {
    event.change_seq = Some(seq);
    if let Some(revocation) = revocation {
        if revocation.revoked.is_empty() {
            return None;
        }
        let target = event.target_id.as_deref();
        event.cascade = revocation
            .revoked
            .iter()
            .map(|record| record.id.clone())
            .filter(|id| Some(id.as_str()) != target)
            .collect();
    }
    Some(event)
}

/// An admin reset's event: every admin token it revoked is its cascade.
pub(crate) fn completed_reset(event: Event, seq: ChangeSeq, revocation: &Revocation) -> Event {
    Event {
        change_seq: Some(seq),
        cascade: revocation.revoked.iter().map(|r| r.id.clone()).collect(),
        ..event
    }
}

/// Which entries to list.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub target: Option<String>,
    pub action: Option<String>,
    /// From this time (milliseconds), inclusive.
    pub from_ms: Option<i64>,
    /// Until this time, exclusive.
    pub to_ms: Option<i64>,
    /// Only entries about this token or tokens made through it (a manager's view).
    pub within: Option<String>,
    /// Oldest first from after this seq (for walking the chain); otherwise newest
    /// first, before it (pages of a listing).
    pub oldest_first: bool,
    pub after: Option<i64>,
    /// At most this many (the caller bounds it).
    pub limit: u32,
}

/// One page of entries.
#[derive(Clone, Debug, Default)]
pub struct AuditPage {
    pub entries: Vec<Entry>,
    /// Where the next page starts, if there is one.
    pub next_cursor: Option<i64>,
}

/// A listing as SQL, one row more than asked (that row only tells whether another
/// page follows).
pub(crate) fn list_sql(query: &AuditQuery, dialect: &Dialect) -> (String, Vec<SqlValue>) {
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    let mut bind = |value: SqlValue| {
        values.push(value);
        (dialect.placeholder)(values.len())
    };
    let text = |value: &str| SqlValue::Text(value.to_owned());
    if let Some(actor) = &query.actor {
        conditions.push(format!("actor_id = {}", bind(text(actor))));
    }
    if let Some(target) = &query.target {
        conditions.push(format!("target_id = {}", bind(text(target))));
    }
    if let Some(action) = &query.action {
        conditions.push(format!("action = {}", bind(text(action))));
    }
    if let Some(from) = query.from_ms {
        conditions.push(format!("at >= {}", bind(SqlValue::Int(from))));
    }
    if let Some(to) = query.to_ms {
        conditions.push(format!("at < {}", bind(SqlValue::Int(to))));
    }
    if let Some(within) = &query.within {
        // Ids are all the same length, so one found inside the padded list is a
        // whole one.
        let needle = bind(text(&format!(" {within} ")));
        conditions.push((dialect.contains)("(' ' || lineage || ' ')", &needle));
    }
    let order = if query.oldest_first { "ASC" } else { "DESC" };
    if let Some(after) = query.after {
        let sign = if query.oldest_first { ">" } else { "<" };
        conditions.push(format!("seq {sign} {}", bind(SqlValue::Int(after))));
    }
    let limit = bind(SqlValue::Int(i64::from(query.limit) + 1));
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    (
        format!("SELECT {COLUMNS} FROM audit_log {filter} ORDER BY seq {order} LIMIT {limit}"),
        values,
    )
}

/// The page of `rows` read for `query`.
pub(crate) fn into_page(mut entries: Vec<Entry>, query: &AuditQuery) -> AuditPage {
    let next_cursor = crate::cut_page(&mut entries, query.limit, |entry| entry.seq);
    AuditPage {
        entries,
        next_cursor,
    }
}
