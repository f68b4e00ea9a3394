//! The example app (examples/guarded_app.rs) behind the guard, against a real
//! tessera: who gets through, the refusals, and how fast a revocation reaches the
//! cache.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tessera_api::CreateTokenRequest;
use tessera_client::Client;
use tessera_client::guard::{Guard, GuardSettings};

use crate::support::{Running, tessera, token};

#[path = "../../examples/guarded_app.rs"]
mod guarded_app;

struct App {
    addr: SocketAddr,
    guard: Guard,
    http: reqwest::Client,
}

impl App {
    async fn start(tessera: &Running) -> Self {
        let service = tessera
            .admin
            .create_token(&token("guard", &["tokens:verify"]))
            .await
            .expect("the guard's token");
        let client = Client::new(&tessera.url, service.token).expect("a client");
        let guard = Guard::start(client, GuardSettings::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        let app = guarded_app::app(&guard).expect("the routes");
        // With each connection's address, as a token bound to networks needs.
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
        });
        // Wait for the change stream: until then every request asks tessera.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !guard.cache().is_live() {
            assert!(
                Instant::now() < deadline,
                "the guard follows the change stream"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Self {
            addr,
            guard,
            http: reqwest::Client::new(),
        }
    }

    async fn get(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> (StatusCode, Value, reqwest::header::HeaderMap) {
        let mut request = self.http.get(format!("http://{}{path}", self.addr));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the app answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        (status, body, headers)
    }
}

#[tokio::test]
async fn the_guard_lets_through_what_the_token_may_do_and_refuses_the_rest() {
    let tessera = tessera().await;
    let app = App::start(&tessera).await;
    let repo_token = tessera
        .admin
        .create_token(&CreateTokenRequest {
            resources: Some(vec!["repo:42".into()]),
            ..token("session", &["repo:read"])
        })
        .await
        .expect("a repo token");
    let secret = repo_token.token.as_str();

    let (status, body, _) = app.get("/repos/42/files", Some(secret)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_id"], repo_token.details.id.as_str());
    assert_eq!(app.guard.cache().len(), 1, "the answer is kept");
    let (status, _, _) = app.get("/repos/42/files", Some(secret)).await;
    assert_eq!(status, StatusCode::OK, "answered from the cache");

    // A token bound to networks is judged by the connection's address: loopback.
    for (cidr, expected) in [
        ("127.0.0.0/8", StatusCode::OK),
        ("10.0.0.0/8", StatusCode::FORBIDDEN),
    ] {
        let bound = tessera
            .admin
            .create_token(&CreateTokenRequest {
                resources: Some(vec!["repo:42".into()]),
                allowed_cidrs: Some(vec![cidr.into()]),
                ..token("bound", &["repo:read"])
            })
            .await
            .expect("a bound token");
        let (status, body, _) = app.get("/repos/42/files", Some(&bound.token)).await;
        assert_eq!(status, expected, "{cidr}: {body}");
        if expected == StatusCode::FORBIDDEN {
            assert_eq!(body["code"], "network_not_allowed");
        }
    }

    let (status, body, headers) = app.get("/repos/43/files", Some(secret)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("insufficient_scope"))
    );
    assert_eq!(headers["content-type"], "application/problem+json");
    let (status, body, headers) = app.get("/repos/42/files", None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("missing_credentials"))
    );
    assert!(headers.contains_key("www-authenticate"));
    let (status, body, _) = app.get("/repos/42/files", Some("tsr_nope")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    let put = app
        .http
        .put(format!("http://{}/repos/42/files/a.txt", app.addr))
        .bearer_auth(secret)
        .send()
        .await
        .expect("an answer");
    assert_eq!(
        put.status(),
        StatusCode::FORBIDDEN,
        "reading is not writing"
    );

    tessera
        .admin
        .revoke_token(&repo_token.details.id)
        .await
        .expect("revoked");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, _, _) = app.get("/repos/42/files", Some(secret)).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the revocation reaches the guard"
        );
    }
}

#[tokio::test]
async fn a_rate_limited_token_is_asked_about_every_time() {
    let tessera = tessera().await;
    let app = App::start(&tessera).await;
    let limited = tessera
        .admin
        .create_token(&CreateTokenRequest {
            rate_limit: Some(tessera_api::RateLimitBody {
                profile: None,
                per_minute: Some(60),
                burst: Some(2),
            }),
            ..token("limited", &["repo:read"])
        })
        .await
        .expect("a limited token");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(app.get("/repos/1/files", Some(&limited.token)).await.0);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert!(app.guard.cache().is_empty());
}

/// How long after a revocation is sent the guard's cache drops the token: the
/// issue's figure (p50 and p99 over 300 revocations), printed for BENCHMARKS.md.
/// Asserted only to happen, within seconds: timings are measured, not asserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_reach_the_cache_within_milliseconds() {
    const REVOCATIONS: usize = 300;
    let tessera = tessera().await;
    let app = App::start(&tessera).await;
    let mut dropped = app.guard.cache().dropped();
    let mut latencies = Vec::with_capacity(REVOCATIONS);
    for round in 0..REVOCATIONS {
        let created = tessera
            .admin
            .create_token(&token(&format!("session-{round}"), &["repo:read"]))
            .await
            .expect("created");
        let (status, _, _) = app.get("/repos/7/files", Some(&created.token)).await;
        assert_eq!(status, StatusCode::OK);
        while dropped.try_recv().is_ok() {}
        let sent = Instant::now();
        tessera
            .admin
            .revoke_token(&created.details.id)
            .await
            .expect("revoked");
        loop {
            let id = tokio::time::timeout(Duration::from_secs(5), dropped.recv())
                .await
                .expect("the cache drops the token within 5 s")
                .expect("the guard runs");
            if id == created.details.id {
                break;
            }
        }
        latencies.push(sent.elapsed());
        let (status, _, _) = app.get("/repos/7/files", Some(&created.token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "round {round}");
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "guard cache invalidation after revoke, {REVOCATIONS} revocations: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );
}
