//! Harness of the end-to-end tests: the built `localatlas` binary started on a store of the
//! test's choosing (stderr kept in a log file next to the store), one-shot HTTP exchanges with
//! Digest authentication, a keep-alive client with a Bearer token for load, and `localatlas
//! record` / `localatlas parity` runs.

#![allow(dead_code)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use atlas_api::identity::credentials::digest_authorization;
use serde_json::{Value, json};

pub const ACCEPT: &str = "application/vnd.atlas.2023-01-01+json";

pub struct Server {
    pub child: Child,
    pub boot: Value,
    pub addr: String,
    pub log: PathBuf,
}

static STARTED: AtomicUsize = AtomicUsize::new(0);

impl Server {
    pub fn start(store: &str, dir: &Path) -> Server {
        Server::start_with(store, dir, &[], &[])
    }

    /// Starts the binary with extra flags and environment variables; waits until healthy.
    pub fn start_with(store: &str, dir: &Path, flags: &[&str], env: &[(&str, &str)]) -> Server {
        let n = STARTED.fetch_add(1, Ordering::SeqCst);
        let out = dir.join(format!("bootstrap-{}-{n}.json", std::process::id()));
        let log = dir.join(format!("server-{}-{n}.log", std::process::id()));
        let child = Command::new(env!("CARGO_BIN_EXE_localatlas"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--store",
                store,
                "--bootstrap-out",
            ])
            .arg(&out)
            .args(flags)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("binary starts");
        let mut child = child;
        let boot = read_bootstrap(&out, &mut child, &log);
        let deadline = Instant::now() + Duration::from_secs(30);
        let addr = boot["baseUrl"]
            .as_str()
            .unwrap()
            .trim_start_matches("http://")
            .to_owned();
        let server = Server {
            child,
            boot,
            addr,
            log,
        };
        // Ready = health answers 200 (blueprint §1.1).
        while server.request("GET", "/__localatlas/health", None, None).0 != 200 {
            assert!(Instant::now() < deadline, "never healthy");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// One HTTP/1.1 exchange: (status, headers text, body); status 0 when the connection failed.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, String, String) {
        self.request_with(method, path, auth, body, "")
    }

    /// One exchange with extra header lines (`Name: value\r\n`).
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<&Value>,
        extra: &str,
    ) -> (u16, String, String) {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: {ACCEPT}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        if let Some(auth) = auth {
            head.push_str(&format!("Authorization: {auth}\r\n"));
        }
        head.push_str(extra);
        head.push_str("\r\n");
        let mut raw = head.into_bytes();
        raw.extend_from_slice(body.as_bytes());
        let (status, headers, body) = exchange_raw(&self.addr, &raw);
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    /// A request authenticated with the bootstrap API key (challenge, then Digest).
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let (user, password) = self.key();
        let (status, _, body) = self.call_as(&user, &password, method, path, body, "");
        (status, body)
    }

    pub fn key(&self) -> (String, String) {
        (
            self.boot["apiKey"]["publicKey"]
                .as_str()
                .unwrap()
                .to_owned(),
            self.boot["apiKey"]["privateKey"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    }

    /// A fresh Digest nonce from this server's challenge.
    pub fn nonce(&self) -> Option<String> {
        let (_, headers, _) = self.request("GET", "/api/atlas/v2", None, None);
        headers
            .split("nonce=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .map(str::to_owned)
    }

    /// A request authenticated with an API key, with extra header lines: (status, headers, body).
    pub fn call_as(
        &self,
        user: &str,
        password: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
        extra: &str,
    ) -> (u16, String, Value) {
        let Some(nonce) = self.nonce() else {
            return (0, String::new(), Value::Null);
        };
        let auth = digest(user, password, method, path, &nonce, 1);
        let (status, headers, text) = self.request_with(method, path, Some(&auth), body, extra);
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    /// A service-account token of the bootstrap account.
    pub fn token(&self) -> String {
        use base64::Engine as _;
        let id = self.boot["serviceAccount"]["clientId"].as_str().unwrap();
        let secret = self.boot["serviceAccount"]["clientSecret"]
            .as_str()
            .unwrap();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        let body = "grant_type=client_credentials";
        let raw = format!(
            "POST /api/oauth/token HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAuthorization: Basic {basic}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        let (status, _, body) = exchange_raw(&self.addr, raw.as_bytes());
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let v: Value = serde_json::from_slice(&body).unwrap();
        v["access_token"].as_str().unwrap().to_owned()
    }

    pub fn stop(mut self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// The server's log so far (for assertion messages).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The bootstrap file a starting server writes before it accepts connections; panics with the
/// server's log when it exits first.
pub fn read_bootstrap(out: &Path, child: &mut Child, log: &Path) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(out)
            && let Ok(v) = serde_json::from_str(&text)
        {
            return v;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "server exited with {status}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "no bootstrap file");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Digest `Authorization` value for one request.
pub fn digest(
    user: &str,
    password: &str,
    method: &str,
    path: &str,
    nonce: &str,
    nc: u32,
) -> String {
    digest_authorization(user, password, method, path, nonce, Some(nc))
}

/// Sends raw bytes on a new connection and reads until the server closes it:
/// (status, headers, body); status 0 when nothing came back.
pub fn exchange_raw(addr: &str, raw: &[u8]) -> (u16, String, Vec<u8>) {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return (0, String::new(), Vec::new());
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    if stream.write_all(raw).is_err() {
        return (0, String::new(), Vec::new());
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    split_answer(&answer)
}

pub fn split_answer(answer: &[u8]) -> (u16, String, Vec<u8>) {
    let at = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(answer.len());
    let headers = String::from_utf8_lossy(&answer[..at]).into_owned();
    let body = answer.get(at + 4..).unwrap_or_default().to_vec();
    let status = headers
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, headers, body)
}

/// A keep-alive HTTP/1.1 connection authenticating with a Bearer token; reconnects after an
/// error. Answers are (status, body).
pub struct Client {
    addr: String,
    token: String,
    /// The `Accept` header (a version's media type).
    pub accept: String,
    conn: Option<BufReader<TcpStream>>,
}

impl Client {
    pub fn new(addr: &str, token: &str) -> Client {
        Client {
            addr: addr.to_owned(),
            token: token.to_owned(),
            accept: ACCEPT.to_owned(),
            conn: None,
        }
    }

    /// One request; `Err` when the connection failed (refused, reset, closed mid-answer).
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> std::io::Result<(u16, Value)> {
        let outcome = self.try_send(method, path, body);
        if outcome.is_err() {
            self.conn = None;
        }
        outcome
    }

    fn try_send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> std::io::Result<(u16, Value)> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(&self.addr)?;
            stream.set_read_timeout(Some(Duration::from_secs(60)))?;
            stream.set_nodelay(true)?;
            self.conn = Some(BufReader::new(stream));
        }
        let conn = self.conn.as_mut().unwrap();
        let body = body.map(Value::to_string).unwrap_or_default();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAccept: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            self.accept,
            self.token,
            body.len()
        );
        let mut raw = head.into_bytes();
        raw.extend_from_slice(body.as_bytes());
        conn.get_mut().write_all(&raw)?;
        let mut status_line = String::new();
        if conn.read_line(&mut status_line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed",
            ));
        }
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let mut length = 0usize;
        let mut close = false;
        loop {
            let mut line = String::new();
            if conn.read_line(&mut line)? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "closed",
                ));
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower == "connection: close" {
                close = true;
            }
        }
        let mut body = vec![0; length];
        conn.read_exact(&mut body)?;
        if close {
            self.conn = None;
        }
        Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
    }
}

/// The body of a project creation in the bootstrap organization.
pub fn project(server: &Server, name: &str) -> Value {
    json!({"name": name, "orgId": server.boot["orgId"]})
}

/// The resident memory of a process in KiB (Linux `/proc`), 0 when unknown.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A new database for a test when `LOCALATLAS_TEST_POSTGRES` is set.
pub fn postgres(name: &str) -> Option<String> {
    atlas_store::postgres::test_database(&format!("localatlas_e2e_{name}"))
}

impl Server {
    /// Starts the binary serving HTTPS with its local CA (`--tls-ca-out`) on a memory store;
    /// returns the server (its `addr` without the scheme) and the CA certificate's file.
    pub fn start_tls(dir: &Path) -> (Server, PathBuf) {
        let n = STARTED.fetch_add(1, Ordering::SeqCst);
        let boot_file = dir.join(format!("bootstrap-tls-{}-{n}.json", std::process::id()));
        let ca = dir.join(format!("ca-{}-{n}.pem", std::process::id()));
        let log = dir.join(format!("server-tls-{}-{n}.log", std::process::id()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_localatlas"))
            .args(["serve", "--listen", "127.0.0.1:0", "--store", "memory"])
            .arg("--bootstrap-out")
            .arg(&boot_file)
            .arg("--tls-ca-out")
            .arg(&ca)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("binary starts");
        let boot = read_bootstrap(&boot_file, &mut child, &log);
        let server = Server {
            child,
            addr: boot["baseUrl"]
                .as_str()
                .unwrap()
                .trim_start_matches("https://")
                .to_owned(),
            boot,
            log,
        };
        (server, ca)
    }
}

/// Starts `localatlas record` in front of `upstream` (plain HTTP); the returned `Server` talks
/// to the recorder with the upstream's bootstrap identities.
pub fn recorder(upstream: &Server, dir: &Path, out: &Path, flags: &[&str]) -> Server {
    recorder_of(
        &format!("http://{}", upstream.addr),
        &upstream.boot,
        dir,
        out,
        flags,
    )
}

/// Starts `localatlas record --upstream url` writing to `out`, with `boot` as the identities
/// the returned `Server` (the recorder's address) authenticates with.
pub fn recorder_of(url: &str, boot: &Value, dir: &Path, out: &Path, flags: &[&str]) -> Server {
    let log = dir.join(format!(
        "recorder-{}.log",
        out.file_stem().unwrap().to_string_lossy()
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_localatlas"))
        .args([
            "record",
            "--upstream",
            url,
            "--listen",
            "127.0.0.1:0",
            "--out",
        ])
        .arg(out)
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("recorder starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .expect("the recorder prints its address");
    // "localatlas 0.1.0 recording http://127.0.0.1:PORT -> http://... into FILE"
    let addr = first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap_or_else(|| {
            panic!(
                "no address in {first:?}: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })
        .to_owned();
    Server {
        child,
        boot: boot.clone(),
        addr,
        log,
    }
}

/// The lines of a recording so far.
pub fn lines(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

/// Waits until the recording has `n` lines (each is written once its answer is sent).
pub fn wait_lines(out: &Path, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = lines(out);
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `localatlas parity` with a JSON report: (succeeded, stdout, report).
pub fn parity(recording: &Path, dir: &Path, flags: &[&str]) -> (bool, String, Value) {
    let report = dir.join(format!(
        "report-{}.json",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_localatlas"))
        .arg("parity")
        .arg(recording)
        .arg("--json")
        .arg(&report)
        .args(flags)
        .output()
        .expect("parity runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Value = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| panic!("no report: {stdout}\n{stderr}"));
    (out.status.success(), stdout, report)
}
