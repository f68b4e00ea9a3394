//! The HTTP API: thin handlers over [`Engine`], errors mapped in `problem`, and
//! request logging that names routes, never raw paths (a Relace token travels in one).

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{any, get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use tessera_engine::Engine;

use crate::limits::{ConnectionGate, Limits};

pub mod audit;
pub mod auth;
pub mod authz;
pub mod changes;
pub mod compat;
pub mod connection;
pub mod contract;
pub mod credentials;
pub mod dto;
pub mod exposition;
pub mod guard_fields;
pub mod hot;
pub mod leaks;
pub mod meta;
pub mod oauth;
pub mod origin;
pub mod problem;
pub mod tokens;
pub mod verify;
pub mod webhooks;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub const VERIFY_PATH: &str = "/v1/verify";

/// What the API listener's routes are built with, besides the engine.
#[derive(Clone)]
pub struct RouterSettings {
    /// A page session ends after this long without a request.
    pub ui_session_idle_ms: i64,
    /// Bodies must arrive within these limits.
    pub limits: Limits,
    /// The connection counts `/metrics` reports.
    pub gate: Arc<ConnectionGate>,
    /// Who may read `/metrics`.
    pub metrics: MetricsAccess,
    /// False when `/metrics` has a listener of its own (`metrics_listen`).
    pub serve_metrics: bool,
    /// The listener speaks TLS.
    pub tls: bool,
    /// Turns true when the server stops (open change streams end then).
    pub stopping: changes::Stopping,
    /// Who may report leaked tokens.
    pub leaks: Arc<crate::leaks::LeakReporters>,
}

/// Who may read `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricsAccess {
    /// A token with `metrics:read` is asked for (Prometheus: `authorization`).
    pub require_token: bool,
}

/// The API's and the pages' routes.
pub fn router(engine: Arc<Engine>, settings: RouterSettings) -> Router {
    let mut api = Router::new()
        .route("/v1/tokens", post(tokens::create).get(tokens::list))
        .route(
            "/v1/tokens/self",
            get(tokens::whoami).delete(tokens::revoke_self),
        )
        .route(
            "/v1/tokens/{id}",
            get(tokens::show)
                .patch(tokens::update)
                .delete(tokens::revoke),
        )
        .route("/v1/tokens/{id}/usage", get(tokens::usage))
        .route("/v1/tokens/self/rotate", post(tokens::rotate_self))
        .route("/v1/tokens/{id}/rotate", post(tokens::rotate))
        .route("/v1/audit", get(audit::list))
        .route("/v1/audit/verify", get(audit::verify))
        .route("/v1/webhooks", post(webhooks::create).get(webhooks::list))
        .route(
            "/v1/webhooks/{id}",
            get(webhooks::show)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route("/v1/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/v1/revoke", post(oauth::revoke))
        .route("/v1/leaks", post(leaks::report))
        .route("/v1/repo_token", post(compat::relace_create))
        .route(
            "/v1/repo_token/{token}",
            get(compat::relace_get).delete(compat::relace_delete),
        )
        .route("/repo/{repo_id}/apikey", post(compat::flashback_create))
        // Every route above, those that write or are audited, gets a request id;
        // those below only read (the hot ones among them, on every guarded call).
        .route_layer(axum::middleware::from_fn(origin::tag_request))
        .route("/v1/changes", get(changes::changes))
        .route("/v1/introspect", post(oauth::introspect))
        .route("/v1/catalogue", get(meta::catalogue))
        .route("/healthz", get(meta::healthz))
        .route("/readyz", get(meta::readyz))
        .route("/openapi.json", get(meta::openapi))
        .route("/", get(meta::home))
        .route(VERIFY_PATH, post(verify::verify))
        .route(authz::AUTHZ_PATH, any(authz::authz))
        // The wildcard matches no empty rest: `/v1/authz/` is named on its own, so
        // that the router answers every path `authz::answers_on` sends past it.
        .route("/v1/authz/", any(authz::authz))
        .route("/v1/authz/{*path}", any(authz::authz))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    if settings.serve_metrics {
        api = api.route("/metrics", get(meta::metrics));
    }
    let ui = with_logging_and_panic_guard(
        crate::ui::router(
            Arc::clone(&engine),
            settings.ui_session_idle_ms,
            settings.tls,
        ),
        "ui",
    );
    let body_timeout = settings.limits.body_read_timeout;
    with_logging_and_panic_guard(api, "api")
        .with_state(engine)
        .merge(ui)
        .layer(axum::middleware::from_fn(move |request, next| {
            crate::limits::whole_body_in_time(body_timeout, request, next)
        }))
        .layer(axum::Extension(settings.gate))
        .layer(axum::Extension(settings.metrics))
        .layer(axum::Extension(settings.stopping))
        .layer(axum::Extension(settings.leaks))
}

/// `/metrics` alone, for a listener of its own (`metrics_listen`).
pub fn metrics_router(
    engine: Arc<Engine>,
    gate: Arc<ConnectionGate>,
    access: MetricsAccess,
) -> Router {
    with_logging_and_panic_guard(
        Router::new()
            .route("/metrics", get(meta::metrics))
            .fallback(not_found),
        "metrics",
    )
    .with_state(engine)
    .layer(axum::Extension(gate))
    .layer(axum::Extension(access))
}

/// A header value as text, if it is what `HeaderValue::to_str` accepts: visible
/// ASCII, spaces and tabs. Header values come as bytes from the hand-written loop
/// ([`connection`]) as from hyper.
pub fn header_text(value: &[u8]) -> Option<&str> {
    value
        .iter()
        .all(|&byte| byte == b'\t' || (b' '..=b'~').contains(&byte))
        .then(|| std::str::from_utf8(value).ok())
        .flatten()
}

/// A `HeaderMap`'s fields as the hot paths read them: names and values' bytes.
pub fn header_fields(headers: &HeaderMap) -> impl Iterator<Item = (&str, &[u8])> {
    headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
}

/// True when requests are logged (one line each, at debug level). Below that (the
/// default, info), the trace layer would still time, wrap and classify every request
/// to log nothing, so it is left out, and the own loop does not time its requests;
/// the log filter is set once, before the listeners start.
pub fn request_logging() -> bool {
    tracing::enabled!(Level::DEBUG)
        || tracing::enabled!(target: "tower_http::trace::on_response", Level::DEBUG)
}

/// Request logging that names routes, never raw paths, and a panic guard that
/// answers 500 without echoing the panic (it could hold anything).
pub fn with_logging_and_panic_guard<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    surface: &'static str,
) -> Router<S> {
    let router = if request_logging() {
        router.layer(
            TraceLayer::new_for_http()
                .make_span_with(move |request: &Request| {
                    // The route template only: `/v1/repo_token/{token}`, not the token.
                    let route = request
                        .extensions()
                        .get::<MatchedPath>()
                        .map_or("<unmatched>", MatchedPath::as_str);
                    tracing::debug_span!("request", surface, method = %request.method(), route)
                })
                // One line per request is debug: at the default level (info) the hot
                // path writes no log line, which would cost more than the check itself.
                .on_response(DefaultOnResponse::new().level(Level::DEBUG)),
        )
    } else {
        router
    };
    router.layer(CatchPanicLayer::custom(
        |_panic: Box<dyn std::any::Any + Send>| panic_response(),
    ))
}

/// The answer to a request whose handler panicked.
pub fn panic_response() -> Response {
    tracing::error!("a request handler panicked");
    problem::route_problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the server failed on this request; nothing was changed".into(),
    )
}

pub(crate) async fn not_found() -> Response {
    problem::route_problem(
        StatusCode::NOT_FOUND,
        "no_such_endpoint",
        "no endpoint here; see /openapi.json for the API".into(),
    )
}

async fn method_not_allowed() -> Response {
    problem::route_problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method; see /openapi.json".into(),
    )
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn header_text_reads_what_header_value_reads(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                prop_assert_eq!(super::header_text(&bytes), value.to_str().ok());
            }
        }
    }
}
