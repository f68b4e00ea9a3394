//! What every connection to a listener runs once hyper serves it, as a hyper service.
//!
//! An API connection starts on tessera's own loop ([`super::direct`]) and comes here
//! at its first request that the loop does not take (all of them with request
//! logging on). Here too the two calls a guarded API makes before each of its own
//! requests (forward-auth and `POST /v1/verify`) go straight to their handlers, and
//! everything else through the router: a backend may well manage tokens and verify
//! them on one connection. Measured on one core, the router and its layers (route
//! matching, boxed route services, the panic-guard layer, request extensions) cost
//! about as much per request as the token check itself. The direct path keeps what
//! the layers give: a panic is answered with the same 500 problem, and `/v1/verify`
//! has the same body limit. With request logging on (debug level) every request
//! takes the router, whose trace layer does the logging.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::Method;
use axum::response::Response;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use hyper::body::Incoming;
use tower::ServiceExt;

use crate::http::{authz, verify};
use crate::service::Engine;

type Answer = BoxFuture<'static, Result<Response, Infallible>>;

/// The API listener's service: the hot paths direct, the rest through the router.
#[derive(Clone)]
pub struct ApiFront {
    engine: Arc<Engine>,
    router: Router,
    direct: bool,
}

impl ApiFront {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self {
            router: super::router(Arc::clone(&engine)),
            engine,
            direct: !super::request_logging(),
        }
    }

    /// The engine the hot paths ask, when they are answered without the router.
    pub fn direct_engine(&self) -> Option<&Arc<Engine>> {
        self.direct.then_some(&self.engine)
    }
}

impl hyper::service::Service<hyper::Request<Incoming>> for ApiFront {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, request: hyper::Request<Incoming>) -> Answer {
        if self.direct {
            let path = request.uri().path();
            if authz::answers_on(path) {
                let engine = Arc::clone(&self.engine);
                // The call has no body to read: only its head goes into the future.
                let (parts, _) = request.into_parts();
                return guarded(async move { authz::answer(&engine, &parts).await });
            }
            if path == super::VERIFY_PATH && request.method() == Method::POST {
                let engine = Arc::clone(&self.engine);
                return guarded(async move {
                    let answer = verify::answer(&engine, request).await;
                    // Written after the other connections ready in this turn have
                    // been answered, as on tessera's own loop (`direct::serve`).
                    tokio::task::yield_now().await;
                    answer
                });
            }
        }
        Box::pin(self.router.clone().oneshot(request))
    }
}

/// A router that knows which client it serves ([`ConnectInfo`]): the gateway's.
#[derive(Clone)]
pub struct ConnectedRouter {
    pub router: Router,
    pub client: SocketAddr,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnectedRouter {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Answer {
        request.extensions_mut().insert(ConnectInfo(self.client));
        Box::pin(self.router.clone().oneshot(request))
    }
}

/// Runs a handler as the router's panic guard would: a panic is answered with the
/// same 500 problem, never with the panic's text.
fn guarded(handler: impl Future<Output = Response> + Send + 'static) -> Answer {
    Box::pin(async move {
        Ok(AssertUnwindSafe(handler)
            .catch_unwind()
            .await
            .unwrap_or_else(|_| super::panic_response()))
    })
}
