//! Spawns the real server on a free loopback port with a fresh store and a clock the
//! test moves by hand, and speaks HTTP to it.
//!
//! The store is a fresh SQLite data dir, or with `TESSERA_TEST_BACKEND=postgres` a
//! fresh database on a real PostgreSQL server the suite starts: the whole suite runs
//! against both (scripts/test runs it twice).

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_core::clock::ManualClock;
use tessera_server::{Config, Server};

/// 2026-01-01T00:00:00Z.
pub const START_MS: i64 = 1_767_225_600_000;

pub struct TestApp {
    pub server: Option<Server>,
    pub base: String,
    pub admin: String,
    pub clock: Arc<ManualClock>,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    /// The PostgreSQL database, when the suite runs against PostgreSQL.
    pub database_url: Option<String>,
    configure: Configure,
}

/// Changes a test makes to the default test config (kept for restarts).
pub type Configure = Arc<dyn Fn(&mut Config) + Send + Sync>;

/// An HTTP answer: status, headers and the JSON body (`Null` if none).
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts this is a problem document with this status and code.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{}",
            self.body
        );
        assert_eq!(self.body["code"], code, "{}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl Fn(&mut Config) + Send + Sync + 'static) -> Self {
        let backend = backend();
        let database_url = backend.clone();
        let configure: Configure = Arc::new(move |config: &mut Config| {
            if let Some(url) = &backend {
                config.pepper = Some(
                    tessera_core::token::Pepper::from_text(
                        "a pepper shared by every node of the test",
                    )
                    .unwrap(),
                );
                config.set_database_url(url).expect("a PostgreSQL URL");
            }
            configure(config);
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let clock = Arc::new(ManualClock::new(START_MS));
        let (server, admin) = start(&dir, &clock, &configure).await;
        let base = format!("http://{}", server.addr);
        Self {
            server: Some(server),
            base,
            admin: admin
                .expect("a new store makes an admin token")
                .expose()
                .to_owned(),
            clock,
            client: reqwest::Client::new(),
            dir,
            database_url,
            configure,
        }
    }

    /// Runs `sql` on the store's database directly, behind the server's back: what
    /// someone with access to the database could do.
    pub async fn tamper(&self, sql: &str) {
        match &self.database_url {
            None => rusqlite::Connection::open(self.dir.path().join("data").join("tessera.db"))
                .and_then(|db| db.execute_batch(sql))
                .expect("the SQLite store takes the statement"),
            Some(url) => {
                let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                    .await
                    .expect("PostgreSQL answers");
                let running = tokio::spawn(connection);
                client
                    .batch_execute(sql)
                    .await
                    .expect("PostgreSQL takes the statement");
                drop(client);
                let _ = running.await;
            }
        }
    }

    /// Stops the server and starts a new one on the same data dir.
    pub async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        let (server, admin) = start(&self.dir, &self.clock, &self.configure).await;
        assert!(admin.is_none(), "a restart keeps the admin token");
        self.base = format!("http://{}", server.addr);
        self.server = Some(server);
    }

    pub fn advance_secs(&self, seconds: i64) {
        self.clock.advance_ms(seconds * 1000);
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the server answers");
        reply(response).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Creates a token as `by`, asserting success; returns (id, token text, body).
    pub async fn create(&self, by: &str, body: Value) -> (String, String, Value) {
        let reply = self.post("/v1/tokens", by, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let id = reply.body["id"].as_str().expect("id").to_owned();
        let token = reply.body["token"].as_str().expect("token").to_owned();
        (id, token, reply.body)
    }

    /// Verifies `token` with the admin token; returns the verify answer.
    pub async fn verify(&self, token: &str, scopes: &[&str], resource: Option<&str>) -> Value {
        let mut body = json!({ "token": token, "scopes": scopes });
        if let Some(resource) = resource {
            body["resource"] = json!(resource);
        }
        let reply = self.post("/v1/verify", &self.admin, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }

    /// How many tokens the admin sees: a store fingerprint for "nothing changed".
    pub async fn token_count(&self) -> usize {
        let reply = self.get("/v1/tokens?limit=100", &self.admin).await;
        reply.body["tokens"].as_array().map_or(0, Vec::len)
    }
}

/// A fresh PostgreSQL database's URL when the suite runs against PostgreSQL.
fn backend() -> Option<String> {
    match std::env::var("TESSERA_TEST_BACKEND").as_deref() {
        Err(_) | Ok("sqlite") => None,
        Ok("postgres") => Some(tessera_testkit::Postgres::shared().fresh_database()),
        Ok(other) => panic!("TESSERA_TEST_BACKEND={other:?}: use sqlite or postgres"),
    }
}

pub async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

async fn start(
    dir: &tempfile::TempDir,
    clock: &Arc<ManualClock>,
    configure: &Configure,
) -> (Server, Option<tessera_core::token::SecretToken>) {
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        data_dir: dir.path().join("data"),
        usage_flush_ms: 20,
        ..Config::default()
    };
    configure(&mut config);
    let clock: Arc<dyn tessera_core::clock::Clock> = Arc::clone(clock) as _;
    Server::start(config, clock)
        .await
        .expect("the server starts")
}
