//! Bounds on what clients' connections may hold: how many at once, from one address
//! and in all, and how long each may take to send a request.
//!
//! tessera is the first thing an attacker meets in front of an API, so a client that
//! opens connections and sends nothing, or one byte every few seconds, must not hold
//! them for ever. Every listener (the API's own loop and its hyper path, the UI, the
//! gateway) keeps the same three timeouts, measured from the same moments
//! ([`Activity`]), and the same caps ([`ConnectionGate`]).

mod activity;
mod body;
mod gate;

use std::time::Duration;

use serde::Deserialize;

pub use activity::{Activity, PhaseTimer, REQUEST_TIMEOUT_ANSWER, TryWriteNow, Watched};
pub use body::{BodyFault, IdleTimeoutBody, whole_body_in_time};
pub use gate::{Admitted, ConnectionGate};

/// `[limits]`, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// From a connection's start, or from the first byte of a later request, to the
    /// end of the request's head. A connection that sends nothing is closed after it.
    pub header_read_timeout: Duration,
    /// For a whole API or UI request body; on the gateway, which streams bodies of any
    /// size, the longest wait between two pieces of a body.
    pub body_read_timeout: Duration,
    /// Between kept-alive requests: from an answer to the next request's first byte.
    pub idle_timeout: Duration,
    /// Connections open at once, from every address.
    pub max_connections: usize,
    /// Connections open at once from one address.
    pub max_connections_per_address: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            max_connections_per_address: 256,
        }
    }
}

/// `[limits]` in the config file, as written: durations as text (`"10s"`, `"1m"`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub header_read_timeout: Option<String>,
    pub body_read_timeout: Option<String>,
    pub idle_timeout: Option<String>,
    pub max_connections: Option<usize>,
    pub max_connections_per_address: Option<usize>,
}

impl Limits {
    /// The defaults, with what the file sets.
    pub fn from_file(file: &LimitsFile) -> Result<Self, String> {
        let defaults = Self::default();
        let duration = |key: &str, text: &Option<String>, default: Duration| match text {
            None => Ok(default),
            Some(text) => match humantime::parse_duration(text) {
                Ok(duration) if !duration.is_zero() => Ok(duration),
                _ => Err(format!(
                    "limits.{key} {text:?} must be a duration above zero, like \"10s\", \"1m\" or \"500ms\""
                )),
            },
        };
        let count = |key: &str, value: Option<usize>, default: usize| match value {
            None => Ok(default),
            Some(0) => Err(format!("limits.{key} must be at least 1")),
            Some(value) => Ok(value),
        };
        Ok(Self {
            header_read_timeout: duration(
                "header_read_timeout",
                &file.header_read_timeout,
                defaults.header_read_timeout,
            )?,
            body_read_timeout: duration(
                "body_read_timeout",
                &file.body_read_timeout,
                defaults.body_read_timeout,
            )?,
            idle_timeout: duration("idle_timeout", &file.idle_timeout, defaults.idle_timeout)?,
            max_connections: count(
                "max_connections",
                file.max_connections,
                defaults.max_connections,
            )?,
            max_connections_per_address: count(
                "max_connections_per_address",
                file.max_connections_per_address,
                defaults.max_connections_per_address,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        let file = LimitsFile {
            header_read_timeout: Some("2s".into()),
            idle_timeout: Some("1m 30s".into()),
            max_connections: Some(5),
            ..LimitsFile::default()
        };
        let limits = Limits::from_file(&file).unwrap();
        assert_eq!(limits.header_read_timeout, Duration::from_secs(2));
        assert_eq!(limits.idle_timeout, Duration::from_secs(90));
        assert_eq!(limits.body_read_timeout, Duration::from_secs(30));
        assert_eq!(limits.max_connections, 5);
        for bad in ["0s", "soon", "10"] {
            let file = LimitsFile {
                body_read_timeout: Some(bad.into()),
                ..LimitsFile::default()
            };
            let error = Limits::from_file(&file).unwrap_err();
            assert!(error.contains("limits.body_read_timeout"), "{error}");
        }
        let none = LimitsFile {
            max_connections_per_address: Some(0),
            ..LimitsFile::default()
        };
        assert!(Limits::from_file(&none).is_err());
    }
}
