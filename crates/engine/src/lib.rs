//! tessera's engine: everything that decides about tokens, with no transport in it.
//!
//! Layers, from the outside in: [`guard`] (route rules + token, for guarded
//! requests) -> [`lifecycle`] (the [`Engine`]: who may do what, write ordering) ->
//! [`index`] (the hot path, in memory) and `tessera_store` (durability) ->
//! `tessera_core` (pure rules). [`feed`] keeps the index up to date with other
//! nodes' writes, and [`limiter`] shares rate-limit buckets across nodes. Errors are
//! one type, [`EngineError`], which the server maps to HTTP in one place.

pub mod changes;
pub mod config;
pub mod error;
pub mod failures;
pub mod feed;
pub mod guard;
pub mod index;
pub mod lifecycle;
pub mod limiter;
pub mod metrics;
pub mod pace;

pub use config::{EngineConfig, LeakAction, RateLimitScope, RedisFailure, ReuseAction};
pub use error::EngineError;
pub use lifecycle::{
    Actor, AdminStanding, Caller, ChainReport, CheckOutcome, Credential, Engine, LeakLabel,
    LeakSource, MAX_AUDIT_PAGE, Origin, SharedCheck,
};
pub use tessera_store::{AuditPage, AuditQuery};
