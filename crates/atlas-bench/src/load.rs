//! The load generator: N keep-alive HTTP/1.1 connections, each sending requests back to back for
//! a fixed time, latencies recorded in an HDR histogram. Authentication is per connection, the
//! way real clients do it: a Digest client fetches one nonce and counts `nc` up; a Bearer client
//! sends its token.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use atlas_api::identity::credentials::digest_authorization;

/// How a connection authenticates.
#[derive(Clone)]
pub enum Auth {
    None,
    Bearer(String),
    Digest { user: String, password: String },
}

/// One request of a scenario: given the run (unique per `run` call), the connection and the
/// step (numbering that connection's requests), the method, path and body.
pub type MakeRequest =
    Arc<dyn Fn(u64, usize, u64) -> (hyper::Method, String, Option<String>) + Send + Sync>;

/// Numbers the runs of this process, so generated names never repeat across runs.
static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Stats {
    pub requests: u64,
    pub errors: u64,
    /// Statuses of the failed requests (0: transport error), for diagnosing.
    pub error_statuses: std::collections::BTreeMap<u16, u64>,
    pub elapsed: Duration,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

impl Stats {
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// One connection with its authentication state.
struct Client {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    auth: Auth,
    nonce: Option<String>,
    nc: u32,
}

impl Client {
    async fn connect(addr: &str, auth: Auth) -> anyhow::Result<Client> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Client {
            sender,
            host: addr.to_owned(),
            auth,
            nonce: None,
            nc: 0,
        })
    }

    fn authorization(&mut self, method: &hyper::Method, uri: &str) -> Option<String> {
        match &self.auth {
            Auth::None => None,
            Auth::Bearer(token) => Some(format!("Bearer {token}")),
            Auth::Digest { user, password } => {
                let nonce = self.nonce.as_deref()?;
                self.nc += 1;
                Some(digest_authorization(
                    user,
                    password,
                    method.as_str(),
                    uri,
                    nonce,
                    Some(self.nc),
                ))
            }
        }
    }

    async fn send(
        &mut self,
        method: hyper::Method,
        uri: &str,
        body: Option<&str>,
        accept: &str,
    ) -> anyhow::Result<u16> {
        Ok(self.exchange(method, uri, body, accept).await?.0)
    }

    /// Sends one request; a Digest 401 is answered once with the fresh nonce it carries.
    async fn exchange(
        &mut self,
        method: hyper::Method,
        uri: &str,
        body: Option<&str>,
        accept: &str,
    ) -> anyhow::Result<(u16, Bytes)> {
        for _ in 0..2 {
            let mut builder = Request::builder()
                .method(method.clone())
                .uri(uri)
                .header("host", &self.host)
                .header("accept", accept);
            if let Some(auth) = self.authorization(&method, uri) {
                builder = builder.header("authorization", auth);
            }
            if body.is_some() {
                builder = builder.header("content-type", "application/json");
            }
            let request =
                builder.body(Full::new(Bytes::from(body.unwrap_or_default().to_owned())))?;
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            let status = response.status().as_u16();
            let challenge = response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split("nonce=\"").nth(1))
                .and_then(|v| v.split('"').next())
                .map(str::to_owned);
            let bytes = response.into_body().collect().await?.to_bytes();
            match (status, challenge, &self.auth) {
                (401, Some(nonce), Auth::Digest { .. }) => {
                    self.nonce = Some(nonce);
                    self.nc = 0;
                }
                _ => return Ok((status, bytes)),
            }
        }
        Ok((401, Bytes::new()))
    }
}

/// One request on a fresh connection (for preparing state, not measured): status and body.
pub async fn one(
    addr: &str,
    auth: &Auth,
    method: hyper::Method,
    uri: &str,
    accept: &str,
    body: Option<&str>,
) -> anyhow::Result<(u16, Bytes)> {
    let mut client = Client::connect(addr, auth.clone()).await?;
    client.exchange(method, uri, body, accept).await
}

/// A number unique to one run in this process.
fn next_run() -> u64 {
    RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Runs `make` on `connections` connections for `duration`.
pub async fn run(
    addr: &str,
    connections: usize,
    duration: Duration,
    auth: Auth,
    accept: &'static str,
    make: MakeRequest,
) -> anyhow::Result<Stats> {
    let clients = open_all(connections, || async {
        Ok(HyperConnection {
            client: Client::connect(addr, auth.clone()).await?,
            accept,
        })
    })
    .await?;
    drive(clients, duration, make).await
}

/// Opens `n` connections with `open`, one after the other.
pub async fn open_all<C, F, Fut>(n: usize, mut open: F) -> anyhow::Result<Vec<C>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<C>>,
{
    let mut opened = Vec::with_capacity(n);
    for _ in 0..n {
        opened.push(open().await?);
    }
    Ok(opened)
}

/// One keep-alive connection of a load generator.
pub trait Connection: Send + 'static {
    /// Sends one request and answers the status of its answer.
    fn request(
        &mut self,
        method: hyper::Method,
        uri: &str,
        body: Option<&str>,
    ) -> impl std::future::Future<Output = anyhow::Result<u16>> + Send;

    /// Whether a failed exchange ends this connection's measurement (a raw connection loses
    /// its framing with it).
    const STOPS_ON_ERROR: bool;
}

/// A hyper client with the `Accept` header of the scenario.
struct HyperConnection {
    client: Client,
    accept: &'static str,
}

impl Connection for HyperConnection {
    async fn request(
        &mut self,
        method: hyper::Method,
        uri: &str,
        body: Option<&str>,
    ) -> anyhow::Result<u16> {
        self.client.send(method, uri, body, self.accept).await
    }

    const STOPS_ON_ERROR: bool = false;
}

/// Keeps each connection busy with `make`'s requests, one at a time (no pipelining), until
/// `duration` is over; the latencies and failed statuses of every connection, merged.
pub async fn drive<C: Connection>(
    connections: Vec<C>,
    duration: Duration,
    make: MakeRequest,
) -> anyhow::Result<Stats> {
    let run = next_run();
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for (c, mut connection) in connections.into_iter().enumerate() {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3)?;
            let mut errors = std::collections::BTreeMap::<u16, u64>::new();
            let mut step = 0u64;
            while Instant::now() < deadline {
                let (method, uri, body) = make(run, c, step);
                step += 1;
                let t = Instant::now();
                match connection.request(method, &uri, body.as_deref()).await {
                    Ok(status) if status < 400 => {}
                    Ok(status) => *errors.entry(status).or_default() += 1,
                    Err(_) => {
                        *errors.entry(0).or_default() += 1;
                        if C::STOPS_ON_ERROR {
                            break;
                        }
                    }
                }
                hist.record(t.elapsed().as_micros() as u64).ok();
            }
            anyhow::Ok((hist, errors))
        }));
    }
    collect(tasks, started).await
}

/// What one connection's task measured: its latencies and its failed statuses.
type Measured = anyhow::Result<(Histogram<u64>, std::collections::BTreeMap<u16, u64>)>;

/// The connections' histograms and errors, merged.
async fn collect(
    tasks: Vec<tokio::task::JoinHandle<Measured>>,
    started: Instant,
) -> anyhow::Result<Stats> {
    let mut total = Histogram::<u64>::new(3)?;
    let mut error_statuses = std::collections::BTreeMap::new();
    for task in tasks {
        let (hist, e) = task.await??;
        total.add(&hist)?;
        for (status, n) in e {
            *error_statuses.entry(status).or_default() += n;
        }
    }
    if total.is_empty() {
        bail!("no request completed");
    }
    Ok(Stats {
        requests: total.len(),
        errors: error_statuses.values().sum(),
        error_statuses,
        elapsed: started.elapsed(),
        p50_us: total.value_at_quantile(0.5),
        p99_us: total.value_at_quantile(0.99),
        max_us: total.max(),
    })
}
