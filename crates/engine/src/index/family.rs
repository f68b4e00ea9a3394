//! Families: what many tokens share (the token that made them, their powers and
//! rate limit, in the same words), kept once for all of them.

use std::collections::HashSet;
use std::sync::Arc;

use compact_str::CompactString;
use parking_lot::Mutex;
use tessera_core::network::Networks;
use tessera_core::ratelimit::RateLimit;
use tessera_core::scope::{Access, ScopeSet};

/// The scopes as a token was granted them, for answers: patterns or an access level.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GrantedScopes {
    /// The patterns joined by spaces (a pattern never holds one).
    Patterns(Box<str>),
    Access(Access),
}

impl GrantedScopes {
    /// The `scopes` and `access` fields of an answer, one of them set: the patterns
    /// space-separated, or the access level.
    pub fn fields(&self) -> (Option<&str>, Option<&'static str>) {
        match self {
            Self::Patterns(joined) => (Some(joined), None),
            Self::Access(access) => (None, Some(access.as_str())),
        }
    }
}

/// What many tokens have in common: the token that made them, and the powers and
/// rate limit they were granted, in the same words. Kept once for all of them (see
/// `Families`): a deployment's tokens come in few such families, so a token pays
/// one pointer for all of it, and the scope bitset a check reads stays in cache.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Family {
    pub(super) scopes: ScopeSet,
    pub(super) rate_limit: Option<RateLimit>,
    pub(super) granted: GrantedScopes,
    /// The rate-limit profile the limit came from, if any.
    pub(super) rate_profile: Option<Box<str>>,
    pub(super) is_admin: bool,
    pub(super) parent: Option<CompactString>,
    /// How many live tokens may be made through these tokens.
    pub(super) max_descendants: Option<u32>,
    /// Where these tokens may be used from.
    pub(super) networks: Networks,
}

/// Every family in use, each kept once: usually far fewer than tokens, at worst
/// (every token made by its own parent) one each. A family no slot holds any more
/// (its tokens all edited to other powers) is swept out once the set
/// has doubled since the last sweep, so sweeping costs each insertion O(1) on average
/// and the set stays within twice the families in use.
#[derive(Default)]
pub(super) struct Families(Mutex<FamilySet>);

#[derive(Default)]
struct FamilySet {
    known: HashSet<Arc<Family>>,
    /// The size at which the next insertion sweeps first.
    sweep_at: usize,
}

impl Families {
    /// Below this, sweeping is not worth a pass.
    const LEAST_SWEEP: usize = 1024;

    pub(super) fn intern(&self, family: Family) -> Arc<Family> {
        let mut set = self.0.lock();
        if let Some(found) = set.known.get(&family) {
            return Arc::clone(found);
        }
        if set.known.len() >= set.sweep_at {
            // Only this set clones a family, under this lock: a count of 1 cannot
            // rise while the lock is held.
            set.known.retain(|known| Arc::strong_count(known) > 1);
            set.sweep_at = (set.known.len() * 2).max(Self::LEAST_SWEEP);
        }
        let shared = Arc::new(family);
        set.known.insert(Arc::clone(&shared));
        shared
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.0.lock().known.len()
    }
}
