//! Where a request came from, for the audit log: the end client's address (by the
//! `trusted_proxies` rule) and the request's id.
//!
//! The id is the caller's `X-Request-Id` when it is a plain token of at most 128
//! characters (a proxy in front, nginx's `$request_id` or Envoy's, already made
//! one, and logs on both sides then share it), else one tessera makes; either way
//! the answer carries it back. Only the routes that may write are tagged: the hot
//! endpoints neither write nor pay for it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tessera_engine::{Engine, Origin};

use crate::http::credentials::{self, CredentialHeaders};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a caller.
const MAX_REQUEST_ID: usize = 128;

/// A request's id, as [`tag_request`] settled it.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Gives the request its id and the answer the same id.
pub async fn tag_request(mut request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_plain_id(id))
        .map(str::to_owned);
    let id = given.unwrap_or_else(|| tessera_core::random::identifier("req"));
    let echoed = HeaderValue::from_str(&id).ok();
    request.extensions_mut().insert(RequestId(id));
    let mut response = next.run(request).await;
    if let Some(echoed) = echoed {
        response.headers_mut().insert(REQUEST_ID, echoed);
    }
    response
}

/// Letters, digits and `-_.:/+=`: nothing a log or a terminal would read as more.
fn is_plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
}

/// The request's origin, for a handler that writes without an authenticated
/// caller (RFC 7009's revocation, a signed leak report).
pub struct RequestOrigin(pub Origin);

impl FromRequestParts<Arc<Engine>> for RequestOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        engine: &Arc<Engine>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(origin_of(engine, parts)))
    }
}

/// The origin of the request whose head is `parts`.
pub fn origin_of(engine: &Engine, parts: &Parts) -> Origin {
    let found = CredentialHeaders::in_headers(&parts.headers);
    Origin {
        client_ip: Some(credentials::client_of(engine, peer_of(parts), &found)),
        request_id: request_id(parts),
    }
}

/// The connection's address.
pub fn peer_of(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
}

/// The id [`tag_request`] gave the request.
pub fn request_id(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<RequestId>()
        .map(|RequestId(id)| id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_are_taken_from_callers() {
        assert!(is_plain_id("7f3b0c1e-2d4a-4b5c-8d6e-0f1a2b3c4d5e"));
        assert!(is_plain_id("Root=1-67891233-abcdef012345678912345678"));
        assert!(!is_plain_id(""));
        assert!(!is_plain_id("a b"));
        assert!(!is_plain_id("x\u{1b}[31m"));
        assert!(!is_plain_id(&"a".repeat(129)));
    }
}
