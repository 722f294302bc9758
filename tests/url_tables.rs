//! Files as tables: `SELECT ... FROM 'folder/*.parquet'` (and CSV, JSON),
//! joinable with the warehouse's tables, and confined to the file roots.
//! (`s3://` locations are in tests/object_store.rs, beside the S3 server.)

mod common;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use common::{Cell, rows};
use thermocline::config::Durability;
use thermocline::{CompactionMode, Session, Warehouse, WarehouseConfig};

fn write_parquet(path: &Path, ids: std::ops::Range<i64>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("region", DataType::Utf8, false),
    ]));
    let regions: Vec<String> = ids.clone().map(|i| format!("r{}", i % 3)).collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(ids)),
            Arc::new(StringArray::from_iter_values(regions)),
        ],
    )
    .expect("batch");
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).expect("file"), schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}

async fn open(warehouse: &Path, roots: Vec<std::path::PathBuf>) -> Warehouse {
    Warehouse::open(
        WarehouseConfig::new(warehouse)
            .with_compaction(CompactionMode::Manual)
            .with_durability(Durability::Normal)
            .with_file_roots(roots),
    )
    .await
    .expect("open")
}

/// The first row, rendered `a | b | c`.
async fn one(session: &Session, sql: &str) -> String {
    let batches = session.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let row = rows(&batches)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{sql}: no rows"));
    row.iter().map(Cell::to_string).collect::<Vec<_>>().join(" | ")
}

async fn error(session: &Session, sql: &str) -> String {
    match session.query(sql).await {
        Ok(_) => panic!("{sql}: expected an error"),
        Err(e) => format!("{e} [{}]", e.kind().sqlstate()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_under_the_roots_are_tables() {
    let files = tempfile::tempdir().expect("tempdir");
    let sales = files.path().join("sales");
    std::fs::create_dir(&sales).expect("mkdir");
    write_parquet(&sales.join("2026-01.parquet"), 0..100);
    write_parquet(&sales.join("2026-02.parquet"), 100..250);
    let mut csv = std::fs::File::create(files.path().join("regions.csv")).expect("csv");
    writeln!(csv, "region,name\nr0,North\nr1,South\nr2,West").expect("write csv");
    let mut json = std::fs::File::create(files.path().join("targets.json")).expect("json");
    writeln!(
        json,
        "{{\"region\": \"r0\", \"target\": 10}}\n{{\"region\": \"r1\", \"target\": 20}}"
    )
    .expect("json");

    let wh_dir = tempfile::tempdir().expect("tempdir");
    let wh = open(wh_dir.path(), vec![files.path().to_path_buf()]).await;
    let s = wh.session();
    let dir = files.path().display();
    assert_eq!(
        one(&s, &format!("SELECT count(*), sum(id) FROM '{dir}/sales/*.parquet'")).await,
        "250 | 31125"
    );
    assert_eq!(
        one(&s, &format!("SELECT count(*) FROM '{dir}/sales/2026-02.parquet'")).await,
        "150"
    );
    // A folder reads every file in it.
    assert_eq!(one(&s, &format!("SELECT count(*) FROM '{dir}/sales'")).await, "250");
    // Joined with CSV, JSON and a warehouse table.
    s.execute("CREATE TABLE bonus (region text, amount bigint)")
        .await
        .expect("create");
    s.execute("INSERT INTO bonus VALUES ('r0', 1), ('r1', 2), ('r2', 3)")
        .await
        .expect("insert");
    let joined = one(
        &s,
        &format!(
            "SELECT r.name, count(*), sum(b.amount), max(t.target) \
             FROM '{dir}/sales/*.parquet' s \
             JOIN '{dir}/regions.csv' r ON r.region = s.region \
             JOIN bonus b ON b.region = s.region \
             LEFT JOIN '{dir}/targets.json' t ON t.region = s.region \
             WHERE s.region = 'r1' GROUP BY r.name"
        ),
    )
    .await;
    assert_eq!(joined, "\"South\" | 83 | 166 | 20");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_outside_the_roots_can_be_read() {
    let root = tempfile::tempdir().expect("tempdir");
    let outside = tempfile::tempdir().expect("tempdir");
    write_parquet(&outside.path().join("secret.parquet"), 0..10);
    write_parquet(&root.path().join("ok.parquet"), 0..10);
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path(), root.path().join("link")).expect("symlink");

    let wh_dir = tempfile::tempdir().expect("tempdir");
    let wh = open(wh_dir.path(), vec![root.path().to_path_buf()]).await;
    let s = wh.session();
    let (r, o) = (root.path().display(), outside.path().display());
    assert_eq!(one(&s, &format!("SELECT count(*) FROM '{r}/ok.parquet'")).await, "10");
    for sql in [
        format!("SELECT * FROM '{o}/secret.parquet'"),
        format!(
            "SELECT * FROM '{r}/../{}/secret.parquet'",
            outside.path().file_name().expect("name").to_string_lossy()
        ),
        format!("SELECT * FROM '{r}/link/secret.parquet'"),
        format!("SELECT * FROM '{r}/link/*.parquet'"),
    ] {
        let e = error(&s, &sql).await;
        assert!(
            e.contains("outside the allowed file roots") && e.contains("[42501]"),
            "{sql}: {e}"
        );
    }
    let e = error(&s, &format!("SELECT * FROM '{r}/*/../../x/*.parquet'")).await;
    assert!(e.contains("[42501]"), "{e}");
    let e = error(&s, &format!("SELECT * FROM '{r}/missing.parquet'")).await;
    assert!(e.contains("missing.parquet"), "{e}");
    let e = error(&s, "SELECT * FROM 'https://example.com/x.parquet'").await;
    assert!(e.contains("only local paths, file://, s3:// and r2://"), "{e}");

    // A warehouse with no roots reads no local files at all.
    let wh2_dir = tempfile::tempdir().expect("tempdir");
    let closed = open(wh2_dir.path(), Vec::new()).await;
    let e = error(&closed.session(), &format!("SELECT * FROM '{r}/ok.parquet'")).await;
    assert!(e.contains("reading local files is off"), "{e}");
    // Plain unknown names are still just unknown tables.
    let e = error(&closed.session(), "SELECT * FROM nosuchtable").await;
    assert!(e.contains("nosuchtable"), "{e}");
}
