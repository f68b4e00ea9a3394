//! How many connections are open, in all and from each address: a new one past
//! either cap is closed at once, before it costs a task or a buffer.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tessera_engine::pace::Pace;

use super::Limits;

/// The connections open on every listener of this process, counted at accept.
pub struct ConnectionGate {
    max_connections: usize,
    max_per_address: usize,
    open: Mutex<Open>,
    refused: AtomicU64,
    timed_out: AtomicU64,
    /// Refusals are logged at most once a minute.
    warnings: Pace,
}

#[derive(Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it frees its place.
pub struct Admitted {
    gate: Arc<ConnectionGate>,
    address: IpAddr,
}

impl ConnectionGate {
    pub fn new(limits: &Limits) -> Arc<Self> {
        Arc::new(Self {
            max_connections: limits.max_connections,
            max_per_address: limits.max_connections_per_address,
            open: Mutex::new(Open::default()),
            refused: AtomicU64::new(0),
            timed_out: AtomicU64::new(0),
            warnings: Pace::new(Duration::from_secs(60)),
        })
    }

    /// A place for a new connection from `address`, or `None` (counted, and logged
    /// at most once a minute) when either cap is reached.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Option<Admitted> {
        let refusal = {
            let mut open = self.open.lock();
            let from_address = open.by_address.get(&address).copied().unwrap_or(0);
            if open.total >= self.max_connections {
                Some("max_connections")
            } else if from_address >= self.max_per_address {
                Some("max_connections_per_address")
            } else {
                open.total += 1;
                open.by_address.insert(address, from_address + 1);
                None
            }
        };
        match refusal {
            None => Some(Admitted {
                gate: Arc::clone(self),
                address,
            }),
            Some(cap) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                self.warn_now_and_then(cap, address);
                None
            }
        }
    }

    fn warn_now_and_then(&self, cap: &str, address: IpAddr) {
        if self.warnings.due() {
            tracing::warn!(
                cap,
                %address,
                refused_so_far = self.refused(),
                "refusing new connections: a [limits] cap is reached (logged at most once a minute)"
            );
        }
    }

    /// Connections refused at accept since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Connections closed because a client was too slow to send a request.
    pub fn timed_out(&self) -> u64 {
        self.timed_out.load(Ordering::Relaxed)
    }

    pub(super) fn note_timeout(&self) {
        self.timed_out.fetch_add(1, Ordering::Relaxed);
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.lock().total
    }
}

impl Admitted {
    pub fn gate(&self) -> &Arc<ConnectionGate> {
        &self.gate
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.gate.open.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_address.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.by_address.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_per_address_and_in_all_and_free_on_drop() {
        let gate = ConnectionGate::new(&Limits {
            max_connections: 3,
            max_connections_per_address: 2,
            ..Limits::default()
        });
        let one: IpAddr = "127.0.0.2".parse().unwrap();
        let two: IpAddr = "127.0.0.3".parse().unwrap();
        let a = gate.admit(one).unwrap();
        let _b = gate.admit(one).unwrap();
        assert!(gate.admit(one).is_none(), "a third from one address");
        let _c = gate.admit(two).unwrap();
        assert!(gate.admit(two).is_none(), "a fourth in all");
        assert_eq!((gate.open(), gate.refused()), (3, 2));
        drop(a);
        assert!(
            gate.admit(one).is_some(),
            "a closed connection frees its place"
        );
    }
}
