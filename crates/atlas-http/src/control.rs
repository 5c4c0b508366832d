//! The control API under `/__localatlas/` (not part of Atlas): health (with the store's),
//! Prometheus metrics, coverage, reset, state export and import, the clock and lifecycle policies,
//! test principals with given roles, and accepting invitations as their invitee; for the console,
//! the resources overview, the events timeline, the recent requests, the fault rules (see
//! [`crate::faults`]), one resource as Atlas answers it and the catalogue of operations and error
//! codes (see [`crate::view`]). Plain `application/json`; open from loopback, the control token
//! required from elsewhere (`crate::gate`).

use atlas_api::ApiError;
use atlas_api::kernel::clock::Change;
use atlas_model::OPERATIONS;
use axum::body::Body;
use axum::http::{Method, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::App;

pub const PREFIX: &str = "/__localatlas/";

fn json(status: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn bad_request(detail: impl Into<String>) -> ApiError {
    ApiError::with_detail(
        atlas_api::kernel::error_codes::VALIDATION_ERROR,
        detail,
        vec![],
    )
}

/// The JSON body of a control request (`{}` when empty).
fn body_json(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|_| atlas_api::api_error!(MALFORMED_JSON))
}

/// One control request past the gate.
pub struct ControlRequest<'a> {
    pub method: &'a Method,
    /// The path after [`PREFIX`].
    pub rest: &'a str,
    /// The raw query string (without `?`).
    pub query: &'a str,
    pub body: &'a [u8],
    /// `scheme://host[:port]` as the caller addressed the server.
    pub base_url: &'a str,
    pub client_ip: &'a str,
}

/// Serves one control request (blocking: store transactions).
pub fn handle(app: &App, request: &ControlRequest<'_>) -> Result<Response<Body>, ApiError> {
    let (method, rest, body) = (request.method, request.rest, request.body);
    match (method.as_str(), rest) {
        ("GET", "health") => Ok(health(app)),
        ("GET", "metrics") => Ok(Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
            .body(Body::from(
                app.metrics
                    .render(&atlas_api::kernel::error::store_errors()),
            ))
            .unwrap_or_else(|_| Response::new(Body::empty()))),
        ("GET", "state") => Ok(json(StatusCode::OK, &app.atlas.export_state()?)),
        ("POST", "state") => Ok(json(
            StatusCode::OK,
            &app.atlas.import_state(&body_json(body)?)?,
        )),
        ("GET", "coverage") => Ok(json(
            StatusCode::OK,
            &app.observe.coverage(app.atlas.registry()),
        )),
        ("GET", "requests") => Ok(json(StatusCode::OK, &app.observe.recent())),
        ("GET", "resources") => {
            let mut overview = app.atlas.overview()?;
            crate::view::annotate(&app.router, &mut overview);
            Ok(json(StatusCode::OK, &overview))
        }
        ("GET", "view") => {
            let asker = crate::view::Asker {
                base_url: request.base_url,
                client_ip: request.client_ip,
                tls: app.config.tls,
            };
            Ok(json(
                StatusCode::OK,
                &crate::view::view(app, request.query, &asker)?,
            ))
        }
        ("GET", "catalogue") => Ok(json(StatusCode::OK, &crate::view::catalogue())),
        ("GET", "events") => Ok(json(StatusCode::OK, &app.atlas.timeline(200)?)),
        ("GET", crate::console::CONTROL_PATH) => Ok(crate::console::page()),
        (_, _) if rest == "faults" || rest.starts_with("faults/") => {
            faults(app, method, rest, body)
        }
        ("POST", "reset") => {
            let boot = app.atlas.reset()?;
            Ok(json(
                StatusCode::OK,
                &json!({"status": "reset", "orgId": boot.org_id, "projectId": boot.project_id}),
            ))
        }
        ("POST", "principals") => Ok(json(
            StatusCode::CREATED,
            &app.atlas.create_principal(&body_json(body)?)?,
        )),
        ("POST", "invitations/accept") => Ok(json(
            StatusCode::OK,
            &app.atlas.accept_invitations(&body_json(body)?)?,
        )),
        ("GET", "clock") => Ok(json(StatusCode::OK, &app.atlas.clock_state()?)),
        ("POST", "clock") => {
            let body = body_json(body)?;
            let change = if let Some(seconds) = body.get("advanceSeconds").and_then(Value::as_i64) {
                Change::Advance(time::Duration::seconds(seconds))
            } else if let Some(at) = body.get("now").and_then(Value::as_str) {
                let at =
                    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                        .map_err(|_| bad_request("`now` must be an RFC 3339 date-time"))?;
                Change::Set(at)
            } else {
                return Err(bad_request("give `advanceSeconds` or `now`"));
            };
            // Moving the clock also completes manual transitions (they wait for time to move).
            Ok(json(StatusCode::OK, &app.atlas.move_clock(change)?))
        }
        ("GET", "lifecycle") => Ok(json(StatusCode::OK, &app.atlas.lifecycle_state()?)),
        ("POST", "lifecycle") => {
            let body = body_json(body)?;
            app.atlas.configure_lifecycles(&body).map_err(|e| match e {
                atlas_api::kernel::lifecycle::ConfigError::Invalid(detail) => bad_request(detail),
                atlas_api::kernel::lifecycle::ConfigError::Api(e) => e,
            })?;
            Ok(json(StatusCode::OK, &app.atlas.lifecycle_state()?))
        }
        ("POST", "lifecycle/advance") => {
            app.atlas.advance_lifecycles()?;
            Ok(json(StatusCode::OK, &app.atlas.lifecycle_state()?))
        }
        _ => Err(atlas_api::api_error!(
            RESOURCE_NOT_FOUND,
            format!("{PREFIX}{rest}")
        )),
    }
}

/// Readiness: 200 while the store answers, 503 (and why) when it does not, so a load balancer
/// takes an instance whose database is gone out of rotation.
fn health(app: &App) -> Response<Body> {
    let store = app.atlas.store.describe();
    match app.atlas.store_health() {
        Ok(()) => json(
            StatusCode::OK,
            &json!({
                "status": "ok",
                "store": store,
                "operations": OPERATIONS.len(),
                "version": env!("CARGO_PKG_VERSION"),
            }),
        ),
        Err(e) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({
                "status": "unavailable",
                "store": store,
                "error": e.to_string(),
                "version": env!("CARGO_PKG_VERSION"),
            }),
        ),
    }
}

/// `GET faults` lists the rules, `POST faults` adds one, `DELETE faults` removes all,
/// `DELETE faults/{id}` one.
fn faults(app: &App, method: &Method, rest: &str, body: &[u8]) -> Result<Response<Body>, ApiError> {
    let not_found = || atlas_api::api_error!(RESOURCE_NOT_FOUND, format!("{PREFIX}{rest}"));
    match (method.as_str(), rest.strip_prefix("faults/")) {
        ("GET", None) => Ok(json(StatusCode::OK, &json!({"rules": app.faults.list()}))),
        ("POST", None) => app
            .faults
            .add(&body_json(body)?)
            .map(|rule| json(StatusCode::CREATED, &rule))
            .map_err(bad_request),
        ("DELETE", None) => {
            app.faults.clear();
            Ok(json(StatusCode::OK, &json!({"rules": []})))
        }
        ("DELETE", Some(id)) => match id.parse::<u64>() {
            Ok(id) if app.faults.remove(id) => Ok(json(StatusCode::OK, &json!({"removed": id}))),
            _ => Err(not_found()),
        },
        _ => Err(atlas_api::api_error!(
            METHOD_NOT_ALLOWED,
            method.as_str(),
            format!("{PREFIX}{rest}")
        )),
    }
}
