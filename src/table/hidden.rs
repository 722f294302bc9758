//! Hidden columns: they travel with every row from the WAL into Parquet and
//! make the consistent cut, de-duplication after a crash, and time travel
//! exact. SQL does not show them; Iceberg readers see them as ordinary
//! columns of the table.

/// Hot-WAL lsn of the row (per shard).
pub const LSN: &str = "_lsn";
/// Commit time of the write that produced the row (UTC, µs).
pub const COMMIT_TS: &str = "_commit_ts";
/// The shard whose hot tier wrote the row.
pub const SHARD: &str = "_shard";

pub const ALL: [&str; 3] = [LSN, COMMIT_TS, SHARD];

/// The Arrow type of [`COMMIT_TS`] (Iceberg's `timestamptz`).
pub fn commit_ts_type() -> arrow::datatypes::DataType {
    arrow::datatypes::DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("+00:00".into()))
}

pub fn is_hidden(name: &str) -> bool {
    ALL.contains(&name)
}
