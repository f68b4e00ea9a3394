//! Managers: tokens that make tokens, only within their own powers and subtree.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

/// A manager for tenant A: may manage and read tokens, read repo a, for an hour, at
/// most 120 a minute.
async fn manager(app: &TestApp, owner: &str) -> (String, String) {
    let (id, token, _) = app
        .create(
            &app.admin,
            json!({"name": format!("manager {owner}"), "owner": owner,
                   "scopes": ["tokens:manage", "tokens:read", "repo:read", "repo:write"],
                   "resources": ["repo:a", "repo:b"], "expires_in": 3600,
                   "rate_limit": {"per_minute": 120, "burst": 100}}),
        )
        .await;
    (id, token)
}

#[tokio::test]
async fn a_manager_cannot_grant_more_than_it_has() {
    let app = TestApp::spawn().await;
    let (_, boss) = manager(&app, "tenant-a").await;
    let count_before = app.token_count().await;
    let attempts = [
        (
            json!({"name": "x", "scopes": ["repo:admin"], "resources": ["repo:a"]}),
            "scopes",
        ),
        (
            json!({"name": "x", "scopes": ["repo:*"], "resources": ["repo:a"]}),
            "scopes",
        ),
        (json!({"name": "x", "resources": ["repo:a"]}), "scopes"),
        (
            json!({"name": "x", "scopes": ["tokens:verify"], "resources": ["repo:a"]}),
            "scopes",
        ),
        (
            json!({"name": "x", "scopes": ["repo:read"], "resources": ["repo:c"]}),
            "resources",
        ),
        (
            json!({"name": "x", "scopes": ["repo:read"], "resources": ["repo:*"]}),
            "resources",
        ),
        (json!({"name": "x", "scopes": ["repo:read"]}), "resources"),
        (
            json!({"name": "x", "scopes": ["repo:read"], "resources": ["repo:a"], "expires_in": 7200}),
            "expires_at",
        ),
        (
            json!({"name": "x", "scopes": ["repo:read"], "resources": ["repo:a"], "rate_limit": {"profile": "api_heavy"}}),
            "rate_limit",
        ),
    ];
    for (body, what) in attempts {
        let refused = app.post("/v1/tokens", &boss, body.clone()).await;
        refused.assert_problem(403, "escalation");
        assert!(
            refused.body["detail"]
                .as_str()
                .unwrap()
                .contains(if what == "expires_at" {
                    "expire"
                } else {
                    what.split('_').next().unwrap()
                }),
            "{body}: {}",
            refused.body
        );
    }
    assert_eq!(
        app.token_count().await,
        count_before,
        "refused requests change nothing"
    );

    // Within bounds: allowed; open bounds are inherited, never widened.
    let (_, child, body) = app
        .create(
            &boss,
            json!({"name": "sandbox", "scopes": ["repo:read"], "resources": ["repo:a"]}),
        )
        .await;
    assert_eq!(body["expires_at"], "2026-01-01T01:00:00Z");
    assert_eq!(body["rate_limit"]["per_minute"], 120);
    assert_eq!(
        app.verify(&child, &["repo:read"], Some("repo:a")).await["code"],
        "VALID"
    );
    assert_eq!(
        app.verify(&child, &["repo:write"], Some("repo:a")).await["code"],
        "FORBIDDEN"
    );
    // The child has no tokens:manage, so it cannot make tokens at all.
    app.post("/v1/tokens", &child, json!({"name": "y"}))
        .await
        .assert_problem(403, "insufficient_scope");
    // Nor verify others' tokens without tokens:verify.
    app.post("/v1/verify", &boss, json!({"token": child}))
        .await
        .assert_problem(403, "insufficient_scope");
}

#[tokio::test]
async fn a_manager_cannot_escalate_by_editing() {
    let app = TestApp::spawn().await;
    let (boss_id, boss) = manager(&app, "tenant-a").await;
    let (child_id, _, _) = app
        .create(
            &boss,
            json!({"name": "c", "scopes": ["repo:read"], "resources": ["repo:a"]}),
        )
        .await;
    let path = format!("/v1/tokens/{child_id}");
    app.patch(&path, &boss, json!({"scopes": ["*"]}))
        .await
        .assert_problem(403, "escalation");
    app.patch(&path, &boss, json!({"resources": null}))
        .await
        .assert_problem(403, "escalation");
    app.patch(&path, &boss, json!({"expires_at": "2030-01-01T00:00:00Z"}))
        .await
        .assert_problem(403, "escalation");
    let fine = app
        .patch(
            &path,
            &boss,
            json!({"scopes": ["repo:read", "repo:write"], "resources": ["repo:b"]}),
        )
        .await;
    assert_eq!(fine.status, StatusCode::OK, "{}", fine.body);
    // A manager cannot edit itself: it is not its own descendant.
    app.patch(
        &format!("/v1/tokens/{boss_id}"),
        &boss,
        json!({"scopes": ["*"]}),
    )
    .await
    .assert_problem(404, "not_found");
}

#[tokio::test]
async fn managers_see_only_their_subtree_and_revocation_cascades() {
    let app = TestApp::spawn().await;
    let (a_id, a) = manager(&app, "tenant-a").await;
    let (_, b) = manager(&app, "tenant-b").await;
    let (sub_id, sub, _) = app
        .create(&a, json!({"name": "sub-manager", "scopes": ["tokens:manage", "tokens:read", "repo:read"], "resources": ["repo:a"]}))
        .await;
    let (leaf_id, leaf, _) = app
        .create(
            &sub,
            json!({"name": "leaf", "scopes": ["repo:read"], "resources": ["repo:a"]}),
        )
        .await;
    let (b_child_id, _, _) = app
        .create(
            &b,
            json!({"name": "b-child", "scopes": ["repo:read"], "resources": ["repo:b"]}),
        )
        .await;

    let listed = app.get("/v1/tokens", &a).await;
    let ids: Vec<&str> = listed.body["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [leaf_id.as_str(), sub_id.as_str()]);
    app.get(&format!("/v1/tokens/{b_child_id}"), &a)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/v1/tokens/{a_id}"), &b)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("/v1/tokens/{leaf_id}"), &b)
        .await
        .assert_problem(404, "not_found");
    app.delete(&format!("/v1/tokens/{leaf_id}"), &b)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(
        app.get(&format!("/v1/tokens/{leaf_id}"), &a).await.status,
        StatusCode::OK
    );

    // Revoking the sub-manager revokes what it made; the manager above stays.
    assert_eq!(
        app.delete(&format!("/v1/tokens/{sub_id}"), &a).await.status,
        StatusCode::OK
    );
    assert_eq!(app.verify(&sub, &[], None).await["code"], "REVOKED");
    assert_eq!(app.verify(&leaf, &[], None).await["code"], "REVOKED");
    assert_eq!(app.verify(&a, &[], None).await["code"], "VALID");

    // Revoking from the top takes the whole subtree.
    let (_, fresh, _) = app
        .create(
            &a,
            json!({"name": "fresh", "scopes": ["repo:read"], "resources": ["repo:a"]}),
        )
        .await;
    app.delete(&format!("/v1/tokens/{a_id}"), &app.admin).await;
    assert_eq!(app.verify(&fresh, &[], None).await["code"], "REVOKED");
    assert_eq!(app.verify(&b, &[], None).await["code"], "VALID");
}

#[tokio::test]
async fn a_manager_revoked_mid_request_creates_nothing() {
    use tessera_core::record::TokenDraft;
    use tessera_engine::Credential;
    use tessera_engine::EngineError;

    let app = TestApp::spawn().await;
    let (boss_id, boss) = manager(&app, "tenant-a").await;
    let engine = &app.server.as_ref().unwrap().engine;
    // The manager authenticated, and is revoked before its create reaches the store.
    let credential = Credential {
        secret: boss.as_str().into(),
        key_id: None,
    };
    let caller = engine
        .authenticate(&credential, Some("tokens:manage"), [127, 0, 0, 1].into())
        .await
        .unwrap();
    app.delete(&format!("/v1/tokens/{boss_id}"), &app.admin)
        .await;
    let draft = TokenDraft {
        name: Some("orphan".into()),
        scopes: Some(vec!["repo:read".into()]),
        resources: Some(vec!["repo:a".into()]),
        ..TokenDraft::default()
    };
    let refused = engine.create(&caller, draft).await;
    assert!(matches!(refused, Err(EngineError::InvalidToken { .. })));
    let orphans = app.get("/v1/tokens?name=orphan", &app.admin).await;
    assert_eq!(orphans.body["tokens"], json!([]));
}

#[tokio::test]
async fn edits_stay_within_the_parent_and_never_strand_descendants() {
    let app = TestApp::spawn().await;
    let (boss_id, boss) = manager(&app, "tenant-a").await;
    let (child_id, _, child) = app
        .create(
            &boss,
            json!({"name": "c", "scopes": ["repo:read", "repo:write"], "resources": ["repo:a"]}),
        )
        .await;
    assert_eq!(
        child["owner"], "tenant-a",
        "a manager's tokens act for its owner"
    );
    app.post(
        "/v1/tokens",
        &boss,
        json!({"name": "x", "scopes": ["repo:read"], "resources": ["repo:a"], "owner": "tenant-b"}),
    )
    .await
    .assert_problem(403, "escalation");

    // Even the admin cannot widen a token beyond its parent: the parent holds its secret.
    app.patch(
        &format!("/v1/tokens/{child_id}"),
        &app.admin,
        json!({"scopes": ["*"]}),
    )
    .await
    .assert_problem(403, "escalation");
    // Narrowing the manager below what its live child has is refused, not left half-done.
    let narrowed = app
        .patch(
            &format!("/v1/tokens/{boss_id}"),
            &app.admin,
            json!({"scopes": ["tokens:manage", "repo:read"]}),
        )
        .await;
    narrowed.assert_problem(409, "descendants_exceed");
    assert_eq!(
        app.verify(&boss, &["repo:write"], Some("repo:a")).await["code"],
        "VALID"
    );
    app.delete(&format!("/v1/tokens/{child_id}"), &app.admin)
        .await;
    let narrowed = app
        .patch(
            &format!("/v1/tokens/{boss_id}"),
            &app.admin,
            json!({"scopes": ["tokens:manage", "repo:read"]}),
        )
        .await;
    assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.body);
}

#[tokio::test]
async fn a_looser_deployment_default_gives_way_to_the_managers_limit() {
    let app = TestApp::spawn_with(|c| {
        c.engine.default_rate_limit = Some(tessera_core::record::RateLimitSetting {
            profile: None,
            per_minute: 6000,
            burst: 1000,
        })
    })
    .await;
    let (_, boss) = manager(&app, "tenant-a").await;
    let (_, _, child) = app
        .create(
            &boss,
            json!({"name": "c", "scopes": ["repo:read"], "resources": ["repo:a"]}),
        )
        .await;
    assert_eq!(
        child["rate_limit"],
        json!({"profile": null, "per_minute": 120, "burst": 100})
    );
    // Asked for explicitly, a looser limit is still refused.
    app.post("/v1/tokens", &boss, json!({"name": "x", "scopes": ["repo:read"], "resources": ["repo:a"], "rate_limit": {"per_minute": 6000, "burst": 1000}}))
        .await
        .assert_problem(403, "escalation");
}

/// The case: a manager's children made children of their own, past any
/// bound on the manager. Now `max_descendants` bounds the whole subtree, is
/// inherited and only narrowed, and a revoked or expired token frees its place.
#[tokio::test]
async fn max_descendants_bounds_a_whole_subtree_and_frees_places_as_tokens_end() {
    let app = TestApp::spawn_with(|config| config.engine.default_max_descendants = Some(50)).await;
    let manage = |name: &str, extra: serde_json::Value| {
        let mut body = json!({"name": name, "scopes": ["tokens:manage", "repo:read"]});
        for (key, value) in extra.as_object().into_iter().flatten() {
            body[key] = value.clone();
        }
        body
    };
    let (boss_id, boss, created) = app
        .create(&app.admin, manage("boss", json!({"max_descendants": 4})))
        .await;
    assert_eq!(created["max_descendants"], 4);
    // Left out, a child takes its maker's bound; more than it is an escalation.
    let (_, lead, created) = app.create(&boss, manage("lead", json!({}))).await;
    assert_eq!(created["max_descendants"], 4);
    let before = app.token_count().await;
    let greedy = app
        .post(
            "/v1/tokens",
            &boss,
            manage("greedy", json!({"max_descendants": 5})),
        )
        .await;
    assert_eq!(greedy.status, StatusCode::FORBIDDEN, "{}", greedy.body);
    assert_eq!(greedy.body["code"], "escalation");
    // Grandchildren count against the boss too: 1 child + 3 grandchildren = 4.
    let mut grandchildren = Vec::new();
    for n in 0..3 {
        grandchildren.push(app.create(&lead, manage(&format!("g{n}"), json!({}))).await);
    }
    for maker in [&boss, &lead] {
        let refused = app
            .post("/v1/tokens", maker, manage("one more", json!({})))
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
        assert_eq!(refused.body["code"], "quota_exceeded");
        assert!(
            refused.body["detail"]
                .as_str()
                .unwrap()
                .contains("\"boss\"")
        );
    }
    assert_eq!(
        app.token_count().await,
        before + 3,
        "refusals store nothing"
    );
    // A revoked token frees its place, and so does an expired one.
    let (revoked_id, _, _) = &grandchildren[0];
    assert_eq!(
        app.delete(&format!("/v1/tokens/{revoked_id}"), &lead)
            .await
            .status,
        StatusCode::OK
    );
    app.create(&lead, manage("short-lived", json!({"expires_in": 60})))
        .await;
    assert_eq!(
        app.post("/v1/tokens", &lead, manage("x", json!({})))
            .await
            .body["code"],
        "quota_exceeded"
    );
    app.advance_secs(61);
    app.create(&lead, manage("after expiry", json!({}))).await;
    // A token made by the admin, stating none, takes the deployment's default.
    let (_, _, created) = app.create(&app.admin, json!({"name": "plain"})).await;
    assert_eq!(created["max_descendants"], 50);
    // An edit may narrow it; clearing it falls back to the maker's bound.
    let narrowed = app
        .patch(
            &format!("/v1/tokens/{boss_id}"),
            &app.admin,
            json!({"max_descendants": 2}),
        )
        .await;
    assert_eq!(narrowed.body["max_descendants"], 2, "{}", narrowed.body);
    let cleared = app
        .patch(
            &format!("/v1/tokens/{boss_id}"),
            &app.admin,
            json!({"max_descendants": null}),
        )
        .await;
    assert_eq!(cleared.body["max_descendants"], 50, "{}", cleared.body);
}

#[tokio::test]
async fn max_tokens_per_owner_bounds_the_live_tokens_of_each_owner() {
    let app = TestApp::spawn_with(|config| config.engine.max_tokens_per_owner = Some(2)).await;
    let mut made = Vec::new();
    for n in 0..2 {
        made.push(
            app.create(
                &app.admin,
                json!({"name": format!("t{n}"), "owner": "user-1"}),
            )
            .await,
        );
    }
    let before = app.token_count().await;
    let refused = app
        .post(
            "/v1/tokens",
            &app.admin,
            json!({"name": "t2", "owner": "user-1"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.body["code"], "quota_exceeded");
    // Another owner is not held back, nor may an edit move a token past the bound.
    let (other_id, _, _) = app
        .create(&app.admin, json!({"name": "u2", "owner": "user-2"}))
        .await;
    let moved = app
        .patch(
            &format!("/v1/tokens/{other_id}"),
            &app.admin,
            json!({"owner": "user-1"}),
        )
        .await;
    assert_eq!(moved.body["code"], "quota_exceeded", "{}", moved.body);
    assert_eq!(app.token_count().await, before + 1);
    let (revoked_id, _, _) = &made[0];
    app.delete(&format!("/v1/tokens/{revoked_id}"), &app.admin)
        .await;
    app.create(&app.admin, json!({"name": "t2", "owner": "user-1"}))
        .await;
}

/// A manager with a budget of 20 requests (no refill within the test's frozen
/// minute) makes 3 children, each of which makes 3 tokens: 12 requests of its
/// budget spent, as the tree scope counts them. Its 9 grandchildren then verify 3
/// times each: with `rate_limit_scope = "tree"` exactly the 8 left pass, where each
/// token's own bucket alone lets all 27 through.
#[tokio::test]
async fn a_tree_scope_bounds_a_whole_subtree_by_its_managers_budget() {
    for (scope, expected) in [
        (tessera_engine::RateLimitScope::Tree, 8),
        (tessera_engine::RateLimitScope::Token, 27),
    ] {
        let app = TestApp::spawn_with(move |config| config.engine.rate_limit_scope = scope).await;
        let manage = json!({"scopes": ["tokens:manage", "repo:read"],
                            "rate_limit": {"per_minute": 1, "burst": 20}});
        let mut body = manage.clone();
        body["name"] = json!("boss");
        let (_, boss, _) = app.create(&app.admin, body).await;
        let mut grandchildren = Vec::new();
        for c in 0..3 {
            let mut body = manage.clone();
            body["name"] = json!(format!("child {c}"));
            let (_, child, _) = app.create(&boss, body).await;
            for g in 0..3 {
                let body = json!({"name": format!("g{c}{g}"), "scopes": ["repo:read"]});
                grandchildren.push(app.create(&child, body).await.1);
            }
        }
        let mut valid = 0;
        for _ in 0..3 {
            for token in &grandchildren {
                let answer = app.verify(token, &[], None).await;
                match answer["code"].as_str() {
                    Some("VALID") => valid += 1,
                    Some("RATE_LIMITED") => {
                        assert_eq!(answer["rate_limit"]["remaining"], 0, "{answer}");
                    }
                    other => panic!("{other:?}: {answer}"),
                }
            }
        }
        assert_eq!(valid, expected, "{scope:?}");
    }
}
