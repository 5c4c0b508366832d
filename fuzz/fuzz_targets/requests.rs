//! Fuzz target: arbitrary bytes become (a) inputs of the parsers hostile input reaches first —
//! the path router, the `Authorization` header parser, query strings — and (b) whole requests
//! through the real pipeline over an in-memory store (method, path, query, headers, body). A
//! panic anywhere, or a 5xx answer, is a crash.

#![no_main]

use std::sync::{Arc, OnceLock};

use atlas_api::{Atlas, Config};
use atlas_http::router::Router;
use atlas_http::{App, HttpConfig};
use atlas_model::Method;
use atlas_store::sqlite::SqliteStore;
use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

struct World {
    runtime: tokio::runtime::Runtime,
    app: axum::Router,
    router: Router,
    token: String,
    group: String,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let store = Arc::new(SqliteStore::memory().expect("memory store"));
        let atlas = Atlas::new(store, Config::default());
        let boot = atlas.bootstrap().expect("bootstrap");
        let token = atlas
            .create_principal(&serde_json::json!({"type": "user", "roles": [{"orgId": boot.org_id, "roleName": "ORG_OWNER"}]}))
            .expect("principal")["accessToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let config = HttpConfig {
            rate_limits: false,
            ..HttpConfig::default()
        };
        let app = atlas_http::app(Arc::new(App::new(atlas, config)));
        World {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            app,
            router: Router::new(),
            token,
            group: boot.project_id,
        }
    })
}

const METHODS: [&str; 6] = ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"];
const ACCEPTS: [&str; 4] = [
    "application/vnd.atlas.2023-01-01+json",
    "application/vnd.atlas.2024-10-23+json",
    "application/vnd.atlas.2025-03-12+json",
    "*/*",
];

fuzz_target!(|data: &[u8]| {
    let world = world();
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    // Parsers alone, on every input.
    for method in [Method::Get, Method::Post, Method::Patch, Method::Delete] {
        let _ = world.router.route(method, &text);
    }
    let _ = atlas_http::auth::parse(Some(&text));
    // A whole request: `path \n query \n authorization? \n body`, the selector choosing the
    // method, the version and whether the path is under the bootstrap project.
    let mut parts = text.splitn(4, '\n');
    let (path, query, authorization, body) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let method = METHODS[usize::from(selector) % METHODS.len()];
    let accept = ACCEPTS[usize::from(selector / 8) % ACCEPTS.len()];
    let base = if selector & 0x80 == 0 {
        format!("/api/atlas/v2/groups/{}", world.group)
    } else {
        "/api/atlas/v2".to_owned()
    };
    let uri = format!("{base}/{}?{}", path.trim_start_matches('/'), query);
    let authorization = if selector & 0x40 == 0 {
        format!("Bearer {}", world.token)
    } else {
        authorization.to_owned()
    };
    let Ok(request) = Request::builder()
        .method(method)
        .uri(&uri)
        .header("accept", accept)
        .header("content-type", "application/json")
        .header("authorization", authorization)
        .body(Body::from(body.to_owned()))
    else {
        return; // not a valid HTTP request at all: hyper would refuse it before us
    };
    let response = world
        .runtime
        .block_on(world.app.clone().oneshot(request))
        .expect("infallible");
    let status = response.status();
    if status.is_server_error() {
        let bytes = world
            .runtime
            .block_on(http_body_util::BodyExt::collect(response.into_body()))
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        panic!(
            "{method} {uri}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
    }
});
