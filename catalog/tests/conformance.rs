//! The catalog conformance suite (`thermocline_catalog::conformance`) against
//! every catalog we have: `SqliteCatalog` over a local folder and over an
//! in-memory object store, and — to show the suite asks nothing iceberg's own
//! reference catalog would not do — iceberg's `MemoryCatalog`.
//!
//! Plus one end-to-end test with real Parquet written through iceberg's
//! writer and read back through a scan, all via our object_store FileIO.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use futures::TryStreamExt;
use iceberg::memory::{MEMORY_CATALOG_WAREHOUSE, MemoryCatalogBuilder};
use iceberg::spec::DataFileFormat;
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::file_writer::location_generator::{DefaultFileNameGenerator, DefaultLocationGenerator};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use iceberg::{Catalog, CatalogBuilder, NamespaceIdent};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use parquet::file::properties::WriterProperties;
use thermocline_catalog::conformance::{self, create_test_table};
use thermocline_catalog::{CommitCatalog, CommitOutcome, SqliteCatalog, WatermarkCommit, file_io, watermark};
use url::Url;

/// A catalog under test and whatever must outlive it. `C` is what it
/// implements: `dyn CommitCatalog` for ours, `dyn Catalog` for iceberg's.
struct Harness<C: ?Sized> {
    catalog: Box<C>,
    _dir: tempfile::TempDir,
}

fn sqlite(store: Arc<dyn ObjectStore>, warehouse: impl Fn(&std::path::Path) -> Url) -> Harness<dyn CommitCatalog> {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = warehouse(dir.path());
    let io = file_io(store, &warehouse);
    let catalog = SqliteCatalog::open(&dir.path().join("catalog.db"), warehouse, io).unwrap();
    Harness {
        catalog: Box::new(catalog),
        _dir: dir,
    }
}

async fn sqlite_local() -> Harness<dyn CommitCatalog> {
    sqlite(Arc::new(LocalFileSystem::new()), |dir| {
        Url::from_directory_path(dir.join("warehouse")).unwrap()
    })
}

async fn sqlite_in_memory() -> Harness<dyn CommitCatalog> {
    sqlite(Arc::new(InMemory::new()), |_| {
        Url::parse("memory://bucket/warehouse").unwrap()
    })
}

async fn iceberg_memory() -> Harness<dyn Catalog> {
    let catalog = MemoryCatalogBuilder::default()
        .load(
            "memory",
            HashMap::from([(MEMORY_CATALOG_WAREHOUSE.to_string(), "memory://warehouse".to_string())]),
        )
        .await
        .unwrap();
    Harness {
        catalog: Box::new(catalog),
        _dir: tempfile::tempdir().unwrap(),
    }
}

/// One test per check per catalog, so a failure names both.
macro_rules! suite {
    ($name:ident, $make:path, [$($check:ident),* $(,)?]) => {
        mod $name {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let h = $make().await;
                    conformance::$check(h.catalog.as_ref(), stringify!($check)).await.unwrap();
                }
            )*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn check_concurrent_appends() {
                let h = $make().await;
                conformance::check_concurrent_appends(h.catalog.as_ref(), "concurrent", 8).await.unwrap();
            }
        }
    };
}

suite!(
    sqlite_local_fs,
    sqlite_local,
    [
        check_namespaces,
        check_drop_non_empty_namespace,
        check_tables,
        check_append_visible,
        check_stale_commit_rejected,
        check_watermark_commits,
        check_commit_table,
        check_watermark_overwrites,
    ]
);

suite!(
    sqlite_in_memory_store,
    sqlite_in_memory,
    [
        check_namespaces,
        check_drop_non_empty_namespace,
        check_tables,
        check_append_visible,
        check_stale_commit_rejected,
        check_watermark_commits,
        check_commit_table,
        check_watermark_overwrites,
    ]
);

// MemoryCatalog drops non-empty namespaces recursively, so that check does
// not apply. It is not a `CommitCatalog` either (iceberg 0.10 cannot build
// the `TableCommit` its `update_table` takes outside a `Transaction`), so the
// checks of watermark and custom commits do not apply; the plain-`Catalog`
// checks must pass as is.
suite!(
    iceberg_memory_catalog,
    iceberg_memory,
    [
        check_namespaces,
        check_tables,
        check_append_visible,
        check_stale_commit_rejected,
    ]
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_all_passes_on_sqlite() {
    let h = sqlite_local().await;
    conformance::run_all(h.catalog.as_ref(), "all").await.unwrap();
}

/// Writes `ids` as Parquet through iceberg's writer into the table's data
/// folder, commits it with a watermark, and reads it back with a scan.
async fn parquet_round_trip(h: Harness<dyn CommitCatalog>) {
    let catalog = h.catalog.as_ref();
    let ns = NamespaceIdent::new("pq".into());
    catalog.create_namespace(&ns, HashMap::new()).await.unwrap();
    let table = create_test_table(catalog, &ns, "events").await.unwrap();

    let schema = table.metadata().current_schema().clone();
    let writer = RollingFileWriterBuilder::new_with_default_file_size(
        ParquetWriterBuilder::new(WriterProperties::builder().build(), schema.clone()),
        table.file_io().clone(),
        DefaultLocationGenerator::new(table.metadata()).unwrap(),
        DefaultFileNameGenerator::new("shard-a".into(), None, DataFileFormat::Parquet),
    );
    let mut writer = DataFileWriterBuilder::new(writer).build(None).await.unwrap();
    let arrow_schema = Arc::new(iceberg::arrow::schema_to_arrow_schema(&schema).unwrap());
    let batch = RecordBatch::try_new(
        arrow_schema,
        vec![
            Arc::new(Int64Array::from_iter_values(0..1000)),
            Arc::new(StringArray::from_iter_values((0..1000).map(|i| format!("row {i}")))),
        ],
    )
    .unwrap();
    writer.write(batch).await.unwrap();
    let files = writer.close().await.unwrap();
    assert_eq!(files.len(), 1);

    let outcome = WatermarkCommit::new(table.identifier().clone(), "a", 0, 1000, files)
        .commit(catalog)
        .await
        .unwrap();
    let CommitOutcome::Committed { table, attempts, .. } = outcome else {
        panic!("superseded on a fresh table");
    };
    assert_eq!(attempts, 1);
    assert_eq!(watermark(table.metadata(), None, "a"), 1000);

    let reloaded = catalog.load_table(table.identifier()).await.unwrap();
    let batches: Vec<RecordBatch> = reloaded
        .scan()
        .build()
        .unwrap()
        .to_arrow()
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    assert_eq!(rows, 1000);
    let ids = batches[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(ids.value(0), 0);
    assert!(ids.null_count() == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_written_and_scanned_through_local_fs() {
    parquet_round_trip(sqlite_local().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_written_and_scanned_through_in_memory_store() {
    parquet_round_trip(sqlite_in_memory().await).await;
}
