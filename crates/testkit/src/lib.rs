//! Real programs for tests: PostgreSQL, Redis and headless Chromium from the
//! machine's packages, each in a temporary directory on a free loopback port, stopped
//! when the test is done.
//!
//! A missing program is a test failure that says what to install, never a skip. Every
//! server also gets a watchdog process that stops it if the test process dies without
//! cleaning up (a panic in another thread, a kill), so no server outlives its tests.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "test support: a program that cannot start fails the test that needs it, loudly"
)]

mod tessera;
mod tls;

pub use tessera::{Tessera, admin_token, admin_token_file};
pub use tls::{Issued, TestCa};

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// Waits until `ready` answers true, or panics after `limit` saying `what`.
fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < limit,
            "{what} did not start within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Starts a process that stops `pid` (with `signal`) once this test process is gone,
/// then removes `dir`.
fn watchdog(pid: u32, signal: &str, dir: &Path) {
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; kill -{signal} {pid} 2>/dev/null; \
         sleep 2; rm -rf '{dir}'",
        me = std::process::id(),
        dir = dir.display()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
}

/// The user servers run as: root may not run PostgreSQL, so as root they run as
/// `postgres` (made by Debian's postgresql package).
fn server_user() -> Option<(u32, u32)> {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    let me = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        return None;
    }
    Some((
        id("-u").expect(
            "running as root, PostgreSQL needs the `postgres` user: apt-get install postgresql-15",
        ),
        id("-g").expect("the `postgres` group"),
    ))
}

fn as_server_user(command: &mut Command) -> &mut Command {
    if let Some((uid, gid)) = server_user() {
        command.uid(uid).gid(gid);
    }
    command
}

fn chown_to_server_user(path: &Path) {
    if let Some((uid, gid)) = server_user() {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown the server's directory");
    }
}

/// PostgreSQL's programs: the newest installed major version.
fn postgres_bin(program: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join(program).exists())
        .collect();
    versions.sort();
    versions.pop().map(|bin| bin.join(program)).unwrap_or_else(|| {
        panic!("PostgreSQL's {program} is missing: apt-get install postgresql-15 (scripts/test does)")
    })
}

/// A PostgreSQL server of the test's own.
pub struct Postgres {
    pub port: u16,
    dir: tempfile::TempDir,
    server: Option<Child>,
    databases: AtomicU32,
    /// Started with `ssl=on` and this certificate.
    tls: Option<Issued>,
}

impl Postgres {
    /// One server shared by every test of this test binary (each test takes a fresh
    /// database with [`Postgres::fresh_database`]); the watchdog stops it at exit.
    pub fn shared() -> &'static Postgres {
        static SHARED: OnceLock<Postgres> = OnceLock::new();
        SHARED.get_or_init(Postgres::start)
    }

    /// A server of this test's own (to stop and start again), stopped when dropped.
    pub fn start() -> Postgres {
        Self::start_with(None)
    }

    /// A server of this test's own that offers TLS (`ssl=on`) with `certificate`,
    /// besides plain connections.
    pub fn start_with_tls(certificate: &Issued) -> Postgres {
        Self::start_with(Some(certificate))
    }

    fn start_with(certificate: Option<&Issued>) -> Postgres {
        let dir = tempfile::Builder::new()
            .prefix("tessera-pg-")
            .tempdir()
            .expect("a temp dir");
        chown_to_server_user(dir.path());
        let data = dir.path().join("data");
        let initdb = as_server_user(Command::new(postgres_bin("initdb")).args([
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            "--no-sync",
        ]))
        .arg("-D")
        .arg(&data)
        .stdout(Stdio::null())
        .output()
        .expect("initdb runs");
        assert!(
            initdb.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        );
        // PostgreSQL reads its key only if its own user owns it, private.
        let tls = certificate.map(|issued| {
            let copy = Issued {
                cert: dir.path().join("server.pem"),
                key: dir.path().join("server.key"),
            };
            std::fs::copy(&issued.cert, &copy.cert).expect("copy the certificate");
            std::fs::copy(&issued.key, &copy.key).expect("copy the key");
            std::fs::set_permissions(
                &copy.key,
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )
            .expect("a private key");
            chown_to_server_user(&copy.cert);
            chown_to_server_user(&copy.key);
            copy
        });
        let mut postgres = Self {
            port: free_port(),
            dir,
            server: None,
            databases: AtomicU32::new(0),
            tls,
        };
        postgres.resume();
        postgres
    }

    /// Starts the server (again) on the same port and data.
    pub fn resume(&mut self) {
        assert!(self.server.is_none(), "PostgreSQL is already running");
        let log = std::fs::File::create(self.dir.path().join("postgres.log")).expect("a log file");
        chown_to_server_user(&self.dir.path().join("postgres.log"));
        let child = as_server_user(&mut Command::new(postgres_bin("postgres")))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
            ])
            .arg("-k")
            .arg(self.dir.path())
            // Tests need a real server, not a durable one: skip the disk flushes.
            .args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .args(["-c", "max_connections=200"])
            .args(self.tls.iter().flat_map(|tls| {
                [
                    "-c".to_owned(),
                    "ssl=on".to_owned(),
                    "-c".to_owned(),
                    format!("ssl_cert_file={}", tls.cert.display()),
                    "-c".to_owned(),
                    format!("ssl_key_file={}", tls.key.display()),
                ]
            }))
            .stdout(Stdio::null())
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("postgres starts");
        watchdog(child.id(), "QUIT", self.dir.path());
        self.server = Some(child);
        let port = self.port.to_string();
        wait_until("PostgreSQL", Duration::from_secs(30), || {
            Command::new(postgres_bin("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &port])
                .status()
                .is_ok_and(|s| s.success())
        });
    }

    /// Stops the server at once (fast shutdown: connections are cut).
    pub fn stop(&mut self) {
        self.signal_and_wait("INT");
    }

    /// Sends the server `signal` and waits for it to exit.
    fn signal_and_wait(&mut self, signal: &str) {
        if let Some(mut child) = self.server.take() {
            let _ = Command::new("kill")
                .args([&format!("-{signal}"), &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Runs SQL as the superuser, panicking on failure.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", database, "-c", sql])
            .output()
            .expect("psql runs (apt-get install postgresql-client-15)");
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A new, empty database; returns its URL.
    pub fn fresh_database(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            self.databases.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Postgres {
    /// Immediate shutdown: the data is thrown away anyway.
    fn drop(&mut self) {
        self.signal_and_wait("QUIT");
    }
}

/// A Redis server of the test's own, stopped when dropped.
pub struct Redis {
    pub port: u16,
    dir: tempfile::TempDir,
    server: Option<Child>,
    /// Only TLS (`tls-port`, no plain port), with this certificate.
    tls: Option<Issued>,
}

impl Redis {
    pub fn start() -> Redis {
        Self::start_with(None)
    }

    /// A server that speaks only TLS, with `certificate` (clients show none).
    pub fn start_with_tls(certificate: &Issued) -> Redis {
        Self::start_with(Some(certificate.clone()))
    }

    fn start_with(tls: Option<Issued>) -> Redis {
        let dir = tempfile::Builder::new()
            .prefix("tessera-redis-")
            .tempdir()
            .expect("a temp dir");
        let mut redis = Self {
            port: free_port(),
            dir,
            server: None,
            tls,
        };
        redis.resume();
        redis
    }

    /// Starts the server (again, empty) on the same port.
    pub fn resume(&mut self) {
        assert!(self.server.is_none(), "Redis is already running");
        let port = self.port.to_string();
        let ports = match &self.tls {
            None => vec!["--port".into(), port],
            Some(tls) => vec![
                "--port".into(),
                "0".into(),
                "--tls-port".into(),
                port,
                "--tls-cert-file".into(),
                tls.cert.display().to_string(),
                "--tls-key-file".into(),
                tls.key.display().to_string(),
                "--tls-auth-clients".into(),
                "no".into(),
            ],
        };
        let child = Command::new("redis-server")
            .args(&ports)
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("redis-server runs (apt-get install redis-server; scripts/test does)");
        watchdog(child.id(), "KILL", self.dir.path());
        self.server = Some(child);
        let port = self.port;
        wait_until("Redis", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `redis://127.0.0.1:PORT`, or `rediss://localhost:PORT` (the name its
    /// certificate holds) when it speaks TLS.
    pub fn url(&self) -> String {
        match self.tls {
            None => format!("redis://127.0.0.1:{}", self.port),
            Some(_) => format!("rediss://localhost:{}", self.port),
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Debian's ChromeDriver (package chromium-driver) on a free loopback port, driving
/// Debian's Chromium headless with a fresh, empty profile. Stopped when dropped.
pub struct ChromeDriver {
    pub port: u16,
    profile: tempfile::TempDir,
    driver: Option<Child>,
}

/// Where Debian's chromium package puts the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

impl ChromeDriver {
    pub fn start() -> ChromeDriver {
        for (program, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: apt-get install {package} (scripts/test does)"
            );
        }
        let profile = tempfile::Builder::new()
            .prefix("tessera-chromium-")
            .tempdir()
            .expect("a temp dir");
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver runs");
        // TERM, so that ChromeDriver takes its browsers down with it.
        watchdog(driver.id(), "TERM", profile.path());
        wait_until("ChromeDriver", Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        ChromeDriver {
            port,
            profile,
            driver: Some(driver),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Chromium's flags: headless, and quiet on a machine whose only network is
    /// loopback (no background fetches, updates or sync to be refused).
    pub fn chromium_args(&self, width: u32, height: u32) -> Vec<String> {
        [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ]
        .iter()
        .map(|flag| (*flag).to_owned())
        .chain([
            format!("--user-data-dir={}", self.profile.path().display()),
            format!("--window-size={width},{height}"),
        ])
        .collect()
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        if let Some(mut driver) = self.driver.take() {
            // SIGTERM to the whole process group: ChromeDriver and the browsers it
            // started, even when a test panicked before closing its session.
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{}", driver.id())])
                .status();
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = driver.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = driver.kill();
            let _ = driver.wait();
        }
    }
}
