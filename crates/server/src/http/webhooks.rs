//! `/v1/webhooks`: endpoints (the admin token's to manage) and their delivery logs.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_api::{
    CreateWebhookRequest, CreatedWebhook, DeliveriesParams, DeliveryList, DeliveryView,
    UpdateWebhookRequest, WebhookList, WebhookView,
};
use tessera_core::timefmt::format_rfc3339;
use tessera_core::webhook::Subscription;
use tessera_engine::lifecycle::{EndpointChange, MAX_DELIVERY_PAGE, NewEndpoint};
use tessera_engine::{Engine, EngineError};
use tessera_store::{Delivery, DeliveryStatus, Endpoint};

use crate::http::auth::{Authed, ManageTokens};
use crate::http::problem::{ApiError, ApiJson, ApiQuery, Problem};

type EngineState = State<Arc<Engine>>;

/// Deliveries on a page when the query names no limit.
const DEFAULT_PAGE: u32 = 50;

/// Adds an endpoint. Deliveries follow Standard Webhooks: `webhook-id`,
/// `webhook-timestamp` and `webhook-signature` headers, signed with the
/// endpoint's `secret`, shown in this answer only.
#[utoipa::path(post, path = "/v1/webhooks", operation_id = "create_webhook", tag = "webhooks", request_body = CreateWebhookRequest,
    responses((status = 201, body = CreatedWebhook), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("token" = [])))]
pub async fn create(
    State(engine): EngineState,
    Authed(caller, _): Authed<ManageTokens>,
    ApiJson(body): ApiJson<CreateWebhookRequest>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    let new = NewEndpoint {
        url: body.url,
        events: body.events,
        description: body.description,
    };
    let endpoint = engine.create_endpoint(&caller, new).await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            secret: endpoint.secret.clone(),
            details: view(&endpoint),
        }),
    ))
}

#[utoipa::path(get, path = "/v1/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    responses((status = 200, body = WebhookList), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("token" = [])))]
pub async fn list(
    State(engine): EngineState,
    Authed(caller, _): Authed<ManageTokens>,
) -> Result<Json<WebhookList>, ApiError> {
    let endpoints = engine.endpoints(&caller).await?;
    Ok(Json(WebhookList {
        webhooks: endpoints.iter().map(view).collect(),
    }))
}

#[utoipa::path(get, path = "/v1/webhooks/{id}", operation_id = "get_webhook", tag = "webhooks",
    responses((status = 200, body = WebhookView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("token" = [])))]
pub async fn show(
    State(engine): EngineState,
    Authed(caller, _): Authed<ManageTokens>,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    Ok(Json(view(&engine.endpoint(&caller, &id).await?)))
}

#[utoipa::path(patch, path = "/v1/webhooks/{id}", operation_id = "update_webhook", tag = "webhooks", request_body = UpdateWebhookRequest,
    responses((status = 200, body = WebhookView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("token" = [])))]
pub async fn update(
    State(engine): EngineState,
    Authed(caller, _): Authed<ManageTokens>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateWebhookRequest>,
) -> Result<Json<WebhookView>, ApiError> {
    let change = EndpointChange {
        url: body.url,
        events: body.events,
        description: body.description.map(Some),
        disabled: body.disabled,
    };
    Ok(Json(view(
        &engine.update_endpoint(&caller, &id, change).await?,
    )))
}

/// Removes an endpoint and the deliveries it still had waiting.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks",
    responses((status = 204, description = "Removed"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("token" = [])))]
pub async fn delete(
    State(engine): EngineState,
    Authed(caller, _): Authed<ManageTokens>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    engine.delete_endpoint(&caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An endpoint's delivery log, newest first: each event, its attempts, and what
/// the endpoint last answered.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", operation_id = "webhook_deliveries", tag = "webhooks", params(DeliveriesParams),
    responses((status = 200, body = DeliveryList), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("token" = [])))]
pub async fn deliveries(
    State(engine): EngineState,
    Authed(caller, _): Authed<ManageTokens>,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<DeliveriesParams>,
) -> Result<Json<DeliveryList>, ApiError> {
    let bad = |code: &'static str, detail: String| EngineError::BadRequest { code, detail };
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_DELIVERY_PAGE).contains(&limit) {
        return Err(bad(
            "invalid_limit",
            format!("limit must be 1 to {MAX_DELIVERY_PAGE}"),
        )
        .into());
    }
    let before = crate::http::dto::seq_cursor(params.cursor)?;
    let (_, page) = engine
        .endpoint_deliveries(&caller, &id, before, limit)
        .await?;
    Ok(Json(DeliveryList {
        deliveries: page.deliveries.iter().map(delivery_view).collect(),
        next_cursor: page.next_cursor.map(|seq| seq.to_string()),
    }))
}

pub(crate) fn view(endpoint: &Endpoint) -> WebhookView {
    WebhookView {
        id: endpoint.id.clone(),
        url: endpoint.url.clone(),
        events: Subscription::from_stored(&endpoint.events).names().to_vec(),
        description: endpoint.description.clone(),
        disabled: endpoint.disabled,
        created_at: format_rfc3339(endpoint.created_at),
        updated_at: format_rfc3339(endpoint.updated_at),
    }
}

pub(crate) fn delivery_view(delivery: &Delivery) -> DeliveryView {
    DeliveryView {
        id: delivery.id.clone(),
        event_type: delivery.event_type.clone(),
        audit_seq: delivery.audit_seq,
        status: delivery.status.as_str().to_owned(),
        attempts: delivery.attempts,
        last_status: delivery.last_status,
        last_error: delivery.last_error.clone(),
        created_at: format_rfc3339(delivery.created_at),
        first_attempt_at: delivery.first_attempt_at.map(format_rfc3339),
        next_attempt_at: (delivery.status == DeliveryStatus::Pending)
            .then(|| format_rfc3339(delivery.next_attempt_at)),
        delivered_at: delivery.delivered_at.map(format_rfc3339),
        payload: serde_json::from_str(&delivery.payload).unwrap_or_default(),
    }
}
