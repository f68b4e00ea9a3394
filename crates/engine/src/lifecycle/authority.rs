//! Who may do what: the caller a request authenticated as, and the rules that bound
//! what it may see and change.

use std::borrow::Cow;
use std::marker::PhantomData;

use tessera_core::record::Policy;
use tessera_core::scope::{TOKENS_MANAGE, TOKENS_READ};
use tessera_core::verify::{self, Code};

use crate::error::EngineError;
use crate::index::{Slot, SlotRef};

use super::Engine;
use super::audit::Origin;

/// A credential as presented: the token's text, and for HTTP Basic the user name,
/// which must then be the token's id if it looks like one (Flashback's key + secret).
pub struct Credential<'a> {
    /// Borrowed from the request where it is sent as it is (a bearer token, an
    /// `X-API-Key`): this is read before every guarded request.
    pub secret: Cow<'a, str>,
    pub key_id: Option<String>,
}

impl std::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// The token a request was made with, as it was when the request authenticated
/// (see [`Manage`] for the token as it is when a write is made).
#[derive(Clone)]
pub struct Caller {
    pub slot: SlotRef,
    /// Where the request came from, for the audit log.
    pub origin: Origin,
}

impl Caller {
    /// `slot`'s holder, from nowhere in particular (the HTTP layer says where).
    pub fn new(slot: SlotRef) -> Self {
        Self {
            slot,
            origin: Origin::default(),
        }
    }

    pub fn id(&self) -> &str {
        self.slot.id()
    }

    pub fn is_admin(&self) -> bool {
        self.slot.is_admin()
    }
}

/// Proof that the engine's writes lock is held: every change to tokens is decided
/// under it, one at a time (and stored after it, with others: see `super::write`).
pub(super) struct Writes<'a> {
    _held: tokio::sync::MutexGuard<'a, ()>,
}

/// The right to create, edit and revoke tokens on a manager's behalf, for as long
/// as the writes lock is held. Only [`Engine::authorize`] makes one: under the
/// lock, after checking that the caller's token, as it is *now*, is neither revoked
/// nor expired and holds `tokens:manage` (the admin token holds every scope). Every
/// engine method that changes another token takes one, so no way in (API, UI,
/// adapters) can forget the check, and a caller revoked, expired or narrowed since
/// it authenticated cannot act with its old powers. A revocation, which walks only
/// the descendants that exist, cannot miss a token the caller was still creating:
/// the store refuses a child whose parent is revoked by then.
pub(super) struct Manage<'w> {
    manager: SlotRef,
    _writes: PhantomData<&'w ()>,
}

impl<'w> Manage<'w> {
    /// The manager's token, as it is now.
    pub(super) fn manager(&self) -> &SlotRef {
        &self.manager
    }

    /// The token `id`, if this manager may change it: one created through it (any,
    /// for the admin). Others are not found, as tokens that do not exist.
    pub(super) fn target(&self, engine: &Engine, id: &str) -> Result<SlotRef, EngineError> {
        engine.visible_to(&self.manager, id)
    }

    /// The right to revoke the token `id` and its descendants.
    pub(super) fn revocation(&self, engine: &Engine, id: &str) -> Result<Revoke, EngineError> {
        Ok(Revoke {
            target: self.target(engine, id)?,
        })
    }
}

/// The right to revoke one token and every token created through it, decided
/// under the writes lock: granted to a manager over its subtree
/// ([`Manage::revocation`]), or to the token's own holder, who needs no scope to
/// give it up ([`Engine::own_revocation`]: `/v1/tokens/self`, RFC 7009's
/// `/v1/revoke`). It is carried out after the lock is released, in the store's
/// next group of writes.
pub(super) struct Revoke {
    target: SlotRef,
}

impl Revoke {
    pub(super) fn target(&self) -> &SlotRef {
        &self.target
    }
}

impl Engine {
    /// Takes the writes lock.
    pub(super) async fn hold_writes(&self) -> Writes<'_> {
        Writes {
            _held: self.writes.lock().await,
        }
    }

    /// A manager's right to change tokens, checked under the writes lock (see
    /// [`Manage`]).
    pub(super) fn authorize<'w>(
        &self,
        _writes: &'w Writes<'_>,
        caller: &Caller,
    ) -> Result<Manage<'w>, EngineError> {
        let manager = self.index().current(&caller.slot);
        let standing = verify::standing(manager.powers(), manager.is_revoked(), self.now_ms());
        if standing != Code::Valid {
            return Err(EngineError::InvalidToken { code: standing });
        }
        if !self.holds(&manager, TOKENS_MANAGE) {
            return Err(EngineError::needs_scope(TOKENS_MANAGE));
        }
        Ok(Manage {
            manager,
            _writes: PhantomData,
        })
    }

    /// The right of a token's holder to revoke it and what it created.
    pub(super) fn own_revocation(&self, _writes: &Writes<'_>, token: &SlotRef) -> Revoke {
        Revoke {
            target: self.index().current(token),
        }
    }

    pub(super) fn policy(&self) -> Policy<'_> {
        Policy {
            catalogue: self.index().catalogue(),
            now_ms: self.clock.now_ms(),
            max_lifetime_ms: self.config.max_token_lifetime_ms,
            default_rate_limit: self.config.default_rate_limit.as_ref(),
            extra_profiles: &self.config.extra_profiles,
        }
    }
    /// The token `id` if `viewer` may see it: the admin sees all, any other token
    /// those created through it.
    pub(super) fn visible_to(&self, viewer: &Slot, id: &str) -> Result<SlotRef, EngineError> {
        let not_found = || EngineError::NotFound {
            what: format!("token {id:?}"),
        };
        let slot = self.index().by_id(id).ok_or_else(not_found)?;
        if viewer.is_admin() || self.index().descends_from(id, viewer.id()) {
            Ok(slot)
        } else {
            // Same answer as for a token that does not exist: ids do not leak.
            Err(not_found())
        }
    }
    /// Whether `caller` holds `tokens:manage`.
    pub fn may_manage_tokens(&self, caller: &Caller) -> bool {
        self.holds(&caller.slot, TOKENS_MANAGE)
    }
    /// Whether `caller` may see tokens: `tokens:read`, or `tokens:manage`.
    pub fn may_read_tokens(&self, caller: &Caller) -> bool {
        self.holds(&caller.slot, TOKENS_READ) || self.holds(&caller.slot, TOKENS_MANAGE)
    }
    /// Whether a token holds one of tessera's own scopes.
    pub(super) fn holds(&self, slot: &Slot, scope: &str) -> bool {
        slot.powers()
            .scopes
            .contains_all(&self.index().catalogue().own(scope))
    }
}
