//! Forward-auth: `/v1/authz`, which nginx `auth_request`, Caddy `forward_auth`,
//! Traefik `ForwardAuth` and Envoy `ext_authz` call before passing a request on.
//!
//! The request being guarded is read from, in order: the path after `/v1/authz`
//! (Envoy's `path_prefix`; the call's own method is the original one); else
//! `X-Original-Method` + `X-Original-URI` (nginx); else `X-Forwarded-Method` +
//! `X-Forwarded-Uri` (Traefik, Caddy). Half a pair, two pairs that disagree, or no
//! pair at all is refused: guessing would let a client's own headers pick the route.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::http::credentials::{self, CredentialHeaders, Seen};
use crate::http::guard_fields::{self, DenyStyle, RATE_LIMITED_AS};
use crate::http::hot::{self, HotPath};
use crate::http::problem;
use crate::http::problem::Problem;
use tessera_engine::Engine;
use tessera_engine::EngineError;
use tessera_engine::guard::Allowed;

/// The path forward-auth answers on; anything after it is the guarded path.
pub const AUTHZ_PATH: &str = "/v1/authz";

/// The guarded path in Envoy's form: what follows `/v1/authz` when that is `/...`.
fn envoy_path(path: &str) -> Option<&str> {
    path.strip_prefix(AUTHZ_PATH).filter(|p| p.starts_with('/'))
}

/// True for the paths forward-auth answers on: `/v1/authz` and `/v1/authz/...`.
pub fn answers_on(path: &str) -> bool {
    path == AUTHZ_PATH || envoy_path(path).is_some()
}

/// The headers that describe the guarded request: nginx's pair, then the pair of
/// Traefik and Caddy.
const DESCRIBING: [&str; 4] = [
    "x-original-method",
    "x-original-uri",
    "x-forwarded-method",
    "x-forwarded-uri",
];

/// The headers forward-auth reads, its credential's included, gathered in one pass
/// over the call's headers: a hashed lookup for each name, most of them absent,
/// costs more than the pass, and this runs before every guarded request. Names are
/// compared as text in any case, as they come on the wire.
#[derive(Default)]
struct ProxyHeaders<'a> {
    /// In the order of [`DESCRIBING`].
    describing: [Seen<'a>; 4],
    rate_limited_as: Option<&'a [u8]>,
    credentials: CredentialHeaders<'a>,
}

impl<'a> ProxyHeaders<'a> {
    fn gather(headers: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Self {
        let mut found = Self::default();
        for (name, value) in headers {
            if found.credentials.note(name, value) {
                continue;
            }
            if let Some(at) = DESCRIBING
                .iter()
                .position(|known| known.eq_ignore_ascii_case(name))
            {
                found.describing[at].add(value);
            } else if name.eq_ignore_ascii_case(RATE_LIMITED_AS) {
                found.rate_limited_as.get_or_insert(value);
            }
        }
        found
    }
}

/// Any method on `/v1/authz` and `/v1/authz/...`: 200 with identity headers to
/// pass the request on, 401, 403 or 429 (with a problem body) to refuse it.
#[utoipa::path(get, path = "/v1/authz", operation_id = "forward_auth", tag = "forward-auth",
    params(
        ("X-Original-Method" = Option<String>, Header, description = "nginx: the guarded request's method"),
        ("X-Original-URI" = Option<String>, Header, description = "nginx: the guarded request's URI"),
        ("X-Forwarded-Method" = Option<String>, Header, description = "Traefik, Caddy: the guarded request's method"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "Traefik, Caddy: the guarded request's URI"),
        ("X-Tessera-Rate-Limited-As" = Option<u16>, Header, description = "answer a rate-limited request with this 4xx status instead of 429 (nginx)"),
    ),
    responses(
        (status = 200, description = "Allowed; X-Tessera-Token-Id, -Token-Name, -Owner, -Scopes, RateLimit-Policy and RateLimit describe it"),
        (status = 400, body = Problem, description = "No guarded request could be read from the call"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 429, body = Problem)),
    security(("token" = [])))]
pub async fn authz(State(engine): State<Arc<Engine>>, request: Request) -> Response {
    hot::answer_routed(&engine, HotPath::ForwardAuth, request).await
}

/// Forward-auth's decision on a call, from its method, request target and headers
/// (names in any case): what to pass on with a 200, or the refusal to answer with.
pub async fn decide<'a>(
    engine: &Engine,
    method: &'a str,
    target: &'a str,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    peer: Option<IpAddr>,
) -> Result<Allowed, Response> {
    let proxy = ProxyHeaders::gather(headers);
    // The end client, as the proxy asking says (when trusted): forward-auth's peer
    // is the proxy itself.
    let client = credentials::client_of(engine, peer, &proxy.credentials);
    let style = DenyStyle {
        basic_challenge: false,
        rate_limited_as: proxy
            .rate_limited_as
            .and_then(super::header_text)
            .and_then(|v| v.trim().parse::<StatusCode>().ok())
            .filter(|s| s.is_client_error()),
    };
    let (method, target) =
        guarded_request(method, target, &proxy).map_err(problem::error_response)?;
    engine
        .guard(
            method,
            target,
            credentials::from_found(&proxy.credentials),
            client,
        )
        .await
        .map_err(|denied| guard_fields::deny(denied, style))
}

/// The method and request target being guarded, borrowed from the call where it
/// can be: this runs before every guarded request. `target` is the call's own.
fn guarded_request<'a>(
    method: &'a str,
    target: &'a str,
    proxy: &ProxyHeaders<'a>,
) -> Result<(&'a str, &'a str), EngineError> {
    let [
        original_method,
        original_uri,
        forwarded_method,
        forwarded_uri,
    ] = proxy.describing;
    let original = pair(
        (original_method, DESCRIBING[0]),
        (original_uri, DESCRIBING[1]),
    )?;
    let forwarded = pair(
        (forwarded_method, DESCRIBING[2]),
        (forwarded_uri, DESCRIBING[3]),
    )?;
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    if envoy_path(path).is_some() {
        // A proxy pointed at `/v1/authz/` by mistake would otherwise have every
        // request judged as `/`: two descriptions of the request are one too many.
        if original.is_some() || forwarded.is_some() {
            return Err(bad(&format!(
                "the request is described twice: by the path after {AUTHZ_PATH} and by X-Original-*/X-Forwarded-* headers; call {AUTHZ_PATH} itself with the headers, or {AUTHZ_PATH}/<path> without them"
            )));
        }
        // What follows `/v1/authz`, the query included, is the guarded target.
        return Ok((method, &target[AUTHZ_PATH.len()..]));
    }
    match (original, forwarded) {
        (Some(a), Some(b)) if a != b => Err(bad(
            "X-Original-* and X-Forwarded-* name different requests; have the proxy send one pair",
        )),
        (Some(found), _) | (None, Some(found)) => Ok(found),
        (None, None) => Err(EngineError::BadRequest {
            code: "missing_forwarded_request",
            detail: format!(
                "no request to check: send X-Original-Method and X-Original-URI (nginx), X-Forwarded-Method and X-Forwarded-Uri (Traefik, Caddy), or call {AUTHZ_PATH}/<path> (Envoy)"
            ),
        }),
    }
}

/// A method + URI header pair: both, or neither.
fn pair<'a>(
    method: (Seen<'a>, &str),
    uri: (Seen<'a>, &str),
) -> Result<Option<(&'a str, &'a str)>, EngineError> {
    let text = |(seen, name): (Seen<'a>, &str)| -> Result<Option<&'a str>, EngineError> {
        match seen {
            Seen::Absent => Ok(None),
            Seen::Once(value) => super::header_text(value)
                .map(|v| Some(v.trim()))
                .ok_or_else(|| bad(&format!("{name} is not readable text"))),
            Seen::Repeated => Err(bad(&format!("{name} appears more than once"))),
        }
    };
    match (text(method)?, text(uri)?) {
        (None, None) => Ok(None),
        (Some(m), Some(u)) if !m.is_empty() && !u.is_empty() => Ok(Some((m, u))),
        _ => Err(bad(&format!(
            "send both {} and {}, not empty",
            method.1, uri.1
        ))),
    }
}

fn bad(detail: &str) -> EngineError {
    EngineError::BadRequest {
        code: "invalid_forwarded_request",
        detail: detail.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(
        method: &str,
        uri: &str,
        pairs: &[(&'static str, &'static str)],
    ) -> Result<(String, String), String> {
        let found =
            ProxyHeaders::gather(pairs.iter().map(|&(name, value)| (name, value.as_bytes())));
        guarded_request(method, uri, &found)
            .map(|(method, target)| (method.to_owned(), target.to_owned()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn every_proxy_style_is_read() {
        let want = Ok(("POST".to_owned(), "/api/x?y=1".to_owned()));
        assert_eq!(find("POST", "/v1/authz/api/x?y=1", &[]), want);
        assert_eq!(
            find(
                "GET",
                "/v1/authz",
                &[
                    ("x-original-method", "POST"),
                    ("x-original-uri", "/api/x?y=1")
                ]
            ),
            want
        );
        assert_eq!(
            find(
                "GET",
                "/v1/authz",
                &[
                    ("x-forwarded-method", "POST"),
                    ("x-forwarded-uri", "/api/x?y=1")
                ]
            ),
            want
        );
        // Names as they come on the wire, in any case (tessera's own loop reads them so).
        assert_eq!(
            find(
                "GET",
                "/v1/authz",
                &[
                    ("X-Original-Method", "POST"),
                    ("X-ORIGINAL-URI", "/api/x?y=1")
                ]
            ),
            want
        );
    }

    #[test]
    fn doubt_is_refused() {
        for pairs in [
            vec![],
            vec![("x-original-uri", "/a")],
            vec![("x-forwarded-method", "GET")],
            vec![("x-original-method", "GET"), ("x-original-uri", "")],
            vec![
                ("x-original-method", "GET"),
                ("x-original-uri", "/a"),
                ("x-forwarded-method", "GET"),
                ("x-forwarded-uri", "/b"),
            ],
            vec![
                ("x-original-method", "GET"),
                ("x-original-uri", "/a"),
                ("x-original-uri", "/b"),
            ],
        ] {
            assert!(find("GET", "/v1/authz", &pairs).is_err(), "{pairs:?}");
        }
        // The path form and a header pair at once: which is the request?
        let twice = [
            ("x-original-method", "DELETE"),
            ("x-original-uri", "/admin"),
        ];
        assert!(find("GET", "/v1/authz/", &twice).is_err());
        // `/v1/authzfoo` is not the Envoy form.
        assert!(find("GET", "/v1/authzfoo", &[]).is_err());
    }
}
