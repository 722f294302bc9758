//! pyiceberg's own REST client (`pyiceberg.catalog.rest.RestCatalog`)
//! against our REST catalog server on loopback, over a `SqliteCatalog`:
//! - pyiceberg creates a namespace and a table and appends Arrow rows; our
//!   `RestCatalog` loads the table and sees pyiceberg's snapshot, its row
//!   count, and the rows themselves through a scan;
//! - we create a table and commit appends through our `RestCatalog`;
//!   pyiceberg loads it, sees our snapshot, and plans our files.
//!
//! The server requires OAuth2 client credentials and serves under a prefix,
//! so pyiceberg's token exchange and its use of `/v1/config` are exercised
//! too.
//!
//! The interpreter is `THERMOCLINE_PYTHON` (scripts/setup.sh builds
//! `.venv` with pyiceberg and pyarrow); without it the tests print
//! `SKIPPED` and pass, except under `CI`, where they fail.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, Int64Array, RecordBatch};
use futures::TryStreamExt;
use iceberg::{Catalog, NamespaceIdent, TableIdent};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use serde_json::{Value, json};
use thermocline_catalog::conformance::{append, create_test_table};
use thermocline_catalog::rest::{CREDENTIAL, ServerOptions, router};
use thermocline_catalog::{CommitCatalog, RestCatalog, SqliteCatalog, file_io};
use url::Url;

/// A Python run that takes longer than this is killed and the test fails.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

const CLIENT_ID: &str = "pyiceberg";
const CLIENT_SECRET: &str = "s3cret";
const PREFIX: &str = "thermo";

/// Skips `test` because `what`, or fails it under CI (the rule of the main
/// crate's tests/common/peers.rs).
fn missing<T>(test: &str, what: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: CI is set but {what}: run scripts/setup.sh (scripts/test.sh does)");
    }
    eprintln!("SKIPPED {test}: {what}; run scripts/setup.sh (scripts/test.sh does)");
    None
}

/// The interpreter with pyiceberg and pyarrow: `THERMOCLINE_PYTHON`.
fn python(test: &str) -> Option<PathBuf> {
    match std::env::var_os("THERMOCLINE_PYTHON").filter(|p| !p.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.exists(),
                "THERMOCLINE_PYTHON={} does not exist: run scripts/setup.sh (it builds .venv)",
                path.display()
            );
            Some(path)
        }
        None => missing(test, "THERMOCLINE_PYTHON is unset (set it to .venv/bin/python)"),
    }
}

/// Runs `script` with `job` (JSON) as its argument; returns the JSON it
/// prints, or fails the test with its stderr. Output goes to files, not
/// pipes, so a chatty script cannot block while we poll for the timeout.
fn run_python(python: &Path, scratch: &Path, name: &str, script: &str, job: &Value) -> Value {
    let script_path = scratch.join(format!("{name}.py"));
    std::fs::write(&script_path, script).unwrap();
    let out_path = scratch.join(format!("{name}.stdout"));
    let err_path = scratch.join(format!("{name}.stderr"));
    let mut child = Command::new(python)
        .arg(&script_path)
        .arg(job.to_string())
        .current_dir(scratch)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > SCRIPT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not finish in {SCRIPT_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(
        status.success(),
        "{name} failed ({status})\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}"
    );
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{name} prints one JSON object ({e}); it printed:\n{stdout}\n{stderr}"))
}

/// Our server over a SQLite catalog in a temporary folder, and a
/// `RestCatalog` pointed at it.
struct Harness {
    server: String,
    client: RestCatalog,
    task: tokio::task::JoinHandle<()>,
    dir: tempfile::TempDir,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let root = Url::from_directory_path(dir.path().join("warehouse")).unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new());
    let sqlite = SqliteCatalog::open(
        &dir.path().join("catalog.db"),
        root.clone(),
        file_io(store.clone(), &root),
    )
    .unwrap();
    let options = ServerOptions::new()
        .with_prefix(PREFIX)
        .with_client_credentials(CLIENT_ID, CLIENT_SECRET);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    let app = router(Arc::new(sqlite) as Arc<dyn CommitCatalog>, options);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let credential = format!("{CLIENT_ID}:{CLIENT_SECRET}");
    let client = RestCatalog::new(
        store,
        root,
        &server,
        HashMap::from([(CREDENTIAL.to_string(), credential)]),
    )
    .unwrap();
    Harness {
        server,
        client,
        task,
        dir,
    }
}

impl Harness {
    /// Runs a script on a blocking thread, so this runtime keeps serving it.
    async fn python(&self, python: PathBuf, name: &'static str, script: String, mut job: Value) -> Value {
        job["uri"] = json!(self.server);
        job["credential"] = json!(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
        let scratch = self.dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || run_python(&python, &scratch, name, &script, &job))
            .await
            .unwrap()
    }
}

/// Opens pyiceberg's REST catalog on our server from the job's `uri` and
/// `credential`.
const OPEN: &str = r#"
import json, sys, warnings
warnings.simplefilter("ignore")
from pyiceberg.catalog.rest import RestCatalog

job = json.loads(sys.argv[1])
catalog = RestCatalog("thermocline", uri=job["uri"], credential=job["credential"])
"#;

const PYICEBERG_WRITES: &str = r#"
import pyarrow as pa

catalog.create_namespace("py")
schema = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("name", pa.string())])
table = catalog.create_table("py.events", schema=schema)
table.append(pa.Table.from_pylist([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": None}], schema=schema))
table.append(pa.Table.from_pylist([{"id": 4, "name": "d"}, {"id": 5, "name": "e"}], schema=schema))
table = catalog.load_table("py.events")
print(json.dumps({
    "snapshot_id": table.current_snapshot().snapshot_id,
    "snapshots": len(table.metadata.snapshots),
    "rows": table.scan().to_arrow().num_rows,
    "metadata_location": table.metadata_location,
}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyiceberg_writes_through_our_server_and_we_read_it() {
    let Some(python) = python("pyiceberg_writes_through_our_server_and_we_read_it") else {
        return;
    };
    let h = harness().await;
    let script = format!("{OPEN}{PYICEBERG_WRITES}");
    let out = h.python(python, "pyiceberg_writes", script, json!({})).await;
    assert_eq!(out["rows"], 5, "{out}");
    assert_eq!(out["snapshots"], 2, "{out}");

    let ns = NamespaceIdent::new("py".into());
    let ident = TableIdent::new(ns.clone(), "events".into());
    assert_eq!(h.client.list_tables(&ns).await.unwrap(), vec![ident.clone()]);
    let table = h.client.load_table(&ident).await.unwrap();
    assert_eq!(table.metadata_location(), out["metadata_location"].as_str());
    let snapshot = table.metadata().current_snapshot().unwrap();
    assert_eq!(Some(snapshot.snapshot_id()), out["snapshot_id"].as_i64());
    assert_eq!(table.metadata().snapshots().count(), 2);
    let summary = &snapshot.summary().additional_properties;
    assert_eq!(
        summary.get("total-records").map(String::as_str),
        Some("5"),
        "{summary:?}"
    );

    // The rows themselves, through our object_store FileIO.
    let batches: Vec<RecordBatch> = table
        .scan()
        .build()
        .unwrap()
        .to_arrow()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            let ids = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            assert_eq!(ids.null_count(), 0);
            ids.values().to_vec()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, vec![1, 2, 3, 4, 5]);
}

const PYICEBERG_READS: &str = r#"
table = catalog.load_table(("rs", "t"))
snapshot = table.current_snapshot()
tasks = list(table.scan().plan_files())
print(json.dumps({
    "namespaces": [list(n) for n in catalog.list_namespaces()],
    "children": [list(n) for n in catalog.list_namespaces("rs")],
    "tables": [list(t) for t in catalog.list_tables("rs")],
    "snapshot_id": snapshot.snapshot_id,
    "total_records": snapshot.summary["total-records"],
    "files": sorted(t.file.file_path for t in tasks),
    "planned_records": sum(t.file.record_count for t in tasks),
    "columns": [f.name for f in table.schema().fields],
    "metadata_location": table.metadata_location,
}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_commit_through_our_server_and_pyiceberg_reads_it() {
    let Some(python) = python("we_commit_through_our_server_and_pyiceberg_reads_it") else {
        return;
    };
    let h = harness().await;
    let ns = NamespaceIdent::new("rs".into());
    h.client.create_namespace(&ns, HashMap::new()).await.unwrap();
    h.client
        .create_namespace(&NamespaceIdent::from_strs(["rs", "deep"]).unwrap(), HashMap::new())
        .await
        .unwrap();
    let table = create_test_table(&h.client, &ns, "t").await.unwrap();
    append(&h.client, table.identifier(), "f1").await.unwrap();
    let table = append(&h.client, table.identifier(), "f2").await.unwrap();
    let snapshot_id = table.metadata().current_snapshot_id().unwrap();

    let script = format!("{OPEN}{PYICEBERG_READS}");
    let out = h.python(python, "pyiceberg_reads", script, json!({})).await;
    assert_eq!(out["namespaces"], json!([["rs"]]), "{out}");
    assert_eq!(out["children"], json!([["rs", "deep"]]), "{out}");
    assert_eq!(out["tables"], json!([["rs", "t"]]), "{out}");
    assert_eq!(out["snapshot_id"].as_i64(), Some(snapshot_id), "{out}");
    assert_eq!(out["total_records"], "20", "{out}");
    assert_eq!(out["planned_records"], 20, "{out}");
    let location = table.metadata().location();
    assert_eq!(
        out["files"],
        json!([
            format!("{location}/data/f1.parquet"),
            format!("{location}/data/f2.parquet")
        ]),
        "{out}"
    );
    assert_eq!(out["columns"], json!(["id", "name"]), "{out}");
    assert_eq!(out["metadata_location"].as_str(), table.metadata_location(), "{out}");
}
