//! The verify call's shapes as a client writes and reads them, owned. The server
//! reads and writes the same fields borrowed, on its hot path, and a test there
//! reads its answers back through [`VerifyAnswer`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `POST /v1/verify`: may this token do this? No `Debug`: it carries a token.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The token the client presented.
    pub token: String,
    /// Scopes the request needs; all are required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// The resource the request touches, `type:id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The address of the end client the request comes from, for a token bound to
    /// networks (`allowed_cidrs`); such a token is `FORBIDDEN` without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// The credits this request spends from a token that has them; omitted: 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<u64>,
}

/// A token's rate limit after the request: what is left, and when it refills.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimitState {
    pub limit: u32,
    pub remaining: u32,
    pub reset_ms: u64,
}

/// The answer to a verify call: always `200`; `valid` and `code` say the outcome,
/// the details are there when the token exists.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct VerifyAnswer {
    pub valid: bool,
    /// `VALID`, `NOT_FOUND`, `EXPIRED`, `REVOKED`, `NOT_YET_VALID`, `FORBIDDEN`,
    /// `RATE_LIMITED`, `USAGE_EXHAUSTED` or `ROTATED` (a secret a rotation retired,
    /// past its grace).
    pub code: String,
    pub token_id: Option<String>,
    pub name: Option<String>,
    pub owner: Option<String>,
    pub meta: Option<Map<String, Value>>,
    pub scopes: Option<Vec<String>>,
    pub access: Option<String>,
    pub resources: Option<Vec<String>>,
    pub expires_at: Option<String>,
    pub rate_limit: Option<RateLimitState>,
    /// With `FORBIDDEN` only: what the token lacks for this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<MissingPowers>,
    /// For a token with usage caps: what it has left after this request (or, with
    /// `USAGE_EXHAUSTED`, as it stands).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageLeft>,
}

/// What a capped token has left: uses under `max_uses`, and credits.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageLeft {
    pub uses_remaining: Option<u64>,
    pub credits_remaining: Option<u64>,
}

/// What a `FORBIDDEN` token lacks: the scopes asked for that it does not hold, and the
/// resource asked for if it may not touch it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct MissingPowers {
    pub scopes: Vec<String>,
    pub resource: Option<String>,
    /// The token may not be used from this client (`client_ip`): the reason is the
    /// network, whatever the scopes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub network: bool,
}
