//! Scale benchmarks that need a whole process: index memory per token, start-up
//! from a large SQLite store, and write throughput over the API with durable
//! commits. Each prints one JSON object per line for `scripts/bench` to tabulate.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::unreachable,
    reason = "a benchmark: a setup that fails stops the run, loudly"
)]

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;
use serde_json::json;
use tessera_bench::{
    NOW_MS, fill_index_with, pepper, realistic_record, realistic_settings, size_label,
};
use tessera_core::clock::SystemClock;
use tessera_core::scope::ScopeCatalogue;
use tessera_core::token::{Pepper, TokenHasher, TokenPrefix};
use tessera_engine::index::TokenIndex;
use tessera_server::Server;
use tessera_server::config::Config;
use tessera_store::SqliteStore;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    run: Run,
}

#[derive(Subcommand)]
enum Run {
    /// Resident bytes per token of an index of `tokens` realistic tokens.
    Memory {
        #[arg(long)]
        tokens: usize,
        /// Give each token a `meta` of about this many bytes of JSON.
        #[arg(long, default_value_t = 0)]
        meta_bytes: usize,
    },
    /// Index memory with `live` tokens, with `dead` more revoked ones, and after
    /// retention took the dead out again.
    Retention {
        #[arg(long)]
        live: usize,
        #[arg(long)]
        dead: usize,
        /// Make, revoke and purge `dead` tokens this many times: the steady state.
        #[arg(long, default_value_t = 2)]
        cycles: usize,
    },
    /// Seconds from a SQLite store of `tokens` tokens to a server ready to verify.
    Startup {
        #[arg(long)]
        tokens: usize,
    },
    /// Creations, then revocations, per second over HTTP with `clients` at once.
    Writes {
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Keep the tokens in this PostgreSQL database (empty) instead of SQLite.
        #[arg(long)]
        database_url: Option<String>,
        /// Servers on that database, the writes spread over them in turn.
        #[arg(long, default_value_t = 1)]
        nodes: usize,
        /// Send the revocations at this rate (all clients together, evenly spread)
        /// instead of as fast as they are answered: their latency at a given load.
        #[arg(long)]
        revocation_rate: Option<f64>,
    },
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The allocator the `tessera` binary runs on (mimalloc), counting live heap bytes
/// and blocks, so the memory run can tell what the index asks for from what the
/// allocator adds.
struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_BLOCKS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed straight to mimalloc; the counters only observe sizes.
#[allow(
    unsafe_code,
    reason = "a counting allocator for the memory run, benchmarks only"
)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { MiMalloc.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[tokio::main]
async fn main() -> Result<(), Failure> {
    match Cli::parse().run {
        Run::Memory { tokens, meta_bytes } => memory(tokens, meta_bytes),
        Run::Startup { tokens } => startup(tokens).await,
        Run::Retention { live, dead, cycles } => retention(live, dead, cycles),
        Run::Writes {
            clients,
            seconds,
            database_url,
            nodes,
            revocation_rate,
        } => {
            writes(
                clients,
                Duration::from_secs_f64(seconds),
                database_url,
                nodes,
                revocation_rate,
            )
            .await
        }
    }
}

/// This process's resident set, from `/proc/self/statm`.
fn resident_bytes() -> Result<u64, Failure> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .ok_or("no resident size in /proc/self/statm")?
        .parse()?;
    Ok(pages * 4096)
}

fn memory(tokens: usize, meta_bytes: usize) -> Result<(), Failure> {
    let hasher = TokenHasher::new(&pepper());
    let prefix = TokenPrefix::default();
    let before = resident_bytes()?;
    let (bytes_before, blocks_before) = (
        LIVE_BYTES.load(Ordering::Relaxed),
        LIVE_BLOCKS.load(Ordering::Relaxed),
    );
    let index = TokenIndex::new(ScopeCatalogue::default_catalogue(), Vec::new());
    // Room for every token at once, as a server loading its tokens at start makes
    // (see `TokenIndex::new`); grown one token at a time, the tables' outgrown
    // copies stay resident until the allocator gives them back.
    index.reserve(tokens);
    drop(fill_index_with(&index, tokens, &hasher, &prefix, |i| {
        let mut settings = realistic_settings(i);
        if meta_bytes > 0 {
            // `{"notes":"…"}` around the filler: 12 bytes of JSON besides it.
            let filler = format!("{i:08}").repeat(meta_bytes.saturating_sub(12) / 8 + 1);
            let mut meta = serde_json::Map::new();
            meta.insert(
                "notes".into(),
                filler[..meta_bytes.saturating_sub(12)].into(),
            );
            settings.meta = Some(meta);
        }
        settings
    }));
    let after = resident_bytes()?;
    let per_token = |delta: usize| (delta as f64 / tokens as f64 * 10.0).round() / 10.0;
    let resident = usize::try_from(after.saturating_sub(before))?;
    let heap = LIVE_BYTES
        .load(Ordering::Relaxed)
        .saturating_sub(bytes_before);
    let blocks = LIVE_BLOCKS
        .load(Ordering::Relaxed)
        .saturating_sub(blocks_before);
    println!(
        "{}",
        json!({"bench": "memory", "tokens": size_label(tokens), "index_len": index.len(), "meta_bytes": meta_bytes,
               "bytes_per_token": per_token(resident).round(),
               "heap_bytes_per_token": per_token(heap), "blocks_per_token": per_token(blocks)})
    );
    Ok(())
}

/// What the index holds now: resident bytes and live heap bytes.
fn held() -> Result<(u64, usize), Failure> {
    Ok((resident_bytes()?, LIVE_BYTES.load(Ordering::Relaxed)))
}

/// The Relace flow's memory: an index of `live` tokens, then `dead` sandbox tokens
/// made and revoked, then retention's purge (in batches of 1,000, as the engine
/// runs it). The heap should come back near where it was; resident memory stays
/// higher by what the allocator keeps for reuse.
fn retention(live: usize, dead: usize, cycles: usize) -> Result<(), Failure> {
    let hasher = TokenHasher::new(&pepper());
    let prefix = TokenPrefix::default();
    let index = TokenIndex::new(ScopeCatalogue::default_catalogue(), Vec::new());
    let (resident_empty, heap_empty) = held()?;
    index.reserve(live);
    drop(fill_index_with(
        &index,
        live,
        &hasher,
        &prefix,
        realistic_settings,
    ));
    let mib = |bytes: usize| (bytes as f64 / 1_048_576.0 * 10.0).round() / 10.0;
    let heap = |at: usize| mib(at.saturating_sub(heap_empty));
    let resident =
        |at: u64| mib(usize::try_from(at.saturating_sub(resident_empty)).unwrap_or(usize::MAX));
    let (resident_before, heap_before) = held()?;
    println!(
        "{}",
        json!({"bench": "retention", "live": size_label(live), "heap_mib": heap(heap_before), "resident_mib": resident(resident_before)})
    );
    let mut seq = i64::try_from(live).unwrap_or(i64::MAX);
    for cycle in 1..=cycles {
        // Each cycle's tokens die a day after the last cycle's.
        let died = NOW_MS + i64::try_from(cycle).unwrap_or(0) * 86_400_000;
        for i in 0..dead {
            let n = live + cycle * dead + i;
            let (mut record, _) = realistic_record(n, realistic_settings(n), &hasher, &prefix);
            record.revoked_at = Some(died);
            seq += 1;
            index.apply(seq, record);
        }
        let (resident_full, heap_full) = held()?;
        let started = Instant::now();
        let cutoff = died + 1;
        let found = index.dead_before(cutoff);
        let mut slowest = Duration::ZERO;
        for batch in found.chunks(1000) {
            let batch_started = Instant::now();
            index.remove_dead(batch, cutoff);
            slowest = slowest.max(batch_started.elapsed());
        }
        drop(found);
        let longest_prune_hold = index.prune(cutoff);
        let purged_in = started.elapsed();
        let (resident_after, heap_after) = held()?;
        let ms = |d: Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
        println!(
            "{}",
            json!({"bench": "retention", "cycle": cycle, "dead": size_label(dead), "index_len": index.len(),
                   "heap_mib": {"with_dead": heap(heap_full), "after_purge": heap(heap_after)},
                   "resident_mib": {"with_dead": resident(resident_full), "after_purge": resident(resident_after)},
                   "purge_s": (purged_in.as_secs_f64() * 100.0).round() / 100.0,
                   "longest_lock_hold_ms": ms(slowest.max(longest_prune_hold))})
        );
    }
    Ok(())
}

/// The pepper the scale runs' servers hash with, as a config file would give it.
const SERVER_PEPPER: &str = "tessera-scale-benchmark-pepper-0123456789";

/// A config for a server on a free loopback port, keeping its data in `dir`.
fn config(dir: &std::path::Path) -> Result<Config, Failure> {
    Ok(Config {
        listen: "127.0.0.1:0".parse()?,
        data_dir: dir.to_owned(),
        pepper: Some(tessera_core::token::Pepper::from_text(SERVER_PEPPER).unwrap()),
        ..Config::default()
    })
}

async fn startup(tokens: usize) -> Result<(), Failure> {
    let dir = tempfile::tempdir()?;
    let config = config(dir.path())?;
    let (server, _) = Server::start(config.clone(), Arc::new(SystemClock)).await?;
    let admin_id = server
        .engine
        .index()
        .root_slots()
        .first()
        .map(|slot| slot.id().to_owned())
        .ok_or("the new server has no admin token")?;
    server.stop().await;

    // Stored hashes are under the pepper the server reads from its config.
    let hasher = TokenHasher::new(&Pepper::new(SERVER_PEPPER.as_bytes().to_vec())?);
    let prefix = TokenPrefix::default();
    let store = SqliteStore::open(&dir.path().join("tessera.db"))?;
    let filled = Instant::now();
    let mut made = 0;
    while made < tokens {
        let batch = (tokens - made).min(100_000);
        let records = (made..made + batch)
            .map(|i| {
                let (mut record, _) = realistic_record(i, realistic_settings(i), &hasher, &prefix);
                record.parent_id = Some(admin_id.clone());
                record
            })
            .collect();
        store.import(records).await?;
        made += batch;
    }
    drop(store);
    eprintln!(
        "stored {} tokens in {:.1} s",
        size_label(tokens),
        filled.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let (server, _) = Server::start(config, Arc::new(SystemClock)).await?;
    let ready = started.elapsed();
    let loaded = server.engine.index().len();
    server.stop().await;
    println!(
        "{}",
        json!({"bench": "startup", "tokens": size_label(tokens), "seconds": ready.as_secs_f64(), "index_len": loaded})
    );
    Ok(())
}

/// Runs `clients` loops of `request` until `deadline`, or until a loop says it is
/// out of work; returns how many requests succeeded.
async fn load<F, Fut>(
    clients: usize,
    deadline: Instant,
    rate: Option<f64>,
    request: F,
) -> Result<usize, Failure>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<bool, Failure>> + Send,
{
    let mut tasks = Vec::new();
    // Each client's turn comes every `clients / rate` seconds, the clients' turns
    // spread evenly over that period.
    let every = rate.map(|rate| Duration::from_secs_f64(clients as f64 / rate));
    let start = tokio::time::Instant::now();
    for client in 0..clients {
        let request = request.clone();
        let mut turns = every.map(|every| {
            let first = start + every.mul_f64(client as f64 / clients as f64);
            let mut turns = tokio::time::interval_at(first, every);
            turns.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            turns
        });
        tasks.push(tokio::spawn(async move {
            let mut done = 0usize;
            while Instant::now() < deadline {
                if let Some(turns) = &mut turns {
                    turns.tick().await;
                }
                if !request(client).await? {
                    break;
                }
                done += 1;
            }
            Ok::<usize, Failure>(done)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok(total)
}

/// What the write loops share: a client, the server, the admin token, and the ids
/// created so far (for the revocations).
struct WriteLoad {
    http: reqwest::Client,
    /// Every node's address: each write goes to the next in turn.
    bases: Vec<String>,
    turn: AtomicUsize,
    admin: String,
    /// Each created token's id, with the node that made it, which revokes it: another
    /// node may not have followed it yet.
    created: Mutex<Vec<(String, usize)>>,
    /// How long each revocation of the load took to be answered.
    revocation_times: Mutex<Vec<Duration>>,
}

impl WriteLoad {
    /// Makes a token named `name` through node `node`: its id and its text.
    async fn make(&self, node: usize, name: &str) -> Result<(String, String), Failure> {
        let made: serde_json::Value = self
            .http
            .post(format!("{}/v1/tokens", self.bases[node]))
            .bearer_auth(&self.admin)
            .json(&json!({"name": name, "scopes": ["repo:read"]}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let text = |field: &str| {
            made[field]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("a created token without its {field}"))
        };
        Ok((text("id")?, text("token")?))
    }

    /// Revokes the token `id` through node `node`.
    async fn unmake(&self, node: usize, id: &str) -> Result<(), Failure> {
        self.http
            .delete(format!("{}/v1/tokens/{id}", self.bases[node]))
            .bearer_auth(&self.admin)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    async fn create(&self, client: usize) -> Result<bool, Failure> {
        let node = self.turn.fetch_add(1, Ordering::Relaxed) % self.bases.len();
        let (id, _) = self.make(node, &format!("load-{client}")).await?;
        self.created
            .lock()
            .map_err(|_| "a load task panicked")?
            .push((id, node));
        Ok(true)
    }

    /// Revokes one created token; `false` once none is left.
    async fn revoke(&self) -> Result<bool, Failure> {
        let next = self
            .created
            .lock()
            .map_err(|_| "a load task panicked")?
            .pop();
        let Some((id, node)) = next else {
            return Ok(false);
        };
        let sent = Instant::now();
        self.unmake(node, &id).await?;
        self.revocation_times
            .lock()
            .map_err(|_| "a load task panicked")?
            .push(sent.elapsed());
        Ok(true)
    }

    /// The verify code node `node` gives `token` now.
    async fn code(&self, node: usize, token: &str) -> Result<String, Failure> {
        let answer: serde_json::Value = self
            .http
            .post(format!("{}/v1/verify", self.bases[node]))
            .bearer_auth(&self.admin)
            .json(&json!({ "token": token }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(answer["code"].as_str().unwrap_or_default().to_owned())
    }

    /// Asks node `node` again and again until it answers `code` for `token`; an error
    /// after 5 s.
    async fn wait_for(&self, node: usize, token: &str, code: &str) -> Result<(), Failure> {
        let give_up = Instant::now() + Duration::from_secs(5);
        while self.code(node, token).await? != code {
            if Instant::now() > give_up {
                return Err(format!("node {node} never answered {code}").into());
            }
        }
        Ok(())
    }

    /// Until `deadline`, every 20 ms: a token made and revoked through the first
    /// node, and how long after the revocation was answered the last node answered
    /// `REVOKED` for it (asked again and again).
    async fn sample_propagation(&self, deadline: Instant) -> Result<Vec<Duration>, Failure> {
        let (first, last) = (0, self.bases.len() - 1);
        let mut seen_after = Vec::new();
        while Instant::now() < deadline {
            let (id, token) = self.make(first, "sample").await?;
            self.wait_for(last, &token, "VALID").await?;
            self.unmake(first, &id).await?;
            let revoked = Instant::now();
            self.wait_for(last, &token, "REVOKED").await?;
            seen_after.push(revoked.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(seen_after)
    }
}

/// The `q` quantile (0 to 1) of `times`, in milliseconds.
fn quantile_ms(times: &mut [Duration], q: f64) -> f64 {
    times.sort();
    let Some(last) = times.len().checked_sub(1) else {
        return 0.0;
    };
    let at = ((last as f64) * q).round() as usize;
    (times[at.min(last)].as_secs_f64() * 1e5).round() / 100.0
}

async fn writes(
    clients: usize,
    duration: Duration,
    database_url: Option<String>,
    nodes: usize,
    revocation_rate: Option<f64>,
) -> Result<(), Failure> {
    let dir = tempfile::tempdir()?;
    let mut config = config(dir.path())?;
    match &database_url {
        Some(url) => config.set_database_url(url)?,
        None if nodes > 1 => return Err("several nodes need --database-url".into()),
        None => {}
    }
    let (first, admin) = Server::start(config.clone(), Arc::new(SystemClock)).await?;
    let mut servers = vec![first];
    for _ in 1..nodes.max(1) {
        servers.push(
            Server::start(config.clone(), Arc::new(SystemClock))
                .await?
                .0,
        );
    }
    let work = Arc::new(WriteLoad {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(clients)
            .build()?,
        bases: servers
            .iter()
            .map(|server| format!("http://{}", server.addr))
            .collect(),
        turn: AtomicUsize::new(0),
        admin: admin
            .ok_or("the new server made no admin token")?
            .expose()
            .to_owned(),
        created: Mutex::new(Vec::new()),
        revocation_times: Mutex::new(Vec::new()),
    });

    let started = Instant::now();
    let creations = load(clients, started + duration, None, {
        let work = Arc::clone(&work);
        move |client| {
            let work = Arc::clone(&work);
            async move { work.create(client).await }
        }
    })
    .await?;
    let create_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    // With several nodes, a revocation made through one is sampled on another while
    // the load runs.
    let sampler = (work.bases.len() > 1).then(|| {
        let work = Arc::clone(&work);
        tokio::spawn(async move { work.sample_propagation(started + duration).await })
    });
    let revocations = load(clients, started + duration, revocation_rate, {
        let work = Arc::clone(&work);
        move |_| {
            let work = Arc::clone(&work);
            async move { work.revoke().await }
        }
    })
    .await?;
    let revoke_seconds = started.elapsed().as_secs_f64();
    let mut seen_after = match sampler {
        Some(sampler) => sampler.await??,
        None => Vec::new(),
    };
    let mut revocation_times = std::mem::take(
        &mut *work
            .revocation_times
            .lock()
            .map_err(|_| "a load task panicked")?,
    );
    for server in servers {
        server.stop().await;
    }
    println!(
        "{}",
        json!({"bench": "writes", "clients": clients,
               "store": if database_url.is_some() { "postgres" } else { "sqlite" }, "nodes": nodes,
               "creations_per_second": (creations as f64 / create_seconds).round(),
               "revocations_per_second": (revocations as f64 / revoke_seconds).round(),
               "revocation_p50_ms": quantile_ms(&mut revocation_times, 0.5),
               "revocation_p99_ms": quantile_ms(&mut revocation_times, 0.99),
               "seen_by_another_node_samples": seen_after.len(),
               "seen_by_another_node_p50_ms": quantile_ms(&mut seen_after, 0.5),
               "seen_by_another_node_p99_ms": quantile_ms(&mut seen_after, 0.99)})
    );
    Ok(())
}
