//! tessera's domain core: the token format, scopes, resources, rate-limit arithmetic,
//! validation of token settings and the verification decision.
//!
//! Everything here is plain synchronous Rust without I/O (the OS random generator
//! aside), so it can be unit- and property-tested exhaustively and reused unchanged by
//! every storage backend and every way of presenting a token.

pub mod audit;
pub mod base62;
pub mod client;
pub mod clock;
pub mod credential;
pub mod fields;
pub mod grant;
pub mod network;
pub mod random;
pub mod ratelimit;
pub mod record;
pub mod resource;
pub mod route;
pub mod scan;
pub mod scope;
pub mod timefmt;
pub mod token;
pub mod usage;
pub mod verify;
pub mod webhook;
