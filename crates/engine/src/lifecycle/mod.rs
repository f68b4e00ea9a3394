//! The token lifecycle: every operation on tokens, whatever way it arrives (the HTTP
//! API and its compatibility adapters, the web UI, forward-auth and the gateway).
//!
//! Writes follow one order: validate (pure core), check the caller may do it, write to
//! the store durably, apply to the in-memory index, and only then answer. Writes made
//! through other nodes reach the index through [`Engine::catch_up`], which the change
//! follower (`crate::feed`) calls; each change carries its number in the store's feed,
//! so the two paths can meet in any order.

mod audit;
mod authority;
mod check;
mod in_flight;
mod leaks;
mod read;
mod retention;
mod rotate;
mod usage;
mod webhooks;
mod write;

pub use audit::{Actor, ChainReport, MAX_AUDIT_PAGE, Origin};
pub use authority::{Caller, Credential};
pub use check::{CheckOutcome, SharedCheck};
pub use leaks::{LeakLabel, LeakSource};
pub use retention::{Purged, USAGE_KEPT_MS, purge_periodically};
pub use rotate::act_on_reuse;
pub use usage::{Granularity, HOUR_MS, UsageBucket};
pub use webhooks::{DELIVERY_LEASE_MS, EndpointChange, MAX_DELIVERY_PAGE, NewEndpoint, Sent};

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tessera_core::clock::Clock;
use tessera_core::record::TokenRecord;
use tessera_core::token::Pepper;
use tessera_store::{ChangeSeq, FeedSignal, StoreError, TokenStore};

use crate::changes::{ChangeKind, ChangeStream};
use crate::config::EngineConfig;
use crate::error::EngineError;
use crate::failures::FailureThrottle;
use crate::index::{Applied, TokenIndex, Verifier};
use crate::limiter::SharedLimiter;
use crate::metrics::Metrics;
use in_flight::InFlight;

pub struct Engine {
    config: EngineConfig,
    verifier: Verifier,
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    writes: tokio::sync::Mutex<()>,
    /// Writes decided and not yet in the index, for the quota checks.
    in_flight: InFlight,
    /// Every change up to this number is in the index.
    applied: AtomicI64,
    /// This node's own writes in the index beyond `applied`: a group's writes land
    /// in any order.
    own_ahead: parking_lot::Mutex<BTreeSet<ChangeSeq>>,
    catching_up: tokio::sync::Mutex<()>,
    /// Held (shared) while a stored count is read and topped up with the pending
    /// uses, and (exclusively) while the usage writer moves pending uses to the store.
    usage: tokio::sync::RwLock<()>,
    metrics: Metrics,
    /// Every change the index takes, told to `/v1/changes`.
    changes: ChangeStream,
    /// Tokens to revoke because a rotated secret of theirs was reused.
    reuse: rotate::ReuseQueue,
    /// Tokens that ran out of uses or credits, to announce.
    exhausted: webhooks::ExhaustedQueue,
    /// Failed authentications per client address.
    failures: Arc<FailureThrottle>,
    /// Set when rate limits are shared across nodes (Redis).
    shared_limiter: Option<Arc<SharedLimiter>>,
}

impl Engine {
    /// Checks the store belongs to this pepper and loads every token into the index.
    /// With `shared_limiter`, rate limits are spent from buckets every node shares.
    pub async fn open(
        config: EngineConfig,
        store: Arc<dyn TokenStore>,
        pepper: &Pepper,
        clock: Arc<dyn Clock>,
        shared_limiter: Option<SharedLimiter>,
    ) -> Result<Self, StoreError> {
        store.check_pepper(&pepper.fingerprint()).await?;
        let snapshot = store.load_all().await?;
        let index = TokenIndex::new(config.catalogue.clone(), snapshot.changes);
        Ok(Self {
            verifier: Verifier::new(config.token_prefix.clone(), pepper, index),
            store,
            clock,
            writes: tokio::sync::Mutex::new(()),
            in_flight: InFlight::default(),
            applied: AtomicI64::new(snapshot.up_to),
            own_ahead: parking_lot::Mutex::default(),
            catching_up: tokio::sync::Mutex::new(()),
            usage: tokio::sync::RwLock::new(()),
            metrics: Metrics::default(),
            changes: ChangeStream::default(),
            reuse: rotate::ReuseQueue::default(),
            exhausted: webhooks::ExhaustedQueue::default(),
            failures: Arc::new(FailureThrottle::new(config.failed_auth)),
            shared_limiter: shared_limiter.map(Arc::new),
            config,
        })
    }
    /// How far this node's index trails the store's change feed: changes announced
    /// and not applied yet, and for how long it has trailed (zero for a store that
    /// announces nothing: one SQLite node applies its own writes before answering).
    pub fn feed_lag(&self) -> (u64, std::time::Duration) {
        let Some(signals) = self.store.change_signals() else {
            return (0, std::time::Duration::ZERO);
        };
        let announced = signals.borrow().announced;
        let behind = u64::try_from(announced.saturating_sub(self.applied_seq())).unwrap_or(0);
        let since = self
            .metrics
            .feed_behind_since_ms
            .load(std::sync::atomic::Ordering::Relaxed);
        let for_ms = if behind == 0 || since == 0 {
            0
        } else {
            self.clock.now_ms().saturating_sub(since)
        };
        (
            behind,
            std::time::Duration::from_millis(u64::try_from(for_ms).unwrap_or(0)),
        )
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
    /// What wakes the change follower when another node writes (`None` for a store
    /// only this process writes). The store itself stays inside the engine: every
    /// write goes through the methods that check who may make it.
    pub fn change_signals(&self) -> Option<tokio::sync::watch::Receiver<FeedSignal>> {
        self.store.change_signals()
    }

    /// Whether the database answers now (for `/readyz`).
    pub async fn ping_store(&self) -> Result<(), StoreError> {
        self.store.ping().await
    }
    /// The newest change number up to which the index holds every write.
    pub fn applied_seq(&self) -> ChangeSeq {
        self.applied.load(Ordering::Acquire)
    }
    /// Brings into the index every write the store numbered after [`Engine::applied_seq`]
    /// (other nodes' writes, and any of ours it already holds, which change nothing).
    /// Returns how many tokens changed.
    pub async fn catch_up(&self) -> Result<usize, StoreError> {
        let _one_at_a_time = self.catching_up.lock().await;
        let feed = self.store.changes_since(self.applied_seq()).await?;
        let count = feed.changes.len();
        for change in feed.changes {
            self.bring_in(change.seq, change.record);
        }
        self.applied.fetch_max(feed.up_to, Ordering::AcqRel);
        Ok(count)
    }
    /// Runs a store write. One refused as decided on an old copy (another node changed
    /// a token it depends on a moment ago) first brings the index up to date, so that
    /// the caller's retry is decided on the current state.
    pub(super) async fn stored<T>(
        &self,
        write: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, EngineError> {
        let started = std::time::Instant::now();
        let written = write.await;
        self.metrics.store_writes.record(started.elapsed());
        match written {
            Err(StoreError::Stale(detail)) => {
                if let Err(error) = self.catch_up().await {
                    let error = tessera_store::with_causes(&error);
                    tracing::warn!(%error, "cannot catch up after a concurrent change");
                }
                Err(StoreError::Stale(detail).into())
            }
            done => Ok(done?),
        }
    }
    /// Brings the tokens a revocation numbered `seq` revoked into the index, as the
    /// store returned them.
    pub(super) fn apply_revocation(&self, seq: ChangeSeq, revoked: Vec<TokenRecord>) {
        for record in revoked {
            self.bring_in(seq, record);
        }
    }
    /// Brings a token's version from write `seq` into the index, and tells the change
    /// stream when it changed something.
    pub(super) fn bring_in(&self, seq: ChangeSeq, record: TokenRecord) {
        let id = record.id.clone();
        let revoked = record.revoked_at.is_some();
        let kind = match self.index().apply(seq, record) {
            Applied::Stale => return,
            _ if revoked => ChangeKind::Revoked,
            Applied::New => ChangeKind::Created,
            Applied::Replaced => ChangeKind::Updated,
        };
        self.changes.publish(seq, &id, kind);
    }
    /// The stream of changes to the index, for `/v1/changes`.
    pub fn changes(&self) -> &ChangeStream {
        &self.changes
    }
    /// Records that this node's own write `seq` is in the index: when every earlier
    /// write is too, the feed need not be read for it. The writes of one group
    /// land in any order, so those ahead of a gap wait in `own_ahead`; a gap left
    /// by another node's write is closed by [`Engine::catch_up`].
    pub(super) fn applied_own(&self, seq: ChangeSeq) {
        let mut ahead = self.own_ahead.lock();
        ahead.insert(seq);
        loop {
            let applied = self.applied_seq();
            while ahead.first().is_some_and(|&first| first <= applied) {
                ahead.pop_first();
            }
            match ahead.first() {
                Some(&next) if next == applied + 1 => {
                    ahead.pop_first();
                    self.applied.fetch_max(next, Ordering::AcqRel);
                }
                _ => break,
            }
        }
    }
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }
    pub fn index(&self) -> &TokenIndex {
        self.verifier.index()
    }
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }
    /// Whether the store holds an admin token that still works, and whether it was
    /// ever used: start-up makes the first one, and reminds of one nobody has used
    /// (perhaps shown to a terminal nobody read).
    pub fn admin_standing(&self) -> AdminStanding {
        let roots = self.index().root_slots();
        let mut working = roots
            .iter()
            .filter(|slot| slot.is_admin() && !slot.is_revoked())
            .peekable();
        if working.peek().is_none() {
            return AdminStanding::Missing;
        }
        let mut unused = working.filter(|slot| slot.pending().1 == 0);
        match unused.next() {
            Some(slot) => AdminStanding::NeverUsed {
                created_at: slot.created_at(),
            },
            None => AdminStanding::Used,
        }
    }
}

/// See [`Engine::admin_standing`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminStanding {
    /// No admin token works: start-up makes one.
    Missing,
    /// One works and has never been used; made at `created_at`.
    NeverUsed { created_at: i64 },
    /// Every working admin token has been used.
    Used,
}

/// Runs a write to its end even if the request that asked for it goes away: a handler
/// dropped between the store's commit and the index update would leave the two
/// disagreeing (a revoked token still verifying) until the next restart.
async fn to_completion<T: Send + 'static>(
    work: impl Future<Output = Result<T, EngineError>> + Send + 'static,
) -> Result<T, EngineError> {
    tokio::spawn(work)
        .await
        .map_err(|e| EngineError::Internal(format!("a write task failed: {e}")))?
}
