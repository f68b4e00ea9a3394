//! Writing the uses counted in memory to the store, off the request path.

use tessera_core::record::CreditsBalance;
use tessera_store::{StoreError, UsageUpdate};

use crate::index::SlotRef;

use super::Engine;

impl Engine {
    /// Writes usage counted since the last flush; on failure they are kept for the next.
    pub async fn flush_usage(&self) -> Result<(), StoreError> {
        // Readers of stored counts wait for a flush to finish, so that no use is
        // counted both in the store and as pending, nor in neither.
        let _flushing = self.usage.write().await;
        let mut updates = Vec::new();
        let mut taken = Vec::new();
        // A slot queued twice is written once (by address: the slots outlive this).
        let mut seen = std::collections::HashSet::new();
        for slot in self.index().take_dirty() {
            let (uses, last_used_at) = slot.pending();
            if uses > 0 && seen.insert(SlotRef::as_ptr(&slot).addr()) {
                let credits = slot.caps().and_then(|cell| {
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
                    credits,
                });
                taken.push((slot, uses));
            }
        }
        if updates.is_empty() {
            return Ok(());
        }
        let written = self.store.record_usage(&updates).await;
        for (slot, uses) in taken {
            // Uses not written, or made meanwhile, wait for the next flush.
            if written.is_err() || slot.mark_written(uses) > 0 {
                self.index().requeue(slot);
            }
        }
        written
    }
}
