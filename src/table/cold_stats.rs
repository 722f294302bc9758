//! Estimates of what a cold scan reads (rows, bytes, each column's range and
//! nulls) for DataFusion's cost decisions: which side of a hash join to
//! build, whether to broadcast it, how selective a filter is. Without them
//! DataFusion cannot estimate a join's output, keeps the written join order
//! and can build a hash table over millions of rows where the other side had
//! fifty (TPC-H Q18 took 2× bare DataFusion's time that way).
//!
//! The figures come from each planned file's Parquet footer, read through
//! the runtime's file metadata cache: the scan itself reads the same footer
//! from that cache afterwards, so planning fetches nothing the execution
//! would not have fetched. A file whose columns are not the table's by
//! Iceberg field id (written before a rename) gets no statistics rather than
//! another column's. The tiered scan merges them with the hot rows' own
//! ranges, so they bound every row it returns (DataFusion takes a one-value
//! range as a constant column and drops sorts on it), and reports them as
//! inexact, since deleted versions may make them loose: no optimizer answers
//! a query from them.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use datafusion::common::Statistics;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::metadata::DFParquetMetadata;
use datafusion::execution::cache::cache_manager::FileMetadataCache;
use futures::StreamExt;
use object_store::ObjectStore;
use parquet::file::metadata::ParquetMetaData;

/// Footers fetched at once while planning.
const CONCURRENT_FOOTERS: usize = 8;

/// `files` with the statistics of their footers attached (where readable and
/// matching the table by field id), and the statistics of all of them
/// together, in `file_schema`.
pub async fn attach(
    files: Vec<PartitionedFile>,
    store: Arc<dyn ObjectStore>,
    cache: Arc<dyn FileMetadataCache>,
    file_schema: &SchemaRef,
    table_schema: &iceberg::spec::Schema,
) -> (Vec<PartitionedFile>, Option<Statistics>) {
    let ids: HashMap<&str, i32> = table_schema
        .as_struct()
        .fields()
        .iter()
        .map(|f| (f.name.as_str(), f.id))
        .collect();
    let files: Vec<PartitionedFile> = futures::stream::iter(files)
        .map(|file| {
            let store = store.clone();
            let cache = cache.clone();
            let ids = &ids;
            async move {
                let metadata = DFParquetMetadata::new(store.as_ref(), &file.object_meta)
                    .with_file_metadata_cache(Some(cache))
                    .fetch_metadata()
                    .await;
                // No statistics is only a worse estimate; a corrupt footer
                // is reported (with the file's name) when the scan reads it.
                let stats = metadata
                    .ok()
                    .filter(|m| same_columns(m, ids))
                    .and_then(|m| DFParquetMetadata::statistics_from_parquet_metadata(&m, file_schema).ok());
                match stats {
                    Some(s) => file.with_statistics(Arc::new(s)),
                    None => file,
                }
            }
        })
        .buffered(CONCURRENT_FOOTERS)
        .collect()
        .await;
    let all = files
        .iter()
        .map(|f| f.statistics.as_deref())
        .collect::<Option<Vec<&Statistics>>>()
        .and_then(|stats| Statistics::try_merge_iter(stats, file_schema).ok());
    (files, all)
}

/// Whether every top-level column of the file that the table also has (by
/// name or by field id) has the same name and field id in both.
fn same_columns(metadata: &ParquetMetaData, table_ids: &HashMap<&str, i32>) -> bool {
    let root = metadata.file_metadata().schema_descr().root_schema();
    let by_id: HashMap<i32, &str> = table_ids.iter().map(|(name, id)| (*id, *name)).collect();
    root.get_fields().iter().all(|field| {
        let info = field.get_basic_info();
        let name = field.name();
        if !info.has_id() {
            // Not written by an Iceberg writer: names are all there is.
            return true;
        }
        let id = info.id();
        match (table_ids.get(name), by_id.get(&id)) {
            (Some(table_id), _) => *table_id == id,
            (None, Some(_)) => false,
            (None, None) => true,
        }
    })
}
