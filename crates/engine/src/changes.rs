//! The stream of changes to this node's index, for clients that keep answers of
//! their own (a guarded app's cache of recent verifications) and must drop them when
//! a token changes: `GET /v1/changes`.
//!
//! An event names a token and what happened to it, never a secret or a hash. It is
//! published after the change is in the index, so a client that asks again on
//! seeing it gets the new answer.
//!
//! Each event has a position in this node's stream. A client that reconnects says the
//! last position it saw and gets every later event from a ring of recent ones; when
//! its position is older than the ring, or from another node or an earlier process
//! (the stream's `epoch` differs), the events in between cannot be told, and it is
//! told to reset: drop everything it keeps. Positions rather than the store's change
//! numbers: the index takes changes in no particular order (see `crate::index`),
//! and a cursor must never skip one that arrives late.

use std::collections::VecDeque;

use parking_lot::Mutex;
use tessera_store::ChangeSeq;
use tokio::sync::broadcast;

/// How many recent events a reconnecting client can resume from.
const RING: usize = 16_384;
/// How many events a connected client may fall behind before it must reset.
const LAG: usize = 4_096;

/// What happened to a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
    Revoked,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Revoked => "revoked",
        }
    }
}

/// One change to one token, as the stream tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeEvent {
    /// Its place in this node's stream: one more than the event before.
    pub position: u64,
    /// The store's number for the write.
    pub seq: ChangeSeq,
    pub token_id: String,
    pub kind: ChangeKind,
}

/// Where a client stands in a stream: the stream's epoch and the last position seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub epoch: u64,
    pub position: u64,
}

impl Cursor {
    /// As the stream writes it in an event's id: `<epoch hex>-<position>`.
    pub fn parse(text: &str) -> Option<Self> {
        let (epoch, position) = text.split_once('-')?;
        Some(Self {
            epoch: u64::from_str_radix(epoch, 16).ok()?,
            position: position.parse().ok()?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:x}-{}", self.epoch, self.position)
    }
}

/// A client's start in the stream: what it missed, then what comes.
pub struct Subscription {
    /// False when the client's cursor could not be resumed: it must drop what it keeps.
    pub resumed: bool,
    /// The events after the client's cursor, when resumed.
    pub missed: Vec<ChangeEvent>,
    /// The cursor at the end of `missed`: where the live events start.
    pub cursor: Cursor,
    pub live: broadcast::Receiver<ChangeEvent>,
}

/// This node's stream of changes (see the module's doc).
pub struct ChangeStream {
    epoch: u64,
    /// Recent events, and the last position given. Publishing and subscribing take
    /// this lock, so a subscriber's missed events and live ones neither overlap nor
    /// leave a hole.
    recent: Mutex<(VecDeque<ChangeEvent>, u64)>,
    live: broadcast::Sender<ChangeEvent>,
}

impl Default for ChangeStream {
    fn default() -> Self {
        let mut epoch = [0u8; 8];
        tessera_core::random::fill(&mut epoch);
        Self {
            epoch: u64::from_le_bytes(epoch),
            recent: Mutex::new((VecDeque::with_capacity(RING), 0)),
            live: broadcast::channel(LAG).0,
        }
    }
}

impl ChangeStream {
    /// Tells every subscriber that `token_id` changed (write `seq`).
    pub fn publish(&self, seq: ChangeSeq, token_id: &str, kind: ChangeKind) {
        let mut recent = self.recent.lock();
        let (ring, last) = &mut *recent;
        *last += 1;
        let event = ChangeEvent {
            position: *last,
            seq,
            token_id: token_id.to_owned(),
            kind,
        };
        if ring.len() == RING {
            ring.pop_front();
        }
        ring.push_back(event.clone());
        // No subscriber is not an error: nobody listens yet.
        let _ = self.live.send(event);
    }

    /// Starts a client after `after` (its last cursor), or at the present when it has
    /// none.
    pub fn subscribe(&self, after: Option<Cursor>) -> Subscription {
        let recent = self.recent.lock();
        let (ring, last) = &*recent;
        let live = self.live.subscribe();
        let now = Cursor {
            epoch: self.epoch,
            position: *last,
        };
        let oldest_resumable = ring.front().map_or(*last, |first| first.position - 1);
        match after {
            None => Subscription {
                resumed: true,
                missed: Vec::new(),
                cursor: now,
                live,
            },
            Some(cursor)
                if cursor.epoch == self.epoch
                    && (oldest_resumable..=*last).contains(&cursor.position) =>
            {
                let missed = ring
                    .iter()
                    .filter(|event| event.position > cursor.position)
                    .cloned()
                    .collect();
                Subscription {
                    resumed: true,
                    missed,
                    cursor: now,
                    live,
                }
            }
            Some(_) => Subscription {
                resumed: false,
                missed: Vec::new(),
                cursor: now,
                live,
            },
        }
    }

    /// The cursor of `event` in this stream.
    pub fn cursor_of(&self, event: &ChangeEvent) -> Cursor {
        Cursor {
            epoch: self.epoch,
            position: event.position,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(events: &[ChangeEvent]) -> Vec<&str> {
        events.iter().map(|e| e.token_id.as_str()).collect()
    }

    #[test]
    fn a_client_resumes_after_its_cursor_with_nothing_missed_or_repeated() {
        let stream = ChangeStream::default();
        stream.publish(1, "tok_a", ChangeKind::Created);
        let start = stream.subscribe(None);
        stream.publish(2, "tok_b", ChangeKind::Revoked);
        stream.publish(3, "tok_c", ChangeKind::Updated);
        let seen = Cursor {
            epoch: stream.epoch,
            position: 2,
        };
        let resumed = stream.subscribe(Some(seen));
        assert!(resumed.resumed);
        assert_eq!(ids(&resumed.missed), ["tok_c"]);
        assert_eq!(start.cursor.position, 1);
        let mut live = start.live;
        let told: Vec<String> = std::iter::from_fn(|| live.try_recv().ok())
            .map(|e| e.token_id)
            .collect();
        assert_eq!(told, ["tok_b", "tok_c"]);
    }

    #[test]
    fn a_cursor_from_another_stream_or_older_than_the_ring_resets() {
        let stream = ChangeStream::default();
        let other = ChangeStream::default();
        let foreign = Cursor {
            epoch: other.epoch,
            position: 0,
        };
        assert!(!stream.subscribe(Some(foreign)).resumed);
        let first = Cursor {
            epoch: stream.epoch,
            position: 0,
        };
        assert!(stream.subscribe(Some(first)).resumed);
        for seq in 0..=RING as ChangeSeq {
            stream.publish(seq, "tok_a", ChangeKind::Updated);
        }
        assert!(!stream.subscribe(Some(first)).resumed);
        let ahead = Cursor {
            epoch: stream.epoch,
            position: RING as u64 + 5,
        };
        assert!(
            !stream.subscribe(Some(ahead)).resumed,
            "a position never given"
        );
    }

    #[test]
    fn cursors_read_back_as_written() {
        let cursor = Cursor {
            epoch: 0xdead_beef,
            position: 42,
        };
        assert_eq!(Cursor::parse(&cursor.to_string()), Some(cursor));
        assert_eq!(Cursor::parse("zz-1"), None);
        assert_eq!(Cursor::parse("12"), None);
    }
}
