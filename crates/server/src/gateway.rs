//! Gateway mode: tessera in front of an API, on a listener of its own. Every request
//! is decided by the route rules ([`Engine::guard`]) and, if allowed, proxied to the
//! upstream with identity headers added; bodies stream both ways, never buffered.
//!
//! The gateway has its own listener so the guarded API may use any path, `/v1`
//! included, without meeting tessera's own API.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{self, HeaderName};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use http_body_util::BodyExt;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::config::GatewayConfig;
use crate::http::credentials::{self, CredentialHeaders, X_API_KEY};
use crate::http::guard_fields::{self, DenyStyle, IDENTITY_PREFIX};
use crate::http::problem;
use crate::limits::{BodyFault, IdleTimeoutBody, Limits};
use tessera_engine::Engine;
use tessera_engine::EngineError;
use tessera_engine::metrics::{Endpoint, Outcome};

/// How long to wait for the upstream to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), and
/// `Expect`, which the gateway has already answered.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::EXPECT,
];

pub struct Gateway {
    engine: Arc<Engine>,
    client: Client<HttpsConnector<HttpConnector>, Body>,
    config: GatewayConfig,
    /// A client's body may pause at most this long between two pieces.
    body_idle: Duration,
}

/// The gateway's router: every path, every method. Refused when the upstream's CA
/// file cannot be used.
pub fn router(
    engine: Arc<Engine>,
    config: GatewayConfig,
    limits: Limits,
) -> Result<Router, String> {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    connector.set_nodelay(true);
    // The upstream's scheme decides: hyper-rustls passes http through.
    connector.enforce_http(false);
    let tls = crate::tls::client_config(config.upstream_ca.as_deref())
        .map_err(|e| format!("[gateway] upstream_ca: {e}"))?;
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(connector);
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let gateway = Arc::new(Gateway {
        engine,
        client,
        config,
        body_idle: limits.body_read_timeout,
    });
    Ok(
        crate::http::with_logging_and_panic_guard(Router::new().fallback(proxy), "gateway")
            .with_state(gateway),
    )
}

async fn proxy(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (mut parts, mut body) = request.into_parts();
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let started = std::time::Instant::now();
    let decided = {
        let found = CredentialHeaders::in_headers(&parts.headers);
        let from = credentials::client_of(&gateway.engine, Some(client.ip()), &found);
        gateway
            .engine
            .guard(
                parts.method.as_str(),
                &target,
                credentials::from_found(&found),
                from,
            )
            .await
    };
    // The gateway's own latency: its decision, not the upstream's answer.
    let answers = &gateway.engine.metrics().answers;
    let allowed = match decided {
        Ok(allowed) => {
            answers.record(Endpoint::Gateway, Outcome::Valid, started.elapsed());
            allowed
        }
        Err(denied) => {
            let refusal = guard_fields::deny(
                denied,
                DenyStyle {
                    basic_challenge: true,
                    rate_limited_as: None,
                },
            );
            let outcome = Outcome::of_status(refusal.status().as_u16());
            answers.record(Endpoint::Gateway, outcome, started.elapsed());
            return refusal;
        }
    };

    if parts.method == Method::POST && !allowed.method_override {
        body = match refuse_method_override(&target, &parts.headers, body).await {
            Ok(body) => body,
            Err(refusal) => return refusal,
        };
    }

    let Ok(uri) = upstream_uri(&gateway.config.upstream, &target) else {
        return problem::error_response(EngineError::BadRequest {
            code: "rejected_target",
            detail: "the request target cannot be passed on".into(),
        });
    };
    let original_host = parts.headers.get(header::HOST).cloned();
    let path = forwarded_path(&gateway.engine, client.ip(), &parts.headers);
    let headers = &mut parts.headers;
    strip_hop_by_hop(headers);
    let refused: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_spoofable(name))
        .cloned()
        .collect();
    for name in refused {
        headers.remove(name);
    }
    if !gateway.config.forward_credential {
        headers.remove(header::AUTHORIZATION);
        headers.remove(X_API_KEY);
    }
    guard_fields::set_identity(
        headers,
        allowed.identity.as_ref(),
        gateway.engine.index().catalogue(),
    );
    // Clients reach the gateway over TLS when it has a certificate.
    let tls = gateway.config.tls.is_some();
    let proto = HeaderValue::from_static(if tls { "https" } else { "http" });
    headers.insert(HeaderName::from_static("x-forwarded-proto"), proto);
    if let Some(host) = &original_host {
        headers.insert(HeaderName::from_static("x-forwarded-host"), host.clone());
    }
    set_forwarded_for(headers, &path, tls, original_host.as_ref());
    if let Some(authority) = gateway.config.upstream.authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        headers.insert(header::HOST, host);
    }
    parts.uri = uri;
    parts.version = axum::http::Version::HTTP_11;
    let fault = Arc::new(OnceLock::new());
    let body = Body::new(IdleTimeoutBody::new(
        body,
        gateway.body_idle,
        Arc::clone(&fault),
    ));
    let upstream_request = Request::from_parts(parts, body);

    let wait = Duration::from_secs(gateway.config.upstream_timeout_secs);
    let answer = tokio::time::timeout(wait, gateway.client.request(upstream_request)).await;
    let mut response = match answer {
        Ok(Ok(response)) => response.map(Body::new),
        Ok(Err(_)) if fault.get().is_some() => {
            // The client's body failed, not the upstream.
            return match fault.get() {
                Some(BodyFault::Stalled) => problem::route_problem(
                    StatusCode::REQUEST_TIMEOUT,
                    "request_timeout",
                    format!(
                        "the request body paused for more than {} s; send it without pauses",
                        gateway.body_idle.as_secs_f64()
                    ),
                ),
                _ => problem::route_problem(
                    StatusCode::BAD_REQUEST,
                    "invalid_body",
                    "the request body was malformed or shorter than announced".into(),
                ),
            };
        }
        Ok(Err(error)) => {
            // The whole chain: a certificate the CA does not vouch for is at its end.
            let error = tessera_store::with_causes(&error);
            tracing::warn!(%error, "the upstream could not be reached");
            return problem::route_problem(
                StatusCode::BAD_GATEWAY,
                "upstream_unavailable",
                "the API behind this gateway did not answer; retry later".into(),
            );
        }
        Err(_) => {
            tracing::warn!(
                seconds = wait.as_secs(),
                "the upstream did not answer in time"
            );
            return problem::route_problem(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                format!(
                    "the API behind this gateway did not answer within {} s",
                    wait.as_secs()
                ),
            );
        }
    };
    strip_hop_by_hop(response.headers_mut());
    guard_fields::set_rate(response.headers_mut(), allowed.rate.as_ref());
    guard_fields::set_usage(response.headers_mut(), allowed.left.as_ref());
    response
}

/// The upstream's URL for a request target: the upstream's path prefix, then the
/// target as the client sent it (the rules checked it in that very form).
fn upstream_uri(upstream: &Uri, target: &str) -> Result<Uri, axum::http::Error> {
    let prefix = upstream.path().trim_end_matches('/');
    let mut builder = Uri::builder().path_and_query(format!("{prefix}{target}"));
    if let Some(scheme) = upstream.scheme() {
        builder = builder.scheme(scheme.clone());
    }
    if let Some(authority) = upstream.authority() {
        builder = builder.authority(authority.clone());
    }
    builder.build()
}

/// Headers a client may not send through, spelled with `-` or `_` (CGI, WSGI, Rack
/// and PHP read `X_Tessera_Owner` as `X-Tessera-Owner`): tessera's identity headers;
/// method overrides, which would run an allowed POST as, say, a DELETE; and what
/// proxies say about the request, which a framework that honours it would take for
/// another path, method or client than the one tessera authorised. The gateway sets
/// `X-Forwarded-*` and `Forwarded` itself.
fn is_spoofable(name: &HeaderName) -> bool {
    let name = name.as_str().replace('_', "-");
    name.starts_with(IDENTITY_PREFIX)
        || name.starts_with("x-forwarded-")
        || matches!(
            name.as_str(),
            "x-http-method-override"
                | "x-http-method"
                | "x-method-override"
                | "forwarded"
                | "x-real-ip"
                | "x-client-ip"
                | "true-client-ip"
                | "x-cluster-client-ip"
                | "x-original-url"
                | "x-rewrite-url"
                | "x-original-uri"
                | "x-original-method"
                | "x-original-host"
        )
}

/// The largest URL-encoded form body the gateway reads to look for `_method`.
const MAX_CHECKED_FORM_BYTES: usize = 1024 * 1024;

/// Refuses a POST that carries `_method` in its query or in a URL-encoded form body
/// (Rails and Laravel run such a POST as the method it names); hands the body back,
/// read whole if it was a form. Multipart forms are not read (they stream).
async fn refuse_method_override(
    target: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Body, Response> {
    let refusal = |place: &str| {
        problem::route_problem(
            StatusCode::BAD_REQUEST,
            "method_override_refused",
            format!(
                "`_method` in the {place} would make this POST act as another method behind \
                 the gateway; send the method itself, or allow it on this route \
                 (method_override = true)"
            ),
        )
    };
    let query = target.split_once('?').map_or("", |(_, query)| query);
    if has_method_field(query.as_bytes()) {
        return Err(refusal("query"));
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|kind| {
            kind.trim_start()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !is_form {
        return Ok(body);
    }
    match http_body_util::Limited::new(body, MAX_CHECKED_FORM_BYTES)
        .collect()
        .await
    {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            if has_method_field(&bytes) {
                Err(refusal("form"))
            } else {
                Ok(Body::from(bytes))
            }
        }
        Err(_) => Err(problem::route_problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "form_too_large",
            format!(
                "a URL-encoded form through the gateway may be at most {} KiB (it is checked \
                 for `_method`); send larger data as multipart or JSON",
                MAX_CHECKED_FORM_BYTES / 1024
            ),
        )),
    }
}

/// True when URL-encoded `pairs` have a `_method` field, however its name is encoded.
fn has_method_field(pairs: &[u8]) -> bool {
    form_urlencoded::parse(pairs).any(|(name, _)| name == "_method")
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
}

/// The request's path as far as it can be believed, client first, this gateway's
/// peer last: the connection's address alone, or, from a trusted proxy, the chain
/// it passes on back to the first address no trusted proxy added.
fn forwarded_path(
    engine: &Engine,
    peer: std::net::IpAddr,
    headers: &HeaderMap,
) -> Vec<std::net::IpAddr> {
    let text = |name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .collect::<Vec<_>>()
    };
    engine.config().trusted_proxies.believed_chain(
        peer,
        text("x-forwarded-for"),
        text(header::FORWARDED.as_str()),
    )
}

/// Says who the client is and which proxies it came through, in both the de facto
/// and the standard (RFC 7239) header, from `path` alone: whatever the client said
/// of itself was removed, and only trusted proxies' word is in `path`.
fn set_forwarded_for(
    headers: &mut HeaderMap,
    path: &[std::net::IpAddr],
    tls: bool,
    host: Option<&HeaderValue>,
) {
    let listed: Vec<String> = path.iter().map(ToString::to_string).collect();
    if let Ok(value) = HeaderValue::from_str(&listed.join(", ")) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), value);
    }
    let nodes: Vec<String> = path
        .iter()
        .map(|ip| match ip {
            std::net::IpAddr::V4(v4) => format!("for={v4}"),
            std::net::IpAddr::V6(v6) => format!("for=\"[{v6}]\""),
        })
        .collect();
    let proto = if tls { "https" } else { "http" };
    // This gateway's own element is the last: its protocol and host are its own.
    let mut forwarded = format!("{};proto={proto}", nodes.join(", "));
    if let Some(host) = host.and_then(|h| h.to_str().ok())
        && host
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
        forwarded.push_str(&format!(";host=\"{host}\""));
    }
    if let Ok(value) = HeaderValue::from_str(&forwarded) {
        headers.insert(header::FORWARDED, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_paths_keep_the_prefix_and_the_query() {
        let base: Uri = "http://127.0.0.1:9000/base/".parse().unwrap();
        assert_eq!(
            upstream_uri(&base, "/repo/x?service=git-upload-pack")
                .unwrap()
                .to_string(),
            "http://127.0.0.1:9000/base/repo/x?service=git-upload-pack"
        );
        let bare: Uri = "http://127.0.0.1:9000".parse().unwrap();
        assert_eq!(
            upstream_uri(&bare, "/").unwrap().to_string(),
            "http://127.0.0.1:9000/"
        );
    }

    #[test]
    fn identity_and_method_override_headers_are_refused_in_any_spelling() {
        for name in [
            "x-tessera-owner",
            "x_tessera_owner",
            "x-tessera-anything",
            "x-http-method-override",
            "x_method_override",
        ] {
            assert!(
                is_spoofable(&HeaderName::from_bytes(name.as_bytes()).unwrap()),
                "{name}"
            );
        }
        assert!(!is_spoofable(&HeaderName::from_static("x-request-id")));
    }

    #[test]
    fn connection_named_headers_go_too() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-secret-hop"),
        );
        headers.insert("x-secret-hop", HeaderValue::from_static("1"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
    }
}
