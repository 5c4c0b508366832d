//! Talking to another Atlas-like server: one origin (`scheme://host[:port]`) over TCP or TLS,
//! with a small pool of idle HTTP/1.1 connections. `localatlas record` forwards through it to
//! the upstream it records; `localatlas parity` replays through it to the server it measures.
//!
//! HTTP/1.1 only (ALPN says so): both users read whole answers one request at a time, and an
//! Atlas proxy or localatlas speaks it; HTTP/2 would add nothing but a second code path.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls;

/// Largest answer body read (and a recorder's largest forwarded request body).
pub const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The command-line flags an [`Origin`] comes from, for error messages that name them.
#[derive(Clone, Copy)]
pub struct Flags {
    /// The flag that gave the URL (`--upstream`, `--url`).
    pub url: &'static str,
    /// The flag that gives a CA file (`--upstream-ca`, `--ca`).
    pub ca: &'static str,
}

pub struct Origin {
    /// `scheme://host[:port]`, as printed.
    pub base: String,
    host: String,
    port: u16,
    /// The `Host` header to send.
    pub authority: String,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    idle: Mutex<Vec<SendRequest<Full<Bytes>>>>,
}

impl Origin {
    /// An origin from a base URL without a path; https trusts the CA certificates (PEM) of
    /// `ca`, else the system's roots.
    pub fn parse(text: &str, ca: Option<&Path>, flags: Flags) -> anyhow::Result<Origin> {
        let flag = flags.url;
        let url = url::Url::parse(text).with_context(|| format!("invalid {flag} {text}"))?;
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            bail!("{flag} is a base URL without a path (e.g. https://cloud.mongodb.com)");
        }
        if !url.username().is_empty() || url.password().is_some() {
            bail!("{flag} takes no credentials: the client sends its own");
        }
        let host = url
            .host_str()
            .with_context(|| format!("{flag} has no host"))?
            .to_owned();
        let port = url
            .port_or_known_default()
            .with_context(|| format!("{flag} has no port"))?;
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let bare = host.trim_matches(['[', ']']).to_owned();
        let tls = match url.scheme() {
            "http" => None,
            "https" => {
                let name = ServerName::try_from(bare.clone())
                    .with_context(|| format!("{flag} host is not a valid TLS server name"))?;
                let connector = tokio_rustls::TlsConnector::from(client_config(ca, flags.ca)?);
                Some((connector, name))
            }
            other => bail!("{flag} scheme must be http or https, not {other}"),
        };
        Ok(Origin {
            base: format!("{}://{authority}", url.scheme()),
            host: bare,
            port,
            authority,
            tls,
            idle: Mutex::new(Vec::new()),
        })
    }

    async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("connecting to {}", self.base))?;
        let _ = tcp.set_nodelay(true);
        let io: Box<dyn Io> = match &self.tls {
            None => Box::new(tcp),
            Some((connector, name)) => Box::new(
                connector
                    .connect(name.clone(), tcp)
                    .await
                    .with_context(|| format!("TLS handshake with {}", self.base))?,
            ),
        };
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .context("HTTP handshake")?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Sends one request on an idle connection (or a new one) and reads the whole answer. A
    /// pooled connection the server closed meanwhile is replaced once, when the request cannot
    /// have reached it (not sent) or repeating it changes nothing (an idempotent method).
    pub async fn send(
        &self,
        build: impl Fn() -> hyper::http::Result<hyper::Request<Full<Bytes>>>,
    ) -> anyhow::Result<(hyper::http::response::Parts, Bytes)> {
        let pooled = {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            std::iter::from_fn(|| idle.pop()).find(|s| !s.is_closed())
        };
        let reused = pooled.is_some();
        let mut sender = match pooled {
            Some(s) => s,
            None => self.connect().await?,
        };
        let request = build().context("the request cannot be sent")?;
        let idempotent = matches!(
            request.method().as_str(),
            "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS"
        );
        let response = match async {
            sender.ready().await?;
            sender.send_request(request).await
        }
        .await
        {
            Ok(r) => r,
            Err(e) if reused && (e.is_canceled() || idempotent) => {
                sender = self.connect().await?;
                sender.ready().await.context("reconnecting")?;
                sender.send_request(build()?).await.context("sending")?
            }
            Err(e) => return Err(anyhow::Error::new(e).context("sending")),
        };
        let (parts, body) = response.into_parts();
        let bytes = Limited::new(body, MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading the answer: {e}"))?
            .to_bytes();
        if !sender.is_closed() {
            self.idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(sender);
        }
        Ok((parts, bytes))
    }
}

fn client_config(ca: Option<&Path>, ca_flag: &str) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path)
                .with_context(|| format!("reading {}", path.display()))?
            {
                roots.add(cert.with_context(|| format!("parsing {}", path.display()))?)?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for error in &found.errors {
                tracing::warn!(%error, "a system trust root could not be loaded");
            }
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                // Every https request will fail the handshake (and say so); an http origin
                // needs none.
                tracing::warn!("no system trust roots found: pass {ca_flag} FILE");
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
