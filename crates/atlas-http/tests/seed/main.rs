//! The seed's resource families, each as a user drives it through HTTP only: create the
//! prerequisites, call every operation of the family, watch the states progress with the clock,
//! meet Atlas's errors for the rules, and check every success body against the spec's schema for
//! the served version. One scenario per family, in its own module.

#[path = "../common/mod.rs"]
mod common;

mod archives;
mod endpoints;
mod flex;
mod global;
mod integrations;
mod streams;

use std::io::Read as _;

use common::{Answer, Server, assert_valid, v};
use serde_json::{Value, json};

/// `/api/atlas/v2/groups/{project}` + `tail`.
pub fn g(s: &Server, tail: &str) -> String {
    format!("/api/atlas/v2/groups/{}{tail}", s.boot.project_id)
}

pub async fn call(
    s: &Server,
    method: &str,
    uri: &str,
    version: &str,
    body: Option<Value>,
) -> Answer {
    s.call(method, uri, Some(&v(version)), body.as_ref()).await
}

/// A GET of a `+gzip` download of `version`.
pub async fn download(s: &Server, uri: &str, version: &str) -> Answer {
    let accept = format!("application/vnd.atlas.{version}+gzip");
    s.call("GET", uri, Some(&accept), None).await
}

/// A dedicated cluster in the bootstrap project, `IDLE` (the default instant lifecycle).
pub async fn cluster(s: &Server, name: &str, geo: bool) -> Value {
    let specs: Vec<Value> = if geo {
        [("Zone 1", "US_EAST_1"), ("Zone 2", "EU_WEST_1")]
            .iter()
            .map(|(zone, region)| {
                json!({"zoneName": zone, "regionConfigs": [{"providerName": "AWS", "regionName": region,
                    "priority": 7, "electableSpecs": {"instanceSize": "M30", "nodeCount": 3}}]})
            })
            .collect()
    } else {
        vec![
            json!({"regionConfigs": [{"providerName": "AWS", "regionName": "US_EAST_1",
            "priority": 7, "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}}]}),
        ]
    };
    let kind = if geo { "GEOSHARDED" } else { "REPLICASET" };
    let body = json!({"name": name, "clusterType": kind, "replicationSpecs": specs});
    let created = call(s, "POST", &g(s, "/clusters"), "2024-10-23", Some(body)).await;
    assert_eq!(created.status, 201, "{}", created.text());
    // The first read shows CREATING, the next IDLE (instant policy).
    for _ in 0..2 {
        call(
            s,
            "GET",
            &g(s, &format!("/clusters/{name}")),
            "2024-08-05",
            None,
        )
        .await;
    }
    let idle = call(
        s,
        "GET",
        &g(s, &format!("/clusters/{name}")),
        "2024-08-05",
        None,
    )
    .await;
    let idle = assert_valid("getGroupCluster", &idle);
    assert_eq!(idle["stateName"], "IDLE");
    idle
}

/// A new project (for scenarios that close it).
pub async fn project(s: &Server, name: &str) -> String {
    let answer = call(
        s,
        "POST",
        "/api/atlas/v2/groups",
        "2023-01-01",
        Some(json!({"name": name, "orgId": s.boot.org_id})),
    )
    .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
    answer.json()["id"].as_str().expect("project id").to_owned()
}

/// The text of a gzip download, checking it is one.
pub fn gunzip(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(&answer.bytes[..2], &[0x1f, 0x8b], "not a gzip stream");
    let mut text = String::new();
    flate2::read::GzDecoder::new(answer.bytes.as_slice())
        .read_to_string(&mut text)
        .expect("a valid gzip stream");
    text
}

/// The `rel` → `href` of a list answer's links.
pub fn rels(body: &Value) -> Vec<String> {
    body["links"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["rel"].as_str().map(str::to_owned))
        .collect()
}
