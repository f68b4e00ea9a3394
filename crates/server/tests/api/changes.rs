//! `GET /v1/changes`: the token ids that change, as Server-Sent Events, resumable.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// One event as the stream writes it.
#[derive(Debug)]
struct Sse {
    event: String,
    id: Option<String>,
    data: Value,
}

/// Reads a `text/event-stream` body event by event (comments skipped).
struct EventReader {
    response: reqwest::Response,
    buffer: String,
}

impl EventReader {
    async fn open(app: &TestApp, token: &str, last_event_id: Option<&str>) -> Self {
        let mut request = app
            .client
            .get(format!("{}/v1/changes", app.base))
            .bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("the server answers");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, or `None` when the stream ends.
    async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Sse {
                    event: "message".into(),
                    id: None,
                    data: Value::Null,
                };
                let mut any = false;
                for line in block.lines() {
                    let Some((field, value)) = line.split_once(':') else {
                        continue;
                    };
                    let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
                    match field {
                        "event" => event.event = value,
                        "id" => event.id = Some(value),
                        "data" => event.data = serde_json::from_str(&value).expect("JSON data"),
                        _ => continue,
                    }
                    any = true;
                }
                if any {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s")
                .expect("the stream reads")?;
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("UTF-8"));
        }
    }

    /// The raw text read so far and left unread.
    fn unread(&self) -> &str {
        &self.buffer
    }
}

#[tokio::test]
async fn the_stream_tells_each_change_by_id_and_resumes_after_a_cursor() {
    let app = TestApp::spawn().await;
    let mut stream = EventReader::open(&app, &app.admin, None).await;
    let ready = stream.next().await.expect("ready");
    assert_eq!(ready.event, "ready");

    let (id, secret, _) = app
        .create(
            &app.admin,
            json!({"name": "watched", "scopes": ["repo:read"]}),
        )
        .await;
    let created = stream.next().await.expect("the creation");
    assert_eq!(created.event, "token");
    assert_eq!(created.data["token_id"], id.as_str());
    assert_eq!(created.data["change"], "created");
    assert!(created.data["seq"].as_i64().is_some_and(|seq| seq > 0));

    app.patch(
        &format!("/v1/tokens/{id}"),
        &app.admin,
        json!({"name": "renamed"}),
    )
    .await;
    let updated = stream.next().await.expect("the edit");
    assert_eq!(
        (
            updated.data["token_id"].as_str(),
            updated.data["change"].as_str()
        ),
        (Some(id.as_str()), Some("updated"))
    );
    assert_eq!(
        app.delete(&format!("/v1/tokens/{id}"), &app.admin)
            .await
            .status,
        200
    );
    let revoked = stream.next().await.expect("the revocation");
    assert_eq!(revoked.data["change"], "revoked");
    assert!(!format!("{created:?}{updated:?}{revoked:?}").contains(&secret));

    // A client that saw the creation and lost its connection gets the rest, then
    // `ready`, and nothing twice.
    let mut resumed = EventReader::open(&app, &app.admin, created.id.as_deref()).await;
    let first = resumed.next().await.expect("the edit again");
    assert_eq!(first.id, updated.id);
    let second = resumed.next().await.expect("the revocation again");
    assert_eq!(second.id, revoked.id);
    assert_eq!(resumed.next().await.expect("ready").event, "ready");
    assert!(resumed.unread().is_empty());
}

#[tokio::test]
async fn a_cursor_the_stream_cannot_resume_says_reset_and_a_bad_one_is_refused() {
    let app = TestApp::spawn().await;
    // Another process's stream (an earlier start, another node): its epoch differs.
    let mut stream = EventReader::open(&app, &app.admin, Some("1-5")).await;
    let reset = stream.next().await.expect("reset");
    assert_eq!(reset.event, "reset");
    assert!(reset.data["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(reset.id.is_some(), "a reset gives the cursor to go on from");

    for bad in ["now", "12", "zz-1", "1-x"] {
        let reply = app
            .get(&format!("/v1/changes?after={bad}"), &app.admin)
            .await;
        reply.assert_problem(400, "invalid_cursor");
    }
}

#[tokio::test]
async fn only_a_token_that_may_verify_reads_the_stream() {
    let app = TestApp::spawn().await;
    let (_, reader, _) = app
        .create(
            &app.admin,
            json!({"name": "reader", "scopes": ["tokens:read"]}),
        )
        .await;
    app.get("/v1/changes", &reader)
        .await
        .assert_problem(403, "insufficient_scope");
    let (_, verifier, _) = app
        .create(
            &app.admin,
            json!({"name": "verifier", "scopes": ["tokens:verify"]}),
        )
        .await;
    let mut stream = EventReader::open(&app, &verifier, None).await;
    assert_eq!(stream.next().await.expect("ready").event, "ready");
    app.get("/v1/changes", "tsr_nope")
        .await
        .assert_problem(401, "invalid_token");
}

#[tokio::test]
async fn stopping_the_server_ends_open_streams() {
    let mut app = TestApp::spawn().await;
    let mut stream = EventReader::open(&app, &app.admin, None).await;
    assert_eq!(stream.next().await.expect("ready").event, "ready");
    let server = app.server.take().expect("running");
    tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .expect("the server stops with a stream open");
    assert!(stream.next().await.is_none(), "the stream ended");
}
