//! The HTTP API: `POST /query` and `GET /health` over one warehouse.
//!
//! ```text
//! POST /query   Authorization: Bearer <token>
//!               {"sql": "SELECT * FROM t WHERE id = $1", "params": [7]}
//!   200  {"columns": [...], "rows": [[...]], "row_count": 1, "command": "SELECT 1"}
//!        or, with Accept: application/vnd.apache.arrow.stream, an Arrow IPC stream
//!   4xx/5xx  {"error": {"message": "...", "sqlstate": "42P01", "context": {"table": "t"}}}
//! GET /health   (no token) {"status": "ok", "warehouse": "...", "shard": "local", "hot_lsn": 42}
//! ```
//!
//! The shapes and the value encoding are [`super::json`]'s (shared with the
//! Durable Object); this module adds the network: auth, limits, status codes,
//! content negotiation and logging.
//!
//! - **One request, one session.** Each request runs in a fresh
//!   [`crate::Session`], so nothing carries over between requests: a
//!   `BEGIN` without its `COMMIT` in the same request is rolled back when the
//!   request ends. Several statements in one `sql` run in order (stopping at
//!   the first error, whose statements before it stay committed unless they
//!   were inside `BEGIN ... COMMIT`); the answer is the **last** statement's.
//! - **Runs to the end.** The statements run in a task of their own, so a
//!   client that hangs up does not cancel a write half-way through its
//!   commit; its answer is dropped.
//! - **Auth.** With a token configured, `/query` needs
//!   `Authorization: Bearer <token>` (compared in constant time); otherwise
//!   401 with `WWW-Authenticate: Bearer`. `/health` is open.
//! - **Status.** 400 for the statement's fault (SQL, plan, type, data,
//!   constraint other than unique), 409 for conflicts a retry may resolve
//!   (unique violation, serialization failure, the shard's write lock not
//!   available in time: 55P03), 413 for a body over `max_body_bytes`, 415 for a
//!   body that is not JSON, 500 for the server's fault; see
//!   [`json::http_status`].
//! - **Concurrency.** Requests run in parallel; writers queue on the
//!   warehouse's single hot-tier writer lock and fail with 55P03 (409) after
//!   its lock timeout.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use arrow::datatypes::Schema;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::error::{Error, Result};
use crate::server::HttpConfig;
use crate::server::json::{self, ARROW_STREAM, ErrorResponse, HealthResponse, QueryRequest, QueryResponse};
use crate::session::StatementOutput;
use crate::warehouse::Warehouse;

/// The response header carrying the command tag (`INSERT 0 3`).
pub const COMMAND_HEADER: &str = "x-thermocline-command";

/// SQLSTATEs of errors that are the request's, not a statement's.
mod sqlstate {
    /// A request the API cannot read: bad JSON, wrong route or method.
    pub const PROTOCOL_VIOLATION: &str = "08P01";
    pub const NO_CREDENTIALS: &str = "28000";
    pub const INVALID_PASSWORD: &str = "28P01";
    pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";
    pub const INTERNAL: &str = "XX000";
}

#[derive(Clone)]
struct Api {
    warehouse: Arc<Warehouse>,
    /// The SHA-256 of the configured token: comparing digests takes the same
    /// time whatever the token's length and wherever a guess differs.
    token: Option<[u8; 32]>,
}

/// The API's routes over `warehouse`.
pub fn router(warehouse: Arc<Warehouse>, config: &HttpConfig) -> Router {
    let api = Api {
        warehouse,
        token: config.token.as_deref().map(|t| Sha256::digest(t.as_bytes()).into()),
    };
    let query = Router::new()
        .route("/query", post(query))
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(middleware::from_fn_with_state(api.clone(), require_token));
    Router::new()
        .route("/health", get(health))
        .merge(query)
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn(log_request))
        .with_state(api)
}

/// Serve `router` on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "HTTP API listening");
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::internal(format!("HTTP server: {e}")))
}

/// An error answer: the status and the JSON body.
struct ApiError {
    status: StatusCode,
    body: ErrorResponse,
}

impl ApiError {
    fn new(status: StatusCode, sqlstate: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorResponse::new(sqlstate, message),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let sqlstate = e.kind().sqlstate();
        let mut body = ErrorResponse::new(sqlstate, e.message());
        for (key, value) in e.context() {
            body = body.with_context(*key, value);
        }
        // The source (an I/O error, a SQLite message) is in Display only.
        if let Some(source) = std::error::Error::source(&e) {
            body = body.with_context("source", source);
        }
        Self {
            status: StatusCode::from_u16(json::http_status(sqlstate)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, sqlstate = %self.body.error.sqlstate, message = %self.body.error.message, "request failed");
        } else {
            tracing::debug!(status = %self.status, sqlstate = %self.body.error.sqlstate, message = %self.body.error.message, "request refused");
        }
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

async fn require_token(State(api): State<Api>, request: Request, next: Next) -> Response {
    let Some(expected) = &api.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match given {
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            sqlstate::NO_CREDENTIALS,
            "this API needs a bearer token: send Authorization: Bearer <token>",
        )
        .into_response(),
        Some(token) if !same_digest(&Sha256::digest(token.as_bytes()).into(), expected) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            sqlstate::INVALID_PASSWORD,
            "the bearer token is not valid",
        )
        .into_response(),
        Some(_) => next.run(request).await,
    }
}

/// Constant time: every byte is looked at whatever the first difference.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn query(State(api): State<Api>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    match run_query(api, &headers, body).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn run_query(api: Api, headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            sqlstate::PROGRAM_LIMIT_EXCEEDED,
            "the request body is larger than the server accepts (http.max_body_bytes)",
        ),
        status => ApiError::new(status, sqlstate::PROTOCOL_VIOLATION, rejection.body_text()),
    })?;
    if let Some(content_type) = headers.get(header::CONTENT_TYPE)
        && !is_json(content_type)
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            sqlstate::PROTOCOL_VIOLATION,
            format!(
                "the body must be JSON (Content-Type: application/json), not {}",
                content_type.to_str().unwrap_or("?")
            ),
        ));
    }
    let request: QueryRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            sqlstate::PROTOCOL_VIOLATION,
            format!("the body is not a query request: {e}; expected {{\"sql\": \"...\", \"params\": [...]}}"),
        )
    })?;
    let params = json::param_values(&request.params).map_err(|e| {
        let mut error = ApiError::new(StatusCode::BAD_REQUEST, json::ParamError::SQLSTATE, e.to_string());
        error.body = error.body.with_context("param", format!("${}", e.position));
        error
    })?;
    let arrow = wants_arrow(headers);
    tracing::debug!(sql = %request.sql, params = params.len(), arrow, "query");

    // A task of its own: a client hanging up must not cancel a commit
    // half-way (see the module doc).
    let warehouse = api.warehouse.clone();
    let task = tokio::spawn(async move {
        let session = warehouse.session();
        let mut outputs = session.execute_with_params(&request.sql, params).await?;
        // Only blanks and `;`: an answer with nothing in it.
        let last = outputs.pop().unwrap_or_else(|| StatementOutput {
            tag: String::new(),
            schema: Arc::new(Schema::empty()),
            batches: Vec::new(),
        });
        let body = if arrow {
            Encoded::Arrow(json::arrow_stream(&last.schema, &last.batches).map_err(encode_error)?)
        } else {
            Encoded::Json(QueryResponse::new(last.tag.clone(), &last.schema, &last.batches).map_err(encode_error)?)
        };
        Ok::<_, ApiError>(Answer {
            command: last.tag,
            body,
            warnings: session.take_warnings(),
        })
    });
    let answer = task.await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            sqlstate::INTERNAL,
            format!("query task failed: {e}"),
        )
    })??;
    Ok(answer.into_response())
}

struct Answer {
    command: String,
    body: Encoded,
    /// Sent as `Thermocline-Warning` headers (a partial answer's missing
    /// shards).
    warnings: Vec<String>,
}

enum Encoded {
    Json(QueryResponse),
    Arrow(Vec<u8>),
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Encoded::Json(body) => axum::Json(body).into_response(),
            Encoded::Arrow(bytes) => ([(header::CONTENT_TYPE, ARROW_STREAM)], Body::from(bytes)).into_response(),
        };
        for warning in &self.warnings {
            if let Ok(value) = HeaderValue::from_str(warning) {
                response.headers_mut().append("thermocline-warning", value);
            }
        }
        if let Ok(value) = HeaderValue::from_str(&self.command) {
            response.headers_mut().insert(COMMAND_HEADER, value);
        }
        response
    }
}

fn encode_error(e: arrow::error::ArrowError) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        sqlstate::INTERNAL,
        format!("cannot encode the result: {e}"),
    )
}

fn is_json(content_type: &HeaderValue) -> bool {
    let Ok(text) = content_type.to_str() else {
        return false;
    };
    let essence = text.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json")
}

/// Whether the client asked for an Arrow IPC stream.
fn wants_arrow(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|media| {
            media
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .eq_ignore_ascii_case(ARROW_STREAM)
        })
}

async fn health(State(api): State<Api>) -> Response {
    let warehouse = api.warehouse.clone();
    // A SQLite read: off the async workers.
    let lsn = tokio::task::spawn_blocking(move || warehouse.hot().last_lsn()).await;
    let config = api.warehouse.config();
    let mut health = HealthResponse {
        status: "ok".into(),
        warehouse: config.root.display().to_string(),
        shard: config.shard.clone(),
        hot_lsn: None,
        error: None,
    };
    let status = match lsn {
        Ok(Ok(lsn)) => {
            health.hot_lsn = Some(lsn);
            StatusCode::OK
        }
        Ok(Err(e)) => {
            health.status = "unavailable".into();
            health.error = Some(e.to_string());
            StatusCode::SERVICE_UNAVAILABLE
        }
        Err(e) => {
            health.status = "unavailable".into();
            health.error = Some(e.to_string());
            StatusCode::SERVICE_UNAVAILABLE
        }
    };
    (status, axum::Json(health)).into_response()
}

async fn not_found(request: Request) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        sqlstate::PROTOCOL_VIOLATION,
        format!(
            "no such endpoint: {}; the API has POST /query and GET /health",
            request.uri().path()
        ),
    )
    .into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        sqlstate::PROTOCOL_VIOLATION,
        format!("{} is not allowed on {}", request.method(), request.uri().path()),
    )
    .into_response()
}

async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let response = next.run(request).await;
    let command = response
        .headers()
        .get(COMMAND_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        command,
        elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
        "http request"
    );
    response
}
