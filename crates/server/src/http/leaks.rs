//! `POST /v1/leaks`: a secret scanner reports tokens it found in public, in the shape
//! of GitHub's secret-scanning partner program, and learns which were live tokens
//! (now revoked, or flagged: `leak_action`). Who may report is `crate::leaks`'s
//! business; what a report does is the engine's.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use axum::{Extension, Json};
use tessera_api::{LeakReport, LeakVerdict};
use tessera_core::scope::TOKENS_MANAGE;
use tessera_engine::{Actor, Engine, EngineError, LeakSource};

use crate::http::problem::{self, Problem};
use crate::http::{auth, origin};
use crate::leaks::{LeakReporters, UnsignedLeaks};

/// The most tokens one report may carry.
const MOST_PER_REPORT: usize = 1000;
const KEY_ID: &str = "github-public-key-identifier";
const SIGNATURE: &str = "github-public-key-signature";

#[utoipa::path(post, path = "/v1/leaks", operation_id = "report_leaks", tag = "leaks",
    request_body = Vec<LeakReport>,
    params(
        ("Github-Public-Key-Identifier" = Option<String>, Header, description = "The configured key (`[[leak_report_key]]`) the report is signed with"),
        ("Github-Public-Key-Signature" = Option<String>, Header, description = "Base64 of the DER ECDSA-SHA256 signature of the raw body"),
    ),
    responses((status = 200, body = Vec<LeakVerdict>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)),
    security((), ("token" = [])))]
/// Labels each reported token `true_positive` (a live token of this deployment,
/// acted on at once) or `false_positive`. Signed as GitHub signs, or unsigned with
/// a token that has `tokens:manage`, or unsigned where `leak_reports_unsigned =
/// "accept"`.
pub async fn report(
    State(engine): State<Arc<Engine>>,
    Extension(reporters): Extension<Arc<LeakReporters>>,
    request: Request,
) -> Result<Json<Vec<LeakVerdict>>, Response> {
    let (parts, body) = request.into_parts();
    let bytes = problem::json_bytes(&parts.headers, body).await?;
    let reporter = admit(&engine, &reporters, &parts, &bytes).await?;
    let reports: Vec<LeakReport> = problem::parse_json(&bytes).map_err(problem::error_response)?;
    if reports.len() > MOST_PER_REPORT {
        return Err(problem::error_response(EngineError::BadRequest {
            code: "too_many_items",
            detail: format!(
                "a report may name at most {MOST_PER_REPORT} tokens: send the rest in another"
            ),
        }));
    }
    // Every report is acted on, whatever happens to the others; a failure (the
    // store unreachable) answers for the whole call afterwards, so that the
    // scanner sends it again, and what was revoked meanwhile then reads as dead.
    let mut verdicts = Vec::with_capacity(reports.len());
    let mut failed = None;
    for report in reports {
        let found = LeakSource {
            url: report.url.clone(),
            source: report.source.clone(),
        };
        let label = match engine.report_leak(&report.token, &found, &reporter).await {
            Ok(label) => label,
            Err(error) => {
                tracing::error!(%error, "cannot act on a leak report");
                failed.get_or_insert(error);
                continue;
            }
        };
        verdicts.push(LeakVerdict {
            token_raw: report.token,
            token_type: report.kind,
            label: label.as_str().to_owned(),
        });
    }
    match failed {
        Some(error) => Err(problem::error_response(error)),
        None => Ok(Json(verdicts)),
    }
}

/// Lets a report in: signed by a configured key, or unsigned where that is taken
/// (configured, or with a token that has `tokens:manage`). Returns who reports, as
/// the audit log names them.
async fn admit(
    engine: &Engine,
    reporters: &LeakReporters,
    parts: &Parts,
    body: &[u8],
) -> Result<Actor, Response> {
    let headers = &parts.headers;
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let origin = || origin::origin_of(engine, parts);
    match (text(KEY_ID), text(SIGNATURE)) {
        (Some(key_id), Some(signature)) => reporters
            .verify(key_id, signature, body)
            .map(|()| Actor::tessera(format!("leak report signed by key {key_id}"), origin()))
            .map_err(|bad| refused(bad.detail())),
        (None, None) if reporters.unsigned == UnsignedLeaks::Accept => {
            Ok(Actor::tessera("unsigned leak report", origin()))
        }
        (None, None)
            if headers.contains_key(axum::http::header::AUTHORIZATION)
                || headers.contains_key("x-api-key") =>
        {
            let mut caller =
                auth::caller(engine, headers, origin::peer_of(parts), Some(TOKENS_MANAGE)).await?;
            caller.origin.request_id = origin::request_id(parts);
            Ok(Actor::of(&caller))
        }
        (None, None) => Err(refused(
            "this report is not signed: sign it with a configured [[leak_report_key]] \
             (Github-Public-Key-Identifier and Github-Public-Key-Signature), or present a \
             token with tokens:manage",
        )),
        _ => Err(refused(
            "send both Github-Public-Key-Identifier and Github-Public-Key-Signature",
        )),
    }
}

fn refused(detail: &str) -> Response {
    problem::route_problem(
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
        detail.to_owned(),
    )
}
