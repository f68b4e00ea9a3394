//! The verification decision: given what a token has and what a request needs, is it
//! allowed? Pure, so the HTTP API, forward-auth and the benchmarks share one answer.
//!
//! Checks run in a fixed order (not found, expired, revoked, not yet valid,
//! forbidden, rate limited),
//! and only an otherwise allowed request spends rate-limit budget.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::grant::Powers;
use crate::ratelimit::{self, RateDecision, RateLimit};
use crate::resource::Resource;
use crate::scope::ScopeSet;

/// The outcome of a verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Code {
    Valid,
    NotFound,
    Expired,
    Revoked,
    /// Its `not_before` has not come yet.
    NotYetValid,
    Forbidden,
    RateLimited,
    /// A secret the token had before a rotation, presented after its grace period.
    Rotated,
    /// Its `max_uses` are used, or its credits cannot pay the request's cost.
    UsageExhausted,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Valid => "VALID",
            Code::NotFound => "NOT_FOUND",
            Code::Expired => "EXPIRED",
            Code::Revoked => "REVOKED",
            Code::NotYetValid => "NOT_YET_VALID",
            Code::Forbidden => "FORBIDDEN",
            Code::RateLimited => "RATE_LIMITED",
            Code::Rotated => "ROTATED",
            Code::UsageExhausted => "USAGE_EXHAUSTED",
        }
    }

    /// What a token refused with this code is, in words for messages.
    pub fn in_words(self) -> &'static str {
        match self {
            Code::Expired => "expired",
            Code::Revoked => "revoked",
            Code::NotYetValid => "not valid yet",
            Code::Rotated => "replaced by a rotation",
            Code::UsageExhausted => "used up",
            _ => "not valid",
        }
    }
}

/// What a request needs from the token presented with it.
#[derive(Clone, Debug)]
pub struct Requirement {
    /// Every one of these scopes; `None` needs none.
    pub scopes: Option<ScopeSet>,
    /// This resource, if the request touches one.
    pub resource: Option<Resource>,
    /// The end client's address, for a token bound to networks: where tessera's API,
    /// a proxy's forward-auth or the gateway saw it come from, or what a backend that
    /// verifies for its own clients says (`client_ip`). `None`: not known, which a
    /// token bound to networks refuses.
    pub client: Option<IpAddr>,
    /// The credits it spends from a token that has a balance (`cost`; 1 unless the
    /// caller says otherwise, 0 for a check that spends none).
    pub cost: u64,
}

/// Needs nothing, from an unknown client, for one credit.
impl Default for Requirement {
    fn default() -> Self {
        Self {
            scopes: None,
            resource: None,
            client: None,
            cost: 1,
        }
    }
}

impl Requirement {
    /// What of this requirement `powers` lack: the scopes it does not hold, and the
    /// resource if it may not touch it. Both empty when nothing is missing.
    pub fn shortfall(&self, powers: Powers<'_>) -> Shortfall<'_> {
        Shortfall {
            scopes: self
                .scopes
                .as_ref()
                .map(|needed| needed.difference(powers.scopes)),
            resource: self
                .resource
                .as_ref()
                .filter(|resource| !powers.resources.allows(resource)),
            network: !powers.networks.allows(self.client),
        }
    }
}

/// See [`Requirement::shortfall`]: what a `FORBIDDEN` answer says was missing.
#[derive(Clone, Debug)]
pub struct Shortfall<'a> {
    pub scopes: Option<ScopeSet>,
    pub resource: Option<&'a Resource>,
    /// The request comes from outside the token's networks (or from an address not
    /// known): the reason that is given first, since no scope would let it through.
    pub network: bool,
}

/// A decision, with the rate-limit state to report and the new TAT to store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub code: Code,
    pub rate: Option<RateDecision>,
    /// Set only when the request was allowed under a rate limit.
    pub next_tat: Option<u64>,
}

/// Whether a token that exists may be used at all right now: `Valid`, `Expired`,
/// `Revoked` or `NotYetValid`. Spends nothing (introspection, and requests no rule
/// lets through).
pub fn standing(powers: Powers<'_>, revoked: bool, now_ms: i64) -> Code {
    if powers.expires_at.is_some_and(|at| at <= now_ms) {
        Code::Expired
    } else if revoked {
        Code::Revoked
    } else if powers.not_before.is_some_and(|at| at > now_ms) {
        Code::NotYetValid
    } else {
        Code::Valid
    }
}

/// What a request may do before its rate limit is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Denied whatever the rate limit says.
    Refused(Code),
    /// Allowed; the token has no rate limit.
    Unlimited,
    /// Allowed if this limit has budget left.
    Limited(RateLimit),
}

/// Every check but the rate limit's, which needs the token's bucket: the index holds
/// it for a single node, Redis for a cluster.
pub fn admit(powers: Powers<'_>, revoked: bool, need: &Requirement, now_ms: i64) -> Admission {
    let standing = standing(powers, revoked, now_ms);
    if standing != Code::Valid {
        return Admission::Refused(standing);
    }
    if !powers.networks.allows(need.client) {
        return Admission::Refused(Code::Forbidden);
    }
    let scopes_ok = need
        .scopes
        .as_ref()
        .is_none_or(|needed| powers.scopes.contains_all(needed));
    let resource_ok = need
        .resource
        .as_ref()
        .is_none_or(|r| powers.resources.allows(r));
    if !scopes_ok || !resource_ok {
        return Admission::Refused(Code::Forbidden);
    }
    match powers.rate_limit {
        None => Admission::Unlimited,
        Some(limit) => Admission::Limited(limit),
    }
}

impl Verdict {
    /// The verdict for an admitted request once its rate limit has decided.
    pub fn rated(decision: RateDecision, next_tat: Option<u64>) -> Self {
        Verdict {
            code: if decision.allowed {
                Code::Valid
            } else {
                Code::RateLimited
            },
            rate: Some(decision),
            next_tat,
        }
    }
}

/// Decides a request for a token that exists. `tat` is the token's stored
/// rate-limit state (see [`ratelimit`]); `now_ms` milliseconds since the epoch.
pub fn decide(
    powers: Powers<'_>,
    revoked: bool,
    need: &Requirement,
    now_ms: i64,
    tat: u64,
) -> Verdict {
    let admission = admit(powers, revoked, need, now_ms);
    conclude(admission, powers.rate_limit, now_ms, tat)
}

/// The rate limit's step of [`decide`], for a request [`admit`] has judged:
/// separate, so that a caller retrying a compare-and-swap of `tat` reruns only this.
/// `rate_limit` is the token's, reported even on a refusal.
pub fn conclude(
    admission: Admission,
    rate_limit: Option<RateLimit>,
    now_ms: i64,
    tat: u64,
) -> Verdict {
    let now_ns = ratelimit::nanos_from_millis(now_ms);
    match admission {
        Admission::Refused(code) => Verdict {
            code,
            rate: rate_limit.map(|l| ratelimit::peek(&l, tat, now_ns)),
            next_tat: None,
        },
        Admission::Unlimited => Verdict {
            code: Code::Valid,
            rate: None,
            next_tat: None,
        },
        Admission::Limited(limit) => {
            let (decision, next_tat) = ratelimit::check(&limit, tat, now_ns);
            Verdict::rated(decision, next_tat)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::Grant;
    use crate::ratelimit::RateLimit;
    use crate::resource::ResourceScope;
    use crate::scope::ScopeCatalogue;

    fn setup() -> (ScopeCatalogue, Grant) {
        let catalogue = ScopeCatalogue::default_catalogue();
        let grant = Grant {
            scopes: catalogue.compile(&["repo:read".to_owned()]).unwrap(),
            resources: ResourceScope::parse(Some(&["repo:a".to_owned()])).unwrap(),
            expires_at: Some(10_000),
            not_before: Some(1_000),
            rate_limit: Some(RateLimit::new(60, 2).unwrap()),
            networks: crate::network::Networks::anywhere(),
        };
        (catalogue, grant)
    }

    fn need(catalogue: &ScopeCatalogue, scope: &str, resource: &str) -> Requirement {
        Requirement {
            scopes: Some(catalogue.compile_required(&[scope.to_owned()]).unwrap()),
            resource: Some(Resource::parse(resource).unwrap()),
            ..Requirement::default()
        }
    }

    #[test]
    fn a_shortfall_names_only_what_is_missing() {
        let (c, grant) = setup();
        let short = need(&c, "repo:write", "repo:b");
        let missing = short.shortfall(grant.powers());
        assert_eq!(c.names_in(&missing.scopes.unwrap()), ["repo:write"]);
        assert_eq!(missing.resource.map(Resource::as_str), Some("repo:b"));
        let enough = need(&c, "repo:read", "repo:a");
        let missing = enough.shortfall(grant.powers());
        assert!(c.names_in(&missing.scopes.unwrap()).is_empty());
        assert!(missing.resource.is_none());
    }

    #[test]
    fn a_token_bound_to_networks_refuses_other_and_unknown_clients() {
        let (c, mut grant) = setup();
        grant.networks = crate::network::Networks::parse(&["10.0.0.0/8"]).unwrap();
        let mut request = need(&c, "repo:read", "repo:a");
        let from = |text: &str| Some(text.parse::<IpAddr>().unwrap());
        request.client = from("10.9.8.7");
        assert_eq!(
            decide(grant.powers(), false, &request, 5_000, 0).code,
            Code::Valid
        );
        for client in [from("192.0.2.1"), None] {
            request.client = client;
            let verdict = decide(grant.powers(), false, &request, 5_000, 0);
            assert_eq!(verdict.code, Code::Forbidden);
            assert_eq!(verdict.next_tat, None, "a refusal spends nothing");
            let missing = request.shortfall(grant.powers());
            assert!(missing.network);
            assert!(missing.resource.is_none());
        }
        // A dead token is dead wherever it is presented from.
        assert_eq!(
            decide(grant.powers(), true, &request, 5_000, 0).code,
            Code::Revoked
        );
    }

    #[test]
    fn checks_run_in_the_documented_order() {
        let (c, grant) = setup();
        let ok = need(&c, "repo:read", "repo:a");
        assert_eq!(
            decide(grant.powers(), false, &ok, 5_000, 0).code,
            Code::Valid
        );
        // Expired wins over revoked, revoked over forbidden.
        assert_eq!(
            decide(grant.powers(), true, &ok, 10_000, 0).code,
            Code::Expired
        );
        assert_eq!(
            decide(
                grant.powers(),
                true,
                &need(&c, "repo:write", "repo:a"),
                5_000,
                0
            )
            .code,
            Code::Revoked
        );
        assert_eq!(
            decide(
                grant.powers(),
                false,
                &need(&c, "repo:write", "repo:a"),
                5_000,
                0
            )
            .code,
            Code::Forbidden
        );
        assert_eq!(
            decide(
                grant.powers(),
                false,
                &need(&c, "repo:read", "repo:b"),
                5_000,
                0
            )
            .code,
            Code::Forbidden
        );
        // Not valid yet before not_before, valid from it on; revoked still wins.
        assert_eq!(
            decide(grant.powers(), false, &ok, 999, 0).code,
            Code::NotYetValid
        );
        assert_eq!(
            decide(grant.powers(), false, &ok, 1_000, 0).code,
            Code::Valid
        );
        assert_eq!(
            decide(grant.powers(), true, &ok, 999, 0).code,
            Code::Revoked
        );
        assert_eq!(
            decide(
                grant.powers(),
                false,
                &need(&c, "repo:write", "repo:a"),
                999,
                0
            )
            .code,
            Code::NotYetValid
        );
    }

    #[test]
    fn only_allowed_requests_spend_budget() {
        let (c, grant) = setup();
        let forbidden = decide(
            grant.powers(),
            false,
            &need(&c, "repo:write", "repo:a"),
            5_000,
            0,
        );
        assert_eq!(forbidden.next_tat, None);
        let ok = need(&c, "repo:read", "repo:a");
        let first = decide(grant.powers(), false, &ok, 5_000, 0);
        let second = decide(grant.powers(), false, &ok, 5_000, first.next_tat.unwrap());
        let third = decide(grant.powers(), false, &ok, 5_000, second.next_tat.unwrap());
        assert_eq!(third.code, Code::RateLimited);
        assert_eq!(third.rate.unwrap().retry_after_ms, 1000);
    }
}
