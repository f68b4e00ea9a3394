//! The token API's shapes: creating, changing, listing and showing tokens.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use tessera_core::record::{
    ExpiryRequest, InputError, NotBeforeRequest, RateLimitRequest, TokenDraft, TokenRecord,
};
use tessera_core::timefmt::format_rfc3339;
use tessera_core::usage::CreditsRequest;

/// A rate limit in a request: `{"profile": NAME}` or `{"per_minute": N, "burst": M}`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RateLimitBody {
    /// `burst_friendly`, `steady_stream`, `api_heavy`, `restricted`, or one from config.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(
        default,
        deserialize_with = "crate::number::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub per_minute: Option<u64>,
    #[serde(
        default,
        deserialize_with = "crate::number::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub burst: Option<u64>,
}

/// A balance of credits in a request: `{"remaining": N, "refill": {"amount": M,
/// "every": "day"}}`. Each allowed verification spends its `cost` (default 1).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreditsBody {
    /// The balance to start from.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 1_000_000_000_000_i64)
    )]
    pub remaining: u64,
    /// Set the balance back to `amount` at the start of each UTC day or month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refill: Option<RefillBody>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RefillBody {
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = u64, required = true, minimum = 0, maximum = 1_000_000_000_000_i64)
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<u64>,
    /// `day` or `month`.
    #[cfg_attr(feature = "openapi", schema(value_type = RefillEvery, required = true))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
}

/// How often credits are refilled.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "a schema only: the server reads a text")]
#[schema(rename_all = "lowercase")]
pub enum RefillEvery {
    Day,
    Month,
}

/// A token's credits as shown: what is left now, and the refill.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreditsView {
    pub remaining: u64,
    pub refill: Option<RefillView>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefillView {
    pub amount: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = RefillEvery))]
    pub every: String,
}

fn credits_request(body: CreditsBody) -> CreditsRequest {
    let refill_given = body.refill.is_some();
    let refill = body.refill.unwrap_or_default();
    CreditsRequest::Set {
        remaining: body.remaining,
        refill_amount: refill.amount,
        refill_every: refill.every,
        refill_given,
    }
}

/// `POST /v1/tokens`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "name": "ci-deploy", "scopes": ["repo:read", "repo:write"], "resources": ["repo:42"],
    "expires_in": 3600, "rate_limit": {"profile": "steady_stream"}, "owner": "user_81",
    "meta": {"team": "platform"}})))]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// 1 to 100 characters.
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = TokenNameText, required = true)
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Up to 1000 characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `category:action`, `category:*` or `*`. Omitted (and no `access`): full access.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<ScopePattern>>))]
    pub scopes: Option<Vec<String>>,
    /// `READ`, `WRITE` or `ADMIN`, instead of `scopes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    /// `type:id` or `type:*`. Omitted: every resource.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<ResourcePattern>>))]
    pub resources: Option<Vec<String>>,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// Seconds from now, instead of `expires_at`.
    #[serde(
        default,
        deserialize_with = "crate::number::optional",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3_153_600_000_i64))]
    pub expires_in: Option<i64>,
    /// RFC 3339: before this, the token is not valid yet (`NOT_YET_VALID`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitBody>,
    /// The caller's user or tenant id, free-form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// A JSON object up to 4 KiB, returned on verify.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Value>,
    /// How many live tokens may be made through this one (its children and
    /// theirs). Omitted: its maker's bound, or the deployment's default.
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 1_000_000_000))]
    #[serde(
        default,
        deserialize_with = "crate::number::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_descendants: Option<u32>,
    /// CIDRs (`203.0.113.0/24`, `2001:db8::/32`) or addresses the token may be used
    /// from, at most 64; a request from elsewhere is `FORBIDDEN`. Omitted or empty:
    /// anywhere (for a token made by one bound to networks, its maker's networks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_items = 64))]
    pub allowed_cidrs: Option<Vec<String>>,
    /// At most this many allowed verifications in the token's life; then
    /// `USAGE_EXHAUSTED`. Omitted: none (for a token made by a capped manager, what
    /// the manager has left).
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 1_000_000_000_000_i64)
    )]
    #[serde(
        default,
        deserialize_with = "crate::number::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_uses: Option<u64>,
    /// A balance each allowed verification spends its `cost` from; then
    /// `USAGE_EXHAUSTED`. Omitted: none (for a token made by a manager with credits,
    /// what the manager has left).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<CreditsBody>,
}

/// A scope pattern a token may be granted: a scope of the deployment's catalogue,
/// `category:*` or `*`. `/openapi.json` lists them, as the running server has them.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "a schema only: the server reads a text")]
pub struct ScopePattern(String);

/// A resource a token may touch: `type:id` or `type:*` (type: a-z, 0-9, `_`, `-`,
/// up to 32, starting with a letter; id: 1 to 200 visible ASCII characters).
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(pattern = "^[a-z][a-z0-9_-]{0,31}:[!-~]{1,200}$")]
#[allow(dead_code, reason = "a schema only: the server reads a text")]
pub struct ResourcePattern(String);

/// A token's name as the server takes it: 1 to 100 characters, not blank, no
/// control characters.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(
    pattern = "^(?=.{1,100}$)[^\\x00-\\x1f\\x7f-\\x9f]*[^\\s\\x00-\\x1f\\x7f-\\x9f][^\\x00-\\x1f\\x7f-\\x9f]*$"
)]
#[allow(dead_code, reason = "a schema only: the server reads a text")]
pub struct TokenNameText(String);

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `PATCH /v1/tokens/{id}`: only the fields given change; `null` clears a field.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "name": "ci-deploy-2", "scopes": ["repo:read"], "expires_in": 86400})))]
#[serde(deny_unknown_fields)]
pub struct UpdateTokenRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<TokenNameText>)
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub description: Option<Option<String>>,
    /// Replaces the scopes (and clears `access`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<ScopePattern>>))]
    pub scopes: Option<Vec<String>>,
    /// Replaces the scopes with an access level.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    /// `null`: every resource.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<ResourcePattern>>))]
    pub resources: Option<Option<Vec<String>>>,
    /// `null`: no limit (a manager's tokens keep the manager's).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<RateLimitBody>))]
    pub rate_limit: Option<Option<RateLimitBody>>,
    /// `null`: never expires.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub expires_at: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "crate::number::optional",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3_153_600_000_i64))]
    pub expires_in: Option<i64>,
    /// `null`: valid at once.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub not_before: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub owner: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub meta: Option<Option<Value>>,
    /// `null`: no bound of its own (its maker's still holds).
    #[serde(
        default,
        deserialize_with = "crate::number::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<u32>, minimum = 0, maximum = 1_000_000_000)
    )]
    pub max_descendants: Option<Option<u32>>,
    /// The networks the token may be used from; `[]`: anywhere. Within its maker's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_items = 64))]
    pub allowed_cidrs: Option<Vec<String>>,
    /// `null`: no cap. The uses so far still count.
    #[serde(
        default,
        deserialize_with = "crate::number::present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<u64>, minimum = 0, maximum = 1_000_000_000_000_i64)
    )]
    pub max_uses: Option<Option<u64>>,
    /// A new balance (even the same number starts again from it); `null`: none.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<CreditsBody>))]
    pub credits: Option<Option<CreditsBody>>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimitView {
    pub profile: Option<String>,
    pub per_minute: u32,
    pub burst: u32,
}

/// A token as listings and lookups show it: never its text.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenView {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Granted scope patterns; `null` when the token is granted an `access` level.
    pub scopes: Option<Vec<String>>,
    pub access: Option<String>,
    /// `null`: every resource.
    pub resources: Option<Vec<String>>,
    pub rate_limit: Option<RateLimitView>,
    pub expires_at: Option<String>,
    /// Before this, the token is not valid yet; `null`: valid from its creation.
    pub not_before: Option<String>,
    pub owner: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub meta: Option<Map<String, Value>>,
    /// How many live tokens may be made through this one; `null`: no bound of its own.
    #[serde(default)]
    pub max_descendants: Option<u32>,
    /// The networks it may be used from; empty: anywhere.
    #[serde(default)]
    pub allowed_cidrs: Vec<String>,
    /// Its lifetime cap on uses; `null`: none.
    #[serde(default)]
    pub max_uses: Option<u64>,
    /// The uses left under `max_uses`.
    #[serde(default)]
    pub uses_remaining: Option<u64>,
    /// Its credits, with what is left now; `null`: none.
    #[serde(default)]
    pub credits: Option<CreditsView>,
    pub created_at: String,
    pub updated_at: String,
    pub revoked_at: Option<String>,
    /// The token that created this one; `null` for the admin token.
    pub parent_id: Option<String>,
    /// The prefix and first characters, for recognition.
    pub start: String,
    /// `active`, `pending` (not valid yet), `expired` or `revoked`.
    pub status: String,
    pub last_used_at: Option<String>,
    /// Where it was last used from: the end client's address of its first use in
    /// the newest second it was used (`trusted_proxies` decides which address
    /// counts; a verify call passes it as `client_ip`); `null` when never known.
    #[serde(default)]
    pub last_used_ip: Option<String>,
    pub use_count: u64,
    pub admin: bool,
}

/// The answer to a create: the only response that ever holds the token's text.
/// No `Debug`: it carries the token.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedToken {
    /// The token. Shown once: store it now, it cannot be shown again.
    pub token: String,
    #[serde(flatten)]
    pub details: TokenView,
}

/// `POST /v1/tokens/{id}/rotate` and `POST /v1/tokens/self/rotate`: a new secret for
/// the same token. The answer is shaped as a creation's, the new secret in `token`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"grace_seconds": 3600})))]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// How long the previous secret keeps working: 0 (the default) to 604800 (7 days).
    /// Presented after that, it answers `ROTATED`, and the token may be revoked as
    /// stolen (`on_rotated_reuse`).
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 604_800))]
    #[serde(
        default,
        deserialize_with = "crate::number::optional",
        skip_serializing_if = "Option::is_none"
    )]
    pub grace_seconds: Option<i64>,
}

impl RotateRequest {
    /// The grace period in milliseconds, checked.
    pub fn grace_ms(&self) -> Result<i64, InputError> {
        tessera_core::record::grace_ms(self.grace_seconds)
    }
}

/// `GET /v1/tokens` query.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListParams {
    /// `active`, `pending` (not valid yet), `revoked` or `expired`.
    #[cfg_attr(
        feature = "openapi",
        param(pattern = "^(active|pending|revoked|expired)$")
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Tokens whose resources name this one, exactly or by `type:*`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Part of the name, case-insensitive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Only live tokens that expire within this long from now: `90s`, `15m`, `12h`,
    /// `7d` (at most 3650 days). What is about to stop working, to renew in time.
    #[cfg_attr(feature = "openapi", param(pattern = "^[0-9]{1,7}[smhd]$"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiring_within: Option<String>,
    /// 1 to 100; 50 by default.
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(pattern = "^-?[0-9]{1,18}$"))]
    pub cursor: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

// Into the engine's terms and back. Here, beside the fields, so that a new field
// is written once in this file: its wire shape and its mapping.

/// The rate limit a request body asks for: a profile name, or per_minute and burst.
fn rate_limit_request(body: RateLimitBody) -> Result<RateLimitRequest, InputError> {
    match (body.profile, body.per_minute, body.burst) {
        (Some(profile), None, None) => Ok(RateLimitRequest::Profile(profile)),
        (None, Some(per_minute), Some(burst)) => Ok(RateLimitRequest::Custom { per_minute, burst }),
        _ => Err(InputError::new(
            "rate_limit",
            "invalid_rate_limit",
            "rate_limit must be {\"profile\": NAME} or {\"per_minute\": N, \"burst\": M}",
        )),
    }
}

fn expiry(at: Option<String>, within: Option<i64>) -> Result<Option<ExpiryRequest>, InputError> {
    match (at, within) {
        (Some(_), Some(_)) => Err(InputError::new(
            "expires_at",
            "expiry_twice",
            "give either expires_at or expires_in, not both",
        )),
        (Some(at), None) => Ok(Some(ExpiryRequest::At(at))),
        (None, Some(seconds)) => Ok(Some(ExpiryRequest::In(seconds))),
        (None, None) => Ok(None),
    }
}

impl CreateTokenRequest {
    /// The settings this request asks for, unchecked: `Settings::validate` checks them.
    pub fn into_draft(self) -> Result<TokenDraft, InputError> {
        Ok(TokenDraft {
            name: self.name,
            description: self.description,
            scopes: self.scopes,
            access: self.access,
            resources: self.resources,
            expiry: expiry(self.expires_at, self.expires_in)?,
            not_before: self.not_before.map(NotBeforeRequest::At),
            rate_limit: self.rate_limit.map(rate_limit_request).transpose()?,
            owner: self.owner,
            meta: self.meta,
            max_descendants: self.max_descendants,
            allowed_cidrs: self.allowed_cidrs,
            max_uses: self.max_uses,
            credits: self.credits.map(credits_request),
        })
    }
}

impl UpdateTokenRequest {
    /// Applies the fields this update gives to a token's current settings.
    pub fn apply_to(self, draft: &mut TokenDraft) -> Result<(), InputError> {
        if let Some(name) = self.name {
            draft.name = Some(name);
        }
        if let Some(description) = self.description {
            draft.description = description;
        }
        match (self.scopes, self.access) {
            (Some(_), Some(_)) => {
                return Err(InputError::new(
                    "scopes",
                    "scopes_and_access",
                    "give either scopes or access, not both",
                ));
            }
            (Some(scopes), None) => {
                draft.scopes = Some(scopes);
                draft.access = None;
            }
            (None, Some(access)) => {
                draft.access = Some(access);
                draft.scopes = None;
            }
            (None, None) => {}
        }
        if let Some(resources) = self.resources {
            draft.resources = resources;
        }
        if let Some(limit) = self.rate_limit {
            draft.rate_limit = limit.map(rate_limit_request).transpose()?;
        }
        match (self.expires_at, self.expires_in) {
            // `"expires_at": null` alone: never expires.
            (Some(None), None) => draft.expiry = Some(ExpiryRequest::Never),
            (at, within) => {
                let at = at.map(Option::unwrap_or_default);
                if let Some(requested) = expiry(at, within)? {
                    draft.expiry = Some(requested);
                }
            }
        }
        if let Some(not_before) = self.not_before {
            draft.not_before = not_before.map(NotBeforeRequest::At);
        }
        if let Some(owner) = self.owner {
            draft.owner = owner;
        }
        if let Some(meta) = self.meta {
            draft.meta = meta;
        }
        if let Some(max_descendants) = self.max_descendants {
            draft.max_descendants = max_descendants;
        }
        if let Some(networks) = self.allowed_cidrs {
            draft.allowed_cidrs = Some(networks);
        }
        if let Some(max_uses) = self.max_uses {
            draft.max_uses = max_uses;
        }
        if let Some(credits) = self.credits {
            draft.credits = credits.map(credits_request);
        }
        Ok(())
    }
}

impl TokenView {
    /// A token as the API shows it, at `now_ms`.
    pub fn of(record: &TokenRecord, now_ms: i64) -> Self {
        let s = &record.settings;
        let (scopes, access) = s.scopes.as_fields();
        let caps = s.caps();
        let left = record.balance().at(&caps, now_ms).left(&caps);
        TokenView {
            id: record.id.clone(),
            name: s.name.to_string(),
            description: s.description.as_deref().map(str::to_owned),
            scopes,
            access,
            resources: s.resources.view().texts(),
            rate_limit: s.rate_limit.as_ref().map(|limit| RateLimitView {
                profile: limit.profile.clone(),
                per_minute: limit.per_minute,
                burst: limit.burst,
            }),
            expires_at: s.expires_at.map(format_rfc3339),
            not_before: s.not_before.map(format_rfc3339),
            owner: s.owner.as_deref().map(str::to_owned),
            meta: s.meta.clone(),
            max_descendants: s.max_descendants,
            allowed_cidrs: s.allowed_cidrs.texts(),
            max_uses: s.max_uses,
            uses_remaining: left.uses,
            credits: s.credits.map(|credits| CreditsView {
                remaining: left.credits.unwrap_or_default(),
                refill: credits.refill.map(|refill| RefillView {
                    amount: refill.amount,
                    every: refill.every.as_str().to_owned(),
                }),
            }),
            created_at: format_rfc3339(record.created_at),
            updated_at: format_rfc3339(record.updated_at),
            revoked_at: record.revoked_at.map(format_rfc3339),
            parent_id: record.parent_id.clone(),
            start: record.start.clone(),
            status: record.status(now_ms).as_str().to_owned(),
            last_used_at: record.last_used_at.map(format_rfc3339),
            last_used_ip: record.last_used_ip.map(|ip| ip.to_string()),
            use_count: record.use_count,
            admin: record.is_admin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_writes_only_what_it_changes_and_null_for_what_it_clears() {
        let update = UpdateTokenRequest {
            name: Some("renamed".into()),
            expires_at: Some(None),
            ..UpdateTokenRequest::default()
        };
        let json = serde_json::to_value(&update).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"name": "renamed", "expires_at": null})
        );
        let read: UpdateTokenRequest = serde_json::from_value(json).unwrap();
        assert_eq!(read, update);
    }

    #[test]
    fn a_create_request_round_trips_and_refuses_unknown_fields() {
        let create = CreateTokenRequest {
            name: Some("ci".into()),
            scopes: Some(vec!["repo:read".into()]),
            rate_limit: Some(RateLimitBody {
                profile: Some("restricted".into()),
                ..RateLimitBody::default()
            }),
            ..CreateTokenRequest::default()
        };
        let json = serde_json::to_string(&create).unwrap();
        assert_eq!(
            json,
            r#"{"name":"ci","scopes":["repo:read"],"rate_limit":{"profile":"restricted"}}"#
        );
        assert_eq!(
            serde_json::from_str::<CreateTokenRequest>(&json).unwrap(),
            create
        );
        assert!(serde_json::from_str::<CreateTokenRequest>(r#"{"nmae":"ci"}"#).is_err());
    }
}
