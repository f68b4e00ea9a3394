//! The shared backend: PostgreSQL, for several tessera nodes behind a load balancer.
//!
//! Every change to a token is numbered in one change feed for all nodes, from the
//! one row of `tessera_change_feed`. A node's writes go in groups (`crate::group`):
//! one transaction and one durable commit each. A group's transaction first takes
//! its turn, the feed's row, locked until it commits; then it locks the rows it
//! changes, takes its numbers, writes each row with its own number worked out by
//! the database, appends its audit entries (made by the database too), announces
//! its newest number and commits, all in one round trip when it edits nothing. So
//! the numbered writes run one at a time, in number order: the feed has no gaps (a
//! reader that sees number `n` committed sees everything before it) and every
//! write is decided on current rows, with no row lock ever waited for by one
//! transaction holding the feed for another that waits for it.
//!
//! While other nodes write, a group is closed at its turn, not before (issue 21):
//! its transaction waits for the turn in a round trip of its own, and the group
//! then takes every write that arrived meanwhile. Closed before, each node's group
//! waited for the other's with only the writes that had arrived until then, and
//! the next took those that arrived meanwhile, so groups were half as large as one
//! node's and the feed's fixed cost per group was paid twice as often. The
//! transaction announces its newest number with `pg_notify` (delivered at commit)
//! so other nodes wake at once; a node that misses an announcement still catches
//! up by number, on its next periodic poll or when its listening connection comes
//! back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::StreamExt;
use tessera_core::audit::{DOMAIN, Event, Head};
use tessera_core::record::{CreditsBalance, TokenRecord};
use tokio::sync::{mpsc, watch};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{AsyncMessage, Row};
use tokio_postgres_rustls::MakeRustlsConnect;

pub(crate) mod tls;

use crate::audit::{self, AuditPage, AuditQuery};
use crate::group::{Gathering, GroupCommit, GroupFailure, Write, WriteGroup, Written};
use crate::rows::{self, Dialect, RawRow, ReadColumn, SqlValue, Standing};
use crate::webhooks::{self, Attempt, Delivery, DeliveryPage, Endpoint, WebhookStore};
use crate::{
    Basis, ChangeSeq, Changes, FeedSignal, ListPage, ListQuery, Revocation, StoreError, Tally,
    TokenStore, UsageUpdate,
};

/// The channel writes announce their change numbers on.
const CHANNEL: &str = "tessera_changes";
/// How long a call waits to get or open a connection before answering "unavailable".
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Longest pause between attempts to re-open the listening connection.
const MAX_LISTEN_BACKOFF: Duration = Duration::from_secs(2);
/// Connections per node; writes are serialised anyway, reads are few.
const POOL_SIZE: usize = 8;
/// The follower's connections, which plan by index (the writer has its own).
const BY_INDEX_POOL_SIZE: usize = 1;
/// Serialises migrations when several nodes start at once (`'tessera'` as a number).
const MIGRATION_LOCK: i64 = 0x0074_6573_7365_7261;
/// Serialises the making and replacing of the admin token (`'tessadm'`).
const ADMIN_LOCK: i64 = 0x0074_6573_7361_646d;

/// Schema migrations, applied in order; `tessera_schema` counts those applied.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE tessera_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE tessera_change_feed (
    id  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    seq BIGINT NOT NULL
);
INSERT INTO tessera_change_feed (id, seq) VALUES (TRUE, 0);
CREATE TABLE tokens (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    hash            BYTEA NOT NULL UNIQUE,
    start           TEXT NOT NULL,
    is_admin        BOOLEAN NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT,
    scopes          TEXT,
    access          TEXT,
    resources       TEXT,
    rate_profile    TEXT,
    rate_per_minute BIGINT,
    rate_burst      BIGINT,
    expires_at      BIGINT,
    owner           TEXT,
    meta            TEXT,
    parent_id       TEXT REFERENCES tokens(id),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    revoked_at      BIGINT,
    last_used_at    BIGINT,
    use_count       BIGINT NOT NULL DEFAULT 0,
    change_seq      BIGINT NOT NULL
);
CREATE INDEX tokens_parent ON tokens(parent_id);
CREATE INDEX tokens_owner ON tokens(owner);
CREATE INDEX tokens_change_seq ON tokens(change_seq);
CREATE TABLE token_resources (
    token_id TEXT NOT NULL REFERENCES tokens(id),
    pattern  TEXT NOT NULL,
    PRIMARY KEY (token_id, pattern)
);
CREATE INDEX token_resources_pattern ON token_resources(pattern);
"#,
    // Nearly every token's parent is the admin token, so the statistics say that a
    // parent has the whole table for children, and a revocation's walk down the
    // subtree read all of it, twice (issue 21). Most tokens make none: planned as if
    // most parents had a couple of children, each step of the walk is an index probe.
    // The admin's own children are still counted by the statistics' common values.
    r#"
ALTER TABLE tokens ALTER COLUMN parent_id SET (n_distinct = -0.5);
ANALYZE tokens;
"#,
    audit::SCHEMA,
    webhooks::SCHEMA,
    // The row locks a group took before the feed, until a group took the feed
    // first ([`LOCK_FEED`]). No longer called, but kept: nodes of the version before
    // call them while a cluster is upgraded one node at a time (docs/operations.md).
    include_str!("postgres/retired/lock_for_change.sql"),
    CHANGE_NUMBER_FUNCTION,
    include_str!("postgres/retired/lock_subtrees.sql"),
    // Issue 21: a group in one round trip, its `COMMIT` included.
    REFUSED_FUNCTION,
    APPEND_ENTRIES_FUNCTION,
];

const DIALECT: Dialect = Dialect {
    placeholder: |n| format!("${n}"),
    contains: |haystack, needle| format!("strpos({haystack}, {needle}) > 0"),
    text_param: "{}::text",
    millis_type: "BIGINT",
    // `IN (subquery)` is planned as a join on the whole table, which the planner
    // reads whole when it expects the subquery to be large; an array is looked up
    // element by element through the index.
    in_subquery: "= ANY(ARRAY({}))",
    // A join of the subtree with the table is planned from the table's statistics,
    // and before the first ANALYZE (a new deployment's first minutes) the planner
    // reads the whole table for it. A subquery per member, with the member as a
    // parameter, is looked up through the index whatever the statistics say.
    children_in_subtree: "SELECT unnest(ARRAY(SELECT t.id FROM tokens t WHERE t.parent_id = s.id)) \
                          FROM subtree s",
    // The transaction's first number plus the write's place (see `TAKE_NUMBERS`).
    change_number: "tessera_change_number({})",
};

/// A token store in a PostgreSQL database, shared by every node.
pub struct PostgresStore {
    pool: Pool,
    /// Signs this node's announcements, so that its follower skips them: the node
    /// brings its own writes into its index itself.
    node: NodeTag,
    /// The follower's connections (see `connect`).
    by_index: Pool,
    writes: GroupCommit,
    signals: watch::Receiver<FeedSignal>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`), brings the
    /// schema up to date and starts listening for other nodes' writes.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let invalid = |e: &dyn std::fmt::Display| {
            StoreError::Unavailable(format!("the database URL is not valid: {e}").into())
        };
        let (url, tls) = tls::split_url(url).map_err(|e| invalid(&e))?;
        if tls.unchecked_require() {
            tracing::warn!(
                "sslmode=require encrypts the database connection but does not check whose \
                 certificate it is; use sslmode=verify-full with sslrootcert"
            );
        }
        let tls = tls.connector().map_err(|e| invalid(&e))?;
        // The parse error never repeats the URL, which may hold a password.
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| invalid(&e))?;
        config
            .application_name("tessera")
            .connect_timeout(CONNECT_TIMEOUT)
            .keepalives_idle(Duration::from_secs(10));
        let pool = pool(config.clone(), tls.clone(), POOL_SIZE)?;
        migrate(&pool).await?;
        // The writer's and the follower's connections plan every statement by index
        // (`enable_seqscan` off): each of their statements reads a few rows through
        // one, and the planner's statistics of a table that grows fast are often
        // behind. Before a new table's first statistics (a deployment's first
        // minute) the follower's read of the last few changes was planned as a read
        // of the whole table, after every group another node committed. Left to
        // its costs, PostgreSQL also sometimes kept plans that made each insert ten
        // times dearer (0.31 to 0.36 ms against 0.03 ms at 10k tokens, in about half
        // the runs of `scripts/bench cluster`), most likely plans made while the
        // table was tiny that read it whole.
        let mut by_index = config.clone();
        // JIT compiles only plans it thinks costly, and none of these is: one that
        // looks so has gone wrong, and compiling it takes 100 ms or more. Plans
        // kept once made: by index whatever the values, they need no fitting to
        // them, and left to choose, PostgreSQL planned the follower's read and the
        // parents' locks anew on every call (0.2 ms each, 0.8 s of planning in 10 s
        // of two nodes' writes; issue 21).
        by_index.options(format!(
            "{} -c enable_seqscan=off -c jit=off -c plan_cache_mode=force_generic_plan",
            config.get_options().unwrap_or_default()
        ));
        // The writer's own, opened by its task and so driven by its runtime (see
        // `crate::group`); one transaction at a time, on one connection.
        let writer = self::pool(by_index.clone(), tls.clone(), 1)?;
        let by_index = self::pool(by_index, tls.clone(), BY_INDEX_POOL_SIZE)?;
        let (sender, signals) = watch::channel(FeedSignal::default());
        config.application_name("tessera-listen");
        let node = NodeTag(tessera_core::random::identifier("node"));
        let others = OtherWriters::new();
        let heard = Heard {
            node: node.clone(),
            others: others.clone(),
        };
        let listener = tokio::spawn(listen(config, tls, sender, heard));
        Ok(Self {
            writes: GroupCommit::new(GroupWriter {
                pool: writer,
                node: node.clone(),
                others,
            }),
            node,
            pool,
            by_index,
            signals,
            listener,
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        client(&self.pool).await
    }
}

/// A pool of connections made with `config`.
fn pool(
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    size: usize,
) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        config,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(CONNECT_TIMEOUT))
        .create_timeout(Some(CONNECT_TIMEOUT))
        .recycle_timeout(Some(CONNECT_TIMEOUT))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Unavailable(e.into()))
}

async fn client(pool: &Pool) -> Result<deadpool_postgres::Client, StoreError> {
    pool.get().await.map_err(|e| {
        StoreError::Unavailable(
            format!("no database connection: {}", crate::with_causes(&e)).into(),
        )
    })
}

/// Writes a node's groups of token writes, each in one transaction.
struct GroupWriter {
    pool: Pool,
    node: NodeTag,
    others: OtherWriters,
}

/// When this node last heard another node announce a write (its listener, the
/// milliseconds since `since`, 0 for never): whether its groups share the feed.
#[derive(Clone)]
struct OtherWriters {
    since: Instant,
    last_heard: Arc<AtomicU64>,
}

impl OtherWriters {
    /// How long after another node's last announcement a node still waits for its
    /// turn before it closes a group ([`GroupWriter::try_group`]): many of its turns,
    /// at the rates where waiting pays.
    const LATELY: Duration = Duration::from_millis(100);

    fn new() -> Self {
        Self {
            since: Instant::now(),
            last_heard: Arc::new(AtomicU64::new(0)),
        }
    }

    fn heard(&self) {
        self.last_heard.store(self.now(), Ordering::Relaxed);
    }

    fn lately(&self) -> bool {
        match self.last_heard.load(Ordering::Relaxed) {
            0 => false,
            heard => self.now().saturating_sub(heard) < Self::LATELY.as_millis() as u64,
        }
    }

    /// The milliseconds since `since`, plus one: 0 stays "never".
    fn now(&self) -> u64 {
        let elapsed = u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        elapsed.saturating_add(1)
    }
}

/// A random name for this process's store, sent with its announcements.
#[derive(Clone, Debug, PartialEq, Eq)]
struct NodeTag(String);

impl NodeTag {
    /// The announcement of change `seq`: `"<seq> <node>"`.
    fn announcement(&self, seq: ChangeSeq) -> String {
        format!("{seq} {}", self.0)
    }

    /// The change an announcement names, unless this node made it (`Some(None)`);
    /// `None` if it cannot be read.
    fn foreign(&self, payload: &str) -> Option<Option<ChangeSeq>> {
        let (seq, node) = payload.split_once(' ').unwrap_or((payload, ""));
        let seq = seq.parse().ok()?;
        Some((node != self.0).then_some(seq))
    }
}

#[async_trait]
impl WriteGroup for GroupWriter {
    async fn write_group(
        &self,
        gathering: &mut Gathering<'_>,
    ) -> Result<Vec<Written>, GroupFailure> {
        let mut attempts = 1;
        loop {
            match self.try_group(gathering).await {
                // This transaction and one that does not take the feed (a usage
                // flush, a purge) waited for each other's rows, or one held a row
                // past the operator's `lock_timeout`: it was ended. Rare, as all of
                // them lock rows in id order, briefly. Not this group's fault: it
                // is written again, whole.
                Err(failure) if must_retry(&failure.error) && attempts < DEADLOCK_ATTEMPTS => {
                    attempts += 1;
                }
                done => return done,
            }
        }
    }
}

/// How many times a group is tried when it is ended for another's sake ([`must_retry`]).
const DEADLOCK_ATTEMPTS: usize = 3;

impl GroupWriter {
    /// One transaction for a group: its turn ([`LOCK_FEED`]), its row locks
    /// ([`LOCK_ROWS`]), its numbers in the feed ([`TAKE_NUMBERS`]), its writes, each
    /// decided on current rows and numbered by the database, its audit entries, made
    /// by the database too ([`APPEND_ENTRIES_FUNCTION`]), and the commit.
    ///
    /// While other nodes write ([`OtherWriters`]), the turn is waited for first, in
    /// a round trip of its own, and the group closed ([`Gathering::close`]) only
    /// when it comes, with the writes that arrived meanwhile. A node that writes
    /// alone never waits for its turn, and closes the group at once: the turn goes
    /// in the group's first round trip, which spares a round trip a group (one node
    /// made 10 to 15% fewer creations a second with it).
    async fn try_group(&self, gathering: &mut Gathering<'_>) -> Result<Vec<Written>, GroupFailure> {
        let tx = Tx::new(client(&self.pool).await.map_err(GroupFailure::whole)?);
        let sharing = self.others.lately();
        let turn = if sharing {
            take_turn(&tx).await
        } else {
            Ok(())
        };
        let written = match turn {
            Ok(()) => self.write_in(&tx, &gathering.close(), !sharing).await,
            Err(failure) => Err(failure),
        };
        if written.is_err() {
            tx.rollback().await;
        }
        written
    }

    /// Sends `group` in as few round trips as its edits allow: one for a group
    /// without edits, its `COMMIT` last, so that the feed's lock is held for the
    /// database's work, and for no answer's trip to this node and back but the
    /// turn's, when it was waited for apart, and each edit's (issue 21: with two
    /// nodes, each waiting for the other's turn, such trips were most of a turn).
    /// `begins`: the transaction and its turn are taken by the first round trip.
    async fn write_in(
        &self,
        tx: &Tx,
        group: &[Arc<Write>],
        begins: bool,
    ) -> Result<Vec<Written>, GroupFailure> {
        let locks = Locks::of(group);
        let mut opening = Some(Opening {
            begins,
            locks: &locks,
            count: group.len(),
        });
        let mut numbers = None;
        let mut written = Vec::with_capacity(group.len());
        loop {
            let at = written.len();
            // An edit reads its checks first, so it goes alone; the creations and
            // revocations after it go out together, without waiting for each answer.
            let together = group[at..]
                .iter()
                .take_while(|write| !matches!(***write, Write::Update { .. }))
                .count();
            let closes = at + together == group.len();
            let round = Round {
                opening: opening.take(),
                writes: &group[at..at + together],
                first: at,
                closing: closes.then_some(Closing {
                    group,
                    node: &self.node,
                }),
            };
            let (taken, outcomes) = send_round(tx, round).await?;
            numbers = numbers.or(taken);
            written.extend(outcomes);
            if closes {
                break;
            }
            if let Some(Write::Update { record, basis, .. }) =
                group.get(written.len()).map(|w| &**w)
            {
                let at = written.len();
                let failed = |error| GroupFailure {
                    write: Some(at),
                    error,
                };
                let client = tx.client().map_err(GroupFailure::whole)?;
                check_edit(client, record, *basis).await.map_err(failed)?;
                write_settings(client, record, place(at))
                    .await
                    .map_err(failed)?;
                written.push(Written::new(place(at)));
            }
        }
        let numbers = numbers.ok_or_else(|| {
            GroupFailure::whole(StoreError::Unavailable(
                "a group's transaction took no numbers".into(),
            ))
        })?;
        for outcome in &mut written {
            outcome.seq = numbers.of(outcome.seq);
        }
        Ok(written)
    }
}

/// Begins `tx` and waits for the feed's row ([`LOCK_FEED`]): this node's turn to
/// write. One round trip.
async fn take_turn(tx: &Tx) -> Result<(), GroupFailure> {
    let client = tx.client().map_err(GroupFailure::whole)?;
    let lock = client
        .prepare_cached(LOCK_FEED)
        .await
        .map_err(failed_whole)?;
    // Sent together, in this order: `try_join` polls, and so sends, the first first.
    futures_util::future::try_join(tx.begin(), async {
        client.query(&lock, &[]).await.map_err(pg)
    })
    .await
    .map_err(GroupFailure::whole)?;
    Ok(())
}

/// Locks the change feed's row until the transaction ends, as [`TAKE_NUMBERS`]
/// would: every numbered write (a group, the admin token's writes) takes it before
/// any row of `tokens`, so they run one at a time, and none ever waits for a row
/// while holding the feed for another that waits for the feed (the usage flush and
/// the purge, which change `tokens` unnumbered, never wait for the feed).
const LOCK_FEED: &str = "SELECT 1 FROM tessera_change_feed WHERE id FOR NO KEY UPDATE";

/// Whether PostgreSQL ended a transaction to break a deadlock, or because a wait
/// for a row outlasted a `lock_timeout` the operator set.
fn must_retry(error: &StoreError) -> bool {
    let code = pg_code(error);
    code == Some(&SqlState::T_R_DEADLOCK_DETECTED) || code == Some(&SqlState::LOCK_NOT_AVAILABLE)
}

/// The SQLSTATE of the database error behind `error`, if one is.
fn pg_code(error: &StoreError) -> Option<&SqlState> {
    let StoreError::Unavailable(cause) = error else {
        return None;
    };
    cause
        .downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::code)
}

/// What a write binds for its change number ([`rows::Dialect::change_number`]):
/// its place `k` in its transaction, from 0. The database makes it the
/// transaction's first number plus `k` (`tessera_change_number`, migration 6).
fn place(k: usize) -> ChangeSeq {
    ChangeSeq::try_from(k).unwrap_or(ChangeSeq::MAX)
}

/// Takes the feed's next `$1` numbers for the transaction, locking the feed's row
/// until it commits, and keeps the first for `tessera_change_number` (a setting
/// local to the transaction). Sent before the transaction's writes: every write
/// then stores its own number and no row is written twice (issue 21: written under
/// a provisional number and renumbered at the end, each created and revoked token
/// was four row versions with eight index entries each, not two). Transactions
/// commit in number order, so the feed has no gap a reader could pass; the lock is
/// held until the commit, which a group without edits sends in the same round trip
/// ([`GroupWriter::write_in`]).
const TAKE_NUMBERS: &str = "UPDATE tessera_change_feed SET seq = seq + $1 WHERE id \
     RETURNING seq, set_config('tessera.first_number', (seq - $1 + 1)::text, TRUE)";

/// The number `tessera_change_number` gives a place when the transaction has taken
/// its numbers, and a failed statement when it has not: the cast of an empty or
/// missing setting fails, so no row is ever stored without its number (fail
/// closed). `STABLE` and in SQL: inlined into the statement that calls it.
const CHANGE_NUMBER_FUNCTION: &str = "
CREATE FUNCTION tessera_change_number(place BIGINT) RETURNS BIGINT
LANGUAGE sql STABLE AS $$
    SELECT current_setting('tessera.first_number')::BIGINT + place
$$;
";

/// A transaction's numbers in the change feed: its `k`th change is `first + k`;
/// and the audit log's head, locked with them.
struct Numbers {
    first: ChangeSeq,
    newest: ChangeSeq,
    head: Head,
}

impl Numbers {
    /// Reads [`TAKE_NUMBERS`]'s answer (`count` numbers) and [`LOCK_HEAD`]'s.
    fn read(taken: &Row, head: &Row, count: usize) -> Result<Self, StoreError> {
        let newest: ChangeSeq = taken.try_get(0).map_err(pg)?;
        Ok(Self {
            first: newest - place(count) + 1,
            newest,
            head: audit::head(
                head.try_get("seq").map_err(pg)?,
                head.try_get("hash").map_err(pg)?,
            )?,
        })
    }

    /// The number of the change at `place` (see [`place`]).
    fn of(&self, place: ChangeSeq) -> ChangeSeq {
        self.first + place
    }
}

/// Takes `count` numbers and the audit log's head, in one round trip: the admin
/// token's writes, which take their locks one statement at a time.
async fn take_numbers(tx: &impl GenericClient, count: usize) -> Result<Numbers, StoreError> {
    let take = tx.prepare_cached(TAKE_NUMBERS).await.map_err(pg)?;
    let head = tx.prepare_cached(LOCK_HEAD).await.map_err(pg)?;
    // Sent together, in this order: every transaction locks the feed's row before
    // the head's.
    let (taken, head) = futures_util::future::try_join(
        tx.query_one(&take, &[&place(count)]),
        tx.query_one(&head, &[]),
    )
    .await
    .map_err(pg)?;
    Numbers::read(&taken, &head, count)
}

/// The statements [`seal`] sends, prepared before the feed's lock is taken (a
/// statement not yet prepared on a connection costs a round trip, and one prepared
/// while others are sent runs after them).
struct SealStatements {
    announce: tokio_postgres::Statement,
    entries: EntryStatements,
}

impl SealStatements {
    async fn prepare(tx: &impl GenericClient) -> Result<Self, StoreError> {
        Ok(Self {
            announce: tx
                .prepare_cached("SELECT pg_notify($1, $2)")
                .await
                .map_err(pg)?,
            entries: EntryStatements::prepare(tx).await?,
        })
    }
}

/// Ends an admin token's transaction, numbered by [`take_numbers`]: appends its
/// audit entries, announces its newest number to the other nodes (delivered only
/// if it commits) and commits, all in one round trip. (A group of writes ends in
/// its last round trip instead: [`Closing`].)
async fn seal(
    tx: &Tx,
    numbers: &Numbers,
    statements: &SealStatements,
    events: Vec<Event>,
    node: &NodeTag,
) -> Result<(), StoreError> {
    let committing = tx;
    let tx = tx.client()?;
    let announcement = node.announcement(numbers.newest);
    // All sent at once, the commit behind them. Every statement is prepared
    // already, so each is sent when first polled, in this order.
    futures_util::future::try_join3(
        write_entries(tx, &statements.entries, numbers.head, events),
        async {
            tx.execute(&statements.announce, &[&CHANNEL, &announcement])
                .await
                .map_err(pg)
        },
        committing.commit(),
    )
    .await?;
    Ok(())
}

/// A database error that ends a group's transaction as a whole.
fn failed_whole(error: tokio_postgres::Error) -> GroupFailure {
    GroupFailure::whole(pg(error))
}

/// Adds a resource row of a token sent in the same round trip: if the token was
/// refused, its transaction has ended ([`REFUSED_FUNCTION`]) and this does nothing.
const INSERT_RESOURCE: &str = "INSERT INTO token_resources (token_id, pattern) VALUES ($1, $2) \
     ON CONFLICT DO NOTHING";

/// A creation's statement for a group: the insert, and a failed statement when it
/// stored nothing (its parent no longer allows it), which ends the transaction, so
/// that the writes, entries and `COMMIT` sent behind it in the same round trip
/// store nothing either. The parent's id is bound last.
fn refusing(insert: String, values: &mut Vec<SqlValue>, parent: Option<&str>) -> String {
    values.push(parent.map_or(SqlValue::NullText, |id| SqlValue::Text(id.to_owned())));
    format!(
        "WITH stored AS ({insert} RETURNING id) \
         SELECT COALESCE((SELECT id FROM stored), tessera_refused(${}))",
        values.len()
    )
}

/// Raises [`REFUSED`] with the parent's standing as it reads inside the
/// transaction, the writes before in the group included, as its detail:
/// `"<change number> <revoked: true or false>"`, or `"missing"` ([`refusal`]).
/// Called only when a creation stored nothing (`VOLATILE`, so never folded into a
/// constant and raised when it is planned).
const REFUSED_FUNCTION: &str = r#"
CREATE FUNCTION tessera_refused(parent TEXT) RETURNS TEXT LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    standing TEXT;
BEGIN
    SELECT t.change_seq || ' ' || (t.revoked_at IS NOT NULL) INTO standing
    FROM tokens t WHERE t.id = parent;
    RAISE EXCEPTION 'the token''s parent no longer allows it'
        USING ERRCODE = 'TS409', DETAIL = COALESCE(standing, 'missing');
END
$$;
"#;

/// The SQLSTATE of [`REFUSED_FUNCTION`] (class `TS`: none of PostgreSQL's).
const REFUSED: &str = "TS409";

/// Why a creation's statement stored nothing, from the parent's standing that
/// [`REFUSED_FUNCTION`] read: revoked, gone or changed. `None` if `error` is not
/// that function's.
fn refusal(write: &Write, error: &tokio_postgres::Error) -> Option<StoreError> {
    let db = error.as_db_error()?;
    if db.code().code() != REFUSED {
        return None;
    }
    let Write::Insert { record, basis, .. } = write else {
        return Some(StoreError::Unavailable(
            "only a creation is refused by its statement".into(),
        ));
    };
    let Some(parent) = &record.parent_id else {
        return Some(rows::stale(&record.id));
    };
    let standing = match db.detail().unwrap_or("missing").split_once(' ') {
        Some((seq, revoked)) => match (seq.parse(), revoked.parse()) {
            (Ok(seq), Ok(revoked)) => Some(Standing { seq, revoked }),
            _ => return Some(rows::stale(parent)),
        },
        None => None,
    };
    Some(
        rows::check_standing(parent, standing, basis.parent)
            .err()
            .unwrap_or_else(|| rows::stale(parent)),
    )
}

/// What a group's first round trip starts with: its transaction and its turn, when
/// they were not taken before it ([`GroupWriter::try_group`]); then the row locks
/// of `locks` and `count` numbers.
#[derive(Clone, Copy)]
struct Opening<'l, 'w> {
    begins: bool,
    locks: &'l Locks<'w>,
    count: usize,
}

/// What a group's last round trip ends its transaction with: the audit entries of
/// every write of `group` ([`APPEND_ENTRIES_FUNCTION`]), the announcement of its
/// newest number to the other nodes (delivered only if it commits), and `COMMIT`.
#[derive(Clone, Copy)]
struct Closing<'g> {
    group: &'g [Arc<Write>],
    node: &'g NodeTag,
}

/// One round trip of a group's transaction: its opening (the first), the
/// creations and revocations `first..` of the group, its closing (the last).
struct Round<'a> {
    opening: Option<Opening<'a, 'a>>,
    writes: &'a [Arc<Write>],
    first: usize,
    closing: Option<Closing<'a>>,
}

/// What one statement of [`send_round`] is for.
enum Purpose {
    /// Waits for the feed: [`LOCK_FEED`].
    Turn,
    /// Takes the group's row locks: [`LOCK_ROWS`].
    Lock,
    /// Takes the group's numbers: [`TAKE_NUMBERS`].
    Numbers,
    /// Locks the audit log's head: [`LOCK_HEAD`].
    Head,
    /// Inserts the token of write `n`, or ends the transaction ([`refusing`]).
    Token(usize),
    /// A resource row of write `n`'s token.
    Resource(usize),
    /// Revokes the subtree of write `n`.
    Revocation(usize),
    /// Appends the group's audit entries: [`APPEND_ENTRIES`].
    Entries,
    /// Announces the group's newest number: [`ANNOUNCE`].
    Announce,
}

impl Purpose {
    /// The write a failure of this statement is put down to, if any.
    fn write(&self) -> Option<usize> {
        match *self {
            Purpose::Token(n) | Purpose::Resource(n) | Purpose::Revocation(n) => Some(n),
            _ => None,
        }
    }
}

/// The rows a group locks before it writes ([`LOCK_ROWS`]): the roots of the
/// subtrees its revocations change, and the tokens its edits change.
#[derive(Default)]
struct Locks<'a> {
    roots: Vec<&'a str>,
    edited: Vec<&'a str>,
}

impl<'a> Locks<'a> {
    fn of(group: &'a [Arc<Write>]) -> Self {
        let mut locks = Self::default();
        for write in group {
            match &**write {
                Write::Revoke { id, .. } => locks.roots.push(id),
                Write::Update { record, .. } => locks.edited.push(&record.id),
                Write::Insert { .. } => {}
            }
        }
        locks
    }

    /// [`LOCK_ROWS`]'s parameters; `None` when there is nothing to lock (a group
    /// that only creates).
    fn bound(&self) -> Option<Vec<&(dyn ToSql + Sync)>> {
        let none = self.roots.is_empty() && self.edited.is_empty();
        (!none).then(|| vec![&self.roots as _, &self.edited as _])
    }
}

/// Locks, in one statement and in id order, every token under each of `$1` (the
/// roots of the subtrees a group revokes) and each of `$2` (the tokens it edits).
/// The feed is held already, so no other node's write can change these rows or
/// make tokens under them until the group commits; what these locks order is the
/// transactions that do not take the feed: a usage flush locks its rows in id order
/// too, and `NO KEY UPDATE` as here, so the two never each hold a row the other
/// waits for (a revocation's update alone takes its subtree's rows in the walk's
/// order). `NO KEY UPDATE` is what the group's own updates take, and leaves free
/// the `KEY SHARE` that creations take of their parents, which the usage flush
/// does not wait for either: a creation's parent is not locked here. `UNION ALL`:
/// tokens form a tree, so the walk cannot loop, and no set is hashed (with `UNION`
/// each call built hash tables sized for the planner's guess of a subtree).
const LOCK_ROWS: &str = "SELECT 1 FROM tokens t WHERE t.id = ANY(ARRAY( \
       WITH RECURSIVE subtree(id) AS ( \
         SELECT unnest($1::TEXT[]) \
         UNION ALL \
         SELECT unnest(ARRAY(SELECT c.id FROM tokens c WHERE c.parent_id = s.id)) FROM subtree s) \
       SELECT id FROM subtree) || $2::TEXT[]) \
     ORDER BY t.id FOR NO KEY UPDATE";

/// A statement's parameters: values, or arrays bound as they are (the locks'
/// ids, the entries' columns).
enum Params<'a> {
    Values(Vec<SqlValue>),
    Arrays(Vec<&'a (dyn ToSql + Sync)>),
}

impl Params<'_> {
    fn bound(&self) -> Vec<&(dyn ToSql + Sync)> {
        match self {
            Params::Values(values) => params(values),
            Params::Arrays(arrays) => arrays.clone(),
        }
    }
}

/// Sends one round trip of a group's transaction ([`Round`]) and reads its
/// answers: every statement at once (pipelined), executed in order. Each creation
/// checks its parent inside its statement ([`rows::insert_under_parent_sql`]). The
/// opening round returns the group's numbers. Fails with the place of the first
/// write that failed or was refused; the transaction has then ended (a `COMMIT`
/// sent behind a failed statement rolls back).
async fn send_round(
    tx: &Tx,
    round: Round<'_>,
) -> Result<(Option<Numbers>, Vec<Written>), GroupFailure> {
    let client = tx.client().map_err(GroupFailure::whole)?;
    let Round {
        opening,
        writes,
        first,
        closing,
    } = round;
    let entries = closing.map(|closing| EntryColumns::of(closing.group));
    let mut statements: Vec<(Purpose, String, Params)> = Vec::new();
    if let Some(opening) = &opening {
        if opening.begins {
            let none = Params::Values(Vec::new());
            statements.push((Purpose::Turn, LOCK_FEED.into(), none));
        }
        if let Some(locks) = opening.locks.bound() {
            statements.push((Purpose::Lock, LOCK_ROWS.into(), Params::Arrays(locks)));
        }
        let count = vec![SqlValue::Int(place(opening.count))];
        statements.push((Purpose::Numbers, TAKE_NUMBERS.into(), Params::Values(count)));
        let none = Params::Values(Vec::new());
        statements.push((Purpose::Head, LOCK_HEAD.into(), none));
    }
    for (n, write) in writes.iter().enumerate() {
        let at = first + n;
        let seq = place(at);
        match &**write {
            Write::Insert { record, basis, .. } => {
                let (sql, mut values) = match &record.parent_id {
                    Some(parent) => {
                        rows::insert_under_parent_sql(record, parent, basis.parent, seq, &DIALECT)
                    }
                    None => rows::insert_sql(record, seq, &DIALECT),
                };
                let sql = refusing(sql, &mut values, record.parent_id.as_deref());
                statements.push((Purpose::Token(at), sql, Params::Values(values)));
                for pattern in record.settings.resources.view().patterns() {
                    let values = vec![
                        SqlValue::Text(record.id.clone()),
                        SqlValue::Text(pattern.to_owned()),
                    ];
                    statements.push((
                        Purpose::Resource(at),
                        INSERT_RESOURCE.into(),
                        Params::Values(values),
                    ));
                }
            }
            Write::Revoke { id, at: when, .. } => {
                let values = vec![
                    SqlValue::Text(id.clone()),
                    SqlValue::Int(*when),
                    SqlValue::Int(seq),
                ];
                let sql = rows::revoke_subtree_sql(&DIALECT);
                statements.push((Purpose::Revocation(at), sql, Params::Values(values)));
            }
            // Never sent here: an edit reads its checks first, so `write_in`
            // sends it alone.
            Write::Update { .. } => {
                return Err(GroupFailure::whole(StoreError::Unavailable(
                    "an edit sent with others".into(),
                )));
            }
        }
    }
    if let (Some(closing), Some(entries)) = (&closing, &entries) {
        statements.push((
            Purpose::Entries,
            APPEND_ENTRIES.into(),
            Params::Arrays(entries.bound()),
        ));
        let newest = SqlValue::Int(place(closing.group.len().saturating_sub(1)));
        let node = SqlValue::Text(closing.node.0.clone());
        let values = vec![SqlValue::Text(CHANNEL.into()), newest, node];
        statements.push((Purpose::Announce, ANNOUNCE.into(), Params::Values(values)));
    }
    // Every statement prepared before any is sent (once per connection: the plans
    // are kept), so that they are sent, and run, in this order.
    let mut prepared = Vec::with_capacity(statements.len());
    for (_, sql, _) in &statements {
        prepared.push(client.prepare_cached(sql).await.map_err(failed_whole)?);
    }
    // The `COMMIT` goes only behind every statement, and only if none failed before
    // it was sent. A statement is sent when its request is first polled, and
    // `try_join_all` polls them in order; but past 30 it runs them through
    // `FuturesUnordered`, which may stop a pass early, and the `COMMIT`, polled
    // next, would then run before the statements left (found in review). So each
    // request counts its first poll (`sent`), and the `COMMIT` waits for them
    // all. A statement that fails in the node (a value that does not encode) fails
    // on that poll and sets `failed`, and the `COMMIT` is never sent; one that
    // fails in the database has ended the transaction, and a `COMMIT` sent behind
    // it rolls back.
    let sent = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    // The database executes the statements in the order sent: the writes' order.
    // Answers come back in that order too, so the first error seen is the first
    // statement's that failed (those after it fail only because the transaction
    // has ended).
    let requests = statements
        .iter()
        .zip(&prepared)
        .map(|((purpose, _, bound), statement)| {
            let (sent, failed) = (&sent, &failed);
            async move {
                let params = bound.bound();
                let answer = counting_first_poll(client.query(statement, &params), sent);
                answer.await.map_err(|error| {
                    failed.store(true, Ordering::Release);
                    let write = purpose.write();
                    let refused = write
                        .and_then(|at| writes.get(at.checked_sub(first)?))
                        .and_then(|w| refusal(w, &error));
                    GroupFailure {
                        write,
                        error: refused.unwrap_or_else(|| pg(error)),
                    }
                })
            }
        });
    let commit = async {
        if closing.is_none() {
            return Ok(());
        }
        // Not ready while a statement is unsent: its request is polled again (the
        // set yields by waking itself), and so is this. Never ready once one has
        // failed: that request's error ends the join, put down to its write.
        std::future::poll_fn(|_| {
            let all_sent = sent.load(Ordering::Acquire) == statements.len();
            if all_sent && !failed.load(Ordering::Acquire) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await;
        tx.commit().await.map_err(GroupFailure::whole)
    };
    let begin = async {
        match opening {
            Some(Opening { begins: true, .. }) => tx.begin().await.map_err(GroupFailure::whole),
            _ => Ok(()),
        }
    };
    let ((), answers, ()) = futures_util::future::try_join3(
        begin,
        futures_util::future::try_join_all(requests),
        commit,
    )
    .await?;
    // Once committed, a group is never put down to one of its writes: the others
    // would be written again. An answer that does not read fails it whole.
    let after_commit = |failure: GroupFailure| match closing {
        Some(_) => GroupFailure::whole(failure.error),
        None => failure,
    };
    let mut written = Vec::with_capacity(writes.len());
    let (mut taken, mut numbers) = (None, None);
    for ((purpose, _, _), rows) in statements.iter().zip(answers) {
        match *purpose {
            Purpose::Numbers => taken = rows.into_iter().next(),
            Purpose::Head => {
                let read = match (taken.take(), rows.first(), &opening) {
                    (Some(taken), Some(head), Some(opening)) => {
                        Numbers::read(&taken, head, opening.count)
                    }
                    _ => Err(StoreError::Corrupt(
                        "the change feed or the audit log's head has no row".into(),
                    )),
                };
                numbers = Some(read.map_err(GroupFailure::whole)?);
            }
            Purpose::Token(n) => written.push(Written::new(place(n))),
            Purpose::Revocation(n) => {
                let revoked = revoked_records(&rows).map_err(|error| {
                    after_commit(GroupFailure {
                        write: Some(n),
                        error,
                    })
                })?;
                written.push(Revocation {
                    seq: place(n),
                    revoked,
                });
            }
            _ => {}
        }
    }
    Ok((numbers, written))
}

/// Polls `request`, adding one to `sent` after its first poll: a statement is sent
/// to the database when its request is first polled.
async fn counting_first_poll<F: Future>(request: F, sent: &AtomicUsize) -> F::Output {
    let mut request = std::pin::pin!(request);
    let mut counted = false;
    std::future::poll_fn(|cx| {
        let poll = request.as_mut().poll(cx);
        if !counted {
            counted = true;
            sent.fetch_add(1, Ordering::AcqRel);
        }
        poll
    })
    .await
}

/// The tokens a revocation's statement returned.
fn revoked_records(rows: &[Row]) -> Result<Vec<TokenRecord>, StoreError> {
    rows.iter()
        .map(|row| read_row(row).and_then(RawRow::into_record))
        .collect()
}

/// Calls [`APPEND_ENTRIES_FUNCTION`] with [`EntryColumns::bound`].
const APPEND_ENTRIES: &str = "SELECT tessera_append_entries($1, $2, $3, $4, $5, $6, $7, $8, $9, \
     $10, $11, $12, $13, $14)";

/// Announces the number of place `$2` to the other nodes on channel `$1`, as
/// [`NodeTag::announcement`] words it (`$3`: this node's tag).
const ANNOUNCE: &str = "SELECT pg_notify($1, tessera_change_number($2)::TEXT || ' ' || $3)";

/// A group's audit entries as [`APPEND_ENTRIES`] binds them: a column each, an item
/// per write, every event cut where the database fills in its write's number and a
/// revocation's cascade.
#[derive(Default)]
struct EntryColumns {
    places: Vec<i64>,
    revokes: Vec<bool>,
    before: Vec<Vec<u8>>,
    after: Vec<Vec<u8>>,
    at: Vec<i64>,
    action: Vec<String>,
    actor: Vec<Option<String>>,
    actor_name: Vec<Option<String>>,
    target: Vec<Option<String>>,
    lineage: Vec<String>,
    client_ip: Vec<Option<String>>,
    request_id: Vec<Option<String>>,
    details: Vec<String>,
}

impl EntryColumns {
    fn of(group: &[Arc<Write>]) -> Self {
        let mut columns = Self::default();
        for (k, write) in group.iter().enumerate() {
            let (event, revokes) = match &**write {
                Write::Insert { event, .. } | Write::Update { event, .. } => (event, false),
                Write::Revoke { event, .. } => (event, true),
            };
            let encoded = event.encoding_around_store_fields();
            columns.places.push(place(k));
            columns.revokes.push(revokes);
            columns.before.push(encoded.before);
            columns.after.push(encoded.after);
            columns.at.push(event.at);
            columns.action.push(event.action.clone());
            columns.actor.push(event.actor_id.clone());
            columns.actor_name.push(event.actor_name.clone());
            columns.target.push(event.target_id.clone());
            columns.lineage.push(event.lineage.join(" "));
            columns.client_ip.push(event.client_ip.clone());
            columns.request_id.push(event.request_id.clone());
            columns.details.push(event.details.clone());
        }
        columns
    }

    /// The parameters of [`APPEND_ENTRIES`], in order.
    fn bound(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &DOMAIN,
            &self.places,
            &self.revokes,
            &self.before,
            &self.after,
            &self.at,
            &self.action,
            &self.actor,
            &self.actor_name,
            &self.target,
            &self.lineage,
            &self.client_ip,
            &self.request_id,
            &self.details,
        ]
    }
}

/// Appends a group's audit entries after the head (locked by the group's
/// [`LOCK_HEAD`]) and moves the head past them: each entry as
/// [`audit::completed`] would complete it and `Event::link` would hash it, from
/// the encoding of `Event::encoding_around_store_fields` and what only the
/// transaction knows, its write's change number and, for a revocation, the other
/// tokens it revoked (those that took its number, in id order). A revocation that
/// revoked nothing gets no entry. Returns the head's new place.
///
/// In the database so that a group's entries go in the round trip of its writes
/// and `COMMIT` (issue 21); one call and one insert for the group, not one each:
/// a call per entry cost 0.084 ms, 2.3 s of a 10 s run on one node, more than the
/// round trip it saved.
const APPEND_ENTRIES_FUNCTION: &str = r#"
CREATE FUNCTION tessera_append_entries(
    hash_domain BYTEA, places BIGINT[], revokes BOOLEAN[], encoded_before BYTEA[],
    encoded_after BYTEA[], at_ms BIGINT[], action_names TEXT[], actors TEXT[],
    actor_labels TEXT[], targets TEXT[], lineages TEXT[], ips TEXT[], requests TEXT[],
    details_json TEXT[])
RETURNS BIGINT LANGUAGE plpgsql AS $$
DECLARE
    head_seq BIGINT;
    head_hash TEXT;
    kept INT[] := '{}';
    numbers BIGINT[] := '{}';
    cascades TEXT[] := '{}';
    links TEXT[] := '{}';
    first_number BIGINT := current_setting('tessera.first_number')::BIGINT;
    change_number BIGINT;
    took_down TEXT[];
    cascade_bytes BYTEA;
BEGIN
    SELECT h.seq, h.hash INTO head_seq, head_hash FROM audit_head h WHERE h.id = 1;
    links := links || head_hash;
    FOR k IN 1 .. COALESCE(cardinality(places), 0) LOOP
        -- As `tessera_change_number` gives it, without a call per entry.
        change_number := first_number + places[k];
        took_down := '{}';
        cascade_bytes := int8send(0);
        IF revokes[k] THEN
            SELECT array_agg(t.id ORDER BY t.id) INTO took_down
            FROM tokens t WHERE t.change_seq = change_number;
            -- Revoked nothing (the token was revoked already): nothing to record.
            CONTINUE WHEN took_down IS NULL;
            took_down := array_remove(took_down, targets[k]);
            SELECT int8send(cardinality(took_down)::BIGINT) || COALESCE(string_agg(
                       '\x01'::BYTEA || int8send(octet_length(b)::BIGINT) || b,
                       ''::BYTEA ORDER BY c.n), ''::BYTEA)
            INTO cascade_bytes
            FROM unnest(took_down) WITH ORDINALITY AS c(id, n),
                 LATERAL convert_to(c.id, 'UTF8') AS b;
        END IF;
        head_hash := encode(sha256(
            hash_domain || decode(head_hash, 'hex') || encoded_before[k]
            || '\x01'::BYTEA || int8send(8) || int8send(change_number)
            || encoded_after[k] || cascade_bytes), 'hex');
        kept := kept || k;
        numbers := numbers || change_number;
        cascades := cascades || array_to_string(took_down, ' ');
        links := links || head_hash;
    END LOOP;
    INSERT INTO audit_log (seq, at, action, actor_id, actor_name, target_id, lineage,
                           change_seq, client_ip, request_id, details, cascade,
                           previous_hash, hash)
    SELECT head_seq + e.n, at_ms[e.k], action_names[e.k], actors[e.k], actor_labels[e.k],
           targets[e.k], lineages[e.k], numbers[e.n], ips[e.k], requests[e.k],
           details_json[e.k], cascades[e.n], links[e.n], links[e.n + 1]
    FROM unnest(kept) WITH ORDINALITY AS e(k, n);
    head_seq := head_seq + cardinality(kept);
    UPDATE audit_head SET seq = head_seq, hash = head_hash WHERE id = 1;
    RETURN head_seq;
END
$$;
"#;

/// Who a listener hears for: this node (its own announcements are skipped), and
/// its writer, told when another node writes.
#[derive(Clone)]
struct Heard {
    node: NodeTag,
    others: OtherWriters,
}

/// Holds a connection that `LISTEN`s on [`CHANNEL`] and passes announcements on,
/// re-opening it (with a growing pause) whenever it drops.
async fn listen(
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    signals: watch::Sender<FeedSignal>,
    heard: Heard,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        match listen_once(&config, tls.clone(), &signals, &heard).await {
            Ok(()) => backoff = Duration::from_millis(50),
            Err(error) => {
                let error = crate::with_causes(&error);
                tracing::warn!(%error, "the change-feed connection failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_LISTEN_BACKOFF);
            }
        }
        if signals.is_closed() {
            return;
        }
    }
}

/// One listening connection, until it drops.
async fn listen_once(
    config: &tokio_postgres::Config,
    tls: MakeRustlsConnect,
    signals: &watch::Sender<FeedSignal>,
    heard: &Heard,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tls).await?;
    let (announce, mut announcements) = mpsc::unbounded_channel();
    let Heard { node, others } = heard.clone();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                // This node's own writes are in its index already.
                Ok(AsyncMessage::Notification(note)) => match node.foreign(note.payload()) {
                    Some(None) => {}
                    readable => {
                        others.heard();
                        let _ = announce.send(readable.flatten());
                    }
                },
                Ok(_) => {}
                Err(error) => {
                    let error = crate::with_causes(&error);
                    tracing::warn!(%error, "the change-feed connection dropped");
                    break;
                }
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    // Whatever was announced while this node was not listening is lost: a new epoch
    // tells followers to catch up by number.
    signals.send_modify(|signal| signal.epoch += 1);
    while let Some(announced) = announcements.recv().await {
        signals.send_modify(|signal| match announced {
            Some(seq) => signal.announced = signal.announced.max(seq),
            // Unreadable: make followers look for themselves.
            None => signal.epoch += 1,
        });
    }
    drop(client);
    let _ = driver.await;
    Ok(())
}

async fn migrate(pool: &Pool) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(|e| {
        StoreError::Unavailable(
            format!("cannot reach the database: {}", crate::with_causes(&e)).into(),
        )
    })?;
    let tx = client.transaction().await.map_err(pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS tessera_schema (version INTEGER NOT NULL)")
        .await
        .map_err(pg)?;
    let applied: i64 = tx
        .query_one("SELECT COUNT(*) FROM tessera_schema", &[])
        .await
        .map_err(pg)?
        .get(0);
    crate::refuse_newer_schema(
        usize::try_from(applied).unwrap_or(usize::MAX),
        MIGRATIONS.len(),
    )?;
    for (index, migration) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(applied).unwrap_or(usize::MAX))
    {
        tx.batch_execute(migration).await.map_err(pg)?;
        let version = i32::try_from(index + 1).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO tessera_schema (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(pg)?;
    }
    for (column, add) in rows::added_columns(&DIALECT) {
        let present: i64 = tx
            .query_one(
                "SELECT COUNT(*) FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = 'tokens' AND column_name = $1",
                &[&column],
            )
            .await
            .map_err(pg)?
            .get(0);
        if present == 0 {
            tx.batch_execute(&add).await.map_err(pg)?;
        }
    }
    for statement in crate::DEATH_INDEXES.iter().chain([&crate::USAGE_TABLE]) {
        tx.batch_execute(statement).await.map_err(pg)?;
    }
    tx.commit().await.map_err(pg)
}

fn pg(error: tokio_postgres::Error) -> StoreError {
    match error.code() {
        Some(code)
            if *code == SqlState::UNIQUE_VIOLATION || *code == SqlState::FOREIGN_KEY_VIOLATION =>
        {
            StoreError::Conflict(crate::with_causes(&error))
        }
        _ => StoreError::Unavailable(error.into()),
    }
}

impl ReadColumn for Row {
    type Error = tokio_postgres::Error;

    fn text(&self, name: &str) -> Result<String, Self::Error> {
        self.try_get(name)
    }

    fn opt_text(&self, name: &str) -> Result<Option<String>, Self::Error> {
        self.try_get(name)
    }

    fn int(&self, name: &str) -> Result<i64, Self::Error> {
        self.try_get(name)
    }

    fn opt_int(&self, name: &str) -> Result<Option<i64>, Self::Error> {
        self.try_get(name)
    }

    fn bytes(&self, name: &str) -> Result<Vec<u8>, Self::Error> {
        self.try_get(name)
    }

    fn boolean(&self, name: &str) -> Result<bool, Self::Error> {
        self.try_get(name)
    }
}

fn read_row(row: &Row) -> Result<RawRow, StoreError> {
    RawRow::read(row)
        .map_err(|e| StoreError::Corrupt(format!("a token row does not read back: {e}")))
}

/// A value as tokio-postgres binds it.
fn param(value: &SqlValue) -> &(dyn ToSql + Sync) {
    // Typed NULLs: the server has inferred each parameter's type, and tokio-postgres
    // checks the value against it even when the value is NULL.
    static NO_TEXT: Option<String> = None;
    static NO_INT: Option<i64> = None;
    match value {
        SqlValue::Text(text) => text,
        SqlValue::Int(number) => number,
        SqlValue::Bool(flag) => flag,
        SqlValue::Bytes(bytes) => bytes,
        SqlValue::NullText => &NO_TEXT,
        SqlValue::NullInt => &NO_INT,
    }
}

/// Values as tokio-postgres binds them, in order.
fn params(values: &[SqlValue]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(param).collect()
}

/// Starts a transaction that makes or replaces the admin token, after any other
/// such transaction of any node has ended: each reads the admin tokens as the one
/// before left them (nodes starting together make one admin token, not one each).
async fn admin_transaction(pool: &Pool) -> Result<Tx, StoreError> {
    let tx = Tx::new(client(pool).await?);
    let connection = tx.client()?;
    let lock = connection
        .prepare_cached("SELECT pg_advisory_xact_lock($1)")
        .await
        .map_err(pg)?;
    futures_util::future::try_join(tx.begin(), async {
        connection.execute(&lock, &[&ADMIN_LOCK]).await.map_err(pg)
    })
    .await?;
    Ok(tx)
}

/// A transaction whose `BEGIN` and `COMMIT` go with its first and last statements
/// (pipelined), not in round trips of their own: a group of writes takes four,
/// not six. `tokio_postgres::Transaction` sends `BEGIN` and waits for it, and
/// commits only once every statement before has answered.
///
/// A transaction neither committed nor rolled back when this is dropped (a write
/// cancelled, a commit whose answer was lost) takes its connection out of the pool
/// and closes it: PostgreSQL rolls it back, and no later caller gets a connection
/// inside a transaction.
struct Tx {
    client: Option<deadpool_postgres::Client>,
    /// `BEGIN` sent and no `COMMIT` or `ROLLBACK` answered yet.
    open: AtomicBool,
}

impl Tx {
    fn new(client: deadpool_postgres::Client) -> Self {
        Self {
            client: Some(client),
            open: AtomicBool::new(false),
        }
    }

    /// The connection (taken out only by `drop`).
    fn client(&self) -> Result<&deadpool_postgres::Client, StoreError> {
        self.client
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("the transaction's connection is closed".into()))
    }

    /// Sends `BEGIN` when first polled: poll it before the statements it opens.
    async fn begin(&self) -> Result<(), StoreError> {
        self.open.store(true, Ordering::Release);
        self.client()?.batch_execute("BEGIN").await.map_err(pg)
    }

    /// Sends `COMMIT` when first polled, after the statements it ends. After a
    /// statement failed, PostgreSQL answers it by rolling back.
    async fn commit(&self) -> Result<(), StoreError> {
        self.end("COMMIT").await
    }

    /// Rolls back what a failed write left (a statement after the failure answers
    /// with an error, and the connection is kept).
    async fn rollback(&self) {
        let _ = self.end("ROLLBACK").await;
    }

    async fn end(&self, command: &str) -> Result<(), StoreError> {
        self.client()?.batch_execute(command).await.map_err(pg)?;
        self.open.store(false, Ordering::Release);
        Ok(())
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        if self.open.load(Ordering::Acquire)
            && let Some(client) = self.client.take()
        {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

/// Every token a write numbered after `seq` touched, oldest write first, and the
/// newest number, read through a connection of `pool`.
async fn changes_since(pool: &Pool, seq: ChangeSeq) -> Result<Changes, StoreError> {
    let client = client(pool).await?;
    // One statement, so one snapshot: the feed's number and the rows agree with
    // each other. One round trip: a follower reads this after every group
    // another node commits. With no change, one row with the number alone.
    // Prepared once a connection, its plan kept (see `connect`): planned anew for
    // every read, it took 0.2 ms of the database's time a read under two nodes'
    // write load (issue 21). The feed's number as a subquery by
    // its key: before the feed's one row is analysed the planner takes the table
    // for thousands of rows, and a join of it with `tokens` (or a read of it whole,
    // with sequential scans off) for so costly a plan that it was compiled (JIT)
    // for 100 to 600 ms on every read.
    let sql = format!(
        "SELECT (SELECT seq FROM tessera_change_feed WHERE id) AS feed_up_to, t.* \
         FROM (VALUES (1)) AS one (row) \
         LEFT JOIN LATERAL (SELECT {} FROM tokens WHERE change_seq > $1) t ON TRUE \
         ORDER BY t.change_seq, t.seq",
        rows::columns()
    );
    let statement = client.prepare_cached(&sql).await.map_err(pg)?;
    let rows = client.query(&statement, &[&seq]).await.map_err(pg)?;
    let up_to = match rows.first() {
        Some(row) => row.try_get("feed_up_to").map_err(pg)?,
        None => return Err(StoreError::Corrupt("the change feed has no row".into())),
    };
    let mut changes = Vec::with_capacity(rows.len());
    for row in &rows {
        if row
            .try_get::<_, Option<String>>("id")
            .map_err(pg)?
            .is_some()
        {
            changes.push(read_row(row).and_then(RawRow::into_change)?);
        }
    }
    Ok(Changes { changes, up_to })
}

/// Locks the audit log's head until the transaction commits: one chain for every node.
const LOCK_HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";

/// Appends `events` to the audit log after its head, in the caller's transaction,
/// holding the head's row until it commits (one chain for every node); returns
/// the place of the last one (`None`: there were none).
async fn append_entries(
    tx: &impl GenericClient,
    events: Vec<Event>,
) -> Result<Option<i64>, StoreError> {
    if events.is_empty() {
        return Ok(None);
    }
    let lock = tx.prepare_cached(LOCK_HEAD).await.map_err(pg)?;
    let row = tx.query_one(&lock, &[]).await.map_err(pg)?;
    let head = audit::head(row.get("seq"), row.get("hash"))?;
    let statements = EntryStatements::prepare(tx).await?;
    write_entries(tx, &statements, head, events).await
}

/// The statements that write audit entries, prepared before they are sent with
/// others: a statement's first use waits for its preparation, and the statements
/// sent behind it meanwhile would run before it (a `COMMIT` among them).
struct EntryStatements {
    insert: tokio_postgres::Statement,
    move_head: tokio_postgres::Statement,
}

impl EntryStatements {
    async fn prepare(tx: &impl GenericClient) -> Result<Self, StoreError> {
        Ok(Self {
            insert: tx.prepare_cached(audit::INSERT_ENTRY).await.map_err(pg)?,
            move_head: tx.prepare_cached(audit::MOVE_HEAD).await.map_err(pg)?,
        })
    }
}

/// Writes `events` after `head` (locked by the caller) and moves the head past
/// them; returns the place of the last one (`None`: there were none). Everything
/// is sent when this is first polled.
async fn write_entries(
    tx: &impl GenericClient,
    statements: &EntryStatements,
    mut head: Head,
    events: Vec<Event>,
) -> Result<Option<i64>, StoreError> {
    if events.is_empty() {
        return Ok(None);
    }
    let EntryStatements { insert, move_head } = statements;
    let values: Vec<Vec<SqlValue>> = head
        .append(events)
        .iter()
        .map(audit::entry_values)
        .collect();
    // The entries and the head's move sent at once (pipelined: one round trip),
    // executed in the order sent.
    let bound: Vec<_> = values.iter().map(|values| params(values)).collect();
    let inserts =
        futures_util::future::try_join_all(bound.iter().map(|bound| tx.execute(insert, bound)));
    let hash = hex::encode(head.hash);
    let head_values: [&(dyn ToSql + Sync); 2] = [&head.seq, &hash];
    let moved = tx.execute(move_head, &head_values);
    futures_util::future::try_join(inserts, moved)
        .await
        .map_err(pg)?;
    Ok(Some(head.seq))
}

/// Reads a token's change number and whether it is revoked (`$1`: its id).
const STANDING: &str =
    "SELECT change_seq, revoked_at IS NOT NULL AS revoked FROM tokens WHERE id = $1";

/// Token `id`'s change number and whether it is revoked; `None` if there is no such token.
async fn standing(tx: &impl GenericClient, id: &str) -> Result<Option<Standing>, StoreError> {
    let statement = tx.prepare_cached(STANDING).await.map_err(pg)?;
    let row = tx.query_opt(&statement, &[&id]).await.map_err(pg)?;
    Ok(row.as_ref().map(read_standing))
}

fn read_standing(row: &Row) -> Standing {
    Standing {
        seq: row.get("change_seq"),
        revoked: row.get("revoked"),
    }
}

/// Inserts a token with all its columns, then its resource rows.
async fn insert_row(
    tx: &impl GenericClient,
    record: &TokenRecord,
    seq: ChangeSeq,
    basis: Basis,
) -> Result<(), StoreError> {
    if let Some(parent) = &record.parent_id {
        rows::check_standing(parent, standing(tx, parent).await?, basis.parent)?;
    }
    let (sql, values) = rows::insert_sql(record, seq, &DIALECT);
    tx.execute(&sql, &params(&values)).await.map_err(pg)?;
    write_resources(tx, record).await
}

/// Checks an edit's [`Basis`]: the token and its parent are live and unchanged, and
/// no token created through it is newer than what the deciding node knew.
///
/// The transaction holds the feed ([`LOCK_FEED`]), which every change to a token
/// takes: every change to the token and its parent made through any node has
/// committed and is read here, and one that comes later waits for this edit. The
/// three reads go at once, in this order.
async fn check_edit(
    tx: &impl GenericClient,
    record: &TokenRecord,
    basis: Basis,
) -> Result<(), StoreError> {
    let standing = tx.prepare_cached(STANDING).await.map_err(pg)?;
    // A child created by this same group (after the edit was decided) has one of
    // the group's numbers, newer than any the deciding node knew.
    let newer = tx
        .prepare_cached("SELECT id FROM tokens WHERE parent_id = $1 AND change_seq > $2 LIMIT 1")
        .await
        .map_err(pg)?;
    let (own, parent, newer) = futures_util::future::try_join3(
        tx.query_opt(&standing, &[&record.id]),
        async {
            match &record.parent_id {
                Some(id) => tx
                    .query_opt(&standing, &[id])
                    .await
                    .map(|row| Some((id, row))),
                None => Ok(None),
            }
        },
        async {
            match basis.children_known_up_to {
                Some(known) => tx.query_opt(&newer, &[&record.id, &known]).await,
                None => Ok(None),
            }
        },
    )
    .await
    .map_err(pg)?;
    rows::check_standing(&record.id, own.as_ref().map(read_standing), basis.token)?;
    if let Some((id, row)) = parent {
        rows::check_standing(id, row.as_ref().map(read_standing), basis.parent)?;
    }
    match newer {
        Some(child) => Err(rows::stale(&child.get::<_, String>(0))),
        None => Ok(()),
    }
}

/// Writes a live token's settings, `updated_at` and resource rows.
async fn write_settings(
    tx: &impl GenericClient,
    record: &TokenRecord,
    seq: ChangeSeq,
) -> Result<(), StoreError> {
    let (sql, values) = rows::update_sql(record, seq, &DIALECT);
    let update = tx.prepare_cached(&sql).await.map_err(pg)?;
    // Sent with the resource rows: if the token turns out revoked, the error rolls
    // them back with the rest.
    let (changed, ()) = futures_util::future::try_join(
        async { tx.execute(&update, &params(&values)).await.map_err(pg) },
        write_resources(tx, record),
    )
    .await?;
    if changed != 1 {
        return Err(rows::revoked(&record.id));
    }
    Ok(())
}

/// Replaces a token's resource rows, which listings by resource search: the
/// statements sent at once, run in order.
async fn write_resources(tx: &impl GenericClient, record: &TokenRecord) -> Result<(), StoreError> {
    let delete = tx
        .prepare_cached("DELETE FROM token_resources WHERE token_id = $1")
        .await
        .map_err(pg)?;
    let insert = tx
        .prepare_cached(
            "INSERT INTO token_resources (token_id, pattern) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(pg)?;
    let patterns: Vec<&str> = record.settings.resources.view().patterns().collect();
    let rows: Vec<[&(dyn ToSql + Sync); 2]> = patterns
        .iter()
        .map(|pattern| [&record.id as &(dyn ToSql + Sync), pattern])
        .collect();
    let inserts = rows.iter().map(|row| tx.execute(&insert, row));
    futures_util::future::try_join(
        tx.execute(&delete, &[&record.id]),
        futures_util::future::try_join_all(inserts),
    )
    .await
    .map_err(pg)?;
    Ok(())
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn create_endpoint(&self, endpoint: &Endpoint, event: Event) -> Result<i64, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let since = append_entries(&tx, vec![event]).await?.unwrap_or_default();
        let values = webhooks::endpoint_values(endpoint, since);
        tx.execute(webhooks::INSERT_ENDPOINT, &params(&values))
            .await
            .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(since)
    }

    async fn update_endpoint(&self, endpoint: &Endpoint, event: Event) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let values = webhooks::update_values(endpoint);
        let changed = tx
            .execute(webhooks::UPDATE_ENDPOINT, &params(&values))
            .await
            .map_err(pg)?;
        if changed == 0 {
            return Ok(false);
        }
        append_entries(&tx, vec![event]).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn delete_endpoint(&self, id: &str, event: Event) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let gone = tx
            .execute("DELETE FROM webhook_endpoints WHERE id = $1", &[&id])
            .await
            .map_err(pg)?;
        if gone == 0 {
            return Ok(false);
        }
        tx.execute(
            "DELETE FROM webhook_deliveries WHERE endpoint_id = $1",
            &[&id],
        )
        .await
        .map_err(pg)?;
        append_entries(&tx, vec![event]).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn endpoints(&self) -> Result<Vec<Endpoint>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {} FROM webhook_endpoints ORDER BY created_at, id",
            webhooks::ENDPOINT_COLUMNS
        );
        let rows = client.query(&sql, &[]).await.map_err(pg)?;
        rows.iter().map(webhooks::read_endpoint).collect()
    }

    async fn fanned_out(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT seq FROM webhook_cursor WHERE id = 1", &[])
            .await
            .map_err(pg)?;
        Ok(row.get(0))
    }

    async fn enqueue(
        &self,
        from: i64,
        to: i64,
        deliveries: &[Delivery],
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let moved = tx
            .execute(
                "UPDATE webhook_cursor SET seq = $1 WHERE id = 1 AND seq = $2",
                &[&to, &from],
            )
            .await
            .map_err(pg)?;
        if moved == 0 {
            return Ok(false);
        }
        let insert = tx
            .prepare_cached(webhooks::INSERT_DELIVERY)
            .await
            .map_err(pg)?;
        let values: Vec<Vec<SqlValue>> = deliveries.iter().map(webhooks::delivery_values).collect();
        let bound: Vec<_> = values.iter().map(|values| params(values)).collect();
        futures_util::future::try_join_all(bound.iter().map(|bound| tx.execute(&insert, bound)))
            .await
            .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn claim_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        limit: u32,
    ) -> Result<Vec<Delivery>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &webhooks::claim_sql("FOR UPDATE SKIP LOCKED"),
                &[&lease_until, &now, &i64::from(limit)],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(webhooks::read_delivery).collect()
    }

    async fn record_attempt(&self, attempt: &Attempt) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let values = webhooks::attempt_values(attempt);
        let changed = client
            .execute(webhooks::RECORD_ATTEMPT, &params(&values))
            .await
            .map_err(pg)?;
        Ok(changed > 0)
    }

    async fn deliveries(
        &self,
        endpoint_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<DeliveryPage, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &webhooks::deliveries_sql(),
                &[
                    &endpoint_id,
                    &before.unwrap_or(i64::MAX),
                    &(i64::from(limit) + 1),
                ],
            )
            .await
            .map_err(pg)?;
        let deliveries = rows
            .iter()
            .map(webhooks::read_delivery)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(webhooks::into_page(deliveries, limit))
    }

    async fn record_notice(
        &self,
        token_id: &str,
        notice: &str,
        event: Event,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let new = tx
            .execute(
                "INSERT INTO token_notices (token_id, notice) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&token_id, &notice],
            )
            .await
            .map_err(pg)?;
        if new == 0 {
            return Ok(false);
        }
        append_entries(&tx, vec![event]).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }
}

/// Locks the tokens a usage flush counts (`$1`), in id order: `NO KEY UPDATE`, as
/// its update takes, so creations under them (`KEY SHARE`) go on meanwhile.
const LOCK_USED: &str = "SELECT 1 FROM tokens WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE";

/// Adds a flush's uses to the tokens' counts: `$1` ids, `$2` uses, `$3` when last
/// used, `$4` from where (a token may come more than once).
const ADD_USES: &str = "UPDATE tokens t SET use_count = t.use_count + u.uses, \
     last_used_at = GREATEST(COALESCE(t.last_used_at, 0), u.at), \
     last_used_ip = COALESCE(u.client, t.last_used_ip) \
     FROM (SELECT id, SUM(uses)::bigint AS uses, MAX(at) AS at, MAX(client) AS client \
           FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[]) \
             AS v(id, uses, at, client) \
           GROUP BY id) AS u \
     WHERE t.id = u.id";

/// Sets the credits left of the tokens that have a cap: `$1` ids, `$2` balances,
/// `$3` periods, `$4` when each balance was given.
const SET_CREDITS: &str = "UPDATE tokens t SET credits_left = u.balance, credits_period = u.period, \
     credits_of = u.given_at \
     FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) \
          AS u(id, balance, period, given_at) \
     WHERE t.id = u.id";

#[async_trait]
impl TokenStore for PostgresStore {
    async fn check_pepper(&self, fingerprint: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO tessera_settings (key, value) VALUES ('pepper_fingerprint', $1) \
                 ON CONFLICT (key) DO NOTHING",
                &[&fingerprint],
            )
            .await
            .map_err(pg)?;
        let stored: String = client
            .query_one(
                "SELECT value FROM tessera_settings WHERE key = 'pepper_fingerprint'",
                &[],
            )
            .await
            .map_err(pg)?
            .get(0);
        crate::compare_pepper(&stored, fingerprint)
    }

    async fn load_all(&self) -> Result<Changes, StoreError> {
        // Every row: read in the table's order, not the index's.
        changes_since(&self.pool, 0).await
    }

    async fn changes_since(&self, seq: ChangeSeq) -> Result<Changes, StoreError> {
        changes_since(&self.by_index, seq).await
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
        let tx = admin_transaction(&self.pool).await?;
        let exists: bool = tx
            .client()?
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM tokens WHERE is_admin AND revoked_at IS NULL)",
                &[],
            )
            .await
            .map_err(pg)?
            .get(0);
        if exists {
            tx.rollback().await;
            return Ok(None);
        }
        let sealing = SealStatements::prepare(tx.client()?).await?;
        let numbers = take_numbers(tx.client()?, 1).await?;
        insert_row(tx.client()?, record, place(0), Basis::default()).await?;
        let seq = numbers.of(place(0));
        let events = audit::completed(event, seq, None).into_iter().collect();
        seal(&tx, &numbers, &sealing, events, &self.node).await?;
        Ok(Some(seq))
    }

    async fn replace_admin(
        &self,
        record: &TokenRecord,
        event: Event,
    ) -> Result<Revocation, StoreError> {
        let tx = admin_transaction(&self.pool).await?;
        let sealing = SealStatements::prepare(tx.client()?).await?;
        // The feed first, as every group takes it ([`LOCK_FEED`]): creations and
        // edits under the admin token land before the reset, or after it and find
        // their parent revoked.
        let numbers = take_numbers(tx.client()?, 1).await?;
        let rows = tx
            .client()?
            .query(
                &format!(
                    "UPDATE tokens SET revoked_at = $1, updated_at = $1, \
                     change_seq = tessera_change_number($2) \
                     WHERE is_admin AND revoked_at IS NULL RETURNING {}",
                    rows::columns()
                ),
                &[&record.created_at, &place(0)],
            )
            .await
            .map_err(pg)?;
        let revoked = revoked_records(&rows)?;
        insert_row(tx.client()?, record, place(0), Basis::default()).await?;
        let revocation = Revocation {
            seq: numbers.of(place(0)),
            revoked,
        };
        let events = vec![audit::completed_reset(event, revocation.seq, &revocation)];
        seal(&tx, &numbers, &sealing, events, &self.node).await?;
        Ok(revocation)
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
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let seq = append_entries(&tx, vec![event]).await?;
        tx.commit().await.map_err(pg)?;
        Ok(seq.unwrap_or_default())
    }

    async fn audit(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        let (sql, values) = audit::list_sql(query, &DIALECT);
        let client = self.client().await?;
        let rows = client.query(&sql, &params(&values)).await.map_err(pg)?;
        let entries = rows
            .iter()
            .map(audit::read_entry)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(audit::into_page(entries, query))
    }

    async fn audit_head(&self) -> Result<Head, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT seq, hash FROM audit_head WHERE id = 1", &[])
            .await
            .map_err(pg)?;
        audit::head(row.get("seq"), row.get("hash"))
    }

    async fn get(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let client = self.client().await?;
        client
            .query_opt(
                &format!("SELECT {} FROM tokens WHERE id = $1", rows::columns()),
                &[&id],
            )
            .await
            .map_err(pg)?
            .map(|row| read_row(&row).and_then(RawRow::into_record))
            .transpose()
    }

    async fn list(&self, query: &ListQuery) -> Result<ListPage, StoreError> {
        let (sql, values) = rows::list_sql(query, &DIALECT);
        let client = self.client().await?;
        let rows = client.query(&sql, &params(&values)).await.map_err(pg)?;
        rows::into_page(rows.iter().map(read_row), query.limit)
    }

    async fn record_usage(&self, updates: &[UsageUpdate]) -> Result<(), StoreError> {
        let used: Vec<&UsageUpdate> = updates.iter().filter(|u| u.uses > 0).collect();
        let ids: Vec<&str> = used.iter().map(|u| u.id.as_str()).collect();
        let uses: Vec<i64> = used
            .iter()
            .map(|u| i64::try_from(u.uses).unwrap_or(i64::MAX))
            .collect();
        let last_used: Vec<i64> = used.iter().map(|u| u.last_used_at).collect();
        let clients: Vec<Option<String>> = used
            .iter()
            .map(|u| u.last_client.map(|ip| ip.to_string()))
            .collect();
        let capped: Vec<(&str, CreditsBalance)> = updates
            .iter()
            .filter_map(|u| u.credits.map(|balance| (u.id.as_str(), balance)))
            .collect();
        let capped_ids: Vec<&str> = capped.iter().map(|(id, _)| *id).collect();
        let left: Vec<i64> = capped
            .iter()
            .map(|(_, b)| i64::try_from(b.left).unwrap_or(i64::MAX))
            .collect();
        let period: Vec<i64> = capped.iter().map(|(_, b)| b.period).collect();
        let of: Vec<i64> = capped.iter().map(|(_, b)| b.of).collect();
        // In id order, as every flush writes them: two nodes' flushes never each
        // hold an hour's row the other waits for.
        let mut tallied: Vec<&UsageUpdate> =
            updates.iter().filter(|u| !u.tally.is_empty()).collect();
        tallied.sort_by(|a, b| a.id.cmp(&b.id));
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let hours: Vec<[i64; 5]> = tallied
            .iter()
            .map(|u| {
                let t = &u.tally;
                let (valid, forbidden) = (count(t.valid), count(t.forbidden));
                let (limited, exhausted) = (count(t.rate_limited), count(t.usage_exhausted));
                [u.hour, valid, forbidden, limited, exhausted]
            })
            .collect();

        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let hourly = tx.prepare_cached(crate::ADD_USAGE).await.map_err(pg)?;
        let lock = tx.prepare_cached(LOCK_USED).await.map_err(pg)?;
        let add_uses = tx.prepare_cached(ADD_USES).await.map_err(pg)?;
        let credits = tx.prepare_cached(SET_CREDITS).await.map_err(pg)?;
        // Every statement in one round trip, then the `COMMIT`: the tokens' rows are
        // held for the database's work and one trip, not one trip a token. A group
        // that revokes a token being counted waits for them while it holds the feed
        // ([`LOCK_ROWS`]), and every node's writes with it (found in review).
        let mut statements: Vec<(&tokio_postgres::Statement, Vec<&(dyn ToSql + Sync)>)> =
            Vec::new();
        // The hours first: they lock their own rows, none of `tokens`.
        for (update, hour) in tallied.iter().zip(&hours) {
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![&update.id];
            params.extend(hour.iter().map(|n| n as &(dyn ToSql + Sync)));
            statements.push((&hourly, params));
        }
        // The rows locked in id order, as a group locks its own ([`LOCK_ROWS`]), so
        // that a flush and a group never each hold a row the other waits for.
        statements.push((&lock, vec![&ids]));
        statements.push((&add_uses, vec![&ids, &uses, &last_used, &clients]));
        if !capped.is_empty() {
            statements.push((&credits, vec![&capped_ids, &left, &period, &of]));
        }
        // Sent in this order: `try_join_all` polls, and so sends, each in turn.
        futures_util::future::try_join_all(
            statements
                .iter()
                .map(|(statement, params)| tx.execute(*statement, params)),
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)
    }

    fn change_signals(&self) -> Option<watch::Receiver<FeedSignal>> {
        Some(self.signals.clone())
    }

    async fn usage(
        &self,
        id: &str,
        from_hour: i64,
        to_hour: i64,
    ) -> Result<Vec<(i64, Tally)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(crate::USAGE_HOURS, &[&id, &from_hour, &to_hour])
            .await
            .map_err(pg)?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get(0)?,
                    crate::tally([
                        row.try_get(1)?,
                        row.try_get(2)?,
                        row.try_get(3)?,
                        row.try_get(4)?,
                    ]),
                ))
            })
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(pg)
    }

    async fn purge_usage(&self, before_hour: i64) -> Result<usize, StoreError> {
        let client = self.client().await?;
        let deleted = client
            .execute("DELETE FROM token_usage WHERE hour < $1", &[&before_hour])
            .await
            .map_err(pg)?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }

    async fn purge_dead(&self, before_ms: i64, limit: u32) -> Result<usize, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let rows = tx
            .query(crate::DEAD_LEAVES, &[&before_ms, &i64::from(limit)])
            .await
            .map_err(pg)?;
        let ids: Vec<String> = rows
            .iter()
            .map(|row| row.try_get::<_, String>(0))
            .collect::<Result<_, _>>()
            .map_err(pg)?;
        if ids.is_empty() {
            return Ok(0);
        }
        // Read committed: another node may have revived a token (an edit gave it a
        // new expiry) or made one through it since the select. One statement checks
        // again under row locks and deletes the rows with their resources (the
        // foreign key is checked at the statement's end).
        let gone = tx
            .query(
                "WITH gone AS (SELECT t.id FROM tokens t WHERE t.id = ANY($1) \
                   AND ((t.revoked_at IS NOT NULL AND t.revoked_at < $2) \
                     OR (t.expires_at IS NOT NULL AND t.expires_at < $2)) \
                   AND NOT EXISTS (SELECT 1 FROM tokens c WHERE c.parent_id = t.id) \
                   ORDER BY t.id FOR UPDATE), \
                 resources AS (DELETE FROM token_resources WHERE token_id IN (SELECT id FROM gone)), \
                 notices AS (DELETE FROM token_notices WHERE token_id IN (SELECT id FROM gone)) \
                 DELETE FROM tokens WHERE id IN (SELECT id FROM gone) RETURNING id",
                &[&ids, &before_ms],
            )
            .await
            .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(gone.len())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client()
            .await?
            .simple_query("SELECT 1")
            .await
            .map(drop)
            .map_err(pg)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test")]

    use super::*;

    #[test]
    fn a_node_skips_its_own_announcements() {
        let node = NodeTag("node_a".into());
        assert_eq!(node.foreign(&node.announcement(7)), Some(None));
        assert_eq!(node.foreign("8 node_b"), Some(Some(8)));
        assert_eq!(
            node.foreign("9"),
            Some(Some(9)),
            "a node of an older version"
        );
        assert_eq!(node.foreign("soon node_b"), None);
    }

    /// A write in a transaction that has not taken its numbers would store a number
    /// no follower reads in order: the statement fails instead, on a fresh
    /// connection and on one whose earlier transaction took numbers.
    #[tokio::test]
    async fn no_row_is_written_without_its_number() {
        let url = tessera_testkit::Postgres::shared().fresh_database();
        let store = PostgresStore::connect(&url).await.unwrap();
        let mut client = store.client().await.unwrap();
        let unnumbered = "INSERT INTO tokens (id, hash, start, is_admin, name, parent_id, \
            created_at, updated_at, change_seq) \
            VALUES ('a', '\\x01', 'tsr_', FALSE, 'a', NULL, 1, 1, tessera_change_number(0))";
        for _ in 0..2 {
            let tx = client.transaction().await.unwrap();
            tx.execute(unnumbered, &[]).await.unwrap_err();
            tx.rollback().await.unwrap();
            let tx = client.transaction().await.unwrap();
            let numbers = take_numbers(&tx, 3).await.unwrap();
            assert_eq!(
                (numbers.first, numbers.newest),
                (numbers.newest - 2, numbers.newest)
            );
            tx.execute(&unnumbered.replace("(0)", "(2)"), &[])
                .await
                .unwrap();
            let seq: i64 = tx
                .query_one("SELECT change_seq FROM tokens WHERE id = 'a'", &[])
                .await
                .unwrap()
                .get(0);
            assert_eq!(seq, numbers.of(2));
            tx.rollback().await.unwrap();
        }
    }

    /// Issue 21: with every token a child of the admin token, a revocation's walk
    /// down the subtree read the whole table, twice. It must be index probes only.
    #[tokio::test]
    async fn revoking_a_leaf_reads_no_whole_table() {
        let url = tessera_testkit::Postgres::shared().fresh_database();
        let store = PostgresStore::connect(&url).await.unwrap();
        let client = store.client().await.unwrap();
        client
            .batch_execute(
                "INSERT INTO tokens (id, hash, start, is_admin, name, parent_id, created_at, \
                 updated_at, change_seq) VALUES ('admin', '\\x00', 'tsr_', TRUE, 'admin', NULL, 1, 1, 1); \
                 INSERT INTO tokens (id, hash, start, is_admin, name, parent_id, created_at, \
                 updated_at, change_seq) SELECT 'tok' || g, int8send(g), 'tsr_', FALSE, 'child', \
                 'admin', 1, 1, g FROM generate_series(1, 5000) g;",
            )
            .await
            .unwrap();
        // A generic plan, as a statement prepared and run many times comes to use.
        client
            .batch_execute("SET plan_cache_mode = force_generic_plan")
            .await
            .unwrap();
        // Before the table's first ANALYZE (a new deployment), and after it.
        for analyze in ["", "ANALYZE tokens"] {
            client.batch_execute(analyze).await.unwrap();
            let statement = client
                .prepare(&format!("EXPLAIN {}", rows::revoke_subtree_sql(&DIALECT)))
                .await
                .unwrap();
            let plan: Vec<String> = client
                .query(&statement, &[&"tok42", &2_i64, &2_i64])
                .await
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect();
            let plan = plan.join("\n");
            assert!(!plan.contains("Seq Scan"), "{analyze:?}: {plan}");
            assert!(plan.contains("tokens_parent"), "{analyze:?}: {plan}");
        }
    }
}
