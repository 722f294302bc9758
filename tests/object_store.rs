//! Table data on S3: the same workload against a local folder and against
//! an S3-compatible server on loopback (moto's server, from PyPI, started
//! here) must give the same answers, leave the data in the bucket, and be
//! readable by pyiceberg through S3.

mod common;
#[path = "common/peers.rs"]
mod peers;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Row, rows};
use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt};
use thermocline::config::Durability;
use thermocline::store::{S3Config, StorageConfig};
use thermocline::write::MaintenanceOptions;
use thermocline::{CompactionMode, Warehouse, WarehouseConfig};

/// moto's S3 server on a free loopback port, killed on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start(python: &Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = Command::new(python)
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto.server");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "moto.server did not listen on {port} within 120 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    fn storage(&self) -> StorageConfig {
        StorageConfig {
            s3: S3Config {
                endpoint: Some(self.endpoint.clone()),
                region: Some("us-east-1".into()),
                access_key_id: Some("testing".into()),
                secret_access_key: Some("testing".into()),
                session_token: None,
                allow_http: Some(true),
            },
            ..StorageConfig::default()
        }
    }

    async fn create_bucket(&self, bucket: &str) {
        let response = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await
            .expect("create bucket");
        assert!(response.status().is_success(), "create bucket: {}", response.status());
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(root: &Path) -> WarehouseConfig {
    WarehouseConfig::new(root)
        .with_compaction(CompactionMode::Manual)
        .with_durability(Durability::Normal)
        .with_target_partitions(2)
}

/// Writes, compactions (with copy-on-write rewrites), maintenance, and the
/// answers to a fixed query set along the way.
async fn workload(config: WarehouseConfig) -> Vec<(String, Vec<Row>)> {
    let queries = [
        "SELECT count(*), sum(v), min(id), max(id) FROM ev",
        "SELECT id % 7 AS k, count(*), sum(v) FROM ev GROUP BY k ORDER BY k",
        "SELECT id, note FROM ev WHERE id BETWEEN 100 AND 110 ORDER BY id",
        "SELECT count(*) FROM ev WHERE note LIKE 'upd%'",
    ];
    let mut answers = Vec::new();
    let wh = Warehouse::open(config.clone()).await.expect("open");
    let s = wh.session();
    let step = |stage: &str| {
        let stage = stage.to_string();
        let s = wh.session();
        async move {
            let mut out = Vec::new();
            for q in queries {
                let batches = s.query(q).await.unwrap_or_else(|e| panic!("{stage}: {q}: {e}"));
                out.push((format!("{stage}: {q}"), rows(&batches)));
            }
            out
        }
    };
    for sql in [
        "CREATE TABLE ev (id bigint PRIMARY KEY, v double precision, note text) PARTITION BY (bucket(4, id))",
        "INSERT INTO ev SELECT n, n * 0.5, 'row ' || n FROM generate_series(1, 3000) AS g(n)",
        "CHECKPOINT",
        "UPDATE ev SET note = 'updated', v = v + 1 WHERE id % 10 = 0",
        "DELETE FROM ev WHERE id % 9 = 0",
        "INSERT INTO ev SELECT n, n * 0.25, 'late ' || n FROM generate_series(3001, 3500) AS g(n)",
    ] {
        s.execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    answers.extend(step("hot and cold").await);
    s.execute("CHECKPOINT").await.expect("checkpoint");
    answers.extend(step("compacted").await);
    let reports = wh
        .maintain(&MaintenanceOptions {
            snapshot_retention: Duration::ZERO,
            orphan_retention: Duration::ZERO,
            dry_run: false,
        })
        .await
        .expect("maintain");
    assert!(reports[0].snapshots_expired > 0, "{reports:?}");
    answers.extend(step("maintained").await);
    drop(s);
    drop(wh);
    let wh = Warehouse::open(config).await.expect("reopen");
    let s = wh.session();
    for q in queries {
        let batches = s.query(q).await.unwrap_or_else(|e| panic!("reopened: {q}: {e}"));
        answers.push((format!("reopened: {q}"), rows(&batches)));
    }
    answers
}

fn same(local: &[(String, Vec<Row>)], s3: &[(String, Vec<Row>)]) {
    assert_eq!(local.len(), s3.len());
    for ((what, a), (_, b)) in local.iter().zip(s3) {
        let equal = a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.iter().zip(y).all(|(p, q)| p.matches(q)));
        assert!(equal, "{what}\n  local: {a:?}\n  s3:    {b:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_data_gives_the_same_answers_as_a_folder() {
    let Some(python) = peers::python("s3_data_gives_the_same_answers_as_a_folder") else {
        return;
    };
    let moto = Moto::start(&python);
    moto.create_bucket("lake").await;
    let local_dir = tempfile::tempdir().expect("tempdir");
    let s3_dir = tempfile::tempdir().expect("tempdir");
    let local = workload(config(local_dir.path())).await;
    let on_s3 = config(s3_dir.path()).with_data("s3://lake/warehouse", moto.storage());
    let s3 = workload(on_s3.clone()).await;
    same(&local, &s3);

    // The data is in the bucket, not in the folder.
    let location = thermocline::store::open("s3://lake/warehouse", &moto.storage()).expect("store");
    let objects: Vec<_> = location
        .store
        .list(Some(&object_store::path::Path::from("warehouse/public/ev")))
        .try_collect()
        .await
        .expect("list bucket");
    let parquet = objects
        .iter()
        .filter(|o| o.location.as_ref().ends_with(".parquet"))
        .count();
    let metadata = objects
        .iter()
        .filter(|o| o.location.as_ref().ends_with(".metadata.json"))
        .count();
    assert!(parquet >= 4 && metadata >= 2, "{objects:?}");
    assert!(!s3_dir.path().join("data").exists(), "no local data folder");

    // Parquet files in a bucket are tables too, joinable with ours.
    let mut parquet_bytes = Vec::new();
    {
        use std::sync::Arc;
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new(
            "id",
            arrow::datatypes::DataType::Int64,
            false,
        )]));
        let batch = arrow::array::RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(arrow::array::Int64Array::from_iter_values(1..=20))],
        )
        .expect("batch");
        let mut writer = parquet::arrow::ArrowWriter::try_new(&mut parquet_bytes, schema, None).expect("writer");
        writer.write(&batch).expect("write");
        writer.close().expect("close");
    }
    for key in ["picks/a.parquet", "picks/b.parquet"] {
        location
            .store
            .put(&object_store::path::Path::from(key), parquet_bytes.clone().into())
            .await
            .expect("upload");
    }
    let wh = Warehouse::open(on_s3.clone()).await.expect("reopen on s3");
    let picked = wh
        .session()
        .query("SELECT count(*), count(DISTINCT p.id) FROM 's3://lake/picks/*.parquet' p JOIN ev ON ev.id = p.id")
        .await
        .expect("join a bucket's files with a table");
    let picked = &rows(&picked)[0];
    // ids 1..=20 less the multiples of 9 (deleted), each in two files.
    assert!(
        picked[0].matches(&common::Cell::Int(36)) && picked[1].matches(&common::Cell::Int(18)),
        "{picked:?}"
    );
    drop(wh);

    // pyiceberg reads the table through S3 with the same catalog.
    let script = r#"
import sys
from pyiceberg.catalog.sql import SqlCatalog
catalog = SqlCatalog("thermocline", uri=f"sqlite:///{sys.argv[1]}/catalog.db", warehouse="s3://lake/warehouse",
    **{"s3.endpoint": sys.argv[2], "s3.access-key-id": "testing", "s3.secret-access-key": "testing",
       "s3.region": "us-east-1"})
table = catalog.load_table("public.ev").scan(selected_fields=("id", "v")).to_arrow()
print(table.num_rows, round(sum(table.column("v").to_pylist()), 6))
"#;
    let output = Command::new(&python)
        .args(["-c", script])
        .arg(s3_dir.path())
        .arg(&moto.endpoint)
        .output()
        .expect("run pyiceberg");
    assert!(
        output.status.success(),
        "pyiceberg: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    let mut fields = printed.split_whitespace();
    let count: i64 = fields.next().and_then(|f| f.parse().ok()).expect("pyiceberg count");
    let sum: f64 = fields.next().and_then(|f| f.parse().ok()).expect("pyiceberg sum");
    let ours = &local[local.len() - 4].1[0];
    assert!(
        ours[0].matches(&common::Cell::Int(count)) && ours[1].matches(&common::Cell::Float(sum)),
        "pyiceberg read {count} rows summing to {sum}; we read {ours:?}"
    );
}

/// `thermocline sql --warehouse s3://bucket/prefix`: the tables a writer
/// keeps with `--catalog bucket` on S3, queried from the bucket alone by a
/// separate process, read-only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_queries_a_bucket_warehouse_offline() {
    let Some(python) = peers::python("the_cli_queries_a_bucket_warehouse_offline") else {
        return;
    };
    let moto = Moto::start(&python);
    moto.create_bucket("lake").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let writer_config = config(dir.path())
        .with_data("s3://lake/wh", moto.storage())
        .with_catalog(thermocline::CatalogKind::Bucket);
    let writer = Warehouse::open(writer_config).await.expect("open the writer");
    let s = writer.session();
    for sql in [
        "CREATE TABLE ev (id bigint PRIMARY KEY, v double precision, note text) PARTITION BY (bucket(4, id))",
        "INSERT INTO ev SELECT n, n * 0.5, 'row ' || n FROM generate_series(1, 1500) AS g(n)",
        "CHECKPOINT",
        "DELETE FROM ev WHERE id % 5 = 0",
        "CHECKPOINT",
        // Still hot at the writer: not in the bucket yet.
        "INSERT INTO ev VALUES (100000, 1, 'hot')",
    ] {
        s.execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    // The catalog is in the bucket, beside the data.
    let location = thermocline::store::open("s3://lake/wh", &moto.storage()).expect("store");
    location
        .store
        .head(&object_store::path::Path::from(
            "wh/public/ev/metadata/version-hint.text",
        ))
        .await
        .expect("version hint in the bucket");
    assert!(!dir.path().join("catalog.db").exists());

    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_thermocline"))
            .args(["--warehouse", "s3://lake/wh", "sql", "--format", "csv"])
            .args(args)
            .env_remove("THERMOCLINE_WAREHOUSE")
            .env_remove("THERMOCLINE_DATA")
            .env_remove("THERMOCLINE_CATALOG")
            .env("THERMOCLINE_S3_ENDPOINT", &moto.endpoint)
            .env("THERMOCLINE_S3_REGION", "us-east-1")
            .env("THERMOCLINE_S3_ACCESS_KEY_ID", "testing")
            .env("THERMOCLINE_S3_SECRET_ACCESS_KEY", "testing")
            .env("THERMOCLINE_S3_ALLOW_HTTP", "true")
            .current_dir(dir.path())
            .output()
            .expect("run thermocline")
    };
    let query = "SELECT count(*) AS n, sum(v) AS s, max(id) AS top FROM ev";
    let out = cli(&["-c", query]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "offline query failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 1500 rows less the 300 multiples of 5; the hot row is not there.
    let expected: f64 = (1..=1500).filter(|n| n % 5 != 0).map(|n| n as f64 * 0.5).sum();
    let line = stdout.lines().nth(1).unwrap_or_default().to_string();
    let fields: Vec<&str> = line.split(',').collect();
    assert_eq!(fields.first(), Some(&"1200"), "{stdout}");
    assert!(
        fields.get(1).and_then(|f| f.parse::<f64>().ok()) == Some(expected) && fields.get(2) == Some(&"1499"),
        "{stdout}"
    );

    // Once compacted, the hot row is there for the next offline run.
    s.execute("CHECKPOINT").await.expect("checkpoint");
    let out = cli(&["-c", "SELECT count(*) FROM ev WHERE note = 'hot'"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().nth(1), Some("1"));

    // Writes fail with a message that says how to write instead.
    let out = cli(&["-c", "INSERT INTO ev VALUES (7, 1, 'x')"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "an offline INSERT succeeded");
    assert!(
        stderr.contains("read-only") && stderr.contains("--data s3://lake/wh --catalog bucket"),
        "{stderr}"
    );
    // An EXPLAIN names the cold files and no hot rows.
    let out = cli(&["-c", "EXPLAIN SELECT * FROM ev WHERE id = 3"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("TieredScan"));
    drop(s);
    drop(writer);
}
