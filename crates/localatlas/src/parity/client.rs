//! The replay's HTTP client: one server (through [`crate::outbound`], so pooled keep-alive
//! connections over HTTP or HTTPS), an optional path prefix, and the credentials: HTTP Digest,
//! a Bearer token, or none.
//!
//! Digest works as Atlas's own clients do it: the first request goes out bare and gets the
//! challenge, the challenge is kept and every later request answers it with the next nonce
//! count, and a 401 (a nonce gone stale) takes the new challenge and sends the request once more.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use http_body_util::Full;
use hyper::HeaderMap;
use hyper::body::Bytes;

use crate::outbound::{Flags, Origin};

/// How requests authenticate (`--auth`).
#[derive(Clone)]
pub enum Auth {
    None,
    Digest { user: String, key: String },
    Bearer(String),
}

impl Auth {
    /// `digest USER:KEY`, `bearer TOKEN` or `none`.
    pub fn parse(spec: &str) -> anyhow::Result<Auth> {
        let spec = spec.trim();
        if spec.is_empty() || spec.eq_ignore_ascii_case("none") {
            return Ok(Auth::None);
        }
        let (kind, rest) = spec.split_once(' ').unwrap_or((spec, ""));
        let rest = rest.trim();
        match kind.to_ascii_lowercase().as_str() {
            "digest" => {
                let (user, key) = rest.split_once(':').unwrap_or((rest, ""));
                Ok(Auth::Digest {
                    user: user.to_owned(),
                    key: key.to_owned(),
                })
            }
            "bearer" => Ok(Auth::Bearer(rest.to_owned())),
            _ => bail!("--auth must be 'digest USER:KEY', 'bearer TOKEN' or 'none'"),
        }
    }
}

/// An answer, read whole.
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub struct Client {
    origin: Origin,
    /// The base URL's path (a server behind a path prefix), without a trailing `/`.
    prefix: String,
    auth: Auth,
    /// The last Digest challenge, lower-case parameter names.
    challenge: Option<HashMap<String, String>>,
    nc: u32,
    cnonces: u64,
    timeout: Duration,
    /// Every request sent, challenge legs included.
    pub requests_sent: u64,
}

impl Client {
    /// A client of `base_url` (`http(s)://host[:port][/prefix]`); https trusts `ca` (PEM),
    /// else the system's roots.
    pub fn new(
        base_url: &str,
        auth: Auth,
        ca: Option<&Path>,
        timeout: Duration,
    ) -> anyhow::Result<Client> {
        let url = url::Url::parse(base_url).with_context(|| format!("invalid URL {base_url}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("the URL must be http(s)://host[:port][/prefix], not {base_url}");
        }
        let origin = Origin::parse(
            &url.origin().ascii_serialization(),
            ca,
            Flags {
                url: "--url",
                ca: "--ca",
            },
        )?;
        Ok(Client {
            origin,
            prefix: url.path().trim_end_matches('/').to_owned(),
            auth,
            challenge: None,
            nc: 0,
            cnonces: 0,
            timeout,
            requests_sent: 0,
        })
    }

    /// The server's base URL as given (origin and prefix).
    pub fn base_url(&self) -> String {
        format!("{}{}", self.origin.base, self.prefix)
    }

    /// Sends one request (`target`: path and query, already encoded) with its credentials.
    pub async fn request(
        &mut self,
        method: &str,
        target: &str,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Response> {
        let uri = format!("{}{target}", self.prefix);
        let body = body.map(Bytes::from);
        let mut authorization = match &self.auth {
            Auth::None => None,
            Auth::Bearer(token) => Some(format!("Bearer {token}")),
            Auth::Digest { .. } if self.challenge.is_some() => Some(self.digest(method, &uri)),
            Auth::Digest { .. } => None,
        };
        let mut response = self
            .send(
                method,
                &uri,
                headers,
                body.clone(),
                authorization.as_deref(),
            )
            .await?;
        if response.status == 401 && matches!(self.auth, Auth::Digest { .. }) {
            let challenge = response
                .headers
                .get(hyper::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.len() >= 6 && v[..6].eq_ignore_ascii_case("digest"))
                .map(|v| parse_challenge(&v[6..]));
            if let Some(challenge) = challenge {
                self.challenge = Some(challenge);
                self.nc = 0;
                authorization = Some(self.digest(method, &uri));
                response = self
                    .send(method, &uri, headers, body, authorization.as_deref())
                    .await?;
            }
        }
        Ok(response)
    }

    async fn send(
        &mut self,
        method: &str,
        uri: &str,
        headers: &[(&str, String)],
        body: Option<Bytes>,
        authorization: Option<&str>,
    ) -> anyhow::Result<Response> {
        let build = || {
            let mut request = hyper::Request::builder()
                .method(method)
                .uri(uri)
                .header(hyper::header::HOST, self.origin.authority.as_str());
            for (name, value) in headers {
                request = request.header(*name, value.as_str());
            }
            if let Some(auth) = authorization {
                request = request.header(hyper::header::AUTHORIZATION, auth);
            }
            // A write without a body still says so, as HTTP/1.1 clients do.
            let bytes = body.clone().unwrap_or_default();
            if body.is_some() || matches!(method, "POST" | "PUT" | "PATCH") {
                request = request.header(hyper::header::CONTENT_LENGTH, bytes.len());
            }
            request.body(Full::new(bytes))
        };
        self.requests_sent += 1;
        let (parts, bytes) = tokio::time::timeout(self.timeout, self.origin.send(build))
            .await
            .map_err(|_| anyhow::anyhow!("no answer within {:?}", self.timeout))??;
        Ok(Response {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body: bytes,
        })
    }

    /// The `Authorization` answering the kept challenge (RFC 7616: MD5 or SHA-256, `-sess`,
    /// `qop=auth`).
    fn digest(&mut self, method: &str, uri: &str) -> String {
        let Auth::Digest { user, key } = &self.auth else {
            return String::new();
        };
        let challenge = self.challenge.clone().unwrap_or_default();
        let param = |name: &str| challenge.get(name).map_or("", String::as_str);
        self.nc += 1;
        let nc = format!("{:08x}", self.nc);
        self.cnonces += 1;
        let cnonce = hash(
            false,
            &format!(
                "{}:{}:{:?}",
                std::process::id(),
                self.cnonces,
                std::time::SystemTime::now()
            ),
        )[..16]
            .to_owned();
        let algorithm = challenge
            .get("algorithm")
            .filter(|a| !a.is_empty())
            .cloned()
            .unwrap_or_else(|| "MD5".to_owned());
        let upper = algorithm.to_ascii_uppercase();
        let sha256 = upper.starts_with("SHA-256");
        let (realm, nonce) = (param("realm"), param("nonce"));
        let mut ha1 = hash(sha256, &format!("{user}:{realm}:{key}"));
        if upper.ends_with("-SESS") {
            ha1 = hash(sha256, &format!("{ha1}:{nonce}:{cnonce}"));
        }
        let ha2 = hash(sha256, &format!("{method}:{uri}"));
        let qop = challenge.get("qop").filter(|q| !q.is_empty()).map(|q| {
            let offered: Vec<&str> = q.split(',').map(str::trim).collect();
            if offered.contains(&"auth") {
                "auth".to_owned()
            } else {
                offered[0].to_owned()
            }
        });
        let response = match &qop {
            Some(qop) => hash(sha256, &format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")),
            None => hash(sha256, &format!("{ha1}:{nonce}:{ha2}")),
        };
        let mut parts = vec![
            format!("username=\"{user}\""),
            format!("realm=\"{realm}\""),
            format!("nonce=\"{nonce}\""),
            format!("uri=\"{uri}\""),
            format!("response=\"{response}\""),
            format!("algorithm={algorithm}"),
        ];
        if let Some(opaque) = challenge.get("opaque").filter(|o| !o.is_empty()) {
            parts.push(format!("opaque=\"{opaque}\""));
        }
        if let Some(qop) = qop {
            parts.push(format!("qop={qop}"));
            parts.push(format!("nc={nc}"));
            parts.push(format!("cnonce=\"{cnonce}\""));
        }
        format!("Digest {}", parts.join(", "))
    }
}

fn hash(sha256: bool, text: &str) -> String {
    use atlas_api::identity::credentials::{md5_hex, sha256_hex};
    if sha256 {
        sha256_hex(text)
    } else {
        md5_hex(text)
    }
}

/// The parameters of a challenge (after `Digest`), names in lower case; none when it cannot be
/// read (the answer to it then carries no nonce, and the server's 401 stands).
fn parse_challenge(text: &str) -> HashMap<String, String> {
    atlas_api::identity::credentials::digest_params(text)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_specs() {
        assert!(matches!(Auth::parse("none").unwrap(), Auth::None));
        assert!(matches!(
            Auth::parse("digest abc:d-e:f").unwrap(),
            Auth::Digest { user, key } if user == "abc" && key == "d-e:f"
        ));
        assert!(matches!(Auth::parse("Bearer t0k").unwrap(), Auth::Bearer(t) if t == "t0k"));
        assert!(Auth::parse("basic a:b").is_err());
    }

    #[test]
    fn challenges_parse() {
        let c = parse_challenge(
            r#" realm="MMS Public API", domain="", nonce="abc/def+ghi", algorithm=MD5, qop="auth", stale=false"#,
        );
        assert_eq!(c["realm"], "MMS Public API");
        assert_eq!(c["nonce"], "abc/def+ghi");
        assert_eq!(c["algorithm"], "MD5");
        assert_eq!(c["qop"], "auth");
        assert_eq!(c["domain"], "");
        assert_eq!(c["stale"], "false");
    }

    #[test]
    fn a_digest_answer_the_server_accepts() {
        // The RFC 2617 example (section 3.5), with the client nonce it used.
        let ha1 = hash(false, "Mufasa:testrealm@host.com:Circle Of Life");
        let ha2 = hash(false, "GET:/dir/index.html");
        let response = hash(
            false,
            &format!("{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}"),
        );
        assert_eq!(response, "6629fae49393a05397450978507c4ef1");
        // The answer this client builds, recomputed from its parts.
        let mut client = Client::new(
            "http://127.0.0.1:9/prefix/",
            Auth::Digest {
                user: "user".into(),
                key: "key".into(),
            },
            None,
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(client.base_url(), "http://127.0.0.1:9/prefix");
        client.challenge = Some(parse_challenge(
            r#"realm="MMS Public API", nonce="n0nce", algorithm=MD5, qop="auth""#,
        ));
        let header = client.digest("GET", "/prefix/api/atlas/v2?x=1");
        let got = parse_challenge(header.strip_prefix("Digest ").unwrap());
        let ha1 = hash(false, "user:MMS Public API:key");
        let ha2 = hash(false, "GET:/prefix/api/atlas/v2?x=1");
        let expected = hash(
            false,
            &format!("{ha1}:n0nce:00000001:{}:auth:{ha2}", got["cnonce"]),
        );
        assert_eq!(got["response"], expected);
        assert_eq!(got["nc"], "00000001");
        assert_eq!(got["uri"], "/prefix/api/atlas/v2?x=1");
    }
}
