//! The light load generator (`--gen raw`, the default): what `wrk` does, so the ratio to the
//! floor is the one a user measuring with `wrk` sees. The hyper client of `load.rs` spends
//! several microseconds of the two shared cores per request on its own side, which slows the
//! floor more than localatlas and so flatters localatlas's ratio (issue 16: 0.34 with hyper,
//! 0.20 with `wrk`).
//!
//! Per connection one task: the request's bytes written in one call (built once when the
//! request never changes, as `wrk`'s are), no pipelining, and of the answer only the status
//! line, `Content-Length` and, for a Digest challenge, the nonce are parsed; the body is skipped.

use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use atlas_api::identity::credentials::digest_authorization;

use crate::load::{Auth, MakeRequest, Stats};

/// One connection and its Digest state.
struct Connection {
    stream: TcpStream,
    host: String,
    auth: Auth,
    accept: &'static str,
    nonce: Option<String>,
    nc: u32,
    /// Read buffer: unparsed bytes of the answer stream.
    buffer: Vec<u8>,
    /// The request's bytes, reused.
    request: Vec<u8>,
    /// What `request` holds, when it can be sent again unchanged (no Digest count in it).
    built: Option<(String, String)>,
}

/// What one answer said.
struct Answer {
    status: u16,
    nonce: Option<String>,
}

impl Connection {
    async fn open(addr: &str, auth: Auth, accept: &'static str) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            host: addr.to_owned(),
            auth,
            accept,
            nonce: None,
            nc: 0,
            buffer: Vec::with_capacity(64 * 1024),
            request: Vec::with_capacity(1024),
            built: None,
        })
    }

    /// Writes the request into `self.request`.
    fn build(&mut self, method: &str, uri: &str, body: Option<&str>) {
        use std::io::Write as _;
        let reusable = body.is_none() && !matches!(self.auth, Auth::Digest { .. });
        if reusable
            && self
                .built
                .as_ref()
                .is_some_and(|(m, u)| m == method && u == uri)
        {
            return;
        }
        self.built = reusable.then(|| (method.to_owned(), uri.to_owned()));
        let out = &mut self.request;
        out.clear();
        let _ = write!(
            out,
            "{method} {uri} HTTP/1.1\r\nHost: {}\r\nAccept: {}\r\n",
            self.host, self.accept
        );
        match &self.auth {
            Auth::None => {}
            Auth::Bearer(token) => {
                let _ = write!(out, "Authorization: Bearer {token}\r\n");
            }
            Auth::Digest { user, password } => {
                if let Some(nonce) = &self.nonce {
                    self.nc += 1;
                    let header =
                        digest_authorization(user, password, method, uri, nonce, Some(self.nc));
                    let _ = write!(out, "Authorization: {header}\r\n");
                }
            }
        }
        if let Some(body) = body {
            let _ = write!(
                out,
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        } else {
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Sends `self.request` and reads one answer.
    async fn exchange(&mut self) -> anyhow::Result<Answer> {
        self.stream.write_all(&self.request).await?;
        loop {
            if let Some((answer, used)) = parse(&self.buffer)? {
                self.buffer.drain(..used);
                return Ok(answer);
            }
            let len = self.buffer.len();
            self.buffer.resize(len + 64 * 1024, 0);
            let n = self.stream.read(&mut self.buffer[len..]).await?;
            self.buffer.truncate(len + n);
            if n == 0 {
                bail!("connection closed");
            }
        }
    }

    /// One request; a Digest challenge is answered once with the nonce it carries.
    async fn send(&mut self, method: &str, uri: &str, body: Option<&str>) -> anyhow::Result<u16> {
        for _ in 0..2 {
            self.build(method, uri, body);
            let answer = self.exchange().await?;
            match (answer.status, answer.nonce, &self.auth) {
                (401, Some(nonce), Auth::Digest { .. }) => {
                    self.nonce = Some(nonce);
                    self.nc = 0;
                }
                (status, _, _) => return Ok(status),
            }
        }
        Ok(401)
    }
}

/// One complete answer at the start of `buffer`: its status, a Digest nonce if it carries one,
/// and how many bytes it took; `None` while incomplete.
fn parse(buffer: &[u8]) -> anyhow::Result<Option<(Answer, usize)>> {
    let Some(head_end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buffer[..head_end]).context("answer head")?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .context("status line")?;
    let mut length = 0usize;
    let mut nonce = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().context("content-length")?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            bail!("chunked answers are not expected");
        } else if status == 401 && name.eq_ignore_ascii_case("www-authenticate") {
            nonce = value
                .split("nonce=\"")
                .nth(1)
                .and_then(|v| v.split('"').next())
                .map(str::to_owned);
        }
    }
    let total = head_end + 4 + length;
    if buffer.len() < total {
        return Ok(None);
    }
    Ok(Some((Answer { status, nonce }, total)))
}

/// Runs `make` on `connections` connections for `duration` (as [`crate::load::run`]).
pub async fn run(
    addr: &str,
    connections: usize,
    duration: Duration,
    auth: Auth,
    accept: &'static str,
    make: MakeRequest,
) -> anyhow::Result<Stats> {
    let opened =
        crate::load::open_all(connections, || Connection::open(addr, auth.clone(), accept)).await?;
    crate::load::drive(opened, duration, make).await
}

impl crate::load::Connection for Connection {
    async fn request(
        &mut self,
        method: hyper::Method,
        uri: &str,
        body: Option<&str>,
    ) -> anyhow::Result<u16> {
        self.send(method.as_str(), uri, body).await
    }

    /// A raw connection whose exchange failed has lost its framing.
    const STOPS_ON_ERROR: bool = true;
}
