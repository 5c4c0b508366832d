//! Atlas Search indexes: one index seen through the 2023-01-01 fts API and the 2024-05-30
//! search-index API. Evidence: the recorded atlas-cli e2e sequence `TestSearch` (conformance
//! corpus, steps 10–17): POST 2024-05-30 → 201 `PENDING`, `queryable: false`,
//! `latestDefinitionVersion {version: 0}`; the same index through `GET …/fts/indexes/{indexId}`
//! → `IN_PROGRESS`, definition flattened, `synonyms: []`; PATCH → the definition replaced and
//! `latestDefinitionVersion {version: 1, createdAt}`; `GET …/fts/indexes/{db}/{coll}` → a bare
//! array; DELETE 2024-05-30 → 204; POST fts → 200 `IN_PROGRESS`; a field mapped as an array of
//! definitions is answered as sent.

mod common;

use common::{Answer, JSON_2023, Server, assert_atlas_error, assert_valid, v};
use serde_json::{Value, json};

const NEW: &str = "2024-05-30";

async fn cluster(s: &Server, name: &str) {
    let body = json!({"name": name, "clusterType": "REPLICASET", "replicationSpecs": [{
        "zoneName": "Zone 1", "regionConfigs": [{
            "providerName": "AWS", "regionName": "US_EAST_1", "priority": 7,
            "electableSpecs": {"instanceSize": "M10", "nodeCount": 3}}]}]});
    let uri = format!("/api/atlas/v2/groups/{}/clusters", s.boot.project_id);
    let answer = s
        .call("POST", &uri, Some(&v("2024-10-23")), Some(&body))
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
}

fn base(s: &Server, cluster: &str) -> String {
    format!(
        "/api/atlas/v2/groups/{}/clusters/{cluster}",
        s.boot.project_id
    )
}

async fn new_api(s: &Server, method: &str, uri: &str, body: Option<&Value>) -> Answer {
    s.call(method, uri, Some(&v(NEW)), body).await
}

async fn fts_api(s: &Server, method: &str, uri: &str, body: Option<&Value>) -> Answer {
    s.call(method, uri, Some(JSON_2023), body).await
}

#[tokio::test]
async fn one_index_is_seen_through_both_apis() {
    let s = Server::new();
    cluster(&s, "search").await;
    let search = format!("{}/search/indexes", base(&s, "search"));
    let fts = format!("{}/fts/indexes", base(&s, "search"));
    let body = json!({"collectionName": "movies", "database": "sample_mflix", "name": "index-1",
        "definition": {"mappings": {"dynamic": true}}});
    let created = new_api(&s, "POST", &search, Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let index = assert_valid("createGroupClusterSearchIndex", &created);
    assert_eq!(index["status"], "PENDING");
    assert_eq!(index["queryable"], false);
    assert_eq!(index["type"], "search");
    assert_eq!(
        index["latestDefinition"],
        json!({"mappings": {"dynamic": true}})
    );
    assert_eq!(index["latestDefinitionVersion"], json!({"version": 0}));
    let id = index["indexID"].as_str().unwrap().to_owned();

    // The older API reads the same index, its definition flattened, in its own state names.
    let old = fts_api(&s, "GET", &format!("{fts}/{id}"), None).await;
    let old = assert_valid("getGroupClusterFtsIndex", &old);
    assert_eq!(old["indexID"], id.as_str());
    assert_eq!(old["status"], "IN_PROGRESS");
    assert_eq!(old["mappings"]["dynamic"], true);
    assert_eq!(old["synonyms"], json!([]));
    assert_eq!(old["type"], "search");
    assert!(old.get("latestDefinition").is_none(), "{old}");

    let patch = json!({"definition": {"analyzer": "lucene.simple", "mappings": {"dynamic": true}}});
    let updated = new_api(&s, "PATCH", &format!("{search}/{id}"), Some(&patch)).await;
    let updated = assert_valid("updateGroupClusterSearchIndex", &updated);
    assert_eq!(updated["status"], "PENDING");
    assert_eq!(updated["latestDefinition"], patch["definition"]);
    assert_eq!(updated["latestDefinitionVersion"]["version"], 1);
    assert!(updated["latestDefinitionVersion"]["createdAt"].is_string());

    let listed = fts_api(&s, "GET", &format!("{fts}/sample_mflix/movies"), None).await;
    let listed = assert_valid("listGroupClusterFtsIndex", &listed);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["analyzer"], "lucene.simple");
    assert_eq!(listed[0]["status"], "IN_PROGRESS");
    let elsewhere = fts_api(&s, "GET", &format!("{fts}/sample_mflix/other"), None).await;
    assert_eq!(elsewhere.json(), json!([]));
    let all = assert_valid(
        "listGroupClusterSearchIndexes",
        &new_api(&s, "GET", &search, None).await,
    );
    assert_eq!(all.as_array().unwrap().len(), 1);
    // Built by now: the index is queryable and READY / STEADY.
    assert_eq!(all[0]["status"], "READY");
    assert_eq!(all[0]["queryable"], true);
    let steady = fts_api(&s, "GET", &format!("{fts}/{id}"), None)
        .await
        .json();
    assert_eq!(steady["status"], "STEADY");

    let deleted = new_api(&s, "DELETE", &format!("{search}/{id}"), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    let deleting = new_api(&s, "GET", &format!("{search}/{id}"), None).await;
    assert_eq!(deleting.json()["status"], "DELETING");
    let gone = new_api(&s, "GET", &format!("{search}/{id}"), None).await;
    assert_atlas_error(&gone, 404, "RESOURCE_NOT_FOUND");
    assert_eq!(new_api(&s, "GET", &search, None).await.json(), json!([]));
    let gone_old = fts_api(&s, "GET", &format!("{fts}/{id}"), None).await;
    assert_atlas_error(&gone_old, 404, "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn the_fts_api_does_not_show_an_index_being_deleted() {
    // Its states (IN_PROGRESS, STEADY, FAILED, MIGRATING, STALE, PAUSED) have no DELETING.
    let s = Server::new();
    cluster(&s, "hidden").await;
    let search = format!("{}/search/indexes", base(&s, "hidden"));
    let fts = format!("{}/fts/indexes", base(&s, "hidden"));
    let body = json!({"collectionName": "c", "database": "d", "name": "i",
        "definition": {"mappings": {"dynamic": true}}});
    let id = new_api(&s, "POST", &search, Some(&body)).await.json()["indexID"]
        .as_str()
        .unwrap()
        .to_owned();
    let deleted = fts_api(&s, "DELETE", &format!("{fts}/{id}"), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert_atlas_error(
        &fts_api(&s, "GET", &format!("{fts}/{id}"), None).await,
        404,
        "RESOURCE_NOT_FOUND",
    );
    assert_eq!(
        fts_api(&s, "GET", &format!("{fts}/d/c"), None).await.json(),
        json!([])
    );
}

#[tokio::test]
async fn an_fts_index_is_addressed_by_name_through_the_new_api() {
    let s = Server::new();
    cluster(&s, "byname").await;
    let search = format!("{}/search/indexes", base(&s, "byname"));
    let fts = format!("{}/fts/indexes", base(&s, "byname"));
    let body = json!({"collectionName": "posts", "database": "sample_training", "name": "idx",
        "analyzer": "lucene.standard", "mappings": {"dynamic": false,
            "fields": {"tags": {"type": "string"}}}});
    let created = fts_api(&s, "POST", &fts, Some(&body)).await;
    assert_eq!(created.status, 200, "{}", created.text());
    let created = assert_valid("createGroupClusterFtsIndex", &created);
    assert_eq!(created["status"], "IN_PROGRESS");
    assert_eq!(created["synonyms"], json!([]));
    let id = created["indexID"].as_str().unwrap().to_owned();

    let named = format!("{search}/sample_training/posts/idx");
    let first = new_api(&s, "GET", &named, None).await;
    let first = assert_valid("getGroupClusterSearchIndexByName", &first);
    assert_eq!(first["indexID"], id.as_str());
    assert_eq!(first["status"], "PENDING");
    assert_eq!(first["latestDefinition"]["analyzer"], "lucene.standard");
    assert_eq!(
        first["latestDefinition"]["mappings"]["fields"]["tags"]["type"],
        "string"
    );
    let built = new_api(&s, "GET", &named, None).await.json();
    assert_eq!(built["status"], "READY");
    assert_eq!(built["queryable"], true);
    let in_collection = new_api(&s, "GET", &format!("{search}/sample_training/posts"), None).await;
    let in_collection = assert_valid("listGroupClusterSearchIndex", &in_collection);
    assert_eq!(in_collection.as_array().unwrap().len(), 1);

    // An update through the fts API rebuilds it; a built index stays queryable meanwhile.
    let mut change = body.clone();
    change["analyzer"] = json!("lucene.simple");
    let updated = fts_api(&s, "PATCH", &format!("{fts}/{id}"), Some(&change)).await;
    let updated = assert_valid("updateGroupClusterFtsIndex", &updated);
    assert_eq!(updated["status"], "IN_PROGRESS");
    assert_eq!(updated["analyzer"], "lucene.simple");
    let seen = new_api(&s, "GET", &named, None).await.json();
    assert_eq!(seen["latestDefinitionVersion"]["version"], 1);
    assert_eq!(seen["latestDefinition"]["analyzer"], "lucene.simple");
    assert_eq!(seen["queryable"], true);

    let patch = json!({"definition": {"mappings": {"dynamic": true}}});
    let by_name = new_api(&s, "PATCH", &named, Some(&patch)).await;
    let by_name = assert_valid("updateGroupClusterSearchIndexByName", &by_name);
    assert_eq!(by_name["latestDefinitionVersion"]["version"], 2);
    assert_eq!(by_name["latestDefinition"], patch["definition"]);

    let deleted = new_api(&s, "DELETE", &named, None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    assert_eq!(
        new_api(&s, "GET", &named, None).await.json()["status"],
        "DELETING"
    );
    assert_atlas_error(
        &new_api(&s, "GET", &named, None).await,
        404,
        "RESOURCE_NOT_FOUND",
    );
    let missing = new_api(&s, "DELETE", &named, None).await;
    assert_atlas_error(&missing, 404, "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn names_are_unique_per_collection_across_both_apis() {
    let s = Server::new();
    cluster(&s, "unique").await;
    let search = format!("{}/search/indexes", base(&s, "unique"));
    let fts = format!("{}/fts/indexes", base(&s, "unique"));
    let body = |coll: &str| {
        json!({"collectionName": coll, "database": "db", "name": "default",
            "definition": {"mappings": {"dynamic": true}}})
    };
    let first = new_api(&s, "POST", &search, Some(&body("a"))).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let id = first.json()["indexID"].as_str().unwrap().to_owned();
    let again = new_api(&s, "POST", &search, Some(&body("a"))).await;
    assert_atlas_error(&again, 409, "RESOURCE_ALREADY_EXISTS");
    let flat = json!({"collectionName": "a", "database": "db", "name": "default",
        "mappings": {"dynamic": true}});
    let through_fts = fts_api(&s, "POST", &fts, Some(&flat)).await;
    assert_atlas_error(&through_fts, 409, "RESOURCE_ALREADY_EXISTS");
    let other = new_api(&s, "POST", &search, Some(&body("b"))).await;
    assert_eq!(other.status, 201, "{}", other.text());

    // A deleted index's name is free again.
    let deleted = fts_api(&s, "DELETE", &format!("{fts}/{id}"), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    let reused = new_api(&s, "POST", &search, Some(&body("a"))).await;
    assert_eq!(reused.status, 201, "{}", reused.text());
}

#[tokio::test]
async fn a_vector_index_needs_fields() {
    let s = Server::new();
    cluster(&s, "vectors").await;
    let search = format!("{}/search/indexes", base(&s, "vectors"));
    let empty = json!({"collectionName": "c", "database": "d", "name": "empty",
        "type": "vectorSearch", "definition": {"fields": []}});
    let refused = new_api(&s, "POST", &search, Some(&empty)).await;
    assert_atlas_error(&refused, 400, "VALIDATION_ERROR");
    assert_eq!(new_api(&s, "GET", &search, None).await.json(), json!([]));
}

#[tokio::test]
async fn field_mappings_as_arrays_and_a_missing_cluster() {
    let s = Server::new();
    cluster(&s, "arrays").await;
    let search = format!("{}/search/indexes", base(&s, "arrays"));
    let mappings = json!({"dynamic": false, "fields": {
        "comments": [{"dynamic": true, "type": "document"}, {"type": "string"}]}});
    let body = json!({"collectionName": "posts", "database": "sample_training",
        "name": "index-array", "definition": {"searchAnalyzer": "lucene.standard",
            "mappings": mappings}});
    let created = new_api(&s, "POST", &search, Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let index = created.json();
    assert_eq!(index["latestDefinition"]["mappings"], mappings);
    let id = index["indexID"].as_str().unwrap();
    let old = fts_api(
        &s,
        "GET",
        &format!("{}/fts/indexes/{id}", base(&s, "arrays")),
        None,
    )
    .await
    .json();
    assert_eq!(old["mappings"], mappings);

    let nowhere = format!("{}/search/indexes", base(&s, "nowhere"));
    let answer = new_api(&s, "POST", &nowhere, Some(&body)).await;
    assert_atlas_error(&answer, 404, "CLUSTER_NOT_FOUND");
    let answer = fts_api(
        &s,
        "GET",
        &format!("{}/fts/indexes/sample_training/posts", base(&s, "nowhere")),
        None,
    )
    .await;
    assert_atlas_error(&answer, 404, "CLUSTER_NOT_FOUND");
}

#[tokio::test]
async fn vector_fields_as_atlas_documents_them() {
    let s = Server::new();
    cluster(&s, "realvectors").await;
    let search = format!("{}/search/indexes", base(&s, "realvectors"));
    let fields = json!([{"type": "vector", "path": "plot_embedding", "numDimensions": 1536,
        "similarity": "euclidean"}, {"type": "filter", "path": "genres"}]);
    let body = json!({"collectionName": "embedded_movies", "database": "sample_mflix",
        "name": "vector_index", "type": "vectorSearch", "definition": {"fields": fields}});
    let created = new_api(&s, "POST", &search, Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.text());
    let index = assert_valid("createGroupClusterSearchIndex", &created);
    assert_eq!(index["latestDefinition"]["fields"], fields);
    let id = index["indexID"].as_str().unwrap();
    let old = fts_api(
        &s,
        "GET",
        &format!("{}/fts/indexes/{id}", base(&s, "realvectors")),
        None,
    )
    .await;
    assert_eq!(
        assert_valid("getGroupClusterFtsIndex", &old)["fields"],
        fields
    );
}
