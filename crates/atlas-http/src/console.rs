//! The console: one page at `/` (and `/__localatlas/console`) for people watching a running
//! localatlas — organizations → projects → resources with their live states, each of which opens
//! as Atlas answers it in any version it is served in, with a `curl` for it
//! (`/__localatlas/view`, [`crate::view`]); the events timeline; recent requests with status and
//! latency, Digest challenges folded into their requests, filtered and capped; fault rules with a
//! form that picks operations and error codes from the catalogue; and the coverage report. A bar
//! of links jumps between them, and the page stays a few screens tall however much it shows.
//!
//! The page (`console.html`) is plain HTML, CSS and JavaScript compiled into the binary, so there
//! is nothing to build or fetch; it reads the control API, which is what lets it be served with
//! the control API's rule (`crate::gate`): open from loopback, the control token from elsewhere
//! (a browser asks for it with a Basic prompt: any user name, the token as password).

use axum::body::Body;
use axum::http::{Response, StatusCode, header};

/// The control-API name the page is served under.
pub const CONTROL_PATH: &str = "console";

const PAGE: &str = include_str!("console.html");

/// Whether `path` is the console's address outside `/__localatlas/`.
pub fn serves(path: &str) -> bool {
    path == "/"
}

/// The console page.
pub fn page() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        // Everything the page needs is inline or same-origin; nothing else may load.
        .header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        )
        // No other page may frame it (clickjacking the fault form).
        .header(header::X_FRAME_OPTIONS, "DENY")
        .body(Body::from(PAGE))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
