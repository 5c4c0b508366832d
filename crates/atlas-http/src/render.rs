//! Turning replies and errors into HTTP responses: the served media type, `envelope`, `pretty`
//! (Jackson's pretty printer, which is what Atlas emits), and the one error renderer.

use std::io;

use atlas_api::{ApiError, Payload, Reply};
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Response, StatusCode, header};
use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use serde_json::ser::Formatter;

/// How the client asked the body to be written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub pretty: bool,
    pub envelope: bool,
}

/// Serializes `value` compactly or in Jackson's pretty style.
pub fn to_bytes(value: &Value, pretty: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let written = if pretty {
        let mut ser = serde_json::Serializer::with_formatter(&mut out, Jackson::default());
        value.serialize(&mut ser)
    } else {
        serde_json::to_writer(&mut out, value)
    };
    // Serializing a `Value` into memory cannot fail; keep an empty body if it ever did.
    if written.is_err() {
        out.clear();
    }
    out
}

/// The success response of a reply, in the served content type.
pub fn reply(
    reply: Reply,
    content_type: &str,
    style: Style,
    extra: &[(&'static str, String)],
) -> Response<Body> {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    let mut builder = Response::builder().status(status);
    let body = match reply.payload {
        Payload::Empty => {
            builder = builder.header(header::CONTENT_TYPE, content_type);
            Body::empty()
        }
        Payload::Json(value) => {
            builder = builder.header(header::CONTENT_TYPE, content_type);
            let value = if style.envelope {
                envelope(value, reply.status)
            } else {
                value
            };
            Body::from(to_bytes(&value, style.pretty))
        }
        Payload::Kept(kept) => {
            builder = builder.header(header::CONTENT_TYPE, content_type);
            if style.envelope {
                Body::from(to_bytes(
                    &envelope(kept.value(), reply.status),
                    style.pretty,
                ))
            } else if style.pretty {
                // Made once for every request the kept answer serves.
                let pretty = kept
                    .pretty
                    .get_or_init(|| Bytes::from(to_bytes(&kept.value(), true)));
                Body::from(pretty.clone())
            } else {
                Body::from(kept.compact.clone())
            }
        }
        Payload::Binary { bytes, filename } => {
            builder = builder.header(header::CONTENT_TYPE, content_type);
            if let Some(name) = filename {
                builder = builder.header(
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                );
            }
            Body::from(bytes)
        }
    };
    let mut response = builder
        .body(body)
        .unwrap_or_else(|_| Response::new(Body::empty()));
    add_headers(&mut response, reply.headers.iter().chain(extra));
    response
}

/// `envelope=true`: lists gain a top-level `status`; anything else becomes
/// `{"status": <code>, "content": <body>}` (semantics §2.2).
fn envelope(value: Value, status: u16) -> Value {
    match value {
        Value::Object(mut map) if map.contains_key("results") => {
            map.insert("status".into(), Value::from(status));
            Value::Object(map)
        }
        other => serde_json::json!({"status": status, "content": other}),
    }
}

/// The one error renderer: the Atlas error body as plain `application/json` with
/// `X-Error-Code` (semantics §3.1).
pub fn error(e: &ApiError, style: Style, extra: &[(&'static str, String)]) -> Response<Body> {
    if e.status() >= 500 {
        tracing::error!(
            code = e.code(),
            cause = e.cause().unwrap_or_default(),
            "request failed"
        );
    }
    let body = if style.envelope {
        envelope(e.body(), e.status())
    } else {
        e.body()
    };
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header("X-Error-Code", e.code())
        .body(Body::from(to_bytes(&body, style.pretty)))
        .unwrap_or_else(|_| Response::new(Body::empty()));
    add_headers(&mut response, e.headers().iter().chain(extra));
    response
}

fn add_headers<'a>(
    response: &mut Response<Body>,
    headers: impl Iterator<Item = &'a (&'static str, String)>,
) {
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(*name),
            HeaderValue::try_from(value.as_str()),
        ) {
            response.headers_mut().append(name, value);
        }
    }
}

/// Jackson's `DefaultPrettyPrinter`: objects one entry per line indented two spaces per object
/// level, `"key" : value`, arrays inline as `[ a, b ]`, empty containers as `{ }` and `[ ]`.
#[derive(Default)]
pub struct Jackson {
    /// Object nesting (arrays are inline and do not indent).
    level: usize,
    /// Whether the innermost open container has an entry yet.
    has_entries: Vec<bool>,
}

impl Jackson {
    fn newline<W: ?Sized + io::Write>(&self, w: &mut W) -> io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..self.level {
            w.write_all(b"  ")?;
        }
        Ok(())
    }
}

impl Formatter for Jackson {
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level += 1;
        self.has_entries.push(false);
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.level = self.level.saturating_sub(1);
        if self.has_entries.pop().unwrap_or(false) {
            self.newline(w)?;
        } else {
            w.write_all(b" ")?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if let Some(flag) = self.has_entries.last_mut() {
            *flag = true;
        }
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b" : ")
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.has_entries.push(false);
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.has_entries.pop();
        w.write_all(b" ]")
    }

    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if let Some(flag) = self.has_entries.last_mut() {
            *flag = true;
        }
        w.write_all(if first { b" " } else { b", " })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pretty(v: &Value) -> String {
        String::from_utf8(to_bytes(v, true)).unwrap()
    }

    #[test]
    fn jackson_style_matches_atlas_bodies() {
        // The Digest challenge body as Atlas sends it (semantics §4.1), in alphabetical order.
        assert_eq!(
            pretty(&json!({"error": 401, "reason": "Unauthorized"})),
            "{\n  \"error\" : 401,\n  \"reason\" : \"Unauthorized\"\n}"
        );
        assert_eq!(
            pretty(&json!({"a": [1, 2], "b": [], "c": {}, "d": [{"e": "x"}, {"e": "y"}]})),
            "{\n  \"a\" : [ 1, 2 ],\n  \"b\" : [ ],\n  \"c\" : { },\n  \"d\" : [ {\n    \"e\" : \"x\"\n  }, {\n    \"e\" : \"y\"\n  } ]\n}"
        );
    }

    #[test]
    fn compact_has_no_whitespace() {
        assert_eq!(
            to_bytes(&json!({"a": [1, {"b": null}]}), false),
            br#"{"a":[1,{"b":null}]}"#
        );
    }

    #[test]
    fn envelope_wraps_entities_and_marks_lists() {
        assert_eq!(
            envelope(json!({"id": "x"}), 200),
            json!({"status": 200, "content": {"id": "x"}})
        );
        assert_eq!(
            envelope(json!({"results": [], "totalCount": 0}), 200),
            json!({"results": [], "totalCount": 0, "status": 200})
        );
    }
}
