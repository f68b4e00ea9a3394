//! A Rust client for tessera.
//!
//! - [`Client`]: every endpoint of the API, async, typed on the wire types the
//!   server itself uses (`tessera-api`), over rustls. A refusal is an
//!   [`Error::Api`] carrying tessera's problem document: branch on its `code`.
//! - [`ChangeStream`]: the tokens that change, as they change (`GET /v1/changes`).
//! - [`guard`] (feature `axum`, on by default): a tower layer that guards axum
//!   routes by scopes and a resource built from the path, verifying through
//!   tessera, with a small cache of recent positive answers that the change
//!   stream keeps exact.

mod changes;
mod client;
mod error;
#[cfg(feature = "axum")]
pub mod guard;

pub use changes::{ChangeStream, StreamEvent};
pub use client::Client;
pub use error::{ApiError, Error};
pub use tessera_api as api;
