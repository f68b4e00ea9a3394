//! Health, readiness, metrics and the OpenAPI document generated from the handlers.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::extract::State;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};
use utoipa::OpenApi;

use crate::http::MetricsAccess;
use crate::http::auth::{Authed, ReadMetrics};
use crate::http::contract::Contract;
use crate::http::{audit, authz, changes, compat, leaks, oauth, problem, tokens, verify, webhooks};
use crate::limits::ConnectionGate;
use tessera_api::{Catalogue, ProfileInfo, ScopeInfo};
use tessera_engine::Engine;

/// Liveness: the process answers.
/// `GET /`: a browser goes to the Tokens page; an API client, which asks for JSON
/// or for anything, gets the JSON 404 that every unknown path answers.
pub async fn home(headers: axum::http::HeaderMap) -> axum::response::Response {
    let wants_html = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|kind| kind.trim().starts_with("text/html"));
    if wants_html {
        axum::response::Redirect::to("/ui").into_response()
    } else {
        super::not_found().await
    }
}

/// Liveness: the process answers. Open to anyone.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations",
    responses((status = 200, description = "The process answers", body = Object, example = json!({"status": "ok"}))))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness. The index is loaded (and caught up with the change feed) before the
/// listener opens, so a process that answers can verify: it stays ready while its
/// database is down, and says so in `store`, since verification goes on from the index.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "operations",
    responses((status = 200, description = "Ready to verify; `store` says whether the database answers (`up` or `unavailable`)",
        body = Object, example = json!({"status": "ready", "store": "up"}))))]
pub async fn readyz(State(engine): State<Arc<Engine>>) -> Json<Value> {
    let store = match tokio::time::timeout(READY_PING, engine.ping_store()).await {
        Ok(Ok(())) => "up",
        _ => "unavailable",
    };
    // No counts here: /readyz is often open to anyone who can reach the node; the
    // index size and the feed position are in /metrics, which can be guarded.
    Json(json!({
        "status": "ready",
        "store": store,
    }))
}

/// How long `/readyz` waits for the database to answer.
const READY_PING: std::time::Duration = std::time::Duration::from_secs(1);

/// Counters and gauges in Prometheus' text format. Open, unless the deployment asks
/// for a token with `metrics:read` (`metrics_token = true`).
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses(
        (status = 200, description = "The OpenMetrics text format (docs/monitoring lists the metrics)", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 401, body = problem::Problem, description = "The deployment asks for a token, and none that works was sent"),
        (status = 403, body = problem::Problem, description = "The token lacks `metrics:read`"),
        (status = 429, body = problem::Problem, description = "Too many failed authentications from this address")),
    security((), ("token" = [])))]
pub async fn metrics(
    State(engine): State<Arc<Engine>>,
    Extension(gate): Extension<Arc<ConnectionGate>>,
    Extension(access): Extension<MetricsAccess>,
    mut parts: Parts,
) -> Response {
    if access.require_token
        && let Err(refusal) = Authed::<ReadMetrics>::from_request_parts(&mut parts, &engine).await
    {
        return refusal;
    }
    match crate::http::exposition::render(engine, gate) {
        Ok(body) => (
            [(header::CONTENT_TYPE, crate::http::exposition::CONTENT_TYPE)],
            body,
        )
            .into_response(),
        // Writing to a String cannot fail; answered as the panic guard would.
        Err(_) => crate::http::panic_response(),
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "tessera", description = "Scoped, revocable API tokens: issue, verify, rate-limit, expire and revoke."),
    paths(
        tokens::create, tokens::list, tokens::show, tokens::update, tokens::revoke, tokens::whoami, tokens::revoke_self,
        tokens::rotate, tokens::rotate_self, tokens::usage, audit::list, audit::verify,
        webhooks::create, webhooks::list, webhooks::show, webhooks::update, webhooks::delete, webhooks::deliveries,
        verify::verify, changes::changes, catalogue, authz::authz, oauth::introspect, oauth::revoke, leaks::report,
        compat::relace_create, compat::relace_get, compat::relace_delete, compat::flashback_create,
        healthz, readyz, metrics, openapi,
    ),
    components(schemas(tessera_api::PresentedTokenForm, tessera_api::Introspection, problem::Problem, tessera_api::CreateTokenRequest, tessera_api::UpdateTokenRequest, tessera_api::RateLimitBody, tessera_api::StreamReset)),
    modifiers(&Contract)
)]
pub struct ApiDoc;

/// The document, with this deployment's own catalogue of scopes and rate-limit
/// profiles, and the rules between fields.
#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi_document", tag = "operations",
    responses((status = 200, description = "This document", body = Object)))]
pub async fn openapi(State(engine): State<Arc<Engine>>) -> Response {
    let config = engine.config();
    let mut document = ApiDoc::openapi();
    crate::http::contract::with_catalogue(&mut document, &config.catalogue);
    let Ok(mut document) = serde_json::to_value(&document) else {
        return crate::http::panic_response();
    };
    let profiles: Vec<String> = config
        .rate_limit_profiles()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    crate::http::contract::with_field_rules(&mut document, &profiles);
    crate::http::contract::with_credentials_and_headers(&mut document);
    Json(document).into_response()
}

/// The scope catalogue, rate-limit profiles and lifetime cap. Any valid token may ask.
#[utoipa::path(get, path = "/v1/catalogue", operation_id = "catalogue", tag = "tokens",
    responses((status = 200, body = Catalogue), (status = 401, body = problem::Problem)), security(("token" = [])))]
pub async fn catalogue(
    axum::extract::State(engine): axum::extract::State<std::sync::Arc<tessera_engine::Engine>>,
    _caller: crate::http::auth::Authed<crate::http::auth::AnyToken>,
) -> Json<Catalogue> {
    let config = engine.config();
    let profiles = config
        .rate_limit_profiles()
        .into_iter()
        .map(|(name, limit)| ProfileInfo {
            name,
            per_minute: limit.per_minute,
            burst: limit.burst,
        })
        .collect();
    Json(Catalogue {
        token_prefix: config.token_prefix.as_str().to_owned(),
        scopes: config
            .catalogue
            .defs()
            .iter()
            .map(|def| ScopeInfo {
                name: def.name.clone(),
                level: def.level.map(|level| level.as_str().to_owned()),
            })
            .collect(),
        rate_limit_profiles: profiles,
        max_token_lifetime: config.max_token_lifetime_ms.map(|ms| ms / 1000),
    })
}
