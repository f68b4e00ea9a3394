//! Webhooks: endpoints managed by the admin token, deliveries signed as Standard
//! Webhooks says (checked with the standard's own library), tried again with the
//! same id after a failure, logged per endpoint; and the notices only the clock
//! and the checks make (expiring, expired, usage exhausted).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// A receiver of deliveries on a free port: keeps what it was sent, and answers
/// 500 to the first `fail_first`.
pub struct Receiver {
    pub url: String,
    seen: Arc<parking_lot::Mutex<Vec<(HeaderMap, Bytes)>>>,
}

#[derive(Clone)]
struct Inbox {
    seen: Arc<parking_lot::Mutex<Vec<(HeaderMap, Bytes)>>>,
    failures_left: Arc<AtomicUsize>,
}

impl Receiver {
    pub async fn start(fail_first: usize) -> Self {
        let inbox = Inbox {
            seen: Arc::default(),
            failures_left: Arc::new(AtomicUsize::new(fail_first)),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let seen = Arc::clone(&inbox.seen);
        let router = axum::Router::new()
            .route("/hook", post(take))
            .with_state(inbox);
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, seen }
    }

    /// What was sent (failed attempts included), once there are `count`.
    pub async fn wait_for(&self, count: usize, app: Option<&TestApp>) -> Vec<(HeaderMap, Value)> {
        for _ in 0..500 {
            {
                let seen = self.seen.lock();
                if seen.len() >= count {
                    return seen
                        .iter()
                        .map(|(headers, body)| {
                            (headers.clone(), serde_json::from_slice(body).unwrap())
                        })
                        .collect();
                }
            }
            // A retry falls due on tessera's clock, which the test moves.
            if let Some(app) = app {
                app.advance_secs(6);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{} deliveries, not {count}", self.seen.lock().len());
    }

    fn verify_all(&self, secret: &str) {
        let webhook = standardwebhooks::Webhook::new(secret).unwrap();
        for (headers, body) in self.seen.lock().iter() {
            webhook
                .verify(body, headers)
                .expect("signed as Standard Webhooks says");
        }
    }
}

async fn take(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> StatusCode {
    inbox.seen.lock().push((headers, body));
    let failing = inbox
        .failures_left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

async fn endpoint(app: &TestApp, url: &str, events: Value) -> (String, String) {
    let made = app
        .post(
            "/v1/webhooks",
            &app.admin,
            json!({"url": url, "events": events}),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    (
        made.body["id"].as_str().unwrap().to_owned(),
        made.body["secret"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn deliveries_are_signed_retried_with_their_id_and_logged() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(1).await;
    let (id, secret) = endpoint(
        &app,
        &receiver.url,
        json!(["token.created", "token.revoked"]),
    )
    .await;
    assert!(secret.starts_with("whsec_"));
    let listed = app.get("/v1/webhooks", &app.admin).await;
    assert_eq!(
        listed.body["webhooks"][0]["events"],
        json!(["token.created", "token.revoked"])
    );
    assert!(
        !listed.body.to_string().contains(&secret),
        "the secret is shown once"
    );

    let (manager, manager_secret, _) = app
        .create(
            &app.admin,
            json!({"name": "team", "scopes": ["repo:read", "tokens:manage"]}),
        )
        .await;
    // The first attempt is refused (500); the retry, due 5 s later, is taken.
    let seen = receiver.wait_for(2, Some(&app)).await;
    let (first, retry) = (&seen[0], &seen[1]);
    assert_eq!(
        first.0["webhook-id"], retry.0["webhook-id"],
        "one id for every attempt"
    );
    assert_eq!(retry.1["type"], "token.created");
    assert_eq!(retry.1["data"]["token_id"], manager.as_str());
    assert_eq!(retry.1["data"]["actor"]["name"], "admin");

    let (child, _, _) = app
        .create(
            &manager_secret,
            json!({"name": "ci", "scopes": ["repo:read"]}),
        )
        .await;
    app.delete(&format!("/v1/tokens/{manager}"), &app.admin)
        .await;
    let seen = receiver.wait_for(4, None).await;
    let revoked = seen
        .iter()
        .find(|(_, body)| body["type"] == "token.revoked")
        .unwrap();
    assert_eq!(revoked.1["data"]["token_id"], manager.as_str());
    assert_eq!(revoked.1["data"]["cascade"], json!([child]));
    receiver.verify_all(&secret);
    let whole: String = seen.iter().map(|(_, body)| body.to_string()).collect();
    assert!(
        !whole.contains(&manager_secret) && !whole.contains(&secret),
        "no secret in a payload"
    );

    let log = app
        .get(&format!("/v1/webhooks/{id}/deliveries"), &app.admin)
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    let log = log.body["deliveries"].as_array().unwrap().clone();
    assert_eq!(
        log.len(),
        3,
        "newest first: revoked, created (child), created (manager)"
    );
    let oldest = &log[2];
    assert_eq!(
        (
            oldest["status"].as_str(),
            oldest["attempts"].as_u64(),
            oldest["last_status"].as_u64()
        ),
        (Some("delivered"), Some(2), Some(204))
    );
    assert_eq!(oldest["id"], first.0["webhook-id"].to_str().unwrap());
    let audit = app
        .get("/v1/audit?action=webhook.created", &app.admin)
        .await;
    assert_eq!(audit.body["entries"][0]["target_id"], id.as_str());
}

#[tokio::test]
async fn endpoints_refuse_bad_input_and_only_the_admin_manages_them() {
    let app = TestApp::spawn_with(|config| {
        config.engine.webhook_allowed_hosts = vec!["hooks.example.com".into()];
    })
    .await;
    for (body, status, code) in [
        (
            json!({"url": "ftp://hooks.example.com/x", "events": ["*"]}),
            400,
            "invalid_url",
        ),
        (
            json!({"url": "not a url", "events": ["*"]}),
            400,
            "invalid_url",
        ),
        (
            json!({"url": "https://u:p@hooks.example.com/", "events": ["*"]}),
            400,
            "invalid_url",
        ),
        (
            json!({"url": "https://hooks.example.com/", "events": []}),
            400,
            "invalid_event",
        ),
        (
            json!({"url": "https://hooks.example.com/", "events": ["token.eaten"]}),
            400,
            "invalid_event",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["*"]}),
            403,
            "host_not_allowed",
        ),
        (
            json!({"url": "https://hooks.example.com/", "events": ["*"], "colour": 1}),
            400,
            "invalid_body",
        ),
    ] {
        app.post("/v1/webhooks", &app.admin, body)
            .await
            .assert_problem(status, code);
    }
    let (_, manager, _) = app
        .create(
            &app.admin,
            json!({"name": "m", "scopes": ["tokens:manage"]}),
        )
        .await;
    app.post(
        "/v1/webhooks",
        &manager,
        json!({"url": "https://hooks.example.com/", "events": ["*"]}),
    )
    .await
    .assert_problem(403, "admin_only");
    app.get("/v1/webhooks", &manager)
        .await
        .assert_problem(403, "admin_only");
    let (id, _) = endpoint(&app, "https://hooks.example.com/tessera", json!(["*"])).await;
    let path = format!("/v1/webhooks/{id}");
    app.patch(&path, &app.admin, json!({"events": ["nope"]}))
        .await
        .assert_problem(400, "invalid_event");
    let changed = app
        .patch(
            &path,
            &app.admin,
            json!({"disabled": true, "description": "paused"}),
        )
        .await;
    assert_eq!(
        (
            changed.body["disabled"].as_bool(),
            changed.body["description"].as_str()
        ),
        (Some(true), Some("paused"))
    );
    assert_eq!(
        changed.body["events"],
        json!(["*"]),
        "what was not given stays"
    );
    assert_eq!(app.delete(&path, &app.admin).await.status, 204);
    app.get(&path, &app.admin)
        .await
        .assert_problem(404, "not_found");
    let audit = app
        .get("/v1/audit?action=webhook.deleted", &app.admin)
        .await;
    assert_eq!(audit.body["entries"][0]["target_id"], id.as_str());
    assert_eq!(
        audit.body["entries"][0]["details"]["url_origin"], "https://hooks.example.com",
        "where it pointed, not its path (which may hold the receiver's secret)"
    );
    app.patch(&path, &app.admin, json!({"disabled": false}))
        .await
        .assert_problem(404, "not_found");
    app.post(
        "/v1/webhooks",
        &app.admin,
        json!({"url": "https://hooks.example.com/", "events": ["*"], "description": "a\u{0}b"}),
    )
    .await
    .assert_problem(400, "invalid_text");
    for n in 0..100 {
        endpoint(
            &app,
            &format!("https://hooks.example.com/{n}"),
            json!(["*"]),
        )
        .await;
    }
    app.post(
        "/v1/webhooks",
        &app.admin,
        json!({"url": "https://hooks.example.com/", "events": ["*"]}),
    )
    .await
    .assert_problem(403, "quota_exceeded");
}

#[tokio::test]
async fn expiry_and_exhaustion_are_announced_once() {
    let app = TestApp::spawn_with(|config| config.expiry_scan_ms = 20).await;
    let receiver = Receiver::start(0).await;
    let (id, secret) = endpoint(
        &app,
        &receiver.url,
        json!(["token.expiring", "token.expired", "token.usage_exhausted"]),
    )
    .await;
    let (expiring, _, _) = app
        .create(
            &app.admin,
            json!({"name": "soon", "scopes": ["repo:read"], "expires_in": 864000}),
        )
        .await;
    let (_, capped, _) = app
        .create(
            &app.admin,
            json!({"name": "capped", "scopes": ["repo:read"], "max_uses": 1}),
        )
        .await;
    for _ in 0..3 {
        app.verify(&capped, &["repo:read"], None).await;
    }
    let seen = receiver.wait_for(1, None).await;
    assert_eq!(seen[0].1["type"], "token.usage_exhausted");
    assert_eq!(seen[0].1["data"]["details"]["uses_remaining"], 0);

    // Four days on, the token has a week left: `expiring` (the 7-day notice).
    app.advance_secs(4 * 86_400);
    let seen = receiver.wait_for(2, None).await;
    assert_eq!(seen[1].1["type"], "token.expiring");
    assert_eq!(seen[1].1["data"]["token_id"], expiring.as_str());
    app.advance_secs(6 * 86_400 + 60);
    let seen = receiver.wait_for(3, None).await;
    assert_eq!(
        seen.iter()
            .map(|(_, body)| body["type"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["token.usage_exhausted", "token.expiring", "token.expired"]
    );
    // Each once, however many scans and refusals came after.
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.verify(&capped, &["repo:read"], None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.seen.lock().len(), 3);
    receiver.verify_all(&secret);
    let log = app
        .get(&format!("/v1/webhooks/{id}/deliveries"), &app.admin)
        .await;
    assert_eq!(log.body["deliveries"].as_array().unwrap().len(), 3);
}
