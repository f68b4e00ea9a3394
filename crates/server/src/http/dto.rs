//! The JSON shapes of the native API, and their conversion to and from the core's types.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use tessera_core::record::{
    ExpiryRequest, InputError, RateLimitSetting, ScopeGrant, Status, TokenDraft, TokenRecord,
};
use tessera_core::timefmt::format_rfc3339;
use tessera_store::ListQuery;
use utoipa::{IntoParams, ToSchema};

use crate::config::rate_limit_request;
use tessera_engine::EngineError;

/// A rate limit in a request: `{"profile": NAME}` or `{"per_minute": N, "burst": M}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitBody {
    /// `burst_friendly`, `steady_stream`, `api_heavy`, `restricted`, or one from config.
    pub profile: Option<String>,
    pub per_minute: Option<u64>,
    pub burst: Option<u64>,
}

impl RateLimitBody {
    fn into_request(self) -> Result<tessera_core::record::RateLimitRequest, EngineError> {
        rate_limit_request(self.profile, self.per_minute, self.burst)
            .map_err(|detail| InputError::new("rate_limit", "invalid_rate_limit", detail).into())
    }
}

/// `POST /v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// 1 to 100 characters.
    pub name: Option<String>,
    /// Up to 1000 characters.
    pub description: Option<String>,
    /// `category:action`, `category:*` or `*`. Omitted (and no `access`): full access.
    pub scopes: Option<Vec<String>>,
    /// `READ`, `WRITE` or `ADMIN`, instead of `scopes`.
    pub access: Option<String>,
    /// `type:id` or `type:*`. Omitted: every resource.
    pub resources: Option<Vec<String>>,
    /// RFC 3339.
    pub expires_at: Option<String>,
    /// Seconds from now, instead of `expires_at`.
    pub expires_in: Option<i64>,
    pub rate_limit: Option<RateLimitBody>,
    /// The caller's user or tenant id, free-form.
    pub owner: Option<String>,
    /// A JSON object up to 4 KiB, returned on verify.
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

fn expiry(at: Option<String>, within: Option<i64>) -> Result<Option<ExpiryRequest>, EngineError> {
    match (at, within) {
        (Some(_), Some(_)) => Err(InputError::new(
            "expires_at",
            "expiry_twice",
            "give either expires_at or expires_in, not both",
        )
        .into()),
        (Some(at), None) => Ok(Some(ExpiryRequest::At(at))),
        (None, Some(seconds)) => Ok(Some(ExpiryRequest::In(seconds))),
        (None, None) => Ok(None),
    }
}

impl CreateTokenRequest {
    pub fn into_draft(self) -> Result<TokenDraft, EngineError> {
        Ok(TokenDraft {
            name: self.name,
            description: self.description,
            scopes: self.scopes,
            access: self.access,
            resources: self.resources,
            expiry: expiry(self.expires_at, self.expires_in)?,
            rate_limit: self
                .rate_limit
                .map(RateLimitBody::into_request)
                .transpose()?,
            owner: self.owner,
            meta: self.meta,
        })
    }
}

/// Tells a field given as `null` (`Some(None)`) from one left out (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// `PATCH /v1/tokens/{id}`: only the fields given change; `null` clears a field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTokenRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Replaces the scopes (and clears `access`).
    pub scopes: Option<Vec<String>>,
    /// Replaces the scopes with an access level.
    pub access: Option<String>,
    /// `null`: every resource.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub resources: Option<Option<Vec<String>>>,
    /// `null`: no limit (a manager's tokens keep the manager's).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<RateLimitBody>)]
    pub rate_limit: Option<Option<RateLimitBody>>,
    /// `null`: never expires.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub expires_at: Option<Option<String>>,
    pub expires_in: Option<i64>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub owner: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Option<Value>>,
}

impl UpdateTokenRequest {
    /// Applies the given fields to a token's current settings.
    pub fn apply(self, draft: &mut TokenDraft) -> Result<(), EngineError> {
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
                )
                .into());
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
            draft.rate_limit = limit.map(RateLimitBody::into_request).transpose()?;
        }
        match (self.expires_at, self.expires_in) {
            // `"expires_at": null` alone: never expires.
            (Some(None), None) => draft.expiry = Some(ExpiryRequest::Never),
            (at, within) => {
                let at = at.map(|a| a.unwrap_or_default());
                if let Some(requested) = expiry(at, within)? {
                    draft.expiry = Some(requested);
                }
            }
        }
        if let Some(owner) = self.owner {
            draft.owner = owner;
        }
        if let Some(meta) = self.meta {
            draft.meta = meta;
        }
        Ok(())
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitView {
    pub profile: Option<String>,
    pub per_minute: u32,
    pub burst: u32,
}

impl From<&RateLimitSetting> for RateLimitView {
    fn from(setting: &RateLimitSetting) -> Self {
        Self {
            profile: setting.profile.clone(),
            per_minute: setting.per_minute,
            burst: setting.burst,
        }
    }
}

/// A token as listings and lookups show it: never its text.
#[derive(Debug, Serialize, ToSchema)]
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
    pub owner: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
    pub created_at: String,
    pub updated_at: String,
    pub revoked_at: Option<String>,
    /// The token that created this one; `null` for the admin token.
    pub parent_id: Option<String>,
    /// The prefix and first characters, for recognition.
    pub start: String,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    pub last_used_at: Option<String>,
    pub use_count: u64,
    pub admin: bool,
}

/// Scope patterns and access level as the API shows them.
pub fn scope_fields(grant: &ScopeGrant) -> (Option<Vec<String>>, Option<String>) {
    match grant {
        ScopeGrant::Patterns(patterns) => (Some(patterns.clone()), None),
        ScopeGrant::Access(access) => (None, Some(access.as_str().to_owned())),
    }
}

impl TokenView {
    pub fn of(record: &TokenRecord, now_ms: i64) -> Self {
        let s = &record.settings;
        let (scopes, access) = scope_fields(&s.scopes);
        Self {
            id: record.id.clone(),
            name: s.name.clone(),
            description: s.description.clone(),
            scopes,
            access,
            resources: s.resources.clone(),
            rate_limit: s.rate_limit.as_ref().map(RateLimitView::from),
            expires_at: s.expires_at.map(format_rfc3339),
            owner: s.owner.clone(),
            meta: s.meta.clone(),
            created_at: format_rfc3339(record.created_at),
            updated_at: format_rfc3339(record.updated_at),
            revoked_at: record.revoked_at.map(format_rfc3339),
            parent_id: record.parent_id.clone(),
            start: record.start.clone(),
            status: record.status(now_ms).as_str().to_owned(),
            last_used_at: record.last_used_at.map(format_rfc3339),
            use_count: record.use_count,
            admin: record.is_admin,
        }
    }
}

/// The answer to a create: the only response that ever holds the token's text.
/// No `Debug`: it carries the token.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    /// The token. Shown once: store it now, it cannot be shown again.
    pub token: String,
    #[serde(flatten)]
    pub details: TokenView,
}

/// `GET /v1/tokens` query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `active`, `revoked` or `expired`.
    pub status: Option<String>,
    pub owner: Option<String>,
    /// Tokens whose resources name this one, exactly or by `type:*`.
    pub resource: Option<String>,
    /// Part of the name, case-insensitive.
    pub name: Option<String>,
    /// 1 to 100; 50 by default.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 100;

impl ListParams {
    /// The store query these parameters ask for, or what is wrong with them: the API's
    /// listing and the web UI's both go through here.
    pub fn into_query(self) -> Result<ListQuery, EngineError> {
        let bad = |code, detail: String| EngineError::BadRequest { code, detail };
        let status = self
            .status
            .map(|s| {
                Status::parse(&s).ok_or_else(|| {
                    bad(
                        "invalid_status",
                        format!("status {s:?} must be active, revoked or expired"),
                    )
                })
            })
            .transpose()?;
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(bad(
                "invalid_limit",
                format!("limit must be 1 to {MAX_PAGE}"),
            ));
        }
        let after = self
            .cursor
            .map(|c| {
                c.parse::<i64>().map_err(|_| {
                    bad(
                        "invalid_cursor",
                        "cursor must be a next_cursor from an earlier page".into(),
                    )
                })
            })
            .transpose()?;
        Ok(ListQuery {
            status,
            owner: self.owner,
            resource: self.resource,
            name: self.name,
            descendants_of: None,
            limit,
            after,
            now_ms: 0,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// `POST /v1/verify`, borrowed from the body where it can be: this is read on every
/// call. No `Debug`: it carries a token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest<'a> {
    #[serde(borrow)]
    #[schema(value_type = String)]
    pub token: Text<'a>,
    /// The resource the request touches, `type:id`.
    #[serde(borrow)]
    #[schema(value_type = Option<String>)]
    pub resource: Option<Text<'a>>,
    /// Scopes the request needs; all are required.
    #[serde(borrow)]
    #[schema(value_type = Option<Vec<String>>)]
    pub scopes: Option<Vec<Text<'a>>>,
}

/// A JSON string, borrowed from the body unless it holds escapes. (serde borrows a
/// `Cow` field only where it is the field's whole type, not inside an `Option` or
/// a `Vec`.)
pub struct Text<'a>(Cow<'a, str>);

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E>(self, text: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

/// Space-separated words, written as a JSON list without building one: the scopes
/// and resource patterns of a verify answer, as the index keeps them.
#[derive(Debug, Clone, Copy)]
pub struct Words<'a>(pub &'a str);

impl<'a> Words<'a> {
    pub fn iter(self) -> impl Iterator<Item = &'a str> {
        self.0.split(' ').filter(|word| !word.is_empty())
    }
}

impl Serialize for Words<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitState {
    pub limit: u32,
    pub remaining: u32,
    pub reset_ms: u64,
}

/// Always `200`; `valid` and `code` say the outcome. Details only when the token exists.
///
/// Borrowed from the index where it can be: this answers every `/v1/verify`. Written
/// out by hand (`verify::write_json`); a property test keeps that equal to this
/// derive's output.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse<'a> {
    pub valid: bool,
    /// `VALID`, `NOT_FOUND`, `EXPIRED`, `REVOKED`, `FORBIDDEN` or `RATE_LIMITED`.
    pub code: &'static str,
    pub token_id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub owner: Option<&'a str>,
    #[schema(value_type = Option<Object>)]
    pub meta: Option<&'a Map<String, Value>>,
    #[schema(value_type = Option<Vec<String>>)]
    pub scopes: Option<Words<'a>>,
    pub access: Option<&'static str>,
    #[schema(value_type = Option<Vec<String>>)]
    pub resources: Option<Words<'a>>,
    pub expires_at: Option<String>,
    pub rate_limit: Option<RateLimitState>,
}
