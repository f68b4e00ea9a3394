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
use tessera_core::usage::{Balance, Caps};

/// How long a connection attempt or a check may take before Redis counts as down.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// How long the limiter leaves Redis alone after a failure.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_millis(500);
const KEY_PREFIX: &str = "tessera:rl:";
const CAPS_PREFIX: &str = "tessera:caps:";

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
    caps_script: Script,
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
            caps_script: Script::new(include_str!("caps.lua")),
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
            within_timeout(invocation.invoke_async(&mut connection)).await;
        match answer {
            Ok((allowed, remaining, reset_ms, retry_after_ms, bucket)) => {
                self.answered();
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

    /// Spends a use and `cost` credits from the counters every node shares for
    /// `token_id`'s caps (see caps.lua), starting them from `known` (this node's
    /// balance, which the store's counts started) where Redis has none: the
    /// balance after, `Ok` when allowed, `Err` as it stands when refused.
    pub async fn spend_caps(
        &self,
        token_id: &str,
        caps: &Caps,
        known: Balance,
        cost: u64,
        now_ms: i64,
    ) -> Result<Result<Balance, Balance>, LimiterError> {
        /// An idle count is kept this long (a refill period and more); one Redis
        /// lost starts again from what the nodes know.
        const KEEP_MS: u64 = 40 * 86_400_000;
        let mut connection = self.connection().await?;
        let mut invocation = self.caps_script.prepare_invoke();
        let credits = caps.credits;
        let refill = credits.and_then(|c| c.refill);
        invocation
            .key(format!("{CAPS_PREFIX}uses:{token_id}"))
            .key(format!(
                "{CAPS_PREFIX}credits:{token_id}:{}",
                credits.map_or(0, |c| c.set_at)
            ))
            .arg(
                caps.max_uses
                    .map_or(-1, |most| i64::try_from(most).unwrap_or(i64::MAX)),
            )
            .arg(known.uses)
            .arg(u8::from(credits.is_some()))
            .arg(known.credits_left)
            .arg(known.period)
            .arg(refill.map_or(-1, |r| i64::try_from(r.amount).unwrap_or(i64::MAX)))
            .arg(refill.map_or(0, |r| r.every.period(now_ms)))
            .arg(cost)
            .arg(KEEP_MS);
        let answer: Result<(u8, u64, u64, i64), _> =
            within_timeout(invocation.invoke_async(&mut connection)).await;
        match answer {
            Ok((allowed, uses, credits_left, period)) => {
                self.answered();
                let balance = Balance {
                    uses,
                    credits_left,
                    period,
                };
                Ok(if allowed == 1 {
                    Ok(balance)
                } else {
                    Err(balance)
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
    /// Notes that Redis answered, and says so once after an outage.
    fn answered(&self) {
        if self.down.swap(false, Ordering::AcqRel) {
            tracing::info!(
                "Redis answers again; rate limits and usage caps are shared across nodes again"
            );
        }
    }

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

/// A script call that gives up after [`REDIS_TIMEOUT`], as an I/O error.
async fn within_timeout<T>(
    call: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    tokio::time::timeout(REDIS_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from((
                redis::ErrorKind::IoError,
                "timed out",
            )))
        })
}
