//! thermocline's Iceberg catalogs and the cold-tier side of its exactly-once
//! rule.
//!
//! This crate owns:
//! - [`commit`]: [`CommitCatalog`], committing raw Iceberg requirements and
//!   updates, which copy-on-write snapshots need and iceberg 0.10 does not
//!   offer;
//! - [`storage`]: iceberg's `Storage`/`FileIO` over an `object_store` store, so
//!   metadata and Parquet go through one store (local folder, S3, R2, memory);
//! - [`sql`]: [`SqliteCatalog`], an Iceberg catalog in a SQLite file in the
//!   JDBC-catalog schema, which pyiceberg's `SqlCatalog` and Java's
//!   `JdbcCatalog` open directly;
//! - [`bucket`]: [`BucketCatalog`], an Iceberg catalog kept entirely in an
//!   object store (S3, R2, a local folder) in Iceberg's file-system table
//!   layout (`v{N}.metadata.json`, `version-hint.text`), committing by a
//!   conditional create of the next version;
//! - [`rest`]: [`RestCatalog`], an Iceberg REST catalog client (R2 Data
//!   Catalog, Polaris, ...) behind the same interface, and a REST catalog
//!   server over any [`CommitCatalog`];
//! - [`watermark`]: per-shard compaction watermarks inside Iceberg snapshots,
//!   and [`WatermarkCommit`], the only way thermocline moves hot rows (and
//!   the deletes that rewrite cold files) into a table;
//! - [`conformance`]: the suite every catalog implementation must pass.
//!
//! It guarantees: a commit through [`SqliteCatalog`] or [`BucketCatalog`]
//! becomes visible atomically and only if the table did not change since it
//! was loaded (a compare-and-swap of the metadata pointer, or of the next
//! metadata version); and a [`WatermarkCommit`] lands
//! at most once per `(shard, expected watermark)`, carrying every other
//! shard's watermark forward, so `snapshot + hot rows above W(snapshot, shard)`
//! is always a consistent cut.

pub mod bucket;
pub mod commit;
pub mod conformance;
pub mod error;
pub mod rest;
pub mod sql;
pub mod storage;
mod table_cache;
pub mod watermark;

pub use bucket::BucketCatalog;
pub use commit::CommitCatalog;
pub use error::{Error, ErrorKind, Result};
pub use rest::RestCatalog;
pub use sql::{DEFAULT_CATALOG_NAME, SqliteCatalog};
pub use storage::{ObjectStoreStorage, ObjectStoreStorageFactory, default_store, file_io};
pub use watermark::{
    COMMIT_ID_KEY, CommitOutcome, WATERMARK_PREFIX, WatermarkCommit, try_watermark, watermark, watermark_key,
    watermarks,
};
