//! The token API's shapes: creating, changing, listing and showing tokens.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

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

/// `POST /v1/tokens`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
