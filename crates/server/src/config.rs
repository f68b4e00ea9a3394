//! Configuration: defaults, then a TOML file, then `TESSERA_*` environment variables,
//! then command-line flags (the binary applies those last).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tessera_core::client::TrustedProxies;
use tessera_core::ratelimit::RateLimit;
use tessera_core::record::RateLimitSetting;
use tessera_core::route::{RouteSpec, RouteTable, Unmatched};
use tessera_core::scope::{Level, ScopeCatalogue};
use tessera_core::token::{Pepper, TokenPrefix};
use tessera_engine::{EngineConfig, LeakAction, RateLimitScope, RedisFailure, ReuseAction};

use crate::http::MetricsAccess;
use crate::leaks::{LeakKeyFile, LeakReporters, UnsignedLeaks};
use crate::limits::{Limits, LimitsFile};
use crate::tls::TlsFiles;

/// Where the API listens unless configured: 127.0.0.1:7900.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7900);
pub const DEFAULT_DATA_DIR: &str = "./tessera-data";
pub const DEFAULT_GATEWAY_LISTEN: &str = "127.0.0.1:7901";
/// Milliseconds between polls of a shared store's change feed: the longest a change
/// waits when its notification is lost.
pub const DEFAULT_CHANGE_POLL_MS: u64 = 1000;
/// Minutes of inactivity after which a web UI session ends, unless configured.
pub const DEFAULT_UI_SESSION_IDLE_MINUTES: i64 = 30;
/// Seconds the gateway waits for an upstream's response headers (the request body's
/// upload included) before answering 504.
pub const DEFAULT_UPSTREAM_TIMEOUT: u64 = 300;

/// `[gateway]` in the config file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayFileConfig {
    /// The API to guard, e.g. `http://127.0.0.1:9000`.
    pub upstream: Option<String>,
    pub listen: Option<String>,
    /// Pass the token on to the upstream (it is removed by default).
    #[serde(default)]
    pub forward_credential: bool,
    pub upstream_timeout: Option<u64>,
    /// The gateway listener's certificate chain and key (PEM): it speaks https.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Trust only the CA certificates in this PEM file for an https upstream
    /// (the system's roots otherwise).
    pub upstream_ca: Option<PathBuf>,
}

/// The gateway, checked.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    pub upstream: axum::http::Uri,
    pub listen: SocketAddr,
    pub forward_credential: bool,
    pub upstream_timeout_secs: u64,
    /// Serve the gateway over TLS with these files.
    pub tls: Option<TlsFiles>,
    /// The CA file an https upstream's certificate must chain to.
    pub upstream_ca: Option<PathBuf>,
}

impl GatewayConfig {
    /// Checks an upstream URL: `http://host:port` or `https://host:port`, with an
    /// optional path prefix.
    pub fn new(upstream: &str, listen: Option<&str>) -> Result<Self, String> {
        let uri: axum::http::Uri = upstream.parse().map_err(|_| {
            format!("upstream {upstream:?} is not a URL like http://127.0.0.1:9000")
        })?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none() {
            return Err(format!(
                "upstream {upstream:?} must be an http:// or https:// URL with a host"
            ));
        }
        if uri.query().is_some() {
            return Err(format!("upstream {upstream:?} must not have a query"));
        }
        let listen = listen.unwrap_or(DEFAULT_GATEWAY_LISTEN);
        Ok(Self {
            upstream: uri,
            listen: listen.parse().map_err(|_| {
                format!("gateway listen address {listen:?} is not host:port, e.g. {DEFAULT_GATEWAY_LISTEN}")
            })?,
            forward_credential: false,
            upstream_timeout_secs: DEFAULT_UPSTREAM_TIMEOUT,
            tls: None,
            upstream_ca: None,
        })
    }
}

/// A connection URL that may carry a password: printed without it.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionUrl(String);

impl ConnectionUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // scheme://[user[:password]@]host[:port][/db][?options] -> scheme://host[:port][/db]:
        // a password may be in the user part or among the options.
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("", &self.0));
        let rest = rest.split(['?', '#']).next().unwrap_or_default();
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        write!(f, "{scheme}://{host}")
    }
}

/// A rate limit in the config file: `{ profile = "restricted" }` or `{ per_minute = 60, burst = 10 }`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub profile: Option<String>,
    pub per_minute: Option<u32>,
    pub burst: Option<u32>,
}

/// `[failed_auth]` in the config file.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FailedAuthConfig {
    pub per_minute: u32,
    pub burst: u32,
}

/// One scope of a replacement catalogue.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    pub name: String,
    pub level: Level,
}

/// The config file, as written. Every field is optional.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub token_prefix: Option<String>,
    pub pepper: Option<PepperText>,
    /// Seconds; when set, every new token must expire within it.
    pub max_token_lifetime: Option<u64>,
    pub default_rate_limit: Option<RateLimitConfig>,
    #[serde(default)]
    pub rate_limit_profiles: BTreeMap<String, RateLimitConfig>,
    /// Replaces the default scope catalogue; tessera's own `tokens:*` scopes are always added.
    pub scopes: Option<Vec<ScopeConfig>>,
    /// Milliseconds between writes of usage counts (`last_used_at`, `use_count`).
    pub usage_flush_ms: Option<u64>,
    /// `[[route]]`: what requests to a guarded API need, first match wins.
    #[serde(default)]
    pub route: Vec<RouteSpec>,
    /// What a request that no route matches gets: `deny` or `any_valid_token`.
    #[serde(default)]
    pub unmatched_routes: Unmatched,
    pub gateway: Option<GatewayFileConfig>,
    /// `postgres://…`: keep tokens in PostgreSQL (shared by several nodes) instead of
    /// the data dir's SQLite file.
    pub database_url: Option<String>,
    /// Milliseconds between polls of the change feed (besides its notifications).
    pub change_poll_ms: Option<u64>,
    /// Milliseconds between looks for tokens whose expiry notices are due
    /// (`token.expiring`, `token.expired` webhooks); 60000 by default.
    pub expiry_scan_ms: Option<u64>,
    /// `redis://…`: share rate limits across nodes.
    pub redis_url: Option<String>,
    pub redis_failure: Option<RedisFailure>,
    /// Minutes of inactivity after which a web UI session ends.
    pub ui_session_idle_minutes: Option<u64>,
    /// `[limits]`: connection caps and read timeouts.
    #[serde(default)]
    pub limits: LimitsFile,
    /// Serve `/metrics` on this address instead of the API's.
    pub metrics_listen: Option<String>,
    /// Proxies (addresses or CIDRs) whose `X-Forwarded-For`/`Forwarded` is believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// `[failed_auth]`: the budget of failed authentications per client address.
    pub failed_auth: Option<FailedAuthConfig>,
    /// Ask for a token with `metrics:read` at `/metrics`.
    #[serde(default)]
    pub metrics_require_token: bool,
    /// The API's (and UI's) certificate chain and key (PEM): it speaks https.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Trust only the CA certificates in this PEM file for a `rediss://` Redis
    /// (the system's roots otherwise).
    pub redis_ca_cert: Option<PathBuf>,
    /// Live tokens that may be made through a token that states no
    /// `max_descendants` and whose maker has none.
    pub default_max_descendants: Option<u32>,
    /// Live tokens one owner may have at once.
    pub max_tokens_per_owner: Option<u32>,
    /// `token` (each token's own bucket) or `tree` (also its makers').
    #[serde(default)]
    pub rate_limit_scope: RateLimitScope,
    /// `revoke` (the default) or `report`: what a rotated secret presented after its
    /// grace period sets off.
    #[serde(default)]
    pub on_rotated_reuse: ReuseAction,
    /// Keys secret scanners sign leak reports with (`POST /v1/leaks`).
    #[serde(default)]
    pub leak_report_key: Vec<LeakKeyFile>,
    /// `refuse` (the default) or `accept` an unsigned leak report.
    #[serde(default)]
    pub leak_reports_unsigned: UnsignedLeaks,
    /// `revoke` (the default) or `flag` a live token reported leaked.
    #[serde(default)]
    pub leak_action: LeakAction,
    /// The hosts webhook endpoints may be at; any host when not given.
    #[serde(default)]
    pub webhook_allowed_hosts: Vec<String>,
    /// How long revoked and expired tokens stay in the index (`7d`), or `never`
    /// to keep them.
    pub index_retention: Option<String>,
    /// How long they stay in the store (`90d`), or `never`.
    pub store_retention: Option<String>,
}

/// The checked configuration the server runs with.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// What the engine runs with: token format, catalogue, bounds, route rules.
    pub engine: EngineConfig,
    /// From config or environment; otherwise the data dir's `pepper` file.
    pub pepper: Option<Pepper>,
    pub usage_flush_ms: u64,
    /// Set when tessera also proxies a guarded API.
    pub gateway: Option<GatewayConfig>,
    /// PostgreSQL instead of SQLite.
    pub database_url: Option<ConnectionUrl>,
    pub change_poll_ms: u64,
    pub expiry_scan_ms: u64,
    /// Cluster-wide rate limits in Redis instead of per node.
    pub redis_url: Option<ConnectionUrl>,
    /// A web UI session ends after this long without a request.
    pub ui_session_idle_ms: i64,
    /// Connection caps and read timeouts, on every listener.
    pub limits: Limits,
    /// Where `/metrics` listens when not on the API's address.
    pub metrics_listen: Option<SocketAddr>,
    pub metrics: MetricsAccess,
    /// Serve the API, the UI and `/metrics` over TLS with these files.
    pub tls: Option<TlsFiles>,
    /// The CA file a `rediss://` Redis's certificate must chain to.
    pub redis_ca_cert: Option<PathBuf>,
    /// Who may report leaked tokens.
    pub leak_reporters: LeakReporters,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            engine: EngineConfig::default(),
            pepper: None,
            usage_flush_ms: 1000,
            gateway: None,
            database_url: None,
            change_poll_ms: DEFAULT_CHANGE_POLL_MS,
            expiry_scan_ms: 60_000,
            redis_url: None,
            ui_session_idle_ms: DEFAULT_UI_SESSION_IDLE_MINUTES * 60_000,
            limits: Limits::default(),
            metrics_listen: None,
            metrics: MetricsAccess::default(),
            tls: None,
            redis_ca_cert: None,
            leak_reporters: LeakReporters::default(),
        }
    }
}

/// Where configuration values come from besides the file, so tests can pass their own.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// Why the configuration cannot be used: the file could not be read or parsed (with
/// what the operating system or the TOML parser said), or a value is refused (in
/// words naming the key and what it takes).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Only the parser's message and where: its error quotes the line it stopped at
    /// and keeps the whole file, either of which may hold the pepper.
    #[error("config file {path}, line {line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
}

impl From<String> for ConfigError {
    fn from(words: String) -> Self {
        Self::Invalid(words)
    }
}

impl From<&str> for ConfigError {
    fn from(words: &str) -> Self {
        Self::Invalid(words.to_owned())
    }
}

impl Config {
    /// Reads the file at `path` (if any), then the environment, into a checked config.
    pub fn load(path: Option<&Path>, env: &dyn Environment) -> Result<Self, ConfigError> {
        match path {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                Self::parse(&text, path, env)
            }
            None => Self::from_file(FileConfig::default(), env),
        }
    }

    /// Reads the text of the config file at `path` (named in errors), then the
    /// environment, into a checked config.
    pub fn parse(text: &str, path: &Path, env: &dyn Environment) -> Result<Self, ConfigError> {
        let file = toml::from_str(text).map_err(|error: toml::de::Error| {
            let at = error.span().map_or(0, |span| span.start);
            ConfigError::Parse {
                path: path.to_owned(),
                line: text
                    .get(..at)
                    .map_or(0, |before| before.lines().count().max(1)),
                message: error.message().to_owned(),
            }
        })?;
        Self::from_file(file, env)
    }

    pub fn from_file(file: FileConfig, env: &dyn Environment) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        if let Some(listen) = env.var("TESSERA_LISTEN").or(file.listen) {
            config.listen = listen.parse().map_err(|_| {
                format!("listen address {listen:?} is not host:port, e.g. 127.0.0.1:7900")
            })?;
        }
        if let Some(dir) = env
            .var("TESSERA_DATA_DIR")
            .map(PathBuf::from)
            .or(file.data_dir)
        {
            config.data_dir = dir;
        }
        if let Some(prefix) = env.var("TESSERA_TOKEN_PREFIX").or(file.token_prefix) {
            config.engine.token_prefix = TokenPrefix::new(&prefix)?;
        }
        config.pepper = match (env.var("TESSERA_PEPPER"), file.pepper) {
            (Some(text), _) => Some(pepper(&text, "TESSERA_PEPPER")?),
            (None, Some(PepperText(text))) => Some(pepper(&text, "pepper")?),
            (None, None) => None,
        };
        let lifetime = match env.var("TESSERA_MAX_TOKEN_LIFETIME") {
            Some(text) => Some(text.parse::<u64>().map_err(|_| {
                format!("TESSERA_MAX_TOKEN_LIFETIME {text:?} must be a number of seconds")
            })?),
            None => file.max_token_lifetime,
        };
        config.engine.max_token_lifetime_ms = match lifetime {
            Some(0) => return Err("max_token_lifetime must be at least 1 second".into()),
            Some(seconds) => Some(i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX)),
            None => None,
        };
        for (name, limit) in &file.rate_limit_profiles {
            let checked =
                custom_limit(limit).map_err(|e| format!("rate_limit_profiles.{name}: {e}"))?;
            config.engine.extra_profiles.push((name.clone(), checked));
        }
        if let Some(scopes) = file.scopes {
            config.engine.catalogue =
                ScopeCatalogue::new(scopes.into_iter().map(|s| (s.name, s.level)))?;
        }
        if let Some(limit) = &file.default_rate_limit {
            config.engine.default_rate_limit = Some(rate_limit_setting(&config.engine, limit)?);
        }
        if let Some(minutes) = file.ui_session_idle_minutes {
            if minutes == 0 {
                return Err("ui_session_idle_minutes must be at least 1".into());
            }
            config.ui_session_idle_ms =
                i64::try_from(minutes.min(7 * 24 * 60) * 60_000).unwrap_or(i64::MAX);
        }
        config.limits = Limits::from_file(&file.limits)?;
        if let Some(listen) = env.var("TESSERA_METRICS_LISTEN").or(file.metrics_listen) {
            config.set_metrics_listen(&listen)?;
        }
        config.metrics.require_token = file.metrics_require_token;
        config.engine.default_max_descendants = file.default_max_descendants;
        config.engine.max_tokens_per_owner = file.max_tokens_per_owner;
        config.engine.rate_limit_scope = file.rate_limit_scope;
        config.engine.on_rotated_reuse = file.on_rotated_reuse;
        config.engine.leak_action = file.leak_action;
        config.engine.webhook_allowed_hosts = file
            .webhook_allowed_hosts
            .iter()
            .map(|host| host.trim().to_ascii_lowercase())
            .collect();
        if let Some(text) = &file.index_retention {
            config.engine.index_retention_ms = retention("index_retention", text)?;
        }
        if let Some(text) = &file.store_retention {
            config.engine.store_retention_ms = retention("store_retention", text)?;
        }
        // `None` is for ever: the store must keep at least as long as the index.
        let (index, store) = (
            config.engine.index_retention_ms.unwrap_or(i64::MAX),
            config.engine.store_retention_ms.unwrap_or(i64::MAX),
        );
        if store < index {
            return Err(
                "store_retention is shorter than index_retention: the index would answer for \
                 tokens the store no longer has; make store_retention at least as long"
                    .into(),
            );
        }
        config.leak_reporters =
            LeakReporters::parse(&file.leak_report_key, file.leak_reports_unsigned)?;
        config.tls = TlsFiles::pair(
            env.var("TESSERA_TLS_CERT")
                .map(PathBuf::from)
                .or(file.tls_cert),
            env.var("TESSERA_TLS_KEY")
                .map(PathBuf::from)
                .or(file.tls_key),
            "tls_cert and tls_key",
        )?;
        config.redis_ca_cert = env
            .var("TESSERA_REDIS_CA_CERT")
            .map(PathBuf::from)
            .or(file.redis_ca_cert);
        config.engine.trusted_proxies = TrustedProxies::parse(&file.trusted_proxies)?;
        if let Some(budget) = &file.failed_auth {
            config.engine.failed_auth = Some(
                RateLimit::new(budget.per_minute, budget.burst)
                    .map_err(|e| format!("[failed_auth]: {e}"))?,
            );
        }
        if let Some(ms) = file.usage_flush_ms {
            config.usage_flush_ms = ms.max(10);
        }
        config.engine.routes =
            RouteTable::new(&file.route, file.unmatched_routes, &config.engine.catalogue)?;
        if let Some(gateway) = &file.gateway {
            let upstream = gateway
                .upstream
                .as_deref()
                .ok_or("[gateway] needs upstream = \"http://host:port\"")?;
            let mut checked = GatewayConfig::new(upstream, gateway.listen.as_deref())
                .map_err(|e| format!("[gateway] {e}"))?;
            checked.forward_credential = gateway.forward_credential;
            checked.tls = TlsFiles::pair(
                gateway.tls_cert.clone(),
                gateway.tls_key.clone(),
                "[gateway] tls_cert and tls_key",
            )?;
            checked.upstream_ca = gateway.upstream_ca.clone();
            if let Some(secs) = gateway.upstream_timeout {
                checked.upstream_timeout_secs = secs.max(1);
            }
            config.gateway = Some(checked);
        }
        if let Some(url) = env.var("TESSERA_DATABASE_URL").or(file.database_url) {
            config.set_database_url(&url)?;
        }
        if let Some(ms) = file.expiry_scan_ms {
            config.expiry_scan_ms = ms.max(10);
        }
        if let Some(ms) = file.change_poll_ms {
            config.change_poll_ms = ms.max(10);
        }
        if let Some(url) = env.var("TESSERA_REDIS_URL").or(file.redis_url) {
            config.set_redis_url(&url)?;
        }
        config.engine.redis_failure = match env.var("TESSERA_REDIS_FAILURE") {
            Some(text) => RedisFailure::parse(&text)?,
            None => file.redis_failure.unwrap_or_default(),
        };
        Ok(config)
    }

    /// Checks and sets the PostgreSQL URL (config, environment or `--database-url`).
    /// Serves `/metrics` on `listen` (host:port) instead of the API's address.
    pub fn set_metrics_listen(&mut self, listen: &str) -> Result<(), String> {
        self.metrics_listen = Some(listen.parse().map_err(|_| {
            format!("metrics listen address {listen:?} is not host:port, e.g. 127.0.0.1:7902")
        })?);
        Ok(())
    }

    pub fn set_database_url(&mut self, url: &str) -> Result<(), String> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(
                "database_url must be a PostgreSQL URL, postgres://user:password@host:port/database \
                 (leave it out to use SQLite in the data dir)"
                    .into(),
            );
        }
        self.database_url = Some(ConnectionUrl::new(url));
        Ok(())
    }

    /// Checks and sets the Redis URL (config, environment or `--redis-url`).
    pub fn set_redis_url(&mut self, url: &str) -> Result<(), String> {
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(
                "redis_url must look like redis://host:port (or redis://:password@host:port/db; \
                 rediss:// for TLS)"
                    .into(),
            );
        }
        self.redis_url = Some(ConnectionUrl::new(url));
        Ok(())
    }
}

/// The pepper as the config file gives it: text, read as it is but never printed,
/// so that neither `Debug` nor a parse error can show it.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct PepperText(String);

impl std::fmt::Debug for PepperText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PepperText(<redacted>)")
    }
}

/// The pepper from `text`, or why not, in words that do not hold it.
fn pepper(text: &str, source: &str) -> Result<Pepper, String> {
    Pepper::from_text(text).map_err(|e| format!("{source}: {e}"))
}

/// The default rate limit the config file names, checked against the profiles.
fn rate_limit_setting(
    engine: &EngineConfig,
    limit: &RateLimitConfig,
) -> Result<RateLimitSetting, String> {
    match &limit.profile {
        Some(name) => {
            let found = engine
                .extra_profiles
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, l)| *l)
                .or_else(|| tessera_core::ratelimit::profile(name))
                .ok_or_else(|| format!("default_rate_limit: unknown profile {name:?}"))?;
            Ok(RateLimitSetting {
                profile: Some(name.clone()),
                per_minute: found.per_minute,
                burst: found.burst,
            })
        }
        None => {
            let checked = custom_limit(limit).map_err(|e| format!("default_rate_limit: {e}"))?;
            Ok(RateLimitSetting {
                profile: None,
                per_minute: checked.per_minute,
                burst: checked.burst,
            })
        }
    }
}

fn custom_limit(limit: &RateLimitConfig) -> Result<RateLimit, String> {
    match (limit.profile.as_ref(), limit.per_minute, limit.burst) {
        (None, Some(per_minute), Some(burst)) => RateLimit::new(per_minute, burst),
        _ => Err("give per_minute and burst".into()),
    }
}

/// A retention as config writes it: a duration (`90s`, `15m`, `7d`), or `never`.
fn retention(field: &str, text: &str) -> Result<Option<i64>, String> {
    if text == "never" {
        return Ok(None);
    }
    tessera_core::timefmt::duration_ms(text)
        .map(Some)
        .ok_or_else(|| {
            format!("{field} {text:?} is not a duration such as 90s, 15m or 7d, nor \"never\"")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_urls_print_without_credentials() {
        for (url, shown) in [
            (
                "postgres://tessera:s3cret@db:5432/tessera",
                "postgres://db:5432/tessera",
            ),
            (
                "postgres://db/tessera?password=s3cret&sslmode=disable",
                "postgres://db/tessera",
            ),
            ("redis://:s3cret@cache:6379/0", "redis://cache:6379/0"),
        ] {
            assert_eq!(format!("{:?}", ConnectionUrl::new(url)), shown);
        }
    }

    #[test]
    fn a_file_that_does_not_parse_is_named_without_its_text() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("tessera.toml");
        let secret = "s3cret-pepper-that-is-long-enough-to-use";
        std::fs::write(
            &path,
            format!("listen = \"127.0.0.1:1\"\npepper = {secret}\n"),
        )
        .expect("written");
        let error = Config::load(Some(&path), &Vars(HashMap::new())).expect_err("refused");
        let (shown, debug) = (error.to_string(), format!("{error:?}"));
        assert!(shown.contains("line 2"), "{shown}");
        assert!(
            !shown.contains(secret) && !debug.contains(secret),
            "{shown} {debug}"
        );
    }

    #[test]
    fn retentions_are_durations_or_never_and_the_store_keeps_longer() {
        let load = |text: &str| {
            let file: FileConfig = toml::from_str(text).expect("a config file");
            Config::from_file(file, &Vars(HashMap::new()))
        };
        let config = load("index_retention = \"1d\"\nstore_retention = \"never\"").expect("valid");
        assert_eq!(config.engine.index_retention_ms, Some(86_400_000));
        assert_eq!(config.engine.store_retention_ms, None);
        let defaults = load("").expect("valid");
        assert_eq!(defaults.engine.index_retention_ms, Some(7 * 86_400_000));
        assert_eq!(defaults.engine.store_retention_ms, Some(90 * 86_400_000));
        for (bad, says) in [
            ("index_retention = \"a week\"", "index_retention"),
            (
                "index_retention = \"30d\"\nstore_retention = \"7d\"",
                "shorter",
            ),
            (
                "index_retention = \"never\"\nstore_retention = \"7d\"",
                "shorter",
            ),
        ] {
            let error = load(bad).expect_err(bad).to_string();
            assert!(error.contains(says), "{error}");
        }
    }

    #[test]
    fn the_pepper_never_prints() {
        const PEPPER: &str = "a pepper of more than thirty-two bytes, kept secret";
        let file: FileConfig =
            toml::from_str(&format!("pepper = {PEPPER:?}")).expect("a config file");
        assert!(!format!("{file:?}").contains(PEPPER));
        let config = Config::from_file(file, &Vars(HashMap::new())).expect("a config");
        assert!(config.pepper.is_some());
        assert!(!format!("{config:?}").contains(PEPPER));
        // A pepper too short is refused without being shown.
        let short: FileConfig = toml::from_str("pepper = \"sh0rt-s3cret\"").expect("a config file");
        let refused = Config::from_file(short, &Vars(HashMap::new()))
            .expect_err("too short")
            .to_string();
        assert!(refused.contains("at least 32 bytes") && !refused.contains("sh0rt-s3cret"));
    }
    use std::collections::HashMap;

    struct Vars(HashMap<&'static str, &'static str>);

    impl Environment for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|v| (*v).to_owned())
        }
    }

    #[test]
    fn environment_overrides_the_file() {
        let file: FileConfig = toml::from_str(
            r#"
            listen = "127.0.0.1:1"
            token_prefix = "abc"
            max_token_lifetime = 60
            default_rate_limit = { profile = "partner" }
            [rate_limit_profiles]
            partner = { per_minute = 600, burst = 100 }
            [[scopes]]
            name = "billing:read"
            level = "read"
            "#,
        )
        .unwrap();
        let env = Vars(HashMap::from([("TESSERA_TOKEN_PREFIX", "rly")]));
        let config = Config::from_file(file, &env).unwrap();
        assert_eq!(config.listen.port(), 1);
        assert_eq!(config.engine.token_prefix.as_str(), "rly");
        assert_eq!(config.engine.max_token_lifetime_ms, Some(60_000));
        assert_eq!(config.engine.default_rate_limit.unwrap().per_minute, 600);
        assert!(config.engine.catalogue.names().contains(&"billing:read"));
        assert!(!config.engine.catalogue.names().contains(&"events:publish"));
        assert!(config.engine.catalogue.names().contains(&"tokens:manage"));
    }

    #[test]
    fn routes_and_gateway_are_checked_at_start() {
        let file: FileConfig = toml::from_str(
            r#"
            unmatched_routes = "any_valid_token"
            [[route]]
            method = ["GET", "HEAD"]
            path = "/repo/{repo_id}/{rest...}"
            scopes = ["repo:read"]
            resource = "repo:{repo_id}"
            [gateway]
            upstream = "http://127.0.0.1:9000/base"
            "#,
        )
        .unwrap();
        let config = Config::from_file(file, &Vars(HashMap::new())).unwrap();
        assert!(!config.engine.routes.is_empty());
        let gateway = config.gateway.unwrap();
        assert_eq!(gateway.listen.port(), 7901);
        assert_eq!(gateway.upstream.path(), "/base");

        let bad: FileConfig = toml::from_str(
            r#"
            [[route]]
            path = "/apps/{id}"
            resource = "app:{app_id}"
            "#,
        )
        .unwrap();
        let error = Config::from_file(bad, &Vars(HashMap::new()))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("route 1 (* /apps/{id})"), "{error}");
        let other_scheme: FileConfig = toml::from_str("[gateway]\nupstream = \"ftp://x\"").unwrap();
        assert!(
            Config::from_file(other_scheme, &Vars(HashMap::new()))
                .unwrap_err()
                .to_string()
                .contains("https://")
        );
        let half_tls: FileConfig =
            toml::from_str("[gateway]\nupstream = \"https://x\"\ntls_cert = \"/etc/cert.pem\"")
                .unwrap();
        assert!(
            Config::from_file(half_tls, &Vars(HashMap::new()))
                .unwrap_err()
                .to_string()
                .contains("both")
        );
    }

    #[test]
    fn mistakes_are_explained() {
        let unknown: Result<FileConfig, _> = toml::from_str("lisen = \"x\"");
        assert!(unknown.unwrap_err().to_string().contains("lisen"));
        let bad = FileConfig {
            token_prefix: Some("RLY".into()),
            ..FileConfig::default()
        };
        assert!(
            Config::from_file(bad, &Vars(HashMap::new()))
                .unwrap_err()
                .to_string()
                .contains("prefix")
        );
    }
}
