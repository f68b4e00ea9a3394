//! tessera's service: the in-memory verification index, the token lifecycle over a
//! storage backend, the HTTP API and the web UI.
//!
//! Layers, from the outside in: `http` (parse, call, map errors), `ui` (the same
//! calls as pages and forms) and `gateway`
//! (proxy a guarded API) -> `guard` (route rules + token, for guarded requests) -> `service`
//! (who may do what, write ordering) -> `index` (the hot path) and
//! `tessera_store` (durability) -> `tessera_core` (pure rules).

pub mod app;
pub mod config;
pub mod error;
pub mod feed;
pub mod gateway;
pub mod guard;
pub mod http;
pub mod index;
pub mod limiter;
pub mod metrics;
pub mod service;
pub mod ui;

pub use app::{Server, StartError};
pub use config::Config;
pub use service::Engine;
