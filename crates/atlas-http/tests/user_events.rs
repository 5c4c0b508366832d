//! The project events Atlas records for database users and IP access-list entries
//! (`MONGODB_USER_ADDED` / `_UPDATED` / `_DELETED`, `NETWORK_PERMISSION_ENTRY_ADDED` /
//! `_UPDATED` / `_REMOVED`: the spec's `NDSAuditTypeViewForNdsGroup`), and the database-user
//! behaviour the generic engine gave them, kept now that a family claims their changes.

mod common;

use common::{JSON_2023, Server, assert_atlas_error, assert_valid};
use serde_json::{Value, json};

fn users_uri(s: &Server) -> String {
    format!("/api/atlas/v2/groups/{}/databaseUsers", s.boot.project_id)
}

fn access_uri(s: &Server) -> String {
    format!("/api/atlas/v2/groups/{}/accessList", s.boot.project_id)
}

/// The project's events, newest first, valid against the spec.
async fn events(s: &Server) -> Vec<Value> {
    let uri = format!(
        "/api/atlas/v2/groups/{}/events?itemsPerPage=500",
        s.boot.project_id
    );
    let body = assert_valid("listGroupEvents", &s.get(&uri).await);
    body["results"].as_array().cloned().unwrap_or_default()
}

fn kinds(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["eventTypeName"].as_str().unwrap_or_default())
        .collect()
}

fn scram_user(s: &Server, name: &str) -> Value {
    json!({
        "databaseName": "admin",
        "groupId": s.boot.project_id,
        "username": name,
        "password": "a-Long-enough-1",
        "roles": [{"databaseName": "admin", "roleName": "readWriteAnyDatabase"}],
    })
}

#[tokio::test]
async fn database_user_changes_are_recorded_as_events() {
    let s = Server::new();
    let body = scram_user(&s, "app");
    let created = s
        .call("POST", &users_uri(&s), Some(JSON_2023), Some(&body))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = assert_valid("createGroupDatabaseUser", &created);
    // The renderer's defaults, as before.
    assert_eq!(created["x509Type"], "NONE");
    assert_eq!(created["awsIAMType"], "NONE");
    assert!(created.get("password").is_none());

    let item = format!("{}/admin/app", users_uri(&s));
    let patched = s
        .call(
            "PATCH",
            &item,
            Some(JSON_2023),
            Some(&json!({"roles": [{"databaseName": "admin", "roleName": "read"}]})),
        )
        .await;
    let patched = assert_valid("updateGroupDatabaseUser", &patched);
    assert_eq!(patched["roles"][0]["roleName"], "read");
    assert_eq!(patched["username"], "app");
    // A read-only attribute sent back is accepted and not stored, as under the generic engine.
    let echoed = s
        .call(
            "PATCH",
            &item,
            Some(JSON_2023),
            Some(&json!({"links": [{"href": "http://elsewhere/", "rel": "self"}]})),
        )
        .await;
    assert_valid("updateGroupDatabaseUser", &echoed);
    let got = assert_valid("getGroupDatabaseUser", &s.get(&item).await);
    assert_ne!(got["links"][0]["href"], "http://elsewhere/", "{got}");

    let deleted = s.call("DELETE", &item, Some(JSON_2023), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());

    let all = events(&s).await;
    let users: Vec<&Value> = all
        .iter()
        .filter(|e| {
            e["eventTypeName"]
                .as_str()
                .is_some_and(|k| k.starts_with("MONGODB_USER"))
        })
        .collect();
    let names: Vec<&str> = users
        .iter()
        .map(|e| e["eventTypeName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "MONGODB_USER_DELETED",
            "MONGODB_USER_UPDATED",
            "MONGODB_USER_UPDATED",
            "MONGODB_USER_ADDED"
        ]
    );
    for event in users {
        assert_eq!(event["dbUserUsername"], "app", "{event}");
        assert_eq!(event["groupId"], s.boot.project_id.as_str());
        assert_eq!(event["publicKey"], s.boot.public_key.as_str());
    }

    // Filtered by type, and one by id.
    let uri = format!(
        "/api/atlas/v2/groups/{}/events?eventType=MONGODB_USER_ADDED",
        s.boot.project_id
    );
    let filtered = assert_valid("listGroupEvents", &s.get(&uri).await);
    assert_eq!(filtered["totalCount"], 1);
    let id = filtered["results"][0]["id"].as_str().unwrap().to_owned();
    let one = s
        .get(&format!(
            "/api/atlas/v2/groups/{}/events/{id}",
            s.boot.project_id
        ))
        .await;
    assert_eq!(assert_valid("getGroupEvent", &one)["dbUserUsername"], "app");
}

#[tokio::test]
async fn refused_user_changes_record_nothing() {
    let s = Server::new();
    let before = events(&s).await.len();
    let missing = format!("{}/admin/nobody", users_uri(&s));
    let patch = s
        .call(
            "PATCH",
            &missing,
            Some(JSON_2023),
            Some(&json!({"roles": [{"databaseName": "admin", "roleName": "read"}]})),
        )
        .await;
    assert_atlas_error(&patch, 404, "USERNAME_NOT_FOUND");
    let delete = s.call("DELETE", &missing, Some(JSON_2023), None).await;
    assert_atlas_error(&delete, 404, "USERNAME_NOT_FOUND");

    let body = scram_user(&s, "twice");
    let first = s
        .call("POST", &users_uri(&s), Some(JSON_2023), Some(&body))
        .await;
    assert_eq!(first.status, 201, "{}", first.text());
    let second = s
        .call("POST", &users_uri(&s), Some(JSON_2023), Some(&body))
        .await;
    assert_eq!(second.status, 409, "{}", second.text());
    let invalid = s
        .call(
            "POST",
            &users_uri(&s),
            Some(JSON_2023),
            Some(
                &json!({"databaseName": "admin", "groupId": s.boot.project_id,
                         "username": "x", "nope": 1}),
            ),
        )
        .await;
    assert_eq!(invalid.status, 400, "{}", invalid.text());

    let after = events(&s).await;
    assert_eq!(after.len(), before + 1, "{:?}", kinds(&after));
    assert_eq!(after[0]["eventTypeName"], "MONGODB_USER_ADDED");
}

#[tokio::test]
async fn external_users_keep_their_composite_key() {
    let s = Server::new();
    let x509 = json!({
        "databaseName": "$external",
        "groupId": s.boot.project_id,
        "username": "CN=app,OU=users",
        "x509Type": "MANAGED",
        "roles": [{"databaseName": "admin", "roleName": "read"}],
    });
    let created = s
        .call("POST", &users_uri(&s), Some(JSON_2023), Some(&x509))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let item = format!("{}/$external/CN=app,OU=users", users_uri(&s));
    let got = assert_valid("getGroupDatabaseUser", &s.get(&item).await);
    assert_eq!(got["x509Type"], "MANAGED");
    assert_eq!(got["databaseName"], "$external");
    // The same name under another database is another user.
    let other = s
        .get(&format!("{}/admin/CN=app,OU=users", users_uri(&s)))
        .await;
    assert_atlas_error(&other, 404, "USERNAME_NOT_FOUND");
    let deleted = s.call("DELETE", &item, Some(JSON_2023), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text());
    let all = events(&s).await;
    assert_eq!(all[0]["eventTypeName"], "MONGODB_USER_DELETED");
    assert_eq!(all[0]["dbUserUsername"], "CN=app,OU=users");
    assert_eq!(all[1]["eventTypeName"], "MONGODB_USER_ADDED");
    assert_eq!(all[1]["dbUserUsername"], "CN=app,OU=users");
}

/// No recorded exchange or semantics rule shows Atlas refusing a scope that names a cluster the
/// project does not have, so localatlas keeps accepting it (and echoing it back).
#[tokio::test]
async fn scopes_are_kept_as_sent() {
    let s = Server::new();
    let mut body = scram_user(&s, "scoped");
    body["scopes"] = json!([{"name": "noSuchCluster", "type": "CLUSTER"}]);
    let created = s
        .call("POST", &users_uri(&s), Some(JSON_2023), Some(&body))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let created = assert_valid("createGroupDatabaseUser", &created);
    assert_eq!(created["scopes"][0]["name"], "noSuchCluster");
}

#[tokio::test]
async fn access_list_changes_are_recorded_as_events() {
    let s = Server::new();
    let added = s
        .call(
            "POST",
            &access_uri(&s),
            Some(JSON_2023),
            Some(&json!([{"ipAddress": "192.0.2.10", "comment": "one"},
                         {"cidrBlock": "198.51.100.0/24"}])),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.text());
    // Re-adding an entry changes it.
    let again = s
        .call(
            "POST",
            &access_uri(&s),
            Some(JSON_2023),
            Some(&json!([{"cidrBlock": "192.0.2.10/32", "comment": "two"}])),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text());
    let removed = s
        .call(
            "DELETE",
            &format!("{}/192.0.2.10", access_uri(&s)),
            Some(JSON_2023),
            None,
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.text());
    let missing = s
        .call(
            "DELETE",
            &format!("{}/203.0.113.1", access_uri(&s)),
            Some(JSON_2023),
            None,
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.text());

    let all = events(&s).await;
    let network: Vec<(&str, &str)> = all
        .iter()
        .filter(|e| {
            e["eventTypeName"]
                .as_str()
                .is_some_and(|k| k.starts_with("NETWORK_PERMISSION"))
        })
        .map(|e| {
            (
                e["eventTypeName"].as_str().unwrap(),
                e["whitelistEntry"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        network,
        [
            ("NETWORK_PERMISSION_ENTRY_REMOVED", "192.0.2.10/32"),
            ("NETWORK_PERMISSION_ENTRY_UPDATED", "192.0.2.10/32"),
            ("NETWORK_PERMISSION_ENTRY_ADDED", "198.51.100.0/24"),
            ("NETWORK_PERMISSION_ENTRY_ADDED", "192.0.2.10/32"),
        ]
    );
    assert_eq!(all[0]["publicKey"], s.boot.public_key.as_str());
}
