//! Webhooks in a cluster: both nodes run a sender over one database, and each
//! event still reaches the endpoint once.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tessera_testkit::Postgres;

use crate::nodes::Cluster;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_deliver_each_event_once() {
    let cluster = Cluster::new(Postgres::shared().fresh_database());
    let (a, b, admin) = cluster.start_two().await;

    let inbox: Arc<parking_lot::Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let kept = Arc::clone(&inbox);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let kept = Arc::clone(&kept);
            async move {
                kept.lock().push((headers, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });

    let made = a
        .call(
            reqwest::Method::POST,
            "/v1/webhooks",
            &admin,
            Some(json!({"url": url, "events": ["token.created"]})),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let secret = made.body["secret"].as_str().unwrap().to_owned();
    let mut ids = Vec::new();
    for n in 0..20 {
        let node = if n % 2 == 0 { &a } else { &b };
        ids.push(
            node.create(
                &admin,
                json!({"name": format!("t{n}"), "scopes": ["repo:read"]}),
            )
            .await
            .0,
        );
    }
    for _ in 0..400 {
        if inbox.lock().len() >= ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // A moment more: a second delivery of anything would arrive now.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let webhook = standardwebhooks::Webhook::new(&secret).unwrap();
    let received = inbox.lock().clone();
    let mut announced: Vec<String> = received
        .iter()
        .map(|(headers, body)| {
            webhook.verify(body, headers).expect("signed");
            let body: Value = serde_json::from_slice(body).unwrap();
            body["data"]["token_id"].as_str().unwrap().to_owned()
        })
        .collect();
    announced.sort();
    ids.sort();
    assert_eq!(announced, ids, "each creation once, whichever node made it");
    a.stop().await;
    b.stop().await;
}
