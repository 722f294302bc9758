//! The tiered read in its smallest form: rows hot, then cold, then both.

use arrow::util::pretty::pretty_format_batches;
use thermocline::{CompactionMode, Warehouse, WarehouseConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_then_cold_then_both() -> thermocline::Result<()> {
    let dir = tempfile::tempdir()?;
    let wh = Warehouse::open(WarehouseConfig::new(dir.path()).with_compaction(CompactionMode::Manual)).await?;
    let s = wh.session();
    s.execute(
        "CREATE TABLE events (ts timestamptz NOT NULL, tenant int NOT NULL, kind text, amount double precision)
         PARTITION BY (day(ts), bucket(4, tenant));
         INSERT INTO events VALUES ('2026-01-01T10:00:00Z', 1, 'a', 1.5), ('2026-01-02T10:00:00Z', 2, 'b', 2.5);",
    )
    .await?;
    let count = |batches: &[arrow::array::RecordBatch]| pretty_format_batches(batches).map(|t| t.to_string());
    let hot = s
        .query("SELECT count(*) AS n, sum(amount) AS total FROM events")
        .await?;
    let checkpoint = s.execute("CHECKPOINT").await?;
    assert_eq!(checkpoint[0].row_count(), 1, "one table compacted");
    let cold = s
        .query("SELECT count(*) AS n, sum(amount) AS total FROM events")
        .await?;
    assert_eq!(count(&hot)?, count(&cold)?);
    s.execute("INSERT INTO events VALUES ('2026-01-03T10:00:00Z', 3, 'c', 3.0)")
        .await?;
    let both = s
        .query("SELECT count(*) AS n, sum(amount) AS total FROM events")
        .await?;
    let text = count(&both)?;
    assert!(text.contains("| 3 | 7.0   |"), "{text}");

    let explain = s
        .query("EXPLAIN SELECT * FROM events WHERE ts >= '2026-01-02' AND ts < '2026-01-03'")
        .await?;
    let plan = count(&explain)?;
    assert!(plan.contains("TieredScan"), "{plan}");
    assert!(plan.contains("hot_rows=1"), "{plan}");
    assert!(plan.contains("files_planned=1, files_pruned=1 of 2"), "{plan}");
    let rows = s
        .query("SELECT tenant, kind FROM events WHERE ts >= '2026-01-02' AND ts < '2026-01-03'")
        .await?;
    assert_eq!(count(&rows)?.matches('|').count() / 3, 2, "{}", count(&rows)?);
    Ok(())
}

/// What the CLI's scan bar reads: files and bytes planned by a statement's
/// cold scans, and what their readers fetched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_report_progress_in_files_and_bytes() -> thermocline::Result<()> {
    let dir = tempfile::tempdir()?;
    let wh = Warehouse::open(WarehouseConfig::new(dir.path()).with_compaction(CompactionMode::Manual)).await?;
    let s = wh.session();
    s.execute(
        "CREATE TABLE m (day int, v bigint) PARTITION BY (identity(day));
         INSERT INTO m SELECT CAST(i % 3 AS INT), i FROM generate_series(1, 3000) AS g(i);
         CHECKPOINT",
    )
    .await?;
    s.scan_progress().reset();
    s.query("SELECT sum(v) FROM m WHERE v > 10").await?;
    let all = s.scan_progress().counts();
    assert_eq!(all.files_planned, 3, "{all:?}");
    assert!(all.bytes_planned > 0 && all.bytes_read > 0, "{all:?}");
    assert!(all.files_read >= 1 && all.files_read <= 3, "{all:?}");
    // A pruned scan plans (and reads) less.
    s.scan_progress().reset();
    s.query("SELECT sum(v) FROM m WHERE day = 1 AND v > 10").await?;
    let one = s.scan_progress().counts();
    assert_eq!(one.files_planned, 1, "{one:?}");
    assert!(one.bytes_planned < all.bytes_planned, "{one:?} vs {all:?}");
    Ok(())
}
