//! The response fields of a guarded request, shared by forward-auth and the gateway:
//! identity headers for the API behind, rate-limit fields for the client, and the
//! denials with their challenges.

use std::cell::RefCell;
use std::fmt::Write as _;

use axum::body::Bytes;
use axum::http::header::{HeaderName, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use tessera_core::ratelimit;
use tessera_core::scope::ScopeCatalogue;
use tessera_core::usage::Left;

use tessera_engine::Caller;
use tessera_engine::guard::{Denied, RateReport};
use tessera_engine::index::{Slot, SlotRef};

use crate::http::problem;

pub const TOKEN_ID: HeaderName = HeaderName::from_static("x-tessera-token-id");
pub const TOKEN_NAME: HeaderName = HeaderName::from_static("x-tessera-token-name");
pub const OWNER: HeaderName = HeaderName::from_static("x-tessera-owner");
pub const SCOPES: HeaderName = HeaderName::from_static("x-tessera-scopes");
/// The status tessera decided, on every forward-auth answer (see `RATE_LIMITED_AS`).
pub const STATUS: HeaderName = HeaderName::from_static("x-tessera-status");
/// Sent by a proxy that cannot pass a 429 on (nginx's `auth_request` turns anything
/// but 2xx, 401 and 403 into a 500): the status to answer a rate-limited request with.
/// Only read, so kept as text (see `authz::ProxyHeaders`).
pub const RATE_LIMITED_AS: &str = "x-tessera-rate-limited-as";
pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// Every header a client may not set itself: those tessera sets for the API behind.
pub const IDENTITY_PREFIX: &str = "x-tessera-";

/// The identity headers, in the order [`with_identity_values`] gives their values.
const IDENTITY: [HeaderName; 4] = [TOKEN_ID, TOKEN_NAME, OWNER, SCOPES];

/// Where an answer's header fields go: a `HeaderMap`, or an answer written by hand
/// ([`crate::http::connection`]). Each field is set once: set twice, a `HeaderMap` would
/// keep the last value and the wire would carry both.
pub trait HeaderSink {
    fn set(&mut self, name: &HeaderName, value: &HeaderValue);
}

impl HeaderSink for HeaderMap {
    fn set(&mut self, name: &HeaderName, value: &HeaderValue) {
        self.insert(name.clone(), value.clone());
    }
}

/// Sets the identity headers, always all four, empty when there is no token (a
/// public route), so that a proxy copying them overwrites any a client sent.
pub fn set_identity(
    headers: &mut impl HeaderSink,
    identity: Option<&Caller>,
    catalogue: &ScopeCatalogue,
) {
    with_identity_values(identity, catalogue, |values| {
        for (name, value) in IDENTITY.iter().zip(values) {
            headers.set(name, value);
        }
    });
}

/// The headers of forward-auth's 200: the identity headers, `X-Tessera-Status`,
/// and the rate-limit fields when the token has a rate limit.
pub fn set_allowed(
    headers: &mut impl HeaderSink,
    identity: Option<&Caller>,
    catalogue: &ScopeCatalogue,
    rate: Option<&RateReport>,
    left: Option<&Left>,
) {
    const OK: HeaderValue = HeaderValue::from_static("200");
    set_identity(headers, identity, catalogue);
    headers.set(&STATUS, &OK);
    set_rate(headers, rate);
    set_usage(headers, left);
}

/// Adds what a capped token has left (see [`problem::usage_fields`]).
pub fn set_usage(headers: &mut impl HeaderSink, left: Option<&Left>) {
    let Some(left) = left else { return };
    for (name, value) in problem::usage_fields(left) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.set(&name, &value);
        }
    }
}

/// Calls `with` on the values of the identity headers: token id, name, owner and
/// scopes, empty without a token.
///
/// Remembered for the tokens answered last on this thread, so that a token's many
/// requests write its values once. A slot is one version of a token and never
/// changes (an edit swaps in a new slot), so what was written for it stays true;
/// holding the slot keeps its address from naming another. Hand-written rather than
/// a cache crate: a direct-mapped table looked up by address is a few instructions,
/// where writing the values is two allocations and a validation of every byte, and
/// this runs before every guarded request.
fn with_identity_values<R>(
    identity: Option<&Caller>,
    catalogue: &ScopeCatalogue,
    with: impl FnOnce(&[HeaderValue; 4]) -> R,
) -> R {
    type Remembered = Option<(SlotRef, [HeaderValue; 4])>;
    const WAYS: usize = 64;
    const EMPTY: [HeaderValue; 4] = [const { HeaderValue::from_static("") }; 4];
    thread_local! {
        static RECENT: RefCell<[Remembered; WAYS]> = const { RefCell::new([const { None }; WAYS]) };
    }
    let Some(caller) = identity else {
        return with(&EMPTY);
    };
    let slot = &caller.slot;
    // Slots are allocated far more than 64 bytes apart: the low bits say nothing.
    let way = (std::ptr::from_ref::<Slot>(slot).addr() >> 6) % WAYS;
    RECENT.with_borrow_mut(|recent| {
        let remembered = &mut recent[way];
        match remembered {
            Some((seen, values)) if SlotRef::ptr_eq(seen, slot) => with(values),
            _ => {
                let (_, values) =
                    remembered.insert((SlotRef::clone(slot), written_identity(slot, catalogue)));
                with(values)
            }
        }
    })
}

/// The identity values written out: into one buffer, cut into four (two
/// allocations instead of five).
fn written_identity(slot: &Slot, catalogue: &ScopeCatalogue) -> [HeaderValue; 4] {
    let mut text = String::with_capacity(128);
    let mut ends = [0; 4];
    push_header_text(&mut text, slot.id());
    ends[0] = text.len();
    push_header_text(&mut text, slot.name());
    ends[1] = text.len();
    push_header_text(&mut text, slot.owner().unwrap_or_default());
    ends[2] = text.len();
    // Scope names are plain ASCII already.
    catalogue.write_names(slot.powers().scopes, &mut text);
    ends[3] = text.len();
    let shared = Bytes::from(text);
    let mut start = 0;
    ends.map(|end| {
        let value = HeaderValue::from_maybe_shared(shared.slice(start..end))
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        start = end;
        value
    })
}

/// Appends free text as a header value: bytes outside printable ASCII, and `%`, are
/// percent-encoded, so names in any script survive every proxy unchanged.
fn push_header_text(out: &mut String, text: &str) {
    let text = text.trim();
    let plain = |byte: u8| (b' '..=b'~').contains(&byte) && byte != b'%';
    // Most ids, names and owners are plain already: copied in one go.
    if text.bytes().all(plain) {
        out.push_str(text);
        return;
    }
    for byte in text.bytes() {
        if plain(byte) {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// Adds `RateLimit-Policy` and `RateLimit` when the token has a rate limit.
pub fn set_rate(headers: &mut impl HeaderSink, rate: Option<&RateReport>) {
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
            headers.set(&name, &value);
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
    let mut response = problem::error_response(denied.error);
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

    fn header_text(text: &str) -> String {
        let mut out = String::new();
        push_header_text(&mut out, text);
        out
    }

    #[test]
    fn header_text_survives_any_name() {
        assert_eq!(header_text(" CI deploy "), "CI deploy");
        assert_eq!(header_text("café 100%"), "caf%C3%A9 100%25");
        assert_eq!(header_text("a\r\nb"), "a%0D%0Ab");
    }

    #[test]
    fn allowed_headers_without_a_token() {
        let mut headers = HeaderMap::new();
        set_allowed(
            &mut headers,
            None,
            &ScopeCatalogue::default_catalogue(),
            None,
            None,
        );
        let names: Vec<_> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(
            names,
            [
                "x-tessera-token-id",
                "x-tessera-token-name",
                "x-tessera-owner",
                "x-tessera-scopes",
                "x-tessera-status"
            ]
        );
        assert_eq!(headers[STATUS], "200");
        assert_eq!(headers[TOKEN_NAME], "");
    }
}
