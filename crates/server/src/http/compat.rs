//! Thin adapters that give the documented shapes of Relace repo tokens and Flashback
//! repository API keys, over the native service. No rules live here.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_api::{
    RepoId, RepoKeyCreated, RepoKeyRequest, RepoTokenCreated, RepoTokenInfo, RepoTokenRequest,
};
use tessera_core::record::{TokenDraft, TokenRecord};

use crate::http::auth::{Authed, ManageTokens, ReadTokens};
use crate::http::problem::ApiError;
use crate::http::problem::{ApiJson, Problem};
use tessera_engine::Engine;
use tessera_engine::EngineError;

const REPO: &str = "repo:";

/// `repo:<id>` for one repository; `*` or a malformed id is refused, never a wildcard.
fn repo_resource(id: &str) -> Result<String, EngineError> {
    let text = format!("{REPO}{id}");
    tessera_core::resource::Resource::parse(&text)
        .map(|_| text)
        .map_err(|_| EngineError::BadRequest {
            code: "invalid_repo_id",
            detail: format!("repository id {id:?} must be 1 to 200 visible characters, and not *"),
        })
}

fn repo_ids(record: &TokenRecord) -> Vec<String> {
    record
        .settings
        .resources
        .view()
        .patterns()
        .filter_map(|r| r.strip_prefix(REPO).map(String::from))
        .collect()
}

/// Creates a token with read/write access to the listed repositories.
#[utoipa::path(post, path = "/v1/repo_token", operation_id = "create_repo_token", tag = "compat", request_body = RepoTokenRequest,
    responses((status = 200, body = RepoTokenCreated), (status = 400, body = Problem)), security(("token" = [])))]
pub async fn relace_create(
    State(engine): State<Arc<Engine>>,
    Authed(caller, _): Authed<ManageTokens>,
    ApiJson(body): ApiJson<RepoTokenRequest>,
) -> Result<Json<RepoTokenCreated>, ApiError> {
    if body.repo_ids.is_empty() {
        return Err(EngineError::BadRequest {
            code: "missing_repo_ids",
            detail: "repo_ids must list at least one repository id".into(),
        }
        .into());
    }
    let draft = TokenDraft {
        name: Some(body.name),
        scopes: Some(vec!["repo:read".into(), "repo:write".into()]),
        resources: Some(
            body.repo_ids
                .iter()
                .map(|id| repo_resource(id))
                .collect::<Result<_, _>>()?,
        ),
        ..TokenDraft::default()
    };
    let (record, secret) = engine.create(&caller, draft).await?;
    Ok(Json(RepoTokenCreated {
        name: record.settings.name.to_string(),
        token: secret.expose().to_owned(),
        repo_ids: repo_ids(&record),
        id: record.id,
    }))
}

/// Looks a repo token up by its text (the token travels in the path; it is never logged).
#[utoipa::path(get, path = "/v1/repo_token/{token}", operation_id = "get_repo_token", tag = "compat",
    responses((status = 200, body = RepoTokenInfo), (status = 404, body = Problem), (status = 503, body = Problem)), security(("token" = [])))]
pub async fn relace_get(
    State(engine): State<Arc<Engine>>,
    Authed(caller, _): Authed<ReadTokens>,
    Path(token): Path<String>,
) -> Result<Json<RepoTokenInfo>, ApiError> {
    let record = engine.find_by_secret(&caller, &token).await?;
    Ok(Json(RepoTokenInfo {
        id: record.id.clone(),
        name: record.settings.name.to_string(),
        repo_ids: repo_ids(&record),
        status: record.status(engine.now_ms()).as_str().to_owned(),
        created_at: tessera_core::timefmt::format_rfc3339(record.created_at),
        expires_at: record
            .settings
            .expires_at
            .map(tessera_core::timefmt::format_rfc3339),
    }))
}

/// Deletes (revokes) a repo token by its text, e.g. when a sandbox session ends.
#[utoipa::path(delete, path = "/v1/repo_token/{token}", operation_id = "delete_repo_token", tag = "compat",
    responses((status = 204), (status = 404, body = Problem), (status = 503, body = Problem)), security(("token" = [])))]
pub async fn relace_delete(
    State(engine): State<Arc<Engine>>,
    Authed(caller, _): Authed<ManageTokens>,
    Path(token): Path<String>,
) -> Result<StatusCode, ApiError> {
    let slot = engine.find_visible_by_secret(&caller, &token)?;
    engine.revoke(&caller, slot.id()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates an API key (id + secret) for one repository at an access level.
#[utoipa::path(post, path = "/repo/{repo_id}/apikey", operation_id = "create_repo_key", tag = "compat", request_body = RepoKeyRequest,
    params(("repo_id" = RepoId, Path, description = "The repository the key is for.")),
    responses((status = 200, body = RepoKeyCreated), (status = 400, body = Problem)), security(("token" = [])))]
pub async fn flashback_create(
    State(engine): State<Arc<Engine>>,
    Authed(caller, _): Authed<ManageTokens>,
    Path(repo_id): Path<String>,
    ApiJson(body): ApiJson<RepoKeyRequest>,
) -> Result<Json<RepoKeyCreated>, ApiError> {
    let access = body.access_type.ok_or_else(|| EngineError::BadRequest {
        code: "missing_access_type",
        detail: "accessType is required: READ, WRITE or ADMIN".into(),
    })?;
    let draft = TokenDraft {
        name: body.name,
        access: Some(access),
        resources: Some(vec![repo_resource(&repo_id)?]),
        ..TokenDraft::default()
    };
    let (record, secret) = engine.create(&caller, draft).await?;
    Ok(Json(RepoKeyCreated {
        success: true,
        id: record.id.clone(),
        key: record.id,
        secret: secret.expose().to_owned(),
    }))
}
