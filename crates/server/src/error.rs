//! The one error type of the service. `http::problem` maps it to responses, in one place.

use axum::http::StatusCode;
use tessera_core::ratelimit::RateDecision;
use tessera_core::record::InputError;
use tessera_core::verify::Code;
use tessera_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
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
    #[error("the token is {}", describe(*.code))]
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
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    /// A call to tessera's own API that needs `scope`.
    pub fn needs_scope(scope: &str) -> Self {
        ServiceError::InsufficientScope {
            scope: scope.to_owned(),
            detail: format!("this call needs the scope {scope}"),
        }
    }

    /// The HTTP status of this error, for every surface (API problems, UI pages).
    pub fn status(&self) -> StatusCode {
        match self {
            ServiceError::Input(_) | ServiceError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ServiceError::MissingCredentials { .. } | ServiceError::InvalidToken { .. } => {
                StatusCode::UNAUTHORIZED
            }
            ServiceError::InsufficientScope { .. } | ServiceError::Forbidden { .. } => {
                StatusCode::FORBIDDEN
            }
            ServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
            ServiceError::Conflict { .. } => StatusCode::CONFLICT,
            ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A request refused by its token's rate limit.
    pub fn rate_limited(decision: &RateDecision) -> Self {
        ServiceError::RateLimited {
            retry_after_ms: decision.retry_after_ms,
            limit: decision.limit,
            reset_ms: decision.reset_ms,
        }
    }
}

fn describe(code: Code) -> &'static str {
    match code {
        Code::Expired => "expired",
        Code::Revoked => "revoked",
        _ => "not valid",
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(detail) => {
                tracing::error!(%detail, "store unavailable");
                ServiceError::Unavailable(
                    "the database is unavailable; nothing was changed, retry shortly".into(),
                )
            }
            StoreError::Stale(detail) => ServiceError::Conflict {
                code: "concurrent_change",
                detail: format!(
                    "{detail}; nothing was changed: retry, and the change is checked against the current state"
                ),
            },
            StoreError::Rejected(detail) => ServiceError::BadRequest {
                code: "invalid_value",
                detail,
            },
            StoreError::Revoked(detail) => ServiceError::Conflict {
                code: "token_revoked",
                detail: format!(
                    "{detail} (a moment ago, perhaps through another node); nothing was changed"
                ),
            },
            other => {
                tracing::error!(error = %other, "store failure");
                ServiceError::Internal("the store failed; nothing was changed".into())
            }
        }
    }
}
