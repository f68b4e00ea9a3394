//! The caller of an API endpoint, authenticated before the body is read, with the
//! scope the endpoint needs named in its type.

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::Response;
use tessera_core::scope::{METRICS_READ, TOKENS_MANAGE, TOKENS_READ, TOKENS_VERIFY};

use crate::http::credentials::{self, CredentialHeaders};
use crate::http::problem;
use tessera_engine::{Caller, Engine};

/// The scope an endpoint needs.
pub trait Needs: Send + Sync + 'static {
    const SCOPE: Option<&'static str>;
}

/// Any valid token (whoami, self-revocation).
pub struct AnyToken;
/// `tokens:read`.
pub struct ReadTokens;
/// `tokens:manage`.
pub struct ManageTokens;
/// `tokens:verify`.
pub struct VerifyTokens;
/// `metrics:read`, where the deployment asks for a token at `/metrics`.
pub struct ReadMetrics;

impl Needs for AnyToken {
    const SCOPE: Option<&'static str> = None;
}
impl Needs for ReadTokens {
    const SCOPE: Option<&'static str> = Some(TOKENS_READ);
}
impl Needs for ManageTokens {
    const SCOPE: Option<&'static str> = Some(TOKENS_MANAGE);
}
impl Needs for VerifyTokens {
    const SCOPE: Option<&'static str> = Some(TOKENS_VERIFY);
}
impl Needs for ReadMetrics {
    const SCOPE: Option<&'static str> = Some(METRICS_READ);
}

/// An authenticated caller whose token has the scope `N` names.
pub struct Authed<N: Needs>(pub Caller, pub PhantomData<N>);

impl<N: Needs> FromRequestParts<Arc<Engine>> for Authed<N> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        engine: &Arc<Engine>,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        let mut caller = caller(engine, &parts.headers, peer, N::SCOPE).await?;
        caller.origin.request_id = crate::http::origin::request_id(parts);
        Ok(Self(caller, PhantomData))
    }
}

/// The caller a request's headers name, if its token works and has `scope`; else
/// the problem answer. `peer` is the connection's address.
pub(crate) async fn caller(
    engine: &Engine,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    scope: Option<&'static str>,
) -> Result<Caller, Response> {
    let found = CredentialHeaders::in_headers(headers);
    let client = credentials::client_of(engine, peer, &found);
    let credential = credentials::from_found(&found).map_err(problem::error_response)?;
    engine
        .authenticate(&credential, scope, client)
        .await
        .map_err(problem::error_response)
}
