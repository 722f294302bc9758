//! `thermocline maintain`: expiring snapshots and deleting orphan files must
//! never lose a row the table still holds, and must remove what no snapshot
//! references (here: a planted orphan, and the manifest lists of expired
//! snapshots).

use std::time::Duration;

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use thermocline::write::MaintenanceOptions;
use thermocline::{CompactionMode, Warehouse, WarehouseConfig};

async fn count(wh: &Warehouse) -> thermocline::Result<i64> {
    let batches = wh.session().query("SELECT count(*) FROM t").await?;
    Ok(batches[0].column(0).as_primitive::<Int64Type>().value(0))
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expire_and_remove_orphans_keep_every_row() -> thermocline::Result<()> {
    let dir = tempfile::tempdir()?;
    let wh = Warehouse::open(WarehouseConfig::new(dir.path()).with_compaction(CompactionMode::Manual)).await?;
    let s = wh.session();
    s.execute("CREATE TABLE t (id bigint NOT NULL, day date NOT NULL) PARTITION BY (day)")
        .await?;
    for round in 0..4 {
        let lo = round * 1000;
        s.execute(&format!(
            "INSERT INTO t SELECT value, DATE '2026-03-01' + CAST(value % 5 AS INT) FROM generate_series({lo}, {})",
            lo + 999
        ))
        .await?;
        s.execute("CHECKPOINT").await?;
    }
    s.execute("INSERT INTO t VALUES (100000, DATE '2026-03-09')").await?; // a hot row
    let table_dir = dir.path().join("data/public/t");
    let orphan = table_dir.join("data/orphan-from-a-crashed-compaction.parquet");
    std::fs::write(&orphan, b"not referenced by any snapshot")?;
    let before = count(&wh).await?;
    assert_eq!(before, 4001);

    // Dry run changes nothing but reports the orphan.
    let dry = wh
        .maintain(&MaintenanceOptions {
            snapshot_retention: Duration::ZERO,
            orphan_retention: Duration::ZERO,
            dry_run: true,
        })
        .await?;
    assert!(
        dry[0]
            .orphans_deleted
            .iter()
            .any(|f| f.ends_with("orphan-from-a-crashed-compaction.parquet"))
    );
    assert!(orphan.exists());

    let files_before = files_under(&table_dir).len();
    let reports = wh
        .maintain(&MaintenanceOptions {
            snapshot_retention: Duration::ZERO,
            orphan_retention: Duration::ZERO,
            dry_run: false,
        })
        .await?;
    let report = &reports[0];
    assert_eq!(report.snapshots_expired, 3, "{report:?}");
    assert!(!orphan.exists(), "the planted orphan is gone");
    // The three expired snapshots' manifest lists went with the orphan.
    assert!(report.orphans_deleted.len() >= 4, "{report:?}");
    // Expiry is itself a commit: one new metadata file.
    assert_eq!(
        files_under(&table_dir).len(),
        files_before + 1 - report.orphans_deleted.len()
    );
    assert_eq!(count(&wh).await?, before, "maintenance lost rows");

    // A fresh process sees the same table, and compaction still works on it.
    drop(s);
    drop(wh);
    let wh = Warehouse::open(WarehouseConfig::new(dir.path()).with_compaction(CompactionMode::Manual)).await?;
    assert_eq!(count(&wh).await?, before);
    wh.session().execute("CHECKPOINT").await?;
    assert_eq!(count(&wh).await?, before);

    // Retention protects files younger than it (a compaction in flight).
    let young = table_dir.join("data/in-flight.parquet");
    std::fs::write(&young, b"written by a compaction that has not committed yet")?;
    wh.maintain(&MaintenanceOptions::default()).await?;
    assert!(young.exists(), "a file younger than the orphan retention must stay");
    Ok(())
}
