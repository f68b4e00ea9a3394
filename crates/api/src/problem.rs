//! The body of every error answer: an RFC 9457 problem document
//! (`application/problem+json`).

use serde::{Deserialize, Serialize};

/// What went wrong and how to fix it. Clients branch on `code`; people read `detail`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI reference naming the kind of problem: `/problems/<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What was wrong and how to fix it.
    pub detail: String,
    /// A stable, machine-readable code.
    pub code: String,
    /// The request field at fault, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The accepted values, where there is a short list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<Vec<String>>,
}

impl Problem {
    /// A problem with no field at fault: `title` is the status's reason phrase.
    pub fn new(status: u16, title: &str, code: &str, detail: String) -> Self {
        Self {
            kind: format!("/problems/{code}"),
            title: title.to_owned(),
            status,
            detail,
            code: code.to_owned(),
            field: None,
            valid: None,
        }
    }
}

/// Every `code` a problem from tessera may carry: `/openapi.json` states them as the
/// field's enum, and the server checks in its debug builds (every test) that it
/// writes no other. Grouped by what the client should do.
pub const PROBLEM_CODES: &[&str] = &[
    // The request is malformed: fix it (400, 413, 415).
    "malformed_json",
    "invalid_body",
    "invalid_query",
    "invalid_status",
    "invalid_limit",
    "invalid_duration",
    "invalid_request",
    "body_too_large",
    "form_too_large",
    "unsupported_media_type",
    "invalid_cursor",
    "invalid_forwarded_request",
    "missing_forwarded_request",
    "method_override_refused",
    // A field of a token's settings is wrong: `field` names it (400).
    "missing_name",
    "invalid_name",
    "invalid_text",
    "too_long",
    "invalid_scope",
    "unknown_scope",
    "too_many_scopes",
    "scopes_and_access",
    "invalid_access",
    "invalid_resource",
    "too_many_resources",
    "invalid_expiry",
    "expiry_twice",
    "expiry_in_past",
    "expiry_required",
    "lifetime_too_long",
    "invalid_not_before",
    "not_before_after_expiry",
    "invalid_rate_limit",
    "unknown_profile",
    "invalid_meta",
    "meta_too_large",
    "invalid_max_descendants",
    "invalid_value",
    "missing_repo_ids",
    "invalid_repo_id",
    "missing_access_type",
    "invalid_grace",
    "invalid_cidr",
    "invalid_client_ip",
    "invalid_usage_cap",
    "invalid_cost",
    "invalid_range",
    "invalid_granularity",
    "invalid_action",
    "invalid_order",
    "invalid_url",
    "invalid_event",
    // The credential: send a working token (401).
    "missing_credentials",
    "invalid_token",
    "invalid_signature",
    // The token may not do this (403).
    "insufficient_scope",
    "escalation",
    "descendants_exceed",
    "quota_exceeded",
    "admin_token",
    "no_route",
    "rejected_target",
    "network_not_allowed",
    "admin_only",
    "host_not_allowed",
    // No such thing (404, 405).
    "not_found",
    "no_such_endpoint",
    "method_not_allowed",
    // The state changed under the request: read again, then retry (409).
    "concurrent_change",
    "token_revoked",
    // Wait, then retry: `Retry-After` says how long (408, 429, 502, 503, 504).
    "request_timeout",
    "rate_limited",
    "usage_exhausted",
    "too_many_failures",
    "unavailable",
    "upstream_unavailable",
    "upstream_timeout",
    // tessera failed; nothing was changed (500).
    "internal",
];
