//! Hidden columns: they travel with every row from the WAL into Parquet and
//! make the consistent cut, de-duplication after a crash, and time travel
//! exact. SQL does not show them; Iceberg readers see them as ordinary
//! columns of the table.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMicrosecondArray};

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

/// The hidden columns of `n` consecutive WAL rows: lsns from `first`,
/// committed at `commit_ts` by `shard`. The one place that knows how a
/// hot row's identity becomes columns (scans, compaction, history).
#[derive(Debug, Clone, Copy)]
pub struct WalRows<'a> {
    pub first: crate::hot::Lsn,
    pub n: usize,
    pub commit_ts: &'a crate::hot::CommitTimes,
    pub shard: &'a str,
}

impl WalRows<'_> {
    pub fn lsn(&self) -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(self.first..self.first + self.n as i64))
    }

    pub fn commit_ts(&self) -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(self.commit_ts.rows(self.first, self.n)).with_timezone("+00:00"))
    }

    pub fn shard(&self) -> ArrayRef {
        Arc::new(StringArray::from(vec![self.shard; self.n]))
    }

    /// The hidden column called `name`, or `None` for any other name.
    pub fn column(&self, name: &str) -> Option<ArrayRef> {
        match name {
            LSN => Some(self.lsn()),
            COMMIT_TS => Some(self.commit_ts()),
            SHARD => Some(self.shard()),
            _ => None,
        }
    }
}

pub fn is_hidden(name: &str) -> bool {
    ALL.contains(&name)
}
