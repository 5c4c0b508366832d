//! Atlas Stream Processing: instances, connections, processors, logs and networking.

use serde_json::{Value, json};

use super::common::{Server, advance_clock, assert_atlas_error, assert_valid};
use super::{call, cluster, download, g, gunzip, project};

const V: &str = "2023-02-01";
const PROC: &str = "2024-05-30";

fn pipeline(source: &str, sink: &str) -> Value {
    json!([{"$source": {"connectionName": source}},
        {"$merge": {"into": {"connectionName": sink, "db": "solar", "coll": "readings"}}}])
}

#[tokio::test]
async fn stream_processing_end_to_end() {
    let s = Server::new();
    cluster(&s, "sink", false).await;
    let streams = g(&s, "/streams");

    // Recorded instance shape (CLI e2e snapshot): usable at once, with its hostname and tier.
    let body = json!({"name": "sp", "dataProcessRegion": {"cloudProvider": "AWS", "region": "VIRGINIA_USA"},
        "streamConfig": {"tier": "SP10"}});
    let instance = assert_valid(
        "createGroupStreamWorkspace",
        &call(&s, "POST", &streams, V, Some(body.clone())).await,
    );
    assert_eq!(instance["streamConfig"]["tier"], "SP10");
    let host = instance["hostnames"][0].as_str().unwrap();
    assert!(
        host.starts_with(&format!(
            "atlas-stream-{}-",
            instance["_id"].as_str().unwrap()
        )),
        "{host}"
    );
    assert!(host.contains(".virginia-usa."), "{host}");
    // Recorded (TestStreamsWithClusters): an instance made without failover regions lists none.
    assert_eq!(instance["failoverRegions"], json!([]));
    assert_atlas_error(
        &call(&s, "POST", &streams, V, Some(body)).await,
        409,
        "RESOURCE_ALREADY_EXISTS",
    );
    let sp = format!("{streams}/sp");
    let patched = call(
        &s,
        "PATCH",
        &sp,
        V,
        Some(json!({"streamConfig": {"tier": "SP30"}})),
    )
    .await;
    assert_eq!(
        assert_valid("updateGroupStreamWorkspace", &patched)["streamConfig"]["tier"],
        "SP30"
    );
    let listed = assert_valid(
        "listGroupStreamWorkspaces",
        &call(&s, "GET", &streams, V, None).await,
    );
    assert_eq!(listed["totalCount"], 1);
    let unknown = call(&s, "GET", &format!("{streams}/nope"), V, None).await;
    assert_atlas_error(&unknown, 404, "STREAM_TENANT_NOT_FOUND_FOR_NAME");

    // Connections: a Cluster connection names an existing cluster; secrets never show.
    let conns = format!("{sp}/connections");
    for conn in [
        json!({"name": "sample_stream_solar", "type": "Sample"}),
        json!({"name": "atlas", "type": "Cluster", "clusterName": "sink", "dbRoleToExecute": {"role": "atlasAdmin", "type": "BUILT_IN"}}),
        json!({"name": "kafka", "type": "Kafka", "bootstrapServers": "broker:9092",
            "authentication": {"mechanism": "PLAIN", "username": "u", "password": "hunter2"},
            "security": {"protocol": "SASL_SSL"}}),
        json!({"name": "hook", "type": "Https", "url": "https://example.com/hook"}),
    ] {
        let created = assert_valid(
            "createGroupStreamConnection",
            &call(&s, "POST", &conns, V, Some(conn)).await,
        );
        assert_eq!(created["state"], "READY");
        assert!(!created.to_string().contains("hunter2"));
        // Recorded (TestStreamsWithClusters, POST 200): every connection has an id, and a
        // Cluster connection shows the instance's region.
        assert!(
            created["id"].as_str().is_some_and(|id| id.len() == 24),
            "{created}"
        );
        if created["type"] == "Cluster" {
            assert_eq!(created["region"], "VIRGINIA_USA", "{created}");
        }
    }
    let kafka = assert_valid(
        "getGroupStreamConnection",
        &call(&s, "GET", &format!("{conns}/kafka"), V, None).await,
    );
    assert_eq!(
        kafka["authentication"],
        json!({"mechanism": "PLAIN", "username": "u"})
    );
    let bad = json!({"name": "ghost", "type": "Cluster", "clusterName": "nope"});
    assert_atlas_error(
        &call(&s, "POST", &conns, V, Some(bad)).await,
        404,
        "CLUSTER_NOT_FOUND",
    );
    let hook = call(
        &s,
        "PATCH",
        &format!("{conns}/hook"),
        V,
        Some(json!({"url": "https://example.com/v2"})),
    )
    .await;
    assert_eq!(
        assert_valid("updateGroupStreamConnection", &hook)["url"],
        "https://example.com/v2"
    );
    let conn_list = assert_valid(
        "listGroupStreamConnections",
        &call(&s, "GET", &conns, V, None).await,
    );
    assert_eq!(conn_list["totalCount"], 4);

    // Failover connections (2025-03-12) stand in for a connection of the same type.
    let failovers = format!("{conns}/atlas/failoverConnections");
    let failover = json!({"type": "Cluster", "clusterName": "sink", "region": "US_EAST_1"});
    let created = call(&s, "POST", &failovers, "2025-03-12", Some(failover)).await;
    assert_eq!(created.status, 201);
    let fid = assert_valid("createGroupStreamConnectionFailoverConnection", &created)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let kafka_failover = call(
        &s,
        "POST",
        &failovers,
        "2025-03-12",
        Some(json!({"type": "Kafka", "bootstrapServers": "b:1"})),
    )
    .await;
    assert_atlas_error(&kafka_failover, 400, "VALIDATION_ERROR");
    assert_valid(
        "getGroupStreamConnectionFailoverConnection",
        &call(&s, "GET", &format!("{failovers}/{fid}"), "2025-03-12", None).await,
    );
    assert_valid(
        "updateGroupStreamConnectionFailoverConnection",
        &call(
            &s,
            "PATCH",
            &format!("{failovers}/{fid}"),
            "2025-03-12",
            Some(json!({"region": "US_WEST_2"})),
        )
        .await,
    );
    assert_valid(
        "listGroupStreamConnectionFailoverConnections",
        &call(&s, "GET", &failovers, "2025-03-12", None).await,
    );
    assert_eq!(
        call(
            &s,
            "DELETE",
            &format!("{failovers}/{fid}"),
            "2025-03-12",
            None
        )
        .await
        .status,
        204
    );

    // The seed POST: every connection the pipeline and the DLQ name must exist (400 otherwise).
    let processors = format!("{sp}/processor");
    let dlq = json!({"dlq": {"connectionName": "atlas", "db": "solar", "coll": "dlq"}});
    let bad = json!({"name": "p", "pipeline": pipeline("missing", "atlas")});
    assert_atlas_error(
        &call(&s, "POST", &processors, PROC, Some(bad)).await,
        400,
        "VALIDATION_ERROR",
    );
    let bad = json!({"name": "p", "pipeline": pipeline("sample_stream_solar", "atlas"), "options": {"dlq": {"connectionName": "missing", "db": "d", "coll": "c"}}});
    assert_atlas_error(
        &call(&s, "POST", &processors, PROC, Some(bad)).await,
        400,
        "VALIDATION_ERROR",
    );
    let no_instance = call(
        &s,
        "POST",
        &format!("{streams}/nope/processor"),
        PROC,
        Some(json!({"name": "p", "pipeline": pipeline("sample_stream_solar", "atlas")})),
    )
    .await;
    assert_atlas_error(&no_instance, 404, "STREAM_TENANT_NOT_FOUND_FOR_NAME");
    let body =
        json!({"name": "p", "pipeline": pipeline("sample_stream_solar", "atlas"), "options": dlq});
    let created = call(&s, "POST", &processors, PROC, Some(body.clone())).await;
    let created = assert_valid("createGroupStreamProcessor", &created);
    assert_eq!(created["pipeline"], body["pipeline"]);
    assert_eq!(created["options"]["dlq"]["connectionName"], "atlas");
    let p = format!("{processors}/p");
    let read = assert_valid(
        "getGroupStreamProcessor",
        &call(&s, "GET", &p, PROC, None).await,
    );
    assert_eq!(read["state"], "CREATED");

    // CREATED → STARTED → STOPPED, statistics growing with the clock while it runs.
    assert_eq!(
        call(&s, "POST", &format!("{p}:start"), PROC, None)
            .await
            .status,
        200
    );
    advance_clock(&s, 100).await;
    let running = assert_valid(
        "getGroupStreamProcessor",
        &call(&s, "GET", &p, PROC, None).await,
    );
    assert_eq!(
        (
            running["state"].as_str(),
            running["stats"]["inputMessageCount"].as_i64()
        ),
        (Some("STARTED"), Some(100))
    );
    let busy = call(
        &s,
        "PATCH",
        &p,
        PROC,
        Some(json!({"pipeline": pipeline("kafka", "atlas")})),
    )
    .await;
    assert_atlas_error(&busy, 400, "VALIDATION_ERROR");
    assert_eq!(
        call(&s, "POST", &format!("{p}:stop"), PROC, None)
            .await
            .status,
        200
    );
    let stopped = call(&s, "GET", &p, PROC, None).await.json();
    assert_eq!(stopped["state"], "STOPPED");
    let modified = call(
        &s,
        "PATCH",
        &p,
        PROC,
        Some(json!({"pipeline": pipeline("kafka", "atlas")})),
    )
    .await;
    assert_eq!(
        assert_valid("updateGroupStreamProcessor", &modified)["pipeline"][0]["$source"]["connectionName"],
        "kafka"
    );
    let with = call(
        &s,
        "POST",
        &format!("{p}:startWith"),
        "2025-03-12",
        Some(json!({"resumeFromCheckpoint": false})),
    )
    .await;
    assert_eq!(with.status, 200);

    // A running processor whose connection is deleted fails.
    assert_eq!(
        call(&s, "DELETE", &format!("{conns}/kafka"), V, None)
            .await
            .status,
        202
    );
    let failed = assert_valid(
        "getGroupStreamProcessor",
        &call(&s, "GET", &p, PROC, None).await,
    );
    assert_eq!(failed["state"], "FAILED");
    let all = assert_valid(
        "getGroupStreamProcessors",
        &call(&s, "GET", &format!("{sp}/processors"), PROC, None).await,
    );
    assert_eq!(all["totalCount"], 1);

    // The logs are real gzip files of JSON lines.
    let audit = download(&s, &format!("{sp}/auditLogs"), V).await;
    let audit = gunzip(&audit);
    assert!(
        audit.contains("createStreamProcessor") && audit.contains("deleteConnection"),
        "{audit}"
    );
    let ops = download(
        &s,
        &format!("{sp}:downloadOperationalLogs?spName=p"),
        "2025-03-12",
    )
    .await;
    let ops = gunzip(&ops);
    assert!(
        ops.contains("stream processor started") && ops.contains("stream processor failed"),
        "{ops}"
    );

    // Networking: private link connections, account details, (no) VPC peering requests.
    let links = g(&s, "/streams/privateLinkConnections");
    let link = json!({"provider": "Azure", "region": "US_EAST_2", "dnsDomain": "ns.servicebus.windows.net",
        "serviceEndpointId": "/subscriptions/fd01adff-b37e-4693-8497-83ecf183a145/resourceGroups/rg/providers/Microsoft.EventHub/namespaces/ns"});
    let created = assert_valid(
        "createGroupStreamPrivateLinkConnection",
        &call(&s, "POST", &links, V, Some(link)).await,
    );
    let link_uri = format!("{links}/{}", created["_id"].as_str().unwrap());
    let read = assert_valid(
        "getGroupStreamPrivateLinkConnection",
        &call(&s, "GET", &link_uri, V, None).await,
    );
    assert_eq!(
        (
            read["provider"].as_str(),
            read["state"].as_str(),
            read["vendor"].as_str()
        ),
        (Some("AZURE"), Some("IDLE"), Some("GENERIC"))
    );
    assert_valid(
        "listGroupStreamPrivateLinkConnections",
        &call(&s, "GET", &links, V, None).await,
    );
    assert_valid(
        "updateGroupStreamPrivateLinkConnection",
        &call(
            &s,
            "PATCH",
            &link_uri,
            "2025-03-12",
            Some(json!({"dnsDomain": "ns2.servicebus.windows.net"})),
        )
        .await,
    );
    assert_eq!(call(&s, "DELETE", &link_uri, V, None).await.status, 202);
    let account = call(
        &s,
        "GET",
        &g(
            &s,
            "/streams/accountDetails?cloudProvider=aws&regionName=US_EAST_1",
        ),
        "2024-11-13",
        None,
    )
    .await;
    let account = assert_valid("getGroupStreamAccountDetails", &account);
    assert_eq!(account["awsAccountId"].as_str().unwrap().len(), 12);
    let peers = call(
        &s,
        "GET",
        &g(
            &s,
            "/streams/vpcPeeringConnections?requesterAccountId=123456789012",
        ),
        V,
        None,
    )
    .await;
    assert_eq!(
        assert_valid("listGroupStreamVpcPeeringConnections", &peers)["totalCount"],
        0
    );

    // A project with stream instances cannot close (semantics §9).
    let gid = project(&s, "streaming").await;
    let other = format!("/api/atlas/v2/groups/{gid}");
    let lonely = json!({"name": "lonely", "dataProcessRegion": {"cloudProvider": "AWS", "region": "VIRGINIA_USA"}});
    assert_valid(
        "createGroupStreamWorkspace",
        &call(&s, "POST", &format!("{other}/streams"), V, Some(lonely)).await,
    );
    let close = call(&s, "DELETE", &other, "2023-01-01", None).await;
    assert_atlas_error(&close, 409, "CANNOT_CLOSE_GROUP_ACTIVE_STREAMS_RESOURCE");
    assert_eq!(
        call(&s, "DELETE", &format!("{other}/streams/lonely"), V, None)
            .await
            .status,
        202
    );
    assert_eq!(
        call(&s, "DELETE", &other, "2023-01-01", None).await.status,
        202
    );

    // Deleting an instance takes its connections and processors with it.
    assert_eq!(call(&s, "DELETE", &p, PROC, None).await.status, 204);
    let samples = call(&s, "POST", &g(&s, "/streams:withSampleConnections"), "2024-08-05",
        Some(json!({"name": "demo", "dataProcessRegion": {"cloudProvider": "AWS", "region": "VIRGINIA_USA"}}))).await;
    assert_valid("withGroupStreamSampleConnections", &samples);
    let sample = call(
        &s,
        "GET",
        &format!("{streams}/demo/connections/sample_stream_solar"),
        V,
        None,
    )
    .await;
    assert_eq!(
        assert_valid("getGroupStreamConnection", &sample)["type"],
        "Sample"
    );
    for name in ["sp", "demo"] {
        let deleted = call(&s, "DELETE", &format!("{streams}/{name}"), V, None).await;
        assert_eq!((deleted.status.as_u16(), deleted.json()), (202, json!({})));
    }
    assert_atlas_error(
        &call(&s, "GET", &p, PROC, None).await,
        404,
        "STREAM_TENANT_NOT_FOUND_FOR_NAME",
    );
}
