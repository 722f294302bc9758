//! A warehouse whose Iceberg catalog lives beside its data
//! (`CatalogKind::Bucket`), and the offline, read-only warehouse that opens
//! that data alone (`WarehouseConfig::offline`, `--warehouse s3://...`):
//! it answers from the cold tier exactly as the writer does once the writer
//! has compacted, sees later commits, refuses every write with SQLSTATE
//! 25006, and the same folder is read by DuckDB and pyiceberg with no
//! catalog service. The S3 path of the same thing is in
//! tests/object_store.rs.

mod common;
#[path = "common/peers.rs"]
mod peers;
#[path = "interop/runner.rs"]
mod runner;

use std::path::Path;

use common::{Cell, Row, rows};
use thermocline::config::Durability;
use thermocline::store::StorageConfig;
use thermocline::{CatalogKind, CompactionMode, ErrorKind, Warehouse, WarehouseConfig};

const QUERIES: [&str; 5] = [
    "SELECT count(*), sum(v), min(id), max(id) FROM ev",
    "SELECT day, count(*), sum(v) FROM ev GROUP BY day ORDER BY day",
    "SELECT id, note FROM ev WHERE id BETWEEN 95 AND 105 ORDER BY id",
    "SELECT d.name, count(*) FROM ev JOIN dim d ON d.k = ev.id % 3 GROUP BY d.name ORDER BY d.name",
    "SELECT count(*) FROM ev WHERE note = 'updated'",
];

fn writer_config(root: &Path) -> WarehouseConfig {
    WarehouseConfig::new(root)
        .with_catalog(CatalogKind::Bucket)
        .with_compaction(CompactionMode::Manual)
        .with_durability(Durability::Normal)
        .with_target_partitions(2)
}

async fn answers(wh: &Warehouse) -> Vec<Vec<Row>> {
    let s = wh.session();
    let mut out = Vec::new();
    for q in QUERIES {
        out.push(rows(&s.query(q).await.unwrap_or_else(|e| panic!("{q}: {e}"))));
    }
    out
}

fn assert_same(what: &str, a: &[Vec<Row>], b: &[Vec<Row>]) {
    for ((q, x), y) in QUERIES.iter().zip(a).zip(b) {
        let equal = x.len() == y.len() && x.iter().zip(y).all(|(r, s)| r.iter().zip(s).all(|(p, q)| p.matches(q)));
        assert!(equal, "{what}: {q}\n  writer:  {x:?}\n  offline: {y:?}");
    }
}

async fn run(wh: &Warehouse, sql: &str) {
    wh.session().execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_warehouse_reads_what_a_bucket_catalog_writer_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("w");
    let writer = Warehouse::open(writer_config(&root)).await.expect("open the writer");
    for sql in [
        "CREATE TABLE ev (id bigint PRIMARY KEY, day date NOT NULL, v double precision, note text) PARTITION BY (day)",
        "CREATE TABLE dim (k int, name text)",
        "INSERT INTO dim VALUES (0, 'zero'), (1, 'one'), (2, 'two')",
        "INSERT INTO ev SELECT n, DATE '2026-01-01' + CAST(n % 5 AS int), n * 0.5, 'row ' || n FROM generate_series(1, 2000) AS g(n)",
        "CHECKPOINT",
        // Copy-on-write over the cold files, then compacted.
        "UPDATE ev SET note = 'updated', v = v + 1 WHERE id % 10 = 0",
        "DELETE FROM ev WHERE id % 7 = 0",
        "CHECKPOINT",
    ] {
        run(&writer, sql).await;
    }
    // No catalog.db: the catalog is in the data folder.
    assert!(!root.join("catalog.db").exists());
    let data = root.join("data");
    assert!(data.join("public/ev/metadata/version-hint.text").exists());

    // Everything is compacted, so the offline answers are the writer's.
    let offline = Warehouse::open(WarehouseConfig::offline(
        data.to_string_lossy(),
        StorageConfig::default(),
    ))
    .await
    .expect("open offline");
    let expected = answers(&writer).await;
    assert_same("all compacted", &expected, &answers(&offline).await);

    // Rows still hot in the writer are not offline's to see; once
    // compacted they are, in the warehouse already open.
    run(
        &writer,
        "INSERT INTO ev SELECT n, DATE '2026-01-09', 1.0, 'late' FROM generate_series(5001, 5100) AS g(n)",
    )
    .await;
    assert_same("writer has hot rows", &expected, &answers(&offline).await);
    run(&writer, "CHECKPOINT").await;
    let after = answers(&writer).await;
    assert!(
        !after[0][0][0].matches(&expected[0][0][0]),
        "the insert changed the count"
    );
    assert_same("compacted again", &after, &answers(&offline).await);

    // Every write is refused, saying why, and changes nothing.
    let s = offline.session();
    for sql in [
        "INSERT INTO ev VALUES (9999, DATE '2026-01-01', 1, 'x')",
        "UPDATE ev SET v = 0",
        "DELETE FROM ev",
        "CREATE TABLE t2 (a int)",
        "DROP TABLE dim",
        "ALTER TABLE ev ADD COLUMN extra int",
        "CREATE SCHEMA other",
        "CHECKPOINT",
    ] {
        let e = s.execute(sql).await.expect_err(sql);
        assert_eq!(e.kind(), ErrorKind::ReadOnly, "{sql}: {e}");
        assert_eq!(e.kind().sqlstate(), "25006");
        assert!(
            e.to_string().contains("read-only") && e.to_string().contains("--catalog bucket"),
            "{sql}: {e}"
        );
    }
    let e = offline
        .compact(None, &thermocline::write::NoProgress)
        .await
        .expect_err("compact");
    assert_eq!(e.kind(), ErrorKind::ReadOnly, "{e}");
    // Reads inside a transaction block still work.
    s.execute("BEGIN").await.expect("begin");
    let in_txn = rows(&s.query(QUERIES[0]).await.expect("query in a transaction"));
    s.execute("COMMIT").await.expect("commit");
    assert!(in_txn[0][0].matches(&after[0][0][0]));
    assert_same("after the refusals", &after, &answers(&offline).await);
    drop(s);
    drop(offline);

    // The folder remembers its catalog: opening it expecting catalog.db
    // says where the catalog is instead of showing an empty warehouse.
    drop(writer);
    let e = Warehouse::open(writer_config(&root).with_catalog(CatalogKind::Sqlite))
        .await
        .expect_err("sqlite catalog over a bucket-catalog folder");
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("--catalog bucket"), "{e}");
    // And a folder made with catalog.db refuses the bucket catalog.
    let other = dir.path().join("sqlite");
    drop(
        Warehouse::open(writer_config(&other).with_catalog(CatalogKind::Sqlite))
            .await
            .expect("open"),
    );
    let e = Warehouse::open(writer_config(&other))
        .await
        .expect_err("bucket over catalog.db");
    assert!(e.to_string().contains("catalog.db"), "{e}");
    // An offline warehouse cannot be opened for writing.
    let e = Warehouse::open(
        WarehouseConfig::offline(data.to_string_lossy(), StorageConfig::default()).with_read_only(false),
    )
    .await
    .expect_err("writable offline");
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");

    // An empty location is an empty warehouse, not an error.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let nothing = Warehouse::open(WarehouseConfig::offline(
        empty.to_string_lossy(),
        StorageConfig::default(),
    ))
    .await
    .expect("open an empty location offline");
    let s = nothing.session();
    assert!(rows(&s.query("SELECT 1").await.expect("SELECT 1"))[0][0].matches(&Cell::Int(1)));
    let e = s.query("SELECT * FROM ev").await.expect_err("no table");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    drop(s);
    drop(nothing);

    // DuckDB and pyiceberg read the table from its folder alone.
    let Some(python) = runner::python("an_offline_warehouse_reads_what_a_bucket_catalog_writer_committed") else {
        return;
    };
    let table_dir = data.join("public/ev");
    let printed = runner::run_script(&python, "read_bucket_table.py", &[&table_dir], dir.path());
    let peers = runner::summary("read_bucket_table.py", &printed);
    let (count, sum) = match (&after[0][0][0], &after[0][0][1]) {
        (Cell::Int(c), Cell::Float(s)) => (*c, *s),
        other => panic!("count and sum: {other:?}"),
    };
    for peer in ["duckdb", "pyiceberg"] {
        let got = &peers[peer];
        let (n, s) = (got[0].as_i64(), got[1].as_f64());
        assert!(
            n == Some(count) && s.is_some_and(|s| (s - sum).abs() < 1e-6 * sum.abs().max(1.0)),
            "{peer} read {got}; we read {count} rows summing to {sum}"
        );
    }
}
