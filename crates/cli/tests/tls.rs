//! TLS everywhere, with a CA and certificates made in the test: the API, the UI and
//! the CLI over https (curl as a client too), the certificate reloaded on SIGHUP
//! without dropping a connection, the gateway on https to an https upstream, a real
//! PostgreSQL started with `ssl=on` and a real Redis with only a `tls-port`. A CA
//! that did not sign the server's certificate fails closed, with words that say so.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed assumption is a failed test"
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tessera_testkit::{Issued, Postgres, Redis, Tessera, TestCa, admin_token, free_port};

const BINARY: &str = env!("CARGO_BIN_EXE_tessera");

fn serve(data_dir: &Path, args: &[&str]) -> Tessera {
    Tessera::start(BINARY, data_dir, args, &[])
}

fn tls_args(issued: &Issued) -> Vec<String> {
    vec![
        "--tls-cert".into(),
        issued.cert.display().to_string(),
        "--tls-key".into(),
        issued.key.display().to_string(),
    ]
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// curl, as an operator would call it: `-w` appends the status.
fn curl(ca: &Path, args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-w",
            "\n%{http_code}",
            "--cacert",
        ])
        .arg(ca)
        .args(args)
        .output()
        .expect("curl runs (apt-get install curl)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", &text));
    (
        status.trim().parse().unwrap_or(0),
        format!("{body}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

fn cli(url: &str, auth: &str, args: &[&str]) -> Output {
    Command::new(BINARY)
        .env_clear()
        .args(["token", "--url", url, "--auth", auth])
        .args(args)
        .output()
        .expect("the CLI runs")
}

fn wait_for_log(server: &Tessera, words: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(&server.log).unwrap_or_default();
        if log.contains(words) {
            return log;
        }
        assert!(Instant::now() < deadline, "no {words:?} in the log:\n{log}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A TLS connection of the test's own, to see which certificate the server shows
/// and to keep one connection open across a reload.
struct Client {
    tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr, ca: &Path) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(ca).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("localhost").unwrap();
        let connection = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
        let socket = TcpStream::connect(addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Self {
            tls: rustls::StreamOwned::new(connection, socket),
        }
    }

    /// `GET path` on this connection, kept alive; the status and the body.
    fn get(&mut self, path: &str) -> (u16, String) {
        write!(self.tls, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        let mut read = Vec::new();
        let mut buffer = [0; 4096];
        loop {
            let count = self.tls.read(&mut buffer).unwrap();
            assert!(count > 0, "the connection was closed");
            read.extend_from_slice(&buffer[..count]);
            let text = String::from_utf8_lossy(&read).into_owned();
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
                continue;
            };
            let length: usize = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            if body.len() >= length {
                let status = head[9..12].parse().unwrap();
                return (status, body.to_owned());
            }
        }
    }

    fn certificate(&self) -> Vec<u8> {
        self.tls.conn.peer_certificates().unwrap()[0].to_vec()
    }
}

fn der(cert: &Path) -> Vec<u8> {
    CertificateDer::from_pem_file(cert).unwrap().to_vec()
}

#[test]
fn the_api_ui_and_cli_speak_tls_and_a_sighup_reloads_the_certificate() {
    let ca = TestCa::new("tessera test CA");
    let first = ca.issue();
    // The paths the server is given; their contents are replaced for the reload.
    let served = Issued {
        cert: ca.dir().join("served.pem"),
        key: ca.dir().join("served.key"),
    };
    std::fs::copy(&first.cert, &served.cert).unwrap();
    std::fs::copy(&first.key, &served.key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = serve(&data, &strs(&tls_args(&served)));
    let admin = admin_token(&data);
    let url = format!("https://localhost:{}", server.addr.port());
    let ca_file = ca.ca_file();
    let ca_path = ca_file.to_str().unwrap();

    // curl, over the hyper path and over tessera's own loop.
    let (status, body) = curl(&ca_file, &[&format!("{url}/healthz")]);
    assert_eq!(status, 200, "{body}");
    let (status, _) = curl(
        &ca_file,
        &[&format!("http://127.0.0.1:{}/healthz", server.addr.port())],
    );
    assert_ne!(status, 200, "plain http is not answered on a TLS listener");

    // The CLI: made with the CA it was told to trust; refused with a clear reason
    // without it, or with a CA that signed nothing of this server's.
    let made = cli(
        &url,
        &admin,
        &[
            "--ca-cert",
            ca_path,
            "--json",
            "create",
            "--name",
            "over tls",
            "--scope",
            "repo:read",
        ],
    );
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let made: Value = serde_json::from_slice(&made.stdout).unwrap();
    let token = made["token"].as_str().unwrap();
    let stranger = TestCa::new("another CA");
    for args in [
        vec!["list"],
        vec!["--ca-cert", stranger.ca_file().to_str().unwrap(), "list"],
    ] {
        let refused = cli(&url, &admin, &args);
        let said = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(1), "{said}");
        assert!(
            said.contains("certificate") && said.contains("--ca-cert"),
            "{said}"
        );
        assert!(!said.contains(&admin), "{said}");
    }
    let (status, body) = curl(
        &ca_file,
        &[
            "-X",
            "POST",
            &format!("{url}/v1/verify"),
            "-H",
            &format!("authorization: Bearer {admin}"),
            "-H",
            "content-type: application/json",
            "-d",
            &json!({"token": token, "scopes": ["repo:read"]}).to_string(),
        ],
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"valid\":true"), "{body}");

    // The UI's cookies are Secure on a TLS listener.
    let (status, headers) = curl(
        &ca_file,
        &["-D", "-", "-o", "/dev/null", &format!("{url}/ui/sign-in")],
    );
    assert_eq!(status, 200);
    let cookie = headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie"))
        .unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");

    // A reload: a connection opened before keeps working; new ones see the new
    // certificate. A broken file leaves the one in use.
    let mut before = Client::connect(server.addr, &ca_file);
    assert_eq!(before.get("/healthz").0, 200);
    assert_eq!(before.certificate(), der(&first.cert));
    let second = ca.issue();
    std::fs::copy(&second.cert, &served.cert).unwrap();
    std::fs::copy(&second.key, &served.key).unwrap();
    let hangup = |count: usize| {
        Command::new("kill")
            .args(["-HUP", &server.pid().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = std::fs::read_to_string(&server.log).unwrap();
            let reloads = log.matches("reloaded the TLS certificate").count()
                + log.matches("kept the TLS certificate in use").count();
            if reloads == count {
                return log;
            }
            assert!(Instant::now() < deadline, "no reload:\n{log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    hangup(1);
    assert_eq!(
        before.get("/healthz").0,
        200,
        "the open connection was kept"
    );
    let mut after = Client::connect(server.addr, &ca_file);
    assert_eq!(after.get("/healthz").0, 200);
    assert_eq!(after.certificate(), der(&second.cert));
    std::fs::write(&served.key, "not a key").unwrap();
    let log = hangup(2);
    assert!(log.contains("kept the TLS certificate in use"), "{log}");
    let mut still = Client::connect(server.addr, &ca_file);
    assert_eq!(still.get("/healthz").0, 200);
    assert_eq!(still.certificate(), der(&second.cert));
    assert!(!log.contains(token) && !log.contains(&admin));
}

#[test]
fn the_gateway_speaks_tls_to_clients_and_to_an_https_upstream() {
    let ca = TestCa::new("tessera test CA");
    let dir = tempfile::tempdir().unwrap();
    // The upstream: another tessera, on https; its /healthz is the guarded API.
    let upstream = serve(&dir.path().join("upstream"), &strs(&tls_args(&ca.issue())));
    let config = dir.path().join("gateway.toml");
    std::fs::write(&config, "unmatched_routes = \"any_valid_token\"\n").unwrap();
    let gateway_tls = ca.issue();
    let gateway = |name: &str, upstream_ca: &Path| {
        let port = free_port();
        let mut args = vec![
            "--config".to_owned(),
            config.display().to_string(),
            "--upstream".into(),
            format!("https://localhost:{}", upstream.addr.port()),
            "--upstream-ca".into(),
            upstream_ca.display().to_string(),
            "--gateway-listen".into(),
            format!("127.0.0.1:{port}"),
            "--gateway-tls-cert".into(),
            gateway_tls.cert.display().to_string(),
            "--gateway-tls-key".into(),
            gateway_tls.key.display().to_string(),
        ];
        args.extend(tls_args(&gateway_tls));
        let data = dir.path().join(name);
        let server = serve(&data, &strs(&args));
        let token = admin_token(&data);
        (server, port, token)
    };
    let (trusting, port, token) = gateway("trusting", &ca.ca_file());
    let (status, body) = curl(
        &ca.ca_file(),
        &[
            "-H",
            &format!("authorization: Bearer {token}"),
            &format!("https://localhost:{port}/healthz"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let (status, _) = curl(
        &ca.ca_file(),
        &[&format!("https://localhost:{port}/healthz")],
    );
    assert_eq!(status, 401, "no token, no way through");
    drop(trusting);

    // An upstream whose certificate the gateway's CA did not sign: 502, and the log
    // says why.
    let stranger = TestCa::new("another CA");
    let (doubting, port, token) = gateway("doubting", &stranger.ca_file());
    let (status, body) = curl(
        &ca.ca_file(),
        &[
            "-H",
            &format!("authorization: Bearer {token}"),
            &format!("https://localhost:{port}/healthz"),
        ],
    );
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("upstream_unavailable"), "{body}");
    let log = wait_for_log(&doubting, "the upstream could not be reached");
    assert!(log.contains("UnknownIssuer"), "{log}");
}

#[test]
fn postgres_and_redis_are_reached_over_tls_and_a_wrong_ca_fails_closed() {
    let ca = TestCa::new("tessera test CA");
    let postgres = Postgres::start_with_tls(&ca.issue());
    let redis = Redis::start_with_tls(&ca.issue());
    let database = postgres.fresh_database();
    let with_roots = |roots: &Path| {
        format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            database.replace("127.0.0.1", "localhost"),
            roots.display()
        )
    };
    let pepper = "0123456789abcdef0123456789abcdef0123456789abcdef";
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = Tessera::start(
        BINARY,
        &data,
        &[
            "--database-url",
            &with_roots(&ca.ca_file()),
            "--redis-url",
            &redis.url(),
            "--redis-ca-cert",
            ca.ca_file().to_str().unwrap(),
        ],
        &[
            ("TESSERA_PEPPER", pepper),
            ("TESSERA_REDIS_FAILURE", "closed"),
        ],
    );
    let admin = admin_token(&data);
    let name = database.rsplit('/').next().unwrap();
    let encrypted = postgres.psql(
        name,
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
         WHERE application_name LIKE 'tessera%' AND ssl",
    );
    assert_ne!(
        encrypted, "0",
        "tessera's connections to PostgreSQL use TLS"
    );

    // A rate-limited token verifies: with redis_failure = "closed", that means
    // Redis answered, over TLS (it has no plain port).
    let client = reqwest::blocking::Client::new();
    let url = node.url();
    let made: Value = client
        .post(format!("{url}/v1/tokens"))
        .bearer_auth(&admin)
        .json(&json!({"name": "limited", "scopes": ["repo:read"], "rate_limit": {"per_minute": 60, "burst": 5}}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = made["token"].as_str().unwrap();
    let verify = |node: &str| {
        let answer = client
            .post(format!("{node}/v1/verify"))
            .bearer_auth(&admin)
            .json(&json!({"token": token}))
            .send()
            .unwrap();
        (answer.status().as_u16(), answer.text().unwrap())
    };
    let (status, body) = verify(&url);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"valid\":true"), "{body}");
    let keys = Command::new("redis-cli")
        .args([
            "--tls",
            "--cacert",
            ca.ca_file().to_str().unwrap(),
            "-h",
            "localhost",
        ])
        .args(["-p", &redis.port.to_string(), "DBSIZE"])
        .output()
        .expect("redis-cli runs");
    assert_ne!(String::from_utf8_lossy(&keys.stdout).trim(), "0");

    // PostgreSQL with roots that did not sign its certificate: the start fails,
    // saying why.
    let stranger = TestCa::new("another CA");
    let refused = Command::new(BINARY)
        .env_clear()
        .env("TESSERA_PEPPER", pepper)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &with_roots(&stranger.ca_file()),
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(said.contains("UnknownIssuer"), "{said}");

    // Redis with the stranger's roots: closed means every rate-limited token is
    // answered as rate-limited, and the log says why.
    let doubting_data = dir.path().join("doubting");
    let doubting = Tessera::start(
        BINARY,
        &doubting_data,
        &[
            "--database-url",
            &with_roots(&ca.ca_file()),
            "--redis-url",
            &redis.url(),
            "--redis-ca-cert",
            stranger.ca_file().to_str().unwrap(),
        ],
        &[
            ("TESSERA_PEPPER", pepper),
            ("TESSERA_REDIS_FAILURE", "closed"),
        ],
    );
    let (status, body) = verify(&doubting.url());
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("RATE_LIMITED"), "{body}");
    let log = wait_for_log(&doubting, "UnknownIssuer");
    assert!(!log.contains(token));
}
