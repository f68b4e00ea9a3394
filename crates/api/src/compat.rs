//! The shapes of the compatibility endpoints: Relace repo tokens
//! (`/v1/repo_token`) and Flashback repository API keys (`/repo/{repo_id}/apikey`),
//! as those services document them.

use serde::{Deserialize, Serialize};

/// Relace: `POST /v1/repo_token`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({
    "name": "sandbox-session-1842", "repo_ids": ["repo_7f3a", "repo_91bc"]})))]
#[serde(deny_unknown_fields)]
pub struct RepoTokenRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::TokenNameText))]
    pub name: String,
    /// Repository ids the token may read and write.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<RepoId>, min_items = 1))]
    pub repo_ids: Vec<String>,
}

/// No `Debug`: it carries the token.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepoTokenCreated {
    pub name: String,
    /// Shown once.
    pub token: String,
    pub repo_ids: Vec<String>,
    pub id: String,
}

/// Relace: `GET /v1/repo_token/{token}`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepoTokenInfo {
    pub id: String,
    pub name: String,
    pub repo_ids: Vec<String>,
    pub status: String,
    pub created_at: String,
    pub expires_at: Option<String>,
}

/// Flashback: `POST /repo/{repoId}/apikey`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(example = json!({"name": "deploy-key", "accessType": "READ"})))]
#[serde(deny_unknown_fields)]
pub struct RepoKeyRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::TokenNameText, required = true))]
    pub name: Option<String>,
    /// `READ`, `WRITE` or `ADMIN`.
    #[serde(rename = "accessType")]
    #[cfg_attr(feature = "openapi", schema(value_type = AccessType, required = true))]
    pub access_type: Option<String>,
}

/// What a Flashback key may do.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "the schema of a text the handler reads as such")]
pub enum AccessType {
    #[schema(rename = "READ")]
    Read,
    #[schema(rename = "WRITE")]
    Write,
    #[schema(rename = "ADMIN")]
    Admin,
}

/// A repository's id: 1 to 200 visible ASCII characters, not `*`.
#[cfg(feature = "openapi")]
#[derive(utoipa::ToSchema)]
#[schema(pattern = "^([!-)+-~][!-~]{0,199}|[*][!-~]{1,199})$")]
#[allow(dead_code, reason = "a schema only: the handler reads a text")]
pub struct RepoId(String);

/// No `Debug`: it carries the secret.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepoKeyCreated {
    pub success: bool,
    pub id: String,
    /// Not a credential alone: use `key:secret` as HTTP Basic credentials.
    pub key: String,
    /// Shown once.
    pub secret: String,
}
