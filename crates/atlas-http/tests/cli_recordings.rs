//! Behaviours the Atlas CLI's recorded test runs show and the spec does not say: who owns a new
//! project, and the link token body the CLI sends.

mod common;

use common::{JSON_2023, Server, assert_atlas_error, v};
use serde_json::{Value, json};

async fn create_project(s: &Server, name: &str, query: &str) -> common::Answer {
    s.call(
        "POST",
        &format!("/api/atlas/v2/groups{query}"),
        Some(JSON_2023),
        Some(&json!({"name": name, "orgId": s.boot.org_id})),
    )
    .await
}

async fn project_users(s: &Server, id: &str) -> Vec<(String, Value)> {
    let answer = s
        .call(
            "GET",
            &format!("/api/atlas/v2/groups/{id}/users"),
            Some(&v("2025-02-19")),
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap().to_owned(),
                u["roles"].clone(),
            )
        })
        .collect()
}

/// A project made with an API key lists the organization's oldest owner as its Project Owner
/// (atlas-cli TestAtlasProjects at 2025-02-19: `[{"username": …, "roles": ["GROUP_OWNER"]}]`,
/// the spec's "default value of the oldest Organization Owner"); `projectOwnerId` names another
/// member instead, and a user outside the organization is refused.
#[tokio::test]
async fn a_new_project_is_owned_by_the_oldest_organization_owner() {
    let s = Server::new();
    let made = create_project(&s, "owned", "").await;
    assert_eq!(made.status, 201, "{}", made.text());
    let id = made.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        project_users(&s, &id).await,
        [(
            "owner@localatlas.example.com".to_owned(),
            json!(["GROUP_OWNER"])
        )]
    );

    let stranger = create_project(&s, "stranger", "?projectOwnerId=5f0a1b2c3d4e5f6a7b8c9d0e").await;
    assert_atlas_error(&stranger, 404, "USER_NOT_FOUND");
    let owner_id = s.boot.owner_id.clone();
    let named = create_project(&s, "named", &format!("?projectOwnerId={owner_id}")).await;
    assert_eq!(named.status, 201, "{}", named.text());
    let id = named.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(project_users(&s, &id).await.len(), 1);
}

/// The CLI sends a link token's access list as `accessListIpAddresses`, which the spec does not
/// name, and Atlas answers 201 with the token (atlas-cli TestLinkToken at 2023-01-01).
#[tokio::test]
async fn the_link_token_body_the_cli_sends_is_accepted() {
    let s = Server::new();
    let uri = format!(
        "/api/atlas/v2/orgs/{}/liveMigrations/linkTokens",
        s.boot.org_id
    );
    let made = s
        .call(
            "POST",
            &uri,
            Some(JSON_2023),
            Some(&json!({"accessListIpAddresses": ["1.2.3.4", "5.6.7.8"]})),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.text());
    // A token Atlas made (the recording redacts it), not a placeholder.
    let token = made.json()["linkToken"].as_str().unwrap().to_owned();
    assert!(
        token.len() == 24 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{token}"
    );
    let gone = s.call("DELETE", &uri, Some(JSON_2023), None).await;
    assert_eq!(gone.status, 204, "{}", gone.text());
}
