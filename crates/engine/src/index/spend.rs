//! What a check spends: rate-limit budget from the token's own bucket, and a use
//! counted for the usage writer.

use std::sync::atomic::Ordering;

use tessera_core::verify::{self, Admission, Verdict};

use super::TokenIndex;
use super::slot::{Checked, SlotRef};

impl TokenIndex {
    /// Finishes a request [`verify::admit`] has judged, spending from the token's
    /// own bucket if it was admitted under a rate limit.
    pub fn check_admitted(&self, slot: SlotRef, admission: Admission, now_ms: i64) -> Checked {
        let rate_limit = slot.rate_limit();
        loop {
            let tat = slot.tat.load(Ordering::Acquire);
            let verdict = verify::conclude(admission, rate_limit, now_ms, tat);
            if let Some(next_tat) = verdict.next_tat
                && slot
                    .tat
                    .compare_exchange(tat, next_tat, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
            {
                // Another request spent budget at the same moment: decide again.
                continue;
            }
            return self.settle(slot, verdict, now_ms);
        }
    }

    /// Records a verdict reached on `slot` (here or by the shared limiter): counts
    /// the use if it was allowed.
    pub fn settle(&self, slot: SlotRef, verdict: Verdict, now_ms: i64) -> Checked {
        if verdict.code == verify::Code::Valid {
            self.count_use(&slot, now_ms);
        }
        Checked { slot, verdict }
    }

    fn count_use(&self, slot: &SlotRef, now_ms: i64) {
        // Most uses fall in a millisecond already recorded: a read, not a write.
        if slot.last_used_at.load(Ordering::Relaxed) < now_ms {
            slot.last_used_at.fetch_max(now_ms, Ordering::Relaxed);
        }
        match slot.pending_uses.fetch_add(1, Ordering::AcqRel) {
            0 => self.dirty.lock().push(SlotRef::clone(slot)),
            // Wrapped to 0: stay at the most that can be told instead.
            u32::MAX => slot.pending_uses.store(u32::MAX, Ordering::Release),
            _ => {}
        }
    }

    /// Takes the tokens used since the last call, for the usage writer.
    pub fn take_dirty(&self) -> Vec<SlotRef> {
        std::mem::take(&mut *self.dirty.lock())
    }

    /// Queues a token for the next usage flush again.
    pub fn requeue(&self, slot: SlotRef) {
        self.dirty.lock().push(slot);
    }
}
