//! The REST client against the REST server, both ours, on loopback: the
//! catalog contract (`crate::conformance`) through HTTP over a
//! `SqliteCatalog` and over a `BucketCatalog`; then what only HTTP has —
//! the config prefix and warehouse, bearer tokens, OAuth2 client
//! credentials and their refresh, pagination, escaping, the spec's error
//! bodies — and how the client reports servers that misbehave (stub axum
//! handlers: 500s, garbage JSON, timeouts, a missing `HEAD`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::routing::get;
use iceberg::spec::MAIN_BRANCH;
use iceberg::{Catalog, ErrorKind as K, NamespaceIdent, TableIdent, TableRequirement};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use serde_json::{Value, json};
use url::Url;

use super::*;
use crate::commit::CommitCatalog;
use crate::conformance::{self, append, create_test_table};
use crate::{BucketCatalog, SqliteCatalog, file_io};

/// A server on 127.0.0.1, stopped when dropped.
struct Server {
    uri: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn spawn(router: Router) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Server {
        uri: format!("http://{addr}"),
        task,
    }
}

/// The catalog a server serves, the store and root its tables live in.
struct Backend {
    catalog: Arc<dyn CommitCatalog>,
    store: Arc<dyn ObjectStore>,
    root: Url,
    _dir: tempfile::TempDir,
}

fn local() -> (tempfile::TempDir, Url, Arc<dyn ObjectStore>) {
    let dir = tempfile::tempdir().unwrap();
    let root = Url::from_directory_path(dir.path().join("warehouse")).unwrap();
    (dir, root, Arc::new(LocalFileSystem::new()))
}

fn sqlite() -> Backend {
    let (dir, root, store) = local();
    let catalog = SqliteCatalog::open(
        &dir.path().join("catalog.db"),
        root.clone(),
        file_io(store.clone(), &root),
    )
    .unwrap();
    Backend {
        catalog: Arc::new(catalog),
        store,
        root,
        _dir: dir,
    }
}

fn bucket() -> Backend {
    let (dir, root, store) = local();
    let catalog = BucketCatalog::new(store.clone(), root.clone(), "bucket").unwrap();
    Backend {
        catalog: Arc::new(catalog),
        store,
        root,
        _dir: dir,
    }
}

fn props(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn client(backend: &Backend, server: &Server, pairs: &[(&str, &str)]) -> RestCatalog {
    RestCatalog::new(backend.store.clone(), backend.root.clone(), &server.uri, props(pairs)).unwrap()
}

/// A client for stub servers, whose tables are never read.
fn stub_client(server: &Server, pairs: &[(&str, &str)]) -> RestCatalog {
    let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    RestCatalog::new(store, Url::parse("memory://stub/").unwrap(), &server.uri, props(pairs)).unwrap()
}

fn ns(name: &str) -> NamespaceIdent {
    NamespaceIdent::new(name.to_string())
}

/// Counts requests whose path is `path` (any method).
fn counting(router: Router, path: &'static str) -> (Router, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let router = router.layer(middleware::from_fn(move |request: Request, next: Next| {
        let seen = seen.clone();
        async move {
            if request.uri().path() == path {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            next.run(request).await
        }
    }));
    (router, count)
}

// --- The catalog contract, through HTTP ---

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes_over_sqlite() {
    let backend = sqlite();
    let server = spawn(router(backend.catalog.clone(), ServerOptions::new())).await;
    conformance::run_all(&client(&backend, &server, &[]), "rest_sqlite")
        .await
        .unwrap();
}

/// With a prefix, one-item pages, OAuth2 and a fixed runtime, so every
/// listing of the suite crosses pages and every request carries a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes_over_a_bucket_catalog_with_prefix_pages_and_oauth() {
    let backend = bucket();
    let options = ServerOptions::new()
        .with_prefix("wh/main")
        .with_page_size(1)
        .with_client_credentials("thermo", "cline");
    let server = spawn(router(backend.catalog.clone(), options)).await;
    let catalog = client(&backend, &server, &[(CREDENTIAL, "thermo:cline")])
        .with_runtime(iceberg::Runtime::try_current().unwrap());
    conformance::run_all(&catalog, "rest_bucket").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_from_two_clients_conflict_through_the_server() {
    let backend = sqlite();
    let server = spawn(router(backend.catalog.clone(), ServerOptions::new())).await;
    let (a, b) = (client(&backend, &server, &[]), client(&backend, &server, &[]));
    a.create_namespace(&ns("race"), HashMap::new()).await.unwrap();
    let table = create_test_table(&a, &ns("race"), "t").await.unwrap();
    let empty_main = || TableRequirement::RefSnapshotIdMatch {
        r#ref: MAIN_BRANCH.to_string(),
        snapshot_id: None,
    };
    append(&b, table.identifier(), "f1").await.unwrap();
    let stale = a.commit_table(table.identifier(), vec![empty_main()], vec![]).await;
    let e = stale.unwrap_err();
    assert_eq!(e.kind(), K::CatalogCommitConflicts, "{e}");
    assert!(e.retryable(), "a lost requirement must be retryable: {e}");
    assert!(e.to_string().contains("409"), "{e}");
    assert!(e.to_string().contains("CommitFailedException"), "{e}");
}

// --- Config: prefix and warehouse ---

#[tokio::test]
async fn the_prefix_from_config_is_used_for_every_endpoint() {
    let backend = sqlite();
    let options = ServerOptions::new()
        .with_prefix("acct_bucket")
        .with_warehouse("acct_bucket");
    let (routes, unprefixed) = counting(router(backend.catalog.clone(), options), "/v1/namespaces");
    let server = spawn(routes).await;
    let catalog = client(&backend, &server, &[(WAREHOUSE, "acct_bucket")]);
    assert_eq!(
        catalog.base_url().await.unwrap().as_str(),
        format!("{}/v1/acct_bucket", server.uri)
    );
    catalog.create_namespace(&ns("p"), HashMap::new()).await.unwrap();
    create_test_table(&catalog, &ns("p"), "t").await.unwrap();
    assert_eq!(catalog.list_namespaces(None).await.unwrap(), vec![ns("p")]);
    assert_eq!(unprefixed.load(Ordering::SeqCst), 0);

    // The server really serves only under the prefix.
    let response = reqwest::get(format!("{}/v1/namespaces", server.uri)).await.unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_wrong_warehouse_is_refused_with_the_servers_message() {
    let backend = sqlite();
    let server = spawn(router(
        backend.catalog.clone(),
        ServerOptions::new().with_warehouse("right"),
    ))
    .await;
    let e = client(&backend, &server, &[(WAREHOUSE, "wrong")])
        .list_namespaces(None)
        .await
        .unwrap_err();
    let s = e.to_string();
    assert!(s.contains("unknown warehouse \"wrong\""), "{s}");
    assert!(s.contains("400") && s.contains("/v1/config?warehouse=wrong"), "{s}");
    client(&backend, &server, &[(WAREHOUSE, "right")])
        .list_namespaces(None)
        .await
        .unwrap();
}

// --- Authentication ---

#[tokio::test]
async fn a_bearer_token_is_required_and_checked() {
    let backend = sqlite();
    let server = spawn(router(
        backend.catalog.clone(),
        ServerOptions::new().with_bearer_token("r2-api-token"),
    ))
    .await;
    for pairs in [&[][..], &[(TOKEN, "guess")][..]] {
        let e = client(&backend, &server, pairs)
            .list_namespaces(None)
            .await
            .unwrap_err();
        let s = e.to_string();
        assert!(s.contains("401") && s.contains("NotAuthorizedException"), "{s}");
    }
    let catalog = client(&backend, &server, &[(TOKEN, "r2-api-token")]);
    catalog.create_namespace(&ns("a"), HashMap::new()).await.unwrap();
    assert!(catalog.namespace_exists(&ns("a")).await.unwrap());

    // The refusal is the spec's error body, with a challenge.
    let response = reqwest::get(format!("{}/v1/namespaces", server.uri)).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["type"], "NotAuthorizedException");
    assert_eq!(body["error"]["code"], 401);
}

#[tokio::test]
async fn oauth_client_credentials_are_exchanged_and_a_wrong_secret_refused() {
    let backend = sqlite();
    let server = spawn(router(
        backend.catalog.clone(),
        ServerOptions::new().with_client_credentials("id", "secret"),
    ))
    .await;
    let catalog = client(&backend, &server, &[(CREDENTIAL, "id:secret")]);
    catalog.create_namespace(&ns("o"), HashMap::new()).await.unwrap();
    let token = catalog.transport().current_token().unwrap();
    assert!(!token.is_empty());

    let e = client(&backend, &server, &[(CREDENTIAL, "id:nope")])
        .list_namespaces(None)
        .await
        .unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("OAuth2 token request refused") && s.contains("invalid_client"),
        "{s}"
    );
}

#[tokio::test]
async fn the_token_request_carries_the_credential_and_the_default_scope() {
    let forms = Arc::new(Mutex::new(Vec::new()));
    let recorded = forms.clone();
    let stub = Router::new()
        .route(
            "/v1/oauth/tokens",
            axum::routing::post(move |body: String| {
                recorded.lock().unwrap().push(body);
                async { axum::Json(json!({"access_token": "t1", "token_type": "bearer"})) }
            }),
        )
        .route(
            "/v1/config",
            get(|headers: axum::http::HeaderMap| async move {
                match headers.get("authorization").map(|v| v.to_str().unwrap().to_string()) {
                    Some(auth) if auth == "Bearer t1" => axum::Json(json!({})).into_response(),
                    _ => StatusCode::UNAUTHORIZED.into_response(),
                }
            }),
        );
    let server = spawn(stub).await;
    stub_client(&server, &[(CREDENTIAL, "client:s3cret")])
        .base_url()
        .await
        .unwrap();
    let forms = forms.lock().unwrap().clone();
    assert_eq!(forms.len(), 1, "{forms:?}");
    let form: HashMap<String, String> = url::form_urlencoded::parse(forms[0].as_bytes()).into_owned().collect();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], "client");
    assert_eq!(form["client_secret"], "s3cret");
    assert_eq!(form["scope"], DEFAULT_SCOPE);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_on_401() {
    let backend = sqlite();
    let options = ServerOptions::new()
        .with_client_credentials("id", "secret")
        .with_token_ttl(Duration::from_millis(300));
    let (routes, token_requests) = counting(router(backend.catalog.clone(), options), "/v1/oauth/tokens");
    let server = spawn(routes).await;
    let catalog = client(&backend, &server, &[(CREDENTIAL, "id:secret")]);
    catalog.create_namespace(&ns("r"), HashMap::new()).await.unwrap();
    let first = catalog.transport().current_token().unwrap();
    assert_eq!(token_requests.load(Ordering::SeqCst), 1);

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(catalog.namespace_exists(&ns("r")).await.unwrap());
    let second = catalog.transport().current_token().unwrap();
    assert_ne!(first, second, "the expired token was not replaced");
    assert_eq!(token_requests.load(Ordering::SeqCst), 2);
}

// --- Pagination and names ---

#[tokio::test]
async fn lists_cross_pages_when_the_server_limits_them() {
    let backend = sqlite();
    let (routes, list_requests) = counting(
        router(backend.catalog.clone(), ServerOptions::new().with_page_size(2)),
        "/v1/namespaces",
    );
    let server = spawn(routes).await;
    let catalog = client(&backend, &server, &[]);
    let names: Vec<NamespaceIdent> = (0..5).map(|i| ns(&format!("n{i}"))).collect();
    for n in &names {
        catalog.create_namespace(n, HashMap::new()).await.unwrap();
    }
    for i in 0..5 {
        create_test_table(&catalog, &names[0], &format!("t{i}")).await.unwrap();
    }
    let before = list_requests.load(Ordering::SeqCst);
    let mut listed = catalog.list_namespaces(None).await.unwrap();
    listed.sort();
    assert_eq!(listed, names);
    assert_eq!(
        list_requests.load(Ordering::SeqCst) - before,
        3,
        "5 namespaces in pages of 2"
    );
    assert_eq!(catalog.list_tables(&names[0]).await.unwrap().len(), 5);

    // A client that does not ask for pages gets everything at once.
    let response = reqwest::get(format!("{}/v1/namespaces", server.uri)).await.unwrap();
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["namespaces"].as_array().unwrap().len(), 5);
    assert!(body.get("next-page-token").is_none(), "{body}");
}

#[tokio::test]
async fn the_client_asks_for_its_own_page_size() {
    let backend = sqlite();
    let (routes, list_requests) = counting(router(backend.catalog.clone(), ServerOptions::new()), "/v1/namespaces");
    let server = spawn(routes).await;
    let catalog = client(&backend, &server, &[(PAGE_SIZE, "1")]);
    for i in 0..3 {
        catalog
            .create_namespace(&ns(&format!("n{i}")), HashMap::new())
            .await
            .unwrap();
    }
    let before = list_requests.load(Ordering::SeqCst);
    assert_eq!(catalog.list_namespaces(None).await.unwrap().len(), 3);
    assert_eq!(list_requests.load(Ordering::SeqCst) - before, 3);
}

#[tokio::test]
async fn odd_names_and_nested_namespaces_survive_the_path() {
    let backend = sqlite();
    let server = spawn(router(backend.catalog.clone(), ServerOptions::new())).await;
    let catalog = client(&backend, &server, &[]);
    let parent = NamespaceIdent::from_strs(["a b", "c/d"]).unwrap();
    let child = NamespaceIdent::from_strs(["a b", "c/d", "50%?#"]).unwrap();
    catalog
        .create_namespace(&NamespaceIdent::new("a b".into()), HashMap::new())
        .await
        .unwrap();
    catalog.create_namespace(&parent, HashMap::new()).await.unwrap();
    let props = HashMap::from([("k".to_string(), "v&w".to_string())]);
    catalog.create_namespace(&child, props.clone()).await.unwrap();
    assert!(catalog.namespace_exists(&child).await.unwrap());
    assert_eq!(catalog.get_namespace(&child).await.unwrap().properties(), &props);
    assert_eq!(
        catalog.list_namespaces(Some(&parent)).await.unwrap(),
        vec![child.clone()]
    );

    let table = TableIdent::new(child.clone(), "t x/y".into());
    create_test_table(&catalog, &child, "t x/y").await.unwrap();
    assert!(catalog.table_exists(&table).await.unwrap());
    assert_eq!(catalog.list_tables(&child).await.unwrap(), vec![table.clone()]);
    append(&catalog, &table, "f").await.unwrap();
    assert!(
        backend
            .catalog
            .load_table(&table)
            .await
            .unwrap()
            .metadata()
            .current_snapshot()
            .is_some()
    );

    let e = catalog.create_namespace(&ns(".."), HashMap::new()).await.unwrap_err();
    assert_eq!(e.kind(), K::DataInvalid, "{e}");
}

// --- The server's answers, seen raw ---

#[tokio::test]
async fn the_server_answers_with_the_specs_statuses_and_error_bodies() {
    let backend = sqlite();
    let server = spawn(router(backend.catalog.clone(), ServerOptions::new())).await;
    let http = reqwest::Client::new();
    let at = |path: &str| format!("{}/v1/{path}", server.uri);
    let send = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, body)
    };
    let create = json!({"namespace": ["s"], "properties": {"owner": "me"}});
    let (status, body) = send(http.post(at("namespaces")).body(create.to_string())).await;
    assert_eq!((status, &body["properties"]["owner"]), (200, &json!("me")), "{body}");
    let (status, body) = send(http.post(at("namespaces")).body(create.to_string())).await;
    assert_eq!(
        (status, &body["error"]["type"]),
        (409, &json!("AlreadyExistsException")),
        "{body}"
    );
    assert_eq!(send(http.head(at("namespaces/s"))).await.0, 204);
    assert_eq!(send(http.head(at("namespaces/zz"))).await.0, 404);
    let (status, body) = send(http.get(at("namespaces/zz"))).await;
    assert_eq!(
        (status, &body["error"]["type"]),
        (404, &json!("NoSuchNamespaceException")),
        "{body}"
    );
    let (status, body) = send(http.get(at("namespaces/s/tables/zz"))).await;
    assert_eq!(
        (status, &body["error"]["type"]),
        (404, &json!("NoSuchTableException")),
        "{body}"
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("zz"), "{body}");
    let (status, body) = send(http.post(at("namespaces/s/tables")).body("{not json")).await;
    assert_eq!(
        (status, &body["error"]["type"]),
        (400, &json!("BadRequestException")),
        "{body}"
    );
    assert_eq!(body["error"]["code"], 400);
    let update = json!({"removals": ["owner"], "updates": {"owner": "x"}});
    let (status, _) = send(http.post(at("namespaces/s/properties")).body(update.to_string())).await;
    assert_eq!(status, 422);
    let update = json!({"removals": ["owner", "ghost"], "updates": {"team": "db"}});
    let (status, body) = send(http.post(at("namespaces/s/properties")).body(update.to_string())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"updated": ["team"], "removed": ["owner"], "missing": ["ghost"]})
    );
    let (status, body) = send(http.get(at("views"))).await;
    assert_eq!(
        (status, &body["error"]["type"]),
        (404, &json!("NotFoundException")),
        "{body}"
    );

    // A table in the namespace: dropping it is refused while it is there.
    let catalog = client(&backend, &server, &[]);
    create_test_table(&catalog, &ns("s"), "t").await.unwrap();
    let (status, body) = send(http.delete(at("namespaces/s"))).await;
    assert_eq!(
        (status, &body["error"]["type"]),
        (409, &json!("NamespaceNotEmptyException")),
        "{body}"
    );
    let e = catalog.drop_namespace(&ns("s")).await.unwrap_err();
    assert_eq!(e.kind(), K::PreconditionFailed, "{e}");
    let (status, body) = send(http.get(at("config"))).await;
    assert_eq!(status, 200);
    assert!(
        body["endpoints"]
            .as_array()
            .unwrap()
            .contains(&json!("POST /v1/{prefix}/tables/rename"))
    );
}

// --- Misbehaving servers ---

fn commit_failed() -> axum::response::Response {
    let body = json!({"error": {"message": "requirement failed", "type": "CommitFailedException", "code": 409}});
    (StatusCode::CONFLICT, axum::Json(body)).into_response()
}

fn misbehaving() -> Router {
    Router::new()
        .route("/v1/config", get(|| async { axum::Json(json!({"defaults": null})) }))
        .route(
            "/v1/namespaces",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "database on fire") }),
        )
        .route("/v1/namespaces/{ns}", get(|| async { (StatusCode::OK, "{not json") }))
        .route(
            "/v1/namespaces/{ns}/tables/{t}",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                StatusCode::OK
            })
            .post(|Path((_, t)): Path<(String, String)>| async move {
                match t.as_str() {
                    "conflict" => commit_failed(),
                    _ => (StatusCode::BAD_GATEWAY, "upstream went away").into_response(),
                }
            }),
        )
}

#[tokio::test]
async fn a_500_names_the_request_the_status_and_the_body() {
    let server = spawn(misbehaving()).await;
    let e = stub_client(&server, &[]).list_namespaces(None).await.unwrap_err();
    let s = e.to_string();
    assert!(s.contains(&format!("GET {}/v1/namespaces", server.uri)), "{s}");
    assert!(s.contains("500 Internal Server Error"), "{s}");
    assert!(s.contains("database on fire"), "{s}");
}

#[tokio::test]
async fn garbage_json_is_a_clear_error() {
    let server = spawn(misbehaving()).await;
    let e = stub_client(&server, &[]).get_namespace(&ns("x")).await.unwrap_err();
    let s = e.to_string();
    assert!(s.contains("not a valid namespace"), "{s}");
    assert!(s.contains("{not json") && s.contains("/v1/namespaces/x"), "{s}");

    let garbage_config = Router::new().route("/v1/config", get(|| async { "<html>login</html>" }));
    let server = spawn(garbage_config).await;
    let e = stub_client(&server, &[]).list_namespaces(None).await.unwrap_err();
    assert!(e.to_string().contains("not a valid catalog config"), "{e}");
}

#[tokio::test]
async fn commit_replies_map_to_conflict_or_unknown_state() {
    let server = spawn(misbehaving()).await;
    let catalog = stub_client(&server, &[]);
    let e = catalog
        .commit_table(&TableIdent::new(ns("n"), "conflict".into()), vec![], vec![])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), K::CatalogCommitConflicts, "{e}");
    assert!(e.retryable());
    let e = catalog
        .commit_table(&TableIdent::new(ns("n"), "t".into()), vec![], vec![])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), K::Unexpected, "{e}");
    assert!(
        !e.retryable(),
        "a commit whose outcome is unknown must not be retried: {e}"
    );
    assert!(e.to_string().contains("commit state unknown"), "{e}");
    assert!(e.to_string().contains("upstream went away"), "{e}");
}

#[tokio::test]
async fn a_slow_server_times_out_naming_the_url() {
    let server = spawn(misbehaving()).await;
    let catalog = stub_client(&server, &[]).with_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let e = catalog
        .load_table(&TableIdent::new(ns("n"), "t".into()))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(10));
    let s = e.to_string();
    assert!(
        s.contains("timed out") && s.contains("/v1/namespaces/n/tables/t"),
        "{s}"
    );
}

#[tokio::test]
async fn an_unreachable_server_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let catalog = RestCatalog::new(store, Url::parse("memory://x/").unwrap(), &uri, HashMap::new()).unwrap();
    let e = catalog.list_namespaces(None).await.unwrap_err();
    let s = e.to_string();
    assert!(s.contains("could not connect") && s.contains(&uri), "{s}");
}

#[tokio::test]
async fn exists_falls_back_to_get_when_head_is_not_allowed() {
    let heads = Arc::new(AtomicUsize::new(0));
    let counted = heads.clone();
    let stub = Router::new()
        .route("/v1/config", get(|| async { axum::Json(json!({})) }))
        .route(
            "/v1/namespaces/{ns}",
            get(|Path(ns): Path<String>| async move {
                if ns == "yes" {
                    axum::Json(json!({"namespace": ["yes"]})).into_response()
                } else {
                    StatusCode::NOT_FOUND.into_response()
                }
            })
            .head(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { StatusCode::METHOD_NOT_ALLOWED }
            }),
        );
    let server = spawn(stub).await;
    let catalog = stub_client(&server, &[]);
    assert!(catalog.namespace_exists(&ns("yes")).await.unwrap());
    assert!(!catalog.namespace_exists(&ns("no")).await.unwrap());
    assert_eq!(heads.load(Ordering::SeqCst), 2);
    // A namespace without properties (`properties` absent) reads as empty.
    assert!(catalog.get_namespace(&ns("yes")).await.unwrap().properties().is_empty());
}

#[test]
fn debug_output_hides_secrets() {
    let store: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
    let catalog = RestCatalog::new(
        store,
        Url::parse("memory://x/").unwrap(),
        "https://catalog.example/acct/bucket",
        props(&[(TOKEN, "tok-123"), (CREDENTIAL, "id:sec-456")]),
    )
    .unwrap();
    let s = format!("{catalog:?}");
    assert!(!s.contains("tok-123") && !s.contains("sec-456"), "{s}");
    let options = ServerOptions::new()
        .with_bearer_token("tok-123")
        .with_client_credentials("id", "sec-456");
    let s = format!("{options:?}");
    assert!(!s.contains("tok-123") && !s.contains("sec-456"), "{s}");
}
