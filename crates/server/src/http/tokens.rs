//! `/v1/tokens`: create, list, show, update and revoke tokens.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use tessera_api::{
    CreateTokenRequest, CreatedToken, ListParams, RotateRequest, TokenList, TokenView,
    UpdateTokenRequest, UsageBucketView, UsageParams, UsageReport,
};
use tessera_core::record::TokenRecord;
use tessera_core::timefmt::{format_rfc3339, parse_rfc3339};
use tessera_core::token::SecretToken;
use tessera_engine::lifecycle::{Granularity, USAGE_KEPT_MS};
use tessera_engine::{Engine, EngineError};

use crate::http::auth::{AnyToken, Authed, ManageTokens, ReadTokens};
use crate::http::dto::query_of;
use crate::http::problem::{ApiError, ApiJson, ApiQuery, Problem};

type EngineState = State<Arc<Engine>>;

/// Creates a token within the caller's own powers. The response is the only place
/// the token's text ever appears.
#[utoipa::path(post, path = "/v1/tokens", operation_id = "create_token", tag = "tokens", request_body = CreateTokenRequest,
    responses((status = 201, body = CreatedToken), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("token" = [])))]
pub async fn create(
    State(engine): EngineState,
    Authed(caller, _): Authed<ManageTokens>,
    ApiJson(body): ApiJson<CreateTokenRequest>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let (record, secret) = engine
        .create(&caller, body.into_draft().map_err(EngineError::from)?)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(created(&engine, &record, &secret)),
    ))
}

/// Lists the tokens the caller may see (the admin: all; a manager: those it created
/// and their descendants), newest first.
#[utoipa::path(get, path = "/v1/tokens", operation_id = "list_tokens", tag = "tokens", params(ListParams),
    responses((status = 200, body = TokenList), (status = 400, body = Problem), (status = 401, body = Problem)),
    security(("token" = [])))]
pub async fn list(
    State(engine): EngineState,
    Authed(caller, _): Authed<ReadTokens>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<TokenList>, ApiError> {
    let query = query_of(params)?;
    let page = engine.list(&caller, query).await?;
    let now = engine.now_ms();
    Ok(Json(TokenList {
        tokens: page.tokens.iter().map(|r| TokenView::of(r, now)).collect(),
        next_cursor: page.next_cursor.map(|c| c.to_string()),
    }))
}

#[utoipa::path(get, path = "/v1/tokens/{id}", operation_id = "get_token", tag = "tokens",
    responses((status = 200, body = TokenView), (status = 404, body = Problem), (status = 503, body = Problem)), security(("token" = [])))]
pub async fn show(
    State(engine): EngineState,
    Authed(caller, _): Authed<ReadTokens>,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    Ok(Json(TokenView::of(
        &engine.get(&caller, &id).await?,
        engine.now_ms(),
    )))
}

/// A token's answers by the hour or the day: allowed, forbidden, rate limited,
/// usage exhausted, summed over every node.
#[utoipa::path(get, path = "/v1/tokens/{id}/usage", operation_id = "token_usage", tag = "tokens", params(UsageParams),
    responses((status = 200, body = UsageReport), (status = 400, body = Problem), (status = 404, body = Problem)),
    security(("token" = [])))]
pub async fn usage(
    State(engine): EngineState,
    Authed(caller, _): Authed<ReadTokens>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<UsageParams>,
) -> Result<Json<UsageReport>, ApiError> {
    let granularity = match params.granularity.as_deref() {
        None => Granularity::Hour,
        Some(text) => Granularity::parse(text).ok_or_else(|| EngineError::BadRequest {
            code: "invalid_granularity",
            detail: format!("granularity {text:?} must be hour or day"),
        })?,
    };
    let now = engine.now_ms();
    let time = |field: &str, text: Option<&str>, default: i64| match text {
        None => Ok(default),
        Some(text) => parse_rfc3339(text).ok_or_else(|| EngineError::BadRequest {
            code: "invalid_range",
            detail: format!(
                "{field} {text:?} is not an RFC 3339 time such as 2026-12-01T00:00:00Z"
            ),
        }),
    };
    let to = time("to", params.to.as_deref(), now)?;
    // Counts are kept 90 days: a longer range answers its last 90 days, and one
    // that ends before it starts has no buckets.
    let from = time(
        "from",
        params.from.as_deref(),
        to - granularity.default_span_ms(),
    )?
    .max(to.saturating_sub(USAGE_KEPT_MS));
    let buckets = if from > to {
        Vec::new()
    } else {
        engine.usage(&caller, &id, from, to, granularity).await?
    };
    Ok(Json(UsageReport {
        token_id: id,
        granularity: granularity.as_str().to_owned(),
        buckets: buckets
            .into_iter()
            .map(|(start, tally)| UsageBucketView {
                start: format_rfc3339(start),
                valid: tally.valid,
                forbidden: tally.forbidden,
                rate_limited: tally.rate_limited,
                usage_exhausted: tally.usage_exhausted,
            })
            .collect(),
    }))
}

/// Changes a token; the change holds from the very next verification.
#[utoipa::path(patch, path = "/v1/tokens/{id}", operation_id = "update_token", tag = "tokens", request_body = UpdateTokenRequest,
    responses((status = 200, body = TokenView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("token" = [])))]
pub async fn update(
    State(engine): EngineState,
    Authed(caller, _): Authed<ManageTokens>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateTokenRequest>,
) -> Result<Json<TokenView>, ApiError> {
    let record = engine
        .update(&caller, &id, |draft| Ok(body.apply_to(draft)?))
        .await?;
    Ok(Json(TokenView::of(&record, engine.now_ms())))
}

/// Revokes a token and every token created through it, at once. Idempotent; the
/// record stays, with status `revoked`.
#[utoipa::path(delete, path = "/v1/tokens/{id}", operation_id = "revoke_token", tag = "tokens",
    responses((status = 200, body = TokenView), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("token" = [])))]
pub async fn revoke(
    State(engine): EngineState,
    Authed(caller, _): Authed<ManageTokens>,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    let record = engine.revoke(&caller, &id).await?;
    Ok(Json(TokenView::of(&record, engine.now_ms())))
}

/// Gives a token a new secret: same id, grants, limits, usage and children. The
/// previous secret works on for `grace_seconds`. Managers may rotate what they may edit.
#[utoipa::path(post, path = "/v1/tokens/{id}/rotate", operation_id = "rotate_token", tag = "tokens", request_body = RotateRequest,
    responses((status = 200, body = CreatedToken), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("token" = [])))]
pub async fn rotate(
    State(engine): EngineState,
    Authed(caller, _): Authed<ManageTokens>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RotateRequest>,
) -> Result<Json<CreatedToken>, ApiError> {
    let grace_ms = body.grace_ms().map_err(EngineError::from)?;
    let (record, secret) = engine.rotate(&caller, &id, grace_ms).await?;
    Ok(Json(created(&engine, &record, &secret)))
}

/// The presented token gives itself a new secret (a CI job's or a sandbox's own
/// rotation); the one it was presented with works on for `grace_seconds`.
#[utoipa::path(post, path = "/v1/tokens/self/rotate", operation_id = "rotate_self", tag = "tokens", request_body = RotateRequest,
    responses((status = 200, body = CreatedToken), (status = 400, body = Problem), (status = 401, body = Problem), (status = 409, body = Problem)),
    security(("token" = [])))]
pub async fn rotate_self(
    State(engine): EngineState,
    Authed(caller, _): Authed<AnyToken>,
    ApiJson(body): ApiJson<RotateRequest>,
) -> Result<Json<CreatedToken>, ApiError> {
    let grace_ms = body.grace_ms().map_err(EngineError::from)?;
    let (record, secret) = engine.rotate_self(&caller, grace_ms).await?;
    Ok(Json(created(&engine, &record, &secret)))
}

/// The answer that shows a token's secret, this once.
fn created(engine: &Engine, record: &TokenRecord, secret: &SecretToken) -> CreatedToken {
    CreatedToken {
        token: secret.expose().to_owned(),
        details: TokenView::of(record, engine.now_ms()),
    }
}

/// The presented token itself. Any valid token may ask.
#[utoipa::path(get, path = "/v1/tokens/self", operation_id = "whoami", tag = "tokens",
    responses((status = 200, body = TokenView), (status = 401, body = Problem), (status = 503, body = Problem)), security(("token" = [])))]
pub async fn whoami(
    State(engine): EngineState,
    Authed(caller, _): Authed<AnyToken>,
) -> Result<Json<TokenView>, ApiError> {
    let record = engine.record(&caller.slot).await?;
    Ok(Json(TokenView::of(&record, engine.now_ms())))
}

/// Revokes the presented token (and its descendants): the end of a sandbox session.
#[utoipa::path(delete, path = "/v1/tokens/self", operation_id = "revoke_self", tag = "tokens",
    responses((status = 200, body = TokenView), (status = 401, body = Problem), (status = 409, body = Problem)),
    security(("token" = [])))]
pub async fn revoke_self(
    State(engine): EngineState,
    Authed(caller, _): Authed<AnyToken>,
) -> Result<Json<TokenView>, ApiError> {
    let record = engine.revoke_self(&caller).await?;
    Ok(Json(TokenView::of(&record, engine.now_ms())))
}
