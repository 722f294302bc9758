//! A tiered scan tells DataFusion how many rows it reads (exactly) and each
//! column's range (the hot rows' merged with the cold files' footers), so
//! joins are ordered by size; the ranges never answer a query, since deleted
//! versions may make them loose, yet bound every row, so no sort is dropped; and a file written before a column was
//! renamed gives no range rather than another column's. A table of fewer
//! files than partitions is read by every partition, in byte ranges.

mod common;

use std::sync::Arc;

use common::{Cell, rows};
use datafusion::common::ScalarValue;
use datafusion::common::stats::Precision;
use datafusion::physical_plan::ExecutionPlan;
use thermocline::config::Durability;
use thermocline::table::tiered_scan::TieredScanExec;
use thermocline::{CompactionMode, Session, Warehouse, WarehouseConfig};

async fn open(dir: &std::path::Path) -> Warehouse {
    let config = WarehouseConfig::new(dir)
        .with_compaction(CompactionMode::Manual)
        .with_durability(Durability::Normal)
        .with_target_partitions(2);
    Warehouse::open(config).await.expect("open")
}

async fn run(s: &Session, sql: &str) {
    s.execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn physical_plan(s: &Session, sql: &str) -> Arc<dyn ExecutionPlan> {
    s.context()
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .create_physical_plan()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The first tiered scan in a plan.
fn tiered_scan(plan: &Arc<dyn ExecutionPlan>) -> Option<&TieredScanExec> {
    plan.downcast_ref::<TieredScanExec>()
        .or_else(|| plan.children().into_iter().find_map(tiered_scan))
}

/// The cold side of the tiered scan in `sql`'s plan.
async fn cold_side(s: &Session, sql: &str) -> Arc<dyn ExecutionPlan> {
    let plan = physical_plan(s, sql).await;
    let scan = tiered_scan(&plan).unwrap_or_else(|| panic!("no tiered scan in the plan of {sql}"));
    scan.children().last().copied().expect("a cold side").clone()
}

/// The statistics of the (first) tiered scan in `sql`'s physical plan, and
/// its columns' names.
async fn scan_statistics(s: &Session, sql: &str) -> (datafusion::common::Statistics, Vec<String>) {
    let plan = physical_plan(s, sql).await;
    let scan = tiered_scan(&plan).unwrap_or_else(|| panic!("no tiered scan in the plan of {sql}"));
    let names = scan.schema().fields().iter().map(|f| f.name().clone()).collect();
    (
        scan.partition_statistics(None).expect("statistics").as_ref().clone(),
        names,
    )
}

/// The statistics of column `name` of a scan.
fn column<'a>(
    (stats, names): &'a (datafusion::common::Statistics, Vec<String>),
    name: &str,
) -> &'a datafusion::common::ColumnStatistics {
    let i = names
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no column {name} in {names:?}"));
    &stats.column_statistics[i]
}

/// The first row of `sql`'s answer, all integers.
async fn ints(s: &Session, sql: &str) -> Vec<i64> {
    let got = rows(&s.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")));
    let first = got.into_iter().next().unwrap_or_else(|| panic!("{sql}: no row"));
    first
        .into_iter()
        .map(|c| match c {
            Cell::Int(i) => i,
            other => panic!("{sql}: {other:?} is not an integer"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiered_scan_estimates_ranges_from_its_files_and_never_answers_from_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = open(dir.path()).await;
    let s = wh.session();
    run(&s, "CREATE TABLE t (id bigint NOT NULL, v int)").await;
    run(
        &s,
        "INSERT INTO t SELECT n, n * 2 FROM generate_series(1, 1000) AS g(n)",
    )
    .await;
    run(&s, "CHECKPOINT t").await;
    run(
        &s,
        "INSERT INTO t SELECT n, n * 2 FROM generate_series(1001, 1010) AS g(n)",
    )
    .await;

    let scan = scan_statistics(&s, "SELECT id, v FROM t").await;
    let stats = &scan.0;
    assert_eq!(stats.num_rows, Precision::Exact(1010), "hot + cold rows, exactly");
    let (id, v) = (column(&scan, "id"), column(&scan, "v"));
    // Both tiers' ranges (the hot rows go beyond the cold files'), marked
    // inexact: deleted versions may make them loose.
    assert_eq!(id.min_value, Precision::Inexact(ScalarValue::Int64(Some(1))));
    assert_eq!(id.max_value, Precision::Inexact(ScalarValue::Int64(Some(1010))));
    assert_eq!(v.max_value, Precision::Inexact(ScalarValue::Int32(Some(2020))));
    assert!(
        matches!(stats.total_byte_size, Precision::Inexact(b) if b > 0),
        "{:?}",
        stats.total_byte_size
    );
    // Aggregates are computed, not read off the estimates.
    assert_eq!(
        ints(&s, "SELECT min(id), max(id), max(v), count(*) FROM t").await,
        vec![1, 1010, 2020, 1010]
    );

    // A cold row deleted above the cut: the scan filters versions, its
    // columns still line up with their estimates, and the row is gone.
    run(&s, "DELETE FROM t WHERE id = 1").await;
    let scan = scan_statistics(&s, "SELECT v, id FROM t").await;
    assert_eq!(
        scan.0.num_rows,
        Precision::Absent,
        "deleted versions make the file counts an upper bound"
    );
    let (id, v) = (column(&scan, "id"), column(&scan, "v"));
    assert_eq!(v.min_value, Precision::Inexact(ScalarValue::Int32(Some(2))));
    assert_eq!(id.min_value, Precision::Inexact(ScalarValue::Int64(Some(1))));
    assert_eq!(
        ints(&s, "SELECT min(id), max(id), count(*) FROM t").await,
        vec![2, 1010, 1009]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_written_before_a_rename_gives_no_range() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = open(dir.path()).await;
    let s = wh.session();
    run(&s, "CREATE TABLE r (id bigint NOT NULL, v int)").await;
    run(&s, "INSERT INTO r SELECT n, n + 0 FROM generate_series(1, 100) AS g(n)").await;
    run(&s, "CHECKPOINT r").await;
    // The old file's column `v` is now `w`; a new column takes the name `v`.
    run(&s, "ALTER TABLE r RENAME COLUMN v TO w").await;
    run(&s, "ALTER TABLE r ADD COLUMN v int").await;
    run(&s, "INSERT INTO r VALUES (101, 5000, 7)").await;
    run(&s, "CHECKPOINT r").await;

    let scan = scan_statistics(&s, "SELECT w, v FROM r").await;
    // By name, the old file's `v` (1..=100) would pass for the new `v`.
    assert_eq!(column(&scan, "v").max_value, Precision::Absent, "{scan:?}");
    assert_eq!(column(&scan, "w").max_value, Precision::Absent, "{scan:?}");
    assert_eq!(scan.0.num_rows, Precision::Exact(101));
    assert_eq!(
        ints(&s, "SELECT max(w), max(v), count(v) FROM r").await,
        vec![5000, 7, 1]
    );

    // Files written after the rename alone do give ranges.
    run(&s, "DELETE FROM r WHERE id <= 100").await;
    run(&s, "CHECKPOINT r").await;
    let scan = scan_statistics(&s, "SELECT w, v FROM r").await;
    assert_eq!(
        column(&scan, "v").max_value,
        Precision::Inexact(ScalarValue::Int32(Some(7))),
        "{scan:?}"
    );
}

/// DataFusion counts the values in a range as `distance + 1`, which
/// overflows (a panic in debug builds) when a bigint or timestamp column
/// holds both ends of its type; the scan gives no range there, and the
/// filters that would have used it still answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_as_wide_as_its_type_is_not_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = open(dir.path()).await;
    let s = wh.session();
    run(&s, "CREATE TABLE w (id bigint NOT NULL, n bigint, ts timestamp)").await;
    run(
        &s,
        "INSERT INTO w VALUES (1, -9223372036854775808, TIMESTAMP '2020-01-01 00:00:00'), \
         (2, 9223372036854775807, TIMESTAMP '2020-01-02 00:00:00')",
    )
    .await;
    run(&s, "CHECKPOINT w").await;
    run(&s, "INSERT INTO w VALUES (3, 0, TIMESTAMP '2020-01-03 00:00:00')").await;

    for (sql, want) in [
        ("SELECT count(*) FROM w WHERE n > 0", 1),
        ("SELECT count(*) FROM w WHERE n >= -9223372036854775808 AND id > 1", 2),
        (
            "SELECT count(*) FROM w WHERE n < 5 AND ts < TIMESTAMP '2020-01-03 00:00:00'",
            1,
        ),
    ] {
        assert_eq!(ints(&s, sql).await, vec![want], "{sql}");
    }
    let scan = scan_statistics(&s, "SELECT id, n FROM w").await;
    assert_eq!(column(&scan, "n").max_value, Precision::Absent, "{scan:?}");
    assert_eq!(
        column(&scan, "id").max_value,
        Precision::Inexact(ScalarValue::Int64(Some(3))),
        "narrower ranges stay: {scan:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_passes_what_it_learns_to_the_cold_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = open(dir.path()).await;
    let s = wh.session();
    run(&s, "CREATE TABLE big (id bigint NOT NULL, v bigint)").await;
    run(
        &s,
        "INSERT INTO big SELECT n, n * 2 FROM generate_series(1, 20000) AS g(n)",
    )
    .await;
    run(&s, "CHECKPOINT big").await;
    run(
        &s,
        "INSERT INTO big SELECT n, n * 2 FROM generate_series(20001, 20100) AS g(n)",
    )
    .await;
    // A deleted cold version: the cold side filters versions after the scan.
    run(&s, "DELETE FROM big WHERE id = 5").await;
    run(&s, "CREATE TABLE small (id bigint NOT NULL)").await;
    run(&s, "INSERT INTO small VALUES (5), (7), (20050)").await;
    run(&s, "CHECKPOINT small").await;

    let sql = "SELECT count(*), sum(big.v) FROM big JOIN small ON big.id = small.id";
    assert_eq!(
        ints(&s, sql).await,
        vec![2, 14 + 40100],
        "id 5 is deleted, 20050 is hot"
    );
    let plan = s
        .query(&format!("EXPLAIN ANALYZE {sql}"))
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN ANALYZE: {e}"));
    let text = arrow::util::pretty::pretty_format_batches(&plan)
        .expect("format")
        .to_string();
    let cold_big = text
        .lines()
        .find(|l| l.contains("DataSourceExec") && l.contains("/big/"))
        .unwrap_or_else(|| panic!("no cold scan of big in\n{text}"));
    assert!(
        cold_big.contains("DynamicFilter"),
        "the join's filter did not reach the cold scan:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn estimates_that_miss_the_hot_rows_do_not_change_an_order_by() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = open(dir.path()).await;
    let s = wh.session();
    run(&s, "CREATE TABLE ev (id bigint NOT NULL, dt date, k bigint)").await;
    // The cold file holds one day; the hot rows spread over the range the
    // query reads. Were the scan's range the cold file's alone, DataFusion
    // would take `dt` as a constant and drop the sort.
    run(
        &s,
        "INSERT INTO ev SELECT n, DATE '2024-03-17', n + 0 FROM generate_series(1, 600) AS g(n)",
    )
    .await;
    run(&s, "CHECKPOINT ev").await;
    run(
        &s,
        "INSERT INTO ev SELECT n, DATE '2024-03-01' + (n % 20)::int, n + 0 FROM generate_series(601, 1000) AS g(n)",
    )
    .await;
    let sql =
        "SELECT dt, count(*) FROM ev WHERE dt >= DATE '2024-03-07' AND dt <= DATE '2024-03-17' GROUP BY dt ORDER BY dt";
    let got = rows(&s.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")));
    let days: Vec<String> = got.iter().map(|r| format!("{:?}", r[0])).collect();
    let mut sorted = days.clone();
    sorted.sort();
    assert_eq!(got.len(), 11, "{got:?}");
    assert_eq!(days, sorted, "ORDER BY dt came back out of order");
}

/// One cold file of two row groups (256k rows each at most) and two
/// partitions: each partition reads one range of the file, whole row
/// groups, and together they read every row once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_file_is_read_by_every_partition() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = open(dir.path()).await;
    let s = wh.session();
    run(&s, "CREATE TABLE one (id bigint NOT NULL, v bigint)").await;
    run(
        &s,
        "INSERT INTO one SELECT n, n % 7 FROM generate_series(1, 300000) AS g(n)",
    )
    .await;
    run(&s, "CHECKPOINT one").await;
    // The file is ~700 KiB, under DataFusion's default 10 MiB floor for
    // splitting: one partition reads it. The session's floor is honoured.
    let cold = cold_side(&s, "SELECT id, v FROM one").await;
    assert_eq!(cold.properties().output_partitioning().partition_count(), 1);
    run(&s, "SET datafusion.optimizer.repartition_file_min_size = 1024").await;
    // Partitions steal each other's unread ranges while they run; without
    // that, each reads its own, so the rows show where the ranges fell.
    run(&s, "SET datafusion.execution.enable_file_stream_work_stealing = false").await;
    let cold = cold_side(&s, "SELECT id, v FROM one").await;
    let partitions = cold.properties().output_partitioning().partition_count();
    assert_eq!(
        partitions,
        2,
        "{}",
        datafusion::physical_plan::displayable(cold.as_ref()).indent(true)
    );
    let mut per_partition = Vec::new();
    for p in 0..partitions {
        let batches =
            datafusion::physical_plan::common::collect(cold.execute(p, s.context().task_ctx()).expect("execute"))
                .await
                .expect("collect");
        per_partition.push(batches.iter().map(|b| b.num_rows()).sum::<usize>());
    }
    assert!(per_partition.iter().all(|n| *n > 0), "{per_partition:?}");
    assert_eq!(per_partition.iter().sum::<usize>(), 300000, "{per_partition:?}");
    assert_eq!(
        ints(
            &s,
            "SELECT count(*), count(DISTINCT id), sum(v), min(id), max(id) FROM one"
        )
        .await,
        vec![300000, 300000, (1..=300000i64).map(|n| n % 7).sum(), 1, 300000]
    );
}
