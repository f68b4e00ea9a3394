//! `POST /v1/verify`: may this token do this? Always 200; `code` says why not.

use std::sync::Arc;

use axum::BoxError;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tessera_core::scope::TOKENS_VERIFY;
use tessera_core::verify::Code;

use crate::http::auth;
use crate::http::dto::{RateLimitState, VerifyRequest, VerifyResponse, Words};
use crate::http::problem::{self, Problem};
use crate::service::{CheckOutcome, Engine};

#[utoipa::path(post, path = "/v1/verify", tag = "verify", request_body = VerifyRequest,
    responses((status = 200, body = VerifyResponse), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("token" = [])))]
pub async fn verify(State(engine): State<Arc<Engine>>, request: Request) -> Response {
    answer(&engine, request).await
}

/// The answer to a verify call; [`crate::http::front`] calls it directly, with
/// hyper's body, and the router through [`verify`]. Plain code rather than axum
/// extractors: this runs on every request of the API tessera guards, and the
/// extractors' boxing and layering cost about as much as the two token checks.
pub async fn answer<B>(engine: &Engine, call: axum::http::Request<B>) -> Response
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let (parts, body) = call.into_parts();
    let answered = async {
        // The caller first: nothing is read for a caller that may not verify.
        auth::caller(engine, &parts.headers, Some(TOKENS_VERIFY)).await?;
        let bytes = problem::json_bytes(&parts.headers, body).await?;
        let asked: VerifyRequest<'_> =
            problem::parse_json(&bytes).map_err(IntoResponse::into_response)?;
        let resource = asked.resource.as_ref().map(AsRef::as_ref);
        let need = engine
            .requirement(asked.scopes.as_deref(), resource)
            .map_err(IntoResponse::into_response)?;
        let outcome = engine.check(asked.token.as_ref(), &need).await;
        Ok::<_, Response>(json(&response(&outcome)))
    };
    answered.await.unwrap_or_else(|refused| refused)
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
        answer.scopes = scopes.map(Words);
        answer.access = access;
        answer.resources = powers.resources.joined().map(Words);
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

/// A JSON answer written into a buffer sized for a full one: `axum::Json` starts at
/// 128 bytes and grows twice for a verify answer.
fn json(answer: &VerifyResponse<'_>) -> Response {
    let mut body = Vec::with_capacity(512);
    match serde_json::to_writer(&mut body, answer) {
        Ok(()) => {
            let mut response = Response::new(Body::from(body));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        // Only a broken `Serialize` could get here: answer as the panic guard would.
        Err(_) => super::panic_response(),
    }
}
