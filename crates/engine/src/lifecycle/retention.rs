//! Retention: revoked and expired tokens leave the index after `index_retention`
//! and the store after `store_retention`, so that a deployment issuing a token per
//! sandbox session (millions a day) keeps its memory and its tables bounded by the
//! tokens of the last days, not of all time.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::EngineError;

use super::Engine;

/// Tokens taken out at once: each batch holds the index's write locks (or one
/// store transaction) for a moment, then lets checks and writes through.
const BATCH: usize = 1000;

/// How long a token's hourly usage counts are kept.
pub const USAGE_KEPT_MS: i64 = 90 * 86_400_000;

/// What one purge took out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub index: usize,
    pub store: usize,
}

impl Engine {
    /// Takes out of the index and the store what their retention no longer keeps,
    /// in small batches.
    pub async fn purge_dead(&self) -> Result<Purged, EngineError> {
        let now = self.clock.now_ms();
        let mut purged = Purged::default();
        if let Some(retention) = self.config.index_retention_ms {
            let cutoff = now.saturating_sub(retention);
            // A maker goes once the tokens made through it have: a round per level
            // of a dead subtree, the leaves first.
            loop {
                let dead = self.index().dead_before(cutoff);
                let mut removed = 0;
                for batch in dead.chunks(BATCH) {
                    removed += self.index().remove_dead(batch, cutoff);
                    tokio::task::yield_now().await;
                }
                if removed == 0 {
                    break;
                }
                purged.index += removed;
                self.index().prune(cutoff);
            }
        }
        // Hourly usage is kept 90 days.
        let oldest_hour = (now - USAGE_KEPT_MS).div_euclid(super::usage::HOUR_MS);
        self.store.purge_usage(oldest_hour).await?;
        if let Some(retention) = self.config.store_retention_ms {
            let cutoff = now.saturating_sub(retention);
            let limit = u32::try_from(BATCH).unwrap_or(u32::MAX);
            loop {
                // Until a batch finds nothing: deleting leaves frees their makers.
                let deleted = self.store.purge_dead(cutoff, limit).await?;
                purged.store += deleted;
                if deleted == 0 {
                    break;
                }
                tokio::task::yield_now().await;
            }
        }
        Ok(purged)
    }
}

/// Purges every `period` (and once at start: a store loaded at start holds what
/// the last run did not purge yet) until `stop` turns true.
pub async fn purge_periodically(
    engine: Arc<Engine>,
    period: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            _ = ticker.tick() => {}
        }
        match engine.purge_dead().await {
            Ok(purged) if purged != Purged::default() => {
                tracing::info!(
                    index = purged.index,
                    store = purged.store,
                    "purged tokens past their retention"
                );
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "cannot purge tokens past their retention; trying again later")
            }
        }
    }
}
