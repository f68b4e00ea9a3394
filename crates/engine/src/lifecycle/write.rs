//! Changing tokens: create, edit, revoke, and the admin token's own writes, each
//! stored durably and then applied to the index before it is acknowledged.
//!
//! A create, edit or revocation is decided under the writes lock, and stored after
//! the lock is released: the store then commits the writes of many requests in one
//! transaction (group commit), while the next ones are decided. A write decided
//! before an earlier one landed is still safe: the store checks, in its
//! transaction, what the decision assumed (the parent live and unchanged, no newer
//! child; see `tessera_store::Basis`) and refuses the write otherwise, and the quota
//! checks count writes in flight (`super::in_flight`).

use std::sync::Arc;

use serde_json::{Map, Value};
use tessera_core::audit::{self, Action};
use tessera_core::grant::{self, Escalation, Grant};
use tessera_core::random;
use tessera_core::record::{Omitted, Settings, TokenDraft, TokenRecord};
use tessera_core::token::SecretToken;
use tessera_core::usage::Caps;
use tessera_store::{Basis, ChangeSeq};

use crate::error::EngineError;
use crate::index::{Slot, SlotRef};

use super::audit::{Actor, Origin, Target};
use super::authority::{Caller, Manage, Revoke};
use super::check::ID_KIND;
use super::in_flight::Ticket;
use super::{Engine, to_completion};

/// A write decided under the writes lock, to be stored after it is released.
pub(super) struct Decided<'a> {
    pub(super) record: TokenRecord,
    pub(super) basis: Basis,
    /// Counts the write for the quota checks until it lands.
    pub(super) ticket: Ticket<'a>,
    /// The audit entry that records it, written with it.
    pub(super) event: tessera_core::audit::Event,
}

/// Who did something to a token, what, and the details the audit entry keeps.
pub(super) struct Deed {
    pub(super) actor: Actor,
    pub(super) action: Action,
    pub(super) details: Map<String, Value>,
}

impl Deed {
    pub(super) fn new(actor: Actor, action: Action) -> Self {
        Self {
            actor,
            action,
            details: Map::new(),
        }
    }

    pub(super) fn with(mut self, details: Map<String, Value>) -> Self {
        self.details = details;
        self
    }
}

impl Engine {
    /// Bounds a token's settings by its parent (the token that created it, as it is
    /// now): open bounds are filled from the parent, anything beyond it is refused. The
    /// parent lies within its own ancestors, so this bounds the whole chain, whoever
    /// edits the token.
    pub(super) fn bound_by_parent(
        &self,
        parent: &Slot,
        settings: &mut Settings,
        rate_limit_given: bool,
        previous_caps: Option<&Caps>,
    ) -> Result<(), EngineError> {
        let escalation = |e: Escalation| EngineError::Forbidden {
            code: "escalation",
            detail: e.detail,
        };
        let parent_powers = parent.powers().bounds_at(self.now_ms());
        Grant::inherit_bounds(settings, parent_powers, rate_limit_given);
        // An expiry filled in from the parent may fall before the token's not_before.
        settings.check_window()?;
        if !parent.is_admin() {
            grant::inherit_owner(&mut settings.owner, parent.owner()).map_err(escalation)?;
        }
        settings.max_descendants = grant::inherit_quota(
            settings.max_descendants,
            parent.max_descendants(),
            self.config.default_max_descendants,
        )
        .map_err(escalation)?;
        if let Some(cell) = parent.caps() {
            let now = self.now_ms();
            grant::inherit_caps(settings, cell.caps(), cell.left_at(now), previous_caps, now)
                .map_err(escalation)?;
        }
        Grant::of(settings, self.index().catalogue())
            .powers()
            .ensure_within(parent_powers, self.index().catalogue())
            .map_err(escalation)
    }
    /// Refuses to narrow a token below what the live tokens created through it have:
    /// their holders would keep powers their parent no longer has.
    pub(super) fn ensure_covers_descendants(
        &self,
        id: &str,
        narrowed: &Grant,
    ) -> Result<(), EngineError> {
        let catalogue = self.index().catalogue();
        let bounds = narrowed.powers().bounds_at(self.now_ms());
        let exceeding = self
            .index()
            .descendants(id)
            .iter()
            .filter(|slot| !slot.is_revoked())
            .filter(|slot| slot.powers().ensure_within(bounds, catalogue).is_err())
            .count();
        if exceeding == 0 {
            return Ok(());
        }
        Err(EngineError::Conflict {
            code: "descendants_exceed",
            detail: format!(
                "{exceeding} live token(s) created through this one have more than the change would leave it; \
                 narrow or revoke them first"
            ),
        })
    }
    /// Refuses one more token made through `manager` when the manager, or a token
    /// it was made through, has as many live tokens below it as its
    /// `max_descendants` allows. Checked under the write lock, so that two writes
    /// through this node cannot both take the last place; a revoked or expired
    /// token frees its place.
    fn ensure_room_below(&self, manager: &Slot) -> Result<(), EngineError> {
        let index = self.index();
        let now = self.now_ms();
        let Some(current) = index.by_id(manager.id()) else {
            return Ok(());
        };
        for slot in index.lineage(current) {
            if let Some(quota) = slot.max_descendants() {
                let live = self.in_flight.counted(|in_flight| {
                    let coming = in_flight
                        .iter()
                        .filter_map(|entry| entry.parent.as_deref())
                        .filter(|&parent| {
                            parent == slot.id() || index.descends_from(parent, slot.id())
                        })
                        .count();
                    index.live_descendants(slot.id(), now) + coming
                });
                if !grant::quota_allows(Some(quota), live) {
                    return Err(quota_exceeded(format!(
                        "{:?} ({}) may have at most {quota} live tokens made through it and has \
                         {live}: revoke some (a revoked or expired token frees its place) or \
                         raise its max_descendants",
                        slot.name(),
                        slot.id()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Refuses one more live token for `owner` past the deployment's
    /// `max_tokens_per_owner`.
    fn ensure_room_for_owner(&self, owner: &str) -> Result<(), EngineError> {
        let Some(quota) = self.config.max_tokens_per_owner else {
            return Ok(());
        };
        let live = self.in_flight.counted(|in_flight| {
            let coming = in_flight
                .iter()
                .filter(|entry| entry.owner.as_deref() == Some(owner))
                .count();
            self.index().live_owned_by(owner, self.now_ms()) + coming
        });
        if grant::quota_allows(Some(quota), live) {
            return Ok(());
        }
        Err(quota_exceeded(format!(
            "owner {owner:?} has {live} live tokens, the most one owner may have \
             (max_tokens_per_owner): revoke some first"
        )))
    }

    /// Creates a token on behalf of `caller`, within the caller's own powers.
    pub async fn create(
        self: &Arc<Self>,
        caller: &Caller,
        draft: TokenDraft,
    ) -> Result<(TokenRecord, SecretToken), EngineError> {
        let rate_limit_given = draft.rate_limit.is_some();
        let settings = Settings::validate(draft, &self.policy(), Omitted::Create)?;
        let engine = Arc::clone(self);
        let caller = caller.clone();
        to_completion(async move {
            let (decided, secret) = {
                let writes = engine.hold_writes().await;
                let manage = engine.authorize(&writes, &caller)?;
                engine.decide_child(&manage, settings, rate_limit_given, &Actor::of(&caller))?
            };
            let seq = engine
                .stored(
                    engine
                        .store
                        .insert(&decided.record, decided.basis, decided.event.clone()),
                )
                .await?;
            Ok((engine.land(seq, decided), secret))
        })
        .await
    }

    /// A new token made by the manager, bounded by the manager's powers.
    fn decide_child(
        &self,
        manage: &Manage<'_>,
        mut settings: Settings,
        rate_limit_given: bool,
        actor: &Actor,
    ) -> Result<(Decided<'_>, SecretToken), EngineError> {
        let manager = manage.manager();
        self.bound_by_parent(manager, &mut settings, rate_limit_given, None)?;
        self.ensure_room_below(manager)?;
        if let Some(owner) = &settings.owner {
            self.ensure_room_for_owner(owner)?;
        }
        let (record, secret) = self.new_record(settings, Some(manager.id().to_owned()), false);
        let basis = Basis {
            parent: Some(manager.seq()),
            ..Basis::default()
        };
        let ticket = self
            .in_flight
            .register(Some(manager.id()), record.settings.owner.as_deref());
        let target = Target::New {
            maker: Some(manager),
            record: &record,
        };
        let mut after = Map::new();
        after.insert(
            "after".into(),
            Value::Object(audit::settings_fields(&record.settings)),
        );
        let event = self
            .event(Action::TokenCreated, actor, target)
            .with_details(&after);
        let decided = Decided {
            record,
            basis,
            ticket,
            event,
        };
        Ok((decided, secret))
    }

    /// Brings a stored write, numbered `seq`, into the index.
    pub(super) fn land(&self, seq: ChangeSeq, decided: Decided<'_>) -> TokenRecord {
        let record = decided.record;
        self.in_flight
            .land(decided.ticket, || self.bring_in(seq, record.clone()));
        self.applied_own(seq);
        record
    }

    pub(super) fn new_record(
        &self,
        settings: Settings,
        parent_id: Option<String>,
        is_admin: bool,
    ) -> (TokenRecord, SecretToken) {
        let secret = SecretToken::generate(&self.config.token_prefix);
        let now = self.clock.now_ms();
        let record = TokenRecord {
            id: random::identifier(ID_KIND),
            hash: self.verifier.hasher().hash(&secret),
            start: secret.start(),
            is_admin,
            settings,
            parent_id,
            created_at: now,
            updated_at: now,
            revoked_at: None,
            last_used_at: None,
            last_used_ip: None,
            use_count: 0,
            previous_secrets: Vec::new(),
            credits_balance: None,
        };
        (record, secret)
    }
    /// Makes the deployment's first admin token, unless one exists (in a cluster,
    /// another node starting at the same moment may have made it): then `None`.
    pub async fn create_first_admin(self: &Arc<Self>) -> Result<Option<SecretToken>, EngineError> {
        let (record, secret) = self.new_record(Settings::admin(), None, true);
        let event = self.admin_event(Action::AdminCreated, "tessera start-up", &record);
        let engine = Arc::clone(self);
        to_completion(async move {
            let _writes = engine.hold_writes().await;
            match engine.store.insert_first_admin(&record, event).await? {
                Some(seq) => {
                    engine.bring_in(seq, record);
                    engine.applied_own(seq);
                    Ok(Some(secret))
                }
                None => {
                    engine.catch_up().await?;
                    Ok(None)
                }
            }
        })
        .await
    }
    /// Makes a new admin token and revokes any earlier one (`tessera admin reset-token`).
    pub async fn create_admin(self: &Arc<Self>) -> Result<SecretToken, EngineError> {
        let (record, secret) = self.new_record(Settings::admin(), None, true);
        let event = self.admin_event(Action::AdminReset, "tessera admin reset-token", &record);
        let engine = Arc::clone(self);
        to_completion(async move {
            let _writes = engine.hold_writes().await;
            let revocation = engine.store.replace_admin(&record, event).await?;
            engine.apply_revocation(revocation.seq, revocation.revoked);
            engine.bring_in(revocation.seq, record);
            engine.applied_own(revocation.seq);
            Ok(())
        })
        .await?;
        Ok(secret)
    }
    /// The entry of an admin token's making, by tessera itself.
    fn admin_event(&self, action: Action, what: &str, record: &TokenRecord) -> audit::Event {
        let actor = Actor::tessera(what, Origin::default());
        let target = Target::New {
            maker: None,
            record,
        };
        self.event(action, &actor, target)
    }
    /// Changes a token's settings: `change` edits the current settings as a draft,
    /// which is then validated whole, bounded by the token's parent, and refused if
    /// tokens created through it would then have more than it.
    pub async fn update(
        self: &Arc<Self>,
        caller: &Caller,
        id: &str,
        change: impl FnOnce(&mut TokenDraft) -> Result<(), EngineError> + Send + 'static,
    ) -> Result<TokenRecord, EngineError> {
        let engine = Arc::clone(self);
        let caller = caller.clone();
        let id = id.to_owned();
        to_completion(async move {
            let decided = {
                let writes = engine.hold_writes().await;
                let manage = engine.authorize(&writes, &caller)?;
                engine
                    .decide_edit(&manage, &id, change, &Actor::of(&caller))
                    .await?
            };
            let seq = engine
                .stored(
                    engine
                        .store
                        .update(&decided.record, decided.basis, decided.event.clone()),
                )
                .await?;
            Ok(engine.land(seq, decided))
        })
        .await
    }

    /// A manager's edit of a token it may change.
    async fn decide_edit(
        &self,
        manage: &Manage<'_>,
        id: &str,
        change: impl FnOnce(&mut TokenDraft) -> Result<(), EngineError>,
        actor: &Actor,
    ) -> Result<Decided<'_>, EngineError> {
        let slot = manage.target(self, id)?;
        // The whole record is in the store only. If it is newer than `slot`, the
        // write below names `slot.seq()` and is refused as stale (409).
        let mut record = self.record(&slot).await?;
        if record.revoked_at.is_some() || slot.is_revoked() {
            return Err(token_revoked());
        }
        let parent_slot = match &record.parent_id {
            Some(parent_id) if !record.is_admin => self.index().by_id(parent_id),
            _ => None,
        };
        let Some(parent) = parent_slot.as_deref() else {
            return Err(admin_untouchable());
        };
        let mut draft = record.settings.to_draft();
        change(&mut draft)?;
        let mut settings = Settings::validate(draft, &self.policy(), Omitted::Complete)?;
        let previous_caps = record.settings.caps();
        self.bound_by_parent(parent, &mut settings, true, Some(&previous_caps))?;
        self.ensure_covers_descendants(id, &Grant::of(&settings, self.index().catalogue()))?;
        let new_owner = settings
            .owner
            .as_deref()
            .filter(|_| settings.owner != record.settings.owner);
        if let Some(owner) = new_owner {
            self.ensure_room_for_owner(owner)?;
        }
        let ticket = self.in_flight.register(None, new_owner);
        let event = self
            .event(Action::TokenUpdated, actor, Target::Slot(&slot))
            .with_details(&audit::changed_fields(&record.settings, &settings));
        record.settings = settings;
        record.updated_at = self.clock.now_ms();
        let basis = Basis {
            token: Some(slot.seq()),
            parent: Some(parent.seq()),
            children_known_up_to: Some(self.applied_seq()),
        };
        Ok(Decided {
            record,
            basis,
            ticket,
            event,
        })
    }

    /// Revokes a token and every token created through it, at once. Idempotent.
    pub async fn revoke(
        self: &Arc<Self>,
        caller: &Caller,
        id: &str,
    ) -> Result<TokenRecord, EngineError> {
        let engine = Arc::clone(self);
        let caller = caller.clone();
        let id = id.to_owned();
        to_completion(async move {
            let revocation = {
                let writes = engine.hold_writes().await;
                engine
                    .authorize(&writes, &caller)?
                    .revocation(&engine, &id)?
            };
            let deed = Deed::new(Actor::of(&caller), Action::TokenRevoked);
            engine.revoke_subtree(revocation, deed).await
        })
        .await
    }

    /// RFC 7009: revokes the token whose text is presented, and its descendants.
    /// A text that names no live token is not an error; there is nothing to do.
    pub async fn revoke_presented(
        self: &Arc<Self>,
        secret: &str,
        origin: Origin,
    ) -> Result<(), EngineError> {
        match self.lookup(secret, None) {
            Ok(slot) if !slot.is_revoked() => {
                let deed = Deed::new(Actor::token(&slot, origin), Action::TokenRevoked);
                self.revoke_own(slot, deed).await.map(drop)
            }
            _ => Ok(()),
        }
    }

    /// A token revokes itself (the end of a sandbox session).
    pub async fn revoke_self(
        self: &Arc<Self>,
        caller: &Caller,
    ) -> Result<TokenRecord, EngineError> {
        let deed = Deed::new(Actor::of(caller), Action::TokenRevoked);
        self.revoke_own(SlotRef::clone(&caller.slot), deed).await
    }

    /// The holder of `token` gives it up, with what it created.
    pub(super) async fn revoke_own(
        self: &Arc<Self>,
        token: SlotRef,
        deed: Deed,
    ) -> Result<TokenRecord, EngineError> {
        let engine = Arc::clone(self);
        to_completion(async move {
            let revocation = {
                let writes = engine.hold_writes().await;
                engine.own_revocation(&writes, &token)
            };
            engine.revoke_subtree(revocation, deed).await
        })
        .await
    }

    /// Stores the revocation of a token and its descendants, and brings it into the
    /// index.
    async fn revoke_subtree(
        &self,
        revocation: Revoke,
        deed: Deed,
    ) -> Result<TokenRecord, EngineError> {
        let slot = revocation.target();
        if slot.is_admin() {
            return Err(admin_untouchable());
        }
        let event = self
            .event(deed.action, &deed.actor, Target::Slot(slot))
            .with_details(&deed.details);
        let now = self.clock.now_ms();
        // The store walks the descendants it holds, those made through other
        // nodes and not yet followed here included.
        let settled = self.usage.read().await;
        let stored = self
            .stored(self.store.revoke_subtree(slot.id(), now, event))
            .await?;
        let answer = stored
            .revoked
            .iter()
            .find(|record| record.id == slot.id())
            .cloned();
        let answer = answer.map(|mut record| {
            slot.overlay_usage(&mut record);
            record
        });
        drop(settled);
        self.apply_revocation(stored.seq, stored.revoked);
        self.applied_own(stored.seq);
        match answer {
            Some(record) => Ok(record),
            // Revoked before: nothing changed, the stored record says when.
            None => self.record(slot).await,
        }
    }
}

fn quota_exceeded(detail: String) -> EngineError {
    EngineError::Forbidden {
        code: "quota_exceeded",
        detail,
    }
}

pub(super) fn token_revoked() -> EngineError {
    EngineError::Conflict {
        code: "token_revoked",
        detail: "this token is revoked and cannot be changed; create a new one".into(),
    }
}

pub(super) fn admin_untouchable() -> EngineError {
    EngineError::Conflict {
        code: "admin_token",
        detail: "the admin token cannot be changed or revoked through the API; \
                 replace it offline with `tessera admin reset-token`"
            .into(),
    }
}
