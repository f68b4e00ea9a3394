//! `POST /v1/leaks`: GitHub-style secret-scanning reports, signed with a configured
//! ECDSA P-256 key (or unsigned, with a manager's token), revoke or flag the live
//! tokens they name and label each.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera_server::leaks::{LeakKeyFile, LeakReporters, UnsignedLeaks};

use crate::helpers::{Reply, TestApp, reply};

/// A reporter's key pair, and the app that trusts it as `key-1`.
async fn app_trusting(
    configure: impl Fn(&mut tessera_server::config::Config) + Send + Sync + 'static,
) -> (TestApp, EcdsaKeyPair) {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).expect("a key");
    let der = pair.public_key().as_der().expect("DER");
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    let app = TestApp::spawn_with(move |config| {
        config.leak_reporters = LeakReporters::parse(
            &[LeakKeyFile {
                id: "key-1".into(),
                key: pem.clone(),
            }],
            UnsignedLeaks::Refuse,
        )
        .expect("the key");
        configure(config);
    })
    .await;
    (app, pair)
}

/// Posts `body` as a report, signed by `pair` unless `None`, with `token` if given.
async fn report(
    app: &TestApp,
    body: &Value,
    pair: Option<&EcdsaKeyPair>,
    token: Option<&str>,
) -> Reply {
    let raw = serde_json::to_vec(body).expect("JSON");
    let mut request = app
        .client
        .post(format!("{}/v1/leaks", app.base))
        .header("content-type", "application/json");
    if let Some(pair) = pair {
        let signature = pair.sign(&SystemRandom::new(), &raw).expect("signed");
        request = request
            .header("Github-Public-Key-Identifier", "key-1")
            .header(
                "Github-Public-Key-Signature",
                base64::engine::general_purpose::STANDARD.encode(signature.as_ref()),
            );
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    reply(request.body(raw).send().await.expect("an answer")).await
}

fn found(tokens: &[&str]) -> Value {
    Value::Array(
        tokens
            .iter()
            .map(|token| json!({"token": token, "type": "tessera_token", "url": "https://example.com/gist", "source": "gist"}))
            .collect(),
    )
}

#[tokio::test]
async fn a_signed_report_revokes_the_live_tokens_it_names_and_labels_each() {
    let (app, pair) = app_trusting(|_| {}).await;
    let (_, live, _) = app.create(&app.admin, json!({"name": "leaked"})).await;
    let (child_id, _, _) = app.create(&live, json!({"name": "made by it"})).await;
    let (dead_id, dead, _) = app.create(&app.admin, json!({"name": "dead"})).await;
    app.delete(&format!("/v1/tokens/{dead_id}"), &app.admin)
        .await;
    let look_alike = format!("{}x", &live[..live.len() - 1]);
    let answer = report(
        &app,
        &found(&[&live, &dead, &look_alike, "tsr_nothing", &app.admin]),
        Some(&pair),
        None,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let labels: Vec<&str> = answer
        .body
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v["label"].as_str().expect("a label"))
        .collect();
    assert_eq!(
        labels,
        [
            "true_positive",
            "false_positive",
            "false_positive",
            "false_positive",
            "true_positive"
        ],
        "the admin token is labelled, not revoked: its holder must replace it"
    );
    assert_eq!(app.verify(&app.admin, &[], None).await["code"], "VALID");
    assert_eq!(answer.body[0]["token_raw"], live.as_str());
    assert_eq!(answer.body[0]["token_type"], "tessera_token");
    assert_eq!(app.verify(&live, &[], None).await["code"], "REVOKED");
    let child = app.get(&format!("/v1/tokens/{child_id}"), &app.admin).await;
    assert_eq!(child.body["status"], "revoked", "the cascade");
}

#[tokio::test]
async fn a_report_not_signed_by_a_configured_key_changes_nothing() {
    let (app, pair) = app_trusting(|_| {}).await;
    let (_, live, _) = app.create(&app.admin, json!({"name": "kept"})).await;
    let body = found(&[&live]);
    report(&app, &body, None, None)
        .await
        .assert_problem(401, "invalid_signature");
    // Signed over another body.
    let raw = serde_json::to_vec(&json!([])).expect("JSON");
    let signature = pair.sign(&SystemRandom::new(), &raw).expect("signed");
    let forged = app
        .client
        .post(format!("{}/v1/leaks", app.base))
        .header("content-type", "application/json")
        .header("Github-Public-Key-Identifier", "key-1")
        .header(
            "Github-Public-Key-Signature",
            base64::engine::general_purpose::STANDARD.encode(signature.as_ref()),
        )
        .body(serde_json::to_vec(&body).expect("JSON"))
        .send()
        .await
        .expect("an answer");
    reply(forged).await.assert_problem(401, "invalid_signature");
    // A token that may not manage tokens is no substitute for a signature.
    let (_, reader, _) = app
        .create(
            &app.admin,
            json!({"name": "reader", "scopes": ["tokens:read"]}),
        )
        .await;
    report(&app, &body, None, Some(&reader))
        .await
        .assert_problem(403, "insufficient_scope");
    assert_eq!(app.verify(&live, &[], None).await["code"], "VALID");
    // A manager's token is.
    let labelled = report(&app, &body, None, Some(&app.admin)).await;
    assert_eq!(
        labelled.body[0]["label"], "true_positive",
        "{}",
        labelled.body
    );
    assert_eq!(app.verify(&live, &[], None).await["code"], "REVOKED");
}

#[tokio::test]
async fn flag_labels_but_does_not_revoke_and_unsigned_may_be_accepted() {
    let (app, _) = app_trusting(|config| {
        config.engine.leak_action = tessera_engine::LeakAction::Flag;
        config.leak_reporters.unsigned = UnsignedLeaks::Accept;
    })
    .await;
    let (_, live, _) = app.create(&app.admin, json!({"name": "flagged"})).await;
    let answer = report(&app, &found(&[&live]), None, None).await;
    assert_eq!(answer.body[0]["label"], "true_positive", "{}", answer.body);
    assert_eq!(app.verify(&live, &[], None).await["code"], "VALID");
}
