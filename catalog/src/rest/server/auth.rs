//! Authentication for the REST catalog server: the bearer-token check in
//! front of every endpoint, and the OAuth2 client-credentials token
//! endpoint that issues the tokens it accepts.

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, ServerState, Shared, json};
use crate::rest::wire::{OAuthError, TokenResponse, error_type};

/// The token endpoint, the one path open without a token.
pub(super) const TOKEN_PATH: &str = "/v1/oauth/tokens";

impl ServerState {
    fn issued(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        // Tokens and deadlines only: no invariant a panic could break.
        self.issued.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn accepts(&self, token: &str) -> bool {
        let static_ok = self.options.token.as_deref().is_some_and(|t| same(t, token));
        static_ok || self.issued().get(token).is_some_and(|expiry| Instant::now() < *expiry)
    }
}

/// Compares secrets without an early exit on the first differing byte.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(super) async fn authenticate(State(state): State<Shared>, request: Request, next: Next) -> Response {
    if !state.options.requires_auth() || request.uri().path() == TOKEN_PATH {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim);
    let refusal = match presented {
        Some(token) if state.accepts(token) => return next.run(request).await,
        Some(_) => "the bearer token is not valid or has expired",
        None => "this catalog requires an Authorization: Bearer token",
    };
    ApiError::new(StatusCode::UNAUTHORIZED, error_type::NOT_AUTHORIZED, refusal).into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json(
        status,
        &OAuthError {
            error: error.to_string(),
            error_description: Some(description.to_string()),
        },
    )
}

/// `POST /v1/oauth/tokens`: the OAuth2 client-credentials grant.
pub(super) async fn issue_token(State(state): State<Shared>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only grant_type=client_credentials is supported",
        );
    }
    let Some((id, secret)) = &state.options.client else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "no clients are configured");
    };
    let id_ok = form.get("client_id").is_some_and(|given| same(given, id));
    let secret_ok = form.get("client_secret").is_some_and(|given| same(given, secret));
    if !(id_ok && secret_ok) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        );
    }
    let token = uuid::Uuid::new_v4().simple().to_string();
    let now = Instant::now();
    {
        let mut issued = state.issued();
        issued.retain(|_, expiry| *expiry > now);
        issued.insert(token.clone(), now + state.options.token_ttl);
    }
    json(
        StatusCode::OK,
        &TokenResponse {
            access_token: token,
            token_type: "bearer".to_string(),
            expires_in: Some(state.options.token_ttl.as_secs()),
            issued_token_type: Some("urn:ietf:params:oauth:token-type:access_token".to_string()),
        },
    )
}
