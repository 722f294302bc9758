//! The hot tier: rows just written, kept in a shard's SQLite as a WAL per
//! table until compaction moves them into Iceberg.
//!
//! A WAL entry is one Arrow IPC batch stored in one SQLite row, covering the
//! lsn range `first_lsn..=last_lsn` (row `i` of the batch has lsn
//! `first_lsn + i`). One statement that writes N rows costs a couple of
//! SQLite rows, not N: that is what a Durable Object bills.
//!
//! What a [`HotStore`] must guarantee:
//! - `commit` is atomic and durable before it returns (the write is
//!   acknowledged on return), and assigns lsns that only ever grow, across
//!   all tables of the shard.
//! - `read` returns one consistent view: the local watermark and every entry
//!   above it, as of one instant.
//! - `truncate(W)` records `W` as the local watermark and removes entries at
//!   or below it in one transaction, so a reader never sees the watermark
//!   move without the rows going (or the reverse).
//!
//! The trait is free of rusqlite types and of any async runtime so the
//! Durable Object build can implement it on `ctx.storage().sql()`.

mod codec;
mod sqlite;

use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::FieldRef;

pub use codec::{FIELD_ID, decode_batch, encode_batch, map_batch};
pub use sqlite::{Durability, SqliteHotStore};

use crate::error::Result;

/// A hot-WAL log sequence number. Shard-local, strictly increasing.
pub type Lsn = i64;

/// The name of a table as the hot tier knows it: namespace and table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableName {
    pub namespace: String,
    pub name: String,
}

impl TableName {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for TableName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.namespace, self.name)
    }
}

/// The kind of change a WAL entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalOp {
    /// New row versions: the table's user columns. Row `i` is the version
    /// with lsn `first_lsn + i`.
    Insert,
    /// Deleted row versions: their user columns (the before-image) plus the
    /// identity columns of [`crate::table::row_id`]. Row `i` is the delete
    /// event with lsn `first_lsn + i`. An UPDATE is a `Delete` and an
    /// `Insert` in one commit.
    Delete,
}

impl WalOp {
    pub fn code(self) -> &'static str {
        match self {
            WalOp::Insert => "i",
            WalOp::Delete => "d",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code {
            "i" => Some(WalOp::Insert),
            "d" => Some(WalOp::Delete),
            _ => None,
        }
    }
}

/// One write to append: rows for one table.
#[derive(Debug, Clone)]
pub struct WalWrite {
    pub table: TableName,
    pub op: WalOp,
    pub batch: RecordBatch,
}

/// One entry read back from the WAL.
#[derive(Debug, Clone)]
pub struct WalEntry {
    pub first_lsn: Lsn,
    pub last_lsn: Lsn,
    pub op: WalOp,
    /// When its rows were committed.
    pub commit_ts: CommitTimes,
    pub batch: RecordBatch,
}

/// When the rows of a [`WalEntry`] were committed, in microseconds since
/// the Unix epoch (UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitTimes {
    /// All rows in one commit.
    One(i64),
    /// Rows of consecutive commits that a reader joined into one entry
    /// (a table written row by row would otherwise be one entry per row):
    /// each commit's first lsn and time, ascending.
    Many(Arc<Vec<(Lsn, i64)>>),
}

impl CommitTimes {
    /// The commit time of the row with `lsn`.
    pub fn at(&self, lsn: Lsn) -> i64 {
        match self {
            CommitTimes::One(ts) => *ts,
            CommitTimes::Many(commits) => {
                let after = commits.partition_point(|(first, _)| *first <= lsn);
                commits[after.saturating_sub(1)].1
            }
        }
    }

    /// The commit time of each of the `n` rows from lsn `first`.
    pub fn rows(&self, first: Lsn, n: usize) -> Vec<i64> {
        match self {
            CommitTimes::One(ts) => vec![*ts; n],
            CommitTimes::Many(commits) => {
                let mut out = Vec::with_capacity(n);
                let mut next = commits.partition_point(|(start, _)| *start <= first);
                let mut ts = commits[next.saturating_sub(1)].1;
                for lsn in first..first + n as Lsn {
                    while next < commits.len() && commits[next].0 <= lsn {
                        ts = commits[next].1;
                        next += 1;
                    }
                    out.push(ts);
                }
                out
            }
        }
    }
}

/// A consistent view of one table's hot tier.
#[derive(Debug, Clone, Default)]
pub struct HotSnapshot {
    /// Every row with lsn at or below this is already in Iceberg (and may or
    /// may not still be in the WAL, see `hot_retention`).
    pub local_watermark: Lsn,
    /// Entries with rows above `local_watermark`, in lsn order.
    pub entries: Vec<WalEntry>,
}

impl HotSnapshot {
    pub fn row_count(&self) -> usize {
        self.entries.iter().map(|e| e.batch.num_rows()).sum()
    }
}

/// What the hot tier holds for one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HotStats {
    pub entries: u64,
    pub rows: u64,
    pub max_lsn: Lsn,
    pub local_watermark: Lsn,
    /// Commit time of the oldest entry above the watermark (µs), if any.
    pub oldest_commit_ts: Option<i64>,
}

/// A shard's hot tier. See the module docs for the guarantees.
pub trait HotStore: Send + Sync + fmt::Debug {
    /// The shard this store holds (its watermark key in Iceberg).
    fn shard(&self) -> &str;

    /// Make the WAL for a table (idempotent).
    fn create_wal(&self, table: &TableName) -> Result<()>;

    /// Remove a table's WAL and everything in it.
    fn drop_wal(&self, table: &TableName) -> Result<()>;

    /// Tables that have a WAL in this shard.
    fn tables(&self) -> Result<Vec<TableName>>;

    /// Append all writes in one transaction; returns the lsn range of each.
    fn commit(&self, writes: &[WalWrite]) -> Result<Vec<(Lsn, Lsn)>>;

    /// [`HotStore::commit`] with lsns the caller reserved: the writes' rows
    /// get `first_lsn, first_lsn + 1, ...` in order. The caller holds the
    /// shard's write lock and read [`HotStore::last_lsn`] under it (so an
    /// UPDATE can name the lsn of the version it writes); if the counter
    /// moved anyway (another process on the same file), nothing is written
    /// and the error says so.
    fn commit_at(&self, first_lsn: Lsn, writes: &[WalWrite]) -> Result<Vec<(Lsn, Lsn)>>;

    /// The highest lsn assigned so far in this shard.
    fn last_lsn(&self) -> Result<Lsn>;

    /// A consistent view of entries with rows above the local watermark and
    /// at or below `upto` (all when `None`).
    ///
    /// `columns` are the user columns wanted, as the table's current schema
    /// names them, each with its Iceberg field id ([`FIELD_ID`] metadata):
    /// entries written under an older schema are mapped by field id (see
    /// [`decode_batch`]). `Delete` entries keep their identity columns after
    /// the wanted ones. `None` decodes entries as they were written.
    fn read(&self, table: &TableName, upto: Option<Lsn>, columns: Option<&[FieldRef]>) -> Result<HotSnapshot>;

    /// Record `watermark` (Iceberg now holds every row at or below it) and
    /// delete entries at or below it whose commit time is before
    /// `keep_since_ts` (µs; `i64::MAX` deletes them all). Returns the number
    /// of entries deleted. A lower watermark than the current one is ignored.
    fn truncate(&self, table: &TableName, watermark: Lsn, keep_since_ts: i64) -> Result<u64>;

    /// Row and entry counts above the local watermark.
    fn stats(&self, table: &TableName) -> Result<HotStats>;
}

pub type HotStoreRef = Arc<dyn HotStore>;
