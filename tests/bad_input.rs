//! Bad input and damaged warehouses: every failure is an error of the right
//! kind whose message names the object (table, column, file, lsn), never a
//! panic.

use std::path::{Path, PathBuf};
use std::time::Duration;

use datafusion::common::ScalarValue;
use tempfile::TempDir;
use thermocline::{CompactionMode, Error, ErrorKind, Session, Warehouse, WarehouseConfig};

/// Every test finishes well inside this.
const LIMIT: Duration = Duration::from_secs(120);

async fn open(dir: &Path) -> Warehouse {
    Warehouse::open(
        WarehouseConfig::new(dir)
            .with_shard("local")
            .with_compaction(CompactionMode::Manual),
    )
    .await
    .expect("open warehouse")
}

async fn setup() -> (TempDir, Warehouse, Session) {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = open(dir.path()).await;
    let session = wh.session();
    session
        .execute("CREATE TABLE t (x int NOT NULL, y text, ts timestamp) PARTITION BY (day(ts))")
        .await
        .expect("create table");
    (dir, wh, session)
}

/// The error of a statement that must fail.
async fn fails(session: &Session, sql: &str) -> Error {
    match session.execute(sql).await {
        Ok(out) => panic!(
            "{sql} should fail, but gave {:?}",
            out.iter().map(|o| &o.tag).collect::<Vec<_>>()
        ),
        Err(e) => e,
    }
}

fn assert_error(err: &Error, kind: ErrorKind, needles: &[&str]) {
    let text = err.to_string();
    assert_eq!(err.kind(), kind, "wrong kind for error: {text}");
    for needle in needles {
        assert!(text.contains(needle), "error should mention {needle:?}: {text}");
    }
}

async fn bounded<F: std::future::Future<Output = ()>>(test: F) {
    tokio::time::timeout(LIMIT, test).await.expect("test timed out");
}

fn files_under(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path, suffix));
        } else if path.to_string_lossy().ends_with(suffix) {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_type_names_the_column() {
    bounded(async {
        let (_dir, _wh, s) = setup().await;
        let err = fails(&s, "INSERT INTO t (x) VALUES ('abc')").await;
        // PostgreSQL: 22P02 invalid input syntax for type integer: "abc".
        assert_error(&err, ErrorKind::InvalidText, &["abc", "integer"]);

        let err = fails(&s, "INSERT INTO t (x, ts) VALUES (1, 'not-a-time')").await;
        assert_error(&err, ErrorKind::Type, &["not-a-time"]);

        // Through a bound parameter.
        let err = s
            .execute_with_params(
                "INSERT INTO t (x) VALUES ($1)",
                vec![ScalarValue::Utf8(Some("abc".into()))],
            )
            .await
            .expect_err("'abc' into an int column");
        assert_error(&err, ErrorKind::Type, &["abc"]);

        // Nothing was written.
        let rows = s.query("SELECT count(*) FROM t").await.expect("count");
        assert_eq!(rows[0].num_rows(), 1);
        let count = rows[0]
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .expect("int64")
            .value(0);
        assert_eq!(count, 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_table_and_column_are_named() {
    bounded(async {
        let (_dir, _wh, s) = setup().await;
        let err = fails(&s, "SELECT * FROM nope").await;
        assert_error(&err, ErrorKind::NotFound, &["nope"]);

        let err = fails(&s, "INSERT INTO nope VALUES (1)").await;
        assert_error(&err, ErrorKind::NotFound, &["nope"]);

        let err = fails(&s, "SELECT * FROM other_schema.t").await;
        assert_error(&err, ErrorKind::NotFound, &["other_schema"]);

        // Unknown columns are PostgreSQL's 42703, `column "zzz" does not exist`.
        let err = fails(&s, "SELECT zzz FROM t").await;
        assert_error(&err, ErrorKind::UndefinedColumn, &["column \"zzz\" does not exist"]);

        let err = fails(&s, "INSERT INTO t (x, zzz) VALUES (1, 2)").await;
        assert_error(&err, ErrorKind::UndefinedColumn, &["zzz"]);

        let err = fails(&s, "DROP TABLE nope").await;
        assert_error(&err, ErrorKind::NotFound, &["nope"]);

        let err = fails(&s, "CHECKPOINT nope").await;
        assert_error(&err, ErrorKind::NotFound, &["nope"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_partition_specs_are_named() {
    bounded(async {
        let (_dir, _wh, s) = setup().await;
        let err = fails(&s, "CREATE TABLE b1 (ts timestamp) PARTITION BY (nosuch(ts))").await;
        assert_error(&err, ErrorKind::Plan, &["nosuch"]);

        let err = fails(&s, "CREATE TABLE b2 (k int) PARTITION BY (bucket(k))").await;
        assert_error(&err, ErrorKind::Plan, &["bucket"]);

        let err = fails(&s, "CREATE TABLE b3 (k int) PARTITION BY (day(missing))").await;
        assert_error(&err, ErrorKind::NotFound, &["missing"]);

        let err = fails(&s, "CREATE TABLE b4 (k int) PARTITION BY (day(k))").await;
        // A DDL mistake: Plan (or Type) both fit; the message must name both.
        assert!(
            matches!(err.kind(), ErrorKind::Plan | ErrorKind::Type),
            "wrong kind: {err}"
        );
        assert!(
            err.to_string().contains("day") && err.to_string().contains("\"k\""),
            "{err}"
        );

        // None of them was created.
        for name in ["b1", "b2", "b3", "b4"] {
            let err = fails(&s, &format!("SELECT * FROM {name}")).await;
            assert_eq!(err.kind(), ErrorKind::NotFound, "{name}: {err}");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_null_violation_names_column_and_table() {
    bounded(async {
        let (_dir, _wh, s) = setup().await;
        for sql in [
            "INSERT INTO t (x, y) VALUES (NULL, 'b')",
            "INSERT INTO t (y) VALUES ('b')",
            "INSERT INTO t VALUES (1, 'a', NULL), (NULL, 'b', NULL)",
        ] {
            let err = fails(&s, sql).await;
            assert_error(
                &err,
                ErrorKind::Constraint,
                &["null value in column \"x\" of relation \"t\" violates not-null constraint"],
            );
            assert_eq!(err.kind().sqlstate(), "23502");
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_create_is_already_exists() {
    bounded(async {
        let (_dir, _wh, s) = setup().await;
        let err = fails(&s, "CREATE TABLE t (z int)").await;
        assert_error(&err, ErrorKind::AlreadyExists, &["\"t\""]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_parquet_file_is_named() {
    bounded(async {
        let (dir, _wh, s) = setup().await;
        s.execute("INSERT INTO t VALUES (1, 'a', '2026-01-01 10:00:00'), (2, 'b', '2026-01-02 10:00:00'); CHECKPOINT")
            .await
            .expect("insert and compact");
        let data = dir.path().join("data").join("public").join("t").join("data");
        let files = files_under(&data, ".parquet");
        assert!(
            !files.is_empty(),
            "compaction wrote no Parquet files under {}",
            data.display()
        );
        for file in &files {
            std::fs::write(file, b"this is not a parquet file, not even close").expect("overwrite");
        }

        let err = fails(&s, "SELECT * FROM t").await;
        assert_eq!(err.kind(), ErrorKind::Storage, "wrong kind: {err}");
        let text = err.to_string();
        let named = files.iter().any(|f| {
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            text.contains(&name)
        });
        assert!(named, "error should name the corrupt file (one of {files:?}): {text}");

        // A fresh session and a filtered query fail the same way, still no panic.
        let err = fails(
            &open(dir.path()).await.session(),
            "SELECT x FROM t WHERE ts >= '2026-01-02'",
        )
        .await;
        assert_eq!(err.kind(), ErrorKind::Storage, "wrong kind: {err}");
        assert!(
            err.to_string().contains(".parquet"),
            "error should name the file: {err}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_metadata_file_is_named() {
    bounded(async {
        let (dir, wh, s) = setup().await;
        s.execute("INSERT INTO t VALUES (1, 'a', '2026-01-01 10:00:00'); CHECKPOINT")
            .await
            .expect("insert and compact");
        let ident = iceberg::TableIdent::from_strs(["public", "t"]).expect("ident");
        let table = wh.catalog().load_table(&ident).await.expect("load table");
        let location = table.metadata_location().expect("metadata location").to_string();
        let path = PathBuf::from(location.strip_prefix("file://").unwrap_or(&location));
        assert!(path.exists(), "current metadata file {} should exist", path.display());
        std::fs::remove_file(&path).expect("delete metadata file");

        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let check = |err: Error| {
            let text = err.to_string();
            assert!(
                matches!(err.kind(), ErrorKind::Storage | ErrorKind::Catalog),
                "wrong kind {:?}: {text}",
                err.kind()
            );
            assert!(text.contains("public.t"), "error should name the table: {text}");
            assert!(
                text.contains(&file_name),
                "error should name the metadata file {file_name}: {text}"
            );
        };
        check(fails(&s, "SELECT * FROM t").await);

        // One damaged table must not make the whole warehouse unusable:
        // reopening works, other tables answer, this one fails the same way.
        s.execute("CREATE TABLE other (x int); INSERT INTO other VALUES (1)")
            .await
            .expect("another table");
        let reopened = Warehouse::open(WarehouseConfig::new(dir.path()).with_compaction(CompactionMode::Manual))
            .await
            .unwrap_or_else(|e| panic!("reopening a warehouse with one damaged table failed: {e}"));
        let s2 = reopened.session();
        s2.query("SELECT * FROM other")
            .await
            .expect("an undamaged table still answers");
        check(fails(&s2, "SELECT * FROM t").await);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_wal_entry_names_table_and_lsn() {
    bounded(async {
        let (dir, _wh, s) = setup().await;
        s.execute("INSERT INTO t VALUES (1, 'a', '2026-01-01 10:00:00')")
            .await
            .expect("insert");
        s.execute("INSERT INTO t VALUES (2, 'b', '2026-01-02 10:00:00')")
            .await
            .expect("insert");

        let hot = dir.path().join("hot").join("local.db");
        let conn = rusqlite::Connection::open(&hot).expect("open hot db");
        conn.busy_timeout(Duration::from_secs(10)).expect("busy timeout");
        let lsn: i64 = conn
            .query_row(r#"SELECT max(first_lsn) FROM "wal.public.t""#, [], |row| row.get(0))
            .expect("last WAL entry");
        conn.execute(
            r#"UPDATE "wal.public.t" SET batch = ?1 WHERE first_lsn = ?2"#,
            rusqlite::params![b"\x00\x01garbage, not Arrow IPC".to_vec(), lsn],
        )
        .expect("corrupt WAL entry");
        drop(conn);

        let err = fails(&s, "SELECT * FROM t").await;
        let text = err.to_string();
        assert!(
            matches!(err.kind(), ErrorKind::HotStore | ErrorKind::Storage),
            "wrong kind {:?}: {text}",
            err.kind()
        );
        assert!(text.contains("public.t"), "error should name the table: {text}");
        assert!(
            text.contains(&format!("lsn: {lsn}")),
            "error should name the lsn {lsn}: {text}"
        );

        // Compaction refuses the entry too, and says which.
        let err = fails(&s, "CHECKPOINT").await;
        let text = err.to_string();
        assert!(
            text.contains("public.t") && text.contains(&lsn.to_string()),
            "CHECKPOINT error: {text}"
        );
    })
    .await;
}

/// A client that goes away mid-transaction: what it staged is gone, and the
/// shard's write lock it held is free at once for everybody else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_session_rolls_back_its_transaction() {
    bounded(async {
        let (_dir, wh, session) = setup().await;
        session.execute("BEGIN").await.expect("begin");
        session
            .execute("INSERT INTO t VALUES (1, 'staged', NULL)")
            .await
            .expect("insert in transaction");
        drop(session);
        let other = wh.session();
        // Would wait for the lock (and fail after lock_timeout) if the
        // dropped session still held it.
        let started = std::time::Instant::now();
        other
            .execute("INSERT INTO t VALUES (2, 'after', NULL)")
            .await
            .expect("insert after the drop");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "writer waited for a dead session"
        );
        let rows = other.query("SELECT x, y FROM t ORDER BY x").await.expect("query");
        let got = arrow::util::pretty::pretty_format_batches(&rows)
            .expect("format")
            .to_string();
        assert!(got.contains("after") && !got.contains("staged"), "{got}");
    })
    .await;
}

/// A second writer waits for the open transaction, then fails with 55P03
/// naming the shard; readers never wait and do not see staged rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_writer_times_out_on_the_write_lock() {
    bounded(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let wh = Warehouse::open(
            WarehouseConfig::new(dir.path())
                .with_compaction(CompactionMode::Manual)
                .with_lock_timeout(Duration::from_millis(300)),
        )
        .await
        .expect("open");
        let a = wh.session();
        let b = wh.session();
        a.execute("CREATE TABLE t (x int PRIMARY KEY)").await.expect("create");
        a.execute("BEGIN; INSERT INTO t VALUES (1)")
            .await
            .expect("begin + insert");
        let err = fails(&b, "INSERT INTO t VALUES (2)").await;
        assert_error(&err, ErrorKind::LockNotAvailable, &["write lock", "shard: local"]);
        assert_eq!(err.kind().sqlstate(), "55P03");
        let count = b.query("SELECT count(*) FROM t").await.expect("reader does not wait");
        assert_eq!(common_count(&count), 0, "staged rows are invisible to others");
        a.execute("COMMIT").await.expect("commit");
        b.execute("INSERT INTO t VALUES (2)")
            .await
            .expect("lock is free after COMMIT");
        let count = b.query("SELECT count(*) FROM t").await.expect("count");
        assert_eq!(common_count(&count), 2);
    })
    .await;
}

/// A constraint violation in the middle of a multi-row statement writes
/// nothing, in or out of a transaction, and its error has SQLSTATE 23505.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_violation_leaves_nothing_behind() {
    bounded(async {
        let (_dir, _wh, session) = setup().await;
        session
            .execute("CREATE TABLE k (id int PRIMARY KEY, v text); INSERT INTO k VALUES (1, 'a'); CHECKPOINT k")
            .await
            .expect("setup");
        let err = fails(&session, "INSERT INTO k VALUES (2, 'b'), (3, 'c'), (1, 'dup')").await;
        assert_error(
            &err,
            ErrorKind::UniqueViolation,
            &["k_pkey", "Key (id)=(1) already exists"],
        );
        assert_eq!(err.kind().sqlstate(), "23505");
        let count = session.query("SELECT count(*) FROM k").await.expect("count");
        assert_eq!(common_count(&count), 1, "no row of the failed INSERT may stay");
        session
            .execute("INSERT INTO k VALUES (2, 'b')")
            .await
            .expect("insert 2");
        let err = fails(&session, "UPDATE k SET id = 1, v = 'moved' WHERE id = 2").await;
        assert_error(&err, ErrorKind::UniqueViolation, &["k_pkey"]);
        let moved = session
            .query("SELECT count(*) FROM k WHERE v = 'moved' OR id = 2")
            .await
            .expect("count");
        assert_eq!(common_count(&moved), 1, "the failed UPDATE changed nothing");
    })
    .await;
}

fn common_count(batches: &[arrow::array::RecordBatch]) -> i64 {
    use arrow::array::AsArray;
    batches[0]
        .column(0)
        .as_primitive::<arrow::datatypes::Int64Type>()
        .value(0)
}

/// Time travel and CDC arguments that make no sense: each a clear error
/// with PostgreSQL's SQLSTATE, nothing panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_arguments_are_checked() {
    bounded(async {
        let (_dir, _wh, s) = setup().await;
        let err = fails(&s, "SELECT * FROM t FOR SYSTEM_TIME AS OF 'yesterday-ish'").await;
        assert_error(
            &err,
            ErrorKind::Type,
            &["FOR SYSTEM_TIME needs a timestamp", "yesterday-ish"],
        );

        let err = fails(&s, "SELECT * FROM t FOR SYSTEM_TIME AS OF true").await;
        assert_error(&err, ErrorKind::Type, &["needs a timestamp, not Boolean"]);

        let err = fails(&s, "SELECT * FROM t FOR SYSTEM_TIME AS OF NULL").await;
        assert_error(&err, ErrorKind::Plan, &["bound is NULL"]);

        let err = fails(
            &s,
            "SELECT * FROM t FOR SYSTEM_TIME AS OF (SELECT now() UNION ALL SELECT now())",
        )
        .await;
        assert_error(&err, ErrorKind::Cardinality, &["more than one row"]);

        let err = fails(&s, "SELECT * FROM t FOR VERSION AS OF 'latest'").await;
        assert_error(&err, ErrorKind::Type, &["snapshot id"]);

        let err = fails(&s, "SELECT * FROM t FOR VERSION AS OF 12345").await;
        assert_error(&err, ErrorKind::NotFound, &["snapshot 12345"]);

        let err = fails(&s, "SELECT * FROM t FOR SYSTEM_TIME BETWEEN now() AND").await;
        assert_error(&err, ErrorKind::Plan, &["syntax error", "period's end"]);

        let err = fails(&s, "SELECT * FROM t AS old FOR SYSTEM_TIME ALL").await;
        assert_error(&err, ErrorKind::Plan, &["before any alias"]);

        let err = fails(&s, "SELECT * FROM thermocline_changes('t', 'abc')").await;
        assert_error(&err, ErrorKind::Type, &["since_lsn must be a bigint"]);

        let err = fails(&s, "SELECT * FROM thermocline_changes('t', x)").await;
        assert_error(&err, ErrorKind::Plan, &["constant arguments"]);

        let err = fails(&s, "SELECT * FROM thermocline_changes('nope', 0)").await;
        assert_error(&err, ErrorKind::NotFound, &["nope"]);

        let err = fails(&s, "SELECT * FROM thermocline_history_scan('s1_0')").await;
        assert_error(&err, ErrorKind::Plan, &["no history table"]);
    })
    .await;
}
