//! What a token may do, compiled for fast checks, and the rule that no token hands out
//! more than it has.

use crate::fields::Owner;
use crate::network::Networks;
use crate::ratelimit::RateLimit;
use crate::record::Settings;
use crate::resource::{ResourceScope, Resources};
use crate::scope::{ScopeCatalogue, ScopeSet};
use crate::timefmt;
use crate::usage::{Caps, Credits, Left};

/// A token's powers in the form the hot path checks: a scope bitset, resource
/// patterns, an expiry and a rate limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    pub scopes: ScopeSet,
    pub resources: ResourceScope,
    pub expires_at: Option<i64>,
    /// Before this instant the token is not valid yet.
    pub not_before: Option<i64>,
    pub rate_limit: Option<RateLimit>,
    /// Where it may be used from.
    pub networks: Networks,
}

/// What a check reads of a token's powers, borrowed from wherever they are kept: a
/// [`Grant`], or the index's packed form of one.
#[derive(Clone, Copy, Debug)]
pub struct Powers<'a> {
    pub scopes: &'a ScopeSet,
    pub resources: Resources<'a>,
    pub expires_at: Option<i64>,
    pub not_before: Option<i64>,
    pub rate_limit: Option<RateLimit>,
    pub networks: &'a Networks,
}

impl Powers<'_> {
    /// These powers as bounds on tokens made through them, at `now_ms`: a
    /// `not_before` already past binds nothing, so a child made later is valid at
    /// once and a manager valid for a while is not held to its old date.
    #[must_use]
    pub fn bounds_at(mut self, now_ms: i64) -> Self {
        if self.not_before.is_some_and(|from| from <= now_ms) {
            self.not_before = None;
        }
        self
    }
}

/// A token tried to give another more than it has itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct Escalation {
    pub field: &'static str,
    pub detail: String,
}

impl Grant {
    pub fn powers(&self) -> Powers<'_> {
        Powers {
            scopes: &self.scopes,
            resources: self.resources.view(),
            expires_at: self.expires_at,
            not_before: self.not_before,
            rate_limit: self.rate_limit,
            networks: &self.networks,
        }
    }

    pub fn of(settings: &Settings, catalogue: &ScopeCatalogue) -> Self {
        Self {
            scopes: settings.scope_set(catalogue),
            resources: settings.resources.clone(),
            expires_at: settings.expires_at,
            not_before: settings.not_before,
            rate_limit: settings.rate_limit.as_ref().map(|s| s.limit()),
            networks: settings.allowed_cidrs.clone(),
        }
    }

    /// Everything, for ever, without limit: the admin token.
    pub fn unlimited(catalogue: &ScopeCatalogue) -> Self {
        Self {
            scopes: catalogue.everything(),
            resources: ResourceScope::All,
            expires_at: None,
            not_before: None,
            rate_limit: None,
            networks: Networks::anywhere(),
        }
    }

    /// Fills what a child's settings leave open from its parent's bounds: a token made
    /// by a manager that expires, is not valid yet, or is rate limited, never outlives,
    /// precedes or outpaces it just because the request did not say. A deployment
    /// default the request did not choose (`rate_limit_given` false) gives way to a
    /// tighter parent limit.
    pub fn inherit_bounds(settings: &mut Settings, parent: Powers<'_>, rate_limit_given: bool) {
        if settings.expires_at.is_none() {
            settings.expires_at = parent.expires_at;
        }
        if settings.not_before.is_none() {
            settings.not_before = parent.not_before;
        }
        if settings.allowed_cidrs.is_anywhere() {
            settings.allowed_cidrs = parent.networks.clone();
        }
        if let Some(limit) = parent.rate_limit {
            let too_loose = settings
                .rate_limit
                .as_ref()
                .is_none_or(|own| !own.limit().within(&limit));
            if settings.rate_limit.is_none() || (too_loose && !rate_limit_given) {
                settings.rate_limit = Some(crate::record::RateLimitSetting {
                    profile: None,
                    per_minute: limit.per_minute,
                    burst: limit.burst,
                });
            }
        }
    }
}

impl Powers<'_> {
    /// Ok when everything `self` allows, `parent` allows too.
    pub fn ensure_within(
        self,
        parent: Powers<'_>,
        catalogue: &ScopeCatalogue,
    ) -> Result<(), Escalation> {
        if !parent.scopes.contains_all(self.scopes) {
            let extra = catalogue.names_in(&self.scopes.difference(parent.scopes));
            return Err(Escalation {
                field: "scopes",
                detail: format!(
                    "you cannot grant scopes you do not have yourself: {}",
                    extra.join(", ")
                ),
            });
        }
        if !parent.resources.covers(self.resources) {
            return Err(Escalation {
                field: "resources",
                detail: "you cannot grant resources beyond your own: list only resources your token may touch".into(),
            });
        }
        if let Some(limit) = parent.expires_at
            && self.expires_at.is_none_or(|at| at > limit)
        {
            return Err(Escalation {
                field: "expires_at",
                detail: format!(
                    "the new token must expire no later than yours, {}",
                    timefmt::format_rfc3339(limit)
                ),
            });
        }
        if let Some(from) = parent.not_before
            && self.not_before.is_none_or(|own| own < from)
        {
            return Err(Escalation {
                field: "not_before",
                detail: format!(
                    "the new token may not be valid before yours, {}",
                    timefmt::format_rfc3339(from)
                ),
            });
        }
        if !parent.networks.covers(self.networks) {
            return Err(Escalation {
                field: "allowed_cidrs",
                detail: format!(
                    "the new token may be used only from within your networks: list only networks inside {}",
                    parent.networks.texts().join(", ")
                ),
            });
        }
        if let Some(limit) = parent.rate_limit
            && self.rate_limit.is_none_or(|own| !own.within(&limit))
        {
            return Err(Escalation {
                field: "rate_limit",
                detail: format!(
                    "the new token's rate limit must be within yours: at most {} per minute, burst {}",
                    limit.per_minute, limit.burst
                ),
            });
        }
        Ok(())
    }
}

/// A token made by a manager that acts for an owner (a user or tenant) acts for the
/// same owner: it takes the manager's owner, and may not claim another, since services
/// trust the owner that verification reports.
pub fn inherit_owner(owner: &mut Option<Owner>, parent: Option<&str>) -> Result<(), Escalation> {
    let Some(parent) = parent else { return Ok(()) };
    match owner {
        None => {
            // The parent's owner passed this check when it was stored; should it not
            // now, the child is refused rather than made without an owner.
            let inherited =
                Owner::parse(parent.to_owned(), "owner").map_err(|error| Escalation {
                    field: "owner",
                    detail: error.detail,
                })?;
            *owner = Some(inherited);
            Ok(())
        }
        Some(own) if own.as_str() == parent => Ok(()),
        Some(_) => Err(Escalation {
            field: "owner",
            detail: format!(
                "tokens you create act for your owner {parent:?}: leave owner out or set it to that"
            ),
        }),
    }
}

/// A token's bound on the live tokens made through it, within its maker's: a token
/// that states none takes its maker's (then `default`, if its maker has none
/// either), and one may not state more than its maker has, since everything made
/// through it counts against its maker's bound too.
pub fn inherit_quota(
    own: Option<u32>,
    parent: Option<u32>,
    default: Option<u32>,
) -> Result<Option<u32>, Escalation> {
    match (own, parent) {
        (None, parent) => Ok(parent.or(default)),
        (Some(own), Some(parent)) if own > parent => Err(Escalation {
            field: "max_descendants",
            detail: format!(
                "max_descendants {own} is more than the {parent} you may have below you: \
                 ask for at most {parent}"
            ),
        }),
        (Some(own), _) => Ok(Some(own)),
    }
}

/// Bounds a token's usage caps by what its maker has left (`parent_left`, under the
/// maker's `parent` caps), at `now_ms`: a token that states none takes what is left
/// (and the maker's refill), and one may not state more, nor a refill its maker does
/// not have. Caps an edit leaves as they were (`previous`) are not checked again:
/// the maker has spent since, and a rename must not fail for it.
pub fn inherit_caps(
    settings: &mut Settings,
    parent: &Caps,
    parent_left: Left,
    previous: Option<&Caps>,
    now_ms: i64,
) -> Result<(), Escalation> {
    if let (Some(_), Some(left)) = (parent.max_uses, parent_left.uses) {
        match settings.max_uses {
            // An edit of a token that had none keeps it so (a rename must not cap it);
            // a new token, or one whose cap an edit removes, takes what is left.
            None if previous.is_some_and(|p| p.max_uses.is_none()) => {}
            None => settings.max_uses = Some(left),
            Some(own) if own > left && previous.is_none_or(|p| p.max_uses != Some(own)) => {
                return Err(Escalation {
                    field: "max_uses",
                    detail: format!(
                        "max_uses {own} is more than the {left} uses you have left: ask for at most {left}"
                    ),
                });
            }
            Some(_) => {}
        }
    }
    if let (Some(given), Some(left)) = (parent.credits, parent_left.credits) {
        match settings.credits {
            None if previous.is_some_and(|p| p.credits.is_none()) => {}
            None => {
                settings.credits = Some(Credits {
                    remaining: left,
                    refill: given.refill,
                    set_at: now_ms,
                });
            }
            Some(own) if previous.is_none_or(|p| p.credits != Some(own)) => {
                if own.remaining > left {
                    return Err(Escalation {
                        field: "credits",
                        detail: format!(
                            "credits.remaining {} is more than the {left} credits you have left: ask for at most {left}",
                            own.remaining
                        ),
                    });
                }
                let within = match (own.refill, given.refill) {
                    (None, _) => true,
                    (Some(own), Some(theirs)) => {
                        own.every == theirs.every && own.amount <= theirs.amount
                    }
                    (Some(_), None) => false,
                };
                if !within {
                    return Err(Escalation {
                        field: "credits",
                        detail: match given.refill {
                            Some(theirs) => format!(
                                "the new token's refill must be at most yours: {} every {}",
                                theirs.amount,
                                theirs.every.as_str()
                            ),
                            None => "your credits are not refilled, so the new token's may not be: leave refill out".into(),
                        },
                    });
                }
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Whether one more token may be made through a token bounded by `quota` that has
/// `live` live tokens below it now.
pub fn quota_allows(quota: Option<u32>, live: usize) -> bool {
    quota.is_none_or(|quota| usize::try_from(quota).is_ok_and(|quota| live < quota))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_descendant_quota_is_inherited_and_only_narrowed() {
        use super::{inherit_quota, quota_allows};
        assert_eq!(inherit_quota(None, Some(9), Some(100)), Ok(Some(9)));
        assert_eq!(inherit_quota(None, None, Some(100)), Ok(Some(100)));
        assert_eq!(inherit_quota(None, None, None), Ok(None));
        assert_eq!(inherit_quota(Some(3), Some(9), None), Ok(Some(3)));
        assert_eq!(inherit_quota(Some(500), None, Some(100)), Ok(Some(500)));
        let refused = inherit_quota(Some(10), Some(9), None).unwrap_err();
        assert_eq!(refused.field, "max_descendants");
        assert!(quota_allows(None, usize::MAX));
        assert!(quota_allows(Some(3), 2));
        assert!(!quota_allows(Some(3), 3));
        assert!(!quota_allows(Some(0), 0));
    }

    use super::*;
    use crate::record::{Omitted, Policy, TokenDraft};
    use proptest::prelude::*;

    fn grant(
        catalogue: &ScopeCatalogue,
        scopes: &[&str],
        resources: Option<&[&str]>,
        expires_at: Option<i64>,
        limit: Option<(u32, u32)>,
    ) -> Grant {
        let to_vec = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let policy = Policy {
            catalogue,
            now_ms: 0,
            max_lifetime_ms: None,
            default_rate_limit: None,
            extra_profiles: &[],
        };
        let draft = TokenDraft {
            name: Some("t".into()),
            scopes: Some(to_vec(scopes)),
            resources: resources.map(to_vec),
            ..TokenDraft::default()
        };
        let mut settings = Settings::validate(draft, &policy, Omitted::Create).unwrap();
        settings.expires_at = expires_at;
        settings.rate_limit = limit.map(|(per_minute, burst)| crate::record::RateLimitSetting {
            profile: None,
            per_minute,
            burst,
        });
        Grant::of(&settings, catalogue)
    }

    #[test]
    fn caps_are_inherited_from_what_the_maker_has_left() {
        use crate::usage::{Every, Refill};
        let parent = Caps {
            max_uses: Some(100),
            credits: Some(Credits {
                remaining: 50,
                refill: Some(Refill {
                    amount: 50,
                    every: Every::Day,
                }),
                set_at: 1,
            }),
        };
        let left = Left {
            uses: Some(30),
            credits: Some(20),
        };
        let mut open = Settings::default();
        inherit_caps(&mut open, &parent, left, None, 9).unwrap();
        assert_eq!(open.max_uses, Some(30));
        assert_eq!(
            open.credits.map(|c| (c.remaining, c.refill, c.set_at)),
            Some((20, parent.credits.unwrap().refill, 9))
        );
        let asking = |max_uses, remaining, refill| Settings {
            max_uses,
            credits: Some(Credits {
                remaining,
                refill,
                set_at: 9,
            }),
            ..Settings::default()
        };
        let day = |amount| {
            Some(Refill {
                amount,
                every: Every::Day,
            })
        };
        let month = Some(Refill {
            amount: 1,
            every: Every::Month,
        });
        for (mut settings, field) in [
            (asking(Some(31), 1, None), "max_uses"),
            (asking(Some(30), 21, None), "credits"),
            (asking(None, 5, day(51)), "credits"),
            (asking(None, 5, month), "credits"),
        ] {
            assert_eq!(
                inherit_caps(&mut settings, &parent, left, None, 9)
                    .unwrap_err()
                    .field,
                field
            );
        }
        let mut fine = asking(Some(30), 20, day(50));
        assert!(inherit_caps(&mut fine, &parent, left, None, 9).is_ok());
        // An edit that leaves caps as they were is not held to what is left now.
        let mut kept = asking(Some(90), 45, None);
        let before = kept.caps();
        assert!(inherit_caps(&mut kept, &parent, left, Some(&before), 9).is_ok());
        // A rename of a token that never had caps leaves it without; removing caps
        // a token had fills them in again from what is left.
        let mut uncapped = Settings::default();
        inherit_caps(&mut uncapped, &parent, left, Some(&Caps::default()), 9).unwrap();
        assert_eq!((uncapped.max_uses, uncapped.credits), (None, None));
        let mut removed = Settings::default();
        inherit_caps(&mut removed, &parent, left, Some(&before), 9).unwrap();
        assert_eq!(removed.max_uses, Some(30));
    }

    #[test]
    fn networks_are_inherited_and_only_narrowed() {
        let c = ScopeCatalogue::default_catalogue();
        let mut parent = grant(&c, &["repo:*"], None, None, None);
        parent.networks = Networks::parse(&["10.0.0.0/8"]).unwrap();
        let mut child = Settings::default();
        Grant::inherit_bounds(&mut child, parent.powers(), false);
        assert_eq!(
            child.allowed_cidrs, parent.networks,
            "an unbound child takes its maker's"
        );
        let mut narrower = grant(&c, &["repo:read"], None, None, None);
        narrower.networks = Networks::parse(&["10.1.0.0/16"]).unwrap();
        assert!(narrower.powers().ensure_within(parent.powers(), &c).is_ok());
        for wider in [
            Networks::anywhere(),
            Networks::parse(&["192.0.2.0/24"]).unwrap(),
        ] {
            narrower.networks = wider;
            let refused = narrower
                .powers()
                .ensure_within(parent.powers(), &c)
                .unwrap_err();
            assert_eq!(refused.field, "allowed_cidrs");
        }
    }

    #[test]
    fn each_bound_is_checked() {
        let c = ScopeCatalogue::default_catalogue();
        let parent = grant(
            &c,
            &["repo:*", "tokens:manage"],
            Some(&["repo:a"]),
            Some(100),
            Some((60, 10)),
        );
        assert!(
            grant(
                &c,
                &["repo:read"],
                Some(&["repo:a"]),
                Some(100),
                Some((60, 10))
            )
            .powers()
            .ensure_within(parent.powers(), &c)
            .is_ok()
        );
        let cases = [
            (
                grant(
                    &c,
                    &["events:publish"],
                    Some(&["repo:a"]),
                    Some(50),
                    Some((1, 1)),
                ),
                "scopes",
            ),
            (
                grant(
                    &c,
                    &["repo:read"],
                    Some(&["repo:b"]),
                    Some(50),
                    Some((1, 1)),
                ),
                "resources",
            ),
            (
                grant(&c, &["repo:read"], None, Some(50), Some((1, 1))),
                "resources",
            ),
            (
                grant(
                    &c,
                    &["repo:read"],
                    Some(&["repo:a"]),
                    Some(101),
                    Some((1, 1)),
                ),
                "expires_at",
            ),
            (
                grant(&c, &["repo:read"], Some(&["repo:a"]), None, Some((1, 1))),
                "expires_at",
            ),
            (
                grant(
                    &c,
                    &["repo:read"],
                    Some(&["repo:a"]),
                    Some(50),
                    Some((61, 1)),
                ),
                "rate_limit",
            ),
            (
                grant(&c, &["repo:read"], Some(&["repo:a"]), Some(50), None),
                "rate_limit",
            ),
        ];
        for (child, field) in cases {
            assert_eq!(
                child
                    .powers()
                    .ensure_within(parent.powers(), &c)
                    .unwrap_err()
                    .field,
                field
            );
        }
    }

    #[test]
    fn unlimited_contains_everything() {
        let c = ScopeCatalogue::default_catalogue();
        let any = grant(&c, &["*"], None, None, None);
        assert!(
            any.powers()
                .ensure_within(Grant::unlimited(&c).powers(), &c)
                .is_ok()
        );
    }

    proptest! {
        /// Containment is transitive: a grandchild within its parent, within its
        /// grandparent, is within the grandparent. So no chain of hand-offs escalates.
        #[test]
        fn within_is_transitive(a in 0usize..6, b in 0usize..6, d in 0usize..6) {
            let c = ScopeCatalogue::default_catalogue();
            let options = [
                grant(&c, &["*"], None, None, None),
                grant(&c, &["repo:*"], Some(&["repo:*"]), Some(100), Some((60, 10))),
                grant(&c, &["repo:read"], Some(&["repo:a"]), Some(50), Some((30, 5))),
                grant(&c, &["repo:read", "repo:write"], Some(&["repo:a", "repo:b"]), Some(80), Some((60, 5))),
                grant(&c, &["events:*"], None, None, Some((10, 1))),
                grant(&c, &["repo:read"], Some(&["repo:b"]), Some(10), Some((1, 1))),
            ];
            let (top, mid, low) = (&options[a], &options[b], &options[d]);
            if mid.powers().ensure_within(top.powers(), &c).is_ok() && low.powers().ensure_within(mid.powers(), &c).is_ok() {
                prop_assert!(low.powers().ensure_within(top.powers(), &c).is_ok());
            }
        }
    }
}
