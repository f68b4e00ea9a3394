//! The `tessera` binary: runs the service (`serve`, `init`, `admin`) and manages
//! tokens on a running server (`token ...`).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use tessera_core::clock::SystemClock;
use tessera_core::token::SecretToken;
use tessera_server::config::{Config, GatewayConfig, ProcessEnvironment};
use tessera_server::tls::TlsFiles;

mod audit;
mod client;
mod scan;
mod webhook;

/// mimalloc rather than the system allocator: a request allocates a few dozen small
/// blocks (headers, futures, bodies), which mimalloc serves from per-thread pages
/// without glibc's per-block headers and consolidation passes, and the index's
/// millions of small blocks cost less memory. Measured in BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Scoped, revocable API tokens: issue, verify, rate-limit, expire and revoke.
#[derive(Parser)]
#[command(name = "tessera", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service in the foreground (embedded SQLite under ./tessera-data,
    /// listening on 127.0.0.1:7900); Ctrl-C or SIGTERM stops it.
    Serve(Box<ServeArgs>),
    /// Create the store and print the new admin token, once, on stdout.
    Init(StoreArgs),
    /// Offline administration of a data dir (stop the server first).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Manage and check tokens on a running server (TESSERA_URL, TESSERA_TOKEN).
    Token(Box<client::TokenArgs>),
    /// Read, export and check the audit log of a running server (TESSERA_URL,
    /// TESSERA_TOKEN), or check an export offline.
    Audit(Box<audit::AuditArgs>),
    /// Manage webhook endpoints and read their delivery logs on a running server
    /// (the admin token).
    Webhook(Box<webhook::WebhookArgs>),
    /// Find tessera tokens in files, or with --git in a repository's history; prints
    /// where (never the whole token); exits 1 when it found some, 0 when none.
    Scan(scan::ScanArgs),
    /// Copy a data dir's SQLite store to FILE, consistent, while tessera serves. The
    /// pepper is not in the copy: keep it apart (docs/operations.md).
    Backup {
        #[command(flatten)]
        store: StoreArgs,
        /// The new backup file (it must not exist).
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Make a new data dir from a backup and the deployment's pepper.
    Restore {
        /// The backup file (`tessera backup --to`).
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// The data dir to make (new, or without a database).
        #[arg(long, env = "TESSERA_DATA_DIR", value_name = "DIR")]
        data_dir: PathBuf,
        /// The deployment's pepper file (its data dir's `pepper`); without it, the
        /// configured pepper (`pepper`, TESSERA_PEPPER).
        #[arg(long, value_name = "FILE")]
        pepper_file: Option<PathBuf>,
        /// A TOML config file, for its `pepper`.
        #[arg(long, env = "TESSERA_CONFIG", value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Replace a lost admin token: prints a new one; the old one stops working.
    ResetToken(StoreArgs),
}

/// Where the tokens are kept: what `serve`, `init` and `admin` share.
#[derive(Args, Clone)]
struct StoreArgs {
    /// Where the SQLite database and the pepper live [default: ./tessera-data].
    #[arg(long, env = "TESSERA_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// A TOML config file; environment variables (TESSERA_*) override it.
    #[arg(long, env = "TESSERA_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Keep tokens in PostgreSQL (postgres://user:password@host:port/db), shared by
    /// every node, instead of SQLite in the data dir.
    #[arg(
        long,
        env = "TESSERA_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    database_url: Option<String>,
}

#[derive(Args, Clone)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on [default: 127.0.0.1:7900].
    #[arg(long, env = "TESSERA_LISTEN", value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Also run the gateway: guard this API (e.g. http://127.0.0.1:9000) by the
    /// config's [[route]] rules and proxy to it.
    #[arg(long, env = "TESSERA_UPSTREAM", value_name = "URL")]
    upstream: Option<String>,
    /// Where the gateway listens [default: 127.0.0.1:7901].
    #[arg(long, env = "TESSERA_GATEWAY_LISTEN", value_name = "HOST:PORT")]
    gateway_listen: Option<String>,
    /// Share rate limits across nodes in Redis (redis://host:port).
    #[arg(
        long,
        env = "TESSERA_REDIS_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    redis_url: Option<String>,
    /// Serve /metrics on this address instead of the API's.
    #[arg(long, env = "TESSERA_METRICS_LISTEN", value_name = "HOST:PORT")]
    metrics_listen: Option<String>,
    /// On a first start, write the new admin token to this file (mode 0600) instead
    /// of printing it on standard output.
    #[arg(long, env = "TESSERA_ADMIN_TOKEN_FILE", value_name = "FILE")]
    admin_token_file: Option<PathBuf>,
    /// Serve the API and the UI over TLS with this certificate chain (PEM); SIGHUP
    /// reads it again.
    #[arg(
        long,
        env = "TESSERA_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(
        long,
        env = "TESSERA_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
    /// Serve the gateway over TLS with this certificate chain (PEM).
    #[arg(
        long,
        env = "TESSERA_GATEWAY_TLS_CERT",
        value_name = "FILE",
        requires = "gateway_tls_key"
    )]
    gateway_tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --gateway-tls-cert.
    #[arg(
        long,
        env = "TESSERA_GATEWAY_TLS_KEY",
        value_name = "FILE",
        requires = "gateway_tls_cert"
    )]
    gateway_tls_key: Option<PathBuf>,
    /// Trust only the CA certificates in this PEM file for an https:// upstream (the
    /// system's roots otherwise).
    #[arg(long, env = "TESSERA_UPSTREAM_CA", value_name = "FILE")]
    upstream_ca: Option<PathBuf>,
    /// Trust only the CA certificates in this PEM file for a rediss:// Redis (the
    /// system's roots otherwise).
    #[arg(long, env = "TESSERA_REDIS_CA_CERT", value_name = "FILE")]
    redis_ca_cert: Option<PathBuf>,
}

impl ServeArgs {
    /// The config, with the listen address and the gateway flags over the file's.
    fn config(&self) -> Result<Config, String> {
        let mut config = self.store.config()?;
        if let Some(listen) = &self.listen {
            config.listen = listen.parse().map_err(|_| {
                format!("--listen {listen:?} is not host:port, e.g. 127.0.0.1:7900")
            })?;
        }
        if let Some(url) = &self.redis_url {
            config.set_redis_url(url)?;
        }
        if let Some(listen) = &self.metrics_listen {
            config.set_metrics_listen(listen)?;
        }
        if let Some(files) = TlsFiles::pair(
            self.tls_cert.clone(),
            self.tls_key.clone(),
            "--tls-cert and --tls-key",
        )? {
            config.tls = Some(files);
        }
        if self.redis_ca_cert.is_some() {
            config.redis_ca_cert.clone_from(&self.redis_ca_cert);
        }
        self.gateway_config(&mut config)?;
        Ok(config)
    }

    /// The gateway's flags over the file's `[gateway]`.
    fn gateway_config(&self, config: &mut Config) -> Result<(), String> {
        if self.upstream.is_some() || self.gateway_listen.is_some() {
            self.gateway_address(config)?;
        }
        let tls = TlsFiles::pair(
            self.gateway_tls_cert.clone(),
            self.gateway_tls_key.clone(),
            "--gateway-tls-cert and --gateway-tls-key",
        )?;
        if tls.is_none() && self.upstream_ca.is_none() {
            return Ok(());
        }
        let Some(gateway) = &mut config.gateway else {
            return Err("--gateway-tls-cert and --upstream-ca need --upstream (or [gateway] upstream in the config)".into());
        };
        if tls.is_some() {
            gateway.tls = tls;
        }
        if self.upstream_ca.is_some() {
            gateway.upstream_ca.clone_from(&self.upstream_ca);
        }
        Ok(())
    }

    /// `--upstream` and `--gateway-listen` over the file's.
    fn gateway_address(&self, config: &mut Config) -> Result<(), String> {
        let listen = self
            .gateway_listen
            .clone()
            .or_else(|| config.gateway.as_ref().map(|g| g.listen.to_string()));
        let upstream = self
            .upstream
            .clone()
            .or_else(|| config.gateway.as_ref().map(|g| g.upstream.to_string()));
        match upstream {
            Some(upstream) => {
                let mut gateway = GatewayConfig::new(&upstream, listen.as_deref())
                    .map_err(|e| format!("--upstream: {e}"))?;
                if let Some(from_file) = &config.gateway {
                    gateway.forward_credential = from_file.forward_credential;
                    gateway.upstream_timeout_secs = from_file.upstream_timeout_secs;
                    gateway.tls.clone_from(&from_file.tls);
                    gateway.upstream_ca.clone_from(&from_file.upstream_ca);
                }
                config.gateway = Some(gateway);
            }
            None if self.gateway_listen.is_some() => {
                return Err(
                    "--gateway-listen needs --upstream (or [gateway] upstream in the config)"
                        .into(),
                );
            }
            None => {}
        }
        Ok(())
    }
}

impl StoreArgs {
    fn config(&self) -> Result<Config, String> {
        let mut config = Config::load(self.config.as_deref(), &ProcessEnvironment)
            .map_err(|e| tessera_store::with_causes(&e))?;
        if let Some(dir) = &self.data_dir {
            config.data_dir.clone_from(dir);
        }
        if let Some(url) = &self.database_url {
            config.set_database_url(url)?;
        }
        Ok(config)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Token(args) => client::run(*args),
        Command::Audit(args) => audit::run(*args),
        Command::Webhook(args) => webhook::run(*args),
        Command::Scan(args) => scan::run(args),
        Command::Serve(args) => run_async(serve(*args)),
        Command::Backup { store, to } => run_async(async move {
            let config = store.config()?;
            if config.database_url.is_some() {
                return Err(
                    "tessera backup copies the embedded SQLite store; back PostgreSQL up \
                            with pg_dump or its point-in-time recovery (docs/operations.md)"
                        .into(),
                );
            }
            tessera_server::backup::backup(&config.data_dir, &to)
                .map_err(|e| tessera_store::with_causes(&e))?;
            eprintln!(
                "tessera: backed up {} to {}; keep the pepper apart from it",
                config.data_dir.display(),
                to.display()
            );
            Ok(())
        }),
        Command::Restore {
            from,
            data_dir,
            pepper_file,
            config,
        } => run_async(async move {
            use tessera_server::backup::PepperSource;
            let pepper = match pepper_file {
                Some(file) => {
                    let text = std::fs::read_to_string(&file)
                        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                    let pepper = tessera_core::token::Pepper::new(text.trim().as_bytes().to_vec())
                        .map_err(|e| format!("{}: {e}", file.display()))?;
                    PepperSource::File(pepper)
                }
                None => {
                    let configured = Config::load(config.as_deref(), &ProcessEnvironment)
                        .map_err(|e| tessera_store::with_causes(&e))?
                        .pepper;
                    PepperSource::Configured(configured.ok_or(
                        "a backup holds no pepper: give the deployment's with --pepper-file \
                         (its data dir's pepper file) or configure it (pepper, TESSERA_PEPPER)",
                    )?)
                }
            };
            let restored = tessera_server::backup::restore(&from, &data_dir, &pepper)
                .await
                .map_err(|e| tessera_store::with_causes(&e))?;
            eprintln!(
                "tessera: restored {} tokens ({} revoked) into {}",
                restored.tokens,
                restored.revoked,
                data_dir.display()
            );
            Ok(())
        }),
        Command::Init(args) => run_async(async move {
            let config = args.config()?;
            let token = tessera_server::app::init(config, Arc::new(SystemClock))
                .await
                .map_err(|e| tessera_store::with_causes(&e))?;
            println!("{}", token.expose());
            Ok(())
        }),
        Command::Admin {
            command: AdminCommand::ResetToken(args),
        } => run_async(async move {
            let config = args.config()?;
            let token = tessera_server::app::reset_admin(config, Arc::new(SystemClock))
                .await
                .map_err(|e| tessera_store::with_causes(&e))?;
            println!("{}", token.expose());
            eprintln!("tessera: the previous admin token no longer works");
            Ok(())
        }),
    }
}

fn run_async(work: impl std::future::Future<Output = Result<(), String>>) -> ExitCode {
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tessera: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tessera: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
        .with_writer(std::io::stderr)
        .init();
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let config = args.config()?;
    let (server, admin) = tessera_server::Server::start(config, Arc::new(SystemClock))
        .await
        .map_err(|e| tessera_store::with_causes(&e))?;
    if let Some(token) = admin {
        announce_admin(&token, args.admin_token_file.as_deref())?;
    }
    server.wait_for_signal().await;
    Ok(())
}

/// Hands a new admin token to the operator: on standard output, or in `file` (mode
/// 0600). Never on standard error, where the log goes: logs are collected and kept.
fn announce_admin(token: &SecretToken, file: Option<&Path>) -> Result<(), String> {
    match file {
        Some(path) => {
            write_private(path, token.expose().as_bytes()).map_err(|error| {
                format!(
                    "created the admin token but cannot write it to {}: {error}; \
                     replace it with `tessera admin reset-token`",
                    path.display()
                )
            })?;
            eprintln!(
                "tessera: created the admin token and wrote it to {} (mode 0600)",
                path.display()
            );
        }
        None => {
            eprintln!(
                "tessera: created the admin token. It is shown this once, on standard output; \
                 store it now"
            );
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", token.expose())
                .and_then(|()| out.flush())
                .map_err(|error| format!("cannot print the admin token: {error}"))?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `path`, readable and writable by this user alone.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode through `open`: set it.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.write_all(b"\n")?;
    file.sync_all()
}
