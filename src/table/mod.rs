//! Tiered tables: the DataFusion side of a table whose rows live in a hot
//! tier (SQLite WAL) and a cold tier (Iceberg). Owns the consistent cut
//! (see [`provider`]), the plan nodes that EXPLAIN shows, the INSERT path,
//! and the catalog/schema providers that make tables visible to SQL.

pub mod catalog_provider;
mod cold_stats;
pub mod constraints;
pub mod field_ids;
pub mod hidden;
pub mod hot_scan;
pub mod insert;
pub mod predicate;
pub mod provider;
pub mod row_id;
pub mod scan_progress;
pub mod tiered_scan;

pub use catalog_provider::{WarehouseCatalogProvider, WarehouseSchemaProvider};
pub use hot_scan::HotScanExec;
pub use provider::{TieredTable, wal_fields};
pub use tiered_scan::{CutSummary, RowFilter, ShardCut, TieredScanExec};

/// Cast that fails on a value it cannot convert. Arrow's default cast is
/// "safe": it turns such values into NULL, which on a write path silently
/// stores NULL where the user sent 'abc'.
pub fn strict_cast(
    array: &arrow::array::ArrayRef,
    to: &arrow::datatypes::DataType,
) -> Result<arrow::array::ArrayRef, arrow::error::ArrowError> {
    let options = arrow::compute::CastOptions {
        safe: false,
        ..Default::default()
    };
    arrow::compute::cast_with_options(array, to, &options)
}
