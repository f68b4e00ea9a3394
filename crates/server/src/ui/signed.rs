//! Signing in and out, and [`Signed`]: a request within a live session, by a token
//! that may still read tokens.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};

use crate::http::credentials::{self, CredentialHeaders};
use crate::http::problem::HttpStatus;
use crate::ui::form::Fields;
use crate::ui::hardening::{cookie, secrets_match, see_other, set_cookie, views_response};
use crate::ui::session::{self, Current, Missing, SECRET_LEN};
use crate::ui::views::{self, Viewer};
use crate::ui::{SESSION_COOKIE, SIGN_IN_COOKIE, Ui, UiState};
use tessera_engine::EngineError;
use tessera_engine::{Caller, Credential, Origin};

use crate::http::origin::{self, RequestId};

/// Why a signed-in request is refused before it reaches the engine.
#[derive(Clone, Copy, Debug)]
pub enum Refusal {
    /// The form's CSRF secret is not this session's.
    FormExpired,
    /// A read-only session asked to change tokens.
    NeedsManage,
}

/// A request within a live session, by a token that may still read tokens.
pub struct Signed {
    pub session: Current,
    pub caller: Caller,
    pub can_manage: bool,
    /// Where the request comes from: a token bound to networks acts only from them.
    pub client: IpAddr,
}

impl Signed {
    pub fn viewer(&self) -> Viewer<'_> {
        Viewer {
            name: self.caller.slot.name(),
            csrf: &self.session.csrf,
            can_manage: self.can_manage,
            is_admin: self.caller.is_admin(),
        }
    }

    pub fn flash(&self, ui: &Ui) -> Option<String> {
        ui.sessions.take_flash(&self.session.cookie)
    }

    /// Checks a posted form's CSRF secret.
    pub fn check_form(&self, fields: &Fields) -> Result<(), Refusal> {
        if secrets_match(fields.get("csrf"), &self.session.csrf) {
            Ok(())
        } else {
            Err(Refusal::FormExpired)
        }
    }

    /// Refuses read-only sessions a page that changes tokens.
    pub fn must_manage(&self) -> Result<(), Refusal> {
        if self.can_manage {
            Ok(())
        } else {
            Err(Refusal::NeedsManage)
        }
    }

    /// Admits a posted form of a page that changes tokens: this session's, from a
    /// token that may manage tokens and has rate-limit budget left (a write spends
    /// one request of it, as the same write through the API would).
    pub async fn admit_write(&self, ui: &Ui, fields: &Fields) -> Result<(), Response> {
        self.check_form(fields)
            .and_then(|()| self.must_manage())
            .map_err(|refusal| self.refuse(refusal))?;
        ui.engine
            .spend_for(&self.caller, self.client)
            .await
            .map_err(|error| self.failure(&error))
    }

    pub fn refuse(&self, refusal: Refusal) -> Response {
        let (title, detail) = match refusal {
            Refusal::FormExpired => (
                "Form expired",
                "This form is from an earlier session. Go back, reload the page and submit it again.",
            ),
            Refusal::NeedsManage => (
                "Not allowed",
                "Your token may read tokens but not manage them: this needs tokens:manage.",
            ),
        };
        views_response(
            StatusCode::FORBIDDEN,
            views::problem(Some(&self.viewer()), title, detail),
        )
    }

    /// A page for an engine error outside a form.
    pub fn failure(&self, error: &EngineError) -> Response {
        let (title, detail) = match error {
            EngineError::NotFound { .. } => (
                "Token not found",
                "There is no such token among those you can see.".to_owned(),
            ),
            EngineError::RateLimited { retry_after_ms, .. } => {
                let seconds = crate::http::problem::retry_after_seconds(*retry_after_ms);
                let page = views::problem(
                    Some(&self.viewer()),
                    "Rate limit reached",
                    &format!(
                        "Your token's rate limit is spent: changes made here spend it as the \
                         API does. Try again in {seconds} s."
                    ),
                );
                let mut response = views_response(error.status(), page);
                if let Ok(value) = axum::http::HeaderValue::from_str(&seconds) {
                    response
                        .headers_mut()
                        .insert(axum::http::header::RETRY_AFTER, value);
                }
                return response;
            }
            other => ("Something went wrong", other.to_string()),
        };
        views_response(
            error.status(),
            views::problem(Some(&self.viewer()), title, &detail),
        )
    }
}

impl FromRequestParts<Arc<Ui>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ui: &Arc<Ui>) -> Result<Self, Response> {
        let now = ui.engine.now_ms();
        let resumed = match cookie(&parts.headers, SESSION_COOKIE) {
            Some(value) => ui.sessions.resume(value, now),
            None => Err(Missing::None),
        };
        let session = match resumed {
            Ok(session) => session,
            Err(Missing::Expired) => return Err(see_other("/ui/sign-in?ended=idle")),
            Err(Missing::None) => return Err(see_other("/ui/sign-in")),
        };
        let client = credentials::client_of(
            &ui.engine,
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip()),
            &CredentialHeaders::in_headers(&parts.headers),
        );
        match ui.engine.session_caller(&session.token_id, client) {
            Ok(mut caller) => {
                caller.origin = Origin {
                    client_ip: Some(client),
                    request_id: origin::request_id(parts),
                };
                Ok(Self {
                    can_manage: ui.engine.may_manage_tokens(&caller),
                    caller,
                    session,
                    client,
                })
            }
            Err(_) => {
                // Revoked, expired or narrowed since sign-in: the session ends with it.
                ui.sessions.end(&session.cookie);
                Err(see_other("/ui/sign-in?ended=token"))
            }
        }
    }
}

/// `?ended=`: why the last session ended, for the sign-in page to say.
#[derive(serde::Deserialize)]
pub struct SignInQuery {
    pub ended: Option<String>,
}

pub async fn sign_in_page(
    State(ui): UiState,
    Query(query): Query<SignInQuery>,
    headers: HeaderMap,
) -> Response {
    if let Some(value) = cookie(&headers, SESSION_COOKIE)
        && ui.sessions.resume(value, ui.engine.now_ms()).is_ok()
    {
        return see_other("/ui/tokens");
    }
    let notice = match query.ended.as_deref() {
        Some("signed_out") => Some("You are signed out."),
        Some("idle") => Some("Your session ended after a while without use. Sign in again."),
        Some("token") => {
            Some("Your session ended: its token is no longer valid or may no longer read tokens.")
        }
        _ => None,
    };
    sign_in_form(&ui, &headers, StatusCode::OK, None, notice)
}

fn sign_in_form(
    ui: &Ui,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
    notice: Option<&str>,
) -> Response {
    // The secret already given to this browser, if any, so that two tabs' sign-in
    // forms both stay good.
    let csrf = cookie(headers, SIGN_IN_COOKIE)
        .filter(|value| value.len() == SECRET_LEN)
        .map_or_else(session::random_secret, str::to_owned);
    let cookie = set_cookie(SIGN_IN_COOKIE, &csrf, ui.secure_cookies(headers), false);
    (status, [cookie], views::sign_in(&csrf, error, notice)).into_response()
}

pub async fn sign_in(
    State(ui): UiState,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if !secrets_match(fields.get("csrf"), expected) {
        return sign_in_form(
            &ui,
            &headers,
            StatusCode::FORBIDDEN,
            Some("The sign-in form had expired. Paste the token and sign in again."),
            None,
        );
    }
    let token = fields.get("token");
    if token.is_empty() {
        return sign_in_form(
            &ui,
            &headers,
            StatusCode::BAD_REQUEST,
            Some("Paste a token to sign in with."),
            None,
        );
    }
    let credential = Credential {
        secret: token.into(),
        key_id: None,
    };
    let client = credentials::client_of(
        &ui.engine,
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip()),
        &CredentialHeaders::in_headers(&headers),
    );
    let mut caller = match ui.engine.authenticate(&credential, None, client).await {
        Ok(caller) => caller,
        Err(error) => {
            let message = match &error {
                EngineError::RateLimited { .. } => {
                    "This token is over its rate limit; wait a moment and try again.".to_owned()
                }
                EngineError::Unavailable(detail) => detail.clone(),
                other => {
                    format!("That token cannot sign in: {other}. Check that it was pasted whole.")
                }
            };
            return sign_in_form(&ui, &headers, error.status(), Some(&message), None);
        }
    };
    if !ui.engine.may_read_tokens(&caller) {
        return sign_in_form(
            &ui,
            &headers,
            StatusCode::FORBIDDEN,
            Some(
                "This token may not read or manage tokens: signing in needs tokens:read or tokens:manage.",
            ),
            None,
        );
    }
    caller.origin.request_id = extensions
        .get::<RequestId>()
        .map(|RequestId(id)| id.clone());
    // No session opens unrecorded: an auditor must see every one.
    if let Err(error) = ui.engine.record_session(&caller, true).await {
        let message = format!("Signing in cannot be recorded now: {error}. Try again shortly.");
        return sign_in_form(&ui, &headers, error.status(), Some(&message), None);
    }
    let session = ui.sessions.open(caller.id(), ui.engine.now_ms());
    (
        // Appended: two `Set-Cookie` headers, where an array would keep only the last.
        AppendHeaders([
            set_cookie(SESSION_COOKIE, &session, ui.secure_cookies(&headers), false),
            set_cookie(SIGN_IN_COOKIE, "", ui.secure_cookies(&headers), true),
        ]),
        Redirect::to("/ui/tokens"),
    )
        .into_response()
}

pub async fn sign_out(
    State(ui): UiState,
    signed: Signed,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = signed.check_form(&Fields::parse(&body)) {
        return signed.refuse(refusal);
    }
    ui.sessions.end(&signed.session.cookie);
    // The session ends whatever happens to its record.
    if let Err(error) = ui.engine.record_session(&signed.caller, false).await {
        tracing::error!(%error, "cannot record a sign-out in the audit log");
    }
    (
        [set_cookie(
            SESSION_COOKIE,
            "",
            ui.secure_cookies(&headers),
            true,
        )],
        Redirect::to("/ui/sign-in?ended=signed_out"),
    )
        .into_response()
}
