//! `/v1/webhooks`: endpoints that hear of changes to tokens, and each one's
//! delivery log.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /v1/webhooks`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"url": "https://example.com/hooks/tessera", "events": ["token.revoked", "token.leaked"]})))]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where deliveries are POSTed: http or https (config `webhook_allowed_hosts`
    /// may name the hosts allowed).
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub url: String,
    /// The events to send (`token.created`, `token.updated`, `token.rotated`,
    /// `token.revoked`, `token.expiring`, `token.expired`, `token.reuse_detected`,
    /// `token.leaked`, `token.usage_exhausted`), or `["*"]` for all.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 20))]
    pub events: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub description: Option<String>,
}

/// `PATCH /v1/webhooks/{id}`: what is given changes.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 20))]
    pub events: Option<Vec<String>>,
    /// `""` removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    pub description: Option<String>,
    /// A disabled endpoint is sent nothing; its deliveries wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// An endpoint, without its secret.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub disabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// The answer to a create: the only one that holds the endpoint's secret.
/// No `Debug`: it carries the secret.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedWebhook {
    /// `whsec_…`: verifies each delivery's `webhook-signature` (Standard Webhooks'
    /// libraries take it as it is). Shown once: store it now.
    pub secret: String,
    #[serde(flatten)]
    pub details: WebhookView,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
}

/// `GET /v1/webhooks/{id}/deliveries` query.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct DeliveriesParams {
    /// 1 to 100; 50 by default.
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[cfg_attr(feature = "openapi", param(pattern = "^[0-9]{1,18}$"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// One event on its way to an endpoint, and how its attempts went.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryView {
    /// The `webhook-id` of every attempt.
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// The audit entry it announces.
    pub audit_seq: i64,
    /// `pending`, `delivered` or `failed` (given up after a day of attempts).
    pub status: String,
    pub attempts: u32,
    /// The HTTP status the endpoint last answered; `null` if it never answered.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub first_attempt_at: Option<String>,
    /// When it is tried next; `null` once delivered or failed.
    pub next_attempt_at: Option<String>,
    pub delivered_at: Option<String>,
    /// The body sent.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: Value,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `cursor` for the next (older) page; `null` on the last.
    pub next_cursor: Option<String>,
}
