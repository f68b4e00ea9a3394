//! Scopes: the `category:action` permissions a token carries.
//!
//! A deployment has a finite catalogue of scopes. Whatever a token was granted (`*`,
//! `events:*`, `channels:read`, or an access level such as `WRITE`) compiles to a
//! [`ScopeSet`], a bitset over that catalogue, so that checking a request or comparing
//! two tokens is a handful of word operations whatever the spelling.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// How much a catalogue scope lets a token do; the access levels build on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Read,
    Write,
    Admin,
}

impl Level {
    /// As serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
            Level::Admin => "admin",
        }
    }
}

/// Flashback's access levels: READ grants read-level scopes, WRITE read and write,
/// ADMIN all three. None of them grants tessera's own `tokens:*` scopes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Access {
    #[serde(rename = "READ")]
    Read,
    #[serde(rename = "WRITE")]
    Write,
    #[serde(rename = "ADMIN")]
    Admin,
}

impl Access {
    pub fn highest_level(self) -> Level {
        match self {
            Access::Read => Level::Read,
            Access::Write => Level::Write,
            Access::Admin => Level::Admin,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "READ",
            Access::Write => "WRITE",
            Access::Admin => "ADMIN",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "READ" => Some(Access::Read),
            "WRITE" => Some(Access::Write),
            "ADMIN" => Some(Access::Admin),
            _ => None,
        }
    }
}

/// tessera's own scopes: granted only explicitly, by `*`, or by `tokens:*` / `metrics:*`.
pub const TOKENS_READ: &str = "tokens:read";
pub const TOKENS_VERIFY: &str = "tokens:verify";
pub const TOKENS_MANAGE: &str = "tokens:manage";
/// Reading `/metrics`, where the deployment asks for a token there.
pub const METRICS_READ: &str = "metrics:read";
const OWN_SCOPES: [&str; 4] = [TOKENS_READ, TOKENS_VERIFY, TOKENS_MANAGE, METRICS_READ];

/// One entry of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScopeDef {
    pub name: String,
    /// `None` for tessera's own scopes, which no access level grants.
    pub level: Option<Level>,
}

/// Why a scope string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("unknown scope {scope:?}")]
    Unknown { scope: String },
    #[error("scope {scope:?} is not of the form category:action, category:* or *")]
    Malformed { scope: String },
}

/// The deployment's scopes, in a fixed order that gives each its bit.
#[derive(Clone, Debug)]
pub struct ScopeCatalogue {
    defs: Vec<ScopeDef>,
    by_name: HashMap<String, usize>,
    words: usize,
}

impl ScopeCatalogue {
    /// Builds a catalogue from `(name, level)` pairs; tessera's own scopes are always
    /// added. Names must be `category:action` of `[a-z0-9_.-]`, each once.
    pub fn new(scopes: impl IntoIterator<Item = (String, Level)>) -> Result<Self, String> {
        let mut defs: Vec<ScopeDef> = Vec::new();
        for (name, level) in scopes {
            if OWN_SCOPES.contains(&name.as_str()) {
                continue;
            }
            defs.push(ScopeDef {
                name,
                level: Some(level),
            });
        }
        defs.extend(OWN_SCOPES.iter().map(|name| ScopeDef {
            name: (*name).to_owned(),
            level: None,
        }));
        let mut by_name = HashMap::new();
        for (bit, def) in defs.iter().enumerate() {
            if !is_concrete_scope(&def.name) {
                return Err(format!(
                    "catalogue scope {:?} must be category:action, each of a-z, 0-9, '_', '.', '-'",
                    def.name
                ));
            }
            if by_name.insert(def.name.clone(), bit).is_some() {
                return Err(format!("catalogue scope {:?} is listed twice", def.name));
            }
        }
        let words = defs.len().div_ceil(64);
        Ok(Self {
            defs,
            by_name,
            words,
        })
    }

    /// Every scope of the four documented systems that the default deployment serves.
    pub fn default_catalogue() -> Self {
        let read = [
            "channels:read",
            "presence:read",
            "schemas:read",
            "connections:read",
            "analytics:read",
            "app:read",
            "repo:read",
        ];
        let write = ["events:publish", "events:batch", "repo:write"];
        let admin = [
            "channels:manage",
            "webhooks:manage",
            "encryption:manage",
            "schemas:manage",
            "functions:manage",
            "connections:manage",
            "app:manage",
            "repo:admin",
        ];
        let pairs = read
            .iter()
            .map(|s| (s, Level::Read))
            .chain(write.iter().map(|s| (s, Level::Write)))
            .chain(admin.iter().map(|s| (s, Level::Admin)))
            .map(|(s, level)| ((*s).to_owned(), level));
        #[expect(
            clippy::unreachable,
            reason = "the default catalogue is a constant, tested"
        )]
        Self::new(pairs).unwrap_or_else(|e| unreachable!("the default catalogue is valid: {e}"))
    }

    pub fn defs(&self) -> &[ScopeDef] {
        &self.defs
    }

    /// The names of every scope, for error messages that list the valid ones.
    pub fn names(&self) -> Vec<&str> {
        self.defs.iter().map(|d| d.name.as_str()).collect()
    }

    pub fn empty(&self) -> ScopeSet {
        ScopeSet {
            bits: smallvec::smallvec![0; self.words],
        }
    }

    pub fn everything(&self) -> ScopeSet {
        self.matching(|_| true)
    }

    fn matching(&self, keep: impl Fn(&ScopeDef) -> bool) -> ScopeSet {
        let mut set = self.empty();
        for (bit, def) in self.defs.iter().enumerate() {
            if keep(def) {
                set.insert(bit);
            }
        }
        set
    }

    /// What an access level grants.
    pub fn for_access(&self, access: Access) -> ScopeSet {
        let highest = access.highest_level();
        self.matching(|def| def.level.is_some_and(|level| level <= highest))
    }

    /// Compiles granted scope patterns (`*`, `category:*`, `category:action`).
    pub fn compile(&self, patterns: &[String]) -> Result<ScopeSet, ScopeError> {
        let mut set = self.empty();
        for pattern in patterns {
            set.union_with(&self.compile_one(pattern)?);
        }
        Ok(set)
    }

    fn compile_one(&self, pattern: &str) -> Result<ScopeSet, ScopeError> {
        if pattern == "*" {
            return Ok(self.everything());
        }
        let Some((category, action)) = pattern.split_once(':') else {
            return Err(ScopeError::Malformed {
                scope: pattern.to_owned(),
            });
        };
        if action == "*" {
            let set =
                self.matching(|def| def.name.split_once(':').is_some_and(|(c, _)| c == category));
            return if set.is_empty() {
                Err(ScopeError::Unknown {
                    scope: pattern.to_owned(),
                })
            } else {
                Ok(set)
            };
        }
        let mut set = self.empty();
        set.insert(self.concrete_bit(pattern)?);
        Ok(set)
    }

    /// The bit of a concrete scope, `category:action`. Looked up first: every name
    /// in the catalogue is a concrete scope, so a hit needs no check, and the check
    /// runs only to say why a miss is one (this runs on every verify).
    fn concrete_bit(&self, scope: &str) -> Result<usize, ScopeError> {
        if let Some(bit) = self.by_name.get(scope) {
            return Ok(*bit);
        }
        let scope = scope.to_owned();
        Err(if is_concrete_scope(&scope) {
            ScopeError::Unknown { scope }
        } else {
            ScopeError::Malformed { scope }
        })
    }

    /// Compiles scopes a request needs; wildcards are refused there, since "needs
    /// `events:*`" would mean nothing a route can check.
    pub fn compile_required(&self, scopes: &[impl AsRef<str>]) -> Result<ScopeSet, ScopeError> {
        let mut set = self.empty();
        for scope in scopes {
            set.insert(self.concrete_bit(scope.as_ref())?);
        }
        Ok(set)
    }

    /// The single-scope set for one of tessera's own scopes.
    ///
    /// They close the catalogue, in [`OWN_SCOPES`] order (see [`ScopeCatalogue::new`]),
    /// so their bits are known without a lookup: every call to tessera's API asks.
    #[expect(
        clippy::unreachable,
        reason = "callers name one of OWN_SCOPES; an empty set would need nothing and fail open"
    )]
    pub fn own(&self, scope: &str) -> ScopeSet {
        let at = OWN_SCOPES
            .iter()
            .position(|own| *own == scope)
            .unwrap_or_else(|| unreachable!("{scope} is not one of tessera's own scopes"));
        let mut set = self.empty();
        set.insert(self.defs.len() - OWN_SCOPES.len() + at);
        set
    }

    /// The names in `set`, in catalogue order.
    pub fn names_in(&self, set: &ScopeSet) -> Vec<&str> {
        self.names_of(set).collect()
    }

    /// The names in `set`, space-separated (as OAuth's `scope` and tessera's
    /// `X-Tessera-Scopes` carry them), appended to `out` without a list in between.
    pub fn write_names(&self, set: &ScopeSet, out: &mut String) {
        for (i, name) in self.names_of(set).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(name);
        }
    }

    /// The names in `set`, space-separated, in a string of their own.
    pub fn joined_names(&self, set: &ScopeSet) -> String {
        let mut joined = String::new();
        self.write_names(set, &mut joined);
        joined
    }

    fn names_of<'a, 's>(
        &'a self,
        set: &'s ScopeSet,
    ) -> impl Iterator<Item = &'a str> + use<'a, 's> {
        self.defs
            .iter()
            .enumerate()
            .filter(|(bit, _)| set.contains_bit(*bit))
            .map(|(_, def)| def.name.as_str())
    }
}

fn is_name_part(part: &str) -> bool {
    !part.is_empty()
        && part.len() <= 64
        && part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
}

fn is_concrete_scope(scope: &str) -> bool {
    scope
        .split_once(':')
        .is_some_and(|(category, action)| is_name_part(category) && is_name_part(action))
}

/// A set of catalogue scopes as a bitset. Sets from different catalogues must not be mixed.
///
/// Up to 128 scopes the words sit inline: every token holds one, and a verification
/// reads it, so it costs neither an allocation nor a cache miss of its own.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ScopeSet {
    bits: SmallVec<[u64; 2]>,
}

impl ScopeSet {
    fn insert(&mut self, bit: usize) {
        self.bits[bit / 64] |= 1 << (bit % 64);
    }

    fn contains_bit(&self, bit: usize) -> bool {
        self.bits[bit / 64] & (1 << (bit % 64)) != 0
    }

    fn union_with(&mut self, other: &ScopeSet) {
        for (mine, theirs) in self.bits.iter_mut().zip(other.bits.iter()) {
            *mine |= theirs;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|w| *w == 0)
    }

    /// The scopes of `self` that `other` lacks.
    pub fn difference(&self, other: &ScopeSet) -> ScopeSet {
        let bits = self
            .bits
            .iter()
            .zip(other.bits.iter())
            .map(|(mine, theirs)| mine & !theirs)
            .collect();
        ScopeSet { bits }
    }

    /// True when every scope of `other` is in `self`.
    pub fn contains_all(&self, other: &ScopeSet) -> bool {
        self.bits
            .iter()
            .zip(other.bits.iter())
            .all(|(mine, theirs)| theirs & !mine == 0)
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScopeSet(")?;
        for word in self.bits.iter() {
            write!(f, "{word:016x}")?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn wildcards_expand_within_their_category() {
        let catalogue = ScopeCatalogue::default_catalogue();
        let events = catalogue.compile(&strings(&["events:*"])).unwrap();
        assert_eq!(
            catalogue.names_in(&events),
            ["events:publish", "events:batch"]
        );
        let mut joined = "scopes: ".to_owned();
        catalogue.write_names(&events, &mut joined);
        assert_eq!(joined, "scopes: events:publish events:batch");
        let everything = catalogue.compile(&strings(&["*"])).unwrap();
        assert!(everything.contains_all(&catalogue.own(TOKENS_MANAGE)));
    }

    #[test]
    fn own_scopes_are_found_without_a_lookup_in_any_catalogue() {
        let custom = ScopeCatalogue::new([
            ("a:read".to_owned(), Level::Read),
            // Listed by a deployment too: kept once, where tessera puts it.
            (TOKENS_VERIFY.to_owned(), Level::Read),
        ])
        .unwrap();
        for catalogue in [ScopeCatalogue::default_catalogue(), custom] {
            for own in OWN_SCOPES {
                assert_eq!(
                    catalogue.own(own),
                    catalogue.compile_required(&[own]).unwrap(),
                    "{own}"
                );
            }
        }
    }

    #[test]
    fn access_levels_never_grant_token_management() {
        let catalogue = ScopeCatalogue::default_catalogue();
        let admin = catalogue.for_access(Access::Admin);
        for own in OWN_SCOPES {
            assert!(!admin.contains_all(&catalogue.own(own)), "{own}");
        }
        let read = catalogue.for_access(Access::Read);
        assert!(read.contains_all(&catalogue.compile(&strings(&["repo:read"])).unwrap()));
        assert!(!read.contains_all(&catalogue.compile(&strings(&["repo:write"])).unwrap()));
        let write = catalogue.for_access(Access::Write);
        assert!(
            write.contains_all(
                &catalogue
                    .compile(&strings(&["repo:write", "repo:read"]))
                    .unwrap()
            )
        );
        assert!(!write.contains_all(&catalogue.compile(&strings(&["repo:admin"])).unwrap()));
    }

    #[test]
    fn unknown_and_malformed_scopes_are_named() {
        let catalogue = ScopeCatalogue::default_catalogue();
        assert_eq!(
            catalogue.compile(&strings(&["events:delete"])),
            Err(ScopeError::Unknown {
                scope: "events:delete".into()
            })
        );
        assert_eq!(
            catalogue.compile(&strings(&["nothing:*"])),
            Err(ScopeError::Unknown {
                scope: "nothing:*".into()
            })
        );
        assert_eq!(
            catalogue.compile(&strings(&["events"])),
            Err(ScopeError::Malformed {
                scope: "events".into()
            })
        );
        assert!(catalogue.compile_required(&strings(&["events:*"])).is_err());
        assert!(matches!(
            catalogue.compile_required(&["events:*"]),
            Err(ScopeError::Malformed { .. })
        ));
        assert!(matches!(
            catalogue.compile_required(&["nope:read"]),
            Err(ScopeError::Unknown { .. })
        ));
        assert!(matches!(
            catalogue.compile(&strings(&["Events:publish"])),
            Err(ScopeError::Malformed { .. })
        ));
    }

    #[test]
    fn catalogues_are_validated() {
        assert!(
            ScopeCatalogue::new([
                ("a:b".to_owned(), Level::Read),
                ("a:b".to_owned(), Level::Write)
            ])
            .is_err()
        );
        assert!(ScopeCatalogue::new([("A:b".to_owned(), Level::Read)]).is_err());
        // A large catalogue spans several words.
        let big = ScopeCatalogue::new((0..200).map(|i| (format!("c{}:a{i}", i % 7), Level::Read)))
            .unwrap();
        assert_eq!(big.names_in(&big.everything()).len(), 204);
    }

    proptest! {
        /// Granting a union of patterns grants each pattern, and a set contains itself.
        #[test]
        fn compile_is_a_union(picks in proptest::collection::vec(0usize..40, 0..6)) {
            let catalogue = ScopeCatalogue::default_catalogue();
            let mut patterns: Vec<String> = catalogue.names().iter().map(|s| (*s).to_owned()).collect();
            patterns.extend(["events:*", "repo:*", "tokens:*", "*"].map(String::from));
            let chosen: Vec<String> = picks.iter().map(|i| patterns[i % patterns.len()].clone()).collect();
            let all = catalogue.compile(&chosen).unwrap();
            for pattern in &chosen {
                let one = catalogue.compile(std::slice::from_ref(pattern)).unwrap();
                prop_assert!(all.contains_all(&one));
            }
            prop_assert!(all.contains_all(&all));
            prop_assert!(catalogue.everything().contains_all(&all));
            prop_assert!(all.contains_all(&catalogue.empty()));
        }
    }
}
