//! In-process test harness: the real axum service over an in-memory store, driven through
//! `tower::ServiceExt::oneshot` (full HTTP semantics, no sockets), with a Digest client that
//! answers challenges the way the Go SDK's transport does.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use atlas_api::bootstrap::Bootstrap;
use atlas_api::credentials::{REALM, md5_hex};
use atlas_api::{Atlas, Config};
use atlas_http::{App, HttpConfig};
use atlas_store::sqlite::SqliteStore;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;

pub const JSON_2023: &str = "application/vnd.atlas.2023-01-01+json";

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
    nonce: std::sync::Mutex<Option<String>>,
    nc: AtomicU32,
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

impl Server {
    pub fn new() -> Server {
        let store = Arc::new(SqliteStore::memory().expect("memory store"));
        let atlas = Atlas::new(store, Config::default());
        let boot = atlas.bootstrap().expect("bootstrap");
        let state = Arc::new(App::new(atlas, HttpConfig::default()));
        Server {
            app: atlas_http::app(state.clone()),
            state,
            boot,
            nonce: std::sync::Mutex::new(None),
            nc: AtomicU32::new(0),
        }
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self
            .app
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
        let body = match body {
            Some(v) => {
                builder = builder.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        builder.body(body).expect("request")
    }

    /// A request without credentials.
    pub async fn anonymous(
        &self,
        method: &str,
        uri: &str,
        accept: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        self.send(Server::build(method, uri, accept, body, None))
            .await
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
        self.send(request).await
    }

    /// A request authenticated with the bootstrap API key over HTTP Digest. Like the Go SDK's
    /// transport, a 401 (a nonce gone stale as the clock moved) is answered by a fresh challenge.
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        accept: Option<&str>,
        body: Option<&Value>,
    ) -> Answer {
        let auth = self.digest_header(method, uri).await;
        let answer = self
            .send(Server::build(method, uri, accept, body, Some(auth)))
            .await;
        if answer.status != StatusCode::UNAUTHORIZED {
            return answer;
        }
        *self.nonce.lock().expect("nonce") = None;
        let auth = self.digest_header(method, uri).await;
        self.send(Server::build(method, uri, accept, body, Some(auth)))
            .await
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
        self.send(Server::build(
            method,
            uri,
            accept,
            None,
            Some(format!("Bearer {token}")),
        ))
        .await
    }

    /// Builds a Digest `Authorization` for `uri`, fetching a nonce with one challenge first and
    /// reusing it with an increasing `nc` afterwards.
    pub async fn digest_header(&self, method: &str, uri: &str) -> String {
        let cached = self.nonce.lock().expect("nonce").clone();
        let nonce = match cached {
            Some(n) => n,
            None => {
                let answer = self
                    .anonymous("GET", "/api/atlas/v2", Some(JSON_2023), None)
                    .await;
                let www = answer
                    .header("www-authenticate")
                    .unwrap_or_default()
                    .to_owned();
                let n = www
                    .split("nonce=\"")
                    .nth(1)
                    .and_then(|s| s.split('"').next())
                    .expect("nonce in challenge")
                    .to_owned();
                *self.nonce.lock().expect("nonce") = Some(n.clone());
                n
            }
        };
        digest(
            &self.boot.public_key,
            &self.boot.private_key,
            method,
            uri,
            &nonce,
            self.nc.fetch_add(1, Ordering::Relaxed) + 1,
        )
    }

    /// A token for the bootstrap service account.
    pub async fn token(&self) -> String {
        let (id, secret) = (self.boot.client_id.clone(), self.boot.client_secret.clone());
        let answer = self
            .oauth(
                "/api/oauth/token",
                &id,
                &secret,
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
        self.send(request).await
    }
}

/// RFC 2617 MD5 / qop=auth response.
pub fn digest(user: &str, password: &str, method: &str, uri: &str, nonce: &str, nc: u32) -> String {
    let ha1 = md5_hex(&format!("{user}:{REALM}:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let nc = format!("{nc:08x}");
    let cnonce = "0a4f113b";
    let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    format!(
        "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{uri}\", algorithm=MD5, response=\"{response}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\""
    )
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
