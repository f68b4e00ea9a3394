//! The database goes away and comes back: verification goes on from the index, writes
//! answer 503 and change nothing, and every node catches up when it returns.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use tessera_testkit::Postgres;

use crate::nodes::{Cluster, time_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_stops_writes_not_verification() {
    let mut postgres = Postgres::start();
    let cluster = Cluster::new(postgres.fresh_database());
    let (a, b, admin) = cluster.start_two().await;
    let (id, token) = a
        .create(&admin, json!({"name": "survivor", "scopes": ["repo:read"]}))
        .await;
    time_until(Duration::from_secs(5), || b.accepts(&token))
        .await
        .expect("b sees it");

    postgres.stop();
    for node in [&a, &b] {
        assert_eq!(node.verify(&admin, &token, &["repo:read"]).await, "VALID");
        let write = node
            .call(
                Method::POST,
                "/v1/tokens",
                &admin,
                Some(json!({"name": "during", "scopes": ["repo:read"]})),
            )
            .await;
        assert_eq!(
            write.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            write.body
        );
        assert_eq!(write.headers["content-type"], "application/problem+json");
        assert!(write.headers.contains_key("retry-after"));
        let revoke = node.revoke(&admin, &id).await;
        assert_eq!(
            revoke.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            revoke.body
        );
        assert!(node.accepts(&token), "a failed revocation changes nothing");
        let ready = node.call(Method::GET, "/readyz", &admin, None).await;
        assert_eq!(ready.status, StatusCode::OK);
        assert_eq!(ready.body["store"], "unavailable");
    }

    postgres.resume();
    // Writes work again once the pool reconnects, and the other node follows.
    let revoked = time_until_ok(|| a.revoke(&admin, &id)).await;
    assert_eq!(revoked, StatusCode::OK);
    time_until(Duration::from_secs(10), || !b.accepts(&token))
        .await
        .expect("b catches up once the database is back");
    let ready = b.call(Method::GET, "/readyz", &admin, None).await;
    assert_eq!(ready.body["store"], "up");
    let metrics = b
        .client
        .get(format!("{}/metrics", b.base))
        .send()
        .await
        .expect("metrics");
    let text = metrics.text().await.unwrap_or_default();
    assert!(text.contains("tessera_feed_failures_total"), "{text}");
    a.stop().await;
    b.stop().await;
}

/// Retries `call` for a few seconds until it stops answering 503.
async fn time_until_ok<F, Fut>(call: F) -> StatusCode
where
    F: Fn() -> Fut,
    Fut: Future<Output = crate::nodes::Reply>,
{
    let started = std::time::Instant::now();
    loop {
        let reply = call().await;
        if reply.status != StatusCode::SERVICE_UNAVAILABLE
            || started.elapsed() > Duration::from_secs(15)
        {
            return reply.status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_loads_and_catches_up_before_it_answers() {
    let cluster = Cluster::new(Postgres::shared().fresh_database());
    let (a, b, admin) = cluster.start_two().await;
    let (id, token) = a
        .create(&admin, json!({"name": "before", "scopes": ["repo:read"]}))
        .await;
    b.stop().await;
    assert_eq!(a.revoke(&admin, &id).await.status, StatusCode::OK);
    let (_, fresh) = a
        .create(&admin, json!({"name": "after", "scopes": ["repo:read"]}))
        .await;

    let (b, _) = cluster.start().await;
    assert!(
        !b.accepts(&token),
        "the revocation made while b was down holds at once"
    );
    assert!(b.accepts(&fresh), "so does the token made while b was down");
    let ready = b.call(Method::GET, "/readyz", &admin, None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body, json!({"status": "ready", "store": "up"}));
    assert_eq!(
        b.server.engine.applied_seq(),
        a.server.engine.applied_seq(),
        "b caught up with every write made while it was down"
    );
    a.stop().await;
    b.stop().await;
}
