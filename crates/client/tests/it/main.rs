//! tessera-client against a real tessera, started in this process on a free
//! loopback port with a fresh SQLite store.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    reason = "a test: a failed assumption is a failed test"
)]

mod calls;
mod guard;
mod support;
