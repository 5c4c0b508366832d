//! The endpoints under `/api/private/` that real clients call although the spec does not list
//! them (semantics §9), answered as Atlas answers them:
//!
//! - `GET /api/private/ipinfo` (Digest or Bearer): `{"currentIpv4Address": <caller>}`. The MCP
//!   server's access-list tools and the Atlas CLI's `setup` add "the current IP" with it.
//! - `GET /api/private/unauth/nds/defaultMongoDBMajorVersion` (no auth): `8.0` as
//!   `text/plain;charset=iso-8859-1`, the CLI's default for new clusters.
//! - `POST /api/private/v1.0/telemetry/events` (authenticated) and
//!   `POST /api/private/unauth/telemetry/events` (no auth): the MCP server's telemetry; accepted
//!   and discarded (nothing leaves this machine). A 401 on the first makes the MCP server fall
//!   back to the second, as it does against Atlas.

use axum::body::Body;
use axum::http::{Method, Response, StatusCode, header};
use serde_json::json;

use atlas_api::{ApiError, api_error};

pub const PREFIX: &str = "/api/private/";

/// The Atlas MongoDB major version new clusters get by default.
pub const DEFAULT_MAJOR_VERSION: &str = "8.0";

/// What a private path needs before it is answered.
pub enum Route {
    /// Answer without credentials.
    Open(fn() -> Response<Body>),
    /// Authenticate first; the answer sees the caller's address.
    Authenticated(fn(&str) -> Response<Body>),
}

/// The route of a private request, or the Atlas error for a path or method it does not serve.
pub fn route(method: &Method, path: &str) -> Result<Route, ApiError> {
    let (allowed, route) = match path.strip_prefix(PREFIX).unwrap_or_default() {
        "ipinfo" => (Method::GET, Route::Authenticated(ipinfo)),
        "unauth/nds/defaultMongoDBMajorVersion" => (Method::GET, Route::Open(major_version)),
        "unauth/telemetry/events" => (Method::POST, Route::Open(accepted)),
        "v1.0/telemetry/events" => (Method::POST, Route::Authenticated(|_| accepted())),
        _ => return Err(api_error!(RESOURCE_NOT_FOUND, path)),
    };
    if *method != allowed {
        return Err(api_error!(METHOD_NOT_ALLOWED, method.as_str(), path)
            .with_header("Allow", allowed.as_str()));
    }
    Ok(route)
}

fn respond(content_type: &str, body: impl Into<Body>) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn ipinfo(client_ip: &str) -> Response<Body> {
    respond(
        "application/json",
        json!({"currentIpv4Address": client_ip}).to_string(),
    )
}

fn major_version() -> Response<Body> {
    respond("text/plain;charset=iso-8859-1", DEFAULT_MAJOR_VERSION)
}

fn accepted() -> Response<Body> {
    respond("application/json", Body::empty())
}
