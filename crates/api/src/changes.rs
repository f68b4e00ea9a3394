//! `GET /v1/changes`: the Server-Sent Events a client keeping answers of its own
//! (a verify cache) reads to drop them when a token changes. Token ids only, never
//! a secret.
//!
//! Three kinds of event, each named in the event's `event` field:
//! - [`EVENT_CHANGE`]: a token changed ([`TokenChange`]); its `id` is the cursor to
//!   resume after;
//! - [`EVENT_READY`]: the client is caught up; what follows is live;
//! - [`EVENT_RESET`]: what happened since the client's cursor cannot be told (another
//!   node, a restart, too far behind): it must drop everything it keeps.

use serde::{Deserialize, Serialize};

pub const EVENT_CHANGE: &str = "token";
pub const EVENT_READY: &str = "ready";
pub const EVENT_RESET: &str = "reset";

/// `GET /v1/changes` query: where to resume, for clients that cannot send
/// `Last-Event-ID` (which wins when both are sent).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ChangesParams {
    /// The `id` of the last event seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(pattern = "^[0-9a-f]{1,16}-[0-9]{1,20}$"))]
    pub after: Option<String>,
}

/// The data of a [`EVENT_CHANGE`] event.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenChange {
    pub token_id: String,
    /// `created`, `updated` or `revoked`.
    pub change: String,
    /// The store's number for the write.
    pub seq: i64,
}

/// The data of a [`EVENT_RESET`] event.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StreamReset {
    /// Why the events since the client's cursor cannot be told.
    pub reason: String,
}
