//! Request bodies that must arrive in time: an API or UI body whole within
//! `body_read_timeout`; a gateway body, streamed on to the upstream whatever its
//! size, with no pause longer than it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::http::problem;

/// Middleware: reads the request's body whole (at most the API's body limit) before
/// the handler runs, within `timeout`, or answers 408. Bodies here are small (64 KiB
/// at most), so holding one whole costs little, and every extractor after this one
/// reads from memory.
pub async fn whole_body_in_time(timeout: Duration, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(timeout, problem::read_body(body)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(refusal)) => refusal,
        Err(_) => problem::route_problem(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request body did not arrive within {} s; send it whole, without pauses",
                timeout.as_secs_f64()
            ),
        ),
    }
}

/// Why a client's streamed body ended early: what the gateway answers instead of
/// blaming the upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BodyFault {
    #[error("no part of the request body came in time")]
    Stalled,
    /// The client's framing was broken (a bad chunk, a body shorter than it said).
    #[error("the request body was malformed or cut short")]
    Malformed,
}

/// A streamed body that fails when no piece of it comes for `idle`, and notes in
/// `fault` why it failed, if it did.
pub struct IdleTimeoutBody {
    inner: Body,
    idle: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
    fault: Arc<OnceLock<BodyFault>>,
}

impl IdleTimeoutBody {
    pub fn new(inner: Body, idle: Duration, fault: Arc<OnceLock<BodyFault>>) -> Self {
        Self {
            inner,
            idle,
            sleep: Box::pin(tokio::time::sleep(idle)),
            fault,
        }
    }

    fn failed(&self, fault: BodyFault) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let _ = self.fault.set(fault);
        Poll::Ready(Some(Err(Box::new(fault))))
    }
}

impl HttpBody for IdleTimeoutBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Err(_))) => self.failed(BodyFault::Malformed),
            Poll::Ready(frame) => {
                let idle = self.idle;
                self.sleep
                    .as_mut()
                    .reset(tokio::time::Instant::now() + idle);
                Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
            }
            Poll::Pending => match self.sleep.as_mut().poll(cx) {
                Poll::Ready(()) => self.failed(BodyFault::Stalled),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
