//! The mixed group's write load: a task with its own session of the
//! warehouse inserting [`INSERT_ROWS`]-row batches in a loop, each one
//! `INSERT … SELECT` from a MemTable (what a bulk loader does), until told
//! to stop. Rows continue the event table's ids and land in its newest day
//! (events arriving now), so compaction writes into one partition rather
//! than opening new ones.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow::array::{Array, Int64Array, RecordBatch, TimestampMicrosecondArray};
use iceberg::TableIdent;
use thermocline::Warehouse;
use tokio::task::JoinHandle;

use crate::data::{self, Loader};
use crate::harness::{R, fail};

/// Rows per INSERT.
pub const INSERT_ROWS: usize = 1000;

/// What the writer did between start and stop.
pub struct WriteLoad {
    pub rows: u64,
    pub statements: u64,
    pub elapsed: Duration,
}

pub struct Writer {
    stop: Arc<AtomicBool>,
    /// Rows whose INSERT has returned.
    acknowledged: Arc<AtomicU64>,
    handle: JoinHandle<R<WriteLoad>>,
}

impl Writer {
    /// Start inserting into `ev` rows `first..` of the event data set
    /// whose first `first` rows are already loaded.
    pub fn start(wh: &Warehouse, first: u64) -> R<Self> {
        let session = wh.session();
        let loader = Loader::new(&session)?;
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged = Arc::new(AtomicU64::new(0));
        let (stopping, counter) = (stop.clone(), acknowledged.clone());
        let handle = tokio::spawn(async move {
            let started = Instant::now();
            let mut statements = 0;
            while !stopping.load(Ordering::Relaxed) {
                let start = first + counter.load(Ordering::Relaxed);
                let batch = newest_day(data::batch(start, INSERT_ROWS, first)?)?;
                loader.insert(&session, "ev", &batch).await?;
                counter.fetch_add(INSERT_ROWS as u64, Ordering::Relaxed);
                statements += 1;
            }
            Ok(WriteLoad {
                rows: counter.load(Ordering::Relaxed),
                statements,
                elapsed: started.elapsed(),
            })
        });
        Ok(Self {
            stop,
            acknowledged,
            handle,
        })
    }

    /// Rows acknowledged so far.
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::Relaxed)
    }

    /// Fails once the writer has stopped by itself: its error is what
    /// [`Self::stop`] returns.
    pub fn check(&self) -> R<()> {
        if self.handle.is_finished() {
            return Err(fail("the insert task stopped before it was told to"));
        }
        Ok(())
    }

    /// Stop after the INSERT under way; the writer's own error if it failed.
    pub async fn stop(self) -> R<WriteLoad> {
        self.stop.store(true, Ordering::Relaxed);
        match self.handle.await {
            Ok(load) => load.map_err(|e| fail(format!("the insert task failed: {e}"))),
            Err(e) => Err(fail(format!("the insert task panicked: {e}"))),
        }
    }
}

/// `batch` with its timestamps moved into the event table's last day.
fn newest_day(batch: RecordBatch) -> R<RecordBatch> {
    let ids = batch
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| fail("id is not a bigint"))?;
    let day = data::BASE_TS + (data::DAYS - 1) * data::DAY_US;
    let ts = TimestampMicrosecondArray::from_iter_values(
        ids.values()
            .iter()
            .map(|id| day + id.wrapping_mul(1_000_003).rem_euclid(data::DAY_US)),
    );
    let mut columns = batch.columns().to_vec();
    columns[1] = Arc::new(ts);
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

/// Snapshots of `ev` so far.
pub async fn snapshots(wh: &Warehouse) -> R<usize> {
    let table = wh
        .catalog()
        .load_table(&TableIdent::from_strs(["public", "ev"])?)
        .await?;
    Ok(table.metadata().snapshots().count())
}

/// Wait until the background compactor has gone quiet: no new snapshot of
/// `ev` for 2 s (at most a minute). Returns how long that took.
pub async fn settle(wh: &Warehouse) -> R<Duration> {
    let started = Instant::now();
    let mut seen = snapshots(wh).await?;
    while started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = snapshots(wh).await?;
        if now == seen {
            break;
        }
        seen = now;
    }
    Ok(started.elapsed())
}
