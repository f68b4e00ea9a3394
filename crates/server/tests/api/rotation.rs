//! Rotation: a new secret for the same token, the previous one working through its
//! grace period, and a reuse after it treated as theft.

use std::time::Duration;

use serde_json::json;
use tessera_engine::ReuseAction;

use crate::helpers::TestApp;

/// Waits (a bounded while) until the token `id` is revoked: reuse is acted on off
/// the check path.
async fn until_revoked(app: &TestApp, id: &str, secret: &str) -> bool {
    for _ in 0..200 {
        let shown = app.get(&format!("/v1/tokens/{id}"), &app.admin).await;
        // Stored and in the index both: a revocation for reuse is made in the
        // background, and its record is read from the store a moment before the
        // index, which verification reads, has it.
        if shown.body["status"] == "revoked"
            && app.verify(secret, &["repo:read"], None).await["code"] == "REVOKED"
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn the_previous_secret_works_through_its_grace_then_reuse_revokes() {
    let app = TestApp::spawn().await;
    let (id, old, _) = app
        .create(
            &app.admin,
            json!({"name": "ci", "scopes": ["repo:read", "tokens:manage"]}),
        )
        .await;
    // A child, and some use, that the rotation must keep.
    let (child, child_secret, _) = app
        .create(&old, json!({"name": "child", "scopes": ["repo:read"]}))
        .await;
    assert_eq!(app.verify(&old, &["repo:read"], None).await["valid"], true);

    let rotated = app
        .post(
            &format!("/v1/tokens/{id}/rotate"),
            &app.admin,
            json!({"grace_seconds": 3600}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new = rotated.body["token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(rotated.body["id"], id.as_str(), "the same token");
    assert_eq!(rotated.body["name"], "ci");
    assert!(
        rotated.body["start"]
            .as_str()
            .is_some_and(|s| new.starts_with(s))
    );

    for secret in [&new, &old] {
        let answer = app.verify(secret, &["repo:read"], None).await;
        assert_eq!(
            (answer["valid"].as_bool(), answer["token_id"].as_str()),
            (Some(true), Some(id.as_str()))
        );
    }
    assert_eq!(
        app.verify(&child_secret, &["repo:read"], None).await["valid"],
        true
    );
    // The previous secret's answer says when it stops (the grace end), so that a
    // client keeping answers (the guard's cache) does not keep it longer.
    let grace_end = tessera_core::timefmt::format_rfc3339(crate::helpers::START_MS + 3_600_000);
    assert_eq!(
        app.verify(&old, &[], None).await["expires_at"],
        grace_end.as_str()
    );
    assert_eq!(
        app.verify(&new, &[], None).await["expires_at"],
        serde_json::Value::Null
    );

    // Past the grace period the previous secret is refused, and was kept by someone.
    app.advance_secs(3600);
    assert_eq!(
        app.verify(&old, &["repo:read"], None).await["code"],
        "ROTATED"
    );
    app.get("/v1/tokens/self", &old)
        .await
        .assert_problem(401, "invalid_token");
    assert!(
        until_revoked(&app, &id, &new).await,
        "reuse revokes the token (on_rotated_reuse = revoke)"
    );
    assert_eq!(
        app.verify(&new, &["repo:read"], None).await["code"],
        "REVOKED"
    );
    let child = app.get(&format!("/v1/tokens/{child}"), &app.admin).await;
    assert_eq!(child.body["status"], "revoked", "and its subtree");
}

#[tokio::test]
async fn with_report_a_reuse_is_only_logged() {
    let app =
        TestApp::spawn_with(|config| config.engine.on_rotated_reuse = ReuseAction::Report).await;
    let (id, old, _) = app
        .create(&app.admin, json!({"name": "ci", "scopes": ["repo:read"]}))
        .await;
    let rotated = app
        .post(&format!("/v1/tokens/{id}/rotate"), &app.admin, json!({}))
        .await;
    assert_eq!(rotated.status, 200);
    let new = rotated.body["token"].as_str().unwrap().to_owned();
    // No grace given: the previous secret stops at once.
    assert_eq!(
        app.verify(&old, &["repo:read"], None).await["code"],
        "ROTATED"
    );
    assert!(!until_revoked(&app, &id, &new).await);
    assert_eq!(app.verify(&new, &["repo:read"], None).await["valid"], true);
}

#[tokio::test]
async fn a_token_rotates_itself_and_the_rotation_survives_a_restart() {
    let mut app = TestApp::spawn().await;
    let (id, old, _) = app
        .create(
            &app.admin,
            json!({"name": "sandbox", "scopes": ["repo:read"]}),
        )
        .await;
    let rotated = app
        .post("/v1/tokens/self/rotate", &old, json!({"grace_seconds": 60}))
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new = rotated.body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/v1/tokens/self", &new).await.body["id"],
        id.as_str()
    );

    app.restart().await;
    assert_eq!(
        app.get("/v1/tokens/self", &old).await.body["id"],
        id.as_str(),
        "in its grace period"
    );
    app.advance_secs(60);
    assert_eq!(app.verify(&old, &[], None).await["code"], "ROTATED");
}

#[tokio::test]
async fn bad_rotations_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (id, secret, _) = app
        .create(&app.admin, json!({"name": "ci", "scopes": ["repo:read"]}))
        .await;
    let path = format!("/v1/tokens/{id}/rotate");
    for grace in [json!(604_801), json!(-1), json!("an hour")] {
        let reply = app
            .post(&path, &app.admin, json!({"grace_seconds": grace}))
            .await;
        assert_eq!(reply.status, 400, "{grace}: {}", reply.body);
    }
    let reply = app
        .post(&path, &app.admin, json!({"grace_seconds": 604_801}))
        .await;
    reply.assert_problem(400, "invalid_grace");
    assert_eq!(reply.body["field"], "grace_seconds");
    app.post("/v1/tokens/tok_none/rotate", &app.admin, json!({}))
        .await
        .assert_problem(404, "not_found");
    app.post("/v1/tokens/self/rotate", &app.admin, json!({}))
        .await
        .assert_problem(409, "admin_token");
    // A token without tokens:manage rotates only itself.
    let (other, _, _) = app.create(&app.admin, json!({"name": "other"})).await;
    app.post(&format!("/v1/tokens/{other}/rotate"), &secret, json!({}))
        .await
        .assert_problem(403, "insufficient_scope");
    assert_eq!(
        app.verify(&secret, &["repo:read"], None).await["valid"],
        true,
        "unchanged"
    );

    app.delete(&format!("/v1/tokens/{id}"), &app.admin).await;
    app.post(&path, &app.admin, json!({}))
        .await
        .assert_problem(409, "token_revoked");
}
