//! Slow, idle and too many connections against the real binary: each is closed at
//! its `[limits]` timeout or cap, with a 408 where a request had begun, while a
//! client that sends whole requests is served as fast as ever.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    reason = "a test: a failed assumption is a failed test"
)]

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use tessera_testkit::{Tessera, admin_token};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const BINARY: &str = env!("CARGO_BIN_EXE_tessera");

/// `tessera serve` with a `[limits]` section, on a free port.
struct Served {
    server: Tessera,
    addr: SocketAddr,
    admin: String,
}

impl Served {
    fn start(dir: &Path, limits: &str, extra: &[&str]) -> Self {
        let config = dir.join("tessera.toml");
        std::fs::write(&config, format!("[limits]\n{limits}\n")).unwrap();
        let data = dir.join("data");
        let config = config.to_str().unwrap();
        let args: Vec<&str> = ["--config", config].iter().chain(extra).copied().collect();
        let server = Tessera::start(BINARY, &data, &args, &[]);
        Self {
            addr: server.addr,
            admin: admin_token(&data),
            server,
        }
    }

    /// The server's open file descriptors.
    fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.server.pid()))
            .unwrap()
            .count()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.server.log).unwrap()
    }
}

/// A connection to `to` from loopback address `from`.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    socket.connect(to).await.unwrap()
}

/// Waits for the server to end the connection: what it wrote before closing, and
/// how long after `since` it closed.
async fn until_closed(stream: &mut TcpStream, since: Instant) -> (String, Duration) {
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection");
    (
        String::from_utf8_lossy(&answer).into_owned(),
        since.elapsed(),
    )
}

/// Sends `bytes` one at a time, `every` apart, until the server closes the
/// connection; returns what it wrote and how long after the first byte it closed.
async fn drip(mut stream: TcpStream, bytes: &'static [u8], every: Duration) -> (String, Duration) {
    let first = Instant::now();
    let (mut reader, mut writer) = stream.split();
    let writing = async {
        for byte in bytes.iter().cycle() {
            if writer.write_all(std::slice::from_ref(byte)).await.is_err() {
                break;
            }
            tokio::time::sleep(every).await;
        }
    };
    let mut answer = Vec::new();
    tokio::select! {
        () = writing => {}
        _ = reader.read_to_end(&mut answer) => {}
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        first.elapsed(),
    )
}

fn within(elapsed: Duration, from_ms: u64, to_ms: u64) -> bool {
    (Duration::from_millis(from_ms)..Duration::from_millis(to_ms)).contains(&elapsed)
}

fn verify_request(verifier: &str, token: &str) -> String {
    let body = format!(r#"{{"token":"{token}","scopes":["repo:read"]}}"#);
    format!(
        "POST /v1/verify HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {verifier}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A token that may verify, made with the admin token.
fn verifier(served: &Served) -> String {
    let created: serde_json::Value = reqwest::blocking::Client::new()
        .post(format!("http://{}/v1/tokens", served.addr))
        .bearer_auth(&served.admin)
        .json(&serde_json::json!({"name": "backend", "scopes": ["tokens:verify", "repo:read"]}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    created["token"].as_str().unwrap().to_owned()
}

#[test]
fn each_timeout_counts_from_its_own_moment_on_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(
        dir.path(),
        "header_read_timeout = \"1s\"\nidle_timeout = \"2s\"\nbody_read_timeout = \"1s\"",
        &[
            "--upstream",
            "http://127.0.0.1:9",
            "--gateway-listen",
            "127.0.0.1:0",
        ],
    );
    let gateway: SocketAddr = {
        let log = served.log();
        let line = log
            .lines()
            .find(|l| l.contains("gateway is listening"))
            .unwrap();
        let addr = line.split("addr=").nth(1).unwrap();
        addr.split_whitespace().next().unwrap().parse().unwrap()
    };
    let verifier = verifier(&served);
    let api = served.addr;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        // A connection that sends nothing: closed after the header timeout, silently.
        let idle = async {
            let mut stream = connect_from("127.0.0.1", api).await;
            until_closed(&mut stream, Instant::now()).await
        };
        // A head sent a byte at a time, on the own loop and on the gateway (hyper):
        // 408 one header timeout after its first byte.
        let slow_head = drip(
            connect_from("127.0.0.1", api).await,
            b"GET /healthz HTTP/1.1\r\nx-slow: ",
            Duration::from_millis(200),
        );
        let slow_gateway = drip(
            connect_from("127.0.0.1", gateway).await,
            b"GET /anything HTTP/1.1\r\nx-slow: ",
            Duration::from_millis(200),
        );
        // Bodies that stop half-way: on the own loop (verify) and through hyper (create).
        let half_body = |path: &'static str| async move {
            let mut stream = connect_from("127.0.0.1", api).await;
            let head = format!(
                "POST {path} HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 50\r\n\r\n{{\"tok"
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            until_closed(&mut stream, Instant::now()).await
        };
        // A kept-alive connection after an answer, on the own loop and on hyper: the
        // idle timeout, not the header timeout.
        let kept_alive = |request: String| async move {
            let mut stream = connect_from("127.0.0.1", api).await;
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut first = [0u8; 12];
            stream.read_exact(&mut first).await.unwrap();
            assert_eq!(&first, b"HTTP/1.1 200");
            let answered = Instant::now();
            let (_, after) = until_closed(&mut stream, answered).await;
            after
        };
        let (idle, slow_head, slow_gateway, verify_body, create_body, loop_idle, hyper_idle) = tokio::join!(
            idle,
            slow_head,
            slow_gateway,
            half_body("/v1/verify"),
            half_body("/v1/tokens"),
            kept_alive(verify_request(&verifier, "tsr_x")),
            kept_alive("GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n".to_owned()),
        );
        assert!(idle.0.is_empty(), "{}", idle.0);
        assert!(within(idle.1, 900, 1800), "idle closed after {:?}", idle.1);
        for (what, (answer, after)) in [
            ("slow head", slow_head),
            ("slow head at the gateway", slow_gateway),
            ("half a verify body", verify_body),
            ("half a create body", create_body),
        ] {
            assert!(
                answer.starts_with("HTTP/1.1 408") && answer.contains("request_timeout"),
                "{what}: {answer}"
            );
            assert!(within(after, 900, 1900), "{what} closed after {after:?}");
        }
        assert!(within(loop_idle, 1900, 3200), "own loop idle: {loop_idle:?}");
        assert!(within(hyper_idle, 1900, 3200), "hyper idle: {hyper_idle:?}");
    });
    let metrics = reqwest::blocking::get(format!("http://{api}/metrics"))
        .unwrap()
        .text()
        .unwrap();
    let timed_out: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tessera_connections_timed_out_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(timed_out >= 3, "{metrics}");
}

#[test]
fn connections_past_a_cap_are_closed_at_once_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(
        dir.path(),
        "max_connections_per_address = 2\nmax_connections = 3",
        &[],
    );
    let api = served.addr;
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let _one = connect_from("127.0.0.2", api).await;
        let _two = connect_from("127.0.0.2", api).await;
        let mut third = connect_from("127.0.0.2", api).await;
        let (answer, after) = until_closed(&mut third, Instant::now()).await;
        assert!(answer.is_empty() && after < Duration::from_millis(500));
        let _other = connect_from("127.0.0.3", api).await;
        let mut fourth = connect_from("127.0.0.4", api).await;
        let (_, after) = until_closed(&mut fourth, Instant::now()).await;
        assert!(after < Duration::from_millis(500), "past max_connections");
    });
    // Every place is free again once those connections are gone (the server reads
    // their ends a moment later).
    let deadline = Instant::now() + Duration::from_secs(5);
    let metrics = loop {
        match reqwest::blocking::get(format!("http://{api}/metrics")).and_then(|r| r.text()) {
            Ok(text) => break text,
            Err(error) => assert!(Instant::now() < deadline, "{error}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        metrics.contains("tessera_connections_refused_total 2"),
        "{metrics}"
    );
}

#[test]
fn a_flood_of_slow_and_idle_connections_leaves_real_clients_fast() {
    const EACH: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(
        dir.path(),
        "header_read_timeout = \"2s\"\nidle_timeout = \"3s\"",
        &[],
    );
    let verifier = verifier(&served);
    let api = served.addr;
    let baseline = served.open_files();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (closed, latencies) = runtime.block_on(async {
        let sources = [
            "127.0.0.2",
            "127.0.0.3",
            "127.0.0.4",
            "127.0.0.5",
            "127.0.0.6",
        ];
        let mut flood = Vec::new();
        for i in 0..EACH {
            let from = sources[i % sources.len()];
            let slow = connect_from(from, api).await;
            flood.push(tokio::spawn(drip(
                slow,
                b"GET /healthz HTTP/1.1\r\nx-slow: ",
                Duration::from_millis(500),
            )));
            let mut idle = connect_from(from, api).await;
            flood.push(tokio::spawn(async move {
                until_closed(&mut idle, Instant::now()).await
            }));
        }
        // Meanwhile, a client that sends whole requests verifies, kept alive.
        let mut client = connect_from("127.0.0.1", api).await;
        let request = verify_request(&verifier, &verifier);
        let mut latencies = Vec::new();
        let until = Instant::now() + Duration::from_millis(2500);
        let mut buffer = vec![0u8; 8192];
        while Instant::now() < until {
            let sent = Instant::now();
            client.write_all(request.as_bytes()).await.unwrap();
            let read = client.read(&mut buffer).await.unwrap();
            assert!(buffer[..read].starts_with(b"HTTP/1.1 200"));
            latencies.push(sent.elapsed());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut closed = Vec::new();
        for task in flood {
            closed.push(task.await.unwrap());
        }
        (closed, latencies)
    });
    let mut sorted = latencies.clone();
    sorted.sort();
    let p99 = sorted[sorted.len() * 99 / 100];
    assert!(
        p99 < Duration::from_millis(10),
        "p99 {p99:?} over {} verifications",
        sorted.len()
    );
    for (answer, after) in &closed {
        assert!(
            within(*after, 1800, 3500),
            "closed after {after:?}: {answer}"
        );
    }
    let slow_answered = closed
        .iter()
        .filter(|(a, _)| a.starts_with("HTTP/1.1 408"))
        .count();
    assert_eq!(slow_answered, EACH, "every slow connection gets its 408");
    drop(runtime);
    let deadline = Instant::now() + Duration::from_secs(5);
    while served.open_files() > baseline + 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        served.open_files() <= baseline + 1,
        "{} files open, {baseline} before",
        served.open_files()
    );
}
