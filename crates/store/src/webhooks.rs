//! Webhook endpoints and their deliveries, kept beside the tokens by both backends.
//!
//! Deliveries are made from the audit log (the outbox, written with each change):
//! `webhook_cursor` holds the newest entry turned into deliveries, and moves in the
//! same transaction as the deliveries it made, only from where the caller read it
//! (compare and set), so that two nodes never make an entry's deliveries twice. A
//! delivery is claimed for a while (a lease) by the node that sends it; a node that
//! dies mid-send leaves it to be claimed again when the lease ends: at least once.

use async_trait::async_trait;
use tessera_core::audit::Event;

use crate::StoreError;
use crate::rows::{ReadColumn, SqlValue};

/// The tables, the same for both backends. The cursor starts at the audit log's
/// head: history written before webhooks existed is not announced.
pub(crate) const SCHEMA: &str = r#"
CREATE TABLE webhook_endpoints (
    id          TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    events      TEXT NOT NULL,
    secret      TEXT NOT NULL,
    description TEXT,
    disabled    BIGINT NOT NULL DEFAULT 0,
    since_seq   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE TABLE webhook_deliveries (
    seq              BIGINT PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    endpoint_id      TEXT NOT NULL,
    audit_seq        BIGINT NOT NULL,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    first_attempt_at BIGINT,
    next_attempt_at  BIGINT NOT NULL,
    last_status      BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    delivered_at     BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, seq);
CREATE TABLE webhook_cursor (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO webhook_cursor (id, seq) SELECT 1, seq FROM audit_head;
CREATE TABLE token_notices (
    token_id TEXT NOT NULL,
    notice   TEXT NOT NULL,
    PRIMARY KEY (token_id, notice)
);
"#;

/// A place to send events to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    /// The subscription as stored (`tessera_core::webhook::Subscription::stored`).
    pub events: String,
    /// `whsec_…`: signs every delivery. Shown once, when the endpoint is made.
    pub secret: String,
    pub description: Option<String>,
    /// Sends nothing while true; deliveries wait.
    pub disabled: bool,
    /// The audit entry that records its creation: it hears of the entries after
    /// it (by their place in the chain, which every node agrees on, not by clocks).
    /// Set by the store.
    pub since_seq: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where a delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not yet delivered; tried again at `next_attempt_at`.
    Pending,
    Delivered,
    /// Given up on after a day of attempts (or its endpoint is gone).
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// One event on its way to one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Orders the deliveries (the entry's, then the endpoint's and event's).
    pub seq: i64,
    /// `msg_…`: the `webhook-id` of every attempt.
    pub id: String,
    pub endpoint_id: String,
    pub audit_seq: i64,
    pub event_type: String,
    /// The JSON body, exactly as sent (and signed).
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub first_attempt_at: Option<i64>,
    pub next_attempt_at: i64,
    /// The HTTP status the endpoint last answered.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub id: String,
    /// The lease the claim set (the claimed delivery's `next_attempt_at`).
    pub leased_until: i64,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub first_attempt_at: i64,
    pub next_attempt_at: i64,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub delivered_at: Option<i64>,
}

/// One page of an endpoint's deliveries, newest first.
#[derive(Clone, Debug, Default)]
pub struct DeliveryPage {
    pub deliveries: Vec<Delivery>,
    pub next_cursor: Option<i64>,
}

/// What both backends keep for webhooks.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Adds an endpoint with the audit entry that records it, in one transaction;
    /// returns the entry's place (the endpoint's `since_seq`).
    async fn create_endpoint(&self, endpoint: &Endpoint, event: Event) -> Result<i64, StoreError>;

    /// Changes an endpoint's url, events, description and state, with its audit
    /// entry. False, and nothing written, if it is gone (deleted meanwhile).
    async fn update_endpoint(&self, endpoint: &Endpoint, event: Event) -> Result<bool, StoreError>;

    /// Removes an endpoint and the deliveries it still had waiting (its log goes
    /// with it), with its audit entry. False if there was none.
    async fn delete_endpoint(&self, id: &str, event: Event) -> Result<bool, StoreError>;

    async fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError>;

    /// The newest audit entry already turned into deliveries.
    async fn fanned_out(&self) -> Result<i64, StoreError>;

    /// Stores `deliveries` and moves the cursor from `from` to `to`, unless another
    /// node moved it first: then false, and nothing is written.
    async fn enqueue(
        &self,
        from: i64,
        to: i64,
        deliveries: &[Delivery],
    ) -> Result<bool, StoreError>;

    /// Takes up to `limit` deliveries due at `now` for this node to send, of
    /// endpoints that exist and are enabled: each is not due again until
    /// `lease_until`, when it is claimed anew if its attempt was never recorded (the
    /// node died).
    async fn claim_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// Records an attempt, if the delivery is still this node's (pending, under the
    /// lease the claim set): an answer written after its lease ran out, when another
    /// node may have sent it again, is dropped. False then.
    async fn record_attempt(&self, attempt: &Attempt) -> Result<bool, StoreError>;

    /// An endpoint's deliveries, newest first, before the cursor `before`.
    async fn deliveries(
        &self,
        endpoint_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<DeliveryPage, StoreError>;

    /// Records a notice about a token (`expiring:7d`, `expired`, an exhaustion)
    /// with its audit entry, once: false, and nothing written, if it was already.
    async fn record_notice(
        &self,
        token_id: &str,
        notice: &str,
        event: Event,
    ) -> Result<bool, StoreError>;
}

pub(crate) const ENDPOINT_COLUMNS: &str =
    "id, url, events, secret, description, disabled, since_seq, created_at, updated_at";

pub(crate) const INSERT_ENDPOINT: &str = "INSERT INTO webhook_endpoints \
     (id, url, events, secret, description, disabled, since_seq, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

/// The values of [`INSERT_ENDPOINT`], its creation's entry at `since_seq`.
pub(crate) fn endpoint_values(endpoint: &Endpoint, since_seq: i64) -> Vec<SqlValue> {
    vec![
        SqlValue::Text(endpoint.id.clone()),
        SqlValue::Text(endpoint.url.clone()),
        SqlValue::Text(endpoint.events.clone()),
        SqlValue::Text(endpoint.secret.clone()),
        description(endpoint),
        SqlValue::Int(i64::from(endpoint.disabled)),
        SqlValue::Int(since_seq),
        SqlValue::Int(endpoint.created_at),
        SqlValue::Int(endpoint.updated_at),
    ]
}

/// Changes what an edit may change; the id last (SQLite numbers `$n` by first
/// appearance).
pub(crate) const UPDATE_ENDPOINT: &str = "UPDATE webhook_endpoints SET url = $1, events = $2, \
     description = $3, disabled = $4, updated_at = $5 WHERE id = $6";

pub(crate) fn update_values(endpoint: &Endpoint) -> Vec<SqlValue> {
    vec![
        SqlValue::Text(endpoint.url.clone()),
        SqlValue::Text(endpoint.events.clone()),
        description(endpoint),
        SqlValue::Int(i64::from(endpoint.disabled)),
        SqlValue::Int(endpoint.updated_at),
        SqlValue::Text(endpoint.id.clone()),
    ]
}

fn description(endpoint: &Endpoint) -> SqlValue {
    endpoint
        .description
        .clone()
        .map_or(SqlValue::NullText, SqlValue::Text)
}

pub(crate) fn read_endpoint<R: ReadColumn + ?Sized>(row: &R) -> Result<Endpoint, StoreError>
where
    R::Error: std::fmt::Display,
{
    let bad = |e: R::Error| StoreError::Corrupt(format!("a webhook endpoint does not read: {e}"));
    Ok(Endpoint {
        id: row.text("id").map_err(bad)?,
        url: row.text("url").map_err(bad)?,
        events: row.text("events").map_err(bad)?,
        secret: row.text("secret").map_err(bad)?,
        description: row.opt_text("description").map_err(bad)?,
        disabled: row.int("disabled").map_err(bad)? != 0,
        since_seq: row.int("since_seq").map_err(bad)?,
        created_at: row.int("created_at").map_err(bad)?,
        updated_at: row.int("updated_at").map_err(bad)?,
    })
}

pub(crate) const DELIVERY_COLUMNS: &str = "seq, id, endpoint_id, audit_seq, event_type, payload, \
     status, attempts, first_attempt_at, next_attempt_at, last_status, last_error, created_at, \
     delivered_at";

pub(crate) const INSERT_DELIVERY: &str = "INSERT INTO webhook_deliveries \
     (seq, id, endpoint_id, audit_seq, event_type, payload, status, attempts, next_attempt_at, \
      created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub(crate) fn delivery_values(delivery: &Delivery) -> Vec<SqlValue> {
    vec![
        SqlValue::Int(delivery.seq),
        SqlValue::Text(delivery.id.clone()),
        SqlValue::Text(delivery.endpoint_id.clone()),
        SqlValue::Int(delivery.audit_seq),
        SqlValue::Text(delivery.event_type.clone()),
        SqlValue::Text(delivery.payload.clone()),
        SqlValue::Text(delivery.status.as_str().to_owned()),
        SqlValue::Int(i64::from(delivery.attempts)),
        SqlValue::Int(delivery.next_attempt_at),
        SqlValue::Int(delivery.created_at),
    ]
}

pub(crate) fn read_delivery<R: ReadColumn + ?Sized>(row: &R) -> Result<Delivery, StoreError>
where
    R::Error: std::fmt::Display,
{
    let bad = |e: R::Error| StoreError::Corrupt(format!("a webhook delivery does not read: {e}"));
    let status = row.text("status").map_err(bad)?;
    Ok(Delivery {
        seq: row.int("seq").map_err(bad)?,
        id: row.text("id").map_err(bad)?,
        endpoint_id: row.text("endpoint_id").map_err(bad)?,
        audit_seq: row.int("audit_seq").map_err(bad)?,
        event_type: row.text("event_type").map_err(bad)?,
        payload: row.text("payload").map_err(bad)?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("a delivery's status is {status:?}")))?,
        attempts: u32::try_from(row.int("attempts").map_err(bad)?).unwrap_or(u32::MAX),
        first_attempt_at: row.opt_int("first_attempt_at").map_err(bad)?,
        next_attempt_at: row.int("next_attempt_at").map_err(bad)?,
        last_status: row
            .opt_int("last_status")
            .map_err(bad)?
            .and_then(|status| u16::try_from(status).ok()),
        last_error: row.opt_text("last_error").map_err(bad)?,
        created_at: row.int("created_at").map_err(bad)?,
        delivered_at: row.opt_int("delivered_at").map_err(bad)?,
    })
}

/// Claims the due deliveries (`$1` lease end, `$2` now, `$3` how many); `{lock}` is
/// where PostgreSQL says to skip rows another node is claiming.
pub(crate) fn claim_sql(lock: &str) -> String {
    format!(
        "UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE seq IN \
         (SELECT seq FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $2 \
            AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE disabled = 0) \
          ORDER BY next_attempt_at, seq LIMIT $3 {lock}) \
         RETURNING {DELIVERY_COLUMNS}"
    )
}

/// Parameters in the order they appear: SQLite numbers `$n` by first appearance.
pub(crate) const RECORD_ATTEMPT: &str = "UPDATE webhook_deliveries SET status = $1, attempts = $2, \
     first_attempt_at = $3, next_attempt_at = $4, last_status = $5, last_error = $6, \
     delivered_at = $7 WHERE id = $8 AND status = 'pending' AND next_attempt_at = $9";

pub(crate) fn attempt_values(attempt: &Attempt) -> Vec<SqlValue> {
    vec![
        SqlValue::Text(attempt.status.as_str().to_owned()),
        SqlValue::Int(i64::from(attempt.attempts)),
        SqlValue::Int(attempt.first_attempt_at),
        SqlValue::Int(attempt.next_attempt_at),
        attempt
            .last_status
            .map_or(SqlValue::NullInt, |status| SqlValue::Int(i64::from(status))),
        attempt
            .last_error
            .clone()
            .map_or(SqlValue::NullText, SqlValue::Text),
        attempt
            .delivered_at
            .map_or(SqlValue::NullInt, SqlValue::Int),
        SqlValue::Text(attempt.id.clone()),
        SqlValue::Int(attempt.leased_until),
    ]
}

/// An endpoint's deliveries (`$1`), newest first, before `$2`, `$3` of them (one
/// more than asked, to tell whether a next page follows).
pub(crate) fn deliveries_sql() -> String {
    format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 AND seq < $2 \
         ORDER BY seq DESC LIMIT $3"
    )
}

/// The page of `rows` read with [`deliveries_sql`].
pub(crate) fn into_page(mut deliveries: Vec<Delivery>, limit: u32) -> DeliveryPage {
    let next_cursor = crate::cut_page(&mut deliveries, limit, |delivery| delivery.seq);
    DeliveryPage {
        deliveries,
        next_cursor,
    }
}
