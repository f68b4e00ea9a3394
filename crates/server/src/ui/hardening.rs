//! What guards every page: writes only from this site, the headers that keep pages
//! out of frames and caches, the session cookies, and the CSRF secret's comparison.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;
use subtle::ConstantTimeEq;

use crate::ui::views;

/// Everything every page may need, sent only to pages: the API keeps its own headers.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Refuses writes from other sites, and gives every page (refusals included) the
/// headers that keep it from being framed, sniffed, cached or leaking its address.
pub async fn guard_and_harden(request: Request, next: Next) -> Response {
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
pub(crate) fn over_tls(headers: &HeaderMap) -> bool {
    let says_https = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().contains("https"))
    };
    says_https("x-forwarded-proto") || says_https("forwarded")
}

pub fn set_cookie(
    name: &str,
    value: &str,
    secure: bool,
    clear: bool,
) -> (header::HeaderName, String) {
    let mut cookie = format!("{name}={value}; Path=/ui; HttpOnly; SameSite=Strict");
    if secure {
        cookie.push_str("; Secure");
    }
    if clear {
        cookie.push_str("; Max-Age=0");
    }
    (header::SET_COOKIE, cookie)
}

/// One cookie's value. Hand-written: the UI reads two cookies of its own, which a
/// cookie crate would not make clearer.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

pub fn secrets_match(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

pub fn views_response(status: StatusCode, markup: Markup) -> Response {
    (status, markup).into_response()
}

pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}
