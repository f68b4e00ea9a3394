//! Guarding another API: may this request (method, URI, credential) pass? One
//! decision for every way tessera guards (forward-auth for proxies, the gateway), so
//! they cannot drift apart. The route rules say what a request needs; the index says
//! whether the token has it.

use tessera_core::ratelimit::{RateDecision, RateLimit};
use tessera_core::route::{RequestTarget, Resolution, Unmatched};
use tessera_core::usage::Left;
use tessera_core::verify::{self, Code, Requirement};

use std::net::IpAddr;

use crate::error::EngineError;
use crate::index::Checked;
use crate::lifecycle::Caller;
use crate::lifecycle::{Credential, Engine};

/// The rate limit a decision was made under, for the `RateLimit*` response fields.
pub struct RateReport {
    /// The profile's name, or `token` for a limit set on the token itself.
    pub policy: String,
    pub limit: RateLimit,
    pub decision: RateDecision,
}

/// A request that may pass.
pub struct Allowed {
    /// The token it was made with; `None` on a public route.
    pub identity: Option<Caller>,
    pub rate: Option<RateReport>,
    /// The rule lets a POST carry `_method` (public routes all do: nothing is
    /// guarded there for another method to slip past).
    pub method_override: bool,
    /// What a capped token has left after this request.
    pub left: Option<Left>,
}

/// A request that may not pass, and why.
pub struct Denied {
    pub error: EngineError,
    pub rate: Option<Box<RateReport>>,
}

impl From<EngineError> for Denied {
    fn from(error: EngineError) -> Self {
        Self { error, rate: None }
    }
}

impl Engine {
    /// Decides a guarded request. `credential` is what the request presented, or why
    /// it presented none that could be read. Fails closed: a target that is not in
    /// plain form, a route whose resource cannot be filled in, and a request no rule
    /// matches (unless configured otherwise) are all refused.
    pub async fn guard(
        &self,
        method: &str,
        uri: &str,
        credential: Result<Credential<'_>, EngineError>,
        client: IpAddr,
    ) -> Result<Allowed, Denied> {
        self.refuse_failing(client)?;
        let decided = self.guard_now(method, uri, credential, client).await;
        self.count_failure(client, decided.as_ref().err().map(|denied| &denied.error));
        decided
    }

    async fn guard_now(
        &self,
        method: &str,
        uri: &str,
        credential: Result<Credential<'_>, EngineError>,
        client: IpAddr,
    ) -> Result<Allowed, Denied> {
        // The target lives in this block only: held across the check's `await`, it
        // would be moved with every guarded request's future.
        let resolution = {
            let target = RequestTarget::parse(method, uri).map_err(|e| EngineError::Forbidden {
                code: "rejected_target",
                detail: format!("{e}; send the request in its plain form"),
            })?;
            self.config().routes.resolve(&target)
        };
        if let Resolution::Public(_) = resolution {
            return Ok(Allowed {
                identity: None,
                rate: None,
                method_override: true,
                left: None,
            });
        }
        let credential = credential?;
        let slot = self
            .lookup(&credential.secret, credential.key_id.as_deref())
            .map_err(|code| EngineError::InvalidToken { code })?;
        let (route, mut need) = match resolution {
            Resolution::Needs(route, need) => (Some(route), need),
            Resolution::Unmatched(Unmatched::AnyValidToken) => (None, Requirement::default()),
            refused => {
                // Nothing this token could hold lets the request through; tell a
                // dead token so, and a live one why.
                let standing = verify::standing(slot.powers(), slot.is_revoked(), self.now_ms());
                if standing != Code::Valid {
                    return Err(EngineError::InvalidToken { code: standing }.into());
                }
                return Err(match refused {
                    Resolution::BadResource(route) => EngineError::Forbidden {
                        code: "invalid_resource",
                        detail: format!(
                            "{} matched, but the path does not name a valid resource",
                            route.label
                        ),
                    },
                    _ => EngineError::Forbidden {
                        code: "no_route",
                        detail: "no route rule matches this request, and unmatched requests are denied; add a [[route]] for it".into(),
                    },
                }
                .into());
            }
        };
        need.client = Some(client);
        let checked = self.check_slot(slot, &need).await;
        let rate = rate_report(&checked);
        let error = match (checked.verdict.code, checked.verdict.rate) {
            (Code::Valid, _) => {
                return Ok(Allowed {
                    left: checked.left,
                    identity: Some(Caller::new(checked.slot)),
                    rate,
                    method_override: route.is_some_and(|route| route.allows_method_override()),
                });
            }
            (Code::Forbidden, _) if need.shortfall(checked.slot.powers()).network => {
                EngineError::outside_networks(need.client)
            }
            (Code::Forbidden, _) => {
                let catalogue = self.index().catalogue();
                let scopes = need
                    .scopes
                    .as_ref()
                    .map(|set| catalogue.joined_names(set))
                    .unwrap_or_default();
                let label = route.map_or("this request", |r| r.label.as_str());
                let mut wanted = Vec::new();
                if !scopes.is_empty() {
                    wanted.push(format!("the scopes [{scopes}]"));
                }
                if let Some(resource) = &need.resource {
                    // The type only: the id comes from the path, which is not echoed.
                    wanted.push(format!("access to the {} this path names", resource.kind()));
                }
                EngineError::InsufficientScope {
                    detail: format!("{label} needs {}", wanted.join(" and ")),
                    scope: scopes,
                }
            }
            (Code::RateLimited, Some(rate)) => EngineError::rate_limited(&rate),
            (Code::UsageExhausted, _) => self.exhausted(&checked),
            (code, _) => EngineError::InvalidToken { code },
        };
        Err(Denied {
            error,
            rate: rate.map(Box::new),
        })
    }
}

impl Engine {
    /// The refusal of a request its token's caps cannot pay for.
    pub(crate) fn exhausted(&self, checked: &Checked) -> EngineError {
        let caps = checked
            .slot
            .caps()
            .map(|cell| *cell.caps())
            .unwrap_or_default();
        EngineError::usage_exhausted(&caps, checked.left.unwrap_or_default(), self.now_ms())
    }
}

fn rate_report(checked: &Checked) -> Option<RateReport> {
    let limit = checked.slot.rate_limit()?;
    let decision = checked.verdict.rate?;
    let policy = checked.slot.rate_profile().unwrap_or("token").to_owned();
    Some(RateReport {
        policy,
        limit,
        decision,
    })
}
