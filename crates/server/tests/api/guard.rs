//! Guarding another API: forward-auth (`/v1/authz`) in every proxy's dialect, the
//! gateway in front of a real upstream, RFC 7662 introspection and RFC 7009 revocation.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::Request;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_server::Config;
use tessera_server::config::{FileConfig, GatewayConfig, ProcessEnvironment};

use crate::helpers::{Reply, TestApp, reply};

const ROUTES: &str = r#"
[[route]]
method = "GET"
path = "/healthz"
public = true

[[route]]
method = "POST"
path = "/api/v1/apps/{app_id}/events"
scopes = ["events:publish"]
resource = "app:{app_id}"

[[route]]
method = ["GET", "HEAD"]
path = "/api/v1/apps/{app_id}/channels/{rest...}"
scopes = ["channels:read"]
resource = "app:{app_id}"
"#;

pub fn with_routes(config: &mut Config) {
    let file: FileConfig = toml::from_str(ROUTES).expect("routes parse");
    config.engine.routes = Config::from_file(file, &ProcessEnvironment)
        .expect("routes are valid")
        .engine
        .routes;
}

/// A publisher for app 1, two requests at once, one a second after.
async fn publisher(app: &TestApp) -> (String, String) {
    let (id, token, _) = app
        .create(
            &app.admin,
            json!({"name": "publisher", "owner": "user-7", "scopes": ["events:publish"],
                   "resources": ["app:1"], "rate_limit": {"per_minute": 60, "burst": 2}}),
        )
        .await;
    (id, token)
}

/// Calls `/v1/authz` as nginx does.
pub(crate) async fn nginx(app: &TestApp, method: &str, uri: &str, token: Option<&str>) -> Reply {
    let mut request = app
        .client
        .get(format!("{}/v1/authz", app.base))
        .header("X-Original-Method", method)
        .header("X-Original-URI", uri);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    reply(request.send().await.expect("answer")).await
}

#[tokio::test]
async fn forward_auth_allows_with_identity_and_denies_with_challenges() {
    let app = TestApp::spawn_with(with_routes).await;
    let (id, token) = publisher(&app).await;

    let ok = nginx(&app, "POST", "/api/v1/apps/1/events?x=1", Some(&token)).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.header("x-tessera-token-id"), id);
    assert_eq!(ok.header("x-tessera-token-name"), "publisher");
    assert_eq!(ok.header("x-tessera-owner"), "user-7");
    assert_eq!(ok.header("x-tessera-scopes"), "events:publish");
    assert_eq!(ok.header("ratelimit-policy"), "\"token\";q=2;w=2");
    assert_eq!(ok.header("ratelimit"), "\"token\";r=1;t=1");

    // Another app's resource, another scope: 403 naming what was needed.
    let other_app = nginx(&app, "POST", "/api/v1/apps/2/events", Some(&token)).await;
    other_app.assert_problem(403, "insufficient_scope");
    assert!(
        other_app
            .header("www-authenticate")
            .contains("error=\"insufficient_scope\", scope=\"events:publish\"")
    );
    assert!(
        other_app.body["detail"]
            .as_str()
            .unwrap()
            .contains("the app this path names")
    );
    nginx(&app, "GET", "/api/v1/apps/1/channels/a/b", Some(&token))
        .await
        .assert_problem(403, "insufficient_scope");

    // No token, a bogus one: 401 with a Bearer challenge.
    let none = nginx(&app, "POST", "/api/v1/apps/1/events", None).await;
    none.assert_problem(401, "missing_credentials");
    assert!(none.header("www-authenticate").starts_with("Bearer"));
    let bogus = nginx(&app, "POST", "/api/v1/apps/1/events", Some("tsr_nope")).await;
    bogus.assert_problem(401, "invalid_token");
    assert!(
        bogus
            .header("www-authenticate")
            .contains("error=\"invalid_token\"")
    );

    // The bucket held two: the second passes, the third is limited.
    assert_eq!(
        nginx(&app, "POST", "/api/v1/apps/1/events", Some(&token))
            .await
            .status,
        StatusCode::OK
    );
    let limited = nginx(&app, "POST", "/api/v1/apps/1/events", Some(&token)).await;
    limited.assert_problem(429, "rate_limited");
    assert_eq!(limited.header("retry-after"), "1");
    assert_eq!(limited.header("ratelimit"), "\"token\";r=0;t=1");
    // nginx can only pass 401 and 403 on: asked to, tessera folds 429 into 403.
    let folded = reply(
        app.client
            .get(format!("{}/v1/authz", app.base))
            .header("X-Original-Method", "POST")
            .header("X-Original-URI", "/api/v1/apps/1/events")
            .header("X-Tessera-Rate-Limited-As", "403")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(folded.status, StatusCode::FORBIDDEN);
    assert_eq!(folded.header("x-tessera-status"), "429");
    assert_eq!(folded.header("retry-after"), "1");

    // Refused requests spent nothing; a second later one passes again.
    app.advance_secs(1);
    assert_eq!(
        nginx(&app, "POST", "/api/v1/apps/1/events", Some(&token))
            .await
            .status,
        StatusCode::OK
    );

    // An edit shows in the very next answer's identity (the values a thread
    // remembers belong to one version of the token).
    let edited = app
        .patch(
            &format!("/v1/tokens/{id}"),
            &app.admin,
            json!({"name": "publisher 2", "owner": "user-8"}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    app.advance_secs(1);
    let renamed = nginx(&app, "POST", "/api/v1/apps/1/events", Some(&token)).await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(renamed.header("x-tessera-token-name"), "publisher 2");
    assert_eq!(renamed.header("x-tessera-owner"), "user-8");
}

#[tokio::test]
async fn forward_auth_fails_closed() {
    let app = TestApp::spawn_with(with_routes).await;
    let (_, token) = publisher(&app).await;
    for trick in [
        "/api/v1/apps/1/../1/events",
        "/api/v1/apps/1/%2e%2e/1/events",
        "/api/v1/apps//1/events",
        "/api/v1/apps/1%2Fevents",
        "/api/v1/apps/1/events%00",
        "/api/v1/apps/%zz/events",
    ] {
        nginx(&app, "POST", trick, Some(&token))
            .await
            .assert_problem(403, "rejected_target");
    }
    // No rule matches: denied (a valid token learns why, a dead one gets 401).
    let unmatched = nginx(&app, "DELETE", "/api/v1/apps/1/events", Some(&token)).await;
    unmatched.assert_problem(403, "no_route");
    nginx(&app, "DELETE", "/api/v1/apps/1/events", Some("tsr_nope"))
        .await
        .assert_problem(401, "invalid_token");

    // Half a pair, no pair, or two pairs that disagree: 400, never an allow.
    let call = |headers: Vec<(&'static str, &'static str)>| {
        let mut request = app
            .client
            .get(format!("{}/v1/authz", app.base))
            .bearer_auth(&token);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        async move { reply(request.send().await.unwrap()).await }
    };
    call(vec![])
        .await
        .assert_problem(400, "missing_forwarded_request");
    call(vec![("X-Original-URI", "/api/v1/apps/1/events")])
        .await
        .assert_problem(400, "invalid_forwarded_request");
    call(vec![
        ("X-Original-Method", "POST"),
        ("X-Original-URI", "/api/v1/apps/1/events"),
        ("X-Forwarded-Method", "POST"),
        ("X-Forwarded-Uri", "/api/v1/apps/2/events"),
    ])
    .await
    .assert_problem(400, "invalid_forwarded_request");

    // A public route needs no token, and still overwrites identity headers.
    let public = nginx(&app, "GET", "/healthz", None).await;
    assert_eq!(public.status, StatusCode::OK);
    assert!(public.headers.contains_key("x-tessera-token-id"));
    assert_eq!(public.header("x-tessera-token-id"), "");
}

#[tokio::test]
async fn every_proxy_dialect_reaches_the_same_decision() {
    let app = TestApp::spawn_with(with_routes).await;
    let (id, token) = publisher(&app).await;
    // Traefik and Caddy: X-Forwarded-Method and X-Forwarded-Uri; X-API-Key works too.
    let traefik = reply(
        app.client
            .get(format!("{}/v1/authz", app.base))
            .header("X-Forwarded-Method", "POST")
            .header("X-Forwarded-Uri", "/api/v1/apps/1/events")
            .header("X-API-Key", &token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(traefik.status, StatusCode::OK, "{}", traefik.body);
    assert_eq!(traefik.header("x-tessera-token-id"), id);
    // Envoy: the original method, and the path after /v1/authz.
    let envoy = app
        .call(
            Method::POST,
            "/v1/authz/api/v1/apps/1/events",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(envoy.status, StatusCode::OK, "{}", envoy.body);
    let envoy_other = app
        .call(
            Method::POST,
            "/v1/authz/api/v1/apps/2/events",
            Some(&token),
            None,
        )
        .await;
    envoy_other.assert_problem(403, "insufficient_scope");
}

async fn form(app: &TestApp, path: &str, bearer: Option<&str>, fields: &[(&str, &str)]) -> Reply {
    let mut request = app.client.post(format!("{}{path}", app.base)).form(fields);
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    reply(request.send().await.unwrap()).await
}

#[tokio::test]
async fn introspection_and_revocation_follow_the_rfcs() {
    let app = TestApp::spawn().await;
    let (id, token) = publisher(&app).await;
    let (_, child, _) = app
        .create(
            &app.admin,
            json!({"name": "verifier", "scopes": ["tokens:verify"]}),
        )
        .await;

    let active = form(&app, "/v1/introspect", Some(&child), &[("token", &token)]).await;
    assert_eq!(active.status, StatusCode::OK);
    assert_eq!(active.body["active"], true);
    assert_eq!(active.body["jti"], id.as_str());
    assert_eq!(active.body["scope"], "events:publish");
    assert_eq!(active.body["sub"], "user-7");
    assert!(active.body["iat"].is_i64());
    // Introspection spends no budget: the token still has both requests.
    for _ in 0..3 {
        form(&app, "/v1/introspect", Some(&child), &[("token", &token)]).await;
    }
    assert_eq!(
        app.verify(&token, &[], None).await["rate_limit"]["remaining"],
        1
    );

    let unknown = form(
        &app,
        "/v1/introspect",
        Some(&child),
        &[("token", "tsr_nope")],
    )
    .await;
    assert_eq!(unknown.body, json!({"active": false}));
    form(&app, "/v1/introspect", None, &[("token", &token)])
        .await
        .assert_problem(401, "missing_credentials");
    form(&app, "/v1/introspect", Some(&token), &[("token", &token)])
        .await
        .assert_problem(403, "insufficient_scope");
    form(&app, "/v1/introspect", Some(&child), &[("nottoken", "x")])
        .await
        .assert_problem(400, "invalid_request");

    // RFC 7009: the holder revokes its own token, no other credential needed.
    let revoked = form(&app, "/v1/revoke", None, &[("token", &token)]).await;
    assert_eq!(revoked.status, StatusCode::OK);
    let after = form(&app, "/v1/introspect", Some(&child), &[("token", &token)]).await;
    assert_eq!(after.body, json!({"active": false}));
    assert_eq!(app.verify(&token, &[], None).await["code"], "REVOKED");
    // Unknown and already revoked tokens get the same answer.
    for text in [token.as_str(), "tsr_nope", ""] {
        let again = form(&app, "/v1/revoke", None, &[("token", text)]).await;
        assert_eq!(again.status, StatusCode::OK);
    }
    let count = app.token_count().await;
    form(&app, "/v1/revoke", None, &[("nottoken", "x")])
        .await
        .assert_problem(400, "invalid_request");
    assert_eq!(app.token_count().await, count);
}

/// An upstream that answers with what it received, and a large body on `/big`.
async fn echo_upstream() -> SocketAddr {
    async fn echo(request: Request) -> axum::response::Response {
        use axum::response::IntoResponse;
        let headers: serde_json::Map<String, Value> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or("?"))))
            .collect();
        let (parts, body) = request.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await;
        let answer = json!({
            "method": parts.method.as_str(),
            "uri": parts.uri.to_string(),
            "headers": headers,
            "body_bytes": body.map(|b| b.len()).ok(),
        });
        ([("x-upstream", "yes")], Json(answer)).into_response()
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, axum::Router::new().fallback(echo))
            .await
            .unwrap();
    });
    addr
}

fn gateway_to(upstream: SocketAddr) -> impl Fn(&mut Config) + Send + Sync + 'static {
    move |config: &mut Config| {
        with_routes(config);
        config.gateway = Some(
            GatewayConfig::new(&format!("http://{upstream}/base"), Some("127.0.0.1:0"))
                .expect("gateway config"),
        );
    }
}

#[tokio::test]
async fn the_gateway_proxies_allowed_requests_with_identity_only() {
    let upstream = echo_upstream().await;
    let app = TestApp::spawn_with(gateway_to(upstream)).await;
    let gateway = format!(
        "http://{}",
        app.server.as_ref().unwrap().gateway_addr.unwrap()
    );
    let (id, token) = publisher(&app).await;

    let passed = reply(
        app.client
            .post(format!("{gateway}/api/v1/apps/1/events?x=1"))
            .bearer_auth(&token)
            .header("X-Tessera-Token-Id", "tok_spoofed")
            .header("X-Tessera-Admin", "yes")
            .header("X-Forwarded-For", "10.9.9.9")
            .header("X-Original-URL", "/admin/delete")
            .header("X-Forwarded-Prefix", "/admin")
            .header("Forwarded", "for=10.9.9.9;host=evil")
            .header("X-Real-IP", "10.9.9.9")
            .header("X_Forwarded_Method", "DELETE")
            .body("hello")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(passed.status, StatusCode::OK, "{}", passed.body);
    assert_eq!(passed.header("x-upstream"), "yes");
    assert_eq!(passed.header("ratelimit"), "\"token\";r=1;t=1");
    let seen = &passed.body;
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["uri"], "/base/api/v1/apps/1/events?x=1");
    assert_eq!(seen["headers"]["x-tessera-token-id"], id.as_str());
    assert_eq!(seen["headers"]["x-tessera-owner"], "user-7");
    assert!(seen["headers"].get("x-tessera-admin").is_none());
    assert!(
        seen["headers"].get("authorization").is_none(),
        "the token is not passed on"
    );
    // What the client said of itself is gone; the gateway says who it is.
    assert_eq!(seen["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(
        seen["headers"]["forwarded"],
        format!("for=127.0.0.1;proto=http;host=\"{}\"", &gateway[7..])
    );
    for dropped in [
        "x-original-url",
        "x-forwarded-prefix",
        "x-real-ip",
        "x-forwarded-method",
        "x_forwarded_method",
    ] {
        assert!(seen["headers"].get(dropped).is_none(), "{dropped} passed");
    }

    // A POST that says `_method` would run as another method upstream: refused,
    // in the query and in a form, before the upstream sees it.
    let overridden = |url: String, form: Option<&'static str>| {
        // A full bucket for each: the publisher's burst is 2.
        app.advance_secs(60);
        let mut request = app.client.post(url).bearer_auth(&token);
        if let Some(form) = form {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form);
        }
        async move { reply(request.send().await.unwrap()).await }
    };
    overridden(
        format!("{gateway}/api/v1/apps/1/events?_method=DELETE"),
        None,
    )
    .await
    .assert_problem(400, "method_override_refused");
    overridden(
        format!("{gateway}/api/v1/apps/1/events"),
        Some("a=1&%5Fmethod=DELETE"),
    )
    .await
    .assert_problem(400, "method_override_refused");
    let plain_form = overridden(format!("{gateway}/api/v1/apps/1/events"), Some("a=1&b=2")).await;
    assert_eq!(plain_form.status, StatusCode::OK, "{}", plain_form.body);

    // Denials carry a Basic challenge too, so that git sends the token in its URL.
    let denied = reply(
        app.client
            .post(format!("{gateway}/api/v1/apps/1/events"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    denied.assert_problem(401, "missing_credentials");
    let challenges: Vec<&str> = denied
        .headers
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(challenges.iter().any(|c| c.starts_with("Bearer")));
    assert!(
        challenges
            .iter()
            .any(|c| c.starts_with("Basic realm=\"tessera\""))
    );
    // tessera's own API is not on the gateway: /v1 belongs to the guarded API.
    let own_api = reply(
        app.client
            .get(format!("{gateway}/v1/tokens"))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap(),
    )
    .await;
    own_api.assert_problem(403, "no_route");
}

#[tokio::test]
async fn the_gateway_blames_a_broken_client_body_on_the_client() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = echo_upstream().await;
    let app = TestApp::spawn_with(gateway_to(upstream)).await;
    let gateway = app.server.as_ref().unwrap().gateway_addr.unwrap();
    let (_, token) = publisher(&app).await;
    let mut stream = tokio::net::TcpStream::connect(gateway).await.unwrap();
    let request = format!(
        "POST /api/v1/apps/1/events HTTP/1.1\r\nhost: g\r\nauthorization: Bearer {token}\r\n\
         transfer-encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\nnot a chunk\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 400") && answer.contains("invalid_body"),
        "{answer}"
    );
}

#[tokio::test]
async fn the_gateway_answers_502_when_the_upstream_is_down() {
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = TestApp::spawn_with(gateway_to(closed)).await;
    let gateway = app.server.as_ref().unwrap().gateway_addr.unwrap();
    let (_, token) = publisher(&app).await;
    let down = reply(
        app.client
            .post(format!("http://{gateway}/api/v1/apps/1/events"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    down.assert_problem(502, "upstream_unavailable");
}

/// Forward-auth as nginx calls it for a client at `client` (X-Forwarded-For).
pub(crate) async fn nginx_for(app: &TestApp, client: &str, token: &str) -> Reply {
    let request = app
        .client
        .get(format!("{}/v1/authz", app.base))
        .header("X-Original-Method", "POST")
        .header("X-Original-URI", "/api/v1/apps/1/events")
        .header("X-Forwarded-For", format!("6.6.6.6, {client}"))
        .bearer_auth(token);
    reply(request.send().await.expect("answer")).await
}

#[tokio::test]
async fn guessing_tokens_is_throttled_per_client_address() {
    let app = TestApp::spawn_with(|config| {
        with_routes(config);
        config.engine.failed_auth = Some(tessera_core::ratelimit::RateLimit::new(60, 3).unwrap());
    })
    .await;
    // Three wrong tokens, then the address is refused whatever it presents, the
    // admin token included, on the API as on forward-auth.
    for guess in ["tsr_nope", "tsr_guess2", "not even a token"] {
        app.get("/v1/tokens/self", guess)
            .await
            .assert_problem(401, "invalid_token");
    }
    let refused = app.get("/v1/tokens/self", &app.admin).await;
    refused.assert_problem(429, "too_many_failures");
    assert_eq!(refused.header("retry-after"), "1");
    nginx(&app, "POST", "/api/v1/apps/1/events", Some(&app.admin))
        .await
        .assert_problem(429, "too_many_failures");
    // One failure's worth refills in a second (60 a minute).
    app.advance_secs(1);
    assert_eq!(
        app.get("/v1/tokens/self", &app.admin).await.status,
        StatusCode::OK
    );

    // Behind a trusted proxy, each end client has its own budget: the right-most
    // address the proxy did not add is the client, not what the client wrote.
    let proxied = TestApp::spawn_with(|config| {
        with_routes(config);
        config.engine.failed_auth = Some(tessera_core::ratelimit::RateLimit::new(60, 3).unwrap());
        config.engine.trusted_proxies =
            tessera_core::client::TrustedProxies::parse(&["127.0.0.1/32".into()]).unwrap();
    })
    .await;
    let (_, token) = publisher(&proxied).await;
    for _ in 0..3 {
        nginx_for(&proxied, "203.0.113.5", "tsr_guess")
            .await
            .assert_problem(401, "invalid_token");
    }
    nginx_for(&proxied, "203.0.113.5", &token)
        .await
        .assert_problem(429, "too_many_failures");
    let other = nginx_for(&proxied, "203.0.113.6", &token).await;
    assert_eq!(other.status, StatusCode::OK, "others are never slowed");
    assert_eq!(
        proxied.get("/v1/tokens/self", &proxied.admin).await.status,
        StatusCode::OK,
        "nor is the proxy's own address"
    );
    let metrics = proxied
        .client
        .get(format!("{}/metrics", proxied.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("tessera_failed_authentications_total 3"),
        "{metrics}"
    );
}

/// An upstream that notes the path of every request it receives.
async fn noting_upstream() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let noted = Arc::clone(&seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(move |request: Request| {
        let noted = Arc::clone(&noted);
        async move {
            noted.lock().unwrap().push(request.uri().path().to_owned());
            let _ = axum::body::to_bytes(request.into_body(), usize::MAX).await;
            "ok"
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, seen)
}

#[tokio::test]
async fn the_gateway_passes_on_only_requests_it_judged_whatever_the_framing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (upstream, seen) = noting_upstream().await;
    let app = TestApp::spawn_with(gateway_to(upstream)).await;
    let gateway = app.server.as_ref().unwrap().gateway_addr.unwrap();
    let (_, token) = publisher(&app).await;
    // Hidden in each: a call to app 2, which the publisher's token may not reach.
    let hidden = "POST /api/v1/apps/2/events HTTP/1.1\r\nHost: g\r\nContent-Length: 0\r\n\r\n";
    let head = |fields: &str| {
        format!(
            "POST /api/v1/apps/1/events HTTP/1.1\r\nHost: g\r\nAuthorization: Bearer {token}\r\n{fields}\r\n"
        )
    };
    let framings = [
        format!(
            "{}0\r\n\r\n{hidden}",
            head("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")
        ),
        format!(
            "{}0\r\n\r\n{hidden}",
            head("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n")
        ),
        format!(
            "{}0\r\n\r\n{hidden}",
            head("Transfer-Encoding: identity, chunked\r\n")
        ),
        format!(
            "{}0\r\n\r\n{hidden}",
            head("Transfer-Encoding : chunked\r\n")
        ),
        format!(
            "{}abc{hidden}",
            head("Content-Length: 3\r\nContent-Length: 0\r\n")
        ),
        format!(
            "{}abc{hidden}",
            head("X-Fold: a\r\n b\r\nContent-Length: 3\r\n")
        ),
    ];
    for framing in framings {
        app.advance_secs(60);
        let mut stream = tokio::net::TcpStream::connect(gateway).await.unwrap();
        stream.write_all(framing.as_bytes()).await.unwrap();
        let mut answers = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_millis(500),
            stream.read_to_end(&mut answers),
        )
        .await;
    }
    let seen = seen.lock().unwrap();
    assert!(
        !seen.is_empty(),
        "the framings hyper reads as chunked pass on"
    );
    assert!(
        seen.iter().all(|path| path == "/base/api/v1/apps/1/events"),
        "the upstream received {seen:?}"
    );
}

/// Behind a trusted proxy, the gateway passes on the chain that proxy vouches for:
/// the client it saw and the proxy itself, never what the client wrote further left.
#[tokio::test]
async fn the_gateway_keeps_only_the_chain_trusted_proxies_vouch_for() {
    let upstream = echo_upstream().await;
    let app = TestApp::spawn_with(move |config| {
        gateway_to(upstream)(config);
        config.engine.trusted_proxies =
            tessera_core::client::TrustedProxies::parse(&["127.0.0.1/32".to_owned()])
                .expect("a proxy list");
    })
    .await;
    let gateway = app.server.as_ref().unwrap().gateway_addr.unwrap();
    let (_, token) = publisher(&app).await;
    let passed = reply(
        app.client
            .post(format!("http://{gateway}/api/v1/apps/1/events"))
            .bearer_auth(&token)
            .header("X-Forwarded-For", "6.6.6.6, 1.2.3.4")
            .body("hello")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(passed.status, StatusCode::OK, "{}", passed.body);
    let seen = &passed.body["headers"];
    assert_eq!(seen["x-forwarded-for"], "1.2.3.4, 127.0.0.1");
    assert_eq!(
        seen["forwarded"],
        format!("for=1.2.3.4, for=127.0.0.1;proto=http;host=\"{gateway}\"")
    );
}
