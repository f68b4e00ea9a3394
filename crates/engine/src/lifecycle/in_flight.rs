//! Writes decided and on their way to the store, counted by the quota checks until
//! they land in the index.
//!
//! A write is decided under the writes lock, but stored after it is released, so
//! that the store can commit the writes of many requests together (group commit).
//! The quota checks (`max_descendants`, `max_tokens_per_owner`) count what the
//! index holds *and* what is in flight, so two creations decided one after another
//! cannot both take the last place while the first is still being stored.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

/// The tokens that writes in flight will add below a parent, or to an owner.
#[derive(Default)]
pub(super) struct InFlight {
    entries: Mutex<Vec<Entry>>,
    next_ticket: AtomicU64,
}

/// One write in flight: a new token made through `parent`, or a token that will
/// belong to `owner` (a creation, or an edit that gives it a new owner).
pub(super) struct Entry {
    ticket: u64,
    pub parent: Option<String>,
    pub owner: Option<String>,
}

/// A write's place among those in flight, given back when it lands or fails.
pub(super) struct Ticket<'a> {
    in_flight: &'a InFlight,
    ticket: u64,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.in_flight
            .entries
            .lock()
            .retain(|entry| entry.ticket != self.ticket);
    }
}

impl InFlight {
    /// Counts a write decided now, until its ticket is dropped.
    pub fn register(&self, parent: Option<&str>, owner: Option<&str>) -> Ticket<'_> {
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        self.entries.lock().push(Entry {
            ticket,
            parent: parent.map(str::to_owned),
            owner: owner.map(str::to_owned),
        });
        Ticket {
            in_flight: self,
            ticket,
        }
    }

    /// Reads the writes in flight, with landing held off: `count` sees each write
    /// either here or in the index, never in both or neither.
    pub fn counted<T>(&self, count: impl FnOnce(&[Entry]) -> T) -> T {
        count(&self.entries.lock())
    }

    /// Brings a stored write into the index (`land`) and stops counting it, at once
    /// for [`InFlight::counted`].
    pub fn land(&self, ticket: Ticket<'_>, land: impl FnOnce()) {
        let mut entries = self.entries.lock();
        land();
        entries.retain(|entry| entry.ticket != ticket.ticket);
        drop(entries);
        // Its entry is gone; dropping the ticket finds nothing more to remove.
        drop(ticket);
    }
}
