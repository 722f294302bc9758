//! [`HotStore`] on an embedded SQLite file (rusqlite), the local default.
//!
//! Layout inside the shard's database:
//! - `_thermocline_meta(key, value)`: `last_lsn`, the shard's lsn counter.
//! - `_thermocline_tables(namespace, name, wal, local_watermark)`: one row
//!   per table with a WAL here.
//! - `"wal.<namespace>.<table>"(first_lsn, last_lsn, op, commit_ts, row_count, batch)`:
//!   the WAL itself, one Arrow IPC batch per row.
//!
//! Writes run in `BEGIN IMMEDIATE` transactions so two processes sharing the
//! file serialise on SQLite's lock instead of failing half-way.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::FieldRef;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{HotSnapshot, HotStats, HotStore, Lsn, TableName, WalEntry, WalOp, WalWrite, codec};
use crate::error::{Error, ErrorKind, Result};

/// An entry larger than this is split: a Durable Object row holds at most
/// 2 MB, and smaller entries keep decode latency even.
const MAX_ENTRY_BYTES: usize = 1 << 20;

/// How hard a commit waits for the disk before it acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync on every commit: an acknowledged write survives power loss
    /// (PostgreSQL's `synchronous_commit = on`).
    #[default]
    Full,
    /// fsync at SQLite checkpoints only: survives a process crash, may lose
    /// the last commits on power loss.
    Normal,
}

#[derive(Debug)]
pub struct SqliteHotStore {
    shard: String,
    path: PathBuf,
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

fn sqlite_err(what: &str) -> impl FnOnce(rusqlite::Error) -> Error + '_ {
    move |e| Error::new(ErrorKind::HotStore, format!("hot tier: {what} failed")).with_source(e)
}

fn wal_table(table: &TableName) -> String {
    let name = format!("wal.{}.{}", table.namespace, table.name);
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl SqliteHotStore {
    /// Open (or create) the shard's hot tier at `path`.
    pub fn open(path: &Path, shard: &str, durability: Durability) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::new(ErrorKind::HotStore, "cannot create the hot tier folder")
                    .with_context("path", dir.display())
                    .with_source(e)
            })?;
        }
        let open = || -> Result<Connection> {
            let conn = Connection::open(path).map_err(|e| {
                Error::new(ErrorKind::HotStore, "cannot open the hot tier database")
                    .with_context("path", path.display())
                    .with_source(e)
            })?;
            conn.busy_timeout(Duration::from_secs(30))
                .map_err(sqlite_err("busy_timeout"))?;
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(sqlite_err("journal_mode"))?;
            let sync = match durability {
                Durability::Full => "FULL",
                Durability::Normal => "NORMAL",
            };
            conn.pragma_update(None, "synchronous", sync)
                .map_err(sqlite_err("synchronous"))?;
            Ok(conn)
        };
        let writer = open()?;
        writer
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS _thermocline_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                 INSERT OR IGNORE INTO _thermocline_meta(key, value) VALUES ('last_lsn', 0);
                 CREATE TABLE IF NOT EXISTS _thermocline_tables(
                     namespace TEXT NOT NULL,
                     name TEXT NOT NULL,
                     local_watermark INTEGER NOT NULL DEFAULT 0,
                     PRIMARY KEY (namespace, name));",
            )
            .map_err(|e| {
                Error::new(ErrorKind::HotStore, "cannot initialise the hot tier database")
                    .with_context("path", path.display())
                    .with_source(e)
            })?;
        let reader = open()?;
        Ok(Self {
            shard: shard.to_string(),
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (the
        // transaction rolls back on drop), so a poisoned lock is safe to reuse.
        conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Split a batch so that each encoded entry stays under the entry limit.
    fn encode_chunks(batch: &RecordBatch, out: &mut Vec<(usize, Vec<u8>)>) -> Result<()> {
        let bytes = codec::encode_batch(batch)?;
        if bytes.len() <= MAX_ENTRY_BYTES || batch.num_rows() <= 1 {
            out.push((batch.num_rows(), bytes));
            return Ok(());
        }
        let half = batch.num_rows() / 2;
        Self::encode_chunks(&batch.slice(0, half), out)?;
        Self::encode_chunks(&batch.slice(half, batch.num_rows() - half), out)
    }

    /// Append `writes` in one transaction; with `expect_first`, only if the
    /// lsn counter is where the caller reserved from.
    fn append(&self, writes: &[WalWrite], expect_first: Option<Lsn>) -> Result<Vec<(Lsn, Lsn)>> {
        // Encode outside the lock: it is the expensive part.
        let mut encoded = Vec::with_capacity(writes.len());
        for write in writes {
            let mut chunks = Vec::new();
            if write.batch.num_rows() > 0 {
                Self::encode_chunks(&write.batch, &mut chunks)?;
            }
            encoded.push(chunks);
        }
        let total: usize = writes.iter().map(|w| w.batch.num_rows()).sum();
        let commit_ts = now_micros();

        let mut conn = Self::lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_err("begin"))?;
        let last: Lsn = tx
            .query_row(
                "UPDATE _thermocline_meta SET value = value + ?1 WHERE key = 'last_lsn' RETURNING value",
                params![total as i64],
                |r| r.get(0),
            )
            .map_err(sqlite_err("assign lsn"))?;
        let mut next = last - total as i64 + 1;
        if let Some(expected) = expect_first
            && expected != next
        {
            // Dropping the transaction rolls the counter back.
            return Err(Error::new(
                ErrorKind::HotStore,
                "another writer appended to this shard's hot tier during the transaction",
            )
            .with_context("expected_lsn", expected)
            .with_context("actual_lsn", next));
        }
        let mut ranges = Vec::with_capacity(writes.len());
        for (write, chunks) in writes.iter().zip(encoded) {
            let first_of_write = next;
            let mut stmt = tx
                .prepare_cached(&format!(
                    "INSERT INTO {}(first_lsn, last_lsn, op, commit_ts, row_count, batch) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    wal_table(&write.table)
                ))
                .map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(_, Some(ref msg)) if msg.contains("no such table") => {
                        Self::missing_wal(&write.table)
                    }
                    e => sqlite_err("prepare append")(e),
                })?;
            for (rows, bytes) in chunks {
                let first = next;
                let last = next + rows as i64 - 1;
                stmt.execute(params![first, last, write.op.code(), commit_ts, rows as i64, bytes])
                    .map_err(sqlite_err("append"))?;
                next = last + 1;
            }
            ranges.push((first_of_write, next - 1));
        }
        tx.commit().map_err(sqlite_err("commit"))?;
        Ok(ranges)
    }

    fn missing_wal(table: &TableName) -> Error {
        Error::new(
            ErrorKind::NotFound,
            format!("table \"{table}\" has no hot WAL in this shard"),
        )
        .with_context("table", table)
    }
}

impl HotStore for SqliteHotStore {
    fn shard(&self) -> &str {
        &self.shard
    }

    fn create_wal(&self, table: &TableName) -> Result<()> {
        let mut conn = Self::lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_err("begin"))?;
        tx.execute(
            "INSERT OR IGNORE INTO _thermocline_tables(namespace, name) VALUES (?1, ?2)",
            params![table.namespace, table.name],
        )
        .map_err(sqlite_err("register WAL"))?;
        tx.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {}(
                first_lsn INTEGER PRIMARY KEY,
                last_lsn INTEGER NOT NULL,
                op TEXT NOT NULL,
                commit_ts INTEGER NOT NULL,
                row_count INTEGER NOT NULL,
                batch BLOB NOT NULL)",
            wal_table(table)
        ))
        .map_err(sqlite_err("create WAL"))?;
        tx.commit().map_err(sqlite_err("commit"))
    }

    fn drop_wal(&self, table: &TableName) -> Result<()> {
        let mut conn = Self::lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_err("begin"))?;
        tx.execute(
            "DELETE FROM _thermocline_tables WHERE namespace = ?1 AND name = ?2",
            params![table.namespace, table.name],
        )
        .map_err(sqlite_err("unregister WAL"))?;
        tx.execute_batch(&format!("DROP TABLE IF EXISTS {}", wal_table(table)))
            .map_err(sqlite_err("drop WAL"))?;
        tx.commit().map_err(sqlite_err("commit"))
    }

    fn tables(&self) -> Result<Vec<TableName>> {
        let conn = Self::lock(&self.reader);
        let mut stmt = conn
            .prepare_cached("SELECT namespace, name FROM _thermocline_tables ORDER BY namespace, name")
            .map_err(sqlite_err("list WALs"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(TableName::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(sqlite_err("list WALs"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sqlite_err("list WALs"))
    }

    fn commit(&self, writes: &[WalWrite]) -> Result<Vec<(Lsn, Lsn)>> {
        self.append(writes, None)
    }

    fn commit_at(&self, first_lsn: Lsn, writes: &[WalWrite]) -> Result<Vec<(Lsn, Lsn)>> {
        self.append(writes, Some(first_lsn))
    }

    fn last_lsn(&self) -> Result<Lsn> {
        let conn = Self::lock(&self.reader);
        conn.query_row("SELECT value FROM _thermocline_meta WHERE key = 'last_lsn'", [], |r| {
            r.get(0)
        })
        .map_err(sqlite_err("read lsn counter"))
    }

    fn read(&self, table: &TableName, upto: Option<Lsn>, columns: Option<&[FieldRef]>) -> Result<HotSnapshot> {
        let mut conn = Self::lock(&self.reader);
        // One read transaction: the watermark and the entries above it come
        // from the same instant (see the module docs of `hot`).
        let tx = conn.transaction().map_err(sqlite_err("begin read"))?;
        let local_watermark: Lsn = tx
            .query_row(
                "SELECT local_watermark FROM _thermocline_tables WHERE namespace = ?1 AND name = ?2",
                params![table.namespace, table.name],
                |r| r.get(0),
            )
            .optional()
            .map_err(sqlite_err("read watermark"))?
            .ok_or_else(|| Self::missing_wal(table))?;
        let upto = upto.unwrap_or(Lsn::MAX);
        let raw: Vec<(Lsn, Lsn, String, i64, Vec<u8>)> = {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT first_lsn, last_lsn, op, commit_ts, batch FROM {} \
                     WHERE last_lsn > ?1 AND first_lsn <= ?2 ORDER BY first_lsn",
                    wal_table(table)
                ))
                .map_err(sqlite_err("read WAL"))?;
            let rows = stmt
                .query_map(params![local_watermark, upto], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(sqlite_err("read WAL"))?;
            rows.collect::<rusqlite::Result<_>>().map_err(sqlite_err("read WAL"))?
        };
        tx.commit().map_err(sqlite_err("end read"))?;
        drop(conn);

        let mut entries = Vec::with_capacity(raw.len());
        for (first_lsn, last_lsn, op, commit_ts, bytes) in raw {
            let op = WalOp::from_code(&op).ok_or_else(|| {
                Error::new(ErrorKind::HotStore, format!("unknown WAL op {op:?}"))
                    .with_context("table", table)
                    .with_context("lsn", first_lsn)
            })?;
            let batch = codec::decode_batch(&bytes, columns, op == WalOp::Delete)
                .map_err(|e| e.with_context("table", table).with_context("lsn", first_lsn))?;
            // Keep only rows inside (local_watermark, upto].
            let lo = (local_watermark + 1).max(first_lsn);
            let hi = upto.min(last_lsn);
            if lo > hi {
                continue;
            }
            let batch = batch.slice((lo - first_lsn) as usize, (hi - lo + 1) as usize);
            entries.push(WalEntry {
                first_lsn: lo,
                last_lsn: hi,
                op,
                commit_ts,
                batch,
            });
        }
        Ok(HotSnapshot {
            local_watermark,
            entries,
        })
    }

    fn truncate(&self, table: &TableName, watermark: Lsn, keep_since_ts: i64) -> Result<u64> {
        let mut conn = Self::lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_err("begin"))?;
        let updated = tx
            .execute(
                "UPDATE _thermocline_tables SET local_watermark = max(local_watermark, ?3) \
                 WHERE namespace = ?1 AND name = ?2",
                params![table.namespace, table.name, watermark],
            )
            .map_err(sqlite_err("advance watermark"))?;
        if updated == 0 {
            return Err(Self::missing_wal(table));
        }
        let deleted = tx
            .execute(
                &format!(
                    "DELETE FROM {} WHERE last_lsn <= ?1 AND commit_ts < ?2",
                    wal_table(table)
                ),
                params![watermark, keep_since_ts],
            )
            .map_err(sqlite_err("truncate WAL"))?;
        tx.commit().map_err(sqlite_err("commit"))?;
        Ok(deleted as u64)
    }

    fn stats(&self, table: &TableName) -> Result<HotStats> {
        let conn = Self::lock(&self.reader);
        let local_watermark: Lsn = conn
            .query_row(
                "SELECT local_watermark FROM _thermocline_tables WHERE namespace = ?1 AND name = ?2",
                params![table.namespace, table.name],
                |r| r.get(0),
            )
            .optional()
            .map_err(sqlite_err("read watermark"))?
            .ok_or_else(|| Self::missing_wal(table))?;
        let (entries, rows, max_lsn, oldest): (i64, Option<i64>, Option<i64>, Option<i64>) = conn
            .query_row(
                &format!(
                    "SELECT count(*), sum(row_count), max(last_lsn), min(commit_ts) FROM {} WHERE last_lsn > ?1",
                    wal_table(table)
                ),
                params![local_watermark],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(sqlite_err("WAL stats"))?;
        Ok(HotStats {
            entries: entries as u64,
            rows: rows.unwrap_or(0) as u64,
            max_lsn: max_lsn.unwrap_or(local_watermark),
            local_watermark,
            oldest_commit_ts: oldest,
        })
    }
}
