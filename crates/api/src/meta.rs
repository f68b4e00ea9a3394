//! What a deployment offers (`GET /v1/catalogue`) and what the OAuth endpoints
//! (RFC 7662 introspection, RFC 7009 revocation) take and answer.

use serde::{Deserialize, Serialize};

/// One scope of the deployment's catalogue.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScopeInfo {
    pub name: String,
    /// `read`, `write` or `admin`; `null` for tessera's own scopes, which no access level grants.
    pub level: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProfileInfo {
    pub name: String,
    pub per_minute: u32,
    pub burst: u32,
}

/// What this deployment offers: for forms that pick scopes and profiles, and for scripts.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Catalogue {
    pub token_prefix: String,
    pub scopes: Vec<ScopeInfo>,
    pub rate_limit_profiles: Vec<ProfileInfo>,
    /// Seconds; `null` when tokens may live for ever.
    pub max_token_lifetime: Option<i64>,
}

/// The form both OAuth endpoints take.
// No `Debug`: it carries a token.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresentedTokenForm {
    pub token: String,
    /// Accepted and ignored: tessera has one kind of token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type_hint: Option<String>,
    /// Introspection: the address of the client that presented the token. A token
    /// bound to networks (`allowed_cidrs`) is active only with one inside them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

/// RFC 7662's answer. An unknown, expired or revoked token gets `{"active": false}`
/// and nothing else.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Introspection {
    pub active: bool,
    /// The scopes the token holds, space-separated, wildcards expanded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The owner, when the token has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The token's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
}
