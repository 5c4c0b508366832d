//! The service-account token endpoints: `POST /api/oauth/token` (client credentials) and
//! `POST /api/oauth/revoke`, answering OAuth-style bodies (semantics §4.2).

use atlas_api::{ApiError, Atlas, credentials};
use atlas_store::Access;
use axum::body::Body;
use axum::http::{Response, StatusCode, header};
use serde_json::{Value, json};

use crate::auth::{self, Credentials};

/// An OAuth error answer (`{"error": ..., "error_description": ...}`).
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// Authenticates the client of a token request (HTTP Basic).
fn client(
    atlas: &Atlas,
    authorization: Option<&str>,
) -> Result<Option<(String, String)>, ApiError> {
    let Credentials::Basic { user, password } = auth::parse(authorization) else {
        return Ok(None);
    };
    let now = atlas.clock.now();
    let org = atlas.transaction(Access::Read, |tx| {
        credentials::verify_client(tx, &user, &password, now).map_err(ApiError::from)
    })?;
    Ok(org.map(|org| (user, org)))
}

/// `POST /api/oauth/token`.
pub fn token(
    atlas: &Atlas,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let Some((client_id, org_id)) = client(atlas, authorization)? else {
        return Ok(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client credentials.",
        ));
    };
    let params = form(body);
    match params
        .iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.as_str())
    {
        Some("client_credentials") => {}
        Some(_) => {
            return Ok(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Invalid grant type.",
            ));
        }
        None => {
            return Ok(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The provided credentials are not valid.",
            ));
        }
    }
    let now = atlas.clock.now();
    let token = atlas.transaction(Access::Write, |tx| {
        credentials::issue_token(tx, &client_id, &org_id, now).map_err(ApiError::from)
    })?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"access_token": token, "expires_in": credentials::TOKEN_SECONDS, "token_type": "Bearer"}),
    ))
}

/// `POST /api/oauth/revoke`: 200 without a body.
pub fn revoke(
    atlas: &Atlas,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    if client(atlas, authorization)?.is_none() {
        return Ok(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client credentials.",
        ));
    }
    let params = form(body);
    let Some(token) = params
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.clone())
    else {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The token parameter is missing.",
        ));
    };
    atlas.transaction(Access::Write, |tx| {
        credentials::revoke_token(tx, &token).map_err(ApiError::from)
    })?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .body(Body::empty())
        .unwrap_or_else(|_| Response::new(Body::empty())))
}
