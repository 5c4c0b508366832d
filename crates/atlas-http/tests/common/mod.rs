//! In-process test harness: the real axum service over an in-memory store, driven through
//! `tower::ServiceExt::oneshot` (full HTTP semantics, no sockets), with Digest and Bearer clients
//! (any credentials, any client address through the trusted client-address header), an optional
//! injected clock, and rate limits on or off.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use atlas_api::control::bootstrap::Bootstrap;
use atlas_api::identity::credentials::digest_authorization;
use atlas_api::{Atlas, Config};
use atlas_http::{App, HttpConfig};
use atlas_store::sqlite::SqliteStore;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;

pub const JSON_2023: &str = "application/vnd.atlas.2023-01-01+json";

/// The header the harness trusts for the client's address, so tests can call from any address.
pub const CLIENT_IP_HEADER: &str = "x-forwarded-for";

/// The JSON media type of an API version.
pub fn v(date: &str) -> String {
    format!("application/vnd.atlas.{date}+json")
}

/// Asserts a success answer's body is valid against `op`'s schema for the served version, and
/// returns the body.
pub fn assert_valid(op: &str, answer: &Answer) -> Value {
    assert!(
        answer.status.is_success(),
        "{op}: {} {}",
        answer.status,
        answer.text()
    );
    let content_type = answer.header("content-type").unwrap_or_default();
    let version = content_type
        .strip_prefix("application/vnd.atlas.")
        .and_then(|s| s.split('+').next())
        .unwrap_or_default();
    let body = answer.json();
    let op = atlas_model::operation_by_name(op).expect("operation");
    if let Some(schema) = op.success_for(version).find_map(|(_, m)| m.schema)
        && let Err(violations) =
            atlas_schema::Schemas::global().validate(schema, atlas_schema::Mode::Response, &body)
    {
        panic!(
            "{} {version}: invalid against {schema}: {violations:?}\n{body}",
            op.name
        );
    }
    body
}

pub struct Server {
    pub app: axum::Router,
    pub state: Arc<App>,
    pub boot: Bootstrap,
    boot_client: Client,
}

/// One answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// How a [`Client`] authenticates.
#[derive(Debug, Clone)]
pub enum Auth {
    /// An API key over HTTP Digest.
    Digest { public: String, private: String },
    /// A service-account or user token.
    Bearer(String),
}

/// An Atlas client with its own credentials and, optionally, its own address (sent in the
/// trusted client-address header). A Digest client reuses one nonce with an increasing `nc`, as
/// long-lived clients do, and answers a `stale=true` challenge by fetching a new nonce.
pub struct Client {
    app: axum::Router,
    auth: Auth,
    ip: Option<String>,
    nonce: Mutex<Option<String>>,
    nc: AtomicU32,
}

async fn exchange(app: &axum::Router, request: Request<Body>) -> Answer {
    let response = app
        .clone()
        .oneshot(request)
        .await
        .expect("infallible service");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Answer {
        status,
        headers,
        bytes,
    }
}

fn build(
    method: &str,
    uri: &str,
    accept: Option<&str>,
    body: Option<&Value>,
    auth: Option<String>,
    ip: Option<&str>,
) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "localhost:8080");
    if let Some(accept) = accept {
        builder = builder.header("accept", accept);
    }
    if let Some(auth) = auth {
        builder = builder.header("authorization", auth);
    }
    if let Some(ip) = ip {
        builder = builder.header(CLIENT_IP_HEADER, ip);
    }
    let body = match body {
        Some(v) => {
            builder = builder.header("content-type", "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    builder.body(body).expect("request")
}

impl Client {
    fn new(app: axum::Router, auth: Auth) -> Client {
        Client {
            app,
            auth,
            ip: None,
            nonce: Mutex::new(None),
            nc: AtomicU32::new(0),
        }
    }

    /// The same client calling from `ip`.
    pub fn from(mut self, ip: &str) -> Client {
        self.ip = Some(ip.to_owned());
        self
    }

    /// The nonce of a fresh challenge.
    async fn fresh_nonce(&self) -> String {
        let answer = exchange(
            &self.app,
            build("GET", "/api/atlas/v2", Some(JSON_2023), None, None, None),
        )
        .await;
        let www = answer
            .header("www-authenticate")
            .unwrap_or_default()
            .to_owned();
        let nonce = www
            .split("nonce=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("nonce in challenge")
            .to_owned();
        *self.nonce.lock().expect("nonce") = Some(nonce.clone());
        self.nc.store(0, Ordering::Relaxed);
        nonce
    }

    /// The `Authorization` value for one request.
    pub async fn authorization(&self, method: &str, uri: &str) -> String {
        match &self.auth {
            Auth::Bearer(token) => format!("Bearer {token}"),
            Auth::Digest { public, private } => {
                let cached = self.nonce.lock().expect("nonce").clone();
                let nonce = match cached {
                    Some(n) => n,
                    None => self.fresh_nonce().await,
                };
                let nc = self.nc.fetch_add(1, Ordering::Relaxed) + 1;
                digest(public, private, method, uri, &nonce, nc)
            }
        }
    }

    /// One request; a stale Digest nonce is replaced and the request sent again once.
    pub async fn send(
        &self,
        method: &str,
        uri: &str,
        accept: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        for _ in 0..2 {
            let auth = self.authorization(method, uri).await;
            let answer = exchange(
                &self.app,
                build(method, uri, accept, body, Some(auth), self.ip.as_deref()),
            )
            .await;
            let stale = answer
                .header("www-authenticate")
                .is_some_and(|w| w.contains("stale=true"));
            if !stale {
                return answer;
            }
            *self.nonce.lock().expect("nonce") = None;
        }
        panic!("stale nonce twice in a row");
    }

    /// GET with the 2023-01-01 version.
    pub async fn get(&self, uri: &str) -> Answer {
        self.send("GET", uri, Some(JSON_2023), None).await
    }

    /// A request with a body in the 2023-01-01 version.
    pub async fn with_body(&self, method: &str, uri: &str, body: &Value) -> Answer {
        self.send(method, uri, Some(JSON_2023), Some(body)).await
    }
}

/// How to build a test server.
pub struct Options {
    pub config: HttpConfig,
    /// Freeze the injected clock, so only [`Server::advance`] moves it.
    pub frozen_clock: bool,
    /// Keep nonce counts and rate-limit buckets in the store, as shared stores do.
    pub counters_in_store: bool,
    /// A SQLite file instead of the memory store (reader connections, WAL snapshots).
    pub file: Option<std::path::PathBuf>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            config: HttpConfig {
                trusted_client_ip_header: Some(CLIENT_IP_HEADER.to_owned()),
                ..HttpConfig::default()
            },
            frozen_clock: false,
            counters_in_store: false,
            file: None,
        }
    }
}

impl Server {
    /// The default server: Atlas's rate limits on, the clock running with the machine's.
    pub fn new() -> Server {
        Server::with(Options::default())
    }

    /// A server whose clock only moves through [`Server::advance`] (or the control API).
    pub fn with_clock() -> Server {
        Server::with(Options {
            frozen_clock: true,
            ..Options::default()
        })
    }

    /// A server without rate limits (`--rate-limit off`), for tests sending thousands of requests.
    pub fn without_rate_limits() -> Server {
        let mut options = Options::default();
        options.config.rate_limits = false;
        Server::with(options)
    }

    pub fn with(options: Options) -> Server {
        let store = Arc::new(match &options.file {
            Some(path) => SqliteStore::open(path).expect("file store"),
            None => SqliteStore::memory().expect("memory store"),
        });
        let config = Config {
            counters_in_store: options.counters_in_store,
            ..Config::default()
        };
        let atlas = Atlas::new(store, config);
        if options.frozen_clock {
            atlas.freeze_clock().expect("freezing the clock");
        }
        let boot = atlas.bootstrap().expect("bootstrap");
        let state = Arc::new(App::new(atlas, options.config));
        let app = atlas_http::app(state.clone());
        let boot_client = Client::new(
            app.clone(),
            Auth::Digest {
                public: boot.public_key.clone(),
                private: boot.private_key.clone(),
            },
        );
        Server {
            app,
            state,
            boot,
            boot_client,
        }
    }

    /// Moves the injected clock forward.
    pub fn advance(&self, seconds: i64) {
        self.state
            .atlas
            .move_clock(atlas_api::kernel::clock::Change::Advance(
                time::Duration::seconds(seconds),
            ))
            .expect("moving the clock");
    }

    /// A client authenticating with an API key.
    pub fn key(&self, public: &str, private: &str) -> Client {
        Client::new(
            self.app.clone(),
            Auth::Digest {
                public: public.to_owned(),
                private: private.to_owned(),
            },
        )
    }

    /// A client authenticating with a Bearer token.
    pub fn bearer_client(&self, token: &str) -> Client {
        Client::new(self.app.clone(), Auth::Bearer(token.to_owned()))
    }

    /// A control API request (from loopback: no credentials).
    pub async fn control(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        exchange(&self.app, build(method, path, None, body, None, None)).await
    }

    /// A request without credentials.
    pub async fn anonymous(
        &self,
        method: &str,
        uri: &str,
        accept: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        exchange(&self.app, build(method, uri, accept, body, None, None)).await
    }

    /// A request with a raw body and content type (malformed JSON tests).
    pub async fn raw(&self, method: &str, uri: &str, accept: &str, body: &str) -> Answer {
        let auth = self.digest_header(method, uri).await;
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "localhost:8080")
            .header("accept", accept)
            .header("content-type", "application/json")
            .header("authorization", auth)
            .body(Body::from(body.to_owned()))
            .expect("request");
        exchange(&self.app, request).await
    }

    /// A request authenticated with the bootstrap API key over HTTP Digest.
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        accept: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        self.boot_client.send(method, uri, accept, body).await
    }

    /// GET with the 2023-01-01 version.
    pub async fn get(&self, uri: &str) -> Answer {
        self.call("GET", uri, Some(JSON_2023), None).await
    }

    /// A request with a Bearer token.
    pub async fn bearer(
        &self,
        token: &str,
        method: &str,
        uri: &str,
        accept: Option<&str>,
    ) -> Answer {
        exchange(
            &self.app,
            build(
                method,
                uri,
                accept,
                None,
                Some(format!("Bearer {token}")),
                None,
            ),
        )
        .await
    }

    /// A request with a given `Authorization` value.
    pub async fn with_authorization(&self, method: &str, uri: &str, authorization: &str) -> Answer {
        let request = build(
            method,
            uri,
            Some(JSON_2023),
            None,
            Some(authorization.to_owned()),
            None,
        );
        exchange(&self.app, request).await
    }

    /// A Digest `Authorization` of the bootstrap key for `uri`.
    pub async fn digest_header(&self, method: &str, uri: &str) -> String {
        self.boot_client.authorization(method, uri).await
    }

    /// A token for the bootstrap service account.
    pub async fn token(&self) -> String {
        let (id, secret) = (self.boot.client_id.clone(), self.boot.client_secret.clone());
        self.token_for(&id, &secret).await
    }

    /// A token for a service account.
    pub async fn token_for(&self, id: &str, secret: &str) -> String {
        let answer = self
            .oauth(
                "/api/oauth/token",
                id,
                secret,
                "grant_type=client_credentials",
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        answer.json()["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// Sends a token-endpoint request with explicit Basic credentials and form body.
    pub async fn oauth(&self, path: &str, user: &str, password: &str, form: &str) -> Answer {
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let request = Request::builder()
            .method("POST")
            .uri(path)
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned()))
            .expect("request");
        exchange(&self.app, request).await
    }
}

/// RFC 2617 MD5 / qop=auth response.
pub fn digest(user: &str, password: &str, method: &str, uri: &str, nonce: &str, nc: u32) -> String {
    digest_authorization(user, password, method, uri, nonce, Some(nc))
}

/// Sets the default lifecycle policy through the control API.
pub async fn set_lifecycle(s: &Server, policy: &str) {
    let answer = s
        .anonymous(
            "POST",
            "/__localatlas/lifecycle",
            None,
            Some(&serde_json::json!({"default": policy})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

/// Moves the injected clock (which also completes manual transitions).
pub async fn advance_clock(s: &Server, seconds: i64) {
    let answer = s
        .anonymous(
            "POST",
            "/__localatlas/clock",
            None,
            Some(&serde_json::json!({"advanceSeconds": seconds})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
}

/// Whether `body` is an Atlas error body for `status` (semantics §3.1).
pub fn assert_atlas_error(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.text());
    assert_eq!(
        answer.header("content-type"),
        Some("application/json"),
        "{}",
        answer.text()
    );
    let body = answer.json();
    assert_eq!(body["error"], status, "{body}");
    assert_eq!(body["errorCode"], code, "{body}");
    assert!(body["detail"].is_string(), "{body}");
    assert!(body["parameters"].is_array(), "{body}");
    assert!(body["reason"].is_string(), "{body}");
    assert_eq!(answer.header("x-error-code"), Some(code));
}
