//! The one implementation of the two calls a guarded API makes before each of its
//! requests: forward-auth (`/v1/authz[/...]`) and `POST /v1/verify`.
//!
//! Both transports call [`answer`] with the same [`Call`]: tessera's own HTTP/1.1 loop
//! (`http::connection`) with the bytes it parsed, and the router (through
//! [`answer_routed`]) with hyper's request. The answer goes through an
//! [`AnswerSink`]: written by hand onto the wire, or built into a `Response`. So the
//! decision, the panic guard and the body limit exist once, and the parity tests of
//! the two transports compare the writing only.

use std::net::{IpAddr, SocketAddr};
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::header::CONTENT_LENGTH;
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::FutureExt;
use http_body_util::BodyExt;

use crate::http::guard_fields::{self, HeaderSink};
use crate::http::{VERIFY_PATH, authz, problem, verify};
use tessera_engine::Engine;
use tessera_engine::guard::Allowed;
use tessera_engine::metrics::{Endpoint, Outcome};

/// The two hot endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HotPath {
    ForwardAuth,
    Verify,
}

impl HotPath {
    /// The hot endpoint a request is for, from its method and path (no query).
    pub fn of(method: &str, path: &str) -> Option<Self> {
        if authz::answers_on(path) {
            Some(Self::ForwardAuth)
        } else if path == VERIFY_PATH && method == "POST" {
            Some(Self::Verify)
        } else {
            None
        }
    }

    /// The route it is logged under: never the path, which may carry anything.
    pub fn route(self) -> &'static str {
        match self {
            Self::ForwardAuth => authz::AUTHZ_PATH,
            Self::Verify => VERIFY_PATH,
        }
    }
}

/// A whole request to a hot endpoint, borrowed from wherever it was read.
pub struct Call<'a, F> {
    pub path: HotPath,
    pub method: &'a str,
    /// The request target: path and query.
    pub target: &'a str,
    /// The header fields, names in any case, as they came.
    pub fields: F,
    /// The address of the connection it came on.
    pub peer: Option<IpAddr>,
    /// The body, or the refusal to answer once the caller is known to be allowed to
    /// send one (too large, or cut short).
    pub body: Result<&'a [u8], Response>,
}

/// Where an answer is written: first its status, then its header fields
/// ([`HeaderSink::set`]), then its body. `Content-Length` and `Date` are the sink's.
pub trait AnswerSink: HeaderSink {
    fn start(&mut self, status: StatusCode);
    /// Adds a field that may come more than once (a refusal's challenges): kept
    /// beside any earlier value of the same name, as the wire carries both.
    fn add(&mut self, name: &HeaderName, value: &HeaderValue) {
        self.set(name, value);
    }
    fn finish(&mut self, body: Bytes);
    /// Forgets what was written since [`AnswerSink::start`]: the answer failed.
    fn abandon(&mut self);
}

/// What a call is answered with, before it is written.
enum Decided {
    Allowed(Allowed),
    Verified(Vec<u8>, Outcome),
    Refused(Response),
}

impl Decided {
    fn outcome(&self) -> Outcome {
        match self {
            Decided::Allowed(_) => Outcome::Valid,
            Decided::Verified(_, outcome) => *outcome,
            Decided::Refused(response) => Outcome::of_status(response.status().as_u16()),
        }
    }
}

impl HotPath {
    fn endpoint(self) -> Endpoint {
        match self {
            HotPath::ForwardAuth => Endpoint::ForwardAuth,
            HotPath::Verify => Endpoint::Verify,
        }
    }
}

/// Answers a call through `sink` and returns the status written. A panic anywhere
/// in deciding or writing is answered as the router's panic guard answers one: a
/// 500 problem that does not echo the panic (it could hold anything).
pub async fn answer<'a, F>(
    engine: &Engine,
    call: Call<'a, F>,
    sink: &mut impl AnswerSink,
) -> StatusCode
where
    F: IntoIterator<Item = (&'a str, &'a [u8])>,
{
    // Timed from the request's head to its answer's: what the guarded API waits.
    let started = Instant::now();
    let endpoint = call.path.endpoint();
    let answered = AssertUnwindSafe(async {
        let decided = decide(engine, call).await;
        let outcome = decided.outcome();
        (write(engine, decided, sink).await, outcome)
    })
    .catch_unwind()
    .await;
    let (status, outcome) = match answered {
        Ok(answered) => answered,
        Err(_) => {
            sink.abandon();
            (
                write_response(super::panic_response(), sink).await,
                Outcome::Error,
            )
        }
    };
    engine
        .metrics()
        .answers
        .record(endpoint, outcome, started.elapsed());
    status
}

async fn decide<'a, F>(engine: &Engine, call: Call<'a, F>) -> Decided
where
    F: IntoIterator<Item = (&'a str, &'a [u8])>,
{
    match call.path {
        HotPath::ForwardAuth => {
            match authz::decide(engine, call.method, call.target, call.fields, call.peer).await {
                Ok(allowed) => Decided::Allowed(allowed),
                Err(refused) => Decided::Refused(refused),
            }
        }
        HotPath::Verify => match verify::answer(engine, call.fields, call.peer, call.body).await {
            Ok((json, code)) => Decided::Verified(json, Outcome::of_code(code)),
            Err(refused) => Decided::Refused(refused),
        },
    }
}

async fn write(engine: &Engine, decided: Decided, sink: &mut impl AnswerSink) -> StatusCode {
    match decided {
        Decided::Allowed(allowed) => {
            sink.start(StatusCode::OK);
            let catalogue = engine.index().catalogue();
            let (identity, rate) = (allowed.identity.as_ref(), allowed.rate.as_ref());
            guard_fields::set_allowed(sink, identity, catalogue, rate, allowed.left.as_ref());
            sink.finish(Bytes::new());
            StatusCode::OK
        }
        Decided::Verified(json, _) => {
            const JSON: HeaderValue = HeaderValue::from_static("application/json");
            sink.start(StatusCode::OK);
            sink.set(&header::CONTENT_TYPE, &JSON);
            sink.finish(Bytes::from(json));
            StatusCode::OK
        }
        Decided::Refused(response) => write_response(response, sink).await,
    }
}

/// Writes a response made for the router (a refusal, with its problem body).
async fn write_response(response: Response, sink: &mut impl AnswerSink) -> StatusCode {
    let (head, body) = response.into_parts();
    // tessera's answers are whole in memory: a body that fails is a bug, answered
    // as one.
    let Ok(body) = body.collect().await else {
        return Box::pin(write_response(super::panic_response(), sink)).await;
    };
    sink.start(head.status);
    for (name, value) in &head.headers {
        if name != CONTENT_LENGTH {
            sink.add(name, value);
        }
    }
    sink.finish(body.to_bytes());
    head.status
}

/// A hot endpoint's answer to a request the router holds: its body read within
/// the one body limit, then [`answer`].
pub async fn answer_routed(engine: &Engine, path: HotPath, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (bytes, refusal) = match path {
        // Forward-auth reads no body.
        HotPath::ForwardAuth => (Bytes::new(), None),
        HotPath::Verify => match problem::read_body(body).await {
            Ok(bytes) => (bytes, None),
            Err(refusal) => (Bytes::new(), Some(refusal)),
        },
    };
    let call = Call {
        path,
        method: parts.method.as_str(),
        target: parts.uri.path_and_query().map_or("/", PathAndQuery::as_str),
        fields: super::header_fields(&parts.headers),
        peer: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip()),
        body: refusal.map_or(Ok(&bytes[..]), Err),
    };
    let mut sink = ResponseSink::default();
    answer(engine, call, &mut sink).await;
    sink.0
}

/// Builds a `Response`; hyper adds `Content-Length` and `Date` as it writes it.
#[derive(Default)]
struct ResponseSink(Response);

impl HeaderSink for ResponseSink {
    fn set(&mut self, name: &HeaderName, value: &HeaderValue) {
        self.0.headers_mut().set(name, value);
    }
}

impl AnswerSink for ResponseSink {
    fn start(&mut self, status: StatusCode) {
        *self.0.status_mut() = status;
    }

    fn add(&mut self, name: &HeaderName, value: &HeaderValue) {
        self.0.headers_mut().append(name.clone(), value.clone());
    }

    fn finish(&mut self, body: Bytes) {
        *self.0.body_mut() = Body::from(body);
    }

    fn abandon(&mut self) {
        *self.0.headers_mut() = HeaderMap::new();
    }
}
