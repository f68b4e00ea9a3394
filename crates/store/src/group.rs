//! Group commit: token writes that arrive while a transaction is committing wait,
//! and go together in the next one, so that many writes share one durable commit
//! (one fsync) and, on PostgreSQL, one turn of the change feed's lock.
//!
//! Each backend writes a group in one transaction ([`WriteGroup`]); this module
//! queues the writes of every task of the process, in the order they arrive, and
//! gives each its own outcome. A write that fails rolls its group back; it alone
//! gets the error and the rest are written again without it, so one refused write
//! never fails another.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use tessera_core::audit::Event;
use tessera_core::record::TokenRecord;
use tokio::sync::{mpsc, oneshot};

use crate::{Basis, ChangeSeq, Revocation, StoreError};

/// One token write, as a group carries it, with the audit entry that records it.
pub(crate) enum Write {
    Insert {
        record: TokenRecord,
        basis: Basis,
        event: Event,
    },
    Update {
        record: TokenRecord,
        basis: Basis,
        event: Event,
    },
    Revoke {
        id: String,
        at: i64,
        event: Event,
    },
}

impl Write {
    /// The entries of a group's writes, once written: each with its change number,
    /// a revocation's with what it took down (none for one that revoked nothing).
    pub fn events(group: &[Arc<Write>], written: &[Written]) -> Vec<Event> {
        group
            .iter()
            .zip(written)
            .filter_map(|(write, written)| match &**write {
                Write::Insert { event, .. } | Write::Update { event, .. } => {
                    crate::audit::completed(event.clone(), written.seq, None)
                }
                Write::Revoke { event, .. } => {
                    crate::audit::completed(event.clone(), written.seq, Some(written))
                }
            })
            .collect()
    }
}

/// What a write did: the change number it took and, for a revocation, the tokens
/// it revoked (none for other writes).
pub(crate) type Written = Revocation;

/// Why a group's transaction did not commit.
pub(crate) struct GroupFailure {
    /// The write that failed, when one did (the transaction then rolled back);
    /// `None` when the transaction itself failed (begin or commit).
    pub write: Option<usize>,
    pub error: StoreError,
}

impl GroupFailure {
    /// The transaction itself failed.
    pub fn whole(error: StoreError) -> Self {
        Self { write: None, error }
    }
}

/// A backend's transaction for a group of writes.
#[async_trait]
pub(crate) trait WriteGroup: Send + Sync + 'static {
    /// Closes `gathering` ([`Gathering::close`]) once it may write, writes the
    /// group in order in one transaction, each write with the next change number,
    /// and commits it durably; or writes nothing. On success, one outcome per write
    /// of the group as last closed, in order.
    async fn write_group(
        &self,
        gathering: &mut Gathering<'_>,
    ) -> Result<Vec<Written>, GroupFailure>;
}

/// A group being formed: the writes queued when it opened, and those that arrive
/// until its backend closes it. A backend that must wait for its turn to write
/// (PostgreSQL's nodes, for the change feed) closes it when its turn comes, so
/// that the writes that arrived while it waited go with it and not in a group of
/// their own after it.
pub(crate) struct Gathering<'q> {
    queued: &'q mut Vec<Queued>,
    arriving: &'q mut mpsc::UnboundedReceiver<Queued>,
}

impl Gathering<'_> {
    /// Adds the writes that have arrived (up to [`MAX_GROUP`] in all) and returns
    /// the group's writes, in order. Closed again (a backend that retries), a
    /// group keeps its writes and may take more.
    pub fn close(&mut self) -> Vec<Arc<Write>> {
        while self.queued.len() < MAX_GROUP {
            match self.arriving.try_recv() {
                Ok(queued) => self.queued.push(queued),
                Err(_) => break,
            }
        }
        self.queued.iter().map(|q| Arc::clone(&q.write)).collect()
    }
}

/// The most writes one transaction takes: a group this size is a few milliseconds
/// of work, and the writes queued behind it wait no longer than that.
const MAX_GROUP: usize = 128;

struct Queued {
    write: Arc<Write>,
    done: oneshot::Sender<Result<Written, StoreError>>,
}

/// The queue of writes waiting for their group, and the task that commits groups.
pub(crate) struct GroupCommit {
    backend: Arc<dyn WriteGroup>,
    /// Made by the first write: a store may be opened outside a runtime (SQLite's
    /// `open` is synchronous).
    started: OnceLock<Committer>,
}

struct Committer {
    queue: mpsc::UnboundedSender<Queued>,
    task: Option<tokio::task::AbortHandle>,
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        if let Some(task) = self.started.get().and_then(|c| c.task.as_ref()) {
            task.abort();
        }
    }
}

impl GroupCommit {
    pub fn new(backend: impl WriteGroup) -> Self {
        Self {
            backend: Arc::new(backend),
            started: OnceLock::new(),
        }
    }

    fn queue(&self) -> &mpsc::UnboundedSender<Queued> {
        let committer = self.started.get_or_init(|| {
            let (queue, waiting) = mpsc::unbounded_channel();
            let task = start(commit_groups(Arc::clone(&self.backend), waiting));
            Committer { queue, task }
        });
        &committer.queue
    }

    pub async fn insert(
        &self,
        record: TokenRecord,
        basis: Basis,
        event: Event,
    ) -> Result<ChangeSeq, StoreError> {
        let written = self
            .write(Write::Insert {
                record,
                basis,
                event,
            })
            .await?;
        Ok(written.seq)
    }

    pub async fn update(
        &self,
        record: TokenRecord,
        basis: Basis,
        event: Event,
    ) -> Result<ChangeSeq, StoreError> {
        let written = self
            .write(Write::Update {
                record,
                basis,
                event,
            })
            .await?;
        Ok(written.seq)
    }

    pub async fn revoke(
        &self,
        id: String,
        at: i64,
        event: Event,
    ) -> Result<Revocation, StoreError> {
        self.write(Write::Revoke { id, at, event }).await
    }

    /// Writes `write` with the next group, once that group has committed.
    async fn write(&self, write: Write) -> Result<Written, StoreError> {
        let (done, outcome) = oneshot::channel();
        let queued = Queued {
            write: Arc::new(write),
            done,
        };
        self.queue().send(queued).map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the store's writer has stopped".into())
}

/// Runs `committing` on a thread of its own, with a runtime of its own, which
/// also drives the connections it opens: a commit's answer is read and the next
/// group sent at once, not after the request tasks queued on the shared workers.
/// On two cores under 32 clients' writes that wait was a third of a group's time
/// (issue 21: one PostgreSQL node went from about 5,200 to 6,300 creations a
/// second). The runtime is made on that thread (one dropped on a worker of the
/// caller's would panic); the caller waits only for its task to be spawned.
/// `None` if it could not start: the queue's receiver is gone with `committing`,
/// so every write fails, loudly, and none is lost.
fn start(
    committing: impl Future<Output = ()> + Send + 'static,
) -> Option<tokio::task::AbortHandle> {
    let (spawned, handle) = std::sync::mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name("tessera-writer".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!(%error, "no runtime for the store's writer: no write will be stored");
                    return;
                }
            };
            let task = runtime.spawn(committing);
            let _ = spawned.send(task.abort_handle());
            let _ = runtime.block_on(task);
        });
    match thread {
        Ok(_) => handle.recv().ok(),
        Err(error) => {
            tracing::error!(%error, "cannot start the store's writer: no write will be stored");
            None
        }
    }
}

async fn commit_groups(
    backend: Arc<dyn WriteGroup>,
    mut arriving: mpsc::UnboundedReceiver<Queued>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while arriving.recv_many(&mut group, MAX_GROUP).await > 0 {
        commit(&*backend, &mut group, &mut arriving).await;
    }
}

/// Commits `group` and the writes that join it ([`Gathering`]), answering and
/// removing every one.
async fn commit(
    backend: &dyn WriteGroup,
    group: &mut Vec<Queued>,
    arriving: &mut mpsc::UnboundedReceiver<Queued>,
) {
    while !group.is_empty() {
        let mut gathering = Gathering {
            queued: group,
            arriving,
        };
        let outcome = backend.write_group(&mut gathering).await;
        match outcome {
            Ok(written) => {
                for (queued, outcome) in group.drain(..).zip(written) {
                    let _ = queued.done.send(Ok(outcome));
                }
            }
            Err(GroupFailure {
                write: Some(at),
                error,
            }) if at < group.len() => {
                let _ = group.remove(at).done.send(Err(error));
            }
            Err(GroupFailure { error, .. }) => {
                let words = crate::with_causes(&error);
                let mut answers = group.drain(..);
                if let Some(first) = answers.next() {
                    let _ = first.done.send(Err(error));
                }
                for queued in answers {
                    let _ = queued
                        .done
                        .send(Err(StoreError::Unavailable(words.clone().into())));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tessera_core::audit::Action;
    use tokio::sync::Notify;

    use super::*;

    /// A backend whose turn comes when the test says so, and which keeps the size
    /// of every group it writes.
    #[derive(Default)]
    struct TurnByTurn {
        waiting: Notify,
        turn: Notify,
        sizes: Mutex<Vec<usize>>,
    }

    #[async_trait]
    impl WriteGroup for Arc<TurnByTurn> {
        async fn write_group(
            &self,
            gathering: &mut Gathering<'_>,
        ) -> Result<Vec<Written>, GroupFailure> {
            self.waiting.notify_one();
            self.turn.notified().await;
            let group = gathering.close();
            self.sizes.lock().unwrap().push(group.len());
            Ok((0..group.len())
                .map(|k| Written::new(k as ChangeSeq + 1))
                .collect())
        }
    }

    fn revocation(id: &str) -> Write {
        Write::Revoke {
            id: id.into(),
            at: 0,
            event: Event::new(0, Action::TokenRevoked),
        }
    }

    /// The writes that arrive while a group waits for its turn go with it, not in
    /// a group of their own after it (issue 21: with two nodes, each node's groups
    /// wait for the other's).
    #[tokio::test]
    async fn writes_that_arrive_while_a_group_waits_for_its_turn_join_it() {
        let backend = Arc::new(TurnByTurn::default());
        let commit = Arc::new(GroupCommit::new(Arc::clone(&backend)));
        let write = |id: &'static str| {
            let commit = Arc::clone(&commit);
            tokio::spawn(async move { commit.write(revocation(id)).await })
        };
        let first = write("first");
        backend.waiting.notified().await;
        let (second, third) = (write("second"), write("third"));
        // Each spawned write is queued when first polled: on this test's one thread,
        // when the test yields.
        tokio::task::yield_now().await;
        backend.turn.notify_one();
        let seqs = [first, second, third].map(|w| async { w.await.unwrap().unwrap().seq });
        let seqs = futures_util::future::join_all(seqs).await;
        assert_eq!(seqs, [1, 2, 3]);
        assert_eq!(*backend.sizes.lock().unwrap(), [3]);
    }
}
