//! Property-based tests (proptest, bounded case counts so they run in the normal test command)
//! of the parsers hostile input reaches first: the path router, query parsing, JSON body
//! validation and the Digest `Authorization` header. Whatever the input: no panic, and over
//! HTTP an Atlas 4xx (or a success), never a 5xx.

mod common;

use atlas_http::auth;
use atlas_http::router::{Routed, Router};
use atlas_model::{Method, OPERATIONS};
use common::{JSON_2023, Server};
use proptest::prelude::*;
use serde_json::{Map, Value};

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Failures are reproduced from the printed input; no files written next to the tests.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A path parameter value that is not any literal segment of the spec (`v` + characters a
/// client may send raw), so the route it lands on is determined.
fn value() -> impl Strategy<Value = String> {
    "v[A-Za-z0-9_~-]{0,12}(%2F[0-9]{1,3})?"
}

/// Fills a spec path template with values.
fn instantiate(template: &str, values: &[String]) -> String {
    let mut out = String::new();
    let mut values = values.iter();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        out.push_str(values.next().map_or("x", String::as_str));
        rest = &rest[(close + 1).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

fn relative(path: &str) -> &str {
    path.strip_prefix(atlas_model::API_PREFIX).unwrap_or(path)
}

proptest! {
    #![proptest_config(config(512))]

    /// Every concrete path made from a spec template routes to an operation whose template,
    /// filled with the parameters the router extracted, is that path again (the router may pick
    /// another operation of the same shape, never a wrong one).
    #[test]
    fn concrete_paths_route_back_to_their_shape(
        at in 0..OPERATIONS.len(),
        values in proptest::collection::vec(value(), 8),
    ) {
        let router = Router::new();
        let op = &OPERATIONS[at];
        let path = instantiate(relative(op.path), &values);
        match router.route(op.method, &path) {
            Routed::Operation(found, params) => {
                let values: Vec<String> = params.iter().map(|(_, v)| v.clone()).collect();
                prop_assert_eq!(instantiate(relative(found.path), &values), path);
                prop_assert_eq!(found.method, op.method);
            }
            other => prop_assert!(false, "{} {} routed to {:?}", op.method.as_str(), path, other),
        }
    }

    /// Arbitrary paths, including control characters, `%` soup and long ones: never a panic.
    #[test]
    fn arbitrary_paths_never_panic(path in "(/[^/]{0,20}){0,12}/?", raw in any::<Vec<u8>>()) {
        let router = Router::new();
        for method in [Method::Get, Method::Post, Method::Patch, Method::Delete, Method::Put] {
            let _ = router.route(method, &path);
            let _ = router.route(method, &String::from_utf8_lossy(&raw));
        }
    }

    /// Any header value parses without panicking.
    #[test]
    fn arbitrary_authorization_headers_never_panic(header in any::<String>(), scheme in "(Digest|digest|Bearer|Basic|DIGEST) ?") {
        let _ = auth::parse(Some(&header));
        let _ = auth::parse(Some(&format!("{scheme}{header}")));
    }

    /// A Digest header written with RFC 7616 quoting (any characters, quotes and backslashes
    /// escaped, parameters in any order) parses back to what was written.
    #[test]
    fn digest_headers_round_trip(
        username in "[^\u{0}]{1,20}",
        nonce in "[A-Za-z0-9+/=]{1,40}",
        uri in "/[ -~]{0,40}",
        response in "[0-9a-f]{32}",
        nc in "[0-9a-f]{8}",
        order in Just(()).prop_perturb(|_, mut rng| rng.random::<u64>()),
        spaces in "[ \t]{0,2}",
    ) {
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut fields = [
            format!("username={}", quote(&username)),
            format!("realm={}", quote("MMS Public API")),
            format!("nonce={}", quote(&nonce)),
            format!("uri={}", quote(&uri)),
            format!("response={}", quote(&response)),
            "qop=auth".to_owned(),
            format!("nc={nc}"),
            format!("cnonce={}", quote("c")),
        ];
        // A deterministic shuffle from the drawn number.
        let mut seed = order;
        for i in (1..fields.len()).rev() {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            fields.swap(i, (seed >> 33) as usize % (i + 1));
        }
        let header = format!("Digest {}", fields.join(&format!(",{spaces}")));
        match auth::parse(Some(&header)) {
            auth::Credentials::Digest(d) => {
                prop_assert_eq!(d.username, username);
                prop_assert_eq!(d.nonce, nonce);
                prop_assert_eq!(d.uri, uri);
                prop_assert_eq!(d.response, response);
                prop_assert_eq!(d.nc, Some(nc));
                prop_assert_eq!(d.qop.as_deref(), Some("auth"));
            }
            other => prop_assert!(false, "{header:?} parsed as {other:?}"),
        }
    }
}

/// Arbitrary JSON documents, nested a few levels.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("name".to_owned()),
                        Just("orgId".to_owned()),
                        Just("clusterType".to_owned()),
                        Just("replicationSpecs".to_owned()),
                        Just("roles".to_owned()),
                        Just("username".to_owned()),
                        "[a-zA-Z]{1,10}",
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn assert_atlas_answer(answer: &common::Answer, what: &str) -> Result<(), TestCaseError> {
    let status = answer.status.as_u16();
    prop_assert!(status < 500, "{}: {} {}", what, status, answer.text());
    if answer.status.is_client_error() && status != 401 {
        let mut body = answer.json();
        // `envelope=true` wraps errors too: `{"status": 400, "content": {…}}`.
        if body.get("status").is_some() && body.get("content").is_some() {
            body = body["content"].take();
        }
        prop_assert_eq!(
            &body["error"],
            &Value::from(status),
            "{}: {}",
            what,
            answer.text()
        );
        prop_assert!(body["errorCode"].is_string(), "{}: {}", what, answer.text());
    }
    Ok(())
}

#[test]
fn arbitrary_json_bodies_get_atlas_answers() {
    // One server and runtime for every case (building them per case would dominate).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = Server::without_rate_limits();
    let project = server.boot.project_id.clone();
    let org = server.boot.org_id.clone();
    let targets = [
        ("POST", "/api/atlas/v2/groups".to_owned(), JSON_2023),
        (
            "POST",
            format!("/api/atlas/v2/groups/{project}/clusters"),
            "application/vnd.atlas.2024-10-23+json",
        ),
        (
            "POST",
            format!("/api/atlas/v2/groups/{project}/databaseUsers"),
            JSON_2023,
        ),
        (
            "PATCH",
            format!("/api/atlas/v2/groups/{project}/settings"),
            JSON_2023,
        ),
        (
            "POST",
            format!("/api/atlas/v2/orgs/{org}/apiKeys"),
            JSON_2023,
        ),
        (
            "POST",
            format!("/api/atlas/v2/groups/{project}/accessList"),
            JSON_2023,
        ),
    ];
    let mut runner = proptest::test_runner::TestRunner::new(config(192));
    runner
        .run(&(0..targets.len(), json()), |(at, body)| {
            let (method, uri, accept) = &targets[at];
            let answer = runtime.block_on(server.call(method, uri, Some(accept), Some(&body)));
            assert_atlas_answer(&answer, &format!("{method} {uri} {body}"))
        })
        .unwrap();
}

#[test]
fn arbitrary_query_strings_get_atlas_answers() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = Server::without_rate_limits();
    let project = server.boot.project_id.clone();
    let lists = [
        "/api/atlas/v2/groups".to_owned(),
        format!("/api/atlas/v2/groups/{project}/clusters"),
        format!("/api/atlas/v2/groups/{project}/databaseUsers"),
        "/api/atlas/v2/orgs".to_owned(),
    ];
    let pair = (
        prop_oneof![
            Just("itemsPerPage".to_owned()),
            Just("pageNum".to_owned()),
            Just("includeCount".to_owned()),
            Just("envelope".to_owned()),
            Just("pretty".to_owned()),
            "[%a-zA-Z0-9]{0,8}",
        ],
        prop_oneof![
            "-?[0-9]{0,25}",
            "(true|false|TRUE|1|0)",
            "[%0-9A-Fa-f+&=;]{0,16}",
        ],
    );
    let query = proptest::collection::vec(pair, 0..5).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    });
    let mut runner = proptest::test_runner::TestRunner::new(config(192));
    runner
        .run(&(0..lists.len(), query), |(at, query)| {
            let uri = format!("{}?{query}", lists[at]);
            let answer = runtime.block_on(server.get(&uri));
            assert_atlas_answer(&answer, &uri)
        })
        .unwrap();
}
