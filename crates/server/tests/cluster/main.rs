//! Several nodes, one cluster: real PostgreSQL (and Redis) servers started by the
//! tests, tessera nodes on free loopback ports sharing them, driven over HTTP.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    reason = "a test: a failed assumption is a failed test"
)]

mod limits;
mod nodes;
mod outages;
mod propagation;
mod webhooks;
