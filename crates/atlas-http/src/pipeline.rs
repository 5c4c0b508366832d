//! The request pipeline: every request enters [`handle`] and passes the stages in Atlas's order
//! (semantics §3.4, blueprint §2):
//!
//! ingress → route (model) → authenticate → negotiate version → decode (path, query, body) →
//! [engine: resolve org/project → authorize → validate → dispatch → store transaction] → render.
//!
//! Credentials are checked before the route is reported, so an unauthenticated request to an
//! unknown path gets 401 and an authenticated one 404. Every failure leaves through
//! [`render::error`], the one error funnel.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use atlas_api::{ApiError, Call, Origin, Principal, api_error};
use atlas_model::Method;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Response, header};
use serde_json::Value;

use crate::auth::{self, Authenticated};
use crate::negotiate::{self, Served};
use crate::render::{self, Style};
use crate::router::Routed;
use crate::{API_PREFIX, App, control, oauth};

/// Runs blocking work (store transactions) off the async workers; a panic inside becomes an
/// Atlas 500 instead of a dropped connection.
async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::internal(format!("handler failed: {e}")))
}

/// The single entry point of the server.
pub async fn handle(State(app): State<Arc<App>>, request: Request) -> Response<Body> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let style = Style {
        pretty: query_flag(&query, "pretty"),
        envelope: query_flag(&query, "envelope"),
    };
    let outcome = if let Some(rest) = path.strip_prefix(control::PREFIX) {
        control_request(&app, request, rest.to_owned(), peer).await
    } else if path == "/api/oauth/token" || path == "/api/oauth/revoke" {
        oauth_request(&app, request, &path).await
    } else if path == API_PREFIX || path.starts_with(&format!("{API_PREFIX}/")) {
        return atlas_request(app, request, path, query, peer, style).await;
    } else {
        Err(api_error!(RESOURCE_NOT_FOUND, path.as_str()))
    };
    outcome.unwrap_or_else(|e| render::error(&e, style, &[]))
}

/// `pretty=true` / `envelope=true` (anything else is false).
fn query_flag(query: &str, name: &str) -> bool {
    url::form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == name && v == "true")
}

async fn control_request(
    app: &Arc<App>,
    request: Request,
    rest: String,
    peer: Option<SocketAddr>,
) -> Result<Response<Body>, ApiError> {
    let local = peer.is_none_or(|p| p.ip().is_loopback());
    if !local {
        let credentials = auth::parse(header_str(request.headers(), header::AUTHORIZATION));
        let method = request.method().as_str().to_owned();
        let app2 = app.clone();
        match blocking(move || auth::authenticate(&app2.atlas, &method, &credentials)).await?? {
            Authenticated::Principal(_) => {}
            Authenticated::Challenge { stale } => return Ok(auth::challenge(&app.atlas, stale)),
        }
    }
    let method = request.method().clone();
    let body = read_body(request.into_body(), app.config.max_body_bytes).await?;
    let app = app.clone();
    blocking(move || control::handle(&app, &method, &rest, &body)).await?
}

async fn oauth_request(
    app: &Arc<App>,
    request: Request,
    path: &str,
) -> Result<Response<Body>, ApiError> {
    if request.method() != axum::http::Method::POST {
        return Err(api_error!(
            METHOD_NOT_ALLOWED,
            request.method().as_str(),
            path
        ));
    }
    let authorization = header_str(request.headers(), header::AUTHORIZATION).map(str::to_owned);
    let body = read_body(request.into_body(), app.config.max_body_bytes).await?;
    let app = app.clone();
    let revoke = path.ends_with("revoke");
    blocking(move || {
        if revoke {
            oauth::revoke(&app.atlas, authorization.as_deref(), &body)
        } else {
            oauth::token(&app.atlas, authorization.as_deref(), &body)
        }
    })
    .await?
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    to_bytes(body, limit)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| api_error!(PAYLOAD_TOO_LARGE, limit as u64))
}

async fn atlas_request(
    app: Arc<App>,
    request: Request,
    path: String,
    query: String,
    peer: Option<SocketAddr>,
    style: Style,
) -> Response<Body> {
    // Route first (to know whether the operation needs credentials), report it after auth.
    let method = Method::parse(request.method().as_str());
    let rel = path.strip_prefix(API_PREFIX).unwrap_or_default();
    let routed = match method {
        Some(m) => app.router.route(m, rel),
        None => Routed::MethodNotAllowed(Vec::new()),
    };
    let needs_auth = !matches!(&routed, Routed::Operation(op, _) if !op.authenticated);
    let principal = if needs_auth {
        let credentials = auth::parse(header_str(request.headers(), header::AUTHORIZATION));
        let method_name = request.method().as_str().to_owned();
        let app2 = app.clone();
        match blocking(move || auth::authenticate(&app2.atlas, &method_name, &credentials)).await {
            Ok(Ok(Authenticated::Principal(p))) => p,
            Ok(Ok(Authenticated::Challenge { stale })) => {
                return auth::challenge(&app.atlas, stale);
            }
            Ok(Err(e)) | Err(e) => return render::error(&e, style, &[]),
        }
    } else {
        Principal::Anonymous
    };
    let (op, raw_params) = match routed {
        Routed::Operation(op, params) => (op, params),
        Routed::MethodNotAllowed(allowed) if !allowed.is_empty() => {
            let allow: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
            let e = api_error!(METHOD_NOT_ALLOWED, request.method().as_str(), path.as_str())
                .with_header("Allow", allow.join(", "));
            return render::error(&e, style, &[]);
        }
        _ => return render::error(&api_error!(RESOURCE_NOT_FOUND, path.as_str()), style, &[]),
    };
    let accept = header_str(request.headers(), header::ACCEPT);
    let Some(served) = negotiate::negotiate(op, accept) else {
        return render::error(&api_error!(INVALID_VERSION_DATE), style, &[]);
    };
    let lifecycle = negotiate::lifecycle_headers(op, &served);
    let origin = Origin {
        base_url: base_url(request.headers(), app.config.tls),
        path: path.clone(),
        query: query.clone(),
        client_ip: peer
            .map(|p| p.ip().to_string())
            .unwrap_or_else(|| "127.0.0.1".to_owned()),
    };
    let call = match decode(
        &app, request, op, raw_params, &query, served, principal, origin,
    )
    .await
    {
        Ok(call) => call,
        Err(e) => return render::error(&e, style, &lifecycle),
    };
    app.calls[op.id as usize].fetch_add(1, Ordering::Relaxed);
    let app2 = app.clone();
    match blocking(move || app2.atlas.execute(&call)).await {
        Ok(Ok(reply)) => render::reply(reply, &served.content_type(), style, &lifecycle),
        Ok(Err(e)) | Err(e) => render::error(&e, style, &lifecycle),
    }
}

/// Decodes path parameters, query parameters and the JSON body into a [`Call`].
#[allow(clippy::too_many_arguments)] // one call site; the parts are the request's own
async fn decode(
    app: &App,
    request: Request,
    op: &'static atlas_model::Operation,
    raw_params: Vec<(&'static str, String)>,
    query: &str,
    served: Served,
    principal: Principal,
    origin: Origin,
) -> Result<Call, ApiError> {
    let mut path = Vec::with_capacity(raw_params.len());
    for (name, raw) in raw_params {
        let value = percent_encoding::percent_decode_str(&raw)
            .decode_utf8()
            .map_err(|_| api_error!(INVALID_PATH_PARAMETER, name))?;
        path.push((name, value.into_owned()));
    }
    let query = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let bytes = read_body(request.into_body(), app.config.max_body_bytes).await?;
    let body = if bytes.iter().all(u8::is_ascii_whitespace) || op.request.is_empty() {
        None
    } else {
        Some(parse_json(&bytes)?)
    };
    Ok(Call {
        op,
        version: served.version,
        format: served.media.format,
        path,
        query,
        body,
        principal,
        origin,
    })
}

/// Parses a request body; anything that is not JSON is Atlas's `MALFORMED_JSON`. serde_json's
/// recursion limit (128 levels) bounds hostile nesting.
fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|_| api_error!(MALFORMED_JSON))
}

/// `scheme://host` as the client addressed the server: what link hrefs are built from.
fn base_url(headers: &HeaderMap, tls: bool) -> String {
    let host = header_str(headers, header::HOST).unwrap_or("localhost");
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{host}")
}
