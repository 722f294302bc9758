//! Small data files are merged: a sharded table compacted shard by shard,
//! and a table checkpointed after every small insert, keep a bounded number
//! of files, answer exactly as before, still take UPDATE and DELETE of rows
//! in merged files, and stay readable by DuckDB and pyiceberg.

mod common;
#[path = "common/peers.rs"]
mod peers;
#[path = "interop/runner.rs"]
mod runner;

use common::{Cell, live_files, rows};
use thermocline::config::Durability;
use thermocline::write::MaintenanceOptions;
use thermocline::{CatalogKind, CompactionMode, Session, Warehouse, WarehouseConfig};

/// count, sum(v), count(DISTINCT id), sum(id) of `table`.
async fn totals(s: &Session, table: &str) -> (i64, f64, i64, i64) {
    let sql = format!("SELECT count(*), sum(v), count(DISTINCT id), sum(id) FROM {table}");
    let got = rows(&s.query(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")));
    match got[0].as_slice() {
        [Cell::Int(n), Cell::Float(v), Cell::Int(d), Cell::Int(i)] => (*n, *v, *d, *i),
        other => panic!("{sql}: {other:?}"),
    }
}

fn expected(ids: impl Iterator<Item = i64> + Clone, v: impl Fn(i64) -> f64) -> (i64, f64, i64, i64) {
    let n = ids.clone().count() as i64;
    (n, ids.clone().map(&v).sum(), n, ids.sum())
}

fn same(what: &str, got: (i64, f64, i64, i64), want: (i64, f64, i64, i64)) {
    assert!(
        got.0 == want.0 && got.2 == want.2 && got.3 == want.3 && (got.1 - want.1).abs() < 1e-6 * want.1.abs().max(1.0),
        "{what}: got {got:?}, want {want:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_files_are_merged_and_rows_stay_exact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = WarehouseConfig::new(dir.path())
        .with_catalog(CatalogKind::Bucket)
        .with_compaction(CompactionMode::Manual)
        .with_durability(Durability::Normal)
        .with_target_partitions(2);
    let wh = Warehouse::open(config).await.expect("open");
    let s = wh.session();
    s.execute(
        "CREATE TABLE ev (id bigint, tenant int, day int, v double precision, PRIMARY KEY (tenant, id)) \
         WITH (shard_key = 'tenant', shards = 16) PARTITION BY (day)",
    )
    .await
    .expect("create");
    // 16 shards, 2 partitions: compaction writes up to 32 files at once.
    s.execute("INSERT INTO ev SELECT n, n % 16, n % 2, n * 0.25 FROM generate_series(1, 4000) AS g(n)")
        .await
        .expect("insert");
    s.execute("CHECKPOINT").await.expect("checkpoint");
    let files = live_files(&wh, "public", "ev").await;
    assert!(
        files.by_path.len() <= 4,
        "16 shards' files in 2 partitions should be merged to a few: {} live",
        files.by_path.len()
    );
    assert!(files.duplicates().is_empty(), "{:?}", files.duplicates());
    assert_eq!(files.records, 4000);
    same(
        "after the merge",
        totals(&s, "ev").await,
        expected(1..=4000, |n| n as f64 * 0.25),
    );
    let snapshots = rows(
        &s.query("SELECT operation FROM thermocline_snapshots('ev') ORDER BY sequence_number DESC LIMIT 1")
            .await
            .expect("snapshots"),
    );
    assert!(
        matches!(&snapshots[0][0], Cell::Text(op) if op == "replace"),
        "{snapshots:?}"
    );

    // Copy-on-write over merged files, then more small compactions.
    s.execute("UPDATE ev SET v = -1 WHERE id % 100 = 0")
        .await
        .expect("update");
    s.execute("DELETE FROM ev WHERE id % 7 = 0").await.expect("delete");
    for round in 0..6i64 {
        let lo = 10_000 + round * 100;
        s.execute(&format!(
            "INSERT INTO ev SELECT n, n % 16, n % 2, n * 0.25 FROM generate_series({lo}, {}) AS g(n)",
            lo + 99
        ))
        .await
        .expect("insert round");
        s.execute("CHECKPOINT").await.expect("checkpoint round");
    }
    let ids = (1..=4000i64).filter(|n| n % 7 != 0).chain(10_000..10_600);
    let v = |n: i64| {
        if n <= 4000 && n % 100 == 0 {
            -1.0
        } else {
            n as f64 * 0.25
        }
    };
    same(
        "after rounds of small compactions",
        totals(&s, "ev").await,
        expected(ids.clone(), v),
    );
    let files = live_files(&wh, "public", "ev").await;
    assert!(files.duplicates().is_empty(), "{:?}", files.duplicates());
    assert!(
        files.by_path.len() <= 12,
        "7 compactions of 16 shards stay merged: {} live files",
        files.by_path.len()
    );

    // Maintenance merges too, and expires the merged-away files' snapshots.
    let reports = wh
        .maintain(&MaintenanceOptions {
            snapshot_retention: std::time::Duration::ZERO,
            orphan_retention: std::time::Duration::ZERO,
            dry_run: false,
        })
        .await
        .expect("maintain");
    assert!(
        reports[0]
            .orphans_deleted
            .iter()
            .all(|f| !f.ends_with("version-hint.text"))
    );
    same("after maintenance", totals(&s, "ev").await, expected(ids.clone(), v));
    drop(s);
    drop(wh);

    // Other engines read the merged table from its folder.
    let Some(python) = runner::python("small_files_are_merged_and_rows_stay_exact") else {
        return;
    };
    let table_dir = dir.path().join("data/public/ev");
    let printed = runner::run_script(&python, "read_bucket_table.py", &[&table_dir], dir.path());
    let peers = runner::summary("read_bucket_table.py", &printed);
    let (count, sum, _, _) = expected(ids, v);
    for peer in ["duckdb", "pyiceberg"] {
        let got = &peers[peer];
        assert!(
            got[0].as_i64() == Some(count) && got[1].as_f64().is_some_and(|s| (s - sum).abs() < 1e-6 * sum.abs()),
            "{peer} read {got}; we read {count} rows summing to {sum}"
        );
    }
}
