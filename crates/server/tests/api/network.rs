//! Network binding: a token with `allowed_cidrs` works only from those networks, on
//! verify (the `client_ip` a backend passes on), on tessera's own API and on
//! forward-auth (the client trusted proxies name), and a manager's tokens only narrow
//! its networks.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::guard::{nginx_for, with_routes};
use crate::helpers::TestApp;

async fn verify_from(app: &TestApp, token: &str, client_ip: Option<&str>) -> Value {
    let mut body = json!({"token": token, "scopes": ["repo:read"]});
    if let Some(client_ip) = client_ip {
        body["client_ip"] = json!(client_ip);
    }
    let reply = app.post("/v1/verify", &app.admin, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

#[tokio::test]
async fn verify_answers_by_the_client_ip_a_backend_passes_on() {
    let app = TestApp::spawn().await;
    let (id, token, created) = app
        .create(
            &app.admin,
            json!({"name": "office", "scopes": ["repo:read"],
                   "allowed_cidrs": ["203.0.113.77/24", "2001:db8::/32", "198.51.100.7"]}),
        )
        .await;
    assert_eq!(
        created["allowed_cidrs"],
        json!(["203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"]),
        "host bits cleared, an address is one host"
    );
    for inside in [
        "203.0.113.9",
        "2001:db8:5::1",
        "198.51.100.7",
        "::ffff:203.0.113.1",
    ] {
        let answer = verify_from(&app, &token, Some(inside)).await;
        assert_eq!(answer["code"], "VALID", "{inside}: {answer}");
    }
    for outside in [Some("198.51.100.8"), Some("2001:db9::1"), None] {
        let answer = verify_from(&app, &token, outside).await;
        assert_eq!(answer["code"], "FORBIDDEN", "{outside:?}: {answer}");
        assert_eq!(answer["missing"]["network"], true, "{answer}");
        assert_eq!(answer["token_id"], id.as_str());
    }
    app.post(
        "/v1/verify",
        &app.admin,
        json!({"token": token, "client_ip": "203.0.113.9:443"}),
    )
    .await
    .assert_problem(400, "invalid_client_ip");
    // A token bound nowhere answers the same with or without an address.
    let (_, free, created) = app
        .create(&app.admin, json!({"name": "free", "scopes": ["repo:read"]}))
        .await;
    assert_eq!(created["allowed_cidrs"], json!([]));
    assert_eq!(verify_from(&app, &free, None).await["code"], "VALID");
    assert_eq!(
        verify_from(&app, &free, Some("192.0.2.1")).await["code"],
        "VALID"
    );
}

#[tokio::test]
async fn a_network_that_is_not_one_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let before = app.token_count().await;
    for bad in [
        json!(["10.0.0.0/33"]),
        json!(["office"]),
        json!(["10.0.0.1-10.0.0.9"]),
    ] {
        app.post(
            "/v1/tokens",
            &app.admin,
            json!({"name": "x", "allowed_cidrs": bad}),
        )
        .await
        .assert_problem(400, "invalid_cidr");
    }
    let too_many: Vec<String> = (0..65).map(|i| format!("10.0.{i}.0/24")).collect();
    app.post(
        "/v1/tokens",
        &app.admin,
        json!({"name": "x", "allowed_cidrs": too_many}),
    )
    .await
    .assert_problem(400, "invalid_cidr");
    assert_eq!(app.token_count().await, before);
    let (id, _, _) = app.create(&app.admin, json!({"name": "kept"})).await;
    app.patch(
        &format!("/v1/tokens/{id}"),
        &app.admin,
        json!({"allowed_cidrs": ["nowhere"]}),
    )
    .await
    .assert_problem(400, "invalid_cidr");
    let shown = app.get(&format!("/v1/tokens/{id}"), &app.admin).await;
    assert_eq!(shown.body["allowed_cidrs"], json!([]));
}

#[tokio::test]
async fn tesseras_own_api_refuses_a_token_from_outside_its_networks() {
    let app = TestApp::spawn().await;
    let (id, elsewhere, _) = app
        .create(
            &app.admin,
            json!({"name": "elsewhere", "scopes": ["tokens:read"], "allowed_cidrs": ["10.0.0.0/8"]}),
        )
        .await;
    let refused = app.get("/v1/tokens/self", &elsewhere).await;
    refused.assert_problem(403, "network_not_allowed");
    let detail = refused.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("127.0.0.1"),
        "names the address seen: {detail}"
    );
    // Moved into this machine's network, it works at once.
    app.patch(
        &format!("/v1/tokens/{id}"),
        &app.admin,
        json!({"allowed_cidrs": ["127.0.0.0/8"]}),
    )
    .await;
    assert_eq!(
        app.get("/v1/tokens/self", &elsewhere).await.status,
        StatusCode::OK
    );
    // And `[]` lets it be used from anywhere again.
    let cleared = app
        .patch(
            &format!("/v1/tokens/{id}"),
            &app.admin,
            json!({"allowed_cidrs": []}),
        )
        .await;
    assert_eq!(cleared.body["allowed_cidrs"], json!([]), "{}", cleared.body);
}

#[tokio::test]
async fn forward_auth_judges_the_client_trusted_proxies_name() {
    let app = TestApp::spawn_with(|config| {
        with_routes(config);
        config.engine.trusted_proxies =
            tessera_core::client::TrustedProxies::parse(&["127.0.0.1/32".into()]).unwrap();
    })
    .await;
    let (_, token, _) = app
        .create(
            &app.admin,
            json!({"name": "publisher", "scopes": ["events:publish"], "resources": ["app:1"],
                   "allowed_cidrs": ["203.0.113.0/24"]}),
        )
        .await;
    // `nginx_for` sends `X-Forwarded-For: 6.6.6.6, <client>`: the client wrote the
    // first entry itself, so only the right-most counts.
    assert_eq!(
        nginx_for(&app, "203.0.113.5", &token).await.status,
        StatusCode::OK
    );
    nginx_for(&app, "198.51.100.5", &token)
        .await
        .assert_problem(403, "network_not_allowed");
}

#[tokio::test]
async fn a_managers_tokens_only_narrow_its_networks() {
    let app = TestApp::spawn().await;
    let (manager_id, manager, _) = app
        .create(
            &app.admin,
            json!({"name": "manager", "scopes": ["tokens:manage", "tokens:read", "repo:read"],
                   "allowed_cidrs": ["127.0.0.0/8"]}),
        )
        .await;
    let (_, _, inherited) = app
        .create(&manager, json!({"name": "open", "scopes": ["repo:read"]}))
        .await;
    assert_eq!(inherited["allowed_cidrs"], json!(["127.0.0.0/8"]));
    let (child_id, _, _) = app
        .create(
            &manager,
            json!({"name": "narrow", "scopes": ["repo:read"], "allowed_cidrs": ["127.0.0.1"]}),
        )
        .await;
    let before = app.token_count().await;
    let wider = app
        .post(
            "/v1/tokens",
            &manager,
            json!({"name": "wider", "scopes": ["repo:read"], "allowed_cidrs": ["10.0.0.0/8"]}),
        )
        .await;
    wider.assert_problem(403, "escalation");
    assert_eq!(app.token_count().await, before);
    // `[]` is "anywhere" only within the maker's networks.
    let opened = app
        .patch(
            &format!("/v1/tokens/{child_id}"),
            &manager,
            json!({"allowed_cidrs": []}),
        )
        .await;
    assert_eq!(
        opened.body["allowed_cidrs"],
        json!(["127.0.0.0/8"]),
        "{}",
        opened.body
    );
    // Narrowing the manager below what its tokens have would strand them.
    app.patch(
        &format!("/v1/tokens/{manager_id}"),
        &app.admin,
        json!({"allowed_cidrs": ["127.0.0.2/32"]}),
    )
    .await
    .assert_problem(409, "descendants_exceed");
}

/// RFC 7662 introspection: a token bound to networks is active only for a client
/// inside them, and one with nothing left to spend is not active.
#[tokio::test]
async fn introspection_is_active_only_where_verify_would_allow() {
    let app = TestApp::spawn().await;
    let (_, bound, _) = app
        .create(
            &app.admin,
            json!({"name": "bound", "allowed_cidrs": ["10.0.0.0/8"]}),
        )
        .await;
    let (_, spent, _) = app
        .create(&app.admin, json!({"name": "spent", "max_uses": 1}))
        .await;
    assert_eq!(app.verify(&spent, &[], None).await["code"], "VALID");
    let introspect = |form: Vec<(&'static str, String)>| {
        let request = app
            .client
            .post(format!("{}/v1/introspect", app.base))
            .bearer_auth(&app.admin)
            .form(&form);
        async move { crate::helpers::reply(request.send().await.expect("an answer")).await }
    };
    let active = |form| async { introspect(form).await.body["active"].clone() };
    assert_eq!(active(vec![("token", bound.clone())]).await, false);
    assert_eq!(
        active(vec![
            ("token", bound.clone()),
            ("client_ip", "10.1.2.3".into())
        ])
        .await,
        true
    );
    assert_eq!(
        active(vec![
            ("token", bound.clone()),
            ("client_ip", "192.0.2.1".into())
        ])
        .await,
        false
    );
    assert_eq!(active(vec![("token", spent)]).await, false);
    introspect(vec![("token", bound), ("client_ip", "nowhere".into())])
        .await
        .assert_problem(400, "invalid_client_ip");
}

#[tokio::test]
async fn a_token_shows_where_it_was_last_used_from() {
    let app = TestApp::spawn().await;
    let (id, token, created) = app
        .create(
            &app.admin,
            json!({"name": "roaming", "scopes": ["repo:read", "tokens:read"]}),
        )
        .await;
    assert_eq!(created["last_used_ip"], Value::Null, "never used");
    let shown = || async {
        // Reading usage writes what the last second counted.
        app.get(&format!("/v1/tokens/{id}/usage"), &app.admin).await;
        app.get(&format!("/v1/tokens/{id}"), &app.admin).await.body
    };
    verify_from(&app, &token, Some("203.0.113.7")).await;
    verify_from(&app, &token, Some("198.51.100.1")).await;
    assert_eq!(
        shown().await["last_used_ip"],
        "203.0.113.7",
        "the first use of the second"
    );
    verify_from(&app, &token, Some("2001:db8::9")).await;
    assert_eq!(shown().await["last_used_ip"], "2001:db8::9");
    // A use whose client nobody passed on leaves the address as it was.
    verify_from(&app, &token, None).await;
    assert_eq!(shown().await["last_used_ip"], "2001:db8::9");
    // A call to tessera's own API with the token: the connection's address.
    assert_eq!(
        app.get("/v1/tokens/self", &token).await.status,
        StatusCode::OK
    );
    let after = shown().await;
    assert_eq!(after["last_used_ip"], "127.0.0.1");
    assert_eq!(after["use_count"], 5);
}
