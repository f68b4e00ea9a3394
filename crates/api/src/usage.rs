//! `GET /v1/tokens/{id}/usage`: a token's answers per hour or per day.

use serde::{Deserialize, Serialize};

/// The query: a range (RFC 3339; by default the last day by the hour, or the last
/// 30 days by the day) and a granularity.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct UsageParams {
    /// RFC 3339. Counts are kept 90 days: a longer range answers its last 90 days,
    /// and one that ends before it starts has no buckets.
    #[cfg_attr(feature = "openapi", param(format = DateTime))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// RFC 3339; by default now.
    #[cfg_attr(feature = "openapi", param(format = DateTime))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `hour` (the default) or `day` (UTC).
    #[cfg_attr(feature = "openapi", param(pattern = "^(hour|day)$"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granularity: Option<String>,
}

/// A token's usage: every bucket of the range, empty ones with zeros.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageReport {
    pub token_id: String,
    /// `hour` or `day`.
    pub granularity: String,
    pub buckets: Vec<UsageBucketView>,
}

/// The answers in one hour or day, summed over every node.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageBucketView {
    /// Its start, RFC 3339.
    pub start: String,
    pub valid: u64,
    pub forbidden: u64,
    pub rate_limited: u64,
    pub usage_exhausted: u64,
}
