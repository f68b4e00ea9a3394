//! Health, readiness and the OpenAPI document generated from the handlers.

use axum::Json;
use serde_json::{Value, json};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::http::{compat, dto, problem, tokens, verify};

/// Liveness: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: the index is loaded before the listener opens, so a process that
/// answers is ready.
pub async fn readyz() -> Json<Value> {
    Json(json!({"status": "ready"}))
}

struct TokenAuth;

impl Modify for TokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "tessera", description = "Scoped, revocable API tokens: issue, verify, rate-limit, expire and revoke."),
    paths(
        tokens::create, tokens::list, tokens::show, tokens::update, tokens::revoke, tokens::whoami, tokens::revoke_self,
        verify::verify,
        compat::relace_create, compat::relace_get, compat::relace_delete, compat::flashback_create,
    ),
    components(schemas(problem::Problem, dto::CreateTokenRequest, dto::UpdateTokenRequest, dto::RateLimitBody)),
    modifiers(&TokenAuth)
)]
pub struct ApiDoc;

pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
