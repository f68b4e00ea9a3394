//! Turning audit entries into webhook deliveries, on a real SQLite store: what
//! happens before the first endpoint is passed over unread, and every event after
//! an endpoint is added reaches it.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    reason = "a test: a failed assumption is a failed test"
)]

use std::borrow::Cow;
use std::sync::Arc;

use tessera_core::clock::ManualClock;
use tessera_core::record::TokenDraft;
use tessera_core::token::Pepper;
use tessera_engine::lifecycle::NewEndpoint;
use tessera_engine::{Caller, Credential, Engine, EngineConfig};
use tessera_store::{SqliteStore, TokenStore, WebhookStore};

#[tokio::test]
async fn entries_before_any_endpoint_are_passed_over_and_later_ones_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("tessera.db")).unwrap());
    let engine = Arc::new(
        Engine::open(
            EngineConfig::default(),
            Arc::clone(&store) as Arc<dyn TokenStore>,
            &Pepper::generate(),
            Arc::new(ManualClock::new(1_800_000_000_000)),
            None,
        )
        .await
        .unwrap(),
    );
    let secret = engine.create_first_admin().await.unwrap().unwrap();
    let admin: Caller = engine
        .authenticate(
            &Credential {
                secret: Cow::Borrowed(secret.expose()),
                key_id: None,
            },
            None,
            std::net::Ipv4Addr::LOCALHOST.into(),
        )
        .await
        .unwrap();
    let token = |name: &str| TokenDraft {
        name: Some(name.into()),
        scopes: Some(vec!["repo:read".into()]),
        ..TokenDraft::default()
    };

    let (before, _) = engine.create(&admin, token("before")).await.unwrap();
    assert!(!engine.fan_out().await.unwrap(), "caught up at once");
    assert_eq!(
        store.fanned_out().await.unwrap(),
        store.audit_head().await.unwrap().seq,
        "with no endpoint the cursor passes every entry"
    );

    engine
        .create_endpoint(
            &admin,
            NewEndpoint {
                url: "http://127.0.0.1:9/hook".into(),
                events: vec!["token.created".into()],
                description: None,
            },
        )
        .await
        .unwrap();
    let (after, _) = engine.create(&admin, token("after")).await.unwrap();
    assert!(!engine.fan_out().await.unwrap());
    let due = engine.claim_deliveries(10).await.unwrap();
    let told: Vec<_> = due
        .iter()
        .map(|(delivery, _)| delivery.payload.clone())
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains(&after.id) && !told[0].contains(&before.id));
}
