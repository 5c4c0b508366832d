//! The HTTP face of localatlas.
//!
//! [`app`] builds the one axum service used by the binary and by the in-process tests: a single
//! fallback handler ([`pipeline::handle`]) instead of 540 routes — the operation table drives a
//! model-built [`router`]. Modules follow the pipeline: [`router`], [`auth`], [`negotiate`],
//! [`pipeline`], [`render`]; plus [`oauth`] (token endpoints), [`private`] (the endpoints
//! outside the spec that clients call), [`control`] (`/__localatlas/`) with [`faults`] and
//! [`view`] (a resource as Atlas answers it, for the console), the
//! [`gate`] in front of the control API, the console and the private endpoints,
//! [`observe`] (coverage, recent requests), [`metrics`] (Prometheus) and the [`console`]; [`serve`] and [`tls`] put the
//! service on a socket.

pub mod auth;
pub mod console;
pub mod control;
pub mod faults;
pub mod gate;
pub mod metrics;
pub mod negotiate;
pub mod oauth;
pub mod observe;
pub mod pipeline;
pub mod private;
pub mod render;
pub mod router;
pub mod serve;
pub mod tls;
pub mod view;

use std::sync::Arc;

use atlas_api::{Atlas, api_error};
use axum::Router as AxumRouter;
use axum::body::Body;
use axum::http::Response;
use tower_http::catch_panic::CatchPanicLayer;

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body accepted (413 above).
    pub max_body_bytes: usize,
    /// Whether the listener serves HTTPS (links then use `https`).
    pub tls: bool,
    /// A request header carrying the client's address, set by a trusted reverse proxy
    /// (`X-Forwarded-For`); `None` (the default) uses the connection's peer address.
    pub trusted_client_ip_header: Option<String>,
    /// Whether Atlas's rate limits are enforced (on by default, semantics §6).
    pub rate_limits: bool,
    /// How long a request body may take to arrive once the headers are in (408 after).
    pub body_read_timeout: std::time::Duration,
    /// Who may use the control API and the console (`--control`).
    pub control: gate::ControlAccess,
    /// Host names the control API, the console and the private endpoints answer under besides
    /// IP addresses and `localhost` (`--allowed-host`; lower case, `*` for any).
    pub allowed_hosts: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: 16 * 1024 * 1024,
            tls: false,
            trusted_client_ip_header: None,
            rate_limits: true,
            body_read_timeout: std::time::Duration::from_secs(30),
            control: gate::ControlAccess::default(),
            allowed_hosts: Vec::new(),
        }
    }
}

/// Shared state of the server.
pub struct App {
    pub atlas: Atlas,
    pub router: router::Router,
    /// What was served: coverage counters and the recent requests.
    pub observe: observe::Observe,
    /// Fault rules set through the control API.
    pub faults: faults::Faults,
    pub config: HttpConfig,
    pub metrics: metrics::Metrics,
}

impl App {
    pub fn new(atlas: Atlas, config: HttpConfig) -> App {
        App {
            atlas,
            router: router::Router::new(),
            observe: observe::Observe::default(),
            faults: faults::Faults::default(),
            config,
            metrics: metrics::Metrics::default(),
        }
    }
}

/// The axum service of localatlas.
pub fn app(state: Arc<App>) -> AxumRouter {
    AxumRouter::new()
        .fallback(pipeline::handle)
        .with_state(state)
        // A panic anywhere still answers an Atlas error body, never a dropped connection.
        .layer(CatchPanicLayer::custom(|_| panic_response()))
}

fn panic_response() -> Response<Body> {
    render::error(
        &api_error!(UNEXPECTED_ERROR).caused_by("panic in request handler"),
        render::Style::default(),
        &[],
    )
}
