//! Starting and stopping tessera: the store (SQLite in the data directory, or a
//! shared PostgreSQL database), the pepper, the engine, the listeners and the
//! background tasks (usage writer, change follower).

use std::convert::Infallible;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::Response;
use axum::serve::{Listener, ListenerExt};
use futures_util::future::BoxFuture;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tessera_core::clock::Clock;
use tessera_core::token::{Pepper, SecretToken};
use tessera_store::{PostgresStore, SqliteStore, StoreError, TokenStore};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::config::Config;
use crate::http::RouterSettings;
use crate::limits::{Activity, ConnectionGate, Limits, PhaseTimer, TryWriteNow, Watched};
use crate::tls::{Certificate, TlsFiles};
use tessera_engine::limiter::SharedLimiter;
use tessera_engine::{AdminStanding, Engine, EngineError};
use tokio_rustls::TlsAcceptor;

/// How often tokens past their retention are looked for.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Why tessera could not start, in words for the operator, with what caused it.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A file or socket of the host: the data dir, the pepper file, a listen address.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The shared database at `url` (printed without its credentials).
    #[error("PostgreSQL at {url}: {source}")]
    Database {
        url: String,
        #[source]
        source: StoreError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// What is asked cannot be done as configured; the words say what to change.
    #[error("{0}")]
    Refused(String),
}

impl StartError {
    fn with(context: &str) -> impl FnOnce(std::io::Error) -> StartError + '_ {
        move |source| StartError::Io {
            context: context.to_owned(),
            source,
        }
    }
}

const PEPPER_FILE: &str = "pepper";
const DATABASE_FILE: &str = "tessera.db";
const LOCK_FILE: &str = "lock";
const WAL_FILE: &str = "tessera.db-wal";
const SHM_FILE: &str = "tessera.db-shm";

/// Refuses a data dir that others may write to (they could swap the database or the
/// pepper); warns when others may read it (the database holds no token text, but
/// names, owners and metadata).
fn check_private_dir(path: &Path) -> Result<(), StartError> {
    let mode = std::fs::metadata(path)
        .map_err(StartError::with(&format!(
            "cannot read data dir {}",
            path.display()
        )))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o022 != 0 {
        return Err(StartError::Refused(format!(
            "data dir {} has mode {mode:04o}: users other than its owner can write to it, and \
             so replace the database or the pepper; make it private with `chmod 700 {}`",
            path.display(),
            path.display()
        )));
    }
    if mode & 0o077 != 0 {
        tracing::warn!(
            dir = %path.display(),
            mode = format!("{mode:04o}"),
            "others can read the data dir; `chmod 700` it"
        );
    }
    Ok(())
}

/// Makes the file at `path` readable and writable by its owner alone; creates it
/// (empty) if `create` and it does not exist.
fn make_private(path: &Path, create: bool) -> Result<(), StartError> {
    let private = std::fs::Permissions::from_mode(0o600);
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.permissions().mode() & 0o077 != 0 => {
            std::fs::set_permissions(path, private).map_err(StartError::with(&format!(
                "cannot make {} private",
                path.display()
            )))
        }
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound && create => OpenOptions::new()
            .create_new(true)
            .write(true)
            .mode(0o600)
            .open(path)
            .map(drop)
            .map_err(StartError::with(&format!(
                "cannot create {}",
                path.display()
            ))),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StartError::Io {
            context: format!("cannot read {}", path.display()),
            source,
        }),
    }
}

/// The data directory, locked for as long as this value lives, so that an offline
/// command never writes behind a running server's back.
pub struct DataDir {
    path: PathBuf,
    _lock: File,
}

impl DataDir {
    pub fn open(path: &Path) -> Result<Self, StartError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .map_err(StartError::with(&format!(
                "cannot create data dir {}",
                path.display()
            )))?;
        check_private_dir(path)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(path.join(LOCK_FILE))
            .map_err(StartError::with("cannot open the data dir's lock file"))?;
        lock.try_lock().map_err(|_| {
            StartError::Refused(format!(
                "another tessera process is using {}; stop it first",
                path.display()
            ))
        })?;
        // SQLite makes its database file, and the -wal and -shm files beside it, with
        // the process's umask (often 0644), the two with the database's mode: made
        // here first, the database is private, and so are they.
        for name in [LOCK_FILE, PEPPER_FILE, DATABASE_FILE, WAL_FILE, SHM_FILE] {
            make_private(&path.join(name), name == DATABASE_FILE)?;
        }
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
        })
    }

    /// The configured pepper, or the one kept in the data dir (made on first use, mode 0600).
    pub fn pepper(&self, configured: Option<&Pepper>) -> Result<Pepper, StartError> {
        if let Some(pepper) = configured {
            return Ok(pepper.clone());
        }
        let file = self.path.join(PEPPER_FILE);
        match std::fs::read_to_string(&file) {
            Ok(text) => Pepper::new(text.trim().as_bytes().to_vec())
                .map_err(|e| StartError::Refused(format!("{}: {e}", file.display()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let text = hex::encode(Pepper::generate().as_bytes());
                let pepper = Pepper::new(text.into_bytes()).map_err(StartError::Refused)?;
                self.keep_pepper(&pepper)?;
                Ok(pepper)
            }
            Err(source) => Err(StartError::Io {
                context: format!("cannot read {}", file.display()),
                source,
            }),
        }
    }

    /// Writes `pepper` to the data dir's pepper file (mode 0600), as the text it
    /// is read back from, and to the disk before it is relied on. The dir's lock is
    /// held, so nothing else writes the file meanwhile.
    pub fn keep_pepper(&self, pepper: &Pepper) -> Result<(), StartError> {
        let mut out = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(self.pepper_file())
            .map_err(StartError::with("cannot create the pepper file"))?;
        out.write_all(pepper.as_bytes())
            .and_then(|()| out.sync_all())
            .map_err(StartError::with("cannot write the pepper file"))
    }

    pub fn database(&self) -> PathBuf {
        Self::database_in(&self.path)
    }

    /// Where the database of the data dir at `path` is, without opening it.
    pub fn database_in(path: &Path) -> PathBuf {
        path.join(DATABASE_FILE)
    }

    pub fn pepper_file(&self) -> PathBuf {
        self.path.join(PEPPER_FILE)
    }
}

/// Opens the store and the engine. With SQLite, the data dir comes back too: its lock
/// must be held for as long as the store is used.
pub async fn open(
    config: Config,
    clock: Arc<dyn Clock>,
) -> Result<(Arc<Engine>, Option<DataDir>), StartError> {
    let (store, pepper, dir): (Arc<dyn TokenStore>, Pepper, Option<DataDir>) = match &config
        .database_url
    {
        Some(url) => {
            let pepper = config.pepper.clone().ok_or_else(|| {
                    StartError::Refused(
                        "with database_url, every node must hash tokens with the same pepper: set `pepper` \
                         in the config file or TESSERA_PEPPER (32 random bytes, e.g. `openssl rand -hex 32`)"
                            .into(),
                    )
                })?;
            let store = PostgresStore::connect(url.expose())
                .await
                .map_err(|source| StartError::Database {
                    url: format!("{url:?}"),
                    source,
                })?;
            (Arc::new(store), pepper, None)
        }
        None => {
            let dir = DataDir::open(&config.data_dir)?;
            let pepper = dir.pepper(config.pepper.as_ref())?;
            let store = SqliteStore::open(&dir.database())?;
            (Arc::new(store), pepper, Some(dir))
        }
    };
    let redis_ca = config
        .redis_ca_cert
        .as_ref()
        .map(|path| {
            std::fs::read(path).map_err(StartError::with(&format!(
                "cannot read redis_ca_cert {}",
                path.display()
            )))
        })
        .transpose()?;
    let shared_limiter = config
        .redis_url
        .as_ref()
        .map(|url| SharedLimiter::new(url.expose(), redis_ca))
        .transpose()
        .map_err(StartError::Refused)?;
    let engine = Engine::open(config.engine, store, &pepper, clock, shared_limiter).await?;
    Ok((Arc::new(engine), dir))
}

/// `tessera init`: creates the store and its admin token. Refuses if one exists.
pub async fn init(config: Config, clock: Arc<dyn Clock>) -> Result<SecretToken, StartError> {
    let (engine, _dir) = open(config, clock).await?;
    engine
        .create_first_admin()
        .await?
        .ok_or_else(|| {
            StartError::Refused(
                "this store already has an admin token; to replace a lost one, run `tessera admin reset-token`".into(),
            )
        })
}

/// `tessera admin reset-token`: a new admin token; the old one stops working.
pub async fn reset_admin(config: Config, clock: Arc<dyn Clock>) -> Result<SecretToken, StartError> {
    let (engine, _dir) = open(config, clock).await?;
    Ok(engine.create_admin().await?)
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    /// The gateway's address, when one is configured.
    pub gateway_addr: Option<SocketAddr>,
    /// `/metrics`' own address, when `metrics_listen` is set.
    pub metrics_addr: Option<SocketAddr>,
    pub engine: Arc<Engine>,
    shutdown: Option<watch::Sender<bool>>,
    task: JoinHandle<()>,
}

impl Server {
    /// Starts serving. If the store has no admin token yet, makes one and returns it
    /// (the caller shows it once).
    pub async fn start(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<(Self, Option<SecretToken>), StartError> {
        let listen = config.listen;
        let gateway_config = config.gateway.clone();
        let flush_every = Duration::from_millis(config.usage_flush_ms);
        let ui_session_idle_ms = config.ui_session_idle_ms;
        let poll_every = Duration::from_millis(config.change_poll_ms);
        let expiries_every = Duration::from_millis(config.expiry_scan_ms);
        let limits = config.limits;
        // Certificates are read before anything else: a start with a bad one creates
        // nothing.
        let mut certificates = Vec::new();
        let api_tls = listener_tls(config.tls.clone(), &mut certificates)?;
        let gateway_tls = listener_tls(
            gateway_config.as_ref().and_then(|g| g.tls.clone()),
            &mut certificates,
        )?;
        raise_file_limit(limits.max_connections);
        let gate = ConnectionGate::new(&limits);
        // Every listener is bound before the store is touched: a start that fails on a
        // busy port creates no pepper, no store and no admin token that nobody saw.
        let (listener, addr) = bind(listen, "").await?;
        let gateway_listener = match &gateway_config {
            Some(gateway) => Some(bind(gateway.listen, "gateway ").await?),
            None => None,
        };
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(bind(addr, "metrics ").await?),
            None => None,
        };
        let metrics_access = config.metrics;
        let leak_reporters = Arc::new(config.leak_reporters.clone());
        let (engine, dir) = open(config, clock).await?;
        let admin = match engine.admin_standing() {
            AdminStanding::Missing => engine.create_first_admin().await?,
            AdminStanding::NeverUsed { created_at } => {
                tracing::warn!(
                    created = %tessera_core::timefmt::format_rfc3339(created_at),
                    "the admin token has never been used; if it was not kept when it was \
                     shown, replace it: stop tessera and run `tessera admin reset-token`"
                );
                None
            }
            AdminStanding::Used => None,
        };
        let gateway = match (gateway_config, gateway_listener) {
            (Some(gateway), Some((listener, addr))) => {
                let app = crate::gateway::router(Arc::clone(&engine), gateway.clone(), limits)
                    .map_err(StartError::Refused)?;
                let tls = gateway_tls.is_some();
                tracing::info!(%addr, upstream = %gateway.upstream, tls, "the gateway is listening");
                Some((listener, addr, app, gateway_tls))
            }
            _ => None,
        };
        let gateway_addr = gateway.as_ref().map(|(_, addr, _, _)| *addr);
        let (shutdown, stopped) = watch::channel(false);
        let api_router = crate::http::router(
            Arc::clone(&engine),
            RouterSettings {
                ui_session_idle_ms,
                limits,
                gate: Arc::clone(&gate),
                metrics: metrics_access,
                serve_metrics: metrics_listener.is_none(),
                tls: api_tls.is_some(),
                stopping: crate::http::changes::Stopping(stopped.clone()),
                leaks: leak_reporters,
            },
        );
        let metrics_addr = metrics_listener.as_ref().map(|(_, addr)| *addr);
        let metrics = metrics_listener.map(|(listener, addr)| {
            tracing::info!(%addr, "metrics are served here");
            let router =
                crate::http::metrics_router(Arc::clone(&engine), Arc::clone(&gate), metrics_access);
            (listener, router)
        });
        let serving_engine = Arc::clone(&engine);
        let api_tls_on = api_tls.is_some();
        let task = tokio::spawn(async move {
            let (stop_flusher, flusher_stopped) = oneshot::channel::<()>();
            // Revokes tokens whose rotated secrets are reused, until the server stops.
            if let Some(queue) = serving_engine.take_reuse_queue() {
                tokio::spawn(tessera_engine::lifecycle::act_on_reuse(
                    Arc::clone(&serving_engine),
                    queue,
                    stopped.clone(),
                ));
            }
            // Sends webhooks, and records the notices only the clock makes.
            let webhooks = tokio::spawn(crate::webhooks::run(
                Arc::clone(&serving_engine),
                stopped.clone(),
                expiries_every,
            ));
            // Takes out tokens past their retention, from the start on.
            tokio::spawn(tessera_engine::lifecycle::purge_periodically(
                Arc::clone(&serving_engine),
                PURGE_EVERY,
                stopped.clone(),
            ));
            let flusher = tokio::spawn(flush_usage_until(
                Arc::clone(&serving_engine),
                flush_every,
                flusher_stopped,
            ));
            let follower = serving_engine.change_signals().map(|signals| {
                tokio::spawn(tessera_engine::feed::follow(
                    Arc::clone(&serving_engine),
                    signals,
                    poll_every,
                    stopped.clone(),
                ))
            });
            let reloader = (!certificates.is_empty())
                .then(|| tokio::spawn(reload_on_hangup(certificates, stopped.clone())));
            let api = serve_until(
                listener,
                ApiConnections {
                    engine: Arc::clone(&serving_engine),
                    router: api_router,
                    stopped: stopped.clone(),
                },
                api_tls.clone(),
                stopped.clone(),
                Arc::clone(&gate),
                limits,
            );
            // The gateway's and the metrics' listeners, where configured: hyper only.
            // `/metrics` on its own address keeps the API's TLS.
            let others = futures_util::future::join_all(
                gateway
                    .into_iter()
                    .map(|(listener, _, router, tls)| (listener, router, tls))
                    .chain(metrics.map(|(listener, router)| (listener, router, api_tls)))
                    .map(|(listener, router, tls)| {
                        serve_until(
                            listener,
                            RouterConnections(router),
                            tls,
                            stopped.clone(),
                            Arc::clone(&gate),
                            limits,
                        )
                    }),
            );
            tokio::join!(api, others);
            if let Some(reloader) = reloader {
                let _ = reloader.await;
            }
            if let Some(follower) = follower {
                let _ = follower.await;
            }
            let _ = webhooks.await;
            // Let a flush under way finish, then write what is left.
            let _ = stop_flusher.send(());
            let _ = flusher.await;
            if let Err(error) = serving_engine.flush_usage().await {
                let error = tessera_store::with_causes(&error);
                tracing::warn!(%error, "could not write the last usage counts");
            }
            drop(dir);
        });
        tracing::info!(tls = api_tls_on, %addr, "tessera is listening");
        Ok((
            Self {
                addr,
                gateway_addr,
                metrics_addr,
                engine,
                shutdown: Some(shutdown),
                task,
            },
            admin,
        ))
    }

    /// Stops accepting requests, finishes those under way, writes usage, releases the data dir.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(true);
        }
        let _ = (&mut self.task).await;
    }

    /// Runs until the task ends (for `serve`, until a signal stops it).
    pub async fn wait_for_signal(self) {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = ctrl_c => {}
            () = terminate => {}
        }
        tracing::info!("shutting down");
        self.stop().await;
    }
}

async fn bind(
    addr: SocketAddr,
    what: &str,
) -> Result<(tokio::net::TcpListener, SocketAddr), StartError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(StartError::with(&format!("cannot {what}listen on {addr}")))?;
    let bound = listener
        .local_addr()
        .map_err(StartError::with("no local address"))?;
    Ok((listener, bound))
}

/// The acceptor for a listener with `files`, its certificate kept in `certificates`
/// for reloading.
fn listener_tls(
    files: Option<TlsFiles>,
    certificates: &mut Vec<Arc<Certificate>>,
) -> Result<Option<TlsAcceptor>, StartError> {
    let Some(files) = files else {
        return Ok(None);
    };
    let certificate = Certificate::load(files).map_err(StartError::Refused)?;
    let acceptor = certificate.acceptor().map_err(StartError::Refused)?;
    certificates.push(certificate);
    Ok(Some(acceptor))
}

/// Reads every listener's certificate files again at each SIGHUP, until `stop` turns
/// true. A file that cannot be used leaves its listener on the certificate it had.
async fn reload_on_hangup(certificates: Vec<Arc<Certificate>>, mut stop: watch::Receiver<bool>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGHUP: certificates will not be reloaded");
            return;
        }
    };
    loop {
        tokio::select! {
            Some(()) = hangups.recv() => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        for certificate in &certificates {
            let cert = certificate.files().cert.display();
            match certificate.reload() {
                Ok(()) => tracing::info!(%cert, "reloaded the TLS certificate"),
                Err(error) => tracing::error!(%cert, %error, "kept the TLS certificate in use"),
            }
        }
    }
}

/// Raises this process's soft limit on open files to its hard limit: each connection
/// holds one. Warns when even the hard limit is below `max_connections`, since
/// connections past it are refused by the system before tessera can count them.
fn raise_file_limit(max_connections: usize) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if usize::try_from(limit).is_ok_and(|limit| limit < max_connections) => {
            tracing::warn!(
                open_files = limit,
                max_connections,
                "the open-file limit is below [limits] max_connections: raise the hard limit \
                 (ulimit -Hn, LimitNOFILE=) or lower max_connections"
            );
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }
}

/// What carries one accepted connection: TCP, or TLS over TCP.
pub trait Connection:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + TryWriteNow + Unpin + Send + 'static
{
}

impl<I> Connection for I where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + TryWriteNow + Unpin + Send + 'static
{
}

/// What serves each connection of a listener, whatever carries it.
trait ServeConnection: Clone + Send + 'static {
    /// Serves `io` until it ends, holding `watcher` (which tells a hyper connection to
    /// finish when the server stops), with `activity` for the read timeouts.
    fn serve<I: Connection>(
        self,
        io: I,
        peer: SocketAddr,
        watcher: Watcher,
        activity: Arc<Activity>,
    ) -> impl Future<Output = ()> + Send;
}

/// The API listener's connections: tessera's own loop first, hyper for the rest.
#[derive(Clone)]
struct ApiConnections {
    engine: Arc<Engine>,
    router: Router,
    stopped: watch::Receiver<bool>,
}

impl ServeConnection for ApiConnections {
    fn serve<I: Connection>(
        self,
        io: I,
        peer: SocketAddr,
        watcher: Watcher,
        activity: Arc<Activity>,
    ) -> impl Future<Output = ()> + Send {
        crate::http::connection::serve(
            io,
            self.engine,
            self.router,
            self.stopped,
            watcher,
            activity,
            peer,
        )
    }
}

/// A router served by hyper alone: the gateway's listener and the metrics one.
#[derive(Clone)]
struct RouterConnections(Router);

impl ServeConnection for RouterConnections {
    fn serve<I: Connection>(
        self,
        io: I,
        peer: SocketAddr,
        watcher: Watcher,
        activity: Arc<Activity>,
    ) -> impl Future<Output = ()> + Send {
        serve_with_hyper(
            io,
            RouterService::new(self.0, Some(peer)),
            watcher,
            activity,
        )
    }
}

/// Serves HTTP/1.1 on `listener` until `stop` turns true, then finishes the requests
/// under way. A connection past a `gate` cap is closed at once; with `tls`, each
/// other one first completes its handshake within the header-read timeout (it is
/// the start of the first request); then `server` serves it, with its [`Activity`]
/// for the read timeouts, holding its watcher until it ends.
async fn serve_until(
    listener: tokio::net::TcpListener,
    server: impl ServeConnection,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
    gate: Arc<ConnectionGate>,
    limits: Limits,
) {
    // Answers are small and each one ends an exchange: send them at once, not after
    // Nagle's algorithm waits for more.
    let mut listener = listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY");
        }
    });
    // Every connection holds a watcher until it ends, so `shutdown` waits for all.
    let connections = GracefulShutdown::new();
    loop {
        // axum's `accept` retries what a busy server can recover from (such as
        // running out of file descriptors) after a pause.
        let (stream, client) = tokio::select! {
            accepted = Listener::accept(&mut listener) => accepted,
            _ = stop.wait_for(|stopped| *stopped) => break,
        };
        let Some(admitted) = gate.admit(client.ip()) else {
            drop(stream);
            continue;
        };
        let activity = Activity::new(limits, Arc::clone(&gate));
        let watcher = connections.watcher();
        let server = server.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => server.serve(stream, client, watcher, activity).await,
                Some(tls) => {
                    let handshake =
                        tokio::time::timeout(limits.header_read_timeout, tls.accept(stream));
                    match handshake.await {
                        Ok(Ok(stream)) => server.serve(stream, client, watcher, activity).await,
                        Ok(Err(error)) => {
                            tracing::debug!(%client, %error, "a TLS handshake failed");
                        }
                        Err(_) => tracing::debug!(%client, "a TLS handshake timed out"),
                    }
                }
            }
            drop(admitted);
        });
    }
    drop(listener);
    connections.shutdown().await;
}

/// Serves one connection with hyper, until it ends or the watcher says to finish,
/// closing it when a request's head is late by `activity`'s clock.
pub(crate) async fn serve_with_hyper<S, I>(
    io: I,
    service: S,
    watcher: Watcher,
    activity: Arc<Activity>,
) where
    S: hyper::service::Service<hyper::Request<Incoming>, Response = Response, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
    I: Connection,
{
    let header_read_timeout = activity.limits().header_read_timeout;
    let connection = http1::Builder::new()
        .timer(PhaseTimer(Arc::clone(&activity)))
        .header_read_timeout(header_read_timeout)
        .serve_connection(TokioIo::new(Watched::new(io, activity)), service);
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(%error, "a connection ended with an error");
    }
}

/// A router as hyper's service, telling its handlers which client they serve
/// ([`ConnectInfo`]) where they ask (the gateway's do).
#[derive(Clone)]
pub(crate) struct RouterService {
    router: Router,
    client: Option<SocketAddr>,
}

impl RouterService {
    pub(crate) fn new(router: Router, client: Option<SocketAddr>) -> Self {
        Self { router, client }
    }
}

impl hyper::service::Service<hyper::Request<Incoming>> for RouterService {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn call(&self, mut request: hyper::Request<Incoming>) -> Self::Future {
        if let Some(client) = self.client {
            request.extensions_mut().insert(ConnectInfo(client));
        }
        Box::pin(self.router.clone().oneshot(request))
    }
}

/// Writes usage counts every `period`, off the request path, until told to stop. A
/// flush is never cut short: the stop signal is only heard between flushes.
async fn flush_usage_until(engine: Arc<Engine>, period: Duration, mut stop: oneshot::Receiver<()>) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = &mut stop => return,
        }
        if let Err(error) = engine.flush_usage().await {
            let error = tessera_store::with_causes(&error);
            tracing::warn!(%error, "could not write usage counts; will retry");
        }
    }
}
