//! Listing: filters, pagination, and what a listing shows.

use serde_json::{Value, json};

use crate::helpers::TestApp;

fn names(reply: &Value) -> Vec<String> {
    reply["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn filters_and_cursor_pagination() {
    let app = TestApp::spawn().await;
    let (one, _, _) = app
        .create(
            &app.admin,
            json!({"name": "Deploy bot", "owner": "alice", "resources": ["repo:1"]}),
        )
        .await;
    app.create(
        &app.admin,
        json!({"name": "ci runner", "owner": "bob", "resources": ["repo:*"]}),
    )
    .await;
    app.create(
        &app.admin,
        json!({"name": "short", "owner": "alice", "expires_in": 10, "resources": ["app:1"]}),
    )
    .await;
    app.delete(&format!("/v1/tokens/{one}"), &app.admin).await;
    app.advance_secs(11);

    let cases: [(&str, &[&str]); 6] = [
        ("owner=alice", &["short", "Deploy bot"]),
        ("status=revoked", &["Deploy bot"]),
        ("status=expired", &["short"]),
        ("status=active", &["ci runner", "admin"]),
        ("name=BOT", &["Deploy bot"]),
        ("resource=repo:1", &["ci runner", "Deploy bot"]),
    ];
    for (query, expected) in cases {
        assert_eq!(
            names(
                &app.get(&format!("/v1/tokens?{query}"), &app.admin)
                    .await
                    .body
            ),
            expected,
            "{query}"
        );
    }

    let first = app.get("/v1/tokens?limit=2", &app.admin).await.body;
    assert_eq!(names(&first), ["short", "ci runner"]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = app
        .get(&format!("/v1/tokens?limit=2&cursor={cursor}"), &app.admin)
        .await
        .body;
    assert_eq!(names(&second), ["Deploy bot", "admin"]);
    assert!(second["next_cursor"].is_null());

    let row = &first["tokens"][0];
    for field in [
        "id",
        "start",
        "status",
        "scopes",
        "resources",
        "owner",
        "expires_at",
        "last_used_at",
        "use_count",
        "created_at",
    ] {
        assert!(row.get(field).is_some(), "{field} missing");
    }
    assert!(row.get("token").is_none());
}

#[tokio::test]
async fn expiring_within_lists_the_live_tokens_about_to_expire() {
    let app = TestApp::spawn().await;
    for (name, expires_in) in [
        ("hour", Some(3600)),
        ("three-days", Some(3 * 86_400)),
        ("ten-days", Some(10 * 86_400)),
        ("never", None),
    ] {
        let mut body = serde_json::json!({"name": name, "scopes": ["repo:read"]});
        if let Some(seconds) = expires_in {
            body["expires_in"] = serde_json::json!(seconds);
        }
        app.create(&app.admin, body).await;
    }
    let (revoked, _, _) = app
        .create(
            &app.admin,
            serde_json::json!({"name": "revoked-hour", "expires_in": 3600}),
        )
        .await;
    app.delete(&format!("/v1/tokens/{revoked}"), &app.admin)
        .await;
    let names = |reply: &crate::helpers::Reply| -> Vec<String> {
        let mut names: Vec<String> = reply.body["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let week = app.get("/v1/tokens?expiring_within=7d", &app.admin).await;
    assert_eq!(week.status, 200, "{}", week.body);
    assert_eq!(names(&week), ["hour", "three-days"]);
    let two_hours = app.get("/v1/tokens?expiring_within=2h", &app.admin).await;
    assert_eq!(names(&two_hours), ["hour"]);
    // Past its expiry a token is not about to expire any more.
    app.advance_secs(3601);
    let week = app.get("/v1/tokens?expiring_within=7d", &app.admin).await;
    assert_eq!(names(&week), ["three-days"]);
    for bad in [
        "7",
        "7 days",
        "d",
        "-1d",
        "3651d",
        "1w",
        "%C3%A0%C3%B6",
        "7%C3%A0",
    ] {
        app.get(&format!("/v1/tokens?expiring_within={bad}"), &app.admin)
            .await
            .assert_problem(400, "invalid_duration");
    }
}
