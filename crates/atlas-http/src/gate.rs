//! The gate in front of the emulator's own surfaces — the control API (`/__localatlas/`), the
//! console (`/`) and the private endpoints (`/api/private/`) — against the callers a server on a
//! laptop or behind a load balancer meets besides the user's own tools (see `docs/security.md`):
//!
//! - **Other web pages** (cross-site request forgery): a request whose `Origin` is not the
//!   server's own, or that a browser marks `Sec-Fetch-Site: cross-site`/`same-site` (anything but
//!   a top-level navigation), is refused; a state-changing control request must send
//!   `Content-Type: application/json` (or no body), which no form and no CORS-free `fetch` can.
//!   Nothing ever answers with CORS allowances.
//! - **DNS rebinding**: the `Host` must be an IP address (a rebinding page addresses the server
//!   by the attacker's name, never by an address), `localhost` (or a name under `.localhost`), or
//!   a name given with `--allowed-host`.
//! - **Everyone else on the network**: the control API and the console need the control token
//!   from anywhere but loopback, where loopback is the client's address after the trusted proxy
//!   header, not the connection's peer ([`ControlAccess`]). Atlas credentials open nothing here.
//!
//! `GET /__localatlas/health` passes without any of this: load balancers probe it by any name.
//! Refusals are plain JSON, like the rest of the control API: `{"status", "error", "detail"}`.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri, header};
use base64::Engine as _;
use serde_json::json;

/// Who may use the control API and the console (`--control`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ControlAccess {
    /// Loopback clients as they are, everyone else with the control token (the default).
    #[default]
    Auto,
    /// Loopback clients only; the token opens nothing from elsewhere.
    Loopback,
    /// The control token from every client, loopback included (a shared host, or a proxy on the
    /// same machine that does not set the trusted client-address header).
    Token,
    /// Nothing but `GET /__localatlas/health` (a public listener of a shared deployment).
    Off,
}

impl ControlAccess {
    pub fn name(self) -> &'static str {
        match self {
            ControlAccess::Auto => "auto",
            ControlAccess::Loopback => "loopback",
            ControlAccess::Token => "token",
            ControlAccess::Off => "off",
        }
    }
}

/// The realm of the control token's Basic challenge (a browser asks for it; the user name is
/// ignored, the password is the token).
pub const REALM: &str = "Basic realm=\"localatlas control\", charset=\"UTF-8\"";

/// A request the gate turns away, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub error: &'static str,
    pub detail: String,
}

impl Refusal {
    fn new(status: StatusCode, error: &'static str, detail: impl Into<String>) -> Refusal {
        Refusal {
            status,
            error,
            detail: detail.into(),
        }
    }

    /// The plain-JSON answer (a `401` carries the Basic challenge, so a browser asks for the
    /// token).
    pub fn response(&self) -> Response<Body> {
        let mut builder = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CACHE_CONTROL, "no-store");
        if self.status == StatusCode::UNAUTHORIZED {
            builder = builder.header(header::WWW_AUTHENTICATE, REALM);
        }
        let body =
            json!({"status": self.status.as_u16(), "error": self.error, "detail": self.detail});
        builder
            .body(Body::from(body.to_string()))
            .unwrap_or_else(|_| Response::new(Body::empty()))
    }
}

/// The `--control off` answer.
pub fn control_off() -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        "CONTROL_API_OFF",
        "the control API and the console are switched off on this server (--control off); only GET /__localatlas/health answers",
    )
}

/// Whether a request changes something (every method but GET, HEAD and OPTIONS).
pub fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The rules every browser-reachable request of the emulator's own surfaces must pass: an
/// allowed `Host`, no foreign `Origin`, no cross-site fetch.
pub fn browser_rules(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    allowed_hosts: &[String],
) -> Result<(), Refusal> {
    let host = header_str(headers, header::HOST).or_else(|| uri.authority().map(|a| a.as_str()));
    if let Some(host) = host
        && !host_allowed(host, allowed_hosts)
    {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "HOST_NOT_ALLOWED",
            format!(
                "Host `{host}` is not an IP address, localhost or a name given with --allowed-host \
                 (a page on another site can point its own name at this server); start localatlas \
                 with --allowed-host {} to serve it under that name",
                split_host(host).0
            ),
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !origin_allowed(origin, host, allowed_hosts) {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                "FOREIGN_ORIGIN",
                format!(
                    "requests from pages of another origin (`{origin}`) are refused; the console \
                     and scripts call from the server's own origin or without an Origin"
                ),
            ));
        }
    }
    let site = header_str(headers, "sec-fetch-site").unwrap_or("");
    if matches!(site, "cross-site" | "same-site") && !top_level_navigation(method, headers) {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "CROSS_SITE_REQUEST",
            format!(
                "the browser marked this request `Sec-Fetch-Site: {site}`: pages of other sites \
                 may link to the console but not fetch, frame or embed anything of this server"
            ),
        ));
    }
    Ok(())
}

/// A state-changing control request's body is JSON (`Content-Type: application/json`) or
/// nothing: forms and CORS-free `fetch` calls can only send `text/plain`, form or multipart
/// bodies.
pub fn content_type_rule(method: &Method, headers: &HeaderMap, body: &[u8]) -> Result<(), Refusal> {
    if !changes_state(method) {
        return Ok(());
    }
    match header_str(headers, header::CONTENT_TYPE) {
        Some(value) if media_type(value) == "application/json" => Ok(()),
        None if body.is_empty() => Ok(()),
        other => Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "JSON_REQUIRED",
            format!(
                "a {method} to the control API needs `Content-Type: application/json` (or no body \
                 and no Content-Type); got {}",
                other.map_or_else(|| "a body without one".to_owned(), |v| format!("`{v}`"))
            ),
        )),
    }
}

/// The control token a request presents: `Authorization: Bearer <token>`, or the password of
/// `Authorization: Basic` (what a browser sends after the challenge; the user name is ignored).
pub fn presented_token(headers: &HeaderMap) -> Option<String> {
    let value = header_str(headers, header::AUTHORIZATION)?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return text
            .split_once(':')
            .map(|(_, password)| password.to_owned());
    }
    None
}

/// The answer to a caller that must show the control token and did not (or showed another).
pub fn token_required(presented: bool, mode: ControlAccess) -> Refusal {
    let why = if mode == ControlAccess::Token {
        "this server requires the control token from every client (--control token)"
    } else {
        "the control API and the console need the control token from anywhere but loopback"
    };
    if presented {
        Refusal::new(
            StatusCode::UNAUTHORIZED,
            "CONTROL_TOKEN_INVALID",
            format!("{why}, and this is not it (Atlas API keys and tokens are not control tokens)"),
        )
    } else {
        Refusal::new(
            StatusCode::UNAUTHORIZED,
            "CONTROL_TOKEN_REQUIRED",
            format!(
                "{why}: send `Authorization: Bearer <controlToken>` (printed at start-up, in the \
                 bootstrap file's `controlToken`)"
            ),
        )
    }
}

/// The answer to a caller elsewhere than loopback under `--control loopback`.
pub fn loopback_only(client_ip: &str) -> Refusal {
    Refusal::new(
        StatusCode::FORBIDDEN,
        "CONTROL_LOOPBACK_ONLY",
        format!(
            "the control API and the console answer only loopback clients on this server \
             (--control loopback); this request comes from {client_ip}"
        ),
    )
}

/// Whether a client address (after the trusted proxy header) is loopback.
pub fn is_loopback(client_ip: &str) -> bool {
    client_ip
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| match ip {
            std::net::IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map_or(v6.is_loopback(), |v4| v4.is_loopback()),
            v4 => v4.is_loopback(),
        })
}

fn header_str(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The media type of a `Content-Type` value, lower case, without parameters.
fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// A GET or HEAD a browser makes to show a page in its window (following a link, a bookmark):
/// another site may send the user to the console, never fetch from it or frame it.
fn top_level_navigation(method: &Method, headers: &HeaderMap) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
        && header_str(headers, "sec-fetch-mode") == Some("navigate")
        && header_str(headers, "sec-fetch-dest").is_none_or(|d| d == "document")
}

/// `host[:port]` → (lower-case host without brackets or a final dot, port).
fn split_host(authority: &str) -> (String, Option<&str>) {
    let authority = authority.trim();
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        match rest.split_once(']') {
            Some((host, after)) => (host, after.strip_prefix(':')),
            None => (rest, None),
        }
    } else {
        match authority.rsplit_once(':') {
            // More than one colon and no brackets: a bare IPv6 address.
            Some((host, port)) if !host.contains(':') => (host, Some(port)),
            _ => (authority, None),
        }
    };
    (
        host.trim_end_matches('.').to_ascii_lowercase(),
        port.filter(|p| !p.is_empty()),
    )
}

/// An IP address, `localhost` (and names under `.localhost`, which resolve to loopback), or a
/// name the operator allows (`*` allows any).
fn host_allowed(authority: &str, allowed: &[String]) -> bool {
    let (host, _) = split_host(authority);
    host.parse::<std::net::IpAddr>().is_ok()
        || host == "localhost"
        || host.ends_with(".localhost")
        || allowed.iter().any(|a| a == "*" || *a == host)
}

/// The origin of the server itself (same host and port as `Host`), or one whose host the operator
/// allows (a proxy that rewrites `Host`). `null` (sandboxed frames, `file:` pages) never is.
fn origin_allowed(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return false;
    }
    let (origin_host, origin_port) = split_host(authority);
    let default = |port: Option<&str>| match port {
        None | Some("80") | Some("443") => None,
        Some(p) => Some(p.to_owned()),
    };
    if let Some(host) = host {
        let (own_host, own_port) = split_host(host);
        if own_host == origin_host && default(own_port) == default(origin_port) {
            return true;
        }
    }
    allowed.iter().any(|a| a != "*" && *a == origin_host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn check(
        method: Method,
        pairs: &[(&'static str, &str)],
        allowed: &[&str],
    ) -> Option<&'static str> {
        let allowed: Vec<String> = allowed.iter().map(|s| s.to_string()).collect();
        browser_rules(&method, &Uri::from_static("/"), &headers(pairs), &allowed)
            .err()
            .map(|r| r.error)
    }

    #[test]
    fn hosts_are_addresses_localhost_or_allowed_names() {
        for host in [
            "127.0.0.1:8080",
            "[::1]:8080",
            "10.1.2.3",
            "localhost",
            "LOCALHOST.:80",
            "app.localhost:1",
        ] {
            assert_eq!(check(Method::GET, &[("host", host)], &[]), None, "{host}");
        }
        for host in [
            "evil.example:8080",
            "127.0.0.1.nip.io",
            "localhost.evil.example",
        ] {
            assert_eq!(
                check(Method::GET, &[("host", host)], &[]),
                Some("HOST_NOT_ALLOWED"),
                "{host}"
            );
        }
        assert_eq!(
            check(
                Method::GET,
                &[("host", "atlas.internal:80")],
                &["atlas.internal"]
            ),
            None
        );
        assert_eq!(check(Method::GET, &[("host", "anything")], &["*"]), None);
        // No Host at all (HTTP/1.0, in-process callers): not a browser.
        assert_eq!(check(Method::GET, &[], &[]), None);
    }

    #[test]
    fn origins_must_be_the_servers_own() {
        let own = [
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
        ];
        assert_eq!(check(Method::POST, &own, &[]), None);
        for origin in [
            "http://evil.example",
            "http://127.0.0.1:3000",
            "null",
            "http://localhost:8080",
        ] {
            let h = [("host", "127.0.0.1:8080"), ("origin", origin)];
            assert_eq!(
                check(Method::POST, &h, &[]),
                Some("FOREIGN_ORIGIN"),
                "{origin}"
            );
        }
        // Behind a TLS-terminating proxy: https://name (port 443) against Host: name.
        let proxied = [
            ("host", "atlas.internal"),
            ("origin", "https://atlas.internal"),
        ];
        assert_eq!(check(Method::POST, &proxied, &["atlas.internal"]), None);
        // A proxy that rewrites Host: the allowed name is accepted as an origin.
        let rewritten = [
            ("host", "127.0.0.1:8080"),
            ("origin", "https://atlas.internal"),
        ];
        assert_eq!(check(Method::POST, &rewritten, &["atlas.internal"]), None);
        assert_eq!(
            check(Method::POST, &rewritten, &["*"]),
            Some("FOREIGN_ORIGIN")
        );
    }

    #[test]
    fn cross_site_fetches_are_refused_but_links_to_the_console_are_not() {
        let fetch = [
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "no-cors"),
            ("sec-fetch-dest", "empty"),
        ];
        assert_eq!(check(Method::GET, &fetch, &[]), Some("CROSS_SITE_REQUEST"));
        let framed = [
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-dest", "iframe"),
        ];
        assert_eq!(check(Method::GET, &framed, &[]), Some("CROSS_SITE_REQUEST"));
        let same_site = [("sec-fetch-site", "same-site"), ("sec-fetch-mode", "cors")];
        assert_eq!(
            check(Method::GET, &same_site, &[]),
            Some("CROSS_SITE_REQUEST")
        );
        let link = [
            ("sec-fetch-site", "cross-site"),
            ("sec-fetch-mode", "navigate"),
            ("sec-fetch-dest", "document"),
        ];
        assert_eq!(check(Method::GET, &link, &[]), None);
        assert_eq!(check(Method::POST, &link, &[]), Some("CROSS_SITE_REQUEST"));
        for site in ["same-origin", "none"] {
            assert_eq!(check(Method::POST, &[("sec-fetch-site", site)], &[]), None);
        }
    }

    #[test]
    fn state_changes_are_json_or_empty() {
        let json = headers(&[("content-type", "application/json; charset=utf-8")]);
        assert!(content_type_rule(&Method::POST, &json, b"{}").is_ok());
        assert!(content_type_rule(&Method::POST, &HeaderMap::new(), b"").is_ok());
        assert!(content_type_rule(&Method::DELETE, &HeaderMap::new(), b"").is_ok());
        for refused in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            let h = headers(&[("content-type", refused)]);
            assert_eq!(
                content_type_rule(&Method::POST, &h, b"{}")
                    .unwrap_err()
                    .status,
                415
            );
        }
        assert!(content_type_rule(&Method::POST, &HeaderMap::new(), b"{}").is_err());
        let text = headers(&[("content-type", "text/plain")]);
        assert!(content_type_rule(&Method::GET, &text, b"").is_ok());
    }

    #[test]
    fn tokens_come_as_bearer_or_as_a_basic_password() {
        assert_eq!(
            presented_token(&headers(&[("authorization", "Bearer lact_x")])).as_deref(),
            Some("lact_x")
        );
        let basic = base64::engine::general_purpose::STANDARD.encode("anyone:lact_y:z");
        let h = headers(&[("authorization", &format!("Basic {basic}"))]);
        assert_eq!(presented_token(&h).as_deref(), Some("lact_y:z"));
        assert_eq!(
            presented_token(&headers(&[("authorization", "Digest username=\"k\"")])),
            None
        );
        assert_eq!(presented_token(&HeaderMap::new()), None);
    }

    #[test]
    fn loopback_is_any_loopback_address() {
        for ip in ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"] {
            assert!(is_loopback(ip), "{ip}");
        }
        for ip in [
            "203.0.113.9",
            "10.0.0.1",
            "::ffff:10.0.0.1",
            "0.0.0.0",
            "nonsense",
        ] {
            assert!(!is_loopback(ip), "{ip}");
        }
    }
}
