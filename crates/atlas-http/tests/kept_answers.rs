//! Kept GET answers (`atlas-api/src/service/answers.rs`) as a client sees them: a repeated GET
//! answers the same until a write, every write shows at once, and an answer that depends on
//! the time (a process's `lastPing`, a cluster on its way to `IDLE`) follows the clock.

mod common;

use common::{JSON_2023, Server, advance_clock, set_lifecycle, v};
use serde_json::{Value, json};

fn project_uri(s: &Server) -> String {
    format!("/api/atlas/v2/groups/{}", s.boot.project_id)
}

async fn create_cluster(s: &Server, name: &str) {
    let body = json!({"name": name, "clusterType": "REPLICASET", "replicationSpecs": [{
        "regionConfigs": [{
            "providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
            "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}
        }]
    }]});
    let uri = format!("{}/clusters", project_uri(s));
    let answer = s
        .call("POST", &uri, Some(&v("2024-10-23")), Some(&body))
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
}

async fn cluster_names(s: &Server) -> Vec<String> {
    let answer = s.get(&format!("{}/clusters", project_uri(s))).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_write_shows_in_the_next_get() {
    let s = Server::without_rate_limits();
    let uri = project_uri(&s);
    let first = s.get(&uri).await;
    assert_eq!(first.status, 200, "{}", first.text());
    // The same bytes again, pretty-printed on request as well.
    assert_eq!(s.get(&uri).await.text(), first.text());
    let pretty = s.get(&format!("{uri}?pretty=true")).await;
    assert_eq!(pretty.json(), first.json());
    assert!(pretty.text().contains('\n'));
    assert_eq!(
        s.get(&format!("{uri}?pretty=true")).await.text(),
        pretty.text()
    );
    for _ in 0..2 {
        let enveloped = s.get(&format!("{uri}?envelope=true")).await.json();
        assert_eq!(enveloped["status"], 200);
        assert_eq!(enveloped["content"], first.json());
    }

    let renamed = s
        .call(
            "PATCH",
            &uri,
            Some(JSON_2023),
            Some(&json!({"name": "renamed"})),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text());
    assert_eq!(s.get(&uri).await.json()["name"], "renamed");
    assert_eq!(
        s.get(&format!("{uri}?pretty=true")).await.json()["name"],
        "renamed"
    );

    assert!(cluster_names(&s).await.is_empty());
    assert!(cluster_names(&s).await.is_empty());
    create_cluster(&s, "kept").await;
    assert_eq!(cluster_names(&s).await, ["kept"]);
    assert_eq!(s.get(&uri).await.json()["clusterCount"], 1);
    create_cluster(&s, "second").await;
    assert_eq!(cluster_names(&s).await, ["kept", "second"]);
    let gone = s
        .call(
            "DELETE",
            &format!("{uri}/clusters/kept"),
            Some(JSON_2023),
            None,
        )
        .await;
    assert_eq!(gone.status, 202, "{}", gone.text());
    // Instant lifecycle: the first read after the deletion completes it.
    for _ in 0..3 {
        cluster_names(&s).await;
    }
    assert_eq!(cluster_names(&s).await, ["second"]);
}

#[tokio::test]
async fn answers_that_read_the_time_follow_the_clock() {
    // The machine's clock: time passes without any write.
    let s = Server::new();
    create_cluster(&s, "timed").await;
    let processes = format!("{}/processes", project_uri(&s));
    let ping = |answer: Value| {
        answer["results"][0]["lastPing"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let before = ping(s.get(&processes).await.json());
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let after = ping(s.get(&processes).await.json());
    assert_ne!(after, before, "lastPing is the time of the read");

    // A cluster on its way to IDLE under the realistic policy turns IDLE when the clock says
    // so, however often it was read before.
    set_lifecycle(&s, "realistic").await;
    create_cluster(&s, "slow").await;
    let uri = format!("{}/clusters/slow", project_uri(&s));
    for _ in 0..3 {
        let answer = s.call("GET", &uri, Some(&v("2024-10-23")), None).await;
        assert_eq!(answer.json()["stateName"], "CREATING");
    }
    advance_clock(&s, 3600).await;
    let answer = s.call("GET", &uri, Some(&v("2024-10-23")), None).await;
    assert_eq!(answer.json()["stateName"], "IDLE");
}

/// Read-your-writes under concurrency on a SQLite file (reader connections, WAL snapshots, the
/// epoch moved by every writer): clients renaming their own projects while others list them
/// always read back what they wrote, and every listing shows names that were written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_read_their_own_writes_on_a_file_store() {
    let file =
        std::env::temp_dir().join(format!("localatlas-kept-answers-{}.db", std::process::id()));
    let mut options = common::Options {
        file: Some(file.clone()),
        ..common::Options::default()
    };
    options.config.rate_limits = false;
    let s = std::sync::Arc::new(Server::with(options));
    let mut projects = Vec::new();
    for i in 0..3 {
        let made = s
            .call(
                "POST",
                "/api/atlas/v2/groups",
                Some(JSON_2023),
                Some(&json!({"name": format!("p{i}-0"), "orgId": s.boot.org_id})),
            )
            .await;
        assert_eq!(made.status, 201, "{}", made.text());
        projects.push(made.json()["id"].as_str().unwrap().to_owned());
    }
    let mut tasks = Vec::new();
    for (i, id) in projects.into_iter().enumerate() {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let uri = format!("/api/atlas/v2/groups/{id}");
            for round in 1..=25 {
                let name = format!("p{i}-{round}");
                let renamed = s
                    .call("PATCH", &uri, Some(JSON_2023), Some(&json!({"name": name})))
                    .await;
                assert_eq!(renamed.status, 200, "{}", renamed.text());
                assert_eq!(s.get(&uri).await.json()["name"], name.as_str());
                let listed = s.get("/api/atlas/v2/groups").await.json();
                let mine = listed["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["id"] == id.as_str())
                    .map(|p| p["name"].clone());
                assert_eq!(mine, Some(json!(name)), "the list after my write");
            }
        }));
    }
    for task in tasks {
        task.await.expect("a writer");
    }
    drop(s);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}
