//! Crash safety: the real binary, under concurrent creates, edits and cascading
//! revocations, killed with SIGKILL at random moments and started again. Every
//! acknowledged write must hold after the restart, and none that was under way may
//! be half-applied: a cascade revokes a token and all it made, or nothing. On
//! PostgreSQL with two nodes, the one left running must end up answering exactly as
//! the restarted one for every token: it followed the killed node's writes up to
//! the last, and no change was skipped.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    reason = "a test: a failed assumption is a failed test"
)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::blocking::Client;
use serde_json::{Value, json};
use tessera_testkit::{Postgres, Tessera, admin_token};

const BINARY: &str = env!("CARGO_BIN_EXE_tessera");
const WRITERS: usize = 4;

/// A token made through the API, as the writers saw it answered.
#[derive(Clone, Debug)]
struct Made {
    token: String,
    parent: Option<String>,
}

/// What the writers did: acknowledged (answered 2xx) and sent without an answer.
#[derive(Default)]
struct Ledger {
    made: HashMap<String, Made>,
    /// id -> the last name an edit of it was acknowledged with.
    named: HashMap<String, String>,
    /// id -> a name sent, unanswered: it may or may not have landed.
    naming: HashMap<String, String>,
    revoked: Vec<String>,
    revoking: Vec<String>,
    acknowledged: usize,
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// POST/PATCH/DELETE: the JSON answer if acknowledged, `None` if the server went away.
fn send(request: reqwest::blocking::RequestBuilder) -> Option<Value> {
    let response = request.send().ok()?;
    assert!(
        response.status().is_success(),
        "a write was refused: {}",
        response.status()
    );
    response.json().ok()
}

/// One writer, until the server goes away or `stop` is set: a manager, two tokens it
/// makes, an edit of one, and the manager's revocation (which cascades), over and
/// over.
fn write_until_gone(
    url: &str,
    admin: &str,
    ledger: &Mutex<Ledger>,
    writer: usize,
    stop: &AtomicBool,
) {
    let client = client();
    for round in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let manager = send(client.post(format!("{url}/v1/tokens")).bearer_auth(admin).json(
            &json!({"name": format!("m{writer}-{round}"), "scopes": ["tokens:manage", "repo:*"]}),
        ));
        let Some(manager) = manager else { return };
        let (manager_id, manager_token) = ids(&manager);
        record_made(ledger, &manager_id, manager_token.clone(), None);
        let mut children = Vec::new();
        for child in 0..2 {
            let made = send(
                client
                    .post(format!("{url}/v1/tokens"))
                    .bearer_auth(&manager_token)
                    .json(&json!({"name": format!("c{writer}-{round}-{child}"), "scopes": ["repo:read"]})),
            );
            let Some(made) = made else { return };
            let (id, token) = ids(&made);
            record_made(ledger, &id, token, Some(manager_id.clone()));
            children.push(id);
        }
        let name = format!("edited {writer}-{round}");
        ledger
            .lock()
            .unwrap()
            .naming
            .insert(children[0].clone(), name.clone());
        let edited = send(
            client
                .patch(format!("{url}/v1/tokens/{}", children[0]))
                .bearer_auth(admin)
                .json(&json!({ "name": name })),
        );
        if edited.is_none() {
            return;
        }
        {
            let mut ledger = ledger.lock().unwrap();
            ledger.naming.remove(&children[0]);
            ledger.named.insert(children[0].clone(), name);
            ledger.acknowledged += 1;
        }
        ledger.lock().unwrap().revoking.push(manager_id.clone());
        let revoked = send(
            client
                .delete(format!("{url}/v1/tokens/{manager_id}"))
                .bearer_auth(admin),
        );
        if revoked.is_none() {
            return;
        }
        let mut ledger = ledger.lock().unwrap();
        ledger.revoking.retain(|id| *id != manager_id);
        ledger.revoked.push(manager_id);
        ledger.acknowledged += 1;
    }
}

fn ids(created: &Value) -> (String, String) {
    (
        created["id"].as_str().unwrap().to_owned(),
        created["token"].as_str().unwrap().to_owned(),
    )
}

fn record_made(ledger: &Mutex<Ledger>, id: &str, token: String, parent: Option<String>) {
    let mut ledger = ledger.lock().unwrap();
    ledger.made.insert(id.to_owned(), Made { token, parent });
    ledger.acknowledged += 1;
}

/// The verify code of `token`, asked with the admin token.
fn code(client: &Client, url: &str, admin: &str, token: &str) -> String {
    let answer: Value = client
        .post(format!("{url}/v1/verify"))
        .bearer_auth(admin)
        .json(&json!({ "token": token }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    answer["code"].as_str().unwrap().to_owned()
}

/// Checks everything the ledger says against the restarted server; returns the
/// acknowledged writes checked.
fn check(url: &str, admin: &str, ledger: &Ledger) -> usize {
    let client = client();
    // A token is revoked when it or its parent was: acknowledged, or perhaps (under way).
    let revoked = |id: &str, list: &[String]| {
        list.iter().any(|r| r == id)
            || ledger.made[id]
                .parent
                .as_ref()
                .is_some_and(|parent| list.iter().any(|r| r == parent))
    };
    for (id, made) in &ledger.made {
        let code = code(&client, url, admin, &made.token);
        if revoked(id, &ledger.revoked) {
            assert_eq!(
                code, "REVOKED",
                "an acknowledged revocation of {id} was lost"
            );
        } else if revoked(id, &ledger.revoking) {
            assert!(code == "REVOKED" || code == "VALID", "{id}: {code}");
        } else {
            assert_eq!(code, "VALID", "an acknowledged creation of {id} was lost");
        }
    }
    // A revocation under way landed whole or not at all.
    for manager in &ledger.revoking {
        let manager_code = code(&client, url, admin, &ledger.made[manager].token);
        for (id, made) in &ledger.made {
            if made.parent.as_deref() == Some(manager.as_str()) {
                assert_eq!(
                    code(&client, url, admin, &made.token),
                    manager_code,
                    "half a cascade: {manager} is {manager_code}, its child {id} is not"
                );
            }
        }
    }
    for (id, name) in &ledger.named {
        let shown: Value = client
            .get(format!("{url}/v1/tokens/{id}"))
            .bearer_auth(admin)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let now = shown["name"].as_str().unwrap();
        assert!(
            now == name || ledger.naming.get(id).is_some_and(|later| later == now),
            "{id} is named {now:?}, acknowledged as {name:?}"
        );
    }
    ledger.acknowledged
}

/// `cycles` rounds of writes, a SIGKILL at a random moment, a restart and the checks.
fn crash_cycles(dir: &Path, cycles: u64, args: &[&str], envs: &[(&str, &str)]) {
    let data = dir.join("data");
    let mut checked = 0;
    for cycle in 0..cycles {
        let server = Tessera::start(BINARY, &data, args, envs);
        let admin = admin_token(&data);
        let url = server.url();
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let (url, admin, ledger) = (url.clone(), admin.clone(), Arc::clone(&ledger));
                let running = AtomicBool::new(false);
                std::thread::spawn(move || {
                    write_until_gone(&url, &admin, &ledger, writer, &running);
                })
            })
            .collect();
        // A moment that differs from cycle to cycle, between 150 and 650 ms.
        let pause = 150 + (cycle * 7919 + u64::from(std::process::id())) % 500;
        std::thread::sleep(Duration::from_millis(pause));
        server.kill();
        for writer in writers {
            writer.join().unwrap();
        }
        let restarted = Tessera::start(BINARY, &data, args, envs);
        let ledger = ledger.lock().unwrap();
        assert!(
            ledger.acknowledged > 0,
            "no write was acknowledged in {pause} ms"
        );
        checked += check(&restarted.url(), &admin, &ledger);
        restarted.kill();
    }
    eprintln!("{cycles} crashes: {checked} acknowledged writes checked, lost: 0");
}

#[test]
fn sigkill_loses_no_acknowledged_write_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    crash_cycles(dir.path(), 20, &[], &[]);
}

#[test]
fn sigkill_loses_no_acknowledged_write_on_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let url = Postgres::shared().fresh_database();
    crash_cycles(
        dir.path(),
        10,
        &["--database-url", &url],
        &[(
            "TESSERA_PEPPER",
            "a pepper for the crash test, 32 bytes or more",
        )],
    );
}

/// The verify code every node gives every token of the ledger, once they agree
/// (a node follows another's writes a moment after they are acknowledged).
fn agreed_codes(urls: &[String], admin: &str, ledger: &Ledger) -> HashMap<String, String> {
    let client = client();
    let codes = |url: &str| -> HashMap<String, String> {
        ledger
            .made
            .iter()
            .map(|(id, made)| (id.clone(), code(&client, url, admin, &made.token)))
            .collect()
    };
    let mut last = HashMap::new();
    for _ in 0..50 {
        let each: Vec<_> = urls.iter().map(|url| codes(url)).collect();
        if each.iter().all(|answers| *answers == each[0]) {
            return each.into_iter().next().unwrap_or_default();
        }
        last = each.into_iter().last().unwrap_or_default();
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the nodes never agreed; the last node answered {last:?}");
}

/// Two nodes on one PostgreSQL, writers on both; each cycle kills one of them
/// (SIGKILL) at a random moment, starts it again and checks every acknowledged
/// write on both, and that both answer alike for every token.
#[test]
fn sigkill_of_one_of_two_nodes_loses_nothing_and_the_other_follows_every_write() {
    let dir = tempfile::tempdir().unwrap();
    let url = Postgres::shared().fresh_database();
    let args = ["--database-url", url.as_str()];
    let envs = [(
        "TESSERA_PEPPER",
        "a pepper for the crash test, 32 bytes or more",
    )];
    let first_dir = dir.path().join("first");
    let second_dir = dir.path().join("second");
    let staying = Tessera::start(BINARY, &first_dir, &args, &envs);
    let admin = admin_token(&first_dir);
    let mut checked = 0;
    for cycle in 0..10 {
        let killed = Tessera::start(BINARY, &second_dir, &args, &envs);
        let urls = [staying.url(), killed.url()];
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let url = urls[writer % 2].clone();
                let (admin, ledger, stop) = (admin.clone(), Arc::clone(&ledger), Arc::clone(&stop));
                std::thread::spawn(move || write_until_gone(&url, &admin, &ledger, writer, &stop))
            })
            .collect();
        let pause = 150 + (cycle * 7919 + u64::from(std::process::id())) % 500;
        std::thread::sleep(Duration::from_millis(pause));
        killed.kill();
        stop.store(true, Ordering::Relaxed);
        for writer in writers {
            writer.join().unwrap();
        }
        let restarted = Tessera::start(BINARY, &second_dir, &args, &envs);
        let ledger = ledger.lock().unwrap();
        assert!(
            ledger.acknowledged > 0,
            "no write was acknowledged in {pause} ms"
        );
        agreed_codes(&[staying.url(), restarted.url()], &admin, &ledger);
        checked += check(&staying.url(), &admin, &ledger);
        check(&restarted.url(), &admin, &ledger);
        restarted.kill();
    }
    eprintln!("10 crashes of one of two nodes: {checked} acknowledged writes checked, lost: 0");
}
