//! The OAuth endpoints other software already knows how to call: RFC 7662 token
//! introspection and RFC 7009 token revocation.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::auth::{Authed, VerifyTokens};
use crate::http::problem::ApiError;
use crate::http::problem::{ApiForm, Problem};
use tessera_engine::Engine;

/// The form both endpoints take.
#[derive(Deserialize, ToSchema)]
pub struct PresentedTokenForm {
    pub token: String,
    /// Accepted and ignored: tessera has one kind of token.
    #[allow(dead_code)]
    pub token_type_hint: Option<String>,
}

/// RFC 7662's answer. An unknown, expired or revoked token gets `{"active": false}`
/// and nothing else.
#[derive(Serialize, ToSchema)]
pub struct Introspection {
    pub active: bool,
    /// The scopes the token holds, space-separated, wildcards expanded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<&'static str>,
    /// Seconds since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// The owner, when the token has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The token's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
}

#[utoipa::path(post, path = "/v1/introspect", tag = "oauth",
    request_body(content = PresentedTokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = Introspection), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("token" = [])))]
pub async fn introspect(
    State(engine): State<Arc<Engine>>,
    Authed(_caller, _): Authed<VerifyTokens>,
    ApiForm(form): ApiForm<PresentedTokenForm>,
) -> Json<Introspection> {
    let inactive = Introspection {
        active: false,
        scope: None,
        token_type: None,
        exp: None,
        iat: None,
        sub: None,
        jti: None,
        name: None,
        resources: None,
    };
    let Some(token) = engine.introspect(&form.token) else {
        return Json(inactive);
    };
    let (slot, powers) = (&token.slot, token.slot.powers());
    Json(Introspection {
        active: true,
        scope: Some(engine.index().catalogue().joined_names(powers.scopes)),
        token_type: Some("bearer"),
        exp: powers.expires_at.map(|ms| ms.div_euclid(1000)),
        iat: Some(slot.created_at().div_euclid(1000)),
        sub: slot.owner().map(str::to_owned),
        jti: Some(slot.id().to_owned()),
        name: Some(slot.name().to_owned()),
        resources: powers.resources.texts(),
    })
}

#[utoipa::path(post, path = "/v1/revoke", tag = "oauth",
    request_body(content = PresentedTokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Revoked, or not a live token: the answer is the same"), (status = 400, body = Problem), (status = 409, body = Problem)))]
/// Whoever holds a token may revoke it (and the tokens made through it); holding it
/// is the proof. Always 200, so the answer tells nothing about the token.
pub async fn revoke(
    State(engine): State<Arc<Engine>>,
    ApiForm(form): ApiForm<PresentedTokenForm>,
) -> Result<StatusCode, ApiError> {
    engine.revoke_presented(&form.token).await?;
    Ok(StatusCode::OK)
}
