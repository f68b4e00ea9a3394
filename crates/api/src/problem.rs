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
