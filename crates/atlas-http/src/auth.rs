//! Authentication on the wire: parsing the `Authorization` header (HTTP Digest with API keys,
//! Bearer tokens from `/api/oauth/token`, Basic on the token endpoints) and Atlas's 401
//! challenge (semantics §4.1). Verifying what was presented is admission's first step
//! (`atlas_api::stages::admission`).

use atlas_api::identity::credentials::{self, DigestResponse, Refusal};
use atlas_api::{ApiError, Atlas};
use atlas_store::Access;
use axum::body::Body;
use axum::http::{Response, StatusCode, header};

/// A parsed `Authorization` header.
pub use atlas_api::identity::credentials::Presented as Credentials;

/// Parses the `Authorization` header value. A header that cannot be used is
/// [`Credentials::Malformed`], saying why (for the log; it authenticates nobody).
pub fn parse(value: Option<&str>) -> Credentials {
    let Some(value) = value.map(str::trim) else {
        return Credentials::None;
    };
    if value.is_empty() {
        return Credentials::Malformed("empty header");
    }
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    match scheme.to_ascii_lowercase().as_str() {
        "digest" => match digest_fields(rest) {
            Ok(d) => Credentials::Digest(d),
            Err(why) => Credentials::Malformed(why),
        },
        "bearer" if !rest.trim().is_empty() => Credentials::Bearer(rest.trim().to_owned()),
        "bearer" => Credentials::Malformed("Bearer without a token"),
        "basic" => basic(rest.trim()).unwrap_or(Credentials::Malformed(
            "Basic credentials are not base64 of id:secret",
        )),
        _ => Credentials::Malformed("unknown scheme (Atlas takes Digest or Bearer)"),
    }
}

fn basic(encoded: &str) -> Option<Credentials> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    // The Go SDK URL-escapes id and secret first; MongoDB's MCP server does not (§4.2).
    let unescape = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .unwrap_or_else(|_| s.to_owned())
    };
    Some(Credentials::Basic {
        user: unescape(user),
        password: unescape(password),
    })
}

/// The fields of a Digest `Authorization` header that verification needs.
fn digest_fields(text: &str) -> Result<DigestResponse, &'static str> {
    let mut d = DigestResponse::default();
    for (key, value) in credentials::digest_params(text)? {
        match key.as_str() {
            "username" => d.username = value,
            "realm" => d.realm = value,
            "nonce" => d.nonce = value,
            "uri" => d.uri = value,
            "qop" => d.qop = Some(value),
            "nc" => d.nc = Some(value),
            "cnonce" => d.cnonce = Some(value),
            "response" => d.response = value,
            _ => {}
        }
    }
    if d.username.is_empty() || d.nonce.is_empty() || d.response.is_empty() {
        return Err("Digest header without username, nonce or response");
    }
    Ok(d)
}

/// Atlas's 401: a fresh Digest challenge and the pretty-printed body in Atlas's own field order
/// (error, reason, detail, errorCode), without `X-Error-Code` (recorded, semantics §4.1).
pub fn challenge(atlas: &Atlas, stale: bool) -> Response<Body> {
    let nonce = atlas
        .transaction(Access::Read, |tx| {
            let now = atlas_api::kernel::clock::now(tx)?;
            let secret = credentials::instance_secret(tx)?;
            Ok::<_, ApiError>(credentials::new_nonce(&secret, now))
        })
        .unwrap_or_default();
    let www = format!(
        "Digest realm=\"{}\", domain=\"\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\", stale={stale}",
        credentials::REALM
    );
    let body = "{\n  \"error\" : 401,\n  \"reason\" : \"Unauthorized\",\n  \"detail\" : \"You are not authorized for this resource.\",\n  \"errorCode\" : \"UNEXPECTED_ERROR\"\n}";
    Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::WWW_AUTHENTICATE, www)
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// Logs at `info` why a request's credentials were refused; Atlas's 401 body says only "You are
/// not authorized for this resource.". `target` is the request's path and query, to point out a
/// Digest `uri` that is not the request's. Never logs a secret: the reason names public keys and
/// client ids only, and the Digest `response` is not logged.
pub fn log_refusal(reason: &Refusal, presented: &Credentials, target: &str) {
    let note = match (reason, presented) {
        (Refusal::BadResponse { .. }, Credentials::Digest(d))
            if !credentials::digest_uri_names(&d.uri, target) =>
        {
            format!(
                " (the Digest uri {:?} is not this request's {target:?})",
                d.uri
            )
        }
        _ => String::new(),
    };
    tracing::info!(
        reason = reason.code(),
        "authentication failed: {reason}{note}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_header_with_quotes_and_bare_values() {
        let header = r#"Digest username="abcdefgh", realm="MMS Public API", nonce="n+/=", uri="/api/atlas/v2/orgs?x=1", algorithm=MD5, response="0123abcd", qop=auth, nc=00000001, cnonce="c\"q""#;
        let Credentials::Digest(d) = parse(Some(header)) else {
            panic!("not digest");
        };
        assert_eq!(d.username, "abcdefgh");
        assert_eq!(d.realm, "MMS Public API");
        assert_eq!(d.uri, "/api/atlas/v2/orgs?x=1");
        assert_eq!(d.qop.as_deref(), Some("auth"));
        assert_eq!(d.nc.as_deref(), Some("00000001"));
        assert_eq!(d.cnonce.as_deref(), Some("c\"q"));
    }

    #[test]
    fn malformed_headers_are_no_credentials_and_say_why() {
        for bad in [
            "Digest",
            "Digest username=",
            "Digest username=\"x",
            "Bearer ",
            "Basic !!!",
            "Foo bar",
            "",
        ] {
            assert!(
                matches!(parse(Some(bad)), Credentials::Malformed(_)),
                "{bad}"
            );
        }
    }

    #[test]
    fn digest_uris_compare_in_origin_and_absolute_form() {
        assert!(credentials::digest_uri_names(
            "/api/atlas/v2/groups?x=1",
            "/api/atlas/v2/groups?x=1"
        ));
        assert!(credentials::digest_uri_names(
            "https://127.0.0.1:8080/api/atlas/v2/groups",
            "/api/atlas/v2/groups"
        ));
        assert!(!credentials::digest_uri_names(
            "/api/atlas/v2/orgs",
            "/api/atlas/v2/groups"
        ));
    }

    #[test]
    fn basic_accepts_raw_and_url_escaped_ids() {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD.encode("mdb_sa_id_1:mdb_sa_sk_2");
        let escaped =
            base64::engine::general_purpose::STANDARD.encode("mdb%5Fsa%5Fid%5F1:mdb_sa_sk_2");
        for encoded in [raw, escaped] {
            match parse(Some(&format!("Basic {encoded}"))) {
                Credentials::Basic { user, password } => {
                    assert_eq!(user, "mdb_sa_id_1");
                    assert_eq!(password, "mdb_sa_sk_2");
                }
                _ => panic!("not basic"),
            }
        }
    }
}
