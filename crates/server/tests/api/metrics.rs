//! `/metrics` as a real Prometheus reads it: the test starts Debian's `prometheus`,
//! lets it scrape tessera, and asks it (PromQL over its HTTP API) for what the
//! requests made should have counted.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::guard::{nginx, with_routes};
use crate::helpers::TestApp;

/// A Prometheus server of the test's own, scraping one target every second.
struct Prometheus {
    base: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn scraping(target: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: tessera\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .expect("the config");
        let port = tessera_testkit::free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Debian's prometheus (scripts/test installs it)");
        Self {
            base: format!("http://127.0.0.1:{port}"),
            child,
            _dir: dir,
        }
    }

    /// The value of an instant query's one sample, once Prometheus has it.
    async fn value(&self, query: &str, wanted: impl Fn(f64) -> bool) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = Value::Null;
        while Instant::now() < deadline {
            if let Ok(response) = reqwest::Client::new()
                .get(format!("{}/api/v1/query", self.base))
                .query(&[("query", query)])
                .send()
                .await
                && let Ok(body) = response.json::<Value>().await
            {
                let value = body["data"]["result"][0]["value"][1]
                    .as_str()
                    .and_then(|v| v.parse::<f64>().ok());
                if let Some(value) = value.filter(|v| wanted(*v)) {
                    return value;
                }
                last = body;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("{query}: no wanted value in 20 s; last answer {last}");
    }
}

#[tokio::test]
async fn prometheus_scrapes_what_the_requests_counted() {
    let app = TestApp::spawn_with(with_routes).await;
    let (_, publisher, _) = app
        .create(
            &app.admin,
            json!({"name": "publisher", "scopes": ["events:publish"], "resources": ["app:1"]}),
        )
        .await;
    for _ in 0..3 {
        assert_eq!(app.verify(&publisher, &[], None).await["code"], "VALID");
    }
    assert_eq!(app.verify("tsr_nope", &[], None).await["code"], "NOT_FOUND");
    let allowed = nginx(&app, "POST", "/api/v1/apps/1/events", Some(&publisher)).await;
    assert_eq!(allowed.status, StatusCode::OK);
    nginx(&app, "POST", "/api/v1/apps/2/events", Some(&publisher))
        .await
        .assert_problem(403, "insufficient_scope");
    let (id, _, _) = app.create(&app.admin, json!({"name": "gone"})).await;
    app.delete(&format!("/v1/tokens/{id}"), &app.admin).await;

    let target = app.base.trim_start_matches("http://").to_owned();
    let prometheus = Prometheus::scraping(&target);
    assert_eq!(
        prometheus.value("up{job=\"tessera\"}", |v| v == 1.0).await,
        1.0
    );
    let count = |endpoint: &str, outcome: &str| {
        format!("tessera_checks_total{{endpoint=\"{endpoint}\",outcome=\"{outcome}\"}}")
    };
    prometheus
        .value(&count("verify", "valid"), |v| v == 3.0)
        .await;
    prometheus
        .value(&count("verify", "invalid"), |v| v == 1.0)
        .await;
    prometheus
        .value(&count("forward_auth", "valid"), |v| v == 1.0)
        .await;
    prometheus
        .value(&count("forward_auth", "forbidden"), |v| v == 1.0)
        .await;
    prometheus
        .value(
            "tessera_check_duration_seconds_count{endpoint=\"verify\"}",
            |v| v == 4.0,
        )
        .await;
    prometheus
        .value(
            "histogram_quantile(0.99, tessera_check_duration_seconds_bucket{endpoint=\"verify\"}) < 1",
            |_| true,
        )
        .await;
    prometheus
        .value("tessera_tokens{status=\"revoked\"}", |v| v == 1.0)
        .await;
    prometheus
        .value("tessera_tokens{status=\"active\"}", |v| v == 2.0)
        .await;
    prometheus
        .value("tessera_store_write_duration_seconds_count", |v| v >= 3.0)
        .await;
    prometheus
        .value("tessera_build_info{version=\"0.1.0\"}", |v| v == 1.0)
        .await;
    prometheus
        .value("tessera_feed_lag_seconds", |v| v == 0.0)
        .await;
}

/// The alerting rules and the dashboard in docs/monitoring: Prometheus takes the
/// rules, and every metric either names is one tessera serves.
#[tokio::test]
async fn the_documented_alerts_and_dashboard_name_only_served_metrics() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/monitoring");
    let checked = Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(docs.join("alerts.yml"))
        .output()
        .expect("promtool (Debian's prometheus; scripts/test installs it)");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    let app = TestApp::spawn().await;
    let served = reqwest::get(format!("{}/metrics", app.base))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(docs.join("grafana-dashboard.json")).expect("the dashboard"),
    )
    .expect("JSON");
    let mut texts = vec![std::fs::read_to_string(docs.join("alerts.yml")).expect("the rules")];
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            texts.push(target["expr"].as_str().expect("an expr").to_owned());
        }
    }
    let mut named = 0;
    for text in &texts {
        for (at, _) in text.match_indices("tessera_") {
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // A histogram is named by its samples (`_bucket`), a counter by `_total`.
            assert!(
                served.lines().any(|line| line.starts_with(&name)),
                "{name} is not served:\n{served}"
            );
            named += 1;
        }
    }
    assert!(named > 20, "{named} names checked");
}
