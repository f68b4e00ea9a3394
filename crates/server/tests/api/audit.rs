//! The audit log: every write recorded with who, what, from where and which
//! request; a manager's view of its own subtree; filters and pages; and the chain
//! check naming rows edited, deleted or swapped in the database.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Every entry the admin sees, oldest first.
async fn entries(app: &TestApp, query: &str) -> Vec<Value> {
    let reply = app
        .get(&format!("/v1/audit?limit=500{query}"), &app.admin)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut entries = reply.body["entries"].as_array().unwrap().clone();
    entries.reverse();
    entries
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|entry| entry["action"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn every_write_is_recorded_with_who_what_and_where() {
    let app = TestApp::spawn().await;
    let created = app
        .client
        .post(format!("{}/v1/tokens", app.base))
        .bearer_auth(&app.admin)
        .header("x-request-id", "deploy-42")
        .json(&json!({"name": "team", "scopes": ["repo:read", "tokens:manage"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.headers()["x-request-id"],
        "deploy-42",
        "echoed back"
    );
    let created: Value = created.json().await.unwrap();
    let (team, team_secret) = (
        created["id"].as_str().unwrap().to_owned(),
        created["token"].as_str().unwrap().to_owned(),
    );
    let (child, child_secret, _) = app
        .create(&team_secret, json!({"name": "ci", "scopes": ["repo:read"]}))
        .await;
    let edited = app
        .patch(
            &format!("/v1/tokens/{child}"),
            &team_secret,
            json!({"name": "ci-2", "owner": "ana"}),
        )
        .await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    assert!(
        edited.header("x-request-id").starts_with("req_"),
        "one made when none was sent"
    );
    let rotated = app
        .post(
            &format!("/v1/tokens/{child}/rotate"),
            &app.admin,
            json!({"grace_seconds": 60}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let rotated_secret = rotated.body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.delete(&format!("/v1/tokens/{team}"), &app.admin)
            .await
            .status,
        200
    );
    assert_eq!(
        app.delete(&format!("/v1/tokens/{team}"), &app.admin)
            .await
            .status,
        200,
        "a second revocation changes nothing"
    );

    let log = entries(&app, "").await;
    assert_eq!(
        actions(&log),
        [
            "admin.created",
            "token.created",
            "token.created",
            "token.updated",
            "token.rotated",
            "token.revoked"
        ]
    );
    let [
        admin_made,
        team_made,
        child_made,
        edit,
        rotation,
        revocation,
    ] = &log[..]
    else {
        unreachable!()
    };
    assert_eq!(
        admin_made["actor"],
        json!({"id": null, "name": "tessera start-up"})
    );
    assert_eq!(team_made["request_id"], "deploy-42");
    assert_eq!(team_made["client_ip"], "127.0.0.1");
    assert_eq!(team_made["target_id"], team.as_str());
    assert_eq!(
        team_made["details"]["after"]["scopes"],
        json!(["repo:read", "tokens:manage"])
    );
    assert_eq!(child_made["actor"]["id"], team.as_str());
    assert_eq!(child_made["actor"]["name"], "team");
    assert_eq!(child_made["lineage"], json!([team, child]));
    assert_eq!(
        edit["details"],
        json!({"before": {"name": "ci", "owner": null}, "after": {"name": "ci-2", "owner": "ana"}}),
        "an edit keeps the fields it changed, before and after"
    );
    assert_eq!(rotation["details"]["grace_seconds"], 60);
    assert_eq!(revocation["target_id"], team.as_str());
    assert_eq!(revocation["cascade"], json!([child]));
    let feed: Vec<i64> = log
        .iter()
        .map(|e| e["change_seq"].as_i64().unwrap())
        .collect();
    assert!(
        feed.windows(2).all(|w| w[0] < w[1]),
        "in the change feed's order: {feed:?}"
    );
    let whole = serde_json::to_string(&log).unwrap();
    for secret in [&app.admin, &team_secret, &child_secret, &rotated_secret] {
        assert!(!whole.contains(secret.as_str()), "no secret in the log");
    }

    let verified = app.get("/v1/audit/verify", &app.admin).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.body["intact"], true);
    assert_eq!(verified.body["checked"], 6);
    assert_eq!(verified.body["head_seq"], 6);
    assert_eq!(verified.body["head_hash"], log[5]["hash"]);
}

#[tokio::test]
async fn a_manager_sees_its_own_subtree_and_filters_and_pages_work() {
    let app = TestApp::spawn().await;
    let manage = json!({"name": "team", "scopes": ["repo:read", "tokens:manage"]});
    let (team, team_secret, _) = app.create(&app.admin, manage.clone()).await;
    let (other, other_secret, _) = app.create(&app.admin, manage).await;
    let (child, _, _) = app
        .create(&team_secret, json!({"name": "ci", "scopes": ["repo:read"]}))
        .await;
    app.create(
        &other_secret,
        json!({"name": "theirs", "scopes": ["repo:read"]}),
    )
    .await;

    let seen = app.get("/v1/audit", &team_secret).await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    let targets: Vec<&str> = seen.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["target_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        [child.as_str(), team.as_str()],
        "itself and what it made"
    );
    let verify = app.get("/v1/audit/verify", &team_secret).await;
    verify.assert_problem(403, "admin_only");

    let by_other = entries(&app, &format!("&actor={other}")).await;
    assert_eq!(by_other.len(), 1);
    let about_child = entries(&app, &format!("&target={child}&action=token.created")).await;
    assert_eq!(about_child.len(), 1);
    let later = entries(&app, "&from=2030-01-01T00:00:00Z").await;
    assert!(later.is_empty());

    let first = app.get("/v1/audit?limit=2", &app.admin).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let second = app
        .get(&format!("/v1/audit?limit=2&cursor={cursor}"), &app.admin)
        .await;
    let third = app
        .get(
            &format!(
                "/v1/audit?limit=2&cursor={}",
                second.body["next_cursor"].as_str().unwrap()
            ),
            &app.admin,
        )
        .await;
    let seqs: Vec<i64> = [&first, &second, &third]
        .iter()
        .flat_map(|page| page.body["entries"].as_array().unwrap().clone())
        .map(|entry| entry["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [5, 4, 3, 2, 1]);
    assert_eq!(third.body["next_cursor"], Value::Null);
    let oldest = app
        .get("/v1/audit?order=oldest&limit=2&cursor=2", &app.admin)
        .await;
    let seqs: Vec<i64> = oldest.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| entry["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [3, 4], "oldest first, after the cursor");

    for (query, code) in [
        ("action=token.eaten", "invalid_action"),
        ("limit=0", "invalid_limit"),
        ("limit=501", "invalid_limit"),
        ("cursor=abc", "invalid_cursor"),
        ("order=sideways", "invalid_order"),
        ("from=yesterday", "invalid_range"),
        ("colour=red", "invalid_query"),
    ] {
        app.get(&format!("/v1/audit?{query}"), &app.admin)
            .await
            .assert_problem(400, code);
    }
    let anonymous = app.call(Method::GET, "/v1/audit", None, None).await;
    assert_eq!(anonymous.status, 401);
}

#[tokio::test]
async fn the_chain_check_names_rows_edited_deleted_or_swapped_in_the_database() {
    let cases = [
        (
            "UPDATE audit_log SET actor_name = 'nobody' WHERE seq = 3",
            3,
            "edited",
        ),
        (
            "UPDATE audit_log SET details = '{}' WHERE seq = 2",
            2,
            "edited",
        ),
        ("DELETE FROM audit_log WHERE seq = 2", 2, "missing"),
        (
            "UPDATE audit_log SET seq = -2 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 3; \
             UPDATE audit_log SET seq = 3 WHERE seq = -2",
            2,
            "unlinked",
        ),
        ("DELETE FROM audit_log WHERE seq = 4", 4, "truncated"),
    ];
    for (sql, seq, kind) in cases {
        let app = TestApp::spawn().await;
        let (id, _, _) = app
            .create(&app.admin, json!({"name": "a", "scopes": ["repo:read"]}))
            .await;
        app.create(&app.admin, json!({"name": "b", "scopes": ["repo:read"]}))
            .await;
        app.delete(&format!("/v1/tokens/{id}"), &app.admin).await;
        let intact = app.get("/v1/audit/verify", &app.admin).await;
        assert_eq!(intact.body["intact"], true, "{}", intact.body);

        app.tamper(sql).await;
        let checked = app.get("/v1/audit/verify", &app.admin).await;
        assert_eq!(checked.status, 200, "{}", checked.body);
        assert_eq!(checked.body["intact"], false, "{sql}");
        assert_eq!(
            checked.body["broken"]["seq"], seq,
            "{sql}: {}",
            checked.body
        );
        assert_eq!(
            checked.body["broken"]["kind"], kind,
            "{sql}: {}",
            checked.body
        );
    }
}
