//! Every endpoint through the client, and every refusal as a typed error.

use tessera_api::{
    ListParams, RepoKeyRequest, RepoTokenRequest, UpdateTokenRequest, VerifyRequest,
};
use tessera_client::{Client, Error, StreamEvent};

use crate::support::{tessera, token};

#[tokio::test]
async fn a_token_is_created_used_edited_and_revoked() {
    let tessera = tessera().await;
    let admin = &tessera.admin;
    let created = admin
        .create_token(&token("ci", &["repo:read", "repo:write"]))
        .await
        .expect("created");
    let id = created.details.id.clone();
    assert!(created.token.starts_with("tsr_"));

    let ci = admin.acting_as(&created.token);
    assert_eq!(ci.whoami().await.expect("whoami").id, id);
    let listed = admin
        .list_tokens(&ListParams::default())
        .await
        .expect("listed");
    assert!(listed.tokens.iter().any(|t| t.id == id));
    assert_eq!(admin.token(&id).await.expect("shown").name, "ci");

    let edit = UpdateTokenRequest {
        name: Some("ci-renamed".into()),
        ..UpdateTokenRequest::default()
    };
    assert_eq!(
        admin.update_token(&id, &edit).await.expect("edited").name,
        "ci-renamed"
    );

    let asked = |scopes: &[&str]| VerifyRequest {
        token: created.token.clone(),
        scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
        resource: None,
        client_ip: None,
        cost: None,
    };
    let answer = admin
        .verify(&asked(&["repo:read"]))
        .await
        .expect("an answer");
    assert!(answer.valid);
    let answer = admin
        .verify(&asked(&["tokens:manage"]))
        .await
        .expect("an answer");
    assert_eq!((answer.valid, answer.code.as_str()), (false, "FORBIDDEN"));

    let introspected = admin
        .introspect(&created.token)
        .await
        .expect("introspected");
    assert!(introspected.active);
    assert_eq!(introspected.jti.as_deref(), Some(id.as_str()));

    let rotated = admin.rotate_token(&id, Some(60)).await.expect("rotated");
    assert_eq!(rotated.details.id, id);
    let ci_next = admin.acting_as(&rotated.token);
    assert_eq!(ci_next.whoami().await.expect("the new secret").id, id);
    assert_eq!(ci.whoami().await.expect("the old one, in its grace").id, id);
    let again = ci_next.rotate_self(None).await.expect("rotated itself");
    let error = ci_next.whoami().await.expect_err("no grace");
    assert_eq!(error.code(), Some("invalid_token"));
    let ci = admin.acting_as(&again.token);
    let error = admin
        .rotate_token(&id, Some(604_801))
        .await
        .err()
        .expect("over 7 days");
    assert_eq!(error.code(), Some("invalid_grace"));

    let revoked = admin.revoke_token(&id).await.expect("revoked");
    assert_eq!(revoked.status, "revoked");
    let error = ci.whoami().await.expect_err("a revoked token");
    assert_eq!(
        (error.status(), error.code()),
        (Some(401), Some("invalid_token"))
    );
    assert!(
        !admin
            .introspect(&created.token)
            .await
            .expect("an answer")
            .active
    );
}

#[tokio::test]
async fn every_refusal_is_a_typed_error_with_its_code() {
    let tessera = tessera().await;
    let admin = &tessera.admin;

    let error = admin
        .create_token(&token("bad", &["no:such"]))
        .await
        .err()
        .expect("an unknown scope");
    assert_eq!(
        (error.status(), error.code()),
        (Some(400), Some("unknown_scope"))
    );
    let Error::Api(refusal) = &error else {
        panic!("a problem document: {error:?}")
    };
    assert_eq!(refusal.problem.field.as_deref(), Some("scopes"));

    let error = admin.token("tok_none").await.expect_err("no such token");
    assert_eq!(error.code(), Some("not_found"));

    let reader = admin
        .create_token(&token("reader", &["tokens:read"]))
        .await
        .expect("created");
    let error = admin
        .acting_as(&reader.token)
        .create_token(&token("more", &["repo:read"]))
        .await
        .err()
        .expect("reading is not managing");
    assert_eq!(
        (error.status(), error.code()),
        (Some(403), Some("insufficient_scope"))
    );

    let error = admin
        .acting_as("tsr_nope")
        .catalogue()
        .await
        .expect_err("not a token");
    assert_eq!(error.code(), Some("invalid_token"));
    assert!(!error.is_retryable());

    let unreachable = Client::new("http://127.0.0.1:9", "tsr_x").expect("a client");
    let error = unreachable.health().await.expect_err("nothing listens");
    assert!(matches!(error, Error::Transport(_)) && error.is_retryable());
    assert!(Client::new("not a url", "x").is_err());
}

/// Relace's flow: a repo token per sandbox session, used, then deleted.
#[tokio::test]
async fn a_relace_sandbox_session_and_a_flashback_key() {
    let tessera = tessera().await;
    let admin = &tessera.admin;
    let session = admin
        .create_repo_token(&RepoTokenRequest {
            name: "sandbox-7".into(),
            repo_ids: vec!["repo-a".into(), "org/repo-b".into()],
        })
        .await
        .expect("a repo token");
    let info = admin
        .repo_token(&session.token)
        .await
        .expect("looked up by its text");
    assert_eq!(info.repo_ids, ["repo-a", "org/repo-b"]);
    admin
        .delete_repo_token(&session.token)
        .await
        .expect("deleted");
    let info = admin
        .repo_token(&session.token)
        .await
        .expect("still readable");
    assert_eq!(info.status, "revoked");

    let key = admin
        .create_repo_key(
            "org/repo-c",
            &RepoKeyRequest {
                name: Some("deploy".into()),
                access_type: Some("READ".into()),
            },
        )
        .await
        .expect("a key");
    assert!(key.success && key.secret.starts_with("tsr_"));
    let error = admin
        .create_repo_key("repo-b", &RepoKeyRequest::default())
        .await
        .err()
        .expect("no access type");
    assert_eq!(error.code(), Some("missing_access_type"));

    // Whoever holds a token may revoke it (RFC 7009).
    let anyone = Client::new(&tessera.url, "").expect("a client");
    anyone.revoke_presented(&key.secret).await.expect("revoked");
    assert!(
        !admin
            .introspect(&key.secret)
            .await
            .expect("an answer")
            .active
    );
}

#[tokio::test]
async fn the_operational_endpoints_and_the_catalogue() {
    let tessera = tessera().await;
    let admin = &tessera.admin;
    admin.health().await.expect("healthy");
    assert_eq!(admin.readiness().await.expect("ready")["status"], "ready");
    assert!(admin.openapi().await.expect("the document")["paths"]["/v1/changes"].is_object());
    assert!(
        admin
            .metrics()
            .await
            .expect("metrics")
            .contains("tessera_tokens")
    );
    let catalogue = admin.catalogue().await.expect("the catalogue");
    assert_eq!(catalogue.token_prefix, "tsr");
    assert!(catalogue.scopes.iter().any(|s| s.name == "repo:read"));
}

#[tokio::test]
async fn the_change_stream_names_tokens_as_they_change() {
    let tessera = tessera().await;
    let admin = &tessera.admin;
    let mut stream = admin.changes(None).await.expect("the stream");
    let Some(Ok(StreamEvent::Ready { cursor })) = stream.next().await else {
        panic!("ready first")
    };
    assert!(!cursor.is_empty());
    let created = admin
        .create_token(&token("watched", &["repo:read"]))
        .await
        .expect("created");
    admin
        .revoke_token(&created.details.id)
        .await
        .expect("revoked");
    for expected in ["created", "revoked"] {
        match stream.next().await {
            Some(Ok(StreamEvent::Change { change, .. })) => {
                assert_eq!(change.token_id, created.details.id);
                assert_eq!(change.change, expected);
            }
            other => panic!("a change: {other:?}"),
        }
    }
    let error = admin
        .changes(Some("not-a-cursor"))
        .await
        .err()
        .expect("refused");
    assert_eq!(error.code(), Some("invalid_cursor"));
}
