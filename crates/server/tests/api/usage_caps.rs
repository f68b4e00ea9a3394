//! Usage caps: `max_uses` and `credits` (with refill), spent by verify's `cost`, on
//! tessera's own API and on forward-auth; refused `USAGE_EXHAUSTED` (429 on the
//! edges), kept across a restart, and bounded by a manager's own.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::guard::{nginx, with_routes};
use crate::helpers::TestApp;

async fn spend(app: &TestApp, token: &str, cost: Option<u64>) -> Value {
    let mut body = json!({"token": token});
    if let Some(cost) = cost {
        body["cost"] = json!(cost);
    }
    let reply = app.post("/v1/verify", &app.admin, body).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

#[tokio::test]
async fn max_uses_allows_that_many_verifications_and_no_more() {
    let app = TestApp::spawn().await;
    let (id, token, created) = app
        .create(&app.admin, json!({"name": "thrice", "max_uses": 3}))
        .await;
    assert_eq!(
        (
            created["max_uses"].as_u64(),
            created["uses_remaining"].as_u64()
        ),
        (Some(3), Some(3))
    );
    for left in [2, 1, 0] {
        let answer = spend(&app, &token, Some(50)).await;
        assert_eq!(answer["code"], "VALID", "{answer}");
        assert_eq!(
            answer["usage"],
            json!({"uses_remaining": left, "credits_remaining": null})
        );
    }
    let refused = spend(&app, &token, Some(0)).await;
    assert_eq!(refused["code"], "USAGE_EXHAUSTED");
    assert_eq!(refused["valid"], false);
    assert_eq!(refused["usage"]["uses_remaining"], 0);
    let shown = app.get(&format!("/v1/tokens/{id}"), &app.admin).await;
    assert_eq!(shown.body["uses_remaining"], 0, "{}", shown.body);
    assert_eq!(shown.body["use_count"], 3);
    // Raised, the uses so far still count.
    app.patch(
        &format!("/v1/tokens/{id}"),
        &app.admin,
        json!({"max_uses": 4}),
    )
    .await;
    assert_eq!(spend(&app, &token, None).await["code"], "VALID");
    assert_eq!(spend(&app, &token, None).await["code"], "USAGE_EXHAUSTED");
}

#[tokio::test]
async fn credits_are_spent_by_cost_refilled_daily_and_given_again_by_an_edit() {
    let app = TestApp::spawn().await;
    let (id, token, created) = app
        .create(
            &app.admin,
            json!({"name": "metered", "credits": {"remaining": 10, "refill": {"amount": 5, "every": "day"}}}),
        )
        .await;
    assert_eq!(
        created["credits"],
        json!({"remaining": 10, "refill": {"amount": 5, "every": "day"}})
    );
    assert_eq!(
        spend(&app, &token, Some(4)).await["usage"]["credits_remaining"],
        6
    );
    let short = spend(&app, &token, Some(7)).await;
    assert_eq!(short["code"], "USAGE_EXHAUSTED", "{short}");
    assert_eq!(
        short["usage"]["credits_remaining"], 6,
        "a refusal spends nothing"
    );
    assert_eq!(
        spend(&app, &token, Some(6)).await["usage"]["credits_remaining"],
        0
    );
    assert_eq!(
        spend(&app, &token, Some(0)).await["code"],
        "VALID",
        "a free check"
    );
    assert_eq!(spend(&app, &token, None).await["code"], "USAGE_EXHAUSTED");
    // The next day starts at the refill amount.
    app.advance_secs(86_400);
    let refilled = spend(&app, &token, None).await;
    assert_eq!(
        (
            refilled["code"].as_str(),
            refilled["usage"]["credits_remaining"].as_u64()
        ),
        (Some("VALID"), Some(4))
    );
    // A rename leaves the balance; credits given again start from them, even the
    // same number.
    app.patch(
        &format!("/v1/tokens/{id}"),
        &app.admin,
        json!({"name": "renamed"}),
    )
    .await;
    assert_eq!(
        spend(&app, &token, None).await["usage"]["credits_remaining"],
        3
    );
    let given = app
        .patch(
            &format!("/v1/tokens/{id}"),
            &app.admin,
            json!({"credits": {"remaining": 10}}),
        )
        .await;
    assert_eq!(
        given.body["credits"],
        json!({"remaining": 10, "refill": null}),
        "{}",
        given.body
    );
    assert_eq!(
        spend(&app, &token, None).await["usage"]["credits_remaining"],
        9
    );
    let cleared = app
        .patch(
            &format!("/v1/tokens/{id}"),
            &app.admin,
            json!({"credits": null}),
        )
        .await;
    assert_eq!(cleared.body["credits"], Value::Null);
    let free = spend(&app, &token, Some(1000)).await;
    assert_eq!(
        (free["code"].as_str(), free.get("usage")),
        (Some("VALID"), None)
    );
}

#[tokio::test]
async fn a_balance_survives_a_restart() {
    let mut app = TestApp::spawn().await;
    let (_, token, _) = app
        .create(
            &app.admin,
            json!({"name": "kept", "credits": {"remaining": 10}, "max_uses": 100}),
        )
        .await;
    spend(&app, &token, Some(4)).await;
    app.restart().await;
    let answer = spend(&app, &token, Some(1)).await;
    assert_eq!(
        answer["usage"],
        json!({"uses_remaining": 98, "credits_remaining": 5}),
        "{answer}"
    );
}

#[tokio::test]
async fn the_edges_answer_429_usage_exhausted_with_what_is_left() {
    let app = TestApp::spawn_with(with_routes).await;
    let (_, token, _) = app
        .create(
            &app.admin,
            json!({"name": "publisher", "scopes": ["events:publish"], "resources": ["app:1"],
                   "credits": {"remaining": 1, "refill": {"amount": 1, "every": "month"}}}),
        )
        .await;
    let allowed = nginx(&app, "POST", "/api/v1/apps/1/events", Some(&token)).await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);
    assert_eq!(allowed.header("x-tessera-credits-remaining"), "0");
    let refused = nginx(&app, "POST", "/api/v1/apps/1/events", Some(&token)).await;
    refused.assert_problem(429, "usage_exhausted");
    assert_eq!(refused.header("x-tessera-credits-remaining"), "0");
    let wait: u64 = refused.header("retry-after").parse().expect("seconds");
    assert!(
        wait > 0 && wait <= 31 * 86_400,
        "until the next month: {wait}"
    );

    // tessera's own API spends a use too.
    let (_, once, _) = app
        .create(
            &app.admin,
            json!({"name": "once", "scopes": ["tokens:read"], "max_uses": 1}),
        )
        .await;
    assert_eq!(
        app.get("/v1/tokens/self", &once).await.status,
        StatusCode::OK
    );
    app.get("/v1/tokens/self", &once)
        .await
        .assert_problem(429, "usage_exhausted");
}

#[tokio::test]
async fn bad_caps_are_named_and_change_nothing() {
    let app = TestApp::spawn().await;
    let before = app.token_count().await;
    for (body, field) in [
        (
            json!({"name": "x", "credits": {"remaining": 5, "refill": {"every": "day"}}}),
            "credits",
        ),
        (
            json!({"name": "x", "credits": {"remaining": 5, "refill": {"amount": 5, "every": "week"}}}),
            "credits",
        ),
        (
            json!({"name": "x", "credits": {"remaining": 5, "refill": {"amount": 5}}}),
            "credits",
        ),
        (
            json!({"name": "x", "max_uses": 1_000_000_000_001u64}),
            "max_uses",
        ),
    ] {
        let refused = app.post("/v1/tokens", &app.admin, body).await;
        refused.assert_problem(400, "invalid_usage_cap");
        assert_eq!(refused.body["field"], field, "{}", refused.body);
    }
    app.post(
        "/v1/tokens",
        &app.admin,
        json!({"name": "x", "credits": {"remaining": -1}}),
    )
    .await
    .assert_problem(400, "invalid_body");
    assert_eq!(app.token_count().await, before);
    let (_, token, _) = app
        .create(
            &app.admin,
            json!({"name": "metered", "credits": {"remaining": 5}}),
        )
        .await;
    app.post(
        "/v1/verify",
        &app.admin,
        json!({"token": token, "cost": 1_000_000_000_001u64}),
    )
    .await
    .assert_problem(400, "invalid_cost");
    assert_eq!(
        spend(&app, &token, None).await["usage"]["credits_remaining"],
        4
    );
}

#[tokio::test]
async fn a_managers_tokens_get_at_most_what_it_has_left() {
    let app = TestApp::spawn().await;
    let (_, manager, _) = app
        .create(
            &app.admin,
            json!({"name": "reseller", "scopes": ["tokens:manage", "repo:read"],
                   "credits": {"remaining": 100}}),
        )
        .await;
    spend(&app, &manager, Some(50)).await;
    let before = app.token_count().await;
    let greedy = app
        .post(
            "/v1/tokens",
            &manager,
            json!({"name": "greedy", "scopes": ["repo:read"], "credits": {"remaining": 60}}),
        )
        .await;
    greedy.assert_problem(403, "escalation");
    assert_eq!(app.token_count().await, before);
    let refilled = app
        .post(
            "/v1/tokens",
            &manager,
            json!({"name": "refilled", "scopes": ["repo:read"],
                   "credits": {"remaining": 1, "refill": {"amount": 1, "every": "day"}}}),
        )
        .await;
    refilled.assert_problem(403, "escalation");
    // Stating none, a token takes what the manager has left (each call with the
    // manager's token spends one of its credits too).
    let (_, _, open) = app
        .create(&manager, json!({"name": "open", "scopes": ["repo:read"]}))
        .await;
    let given = open["credits"]["remaining"].as_u64().expect("credits");
    assert!((45..50).contains(&given), "{open}");
}

/// `GET /v1/tokens/{id}/usage`: a token's answers by the hour and by the day, every
/// bucket of the range present, counted to the hour they happened in.
#[tokio::test]
async fn usage_is_counted_by_the_hour_and_the_day() {
    let app = TestApp::spawn().await;
    let (id, token, _) = app
        .create(
            &app.admin,
            json!({"name": "busy", "scopes": ["repo:read"], "max_uses": 3}),
        )
        .await;
    let ask = |scope: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            app.post(
                "/v1/verify",
                &app.admin,
                json!({"token": token, "scopes": [scope]}),
            )
            .await
            .body["code"]
                .clone()
        }
    };
    assert_eq!(ask("repo:read").await, "VALID");
    assert_eq!(ask("repo:write").await, "FORBIDDEN");
    // The usage writer runs every second; the test's clock jumps an hour at once.
    let engine = &app.server.as_ref().expect("running").engine;
    engine.flush_usage().await.expect("written");
    app.advance_secs(3600);
    for _ in 0..2 {
        assert_eq!(ask("repo:read").await, "VALID");
    }
    assert_eq!(ask("repo:read").await, "USAGE_EXHAUSTED");

    let hourly = app.get(&format!("/v1/tokens/{id}/usage"), &app.admin).await;
    assert_eq!(hourly.status, StatusCode::OK, "{}", hourly.body);
    let buckets = hourly.body["buckets"].as_array().expect("buckets");
    assert_eq!(buckets.len(), 25, "a day of hours, this one included");
    let last_two: Vec<[u64; 4]> = buckets[23..]
        .iter()
        .map(|b| {
            ["valid", "forbidden", "rate_limited", "usage_exhausted"]
                .map(|k| b[k].as_u64().expect("a count"))
        })
        .collect();
    assert_eq!(last_two, [[1, 1, 0, 0], [2, 0, 0, 1]]);
    let daily = app
        .get(
            &format!("/v1/tokens/{id}/usage?granularity=day"),
            &app.admin,
        )
        .await;
    let days = daily.body["buckets"].as_array().expect("buckets");
    assert_eq!(days.len(), 31);
    assert_eq!(days[30]["valid"], 3, "{}", daily.body);
    assert_eq!(days[30]["start"], "2026-01-01T00:00:00Z");

    app.get(
        &format!("/v1/tokens/{id}/usage?granularity=week"),
        &app.admin,
    )
    .await
    .assert_problem(400, "invalid_granularity");
    let long = app
        .get(
            &format!("/v1/tokens/{id}/usage?from=2025-01-01T00:00:00Z&granularity=day"),
            &app.admin,
        )
        .await;
    assert_eq!(
        long.body["buckets"].as_array().map(Vec::len),
        Some(91),
        "the last 90 days"
    );
    let backwards = app
        .get(
            &format!("/v1/tokens/{id}/usage?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"),
            &app.admin,
        )
        .await;
    assert_eq!(backwards.body["buckets"], json!([]));
    app.get(&format!("/v1/tokens/{id}/usage?from=yesterday"), &app.admin)
        .await
        .assert_problem(400, "invalid_range");
    app.get("/v1/tokens/tok_nope/usage", &app.admin)
        .await
        .assert_problem(404, "not_found");
}
