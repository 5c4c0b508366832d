//! Hostile input: malformed bodies, mutated documents, garbage paths and headers sent to every
//! operation. Whatever arrives, the answer is an Atlas 4xx (or a success), never a 5xx, a panic
//! or a non-Atlas body.

mod common;

use atlas_model::{Location, OPERATIONS, Operation};
use atlas_schema::{Hints, Mode, Schemas};
use common::{JSON_2023, Server};
use serde_json::{Value, json};

/// A small deterministic generator (no dependency, reproducible failures).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() as usize) % items.len()]
    }
}

/// Replaces one value somewhere in `doc` with a hostile one.
fn mutate(doc: &mut Value, rng: &mut Lcg) {
    let hostile = [
        Value::Null,
        json!(-1),
        json!(1e308),
        json!(u64::MAX),
        json!(""),
        json!("\u{0000}\u{ffff}"),
        json!("x".repeat(5000)),
        json!([]),
        json!([[[]]]),
        json!({}),
        json!({"$where": {"nested": [1, {"a": null}]}}),
        json!(true),
    ];
    match doc {
        Value::Object(map) if !map.is_empty() && !rng.next().is_multiple_of(4) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let key = rng.pick(&keys).clone();
            if let Some(child) = map.get_mut(&key) {
                mutate(child, rng);
            }
        }
        Value::Array(items) if !items.is_empty() && !rng.next().is_multiple_of(4) => {
            let i = (rng.next() as usize) % items.len();
            mutate(&mut items[i], rng);
        }
        other => *other = rng.pick(&hostile).clone(),
    }
}

fn path_for(op: &Operation, group: &str, org: &str) -> String {
    op.path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(
            |seg| match seg.strip_prefix('{').and_then(|s| s.split_once('}')) {
                Some(("groupId", suffix)) => format!("/{group}{suffix}"),
                Some(("orgId", suffix)) => format!("/{org}{suffix}"),
                Some((_, suffix)) => format!("/probe-x1{suffix}"),
                None => format!("/{seg}"),
            },
        )
        .collect()
}

fn accept_for(op: &Operation) -> String {
    let media = op
        .success
        .iter()
        .flat_map(|s| s.media.iter())
        .chain(op.request.iter())
        .max_by_key(|m| m.version)
        .expect("a version");
    format!(
        "application/vnd.atlas.{}+{}",
        media.version,
        media.format.suffix()
    )
}

fn assert_atlas_answer(answer: &common::Answer, what: &str) {
    let status = answer.status.as_u16();
    assert!(status < 500, "{what}: {status} {}", answer.text());
    if answer.status.is_client_error() && status != 401 {
        let body = answer.json();
        assert_eq!(
            body["error"],
            status,
            "{what}: not an Atlas error body: {}",
            answer.text()
        );
        assert!(body["errorCode"].is_string(), "{what}: {}", answer.text());
    }
}

#[tokio::test]
async fn mutated_bodies_never_cause_a_5xx() {
    let s = Server::without_rate_limits();
    let group = s.boot.project_id.clone();
    let org = s.boot.org_id.clone();
    let mut rng = Lcg(0x5eed);
    let fixed = [
        "null".to_owned(),
        "[]".to_owned(),
        "\"text\"".to_owned(),
        "12".to_owned(),
        "{".to_owned(),
        "{\"a\":1}{\"b\":2}".to_owned(),
        format!("{}{}", "[".repeat(300), "]".repeat(300)),
        "\u{feff}{}".to_owned(),
    ];
    for op in OPERATIONS.iter().filter(|op| !op.request.is_empty()) {
        // Never delete the bootstrap organization or project from under the other requests.
        if matches!(op.name, "deleteGroup" | "deleteOrg" | "migrateGroup") {
            continue;
        }
        let uri = path_for(op, &group, &org);
        let accept = accept_for(op);
        let method = op.method.as_str();
        for raw in &fixed {
            let answer = s.raw(method, &uri, &accept, raw).await;
            assert_atlas_answer(&answer, &format!("{method} {uri} body {raw:.40}"));
        }
        let schema = op.request.iter().find_map(|m| m.schema);
        let Some(schema) = schema else { continue };
        let example = Schemas::global().example(schema, Mode::Request, &Hints::default());
        for _ in 0..6 {
            let mut body = example.clone();
            mutate(&mut body, &mut rng);
            let answer = s.call(method, &uri, Some(&accept), Some(&body)).await;
            assert_atlas_answer(&answer, &format!("{method} {uri} body {body:.200}"));
        }
    }
}

#[tokio::test]
async fn garbage_paths_queries_and_headers_never_cause_a_5xx() {
    let s = Server::without_rate_limits();
    let group = s.boot.project_id.clone();
    let long = "a".repeat(10_000);
    let paths = [
        "/api/atlas/v2/groups/%00%ff..%2F..%5c".to_owned(),
        format!("/api/atlas/v2/groups/{group}/clusters/%C0%AF"),
        format!("/api/atlas/v2/groups/{group}/clusters/{long}"),
        format!("/api/atlas/v2/groups/{group}/clusters/a:b:c"),
        format!("/api/atlas/v2/groups/{group}/accessList/%2F%2F%2F"),
        format!("/api/atlas/v2/groups/{group}/databaseUsers/%24external/CN%3Dx%2CO%3Dy"),
        "/api/atlas/v2/".to_owned(),
        "/api/atlas/v2//".to_owned(),
        format!("/api/atlas/v2{}", "/groups".repeat(200)),
        "/api/oauth/token".to_owned(),
        "/__localatlas/nothing".to_owned(),
        "/".to_owned(),
    ];
    for path in &paths {
        for method in ["GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS"] {
            let answer = s.call(method, path, Some(JSON_2023), None).await;
            assert_atlas_answer(&answer, &format!("{method} {path}"));
        }
    }
    let queries = [
        "itemsPerPage=99999999999999999999999",
        "pageNum=-1",
        "pageNum=1.5",
        "includeCount=TRUE",
        "envelope=true&pretty=true&envelope=false",
        "%zz=%zz",
        "a=%FF%FE",
    ];
    for query in queries {
        let answer = s.get(&format!("/api/atlas/v2/groups?{query}")).await;
        assert_atlas_answer(&answer, query);
    }
    for accept in [
        "application/vnd.atlas.9999-99-99+json",
        "application/vnd.atlas.+json",
        "application/vnd.atlas.2023-01-01+xml",
        ",,,;;;",
        "application/vnd.atlas.2023-13-45+json",
    ] {
        let answer = s
            .call("GET", "/api/atlas/v2/groups", Some(accept), None)
            .await;
        assert_atlas_answer(&answer, accept);
    }
    for auth in [
        "Digest",
        "Digest username=\"x\", nonce=\"\", response=\"\"",
        "Bearer",
        "Basic",
        "Digest \t=,=,",
    ] {
        let request = axum::http::Request::builder()
            .uri("/api/atlas/v2/groups")
            .header("accept", JSON_2023)
            .header("authorization", auth)
            .body(axum::body::Body::empty())
            .unwrap();
        let answer = tower::ServiceExt::oneshot(s.app.clone(), request)
            .await
            .unwrap();
        assert_eq!(answer.status(), 401, "{auth}");
    }
}

#[tokio::test]
async fn every_query_parameter_rejects_wrong_types_cleanly() {
    let s = Server::without_rate_limits();
    let group = s.boot.project_id.clone();
    let org = s.boot.org_id.clone();
    for op in OPERATIONS.iter().filter(|op| op.method.as_str() == "GET") {
        let uri = path_for(op, &group, &org);
        for param in op.params.iter().filter(|p| p.location == Location::Query) {
            let answer = s
                .call(
                    "GET",
                    &format!("{uri}?{}=%00not-valid%ff", param.name),
                    Some(&accept_for(op)),
                    None,
                )
                .await;
            assert_atlas_answer(&answer, &format!("{} {}", op.name, param.name));
        }
    }
}
