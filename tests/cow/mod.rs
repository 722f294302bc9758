//! A copy-on-write delete, end to end below SQL, shared by `tests/rewrite.rs`
//! and `tests/interop_rewrite.rs`: rows CHECKPOINTed into Iceberg, some of
//! their versions deleted with `rewrite_without`, the rewrite committed with
//! a `WatermarkCommit` that removes the old files.
//!
//! Each test file uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use futures::TryStreamExt;
use iceberg::TableIdent;
use iceberg::table::Table;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use thermocline::table::row_id::DeletedRows;
use thermocline::write::rewrite::{FileRewrite, rewrite_without};
use thermocline::{CompactionMode, Warehouse, WarehouseConfig};
use thermocline_catalog::watermark::watermark;
use thermocline_catalog::{CommitOutcome, WatermarkCommit};

/// Rows `1..=DELETABLE` are candidates for deletion; the rows above are
/// written by a third CHECKPOINT and never deleted, so their files must be
/// left alone.
pub const DELETABLE: i64 = 600;
pub const TOTAL: i64 = 650;
/// Where the first CHECKPOINT ends.
const FIRST: i64 = 300;

/// Deleted: every tenth row, and the first checkpoint's rows of one day
/// (in the partitioned table, that empties a whole file).
pub fn is_deleted(id: i64) -> bool {
    id <= DELETABLE && (id % 10 == 0 || (id <= FIRST && id % 3 == 0))
}

/// Version ids no file holds: a shard that never wrote, and an lsn far
/// above anything written.
pub fn bogus(shard: &str) -> DeletedRows {
    let mut rows = DeletedRows::default();
    rows.insert("no-such-shard", 1);
    rows.insert(shard, 10_000_000);
    rows
}

/// One row as the Iceberg tier holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub shard: String,
    pub lsn: i64,
}

pub struct Scenario {
    pub dir: tempfile::TempDir,
    pub wh: Warehouse,
    pub ident: TableIdent,
    pub shard: String,
    /// Before the delete: every row's version, by id.
    pub before: BTreeMap<i64, Version>,
    /// Before the delete: each live data file's ids.
    pub files_before: BTreeMap<String, Vec<i64>>,
    pub rewrite: FileRewrite,
    /// The table after the commit.
    pub after: Table,
}

fn local(location: &str) -> &Path {
    Path::new(location.strip_prefix("file://").unwrap_or(location))
}

/// Every batch of a Parquet file, read straight from disk.
pub fn read_parquet(location: &str) -> Vec<RecordBatch> {
    let file = std::fs::File::open(local(location)).unwrap_or_else(|e| panic!("open {location}: {e}"));
    ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .unwrap_or_else(|e| panic!("read {location}: {e}"))
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("read {location}: {e}"))
}

/// Which columns of a Parquet file carry a bloom filter (in any row group).
pub fn bloom_filtered_columns(location: &str) -> BTreeSet<String> {
    let file = std::fs::File::open(local(location)).unwrap_or_else(|e| panic!("open {location}: {e}"));
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap_or_else(|e| panic!("read {location}: {e}"));
    let mut out = BTreeSet::new();
    for row_group in builder.metadata().row_groups() {
        for column in row_group.columns() {
            if column.bloom_filter_offset().is_some() {
                out.insert(column.column_path().string());
            }
        }
    }
    out
}

pub fn ids_of(batches: &[RecordBatch]) -> Vec<i64> {
    let mut ids = Vec::new();
    for batch in batches {
        let column = batch.column_by_name("id").expect("id column");
        ids.extend(
            column
                .as_primitive::<Int64Type>()
                .iter()
                .map(|v| v.expect("id is never NULL")),
        );
    }
    ids
}

/// Every row of the current snapshot through iceberg-rust's own reader:
/// id → version (panics on a duplicate id).
pub async fn iceberg_rows(table: &Table) -> BTreeMap<i64, Version> {
    let batches: Vec<RecordBatch> = table
        .scan()
        .build()
        .expect("scan")
        .to_arrow()
        .await
        .expect("to_arrow")
        .try_collect()
        .await
        .expect("read rows");
    let mut rows = BTreeMap::new();
    for batch in &batches {
        let ids = batch.column_by_name("id").expect("id").as_primitive::<Int64Type>();
        let lsns = batch.column_by_name("_lsn").expect("_lsn").as_primitive::<Int64Type>();
        let shards = batch.column_by_name("_shard").expect("_shard");
        let shards = arrow::compute::cast(shards, &arrow::datatypes::DataType::Utf8).expect("cast _shard");
        let shards = shards.as_string::<i32>();
        for i in 0..batch.num_rows() {
            let version = Version {
                shard: shards.value(i).to_string(),
                lsn: lsns.value(i),
            };
            assert!(
                rows.insert(ids.value(i), version).is_none(),
                "id {} read twice",
                ids.value(i)
            );
        }
    }
    rows
}

/// Live data file paths, through iceberg-rust's scan planning.
pub async fn planned_files(table: &Table) -> BTreeSet<String> {
    table
        .scan()
        .build()
        .expect("scan")
        .plan_files()
        .await
        .expect("plan files")
        .map_ok(|t| t.data_file_path)
        .try_collect()
        .await
        .expect("plan files")
}

/// Builds the table (with a PRIMARY KEY and a UNIQUE column, partitioned by
/// day or not), deletes the rows [`is_deleted`] picks plus [`bogus`] ids,
/// and commits the rewrite.
pub async fn run(partitioned: bool) -> Scenario {
    let dir = tempfile::tempdir().expect("tempdir");
    // Manual: only our CHECKPOINTs move rows, so the files are known.
    let wh = Warehouse::open(WarehouseConfig::new(dir.path()).with_compaction(CompactionMode::Manual))
        .await
        .expect("open warehouse");
    let shard = wh.config().shard.clone();
    let session = wh.session();
    let partition = if partitioned { " PARTITION BY (day)" } else { "" };
    session
        .execute(&format!(
            "CREATE TABLE t (id bigint PRIMARY KEY, email text UNIQUE, day date NOT NULL, note text){partition}"
        ))
        .await
        .expect("create table");
    for (lo, hi) in [(1, FIRST), (FIRST + 1, DELETABLE), (DELETABLE + 1, TOTAL)] {
        session
            .execute(&format!(
                "INSERT INTO t SELECT value, 'u' || value || '@example.com', DATE '2026-03-01' + CAST(value % 3 AS INT), \
                 CASE WHEN value % 5 = 0 THEN NULL ELSE 'note ' || value END FROM generate_series({lo}, {hi})"
            ))
            .await
            .unwrap_or_else(|e| panic!("insert {lo}..={hi}: {e}"));
        session.execute("CHECKPOINT").await.expect("checkpoint");
    }

    let ident = TableIdent::from_strs(["public", "t"]).expect("ident");
    let catalog = wh.catalog();
    let table = catalog.load_table(&ident).await.expect("load table");
    let before = iceberg_rows(&table).await;
    assert_eq!(before.len() as i64, TOTAL, "every row is in Iceberg");
    let mut files_before = BTreeMap::new();
    for path in planned_files(&table).await {
        let ids = ids_of(&read_parquet(&path));
        files_before.insert(path, ids);
    }

    let mut deleted = bogus(&shard);
    for (id, version) in &before {
        if is_deleted(*id) {
            deleted.insert(&version.shard, version.lsn);
        }
    }
    let rewrite = rewrite_without(&table, &deleted, 128 << 20).await.expect("rewrite");

    let w = watermark(table.metadata(), None, &shard);
    let outcome = WatermarkCommit::new(ident.clone(), shard.clone(), w, w + 1, rewrite.added.clone())
        .with_removed_files(rewrite.removed.clone())
        .commit(catalog.as_ref())
        .await
        .expect("commit the rewrite");
    let CommitOutcome::Committed { table: after, .. } = outcome else {
        panic!("superseded: {outcome:?}");
    };
    Scenario {
        dir,
        wh,
        ident,
        shard,
        before,
        files_before,
        rewrite,
        after,
    }
}
