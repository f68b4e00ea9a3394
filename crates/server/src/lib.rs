//! tessera's server: the HTTP API, the web UI, the gateway, and starting and
//! stopping it all around a [`tessera_engine::Engine`].
//!
//! Layers, from the outside in: `http` (parse, call, map errors), `ui` (the same
//! calls as pages and forms) and `gateway` (proxy a guarded API) -> the engine
//! (`tessera_engine`: who may do what, the index, the guard decision) ->
//! `tessera_store` (durability) -> `tessera_core` (pure rules). `app` opens the
//! store and the engine and runs the listeners and background tasks.

pub mod app;
pub mod backup;
pub mod config;
pub mod gateway;
pub mod http;
pub mod leaks;
pub mod limits;
pub mod tls;
pub mod ui;
pub mod webhooks;

pub use app::{Server, StartError};
pub use config::Config;
pub use tessera_engine::Engine;
