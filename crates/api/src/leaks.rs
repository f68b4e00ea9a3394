//! `POST /v1/leaks`: secret-scanning reports in the shape GitHub's partner program
//! sends them, and the labels it expects back. No `Debug`: both carry tokens, which
//! the reporter sent and GitHub's format echoes.

use serde::{Deserialize, Serialize};

/// One token a scanner found somewhere public.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeakReport {
    /// The text found.
    pub token: String,
    /// The kind of secret the scanner took it for (`tessera_token`).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Where it was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// What found it (`content`, `commit`, `file`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What tessera made of one report: `true_positive` for a live token of this
/// deployment (now revoked, unless `leak_action = "flag"`), else `false_positive`.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LeakVerdict {
    pub token_raw: String,
    pub token_type: String,
    #[cfg_attr(feature = "openapi", schema(value_type = LeakLabel))]
    pub label: String,
}

/// The labels of GitHub's secret-scanning partner program.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "a schema only: the server writes a text")]
#[schema(rename_all = "snake_case")]
pub enum LeakLabel {
    TruePositive,
    FalsePositive,
}
