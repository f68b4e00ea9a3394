//! The caller of an API endpoint, authenticated before the body is read, with the
//! scope the endpoint needs named in its type.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tessera_core::scope::{TOKENS_MANAGE, TOKENS_READ, TOKENS_VERIFY};

use crate::http::credentials;
use crate::service::{Caller, Engine};

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

/// An authenticated caller whose token has the scope `N` names.
pub struct Authed<N: Needs>(pub Caller, pub PhantomData<N>);

impl<N: Needs> FromRequestParts<Arc<Engine>> for Authed<N> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        engine: &Arc<Engine>,
    ) -> Result<Self, Self::Rejection> {
        let credential =
            credentials::from_headers(&parts.headers).map_err(IntoResponse::into_response)?;
        let caller = engine
            .authenticate(&credential, N::SCOPE)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Self(caller, PhantomData))
    }
}
