//! The Tokens page: a web UI at `/ui`, served by the same binary, over the same
//! [`Engine`] as the API, so a manager sees and touches exactly what its token may
//! through the API.
//!
//! Pages are rendered on the server and work as plain HTML forms; a small script
//! (`assets/app.js`, no build step) only adds conveniences: the copy button, and
//! hiding inputs that the current choices make irrelevant. Every asset is compiled
//! into the binary. Sessions: see [`session`]. Every form carries its session's CSRF
//! secret, cookies are SameSite=Strict, and a request whose `Origin` is another site
//! is refused before any handler runs.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use axum::routing::get;
use maud::Markup;
use subtle::ConstantTimeEq;
use tessera_core::record::{Status, TokenDraft};
use tessera_store::ListQuery;

use crate::error::ServiceError;
use crate::service::{Caller, Credential, Engine};
use session::{Current, Missing, SECRET_LEN, Sessions};
use views::{Choices, FormPage, Viewer};

pub mod form;
pub mod session;
pub mod views;

use form::{FieldError, Fields, TokenForm};

const SESSION_COOKIE: &str = "tessera_session";
/// The sign-in form's CSRF secret, before there is a session (double submit).
const SIGN_IN_COOKIE: &str = "tessera_sign_in";
const PAGE_SIZE: u32 = 25;

const STYLE: &str = include_str!("assets/style.css");
const SCRIPT: &str = include_str!("assets/app.js");

/// Everything every page may need, sent only to pages: the API keeps its own headers.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub struct Ui {
    engine: Arc<Engine>,
    sessions: Sessions,
}

type UiState = State<Arc<Ui>>;

pub fn router(engine: Arc<Engine>) -> Router {
    let ui = Arc::new(Ui {
        sessions: Sessions::new(engine.config().ui_session_idle_ms),
        engine,
    });
    Router::new()
        .route("/ui", get(|| async { Redirect::to("/ui/tokens") }))
        .route("/ui/", get(|| async { Redirect::to("/ui/tokens") }))
        .route("/ui/sign-in", get(sign_in_page).post(sign_in))
        .route("/ui/sign-out", axum::routing::post(sign_out))
        .route("/ui/tokens", get(list))
        .route("/ui/tokens/new", get(new_token_page).post(create))
        .route("/ui/tokens/{id}", get(token_page).post(update))
        .route("/ui/tokens/{id}/created", get(created))
        .route("/ui/tokens/{id}/revoke", get(confirm_revoke).post(revoke))
        .route("/ui/assets/style.css", get(|| asset("text/css", STYLE)))
        .route(
            "/ui/assets/app.js",
            get(|| asset("text/javascript", SCRIPT)),
        )
        .layer(DefaultBodyLimit::max(crate::http::MAX_BODY_BYTES))
        .layer(middleware::from_fn(guard_and_harden))
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

/// Refuses writes from other sites, and gives every page (refusals included) the
/// headers that keep it from being framed, sniffed, cached or leaking its address.
async fn guard_and_harden(request: Request, next: Next) -> Response {
    let write = request.method() != Method::GET && request.method() != Method::HEAD;
    let mut response = if write && !same_origin(request.headers()) {
        views_response(
            StatusCode::FORBIDDEN,
            views::problem(
                None,
                "Request refused",
                "This form was sent from another site. Open tessera's page and submit it from there.",
            ),
        )
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    let defaults = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Not `no-referrer`: under it Chromium sends `Origin: null` on a same-origin
        // form post, which the origin check would refuse.
        (header::REFERRER_POLICY, "same-origin"),
        // A page may show a token's text once; no cache may keep a copy of it.
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in defaults {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}

/// Whether a write comes from a page of this site. Browsers say so themselves in
/// `Sec-Fetch-Site`, which no page can forge, and which a proxy in front (rewriting
/// `Host`) does not change. Older browsers send only `Origin`: it must then name the
/// host the browser asked for. With neither (curl), the SameSite cookie and the
/// form's CSRF secret still stand guard.
fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        // `none`: the user's own action (a bookmark, the address bar).
        return site == "same-origin" || site == "none";
    }
    let Some(origin) = text("origin") else {
        return true;
    };
    let Some((_, authority)) = origin.split_once("://") else {
        return false;
    };
    [text("x-forwarded-host"), text("host")]
        .into_iter()
        .flatten()
        .any(|host| host == authority)
}

/// Whether the browser reached tessera over TLS (directly or through a proxy that
/// says so): then cookies are marked `Secure`. Trusting the header can only make a
/// cookie stricter.
fn over_tls(headers: &HeaderMap) -> bool {
    let says_https = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("https"))
    };
    says_https("x-forwarded-proto") || says_https("forwarded")
}

fn set_cookie(
    name: &str,
    value: &str,
    headers: &HeaderMap,
    clear: bool,
) -> (header::HeaderName, String) {
    let mut cookie = format!("{name}={value}; Path=/ui; HttpOnly; SameSite=Strict");
    if over_tls(headers) {
        cookie.push_str("; Secure");
    }
    if clear {
        cookie.push_str("; Max-Age=0");
    }
    (header::SET_COOKIE, cookie)
}

/// One cookie's value. Hand-written: the UI reads two cookies of its own, which a
/// cookie crate would not make clearer.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

fn secrets_match(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

fn views_response(status: StatusCode, markup: Markup) -> Response {
    (status, markup).into_response()
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Why a signed-in request is refused before it reaches the engine.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    /// The form's CSRF secret is not this session's.
    FormExpired,
    /// A read-only session asked to change tokens.
    NeedsManage,
}

/// A request within a live session, by a token that may still read tokens.
pub struct Signed {
    session: Current,
    caller: Caller,
    can_manage: bool,
}

impl Signed {
    fn viewer(&self) -> Viewer<'_> {
        Viewer {
            name: &self.caller.entry.name,
            csrf: &self.session.csrf,
            can_manage: self.can_manage,
        }
    }

    fn flash(&self, ui: &Ui) -> Option<String> {
        ui.sessions.take_flash(&self.session.cookie)
    }

    /// Checks a posted form's CSRF secret.
    fn check_form(&self, fields: &Fields) -> Result<(), Refusal> {
        if secrets_match(fields.get("csrf"), &self.session.csrf) {
            Ok(())
        } else {
            Err(Refusal::FormExpired)
        }
    }

    /// Refuses read-only sessions a page that changes tokens.
    fn must_manage(&self) -> Result<(), Refusal> {
        if self.can_manage {
            Ok(())
        } else {
            Err(Refusal::NeedsManage)
        }
    }

    /// Checks a posted form of a page that changes tokens.
    fn check_manage_form(&self, fields: &Fields) -> Result<(), Refusal> {
        self.check_form(fields)?;
        self.must_manage()
    }

    fn refuse(&self, refusal: Refusal) -> Response {
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

    /// A page for a service error outside a form.
    fn failure(&self, error: &ServiceError) -> Response {
        let (title, detail) = match error {
            ServiceError::NotFound { .. } => (
                "Token not found",
                "There is no such token among those you can see.".to_owned(),
            ),
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
        match ui.engine.session_caller(&session.token_id) {
            Ok(caller) => Ok(Self {
                can_manage: ui.engine.may_manage_tokens(&caller),
                session,
                caller,
            }),
            Err(_) => {
                // Revoked, expired or narrowed since sign-in: the session ends with it.
                ui.sessions.end(&session.cookie);
                Err(see_other("/ui/sign-in?ended=token"))
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct SignInQuery {
    ended: Option<String>,
}

async fn sign_in_page(
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
    sign_in_form(&headers, StatusCode::OK, None, notice)
}

fn sign_in_form(
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
    let cookie = set_cookie(SIGN_IN_COOKIE, &csrf, headers, false);
    (status, [cookie], views::sign_in(&csrf, error, notice)).into_response()
}

async fn sign_in(State(ui): UiState, headers: HeaderMap, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if !secrets_match(fields.get("csrf"), expected) {
        return sign_in_form(
            &headers,
            StatusCode::FORBIDDEN,
            Some("The sign-in form had expired. Paste the token and sign in again."),
            None,
        );
    }
    let token = fields.get("token");
    if token.is_empty() {
        return sign_in_form(
            &headers,
            StatusCode::BAD_REQUEST,
            Some("Paste a token to sign in with."),
            None,
        );
    }
    let credential = Credential {
        secret: token.to_owned(),
        key_id: None,
    };
    let caller = match ui.engine.authenticate(&credential, None).await {
        Ok(caller) => caller,
        Err(error) => {
            let message = match &error {
                ServiceError::RateLimited { .. } => {
                    "This token is over its rate limit; wait a moment and try again.".to_owned()
                }
                ServiceError::Unavailable(detail) => detail.clone(),
                other => {
                    format!("That token cannot sign in: {other}. Check that it was pasted whole.")
                }
            };
            return sign_in_form(&headers, error.status(), Some(&message), None);
        }
    };
    if !ui.engine.may_read_tokens(&caller) {
        return sign_in_form(
            &headers,
            StatusCode::FORBIDDEN,
            Some(
                "This token may not read or manage tokens: signing in needs tokens:read or tokens:manage.",
            ),
            None,
        );
    }
    let session = ui.sessions.open(caller.id(), ui.engine.now_ms());
    (
        // Appended: two `Set-Cookie` headers, where an array would keep only the last.
        AppendHeaders([
            set_cookie(SESSION_COOKIE, &session, &headers, false),
            set_cookie(SIGN_IN_COOKIE, "", &headers, true),
        ]),
        Redirect::to("/ui/tokens"),
    )
        .into_response()
}

async fn sign_out(State(ui): UiState, signed: Signed, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refusal) = signed.check_form(&Fields::parse(&body)) {
        return signed.refuse(refusal);
    }
    ui.sessions.end(&signed.session.cookie);
    (
        [set_cookie(SESSION_COOKIE, "", &headers, true)],
        Redirect::to("/ui/sign-in?ended=signed_out"),
    )
        .into_response()
}

async fn list(
    State(ui): UiState,
    signed: Signed,
    Query(filters): Query<views::Filters>,
) -> Response {
    let flash = signed.flash(&ui);
    let viewer = signed.viewer();
    let now = ui.engine.now_ms();
    let refused = |status: StatusCode, error: &str| {
        let markup = views::list(
            &viewer,
            flash.as_deref(),
            &filters,
            Some(error),
            &[],
            None,
            now,
        );
        views_response(status, markup)
    };
    let status = match filters.status.as_str() {
        "" => None,
        text => match Status::parse(text) {
            Some(status) => Some(status),
            None => return refused(StatusCode::BAD_REQUEST, "Choose a status from the list."),
        },
    };
    let after = match filters.cursor.as_str() {
        "" => None,
        text => match text.parse::<i64>() {
            Ok(cursor) => Some(cursor),
            Err(_) => {
                return refused(
                    StatusCode::BAD_REQUEST,
                    "That page link is broken; start from the first page.",
                );
            }
        },
    };
    let non_empty = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    let query = ListQuery {
        status,
        owner: non_empty(&filters.owner),
        resource: non_empty(&filters.resource),
        name: non_empty(&filters.name),
        descendants_of: None,
        limit: PAGE_SIZE,
        after,
        now_ms: 0,
    };
    match ui.engine.list(&signed.caller, query).await {
        Ok(listing) => {
            let next = listing.next_cursor.map(|c| c.to_string());
            views::list(
                &viewer,
                flash.as_deref(),
                &filters,
                None,
                &listing.tokens,
                next,
                now,
            )
            .into_response()
        }
        Err(error) => refused(error.status(), &error.to_string()),
    }
}

fn choices(engine: &Engine) -> Choices<'_> {
    Choices {
        default_rate: engine
            .config()
            .default_rate_limit
            .as_ref()
            .map(|limit| (limit.per_minute, limit.burst)),
        scopes: engine.index().catalogue().defs(),
        profiles: engine
            .config()
            .rate_limit_profiles()
            .into_iter()
            .map(|(name, limit)| (name, limit.per_minute, limit.burst))
            .collect(),
    }
}

async fn new_token_page(State(ui): UiState, signed: Signed) -> Response {
    if let Err(refusal) = signed.must_manage() {
        return signed.refuse(refusal);
    }
    let flash = signed.flash(&ui);
    views::token_page(
        &signed.viewer(),
        flash.as_deref(),
        &choices(&ui.engine),
        FormPage::Create,
        &TokenForm::blank(),
        &[],
    )
    .into_response()
}

/// The form again, as typed, with what is wrong next to each field.
fn form_again(
    ui: &Ui,
    signed: &Signed,
    which: FormPage<'_>,
    form: &TokenForm,
    errors: &[FieldError],
    status: StatusCode,
) -> Response {
    let markup = views::token_page(
        &signed.viewer(),
        None,
        &choices(&ui.engine),
        which,
        form,
        errors,
    );
    views_response(status, markup)
}

/// Client mistakes on a form are 422 (the form is shown again); refusals keep theirs.
fn form_status(error: &ServiceError) -> StatusCode {
    match error.status() {
        StatusCode::BAD_REQUEST => StatusCode::UNPROCESSABLE_ENTITY,
        other => other,
    }
}

async fn create(State(ui): UiState, signed: Signed, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    if let Err(refusal) = signed.check_manage_form(&fields) {
        return signed.refuse(refusal);
    }
    let form = TokenForm::parse(&fields);
    let draft = match form.check(None) {
        Ok(changes) => changes.into_new_draft(),
        Err(errors) => {
            return form_again(
                &ui,
                &signed,
                FormPage::Create,
                &form,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    match ui.engine.create(&signed.caller, draft).await {
        Ok((record, secret)) => {
            ui.sessions
                .keep_for_reveal(&signed.session.cookie, &record.id, secret);
            see_other(&format!("/ui/tokens/{}/created", record.id))
        }
        Err(error) => {
            let status = form_status(&error);
            form_again(
                &ui,
                &signed,
                FormPage::Create,
                &form,
                &[FieldError::from_service(&error)],
                status,
            )
        }
    }
}

async fn created(State(ui): UiState, signed: Signed, Path(id): Path<String>) -> Response {
    let record = match ui.engine.get(&signed.caller, &id).await {
        Ok(record) => record,
        Err(error) => return signed.failure(&error),
    };
    let secret = ui.sessions.take_reveal(&signed.session.cookie, &id);
    views::created(
        &signed.viewer(),
        &record,
        secret.as_ref().map(|s| s.expose()),
    )
    .into_response()
}

async fn token_page(State(ui): UiState, signed: Signed, Path(id): Path<String>) -> Response {
    let record = match ui.engine.get(&signed.caller, &id).await {
        Ok(record) => record,
        Err(error) => return signed.failure(&error),
    };
    let flash = signed.flash(&ui);
    let which = FormPage::Edit {
        record: &record,
        now_ms: ui.engine.now_ms(),
    };
    views::token_page(
        &signed.viewer(),
        flash.as_deref(),
        &choices(&ui.engine),
        which,
        &TokenForm::of(&record),
        &[],
    )
    .into_response()
}

async fn update(
    State(ui): UiState,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    if let Err(refusal) = signed.check_manage_form(&fields) {
        return signed.refuse(refusal);
    }
    let record = match ui.engine.get(&signed.caller, &id).await {
        Ok(record) => record,
        Err(error) => return signed.failure(&error),
    };
    let form = TokenForm::parse(&fields);
    let edit_page = || FormPage::Edit {
        record: &record,
        now_ms: ui.engine.now_ms(),
    };
    // The form's own mistakes first, all at once; then the core's rules.
    let changes = match form.check(Some(&TokenForm::of(&record))) {
        Ok(changes) => changes,
        Err(errors) => {
            return form_again(
                &ui,
                &signed,
                edit_page(),
                &form,
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let change = move |draft: &mut TokenDraft| {
        changes.apply(draft);
        Ok(())
    };
    match ui.engine.update(&signed.caller, &id, change).await {
        Ok(updated) => {
            ui.sessions.set_flash(
                &signed.session.cookie,
                format!(
                    "Saved “{}”. The change holds from the next request.",
                    updated.settings.name
                ),
            );
            see_other(&format!("/ui/tokens/{id}"))
        }
        Err(error) => form_again(
            &ui,
            &signed,
            edit_page(),
            &form,
            &[FieldError::from_service(&error)],
            form_status(&error),
        ),
    }
}

async fn confirm_revoke(State(ui): UiState, signed: Signed, Path(id): Path<String>) -> Response {
    if let Err(refusal) = signed.must_manage() {
        return signed.refuse(refusal);
    }
    let record = match ui.engine.get(&signed.caller, &id).await {
        Ok(record) => record,
        Err(error) => return signed.failure(&error),
    };
    let live_descendants = ui
        .engine
        .index()
        .descendants(&id)
        .iter()
        .filter(|slot| !slot.entry().is_revoked())
        .count();
    views::confirm_revoke(&signed.viewer(), &record, live_descendants).into_response()
}

async fn revoke(
    State(ui): UiState,
    signed: Signed,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    if let Err(refusal) = signed.check_manage_form(&Fields::parse(&body)) {
        return signed.refuse(refusal);
    }
    match ui.engine.revoke(&signed.caller, &id).await {
        Ok(record) => {
            ui.sessions.set_flash(
                &signed.session.cookie,
                format!(
                    "Revoked “{}”: it stopped working at once.",
                    record.settings.name
                ),
            );
            see_other(&format!("/ui/tokens/{id}"))
        }
        Err(error) => signed.failure(&error),
    }
}
