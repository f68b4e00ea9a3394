//! The listing query turned into the store's, and the verify call's own shapes, borrowed from the request and the index
//! because they are read and written on every guarded request.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use tessera_api::ListParams;
pub use tessera_api::{RateLimitState, UsageLeft};
use tessera_core::record::Status;
use tessera_store::ListQuery;
use utoipa::ToSchema;

use tessera_engine::EngineError;

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 100;

/// A page cursor of a listing numbered from 1 up (the audit log, a delivery log):
/// what a `next_cursor` said, or 400 `invalid_cursor`.
pub fn seq_cursor(cursor: Option<String>) -> Result<Option<i64>, EngineError> {
    cursor
        .map(|cursor| {
            cursor
                .parse::<i64>()
                .ok()
                .filter(|&seq| seq >= 0)
                .ok_or_else(|| EngineError::BadRequest {
                    code: "invalid_cursor",
                    detail: "cursor must be a next_cursor from an earlier page".into(),
                })
        })
        .transpose()
}

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
    let expiring_within_ms = params
        .expiring_within
        .map(|text| {
            tessera_core::timefmt::duration_ms(&text).ok_or_else(|| {
                bad(
                    "invalid_duration",
                    format!(
                        "expiring_within {text:?} must be a number and a unit: 90s, 15m, 12h or \
                         7d, at most 3650d"
                    ),
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
        expiring_within_ms,
        limit,
        after,
        now_ms: 0,
    })
}

/// `POST /v1/verify`, borrowed from the body where it can be: this is read on every
/// call. No `Debug`: it carries a token.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"token": "tsr_4Jq9ZbX0aLm7Yw2kTq3n8RcV1pD6sF0hG5uE_0aB3c9", "scopes": ["repo:read"], "resource": "repo:42"}))]
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
    /// The address of the end client the request comes from (`203.0.113.7`,
    /// `2001:db8::7`), for a token bound to networks (`allowed_cidrs`): a backend
    /// that verifies for its own clients passes it on. Such a token is `FORBIDDEN`
    /// without it.
    #[serde(borrow)]
    #[schema(value_type = Option<String>, example = "203.0.113.7")]
    pub client_ip: Option<Text<'a>>,
    /// The credits this request spends from a token that has them (0 spends none
    /// but still counts a use); omitted: 1.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub cost: Option<u64>,
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

/// Why a token may or may not do what it was asked: `VALID`, else the first reason
/// not, in the order they are checked.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "a schema only: the answer writes the code as text"
)]
pub enum VerifyCode {
    #[schema(rename = "VALID")]
    Valid,
    /// Unknown, malformed, or a bad checksum.
    #[schema(rename = "NOT_FOUND")]
    NotFound,
    /// A secret a rotation retired, presented after its grace period.
    #[schema(rename = "ROTATED")]
    Rotated,
    #[schema(rename = "EXPIRED")]
    Expired,
    #[schema(rename = "REVOKED")]
    Revoked,
    /// Before the token's `not_before`.
    #[schema(rename = "NOT_YET_VALID")]
    NotYetValid,
    /// It lacks a scope asked for, or may not touch the resource: see `missing`.
    #[schema(rename = "FORBIDDEN")]
    Forbidden,
    #[schema(rename = "RATE_LIMITED")]
    RateLimited,
    /// Its `max_uses` are used, or its credits cannot pay the `cost`: see `usage`.
    #[schema(rename = "USAGE_EXHAUSTED")]
    UsageExhausted,
}

/// Always `200`; `valid` and `code` say the outcome. Details only when the token exists.
// Borrowed from the index where it can be: this answers every `/v1/verify`. Written
// out by hand (`verify::write_json`); a property test keeps that equal to this
// derive's output.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifyResponse<'a> {
    pub valid: bool,
    #[schema(value_type = VerifyCode)]
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
    /// When the token expires, or when the secret presented stops working if that
    /// comes first (a rotated secret's grace end): keep no answer past it.
    pub expires_at: Option<String>,
    pub rate_limit: Option<RateLimitState>,
    /// With `FORBIDDEN` only: what the token lacks for this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Missing<'a>>,
    /// For a token with usage caps: what it has left after this request (or, with
    /// `USAGE_EXHAUSTED`, as it stands).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageLeft>,
}

/// What a `FORBIDDEN` token lacks: the scopes asked for that it does not hold, and the
/// resource asked for if it may not touch it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Missing<'a> {
    pub scopes: Vec<&'a str>,
    pub resource: Option<&'a str>,
    /// The token may not be used from the request's client (`client_ip`): outside
    /// its `allowed_cidrs`, or not given. No scope would let it through.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub network: bool,
}
