//! The response fields of a guarded request, shared by forward-auth and the gateway:
//! identity headers for the API behind, rate-limit fields for the client, and the
//! denials with their challenges.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::http::header::{HeaderName, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_core::ratelimit;
use tessera_core::scope::ScopeCatalogue;

use crate::guard::{Denied, RateReport};
use crate::service::Caller;

pub const TOKEN_ID: HeaderName = HeaderName::from_static("x-tessera-token-id");
pub const TOKEN_NAME: HeaderName = HeaderName::from_static("x-tessera-token-name");
pub const OWNER: HeaderName = HeaderName::from_static("x-tessera-owner");
pub const SCOPES: HeaderName = HeaderName::from_static("x-tessera-scopes");
/// The status tessera decided, on every forward-auth answer (see `RATE_LIMITED_AS`).
pub const STATUS: HeaderName = HeaderName::from_static("x-tessera-status");
/// Sent by a proxy that cannot pass a 429 on (nginx's `auth_request` turns anything
/// but 2xx, 401 and 403 into a 500): the status to answer a rate-limited request with.
pub const RATE_LIMITED_AS: HeaderName = HeaderName::from_static("x-tessera-rate-limited-as");
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Every header a client may not set itself: those tessera sets for the API behind.
pub const IDENTITY_PREFIX: &str = "x-tessera-";

/// Sets the identity headers, always all four, empty when there is no token (a
/// public route), so that a proxy copying them overwrites any a client sent.
pub fn set_identity(
    headers: &mut HeaderMap,
    identity: Option<&Caller>,
    catalogue: &ScopeCatalogue,
) {
    let Some(caller) = identity else {
        for header in [TOKEN_ID, TOKEN_NAME, OWNER, SCOPES] {
            headers.insert(header, HeaderValue::from_static(""));
        }
        return;
    };
    let slot = &caller.slot;
    headers.insert(TOKEN_ID, header_text(slot.id()));
    headers.insert(TOKEN_NAME, header_text(slot.name()));
    headers.insert(OWNER, header_text(slot.owner().unwrap_or_default()));
    // Scope names are plain ASCII: the joined text becomes the value without a copy.
    let scopes = catalogue.names_in(slot.powers().scopes).join(" ");
    headers.insert(
        SCOPES,
        HeaderValue::from_maybe_shared(Bytes::from(scopes))
            .unwrap_or_else(|_| HeaderValue::from_static("")),
    );
}

/// Free text as a header value: bytes outside printable ASCII, and `%`, are
/// percent-encoded, so names in any script survive every proxy unchanged.
fn header_text(text: &str) -> HeaderValue {
    let text = text.trim();
    let plain = |byte: u8| (b' '..=b'~').contains(&byte) && byte != b'%';
    // Most names and owners are plain already: one copy, straight into the value.
    if text.bytes().all(plain)
        && let Ok(value) = HeaderValue::from_str(text)
    {
        return value;
    }
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if plain(byte) {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    HeaderValue::from_maybe_shared(Bytes::from(out))
        .unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Adds `RateLimit-Policy` and `RateLimit` when the token has a rate limit.
pub fn set_rate(headers: &mut HeaderMap, rate: Option<&RateReport>) {
    let Some(rate) = rate else { return };
    let fields = [
        (
            RATELIMIT_POLICY,
            ratelimit::policy_field(&rate.policy, &rate.limit),
        ),
        (
            RATELIMIT,
            ratelimit::state_field(&rate.policy, &rate.decision),
        ),
    ];
    for (name, value) in fields {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

/// How a denial is worded for one kind of caller.
#[derive(Clone, Copy, Default)]
pub struct DenyStyle {
    /// Also offer HTTP Basic on a 401: git sends the token from its URL only then.
    pub basic_challenge: bool,
    /// Answer a rate-limited request with this status instead of 429.
    pub rate_limited_as: Option<StatusCode>,
}

/// A denial as a problem response, with its challenge and rate-limit fields.
pub fn deny(denied: Denied, style: DenyStyle) -> Response {
    // The rate fields are taken first: the error is consumed by the response.
    let rate = denied.rate;
    let mut response = denied.error.into_response();
    let status = response.status();
    let headers = response.headers_mut();
    set_rate(headers, rate.as_deref());
    if status == StatusCode::UNAUTHORIZED && style.basic_challenge {
        headers.append(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"tessera\", charset=\"UTF-8\""),
        );
    }
    if status == StatusCode::TOO_MANY_REQUESTS
        && let Some(instead) = style.rate_limited_as
    {
        *response.status_mut() = instead;
    }
    response
        .headers_mut()
        .insert(STATUS, HeaderValue::from(status.as_u16()));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_text_survives_any_name() {
        assert_eq!(header_text("CI deploy"), "CI deploy");
        assert_eq!(header_text("café 100%"), "caf%C3%A9 100%25");
        assert_eq!(header_text("a\r\nb"), "a%0D%0Ab");
    }
}
