//! The servers under test, as child processes: localatlas (release build), the floor (a minimal
//! axum server returning a fixed body), and Prism when npm can provide it. Start-up time, CPU
//! time and peak memory are read from the process itself.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A running server.
pub struct Target {
    pub name: &'static str,
    pub addr: String,
    pub child: Child,
    /// Time from spawning to the first answered request.
    pub startup: Duration,
}

impl Target {
    /// CPU time (user + system) the process has used so far.
    pub fn cpu(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // Clock ticks are 100 Hz on Linux.
        Duration::from_millis((ticks(11) + ticks(12)) * 10)
    }

    /// Peak resident memory (VmHWM) and current (VmRSS), in KiB.
    pub fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmHWM:"), field("VmRSS:"))
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `path` on `addr` answers (any HTTP status) and returns how long it took.
fn wait_ready(
    addr: &str,
    path: &str,
    started: Instant,
    limit: Duration,
) -> anyhow::Result<Duration> {
    use std::io::{Read, Write};
    loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(addr) {
            let request =
                format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
            let mut reply = [0u8; 12];
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_exact(&mut reply).is_ok()
                && reply.starts_with(b"HTTP/1.1 ")
            {
                return Ok(started.elapsed());
            }
        }
        if started.elapsed() > limit {
            bail!("{addr} did not answer within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts localatlas on a file store in `dir`; returns it and its bootstrap document.
pub fn localatlas(binary: &Path, dir: &Path) -> anyhow::Result<(Target, serde_json::Value)> {
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let bootstrap = dir.join("bootstrap.json");
    let started = Instant::now();
    let child = Command::new(binary)
        .args(["serve", "--listen", &addr, "--store"])
        .arg(dir.join("bench.db"))
        .arg("--bootstrap-out")
        .arg(&bootstrap)
        // A capacity benchmark: Atlas's rate limits would answer 429 within a second (the env
        // form, so binaries without the flag still start).
        .env("LOCALATLAS_RATE_LIMIT", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let mut target = Target {
        name: "localatlas",
        addr: addr.clone(),
        child,
        startup: Duration::ZERO,
    };
    target.startup = wait_ready(
        &addr,
        "/__localatlas/health",
        started,
        Duration::from_secs(20),
    )?;
    let boot = serde_json::from_slice(&std::fs::read(&bootstrap)?)?;
    Ok((target, boot))
}

/// Starts the floor server (this binary's `floor` command) answering `bytes` bytes.
pub fn floor(bytes: usize) -> anyhow::Result<Target> {
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let child = Command::new(std::env::current_exe()?)
        .args(["floor", &addr, &bytes.to_string()])
        .stdout(Stdio::null())
        .spawn()?;
    let mut target = Target {
        name: "floor",
        addr: addr.clone(),
        child,
        startup: Duration::ZERO,
    };
    target.startup = wait_ready(&addr, "/", started, Duration::from_secs(10))?;
    Ok(target)
}

/// Installs Prism with npm into `cache` (once) and starts it mocking `spec`; `None` with a
/// reason when that is not possible here.
pub fn prism(cache: &Path, spec: &Path) -> Result<Target, String> {
    let bin: PathBuf = cache.join("node_modules/.bin/prism");
    if !bin.exists() {
        std::fs::create_dir_all(cache).map_err(|e| e.to_string())?;
        let status = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--silent",
                "@stoplight/prism-cli@5",
            ])
            .current_dir(cache)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("npm is not available: {e}"))?;
        if !status.success() || !bin.exists() {
            return Err("npm could not install @stoplight/prism-cli".into());
        }
    }
    if !spec.exists() {
        return Err(format!("spec not found at {}", spec.display()));
    }
    let port = free_port().map_err(|e| e.to_string())?;
    let addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    let child = Command::new(&bin)
        .args(["mock", "--host", "127.0.0.1", "--port", &port.to_string()])
        .arg(spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut target = Target {
        name: "prism",
        addr: addr.clone(),
        child,
        startup: Duration::ZERO,
    };
    target.startup = wait_ready(&addr, "/api/atlas/v2", started, Duration::from_secs(120))
        .map_err(|e| e.to_string())?;
    Ok(target)
}
