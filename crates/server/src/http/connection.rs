//! The API listener's connections: tessera's own HTTP/1.1 loop for the two calls a
//! guarded API makes before each of its requests (forward-auth and `POST
//! /v1/verify`), and hyper for everything else.
//!
//! Why by hand: these two calls come before every request of the API tessera guards,
//! and hyper's framing and the header maps it builds for each request and answer
//! cost more than the token check they carry: BENCHMARKS.md ("tessera's own
//! HTTP/1.1 loop") gives the user time each costs a request either way.
//!
//! What keeps it safe: the loop answers only requests it understands completely: a
//! whole HTTP/1.1 head that httparse accepts, on one of the two paths, with its body
//! framed by a single `Content-Length` and nothing that changes the framing or the
//! connection (`Transfer-Encoding`, `Upgrade`, `Expect`, `Connection` other than
//! `keep-alive`). At the first request that is anything else, the connection is
//! handed to hyper as it stands, that request's bytes first, and hyper serves it to
//! its end. So two parsers never judge the same bytes, which is what request
//! smuggling needs, and every request outside the two is hyper's alone.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use bytes::{Buf, Bytes, BytesMut};
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;

use crate::app::Connection;
use crate::app::RouterService;
use crate::http::MAX_BODY_BYTES;
use crate::http::guard_fields::HeaderSink;
use crate::http::hot::{self, AnswerSink, Call, HotPath};
use crate::limits::{Activity, REQUEST_TIMEOUT_ANSWER, TryWriteNow};
use tessera_engine::Engine;

/// A request with more header fields than this goes to hyper (which takes 100).
const MAX_HEADERS: usize = 32;
/// A head longer than this goes to hyper, which answers it as it should.
const MAX_HEAD_BYTES: usize = 8 * 1024;

/// How much later than due the connection's one timer may be left to fire, rather
/// than moved at every request: a timer that fires early is moved then, so no
/// connection is closed early, and a busy one moves its timer about once a second.
const TIMER_SLACK: Duration = Duration::from_secs(1);

/// Serves one connection of the API listener until it ends, until `stop` turns true
/// between requests, or until a request is late by `activity`'s deadlines (then with
/// a 408 if the request had begun). Requests to the hot endpoints are answered here,
/// at any log level (each logged here as the router's trace layer logs the rest);
/// the first other request hands the connection to hyper and the router.
pub async fn serve<I: Connection>(
    mut stream: I,
    engine: Arc<Engine>,
    router: Router,
    stop: watch::Receiver<bool>,
    watcher: Watcher,
    activity: Arc<Activity>,
    peer: SocketAddr,
) {
    let logging = super::request_logging();
    let mut input = BytesMut::with_capacity(4096);
    let mut output = Vec::with_capacity(1024);
    // One waiter for the whole connection: registering one for every read would
    // cost more than the rest of the wait.
    let stop_now = stop.clone();
    let mut stopped = pin!(async move {
        let mut stop = stop;
        let _ = stop.wait_for(|stopped| *stopped).await;
    });
    let body_read_timeout = activity.limits().body_read_timeout;
    let mut timer = pin!(tokio::time::sleep_until(activity.head_deadline().into()));
    // When the head of the request being read was whole, while its body is not.
    let mut body_since: Option<Instant> = None;
    loop {
        let mut verified = false;
        // Answers every whole request read so far, in order.
        loop {
            let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut request = match next(&input, &mut fields) {
                Next::Request(request) => request,
                Next::Partial => break,
                Next::PartialBody => {
                    body_since.get_or_insert_with(Instant::now);
                    break;
                }
                Next::Other => {
                    if !output.is_empty() && stream.write_all(&output).await.is_err() {
                        return;
                    }
                    let read = input.freeze();
                    let stream = Prefixed { read, stream };
                    let service = RouterService::new(router, Some(peer));
                    return crate::app::serve_with_hyper(stream, service, watcher, activity).await;
                }
            };
            request.call.peer = Some(peer.ip());
            let path = request.call.path;
            verified |= path == HotPath::Verify;
            let started = logging.then(Instant::now);
            let length = request.length;
            let status = hot::answer(&engine, request.call, &mut Wire::new(&mut output)).await;
            if let Some(started) = started {
                log(path, status, started);
            }
            input.advance(length);
            body_since = None;
        }
        if !output.is_empty() {
            if verified {
                // Written after the other connections ready in this turn have been
                // answered too, so that a client waiting on several is woken once
                // for a batch of answers, not once for each. Forward-auth, whose
                // answers come sooner, gained nothing from this, so it writes at once
                // (BENCHMARKS.md, "Written in batches").
                tokio::task::yield_now().await;
            }
            if stream.write_all(&output).await.is_err() {
                return;
            }
            activity.wrote();
            output.clear();
        }
        let idle = input.is_empty();
        if idle && *stop_now.borrow() {
            return;
        }
        if input.capacity() - input.len() < 1024 {
            input.reserve(4096);
        }
        let due = match body_since {
            Some(since) => since + body_read_timeout,
            None => activity.head_deadline(),
        };
        aim(timer.as_mut(), due);
        tokio::select! {
            biased;
            read = stream.read_buf(&mut input) => match read {
                Ok(0) | Err(_) => return,
                Ok(count) => activity.read(count),
            },
            () = &mut stopped, if idle => return,
            () = &mut timer => {
                if Instant::now() < due {
                    timer.as_mut().reset(due.into());
                    continue;
                }
                if !idle {
                    activity.close_at_deadline();
                    let _ = stream.write_all(REQUEST_TIMEOUT_ANSWER).await;
                }
                return;
            }
        }
    }
}

/// Moves `timer` to `due` if that is earlier, or later by more than [`TIMER_SLACK`].
fn aim(timer: Pin<&mut tokio::time::Sleep>, due: Instant) {
    let due = tokio::time::Instant::from_std(due);
    let armed = timer.deadline();
    if due < armed || due > armed + TIMER_SLACK {
        timer.reset(due);
    }
}

/// One line per request, at debug level, as the router's trace layer writes for
/// every other request: the route, never the path.
fn log(path: HotPath, status: StatusCode, started: Instant) {
    tracing::debug!(
        surface = "api",
        route = path.route(),
        status = status.as_u16(),
        latency_us = started.elapsed().as_micros(),
        "finished processing request"
    );
}

/// The header fields of a request read by this loop, as [`hot::answer`] reads them.
type Fields<'a> = std::iter::Map<
    std::slice::Iter<'a, httparse::Header<'a>>,
    fn(&'a httparse::Header<'a>) -> (&'a str, &'a [u8]),
>;

/// A whole request to a hot endpoint, borrowed from the bytes read.
struct HotRequest<'a> {
    call: Call<'a, Fields<'a>>,
    /// Head and body, in bytes.
    length: usize,
}

/// What the bytes read so far start with.
#[allow(
    clippy::large_enum_variant,
    reason = "made once per request and matched at once: boxing the request would allocate on the hot path"
)]
enum Next<'a> {
    Request(HotRequest<'a>),
    /// The start of a request's head: read more.
    Partial,
    /// A whole head, and the start of its body: read more.
    PartialBody,
    /// A request that is not a hot path's, or that this loop does not take whole:
    /// hyper answers it and the rest of the connection.
    Other,
}

fn next<'a>(input: &'a [u8], fields: &'a mut [httparse::Header<'a>]) -> Next<'a> {
    let mut request = httparse::Request::new(fields);
    let head_length = match request.parse(input) {
        Ok(httparse::Status::Complete(length)) if length <= MAX_HEAD_BYTES => length,
        Ok(httparse::Status::Partial) if input.len() <= MAX_HEAD_BYTES => return Next::Partial,
        _ => return Next::Other,
    };
    let (Some(method), Some(target), Some(1)) = (request.method, request.path, request.version)
    else {
        return Next::Other;
    };
    // Origin form only, in the bytes a URI may hold.
    if !target.starts_with('/') || !target.bytes().all(|byte| byte.is_ascii_graphic()) {
        return Next::Other;
    }
    let path = target.split_once('?').map_or(target, |(path, _)| path);
    // HEAD is answered without a body: hyper knows how.
    let Some(hot) = HotPath::of(method, path).filter(|_| method != "HEAD") else {
        return Next::Other;
    };
    let Some(body_length) = body_length(request.headers) else {
        return Next::Other;
    };
    match (hot, body_length) {
        (HotPath::ForwardAuth, 0) | (HotPath::Verify, 0..=MAX_BODY_BYTES) => {}
        _ => return Next::Other,
    }
    let length = head_length + body_length;
    let Some(body) = input.get(head_length..length) else {
        return Next::PartialBody;
    };
    let fields: Fields<'a> = request
        .headers
        .iter()
        .map(|field| (field.name, field.value));
    Next::Request(HotRequest {
        call: Call {
            path: hot,
            method,
            target,
            fields,
            peer: None,
            body: Ok(body),
        },
        length,
    })
}

/// How the loop reads the bytes a connection starts with: for fuzzing, which checks
/// that no input panics it or claims more bytes than it was given.
#[derive(Debug, PartialEq, Eq)]
pub enum Framing {
    /// A whole request to a hot endpoint, this many bytes long, that the loop answers.
    Hot { path: HotPath, length: usize },
    /// A request begun: the loop reads more.
    Partial,
    /// A request for hyper.
    Other,
}

pub fn framing(input: &[u8]) -> Framing {
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match next(input, &mut fields) {
        Next::Request(request) => Framing::Hot {
            path: request.call.path,
            length: request.length,
        },
        Next::Partial | Next::PartialBody => Framing::Partial,
        Next::Other => Framing::Other,
    }
}

/// The body's length: as `Content-Length` gives it, 0 without one (HTTP/1.1 with no
/// `Transfer-Encoding` either). `None` if a field makes the framing or the connection
/// anything but plain.
fn body_length(fields: &[httparse::Header<'_>]) -> Option<usize> {
    let mut length = None;
    for field in fields {
        let name = field.name;
        if name.eq_ignore_ascii_case(CONTENT_LENGTH.as_str()) {
            let digits = field.value;
            if length.is_some() || digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            length = Some(std::str::from_utf8(digits).ok()?.parse().ok()?);
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("upgrade")
            || name.eq_ignore_ascii_case("expect")
            || (name.eq_ignore_ascii_case("connection")
                && !field.value.eq_ignore_ascii_case(b"keep-alive"))
        {
            return None;
        }
    }
    Some(length.unwrap_or(0))
}

/// An answer written by hand into the connection's output, field by field, as
/// hyper would write it.
struct Wire<'a> {
    output: &'a mut Vec<u8>,
    /// Where the answer being written starts in `output`.
    start: usize,
}

impl<'a> Wire<'a> {
    fn new(output: &'a mut Vec<u8>) -> Self {
        let start = output.len();
        Self { output, start }
    }

    fn field(&mut self, name: &[u8], value: &[u8]) {
        self.output.extend_from_slice(name);
        self.output.extend_from_slice(b": ");
        self.output.extend_from_slice(value);
        self.output.extend_from_slice(b"\r\n");
    }
}

/// Each field as it is set: an answer sets each once.
impl HeaderSink for Wire<'_> {
    fn set(&mut self, name: &HeaderName, value: &HeaderValue) {
        self.field(name.as_str().as_bytes(), value.as_bytes());
    }
}

impl AnswerSink for Wire<'_> {
    fn start(&mut self, status: StatusCode) {
        self.start = self.output.len();
        self.output.extend_from_slice(b"HTTP/1.1 ");
        self.output.extend_from_slice(status.as_str().as_bytes());
        self.output.push(b' ');
        self.output
            .extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
        self.output.extend_from_slice(b"\r\n");
    }

    /// Ends the head with `Content-Length` and `Date`, then writes the body.
    fn finish(&mut self, body: Bytes) {
        let mut digits = itoa::Buffer::new();
        self.field(b"content-length", digits.format(body.len()).as_bytes());
        with_date(|date| self.field(b"date", date));
        self.output.extend_from_slice(b"\r\n");
        self.output.extend_from_slice(&body);
    }

    fn abandon(&mut self) {
        self.output.truncate(self.start);
    }
}

/// Calls `with` on the `Date` field's value for now, formatted at most once a second
/// on each thread, as hyper does.
fn with_date(with: impl FnOnce(&[u8])) {
    thread_local! {
        static DATE: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let second = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    DATE.with_borrow_mut(|(formatted_at, text)| {
        if *formatted_at != second {
            *text = httpdate::fmt_http_date(now);
            *formatted_at = second;
        }
        with(text.as_bytes());
    });
}

/// A connection whose first bytes were read already: they are read again first.
/// (tokio's `chain` reads this way, but gives no way to write.)
struct Prefixed<I> {
    read: Bytes,
    stream: I,
}

impl<I: TryWriteNow> TryWriteNow for Prefixed<I> {
    fn try_write_now(&mut self, bytes: &[u8]) {
        self.stream.try_write_now(bytes);
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Prefixed<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.read.is_empty() {
            return Pin::new(&mut self.stream).poll_read(cx, buf);
        }
        let count = self.read.len().min(buf.remaining());
        buf.put_slice(&self.read[..count]);
        self.read.advance(count);
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Prefixed<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
