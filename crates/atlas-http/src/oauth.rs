//! The service-account token endpoints: `POST /api/oauth/token` (client credentials) and
//! `POST /api/oauth/revoke`, answering OAuth-style bodies (semantics §4.2). The decisions are
//! `atlas_api::service::oauth`'s; this module reads the form and writes the answers.

use atlas_api::identity::credentials;
use atlas_api::service::oauth::{TokenOutcome, TokenRequest};
use atlas_api::{ApiError, Atlas};
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

/// The HTTP Basic client credentials of a token-endpoint request.
fn client(authorization: Option<&str>) -> Option<(String, String)> {
    match auth::parse(authorization) {
        Credentials::Basic { user, password } => Some((user, password)),
        _ => None,
    }
}

/// `POST /api/oauth/token`. A rate-limited request is an Atlas-style error (`Err`).
pub fn token(
    atlas: &Atlas,
    authorization: Option<&str>,
    body: &[u8],
    client_ip: &str,
    rate_limits: bool,
) -> Result<Response<Body>, ApiError> {
    let client = client(authorization);
    let params = form(body);
    let grant_type = params
        .iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.as_str());
    let outcome = atlas.token(&TokenRequest {
        client: client.as_ref().map(|(u, p)| (u.as_str(), p.as_str())),
        grant_type,
        client_ip,
        rate_limits,
    })?;
    Ok(match outcome {
        TokenOutcome::Issued(token) => json_response(
            StatusCode::OK,
            &json!({"access_token": token, "expires_in": credentials::TOKEN_SECONDS, "token_type": "Bearer"}),
        ),
        TokenOutcome::InvalidClient => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client credentials.",
        ),
        TokenOutcome::UnsupportedGrantType => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant type.",
        ),
        TokenOutcome::MissingGrantType => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The provided credentials are not valid.",
        ),
        // Documented text (semantics §4.2): at most 100 active tokens per service account.
        TokenOutcome::LimitReached => oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "Access Token limit reached. Please use the existing Access Tokens or create a new Service Account.",
        ),
    })
}

/// `POST /api/oauth/revoke`: 200 without a body.
pub fn revoke(
    atlas: &Atlas,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let client = client(authorization);
    let params = form(body);
    let token = params
        .iter()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.clone());
    let pair = client.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
    if !atlas.revoke(pair, token.as_deref().unwrap_or_default())? {
        return Ok(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client credentials.",
        ));
    }
    if token.is_none() {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The token parameter is missing.",
        ));
    }
    Ok(Response::builder()
        .status(StatusCode::OK)
        .body(Body::empty())
        .unwrap_or_else(|_| Response::new(Body::empty())))
}
