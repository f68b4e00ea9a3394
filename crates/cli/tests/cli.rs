//! The real `tessera` binary: start-up output, offline administration, the token CLI,
//! and where token texts must never appear (logs, database files).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    reason = "a test: a failed assumption is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BINARY: &str = env!("CARGO_BIN_EXE_tessera");

fn tessera(data_dir: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TESSERA_DATA_DIR", data_dir);
    command
}

/// A `tessera serve` process on a free port, its stderr going to a file.
struct Served {
    child: Child,
    url: String,
    log: PathBuf,
    /// What it printed on standard output: the admin token on a first start.
    stdout: PathBuf,
}

impl Drop for Served {
    /// A test that fails half-way still leaves no server behind.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    #[allow(
        clippy::zombie_processes,
        reason = "the Drop of Served waits for the child"
    )]
    fn start(data_dir: &Path, log: &Path) -> Self {
        let stdout = log.with_extension("stdout");
        let mut child = tessera(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("TESSERA_LOG", "trace")
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(log).expect("log file"))
            .spawn()
            .expect("tessera serve starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.contains("tessera is listening")) {
                let addr = line
                    .rsplit("addr=")
                    .next()
                    .expect("address")
                    .trim()
                    .to_owned();
                return Self {
                    child,
                    url: format!("http://{addr}"),
                    log: log.to_owned(),
                    stdout,
                };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("tessera did not start:\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it the way an operator would (SIGTERM) and waits.
    fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let exit = self.child.wait().expect("wait");
        assert!(exit.success(), "tessera exited with {exit}");
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Served {
    /// The admin token a first start printed on standard output (the log, on
    /// standard error, says only that it was made).
    fn admin(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let printed = std::fs::read_to_string(&self.stdout).unwrap_or_default();
            if let Some(token) = printed.lines().find(|l| l.starts_with("tsr_")) {
                return token.to_owned();
            }
            assert!(Instant::now() < deadline, "no admin token printed");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn http(method: &str, url: &str, token: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::blocking::Client::new();
    let mut request = client
        .request(method.parse().expect("method"), url)
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

fn cli(served: &Served, auth: &str, args: &[&str]) -> Output {
    tessera(Path::new("/nonexistent"))
        .env("TESSERA_URL", &served.url)
        .env("TESSERA_TOKEN", auth)
        .arg("token")
        .args(args)
        .output()
        .expect("the CLI runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn init_prints_the_admin_token_alone_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = tessera(&data).arg("init").output().unwrap();
    assert!(first.status.success(), "{}", text(&first.stderr));
    let stdout = text(&first.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("tsr_") && stdout.trim().len() == 40);
    let again = tessera(&data).arg("init").output().unwrap();
    assert!(!again.status.success());
    assert!(text(&again.stderr).contains("reset-token"));
    assert!(again.stdout.is_empty());

    let pepper = std::fs::metadata(data.join("pepper")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&pepper.permissions()) & 0o777,
        0o600
    );
}

#[test]
fn a_start_that_cannot_listen_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let failed = tessera(&data)
        .args(["serve", "--listen", &addr])
        .output()
        .unwrap();
    assert!(!failed.status.success());
    let stderr = text(&failed.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(!stderr.contains("tsr_"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&data)
        .map(|entries| entries.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "a failed start left {left:?}");
    drop(busy);

    // The next start makes the admin token and shows it; while nobody has used it,
    // each later start says how to replace it.
    let served = Served::start(&data, &dir.path().join("first.log"));
    let admin = served.admin();
    let first = served.stop();
    assert!(!first.contains("never been used"), "{first}");
    let again = Served::start(&data, &dir.path().join("second.log")).stop();
    assert!(!again.contains("created the admin token"), "{again}");
    assert!(
        again.contains("never been used") && again.contains("tessera admin reset-token"),
        "{again}"
    );
    let served = Served::start(&data, &dir.path().join("third.log"));
    let (status, _) = http(
        "GET",
        &format!("{}/v1/tokens/self", served.url),
        &admin,
        None,
    );
    assert_eq!(status, 200);
    served.stop();
    let used = Served::start(&data, &dir.path().join("fourth.log")).stop();
    assert!(!used.contains("never been used"), "{used}");
}

#[test]
fn token_texts_never_reach_logs_or_database_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = Served::start(&data, &dir.path().join("serve.log"));
    let admin = served.admin();
    let mut secrets = vec![admin.clone()];

    let (status, created) = http(
        "POST",
        &format!("{}/v1/tokens", served.url),
        &admin,
        Some(json!({"name": "t", "scopes": ["events:*"], "rate_limit": {"profile": "restricted"}})),
    );
    assert_eq!(status, 201);
    let token = created["token"].as_str().unwrap().to_owned();
    secrets.push(token.clone());
    let (_, repo) = http(
        "POST",
        &format!("{}/v1/repo_token", served.url),
        &admin,
        Some(json!({"name": "r", "repo_ids": ["a"]})),
    );
    let repo_token = repo["token"].as_str().unwrap().to_owned();
    secrets.push(repo_token.clone());

    // Every way a token travels: header, body, URL path; valid, rate limited, revoked, bogus.
    for _ in 0..7 {
        http(
            "GET",
            &format!("{}/v1/tokens/self", served.url),
            &token,
            None,
        );
        http(
            "POST",
            &format!("{}/v1/verify", served.url),
            &admin,
            Some(json!({"token": token})),
        );
    }
    http(
        "GET",
        &format!("{}/v1/repo_token/{repo_token}", served.url),
        &admin,
        None,
    );
    http(
        "DELETE",
        &format!("{}/v1/repo_token/{repo_token}", served.url),
        &admin,
        None,
    );
    http(
        "GET",
        &format!("{}/v1/tokens/self", served.url),
        &repo_token,
        None,
    );
    let bogus = format!("{}x", &token[..token.len() - 1]);
    http(
        "GET",
        &format!("{}/v1/tokens/self", served.url),
        &bogus,
        None,
    );
    secrets.push(bogus);
    http(
        "POST",
        &format!("{}/v1/tokens", served.url),
        &admin,
        Some(json!({"name": 1, "token": token})),
    );

    let log = served.stop();
    // The admin token went to standard output, once; the log has no token at all.
    assert!(log.contains("created the admin token"), "{log}");
    assert!(log.lines().count() > 20, "trace logging was on:\n{log}");
    for secret in &secrets {
        let random_part = &secret[4..];
        assert!(
            !log.contains(random_part),
            "a token reached the log:\n{log}"
        );
        for entry in std::fs::read_dir(&data).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let found = bytes
                .windows(random_part.len())
                .any(|w| w == random_part.as_bytes());
            assert!(!found, "a token is stored in {}", path.display());
        }
    }
}

#[test]
fn the_cli_manages_tokens_with_exit_codes_scripts_can_trust() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = Served::start(&data, &dir.path().join("serve.log"));
    let admin = served.admin();

    let created = cli(
        &served,
        &admin,
        &[
            "create",
            "--name",
            "ci",
            "--scope",
            "repo:*",
            "--resource",
            "repo:1",
            "--rate-limit",
            "restricted",
            "-q",
        ],
    );
    assert!(created.status.success(), "{}", text(&created.stderr));
    let token = text(&created.stdout).trim().to_owned();
    assert!(token.starts_with("tsr_"));

    let listed = cli(&served, &admin, &["list", "--json"]);
    let page: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let id = page["tokens"][0]["id"].as_str().unwrap().to_owned();
    let table = text(&cli(&served, &admin, &["list"]).stdout);
    assert!(
        table.starts_with("ID") && table.contains(&id) && !table.contains(&token[4..]),
        "{table}"
    );

    let updated = cli(
        &served,
        &admin,
        &["update", &id, "--description", "nightly", "--json"],
    );
    let body: Value = serde_json::from_slice(&updated.stdout).unwrap();
    assert_eq!(body["description"], "nightly");
    let shown = text(&cli(&served, &admin, &["show", &id]).stdout);
    assert!(
        shown.contains("nightly") && shown.contains("10/min burst 5"),
        "{shown}"
    );
    let later = cli(
        &served,
        &admin,
        &[
            "update",
            &id,
            "--not-before",
            "2099-01-01T00:00:00Z",
            "--json",
        ],
    );
    let body: Value = serde_json::from_slice(&later.stdout).unwrap();
    assert_eq!(body["not_before"], "2099-01-01T00:00:00Z");
    let shown = text(&cli(&served, &admin, &["show", &id]).stdout);
    assert!(
        shown.contains("not_before   2099-01-01T00:00:00Z"),
        "{shown}"
    );
    let now = cli(&served, &admin, &["update", &id, "--valid-now", "--json"]);
    let body: Value = serde_json::from_slice(&now.stdout).unwrap();
    assert_eq!(body["not_before"], Value::Null);

    let code = |output: Output| output.status.code();
    assert_eq!(
        code(cli(&served, &admin, &["show", "tok_missing"])),
        Some(4)
    );
    assert_eq!(code(cli(&served, "tsr_wrong", &["list"])), Some(3));
    assert_eq!(code(cli(&served, &token, &["list"])), Some(3));
    assert_eq!(
        code(cli(
            &served,
            &admin,
            &["create", "--name", "x", "--scope", "nope:nope"]
        )),
        Some(5)
    );
    assert_eq!(code(cli(&served, &admin, &["update", &id])), Some(2));
    // Rotation: the new secret, printed alone with --quiet, works; the old one too
    // within its grace period.
    let rotated = cli(
        &served,
        &admin,
        &["rotate", &id, "--grace", "3600", "--quiet"],
    );
    assert_eq!(rotated.status.code(), Some(0));
    let new = String::from_utf8(rotated.stdout).unwrap().trim().to_owned();
    assert!(new.starts_with("tsr_") && new != token);
    assert_eq!(code(cli(&served, &admin, &["verify", &new])), Some(0));
    assert_eq!(code(cli(&served, &admin, &["verify", &token])), Some(0));
    assert_eq!(
        code(cli(&served, &admin, &["rotate", &id, "--grace", "604801"])),
        Some(5)
    );
    assert_eq!(code(cli(&served, &admin, &["revoke", &id])), Some(0));
    assert_eq!(
        code(cli(&served, &admin, &["update", &id, "--name", "again"])),
        Some(5)
    );
    let unreachable = tessera(Path::new("/nonexistent"))
        .env("TESSERA_URL", "http://127.0.0.1:9")
        .env("TESSERA_TOKEN", &admin)
        .args(["token", "list"])
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(1));

    // Offline administration refuses to run behind a live server's back.
    let busy = tessera(&data)
        .args(["admin", "reset-token"])
        .output()
        .unwrap();
    assert!(!busy.status.success());
    assert!(
        text(&busy.stderr).contains("stop it first"),
        "{}",
        text(&busy.stderr)
    );
    served.stop();

    let reset = tessera(&data)
        .args(["admin", "reset-token"])
        .output()
        .unwrap();
    assert!(reset.status.success(), "{}", text(&reset.stderr));
    let new_admin = text(&reset.stdout).trim().to_owned();
    let served = Served::start(&data, &dir.path().join("serve2.log"));
    assert_eq!(
        http(
            "GET",
            &format!("{}/v1/tokens/self", served.url),
            &admin,
            None
        )
        .0,
        401
    );
    assert_eq!(
        http(
            "GET",
            &format!("{}/v1/tokens/self", served.url),
            &new_admin,
            None
        )
        .0,
        200
    );
    // The revoked token stayed revoked across the restart.
    assert_eq!(
        http(
            "GET",
            &format!("{}/v1/tokens/self", served.url),
            &token,
            None
        )
        .0,
        401
    );
    served.stop();
}

#[test]
fn the_cli_says_what_went_wrong_and_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(&dir.path().join("data"), &dir.path().join("serve.log"));
    let admin = served.admin();
    let refused = |args: &[&str]| {
        let output = cli(&served, &admin, args);
        (output.status.code(), text(&output.stderr))
    };

    // The problem's list of valid values is shown, not dropped.
    let (code, stderr) = refused(&["create", "--name", "x", "--rate-limit", "fast"]);
    assert_eq!(code, Some(5));
    assert!(
        stderr.contains("valid values: burst_friendly, steady_stream"),
        "{stderr}"
    );
    let (_, stderr) = refused(&["create", "--name", "x", "--scope", "bogus:thing"]);
    assert!(
        stderr.contains("valid values: ") && stderr.contains("tokens:manage"),
        "{stderr}"
    );
    // A negative lifetime reaches the server, which says what is allowed.
    let (code, stderr) = refused(&["create", "--name", "x", "--expires-in", "-5"]);
    assert_eq!(code, Some(5));
    assert!(stderr.contains("expires_in must be"), "{stderr}");
    // The name is required before anything is sent.
    let (code, stderr) = refused(&["create", "--scope", "repo:read"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--name <NAME>"), "{stderr}");

    // The server's address: a missing scheme is named; an unreachable server is
    // named with the cause.
    let wrong_url = |url: &str| {
        let output = tessera(Path::new("/nonexistent"))
            .env("TESSERA_TOKEN", &admin)
            .args(["token", "list", "--url", url])
            .output()
            .unwrap();
        (output.status.code(), text(&output.stderr))
    };
    let (code, stderr) = wrong_url("localhost:7900");
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("must start with http:// or https://"),
        "{stderr}"
    );
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    let (code, stderr) = wrong_url(&closed);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(&closed) && stderr.contains("Connection refused"),
        "{stderr}"
    );

    // Settings can be cleared, and a token checked the way a backend checks it.
    let created = cli(
        &served,
        &admin,
        &[
            "create",
            "--name",
            "ci",
            "--scope",
            "repo:read",
            "--owner",
            "alice",
            "--meta",
            r#"{"plan":"free"}"#,
            "--description",
            "nightly",
            "--json",
        ],
    );
    let body: Value = serde_json::from_slice(&created.stdout).unwrap();
    let (id, token) = (
        body["id"].as_str().unwrap(),
        body["token"].as_str().unwrap(),
    );
    let cleared = cli(
        &served,
        &admin,
        &[
            "update",
            id,
            "--clear-owner",
            "--clear-meta",
            "--clear-description",
            "--json",
        ],
    );
    let body: Value = serde_json::from_slice(&cleared.stdout).unwrap();
    assert_eq!(
        (&body["owner"], &body["meta"], &body["description"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    let verified = cli(&served, &admin, &["verify", token, "--scope", "repo:read"]);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        text(&verified.stderr)
    );
    assert!(text(&verified.stdout).contains("VALID"));
    let forbidden = cli(&served, &admin, &["verify", token, "--scope", "repo:write"]);
    assert_eq!(forbidden.status.code(), Some(3));
    let said = text(&forbidden.stdout);
    assert!(
        said.contains("FORBIDDEN") && said.contains("missing      repo:write"),
        "{said}"
    );
    served.stop();
}

#[test]
fn a_first_start_can_write_the_admin_token_to_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin-token");
    let log = dir.path().join("serve.log");
    let stdout = dir.path().join("serve.stdout");
    let mut child = tessera(&dir.path().join("data"))
        .args(["serve", "--listen", "127.0.0.1:0", "--admin-token-file"])
        .arg(&file)
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("wrote it to")
    {
        assert!(Instant::now() < deadline, "no admin token file announced");
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let token = std::fs::read_to_string(&file).unwrap();
    assert!(
        token.starts_with("tsr_") && token.trim().len() == 40,
        "{token}"
    );
    let mode = std::fs::metadata(&file).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600
    );
    assert!(std::fs::read_to_string(&stdout).unwrap().is_empty());
    assert!(!std::fs::read_to_string(&log).unwrap().contains(&token[4..]));
}

#[test]
fn a_data_dir_others_can_write_is_refused_and_every_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o777)).unwrap();
    let refused = tessera(&data).arg("init").output().unwrap();
    assert!(!refused.status.success());
    let said = text(&refused.stderr);
    assert!(
        said.contains("mode 0777") && said.contains("chmod 700"),
        "{said}"
    );
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0, "nothing made");

    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o750)).unwrap();
    let warned = tessera(&data).arg("init").output().unwrap();
    assert!(warned.status.success(), "{}", text(&warned.stderr));
    assert!(text(&warned.stderr).contains("others can read the data dir"));
    let served = Served::start(&data, &dir.path().join("serve.log"));
    let admin = text(&warned.stdout).trim().to_owned();
    let (status, _) = http(
        "POST",
        &format!("{}/v1/tokens", served.url),
        &admin,
        Some(json!({"name": "t"})),
    );
    assert_eq!(status, 201);
    for entry in std::fs::read_dir(&data).unwrap() {
        let entry = entry.unwrap();
        let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{:?} has mode {mode:o}", entry.file_name());
    }
    served.stop();
}

/// `tessera backup` while the server runs, then `tessera restore` into a fresh data
/// dir: every token verifies as before, a revoked one stays revoked, a token made
/// after the backup is not there. A restore without the pepper, or with another,
/// is refused and leaves no database behind.
#[test]
fn backup_while_serving_and_restore_into_a_fresh_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let (old_dir, new_dir) = (dir.path().join("old"), dir.path().join("new"));
    let served = Served::start(&old_dir, &dir.path().join("old.log"));
    let admin = served.admin();
    let create = |name: &str| {
        let (status, body) = http(
            "POST",
            &format!("{}/v1/tokens", served.url),
            &admin,
            Some(json!({"name": name, "scopes": ["repo:read"]})),
        );
        assert_eq!(status, 201, "{body}");
        (
            body["id"].as_str().unwrap().to_owned(),
            body["token"].as_str().unwrap().to_owned(),
        )
    };
    let kept: Vec<(String, String)> = (0..5).map(|i| create(&format!("kept-{i}"))).collect();
    let (revoked_id, revoked) = create("revoked");
    let (status, _) = http(
        "DELETE",
        &format!("{}/v1/tokens/{revoked_id}", served.url),
        &admin,
        None,
    );
    assert_eq!(status, 200);

    let backup = dir.path().join("tokens.backup");
    let made = tessera(&old_dir)
        .args(["backup", "--to"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let (_, late) = create("after-the-backup");
    let again = tessera(&old_dir)
        .args(["backup", "--to"])
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!again.status.success(), "a backup never writes over a file");
    served.stop();

    // Without the pepper, and with another one: refused, nothing left behind.
    let restore = |pepper: Option<&Path>| {
        let mut command = tessera(Path::new("/nonexistent"));
        command
            .args(["restore", "--from"])
            .arg(&backup)
            .arg("--data-dir")
            .arg(&new_dir);
        if let Some(pepper) = pepper {
            command.arg("--pepper-file").arg(pepper);
        }
        command.output().unwrap()
    };
    let refused = restore(None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pepper"));
    let wrong = dir.path().join("wrong-pepper");
    std::fs::write(&wrong, "a pepper of another deployment, long enough").unwrap();
    let refused = restore(Some(&wrong));
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not the one the backup was made with")
    );
    assert!(
        std::fs::metadata(new_dir.join("tessera.db")).is_err(),
        "a refused restore leaves no database"
    );

    let restored = restore(Some(&old_dir.join("pepper")));
    assert!(
        restored.status.success(),
        "{}",
        String::from_utf8_lossy(&restored.stderr)
    );
    assert!(String::from_utf8_lossy(&restored.stderr).contains("restored 7 tokens (1 revoked)"));
    assert!(
        !restore(Some(&old_dir.join("pepper"))).status.success(),
        "never over a database"
    );

    let served = Served::start(&new_dir, &dir.path().join("new.log"));
    let verify = |token: &str| {
        let (status, body) = http(
            "POST",
            &format!("{}/v1/verify", served.url),
            &admin,
            Some(json!({"token": token, "scopes": ["repo:read"]})),
        );
        assert_eq!(status, 200, "{body}");
        body["code"].as_str().unwrap().to_owned()
    };
    for (_, token) in &kept {
        assert_eq!(verify(token), "VALID");
    }
    assert_eq!(verify(&revoked), "REVOKED");
    assert_eq!(verify(&late), "NOT_FOUND", "made after the backup");
    served.stop();
}

/// The unit file docs/operations.md shows is one systemd accepts whole: no error and
/// no warning from `systemd-analyze verify` (which reports a bad value only as a
/// warning), with the unit's binary path pointed at the one just built.
#[test]
fn the_documented_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/systemd/tessera.service"),
    )
    .unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/tessera serve"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tessera.service");
    std::fs::write(&file, unit.replace("/usr/local/bin/tessera", BINARY)).unwrap();
    let verified = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&file)
        .output()
        .expect("systemd-analyze runs (scripts/test installs systemd)");
    let said = String::from_utf8_lossy(&verified.stderr);
    assert!(
        verified.status.success() && said.trim().is_empty(),
        "{said}"
    );
}

/// `tessera scan`: tokens in files and in a repository's history are found and shown
/// by their start only; look-alikes (the same shape, no valid checksum) are not.
#[test]
fn scan_finds_tokens_in_files_and_history_and_nothing_else() {
    use tessera_core::token::{SecretToken, TokenPrefix};
    let dir = tempfile::tempdir().unwrap();
    let token = SecretToken::generate(&TokenPrefix::default());
    let secret = token.expose().to_owned();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("config/deep")).unwrap();
    std::fs::write(
        tree.join("config/deep/app.env"),
        format!("A=1\nTESSERA_TOKEN={secret}\n"),
    )
    .unwrap();
    let look_alike = format!("tsr_{}", "A".repeat(36));
    std::fs::write(
        tree.join("notes.txt"),
        format!("not a token: {look_alike}\n"),
    )
    .unwrap();
    let scan = |args: &[&str]| {
        tessera(Path::new("/nonexistent"))
            .arg("scan")
            .args(args)
            .output()
            .unwrap()
    };
    let found = scan(&[tree.to_str().unwrap()]);
    let printed = String::from_utf8_lossy(&found.stdout).into_owned();
    assert_eq!(found.status.code(), Some(1), "{printed}");
    assert_eq!(printed.lines().count(), 1, "{printed}");
    assert!(printed.contains("config/deep/app.env:2:15: ") && printed.contains(&secret[..8]));
    assert!(
        !printed.contains(&secret) && !String::from_utf8_lossy(&found.stderr).contains(&secret)
    );
    assert_eq!(
        scan(&[tree.join("notes.txt").to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(scan(&["/nonexistent/path"]).status.code(), Some(2));

    // A token committed, then removed: gone from the tree, still in the history.
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        let done = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
    };
    git(&["init", "-q", "."]);
    std::fs::write(
        repo.join("deploy.sh"),
        format!("curl -H 'Authorization: Bearer {secret}'\n"),
    )
    .unwrap();
    git(&["add", "deploy.sh"]);
    git(&["commit", "-q", "-m", "deploy"]);
    std::fs::write(
        repo.join("deploy.sh"),
        "curl -H \"Authorization: Bearer $TOKEN\"\n",
    )
    .unwrap();
    git(&["commit", "-q", "-am", "take the token out"]);
    assert_eq!(
        scan(&[repo.to_str().unwrap()]).status.code(),
        Some(0),
        "the tree is clean"
    );
    let history = scan(&["--git", repo.to_str().unwrap()]);
    let printed = String::from_utf8_lossy(&history.stdout).into_owned();
    assert_eq!(history.status.code(), Some(1), "{printed}");
    assert!(
        printed.contains(": deploy.sh: ") && printed.contains("commit "),
        "{printed}"
    );
    assert!(!printed.contains(&secret));
}

/// `tessera scan --report`: what a scan finds goes to a tessera's `/v1/leaks` with a
/// manager's token, which revokes the live tokens; the scan still prints only starts.
#[test]
fn scan_reports_what_it_found_and_the_live_tokens_are_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(&dir.path().join("data"), &dir.path().join("log"));
    let admin = served.admin();
    let (status, created) = http(
        "POST",
        &format!("{}/v1/tokens", served.url),
        &admin,
        Some(serde_json::json!({"name": "committed by mistake"})),
    );
    assert_eq!(status, 201, "{created}");
    let leaked = created["token"].as_str().unwrap().to_owned();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join(".env"), format!("TOKEN={leaked}\n")).unwrap();
    let scanned = tessera(Path::new("/nonexistent"))
        .env("TESSERA_TOKEN", &admin)
        .args(["scan", "--report", &served.url])
        .arg(&tree)
        .output()
        .unwrap();
    let printed = text(&scanned.stdout);
    assert_eq!(
        scanned.status.code(),
        Some(1),
        "{printed}{}",
        text(&scanned.stderr)
    );
    assert!(printed.contains("a live token: reported"), "{printed}");
    assert!(!printed.contains(&leaked) && !text(&scanned.stderr).contains(&leaked));
    let (_, answer) = http(
        "POST",
        &format!("{}/v1/verify", served.url),
        &admin,
        Some(serde_json::json!({"token": leaked})),
    );
    assert_eq!(answer["code"], "REVOKED", "{answer}");
    // Without a token that may manage tokens, the report is refused: exit 2.
    let refused = tessera(Path::new("/nonexistent"))
        .env_remove("TESSERA_TOKEN")
        .args(["scan", "--report", &served.url])
        .arg(&tree)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("invalid_signature"),
        "{}",
        text(&refused.stderr)
    );
    served.stop();
}

/// `tessera token usage`: the hours with answers, as a table.
#[test]
fn token_usage_prints_the_hours_with_answers() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(&dir.path().join("data"), &dir.path().join("log"));
    let admin = served.admin();
    let (_, created) = http(
        "POST",
        &format!("{}/v1/tokens", served.url),
        &admin,
        Some(serde_json::json!({"name": "counted", "scopes": ["repo:read"]})),
    );
    let (id, token) = (
        created["id"].as_str().unwrap(),
        created["token"].as_str().unwrap(),
    );
    for scopes in [["repo:read"], ["repo:read"], ["repo:write"]] {
        http(
            "POST",
            &format!("{}/v1/verify", served.url),
            &admin,
            Some(serde_json::json!({"token": token, "scopes": scopes})),
        );
    }
    let usage = cli(&served, &admin, &["usage", id]);
    let printed = text(&usage.stdout);
    assert_eq!(
        usage.status.code(),
        Some(0),
        "{printed}{}",
        text(&usage.stderr)
    );
    let rows: Vec<&str> = printed.lines().collect();
    assert!(
        rows[0].starts_with("START") && rows[0].contains("FORBIDDEN"),
        "{printed}"
    );
    let counts: Vec<&str> = rows[1].split_whitespace().skip(1).collect();
    assert_eq!(counts, ["2", "1", "0", "0"], "{printed}");
    served.stop();
}

fn audit(served: &Served, auth: &str, args: &[&str]) -> Output {
    tessera(Path::new("/nonexistent"))
        .env("TESSERA_URL", &served.url)
        .env("TESSERA_TOKEN", auth)
        .arg("audit")
        .args(args)
        .output()
        .expect("the CLI runs")
}

#[test]
fn audit_lists_exports_and_names_the_entry_edited_behind_its_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = Served::start(&data, &dir.path().join("log"));
    let admin = served.admin();
    let created = cli(
        &served,
        &admin,
        &["create", "--name", "ci", "--scope", "repo:read", "-q"],
    );
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stderr));
    let list = audit(&served, &admin, &["list"]);
    let printed = text(&list.stdout);
    assert_eq!(
        list.status.code(),
        Some(0),
        "{printed}{}",
        text(&list.stderr)
    );
    assert!(
        printed
            .lines()
            .nth(1)
            .is_some_and(|l| l.contains("token.created")),
        "{printed}"
    );
    assert!(
        printed.contains("admin.created") && printed.contains("tessera start-up"),
        "{printed}"
    );

    let verified = audit(&served, &admin, &["verify"]);
    assert_eq!(
        verified.status.code(),
        Some(0),
        "{}",
        text(&verified.stderr)
    );
    assert!(
        text(&verified.stdout).starts_with("intact: 2 entries"),
        "{}",
        text(&verified.stdout)
    );

    let export = dir.path().join("audit.jsonl");
    let exported = audit(
        &served,
        &admin,
        &["export", "--out", export.to_str().unwrap()],
    );
    assert_eq!(
        exported.status.code(),
        Some(0),
        "{}",
        text(&exported.stderr)
    );
    let lines = std::fs::read_to_string(&export).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
    let offline = tessera(Path::new("/nonexistent"))
        .args(["audit", "verify", "--file", export.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(offline.status.code(), Some(0), "{}", text(&offline.stderr));
    assert!(text(&offline.stdout).starts_with("intact: 2 entries, #1 to #2"));

    // An export edited: the line's entry no longer matches its hash.
    let edited = dir.path().join("edited.jsonl");
    std::fs::write(
        &edited,
        lines.replace("\"token.created\"", "\"token.updated\""),
    )
    .unwrap();
    let offline = tessera(Path::new("/nonexistent"))
        .args(["audit", "verify", "--file", edited.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(offline.status.code(), Some(7));
    assert!(
        text(&offline.stderr).contains("entry 2 was edited"),
        "{}",
        text(&offline.stderr)
    );

    // The database edited while tessera serves.
    rusqlite::Connection::open(data.join("tessera.db"))
        .unwrap()
        .execute(
            "UPDATE audit_log SET client_ip = '203.0.113.9' WHERE seq = 2",
            [],
        )
        .unwrap();
    let broken = audit(&served, &admin, &["verify"]);
    assert_eq!(broken.status.code(), Some(7), "{}", text(&broken.stdout));
    assert!(
        text(&broken.stderr).contains("entry 2 was edited"),
        "{}",
        text(&broken.stderr)
    );
    served.stop();
}

/// A webhook receiver on `listener`, in a runtime of its own: keeps every
/// request's headers and body.
type Inbox = std::sync::Arc<parking_lot::Mutex<Vec<(axum::http::HeaderMap, axum::body::Bytes)>>>;

fn receive_webhooks(listener: std::net::TcpListener) -> Inbox {
    let inbox: Inbox = std::sync::Arc::default();
    let kept = std::sync::Arc::clone(&inbox);
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let router = axum::Router::new().route(
                "/hook",
                axum::routing::post(
                    move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                        let kept = std::sync::Arc::clone(&kept);
                        async move {
                            kept.lock().push((headers, body));
                            axum::http::StatusCode::NO_CONTENT
                        }
                    },
                ),
            );
            axum::serve(listener, router).await.unwrap();
        });
    });
    inbox
}

#[test]
fn webhooks_undelivered_when_killed_are_delivered_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let served = Served::start(&data, &dir.path().join("first.log"));
    let admin = served.admin();
    // A port nobody listens on yet: every attempt fails until the receiver starts.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (status, made) = http(
        "POST",
        &format!("{}/v1/webhooks", served.url),
        &admin,
        Some(json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["token.created"]})),
    );
    assert_eq!(status, 201, "{made}");
    let (endpoint, secret) = (
        made["id"].as_str().unwrap(),
        made["secret"].as_str().unwrap(),
    );
    let create = |served: &Served, name: &str| {
        let (status, body) = http(
            "POST",
            &format!("{}/v1/tokens", served.url),
            &admin,
            Some(json!({"name": name, "scopes": ["repo:read"]})),
        );
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    };
    let mut ids: Vec<String> = (0..5)
        .map(|n| create(&served, &format!("early-{n}")))
        .collect();
    // Each tried and refused once: they wait for their retry in the store.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, log) = http(
            "GET",
            &format!("{}/v1/webhooks/{endpoint}/deliveries", served.url),
            &admin,
            None,
        );
        let tried = log["deliveries"].as_array().map_or(0, |all| {
            all.iter()
                .filter(|d| d["attempts"].as_u64() >= Some(1))
                .count()
        });
        if tried == 5 {
            assert!(
                log["deliveries"][0]["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("connect")),
                "{log}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "never tried: {log}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // And some written a moment before the kill, perhaps not yet turned into
    // deliveries at all.
    ids.extend((0..3).map(|n| create(&served, &format!("late-{n}"))));
    drop(served); // SIGKILL

    let inbox = receive_webhooks(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap());
    let restarted = Served::start(&data, &dir.path().join("second.log"));
    let deadline = Instant::now() + Duration::from_secs(120);
    while inbox.lock().len() < ids.len() {
        assert!(
            Instant::now() < deadline,
            "{} of {} delivered",
            inbox.lock().len(),
            ids.len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let webhook = standardwebhooks::Webhook::new(secret).unwrap();
    let mut announced: Vec<String> = inbox
        .lock()
        .iter()
        .map(|(headers, body)| {
            webhook
                .verify(body, headers)
                .expect("signed as Standard Webhooks says");
            let body: Value = serde_json::from_slice(body).unwrap();
            body["data"]["token_id"].as_str().unwrap().to_owned()
        })
        .collect();
    announced.sort();
    announced.dedup();
    ids.sort();
    assert_eq!(
        announced, ids,
        "every creation announced, none lost to the kill"
    );
    restarted.stop();
}

fn webhook_cli(served: &Served, auth: &str, args: &[&str]) -> Output {
    tessera(Path::new("/nonexistent"))
        .env("TESSERA_URL", &served.url)
        .env("TESSERA_TOKEN", auth)
        .arg("webhook")
        .args(args)
        .output()
        .expect("the CLI runs")
}

#[test]
fn the_webhook_commands_manage_endpoints_and_show_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(&dir.path().join("data"), &dir.path().join("log"));
    let admin = served.admin();
    let made = webhook_cli(
        &served,
        &admin,
        &[
            "create",
            "http://127.0.0.1:9/hook",
            "--event",
            "token.created",
            "--json",
        ],
    );
    assert_eq!(made.status.code(), Some(0), "{}", text(&made.stderr));
    let made: Value = serde_json::from_slice(&made.stdout).unwrap();
    let id = made["id"].as_str().unwrap();
    assert!(made["secret"].as_str().unwrap().starts_with("whsec_"));
    let bad = webhook_cli(&served, &admin, &["create", "ftp://x", "--event", "*"]);
    assert_eq!(bad.status.code(), Some(5), "refused as invalid");
    assert!(
        text(&bad.stderr).contains("http:// or https://"),
        "{}",
        text(&bad.stderr)
    );

    cli(
        &served,
        &admin,
        &["create", "--name", "announced", "--scope", "repo:read"],
    );
    let disabled = webhook_cli(&served, &admin, &["update", id, "--disable"]);
    assert!(
        text(&disabled.stdout).contains("disabled"),
        "{}",
        text(&disabled.stdout)
    );
    let listed = webhook_cli(&served, &admin, &["list"]);
    assert!(text(&listed.stdout).contains("http://127.0.0.1:9/hook"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = webhook_cli(&served, &admin, &["deliveries", id]);
        let printed = text(&log.stdout);
        if printed.contains("token.created") {
            break;
        }
        assert!(Instant::now() < deadline, "no delivery listed: {printed}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let removed = webhook_cli(&served, &admin, &["delete", id]);
    assert_eq!(removed.status.code(), Some(0), "{}", text(&removed.stderr));
    assert_eq!(
        webhook_cli(&served, &admin, &["delete", id]).status.code(),
        Some(4)
    );
    served.stop();
}
