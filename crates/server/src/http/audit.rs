//! `/v1/audit`: the audit log, and the check of its hash chain.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use tessera_api::{AuditBreak, AuditEntryView, AuditList, AuditParams, AuditVerification};
use tessera_core::audit::Action;
use tessera_core::timefmt::parse_rfc3339;
use tessera_engine::{AuditQuery, Engine, EngineError, MAX_AUDIT_PAGE};

use crate::http::auth::{Authed, ManageTokens};
use crate::http::problem::{ApiError, ApiQuery, Problem};

/// Entries on a page when the query names no limit.
const DEFAULT_PAGE: u32 = 100;

/// The audit log, newest first: every entry for the admin token, the entries
/// about its own subtree for any other token with `tokens:manage`.
#[utoipa::path(get, path = "/v1/audit", operation_id = "list_audit", tag = "audit", params(AuditParams),
    responses((status = 200, body = AuditList), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("token" = [])))]
pub async fn list(
    State(engine): State<Arc<Engine>>,
    Authed(caller, _): Authed<ManageTokens>,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<AuditList>, ApiError> {
    let query = query_of(params)?;
    let page = engine.audit_log(&caller, query).await?;
    Ok(Json(AuditList {
        entries: page.entries.iter().map(AuditEntryView::of).collect(),
        next_cursor: page.next_cursor.map(|seq| seq.to_string()),
    }))
}

/// Walks the whole hash chain and names the first entry that was edited, deleted
/// or moved. The admin token only.
#[utoipa::path(get, path = "/v1/audit/verify", operation_id = "verify_audit", tag = "audit",
    responses((status = 200, body = AuditVerification), (status = 401, body = Problem), (status = 403, body = Problem)),
    security(("token" = [])))]
pub async fn verify(
    State(engine): State<Arc<Engine>>,
    Authed(caller, _): Authed<ManageTokens>,
) -> Result<Json<AuditVerification>, ApiError> {
    let report = engine.verify_audit(&caller).await?;
    Ok(Json(AuditVerification {
        intact: report.broken.is_none(),
        checked: report.checked,
        head_seq: report.head.seq,
        head_hash: hex::encode(report.head.hash),
        broken: report.broken.as_ref().map(AuditBreak::of),
    }))
}

/// The query in the store's terms; a value that does not read is a 400 naming it.
pub(crate) fn query_of(params: AuditParams) -> Result<AuditQuery, EngineError> {
    let bad = |code: &'static str, detail: String| EngineError::BadRequest { code, detail };
    let time = |field: &str, text: Option<String>| {
        text.map(|text| {
            parse_rfc3339(&text).ok_or_else(|| {
                bad(
                    "invalid_range",
                    format!(
                        "{field} {text:?} is not an RFC 3339 time such as 2026-12-01T00:00:00Z"
                    ),
                )
            })
        })
        .transpose()
    };
    if let Some(action) = params
        .action
        .as_deref()
        .filter(|a| Action::parse(a).is_none())
    {
        let known: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        return Err(bad(
            "invalid_action",
            format!("action {action:?} is not one of {}", known.join(", ")),
        ));
    }
    let oldest_first = match params.order.as_deref() {
        None | Some("newest") => false,
        Some("oldest") => true,
        Some(other) => {
            return Err(bad(
                "invalid_order",
                format!("order {other:?} must be newest or oldest"),
            ));
        }
    };
    let limit = params.limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_AUDIT_PAGE).contains(&limit) {
        return Err(bad(
            "invalid_limit",
            format!("limit must be 1 to {MAX_AUDIT_PAGE}"),
        ));
    }
    let after = crate::http::dto::seq_cursor(params.cursor)?;
    Ok(AuditQuery {
        actor: params.actor,
        target: params.target,
        action: params.action,
        from_ms: time("from", params.from)?,
        to_ms: time("to", params.to)?,
        limit,
        after,
        oldest_first,
        ..AuditQuery::default()
    })
}
