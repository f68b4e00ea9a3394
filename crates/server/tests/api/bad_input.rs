//! Every class of client mistake: a clear problem+json 4xx, and nothing changed.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, reply};

#[tokio::test]
async fn each_bad_body_is_a_400_that_names_the_problem_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let before = app.token_count().await;
    let cases = [
        (json!({"scopes": ["repo:read"]}), "missing_name"),
        (json!({"name": ""}), "invalid_name"),
        (
            json!({"name": "x", "scopes": ["events:nuke"]}),
            "unknown_scope",
        ),
        (json!({"name": "x", "scopes": ["events"]}), "invalid_scope"),
        (
            json!({"name": "x", "scopes": ["repo:read"], "access": "READ"}),
            "scopes_and_access",
        ),
        (json!({"name": "x", "access": "OWNER"}), "invalid_access"),
        (
            json!({"name": "x", "resources": ["repo"]}),
            "invalid_resource",
        ),
        (
            json!({"name": "x", "expires_at": "next week"}),
            "invalid_expiry",
        ),
        (json!({"name": "x", "expires_in": -5}), "invalid_expiry"),
        (
            json!({"name": "x", "expires_in": 5, "expires_at": "2030-01-01T00:00:00Z"}),
            "expiry_twice",
        ),
        (
            json!({"name": "x", "rate_limit": {"profile": "warp"}}),
            "unknown_profile",
        ),
        (
            json!({"name": "x", "rate_limit": {"per_minute": 0, "burst": 1}}),
            "invalid_rate_limit",
        ),
        (
            json!({"name": "x", "rate_limit": {"per_minute": 5}}),
            "invalid_rate_limit",
        ),
        (json!({"name": "x", "meta": [1, 2]}), "invalid_meta"),
        (
            json!({"name": "x", "meta": {"big": "y".repeat(5000)}}),
            "meta_too_large",
        ),
        (json!({"name": "x", "colour": "red"}), "invalid_body"),
        (json!({"name": 5}), "invalid_body"),
    ];
    for (body, code) in cases {
        let refused = app.post("/v1/tokens", &app.admin, body.clone()).await;
        refused.assert_problem(400, code);
        if code == "unknown_scope" {
            assert!(
                refused.body["valid"]
                    .as_array()
                    .unwrap()
                    .contains(&json!("events:publish"))
            );
            assert_eq!(refused.body["field"], "scopes");
        }
    }
    // A body that does not fit says where.
    let wrong_type = app.post("/v1/tokens", &app.admin, json!({"name": 5})).await;
    let detail = wrong_type.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("at `name`: invalid type"), "{detail}");
    let unknown = app
        .post(
            "/v1/tokens",
            &app.admin,
            json!({"name": "x", "colour": "red"}),
        )
        .await;
    let detail = unknown.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("unknown field `colour`"), "{detail}");
    assert_eq!(app.token_count().await, before);
}

#[tokio::test]
async fn transport_level_mistakes() {
    let app = TestApp::spawn().await;
    let before = app.token_count().await;
    let url = format!("{}/v1/tokens", app.base);
    let send = |request: reqwest::RequestBuilder| async move {
        reply(request.send().await.unwrap()).await
    };

    // `/v1/verify` is answered by `http::hot` on both transports: the same body rules
    // hold there.
    for url in [url.clone(), format!("{}/v1/verify", app.base)] {
        let malformed = send(
            app.client
                .post(&url)
                .bearer_auth(&app.admin)
                .header("content-type", "application/json")
                .body("{"),
        )
        .await;
        malformed.assert_problem(400, "malformed_json");
        let no_type = send(
            app.client
                .post(&url)
                .bearer_auth(&app.admin)
                .body("{\"name\": \"x\"}"),
        )
        .await;
        no_type.assert_problem(415, "unsupported_media_type");
        let huge = json!({"name": "x", "description": "d".repeat(70 * 1024)});
        send(app.client.post(&url).bearer_auth(&app.admin).json(&huge))
            .await
            .assert_problem(413, "body_too_large");
    }

    let anonymous = send(app.client.post(&url).json(&json!({"name": "x"}))).await;
    anonymous.assert_problem(401, "missing_credentials");
    assert!(anonymous.header("www-authenticate").starts_with("Bearer"));
    let invalid = app
        .post("/v1/tokens", "tsr_notatoken", json!({"name": "x"}))
        .await;
    invalid.assert_problem(401, "invalid_token");
    assert!(!invalid.body.to_string().contains("tsr_notatoken"));

    let (_, reader, _) = app
        .create(
            &app.admin,
            json!({"name": "reader", "scopes": ["tokens:read"]}),
        )
        .await;
    let forbidden = app.post("/v1/tokens", &reader, json!({"name": "x"})).await;
    forbidden.assert_problem(403, "insufficient_scope");
    assert!(
        forbidden
            .header("www-authenticate")
            .contains("scope=\"tokens:manage\"")
    );

    app.get("/v1/tokens/tok_nope", &app.admin)
        .await
        .assert_problem(404, "not_found");
    app.patch("/v1/tokens/tok_nope", &app.admin, json!({"name": "x"}))
        .await
        .assert_problem(404, "not_found");
    app.delete("/v1/tokens/tok_nope", &app.admin)
        .await
        .assert_problem(404, "not_found");
    app.call(Method::GET, "/v2/nothing", None, None)
        .await
        .assert_problem(404, "no_such_endpoint");
    // `/` sends a browser to the Tokens page; an API client gets the JSON 404.
    let home = |accept: &'static str| {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let url = format!("{}/", app.base);
        async move {
            client
                .get(url)
                .header("accept", accept)
                .send()
                .await
                .unwrap()
        }
    };
    let browser = home("text/html,application/xhtml+xml,*/*;q=0.8").await;
    assert_eq!(browser.status(), 303);
    assert_eq!(browser.headers()["location"], "/ui");
    reply(home("application/json").await)
        .await
        .assert_problem(404, "no_such_endpoint");
    app.call(Method::PUT, "/v1/tokens", Some(&app.admin), None)
        .await
        .assert_problem(405, "method_not_allowed");
    app.get("/v1/tokens?status=sleeping", &app.admin)
        .await
        .assert_problem(400, "invalid_status");
    app.get("/v1/tokens?limit=1000", &app.admin)
        .await
        .assert_problem(400, "invalid_limit");
    app.get("/v1/tokens?colour=red", &app.admin)
        .await
        .assert_problem(400, "invalid_query");
    app.post(
        "/v1/verify",
        &app.admin,
        json!({"token": "x", "scopes": ["events:*"]}),
    )
    .await
    .assert_problem(400, "invalid_scope");
    app.post(
        "/v1/verify",
        &app.admin,
        json!({"token": "x", "resource": "nope"}),
    )
    .await
    .assert_problem(400, "invalid_resource");
    app.post(
        "/v1/repo_token",
        &app.admin,
        json!({"name": "x", "repo_ids": []}),
    )
    .await
    .assert_problem(400, "missing_repo_ids");

    assert_eq!(app.token_count().await, before + 1);
    let (id, _, _) = app.create(&app.admin, json!({"name": "edit me"})).await;
    let path = format!("/v1/tokens/{id}");
    app.patch(&path, &app.admin, json!({"scopes": ["nope:nope"]}))
        .await
        .assert_problem(400, "unknown_scope");
    app.patch(&path, &app.admin, json!({"id": "other"}))
        .await
        .assert_problem(400, "invalid_body");
    // A struct may be read from an array of its fields: every body must be an object.
    app.patch(&path, &app.admin, json!([]))
        .await
        .assert_problem(400, "invalid_body");
    app.post(&format!("{path}/rotate"), &app.admin, json!([]))
        .await
        .assert_problem(400, "invalid_body");
    let unchanged = app.get(&path, &app.admin).await;
    assert_eq!(
        (unchanged.status, unchanged.body["scopes"].clone()),
        (StatusCode::OK, json!(["*"]))
    );
}

#[tokio::test]
async fn a_maximum_lifetime_requires_and_caps_expiry() {
    let app = TestApp::spawn_with(|c| c.engine.max_token_lifetime_ms = Some(86_400_000)).await;
    app.post("/v1/tokens", &app.admin, json!({"name": "forever"}))
        .await
        .assert_problem(400, "expiry_required");
    app.post(
        "/v1/tokens",
        &app.admin,
        json!({"name": "long", "expires_in": 90_000}),
    )
    .await
    .assert_problem(400, "lifetime_too_long");
    app.create(&app.admin, json!({"name": "ok", "expires_in": 3600}))
        .await;
}
