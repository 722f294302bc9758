//! The pruning group's table: the synthetic event table
//! `PARTITION BY (month(ts))` over [`MONTHS`] months from 2015, written by
//! thermocline's own write path. Rows arrive in time order, evenly spread
//! over the 120 months; each snapshot is one `INSERT` of the
//! [`ROWS_PER_SNAPSHOT`] rows since the previous one followed by
//! `CHECKPOINT ev`, so the table gathers the snapshots, manifests, files and
//! small-file merges (started by compaction, see `src/write/merge.rs`) that
//! a table fed for ten years would have.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, TimestampMicrosecondArray};
use chrono::{NaiveDate, NaiveDateTime};
use futures::TryStreamExt;
use iceberg::TableIdent;
use thermocline::{CompactionMode, Session, TieringConfig, Warehouse, WarehouseConfig};

use crate::data::{self, COLUMNS_SQL, Loader};
use crate::harness::{R, fail, ms};

/// Monthly partitions the rows span.
pub const MONTHS: i64 = 120;
const FIRST_YEAR: i64 = 2015;
/// The month the query reads: June 2020, in the middle.
pub const QUERY_MONTH: i64 = 65;
/// Rows each snapshot adds.
const ROWS_PER_SNAPSHOT: u64 = 200;

/// Midnight on the first day of month `m` (0 = January 2015).
pub fn month_start(m: i64) -> R<NaiveDateTime> {
    NaiveDate::from_ymd_opt((FIRST_YEAR + m / 12) as i32, (m % 12) as u32 + 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .ok_or_else(|| fail(format!("month {m} is out of range")))
}

fn micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

/// The warehouse, opened as every benchmark does (compaction only on
/// CHECKPOINT, 2 target partitions) except that the hot tier fsyncs at
/// SQLite checkpoints only: loading is not what this group measures.
pub async fn open(root: &std::path::Path) -> R<Warehouse> {
    let config = WarehouseConfig::new(root)
        .with_compaction(CompactionMode::Manual)
        .with_target_partitions(2)
        .with_durability(thermocline::config::Durability::Normal)
        .with_tiering(TieringConfig {
            flush_threshold: u64::MAX,
            ..TieringConfig::default()
        });
    Ok(Warehouse::open(config).await?)
}

/// What writing the table did.
pub struct Written {
    pub rows: u64,
    /// `count(*)` and `sum(value)` of the query's month, counted while writing.
    pub expected: (i64, f64),
    pub elapsed: Duration,
}

/// Create `ev` and write it as `snapshots` INSERT + CHECKPOINT pairs.
pub async fn write(s: &Session, snapshots: u64) -> R<Written> {
    s.execute(&format!("CREATE TABLE ev {COLUMNS_SQL} PARTITION BY (month(ts))"))
        .await?;
    let loader = Loader::new(s)?;
    let total = snapshots * ROWS_PER_SNAPSHOT;
    let first = micros(month_start(0)?);
    let span = micros(month_start(MONTHS)?) - first;
    let month = (micros(month_start(QUERY_MONTH)?), micros(month_start(QUERY_MONTH + 1)?));
    let mut expected = (0, 0.0);
    let started = Instant::now();
    // Time spent in each statement over the last 100 snapshots.
    let (mut inserting, mut checkpointing) = (Duration::ZERO, Duration::ZERO);
    for i in 0..snapshots {
        let from = i * ROWS_PER_SNAPSHOT;
        let batch = data::batch(from, ROWS_PER_SNAPSHOT as usize, total)?;
        // The event table's columns, with timestamps spread over 120 months.
        let ts = TimestampMicrosecondArray::from_iter_values(
            (from..from + ROWS_PER_SNAPSHOT).map(|j| first + (j as i128 * span as i128 / total as i128) as i64),
        );
        tally(&ts, batch.column(4), month, &mut expected)?;
        let mut columns = batch.columns().to_vec();
        columns[1] = Arc::new(ts);
        let batch = RecordBatch::try_new(batch.schema(), columns)?;
        let t0 = Instant::now();
        loader.insert(s, "ev", &batch).await?;
        let t1 = Instant::now();
        s.execute("CHECKPOINT ev").await?;
        inserting += t1 - t0;
        checkpointing += t1.elapsed();
        if (i + 1) % 100 == 0 {
            println!(
                "  {}/{snapshots} snapshots written, {:.1} s (the last 100: INSERT {}, CHECKPOINT {} each)",
                i + 1,
                started.elapsed().as_secs_f64(),
                ms(inserting / 100),
                ms(checkpointing / 100),
            );
            (inserting, checkpointing) = (Duration::ZERO, Duration::ZERO);
        }
    }
    Ok(Written {
        rows: total,
        expected,
        elapsed: started.elapsed(),
    })
}

/// Add the rows with `ts` in `[low, high)` to `(count, sum of value)`.
fn tally(ts: &TimestampMicrosecondArray, value: &dyn Array, (low, high): (i64, i64), acc: &mut (i64, f64)) -> R<()> {
    let value = value
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| fail("value is not a double column"))?;
    for (i, t) in ts.values().iter().enumerate() {
        if (low..high).contains(t) {
            acc.0 += 1;
            if value.is_valid(i) {
                acc.1 += value.value(i);
            }
        }
    }
    Ok(())
}

/// The `(n, s)` row of the query's answer.
pub fn count_and_sum(batches: &[RecordBatch]) -> R<(i64, f64)> {
    let batch = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .ok_or_else(|| fail("the query answered no rows"))?;
    let n = batch.column(0).as_any().downcast_ref::<Int64Array>();
    let s = batch.column(1).as_any().downcast_ref::<Float64Array>();
    match (n, s) {
        (Some(n), Some(s)) if batch.num_rows() == 1 => Ok((n.value(0), s.value(0))),
        _ => Err(fail(format!("unexpected answer schema {:?}", batch.schema()))),
    }
}

/// The table's Iceberg shape, read with iceberg-rust.
pub struct Shape {
    pub snapshots: usize,
    /// Snapshots with operation `replace`: small-file merges.
    pub merges: usize,
    /// Manifests in the current snapshot's manifest list.
    pub manifests: usize,
    /// Live data files in the current snapshot.
    pub files: usize,
}

pub async fn shape(wh: &Warehouse) -> R<Shape> {
    let table = wh
        .catalog()
        .load_table(&TableIdent::from_strs(["public", "ev"])?)
        .await?;
    let metadata = table.metadata();
    let current = metadata
        .current_snapshot()
        .ok_or_else(|| fail("table ev has no snapshot"))?;
    let manifests = table.manifest_list_reader(current).load().await?.entries().len();
    let files = table
        .scan()
        .select_empty()
        .build()?
        .plan_files()
        .await?
        .try_collect::<Vec<_>>()
        .await?
        .len();
    Ok(Shape {
        snapshots: metadata.snapshots().count(),
        merges: metadata
            .snapshots()
            .filter(|s| s.summary().operation == iceberg::spec::Operation::Replace)
            .count(),
        manifests,
        files,
    })
}
