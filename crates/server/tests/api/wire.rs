//! The API listener's own HTTP/1.1 loop (`http::connection`), spoken to in bytes:
//! pipelined and split requests on the two hot paths, every request the loop does
//! not take whole handed to hyper, with the rest of its connection, and framing two
//! parsers could read two ways (CL.TE, TE.CL, doubled or odd lengths, obs-fold, bare
//! LF, NUL and control bytes), read one way and smuggling nothing.

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

impl Wire {
    /// Every answer until the server closes the connection or is silent for a
    /// moment, and whether it closed.
    async fn all_answers(&mut self) -> (Vec<Answer>, bool) {
        let mut answers = Vec::new();
        loop {
            if let Some(answer) = self.parsed() {
                answers.push(answer);
                continue;
            }
            let mut chunk = [0; 4096];
            match timeout(Duration::from_millis(500), self.stream.read(&mut chunk)).await {
                Err(_) => return (answers, false),
                Ok(Ok(0) | Err(_)) => return (answers, true),
                Ok(Ok(read)) => self.read.extend_from_slice(&chunk[..read]),
            }
        }
    }
}

/// A token that may verify, and one that may not (whose hidden calls must fail).
async fn verifier_and_outsider(app: &TestApp) -> (String, String) {
    let (_, verifier, _) = app
        .create(
            &app.admin,
            json!({"name": "v", "scopes": ["tokens:verify"]}),
        )
        .await;
    (verifier, publisher(app).await)
}

/// Requests whose framing two parsers could read two ways, each ending with a
/// second request hidden in what the first might call its body: a verify call that
/// a token without `tokens:verify` makes, which must never be answered 200.
fn ambiguous(verifier: &str, outsider: &str) -> Vec<(&'static str, Vec<u8>)> {
    let hidden = format!(
        "POST /v1/verify HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {outsider}\r\n\
         Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{{\"token\":\"x\"}}"
    );
    let head = |fields: &str| {
        format!(
            "POST /v1/verify HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {verifier}\r\n\
             Content-Type: application/json\r\n{fields}\r\n"
        )
    };
    let chunked_then = |fields: &str| format!("{}0\r\n\r\n{hidden}", head(fields)).into_bytes();
    let body = "{\"token\":\"y\"}";
    vec![
        (
            "CL.TE",
            chunked_then("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"),
        ),
        (
            "TE.CL",
            chunked_then("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
        ),
        (
            "two lengths",
            format!(
                "{}{body}{hidden}",
                head("Content-Length: 13\r\nContent-Length: 0\r\n")
            )
            .into_bytes(),
        ),
        (
            "two equal lengths",
            format!(
                "{}{body}{hidden}",
                head("Content-Length: 13\r\nContent-Length: 13\r\n")
            )
            .into_bytes(),
        ),
        (
            "TE chunked, identity",
            chunked_then("Transfer-Encoding: chunked, identity\r\n"),
        ),
        (
            "TE identity, chunked",
            chunked_then("Transfer-Encoding: identity, chunked\r\n"),
        ),
        (
            "TE in capitals",
            chunked_then("Transfer-Encoding: CHUNKED\r\n"),
        ),
        (
            "TE with spaces",
            chunked_then("Transfer-Encoding:   chunked  \r\n"),
        ),
        (
            "TE name with a space",
            chunked_then("Transfer-Encoding : chunked\r\n"),
        ),
        (
            "TE twice",
            chunked_then("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
        ),
        (
            "obs-fold",
            format!(
                "{}{body}{hidden}",
                head("X-Fold: a\r\n b\r\nContent-Length: 13\r\n")
            )
            .into_bytes(),
        ),
        (
            "bare LF",
            format!(
                "POST /v1/verify HTTP/1.1\nHost: t\nAuthorization: Bearer {verifier}\n\
                 Content-Type: application/json\nContent-Length: 13\n\n{body}{hidden}"
            )
            .into_bytes(),
        ),
        (
            "NUL in a value",
            format!(
                "{}{body}{hidden}",
                head("X-Nul: a\0b\r\nContent-Length: 13\r\n")
            )
            .into_bytes(),
        ),
        (
            "control byte in a value",
            format!(
                "{}{body}{hidden}",
                head("X-Ctl: a\x01b\r\nContent-Length: 13\r\n")
            )
            .into_bytes(),
        ),
        (
            "signed length",
            format!("{}{body}{hidden}", head("Content-Length: +13\r\n")).into_bytes(),
        ),
        (
            "hex length",
            format!("{}{body}{hidden}", head("Content-Length: 0xd\r\n")).into_bytes(),
        ),
        (
            "spaced length",
            format!("{}{body}{hidden}", head("Content-Length: 1 3\r\n")).into_bytes(),
        ),
        (
            "padded length",
            format!("{}{body}{hidden}", head("Content-Length: 013\r\n")).into_bytes(),
        ),
        (
            "short length",
            format!("{}{body}{hidden}", head("Content-Length: 12\r\n")).into_bytes(),
        ),
    ]
}

#[tokio::test]
async fn ambiguous_framing_is_read_one_way_by_the_loop_and_hyper_and_smuggles_nothing() {
    let app = TestApp::spawn_with(with_routes).await;
    let (verifier, outsider) = verifier_and_outsider(&app).await;
    let handed_over = b"GET /healthz HTTP/1.1\r\nHost: tessera\r\n\r\n";
    for (name, request) in ambiguous(&verifier, &outsider) {
        let mut direct = Wire::open(&app).await;
        direct.send(&request).await;
        let (direct_answers, direct_closed) = direct.all_answers().await;
        let mut hyper = Wire::open(&app).await;
        hyper.send(&[&handed_over[..], &request].concat()).await;
        let (mut hyper_answers, hyper_closed) = hyper.all_answers().await;
        assert_eq!(hyper_answers.remove(0).status, 200, "{name}: /healthz");
        let direct_seen: Vec<_> = direct_answers.iter().map(Answer::without_date).collect();
        let hyper_seen: Vec<_> = hyper_answers.iter().map(Answer::without_date).collect();
        assert_eq!(direct_seen, hyper_seen, "{name}: the loop and hyper differ");
        assert_eq!(
            direct_closed, hyper_closed,
            "{name}: one closed, one did not"
        );
        // The hidden call comes from a token that may not verify: if any answer
        // after the first is a 200, a second request got through as the first's.
        for answer in direct_answers.iter().skip(1) {
            assert_ne!(
                answer.status, 200,
                "{name}: a hidden request was answered 200"
            );
        }
        // Read one way: at most the outer call and the hidden one.
        assert!(
            direct_answers.len() <= 2,
            "{name}: {} answers",
            direct_answers.len()
        );
    }
}

impl Wire {
    /// Sends `bytes` in two writes split at `at`, a moment apart, so that the server
    /// reads the parts apart. The second may meet a connection the server closed
    /// after the first; its answers are still read.
    async fn send_split(&mut self, bytes: &[u8], at: usize) {
        self.send(&bytes[..at]).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        let _ = self.stream.write_all(&bytes[at..]).await;
    }

    /// `count` answers at most, then whether the server closes the connection
    /// within `quiet` (a reset counts as closed).
    async fn answers_then(&mut self, count: usize, quiet: Duration) -> (Vec<Answer>, bool) {
        let mut answers = Vec::new();
        loop {
            if answers.len() < count
                && let Some(answer) = self.parsed()
            {
                answers.push(answer);
                continue;
            }
            let wait = if answers.len() < count {
                Duration::from_secs(10)
            } else {
                quiet
            };
            let mut chunk = [0; 4096];
            match timeout(wait, self.stream.read(&mut chunk)).await {
                Err(_) => return (answers, false),
                Ok(Ok(0) | Err(_)) => return (answers, true),
                Ok(Ok(read)) => self.read.extend_from_slice(&chunk[..read]),
            }
        }
    }
}

/// What a connection got: its answers (`Date` aside) and whether it was closed.
type Seen = (Vec<(u16, Vec<(String, String)>, Vec<u8>)>, bool);

/// Sends `bytes` split at every byte, each split on a connection of its own (about a
/// hundred at once), and returns the splits whose connection saw other than `expected`.
async fn splits_that_differ(app: &TestApp, bytes: &[u8], expected: &Seen) -> Vec<usize> {
    let count = expected.0.len();
    let mut differ = Vec::new();
    let positions: Vec<usize> = (1..bytes.len()).collect();
    for batch in positions.chunks(96) {
        let seen = futures_util::future::join_all(batch.iter().map(|&at| async move {
            let mut wire = Wire::open(app).await;
            wire.send_split(bytes, at).await;
            let (answers, closed) = wire.answers_then(count, Duration::from_millis(100)).await;
            let answers = answers.iter().map(Answer::without_date).collect();
            (at, (answers, closed))
        }))
        .await;
        differ.extend(
            seen.into_iter()
                .filter(|(_, seen)| seen != expected)
                .map(|(at, _)| at),
        );
    }
    differ
}

#[tokio::test]
async fn a_pipeline_split_at_any_byte_gets_the_same_answers() {
    let app = TestApp::spawn_with(with_routes).await;
    let token = publisher(&app).await;
    // The loop's two endpoints, then a request for hyper, then the same two again,
    // now answered by hyper: a split anywhere, the hand-over's included.
    let pipeline = [
        forward_auth(&token, 1, ""),
        verify(&app.admin, &token),
        b"GET /healthz HTTP/1.1\r\nHost: tessera\r\n\r\n".to_vec(),
        forward_auth(&token, 2, ""),
        verify(&app.admin, &token),
    ]
    .concat();
    let mut whole = Wire::open(&app).await;
    whole.send(&pipeline).await;
    let (answers, closed) = whole.answers_then(5, Duration::from_millis(500)).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 200, 200, 403, 200]);
    let expected = (answers.iter().map(Answer::without_date).collect(), closed);
    let differ = splits_that_differ(&app, &pipeline, &expected).await;
    assert!(
        differ.is_empty(),
        "split at {differ:?} of {}",
        pipeline.len()
    );
}

#[tokio::test]
async fn ambiguous_framing_split_at_any_byte_is_read_as_when_whole() {
    let app = TestApp::spawn_with(with_routes).await;
    let (verifier, outsider) = verifier_and_outsider(&app).await;
    for (name, request) in ambiguous(&verifier, &outsider) {
        let mut whole = Wire::open(&app).await;
        whole.send(&request).await;
        let (answers, closed) = whole.all_answers().await;
        let expected = (answers.iter().map(Answer::without_date).collect(), closed);
        let differ = splits_that_differ(&app, &request, &expected).await;
        assert!(
            differ.is_empty(),
            "{name}: split at {differ:?} of {}",
            request.len()
        );
    }
}
