//! Integration tests: the real server on a free port, driven over HTTP.

mod bad_input;
mod browser;
mod flows;
mod guard;
mod helpers;
mod lifecycle;
mod listing;
mod managers;
mod ui;
mod wire;
