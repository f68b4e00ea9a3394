//! What tessera-client's guard costs an axum app per request, beside the same
//! handler called bare, in the same run: with the answer in the guard's cache (the
//! common case: a token makes many requests), and without a cache (every request
//! asks tessera over loopback HTTP). The app is called in process, through tower,
//! so that the figures are the guard's own cost and not a network's.
//!
//! `scripts/bench guard` reads criterion's estimates and prints the overhead.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a benchmark: a setup that fails stops the run, loudly"
)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use criterion::Criterion;
use tessera_api::CreateTokenRequest;
use tessera_client::Client;
use tessera_client::guard::{Guard, GuardSettings};
use tower::ServiceExt;

async fn files() -> &'static str {
    "README.md"
}

fn request(token: &str) -> Request<Body> {
    Request::get("/repos/42/files")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("a request")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temp dir");
    let (app_cached, app_uncached, bare, token, _server) = runtime.block_on(async {
        let config = tessera_server::Config {
            listen: "127.0.0.1:0".parse().expect("an address"),
            data_dir: dir.path().join("data"),
            ..tessera_server::Config::default()
        };
        let clock: Arc<dyn tessera_core::clock::Clock> = Arc::new(tessera_core::clock::SystemClock);
        let (server, admin) = tessera_server::Server::start(config, clock)
            .await
            .expect("tessera starts");
        let url = format!("http://{}", server.addr);
        let admin = Client::new(&url, admin.expect("an admin token").expose()).expect("a client");
        let create =
            |name: &str, scopes: &[&str], resources: Option<Vec<String>>| CreateTokenRequest {
                name: Some(name.into()),
                scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
                resources,
                ..CreateTokenRequest::default()
            };
        let service = admin
            .create_token(&create("guard", &["tokens:verify"], None))
            .await
            .expect("the guard's token");
        let user = admin
            .create_token(&create(
                "user",
                &["repo:read"],
                Some(vec!["repo:42".into()]),
            ))
            .await
            .expect("a user's token");
        let client = Client::new(&url, service.token).expect("a client");
        let guarded = |settings: GuardSettings| {
            let guard = Guard::start(client.clone(), settings);
            let layer = guard
                .layer(&["repo:read"], Some("repo:{repo_id}"))
                .expect("a rule");
            (
                guard,
                Router::new().route("/repos/{repo_id}/files", get(files).route_layer(layer)),
            )
        };
        let (cached_guard, cached) = guarded(GuardSettings::default());
        let (_, uncached) = guarded(GuardSettings {
            cache_capacity: 0,
            ..GuardSettings::default()
        });
        while !cached_guard.cache().is_live() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let bare = Router::new().route("/repos/{repo_id}/files", get(files));
        for app in [&cached, &uncached, &bare] {
            let answer = app
                .clone()
                .oneshot(request(&user.token))
                .await
                .expect("an answer");
            assert_eq!(answer.status(), 200);
        }
        assert_eq!(cached_guard.cache().len(), 1);
        (cached, uncached, bare, user.token, server)
    });

    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("guard");
    for (name, app) in [
        ("bare", &bare),
        ("cached", &app_cached),
        ("uncached", &app_uncached),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                runtime.block_on(async {
                    let answer = app
                        .clone()
                        .oneshot(request(&token))
                        .await
                        .expect("an answer");
                    assert_eq!(answer.status(), 200);
                })
            });
        });
    }
    group.finish();
    criterion.final_summary();
}
