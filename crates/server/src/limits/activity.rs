//! When a connection last answered and when its next request began: the moments the
//! read timeouts count from, kept once for each connection and shared by its reader
//! ([`Watched`]), hyper's header timer ([`PhaseTimer`]) and tessera's own loop.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::{ConnectionGate, Limits};

/// No such moment yet.
const NONE: u64 = u64::MAX;

/// What is written to a client whose request's head did not arrive in time, just
/// before the connection is closed.
pub const REQUEST_TIMEOUT_ANSWER: &[u8] = b"HTTP/1.1 408 Request Timeout\r\n\
content-type: application/problem+json\r\n\
connection: close\r\n\
content-length: 177\r\n\r\n\
{\"type\":\"/problems/request_timeout\",\"title\":\"Request Timeout\",\"status\":408,\
\"detail\":\"the request did not arrive in time; send it whole, without pauses\",\
\"code\":\"request_timeout\"}";

/// One connection's moments, in nanoseconds after it was accepted. Atomics, not
/// cells: hyper's timer must be `Sync`, though everything here runs in the
/// connection's one task.
pub struct Activity {
    accepted: Instant,
    limits: Limits,
    gate: Arc<ConnectionGate>,
    /// The end of the last answer written; [`NONE`] before the first.
    last_answer: AtomicU64,
    /// The first byte read since then; [`NONE`] while none has come.
    request_began: AtomicU64,
    /// Set when the connection is closed for a request that was too slow.
    timed_out: AtomicBool,
}

impl Activity {
    pub fn new(limits: Limits, gate: Arc<ConnectionGate>) -> Arc<Self> {
        Arc::new(Self {
            accepted: Instant::now(),
            limits,
            gate,
            last_answer: AtomicU64::new(NONE),
            request_began: AtomicU64::new(NONE),
            timed_out: AtomicBool::new(false),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn since_accepted(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_nanos()).unwrap_or(NONE - 1)
    }

    fn at(&self, nanos: u64) -> Instant {
        self.accepted + Duration::from_nanos(nanos)
    }

    /// `count` bytes were read.
    pub fn read(&self, count: usize) {
        if count > 0 && self.request_began.load(Ordering::Relaxed) == NONE {
            self.request_began
                .store(self.since_accepted(), Ordering::Relaxed);
        }
    }

    /// An answer (or part of one) was written: the next bytes read begin a request.
    pub fn wrote(&self) {
        self.last_answer
            .store(self.since_accepted(), Ordering::Relaxed);
        self.request_began.store(NONE, Ordering::Relaxed);
    }

    /// True when bytes of a request have come since the last answer.
    pub fn request_started(&self) -> bool {
        self.request_began.load(Ordering::Relaxed) != NONE
    }

    /// When a connection still waiting for a request's head is closed: the header
    /// timeout after its start or after the request's first byte; between kept-alive
    /// requests, the idle timeout after the last answer.
    pub fn head_deadline(&self) -> Instant {
        let began = self.request_began.load(Ordering::Relaxed);
        let answered = self.last_answer.load(Ordering::Relaxed);
        if began != NONE {
            self.at(began) + self.limits.header_read_timeout
        } else if answered == NONE {
            self.accepted + self.limits.header_read_timeout
        } else {
            self.at(answered) + self.limits.idle_timeout
        }
    }

    /// The connection is being closed at a deadline. Counted when a request had
    /// begun (a slow client), and remembered so that a 408 is written.
    pub fn close_at_deadline(&self) {
        if self.request_started() {
            self.timed_out.store(true, Ordering::Relaxed);
            self.gate.note_timeout();
        }
    }

    fn owes_timeout_answer(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }
}

/// A connection whose reads and writes are noted in its [`Activity`]; dropped after
/// a request timed out, it writes the 408 hyper does not.
pub struct Watched<I: TryWriteNow> {
    io: I,
    activity: Arc<Activity>,
}

impl<I: TryWriteNow> Watched<I> {
    pub fn new(io: I, activity: Arc<Activity>) -> Self {
        Self { io, activity }
    }
}

/// A write that does not wait: for the last words on a connection about to close.
pub trait TryWriteNow {
    fn try_write_now(&mut self, bytes: &[u8]);
}

impl TryWriteNow for TcpStream {
    fn try_write_now(&mut self, bytes: &[u8]) {
        // Best effort: a short answer fits an idle socket's buffer; a client that
        // has not read what it was sent gets the connection closed without it.
        let _ = self.try_write(bytes);
    }
}

impl<I: TryWriteNow> Drop for Watched<I> {
    fn drop(&mut self) {
        if self.activity.owes_timeout_answer() {
            self.io.try_write_now(REQUEST_TIMEOUT_ANSWER);
        }
    }
}

impl<I: AsyncRead + TryWriteNow + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.activity.read(buf.filled().len() - before);
        }
        polled
    }
}

impl<I: AsyncWrite + TryWriteNow + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = polled
            && written > 0
        {
            self.activity.wrote();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(written)) = polled
            && written > 0
        {
            self.activity.wrote();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// hyper's timer for one connection. hyper's HTTP/1 server uses its timer for one
/// thing, the header read timeout, which it starts as soon as it waits for a head,
/// idle time between requests included; this timer ends that wait at the
/// connection's [`Activity::head_deadline`] instead, whatever deadline hyper asks
/// for, so that idle and header timeouts count as on tessera's own loop.
#[derive(Clone)]
pub struct PhaseTimer(pub Arc<Activity>);

impl hyper::rt::Timer for PhaseTimer {
    fn sleep(&self, _: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HeadWait::new(Arc::clone(&self.0)))
    }

    fn sleep_until(&self, _: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(HeadWait::new(Arc::clone(&self.0)))
    }
}

/// A wait that ends at the connection's head deadline, as it stands each time it is
/// polled (hyper polls it whenever the connection wakes while a head is awaited).
struct HeadWait {
    activity: Arc<Activity>,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl HeadWait {
    fn new(activity: Arc<Activity>) -> Self {
        let deadline = activity.head_deadline();
        Self {
            activity,
            sleep: Box::pin(tokio::time::sleep_until(deadline.into())),
        }
    }
}

impl Future for HeadWait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let deadline = self.activity.head_deadline();
            if Instant::now() >= deadline {
                self.activity.close_at_deadline();
                return Poll::Ready(());
            }
            if self.sleep.deadline() != deadline.into() {
                self.sleep.as_mut().reset(deadline.into());
            }
            if self.sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl hyper::rt::Sleep for HeadWait {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_answer_is_whole_http_with_a_problem_body() {
        let text = std::str::from_utf8(REQUEST_TIMEOUT_ANSWER).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
        let problem: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(problem["status"], 408);
    }

    #[test]
    fn deadlines_count_from_the_moments_the_phases_begin() {
        let limits = Limits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            ..Limits::default()
        };
        let activity = Activity::new(limits, ConnectionGate::new(&limits));
        let accepted = activity.accepted;
        // Nothing sent yet: the header timeout from the start.
        assert_eq!(activity.head_deadline(), accepted + Duration::from_secs(10));
        activity.read(3);
        assert!(activity.request_started());
        activity.wrote();
        // Between requests: the idle timeout from the answer.
        let idle = activity.head_deadline() - accepted;
        assert!(idle >= Duration::from_secs(60), "{idle:?}");
        activity.read(1);
        let head = activity.head_deadline() - accepted;
        assert!(head < Duration::from_secs(11), "{head:?}");
        activity.close_at_deadline();
        assert!(activity.owes_timeout_answer());
    }
}
