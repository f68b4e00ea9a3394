//! The guard's refusals, written as tessera writes its own: RFC 9457 problems with
//! the same codes and headers.

use axum::http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_api::{Problem, VerifyAnswer};

fn problem(status: StatusCode, code: &str, detail: String) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    let body = Problem::new(status.as_u16(), title, code, detail);
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    response
}

fn with(mut response: Response, name: axum::http::HeaderName, value: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
    response
}

pub fn missing_credentials() -> Response {
    with(
        problem(
            StatusCode::UNAUTHORIZED,
            "missing_credentials",
            "send a token as `Authorization: Bearer <token>`, `Authorization: Api-Key <token>`, \
             `X-API-Key: <token>`, or HTTP Basic with the token as the password"
                .to_owned(),
        ),
        WWW_AUTHENTICATE,
        "Bearer realm=\"tessera\"",
    )
}

/// The answer to a request whose token tessera did not find valid for it.
pub fn refused(answer: &VerifyAnswer) -> Response {
    match answer.code.as_str() {
        "FORBIDDEN" if answer.missing.as_ref().is_some_and(|m| m.network) => problem(
            StatusCode::FORBIDDEN,
            "network_not_allowed",
            "this token may not be used from your address: it is bound to other networks"
                .to_owned(),
        ),
        "FORBIDDEN" => {
            let missing = answer.missing.as_ref();
            let scopes = missing.map(|m| m.scopes.join(" ")).unwrap_or_default();
            let resource = missing.and_then(|m| m.resource.clone());
            let detail = match (&resource, scopes.is_empty()) {
                (Some(resource), true) => format!("the token may not touch {resource}"),
                (Some(resource), false) => {
                    format!("the token lacks {scopes} and may not touch {resource}")
                }
                (None, _) => format!("the token lacks {scopes}"),
            };
            with(
                problem(StatusCode::FORBIDDEN, "insufficient_scope", detail),
                WWW_AUTHENTICATE,
                &format!(
                    "Bearer realm=\"tessera\", error=\"insufficient_scope\", scope=\"{scopes}\""
                ),
            )
        }
        "RATE_LIMITED" => {
            let wait_ms = answer.rate_limit.map_or(1000, |limit| limit.reset_ms);
            with(
                problem(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "the token's rate limit is spent: wait, then send again".to_owned(),
                ),
                RETRY_AFTER,
                &wait_ms.div_ceil(1000).max(1).to_string(),
            )
        }
        "USAGE_EXHAUSTED" => {
            let usage = answer.usage.as_ref();
            let mut response = problem(
                StatusCode::TOO_MANY_REQUESTS,
                "usage_exhausted",
                "the token's usage is exhausted: its max_uses are used, or its credits cannot pay for this request".to_owned(),
            );
            for (name, value) in [
                (
                    "x-tessera-uses-remaining",
                    usage.and_then(|u| u.uses_remaining),
                ),
                (
                    "x-tessera-credits-remaining",
                    usage.and_then(|u| u.credits_remaining),
                ),
            ] {
                if let Some(value) = value {
                    response = with(
                        response,
                        axum::http::HeaderName::from_static(name),
                        &value.to_string(),
                    );
                }
            }
            with(response, RETRY_AFTER, "60")
        }
        code => with(
            problem(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                format!("the token is not valid ({code})"),
            ),
            WWW_AUTHENTICATE,
            "Bearer realm=\"tessera\", error=\"invalid_token\"",
        ),
    }
}

/// tessera did not answer: fail closed.
pub fn unavailable() -> Response {
    with(
        problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the token service does not answer; retry later".to_owned(),
        ),
        RETRY_AFTER,
        "1",
    )
}

/// The guard itself is set up wrong (its own token refused, a route without the
/// capture its resource names): the app's fault, not the client's.
pub fn misconfigured() -> Response {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the server failed on this request; nothing was changed".to_owned(),
    )
}
