//! Errors as RFC 9457 `application/problem+json`, mapped from [`EngineError`] in this
//! one place, and the JSON body extractor whose rejections become problems too.

use axum::body::{Body, Bytes};
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::error::Category;

use crate::http::MAX_BODY_BYTES;
use tessera_core::usage::Left;
use tessera_engine::EngineError;

pub const PROBLEM_JSON: &str = "application/problem+json";

pub use tessera_api::Problem;

fn problem(status: StatusCode, code: &str, detail: String) -> Problem {
    // The document promises these codes alone: a new one goes into the list.
    debug_assert!(
        tessera_api::PROBLEM_CODES.contains(&code),
        "problem code {code:?} is not in tessera_api::PROBLEM_CODES"
    );
    let title = status.canonical_reason().unwrap_or("Error");
    Problem::new(status.as_u16(), title, code, detail)
}

fn respond(problem: Problem, headers: &[(header::HeaderName, String)]) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(problem)).into_response();
    let map = response.headers_mut();
    map.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    for (name, value) in headers {
        if let Ok(value) = HeaderValue::from_str(value) {
            map.insert(name.clone(), value);
        }
    }
    response
}

/// `X-Tessera-Uses-Remaining` and `X-Tessera-Credits-Remaining`, those a capped
/// token has: on its allowed requests and on the refusal once they run out.
pub fn usage_fields(left: &Left) -> Vec<(header::HeaderName, String)> {
    const USES: header::HeaderName = header::HeaderName::from_static("x-tessera-uses-remaining");
    const CREDITS: header::HeaderName =
        header::HeaderName::from_static("x-tessera-credits-remaining");
    [(USES, left.uses), (CREDITS, left.credits)]
        .into_iter()
        .filter_map(|(name, value)| value.map(|value| (name, value.to_string())))
        .collect()
}

/// Whole seconds to wait, rounded up, at least 1.
pub fn retry_after_seconds(ms: u64) -> String {
    ms.div_ceil(1000).max(1).to_string()
}

/// An engine error on its way out as an RFC 9457 problem: handlers return it, and
/// `?` turns an [`EngineError`] into it.
#[derive(Debug)]
pub struct ApiError(pub EngineError);

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        Self(error)
    }
}

/// An engine error as a problem response.
pub fn error_response(error: EngineError) -> Response {
    ApiError(error).into_response()
}

/// The HTTP status of an engine error, for every surface (API problems, UI pages).
pub trait HttpStatus {
    fn status(&self) -> StatusCode;
}

impl HttpStatus for EngineError {
    fn status(&self) -> StatusCode {
        match self {
            EngineError::Input(_) | EngineError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            EngineError::MissingCredentials { .. } | EngineError::InvalidToken { .. } => {
                StatusCode::UNAUTHORIZED
            }
            EngineError::InsufficientScope { .. } | EngineError::Forbidden { .. } => {
                StatusCode::FORBIDDEN
            }
            EngineError::NotFound { .. } => StatusCode::NOT_FOUND,
            EngineError::Conflict { .. } => StatusCode::CONFLICT,
            EngineError::RateLimited { .. }
            | EngineError::TooManyFailures { .. }
            | EngineError::UsageExhausted { .. } => StatusCode::TOO_MANY_REQUESTS,
            EngineError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            EngineError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let ApiError(error) = self;
        let detail = error.to_string();
        let status = error.status();
        let challenge = |kind: &str, extra: String| {
            (
                header::WWW_AUTHENTICATE,
                format!("Bearer realm=\"tessera\", error=\"{kind}\"{extra}"),
            )
        };
        match error {
            EngineError::Input(input) => {
                let mut body = problem(status, input.code, input.detail);
                body.field = Some(input.field.to_owned());
                body.valid = input.valid;
                respond(body, &[])
            }
            EngineError::BadRequest { code, .. } => respond(problem(status, code, detail), &[]),
            EngineError::MissingCredentials { .. } => respond(
                problem(status, "missing_credentials", detail),
                &[(header::WWW_AUTHENTICATE, "Bearer realm=\"tessera\"".into())],
            ),
            EngineError::InvalidToken { .. } => respond(
                problem(
                    status,
                    "invalid_token",
                    format!("{detail}: present a valid token as `Authorization: Bearer <token>`"),
                ),
                &[challenge("invalid_token", String::new())],
            ),
            EngineError::InsufficientScope { ref scope, .. } => {
                let scope = format!(", scope=\"{scope}\"");
                respond(
                    problem(
                        status,
                        "insufficient_scope",
                        format!("{detail}: use a token that has it"),
                    ),
                    &[challenge("insufficient_scope", scope)],
                )
            }
            EngineError::Forbidden { code, .. } => respond(problem(status, code, detail), &[]),
            EngineError::NotFound { .. } => respond(problem(status, "not_found", detail), &[]),
            EngineError::Conflict { code, .. } => respond(problem(status, code, detail), &[]),
            EngineError::RateLimited { retry_after_ms, .. } => respond(
                problem(status, "rate_limited", detail),
                &[(header::RETRY_AFTER, retry_after_seconds(retry_after_ms))],
            ),
            EngineError::UsageExhausted {
                left,
                retry_after_ms,
            } => {
                let mut headers = vec![(header::RETRY_AFTER, retry_after_seconds(retry_after_ms))];
                headers.extend(usage_fields(&left));
                respond(problem(status, "usage_exhausted", detail), &headers)
            }
            EngineError::TooManyFailures { retry_after_ms } => respond(
                problem(
                    status,
                    "too_many_failures",
                    format!(
                        "{detail}: tokens that do not work were presented from this address too \
                         often; wait, and check the token you send"
                    ),
                ),
                &[(header::RETRY_AFTER, retry_after_seconds(retry_after_ms))],
            ),
            EngineError::Unavailable(_) => respond(
                problem(status, "unavailable", detail),
                &[(header::RETRY_AFTER, "1".into())],
            ),
            EngineError::Internal(_) => respond(problem(status, "internal", detail), &[]),
        }
    }
}

/// A problem for a request that did not reach a handler (unknown route, wrong method).
pub fn route_problem(status: StatusCode, code: &str, detail: String) -> Response {
    respond(problem(status, code, detail), &[])
}

/// `axum::Json`, with every rejection answered as a problem that says what to fix.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let bytes = json_bytes(&parts.headers, body).await?;
        // Every body read so is an object; serde would also read a struct from an
        // array of its fields in order (`[]` for one whose fields all default).
        let first = bytes.iter().find(|byte| !byte.is_ascii_whitespace());
        if first.is_some_and(|&byte| byte != b'{')
            && serde_json::from_slice::<Value>(&bytes).is_ok()
        {
            return Err(error_response(EngineError::BadRequest {
                code: "invalid_body",
                detail: "the JSON body must be an object: {\"field\": value, ...}".into(),
            }));
        }
        parse_json(&bytes).map(Self).map_err(error_response)
    }
}

/// The body of a JSON request: its media type checked first, then the body read
/// ([`read_body`]).
pub async fn json_bytes(headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    if !is_json(headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes)) {
        return Err(unsupported_media_type());
    }
    read_body(body).await
}

/// A request body read whole, at most [`MAX_BODY_BYTES`]: the one body limit of
/// every endpoint that reads a body itself (the router's `DefaultBodyLimit` holds
/// its extractors to the same number).
pub async fn read_body(body: Body) -> Result<Bytes, Response> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(respond(
            problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is larger than {} KiB", MAX_BODY_BYTES / 1024),
            ),
            &[],
        )),
        Err(_) => Err(respond(
            problem(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                "the body could not be read to its end; send it again".to_owned(),
            ),
            &[],
        )),
    }
}

/// The answer to a body whose `Content-Type` is not JSON ([`is_json`]).
pub fn unsupported_media_type() -> Response {
    respond(
        problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`".to_owned(),
        ),
        &[],
    )
}

/// A JSON media type, parameters aside: `application/json` or `application/*+json`
/// (axum's rule), given the `Content-Type` value's bytes if one was sent.
pub fn is_json(content_type: Option<&[u8]>) -> bool {
    let Some(value) = content_type.and_then(crate::http::header_text) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.as_bytes();
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case(b"json")
            || subtype.len() > 5 && subtype[subtype.len() - 5..].eq_ignore_ascii_case(b"+json"))
}

/// Parses a JSON body, borrowing from it where `T` does. A body that does not parse
/// is parsed once more, through serde_path_to_error, to name the field at fault:
/// naming it on every parse would cost as much again as the parse itself.
pub fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, EngineError> {
    let failure = match serde_json::from_slice(bytes) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    let mut explained = serde_json::Deserializer::from_slice(bytes);
    let (path, error) = match serde_path_to_error::deserialize::<_, T>(&mut explained) {
        Err(error) => (error.path().to_string(), error.into_inner()),
        // Parsed this time: what failed was the text after the value.
        Ok(_) => (".".to_owned(), failure),
    };
    let (code, detail) = match error.classify() {
        Category::Data if path == "." => (
            "invalid_body",
            format!("the JSON body does not fit this endpoint: {error}"),
        ),
        Category::Data => (
            "invalid_body",
            format!("the JSON body does not fit this endpoint: at `{path}`: {error}"),
        ),
        Category::Syntax | Category::Eof | Category::Io => (
            "malformed_json",
            format!("the body is not valid JSON: {error}"),
        ),
    };
    Err(EngineError::BadRequest { code, detail })
}

/// `axum::extract::Query`, with rejections answered as problems.
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(respond(
                problem(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!(
                        "the query string does not fit this endpoint: {}",
                        rejection.body_text()
                    ),
                ),
                &[],
            )),
        }
    }
}

/// `axum::Form` (`application/x-www-form-urlencoded`), with rejections answered as
/// problems: the RFC 7662 and RFC 7009 endpoints take their input this way.
pub struct ApiForm<T>(pub T);

impl<T, S> FromRequest<S> for ApiForm<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(value)) => Ok(Self(value)),
            Err(rejection) => Err(form_problem(rejection)),
        }
    }
}

fn form_problem(rejection: FormRejection) -> Response {
    let status = rejection.status();
    let (status, code, detail) = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        (
            status,
            "unsupported_media_type",
            "send the body as `Content-Type: application/x-www-form-urlencoded`, e.g. token=..."
                .to_owned(),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!(
                "the form does not fit this endpoint: {}",
                rejection.body_text()
            ),
        )
    };
    respond(problem(status, code, detail), &[])
}
