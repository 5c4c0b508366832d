//! The `localatlas` binary: command line, start-up (store, bootstrap, TLS, listener), graceful
//! shutdown, the state snapshot commands (`export`, `import`), and `localatlas coverage`, which
//! reads a running server's coverage report, `localatlas record`, a proxy that records a
//! client's traffic with a real Atlas, and `localatlas parity`, which replays such a recording
//! against localatlas (a fresh one in this process, through the same start-up as `serve`).

mod coverage;
mod outbound;
mod parity;
mod record;

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use atlas_api::control::bootstrap::Bootstrap;
use atlas_api::kernel::lifecycle::Policy;
use atlas_api::{Atlas, Config};
use atlas_http::gate::ControlAccess;
use atlas_http::serve::{self, Limits};
use atlas_http::{App, HttpConfig, tls};
use atlas_store::Store;
use atlas_store::postgres::PostgresStore;
use atlas_store::sqlite::SqliteStore;
use clap::{Parser, Subcommand, ValueEnum};

/// mimalloc instead of the system allocator: request handling builds and drops many small JSON
/// values, and glibc's allocator (consolidation, fragmentation) was the largest cost in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "localatlas",
    version,
    about = "A local MongoDB Atlas Administration API v2"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Atlas Administration API v2.
    Serve(Box<ServeArgs>),
    /// Write the whole state of a store as a JSON snapshot to standard output.
    Export(StoreArgs),
    /// Replace the whole state of a store with a JSON snapshot read from standard input.
    Import(StoreArgs),
    /// Print which operations a running localatlas served (calls, error rates) and which it never did.
    Coverage(coverage::Args),
    /// Forward a client's requests to Atlas (or another upstream) and record every exchange as
    /// JSON lines, secrets redacted.
    Record(Box<record::Args>),
    /// Replay a recording (`localatlas record`'s, or the conformance corpus) against localatlas
    /// and report where its answers differ from the recorded ones.
    Parity(Box<parity::Args>),
}

#[derive(clap::Args)]
struct StoreArgs {
    /// The store: a SQLite file path, or a `postgres://` URL (as for `serve`).
    #[arg(long, env = "LOCALATLAS_STORE")]
    store: Option<String>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "LOCALATLAS_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where state lives: a SQLite file path, `memory` to keep nothing on disk, or a
    /// `postgres://user:password@host:port/db` URL (several instances may share one database).
    /// Default: `$XDG_DATA_HOME/localatlas/localatlas.db` (`~/.local/share/...`).
    #[arg(long, env = "LOCALATLAS_STORE")]
    store: Option<String>,
    /// Write the bootstrap identities (org, project, API key, service account) as JSON to FILE
    /// before accepting connections.
    #[arg(long, env = "LOCALATLAS_BOOTSTRAP_OUT", value_name = "FILE")]
    bootstrap_out: Option<PathBuf>,
    /// How long-running resources (clusters, archives, endpoints ...) progress.
    #[arg(long, env = "LOCALATLAS_LIFECYCLE", value_enum, default_value_t = Lifecycle::Instant)]
    lifecycle: Lifecycle,
    /// Largest request body accepted, in bytes (413 above).
    #[arg(long, env = "LOCALATLAS_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    max_body_bytes: usize,
    /// Largest request head (request line and headers), in bytes (431 above; at least 8192).
    #[arg(long, env = "LOCALATLAS_MAX_HEADER_BYTES", default_value_t = 64 * 1024)]
    max_header_bytes: usize,
    /// Seconds a client has to send its request headers; also how long an idle keep-alive
    /// connection stays open. The connection is closed after.
    #[arg(long, env = "LOCALATLAS_HEADER_READ_TIMEOUT", default_value_t = 30)]
    header_read_timeout: u64,
    /// Seconds a client has to send its request body once the headers are in (408 after).
    #[arg(long, env = "LOCALATLAS_BODY_READ_TIMEOUT", default_value_t = 30)]
    body_read_timeout: u64,
    /// Connections served at once; more wait until one closes.
    #[arg(long, env = "LOCALATLAS_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Seconds a shutdown (SIGTERM, Ctrl-C) waits for requests in flight to be answered.
    #[arg(long, env = "LOCALATLAS_SHUTDOWN_GRACE", default_value_t = 30)]
    shutdown_grace: u64,
    /// Read the client's address (for API access lists and per-address rate limits) from this
    /// header, as set by a trusted reverse proxy (e.g. `X-Forwarded-For`; its last address is
    /// used). Off by default: the connection's peer address.
    #[arg(
        long,
        env = "LOCALATLAS_TRUSTED_CLIENT_IP_HEADER",
        value_name = "HEADER"
    )]
    trusted_client_ip_header: Option<String>,
    /// Who may use the control API (`/__localatlas/`) and the console: `auto` — loopback clients
    /// as they are, others with the control token; `loopback` — loopback clients only; `token` —
    /// the control token from every client; `off` — nothing but `GET /__localatlas/health`.
    /// Loopback is the client's address after `--trusted-client-ip-header`.
    #[arg(long, env = "LOCALATLAS_CONTROL", value_enum, default_value_t = Control::Auto)]
    control: Control,
    /// The control token (at least 16 printable characters), for every instance on the store;
    /// without it the stored one is kept, or one is generated on the first start. Printed at
    /// start-up and written to the bootstrap file.
    #[arg(long, env = "LOCALATLAS_CONTROL_TOKEN", value_name = "TOKEN")]
    control_token: Option<String>,
    /// A host name the control API, the console and the private endpoints answer under besides
    /// IP addresses and `localhost` (repeatable; `*` for any). Other names are refused, against
    /// DNS rebinding.
    #[arg(
        long = "allowed-host",
        env = "LOCALATLAS_ALLOWED_HOST",
        value_name = "NAME",
        value_delimiter = ','
    )]
    allowed_hosts: Vec<String>,
    /// Atlas's rate limits (token buckets per endpoint set; 429 when empty). `off` for load tests.
    #[arg(long, env = "LOCALATLAS_RATE_LIMIT", value_enum, default_value_t = Switch::On)]
    rate_limit: Switch,
    /// Keep the answer of a GET that neither wrote nor read the time, and serve it again until
    /// the next write (embedded stores). `off` renders every answer anew.
    #[arg(long, env = "LOCALATLAS_KEPT_ANSWERS", value_enum, default_value_t = Switch::On)]
    kept_answers: Switch,
    #[command(flatten)]
    tls: TlsArgs,
}

/// HTTPS serving.
#[derive(clap::Args)]
struct TlsArgs {
    /// Serve HTTPS with a certificate from localatlas's local CA (created on first start and kept
    /// in the store, so restarts with the same store keep it).
    #[arg(long, env = "LOCALATLAS_TLS")]
    tls: bool,
    /// Write the local CA's certificate (PEM) to FILE, for clients to trust
    /// (`NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE`, `curl --cacert`). Implies `--tls`.
    #[arg(
        long,
        env = "LOCALATLAS_TLS_CA_OUT",
        value_name = "FILE",
        conflicts_with = "tls_cert"
    )]
    tls_ca_out: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain instead of the local CA's. Implies `--tls`.
    #[arg(
        long,
        env = "LOCALATLAS_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(
        long,
        env = "LOCALATLAS_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
}

impl TlsArgs {
    fn enabled(&self) -> bool {
        self.tls || self.tls_ca_out.is_some() || self.tls_cert.is_some()
    }

    /// The server configuration, or `None` for plain HTTP.
    fn server_config(
        &self,
        store: &dyn Store,
        listen: std::net::IpAddr,
    ) -> anyhow::Result<Option<Arc<tokio_rustls::rustls::ServerConfig>>> {
        if !self.enabled() {
            return Ok(None);
        }
        let (chain, key) = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => (
                std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?,
                std::fs::read(key).with_context(|| format!("reading {}", key.display()))?,
            ),
            _ => {
                let ca = tls::LocalCa::load_or_create(store).context("the local CA")?;
                if let Some(path) = &self.tls_ca_out {
                    write_atomically(path, ca.cert_pem.as_bytes())
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                let (chain, key) = ca
                    .issue(&tls::server_names(listen))
                    .context("issuing the server certificate")?;
                (chain.into_bytes(), key.into_bytes())
            }
        };
        Ok(Some(tls::server_config(&chain, &key)?))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
}

#[derive(Clone, Copy, ValueEnum)]
enum Control {
    /// Loopback clients as they are; everyone else with the control token.
    Auto,
    /// Loopback clients only.
    Loopback,
    /// The control token from every client, loopback included.
    Token,
    /// Nothing but the health probe.
    Off,
}

impl From<Control> for ControlAccess {
    fn from(c: Control) -> ControlAccess {
        match c {
            Control::Auto => ControlAccess::Auto,
            Control::Loopback => ControlAccess::Loopback,
            Control::Token => ControlAccess::Token,
            Control::Off => ControlAccess::Off,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Lifecycle {
    /// The answer to a change and the first read after it show the transitional state; every
    /// later read shows the final one.
    Instant,
    /// Transitions take about as long as in Atlas (minutes for a dedicated cluster).
    Realistic,
    /// Transitions complete only when the control API advances lifecycles or the clock.
    Manual,
}

impl From<Lifecycle> for Policy {
    fn from(l: Lifecycle) -> Policy {
        match l {
            Lifecycle::Instant => Policy::Instant,
            Lifecycle::Realistic => Policy::Realistic,
            Lifecycle::Manual => Policy::Manual,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let started = Instant::now();
    // Logs go to stderr: `LOCALATLAS_LOG` filters (`info` shows one line per request, with its
    // id), `LOCALATLAS_LOG_FORMAT=json` writes one JSON object per line for log collectors.
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOCALATLAS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colours only on a terminal (and not with `NO_COLOR`): logs piped to a file or a collector
    // stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if std::env::var("LOCALATLAS_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        logs.json().init();
    } else {
        logs.init();
    }
    match Cli::parse().command {
        Command::Serve(args) => run(*args, started),
        Command::Export(args) => export(&args),
        Command::Import(args) => import(&args),
        Command::Coverage(args) => coverage::run(&args),
        Command::Record(args) => record::run(*args),
        Command::Parity(args) => {
            // Below a floor: the figures are printed, the exit status says so.
            if !parity::run(*args)? {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

/// `localatlas export`: the snapshot of `GET /__localatlas/state`, on standard output.
fn export(args: &StoreArgs) -> anyhow::Result<()> {
    let store = open_store(args.store.as_deref())?;
    let atlas = Atlas::new(store, Config::default());
    let snapshot = atlas
        .export_state()
        .map_err(|e| anyhow::anyhow!("export failed: {e}"))?;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &snapshot)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// `localatlas import`: replaces the store's state with the snapshot on standard input.
fn import(args: &StoreArgs) -> anyhow::Result<()> {
    let mut text = Vec::new();
    std::io::stdin()
        .read_to_end(&mut text)
        .context("reading the snapshot from standard input")?;
    let snapshot: serde_json::Value =
        serde_json::from_slice(&text).context("the snapshot is not JSON")?;
    let store = open_store(args.store.as_deref())?;
    let atlas = Atlas::new(store.clone(), Config::default());
    let outcome = atlas
        .import_state(&snapshot)
        .map_err(|e| anyhow::anyhow!("import failed: {e}"))?;
    eprintln!(
        "imported {} documents and {} claims into {}",
        outcome["documents"],
        outcome["claims"],
        store.describe()
    );
    Ok(())
}

/// The default store file: the XDG data directory, else the current directory.
fn default_store_path() -> PathBuf {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    match data {
        Some(dir) => dir.join("localatlas").join("localatlas.db"),
        None => PathBuf::from("localatlas.db"),
    }
}

fn open_store(spec: Option<&str>) -> anyhow::Result<Arc<dyn Store>> {
    match spec {
        Some("memory") => Ok(Arc::new(
            SqliteStore::memory().context("opening the in-memory store")?,
        )),
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let store = PostgresStore::open(url).context("opening the PostgreSQL store")?;
            Ok(Arc::new(store))
        }
        other => {
            let path = other.map_or_else(default_store_path, PathBuf::from);
            let store = SqliteStore::open(&path)
                .with_context(|| format!("opening store {}", path.display()))?;
            Ok(Arc::new(store))
        }
    }
}

fn run(args: ServeArgs, started: Instant) -> anyhow::Result<()> {
    let prepared = prepare(args)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let bound = prepared.bind().await?;
        bound.print_banner(started);
        bound.serve(shutdown_signal()).await;
        tracing::info!("stopped");
        Ok(())
    })
}

/// A server made from `serve`'s arguments before it listens: the store opened, the control
/// token set, the bootstrap identities minted. Made outside the async runtime, because the
/// PostgreSQL driver runs its own.
struct Prepared {
    args: ServeArgs,
    store: Arc<dyn Store>,
    atlas: Atlas,
    boot: Bootstrap,
}

fn prepare(args: ServeArgs) -> anyhow::Result<Prepared> {
    let store = open_store(args.store.as_deref())?;
    let config = Config {
        lifecycle: args.lifecycle.into(),
        // An embedded store serves one process: admission's counters (nonce counts, rate-limit
        // buckets) stay in its memory. A shared database serves several instances, which must
        // spend from the same buckets and refuse the same replayed nonces: the store keeps them.
        counters_in_store: !store.embedded(),
        keep_answers: args.kept_answers == Switch::On,
    };
    let atlas = Atlas::new(store.clone(), config);
    if let Some(token) = args.control_token.as_deref() {
        atlas
            .set_control_token(token)
            .map_err(|e| anyhow::anyhow!("--control-token: {}", e.detail()))?;
    }
    let boot = atlas
        .bootstrap()
        .map_err(|e| anyhow::anyhow!("bootstrap failed: {e}"))?;
    Ok(Prepared {
        args,
        store,
        atlas,
        boot,
    })
}

/// A server listening, its bootstrap file written, ready to serve.
struct Bound {
    /// `http(s)://address`, without the API's path.
    base_url: String,
    boot: Bootstrap,
    store: String,
    lifecycle: String,
    ca_out: Option<PathBuf>,
    control: ControlAccess,
    app: axum::Router,
    accept: serve::Accept,
    limits: Limits,
}

impl Prepared {
    /// Binds the listener (inside the runtime), sets up TLS and writes `--bootstrap-out`.
    async fn bind(self) -> anyhow::Result<Bound> {
        let Prepared {
            args,
            store,
            atlas,
            boot,
        } = self;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let local = listener.local_addr()?;
        let tls = args.tls.server_config(&*store, local.ip())?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{local}");
        if let Some(path) = &args.bootstrap_out {
            write_atomically(path, &serde_json::to_vec_pretty(&boot.to_json(&base_url))?)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let control = ControlAccess::from(args.control);
        let http = HttpConfig {
            max_body_bytes: args.max_body_bytes,
            trusted_client_ip_header: args
                .trusted_client_ip_header
                .filter(|h| !h.trim().is_empty())
                .map(|h| h.trim().to_ascii_lowercase()),
            rate_limits: args.rate_limit == Switch::On,
            body_read_timeout: Duration::from_secs(args.body_read_timeout),
            tls: tls.is_some(),
            control,
            allowed_hosts: args
                .allowed_hosts
                .iter()
                .map(|h| {
                    // A name, without a port.
                    let name = h.trim().split(':').next().unwrap_or_default();
                    name.trim_end_matches('.').to_ascii_lowercase()
                })
                .filter(|h| !h.is_empty())
                .collect(),
        };
        let limits = Limits {
            header_read_timeout: Duration::from_secs(args.header_read_timeout),
            max_header_bytes: args.max_header_bytes,
            max_connections: args.max_connections,
            drain: Duration::from_secs(args.shutdown_grace),
        };
        let lifecycle = atlas.lifecycle().default.to_string();
        Ok(Bound {
            base_url,
            boot,
            store: store.describe(),
            lifecycle,
            ca_out: args.tls.tls_ca_out,
            control,
            app: atlas_http::app(Arc::new(App::new(atlas, http))),
            accept: serve::Accept::new(listener, tls),
            limits,
        })
    }
}

impl Bound {
    /// What `serve` prints once it listens: the address and the identities to use.
    fn print_banner(&self, started: Instant) {
        let (base_url, boot) = (&self.base_url, &self.boot);
        println!(
            "localatlas {} serving {base_url}/api/atlas/v2",
            env!("CARGO_PKG_VERSION")
        );
        println!("  store:           {}", self.store);
        println!("  lifecycle:       {}", self.lifecycle);
        println!("  organization:    {}", boot.org_id);
        println!("  project:         {}", boot.project_id);
        println!(
            "  API key:         {} / {}",
            boot.public_key, boot.private_key
        );
        println!(
            "  service account: {} / {}",
            boot.client_id, boot.client_secret
        );
        if let Some(path) = &self.ca_out {
            println!("  CA certificate:  {}", path.display());
        }
        match self.control {
            ControlAccess::Off => println!("  control API:     off (--control off)"),
            ControlAccess::Auto => println!("  control token:   {}", boot.control_token),
            mode => println!(
                "  control token:   {} (--control {})",
                boot.control_token,
                mode.name()
            ),
        }
        if self.control != ControlAccess::Off {
            println!("  console:         {base_url}/");
        }
        println!("  ready in {} ms", started.elapsed().as_millis());
    }

    /// Serves until `shutdown` resolves and the requests in flight are answered.
    async fn serve(self, shutdown: impl std::future::Future<Output = ()>) {
        serve::serve(self.accept, self.app, &self.limits, shutdown).await;
    }
}

/// `serve`'s arguments for a fresh server inside this process (`localatlas parity`): every
/// default of `serve`, but a memory store, the instant lifecycle, an ephemeral loopback port,
/// plain HTTP, no bootstrap file and the control API for loopback only, whatever the
/// environment's `LOCALATLAS_*` variables say about those.
fn in_process_args() -> anyhow::Result<ServeArgs> {
    #[derive(Parser)]
    struct Defaults {
        #[command(flatten)]
        serve: ServeArgs,
    }
    let mut args = Defaults::try_parse_from(["localatlas"])
        .context("a LOCALATLAS_* variable holds an invalid value")?
        .serve;
    args.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    args.store = Some("memory".to_owned());
    args.lifecycle = Lifecycle::Instant;
    args.bootstrap_out = None;
    args.control = Control::Loopback;
    args.control_token = None;
    args.trusted_client_ip_header = None;
    args.tls = TlsArgs {
        tls: false,
        tls_ca_out: None,
        tls_cert: None,
        tls_key: None,
    };
    Ok(args)
}

/// A server serving inside this process until [`InProcess::stop`].
struct InProcess {
    /// The `--bootstrap-out` document: base URL, org, project, API key, service account.
    bootstrap: serde_json::Value,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<()>,
}

impl Bound {
    /// Serves on a task of the current runtime.
    fn spawn(self) -> InProcess {
        let bootstrap = self.boot.to_json(&self.base_url);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(self.serve(async move {
            let _ = stopped.await;
        }));
        InProcess {
            bootstrap,
            stop,
            serving,
        }
    }
}

impl InProcess {
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.serving).await;
    }
}

/// Writes through a temporary file and a rename, so readers never see half a file.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
