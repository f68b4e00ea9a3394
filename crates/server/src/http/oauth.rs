//! The OAuth endpoints other software already knows how to call: RFC 7662 token
//! introspection and RFC 7009 token revocation.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use tessera_api::{Introspection, PresentedTokenForm};

use crate::http::auth::{Authed, VerifyTokens};
use crate::http::origin::RequestOrigin;
use crate::http::problem::ApiError;
use crate::http::problem::{ApiForm, Problem};
use tessera_engine::{Engine, EngineError};

#[utoipa::path(post, path = "/v1/introspect", operation_id = "introspect", tag = "oauth",
    request_body(content = PresentedTokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = Introspection), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("token" = [])))]
pub async fn introspect(
    State(engine): State<Arc<Engine>>,
    Authed(_caller, _): Authed<VerifyTokens>,
    ApiForm(form): ApiForm<PresentedTokenForm>,
) -> Result<Json<Introspection>, ApiError> {
    let client = form
        .client_ip
        .as_deref()
        .map(|text| {
            text.trim()
                .parse::<IpAddr>()
                .map_err(|_| EngineError::BadRequest {
                    code: "invalid_client_ip",
                    detail: format!(
                        "client_ip {text:?} is not an IPv4 or IPv6 address such as 203.0.113.7"
                    ),
                })
        })
        .transpose()?;
    let Some(token) = engine.introspect(&form.token) else {
        return Ok(Json(Introspection::default()));
    };
    // Active means usable by the client asking: from where it is, with something
    // left to spend. What verify would refuse whatever the scopes is not active.
    let spent = token.slot.caps().is_some_and(|cell| {
        let left = cell.left_at(engine.now_ms());
        left.uses == Some(0) || left.credits == Some(0)
    });
    if !token.slot.powers().networks.allows(client) || spent {
        return Ok(Json(Introspection::default()));
    }
    let (slot, powers) = (&token.slot, token.slot.powers());
    Ok(Json(Introspection {
        active: true,
        scope: Some(engine.index().catalogue().joined_names(powers.scopes)),
        token_type: Some("bearer".to_owned()),
        exp: powers.expires_at.map(|ms| ms.div_euclid(1000)),
        iat: Some(slot.created_at().div_euclid(1000)),
        sub: slot.owner().map(str::to_owned),
        jti: Some(slot.id().to_owned()),
        name: Some(slot.name().to_owned()),
        resources: powers.resources.texts(),
    }))
}

#[utoipa::path(post, path = "/v1/revoke", operation_id = "revoke_presented", tag = "oauth",
    request_body(content = PresentedTokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Revoked, or not a live token: the answer is the same"), (status = 400, body = Problem), (status = 409, body = Problem)))]
/// Whoever holds a token may revoke it (and the tokens made through it); holding it
/// is the proof. Always 200, so the answer tells nothing about the token.
pub async fn revoke(
    State(engine): State<Arc<Engine>>,
    RequestOrigin(origin): RequestOrigin,
    ApiForm(form): ApiForm<PresentedTokenForm>,
) -> Result<StatusCode, ApiError> {
    engine.revoke_presented(&form.token, origin).await?;
    Ok(StatusCode::OK)
}
