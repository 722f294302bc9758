//! The synthetic event table every benchmark uses, how thermocline loads it
//! (what a bulk loader does: `INSERT INTO t SELECT * FROM <MemTable>`), and
//! warehouses opened the same way for every benchmark.

use std::sync::Arc;

use arrow::array::{Float64Array, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{CatalogProvider, MemoryCatalogProvider, MemorySchemaProvider, SchemaProvider};
use datafusion::datasource::MemTable;
use thermocline::{CompactionMode, Session, TieringConfig, Warehouse, WarehouseConfig};

use super::harness::R;

/// 2024-01-01T00:00:00Z in microseconds.
pub const BASE_TS: i64 = 1_704_067_200_000_000;
pub const DAY_US: i64 = 86_400_000_000;
/// Rows spread evenly over this many days, in order of id.
pub const DAYS: i64 = 30;
/// Rows per INSERT statement of the bulk loader and per peer transaction.
pub const BATCH_ROWS: usize = 10_000;
pub const KINDS: [&str; 8] = ["click", "view", "cart", "buy", "search", "login", "logout", "share"];

pub const COLUMNS_SQL: &str =
    "(id bigint NOT NULL, ts timestamp NOT NULL, tenant int NOT NULL, kind text NOT NULL, value double precision)";

/// `CREATE TABLE name ...`, partitioned by day(ts) or not.
pub fn create_sql(name: &str, partitioned: bool) -> String {
    let spec = if partitioned { " PARTITION BY (day(ts))" } else { "" };
    format!("CREATE TABLE {name} {COLUMNS_SQL}{spec}")
}

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), false),
        Field::new("tenant", DataType::Int32, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("value", DataType::Float64, true),
    ]))
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The timestamp of row `i` of a data set of `total` rows: ascending over
/// [`DAYS`] days from [`BASE_TS`].
pub fn ts_of(i: u64, total: u64) -> i64 {
    BASE_TS + ((i as i128 * (DAYS * DAY_US) as i128) / total.max(1) as i128) as i64
}

/// Rows `start..start + len` of a data set of `total` rows. Values are
/// multiples of 0.25 so sums are exact whatever order an engine adds them in.
pub fn batch(start: u64, len: usize, total: u64) -> R<RecordBatch> {
    let ids: Vec<i64> = (start..start + len as u64).map(|i| i as i64).collect();
    let hashes: Vec<u64> = (start..start + len as u64).map(splitmix).collect();
    let columns: Vec<arrow::array::ArrayRef> = vec![
        Arc::new(Int64Array::from(ids)),
        Arc::new(TimestampMicrosecondArray::from_iter_values(
            (start..start + len as u64).map(|i| ts_of(i, total)),
        )),
        Arc::new(Int32Array::from_iter_values(hashes.iter().map(|h| (h % 1000) as i32))),
        Arc::new(StringArray::from_iter_values(
            hashes.iter().map(|h| KINDS[((h >> 10) % KINDS.len() as u64) as usize]),
        )),
        Arc::new(Float64Array::from_iter(hashes.iter().map(|h| {
            // One row in 50 has no value.
            ((h >> 20) % 50 != 0).then(|| ((h >> 32) % 4000) as f64 / 4.0)
        }))),
    ];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

/// Rows `from..to` of a data set of `total` rows in batches of `BATCH_ROWS`.
pub fn batches(from: u64, to: u64, total: u64) -> R<Vec<RecordBatch>> {
    let mut out = Vec::new();
    let mut start = from;
    while start < to {
        let len = (to - start).min(BATCH_ROWS as u64) as usize;
        out.push(batch(start, len, total)?);
        start += len as u64;
    }
    Ok(out)
}

/// A warehouse as the benchmarks use it: compaction only when asked (so
/// insert figures are inserts alone), 2 target partitions, fsync per commit.
pub async fn open_warehouse(dir: &std::path::Path) -> R<Warehouse> {
    let config = WarehouseConfig::new(dir)
        .with_compaction(CompactionMode::Manual)
        .with_target_partitions(2)
        .with_durability(thermocline::config::Durability::Full)
        .with_tiering(TieringConfig {
            flush_threshold: u64::MAX,
            ..TieringConfig::default()
        });
    Ok(Warehouse::open(config).await?)
}

/// Loads Arrow batches into a thermocline table the way a bulk loader does:
/// each batch is registered as a MemTable and inserted with one
/// `INSERT INTO t SELECT * FROM bench.load.src` statement.
pub struct Loader {
    schema: Arc<MemorySchemaProvider>,
}

impl Loader {
    pub fn new(session: &Session) -> R<Self> {
        let catalog = Arc::new(MemoryCatalogProvider::new());
        let schema = Arc::new(MemorySchemaProvider::new());
        catalog.register_schema("load", schema.clone())?;
        session.context().register_catalog("bench", catalog);
        Ok(Self { schema })
    }

    /// Insert one batch with one statement; returns the rows inserted.
    pub async fn insert(&self, session: &Session, table: &str, batch: &RecordBatch) -> R<u64> {
        self.schema.deregister_table("src")?;
        let mem = MemTable::try_new(batch.schema(), vec![vec![batch.clone()]])?;
        self.schema.register_table("src".to_string(), Arc::new(mem))?;
        let out = session
            .execute(&format!("INSERT INTO {table} SELECT * FROM bench.load.src"))
            .await?;
        let tag = out.first().map(|o| o.tag.clone()).unwrap_or_default();
        let expected = format!("INSERT 0 {}", batch.num_rows());
        if tag != expected {
            return Err(super::harness::fail(format!(
                "INSERT into {table} answered {tag:?}, expected {expected:?}"
            )));
        }
        Ok(batch.num_rows() as u64)
    }

    pub async fn insert_all(&self, session: &Session, table: &str, batches: &[RecordBatch]) -> R<u64> {
        let mut rows = 0;
        for b in batches {
            rows += self.insert(session, table, b).await?;
        }
        Ok(rows)
    }
}
