//! Serving the app on a socket: plain HTTP or HTTPS, and the per-connection facts the pipeline
//! needs — the peer's address (`ConnectInfo<SocketAddr>`, for access lists and loopback checks)
//! and a [`Cut`] switch with which an injected fault drops the connection without an answer.
//!
//! TLS handshakes run in their own tasks and hand finished connections to the accept loop, so a
//! slow or silent client cannot hold up everyone else's connections.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

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
        Pin::new(&mut self.io).poll_read(cx, buf)
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

/// Accepts connections, plain or through TLS.
pub struct Accept {
    local: SocketAddr,
    incoming: mpsc::Receiver<(Conn, SocketAddr)>,
}

impl Accept {
    /// Starts accepting on `listener`; with `tls`, every connection is a TLS server connection.
    pub fn new(listener: TcpListener, tls: Option<Arc<ServerConfig>>) -> io::Result<Accept> {
        let local = listener.local_addr()?;
        let (tx, incoming) = mpsc::channel(64);
        tokio::spawn(accept_loop(listener, tls.map(TlsAcceptor::from), tx));
        Ok(Accept { local, incoming })
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
    }
}

impl Listener for Accept {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        match self.incoming.recv().await {
            Some(accepted) => accepted,
            // The accept loop only ends when this receiver is gone; never resolve otherwise.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// Serves `app` on `accept` until `shutdown` resolves, giving every request its connection's
/// peer address and [`Cut`] switch as extensions.
pub async fn serve(
    accept: Accept,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let make = tower::service_fn(move |incoming: IncomingStream<'_, Accept>| {
        let peer = *incoming.remote_addr();
        let cut = incoming.io().cut.clone();
        let app = app.clone();
        let service = tower::service_fn(move |mut request: Request| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(cut.clone());
            let app = app.clone();
            async move { tower::ServiceExt::oneshot(app, request).await }
        });
        std::future::ready(Ok::<_, std::convert::Infallible>(service))
    });
    axum::serve(accept, make)
        .with_graceful_shutdown(shutdown)
        .await
}
