//! Integration tests: the real server on a free port, driven over HTTP.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    reason = "a test: a failed assumption is a failed test"
)]

mod audit;
mod bad_input;
mod browser;
mod changes;
mod flows;
mod guard;
mod helpers;
mod leaks;
mod lifecycle;
mod listing;
mod managers;
mod metrics;
mod network;
mod rotation;
mod ui;
mod usage_caps;
mod webhooks;
mod wire;
