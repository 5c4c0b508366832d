//! What one operation call receives ([`Call`]) and what it answers ([`Reply`]).
//!
//! The HTTP layer builds a `Call` after routing, authentication and version negotiation; nothing
//! here knows about HTTP types, so behaviours and the engine stay testable without a server.

use std::sync::{Arc, OnceLock};

use atlas_model::{Format, Operation};
use bytes::Bytes;
use serde_json::Value;

use crate::kernel::principal::Principal;

/// One routed, authenticated, negotiated operation call.
#[derive(Debug, Clone)]
pub struct Call {
    pub op: &'static Operation,
    /// The version being served (`YYYY-MM-DD` or `preview`).
    pub version: &'static str,
    /// The representation being served (JSON, or a `+gzip`/`+csv` download).
    pub format: Format,
    /// Path parameters, percent-decoded, by their name in this operation's template.
    pub path: Vec<(&'static str, String)>,
    /// Query parameters, percent-decoded, in request order.
    pub query: Vec<(String, String)>,
    /// The parsed JSON body, if one was sent.
    pub body: Option<Value>,
    pub principal: Principal,
    pub origin: Origin,
}

/// Where the request came from and how it was addressed: what links are built from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// `scheme://host[:port]` as the client addressed the server.
    pub base_url: String,
    /// The request path as sent (still percent-encoded).
    pub path: String,
    /// The raw query string as sent (without `?`).
    pub query: String,
    /// The caller's address, for access lists and last-used records.
    pub client_ip: String,
}

impl Call {
    /// A path parameter by name.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated query parameter.
    pub fn query_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.query
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean query flag (`true`/`false`), with its default.
    pub fn flag(&self, name: &str, default: bool) -> bool {
        self.query_param(name).map_or(default, |v| v == "true")
    }

    /// The JSON body as an object, or an empty one.
    pub fn body_object(&self) -> serde_json::Map<String, Value> {
        match &self.body {
            Some(Value::Object(m)) => m.clone(),
            _ => serde_json::Map::new(),
        }
    }
}

/// An operation's answer before the HTTP layer renders it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub payload: Payload,
    pub headers: Vec<(&'static str, String)>,
}

/// The body of a [`Reply`].
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// No body at all (204, and the few 200s Atlas answers empty).
    Empty,
    Json(Value),
    /// A JSON answer kept for reuse (`service/answers.rs`), shared by every request it serves.
    Kept(Arc<Kept>),
    /// A download (`+gzip`, `+csv`): the bytes and an optional attachment file name.
    Binary {
        bytes: Vec<u8>,
        filename: Option<String>,
    },
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            payload: Payload::Json(body),
            headers: Vec::new(),
        }
    }

    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            payload: Payload::Empty,
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

/// A JSON answer kept for reuse, held as its compact serialization (what the value costs in
/// memory several times over); the pretty form is made once by the first request that asks for
/// it, and the value is decoded again only where one is needed (an envelope, the console).
#[derive(Debug)]
pub struct Kept {
    pub compact: Bytes,
    pub pretty: OnceLock<Bytes>,
}

impl Kept {
    /// Keeps `value`, serialized compactly (`serde_json`'s compact form, the one the HTTP layer
    /// writes).
    pub fn new(value: &Value) -> Option<Kept> {
        let text = serde_json::to_vec(value).ok()?;
        Some(Kept {
            compact: Bytes::from(text),
            pretty: OnceLock::new(),
        })
    }

    /// The kept value, decoded again.
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.compact).unwrap_or(Value::Null)
    }
}

impl PartialEq for Kept {
    fn eq(&self, other: &Kept) -> bool {
        self.compact == other.compact
    }
}
