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
//!
//! Reads keep the entries they decoded (see [`DecodedWal`]): an entry never
//! changes once written, so each read fetches and decodes only the entries
//! committed since the last one. Every query and every key check reads the
//! hot tier, so without this a table written row by row got slower with
//! each row.
//!
//! Entries are looked up by `first_lsn` (the primary key) only. The entries
//! above the watermark start at [`SqliteHotStore::first_unflushed`]: at most
//! one entry straddles the watermark, and compacted entries that
//! `hot_retention` keeps below it are never scanned.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::{FieldRef, SchemaRef};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{CommitTimes, HotSnapshot, HotStats, HotStore, Lsn, TableName, WalEntry, WalOp, WalWrite, codec};
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
    decoded: Mutex<HashMap<TableName, DecodedWal>>,
}

/// One table's entries above its watermark as a read last decoded them
/// (columns as written), in lsn order. The cache is checked against the
/// file on every read (see [`SqliteHotStore::read`]), so writes by another
/// process sharing it are seen too.
///
/// Consecutive entries of the same kind and schema are joined into runs of
/// up to [`RUN_ROWS`] rows, each row keeping its commit time: a table
/// written row by row is then a few runs, not one entry per row, for every
/// query and key check above.
#[derive(Debug, Clone, Default)]
struct DecodedWal {
    entries: Vec<DecodedEntry>,
    /// `first_lsn` of the newest entry decoded (inside the last run).
    newest: Option<Lsn>,
}

#[derive(Debug, Clone)]
struct DecodedEntry {
    first_lsn: Lsn,
    last_lsn: Lsn,
    op: WalOp,
    /// Each joined commit's first lsn and time, ascending (shared with
    /// the entries readers were given).
    commits: Arc<Vec<(Lsn, i64)>>,
    batch: RecordBatch,
}

/// Rows per joined run at most: small entries are joined up to this.
const RUN_ROWS: usize = 8192;

impl DecodedWal {
    /// Add the next entry (lsns above every held one), joining it to the
    /// last run when it continues it.
    fn push(&mut self, mut entry: DecodedEntry) -> Result<()> {
        self.newest = Some(entry.first_lsn);
        let Some(last) = self.entries.last_mut() else {
            self.entries.push(entry);
            return Ok(());
        };
        let schema = last.batch.schema();
        let same_schema = Arc::ptr_eq(&schema, &entry.batch.schema()) || schema == entry.batch.schema();
        let joins = same_schema
            && last.op == entry.op
            && last.last_lsn + 1 == entry.first_lsn
            && last.batch.num_rows() + entry.batch.num_rows() <= RUN_ROWS;
        if !joins {
            // Same schema: share the object, so readers map columns once.
            if same_schema {
                entry.batch = entry.batch.with_schema(schema)?;
            }
            self.entries.push(entry);
            return Ok(());
        }
        last.batch = arrow::compute::concat_batches(&schema, [&last.batch, &entry.batch])?;
        last.last_lsn = entry.last_lsn;
        let commits = Arc::make_mut(&mut last.commits);
        for commit in entry.commits.iter() {
            if commits.last().map(|(_, ts)| *ts) != Some(commit.1) {
                commits.push(*commit);
            }
        }
        Ok(())
    }
}

/// An entry as SQLite returns it, before decoding.
type RawEntry = (Lsn, Lsn, String, i64, Vec<u8>);

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
            decoded: Mutex::new(HashMap::new()),
        })
    }

    fn decoded(&self) -> MutexGuard<'_, HashMap<TableName, DecodedWal>> {
        // Only a cache: a panic mid-update leaves entries that are each
        // whole, and every read checks them against the file.
        self.decoded.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The `first_lsn` from which entries have rows above `watermark`: the
    /// entry that straddles it if there is one, else `watermark + 1`. One
    /// probe of the primary key.
    fn first_unflushed(conn: &Connection, table: &TableName, watermark: Lsn) -> Result<Lsn> {
        let straddling: Option<(Lsn, Lsn)> = conn
            .prepare_cached(&format!(
                "SELECT first_lsn, last_lsn FROM {} WHERE first_lsn <= ?1 ORDER BY first_lsn DESC LIMIT 1",
                wal_table(table)
            ))
            .map_err(sqlite_err("read WAL"))?
            .query_row(params![watermark], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(sqlite_err("read WAL"))?;
        Ok(match straddling {
            Some((first, last)) if last > watermark => first,
            _ => watermark + 1,
        })
    }

    fn decode_entry(table: &TableName, raw: RawEntry) -> Result<DecodedEntry> {
        let (first_lsn, last_lsn, op, commit_ts, bytes) = raw;
        let op = WalOp::from_code(&op).ok_or_else(|| {
            Error::new(ErrorKind::HotStore, format!("unknown WAL op {op:?}"))
                .with_context("table", table)
                .with_context("lsn", first_lsn)
        })?;
        let batch = codec::decode_batch(&bytes, None, false)
            .map_err(|e| e.with_context("table", table).with_context("lsn", first_lsn))?;
        Ok(DecodedEntry {
            first_lsn,
            last_lsn,
            op,
            commits: Arc::new(vec![(first_lsn, commit_ts)]),
            batch,
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
        tx.commit().map_err(sqlite_err("commit"))?;
        self.decoded().remove(table);
        Ok(())
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
            .prepare_cached("SELECT local_watermark FROM _thermocline_tables WHERE namespace = ?1 AND name = ?2")
            .map_err(sqlite_err("read watermark"))?
            .query_row(params![table.namespace, table.name], |r| r.get(0))
            .optional()
            .map_err(sqlite_err("read watermark"))?
            .ok_or_else(|| Self::missing_wal(table))?;
        let mut wal = self.decoded().get(table).cloned().unwrap_or_default();
        wal.entries.retain(|e| e.last_lsn > local_watermark);
        if wal.entries.is_empty() {
            wal.newest = None;
        }
        // Entries above the watermark are never deleted, so the newest one
        // we hold must still be there; if not, the WAL was dropped and made
        // again (by another process) and everything is read afresh.
        if let Some(newest) = wal.newest {
            let present = tx
                .prepare_cached(&format!("SELECT 1 FROM {} WHERE first_lsn = ?1", wal_table(table)))
                .map_err(sqlite_err("read WAL"))?
                .exists(params![newest])
                .map_err(sqlite_err("read WAL"))?;
            if !present {
                wal = DecodedWal::default();
            }
        }
        let from = match wal.newest {
            Some(newest) => newest + 1,
            None => Self::first_unflushed(&tx, table, local_watermark)?,
        };
        let raw: Vec<RawEntry> = {
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT first_lsn, last_lsn, op, commit_ts, batch FROM {} \
                     WHERE first_lsn >= ?1 ORDER BY first_lsn",
                    wal_table(table)
                ))
                .map_err(sqlite_err("read WAL"))?;
            let rows = stmt
                .query_map(params![from], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .map_err(sqlite_err("read WAL"))?;
            rows.collect::<rusqlite::Result<_>>().map_err(sqlite_err("read WAL"))?
        };
        tx.commit().map_err(sqlite_err("end read"))?;
        drop(conn);

        // Decode outside the connection's lock: it is the expensive part.
        for raw in raw {
            let entry = Self::decode_entry(table, raw)?;
            let lsn = entry.first_lsn;
            wal.push(entry)
                .map_err(|e| e.with_context("table", table).with_context("lsn", lsn))?;
        }
        {
            let mut decoded = self.decoded();
            // A concurrent read may have stored a newer view; keep that one.
            let newer = decoded
                .get(table)
                .and_then(|w| w.newest)
                .is_some_and(|theirs| wal.newest.is_none_or(|ours| theirs > ours));
            if !newer {
                decoded.insert(table.clone(), wal.clone());
            }
        }

        let upto = upto.unwrap_or(Lsn::MAX);
        let mut entries = Vec::with_capacity(wal.entries.len());
        let mut maps: Vec<(SchemaRef, bool, codec::ColumnMap)> = Vec::new();
        for entry in &wal.entries {
            // Keep only rows inside (local_watermark, upto].
            let lo = (local_watermark + 1).max(entry.first_lsn);
            let hi = upto.min(entry.last_lsn);
            if lo > hi {
                continue;
            }
            let keep_identity = entry.op == WalOp::Delete;
            let stored = entry.batch.schema();
            let batch = match columns {
                None => Ok(entry.batch.clone()),
                Some(wanted) => {
                    let known = maps
                        .iter()
                        .position(|(schema, keep, _)| Arc::ptr_eq(schema, &stored) && *keep == keep_identity);
                    let index = match known {
                        Some(i) => i,
                        None => {
                            maps.push((
                                stored.clone(),
                                keep_identity,
                                codec::ColumnMap::new(&stored, wanted, keep_identity),
                            ));
                            maps.len() - 1
                        }
                    };
                    maps[index].2.apply(&entry.batch)
                }
            }
            .map_err(|e| e.with_context("table", table).with_context("lsn", entry.first_lsn))?;
            let batch = batch.slice((lo - entry.first_lsn) as usize, (hi - lo + 1) as usize);
            let commit_ts = match entry.commits.as_slice() {
                [(_, ts)] => CommitTimes::One(*ts),
                _ => CommitTimes::Many(entry.commits.clone()),
            };
            entries.push(WalEntry {
                first_lsn: lo,
                last_lsn: hi,
                op: entry.op,
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
        // Background compaction calls this every tick: when the watermark
        // would not move and nothing is old enough to go, skip the write
        // transaction (and its fsync) altogether.
        {
            let current: Option<Lsn> = conn
                .prepare_cached("SELECT local_watermark FROM _thermocline_tables WHERE namespace = ?1 AND name = ?2")
                .map_err(sqlite_err("read watermark"))?
                .query_row(params![table.namespace, table.name], |r| r.get(0))
                .optional()
                .map_err(sqlite_err("read watermark"))?;
            let Some(current) = current else {
                return Err(Self::missing_wal(table));
            };
            // Commit times grow with lsns, so the oldest entry decides
            // (one probe of the primary key, however many are retained).
            let expired = conn
                .prepare_cached(&format!(
                    "SELECT commit_ts < ?2 FROM {} WHERE first_lsn <= ?1 AND last_lsn <= ?1 \
                     ORDER BY first_lsn LIMIT 1",
                    wal_table(table)
                ))
                .map_err(sqlite_err("truncate WAL"))?
                .query_row(params![watermark, keep_since_ts], |r| r.get::<_, bool>(0))
                .optional()
                .map_err(sqlite_err("truncate WAL"))?
                .unwrap_or(false);
            if watermark <= current && !expired {
                return Ok(0);
            }
        }
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
                    "DELETE FROM {} WHERE first_lsn <= ?1 AND last_lsn <= ?1 AND commit_ts < ?2",
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
        let from = Self::first_unflushed(&conn, table, local_watermark)?;
        let (entries, rows, max_lsn, oldest): (i64, Option<i64>, Option<i64>, Option<i64>) = conn
            .prepare_cached(&format!(
                "SELECT count(*), sum(row_count), max(last_lsn), min(commit_ts) FROM {} WHERE first_lsn >= ?1",
                wal_table(table)
            ))
            .map_err(sqlite_err("WAL stats"))?
            .query_row(params![from], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};

    use super::*;

    fn one_row(value: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, true)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![value]))]).unwrap()
    }

    fn insert(table: &TableName, value: i64) -> WalWrite {
        WalWrite {
            table: table.clone(),
            op: WalOp::Insert,
            batch: one_row(value),
        }
    }

    fn values(snapshot: &HotSnapshot) -> Vec<i64> {
        snapshot
            .entries
            .iter()
            .flat_map(|e| e.batch.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect()
    }

    /// Row-by-row commits come back joined into one entry whose rows keep
    /// their own lsns and commit times; later reads add only what is new,
    /// and the watermark and `upto` cut inside the joined entry.
    #[test]
    fn single_row_commits_are_joined_and_keep_their_commit_times() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteHotStore::open(&dir.path().join("hot.db"), "s", Durability::Normal)?;
        let t = TableName::new("public", "t");
        store.create_wal(&t)?;
        for v in 0..5 {
            store.commit(&[insert(&t, v)])?;
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let first = store.read(&t, None, None)?;
        assert_eq!(first.entries.len(), 1);
        assert_eq!(values(&first), vec![0, 1, 2, 3, 4]);
        let entry = &first.entries[0];
        assert_eq!((entry.first_lsn, entry.last_lsn), (1, 5));
        let times = entry.commit_ts.rows(1, 5);
        assert!(
            times.windows(2).all(|w| w[0] < w[1]),
            "one commit time per row: {times:?}"
        );
        assert_eq!(entry.commit_ts.at(3), times[2]);

        store.commit(&[insert(&t, 5)])?;
        assert_eq!(values(&store.read(&t, None, None)?), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(values(&store.read(&t, Some(3), None)?), vec![0, 1, 2]);
        store.truncate(&t, 2, i64::MAX)?;
        let after = store.read(&t, None, None)?;
        assert_eq!(values(&after), vec![2, 3, 4, 5]);
        assert_eq!(after.entries[0].first_lsn, 3);
        assert_eq!(after.entries[0].commit_ts.at(3), times[2]);
        assert_eq!(store.stats(&t)?.rows, 4);
        Ok(())
    }

    /// A WAL dropped and made again (here or by another process) is read
    /// afresh, not from what an earlier read decoded.
    #[test]
    fn a_recreated_wal_is_not_served_from_old_reads() -> Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hot.db");
        let store = SqliteHotStore::open(&path, "s", Durability::Normal)?;
        let other = SqliteHotStore::open(&path, "s", Durability::Normal)?;
        let t = TableName::new("public", "t");
        store.create_wal(&t)?;
        store.commit(&[insert(&t, 1)])?;
        assert_eq!(values(&store.read(&t, None, None)?), vec![1]);
        other.drop_wal(&t)?;
        other.create_wal(&t)?;
        other.commit(&[insert(&t, 2)])?;
        assert_eq!(values(&store.read(&t, None, None)?), vec![2]);
        Ok(())
    }
}
