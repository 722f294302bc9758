//! The HTTP side of [`RestCatalog`](super::RestCatalog): authentication, one
//! retry with a fresh token after a 401, and turning replies into values or
//! into errors.
//!
//! Authentication is a static bearer token (`token`, as R2 Data Catalog's
//! API tokens are used), OAuth2 client credentials (`credential =
//! "id:secret"`, exchanged at the token endpoint for a bearer token), or
//! both: the static token is used first and the credential refreshes it.
//! A token is fetched once and reused until the server answers 401 (or
//! Java's 419 "authentication timeout"); then one new token is fetched — once
//! for all requests that saw the old one — and the request is sent again,
//! once.
//!
//! Every error names the request (`METHOD url`) and the HTTP status, and
//! carries the server's own `type` and `message` when the body has them, so
//! a user sees what the catalog said rather than only a status code.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use super::wire::{ErrorResponse, OAuthError, TokenResponse, error_type};
use crate::error::{Error, ErrorKind, Result};

/// OAuth2 scope requested unless the `scope` property says otherwise (what
/// Polaris and the Java client use).
pub const DEFAULT_SCOPE: &str = "PRINCIPAL_ROLE:ALL";

/// How long a request may take, connection included, unless
/// [`RestCatalog::with_timeout`](super::RestCatalog::with_timeout) says
/// otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of an unparseable body an error quotes.
const BODY_SNIPPET: usize = 300;

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    Json(Bytes),
    Form(String),
}

/// How to read a failed reply of one endpoint: what a 404 and a 409 mean
/// there when the body does not say, and whether it was a commit (whose
/// 5xx leaves the outcome unknown).
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    not_found: ErrorKind,
    conflict: ErrorKind,
    commit: bool,
}

impl Expect {
    /// `/v1/config` and other endpoints whose 404 means a wrong URI.
    pub const SERVICE: Self = Self::new(ErrorKind::Catalog, ErrorKind::Catalog);
    /// Namespace endpoints (a 409 is a create of an existing one).
    pub const NAMESPACE: Self = Self::new(ErrorKind::NamespaceNotFound, ErrorKind::NamespaceAlreadyExists);
    /// `DELETE .../namespaces/{ns}` (a 409 is "not empty").
    pub const DROP_NAMESPACE: Self = Self::new(ErrorKind::NamespaceNotFound, ErrorKind::NamespaceNotEmpty);
    /// Endpoints of one existing table (load, drop, rename).
    pub const TABLE: Self = Self::new(ErrorKind::TableNotFound, ErrorKind::TableAlreadyExists);
    /// Endpoints that add a table to a namespace (create, register).
    pub const NEW_TABLE: Self = Self::new(ErrorKind::NamespaceNotFound, ErrorKind::TableAlreadyExists);
    /// `POST .../tables/{t}`.
    pub const COMMIT: Self = Self {
        commit: true,
        ..Self::new(ErrorKind::TableNotFound, ErrorKind::CommitConflict)
    };

    const fn new(not_found: ErrorKind, conflict: ErrorKind) -> Self {
        Self {
            not_found,
            conflict,
            commit: false,
        }
    }
}

/// A reply of any status, with its body read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
    /// `METHOD url`, for errors.
    request: String,
}

impl Reply {
    /// The reply if its status is 2xx, else the error it describes.
    pub fn ok(self, expect: Expect) -> Result<Self> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(self.error(expect))
        }
    }

    /// The body as `T` (`what` names it for the error).
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::new(
                ErrorKind::Catalog,
                format!("the REST catalog's reply is not a valid {what}"),
            )
            .with_context("request", self.request.as_str())
            .with_context("status", self.status.to_string())
            .with_context("body", snippet(&self.body))
            .with_source(e)
        })
    }

    /// The error a non-2xx reply stands for.
    pub fn error(&self, expect: Expect) -> Error {
        let (server_type, server_message) = error_body(&self.body);
        let typed = |t: &str| server_type.as_deref() == Some(t);
        let code = self.status.as_u16();
        let (kind, retryable, what) = match code {
            404 if typed(error_type::NO_SUCH_NAMESPACE) => (ErrorKind::NamespaceNotFound, false, "not found"),
            404 if typed(error_type::NO_SUCH_TABLE) => (ErrorKind::TableNotFound, false, "not found"),
            404 => (expect.not_found, false, "not found"),
            // A lost compare-and-swap or a failed requirement: nothing was
            // committed, and trying again on fresh metadata may succeed.
            409 if expect.commit || typed(error_type::COMMIT_FAILED) => {
                (ErrorKind::CommitConflict, true, "commit conflict")
            }
            409 if typed(error_type::NAMESPACE_NOT_EMPTY) => (ErrorKind::NamespaceNotEmpty, false, "conflict"),
            409 => (expect.conflict, false, "conflict"),
            400 | 422 => (ErrorKind::InvalidInput, false, "request refused"),
            401 | 403 | 419 => (ErrorKind::Catalog, false, "not authorized"),
            406 | 501 => (ErrorKind::NotSupported, false, "not supported"),
            // The server may or may not have committed: retrying could apply
            // the change twice, so this is not retryable.
            500..=599 if expect.commit => (ErrorKind::Catalog, false, "commit state unknown"),
            503 => (ErrorKind::Catalog, true, "service unavailable"),
            500..=599 => (ErrorKind::Catalog, false, "server error"),
            _ => (ErrorKind::Unexpected, false, "unexpected status"),
        };
        let said = match &server_type {
            Some(t) => format!("{t}: {server_message}"),
            None => server_message,
        };
        Error::new(kind, format!("REST catalog {what} ({}): {said}", self.status))
            .with_retryable(retryable)
            .with_context("request", self.request.as_str())
    }
}

/// The server's error `type` and message: the spec's `ErrorResponse`, an
/// OAuth2 error, or failing both, the start of the body itself.
fn error_body(body: &[u8]) -> (Option<String>, String) {
    if let Ok(e) = serde_json::from_slice::<ErrorResponse>(body) {
        return (Some(e.error.kind), e.error.message);
    }
    if let Ok(e) = serde_json::from_slice::<OAuthError>(body) {
        return (Some(e.error), e.error_description.unwrap_or_default());
    }
    if body.is_empty() {
        return (None, "(empty body)".to_string());
    }
    (None, format!("(not an Iceberg error body) {}", snippet(body)))
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(BODY_SNIPPET) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.into_owned(),
    }
}

/// OAuth2 client credentials: `id:secret`, or a bare secret.
struct Credential {
    id: Option<String>,
    secret: String,
}

impl Credential {
    fn parse(credential: &str) -> Self {
        match credential.split_once(':') {
            Some((id, secret)) => Self {
                id: Some(id.to_string()),
                secret: secret.to_string(),
            },
            None => Self {
                id: None,
                secret: credential.to_string(),
            },
        }
    }
}

/// Sends requests with authentication; see the module docs.
pub struct Transport {
    http: reqwest::Client,
    headers: HeaderMap,
    timeout: Duration,
    token: Mutex<Option<String>>,
    credential: Option<Credential>,
    scope: String,
    token_url: Url,
    /// Held while a token is fetched, so concurrent 401s fetch one.
    refresh: tokio::sync::Mutex<()>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the token or the secret.
        f.debug_struct("Transport")
            .field("token_url", &self.token_url.as_str())
            .field("oauth2", &self.credential.is_some())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport for the catalog at `uri`, configured from `properties`
    /// (`token`, `credential`, `scope`, `oauth2-server-uri`, `header.*`).
    pub fn new(uri: &Url, properties: &HashMap<String, String>) -> Result<Self> {
        let invalid = |what: &str, key: &str| {
            Error::new(ErrorKind::InvalidInput, format!("REST catalog property {what}")).with_context("property", key)
        };
        let mut headers = HeaderMap::new();
        for (key, value) in properties {
            if let Some(name) = key.strip_prefix(super::HEADER_PREFIX) {
                let name =
                    HeaderName::try_from(name).map_err(|e| invalid("is not a header name", key).with_source(e))?;
                let value =
                    HeaderValue::try_from(value).map_err(|e| invalid("is not a header value", key).with_source(e))?;
                headers.insert(name, value);
            }
        }
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        let token_url = match properties.get(super::OAUTH2_SERVER_URI) {
            Some(url) => {
                Url::parse(url).map_err(|e| invalid("is not a URL", super::OAUTH2_SERVER_URI).with_source(e))?
            }
            None => join(uri, "v1/oauth/tokens"),
        };
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("thermocline/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::new(ErrorKind::Unexpected, "could not build the HTTP client").with_source(e))?;
        Ok(Self {
            http,
            headers,
            timeout: DEFAULT_TIMEOUT,
            token: Mutex::new(properties.get(super::TOKEN).cloned()),
            credential: properties.get(super::CREDENTIAL).map(|c| Credential::parse(c)),
            scope: properties
                .get(super::SCOPE)
                .cloned()
                .unwrap_or_else(|| DEFAULT_SCOPE.to_string()),
            token_url,
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The token requests currently carry (for tests).
    #[cfg(test)]
    pub fn current_token(&self) -> Option<String> {
        self.cached()
    }

    fn cached(&self) -> Option<String> {
        self.slot().clone()
    }

    fn slot(&self) -> MutexGuard<'_, Option<String>> {
        // A token or none: no invariant a panic could break.
        self.token.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends `method url` with `body`, authenticated; on a 401 with a
    /// credential to refresh from, sends it once more with a new token.
    pub async fn send(&self, method: Method, url: Url, body: Option<Body>) -> Result<Reply> {
        let token = self.token().await?;
        let reply = self.send_once(&method, &url, body.clone(), token.as_deref()).await?;
        if matches!(reply.status.as_u16(), 401 | 419) && self.credential.is_some() {
            let fresh = self.refresh(token.as_deref()).await?;
            return self.send_once(&method, &url, body, Some(&fresh)).await;
        }
        Ok(reply)
    }

    async fn token(&self) -> Result<Option<String>> {
        match self.cached() {
            Some(token) => Ok(Some(token)),
            None if self.credential.is_some() => Ok(Some(self.refresh(None).await?)),
            None => Ok(None),
        }
    }

    /// A token other than `stale`: the one another request just fetched, or
    /// a new one.
    async fn refresh(&self, stale: Option<&str>) -> Result<String> {
        let _one_at_a_time = self.refresh.lock().await;
        if let Some(current) = self.cached()
            && Some(current.as_str()) != stale
        {
            return Ok(current);
        }
        let fresh = self.fetch_token().await?;
        *self.slot() = Some(fresh.clone());
        Ok(fresh)
    }

    /// The OAuth2 client-credentials exchange.
    async fn fetch_token(&self) -> Result<String> {
        let Some(credential) = &self.credential else {
            return Err(Error::new(
                ErrorKind::Unexpected,
                "no OAuth2 credential to fetch a token with",
            ));
        };
        // Built in a block: the serializer is not `Send`.
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials");
            if let Some(id) = &credential.id {
                form.append_pair("client_id", id);
            }
            form.append_pair("client_secret", &credential.secret);
            form.append_pair("scope", &self.scope);
            form.finish()
        };
        let reply = self
            .send_once(&Method::POST, &self.token_url, Some(Body::Form(form)), None)
            .await?;
        if !reply.status.is_success() {
            let (kind, message) = error_body(&reply.body);
            let said = kind.map_or(message.clone(), |k| format!("{k}: {message}"));
            return Err(Error::new(
                ErrorKind::Catalog,
                format!("OAuth2 token request refused ({}): {said}", reply.status),
            )
            .with_context("request", reply.request.as_str()));
        }
        let token: TokenResponse = reply.json("OAuth2 token response")?;
        if token.access_token.is_empty() {
            return Err(
                Error::new(ErrorKind::Catalog, "OAuth2 token response has an empty access_token")
                    .with_context("request", reply.request.as_str()),
            );
        }
        Ok(token.access_token)
    }

    async fn send_once(&self, method: &Method, url: &Url, body: Option<Body>, token: Option<&str>) -> Result<Reply> {
        let request = format!("{method} {url}");
        let mut builder = self
            .http
            .request(method.clone(), url.clone())
            .headers(self.headers.clone())
            .timeout(self.timeout);
        if let Some(token) = token {
            builder = builder.bearer_auth(token);
        }
        builder = match body {
            Some(Body::Json(bytes)) => builder.header(header::CONTENT_TYPE, "application/json").body(bytes),
            Some(Body::Form(form)) => builder
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form),
            None => builder,
        };
        let failed = |e: reqwest::Error| {
            let message = if e.is_timeout() {
                format!("REST catalog request timed out after {:?}", self.timeout)
            } else if e.is_connect() {
                "could not connect to the REST catalog".to_string()
            } else {
                "REST catalog request failed".to_string()
            };
            Error::new(ErrorKind::Catalog, message)
                .with_context("request", request.as_str())
                .with_source(e)
        };
        let response = builder.send().await.map_err(failed)?;
        let status = response.status();
        let body = response.bytes().await.map_err(failed)?;
        Ok(Reply { status, body, request })
    }
}

/// `base` with `path` (relative, already escaped) appended to its path.
pub fn join(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}/{path}", base.path().trim_end_matches('/'));
    url.set_path(&joined);
    url
}
