//! The API listener's own HTTP/1.1 loop (`http::connection`), spoken to in bytes:
//! pipelined and split requests on the two hot paths, and every request the loop
//! does not take whole handed to hyper, with the rest of its connection.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::guard::with_routes;
use crate::helpers::TestApp;

/// One answer as it came on the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    /// Status, fields and body, `Date` aside: what two servers of one answer share.
    fn without_date(&self) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut fields: Vec<_> = self
            .fields
            .iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("date"))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect();
        fields.sort();
        (self.status, fields, self.body.clone())
    }
}

/// A connection to the API listener, read with a deadline.
struct Wire {
    stream: TcpStream,
    read: Vec<u8>,
}

impl Wire {
    async fn open(app: &TestApp) -> Self {
        let address = app.base.trim_start_matches("http://");
        let stream = TcpStream::connect(address).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self {
            stream,
            read: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Sends one byte at a time, each in a write of its own.
    async fn trickle(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.send(std::slice::from_ref(byte)).await;
            tokio::task::yield_now().await;
        }
    }

    /// The next `count` answers (bodies framed by `Content-Length`).
    async fn answers(&mut self, count: usize) -> Vec<Answer> {
        let mut answers = Vec::new();
        while answers.len() < count {
            if let Some(answer) = self.parsed() {
                answers.push(answer);
                continue;
            }
            let mut chunk = [0; 4096];
            let read = timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
                .await
                .expect("an answer within 10 s")
                .expect("read");
            assert!(read > 0, "closed after {} answers", answers.len());
            self.read.extend_from_slice(&chunk[..read]);
        }
        answers
    }

    fn parsed(&mut self) -> Option<Answer> {
        let mut fields = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut fields);
        let httparse::Status::Complete(head) = response.parse(&self.read).expect("HTTP") else {
            return None;
        };
        let fields: Vec<(String, String)> = response
            .headers
            .iter()
            .map(|f| {
                let value = String::from_utf8(f.value.to_vec()).expect("text");
                (f.name.to_owned(), value)
            })
            .collect();
        let length: usize = fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map_or(0, |(_, v)| v.parse().expect("a length"));
        let status = response.code.expect("a status");
        let body = self.read.get(head..head + length)?.to_vec();
        self.read.drain(..head + length);
        Some(Answer {
            status,
            fields,
            body,
        })
    }

    /// Asserts that the server closes the connection, with nothing more to read.
    async fn assert_closed(&mut self) {
        let mut chunk = [0; 64];
        let read = timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
            .await
            .expect("closed within 10 s")
            .unwrap_or(0);
        assert_eq!((read, self.read.len()), (0, 0), "{:?}", &chunk[..read]);
    }
}

/// Forward-auth as nginx calls it, plus `extra` fields (each ending in CRLF).
fn forward_auth(token: &str, app_id: u32, extra: &str) -> Vec<u8> {
    format!(
        "GET /v1/authz HTTP/1.1\r\nHost: tessera\r\nX-Original-Method: POST\r\n\
         X-Original-URI: /api/v1/apps/{app_id}/events\r\nAuthorization: Bearer {token}\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// A verify request's body: may `token` publish to app 1?
fn verify_body(token: &str) -> String {
    json!({"token": token, "scopes": ["events:publish"], "resource": "app:1"}).to_string()
}

fn verify(caller: &str, token: &str) -> Vec<u8> {
    let body = verify_body(token);
    format!(
        "POST /v1/verify HTTP/1.1\r\nHost: tessera\r\nAuthorization: Bearer {caller}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn publisher(app: &TestApp) -> String {
    let body = json!({"name": "wire", "owner": "user-9", "scopes": ["events:publish"], "resources": ["app:1"]});
    app.create(&app.admin, body).await.1
}

#[tokio::test]
async fn pipelined_and_split_requests_are_answered_in_order() {
    let app = TestApp::spawn_with(with_routes).await;
    let token = publisher(&app).await;
    let calls = [
        forward_auth(&token, 1, ""),
        forward_auth(&token, 2, ""),
        verify(&app.admin, &token),
    ]
    .concat();
    let mut wire = Wire::open(&app).await;
    wire.send(&calls).await;
    let pipelined = wire.answers(3).await;
    wire.trickle(&calls).await;
    let split = wire.answers(3).await;
    for answers in [pipelined, split] {
        let [allowed, denied, verified] = &answers[..] else {
            unreachable!()
        };
        assert_eq!(allowed.status, 200);
        assert_eq!(allowed.field("x-tessera-owner"), Some("user-9"));
        assert_eq!(allowed.field("x-tessera-status"), Some("200"));
        assert_eq!(allowed.field("content-length"), Some("0"));
        assert!(allowed.field("date").is_some_and(|d| d.ends_with(" GMT")));
        assert_eq!(denied.status, 403);
        assert_eq!(
            denied.field("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(denied.json()["code"], "insufficient_scope");
        assert_eq!(verified.status, 200);
        assert_eq!(verified.json()["valid"], true);
    }
}

#[tokio::test]
async fn a_request_the_loop_does_not_take_whole_goes_to_hyper_with_the_connection() {
    let app = TestApp::spawn_with(with_routes).await;
    let token = publisher(&app).await;
    let allowed = forward_auth(&token, 1, "");
    let chunked_verify = {
        let body = verify_body(&token);
        format!(
            "POST /v1/verify HTTP/1.1\r\nHost: tessera\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            app.admin,
            body.len()
        )
    };
    let long_field = format!("X-Filler: {}\r\n", "f".repeat(10 * 1024));
    let many_fields: String = (0..40).map(|i| format!("X-Field-{i}: {i}\r\n")).collect();
    // Each keeps the connection open: the request after it is answered by hyper.
    let kept: [(&str, Vec<u8>, u16); 4] = [
        (
            "another endpoint",
            b"GET /healthz HTTP/1.1\r\nHost: tessera\r\n\r\n".to_vec(),
            200,
        ),
        ("a chunked body", chunked_verify.into_bytes(), 200),
        (
            "a head over 8 KiB",
            forward_auth(&token, 1, &long_field),
            200,
        ),
        ("40 fields", forward_auth(&token, 1, &many_fields), 200),
    ];
    for (what, other, status) in kept {
        let mut wire = Wire::open(&app).await;
        wire.send(&[allowed.clone(), other, allowed.clone()].concat())
            .await;
        let statuses: Vec<u16> = wire.answers(3).await.iter().map(|a| a.status).collect();
        assert_eq!(statuses, [200, status, 200], "{what}");
    }
    // Each ends the connection after its answer, as hyper does.
    let conflicting_lengths = b"POST /v1/verify HTTP/1.1\r\nHost: tessera\r\n\
        Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}"
        .to_vec();
    let old = String::from_utf8(forward_auth(&token, 1, ""))
        .expect("text")
        .replace("HTTP/1.1", "HTTP/1.0")
        .into_bytes();
    let closing: [(&str, Vec<u8>, u16); 3] = [
        (
            "Connection: close",
            forward_auth(&token, 1, "Connection: close\r\n"),
            200,
        ),
        ("HTTP/1.0", old, 200),
        ("two lengths", conflicting_lengths, 400),
    ];
    for (what, other, status) in closing {
        let mut wire = Wire::open(&app).await;
        wire.send(&[allowed.clone(), other].concat()).await;
        let statuses: Vec<u16> = wire.answers(2).await.iter().map(|a| a.status).collect();
        assert_eq!(statuses, [200, status], "{what}");
        wire.assert_closed().await;
    }
}

#[tokio::test]
async fn the_loop_and_hyper_give_the_same_answers() {
    let app = TestApp::spawn_with(with_routes).await;
    let token = publisher(&app).await;
    let calls = [
        forward_auth(&token, 1, ""),
        forward_auth(&token, 2, ""),
        forward_auth("tsr_notatoken", 1, ""),
        verify(&app.admin, &token),
        verify(&token, &token),
        format!(
            "POST /v1/verify HTTP/1.1\r\nHost: tessera\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\n\r\n",
            app.admin
        )
        .into_bytes(),
        // Refusals of every kind: not JSON, no caller, broken JSON, no guarded request.
        String::from_utf8(verify(&app.admin, &token))
            .expect("text")
            .replace("application/json", "text/plain")
            .into_bytes(),
        b"POST /v1/verify HTTP/1.1\r\nHost: tessera\r\nContent-Type: application/json\r\n\
          Content-Length: 2\r\n\r\n{}"
            .to_vec(),
        format!(
            "POST /v1/verify HTTP/1.1\r\nHost: tessera\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{{\"token\":",
            app.admin
        )
        .into_bytes(),
        format!("GET /v1/authz HTTP/1.1\r\nHost: tessera\r\nAuthorization: Bearer {token}\r\n\r\n")
            .into_bytes(),
        // Envoy's form: the guarded path after /v1/authz.
        format!(
            "POST /v1/authz/api/v1/apps/1/events HTTP/1.1\r\nHost: tessera\r\n\
             Authorization: Bearer {token}\r\n\r\n"
        )
        .into_bytes(),
    ];
    let handed_over = b"GET /healthz HTTP/1.1\r\nHost: tessera\r\n\r\n";
    let mut statuses = Vec::new();
    for call in calls {
        let mut direct = Wire::open(&app).await;
        direct.send(&call).await;
        let direct = direct.answers(1).await.remove(0);
        let mut hyper = Wire::open(&app).await;
        hyper.send(&[&handed_over[..], &call].concat()).await;
        let hyper = hyper.answers(2).await.remove(1);
        assert_eq!(direct.without_date(), hyper.without_date());
        statuses.push(direct.status);
    }
    assert_eq!(
        statuses,
        [200, 403, 401, 200, 403, 400, 415, 401, 400, 400, 200]
    );
}
