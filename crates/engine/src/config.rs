//! What the engine runs with: the token format, the scope catalogue, the bounds on
//! what tokens may be given, the route rules and the shared limiter's failure mode.
//! The server reads these from its configuration file and environment.

use serde::Deserialize;
use tessera_core::client::TrustedProxies;
use tessera_core::ratelimit::RateLimit;
use tessera_core::record::RateLimitSetting;
use tessera_core::route::RouteTable;
use tessera_core::scope::ScopeCatalogue;
use tessera_core::token::TokenPrefix;

/// The engine's settings, checked.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub token_prefix: TokenPrefix,
    /// The longest a token may live; `None`: no limit.
    pub max_token_lifetime_ms: Option<i64>,
    /// The rate limit of a token created without one, if any.
    pub default_rate_limit: Option<RateLimitSetting>,
    /// Named rate-limit profiles beside the built-in ones.
    pub extra_profiles: Vec<(String, RateLimit)>,
    pub catalogue: ScopeCatalogue,
    /// What a guarded request needs.
    pub routes: RouteTable,
    pub redis_failure: RedisFailure,
    /// Failed authentications each client address may make; `None`: not counted.
    pub failed_auth: Option<RateLimit>,
    /// Proxies whose word on a request's client is believed.
    pub trusted_proxies: TrustedProxies,
    /// The bound on live descendants of a token that states none and whose maker
    /// has none; `None`: unbounded.
    pub default_max_descendants: Option<u32>,
    /// Live tokens one owner may have at once; `None`: unbounded.
    pub max_tokens_per_owner: Option<u32>,
    /// Whose buckets a request spends: its token's, or also its makers'.
    pub rate_limit_scope: RateLimitScope,
    /// What a rotated secret presented after its grace period sets off.
    pub on_rotated_reuse: ReuseAction,
    /// What a leak report of a live token does.
    pub leak_action: LeakAction,
    /// The hosts webhook endpoints may be at (names or addresses, as URLs write
    /// them); empty: any host, loopback included.
    pub webhook_allowed_hosts: Vec<String>,
    /// How long a revoked or expired token stays in the index (answering `REVOKED`
    /// or `EXPIRED`) before it goes (`NOT_FOUND`); `None`: for ever.
    pub index_retention_ms: Option<i64>,
    /// How long it stays in the store; `None`: for ever.
    pub store_retention_ms: Option<i64>,
}

/// The default `index_retention`: 7 days.
pub const DEFAULT_INDEX_RETENTION_MS: i64 = 7 * 86_400_000;
/// The default `store_retention`: 90 days.
pub const DEFAULT_STORE_RETENTION_MS: i64 = 90 * 86_400_000;

/// What tessera does with a live token a secret scanner reports found in public.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LeakAction {
    /// Revoke it and every token made through it (and log it).
    #[default]
    Revoke,
    /// Log it only, for someone to look at.
    Flag,
}

impl LeakAction {
    pub fn as_str(self) -> &'static str {
        match self {
            LeakAction::Revoke => "revoke",
            LeakAction::Flag => "flag",
        }
    }
}

/// What tessera does when a secret a rotation retired is presented after its grace
/// period: someone kept a copy of it, so the token is likely stolen.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReuseAction {
    /// Revoke the token and every token made through it (and log it).
    #[default]
    Revoke,
    /// Log it only.
    Report,
}

impl ReuseAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ReuseAction::Revoke => "revoke",
            ReuseAction::Report => "report",
        }
    }
}

/// Whose rate-limit buckets a request spends.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitScope {
    /// The token's own bucket: each token is limited on its own.
    #[default]
    Token,
    /// The token's bucket and that of every token it was made through: a manager's
    /// budget bounds everything its subtree does, however many tokens it makes.
    Tree,
}

/// 30 failed authentications a minute, in bursts of up to 60.
pub const DEFAULT_FAILED_AUTH: RateLimit = RateLimit {
    per_minute: 30,
    burst: 60,
};

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            token_prefix: TokenPrefix::default(),
            max_token_lifetime_ms: None,
            default_rate_limit: None,
            extra_profiles: Vec::new(),
            catalogue: ScopeCatalogue::default_catalogue(),
            routes: RouteTable::default(),
            redis_failure: RedisFailure::Open,
            failed_auth: Some(DEFAULT_FAILED_AUTH),
            trusted_proxies: TrustedProxies::default(),
            default_max_descendants: None,
            max_tokens_per_owner: None,
            rate_limit_scope: RateLimitScope::Token,
            on_rotated_reuse: ReuseAction::Revoke,
            leak_action: LeakAction::Revoke,
            webhook_allowed_hosts: Vec::new(),
            index_retention_ms: Some(DEFAULT_INDEX_RETENTION_MS),
            store_retention_ms: Some(DEFAULT_STORE_RETENTION_MS),
        }
    }
}

impl EngineConfig {
    /// Every named rate-limit profile: the built-in ones, then the configured ones.
    pub fn rate_limit_profiles(&self) -> Vec<(String, RateLimit)> {
        tessera_core::ratelimit::PROFILES
            .iter()
            .map(|(name, limit)| ((*name).to_owned(), *limit))
            .chain(self.extra_profiles.iter().cloned())
            .collect()
    }
}

/// What a check of a rate-limited token does when the shared limiter (Redis) cannot
/// be reached.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RedisFailure {
    /// Go on with this node's own limiter (limits then hold per node, not per
    /// cluster); counted in `/metrics` and logged.
    #[default]
    Open,
    /// Deny as rate-limited (429, `Retry-After: 1`) until Redis answers again.
    Closed,
}

impl RedisFailure {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "open" => Ok(Self::Open),
            "closed" => Ok(Self::Closed),
            _ => Err(format!(
                "redis_failure {text:?} must be \"open\" or \"closed\""
            )),
        }
    }
}
