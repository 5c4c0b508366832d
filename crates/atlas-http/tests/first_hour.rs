//! What a newcomer sees when a request is refused (issue 18): Atlas's 401 and 406 bodies stay
//! exactly as recorded, while the log (at `info`) says which check failed — unknown key, bad
//! Digest response, stale or replayed nonce, wrong URI, expired or revoked token, malformed
//! header — and never a secret; the 406 also names the expected media types in
//! `X-Localatlas-Expected-Accept`.

mod common;

use std::sync::{Arc, Mutex};

use common::{JSON_2023, Server, assert_atlas_error, digest};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Atlas's 401 body, as recorded (semantics §4.1).
const BODY_401: &str = "{\n  \"error\" : 401,\n  \"reason\" : \"Unauthorized\",\n  \"detail\" : \"You are not authorized for this resource.\",\n  \"errorCode\" : \"UNEXPECTED_ERROR\"\n}";

/// Atlas's 406 body, as recorded (semantics §1.2).
const BODY_406: &str = r#"{"detail":"Invalid accept header or version date.","error":406,"errorCode":"INVALID_VERSION_DATE","parameters":[],"reason":"Not Acceptable"}"#;

/// A subscriber keeping every event as `LEVEL message field=value …`.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<String>>>);

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.push_str(&format!(" {value:?}"));
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(&format!(" {value}"));
        } else {
            self.0.push_str(&format!(" {}={value}", field.name()));
        }
    }
}

impl Subscriber for Captured {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Line(event.metadata().level().to_string());
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

impl Captured {
    /// Takes the lines logged so far.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// The one `authentication failed` line logged since the last call, checked to be `INFO`.
    fn refusal(&self) -> String {
        let lines = self.take();
        let found: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("authentication failed"))
            .collect();
        assert_eq!(found.len(), 1, "{lines:#?}");
        assert!(found[0].starts_with("INFO "), "{}", found[0]);
        found[0].clone()
    }
}

/// Runs `body` with events captured (the tests run on one thread, so the scoped subscriber sees
/// every request).
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let guard = tracing::subscriber::set_default(captured.clone());
    (captured, guard)
}

async fn nonce(s: &Server) -> String {
    let answer = s
        .anonymous("GET", "/api/atlas/v2/orgs", Some(JSON_2023), None)
        .await;
    let www = answer.header("www-authenticate").unwrap();
    www.split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

#[track_caller]
fn assert_401(answer: &common::Answer, stale: bool) {
    assert_eq!(answer.status, 401, "{}", answer.text());
    assert_eq!(answer.text(), BODY_401);
    let www = answer.header("www-authenticate").unwrap();
    assert!(www.ends_with(&format!("stale={stale}")), "{www}");
}

#[tokio::test]
async fn each_digest_failure_logs_its_reason_and_keeps_atlas_body() {
    let s = Server::with_clock();
    let (log, _guard) = capture();
    let orgs = "/api/atlas/v2/orgs";
    let public = s.boot.public_key.clone();
    let private = s.boot.private_key.clone();

    // No credentials: the first leg of every Digest exchange.
    assert_401(
        &s.anonymous("GET", orgs, Some(JSON_2023), None).await,
        false,
    );
    let line = log.refusal();
    assert!(line.contains("reason=no_credentials"), "{line}");

    // curl -u without --digest sends Basic.
    let answer = s
        .with_authorization("GET", orgs, "Basic dXNlcjpwYXNz")
        .await;
    assert_401(&answer, false);
    let line = log.refusal();
    assert!(line.contains("reason=basic_not_accepted"), "{line}");
    assert!(line.contains("--digest"), "{line}");

    // A header that is no Digest at all.
    let answer = s.with_authorization("GET", orgs, "Digest garbage").await;
    assert_401(&answer, false);
    let line = log.refusal();
    assert!(line.contains("reason=malformed_header"), "{line}");

    // A made-up nonce.
    let forged = digest(
        &public,
        &private,
        "GET",
        orgs,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        1,
    );
    assert_401(&s.with_authorization("GET", orgs, &forged).await, false);
    let line = log.refusal();
    assert!(line.contains("reason=unknown_nonce"), "{line}");

    // An unknown public key: named (it is not a secret).
    let n = nonce(&s).await;
    log.take();
    let unknown = digest("nosuchkey", "whatever-secret", "GET", orgs, &n, 1);
    assert_401(&s.with_authorization("GET", orgs, &unknown).await, false);
    let line = log.refusal();
    assert!(line.contains("reason=unknown_key"), "{line}");
    assert!(line.contains("nosuchkey"), "{line}");

    // The right public key with a wrong private key.
    let wrong = digest(&public, "not-the-private-key", "GET", orgs, &n, 1);
    assert_401(&s.with_authorization("GET", orgs, &wrong).await, false);
    let line = log.refusal();
    assert!(line.contains("reason=bad_digest_response"), "{line}");
    assert!(line.contains(&public), "{line}");
    assert!(!line.contains("not-the-private-key"), "{line}");

    // A response that does not match, sent with another URI than the request's: the log points
    // at the URI.
    let other_uri = digest(
        &public,
        "not-the-private-key",
        "GET",
        "/api/atlas/v2/groups",
        &n,
        1,
    );
    assert_401(&s.with_authorization("GET", orgs, &other_uri).await, false);
    let line = log.refusal();
    assert!(line.contains("reason=bad_digest_response"), "{line}");
    assert!(
        line.contains("\"/api/atlas/v2/groups\" is not this request's \"/api/atlas/v2/orgs\""),
        "{line}"
    );

    // A right response computed for another request-target is refused (RFC 7616 §3.4.6: a
    // captured header cannot be replayed on another path), and the log says so.
    let elsewhere = digest(&public, &private, "GET", "/api/atlas/v2/groups", &n, 2);
    assert_401(&s.with_authorization("GET", orgs, &elsewhere).await, false);
    let line = log.refusal();
    assert!(line.contains("reason=wrong_digest_uri"), "{line}");
    assert!(!line.contains(&private), "{line}");
    // The absolute form of the same target is the same target.
    let absolute = digest(
        &public,
        &private,
        "GET",
        "http://localhost/api/atlas/v2/orgs",
        &n,
        3,
    );
    assert_eq!(
        s.with_authorization("GET", orgs, &absolute).await.status,
        200
    );
    log.take();

    // Right, then replayed: stale=true, so clients retry with a fresh nonce.
    let good = digest(&public, &private, "GET", orgs, &n, 7);
    assert_eq!(s.with_authorization("GET", orgs, &good).await.status, 200);
    log.take();
    assert_401(&s.with_authorization("GET", orgs, &good).await, true);
    let line = log.refusal();
    assert!(line.contains("reason=replayed_nonce"), "{line}");

    // Right, on a nonce past its five minutes.
    s.advance(301);
    let late = digest(&public, &private, "GET", orgs, &n, 8);
    assert_401(&s.with_authorization("GET", orgs, &late).await, true);
    let line = log.refusal();
    assert!(line.contains("reason=stale_nonce"), "{line}");
    assert!(line.contains("301 s ago"), "{line}");

    // None of it logged a secret or a Digest response.
    let response_of = |header: &str| {
        header
            .split("response=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    let everything = log.take().join("\n");
    for secret in [
        private.clone(),
        response_of(&good),
        response_of(&wrong),
        response_of(&late),
    ] {
        assert!(!everything.contains(&secret), "{secret} in {everything}");
    }
}

#[tokio::test]
async fn each_token_failure_logs_its_reason() {
    let s = Server::with_clock();
    let (log, _guard) = capture();
    let orgs = "/api/atlas/v2/orgs";

    let answer = s.bearer("not.a.token", "GET", orgs, Some(JSON_2023)).await;
    assert_401(&answer, false);
    let line = log.refusal();
    assert!(line.contains("reason=unknown_token"), "{line}");
    assert!(!line.contains("not.a.token"), "{line}");

    // Revoked through the token endpoint.
    let token = s.token().await;
    let (id, secret) = (s.boot.client_id.clone(), s.boot.client_secret.clone());
    let revoked = s
        .oauth("/api/oauth/revoke", &id, &secret, &format!("token={token}"))
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    log.take();
    assert_401(&s.bearer(&token, "GET", orgs, Some(JSON_2023)).await, false);
    let line = log.refusal();
    assert!(line.contains("reason=revoked_token"), "{line}");
    assert!(line.contains(&id), "{line}");

    // Expired after an hour.
    let token = s.token().await;
    s.advance(3601);
    log.take();
    assert_401(&s.bearer(&token, "GET", orgs, Some(JSON_2023)).await, false);
    let line = log.refusal();
    assert!(line.contains("reason=expired_token"), "{line}");

    let everything = log.take().join("\n");
    assert!(!everything.contains(&token));
    assert!(!everything.contains(&secret));
}

#[tokio::test]
async fn a_406_keeps_atlas_body_and_names_the_expected_media_type() {
    let s = Server::new();
    let (log, _guard) = capture();
    let cases = [
        (None, "no Accept header"),
        (Some("application/json"), "names no version"),
        (Some("*/*"), "names no version"),
        (
            Some("application/vnd.atlas.2020-01-01+json"),
            "older than this operation's first version 2023-01-01",
        ),
    ];
    for (accept, why) in cases {
        let answer = s.call("GET", "/api/atlas/v2/orgs", accept, None).await;
        assert_atlas_error(&answer, 406, "INVALID_VERSION_DATE");
        assert_eq!(answer.text(), BODY_406);
        assert_eq!(
            answer.header("x-localatlas-expected-accept"),
            Some("application/vnd.atlas.2023-01-01+json"),
            "{accept:?}"
        );
        let lines = log.take();
        let line = lines
            .iter()
            .find(|l| l.contains("not acceptable"))
            .unwrap_or_else(|| panic!("no 406 line for {accept:?}: {lines:#?}"));
        assert!(line.starts_with("INFO "), "{line}");
        assert!(line.contains(why), "{line}");
        assert!(
            line.contains(
                "application/vnd.atlas.YYYY-MM-DD+json with a date on or after 2023-01-01"
            ),
            "{line}"
        );
    }
    // Several versions: newest first, as an Accept value to send.
    let answer = s
        .call(
            "GET",
            &format!("/api/atlas/v2/groups/{}/clusters", s.boot.project_id),
            Some("application/json"),
            None,
        )
        .await;
    assert_eq!(answer.status, 406);
    let expected = answer.header("x-localatlas-expected-accept").unwrap();
    assert!(
        expected.starts_with("application/vnd.atlas.2024-08-05+json, "),
        "{expected}"
    );
    assert!(
        expected.contains("application/vnd.atlas.2023-02-01+json"),
        "{expected}"
    );
}
