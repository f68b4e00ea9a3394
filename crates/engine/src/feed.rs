//! The change follower: keeps this node's index up to date with writes made through
//! other nodes of a cluster sharing one store.
//!
//! It wakes on three things and does the same each time, [`Engine::catch_up`] (read
//! every change numbered after the last one applied):
//! - an announcement from the store (PostgreSQL `NOTIFY`), for changes within
//!   milliseconds;
//! - a reconnection of the store's listening connection, since announcements made
//!   while it was down are lost;
//! - a periodic poll, so that a lost announcement delays a change by one period at
//!   most, never forever.
//!
//! A failed catch-up (the database is down) is retried on the next poll; the index
//! keeps serving verifications meanwhile.

use std::sync::Arc;
use std::time::Duration;

use tessera_store::FeedSignal;
use tokio::sync::watch;

use crate::lifecycle::Engine;

/// Follows `signals` (and polls every `period`) until `stop` turns true.
pub async fn follow(
    engine: Arc<Engine>,
    mut signals: watch::Receiver<FeedSignal>,
    period: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut caught_up_epoch = 0;
    let mut failing = false;
    let mut listening = true;
    loop {
        let due = tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            changed = signals.changed(), if listening => {
                if changed.is_err() {
                    // The store stopped listening (it is shutting down): poll only.
                    listening = false;
                    continue;
                }
                let signal = *signals.borrow_and_update();
                signal.epoch != caught_up_epoch || signal.announced > engine.applied_seq()
            }
            _ = ticker.tick() => true,
        };
        if !due {
            continue;
        }
        note_behind(&engine, signals.borrow().announced);
        let epoch = signals.borrow().epoch;
        match engine.catch_up().await {
            Ok(changed) => {
                caught_up_epoch = epoch;
                note_behind(&engine, signals.borrow().announced);
                if failing {
                    tracing::info!(
                        seq = engine.applied_seq(),
                        "the store is back; the index has caught up"
                    );
                    failing = false;
                }
                if changed > 0 {
                    tracing::debug!(changed, seq = engine.applied_seq(), "followed changes");
                }
            }
            Err(error) => {
                engine.metrics().feed_failures.increment();
                if !failing {
                    let error = tessera_store::with_causes(&error);
                    tracing::warn!(%error, "cannot read the change feed; verifying from the index and retrying");
                    failing = true;
                }
            }
        }
    }
}

/// Notes whether the index trails what the store announced, and since when: the
/// feed lag `/metrics` reports.
fn note_behind(engine: &Engine, announced: tessera_store::ChangeSeq) {
    use std::sync::atomic::Ordering;
    let since = &engine.metrics().feed_behind_since_ms;
    if announced > engine.applied_seq() {
        let _ = since.compare_exchange(
            0,
            engine.now_ms().max(1),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    } else {
        since.store(0, Ordering::Relaxed);
    }
}
