//! Shared pieces of tessera's benchmarks: realistic tokens, an index of any size
//! built without a database, and the requests each verification outcome needs.
//!
//! The benchmarks themselves are `benches/verify.rs` (in-process verification,
//! `cargo bench`), `src/bin/baseline.rs` (the bare HTTP server the HTTP benchmarks
//! compare against) and `src/bin/scale.rs` (memory, start-up and write throughput).
//! `scripts/bench` runs them all and `BENCHMARKS.md` reports them.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    reason = "a benchmark: a setup that fails stops the run, loudly"
)]

use std::sync::Arc;

use tessera_core::clock::ManualClock;
use tessera_core::record::{RateLimitSetting, ScopeGrant, Settings, TokenRecord};
use tessera_core::resource::{Resource, ResourceScope};
use tessera_core::scope::ScopeCatalogue;
use tessera_core::token::{Pepper, SecretToken, TokenHasher, TokenPrefix};
use tessera_core::verify::{Code, Requirement};
use tessera_engine::index::TokenIndex;
use tessera_engine::{Engine, EngineConfig};
use tessera_store::SqliteStore;

/// Tokens whose text a benchmark keeps, to present them: enough that their index
/// entries do not all sit in the CPU caches, as in a real deployment.
pub const SAMPLE: usize = 65_536;

/// When a realistic token's fixed expiry falls: far in the future.
const FAR_FUTURE_MS: i64 = 4_102_444_800_000;

/// A fixed "now" for every benchmark decision, before every expiry.
pub const NOW_MS: i64 = 1_800_000_000_000;

/// The settings of the `i`th realistic token: a name and owner of the usual length,
/// two scopes, one resource, a rate limit generous enough never to refuse the
/// benchmark's own requests, and an expiry.
pub fn realistic_settings(i: usize) -> Settings {
    Settings {
        name: format!("ci-deploy-web-{i:08}").as_str().try_into().unwrap(),
        description: None,
        scopes: ScopeGrant::Patterns(vec!["repo:read".into(), "repo:write".into()]),
        resources: ResourceScope::parse(Some(&[format!("repo:{}", repo_id(i))])).unwrap(),
        rate_limit: Some(RateLimitSetting {
            profile: None,
            per_minute: 600_000,
            burst: 1_000,
        }),
        expires_at: Some(FAR_FUTURE_MS),
        owner: Some(
            format!("user_{:08}", i % 1_000_000)
                .as_str()
                .try_into()
                .unwrap(),
        ),
        ..Settings::default()
    }
}

/// The repository the `i`th token is scoped to.
pub fn repo_id(i: usize) -> String {
    format!("acme-{i:08}")
}

/// A fixed pepper, so runs are comparable.
pub fn pepper() -> Pepper {
    Pepper::new(vec![7; 32]).unwrap_or_else(|e| unreachable!("{e}"))
}

/// A token record as the service would store it, and the token's text.
pub fn realistic_record(
    i: usize,
    settings: Settings,
    hasher: &TokenHasher,
    prefix: &TokenPrefix,
) -> (TokenRecord, SecretToken) {
    let secret = SecretToken::generate(prefix);
    let record = TokenRecord {
        id: tessera_core::random::identifier("tok"),
        hash: hasher.hash(&secret),
        start: secret.start(),
        is_admin: false,
        settings,
        parent_id: Some("tok_bench0000000admin".into()),
        created_at: NOW_MS - 1_000 - i64::try_from(i).unwrap_or(0),
        updated_at: NOW_MS,
        revoked_at: None,
        last_used_at: None,
        last_used_ip: None,
        use_count: 0,
        previous_secrets: Vec::new(),
        credits_balance: None,
    };
    (record, secret)
}

/// A token to present, and what the request presenting it needs.
pub struct Probe {
    pub secret: String,
    pub need: Requirement,
}

/// An engine whose index holds `size` realistic tokens, plus the probes of every
/// outcome. The engine is production's, over an empty SQLite store: the tokens go
/// straight into its index (a 10M-token store would take an hour to write), and a
/// check never touches the store.
pub struct Fixture {
    pub engine: Engine,
    pub hasher: TokenHasher,
    pub prefix: TokenPrefix,
    /// Holds the store's file for as long as the engine lives.
    _store_dir: tempfile::TempDir,
    /// Tokens of the index, each with a request it allows: `VALID`.
    pub valid: Vec<Probe>,
    /// The same tokens with one character changed: `NOT_FOUND` by checksum.
    pub bad_checksum: Vec<Probe>,
    /// Well-formed tokens that were never issued: `NOT_FOUND` after a lookup.
    pub unknown: Vec<Probe>,
    /// Tokens of the index asked for a scope they lack: `FORBIDDEN`.
    pub forbidden: Vec<Probe>,
    /// Tokens of the index whose rate limit is spent: `RATE_LIMITED`.
    pub rate_limited: Vec<Probe>,
}

fn need(catalogue: &ScopeCatalogue, scope: &str, resource: &str) -> Requirement {
    Requirement {
        scopes: Some(
            catalogue
                .compile_required(&[scope.to_owned()])
                .unwrap_or_else(|e| unreachable!("{e:?}")),
        ),
        resource: Some(Resource::parse(resource).unwrap_or_else(|e| unreachable!("{e}"))),
        ..Requirement::default()
    }
}

/// Fills `index` with `size` realistic tokens, one at a time (a 10M-token run holds
/// no second copy), and returns the texts of an evenly spread sample of them (at
/// most [`SAMPLE`]).
pub fn fill_index(
    index: &TokenIndex,
    size: usize,
    hasher: &TokenHasher,
    prefix: &TokenPrefix,
) -> Vec<(usize, SecretToken)> {
    fill_index_with(index, size, hasher, prefix, realistic_settings)
}

/// [`fill_index`] with the `i`th token's settings from `settings`.
pub fn fill_index_with(
    index: &TokenIndex,
    size: usize,
    hasher: &TokenHasher,
    prefix: &TokenPrefix,
    settings: impl Fn(usize) -> Settings,
) -> Vec<(usize, SecretToken)> {
    let every = (size / SAMPLE).max(1);
    let mut sampled = Vec::with_capacity(size.min(SAMPLE));
    for i in 0..size {
        let (record, secret) = realistic_record(i, settings(i), hasher, prefix);
        if i % every == 0 && sampled.len() < SAMPLE {
            sampled.push((i, secret));
        }
        index.apply(1, record);
    }
    sampled
}

/// The engine's check as every request runs it (`Engine::check_now`, which
/// `Engine::check` calls first): `None` would be a check that must ask a shared
/// bucket, which a benchmark without Redis never makes.
pub fn check(engine: &Engine, probe: &Probe) -> Option<Code> {
    engine
        .check_now(&probe.secret, &probe.need)
        .ok()
        .map(|outcome| outcome.code)
}

/// Production's engine over an empty SQLite store in `dir`, its clock stopped at
/// [`NOW_MS`].
pub fn open_engine(dir: &std::path::Path, pepper: &Pepper) -> Result<Engine, String> {
    let store = SqliteStore::open(&dir.join("bench.db")).map_err(|e| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    runtime
        .block_on(Engine::open(
            EngineConfig::default(),
            Arc::new(store),
            pepper,
            Arc::new(ManualClock::new(NOW_MS)),
            None,
        ))
        .map_err(|e| e.to_string())
}

impl Fixture {
    pub fn new(size: usize) -> Self {
        let catalogue = ScopeCatalogue::default_catalogue();
        let prefix = TokenPrefix::default();
        let pepper = pepper();
        let hasher = TokenHasher::new(&pepper);
        let store_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary dir: {e}"));
        let engine = open_engine(store_dir.path(), &pepper)
            .unwrap_or_else(|e| panic!("the benchmark's engine: {e}"));
        let index = engine.index();
        index.reserve(size + 1024);
        let sampled = fill_index(index, size, &hasher, &prefix);

        // A few more tokens with a tiny limit, spent below.
        let mut spent = Vec::new();
        for i in 0..sampled.len().min(1024) {
            let mut settings = realistic_settings(i);
            settings.rate_limit = Some(RateLimitSetting {
                profile: None,
                per_minute: 1,
                burst: 1,
            });
            let (record, secret) = realistic_record(i, settings, &hasher, &prefix);
            index.apply(1, record);
            spent.push((i, secret));
        }

        let probe = |(i, secret): &(usize, SecretToken), scope: &str| Probe {
            secret: secret.expose().to_owned(),
            need: need(&catalogue, scope, &format!("repo:{}", repo_id(*i))),
        };
        let valid: Vec<Probe> = sampled.iter().map(|s| probe(s, "repo:read")).collect();
        let forbidden = sampled.iter().map(|s| probe(s, "repo:admin")).collect();
        let rate_limited: Vec<Probe> = spent.iter().map(|s| probe(s, "repo:read")).collect();
        for p in &rate_limited {
            // The one request of the burst.
            check(&engine, p);
        }
        let bad_checksum = valid
            .iter()
            .map(|p| Probe {
                secret: change_last_character(&p.secret),
                need: p.need.clone(),
            })
            .collect();
        let unknown = valid
            .iter()
            .map(|p| Probe {
                secret: SecretToken::generate(&prefix).expose().to_owned(),
                need: p.need.clone(),
            })
            .collect();
        Self {
            engine,
            hasher,
            prefix,
            _store_dir: store_dir,
            valid,
            bad_checksum,
            unknown,
            forbidden,
            rate_limited,
        }
    }
}

fn change_last_character(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last = if *last == b'0' { b'1' } else { b'0' };
    }
    String::from_utf8(bytes).unwrap_or_default()
}

/// Reads a list of sizes such as `10k,100k,1M` (from `TESSERA_BENCH_SIZES`).
pub fn parse_sizes(text: &str) -> Result<Vec<usize>, String> {
    text.split(',')
        .map(|part| {
            let part = part.trim();
            let (number, factor) = match part.chars().last() {
                Some('k' | 'K') => (&part[..part.len() - 1], 1_000),
                Some('M' | 'm') => (&part[..part.len() - 1], 1_000_000),
                _ => (part, 1),
            };
            number
                .parse::<usize>()
                .map(|n| n * factor)
                .map_err(|_| format!("{part:?} is not a size such as 10k or 1M"))
        })
        .collect()
}

/// A size as the reports print it: `10k`, `1M`.
pub fn size_label(size: usize) -> String {
    match size {
        s if s >= 1_000_000 && s % 1_000_000 == 0 => format!("{}M", s / 1_000_000),
        s if s >= 1_000 && s % 1_000 == 0 => format!("{}k", s / 1_000),
        s => s.to_string(),
    }
}
