//! Rotation: a token gets a new secret and keeps everything else (id, grants,
//! limits, usage, children). The secret it had works on for a grace period (0 to 7
//! days), so that whoever holds it can switch without a gap; presented after that,
//! it answers `ROTATED`, and since only a copy kept somewhere can still be presented,
//! tessera acts on it as theft (`on_rotated_reuse`: revoke the token and its
//! subtree, or report it).

use std::sync::Arc;

use tessera_core::record::TokenRecord;
use tessera_core::token::SecretToken;
use tessera_store::Basis;
use tokio::sync::mpsc;

use crate::config::ReuseAction;
use crate::error::EngineError;
use crate::index::SlotRef;

use tessera_core::audit::Action;

use super::audit::{Actor, Origin, Target, reason};
use super::authority::Caller;
use super::write::{Decided, Deed, admin_untouchable, token_revoked};
use super::{Engine, to_completion};

/// Reused tokens waiting to be revoked: reuse is seen on the check path, which must
/// not wait for a write, so the revocation is made by [`act_on_reuse`]. Bounded: a
/// flood of presentations of one old secret queues its token once or a few times,
/// and a full queue drops reports of tokens already queued.
pub(super) struct ReuseQueue {
    sender: mpsc::Sender<SlotRef>,
    receiver: parking_lot::Mutex<Option<mpsc::Receiver<SlotRef>>>,
}

impl Default for ReuseQueue {
    fn default() -> Self {
        let (sender, receiver) = mpsc::channel(1024);
        Self {
            sender,
            receiver: parking_lot::Mutex::new(Some(receiver)),
        }
    }
}

impl Engine {
    /// Gives the token `id` a new secret, for a manager that may edit it. The
    /// previous secret works on for `grace_ms` (see the module's doc).
    pub async fn rotate(
        self: &Arc<Self>,
        caller: &Caller,
        id: &str,
        grace_ms: i64,
    ) -> Result<(TokenRecord, SecretToken), EngineError> {
        let engine = Arc::clone(self);
        let caller = caller.clone();
        let id = id.to_owned();
        to_completion(async move {
            let (decided, secret) = {
                let writes = engine.hold_writes().await;
                let target = engine.authorize(&writes, &caller)?.target(&engine, &id)?;
                engine
                    .decide_rotation(target, grace_ms, &Actor::of(&caller))
                    .await?
            };
            engine.store_rotation(decided, secret).await
        })
        .await
    }

    /// A token gives itself a new secret (a CI job's or a sandbox's own rotation):
    /// holding it is the proof, as for revoking itself.
    pub async fn rotate_self(
        self: &Arc<Self>,
        caller: &Caller,
        grace_ms: i64,
    ) -> Result<(TokenRecord, SecretToken), EngineError> {
        let engine = Arc::clone(self);
        let token = SlotRef::clone(&caller.slot);
        let actor = Actor::of(caller);
        to_completion(async move {
            let (decided, secret) = {
                let _writes = engine.hold_writes().await;
                let current = engine.index().current(&token);
                engine.decide_rotation(current, grace_ms, &actor).await?
            };
            engine.store_rotation(decided, secret).await
        })
        .await
    }

    async fn decide_rotation(
        &self,
        slot: SlotRef,
        grace_ms: i64,
        actor: &Actor,
    ) -> Result<(Decided<'_>, SecretToken), EngineError> {
        // The whole record is in the store only; a newer one than `slot` makes the
        // write below stale (409).
        let record = self.record(&slot).await?;
        if record.revoked_at.is_some() || slot.is_revoked() {
            return Err(token_revoked());
        }
        if record.is_admin {
            return Err(admin_untouchable());
        }
        let secret = SecretToken::generate(&self.config.token_prefix);
        let hash = self.verifier.hasher().hash(&secret);
        let rotated = record.rotated(hash, secret.start(), grace_ms, self.clock.now_ms());
        let decided = Decided {
            record: rotated,
            basis: Basis {
                token: Some(slot.seq()),
                ..Basis::default()
            },
            ticket: self.in_flight.register(None, None),
            event: self
                .event(Action::TokenRotated, actor, Target::Slot(&slot))
                .with_details(&reason(
                    "rotated",
                    [("grace_seconds", (grace_ms / 1000).into())],
                )),
        };
        Ok((decided, secret))
    }

    async fn store_rotation(
        &self,
        decided: Decided<'_>,
        secret: SecretToken,
    ) -> Result<(TokenRecord, SecretToken), EngineError> {
        let seq = self
            .stored(
                self.store
                    .update(&decided.record, decided.basis, decided.event.clone()),
            )
            .await?;
        Ok((self.land(seq, decided), secret))
    }

    /// A secret a rotation retired was presented after its grace period: whoever
    /// presents it kept a copy. Logged (never the secret), and with `revoke` the
    /// token and its subtree are revoked, off the check path.
    pub(super) fn reuse_detected(&self, slot: &SlotRef) {
        if slot.is_revoked() {
            return;
        }
        let action = self.config.on_rotated_reuse;
        tracing::warn!(
            token_id = slot.id(),
            ?action,
            "a secret retired by a rotation was presented after its grace period: the token may be stolen"
        );
        // Full: the token is queued already, or will be at its next presentation.
        let _ = self.reuse.sender.try_send(SlotRef::clone(slot));
    }

    /// The queue [`act_on_reuse`] works through; `None` after the first call.
    pub fn take_reuse_queue(&self) -> Option<mpsc::Receiver<SlotRef>> {
        self.reuse.receiver.lock().take()
    }
}

/// Tokens reported for reuse remembered at most, before forgetting them all.
const REMEMBERED_REPORTS: usize = 10_000;

/// Acts on each token whose retired secret was reused, until `stop` turns true:
/// revokes it (`on_rotated_reuse = "revoke"`) or only records it in the audit log
/// (`"report"`, once per token while this process runs: an attacker presenting the
/// old secret in a loop must not fill the log). Runs beside the server.
pub async fn act_on_reuse(
    engine: Arc<Engine>,
    mut queue: mpsc::Receiver<SlotRef>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut reported = std::collections::HashSet::new();
    loop {
        let slot = tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            next = queue.recv() => match next {
                Some(slot) => slot,
                None => return,
            },
        };
        let current = engine.index().current(&slot);
        if current.is_revoked() {
            continue;
        }
        let action = engine.config.on_rotated_reuse;
        let details = reason(
            "a secret retired by a rotation was presented after its grace period",
            [("action", action.as_str().into())],
        );
        let actor = Actor::tessera("reuse detection", Origin::default());
        if action == ReuseAction::Report {
            if reported.len() >= REMEMBERED_REPORTS {
                reported.clear();
            }
            if reported.insert(current.id().to_owned()) {
                let event = engine
                    .event(Action::TokenReuseDetected, &actor, Target::Slot(&current))
                    .with_details(&details);
                if let Err(error) = engine.record_event(event).await {
                    tracing::error!(token_id = slot.id(), %error, "could not record the reuse of a rotated secret");
                }
            }
            continue;
        }
        let deed = Deed::new(actor, Action::TokenReuseDetected).with(details);
        match engine.revoke_own(current, deed).await {
            Ok(_) => tracing::warn!(
                token_id = slot.id(),
                "revoked after the reuse of a rotated secret"
            ),
            Err(error) => {
                tracing::error!(token_id = slot.id(), %error, "could not revoke a token whose rotated secret was reused");
            }
        }
    }
}
