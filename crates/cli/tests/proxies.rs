//! End to end through real programs: nginx (`auth_request`) and Caddy (`forward_auth`)
//! running the very recipes in `docs/`, git's smart HTTP backend behind tessera's
//! gateway, and a 1 GiB upload streamed through the gateway. Each program is started
//! here on free loopback ports and stopped when its test ends, passing or not.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    reason = "a test: a failed assumption is a failed test"
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_tessera");

fn docs(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs")
        .join(path)
}

/// A program started by a test; killed when dropped, so a failing test leaves none.
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    #[allow(
        clippy::zombie_processes,
        reason = "the Drop of Daemon waits for the child"
    )]
    fn start(name: &'static str, mut command: Command, log: PathBuf, port: u16) -> Self {
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {name} (is it installed? scripts/test installs it): {e}")
            });
        let mut daemon = Self { name, child, log };
        daemon.wait_for_port(port);
        daemon
    }

    fn wait_for_port(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited with {status}:\n{}", self.name, self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "{} did not listen on {port}:\n{}",
                self.name,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The log once it has a line with `text` in it.
    fn wait_for_log(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = self.log_text();
            if log.contains(text) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "{} never logged {text:?}:\n{log}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `tessera serve` with a config file, logging at `log` (a `TESSERA_LOG` filter);
/// returns it and the admin token it printed.
fn tessera(dir: &Path, config: &Path, port: u16, log: &str, extra: &[&str]) -> (Daemon, String) {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TESSERA_DATA_DIR", dir.join("tessera-data"))
        .env("TESSERA_LOG", log)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--config")
        .arg(config)
        .args(extra);
    let daemon = Daemon::start("tessera", command, dir.join("tessera.log"), port);
    // The port accepts connections as soon as it is bound, before the store is open;
    // the admin token is printed once the server has started, after its log says so.
    daemon.wait_for_log("tessera is listening");
    let mut admin = None;
    for _ in 0..500 {
        let log = daemon.wait_for_log("store it now\n");
        let line = log
            .split("store it now\n")
            .nth(1)
            .and_then(|rest| rest.split_once('\n'));
        if let Some((token, _)) = line {
            admin = Some(token.trim().to_owned());
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let admin = admin.expect("the admin token's line");
    (daemon, admin)
}

/// A recipe file with its documented addresses replaced by this test's ports.
fn recipe(path: &str, replacements: &[(&str, String)]) -> String {
    let mut text = std::fs::read_to_string(docs(path)).expect("recipe exists");
    for (from, to) in replacements {
        assert!(text.contains(from), "{path} mentions {from}");
        text = text.replace(from, to);
    }
    text
}

/// nginx in the foreground, as this user, with everything under `dir`.
fn nginx(dir: &Path, site: &str, port: u16) -> Daemon {
    let root = dir.join("nginx");
    std::fs::create_dir_all(&root).expect("nginx dir");
    std::fs::write(root.join("site.conf"), site).expect("site");
    let main = format!(
        "daemon off;\nmaster_process off;\npid {root}/nginx.pid;\nerror_log {root}/error.log info;\n\
         events {{ worker_connections 128; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {root}/body;\n  proxy_temp_path {root}/proxy;\n\
           fastcgi_temp_path {root}/fastcgi;\n  uwsgi_temp_path {root}/uwsgi;\n  scgi_temp_path {root}/scgi;\n\
           include {root}/site.conf;\n}}\n",
        root = root.display()
    );
    std::fs::write(root.join("nginx.conf"), main).expect("nginx.conf");
    let mut command = Command::new("nginx");
    command
        .arg("-p")
        .arg(&root)
        .arg("-c")
        .arg(root.join("nginx.conf"))
        .arg("-e")
        .arg(root.join("error.log"));
    Daemon::start("nginx", command, dir.join("nginx.out"), port)
}

/// An upstream API that answers with what it received: method, URI and headers.
/// `/upload` counts the bytes of a body; `/download?bytes=N` sends N bytes.
fn upstream() -> (u16, Arc<AtomicU64>) {
    use axum::body::{Body, Bytes};
    use axum::extract::{Request, State};
    use axum::response::{IntoResponse, Response};
    use futures_util::StreamExt;

    async fn answer(State(hits): State<Arc<AtomicU64>>, request: Request) -> Response {
        let path = request.uri().path().to_owned();
        if path == "/upload" {
            let mut stream = request.into_body().into_data_stream();
            let mut total = 0_u64;
            while let Some(Ok(chunk)) = stream.next().await {
                total += chunk.len() as u64;
            }
            return axum::Json(json!({ "received": total })).into_response();
        }
        if path == "/download" {
            let bytes: usize = request
                .uri()
                .query()
                .and_then(|q| q.strip_prefix("bytes="))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let chunk = Bytes::from(vec![0_u8; 1 << 20]);
            let chunks = bytes.div_ceil(1 << 20);
            let stream = futures_util::stream::iter(
                (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
            );
            return Body::from_stream(stream).into_response();
        }
        hits.fetch_add(1, Ordering::Relaxed);
        let headers: serde_json::Map<String, Value> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or("?"))))
            .collect();
        axum::Json(json!({
            "method": request.method().as_str(),
            "uri": request.uri().to_string(),
            "headers": headers,
        }))
        .into_response()
    }

    let hits = Arc::new(AtomicU64::new(0));
    let state = Arc::clone(&hits);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let port = listener.local_addr().expect("addr").port();
            sender.send(port).expect("send port");
            let app = axum::Router::new().fallback(answer).with_state(state);
            let _ = axum::serve(listener, app).await;
        });
    });
    let port = receiver.recv().expect("upstream port");
    (port, hits)
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> String {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

fn send(request: reqwest::blocking::RequestBuilder) -> Answer {
    let response = request.send().expect("an answer");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().unwrap_or_default();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

/// A request exactly as written: `reqwest` would tidy `..` and `%2F` away.
fn raw_status(port: u16, method: &str, target: &str, token: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn create(api: &str, admin: &str, body: Value) -> (String, String) {
    let created = send(
        reqwest::blocking::Client::new()
            .post(format!("{api}/v1/tokens"))
            .bearer_auth(admin)
            .json(&body),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    (
        created.body["id"].as_str().expect("id").to_owned(),
        created.body["token"].as_str().expect("token").to_owned(),
    )
}

fn revoke(api: &str, admin: &str, id: &str) {
    let revoked = send(
        reqwest::blocking::Client::new()
            .delete(format!("{api}/v1/tokens/{id}"))
            .bearer_auth(admin),
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
}

/// Every allow and deny case, through a proxy at `proxy_port` guarding the upstream.
fn drive_proxy(
    proxy_port: u16,
    api: &str,
    admin: &str,
    hits: &AtomicU64,
    name: &str,
) -> Vec<String> {
    let client = reqwest::blocking::Client::new();
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let (id, token) = create(
        api,
        admin,
        json!({"name": "publisher", "owner": "user-7", "scopes": ["events:publish"],
               "resources": ["app:1"], "rate_limit": {"per_minute": 1, "burst": 2}}),
    );
    let (other_id, ownerless) = create(
        api,
        admin,
        json!({"name": "ownerless", "scopes": ["events:publish"], "resources": ["app:1"]}),
    );

    // Allowed: the upstream sees who, never the token nor a client's spoofed identity.
    let allowed = send(
        client
            .post(format!("{proxy}/api/v1/apps/1/events?x=1"))
            .bearer_auth(&token)
            .header("X-Tessera-Token-Id", "tok_spoofed"),
    );
    assert_eq!(allowed.status, 200, "{name}: {}", allowed.body);
    let seen = &allowed.body["headers"];
    assert_eq!(seen["x-tessera-token-id"], id.as_str(), "{name}");
    assert_eq!(seen["x-tessera-owner"], "user-7", "{name}");
    assert_eq!(seen["x-tessera-scopes"], "events:publish", "{name}");
    assert!(
        seen.get("authorization").is_none(),
        "{name}: token passed on"
    );
    let spoof = send(
        client
            .post(format!("{proxy}/api/v1/apps/1/events"))
            .bearer_auth(&ownerless)
            .header("X-Tessera-Owner", "admin"),
    );
    assert_eq!(spoof.status, 200, "{name}");
    assert!(
        spoof.body["headers"]
            .get("x-tessera-owner")
            .is_none_or(|v| v == ""),
        "{name}: a spoofed owner got through: {}",
        spoof.body
    );
    let public = send(
        client
            .get(format!("{proxy}/healthz"))
            .header("X-Tessera-Token-Id", "tok_x"),
    );
    assert_eq!(public.status, 200, "{name}");
    assert!(
        public.body["headers"]
            .get("x-tessera-token-id")
            .is_none_or(|v| v == ""),
        "{name}: {}",
        public.body
    );

    let before = hits.load(Ordering::Relaxed);
    // No token, a bogus token: 401 with a Bearer challenge.
    let none = send(client.post(format!("{proxy}/api/v1/apps/1/events")));
    assert_eq!(none.status, 401, "{name}");
    assert!(none.header("www-authenticate").contains("Bearer"), "{name}");
    assert_eq!(
        none.headers.get_all("www-authenticate").iter().count(),
        1,
        "{name}: one challenge: {}",
        none.header("www-authenticate")
    );
    assert!(
        none.header("content-type")
            .contains("application/problem+json")
    );
    let bogus = send(
        client
            .post(format!("{proxy}/api/v1/apps/1/events"))
            .bearer_auth("tsr_bogus"),
    );
    assert_eq!(bogus.status, 401, "{name}");
    // Another app: 403 saying which scope.
    let forbidden = send(
        client
            .post(format!("{proxy}/api/v1/apps/2/events"))
            .bearer_auth(&token),
    );
    assert_eq!(forbidden.status, 403, "{name}");
    assert!(
        forbidden
            .header("www-authenticate")
            .contains("insufficient_scope"),
        "{name}: {}",
        forbidden.header("www-authenticate")
    );
    assert!(
        forbidden
            .header("content-type")
            .contains("application/problem+json")
    );
    // Unmatched (wrong method) and path tricks: never an allow.
    assert_eq!(
        send(
            client
                .delete(format!("{proxy}/api/v1/apps/1/events"))
                .bearer_auth(&token)
        )
        .status,
        403,
        "{name}"
    );
    for trick in [
        "/api/v1/apps/2/../1/events",
        "/api/v1/apps/2/%2e%2e/1/events",
        "/api/v1/apps/1%2Fevents",
        "/api/v1/apps//1/events",
    ] {
        let status = raw_status(proxy_port, "POST", trick, &token);
        assert!(
            (400..500).contains(&status),
            "{name}: {trick} answered {status}"
        );
    }
    assert_eq!(
        hits.load(Ordering::Relaxed),
        before,
        "{name}: a denied request reached the API"
    );

    // The bucket held two: this one passes, the next is limited with Retry-After.
    let second = send(
        client
            .post(format!("{proxy}/api/v1/apps/1/events"))
            .bearer_auth(&token),
    );
    assert_eq!(second.status, 200, "{name}");
    let limited = send(
        client
            .post(format!("{proxy}/api/v1/apps/1/events"))
            .bearer_auth(&token),
    );
    assert_eq!(limited.status, 429, "{name}: {}", limited.body);
    let retry: u64 = limited.header("retry-after").parse().expect("Retry-After");
    assert!((1..=60).contains(&retry), "{name}: Retry-After {retry}");
    assert!(limited.header("ratelimit").contains("r=0"), "{name}");

    // Revocation takes effect at once.
    revoke(api, admin, &other_id);
    let revoked = send(
        client
            .post(format!("{proxy}/api/v1/apps/1/events"))
            .bearer_auth(&ownerless),
    );
    assert_eq!(revoked.status, 401, "{name}");
    vec![token, ownerless]
}

/// Token texts never reach tessera's log, even at `trace`.
fn assert_not_logged(tessera: &Daemon, tokens: &[String]) {
    let log = tessera.log_text();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "the log is verbose"
    );
    for token in tokens {
        assert!(!log.contains(token.as_str()), "a token is in tessera's log");
    }
}

/// tessera with the example routes, the upstream, and a proxy started by `start`
/// from the recipe `path` (its documented addresses replaced by free ports), driven
/// through every case.
fn guard_through(name: &str, path: &str, start: impl FnOnce(&Path, &str, u16) -> Daemon) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (upstream_port, hits) = upstream();
    let (api_port, proxy_port) = (free_port(), free_port());
    let (tessera, admin) = tessera(
        dir.path(),
        &docs("routes.example.toml"),
        api_port,
        "trace",
        &[],
    );
    let site = recipe(
        path,
        &[
            ("127.0.0.1:7900", format!("127.0.0.1:{api_port}")),
            ("127.0.0.1:9000", format!("127.0.0.1:{upstream_port}")),
            ("127.0.0.1:8080", format!("127.0.0.1:{proxy_port}")),
        ],
    );
    let _proxy = start(dir.path(), &site, proxy_port);
    let api = format!("http://127.0.0.1:{api_port}");
    let tokens = drive_proxy(proxy_port, &api, &admin, &hits, name);
    assert_not_logged(&tessera, &tokens);
}

#[test]
fn nginx_auth_request_recipe_guards_an_api() {
    guard_through("nginx", "nginx/tessera.conf", nginx);
}

#[test]
fn caddy_forward_auth_recipe_guards_an_api() {
    guard_through("caddy", "caddy/Caddyfile", |dir, site, port| {
        // Test-only global options: no admin endpoint, no certificates.
        let caddyfile = dir.join("Caddyfile");
        std::fs::write(
            &caddyfile,
            format!("{{\n\tadmin off\n\tauto_https off\n}}\n\n{site}"),
        )
        .expect("Caddyfile");
        let mut command = Command::new("caddy");
        command
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&caddyfile)
            .env("HOME", dir)
            .env("XDG_DATA_HOME", dir.join("caddy-data"))
            .env("XDG_CONFIG_HOME", dir.join("caddy-config"));
        Daemon::start("caddy", command, dir.join("caddy.log"), port)
    });
}

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .current_dir(dir)
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.test")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.test")
        .args(["-c", "credential.helper=", "-c", "init.defaultBranch=main"])
        .args(args)
        .output()
        .expect("git runs")
}

fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args);
    assert!(
        out.status.success(),
        "git {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn git_fails(dir: &Path, args: &[&str], expected: &str) {
    let out = git(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "git {args:?} should fail");
    assert!(
        stderr.contains(expected),
        "git {args:?} should say {expected:?}:\n{stderr}"
    );
}

#[test]
fn git_clones_and_pushes_through_the_gateway_by_scope() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    // Two bare repositories, r1 with one commit.
    let srv = root.join("srv");
    for repo in ["r1", "r2"] {
        let path = srv.join("repo").join(repo);
        std::fs::create_dir_all(&path).expect("repo dir");
        git_ok(&path, &["init", "--bare", "-q"]);
    }
    let seed = root.join("seed");
    std::fs::create_dir_all(&seed).expect("seed");
    git_ok(&seed, &["init", "-q"]);
    std::fs::write(seed.join("README"), "hello\n").expect("file");
    git_ok(&seed, &["add", "README"]);
    git_ok(&seed, &["commit", "-q", "-m", "first"]);
    let bare = srv.join("repo/r1");
    git_ok(
        &seed,
        &["push", "-q", bare.to_str().expect("utf-8"), "main"],
    );

    // git http-backend, run by fcgiwrap behind nginx, as in docs/git/.
    let socket = root.join("fcgi.sock");
    let mut fcgi = Command::new("fcgiwrap");
    fcgi.arg("-s").arg(format!("unix:{}", socket.display()));
    let (backend_port, api_port, gateway_port) = (free_port(), free_port(), free_port());
    let fcgi_log = root.join("fcgiwrap.log");
    let out = std::fs::File::create(&fcgi_log).expect("log");
    let mut fcgiwrap = Daemon {
        name: "fcgiwrap",
        child: fcgi
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("fcgiwrap starts (scripts/test installs it)"),
        log: fcgi_log,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "fcgiwrap: {}",
            fcgiwrap.log_text()
        );
        assert!(
            fcgiwrap.child.try_wait().ok().flatten().is_none(),
            "fcgiwrap exited: {}",
            fcgiwrap.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let site = recipe(
        "git/nginx-git-http-backend.conf",
        &[
            ("127.0.0.1:9000", format!("127.0.0.1:{backend_port}")),
            ("/srv/git", srv.display().to_string()),
            (
                "unix:/run/fcgiwrap.socket",
                format!("unix:{}", socket.display()),
            ),
        ],
    );
    let _nginx = nginx(root, &site, backend_port);
    let (tessera, admin) = tessera(
        root,
        &docs("git/routes.toml"),
        api_port,
        "trace",
        &[
            "--upstream",
            &format!("http://127.0.0.1:{backend_port}"),
            "--gateway-listen",
            &format!("127.0.0.1:{gateway_port}"),
        ],
    );
    let api = format!("http://127.0.0.1:{api_port}");
    let (reader_id, reader) = create(
        &api,
        &admin,
        json!({"name": "reader", "scopes": ["repo:read"], "resources": ["repo:r1"]}),
    );
    let (_, writer) = create(
        &api,
        &admin,
        json!({"name": "writer", "scopes": ["repo:read", "repo:write"], "resources": ["repo:r1"]}),
    );
    let (_, stranger) = create(
        &api,
        &admin,
        json!({"name": "stranger", "scopes": ["repo:read", "repo:write"], "resources": ["repo:r2"]}),
    );
    let url =
        |token: &str, repo: &str| format!("http://x:{token}@127.0.0.1:{gateway_port}/repo/{repo}");

    // repo:read clones; it cannot push.
    git_ok(root, &["clone", "-q", &url(&reader, "r1"), "read-copy"]);
    let copy = root.join("read-copy");
    assert_eq!(
        std::fs::read_to_string(copy.join("README")).expect("cloned"),
        "hello\n"
    );
    std::fs::write(copy.join("README"), "changed\n").expect("edit");
    git_ok(&copy, &["commit", "-q", "-am", "by reader"]);
    git_fails(&copy, &["push", "-q", "origin", "main"], "403");

    // repo:write pushes.
    git_ok(&copy, &["push", "-q", &url(&writer, "r1"), "main"]);
    let log = git_ok(&bare, &["log", "--format=%s", "main"]);
    assert!(log.starts_with("by reader"), "{log}");

    // A token for another repository gets 403. Without a token, the 401's Basic
    // challenge makes git ask for credentials (which it may not, here).
    git_fails(
        root,
        &["clone", "-q", &url(&stranger, "r1"), "stranger-copy"],
        "403",
    );
    git_fails(
        root,
        &[
            "ls-remote",
            &format!("http://127.0.0.1:{gateway_port}/repo/r1"),
        ],
        "could not read Username",
    );

    // Revoked: it fails at once.
    git_ok(root, &["ls-remote", &url(&reader, "r1")]);
    revoke(&api, &admin, &reader_id);
    git_fails(
        root,
        &["ls-remote", &url(&reader, "r1")],
        "Authentication failed",
    );
    assert_not_logged(&tessera, &[reader, writer, stranger]);
}

/// Peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn the_gateway_streams_a_gibibyte_each_way_without_holding_it() {
    const GIB: u64 = 1 << 30;
    let dir = tempfile::tempdir().expect("temp dir");
    let (upstream_port, _) = upstream();
    let (api_port, gateway_port) = (free_port(), free_port());
    let config = dir.path().join("tessera.toml");
    std::fs::write(&config, "unmatched_routes = \"any_valid_token\"\n").expect("config");
    let (tessera, admin) = tessera(
        dir.path(),
        &config,
        api_port,
        "info",
        &[
            "--upstream",
            &format!("http://127.0.0.1:{upstream_port}"),
            "--gateway-listen",
            &format!("127.0.0.1:{gateway_port}"),
        ],
    );
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .expect("client");
    let zeros = std::io::repeat(0).take(GIB);
    let uploaded = send(
        client
            .post(format!("http://127.0.0.1:{gateway_port}/upload"))
            .bearer_auth(&admin)
            .body(reqwest::blocking::Body::sized(zeros, GIB)),
    );
    assert_eq!(uploaded.status, 200, "{}", uploaded.body);
    assert_eq!(uploaded.body["received"], GIB);

    let mut download = client
        .get(format!(
            "http://127.0.0.1:{gateway_port}/download?bytes={GIB}"
        ))
        .bearer_auth(&admin)
        .send()
        .expect("download");
    assert_eq!(download.status().as_u16(), 200);
    let received = std::io::copy(&mut download, &mut std::io::sink()).expect("read body");
    assert_eq!(received, GIB);

    // Well under the 2 GiB that went through: the bodies were streamed.
    let peak = peak_rss_kib(tessera.child.id());
    eprintln!(
        "tessera's peak RSS after 2 GiB through the gateway: {} MiB",
        peak / 1024
    );
    assert!(peak < 256 * 1024, "peak RSS {peak} KiB");
}
