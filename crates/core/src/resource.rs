//! Resources: the things a token may touch, written `type:id` (`repo:123e4567-…`,
//! `app:42`), or `type:*` for every resource of a type.

use std::fmt;

use compact_str::CompactString;

/// Why a resource string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "resource {text:?} is not of the form type:id or type:* (type: a-z, 0-9, '_', '-', up to 32; id: up to 200 visible characters)"
)]
pub struct ResourceError {
    pub text: String,
}

fn is_type(text: &str) -> bool {
    (1..=32).contains(&text.len())
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn is_id(text: &str) -> bool {
    (1..=200).contains(&text.len()) && text != "*" && text.bytes().all(|b| b.is_ascii_graphic())
}

/// One concrete resource, as a request names it.
///
/// Texts of up to 24 bytes (`repo:acme-00000123`) are held inline: every token
/// scoped to a resource keeps one, and a verification compares it, so it costs
/// neither an allocation nor a cache miss of its own.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Resource {
    text: CompactString,
    /// Where the type ends; types are at most 32 bytes.
    colon: u8,
}

impl Resource {
    pub fn parse(text: &str) -> Result<Self, ResourceError> {
        Self::parse_owned(CompactString::new(text))
    }

    /// [`Resource::parse`] of a text already built (a route's resource, filled in
    /// from the path), kept without copying it again.
    pub fn parse_owned(text: CompactString) -> Result<Self, ResourceError> {
        let colon = text.find(':').and_then(|colon| {
            let (kind, id) = (&text[..colon], &text[colon + 1..]);
            u8::try_from(colon)
                .ok()
                .filter(|_| is_type(kind) && is_id(id))
        });
        match colon {
            Some(colon) => Ok(Self { text, colon }),
            None => Err(ResourceError {
                text: text.into_string(),
            }),
        }
    }

    pub fn kind(&self) -> &str {
        &self.text[..usize::from(self.colon)]
    }

    pub fn id(&self) -> &str {
        &self.text[usize::from(self.colon) + 1..]
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Resource({})", self.text)
    }
}

/// Checks one pattern as a client writes it: `type:id`, or `type:*` for every
/// resource of a type.
fn check_pattern(text: &str) -> Result<(), ResourceError> {
    match text.strip_suffix(":*") {
        Some(kind) if is_type(kind) => Ok(()),
        _ => Resource::parse(text).map(drop),
    }
}

/// What one valid pattern grants: `type:*` every resource of the type, any other
/// pattern the one resource it names (an id is never `*`).
fn pattern_allows(pattern: &str, kind: &str, resource: &str) -> bool {
    match pattern.strip_suffix(":*") {
        Some(granted_kind) => granted_kind == kind,
        None => pattern == resource,
    }
}

/// True when everything pattern `theirs` allows, pattern `mine` allows too.
fn pattern_covers(mine: &str, theirs: &str) -> bool {
    match theirs.strip_suffix(":*") {
        // Only the same wildcard covers a wildcard.
        Some(kind) => mine.strip_suffix(":*") == Some(kind),
        None => {
            let kind = theirs.split_once(':').map_or(theirs, |(kind, _)| kind);
            pattern_allows(mine, kind, theirs)
        }
    }
}

/// The resources a token may touch: all of them, or those its patterns allow.
///
/// The patterns are kept as written, joined by spaces (no pattern holds one), in one
/// string held inline up to 24 bytes: the usual token is scoped to one repository or
/// app, so checking it follows no pointer. [`Resources`] is the same, borrowed, as
/// checks read it from wherever it is kept.
#[derive(Clone, Default, PartialEq, Eq, Debug)]
pub enum ResourceScope {
    /// What a token that names no resources may touch.
    #[default]
    All,
    Only(CompactString),
}

impl ResourceScope {
    /// No resource at all.
    pub fn nothing() -> Self {
        Self::Only(CompactString::default())
    }

    /// `None` (omitted) means every resource.
    pub fn parse(patterns: Option<&[String]>) -> Result<Self, ResourceError> {
        let Some(list) = patterns else {
            return Ok(Self::All);
        };
        for pattern in list {
            check_pattern(pattern)?;
        }
        Ok(Self::Only(CompactString::from(list.join(" "))))
    }

    pub fn view(&self) -> Resources<'_> {
        match self {
            Self::All => Resources::All,
            Self::Only(joined) => Resources::Only(joined),
        }
    }
}

/// A [`ResourceScope`] borrowed: all resources, or valid patterns joined by spaces.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Resources<'a> {
    All,
    Only(&'a str),
}

impl<'a> Resources<'a> {
    /// The patterns, in order; none for [`Resources::All`].
    pub fn patterns(self) -> impl Iterator<Item = &'a str> {
        let joined = match self {
            Self::All => "",
            Self::Only(joined) => joined,
        };
        joined.split(' ').filter(|p| !p.is_empty())
    }

    /// The patterns as written, space-separated; `None` for every resource.
    pub fn joined(self) -> Option<&'a str> {
        match self {
            Self::All => None,
            Self::Only(joined) => Some(joined),
        }
    }

    /// The patterns as written, in order; `None` for every resource.
    pub fn texts(self) -> Option<Vec<String>> {
        match self {
            Self::All => None,
            Self::Only(_) => Some(self.patterns().map(str::to_owned).collect()),
        }
    }

    pub fn allows(self, resource: &Resource) -> bool {
        match self {
            Self::All => true,
            Self::Only(_) => self
                .patterns()
                .any(|p| pattern_allows(p, resource.kind(), resource.as_str())),
        }
    }

    /// True when every resource `other` allows, `self` allows too.
    pub fn covers(self, other: Resources<'_>) -> bool {
        match (self, other) {
            (Self::All, _) => true,
            (Self::Only(_), Resources::All) => false,
            (Self::Only(_), Resources::Only(_)) => other
                .patterns()
                .all(|theirs| self.patterns().any(|mine| pattern_covers(mine, theirs))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scope(items: &[&str]) -> ResourceScope {
        let owned: Vec<String> = items.iter().map(|s| (*s).to_owned()).collect();
        ResourceScope::parse(Some(&owned)).unwrap()
    }

    /// True when the patterns `mine` cover every resource `theirs` allows.
    fn covers(mine: &[&str], theirs: &ResourceScope) -> bool {
        scope(mine).view().covers(theirs.view())
    }

    fn res(text: &str) -> Resource {
        Resource::parse(text).unwrap()
    }

    #[test]
    fn parses_documented_shapes() {
        let repo = res("repo:123e4567-e89b-12d3-a456-426614174000");
        assert_eq!(repo.kind(), "repo");
        assert_eq!(repo.id(), "123e4567-e89b-12d3-a456-426614174000");
        assert!(check_pattern("app:*").is_ok());
        for bad in ["repo", ":1", "repo:", "Repo:1", "repo:a b", "*", "1repo:1"] {
            assert!(check_pattern(bad).is_err(), "{bad}");
        }
        assert!(Resource::parse("repo:*").is_err());
    }

    #[test]
    fn texts_give_back_what_was_parsed() {
        let written = vec!["repo:a".to_owned(), "app:*".to_owned()];
        let parsed = ResourceScope::parse(Some(&written)).unwrap();
        assert_eq!(parsed.view().texts(), Some(written));
        assert_eq!(ResourceScope::All.view().texts(), None);
    }

    #[test]
    fn matching() {
        let granted = scope(&["repo:a", "app:*"]);
        assert!(granted.view().allows(&res("repo:a")));
        assert!(!granted.view().allows(&res("repo:b")));
        assert!(granted.view().allows(&res("app:42")));
        assert!(!granted.view().allows(&res("channel:42")));
        assert!(ResourceScope::All.view().allows(&res("channel:42")));
    }

    #[test]
    fn covering() {
        assert!(covers(&["repo:*"], &scope(&["repo:a", "repo:b"])));
        assert!(!covers(&["repo:a"], &scope(&["repo:*"])));
        assert!(!covers(&["repo:a"], &ResourceScope::All));
        assert!(ResourceScope::All.view().covers(scope(&["repo:a"]).view()));
        assert!(covers(&["repo:a"], &scope(&[])));
    }

    proptest! {
        /// If a parent covers a child, everything the child allows the parent allows.
        #[test]
        fn covering_implies_allowing(
            parent in proptest::collection::vec(0usize..8, 0..4),
            child in proptest::collection::vec(0usize..8, 0..4),
            probe in 0usize..6,
        ) {
            let patterns = ["repo:a", "repo:b", "repo:*", "app:1", "app:*", "app:2", "repo:c", "app:3"];
            let probes = ["repo:a", "repo:b", "repo:c", "app:1", "app:2", "app:9"];
            let parent_scope = scope(&parent.iter().map(|i| patterns[*i]).collect::<Vec<_>>());
            let child_scope = scope(&child.iter().map(|i| patterns[*i]).collect::<Vec<_>>());
            let probe = res(probes[probe]);
            if parent_scope.view().covers(child_scope.view()) && child_scope.view().allows(&probe) {
                prop_assert!(parent_scope.view().allows(&probe));
            }
        }
    }
}
