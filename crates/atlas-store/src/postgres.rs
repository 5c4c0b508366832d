//! The PostgreSQL implementation of [`Store`], for several localatlas instances sharing one
//! database behind a load balancer: connections (a bounded pool that reconnects), transactions
//! and their retry. The schema lives in `postgres/schema.rs`, the SQL of each operation in
//! `postgres/tx.rs`.
//!
//! Isolation: write transactions run `SERIALIZABLE`, so the engine's read-check-write sequences
//! (a name is free → claim it → insert) behave exactly as under SQLite's single writer, across
//! every instance. PostgreSQL reports a transaction that cannot be serialized with SQLSTATE
//! 40001 (or a deadlock, 40P01); the whole transaction is then rolled back and `work` runs again
//! on a fresh snapshot, with a growing, jittered pause, until [`RETRY_FOR`] has passed. Read
//! transactions run `REPEATABLE READ READ ONLY`: one snapshot, never a conflict.
//!
//! Connection loss (PostgreSQL restarted or unreachable): a transaction whose connection broke
//! before `COMMIT` was sent changed nothing, so it is retried once on a new connection; if that
//! fails too, or the connection broke during `COMMIT` (the outcome is unknown, so running `work`
//! again could apply it twice), the caller gets [`StoreError::Unavailable`] — an Atlas 503. Dead
//! pooled connections are discarded and replaced on the next transaction, so the server recovers
//! by itself once the database is back.
//!
//! No document cache, unlike the SQLite store (`sqlite/cache.rs`): another instance's commit
//! leaves no trace this instance could check more cheaply than reading the row itself, so every
//! read goes to the database.

mod schema;
#[cfg(test)]
mod tests;
mod tx;

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use postgres::error::SqlState;
use postgres::{Client, Config, NoTls};

use crate::{Access, Store, StoreError, StoreResult, Tx};

/// Connections one store opens at most (`?pool_size=N` in the URL changes it). Every request
/// holds one for the duration of one transaction; beyond this many, transactions queue.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// How long a transaction keeps retrying serialization conflicts before it gives up with
/// `Unavailable`. Conflicts are short-lived (each round one of the contenders commits), so
/// this only matters under pathological contention.
const RETRY_FOR: Duration = Duration::from_secs(15);

/// How long a transaction waits for a free pooled connection.
const POOL_WAIT: Duration = Duration::from_secs(30);

/// Connecting gives up after this long unless the URL says otherwise (`connect_timeout=`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`Store`] in a PostgreSQL database, shared by every instance pointed at it.
pub struct PostgresStore {
    pool: Pool,
    description: String,
}

/// What happened to one attempt at a transaction.
pub(crate) enum Attempt {
    /// Committed, or rolled back with the error of `work` (or of the database).
    Done(StoreResult<()>),
    /// A serialization conflict or deadlock: rolled back, run again.
    Conflict,
    /// The connection broke; `committing` if it broke during `COMMIT` (outcome unknown).
    Broken { committing: bool, error: String },
}

/// How a database error affects the transaction it happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The statement failed on its own (a bug or a constraint we did not expect).
    Statement,
    /// The transaction must be run again.
    Conflict,
    /// The connection is gone.
    Broken,
}

pub(crate) fn classify(e: &postgres::Error) -> Failure {
    match e.code() {
        Some(code)
            if *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED =>
        {
            Failure::Conflict
        }
        // Class 08: connection exceptions; 57P0x: the server is shutting down or restarting.
        Some(code) if code.code().starts_with("08") || code.code().starts_with("57P") => {
            Failure::Broken
        }
        Some(_) => Failure::Statement,
        None if e.is_closed() => Failure::Broken,
        // No SQLSTATE: an I/O or protocol error on the socket.
        None => Failure::Broken,
    }
}

fn unavailable(context: &str, e: &postgres::Error) -> StoreError {
    StoreError::Unavailable(format!("postgres {context}: {}", detail(e)))
}

/// The server's SQLSTATE and message, or the client's own error with its cause (the `Display`
/// of `postgres::Error` alone says only "db error").
pub(crate) fn detail(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/dbname`, any
    /// libpq-style parameter the `postgres` crate knows, plus `pool_size=N`) and migrates it to
    /// the current schema.
    pub fn open(url: &str) -> StoreResult<Self> {
        let (url, pool_size) = take_pool_size(url)?;
        let mut config: Config = url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("invalid PostgreSQL URL: {e}")))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("localatlas");
        }
        // No statement waits forever (a lock held by a stuck transaction of another instance),
        // and a session that sits inside a transaction is cut off rather than holding locks.
        // Index scans only: a sequential scan (which the planner prefers while tables are small)
        // makes a serializable transaction lock the whole table against writers, so every two
        // concurrent writes would conflict; an index scan locks only the key range it read.
        if config.get_options().is_none() {
            config.options(
                "-c statement_timeout=30s -c idle_in_transaction_session_timeout=60s \
                 -c enable_seqscan=off",
            );
        }
        // Detect a dead peer (a database host that vanished) instead of waiting forever.
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        let description = describe(&config);
        let pool = Pool::new(config, pool_size);
        {
            let mut lease = pool.take()?;
            let conn = lease.conn();
            schema::migrate(&mut conn.client)?;
            conn.prepare()?;
        }
        Ok(PostgresStore { pool, description })
    }
}

/// Splits our own `pool_size` parameter off the URL (the driver refuses unknown parameters).
fn take_pool_size(url: &str) -> StoreResult<(String, usize)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), DEFAULT_POOL_SIZE));
    };
    let mut size = DEFAULT_POOL_SIZE;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("pool_size", value)) => {
                size = value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    StoreError::Unavailable(format!("invalid pool_size {value:?}"))
                })?;
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, size))
}

/// `postgres://host:port/dbname` for logs and the health endpoint: never the password.
fn describe(config: &Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("");
    let db = config.get_dbname().unwrap_or(user);
    format!("postgres://{host}:{port}/{db}")
}

impl Store for PostgresStore {
    fn transaction(
        &self,
        access: Access,
        work: &mut dyn FnMut(&mut dyn Tx) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let started = Instant::now();
        let mut conflicts: u32 = 0;
        let mut reconnected = false;
        loop {
            let mut lease = self.pool.take()?;
            match tx::attempt(lease.conn(), access, work) {
                Attempt::Done(result) => return result,
                Attempt::Conflict => {
                    drop(lease);
                    conflicts += 1;
                    if started.elapsed() > RETRY_FOR {
                        return Err(StoreError::Unavailable(format!(
                            "postgres: gave up after {conflicts} serialization conflicts"
                        )));
                    }
                    std::thread::sleep(backoff(conflicts));
                }
                Attempt::Broken { committing, error } => {
                    lease.discard();
                    // One connection broke: the server probably restarted, and the idle ones
                    // are as dead, so none of them is handed out again.
                    self.pool.discard_idle();
                    if committing || reconnected {
                        return Err(StoreError::Unavailable(format!(
                            "postgres connection lost{}: {error}",
                            if committing {
                                " during commit (outcome unknown)"
                            } else {
                                ""
                            }
                        )));
                    }
                    // Nothing was committed: one more try on a new connection (the pooled one
                    // may simply have outlived a database restart).
                    reconnected = true;
                }
            }
        }
    }

    fn describe(&self) -> String {
        self.description.clone()
    }

    fn embedded(&self) -> bool {
        false
    }
}

/// A pause that grows with the number of conflicts (1 ms … 64 ms) plus jitter, so contenders
/// that collided do not collide again in lockstep.
fn backoff(conflicts: u32) -> Duration {
    let base = 1u64 << conflicts.min(6);
    let nanos = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos(),
    );
    Duration::from_micros(base * 1000 + nanos % (base * 1000))
}

/// One connection with its prepared statements.
pub(crate) struct Conn {
    pub(crate) client: Client,
    pub(crate) statements: Option<tx::Statements>,
}

impl Conn {
    /// Prepares the statements of `tx.rs` once per connection (each saves a round trip per use).
    pub(crate) fn prepare(&mut self) -> StoreResult<()> {
        if self.statements.is_none() {
            self.statements = Some(tx::Statements::prepare(&mut self.client)?);
        }
        Ok(())
    }
}

/// At most `max` connections, opened on demand, kept for reuse, discarded when broken.
struct Pool {
    config: Config,
    max: usize,
    state: Mutex<PoolState>,
    freed: Condvar,
}

struct PoolState {
    idle: Vec<Conn>,
    /// Connections in existence (idle or leased).
    open: usize,
}

struct Lease<'p> {
    pool: &'p Pool,
    conn: Option<Conn>,
}

impl Pool {
    fn new(config: Config, max: usize) -> Pool {
        Pool {
            config,
            max,
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self) -> StoreResult<Lease<'_>> {
        let deadline = Instant::now() + POOL_WAIT;
        let mut state = self.lock();
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(Lease {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if state.open < self.max {
                state.open += 1;
                drop(state);
                return match self.connect() {
                    Ok(conn) => Ok(Lease {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        self.lock().open -= 1;
                        self.freed.notify_one();
                        Err(e)
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StoreError::Unavailable(format!(
                    "postgres: all {} connections busy for {}s",
                    self.max,
                    POOL_WAIT.as_secs()
                )));
            }
            state = self
                .freed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn discard_idle(&self) {
        let mut state = self.lock();
        let idle = std::mem::take(&mut state.idle);
        state.open -= idle.len();
        drop(state);
        drop(idle);
        self.freed.notify_all();
    }

    fn connect(&self) -> StoreResult<Conn> {
        let client = self
            .config
            .connect(NoTls)
            .map_err(|e| unavailable("connect", &e))?;
        // Statements are prepared by the first transaction (`tx::attempt`): at open time the
        // tables may not exist before the migration ran.
        Ok(Conn {
            client,
            statements: None,
        })
    }
}

impl Lease<'_> {
    fn conn(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .unwrap_or_else(|| unreachable!("a lease holds its connection until dropped"))
    }

    /// Closes the connection instead of returning it to the pool.
    fn discard(&mut self) {
        self.conn = None;
    }
}

impl Drop for Lease<'_> {
    /// Returns a healthy connection to the pool; a broken one (or one left inside a transaction
    /// by a panic, which the client's drop already rolled back) is closed.
    fn drop(&mut self) {
        let mut state = self.pool.lock();
        match self.conn.take() {
            Some(conn) if !conn.client.is_closed() && !std::thread::panicking() => {
                state.idle.push(conn);
            }
            _ => state.open -= 1,
        }
        drop(state);
        self.pool.freed.notify_one();
    }
}

/// The environment variable naming a PostgreSQL server for tests (`postgres://user@host:port/db`;
/// `.ci/run` sets it). Tests that need PostgreSQL skip without it.
pub const TEST_URL_VAR: &str = "LOCALATLAS_TEST_POSTGRES";

/// For tests: a new, empty database `name` on the server of [`TEST_URL_VAR`] (dropped first if a
/// previous run left it) and its URL; `None` when the variable is unset. Panics on failure: a
/// test that was given a server must not silently skip.
#[doc(hidden)]
pub fn test_database(name: &str) -> Option<String> {
    let admin = std::env::var(TEST_URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())?;
    let mut client = Client::connect(&admin, NoTls)
        .unwrap_or_else(|e| panic!("{TEST_URL_VAR}={admin}: cannot connect: {e}"));
    // Separate statements: CREATE DATABASE refuses to run inside the implicit transaction of
    // a multi-statement batch.
    for sql in [
        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
        format!("CREATE DATABASE \"{name}\""),
    ] {
        if let Err(e) = client.batch_execute(&sql) {
            panic!("{sql}: {}", unavailable("test database", &e));
        }
    }
    Some(with_database(&admin, name))
}

/// `url` with its database name replaced by `name` (parameters kept).
fn with_database(url: &str, name: &str) -> String {
    let (url, query) = match url.split_once('?') {
        Some((url, query)) => (url, Some(query)),
        None => (url, None),
    };
    let authority_at = url.find("://").map_or(0, |at| at + 3);
    let base = match url[authority_at..].find('/') {
        Some(slash) => &url[..authority_at + slash],
        None => url,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}
