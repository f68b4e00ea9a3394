//! The token API's shapes (`tessera_api`) turned into the engine's types and back,
//! and the verify call's own shapes, borrowed from the request and the index
//! because they are read and written on every guarded request.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
pub use tessera_api::RateLimitState;
use tessera_api::{
    CreateTokenRequest, ListParams, RateLimitBody, RateLimitView, TokenView, UpdateTokenRequest,
};
use tessera_core::record::{
    ExpiryRequest, InputError, NotBeforeRequest, RateLimitRequest, RateLimitSetting, ScopeGrant,
    Status, TokenDraft, TokenRecord,
};
use tessera_core::timefmt::format_rfc3339;
use tessera_store::ListQuery;
use utoipa::ToSchema;

use crate::config::rate_limit_request;
use tessera_engine::EngineError;

/// The rate limit a request body asks for.
fn rate_limit_of(body: RateLimitBody) -> Result<RateLimitRequest, EngineError> {
    rate_limit_request(body.profile, body.per_minute, body.burst)
        .map_err(|detail| InputError::new("rate_limit", "invalid_rate_limit", detail).into())
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

/// The settings a create request asks for, unchecked.
pub fn draft_of(request: CreateTokenRequest) -> Result<TokenDraft, EngineError> {
    Ok(TokenDraft {
        name: request.name,
        description: request.description,
        scopes: request.scopes,
        access: request.access,
        resources: request.resources,
        expiry: expiry(request.expires_at, request.expires_in)?,
        not_before: request.not_before.map(NotBeforeRequest::At),
        rate_limit: request.rate_limit.map(rate_limit_of).transpose()?,
        owner: request.owner,
        meta: request.meta,
        max_descendants: request.max_descendants,
    })
}

/// Applies the fields an update gives to a token's current settings.
pub fn apply_update(update: UpdateTokenRequest, draft: &mut TokenDraft) -> Result<(), EngineError> {
    if let Some(name) = update.name {
        draft.name = Some(name);
    }
    if let Some(description) = update.description {
        draft.description = description;
    }
    match (update.scopes, update.access) {
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
    if let Some(resources) = update.resources {
        draft.resources = resources;
    }
    if let Some(limit) = update.rate_limit {
        draft.rate_limit = limit.map(rate_limit_of).transpose()?;
    }
    match (update.expires_at, update.expires_in) {
        // `"expires_at": null` alone: never expires.
        (Some(None), None) => draft.expiry = Some(ExpiryRequest::Never),
        (at, within) => {
            let at = at.map(|a| a.unwrap_or_default());
            if let Some(requested) = expiry(at, within)? {
                draft.expiry = Some(requested);
            }
        }
    }
    if let Some(not_before) = update.not_before {
        draft.not_before = not_before.map(NotBeforeRequest::At);
    }
    if let Some(owner) = update.owner {
        draft.owner = owner;
    }
    if let Some(meta) = update.meta {
        draft.meta = meta;
    }
    if let Some(max_descendants) = update.max_descendants {
        draft.max_descendants = max_descendants;
    }
    Ok(())
}

fn rate_limit_view(setting: &RateLimitSetting) -> RateLimitView {
    RateLimitView {
        profile: setting.profile.clone(),
        per_minute: setting.per_minute,
        burst: setting.burst,
    }
}

/// Scope patterns and access level as the API shows them.
pub fn scope_fields(grant: &ScopeGrant) -> (Option<Vec<String>>, Option<String>) {
    match grant {
        ScopeGrant::Patterns(patterns) => (Some(patterns.clone()), None),
        ScopeGrant::Access(access) => (None, Some(access.as_str().to_owned())),
    }
}

/// A token as the API shows it, at `now_ms`.
pub fn view_of(record: &TokenRecord, now_ms: i64) -> TokenView {
    let s = &record.settings;
    let (scopes, access) = scope_fields(&s.scopes);
    TokenView {
        id: record.id.clone(),
        name: s.name.to_string(),
        description: s.description.as_deref().map(str::to_owned),
        scopes,
        access,
        resources: s.resources.view().texts(),
        rate_limit: s.rate_limit.as_ref().map(rate_limit_view),
        expires_at: s.expires_at.map(format_rfc3339),
        not_before: s.not_before.map(format_rfc3339),
        owner: s.owner.as_deref().map(str::to_owned),
        meta: s.meta.clone(),
        max_descendants: s.max_descendants,
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

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 100;

/// The store query listing parameters ask for, or what is wrong with them: the
/// API's listing and the web UI's both go through here.
pub fn query_of(params: ListParams) -> Result<ListQuery, EngineError> {
    let bad = |code, detail: String| EngineError::BadRequest { code, detail };
    let status = params
        .status
        .map(|s| {
            Status::parse(&s).ok_or_else(|| {
                bad(
                    "invalid_status",
                    format!("status {s:?} must be active, pending, revoked or expired"),
                )
            })
        })
        .transpose()?;
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(bad(
            "invalid_limit",
            format!("limit must be 1 to {MAX_PAGE}"),
        ));
    }
    let after = params
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
        owner: params.owner,
        resource: params.resource,
        name: params.name,
        descendants_of: None,
        limit,
        after,
        now_ms: 0,
    })
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
    #[schema(value_type = Option<String>, pattern = "^[a-z][a-z0-9_-]{0,31}:([!-)+-~][!-~]{0,199}|[*][!-~]{1,199})$")]
    pub resource: Option<Text<'a>>,
    /// Scopes the request needs; all are required.
    #[serde(borrow)]
    #[schema(value_type = Option<Vec<RequiredScope>>)]
    pub scopes: Option<Vec<Text<'a>>>,
}

/// One scope of the deployment's catalogue, `category:action`: `/openapi.json`
/// lists them, as the running server has them ([`crate::http::contract`]).
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only: the handler reads a text")]
pub struct RequiredScope(String);

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

/// Always `200`; `valid` and `code` say the outcome. Details only when the token exists.
///
/// Borrowed from the index where it can be: this answers every `/v1/verify`. Written
/// out by hand (`verify::write_json`); a property test keeps that equal to this
/// derive's output.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse<'a> {
    pub valid: bool,
    /// `VALID`, `NOT_FOUND`, `EXPIRED`, `REVOKED`, `NOT_YET_VALID`, `FORBIDDEN` or
    /// `RATE_LIMITED`.
    pub code: &'static str,
    pub token_id: Option<&'a str>,
    pub name: Option<&'a str>,
    pub owner: Option<&'a str>,
    /// As JSON text: the index keeps it so (or the store, when it is long).
    #[schema(value_type = Option<Object>)]
    pub meta: Option<&'a RawValue>,
    #[schema(value_type = Option<Vec<String>>)]
    pub scopes: Option<Words<'a>>,
    pub access: Option<&'static str>,
    #[schema(value_type = Option<Vec<String>>)]
    pub resources: Option<Words<'a>>,
    pub expires_at: Option<String>,
    pub rate_limit: Option<RateLimitState>,
    /// With `FORBIDDEN` only: what the token lacks for this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Missing<'a>>,
}

/// What a `FORBIDDEN` token lacks: the scopes asked for that it does not hold, and the
/// resource asked for if it may not touch it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Missing<'a> {
    pub scopes: Vec<&'a str>,
    pub resource: Option<&'a str>,
}
