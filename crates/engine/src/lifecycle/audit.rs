//! The audit log as the engine writes and reads it: who acted, on what, from
//! where. Every token write hands its entry to the store, which appends it in the
//! write's own transaction; what changes no token (a sign-in, a leak only flagged)
//! is appended on its own.

use std::net::IpAddr;

use serde_json::{Map, Value};
use tessera_core::audit::{Action, Break, ChainWalk, Event, Head};
use tessera_core::record::TokenRecord;
use tessera_store::{AuditPage, AuditQuery};

use crate::error::EngineError;
use crate::index::{Slot, SlotRef};

use super::Engine;
use super::authority::Caller;

/// Where a request came from, as the audit log records it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The end client's address, as tessera decided it (`trusted_proxies`).
    pub client_ip: Option<IpAddr>,
    /// The request's id: the caller's `X-Request-Id`, or one tessera made.
    pub request_id: Option<String>,
}

/// Who acted: a token, or tessera itself (start-up, the CLI, a signed leak
/// report, reuse detection), named in words.
#[derive(Clone, Debug)]
pub struct Actor {
    id: Option<String>,
    name: String,
    origin: Origin,
}

impl Actor {
    /// The token a request authenticated with.
    pub fn of(caller: &Caller) -> Self {
        Self::token(&caller.slot, caller.origin.clone())
    }

    /// A token acting for itself (revoking or rotating itself).
    pub fn token(slot: &Slot, origin: Origin) -> Self {
        Self {
            id: Some(slot.id().to_owned()),
            name: slot.name().to_owned(),
            origin,
        }
    }

    /// tessera itself, doing `what`.
    pub fn tessera(what: impl Into<String>, origin: Origin) -> Self {
        Self {
            id: None,
            name: what.into(),
            origin,
        }
    }
}

/// The most entries one page of the audit log holds.
pub const MAX_AUDIT_PAGE: u32 = 500;

/// What walking the whole chain found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// Entries checked, up to the first break.
    pub checked: u64,
    /// The newest entry, as the head recorded it.
    pub head: Head,
    /// The first entry that is not as written, if any.
    pub broken: Option<Break>,
}

impl Engine {
    /// An event by `actor` on `target`, whose lineage the index knows (or, for a
    /// token being made, its maker's, with the new token last).
    pub(super) fn event(&self, action: Action, actor: &Actor, target: Target<'_>) -> Event {
        let (target_id, lineage) = match target {
            Target::Slot(slot) => (Some(slot.id().to_owned()), self.lineage_ids(slot, None)),
            Target::Other(id) => (Some(id.to_owned()), Vec::new()),
            Target::New { maker, record } => (
                Some(record.id.clone()),
                match maker {
                    Some(maker) => self.lineage_ids(maker, Some(&record.id)),
                    None => Vec::new(),
                },
            ),
        };
        Event {
            actor_id: actor.id.clone(),
            actor_name: Some(actor.name.clone()),
            target_id,
            lineage,
            client_ip: actor.origin.client_ip.map(|ip| ip.to_string()),
            request_id: actor.origin.request_id.clone(),
            ..Event::new(self.now_ms(), action)
        }
    }

    /// The ids from the top (below the admin token, which sees everything) down
    /// to `slot`, then `then`.
    fn lineage_ids(&self, slot: &SlotRef, then: Option<&str>) -> Vec<String> {
        let mut ids: Vec<String> = self
            .index()
            .lineage(SlotRef::clone(slot))
            .filter(|link| !link.is_admin())
            .map(|link| link.id().to_owned())
            .collect();
        ids.reverse();
        ids.extend(then.map(str::to_owned));
        ids
    }

    /// Appends an entry that records no token write.
    pub(super) async fn record_event(&self, event: Event) -> Result<(), EngineError> {
        self.store.append_audit(event).await?;
        Ok(())
    }

    /// A web UI session opened or closed with `caller`'s token.
    pub async fn record_session(
        &self,
        caller: &Caller,
        signed_in: bool,
    ) -> Result<(), EngineError> {
        let action = if signed_in {
            Action::SessionSignedIn
        } else {
            Action::SessionSignedOut
        };
        let event = self.event(action, &Actor::of(caller), Target::Slot(&caller.slot));
        self.record_event(event).await
    }

    /// A page of the audit log as `caller` may see it: all of it for the admin
    /// token, the entries about its own subtree for any other manager.
    pub async fn audit_log(
        &self,
        caller: &Caller,
        mut query: AuditQuery,
    ) -> Result<AuditPage, EngineError> {
        let caller = self.index().current(&caller.slot);
        if !self.holds(&caller, tessera_core::scope::TOKENS_MANAGE) {
            return Err(EngineError::needs_scope(tessera_core::scope::TOKENS_MANAGE));
        }
        query.limit = query.limit.clamp(1, MAX_AUDIT_PAGE);
        if !caller.is_admin() {
            query.within = Some(caller.id().to_owned());
        }
        Ok(self.store.audit(&query).await?)
    }

    /// Walks the whole chain, oldest first, and names the first entry that was
    /// edited, deleted or moved (for the admin token only: it reads every entry).
    pub async fn verify_audit(&self, caller: &Caller) -> Result<ChainReport, EngineError> {
        if !caller.is_admin() {
            return Err(EngineError::Forbidden {
                code: "admin_only",
                detail: "only the admin token may check the whole audit log".into(),
            });
        }
        // The head first: entries appended while the walk runs lie beyond it.
        let head = self.store.audit_head().await?;
        let mut walk = ChainWalk::default();
        let mut checked = 0;
        let mut after = Some(0);
        while let Some(from) = after.filter(|&seq| seq < head.seq) {
            let page = self
                .store
                .audit(&AuditQuery {
                    oldest_first: true,
                    after: Some(from),
                    limit: MAX_AUDIT_PAGE,
                    ..AuditQuery::default()
                })
                .await?;
            for entry in page.entries.iter().filter(|entry| entry.seq <= head.seq) {
                if let Err(broken) = walk.step(entry) {
                    return Ok(ChainReport {
                        checked,
                        head,
                        broken: Some(broken),
                    });
                }
                checked += 1;
            }
            after = page.next_cursor;
        }
        let broken = walk.finish(head).err();
        Ok(ChainReport {
            checked,
            head,
            broken,
        })
    }
}

/// What an event is about.
pub(super) enum Target<'a> {
    Slot(&'a SlotRef),
    /// Something other than a token (a webhook endpoint), by its id.
    Other(&'a str),
    /// A token being made through `maker` (an admin token: by none).
    New {
        maker: Option<&'a SlotRef>,
        record: &'a TokenRecord,
    },
}

/// Details naming why, with more fields.
pub(super) fn reason(
    why: &str,
    more: impl IntoIterator<Item = (&'static str, Value)>,
) -> Map<String, Value> {
    let mut details = Map::new();
    details.insert("reason".into(), why.into());
    for (name, value) in more {
        details.insert(name.into(), value);
    }
    details
}
