//! Cluster-wide rate limits: one GCRA bucket per token in Redis, shared by every node.
//!
//! A check is one `EVALSHA` of `gcra.lua` (one round trip), which reads the clock with
//! Redis' `TIME`, so nodes whose clocks disagree still share one timeline.
//!
//! When Redis does not answer, a check fails fast: the limiter then stays away from
//! Redis for [`RETRY_AFTER_FAILURE`] (so a dead Redis costs no latency per request) and
//! tries again after it, which is how it recovers by itself. What the check does
//! meanwhile is the operator's choice (`redis_failure`), applied by the engine.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Script};
use tessera_core::ratelimit::{RateDecision, RateLimit};

/// How long a connection attempt or a check may take before Redis counts as down.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// How long the limiter leaves Redis alone after a failure.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_millis(500);
const KEY_PREFIX: &str = "tessera:rl:";

/// Why the shared limiter gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum LimiterError {
    #[error("Redis is unavailable: {0}")]
    Unavailable(String),
    /// Redis failed a moment ago; not asked again yet.
    #[error("Redis failed recently; not retried yet")]
    Resting,
}

pub struct SharedLimiter {
    client: Client,
    script: Script,
    /// The open connection (multiplexed: every check shares it).
    connection: ArcSwapOption<MultiplexedConnection>,
    /// Held by the one check that (re)connects; the others do not queue behind it.
    connecting: tokio::sync::Mutex<()>,
    /// Microseconds since `epoch` before which Redis is not asked (0: ask).
    resting_until_us: AtomicU64,
    epoch: Instant,
    down: AtomicBool,
}

impl SharedLimiter {
    /// Checks the URL; connects on first use, so a node starts while Redis is down.
    /// A limiter on the Redis at `url`; a `rediss://` one is trusted when its
    /// certificate chains to `ca_pem` (PEM), or to the system's roots without it.
    pub fn new(url: &str, ca_pem: Option<Vec<u8>>) -> Result<Self, String> {
        let client = match ca_pem {
            Some(root_cert) => Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root_cert),
                },
            ),
            None => Client::open(url),
        }
        .map_err(|e| format!("redis_url is not valid: {e}"))?;
        Ok(Self {
            client,
            script: Script::new(include_str!("gcra.lua")),
            connection: ArcSwapOption::empty(),
            connecting: tokio::sync::Mutex::new(()),
            resting_until_us: AtomicU64::new(0),
            epoch: Instant::now(),
            down: AtomicBool::new(false),
        })
    }

    /// Spends one request of `limit` from the bucket of `token_id`.
    pub async fn check(
        &self,
        token_id: &str,
        limit: &RateLimit,
    ) -> Result<RateDecision, LimiterError> {
        self.check_buckets(&[(token_id, *limit)], None).await
    }

    /// [`SharedLimiter::check`] with "now" given as nanoseconds since the epoch instead
    /// of Redis' clock: for tests that compare it with the in-process limiter.
    pub async fn check_at(
        &self,
        token_id: &str,
        limit: &RateLimit,
        now_ns: Option<u64>,
    ) -> Result<RateDecision, LimiterError> {
        self.check_buckets(&[(token_id, *limit)], now_ns).await
    }

    /// Spends one request from the buckets of several tokens at once, each under its
    /// limit, or from none (see gcra.lua); `now_ns` as in [`SharedLimiter::check_at`].
    /// The decision is the refusing bucket's, or the tightest one's.
    pub async fn check_buckets(
        &self,
        buckets: &[(&str, RateLimit)],
        now_ns: Option<u64>,
    ) -> Result<RateDecision, LimiterError> {
        let mut connection = self.connection().await?;
        let mut invocation = self.script.prepare_invoke();
        for (token_id, limit) in buckets {
            invocation
                .key(format!("{KEY_PREFIX}{token_id}"))
                .arg(limit.interval_ns())
                .arg(limit.capacity_ns());
        }
        if let Some(now) = now_ns {
            invocation.arg(now / 1_000_000_000).arg(now % 1_000_000_000);
        }
        let answer: Result<(u8, u64, u64, u64, usize), _> =
            tokio::time::timeout(REDIS_TIMEOUT, invocation.invoke_async(&mut connection))
                .await
                .unwrap_or_else(|_| {
                    Err(redis::RedisError::from((
                        redis::ErrorKind::IoError,
                        "timed out",
                    )))
                });
        match answer {
            Ok((allowed, remaining, reset_ms, retry_after_ms, bucket)) => {
                if self.down.swap(false, Ordering::AcqRel) {
                    tracing::info!(
                        "Redis answers again; rate limits are shared across nodes again"
                    );
                }
                // Lua counts from 1.
                let limit = bucket
                    .checked_sub(1)
                    .and_then(|at| buckets.get(at))
                    .map_or(0, |(_, limit)| limit.burst);
                Ok(RateDecision {
                    allowed: allowed == 1,
                    limit,
                    remaining: u32::try_from(remaining).unwrap_or(u32::MAX),
                    reset_ms,
                    retry_after_ms,
                })
            }
            Err(error) => Err(self.failed(error.to_string())),
        }
    }

    /// The open connection, or a new one. Checks that arrive while one connects wait
    /// for it and share its outcome: if it failed, they fail at once (resting), so a
    /// Redis that does not answer costs one connection attempt at a time, not one per
    /// request.
    async fn connection(&self) -> Result<MultiplexedConnection, LimiterError> {
        if let Some(connection) = self.connection.load_full() {
            return Ok((*connection).clone());
        }
        if self.resting() {
            return Err(LimiterError::Resting);
        }
        let _connecting = self.connecting.lock().await;
        if let Some(connection) = self.connection.load_full() {
            return Ok((*connection).clone());
        }
        if self.resting() {
            return Err(LimiterError::Resting);
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(REDIS_TIMEOUT)
            .set_response_timeout(REDIS_TIMEOUT);
        match self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(connection) => {
                self.connection.store(Some(Arc::new(connection.clone())));
                Ok(connection)
            }
            Err(error) => Err(self.failed(error.to_string())),
        }
    }

    /// Forgets the connection and rests; logs once per outage.
    fn failed(&self, detail: String) -> LimiterError {
        self.connection.store(None);
        let until =
            self.elapsed_us() + u64::try_from(RETRY_AFTER_FAILURE.as_micros()).unwrap_or(u64::MAX);
        self.resting_until_us.store(until, Ordering::Release);
        if !self.down.swap(true, Ordering::AcqRel) {
            tracing::warn!(%detail, "Redis does not answer; rate limits fall back until it does");
        }
        LimiterError::Unavailable(detail)
    }

    fn resting(&self) -> bool {
        self.elapsed_us() < self.resting_until_us.load(Ordering::Acquire)
    }

    fn elapsed_us(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}
