//! The one error type of the engine. It says what went wrong in the engine's terms;
//! the server maps it to HTTP responses and pages, in one place.

use tessera_core::ratelimit::RateDecision;
use tessera_core::record::InputError;
use tessera_core::usage::{Caps, Left};
use tessera_core::verify::Code;
use tessera_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A field of the request is wrong.
    #[error("{0}")]
    Input(#[from] InputError),
    /// The request as a whole is wrong (its body, a query parameter).
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// No credential was presented, or it was not understood.
    #[error("{detail}")]
    MissingCredentials { detail: String },
    /// The presented token is unknown, expired or revoked.
    #[error("the token is {}", .code.in_words())]
    InvalidToken { code: Code },
    /// The token is valid but lacks a scope (or the resource) this call needs.
    /// `scope` is the space-separated list for the `WWW-Authenticate` challenge.
    #[error("{detail}")]
    InsufficientScope { scope: String, detail: String },
    /// The caller may not do this (another subtree, an escalation).
    #[error("{detail}")]
    Forbidden { code: &'static str, detail: String },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("rate limit exceeded; retry in {retry_after_ms} ms")]
    RateLimited {
        retry_after_ms: u64,
        limit: u32,
        reset_ms: u64,
    },
    /// The token's `max_uses` are used, or its credits cannot pay the request.
    #[error("the token's usage is exhausted: {}", exhausted_words(.left))]
    UsageExhausted { left: Left, retry_after_ms: u64 },
    /// The client's address has failed to authenticate too often; everything it
    /// presents is refused for a while.
    #[error("too many failed authentications from this address; retry in {retry_after_ms} ms")]
    TooManyFailures { retry_after_ms: u64 },
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl EngineError {
    /// A call to tessera's own API that needs `scope`.
    pub fn needs_scope(scope: &str) -> Self {
        EngineError::InsufficientScope {
            scope: scope.to_owned(),
            detail: format!("this call needs the scope {scope}"),
        }
    }

    /// A request from outside its token's networks (`allowed_cidrs`), or from an
    /// address not known. Names the address as tessera saw it, so that an operator
    /// behind a proxy can tell when `trusted_proxies` is missing.
    pub fn outside_networks(client: Option<std::net::IpAddr>) -> Self {
        let detail = match client {
            Some(client) => format!(
                "this token may not be used from {client}: it is bound to networks                  (allowed_cidrs) that do not include this address"
            ),
            None => "this token is bound to networks (allowed_cidrs), and the client's                      address is not known: pass the end client's address in client_ip"
                .to_owned(),
        };
        EngineError::Forbidden {
            code: "network_not_allowed",
            detail,
        }
    }

    /// A request its token's caps cannot pay for, at `now_ms`. Retry after the next
    /// refill; without one, nothing changes until the token is given more (a day is
    /// said, so that clients stop retrying soon).
    pub fn usage_exhausted(caps: &Caps, left: Left, now_ms: i64) -> Self {
        let next = caps
            .next_refill_ms(now_ms)
            .unwrap_or(now_ms.saturating_add(86_400_000));
        EngineError::UsageExhausted {
            left,
            retry_after_ms: u64::try_from(next.saturating_sub(now_ms)).unwrap_or(1000),
        }
    }

    /// A request refused by its token's rate limit.
    pub fn rate_limited(decision: &RateDecision) -> Self {
        EngineError::RateLimited {
            retry_after_ms: decision.retry_after_ms,
            limit: decision.limit,
            reset_ms: decision.reset_ms,
        }
    }
}

impl From<StoreError> for EngineError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => {
                let detail = tessera_store::with_causes(cause.as_ref());
                tracing::error!(%detail, "store unavailable");
                EngineError::Unavailable(
                    "the database is unavailable; nothing was changed, retry shortly".into(),
                )
            }
            StoreError::Stale(detail) => EngineError::Conflict {
                code: "concurrent_change",
                detail: format!(
                    "{detail}; nothing was changed: retry, and the change is checked against the current state"
                ),
            },
            StoreError::Rejected(detail) => EngineError::BadRequest {
                code: "invalid_value",
                detail,
            },
            StoreError::Revoked(detail) => EngineError::Conflict {
                code: "token_revoked",
                detail: format!(
                    "{detail} (a moment ago, perhaps through another node); nothing was changed"
                ),
            },
            other => {
                let error = tessera_store::with_causes(&other);
                tracing::error!(%error, "store failure");
                EngineError::Internal("the store failed; nothing was changed".into())
            }
        }
    }
}

/// What an exhausted token has left, in words.
fn exhausted_words(left: &Left) -> String {
    match (left.uses, left.credits) {
        (Some(0), _) => "its max_uses are all used; give it a higher max_uses".into(),
        (_, Some(credits)) => format!(
            "{credits} credits left, fewer than this request costs; wait for the refill or give it credits"
        ),
        _ => "nothing left".into(),
    }
}
