//! `POST /v1/verify`: may this token do this? Always 200; `code` says why not.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use tessera_core::verify::Code;

use crate::error::ServiceError;
use crate::http::auth::{Authed, VerifyTokens};
use crate::http::dto::{RateLimitState, VerifyRequest, VerifyResponse};
use crate::http::problem::{ApiJson, Problem};
use crate::service::{CheckOutcome, Engine};

#[utoipa::path(post, path = "/v1/verify", tag = "verify", request_body = VerifyRequest,
    responses((status = 200, body = VerifyResponse), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("token" = [])))]
pub async fn verify(
    State(engine): State<Arc<Engine>>,
    Authed(_caller, _): Authed<VerifyTokens>,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> Result<Response, ServiceError> {
    let need = engine.requirement(body.scopes.as_deref(), body.resource.as_deref())?;
    let outcome = engine.check(&body.token, &need).await;
    Ok(Json(response(&outcome)).into_response())
}

/// The verify answer for an outcome; identity details only when the token exists.
pub fn response(outcome: &CheckOutcome) -> VerifyResponse<'_> {
    let mut answer = VerifyResponse {
        valid: outcome.code == Code::Valid,
        code: outcome.code.as_str(),
        token_id: None,
        name: None,
        owner: None,
        meta: None,
        scopes: None,
        access: None,
        resources: None,
        expires_at: None,
        rate_limit: None,
    };
    if let Some(checked) = &outcome.checked {
        let slot = &checked.slot;
        let powers = slot.powers();
        let (scopes, access) = slot.granted_scopes().fields();
        answer.token_id = Some(slot.id());
        answer.name = Some(slot.name());
        answer.owner = slot.owner();
        answer.meta = slot.meta();
        answer.scopes = scopes;
        answer.access = access;
        answer.resources = powers.resources.texts();
        answer.expires_at = powers.expires_at.map(tessera_core::timefmt::format_rfc3339);
        answer.rate_limit = checked.verdict.rate.map(|rate| RateLimitState {
            limit: rate.limit,
            remaining: rate.remaining,
            // Rate limited: when the next request would pass. Otherwise: when the bucket is full.
            reset_ms: if outcome.code == Code::RateLimited {
                rate.retry_after_ms
            } else {
                rate.reset_ms
            },
        });
    }
    answer
}
