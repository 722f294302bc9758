//! An Iceberg REST catalog server over any [`CommitCatalog`], as an axum
//! [`Router`]: what lets pyiceberg, Spark or DuckDB use a thermocline
//! catalog through the protocol they already speak.
//!
//! It serves `GET /v1/config`, the namespace and table endpoints under
//! `/v1[/{prefix}]` (list, create, load, exists, update properties, drop;
//! list, create, load, exists, commit, drop/purge, register, rename) and,
//! when a client credential is configured, `POST /v1/oauth/tokens`.
//!
//! # What it guarantees
//!
//! - **It adds no semantics of its own to a commit**: `POST .../tables/{t}`
//!   is one call to [`CommitCatalog::commit_table`], so a commit is as
//!   atomic and as conflict-checked as the catalog behind it; a lost
//!   compare-and-swap or a failed requirement is a 409
//!   `CommitFailedException`, which clients retry on fresh metadata.
//! - **Errors have the spec's status and body**: 404
//!   `NoSuchNamespaceException` / `NoSuchTableException`, 409
//!   `AlreadyExistsException` / `CommitFailedException` /
//!   `NamespaceNotEmptyException`, 400 `BadRequestException` (malformed
//!   bodies included), 406 `UnsupportedOperationException`, 401
//!   `NotAuthorizedException`, 500 for the rest; the message is the
//!   catalog's own, naming the table or namespace.
//! - **With a bearer token or client credential configured, every request
//!   but the token exchange needs `Authorization: Bearer <token>`**, either
//!   the static token or one the token endpoint issued and that has not
//!   expired.
//! - Lists paginate only for a client that asks to (`pageToken` or
//!   `pageSize` present), so a client that cannot paginate gets everything.
//!   Page tokens are the last key returned, so a listing stays correct while
//!   names are added or dropped between pages.
//!
//! Not atomic: `POST .../properties` reads the properties and writes back
//! the whole set (`Catalog::update_namespace` replaces them all).

mod auth;
mod options;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use iceberg::spec::FormatVersion;
use iceberg::table::Table;
use iceberg::{ErrorKind as K, NamespaceIdent, TableCreation, TableIdent};
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::auth::{authenticate, issue_token};
pub use self::options::ServerOptions;
use super::wire::{
    CatalogConfig, CommitTableRequest, CommitTableResponse, CreateNamespaceRequest, CreateTableRequest, ErrorModel,
    ErrorResponse, ListNamespacesResponse, ListTablesResponse, LoadTableResult, NamespaceResponse,
    RegisterTableRequest, RenameTableRequest, UpdateNamespacePropertiesRequest, UpdateNamespacePropertiesResponse,
    error_type,
};
use crate::commit::CommitCatalog;

/// The endpoints `/v1/config` advertises, in the spec's notation.
const ENDPOINTS: [&str; 14] = [
    "GET /v1/{prefix}/namespaces",
    "POST /v1/{prefix}/namespaces",
    "GET /v1/{prefix}/namespaces/{namespace}",
    "HEAD /v1/{prefix}/namespaces/{namespace}",
    "DELETE /v1/{prefix}/namespaces/{namespace}",
    "POST /v1/{prefix}/namespaces/{namespace}/properties",
    "GET /v1/{prefix}/namespaces/{namespace}/tables",
    "POST /v1/{prefix}/namespaces/{namespace}/tables",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/register",
    "POST /v1/{prefix}/tables/rename",
];

struct ServerState {
    catalog: Arc<dyn CommitCatalog>,
    options: ServerOptions,
    /// Issued tokens and when they expire.
    issued: Mutex<HashMap<String, Instant>>,
}

type Shared = Arc<ServerState>;

/// The REST catalog over `catalog`; see the module docs. Serve it with
/// `axum::serve(listener, router(...))`.
pub fn router(catalog: Arc<dyn CommitCatalog>, options: ServerOptions) -> Router {
    let api = Router::new()
        .route("/namespaces", get(list_namespaces).post(create_namespace))
        .route(
            "/namespaces/{namespace}",
            get(load_namespace).head(namespace_exists).delete(drop_namespace),
        )
        .route("/namespaces/{namespace}/properties", post(update_properties))
        .route("/namespaces/{namespace}/tables", get(list_tables).post(create_table))
        .route(
            "/namespaces/{namespace}/tables/{table}",
            get(load_table).head(table_exists).post(commit_table).delete(drop_table),
        )
        .route("/namespaces/{namespace}/register", post(register_table))
        .route("/tables/rename", post(rename_table));
    let mut v1 = Router::new().route("/config", get(config));
    if options.client.is_some() {
        v1 = v1.route("/oauth/tokens", post(issue_token));
    }
    let v1 = match &options.prefix {
        Some(prefix) => v1.nest(&format!("/{prefix}"), api),
        None => v1.merge(api),
    };
    let state = Arc::new(ServerState {
        catalog,
        options,
        issued: Mutex::new(HashMap::new()),
    });
    Router::new()
        .nest("/v1", v1)
        .fallback(no_such_endpoint)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .with_state(state)
}

// --- Errors ---

/// An error reply in the spec's shape.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    kind: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error_type::BAD_REQUEST, message)
    }
}

impl From<iceberg::Error> for ApiError {
    fn from(e: iceberg::Error) -> Self {
        let (status, kind) = match e.kind() {
            K::NamespaceNotFound => (StatusCode::NOT_FOUND, error_type::NO_SUCH_NAMESPACE),
            K::TableNotFound => (StatusCode::NOT_FOUND, error_type::NO_SUCH_TABLE),
            K::NamespaceAlreadyExists | K::TableAlreadyExists => (StatusCode::CONFLICT, error_type::ALREADY_EXISTS),
            K::CatalogCommitConflicts => (StatusCode::CONFLICT, error_type::COMMIT_FAILED),
            // Our catalogs' only precondition: a namespace must be empty to drop.
            K::PreconditionFailed => (StatusCode::CONFLICT, error_type::NAMESPACE_NOT_EMPTY),
            K::DataInvalid => (StatusCode::BAD_REQUEST, error_type::BAD_REQUEST),
            K::FeatureUnsupported => (StatusCode::NOT_ACCEPTABLE, error_type::UNSUPPORTED),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, error_type::INTERNAL),
        };
        if status.is_server_error() {
            tracing::warn!(error = %e, "REST catalog request failed");
        }
        Self::new(status, kind, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorResponse {
            error: ErrorModel {
                message: self.message,
                kind: self.kind.to_string(),
                code: self.status.as_u16(),
                stack: None,
            },
        };
        let mut response = json(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

type Reply = Result<Response, ApiError>;

fn json(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (status, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "could not serialize a REST catalog response");
            let body = format!(
                r#"{{"error":{{"message":"could not serialize the response","type":"{}","code":500}}}}"#,
                error_type::INTERNAL
            );
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response()
        }
    }
}

fn ok(value: &impl Serialize) -> Reply {
    Ok(json(StatusCode::OK, value))
}

fn no_content() -> Reply {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A JSON body, or a 400 that says what is wrong with it.
fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("malformed {what}: {e}")))
}

async fn no_such_endpoint(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        error_type::NOT_FOUND,
        format!("no such endpoint: {method} {}", uri.path()),
    )
}

// --- Names and pages ---

/// A namespace from its path segment (already unescaped by the router):
/// parts joined by the 0x1F unit separator.
fn path_namespace(segment: &str) -> Result<NamespaceIdent, ApiError> {
    let parts: Vec<String> = segment.split('\u{1f}').map(str::to_string).collect();
    if parts.iter().any(String::is_empty) {
        return Err(ApiError::bad_request(format!(
            "namespace {segment:?} has an empty part"
        )));
    }
    NamespaceIdent::from_vec(parts).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn check_namespace(ns: &NamespaceIdent) -> Result<(), ApiError> {
    if ns.is_empty() || ns.iter().any(String::is_empty) {
        return Err(ApiError::bad_request(format!(
            "namespace {:?} is empty or has an empty part",
            ns.as_ref()
        )));
    }
    Ok(())
}

fn check_table(ident: &TableIdent) -> Result<(), ApiError> {
    check_namespace(ident.namespace())?;
    if ident.name().is_empty() {
        return Err(ApiError::bad_request("table name is empty"));
    }
    Ok(())
}

fn path_table(ns: &str, table: String) -> Result<TableIdent, ApiError> {
    let ident = TableIdent::new(path_namespace(ns)?, table);
    check_table(&ident)?;
    Ok(ident)
}

/// `items` sorted by `key`, the page after `pageToken`, and the token of
/// the next page; everything when the client did not ask for pages.
fn paginate<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    query: &HashMap<String, String>,
    max: Option<usize>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let requested = match query.get("pageSize") {
        Some(size) => Some(
            size.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ApiError::bad_request(format!("pageSize must be a positive integer, not {size:?}")))?,
        ),
        None => None,
    };
    let token = query.get("pageToken");
    let mut keyed: Vec<(String, T)> = items.into_iter().map(|i| (key(&i), i)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    if token.is_none() && requested.is_none() {
        return Ok((keyed.into_iter().map(|(_, i)| i).collect(), None));
    }
    let size = requested.into_iter().chain(max).min().unwrap_or(usize::MAX);
    let start = match token.filter(|t| !t.is_empty()) {
        Some(after) => keyed.partition_point(|(k, _)| k.as_str() <= after.as_str()),
        None => 0,
    };
    let mut page: Vec<(String, T)> = keyed.into_iter().skip(start).collect();
    let more = page.len() > size;
    page.truncate(size);
    let next = if more {
        page.last().map(|(k, _)| k.clone())
    } else {
        None
    };
    Ok((page.into_iter().map(|(_, i)| i).collect(), next))
}

fn load_result(table: &Table) -> LoadTableResult {
    LoadTableResult {
        metadata_location: table.metadata_location().map(str::to_string),
        metadata: table.metadata().clone(),
        config: HashMap::new(),
    }
}

// --- Handlers ---

async fn config(State(state): State<Shared>, Query(query): Query<HashMap<String, String>>) -> Reply {
    if let (Some(served), Some(asked)) = (&state.options.warehouse, query.get("warehouse"))
        && served != asked
    {
        return Err(ApiError::bad_request(format!(
            "unknown warehouse {asked:?}: this catalog serves {served:?}"
        )));
    }
    let overrides = state
        .options
        .prefix
        .iter()
        .map(|p| (super::PREFIX.to_string(), p.clone()))
        .collect();
    ok(&CatalogConfig {
        defaults: state.options.defaults.clone(),
        overrides,
        endpoints: Some(ENDPOINTS.iter().map(|e| e.to_string()).collect()),
    })
}

async fn list_namespaces(State(state): State<Shared>, Query(query): Query<HashMap<String, String>>) -> Reply {
    // `parent` is the namespace as a path would carry it (parts escaped,
    // joined by the separator), then query-escaped: unescape once more.
    let parent = match query.get("parent").filter(|p| !p.is_empty()) {
        Some(raw) => {
            let decoded = percent_decode_str(raw)
                .decode_utf8()
                .map_err(|e| ApiError::bad_request(format!("parent is not UTF-8: {e}")))?;
            Some(path_namespace(&decoded)?)
        }
        None => None,
    };
    let found = state.catalog.list_namespaces(parent.as_ref()).await?;
    let (namespaces, next_page_token) = paginate(found, |ns| ns.join("\u{1f}"), &query, state.options.page_size)?;
    ok(&ListNamespacesResponse {
        namespaces,
        next_page_token,
    })
}

async fn create_namespace(State(state): State<Shared>, body: Bytes) -> Reply {
    let request: CreateNamespaceRequest = parse(&body, "create-namespace request")?;
    check_namespace(&request.namespace)?;
    let created = state
        .catalog
        .create_namespace(&request.namespace, request.properties)
        .await?;
    ok(&NamespaceResponse {
        namespace: created.name().clone(),
        properties: Some(created.properties().clone()),
    })
}

async fn load_namespace(State(state): State<Shared>, Path(ns): Path<String>) -> Reply {
    let ns = path_namespace(&ns)?;
    let found = state.catalog.get_namespace(&ns).await?;
    ok(&NamespaceResponse {
        namespace: ns,
        properties: Some(found.properties().clone()),
    })
}

async fn namespace_exists(State(state): State<Shared>, Path(ns): Path<String>) -> Reply {
    let ns = path_namespace(&ns)?;
    if state.catalog.namespace_exists(&ns).await? {
        no_content()
    } else {
        Ok(StatusCode::NOT_FOUND.into_response())
    }
}

async fn drop_namespace(State(state): State<Shared>, Path(ns): Path<String>) -> Reply {
    state.catalog.drop_namespace(&path_namespace(&ns)?).await?;
    no_content()
}

async fn update_properties(State(state): State<Shared>, Path(ns): Path<String>, body: Bytes) -> Reply {
    let ns = path_namespace(&ns)?;
    let request: UpdateNamespacePropertiesRequest = parse(&body, "update-namespace-properties request")?;
    if let Some(both) = request.removals.iter().find(|k| request.updates.contains_key(*k)) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            error_type::UNPROCESSABLE,
            format!("property {both:?} is both updated and removed"),
        ));
    }
    let mut properties = state.catalog.get_namespace(&ns).await?.properties().clone();
    let (removed, missing): (Vec<String>, Vec<String>) =
        request.removals.into_iter().partition(|k| properties.contains_key(k));
    for key in &removed {
        properties.remove(key);
    }
    let mut updated: Vec<String> = request.updates.keys().cloned().collect();
    updated.sort();
    properties.extend(request.updates);
    state.catalog.update_namespace(&ns, properties).await?;
    ok(&UpdateNamespacePropertiesResponse {
        updated,
        removed,
        missing,
    })
}

async fn list_tables(
    State(state): State<Shared>,
    Path(ns): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Reply {
    let ns = path_namespace(&ns)?;
    let found = state.catalog.list_tables(&ns).await?;
    let (identifiers, next_page_token) = paginate(found, |t| t.name().to_string(), &query, state.options.page_size)?;
    ok(&ListTablesResponse {
        identifiers,
        next_page_token,
    })
}

async fn create_table(State(state): State<Shared>, Path(ns): Path<String>, body: Bytes) -> Reply {
    let ns = path_namespace(&ns)?;
    let request: CreateTableRequest = parse(&body, "create-table request")?;
    if request.stage_create {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            error_type::UNSUPPORTED,
            "staged table creation (stage-create) is not supported",
        ));
    }
    check_table(&TableIdent::new(ns.clone(), request.name.clone()))?;
    let mut properties = request.properties;
    // A reserved property: it picks the version and is not stored.
    let format_version = match properties.remove("format-version").as_deref() {
        None | Some("2") => FormatVersion::V2,
        Some("1") => FormatVersion::V1,
        Some("3") => FormatVersion::V3,
        Some(other) => return Err(ApiError::bad_request(format!("unknown format-version {other:?}"))),
    };
    let creation = TableCreation {
        name: request.name,
        location: request.location,
        schema: request.schema,
        partition_spec: request.partition_spec,
        sort_order: request.write_order,
        properties,
        format_version,
    };
    let table = state.catalog.create_table(&ns, creation).await?;
    ok(&load_result(&table))
}

async fn load_table(State(state): State<Shared>, Path((ns, table)): Path<(String, String)>) -> Reply {
    let ident = path_table(&ns, table)?;
    let table = state.catalog.load_table(&ident).await?;
    ok(&load_result(&table))
}

async fn table_exists(State(state): State<Shared>, Path((ns, table)): Path<(String, String)>) -> Reply {
    let ident = path_table(&ns, table)?;
    if state.catalog.table_exists(&ident).await? {
        no_content()
    } else {
        Ok(StatusCode::NOT_FOUND.into_response())
    }
}

async fn commit_table(State(state): State<Shared>, Path((ns, table)): Path<(String, String)>, body: Bytes) -> Reply {
    let ident = path_table(&ns, table)?;
    let request: CommitTableRequest = parse(&body, "commit-table request")?;
    if let Some(named) = &request.identifier
        && named != &ident
    {
        return Err(ApiError::bad_request(format!(
            "the request names table {named} but was sent to {ident}"
        )));
    }
    let table = state
        .catalog
        .commit_table(&ident, request.requirements, request.updates)
        .await?;
    let Some(metadata_location) = table.metadata_location() else {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            error_type::INTERNAL,
            format!("the catalog committed {ident} but returned no metadata location"),
        ));
    };
    ok(&CommitTableResponse {
        metadata_location: metadata_location.to_string(),
        metadata: table.metadata().clone(),
    })
}

async fn drop_table(
    State(state): State<Shared>,
    Path((ns, table)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Reply {
    let ident = path_table(&ns, table)?;
    // pyiceberg sends Python's `True`/`False`.
    let purge = match query.get("purgeRequested").map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "purgeRequested must be true or false, not {other:?}"
            )));
        }
    };
    if purge {
        state.catalog.purge_table(&ident).await?;
    } else {
        state.catalog.drop_table(&ident).await?;
    }
    no_content()
}

async fn register_table(State(state): State<Shared>, Path(ns): Path<String>, body: Bytes) -> Reply {
    let ns = path_namespace(&ns)?;
    let request: RegisterTableRequest = parse(&body, "register-table request")?;
    if request.overwrite {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            error_type::UNSUPPORTED,
            "registering over an existing table (overwrite) is not supported",
        ));
    }
    let ident = TableIdent::new(ns, request.name);
    check_table(&ident)?;
    let table = state.catalog.register_table(&ident, request.metadata_location).await?;
    ok(&load_result(&table))
}

async fn rename_table(State(state): State<Shared>, body: Bytes) -> Reply {
    let request: RenameTableRequest = parse(&body, "rename-table request")?;
    check_table(&request.source)?;
    check_table(&request.destination)?;
    state
        .catalog
        .rename_table(&request.source, &request.destination)
        .await?;
    no_content()
}
