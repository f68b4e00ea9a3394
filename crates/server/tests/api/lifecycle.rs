//! Expiry, rate limits, edits, revocation and restarts, with the clock moved by hand.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn expiry_returns_401_and_expired() {
    let app = TestApp::spawn().await;
    let (id, token, body) = app
        .create(&app.admin, json!({"name": "temp", "expires_in": 60}))
        .await;
    assert_eq!(body["expires_at"], "2026-01-01T00:01:00Z");
    assert_eq!(
        app.get("/v1/tokens/self", &token).await.status,
        StatusCode::OK
    );
    app.advance_secs(59);
    assert_eq!(app.verify(&token, &[], None).await["code"], "VALID");
    app.advance_secs(1);
    let expired = app.verify(&token, &[], None).await;
    assert_eq!(expired["code"], "EXPIRED");
    assert_eq!(expired["token_id"], id);
    let refused = app.get("/v1/tokens/self", &token).await;
    refused.assert_problem(401, "invalid_token");
    assert!(
        refused.header("www-authenticate").contains("Bearer")
            && refused.header("www-authenticate").contains("invalid_token")
    );
    assert_eq!(
        app.get(&format!("/v1/tokens/{id}"), &app.admin).await.body["status"],
        "expired"
    );

    let (_, _, dated) = app
        .create(
            &app.admin,
            json!({"name": "dated", "expires_at": "2026-01-01T02:00:00+01:00"}),
        )
        .await;
    assert_eq!(dated["expires_at"], "2026-01-01T01:00:00Z");
    app.post(
        "/v1/tokens",
        &app.admin,
        json!({"name": "past", "expires_at": "2025-01-01T00:00:00Z"}),
    )
    .await
    .assert_problem(400, "expiry_in_past");
}

#[tokio::test]
async fn a_token_is_refused_before_not_before_and_valid_from_it() {
    let app = TestApp::spawn_with(crate::guard::with_routes).await;
    let (id, token, body) = app
        .create(
            &app.admin,
            json!({"name": "later", "not_before": "2026-01-01T00:01:00Z", "expires_in": 3600}),
        )
        .await;
    assert_eq!(body["not_before"], "2026-01-01T00:01:00Z");
    assert_eq!(body["status"], "pending");
    let listed = |status: &'static str| {
        let app = &app;
        async move {
            let page = app
                .get(&format!("/v1/tokens?status={status}"), &app.admin)
                .await;
            page.body["tokens"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("pending").await, ["later"]);
    assert!(!listed("active").await.contains(&"later".to_owned()));
    let early = app.verify(&token, &[], None).await;
    assert_eq!(
        (early["valid"].clone(), early["code"].clone()),
        (json!(false), json!("NOT_YET_VALID"))
    );
    assert_eq!(early["token_id"], id);
    let refused = app.get("/v1/tokens/self", &token).await;
    refused.assert_problem(401, "invalid_token");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("not valid yet")
    );
    // The edges refuse it too: forward-auth answers 401.
    let guarded = "/v1/authz/api/v1/apps/1/events";
    app.post(guarded, &token, json!({}))
        .await
        .assert_problem(401, "invalid_token");
    app.advance_secs(60);
    assert_eq!(app.verify(&token, &[], None).await["code"], "VALID");
    assert_eq!(
        app.post(guarded, &token, json!({})).await.status,
        StatusCode::OK
    );
    assert!(listed("active").await.contains(&"later".to_owned()));
    assert!(listed("pending").await.is_empty());

    // Edited back into the future, then cleared: valid at once.
    let pushed = app
        .patch(
            &format!("/v1/tokens/{id}"),
            &app.admin,
            json!({"not_before": "2026-01-01T00:30:00Z"}),
        )
        .await;
    assert_eq!(pushed.body["not_before"], "2026-01-01T00:30:00Z");
    assert_eq!(app.verify(&token, &[], None).await["code"], "NOT_YET_VALID");
    let cleared = app
        .patch(
            &format!("/v1/tokens/{id}"),
            &app.admin,
            json!({"not_before": null}),
        )
        .await;
    assert_eq!(cleared.body["not_before"], json!(null));
    assert_eq!(app.verify(&token, &[], None).await["code"], "VALID");

    // A token that would never be valid, or a time that is not one, is refused.
    app.post(
        "/v1/tokens",
        &app.admin,
        json!({"name": "never", "not_before": "2026-01-02T00:00:00Z", "expires_in": 60}),
    )
    .await
    .assert_problem(400, "not_before_after_expiry");
    app.post(
        "/v1/tokens",
        &app.admin,
        json!({"name": "bad", "not_before": "tomorrow"}),
    )
    .await
    .assert_problem(400, "invalid_not_before");
}

#[tokio::test]
async fn rate_limits_deny_then_refill() {
    let app = TestApp::spawn().await;
    let (_, token, body) = app.create(&app.admin, json!({"name": "r", "scopes": ["events:publish"], "rate_limit": {"profile": "restricted"}})).await;
    assert_eq!(
        body["rate_limit"],
        json!({"profile": "restricted", "per_minute": 10, "burst": 5})
    );
    // Denied requests spend nothing.
    for _ in 0..10 {
        assert_eq!(
            app.verify(&token, &["channels:read"], None).await["code"],
            "FORBIDDEN"
        );
    }
    for remaining in (0..5).rev() {
        let ok = app.verify(&token, &["events:publish"], None).await;
        assert_eq!(ok["code"], "VALID");
        assert_eq!(ok["rate_limit"]["remaining"], remaining);
        assert_eq!(ok["rate_limit"]["limit"], 5);
    }
    let limited = app.verify(&token, &["events:publish"], None).await;
    assert_eq!(limited["code"], "RATE_LIMITED");
    assert_eq!(limited["rate_limit"]["remaining"], 0);
    assert_eq!(limited["rate_limit"]["reset_ms"], 6000);

    // Presented to the API itself, the same budget answers 429 with Retry-After.
    let api = app.get("/v1/tokens/self", &token).await;
    api.assert_problem(429, "rate_limited");
    assert_eq!(api.header("retry-after"), "6");

    app.advance_secs(6);
    assert_eq!(
        app.verify(&token, &["events:publish"], None).await["code"],
        "VALID"
    );
    assert_eq!(
        app.verify(&token, &["events:publish"], None).await["code"],
        "RATE_LIMITED"
    );

    let (_, custom, _) = app
        .create(
            &app.admin,
            json!({"name": "c", "rate_limit": {"per_minute": 60, "burst": 2}}),
        )
        .await;
    assert_eq!(app.verify(&custom, &[], None).await["code"], "VALID");
    assert_eq!(app.verify(&custom, &[], None).await["code"], "VALID");
    assert_eq!(app.verify(&custom, &[], None).await["code"], "RATE_LIMITED");
    app.advance_secs(1);
    assert_eq!(app.verify(&custom, &[], None).await["code"], "VALID");
}

#[tokio::test]
async fn a_default_rate_limit_applies_to_tokens_that_set_none() {
    let app = TestApp::spawn_with(|c| {
        c.engine.default_rate_limit = Some(tessera_core::record::RateLimitSetting {
            profile: None,
            per_minute: 60,
            burst: 1,
        })
    })
    .await;
    let (_, token, body) = app.create(&app.admin, json!({"name": "d"})).await;
    assert_eq!(body["rate_limit"]["burst"], 1);
    assert_eq!(app.verify(&token, &[], None).await["code"], "VALID");
    assert_eq!(app.verify(&token, &[], None).await["code"], "RATE_LIMITED");
}

#[tokio::test]
async fn edits_hold_from_the_next_verification() {
    let app = TestApp::spawn().await;
    let (id, token, _) = app
        .create(
            &app.admin,
            json!({"name": "e", "scopes": ["events:publish"]}),
        )
        .await;
    assert_eq!(
        app.verify(&token, &["events:publish"], None).await["code"],
        "VALID"
    );

    let edited = app
        .patch(&format!("/v1/tokens/{id}"), &app.admin, json!({"name": "e2", "scopes": ["channels:read"], "resources": ["app:1"], "meta": {"v": 2}, "rate_limit": {"per_minute": 60, "burst": 1}}))
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
    assert_eq!(edited.body["name"], "e2");
    assert_eq!(
        app.verify(&token, &["events:publish"], Some("app:1")).await["code"],
        "FORBIDDEN"
    );
    let now = app.verify(&token, &["channels:read"], Some("app:1")).await;
    assert_eq!(
        (now["code"].clone(), now["meta"].clone()),
        (json!("VALID"), json!({"v": 2}))
    );
    assert_eq!(
        app.verify(&token, &["channels:read"], Some("app:1")).await["code"],
        "RATE_LIMITED"
    );

    // Access level instead of scopes; null clears.
    let access = app
        .patch(
            &format!("/v1/tokens/{id}"),
            &app.admin,
            json!({"access": "ADMIN", "resources": null, "rate_limit": null, "meta": null}),
        )
        .await;
    assert_eq!(
        (access.body["access"].clone(), access.body["scopes"].clone()),
        (json!("ADMIN"), json!(null))
    );
    assert_eq!(
        app.verify(&token, &["webhooks:manage"], Some("app:99"))
            .await["code"],
        "VALID"
    );

    let expiring = app
        .patch(
            &format!("/v1/tokens/{id}"),
            &app.admin,
            json!({"expires_in": 10}),
        )
        .await;
    assert_eq!(expiring.body["expires_at"], "2026-01-01T00:00:10Z");
    app.advance_secs(10);
    assert_eq!(app.verify(&token, &[], None).await["code"], "EXPIRED");
    // An expired token can still be renamed or given a new expiry.
    let renewed = app
        .patch(
            &format!("/v1/tokens/{id}"),
            &app.admin,
            json!({"name": "renewed", "expires_at": null}),
        )
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    assert_eq!(app.verify(&token, &[], None).await["code"], "VALID");
}

#[tokio::test]
async fn revocation_is_immediate_idempotent_and_kept_for_audit() {
    let app = TestApp::spawn().await;
    let (id, token, _) = app.create(&app.admin, json!({"name": "x"})).await;
    assert_eq!(app.verify(&token, &[], None).await["code"], "VALID");
    let revoked = app.delete(&format!("/v1/tokens/{id}"), &app.admin).await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(revoked.body["status"], "revoked");
    assert_eq!(app.verify(&token, &[], None).await["code"], "REVOKED");
    app.get("/v1/tokens/self", &token)
        .await
        .assert_problem(401, "invalid_token");
    let again = app.delete(&format!("/v1/tokens/{id}"), &app.admin).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["revoked_at"], revoked.body["revoked_at"]);
    app.patch(
        &format!("/v1/tokens/{id}"),
        &app.admin,
        json!({"name": "back"}),
    )
    .await
    .assert_problem(409, "token_revoked");

    // The admin token cannot be revoked through the API (that would lock everyone out).
    let admin_id = app.get("/v1/tokens/self", &app.admin).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.delete(&format!("/v1/tokens/{admin_id}"), &app.admin)
        .await
        .assert_problem(409, "admin_token");
    app.delete("/v1/tokens/self", &app.admin)
        .await
        .assert_problem(409, "admin_token");
}

#[tokio::test]
async fn whoami_and_self_revocation_need_no_scope() {
    let app = TestApp::spawn().await;
    let (id, token, _) = app
        .create(
            &app.admin,
            json!({"name": "sandbox", "scopes": ["repo:read"]}),
        )
        .await;
    let me = app.get("/v1/tokens/self", &token).await;
    assert_eq!(me.body["id"], id);
    assert!(me.body.get("token").is_none());
    let gone = app.delete("/v1/tokens/self", &token).await;
    assert_eq!(
        (gone.status, gone.body["status"].clone()),
        (StatusCode::OK, json!("revoked"))
    );
    app.get("/v1/tokens/self", &token)
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn revocations_usage_and_tokens_survive_a_restart() {
    let mut app = TestApp::spawn().await;
    let (kept_id, kept, _) = app
        .create(
            &app.admin,
            json!({"name": "kept", "rate_limit": {"profile": "restricted"}}),
        )
        .await;
    let (gone_id, gone, _) = app.create(&app.admin, json!({"name": "gone"})).await;
    for _ in 0..3 {
        assert_eq!(app.verify(&kept, &[], None).await["code"], "VALID");
    }
    app.delete(&format!("/v1/tokens/{gone_id}"), &app.admin)
        .await;
    app.restart().await;
    assert_eq!(app.verify(&gone, &[], None).await["code"], "REVOKED");
    let kept_again = app.verify(&kept, &[], None).await;
    assert_eq!(kept_again["code"], "VALID");
    let shown = app.get(&format!("/v1/tokens/{kept_id}"), &app.admin).await;
    assert_eq!(shown.body["use_count"], 4);
    assert!(shown.body["last_used_at"].is_string());
    assert_eq!(
        app.get("/v1/tokens/self", &app.admin).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn usage_counts_are_whole_across_a_usage_flush() {
    let app = TestApp::spawn().await;
    let (id, token, _) = app.create(&app.admin, json!({"name": "counted"})).await;
    let engine = &app.server.as_ref().expect("the server runs").engine;
    for round in 1..=3 {
        for _ in 0..2 {
            assert_eq!(app.verify(&token, &[], None).await["code"], "VALID");
        }
        // Written or pending, every use counts once.
        let shown = app.get(&format!("/v1/tokens/{id}"), &app.admin).await;
        assert_eq!(shown.body["use_count"], 2 * round);
        engine.flush_usage().await.expect("the store takes usage");
        let shown = app.get(&format!("/v1/tokens/{id}"), &app.admin).await;
        assert_eq!(shown.body["use_count"], 2 * round);
    }
}

#[tokio::test]
async fn the_token_text_appears_in_exactly_one_response() {
    let app = TestApp::spawn().await;
    let (id, token, _) = app.create(&app.admin, json!({"name": "secret"})).await;
    let secret_part = &token[4..];
    let mut seen = Vec::new();
    seen.push(app.get(&format!("/v1/tokens/{id}"), &app.admin).await.body);
    seen.push(app.get("/v1/tokens", &app.admin).await.body);
    seen.push(app.get("/v1/tokens/self", &token).await.body);
    seen.push(app.verify(&token, &[], None).await);
    seen.push(
        app.patch(
            &format!("/v1/tokens/{id}"),
            &app.admin,
            json!({"description": "d"}),
        )
        .await
        .body,
    );
    seen.push(
        app.get(&format!("/v1/repo_token/{token}"), &app.admin)
            .await
            .body,
    );
    seen.push(
        app.delete(&format!("/v1/tokens/{id}"), &app.admin)
            .await
            .body,
    );
    for body in seen {
        assert!(!body.to_string().contains(secret_part), "{body}");
    }
}
