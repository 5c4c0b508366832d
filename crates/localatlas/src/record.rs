//! `localatlas record`: a forwarding proxy between a client and a real Atlas (or any upstream
//! that speaks its API) that writes every exchange as one JSON line, in the format of the
//! conformance corpus (`../shared/conformance/corpus.jsonl`), with every secret redacted.
//!
//! The client is pointed at the recorder exactly as at localatlas (a base URL). Each request is
//! forwarded with its method, path, query, `Authorization` and body untouched, so HTTP Digest
//! works end to end (the upstream's challenge reaches the client, the client's answer reaches
//! the upstream) and so do the OAuth token endpoints. Only what a proxy must change is changed:
//! `Host` names the upstream, hop-by-hop headers are dropped, and `Accept-Encoding` is dropped
//! so the upstream answers uncompressed bodies the recording can read.
//!
//! What reaches the file: method, path, query, the operation the path matches in the spec
//! (template, operationId, path parameters), the `Accept` version, the request body, status,
//! a few response headers (`Content-Type`, rate-limit, deprecation, `Location`,
//! `X-Error-Code` …), the errorCode, the media type and the response body. What never does:
//! request headers other than `Accept` (so no `Authorization`, no cookies), the values of Digest
//! parameters, and every secret in queries and bodies (see [`Redactor`]).

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use atlas_http::router::{Routed, Router};
use atlas_model::{API_PREFIX, Method};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use base64::Engine as _;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value, json};

use crate::outbound::{Flags, Origin};

/// What replaces a redacted value (whole, or the secret part of a longer string).
pub const REDACTED: &str = "[REDACTED]";

/// Largest request body forwarded (and recorded); answers are read up to the same size.
const MAX_BODY_BYTES: usize = crate::outbound::MAX_BODY_BYTES;

#[derive(clap::Args)]
pub struct Args {
    /// The Atlas to forward to (scheme, host and port; no path).
    #[arg(
        long,
        env = "LOCALATLAS_UPSTREAM",
        default_value = "https://cloud.mongodb.com"
    )]
    upstream: String,
    /// Address to listen on (plain HTTP); point the client's base URL here.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The recording: one JSON line per exchange, appended (created with mode 0600).
    #[arg(long, value_name = "FILE.jsonl")]
    out: PathBuf,
    /// CA certificates (PEM) to trust for an https upstream instead of the system's roots.
    #[arg(long, value_name = "FILE")]
    upstream_ca: Option<PathBuf>,
    /// Also redact every value of this JSON field or query parameter (repeatable; case and
    /// `_`/`-` are ignored).
    #[arg(long = "redact", value_name = "FIELD")]
    redact: Vec<String>,
    /// Record every exchange in one sequence of this name, instead of one sequence per client
    /// session (client address and `User-Agent`, until idle for `--session-idle` seconds).
    #[arg(long, value_name = "NAME")]
    sequence: Option<String>,
    /// Seconds without a request after which a client's next request starts a new sequence.
    #[arg(long, default_value_t = 30)]
    session_idle: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let upstream = Origin::parse(
        &args.upstream,
        args.upstream_ca.as_deref(),
        Flags {
            url: "--upstream",
            ca: "--upstream-ca",
        },
    )?;
    let out = open_out(&args.out)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("binding {}", args.listen))?;
        let local = listener.local_addr()?;
        let recorder = Arc::new(Recorder {
            upstream,
            router: Router::new(),
            redactor: Redactor::new(&args.redact),
            sessions: Sessions::new(args.sequence, Duration::from_secs(args.session_idle)),
            out: Mutex::new(out),
        });
        println!(
            "localatlas {} recording http://{local} -> {} into {}",
            env!("CARGO_PKG_VERSION"),
            recorder.upstream.base,
            args.out.display()
        );
        std::io::stdout().flush()?;
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(recorder)
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(super::shutdown_signal())
            .await
            .context("serving")?;
        Ok(())
    })
}

/// Opens the recording for appending, readable by its owner only (it holds ids and names).
fn open_out(path: &Path) -> anyhow::Result<std::fs::File> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

struct Recorder {
    upstream: Origin,
    router: Router,
    redactor: Redactor,
    sessions: Sessions,
    out: Mutex<std::fs::File>,
}

/// Headers that belong to one connection, never forwarded.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
            | "content-length"
            | "host"
    )
}

// ---------------------------------------------------------------------------------------------
// Forwarding and recording.

async fn forward(
    State(recorder): State<Arc<Recorder>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return proxy_error(400, &format!("reading the request body: {e}")),
    };
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let build = || {
        let mut upstream = hyper::Request::builder()
            .method(parts.method.clone())
            .uri(target.as_str());
        for (name, value) in &parts.headers {
            // Uncompressed answers, so the recording can read them.
            if !hop_by_hop(name) && name != header::ACCEPT_ENCODING {
                upstream = upstream.header(name, value);
            }
        }
        upstream = upstream.header(header::HOST, recorder.upstream.authority.as_str());
        if !body.is_empty() || matches!(parts.method.as_str(), "POST" | "PUT" | "PATCH") {
            upstream = upstream.header(header::CONTENT_LENGTH, body.len());
        }
        upstream.body(Full::new(body.clone()))
    };
    let (answer, answer_body) = match recorder.upstream.send(build).await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "upstream request failed");
            return proxy_error(502, &format!("{e:#}"));
        }
    };
    let user_agent = header_str(&parts.headers, header::USER_AGENT).unwrap_or_default();
    let (sequence, step) = recorder.sessions.next(peer, user_agent);
    let exchange = Exchange {
        method: parts.method.as_str(),
        target: &target,
        request_headers: &parts.headers,
        request_body: &body,
        status: answer.status.as_u16(),
        reason: answer.status.canonical_reason(),
        response_headers: &answer.headers,
        response_body: &answer_body,
    };
    let line = recorder.line(&exchange, &sequence, step);
    recorder.write(&line);

    let mut response = Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        if !hop_by_hop(name) {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from(answer_body))
        .unwrap_or_else(|_| proxy_error(502, "the upstream's answer cannot be passed on"))
}

/// The recorder's own failure (the upstream unreachable ...), in Atlas's error shape; never
/// recorded, since Atlas did not answer it.
fn proxy_error(status: u16, detail: &str) -> Response {
    let status = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    let body = json!({
        "error": status.as_u16(),
        "reason": status.canonical_reason(),
        "detail": format!("localatlas record: {detail}"),
    });
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn header_str(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// One request and its answer, as forwarded.
struct Exchange<'a> {
    method: &'a str,
    /// Path and query, as the client sent them.
    target: &'a str,
    request_headers: &'a HeaderMap,
    request_body: &'a [u8],
    status: u16,
    reason: Option<&'static str>,
    response_headers: &'a HeaderMap,
    response_body: &'a [u8],
}

/// The response headers a recording keeps (the corpus's, plus the challenge and `Retry-After`),
/// in the corpus's spelling.
const KEPT_HEADERS: &[&str] = &[
    "Content-Type",
    "Content-Disposition",
    "Location",
    "Ratelimit-Limit",
    "Ratelimit-Remaining",
    "Retry-After",
    "Deprecation",
    "Sunset",
    "X-Error-Code",
    "X-Java-Method",
    "WWW-Authenticate",
];

impl Recorder {
    fn write(&self, line: &Value) {
        let mut text = line.to_string();
        text.push('\n');
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(error) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            tracing::error!(%error, "writing the recording failed");
        }
    }

    /// The corpus line of one exchange, redacted.
    fn line(&self, x: &Exchange<'_>, sequence: &str, step: u64) -> Value {
        let r = &self.redactor;
        // Secrets the client sent in its credentials: scrubbed wherever they show up.
        r.learn_authorization(header_str(x.request_headers, header::AUTHORIZATION));
        let mut redacted = Vec::new();

        let (path, query) = match x.target.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (x.target, None),
        };
        let query = query
            .filter(|q| !q.is_empty())
            .map(|q| r.query(q, &mut redacted));

        let routed = path
            .strip_prefix(API_PREFIX)
            .filter(|rel| rel.is_empty() || rel.starts_with('/'))
            .zip(Method::parse(x.method))
            .and_then(|(rel, method)| match self.router.route(method, rel) {
                Routed::Operation(op, params) => Some((op, params)),
                _ => None,
            });

        let accept = header_str(x.request_headers, header::ACCEPT);
        let request_content_type = header_str(x.request_headers, header::CONTENT_TYPE);
        let (request_version, version_source) = match atlas_version(accept) {
            Some(v) => (Some(v), Some("accept-header")),
            None => match atlas_version(request_content_type) {
                Some(v) => (Some(v), Some("content-type")),
                None => (None, None),
            },
        };

        let mut request_body =
            body_value(request_content_type, x.request_body).map_or(Value::Null, |b| match b {
                BodyValue::Json(v) | BodyValue::Form(v) => v,
                BodyValue::Text(t) => Value::String(t),
                BodyValue::Binary(b) => {
                    Value::String(base64::engine::general_purpose::STANDARD.encode(b))
                }
            });
        r.value(&mut request_body, "request_body", &mut redacted);
        let request_body_origin = if !request_body.is_null() {
            Some("recorded")
        } else if matches!(x.method, "POST" | "PUT" | "PATCH") {
            Some("recorded:empty")
        } else {
            None
        };

        let content_type = header_str(x.response_headers, header::CONTENT_TYPE);
        let media = content_type.map(|c| c.split(';').next().unwrap_or_default().trim());
        let (mut response_body, mut response_text, mut response_b64) =
            (Value::Null, Value::Null, Value::Null);
        match body_value(content_type, x.response_body) {
            Some(BodyValue::Json(v) | BodyValue::Form(v)) => response_body = v,
            Some(BodyValue::Text(t)) => response_text = Value::String(t),
            Some(BodyValue::Binary(b)) => {
                response_b64 = Value::String(base64::engine::general_purpose::STANDARD.encode(b));
            }
            None => {}
        }
        r.value(&mut response_body, "response_body", &mut redacted);
        r.value(&mut response_text, "response_text", &mut redacted);

        let mut response_headers = Map::new();
        for name in KEPT_HEADERS {
            if let Some(value) = x.response_headers.get(*name).and_then(|v| v.to_str().ok()) {
                let value = if name.eq_ignore_ascii_case("WWW-Authenticate") {
                    let shown = redact_auth_params(value);
                    // Listed like every other redacted place, so a reader of the line knows
                    // the challenge was altered.
                    if shown != value {
                        redacted.push(format!("response_headers.{name}"));
                    }
                    shown
                } else {
                    value.to_owned()
                };
                response_headers.insert((*name).to_owned(), Value::String(value));
            }
        }
        let error_code = response_body
            .get("errorCode")
            .and_then(Value::as_str)
            .or_else(|| header_str(x.response_headers, HeaderName::from_static("x-error-code")))
            .map(str::to_owned);

        let challenge = x.status == 401
            && x.request_headers.get(header::AUTHORIZATION).is_none()
            && header_str(x.response_headers, header::WWW_AUTHENTICATE)
                .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("digest"));
        let kind = if challenge {
            "auth-challenge"
        } else if routed.is_some() {
            "api"
        } else {
            "non-spec"
        };
        let path_params: Map<String, Value> = routed
            .as_ref()
            .map(|(_, params)| {
                // Decoded, as in the corpus: a replay fills the template and encodes them again.
                params
                    .iter()
                    .map(|(k, v)| {
                        let value = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                        ((*k).to_owned(), Value::String(value.into_owned()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut line = json!({
            "id": format!("{sequence}#{step:03}"),
            "source": "localatlas-record",
            "sequence": sequence,
            "step": step,
            "test": sequence,
            "subtest": null,
            "kind": kind,
            "method": x.method,
            "path": path,
            "query": query,
            "template": routed.as_ref().map(|(op, _)| op.path),
            "operation_id": routed.as_ref().map(|(op, _)| op.name),
            "tags": routed.as_ref().map(|(op, _)| vec![op.tag]).unwrap_or_default(),
            "in_spec": routed.is_some(),
            "path_params": path_params,
            "request_version": request_version,
            "request_version_source": version_source,
            "request_accept": accept,
            "request_body": request_body,
            "request_body_origin": request_body_origin,
            "status": x.status,
            "reason": x.reason,
            "content_type": content_type,
            "response_media": media,
            "response_version": atlas_version(content_type),
            "response_headers": response_headers,
            "error_code": error_code,
            "response_body": response_body,
            "response_text": response_text,
            "response_b64": response_b64,
            "response_size": x.response_body.len(),
            "repeat": 1,
            "recorded_at": now_text(),
            "redacted": redacted,
        });
        // Last: a secret learnt anywhere in the run, wherever it shows up in this line.
        r.scrub_known(&mut line);
        line
    }
}

/// `2023-01-01` from `application/vnd.atlas.2023-01-01+json` (the first such media type).
fn atlas_version(media: Option<&str>) -> Option<String> {
    let media = media?;
    let at = media.find("vnd.atlas.")? + "vnd.atlas.".len();
    let rest = &media[at..];
    let end = rest.find(['+', ';', ',', ' ']).unwrap_or(rest.len());
    Some(rest[..end].to_owned()).filter(|v| !v.is_empty())
}

enum BodyValue {
    Json(Value),
    /// A form body (the OAuth endpoints), as an object of its fields.
    Form(Value),
    Text(String),
    Binary(Vec<u8>),
}

fn body_value(content_type: Option<&str>, bytes: &[u8]) -> Option<BodyValue> {
    if bytes.is_empty() {
        return None;
    }
    let media = content_type
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media == "application/x-www-form-urlencoded" {
        let mut fields = Map::new();
        for (k, v) in url::form_urlencoded::parse(bytes) {
            fields.insert(k.into_owned(), Value::String(v.into_owned()));
        }
        return Some(BodyValue::Form(Value::Object(fields)));
    }
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return Some(BodyValue::Json(v));
    }
    match std::str::from_utf8(bytes) {
        Ok(t) if !media.contains("gzip") && !media.contains("octet-stream") => {
            Some(BodyValue::Text(t.to_owned()))
        }
        _ => Some(BodyValue::Binary(bytes.to_vec())),
    }
}

fn now_text() -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::now_utc()
        .format(&format)
        .unwrap_or_default()
}

/// The values of a `WWW-Authenticate`/`Authorization` header's nonce-like parameters replaced.
fn redact_auth_params(value: &str) -> String {
    let mut out = value.to_owned();
    for name in ["nonce", "cnonce", "opaque", "response", "nc"] {
        let mut from = 0;
        while let Some(at) = find_param(&out[from..], name).map(|a| a + from) {
            let start = at + name.len() + 1;
            let (start, end) = if out[start..].starts_with('"') {
                let end = out[start + 1..]
                    .find('"')
                    .map_or(out.len(), |e| start + 1 + e);
                (start + 1, end)
            } else {
                let end = out[start..].find(',').map_or(out.len(), |e| start + e);
                (start, end)
            };
            out.replace_range(start..end, REDACTED);
            from = start + REDACTED.len();
        }
    }
    out
}

/// Where `name=` starts as a whole parameter name (after a space, a comma or the scheme).
fn find_param(text: &str, name: &str) -> Option<usize> {
    let pattern = format!("{name}=");
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower[from..].find(&pattern).map(|a| a + from) {
        if at == 0 || matches!(lower.as_bytes()[at - 1], b' ' | b',' | b'\t') {
            return Some(at);
        }
        from = at + pattern.len();
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Sequences.

/// One sequence per client session: a client address and `User-Agent`, until it has been idle
/// for the idle time; or one sequence for everything (`--sequence`).
struct Sessions {
    fixed: Option<String>,
    idle: Duration,
    run: String,
    state: Mutex<SessionState>,
}

#[derive(Default)]
struct SessionState {
    opened: u64,
    by_client: HashMap<(std::net::IpAddr, String), (String, u64, Instant)>,
    fixed_steps: u64,
}

impl Sessions {
    fn new(fixed: Option<String>, idle: Duration) -> Sessions {
        let format =
            time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        let run = time::OffsetDateTime::now_utc()
            .format(&format)
            .unwrap_or_default();
        Sessions {
            fixed,
            idle,
            run,
            state: Mutex::new(SessionState::default()),
        }
    }

    /// The sequence and step of the next exchange of this client.
    fn next(&self, peer: SocketAddr, user_agent: &str) -> (String, u64) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(name) = &self.fixed {
            let step = state.fixed_steps;
            state.fixed_steps += 1;
            return (name.clone(), step);
        }
        let now = Instant::now();
        let key = (peer.ip(), user_agent.to_owned());
        let fresh = state
            .by_client
            .get(&key)
            .is_none_or(|(_, _, last)| now.duration_since(*last) > self.idle);
        if fresh {
            state.opened += 1;
            let name = format!(
                "record/{}/{}-{}",
                self.run,
                state.opened,
                agent_label(user_agent)
            );
            state.by_client.insert(key.clone(), (name, 0, now));
        }
        let entry = state.by_client.get_mut(&key).expect("inserted above");
        let step = entry.1;
        entry.1 += 1;
        entry.2 = now;
        (entry.0.clone(), step)
    }
}

/// The client's product name from its `User-Agent` (`curl`, `terraform-provider-mongodbatlas`).
fn agent_label(user_agent: &str) -> String {
    let product: String = user_agent
        .split(['/', ' '])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(40)
        .collect();
    if product.is_empty() {
        "client".to_owned()
    } else {
        product
    }
}

// ---------------------------------------------------------------------------------------------
// Redaction.

/// Endings of field names (lower case, without `_` and `-`) whose string values are secrets wherever they
/// appear in a body or a query: API private keys, service-account and OAuth client secrets,
/// access/refresh/id tokens, passwords (database users, LDAP binds), third-party integration
/// keys and tokens (Datadog, PagerDuty, OpsGenie, VictorOps, Slack, webhooks), cloud provider
/// secrets (AWS secret access keys, GCP service-account keys, Azure secrets, SAS tokens).
const SECRET_PARTS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "privatekey",
    "accesstoken",
    "refreshtoken",
    "idtoken",
    "apitoken",
    "authtoken",
    "bearertoken",
    "sastoken",
    "writetoken",
    "readtoken",
    "apikey",
    "servicekey",
    "routingkey",
    "licensekey",
    "serviceaccountkey",
    "webhookurl",
    "credential",
];

/// Field names that are secrets only by themselves (`token` of the OAuth revoke form).
const SECRET_NAMES: &[&str] = &["token", "assertion", "code"];

/// Shortest value learnt as a secret to scrub everywhere (shorter ones would hit ordinary text).
const MIN_KNOWN_SECRET: usize = 8;

struct Redactor {
    extra: Vec<String>,
    /// Secrets seen in this run (credentials sent, values redacted by field), scrubbed from
    /// every string of every later line.
    known: Mutex<HashSet<String>>,
}

fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

impl Redactor {
    fn new(extra: &[String]) -> Redactor {
        Redactor {
            extra: extra
                .iter()
                .map(|f| normalize(f))
                .filter(|f| !f.is_empty())
                .collect(),
            known: Mutex::new(HashSet::new()),
        }
    }

    fn secret_field(&self, name: &str) -> bool {
        let n = normalize(name);
        // `fooSecret`, `bindPassword`, `datadogApiKey`; not `apiKeyId` nor `passwordChanged`.
        let singular = n.strip_suffix('s').unwrap_or(&n);
        SECRET_PARTS
            .iter()
            .any(|p| n.ends_with(p) || singular.ends_with(p))
            || SECRET_NAMES.contains(&n.as_str())
            || self.extra.contains(&n)
    }

    fn learn(&self, secret: &str) {
        if secret.len() >= MIN_KNOWN_SECRET && secret != REDACTED {
            self.known
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(secret.to_owned());
        }
    }

    /// The secrets of an `Authorization` header: a Bearer token, Basic's password (a
    /// service account's client secret). Digest sends no secret (a hash of it).
    fn learn_authorization(&self, value: Option<&str>) {
        let Some(value) = value else { return };
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            self.learn(rest);
        } else if scheme.eq_ignore_ascii_case("basic")
            && let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest)
        {
            let decoded = String::from_utf8_lossy(&decoded).into_owned();
            if let Some((_, password)) = decoded.split_once(':') {
                self.learn(password);
            }
        }
    }

    /// A query string with the values of secret parameters redacted (kept as sent otherwise).
    fn query(&self, query: &str, redacted: &mut Vec<String>) -> String {
        let parts: Vec<String> = query
            .split('&')
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let decoded = url::form_urlencoded::parse(name.as_bytes())
                    .next()
                    .map(|(k, _)| k.into_owned())
                    .unwrap_or_default();
                if !value.is_empty() && self.secret_field(&decoded) {
                    if let Some((_, v)) = url::form_urlencoded::parse(pair.as_bytes()).next() {
                        self.learn(&v);
                    }
                    redacted.push(format!("query.{decoded}"));
                    format!("{name}={REDACTED}")
                } else {
                    pair.to_owned()
                }
            })
            .collect();
        let mut text = Value::String(parts.join("&"));
        scrub_string(&mut text, &self.known_snapshot());
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Redacts secrets in a body value in place, naming each redacted place in `redacted`.
    fn value(&self, value: &mut Value, at: &str, redacted: &mut Vec<String>) {
        match value {
            Value::Object(fields) => {
                for (name, field) in fields.iter_mut() {
                    let here = format!("{at}.{name}");
                    if self.secret_field(name) && self.redact_all(field) {
                        redacted.push(here);
                    } else {
                        self.value(field, &here, redacted);
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.value(item, &format!("{at}[{i}]"), redacted);
                }
            }
            Value::String(s) => {
                if let Some(clean) = redact_in_text(s) {
                    *s = clean;
                    redacted.push(at.to_owned());
                }
            }
            _ => {}
        }
    }

    /// Replaces a secret field's string values (itself, or the strings of an array of them);
    /// an object under a secret name is walked field by field instead (`secrets: [{id,
    /// secret}]` keeps its ids). True when something was replaced.
    fn redact_all(&self, value: &mut Value) -> bool {
        match value {
            Value::String(s) if s != REDACTED && !s.is_empty() => {
                self.learn(s);
                *s = REDACTED.to_owned();
                true
            }
            Value::Array(items) if items.iter().all(Value::is_string) => {
                let mut any = false;
                for item in items {
                    any |= self.redact_all(item);
                }
                any
            }
            _ => false,
        }
    }

    fn known_snapshot(&self) -> Vec<String> {
        let known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        let mut list: Vec<String> = known.iter().cloned().collect();
        // Longest first, so a secret that contains another is replaced whole.
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
        list
    }

    /// Replaces every known secret in every string (and key) of a line.
    fn scrub_known(&self, line: &mut Value) {
        let known = self.known_snapshot();
        if !known.is_empty() {
            scrub_string(line, &known);
        }
    }
}

fn scrub_string(value: &mut Value, known: &[String]) {
    match value {
        Value::String(s) => {
            for secret in known {
                if s.contains(secret.as_str()) {
                    *s = s.replace(secret.as_str(), REDACTED);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| scrub_string(v, known)),
        Value::Object(fields) => {
            let keys: Vec<String> = fields.keys().cloned().collect();
            for key in keys {
                let Some(mut field) = fields.remove(&key) else {
                    continue;
                };
                scrub_string(&mut field, known);
                let mut name = Value::String(key);
                scrub_string(&mut name, known);
                fields.insert(name.as_str().unwrap_or_default().to_owned(), field);
            }
        }
        _ => {}
    }
}

/// Secrets inside any text, whatever its field: PEM certificates and keys (the whole value), and
/// the password of a URL's credentials (`mongodb+srv://user:password@host`). `None` when clean.
fn redact_in_text(text: &str) -> Option<String> {
    if text.contains("-----BEGIN ") {
        return Some(REDACTED.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let authority_end = after
            .find(['/', '?', '#', ' ', '"', '\n', '\t'])
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        match authority
            .rfind('@')
            .and_then(|at_sign| authority[..at_sign].find(':').map(|c| (c, at_sign)))
        {
            Some((colon, at_sign)) if colon + 1 < at_sign => {
                out.push_str(&authority[..=colon]);
                out.push_str(REDACTED);
                out.push_str(&authority[at_sign..]);
                changed = true;
            }
            _ => out.push_str(authority),
        }
        rest = &after[authority_end..];
    }
    out.push_str(rest);
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(value: Value, extra: &[&str]) -> (Value, Vec<String>) {
        let r = Redactor::new(&extra.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        let mut v = value;
        let mut places = Vec::new();
        r.value(&mut v, "body", &mut places);
        r.scrub_known(&mut v);
        (v, places)
    }

    #[test]
    fn secret_fields_are_redacted_and_ids_kept() {
        let (v, places) = redacted(
            json!({
                "username": "app", "password": "hunter2-database",
                "privateKey": "2e6c6a8f-0000", "publicKey": "abcdefgh",
                "secrets": [{"id": "0123456789abcdef01234567", "secret": "mdb_sa_sk_xyz"}],
                "access_token": "eyJhbGciOi.token", "token_type": "Bearer", "expires_in": 3600,
                "ldap": {"bindPassword": "ldap-pass"},
                "notifications": [{"typeName": "DATADOG", "datadogApiKey": "dd-key"}],
                "mustChangePassword": false,
                "tags": [{"key": "env", "value": "prod"}],
            }),
            &[],
        );
        for path in [
            "/password",
            "/privateKey",
            "/secrets/0/secret",
            "/access_token",
            "/ldap/bindPassword",
            "/notifications/0/datadogApiKey",
        ] {
            assert_eq!(v.pointer(path), Some(&json!(REDACTED)), "{path}: {v}");
        }
        assert_eq!(v["secrets"][0]["id"], "0123456789abcdef01234567");
        assert_eq!(v["publicKey"], "abcdefgh");
        assert_eq!(v["token_type"], "Bearer");
        assert_eq!(v["mustChangePassword"], false);
        assert_eq!(v["tags"][0]["key"], "env");
        assert!(
            places.contains(&"body.secrets[0].secret".to_owned()),
            "{places:?}"
        );
    }

    #[test]
    fn certificates_connection_string_passwords_and_extra_fields_are_redacted() {
        let (v, _) = redacted(
            json!({
                "cas": "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n",
                "standardSrv": "mongodb+srv://admin:s3cr3t-pw@cluster0.mongodb.net/?retryWrites=true",
                "plain": "mongodb+srv://cluster0.mongodb.net",
                "customerNote": "internal",
            }),
            &["customer-note"],
        );
        assert_eq!(v["cas"], REDACTED);
        assert_eq!(
            v["standardSrv"],
            format!("mongodb+srv://admin:{REDACTED}@cluster0.mongodb.net/?retryWrites=true")
        );
        assert_eq!(v["plain"], "mongodb+srv://cluster0.mongodb.net");
        assert_eq!(v["customerNote"], REDACTED);
    }

    #[test]
    fn credentials_sent_are_scrubbed_everywhere_and_digest_parameters_hidden() {
        let r = Redactor::new(&[]);
        let basic =
            base64::engine::general_purpose::STANDARD.encode("mdb_sa_id_1:mdb_sa_sk_secret");
        r.learn_authorization(Some(&format!("Basic {basic}")));
        r.learn_authorization(Some("Bearer eyJ.the-access-token"));
        let mut line = json!({"detail": "token eyJ.the-access-token for mdb_sa_sk_secret"});
        r.scrub_known(&mut line);
        assert_eq!(line["detail"], format!("token {REDACTED} for {REDACTED}"));
        let mut places = Vec::new();
        assert_eq!(
            r.query("access_token=abcdefghij&pageNum=2", &mut places),
            format!("access_token={REDACTED}&pageNum=2")
        );
        let challenge = r#"Digest realm="MMS Public API", domain="", nonce="abc/def+ghi", algorithm=MD5, qop="auth", stale=false"#;
        let shown = redact_auth_params(challenge);
        assert!(!shown.contains("abc/def+ghi"), "{shown}");
        assert!(shown.contains(r#"realm="MMS Public API""#), "{shown}");
        assert!(shown.contains(&format!(r#"nonce="{REDACTED}""#)), "{shown}");
    }

    #[test]
    fn versions_and_agents() {
        assert_eq!(
            atlas_version(Some("application/vnd.atlas.2024-08-05+json;charset=utf-8")).as_deref(),
            Some("2024-08-05")
        );
        assert_eq!(atlas_version(Some("application/json")), None);
        assert_eq!(agent_label("curl/8.5.0"), "curl");
        assert_eq!(agent_label(""), "client");
    }
}
