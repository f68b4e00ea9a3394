//! Writing the uses counted in memory to the store, off the request path.

use tessera_core::record::CreditsBalance;
use tessera_store::{StoreError, Tally, UsageUpdate};

/// An hour, in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;

use crate::index::SlotRef;

use super::Engine;

impl Engine {
    /// Writes usage counted since the last flush; on failure they are kept for the next.
    pub async fn flush_usage(&self) -> Result<(), StoreError> {
        // Readers of stored counts wait for a flush to finish, so that no use is
        // counted both in the store and as pending, nor in neither.
        let _flushing = self.usage.write().await;
        // Counted to the hour of the flush: a second or so after the requests.
        let hour = self.clock.now_ms().div_euclid(HOUR_MS);
        let mut updates = Vec::new();
        let mut taken = Vec::new();
        let mut clients = self.index().take_clients();
        // A slot queued twice is written once (by address: the slots outlive this).
        let mut seen = std::collections::HashSet::new();
        for slot in self.index().take_dirty() {
            let (uses, last_used_at) = slot.pending();
            if uses > 0 && seen.insert(SlotRef::as_ptr(&slot).addr()) {
                // The balance of the token's current version only: an older one
                // queued beside it (an edit in between) may hold earlier credits.
                let current = self
                    .index()
                    .by_id(slot.id())
                    .is_some_and(|held| SlotRef::ptr_eq(&held, &slot));
                let credits = slot.caps().filter(|_| current).and_then(|cell| {
                    let given = cell.caps().credits?;
                    let balance = cell.balance_at(last_used_at);
                    Some(CreditsBalance {
                        left: balance.credits_left,
                        period: balance.period,
                        of: given.set_at,
                    })
                });
                updates.push(UsageUpdate {
                    id: slot.id().to_owned(),
                    uses,
                    last_used_at,
                    last_client: clients.remove(slot.id()),
                    credits,
                    tally: Tally {
                        valid: uses,
                        ..Tally::default()
                    },
                    hour,
                });
                taken.push((slot, uses));
            }
        }
        // Refusals join their token's update, or make one of their own.
        let refusals = self.index().take_refusals();
        for (id, [forbidden, rate_limited, usage_exhausted]) in &refusals {
            let tally = Tally {
                forbidden: *forbidden,
                rate_limited: *rate_limited,
                usage_exhausted: *usage_exhausted,
                ..Tally::default()
            };
            match updates.iter_mut().find(|update| update.id == id.as_str()) {
                Some(update) => update.tally.add(&tally),
                None => updates.push(UsageUpdate {
                    id: id.to_string(),
                    uses: 0,
                    last_used_at: 0,
                    last_client: None,
                    credits: None,
                    tally,
                    hour,
                }),
            }
        }
        if updates.is_empty() {
            return Ok(());
        }
        let written = self.store.record_usage(&updates).await;
        if written.is_err() {
            for (id, counts) in refusals {
                self.index().restore_refusals(id, counts);
            }
            for update in &updates {
                if let Some(client) = update.last_client {
                    self.index().restore_client(&update.id, client);
                }
            }
        }
        for (slot, uses) in taken {
            // Uses not written, or made meanwhile, wait for the next flush.
            if written.is_err() || slot.mark_written(uses) > 0 {
                self.index().requeue(slot);
            }
        }
        written
    }
}

/// How a token's usage is summed: per hour, or per day (UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
}

impl Granularity {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hour" => Some(Self::Hour),
            "day" => Some(Self::Day),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    /// The range a query that names none covers: a day of hours, or 30 days.
    pub fn default_span_ms(self) -> i64 {
        match self {
            Self::Hour => 86_400_000,
            Self::Day => 30 * 86_400_000,
        }
    }

    /// Its length in hours.
    fn hours(self) -> i64 {
        match self {
            Self::Hour => 1,
            Self::Day => 24,
        }
    }
}

/// One bucket of a token's usage: its start (milliseconds) and its counts.
pub type UsageBucket = (i64, Tally);

impl Engine {
    /// `caller`'s view of a token's usage from `from_ms` to `to_ms`, every bucket of
    /// `granularity` in the range (empty ones with zeros, so that a chart has no
    /// gaps), counts written up to now included.
    pub async fn usage(
        &self,
        caller: &crate::lifecycle::Caller,
        id: &str,
        from_ms: i64,
        to_ms: i64,
        granularity: Granularity,
    ) -> Result<Vec<UsageBucket>, crate::EngineError> {
        let slot = self.visible_to(&caller.slot, id)?;
        // What the last second counted, first: the answer includes it.
        if let Err(error) = self.flush_usage().await {
            tracing::warn!(error = %tessera_store::with_causes(&error), "cannot write usage before reading it");
        }
        let step = granularity.hours();
        let first = from_ms.div_euclid(HOUR_MS).div_euclid(step) * step;
        let end = to_ms.div_euclid(HOUR_MS) + 1;
        let hours = self.store.usage(slot.id(), first, end).await?;
        let mut buckets: Vec<UsageBucket> = (first..end)
            .step_by(usize::try_from(step).unwrap_or(1))
            .map(|hour| (hour * HOUR_MS, Tally::default()))
            .collect();
        for (hour, tally) in hours {
            let at = usize::try_from((hour - first) / step).unwrap_or(usize::MAX);
            if let Some((_, bucket)) = buckets.get_mut(at) {
                bucket.add(&tally);
            }
        }
        Ok(buckets)
    }
}
