//! Who may do what: the caller a request authenticated as, and the rules that bound
//! what it may see and change.

use std::borrow::Cow;

use tessera_core::record::Policy;
use tessera_core::scope::{TOKENS_MANAGE, TOKENS_READ};
use tessera_core::verify::{self, Code};

use crate::error::EngineError;
use crate::index::{Slot, SlotRef};

use super::Engine;

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
/// (see `Engine::current_manager` for the token as it is now).
#[derive(Clone)]
pub struct Caller {
    pub slot: SlotRef,
}

impl Caller {
    pub fn id(&self) -> &str {
        self.slot.id()
    }

    pub fn is_admin(&self) -> bool {
        self.slot.is_admin()
    }
}

impl Engine {
    pub(super) fn policy(&self) -> Policy<'_> {
        Policy {
            catalogue: self.index().catalogue(),
            now_ms: self.clock.now_ms(),
            max_lifetime_ms: self.config.max_token_lifetime_ms,
            default_rate_limit: self.config.default_rate_limit.as_ref(),
            extra_profiles: &self.config.extra_profiles,
        }
    }
    /// The caller as it is *now*, read under the write lock: still valid and still a
    /// manager. A caller revoked, expired or narrowed since it authenticated cannot act
    /// with its old powers (and a revocation, which walks only the descendants that
    /// exist, cannot miss a token it was still creating).
    pub(super) fn current_manager(&self, caller: &Caller) -> Result<SlotRef, EngineError> {
        let slot = self.index().current(&caller.slot);
        let standing = verify::standing(slot.powers(), slot.is_revoked(), self.clock.now_ms());
        if standing != Code::Valid {
            return Err(EngineError::InvalidToken { code: standing });
        }
        if !self.holds(&slot, TOKENS_MANAGE) {
            return Err(EngineError::needs_scope(TOKENS_MANAGE));
        }
        Ok(slot)
    }
    /// The token `id` if the caller may see it: the admin sees all, a manager its subtree.
    pub(super) fn visible(&self, caller: &Caller, id: &str) -> Result<SlotRef, EngineError> {
        let not_found = || EngineError::NotFound {
            what: format!("token {id:?}"),
        };
        let slot = self.index().by_id(id).ok_or_else(not_found)?;
        if caller.is_admin() || self.index().descends_from(id, caller.id()) {
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
