//! The Tokens page: a web UI at `/ui`, served by the same binary, over the same
//! [`Engine`] as the API, so a manager sees and touches exactly what its token may
//! through the API.
//!
//! Pages are rendered on the server and work as plain HTML forms; a small script
//! (`assets/app.js`, no build step) only adds conveniences: the copy button, and
//! hiding inputs that the current choices make irrelevant. Every asset is compiled
//! into the binary.
//!
//! - [`guard`]: writes only from this site, the pages' security headers, cookies;
//! - [`signed`]: signing in and out, and the session every other page needs;
//! - [`session`]: the sessions themselves;
//! - [`pages`]: the Tokens pages, over [`form`] (input) and [`views`] (markup).

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::middleware;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use session::Sessions;
use tessera_engine::Engine;

pub mod audit;
pub mod chart;
pub mod form;
pub mod hardening;
pub mod pages;
pub mod session;
pub mod signed;
pub mod views;
pub mod webhooks;

pub(crate) const SESSION_COOKIE: &str = "tessera_session";
/// The sign-in form's CSRF secret, before there is a session (double submit).
pub(crate) const SIGN_IN_COOKIE: &str = "tessera_sign_in";
pub(crate) const PAGE_SIZE: u32 = 25;

const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/app.js");

/// What every page handler shares.
pub struct Ui {
    engine: Arc<Engine>,
    sessions: Sessions,
    /// The listener speaks TLS itself: every cookie is `Secure`.
    over_tls: bool,
}

impl Ui {
    /// Whether this request's cookies are marked `Secure`: on a TLS listener, or
    /// when a proxy in front says the browser used https.
    pub(crate) fn secure_cookies(&self, headers: &axum::http::HeaderMap) -> bool {
        self.over_tls || hardening::over_tls(headers)
    }
}

pub(crate) type UiState = State<Arc<Ui>>;

/// The pages' routes; a session ends after `session_idle_ms` without a request.
pub fn router(engine: Arc<Engine>, session_idle_ms: i64, over_tls: bool) -> Router {
    let ui = Arc::new(Ui {
        sessions: Sessions::new(session_idle_ms),
        engine,
        over_tls,
    });
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/tokens") }))
        .route("/ui/", get(|| async { Redirect::to("/ui/tokens") }))
        .route(
            "/ui/sign-in",
            get(signed::sign_in_page).post(signed::sign_in),
        )
        .route("/ui/sign-out", post(signed::sign_out))
        .route("/ui/tokens", get(pages::list))
        .route(
            "/ui/tokens/new",
            get(pages::new_token_page).post(pages::create),
        )
        .route(
            "/ui/tokens/{id}",
            get(pages::token_page).post(pages::update),
        )
        .route("/ui/tokens/{id}/created", get(pages::created))
        .route(
            "/ui/tokens/{id}/rotate",
            get(pages::confirm_rotate).post(pages::rotate),
        )
        .route(
            "/ui/tokens/{id}/revoke",
            get(pages::confirm_revoke).post(pages::revoke),
        )
        .route("/ui/audit", get(audit::list))
        .route("/ui/audit/verify", get(audit::verify))
        .route("/ui/webhooks", get(webhooks::list))
        .route("/ui/webhooks/{id}", get(webhooks::deliveries))
        .route("/ui/assets/style.css", get(|| asset("text/css", STYLE)))
        .route(
            "/ui/assets/app.js",
            get(|| asset("text/javascript", SCRIPT)),
        )
        .layer(DefaultBodyLimit::max(crate::http::MAX_BODY_BYTES))
        .layer(middleware::from_fn(hardening::guard_and_harden))
        .layer(middleware::from_fn(crate::http::origin::tag_request))
        .with_state(ui)
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
