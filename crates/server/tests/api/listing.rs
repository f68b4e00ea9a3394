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
