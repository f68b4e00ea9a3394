//! The documented flows of the four seed systems, as their docs show them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, reply};

#[tokio::test]
async fn relay_scopes_wildcards_and_verification() {
    let app = TestApp::spawn().await;
    let (id, token, created) = app
        .create(
            &app.admin,
            json!({"name": "frontend", "description": "web client", "scopes": ["events:*", "channels:read"],
                   "resources": ["app:42"], "meta": {"plan": "pro"}, "owner": "user-7"}),
        )
        .await;
    assert!(token.starts_with("tsr_") && token.len() == 40, "{token}");
    assert_eq!(created["start"], token[..8]);
    assert_eq!(
        created["parent_id"],
        app.get("/v1/tokens/self", &app.admin).await.body["id"]
    );

    let ok = app
        .verify(&token, &["events:publish"], Some("app:42"))
        .await;
    assert_eq!(
        (ok["valid"].clone(), ok["code"].clone()),
        (json!(true), json!("VALID"))
    );
    assert_eq!(ok["token_id"], id);
    assert_eq!(ok["meta"], json!({"plan": "pro"}));
    assert_eq!(ok["owner"], "user-7");
    assert_eq!(ok["scopes"], json!(["events:*", "channels:read"]));
    assert!(ok["rate_limit"].is_null(), "no limit set, none reported");

    assert_eq!(
        app.verify(&token, &["events:batch", "channels:read"], None)
            .await["code"],
        "VALID"
    );
    // FORBIDDEN says what was missing: the scopes not held, the resource not allowed.
    let short = app
        .verify(
            &token,
            &["channels:manage", "events:publish"],
            Some("app:42"),
        )
        .await;
    assert_eq!(short["code"], "FORBIDDEN");
    assert_eq!(
        short["missing"],
        json!({"scopes": ["channels:manage"], "resource": null})
    );
    let elsewhere = app
        .verify(&token, &["events:publish"], Some("app:43"))
        .await;
    assert_eq!(elsewhere["code"], "FORBIDDEN");
    assert_eq!(
        elsewhere["missing"],
        json!({"scopes": [], "resource": "app:43"})
    );
    assert!(
        ok.get("missing").is_none(),
        "only a refusal names what is missing"
    );

    // Omitted scopes: full access, as Relay documents.
    let (_, full, body) = app.create(&app.admin, json!({"name": "all"})).await;
    assert_eq!(body["scopes"], json!(["*"]));
    assert_eq!(
        app.verify(&full, &["webhooks:manage", "repo:admin"], Some("repo:x"))
            .await["code"],
        "VALID"
    );
}

#[tokio::test]
async fn unknown_malformed_and_bad_checksum_tokens_are_not_found_without_details() {
    let app = TestApp::spawn().await;
    let (_, token, _) = app.create(&app.admin, json!({"name": "t"})).await;
    let mut flipped: Vec<char> = token.chars().collect();
    flipped[10] = if flipped[10] == 'a' { 'b' } else { 'a' };
    let bad_checksum: String = flipped.into_iter().collect();
    let unknown = {
        // A well-formed token (valid checksum) that was never issued.
        let other = TestApp::spawn().await;
        other
            .create(&other.admin, json!({"name": "elsewhere"}))
            .await
            .1
    };
    for candidate in [
        bad_checksum.as_str(),
        unknown.as_str(),
        "tsr_short",
        "",
        "rly_whatever",
    ] {
        let answer = app.verify(candidate, &[], None).await;
        assert_eq!(answer["code"], "NOT_FOUND", "{candidate}");
        assert_eq!(answer["valid"], false);
        assert!(
            answer["token_id"].is_null() && answer["name"].is_null() && answer["meta"].is_null()
        );
    }
}

#[tokio::test]
async fn access_levels_and_every_presentation_scheme() {
    let app = TestApp::spawn().await;
    let (id, token, _) = app
        .create(&app.admin, json!({"name": "reader", "access": "READ"}))
        .await;
    assert_eq!(
        app.verify(&token, &["repo:read", "channels:read"], None)
            .await["code"],
        "VALID"
    );
    assert_eq!(
        app.verify(&token, &["repo:write"], None).await["code"],
        "FORBIDDEN"
    );
    // Access levels never grant tessera's own scopes.
    assert_eq!(
        app.verify(&token, &["tokens:read"], None).await["code"],
        "FORBIDDEN"
    );

    let url = format!("{}/v1/tokens/self", app.base);
    let schemes = [
        format!("Bearer {token}"),
        format!("Api-Key {token}"),
        format!("Basic {}", STANDARD.encode(format!("x:{token}"))),
        format!("Basic {}", STANDARD.encode(format!("{id}:{token}"))),
    ];
    for header in schemes {
        let answer = reply(
            app.client
                .get(&url)
                .header("Authorization", &header)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{header}: {}", answer.body);
        assert_eq!(answer.body["id"], id);
    }
    // A key id that is not this token's: the pair does not authenticate, and spends
    // none of the token's budget.
    let (_, limited, _) = app
        .create(
            &app.admin,
            json!({"name": "one a minute", "rate_limit": {"per_minute": 1, "burst": 1}}),
        )
        .await;
    let wrong = format!(
        "Basic {}",
        STANDARD.encode(format!("tok_0000000000000000:{limited}"))
    );
    for _ in 0..3 {
        let answer = reply(
            app.client
                .get(&url)
                .header("Authorization", &wrong)
                .send()
                .await
                .unwrap(),
        )
        .await;
        answer.assert_problem(401, "invalid_token");
        assert!(
            answer
                .header("www-authenticate")
                .contains("error=\"invalid_token\"")
        );
    }
    assert_eq!(
        app.get("/v1/tokens/self", &limited).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn relace_repo_tokens() {
    let app = TestApp::spawn().await;
    let repo_a = "123e4567-e89b-12d3-a456-426614174000";
    let repo_b = "987fcdeb-51a2-43f7-b123-456789abcdef";
    let created = app
        .post(
            "/v1/repo_token",
            &app.admin,
            json!({"name": "my-token", "repo_ids": [repo_a, repo_b]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.body["name"], "my-token");
    assert_eq!(created.body["repo_ids"], json!([repo_a, repo_b]));
    let token = created.body["token"].as_str().unwrap().to_owned();

    let repo_a_resource = format!("repo:{repo_a}");
    let read_write = app
        .verify(&token, &["repo:read", "repo:write"], Some(&repo_a_resource))
        .await;
    assert_eq!(read_write["code"], "VALID");
    assert_eq!(
        app.verify(&token, &["repo:read"], Some("repo:other")).await["code"],
        "FORBIDDEN"
    );
    assert_eq!(
        app.verify(&token, &["repo:admin"], Some(&repo_a_resource))
            .await["code"],
        "FORBIDDEN"
    );

    let details = app
        .get(&format!("/v1/repo_token/{token}"), &app.admin)
        .await;
    assert_eq!(details.status, StatusCode::OK);
    assert_eq!(
        (
            details.body["name"].clone(),
            details.body["repo_ids"].clone()
        ),
        (json!("my-token"), json!([repo_a, repo_b]))
    );
    assert!(details.body.get("token").is_none());

    let deleted = app
        .delete(&format!("/v1/repo_token/{token}"), &app.admin)
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.verify(&token, &["repo:read"], Some(&repo_a_resource))
            .await["code"],
        "REVOKED"
    );
    app.get(&format!("/v1/repo_token/{token}x"), &app.admin)
        .await
        .assert_problem(404, "not_found");
}

#[tokio::test]
async fn flashback_key_and_secret() {
    let app = TestApp::spawn().await;
    let created = app
        .post(
            "/repo/r-1/apikey",
            &app.admin,
            json!({"name": "ci", "accessType": "WRITE"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(created.body["success"], true);
    let key = created.body["key"].as_str().unwrap().to_owned();
    let secret = created.body["secret"].as_str().unwrap().to_owned();
    assert_eq!(created.body["id"], key);

    assert_eq!(
        app.verify(&secret, &["repo:write", "repo:read"], Some("repo:r-1"))
            .await["code"],
        "VALID"
    );
    assert_eq!(
        app.verify(&secret, &["repo:admin"], Some("repo:r-1")).await["code"],
        "FORBIDDEN"
    );
    assert_eq!(
        app.verify(&secret, &["repo:read"], Some("repo:r-2")).await["code"],
        "FORBIDDEN"
    );

    let url = format!("{}/v1/tokens/self", app.base);
    let pair = reply(
        app.client
            .get(&url)
            .basic_auth(&key, Some(&secret))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(pair.status, StatusCode::OK);
    // The key alone is not a credential.
    let key_only = reply(
        app.client
            .get(&url)
            .basic_auth(&key, Some(""))
            .send()
            .await
            .unwrap(),
    )
    .await;
    key_only.assert_problem(401, "invalid_token");
    let bearer_key = app.get("/v1/tokens/self", &key).await;
    bearer_key.assert_problem(401, "invalid_token");

    app.post(
        "/repo/*/apikey",
        &app.admin,
        json!({"name": "x", "accessType": "READ"}),
    )
    .await
    .assert_problem(400, "invalid_repo_id");
    app.post(
        "/v1/repo_token",
        &app.admin,
        json!({"name": "x", "repo_ids": ["*"]}),
    )
    .await
    .assert_problem(400, "invalid_repo_id");
    app.post(
        "/repo/r-1/apikey",
        &app.admin,
        json!({"name": "x", "accessType": "OWNER"}),
    )
    .await
    .assert_problem(400, "invalid_access");
}

#[tokio::test]
async fn a_deployment_prefix_and_the_api_description() {
    let app = TestApp::spawn_with(|c| {
        c.engine.token_prefix = tessera_core::token::TokenPrefix::new("rly").unwrap()
    })
    .await;
    assert!(app.admin.starts_with("rly_"));
    let (_, token, _) = app.create(&app.admin, json!({"name": "relay"})).await;
    assert!(token.starts_with("rly_"));
    assert_eq!(app.verify(&token, &[], None).await["code"], "VALID");

    let health = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    let ready = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK);
    let spec = app.call(Method::GET, "/openapi.json", None, None).await;
    for path in [
        "/v1/tokens",
        "/v1/tokens/{id}",
        "/v1/tokens/self",
        "/v1/verify",
        "/v1/repo_token",
        "/repo/{repo_id}/apikey",
    ] {
        assert!(
            spec.body["paths"][path].is_object(),
            "{path} missing from /openapi.json"
        );
    }
}

#[tokio::test]
async fn metrics_can_ask_for_a_token_or_move_to_an_address_of_their_own() {
    let guarded = TestApp::spawn_with(|c| c.metrics.require_token = true).await;
    let metrics = |token: Option<&'static str>| {
        let app = &guarded;
        async move { app.call(Method::GET, "/metrics", token, None).await }
    };
    metrics(None)
        .await
        .assert_problem(401, "missing_credentials");
    let (_, reader, _) = guarded
        .create(
            &guarded.admin,
            json!({"name": "r", "scopes": ["tokens:read"]}),
        )
        .await;
    let (_, scraper, _) = guarded
        .create(
            &guarded.admin,
            json!({"name": "p", "scopes": ["metrics:read"]}),
        )
        .await;
    let refused = guarded.get("/metrics", &reader).await;
    refused.assert_problem(403, "insufficient_scope");
    assert_eq!(
        guarded.get("/metrics", &scraper).await.status,
        StatusCode::OK
    );
    // /readyz says ready, and counts nothing.
    let ready = guarded.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.body, json!({"status": "ready", "store": "up"}));

    let apart = TestApp::spawn_with(|c| c.set_metrics_listen("127.0.0.1:0").unwrap()).await;
    apart
        .call(Method::GET, "/metrics", None, None)
        .await
        .assert_problem(404, "no_such_endpoint");
    let addr = apart.server.as_ref().unwrap().metrics_addr.unwrap();
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("tessera_tokens{status=\"active\"} "),
        "{text}"
    );
}

/// A `meta` longer than the index keeps is read from the store for the answer: the
/// verify answer is the same whatever its length, through the own loop and hyper.
#[tokio::test]
async fn a_long_meta_is_answered_whole_from_the_store() {
    let app = TestApp::spawn().await;
    let long = json!({"plan": "enterprise", "notes": "n".repeat(3_000), "quote": "a \"quoted\" é"});
    let short = json!({"plan": "free"});
    for meta in [long, short] {
        let (id, token, _) = app
            .create(&app.admin, json!({"name": "meta", "meta": meta}))
            .await;
        let answer = app.verify(&token, &[], None).await;
        assert_eq!(answer["code"], "VALID");
        assert_eq!(answer["meta"], meta);
        // An edit's new meta is what the next answer shows.
        app.patch(
            &format!("/v1/tokens/{id}"),
            &app.admin,
            json!({"meta": {"v": 2}}),
        )
        .await;
        assert_eq!(app.verify(&token, &[], None).await["meta"], json!({"v": 2}));
    }
}
