//! The README's two-node walkthrough, run as written with the real binary, against a
//! PostgreSQL and a Redis that the test starts.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    reason = "a test: a failed assumption is a failed test"
)]

use std::process::Command;

use tessera_testkit::{Postgres, Redis, free_port};

const BINARY: &str = env!("CARGO_BIN_EXE_tessera");

/// The shell blocks between the README's cluster-walkthrough markers.
fn cluster_walkthrough() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let section = readme
        .split("<!-- cluster-walkthrough -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- /cluster-walkthrough -->").next())
        .expect("the README has a cluster walkthrough");
    section
        .split("```sh\n")
        .skip(1)
        .filter_map(|block| block.split("\n```").next())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_readme_two_node_cluster_runs_as_written() {
    let postgres = Postgres::shared();
    let redis = Redis::start();
    let work = tempfile::tempdir().expect("a temp dir");
    let bin = work.path().join("bin");
    std::fs::create_dir(&bin).expect("bin dir");
    std::os::unix::fs::symlink(BINARY, bin.join("tessera")).expect("a tessera on PATH");
    let script = cluster_walkthrough();
    let output = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(work.path())
        .env_clear()
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("DATABASE_URL", postgres.fresh_database())
        .env("REDIS_URL", redis.url())
        .env("NODE1", format!("127.0.0.1:{}", free_port()))
        .env("NODE2", format!("127.0.0.1:{}", free_port()))
        .output()
        .expect("bash runs");
    let logs: String = ["node1.log", "node2.log"]
        .iter()
        .map(|log| std::fs::read_to_string(work.path().join(log)).unwrap_or_default())
        .collect();
    assert!(
        output.status.success(),
        "the cluster walkthrough failed:\n{}\n{}\n--- node logs\n{logs}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
