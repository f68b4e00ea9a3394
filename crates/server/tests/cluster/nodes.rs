//! Starts tessera nodes that share one PostgreSQL database (and maybe one Redis).

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_core::clock::SystemClock;
use tessera_server::{Config, Server};

pub const PEPPER: &str = "the pepper every node of this test cluster shares";

/// One node: its server, and HTTP to it.
pub struct Node {
    pub server: Server,
    pub base: String,
    pub client: reqwest::Client,
}

/// What the nodes of one cluster share.
#[derive(Clone)]
pub struct Cluster {
    pub database_url: String,
    pub redis_url: Option<String>,
    pub tweak: Arc<dyn Fn(&mut Config) + Send + Sync>,
}

impl Cluster {
    pub fn new(database_url: String) -> Self {
        Self {
            database_url,
            redis_url: None,
            tweak: Arc::new(|_| {}),
        }
    }

    pub fn config(&self) -> Config {
        let mut config = Config {
            listen: "127.0.0.1:0".parse().expect("address"),
            pepper: Some(tessera_core::token::Pepper::from_text(PEPPER).unwrap()),
            usage_flush_ms: 50,
            // Short, so tests of lost notifications finish quickly.
            change_poll_ms: 200,
            ..Config::default()
        };
        config
            .set_database_url(&self.database_url)
            .expect("a PostgreSQL URL");
        if let Some(url) = &self.redis_url {
            config.set_redis_url(url).expect("a Redis URL");
        }
        (self.tweak)(&mut config);
        config
    }

    /// Starts a node; the first node of a cluster returns the admin token too.
    pub async fn start(&self) -> (Node, Option<String>) {
        let (server, admin) = Server::start(self.config(), Arc::new(SystemClock))
            .await
            .expect("the node starts");
        let node = Node {
            base: format!("http://{}", server.addr),
            server,
            client: reqwest::Client::new(),
        };
        (node, admin.map(|t| t.expose().to_owned()))
    }

    /// Starts two nodes; returns them and the admin token.
    pub async fn start_two(&self) -> (Node, Node, String) {
        let (a, admin) = self.start().await;
        let (b, again) = self.start().await;
        assert!(again.is_none(), "the second node finds the admin token");
        (a, b, admin.expect("the first node makes the admin token"))
    }
}

/// An HTTP answer: status, headers and the JSON body (`Null` if none).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Node {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .timeout(Duration::from_secs(20));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the node answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        Reply {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// Creates a token, asserting success; returns (id, token text).
    pub async fn create(&self, admin: &str, body: Value) -> (String, String) {
        let reply = self
            .call(reqwest::Method::POST, "/v1/tokens", admin, Some(body))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        (
            reply.body["id"].as_str().expect("id").to_owned(),
            reply.body["token"].as_str().expect("token").to_owned(),
        )
    }

    pub async fn revoke(&self, admin: &str, id: &str) -> Reply {
        self.call(
            reqwest::Method::DELETE,
            &format!("/v1/tokens/{id}"),
            admin,
            None,
        )
        .await
    }

    /// The verification code this node gives `token` for `scopes`.
    pub async fn verify(&self, admin: &str, token: &str, scopes: &[&str]) -> String {
        let reply = self
            .call(
                reqwest::Method::POST,
                "/v1/verify",
                admin,
                Some(json!({"token": token, "scopes": scopes})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["code"].as_str().expect("a code").to_owned()
    }

    /// Whether this node's index lets `token` be used now (no budget spent).
    pub fn accepts(&self, token: &str) -> bool {
        self.server.engine.introspect(token).is_some()
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }
}

/// Waits (polling every millisecond) until `done`, up to `limit`; returns how long.
pub async fn time_until(limit: Duration, mut done: impl FnMut() -> bool) -> Option<Duration> {
    let started = std::time::Instant::now();
    loop {
        if done() {
            return Some(started.elapsed());
        }
        if started.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// How long until `node`'s index refuses `token`, up to `limit`: watched from a thread
/// of its own every 50 µs, finer than the async timer's millisecond.
pub async fn time_until_refused(node: &Node, token: &str, limit: Duration) -> Option<Duration> {
    let engine = Arc::clone(&node.server.engine);
    let token = token.to_owned();
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        while started.elapsed() <= limit {
            if engine.introspect(&token).is_none() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        None
    })
    .await
    .expect("the watcher runs")
}

/// The `q`th quantile (0..=1) of sorted durations.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
