//! Serving the app on a socket: plain HTTP or HTTPS, HTTP/1.1 or HTTP/2, through hyper's server under the
//! configured limits, with graceful shutdown, and the per-connection facts the pipeline needs —
//! the peer's address (`ConnectInfo<SocketAddr>`, for access lists and loopback checks) and a
//! [`Cut`] switch with which an injected fault drops the connection without an answer.
//! (`axum::serve` offers neither a header-read timeout nor a header size limit, which a server
//! facing hostile clients needs.)
//!
//! TLS handshakes run in their own tasks and hand finished connections to the accept loop, so a
//! slow or silent client cannot hold up everyone else's connections.
//!
//! Limits, and what a client exceeding them sees:
//! - a TLS handshake not finished within 10 seconds: the connection is closed;
//! - headers not complete within `header_read_timeout` (a slow client, or an idle keep-alive
//!   connection): the connection is closed;
//! - headers larger than `max_header_bytes`: `431 Request Header Fields Too Large`, closed;
//! - more than `max_connections` open connections: new ones wait until one closes;
//! - the body (`HttpConfig::max_body_bytes`, `HttpConfig::body_read_timeout`) is limited
//!   where it is read, in the pipeline: Atlas 413 or 408 bodies.
//!
//! Shutdown: when `shutdown` resolves, the listener closes, idle connections close, and requests
//! in flight run to completion and are answered (for at most `drain`), then `serve` returns.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::AbortHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tower::ServiceExt as _;

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A request extension: dropping the request's connection without answering (fault injection).
#[derive(Clone, Debug, Default)]
pub struct Cut(Arc<AtomicBool>);

impl Cut {
    /// Marks the connection for dropping: nothing more is written to it and it closes.
    pub fn cut(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_cut(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A connection that fails every read and write once its [`Cut`] is set, which makes hyper
/// close it without writing the pending answer.
pub struct Conn {
    io: Box<dyn Io>,
    cut: Cut,
    opening: Option<Opening>,
}

/// The deadline for a connection's first bytes. hyper decides between HTTP/1.1 and HTTP/2 by
/// reading the start of a connection, and that read has no timeout of its own (HTTP/1.1's
/// header timeout starts after it): a client that connects and sends nothing would hold its
/// connection slot forever.
struct Opening {
    deadline: Pin<Box<tokio::time::Sleep>>,
    /// Bytes still to arrive before the version is surely decided (the HTTP/2 preface's length).
    awaited: usize,
}

/// The length of the HTTP/2 connection preface, which is what version detection reads at most.
const PREFACE_LEN: usize = 24;

impl Conn {
    /// Closes the connection unless its first bytes arrive within `within`.
    fn expect_opening_within(&mut self, within: Duration) {
        self.opening = Some(Opening {
            deadline: Box::pin(tokio::time::sleep(within)),
            awaited: PREFACE_LEN,
        });
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

fn dropped() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection dropped by a fault rule",
    )
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.cut.is_cut() {
            return Poll::Ready(Err(dropped()));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut self.io).poll_read(cx, buf);
        let arrived = buf.filled().len() - before;
        if let Some(opening) = &mut self.opening {
            if arrived > 0 || matches!(read, Poll::Ready(Err(_))) {
                opening.awaited = opening.awaited.saturating_sub(arrived.max(1));
                if opening.awaited == 0 || arrived == 0 {
                    self.opening = None;
                }
            } else if read.is_pending() && opening.deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no request within the header read timeout",
                )));
            }
        }
        read
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.cut.is_cut() {
            return Poll::Ready(Err(dropped()));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.cut.is_cut() {
            return Poll::Ready(Err(dropped()));
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// Accepts connections, plain or through TLS. Dropping it closes the listening socket.
pub struct Accept {
    incoming: mpsc::Receiver<(Conn, SocketAddr)>,
    accepting: AbortHandle,
}

impl Drop for Accept {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl Accept {
    /// Starts accepting on `listener`; with `tls`, every connection is a TLS server connection.
    pub fn new(listener: TcpListener, tls: Option<Arc<ServerConfig>>) -> Accept {
        let (tx, incoming) = mpsc::channel(64);
        let accepting = tokio::spawn(accept_loop(listener, tls.map(TlsAcceptor::from), tx));
        Accept {
            incoming,
            accepting: accepting.abort_handle(),
        }
    }

    /// The next connection, handshake done; `None` once the accept loop has ended.
    async fn next(&mut self) -> Option<(Conn, SocketAddr)> {
        self.incoming.recv().await
    }
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    out: mpsc::Sender<(Conn, SocketAddr)>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match &tls {
            None => {
                if out.send((wrap(stream), peer)).await.is_err() {
                    return;
                }
            }
            Some(acceptor) => {
                let (acceptor, out) = (acceptor.clone(), out.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => {
                            let _ = out.send((wrap(stream), peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
}

fn wrap(io: impl AsyncRead + AsyncWrite + Unpin + Send + 'static) -> Conn {
    Conn {
        io: Box::new(io),
        cut: Cut::default(),
        opening: None,
    }
}

/// Connection-level limits (`localatlas serve` flags).
#[derive(Debug, Clone)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_connections: usize,
    /// How long shutdown waits for requests in flight.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
            max_connections: 1024,
            drain: Duration::from_secs(30),
        }
    }
}

/// Requests one HTTP/2 connection may have in flight at once.
const MAX_STREAMS_PER_CONNECTION: u32 = 256;

/// hyper refuses read buffers below this size.
const MIN_HEADER_BUFFER: usize = 8192;

/// Serves `app` on `accept` until `shutdown` resolves and the requests in flight are answered,
/// giving every request its connection's peer address and [`Cut`] switch as extensions.
pub async fn serve(
    mut accept: Accept,
    app: axum::Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()>,
) {
    // HTTP/1.1, and HTTP/2 for clients that negotiate it (ALPN over TLS, or prior knowledge).
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(MIN_HEADER_BUFFER));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .keep_alive_interval(None);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (mut conn, peer) = tokio::select! {
            accepted = accept.next() => match accepted {
                Some(accepted) => accepted,
                None => break,
            },
            () = &mut shutdown => break,
        };
        conn.expect_opening_within(limits.header_read_timeout);
        let cut = conn.cut.clone();
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request
                .extensions_mut()
                .insert(ConnectInfo::<SocketAddr>(peer));
            request.extensions_mut().insert(cut.clone());
            let app = app.clone();
            async move {
                let response = app
                    .oneshot(request.map(Body::new))
                    .await
                    .unwrap_or_else(|never: Infallible| match never {});
                Ok::<_, Infallible>(response)
            }
        });
        let connection = graceful.watch(
            builder
                .serve_connection(TokioIo::new(conn), service)
                .into_owned(),
        );
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection closed");
            }
            drop(permit);
        });
    }
    drop(accept);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("every connection closed"),
        () = tokio::time::sleep(limits.drain) => {
            tracing::warn!(seconds = limits.drain.as_secs(), "shutdown: requests still running after the drain period");
        }
    }
}
