//! The request pipeline: every request enters [`handle`] and passes the stages in Atlas's order
//! (semantics §3.4, blueprint §2), as [`atlas_request`] runs them:
//!
//! 1. route and negotiate the version (computed from the request line and `Accept`; their
//!    errors wait), read the body;
//! 2. in one store transaction where the counters allow (`atlas_api::service`): admission
//!    (`atlas_api::stages::admission`: authenticate 401 → API access list 403 → rate limit 429,
//!    counted only for a routed, negotiated request);
//! 3. the route's own errors (404, 405), the fault rules, the version (406), decoding the path,
//!    query and body (400);
//! 4. the engine (`atlas_api::engine::Engine::execute`, which declares its stages' order once:
//!    parameters → organization/project → roles → parents → body → family or generic engine);
//! 5. render, with admission's `RateLimit-*` headers on whatever the operation answers.
//!
//! Credentials are checked before the route is reported, so an unauthenticated request to an
//! unknown path gets 401 and an authenticated one 404. Every failure leaves through
//! [`render::error`], the one error funnel.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use atlas_api::stages::admission::address_check;
use atlas_api::stages::admission::{self, Admission};
use atlas_api::{ApiError, Call, Origin, Principal, api_error};
use atlas_model::Method;
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Response, header};
use serde_json::Value;
use tracing::Instrument as _;

use crate::auth;
use crate::faults::{self, Action, Decision};
use crate::metrics::OperationLabel;
use crate::negotiate::{self, Served};
use crate::observe::{Exchange, Injected, Touched};
use crate::render::{self, Style};
use crate::router::Routed;
use crate::serve::Cut;
use crate::{App, console, control, gate, oauth, private};
use atlas_model::API_PREFIX;

/// Runs blocking work off the async workers, in the request's log span: control operations
/// (resets, imports) and every store transaction of a store that is not embedded (a PostgreSQL
/// round trip must not hold a worker, and its client cannot run on one). A panic inside becomes
/// an Atlas 500 instead of a dropped connection.
async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, ApiError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|e| ApiError::internal(format!("handler failed: {e}")))
}

/// The header carrying a request's id, in both directions.
const REQUEST_ID: &str = "x-request-id";

/// The id a client sent (a proxy's, so logs line up), when it is short and plain; else a new one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map_or_else(atlas_api::kernel::ids::uuid, str::to_owned)
}

/// Runs an API request's store work on the calling worker. Its transactions take microseconds,
/// less than handing them to the blocking pool would cost (a thread hand-off each way, and one
/// allocator heap per pool thread: measured in docs/performance.md). A panic inside becomes an
/// Atlas 500 instead of a dropped connection.
fn guarded<R>(work: impl FnOnce() -> R) -> Result<R, ApiError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
        .map_err(|_| ApiError::internal("handler panicked"))
}

/// Runs a request's store work where the store wants it: inline for an embedded store
/// ([`guarded`]), on the blocking pool for one across the network ([`blocking`]).
async fn store_work<R: Send + 'static>(
    app: &Arc<App>,
    work: impl FnOnce() -> R + Send + 'static,
) -> Result<R, ApiError> {
    if app.atlas.store.embedded() {
        guarded(work)
    } else {
        blocking(work).await
    }
}

/// The single entry point of the server: gives each request an id (`X-Request-Id` on the
/// answer and in every log line of the request), dispatches, applies what a fault rule decided
/// for the connection (latency, a drop), then logs, counts and records the answer for coverage
/// and the console.
pub async fn handle(State(app): State<Arc<App>>, request: Request) -> Response<Body> {
    let started = Instant::now();
    let id = request_id(request.headers());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", id = %id, method = %method, path = %path);
    let cut = request.extensions().get::<Cut>().cloned();
    // What folds a Digest client's challenge leg into its retry in the recent requests.
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let digest_sent = header_str(request.headers(), header::AUTHORIZATION).is_some_and(|a| {
        a.trim_start()
            .get(..7)
            .is_some_and(|s| s.eq_ignore_ascii_case("digest "))
    });
    let mut response = dispatch(&app, request, &path)
        .instrument(span.clone())
        .await;
    let injected = response.extensions().get::<Injected>().copied();
    let mut cut_done = false;
    if let Some(injected) = injected {
        if let Some(latency) = injected.latency {
            tokio::time::sleep(latency).await;
        }
        if injected.dropped {
            match cut {
                Some(cut) => {
                    cut.cut();
                    cut_done = true;
                }
                // No connection to drop (an in-process caller): the closest answer is a 503.
                None => {
                    response =
                        render::error(&api_error!(SERVICE_UNAVAILABLE), Style::default(), &[])
                }
            }
        }
    }
    let took = started.elapsed();
    let status = if cut_done {
        0
    } else {
        response.status().as_u16()
    };
    let operation = response
        .extensions()
        .get::<OperationLabel>()
        .map_or("__unrouted", |l| l.0);
    app.metrics.record(operation, status, took);
    // The console's own polling of the control API would drown what it shows.
    if !path.starts_with(control::PREFIX) && !console::serves(&path) {
        let challenged = status == 401
            && header_str(response.headers(), header::WWW_AUTHENTICATE)
                .is_some_and(|w| w.starts_with("Digest"));
        app.observe.record(Exchange {
            method: method.as_str(),
            path: &path,
            client,
            status,
            latency: took,
            touched: response.extensions().get::<Touched>(),
            injected,
            digest_sent,
            challenged,
        });
    }
    if let Ok(value) = axum::http::HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    span.in_scope(|| {
        let micros = took.as_micros() as u64;
        if status >= 500 || status == 0 {
            tracing::warn!(status, operation, micros, "answered");
        } else {
            tracing::info!(status, operation, micros, "answered");
        }
    });
    response
}

/// Routes a request to the control API, the console, the Atlas pipeline, or the endpoints
/// outside the spec (OAuth, private).
async fn dispatch(app: &Arc<App>, request: Request, path: &str) -> Response<Body> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let query = request.uri().query().unwrap_or_default().to_owned();
    let style = Style {
        pretty: query_flag(&query, "pretty"),
        envelope: query_flag(&query, "envelope"),
    };
    let client_ip = client_ip(request.headers(), peer, &app.config);
    let in_api = path
        .strip_prefix(API_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    if in_api {
        return atlas_request(
            app.clone(),
            request,
            path.to_owned(),
            query,
            client_ip,
            style,
        )
        .await;
    }
    let mut injected = None;
    let (label, outcome) = if let Some(rest) = path.strip_prefix(control::PREFIX) {
        let outcome = control_request(app, request, rest.to_owned(), client_ip).await;
        ("__control", outcome)
    } else if console::serves(path) {
        let rest = console::CONTROL_PATH.to_owned();
        let outcome = control_request(app, request, rest, client_ip).await;
        ("__control", outcome)
    } else if path.starts_with(private::PREFIX)
        && let Err(refusal) = gate::browser_rules(
            request.method(),
            request.uri(),
            request.headers(),
            &app.config.allowed_hosts,
        )
    {
        // Not reachable from other sites' pages, before any fault rule or credential.
        ("__private", Ok(refusal.response()))
    } else {
        // The token endpoints and the private endpoints: faults match them by path only.
        let target = faults::Target {
            method: request.method().as_str(),
            path,
            op: None,
            principal: None,
            params: &[],
            body: None,
        };
        injected = match app.faults.check(&target).map(|d| faulted(d, style)) {
            Some(Faulted::Answer(answer)) => return answer,
            Some(Faulted::Proceed(fired)) => Some(fired),
            None => None,
        };
        if path == "/api/oauth/token" || path == "/api/oauth/revoke" {
            let outcome = oauth_request(app, request, path, client_ip).await;
            ("__oauth", outcome)
        } else if path.starts_with(private::PREFIX) {
            let outcome = private_request(app, request, path, client_ip).await;
            ("__private", outcome)
        } else {
            ("__unrouted", Err(api_error!(RESOURCE_NOT_FOUND, path)))
        }
    };
    let mut response = outcome.unwrap_or_else(|e| render::error(&e, style, &[]));
    response.extensions_mut().insert(OperationLabel(label));
    if let Some(injected) = injected {
        response.extensions_mut().insert(injected);
    }
    response
}

/// What a fired fault rule means for the request.
enum Faulted {
    /// An answer in place of the operation's: an error, or an empty one for a connection about
    /// to be dropped.
    Answer(Response<Body>),
    /// Go on, with only the rule's latency.
    Proceed(Injected),
}

fn faulted(decision: Decision, style: Style) -> Faulted {
    let mut injected = Injected {
        rule: decision.rule,
        latency: decision.latency,
        dropped: false,
    };
    let mut answer = match decision.action {
        Action::Proceed => return Faulted::Proceed(injected),
        Action::Error(e) => render::error(&e, style, &[]),
        Action::Drop => {
            injected.dropped = true;
            Response::new(Body::empty())
        }
    };
    answer.extensions_mut().insert(injected);
    Faulted::Answer(answer)
}

/// `pretty=true` / `envelope=true` (anything else is false).
fn query_flag(query: &str, name: &str) -> bool {
    url::form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == name && v == "true")
}

/// A control request (or the console page), past the [`gate`]: `--control off` leaves only the
/// health probe; otherwise the browser rules (`Host`, `Origin`, `Sec-Fetch-Site`), then the
/// admin check (loopback, or the control token), then JSON bodies for state changes.
async fn control_request(
    app: &Arc<App>,
    request: Request,
    rest: String,
    client_ip: String,
) -> Result<Response<Body>, ApiError> {
    let (parts, body) = request.into_parts();
    // Load balancers probe health under whatever name they know the instance by.
    let probe = parts.method == axum::http::Method::GET && rest == "health";
    if !probe && let Some(refusal) = control_refusal(app, &parts, &client_ip).await? {
        return Ok(refusal.response());
    }
    let method = parts.method.clone();
    let body = read_body(body, &app.config).await?;
    if let Err(refusal) = gate::content_type_rule(&method, &parts.headers, &body) {
        return Ok(refusal.response());
    }
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let base_url = base_url(&parts.headers, &parts.uri, app.config.tls);
    let app = app.clone();
    blocking(move || {
        control::handle(
            &app,
            &control::ControlRequest {
                method: &method,
                rest: &rest,
                query: &query,
                body: &body,
                base_url: &base_url,
                client_ip: &client_ip,
            },
        )
    })
    .await?
}

/// Why a control request may not pass, if it may not: the mode, the browser rules, then who is
/// asking. Atlas credentials count for nothing here.
async fn control_refusal(
    app: &Arc<App>,
    parts: &axum::http::request::Parts,
    client_ip: &str,
) -> Result<Option<gate::Refusal>, ApiError> {
    let mode = app.config.control;
    if mode == gate::ControlAccess::Off {
        return Ok(Some(gate::control_off()));
    }
    if let Err(refusal) = gate::browser_rules(
        &parts.method,
        &parts.uri,
        &parts.headers,
        &app.config.allowed_hosts,
    ) {
        return Ok(Some(refusal));
    }
    let loopback = gate::is_loopback(client_ip);
    match mode {
        gate::ControlAccess::Auto if loopback => return Ok(None),
        gate::ControlAccess::Loopback if loopback => return Ok(None),
        gate::ControlAccess::Loopback => return Ok(Some(gate::loopback_only(client_ip))),
        _ => {}
    }
    let Some(token) = gate::presented_token(&parts.headers) else {
        return Ok(Some(gate::token_required(false, mode)));
    };
    let worker = app.clone();
    let valid = store_work(app, move || worker.atlas.is_control_token(&token)).await??;
    Ok((!valid).then(|| gate::token_required(true, mode)))
}

/// Authenticates a request outside the operation table (the authenticated private endpoints):
/// `None` when admitted, else the answer (a Digest
/// challenge, a 401 or 403).
async fn authenticate(
    app: &Arc<App>,
    request: &axum::http::request::Parts,
    client_ip: String,
) -> Result<Option<Response<Body>>, ApiError> {
    let presented = auth::parse(header_str(&request.headers, header::AUTHORIZATION));
    let method = request.method.as_str().to_owned();
    let target = request
        .uri
        .path_and_query()
        .map_or("", |p| p.as_str())
        .to_owned();
    let worker = app.clone();
    store_work(app, move || {
        let admitted = worker.atlas.admit(&admission::Request {
            method: &method,
            presented: &presented,
            client_ip: &client_ip,
            op: None,
            path: "",
            target: &target,
            negotiated: false,
            rate_limits: false,
        })?;
        match admitted {
            Admission::Admitted { .. } => Ok(None),
            Admission::Challenge { stale, reason } => {
                auth::log_refusal(&reason, &presented, &target);
                Ok(Some(auth::challenge(&worker.atlas, stale)))
            }
            Admission::Refused(e) => Err(e),
        }
    })
    .await?
}

async fn private_request(
    app: &Arc<App>,
    request: Request,
    path: &str,
    client_ip: String,
) -> Result<Response<Body>, ApiError> {
    let (parts, body) = request.into_parts();
    // Read (and so bounded by the body limits) even though no private endpoint uses it, so a
    // telemetry POST leaves nothing on a kept-alive connection.
    read_body(body, &app.config).await?;
    match private::route(&parts.method, path)? {
        private::Route::Open(answer) => Ok(answer()),
        private::Route::Authenticated(answer) => {
            Ok(match authenticate(app, &parts, client_ip.clone()).await? {
                Some(refusal) => refusal,
                None => answer(&client_ip),
            })
        }
    }
}

async fn oauth_request(
    app: &Arc<App>,
    request: Request,
    path: &str,
    client_ip: String,
) -> Result<Response<Body>, ApiError> {
    if request.method() != axum::http::Method::POST {
        return Err(api_error!(
            METHOD_NOT_ALLOWED,
            request.method().as_str(),
            path
        ));
    }
    let authorization = header_str(request.headers(), header::AUTHORIZATION).map(str::to_owned);
    let body = read_body(request.into_body(), &app.config).await?;
    let app = app.clone();
    let revoke = path.ends_with("revoke");
    store_work(&app.clone(), move || {
        if revoke {
            oauth::revoke(&app.atlas, authorization.as_deref(), &body)
        } else {
            let rate_limits = app.config.rate_limits;
            oauth::token(
                &app.atlas,
                authorization.as_deref(),
                &body,
                &client_ip,
                rate_limits,
            )
        }
    })
    .await?
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The request body, at most `max_body_bytes` of it (413 beyond, without reading the rest), and
/// within `body_read_timeout` (408 after: a client that stalls mid-body does not hold a worker).
async fn read_body(body: Body, config: &crate::HttpConfig) -> Result<Vec<u8>, ApiError> {
    let limit = config.max_body_bytes;
    // A declared length beyond the limit is refused before waiting for any of it.
    if usize::try_from(axum::body::HttpBody::size_hint(&body).lower()).unwrap_or(usize::MAX) > limit
    {
        return Err(api_error!(PAYLOAD_TOO_LARGE, limit as u64));
    }
    match tokio::time::timeout(config.body_read_timeout, to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => Ok(bytes.to_vec()),
        Ok(Err(_)) => Err(api_error!(PAYLOAD_TOO_LARGE, limit as u64)),
        Err(_) => Err(api_error!(
            REQUEST_TIMEOUT,
            config.body_read_timeout.as_secs()
        )),
    }
}

async fn atlas_request(
    app: Arc<App>,
    request: Request,
    path: String,
    query: String,
    client_ip: String,
    style: Style,
) -> Response<Body> {
    // Everything that needs no store is done first, including reading the body; everything that
    // does (admission, then the operation) follows in one guarded section. Errors found early
    // are reported in Atlas's order there: credentials first, then the route, the version, and
    // only then malformed input.
    let method = Method::parse(request.method().as_str());
    let rel = path.strip_prefix(API_PREFIX).unwrap_or_default();
    let routed = match method {
        Some(m) => app.router.route(m, rel),
        None => Routed::MethodNotAllowed(Vec::new()),
    };
    let accept = header_str(request.headers(), header::ACCEPT);
    let served = match &routed {
        Routed::Operation(op, _) => negotiate::negotiate(op, accept),
        _ => None,
    };
    // Kept for the 406's log line and header when no version was served.
    let accept = served
        .is_none()
        .then(|| accept.map(str::to_owned))
        .flatten();
    let presented = auth::parse(header_str(request.headers(), header::AUTHORIZATION));
    let method_name = request.method().as_str().to_owned();
    let base_url = base_url(request.headers(), request.uri(), app.config.tls);
    let label = match &routed {
        Routed::Operation(op, _) => op.name,
        _ => "__unrouted",
    };
    let body = read_body(request.into_body(), &app.config).await;
    // The request-target as sent: a Digest response must have been computed for it.
    let target = match query.as_str() {
        "" => path.clone(),
        query => format!("{path}?{query}"),
    };
    let worker = app.clone();
    let answered = store_work(&app, move || {
        let app = worker;
        let op = match &routed {
            Routed::Operation(op, params) => Some((*op, params.as_slice())),
            _ => None,
        };
        let request = admission::Request {
            method: &method_name,
            presented: &presented,
            client_ip: &client_ip,
            op,
            path: &path,
            target: &target,
            negotiated: served.is_some(),
            rate_limits: app.config.rate_limits,
        };
        // The `RateLimit-*` and deprecation headers of whatever the operation answers.
        let mut extra = Vec::new();
        // Set once the request reached its operation: coverage counts whatever it answers.
        let mut touched = None;
        let mut injected = None;
        let early = |e: &ApiError, headers: &[(&'static str, String)]| {
            Early::Respond(Box::new(render::error(e, style, headers)))
        };
        let served_call = app.atlas.serve(&request, |admitted| {
            let (principal, rate_headers) = match admitted {
                Ok(Admission::Admitted { principal, headers }) => (principal, headers),
                // The challenge's fresh nonce needs the store: answered after the transaction.
                Ok(Admission::Challenge { stale, reason }) => {
                    auth::log_refusal(&reason, &presented, &target);
                    return Err(Early::Challenge { stale });
                }
                Ok(Admission::Refused(e)) | Err(e) => return Err(early(&e, &[])),
            };
            let (op, raw_params) = match &routed {
                Routed::Operation(op, params) => (*op, params.clone()),
                Routed::MethodNotAllowed(allowed) if !allowed.is_empty() => {
                    let allow: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
                    let e = api_error!(METHOD_NOT_ALLOWED, method_name.as_str(), path.as_str())
                        .with_header("Allow", allow.join(", "));
                    return Err(early(&e, &[]));
                }
                _ => return Err(early(&api_error!(RESOURCE_NOT_FOUND, path.as_str()), &[])),
            };
            touched = Some(Touched {
                op,
                principal: principal.name().to_owned(),
            });
            let target = faults::Target {
                method: &method_name,
                path: &path,
                op: Some(op),
                principal: Some(&principal),
                params: &raw_params,
                body: body.as_deref().ok(),
            };
            match app.faults.check(&target).map(|d| faulted(d, style)) {
                Some(Faulted::Answer(answer)) => return Err(Early::Respond(Box::new(answer))),
                Some(Faulted::Proceed(fired)) => injected = Some(fired),
                None => {}
            }
            let Some(served) = served else {
                return Err(early(
                    &negotiate::not_acceptable(op, accept.as_deref()),
                    &[],
                ));
            };
            extra = negotiate::lifecycle_headers(op, &served);
            extra.extend(rate_headers);
            let origin = Origin {
                base_url: base_url.clone(),
                path: path.clone(),
                query: query.clone(),
                client_ip: client_ip.clone(),
            };
            let call = body
                .as_deref()
                .map_err(Clone::clone)
                .and_then(|bytes| decode(op, raw_params, bytes, served, principal, origin))
                .map_err(|e| early(&e, &extra))?;
            Ok(call)
        });
        let mut response = match served_call {
            Ok(Ok(reply)) => {
                let content_type = served.map(|s| s.content_type()).unwrap_or_default();
                render::reply(reply, &content_type, style, &extra)
            }
            // A project that does not exist answers without rate-limit headers (admission found
            // no bucket for it); any other error keeps them (semantics §3.1).
            Ok(Err(e)) => render::error(&e, style, &extra),
            Err(Early::Respond(response)) => *response,
            Err(Early::Challenge { stale }) => auth::challenge(&app.atlas, stale),
        };
        if let Some(touched) = touched {
            response.extensions_mut().insert(touched);
        }
        if let Some(injected) = injected {
            response.extensions_mut().insert(injected);
        }
        response
    })
    .await;
    let mut response = answered.unwrap_or_else(|e| render::error(&e, style, &[]));
    response.extensions_mut().insert(OperationLabel(label));
    response
}

/// An answer given before the operation runs.
enum Early {
    Respond(Box<Response<Body>>),
    /// A Digest challenge, answered once the transaction is over (its nonce reads the store).
    Challenge {
        stale: bool,
    },
}

/// The caller's address: the right-most address of the trusted header when one is configured
/// (the one the proxy in front of localatlas added), else the connection's peer; IPv4-mapped
/// IPv6 peers read as IPv4.
fn client_ip(headers: &HeaderMap, peer: Option<SocketAddr>, config: &crate::HttpConfig) -> String {
    let forwarded = config
        .trusted_client_ip_header
        .as_deref()
        .and_then(|name| headers.get(name))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').find_map(forwarded_address));
    if let Some(ip) = forwarded {
        return ip.to_string();
    }
    peer.map(|p| p.ip().to_string())
        .and_then(|ip| address_check::parse_address(&ip))
        .map_or_else(|| "127.0.0.1".to_owned(), |ip| ip.to_string())
}

/// One address of a forwarding header: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]:4711`.
fn forwarded_address(text: &str) -> Option<std::net::IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Some(ip) = address_check::parse_address(text) {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return address_check::parse_address(rest.split(']').next()?);
    }
    let (host, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    address_check::parse_address(host)
}

/// Decodes path parameters, query parameters and the JSON body into a [`Call`].
fn decode(
    op: &'static atlas_model::Operation,
    raw_params: Vec<(&'static str, String)>,
    bytes: &[u8],
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
    let query = url::form_urlencoded::parse(origin.query.as_bytes())
        .into_owned()
        .collect();
    let body = if bytes.iter().all(u8::is_ascii_whitespace) || op.request.is_empty() {
        None
    } else {
        Some(parse_json(bytes)?)
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

/// `scheme://host` as the client addressed the server: what link hrefs are built from. HTTP/2
/// requests carry the host as the URI's authority instead of a `Host` header.
fn base_url(headers: &HeaderMap, uri: &axum::http::Uri, tls: bool) -> String {
    let host = header_str(headers, header::HOST)
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or("localhost");
    let scheme = if tls { "https" } else { "http" };
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarding_headers_name_addresses_with_or_without_ports() {
        for (text, ip) in [
            ("192.0.2.1", "192.0.2.1"),
            (" 192.0.2.1:4711", "192.0.2.1"),
            ("\"[2001:db8::1]:4711\"", "2001:db8::1"),
            ("2001:db8::1", "2001:db8::1"),
        ] {
            assert_eq!(
                forwarded_address(text).map(|a| a.to_string()).as_deref(),
                Some(ip)
            );
        }
        assert_eq!(forwarded_address("proxy.internal:80"), None);
        assert_eq!(forwarded_address("192.0.2.1:port"), None);
    }

    #[test]
    fn the_trusted_header_gives_its_last_address() {
        let config = crate::HttpConfig {
            trusted_client_ip_header: Some("x-forwarded-for".into()),
            ..crate::HttpConfig::default()
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7:4711".parse().unwrap(),
        );
        let peer = Some(SocketAddr::from(([127, 0, 0, 1], 5000)));
        assert_eq!(client_ip(&headers, peer, &config), "198.51.100.7");
        // Without the setting the header is ignored: the peer it is.
        assert_eq!(
            client_ip(&headers, peer, &crate::HttpConfig::default()),
            "127.0.0.1"
        );
    }

    #[test]
    fn request_ids_from_a_proxy_are_kept_only_when_short_and_plain() {
        let with = |id: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(REQUEST_ID, id.parse().unwrap());
            request_id(&headers)
        };
        assert_eq!(with("lb-1234.abc:7_x"), "lb-1234.abc:7_x");
        let long = "a".repeat(65);
        assert_ne!(with(&long), long);
        assert_ne!(with("a b"), "a b");
        assert_eq!(with(&"b".repeat(64)), "b".repeat(64));
    }
}
