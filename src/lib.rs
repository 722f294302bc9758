//! thermocline: one SQL plan over a table's hot tier (rows just written, in
//! SQLite) and its cold tier (an Apache Iceberg table of Parquet files).
//!
//! - [`hot`]: the hot tier, a WAL of Arrow batches per table ([`hot::HotStore`]).
//! - [`table`]: [`table::TieredTable`], the DataFusion provider that reads the
//!   consistent cut (Iceberg snapshot `S` ∪ hot rows with `lsn > W(S, shard)`).
//! - [`write`]: compaction into Iceberg with the watermark in the same commit,
//!   recovery, maintenance.
//! - [`sql`]: our parsing step in front of DataFusion (partition specs, CHECKPOINT).
//! - [`warehouse`] and [`session`]: opening a warehouse and running SQL.
//! - [`migrate`]: applying a folder of SQL migrations, each once, atomically.

pub mod config;
pub mod dml;
pub mod error;
pub mod history;
pub mod hot;
pub mod migrate;
pub mod pg_catalog;
pub mod server;
pub mod session;
pub mod shard;
pub mod sql;
pub mod store;
pub mod table;
pub mod transaction;
pub mod url_table;
pub mod warehouse;
pub mod write;

pub use config::{CatalogKind, CompactionMode, TieringConfig, WarehouseConfig};
pub use error::{Error, ErrorKind, Result};
pub use migrate::MigrationReport;
pub use session::{Session, StatementOutput};
pub use warehouse::Warehouse;
