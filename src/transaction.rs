//! Transactions over the hot tier.
//!
//! A shard has one writer at a time: the first write of a transaction (or of
//! an autocommit statement) takes the shard's write lock and holds it until
//! COMMIT or ROLLBACK. Under the lock the transaction reserves lsns from the
//! shard's counter and stages its WAL entries in memory; COMMIT appends them
//! all in one SQLite transaction ([`crate::hot::HotStore::commit_at`]), which
//! is the acknowledgement. ROLLBACK, an error in an autocommit statement, or
//! a session dropped mid-transaction discards the staged entries (and
//! undoes the transaction's DDL, below).
//!
//! Why this shape:
//! - Reads never wait: every query reads a consistent cut of committed data,
//!   plus, inside a transaction, its own staged entries (read-your-writes).
//! - Key checks stay true until COMMIT, because nobody else can write the
//!   shard while the lock is held.
//! - Staged rows already carry their final lsns, so an UPDATE later in the
//!   same transaction can name the version it replaces.
//!
//! Readers outside the transaction see none of it until COMMIT: READ
//! COMMITTED for readers, serialised writers.
//!
//! A sharded table is written through the shards that own its rows (see
//! [`crate::shard`]): the transaction takes each such shard's lock, in
//! ascending name order within a statement, reserves lsns from that shard's
//! counter, and COMMIT appends each shard's entries in that shard's own
//! SQLite transaction. Each shard's part is atomic; a commit over several
//! shards is acknowledged once all of them are, and if one fails after
//! others committed, the error names the shards that did (like one Durable
//! Object per shard, shards share no transaction log).
//!
//! DDL is transactional too, by undo (module `ddl`): CREATE TABLE, CREATE TABLE
//! AS and CREATE SCHEMA (and ALTER TABLE, through
//! [`DdlUndo::RestoreSchema`]) take effect in the catalog at once and are
//! logged as [`DdlUndo`] entries, undone newest first when the transaction
//! does not commit. DROP TABLE inside a transaction is deferred
//! to COMMIT. DDL inside a transaction takes the shard's write lock, so no
//! other writer can commit rows into what an undo would remove. (Other
//! sessions do see the DDL before COMMIT: the catalog has no isolation.)

mod ddl;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use arrow::array::RecordBatch;
use tokio::sync::OwnedMutexGuard;

use crate::error::{Error, ErrorKind, Result};
use crate::hot::{Lsn, TableName, WalEntry, WalOp, WalWrite};
use crate::warehouse::{SchemaPin, WarehouseInner};

pub use self::ddl::DdlUndo;
pub(crate) use self::ddl::purge_table;

/// One staged WAL entry.
#[derive(Debug, Clone)]
struct Staged {
    shard: String,
    table: TableName,
    op: WalOp,
    first_lsn: Lsn,
    batch: RecordBatch,
}

#[derive(Debug, Default)]
struct Inner {
    /// BEGIN was issued and neither COMMIT nor ROLLBACK yet.
    explicit: bool,
    /// A statement failed inside the explicit transaction: only ROLLBACK
    /// (or COMMIT, which then rolls back) is accepted, as in PostgreSQL.
    failed: bool,
    /// The write lock of each shard written, from its first write on.
    locks: BTreeMap<String, ShardLock>,
    staged: Vec<Staged>,
    /// Rows for shards other processes host, sent at COMMIT (autocommit
    /// statements only; their lsns are the shard's to give).
    remote: Vec<Staged>,
    /// How to take back the DDL done so far, oldest first.
    undo: Vec<DdlUndo>,
    /// Tables DROP TABLE named in this transaction, dropped at COMMIT.
    deferred_drops: Vec<TableName>,
    /// Tables ALTER TABLE changed: compaction leaves them alone until the
    /// transaction is over (see [`SchemaPin`]).
    pins: Vec<SchemaPin>,
    /// SAVEPOINTs, oldest first.
    savepoints: Vec<Savepoint>,
}

/// A shard's write lock held by a transaction, and its lsn counter.
#[derive(Debug)]
struct ShardLock {
    _guard: OwnedMutexGuard<()>,
    /// The lsn the next staged row of this shard gets.
    next_lsn: Lsn,
    /// `next_lsn` when the lock was taken.
    first_lsn: Lsn,
}

/// Where the transaction stood at `SAVEPOINT name`: ROLLBACK TO cuts
/// everything staged, undone or deferred since back to these lengths.
#[derive(Debug)]
struct Savepoint {
    name: String,
    staged: usize,
    undo: usize,
    deferred_drops: usize,
    /// Each held shard's next lsn then: rows staged after the savepoint
    /// give their lsns back, so committed lsns stay contiguous.
    next_lsn: BTreeMap<String, Lsn>,
}

/// Everything a transaction holds, taken out of the state when it ends.
struct Ending {
    failed: bool,
    staged: Vec<Staged>,
    remote: Vec<Staged>,
    undo: Vec<DdlUndo>,
    deferred_drops: Vec<TableName>,
    /// Held until the undo is done: no other writer of the shard can see a
    /// half-undone catalog.
    locks: BTreeMap<String, ShardLock>,
    /// Released last, once the schema is final (committed or restored).
    pins: Vec<SchemaPin>,
}

impl Ending {
    /// Discard the staged writes and deferred drops, undo the DDL, then
    /// release the write lock.
    async fn roll_back(self, wh: &WarehouseInner) -> Result<()> {
        let Ending { undo, locks, pins, .. } = self;
        let result = ddl::undo_all(wh, undo).await;
        drop(locks);
        drop(pins);
        result
    }
}

/// A session's transaction state, shared with the tables it plans so their
/// scans see the staged entries. The tables also report back through it:
/// warnings for the client and scan progress.
#[derive(Debug, Default)]
pub struct TransactionState {
    inner: Mutex<Inner>,
    /// Warnings for the session's client (a partial answer's missing
    /// shards): the session takes them after each statement.
    warnings: Mutex<Vec<String>>,
    /// How far the running statement's scans have read the cold tier.
    scan_progress: Arc<crate::table::scan_progress::ScanProgress>,
}

/// What ReadyForQuery reports: idle, in a transaction, or in a failed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    Idle,
    InTransaction,
    Failed,
}

impl TransactionState {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn status(&self) -> TransactionStatus {
        let inner = self.lock();
        match (inner.explicit, inner.failed) {
            (false, _) => TransactionStatus::Idle,
            (true, false) => TransactionStatus::InTransaction,
            (true, true) => TransactionStatus::Failed,
        }
    }

    pub fn is_explicit(&self) -> bool {
        self.lock().explicit
    }

    /// Tell the session's client something went less than fully right.
    pub fn warn(&self, message: String) {
        let mut warnings = self.warnings.lock().unwrap_or_else(|p| p.into_inner());
        if !warnings.contains(&message) {
            warnings.push(message);
        }
    }

    /// The session's scan counters (see [`crate::table::scan_progress`]).
    pub fn scan_progress(&self) -> &Arc<crate::table::scan_progress::ScanProgress> {
        &self.scan_progress
    }

    /// The warnings since the last call.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// BEGIN. Returns false if a transaction was already open (PostgreSQL
    /// only warns about that).
    pub fn begin(&self) -> bool {
        let mut inner = self.lock();
        if inner.explicit {
            return false;
        }
        inner.explicit = true;
        inner.failed = false;
        true
    }

    /// Mark the explicit transaction failed after a statement error.
    pub fn fail(&self) {
        let mut inner = self.lock();
        if inner.explicit {
            inner.failed = true;
        }
    }

    /// `SAVEPOINT name` (only inside BEGIN ... COMMIT).
    pub fn savepoint(&self, name: &str) -> Result<()> {
        let mut inner = self.lock();
        if !inner.explicit {
            return Err(Error::new(
                ErrorKind::TransactionState,
                "SAVEPOINT can only be used in transaction blocks",
            ));
        }
        if inner.failed {
            return Err(Self::aborted_error());
        }
        let savepoint = Savepoint {
            name: name.to_string(),
            staged: inner.staged.len(),
            undo: inner.undo.len(),
            deferred_drops: inner.deferred_drops.len(),
            next_lsn: inner.locks.iter().map(|(s, l)| (s.clone(), l.next_lsn)).collect(),
        };
        inner.savepoints.push(savepoint);
        Ok(())
    }

    /// `RELEASE [SAVEPOINT] name`: forget it and every later savepoint;
    /// what was done since stays part of the transaction.
    pub fn release(&self, name: &str) -> Result<()> {
        let mut inner = self.lock();
        if inner.failed {
            return Err(Self::aborted_error());
        }
        let at = Self::find_savepoint(&inner, name)?;
        inner.savepoints.truncate(at);
        Ok(())
    }

    /// `ROLLBACK TO [SAVEPOINT] name`: discard what was staged since, undo
    /// the DDL done since (newest first) and keep the savepoint. Also ends
    /// a failed state: the transaction goes on.
    pub async fn rollback_to(&self, wh: &WarehouseInner, name: &str) -> Result<()> {
        let undo = {
            let mut inner = self.lock();
            let at = Self::find_savepoint(&inner, name)?;
            inner.savepoints.truncate(at + 1);
            let savepoint = &inner.savepoints[at];
            let (staged, undo, drops, next_lsn) = (
                savepoint.staged,
                savepoint.undo,
                savepoint.deferred_drops,
                savepoint.next_lsn.clone(),
            );
            inner.staged.truncate(staged);
            inner.deferred_drops.truncate(drops);
            for (shard, lock) in inner.locks.iter_mut() {
                // A shard first written after the savepoint starts over.
                lock.next_lsn = next_lsn.get(shard).copied().unwrap_or(lock.first_lsn);
            }
            inner.failed = false;
            inner.undo.split_off(undo)
        };
        ddl::undo_all(wh, undo).await
    }

    fn find_savepoint(inner: &Inner, name: &str) -> Result<usize> {
        if !inner.explicit {
            return Err(Error::new(
                ErrorKind::TransactionState,
                format!("{name}: savepoints can only be used in transaction blocks"),
            ));
        }
        inner.savepoints.iter().rposition(|s| s.name == name).ok_or_else(|| {
            Error::new(
                ErrorKind::UndefinedSavepoint,
                format!("savepoint \"{name}\" does not exist"),
            )
        })
    }

    /// The error for a statement sent to a failed transaction.
    pub fn aborted_error() -> Error {
        Error::new(
            ErrorKind::TransactionState,
            "current transaction is aborted, commands ignored until end of transaction block",
        )
    }

    /// Take the home shard's write lock (if this transaction does not hold
    /// it yet) and reserve lsns from its counter: for DDL and writes to
    /// unsharded tables. Waits at most the warehouse's `lock_timeout` for
    /// another transaction to finish.
    pub async fn acquire(&self, wh: &WarehouseInner) -> Result<()> {
        self.acquire_shards(wh, std::slice::from_ref(&wh.config.shard)).await
    }

    /// Take the write locks of `shards`, in ascending name order (so two
    /// statements that lock overlapping sets cannot wait on each other in a
    /// cycle), each waiting at most `lock_timeout`.
    pub async fn acquire_shards(&self, wh: &WarehouseInner, shards: &[String]) -> Result<()> {
        // Every write and every DDL statement takes a shard's lock first.
        wh.check_writable("a write")?;
        let mut wanted: Vec<&String> = shards.iter().collect();
        wanted.sort();
        wanted.dedup();
        for shard in wanted {
            if self.lock().locks.contains_key(shard) {
                continue;
            }
            let local = wh.shard(shard)?;
            let guard = tokio::time::timeout(wh.config.lock_timeout, local.writer.clone().lock_owned())
                .await
                .map_err(|_| {
                    Error::new(
                        ErrorKind::LockNotAvailable,
                        format!(
                            "could not obtain the shard's write lock within {:?}: another transaction is writing",
                            wh.config.lock_timeout
                        ),
                    )
                    .with_context("shard", shard)
                })?;
            let next = local.hot.last_lsn()? + 1;
            let mut inner = self.lock();
            inner.locks.entry(shard.clone()).or_insert(ShardLock {
                _guard: guard,
                next_lsn: next,
                first_lsn: next,
            });
        }
        Ok(())
    }

    /// The lsn the next staged row of `shard` will get. Requires
    /// [`Self::acquire_shards`].
    pub fn next_lsn(&self, shard: &str) -> Result<Lsn> {
        let inner = self.lock();
        inner
            .locks
            .get(shard)
            .map(|l| l.next_lsn)
            .ok_or_else(|| Error::internal(format!("staging a write without the write lock of shard {shard}")))
    }

    /// Stage one entry in `shard`; returns the lsn of its first row.
    pub fn stage(&self, shard: &str, table: &TableName, op: WalOp, batch: RecordBatch) -> Result<Lsn> {
        let mut inner = self.lock();
        let Some(lock) = inner.locks.get_mut(shard) else {
            return Err(Error::internal(format!(
                "staging a write without the write lock of shard {shard}"
            )));
        };
        let first_lsn = lock.next_lsn;
        lock.next_lsn += batch.num_rows() as Lsn;
        if batch.num_rows() > 0 {
            inner.staged.push(Staged {
                shard: shard.to_string(),
                table: table.clone(),
                op,
                first_lsn,
                batch,
            });
        }
        Ok(first_lsn)
    }

    /// Stage rows (user columns in table order) of `table` for a remote
    /// shard: sent when the statement commits. Only outside BEGIN ...
    /// COMMIT: a transaction cannot hold a remote shard's write lock.
    pub fn stage_remote(&self, shard: &str, table: &TableName, batch: RecordBatch) -> Result<()> {
        let mut inner = self.lock();
        if inner.explicit {
            return Err(Error::not_supported(format!(
                "writing to shard \"{shard}\", which another server hosts, inside a transaction block: \
                 each statement on remote shards commits by itself, so run it outside BEGIN ... COMMIT"
            ))
            .with_context("table", table));
        }
        if batch.num_rows() > 0 {
            inner.remote.push(Staged {
                shard: shard.to_string(),
                table: table.clone(),
                op: WalOp::Insert,
                first_lsn: 0,
                batch,
            });
        }
        Ok(())
    }

    /// Staged entries of one table, with their shard, as WAL entries a scan
    /// can merge.
    pub fn staged(&self, table: &TableName) -> Vec<(String, WalEntry)> {
        let inner = self.lock();
        let now = chrono::Utc::now().timestamp_micros();
        inner
            .staged
            .iter()
            .filter(|s| &s.table == table)
            .map(|s| {
                let entry = WalEntry {
                    first_lsn: s.first_lsn,
                    last_lsn: s.first_lsn + s.batch.num_rows() as Lsn - 1,
                    op: s.op,
                    commit_ts: crate::hot::CommitTimes::One(now),
                    batch: s.batch.clone(),
                };
                (s.shard.clone(), entry)
            })
            .collect()
    }

    /// Log how to take back a DDL change this transaction (or autocommit
    /// statement) just made; see [`DdlUndo`].
    pub fn record_ddl(&self, undo: DdlUndo) {
        self.lock().undo.push(undo);
    }

    /// Keep compaction away from a table this transaction altered, until it
    /// ends.
    pub(crate) fn pin_schema(&self, pin: SchemaPin) {
        self.lock().pins.push(pin);
    }

    /// DROP TABLE inside a transaction: the table goes at COMMIT (and stays
    /// on ROLLBACK). Requires [`Self::acquire`].
    pub fn defer_drop(&self, table: TableName) {
        let mut inner = self.lock();
        if !inner.deferred_drops.contains(&table) {
            inner.deferred_drops.push(table);
        }
    }

    /// Whether DROP TABLE named `table` in this transaction.
    pub fn is_drop_pending(&self, table: &TableName) -> bool {
        self.lock().deferred_drops.contains(table)
    }

    /// Take everything out: the state is idle again.
    fn end(&self) -> Ending {
        let mut inner = self.lock();
        let failed = inner.failed;
        inner.explicit = false;
        inner.failed = false;
        inner.savepoints.clear();
        Ending {
            failed,
            staged: std::mem::take(&mut inner.staged),
            remote: std::mem::take(&mut inner.remote),
            undo: std::mem::take(&mut inner.undo),
            deferred_drops: std::mem::take(&mut inner.deferred_drops),
            locks: std::mem::take(&mut inner.locks),
            pins: std::mem::take(&mut inner.pins),
        }
    }

    /// Append everything staged in one hot-tier commit (the
    /// acknowledgement), then drop the tables DROP TABLE named, and release
    /// the lock. Ends an explicit transaction; a failed one rolls back
    /// instead and the result says so (`Ok(false)`).
    ///
    /// If the append fails nothing was acknowledged, so the DDL is undone
    /// too. Once it succeeded the undo log is forgotten: it could only take
    /// back committed work. A deferred drop that fails after that is
    /// reported, with the rows committed.
    pub async fn commit(&self, wh: &WarehouseInner) -> Result<bool> {
        let ending = self.end();
        if ending.failed {
            ending.roll_back(wh).await?;
            return Ok(false);
        }
        let Ending {
            staged,
            remote,
            undo,
            deferred_drops,
            locks,
            pins,
            ..
        } = ending;
        // Each shard's entries in one hot-tier commit, shards in name order.
        let mut by_shard: BTreeMap<String, (Lsn, Vec<WalWrite>)> = BTreeMap::new();
        for s in staged {
            let (_, writes) = by_shard.entry(s.shard).or_insert((s.first_lsn, Vec::new()));
            writes.push(WalWrite {
                table: s.table,
                op: s.op,
                batch: s.batch,
            });
        }
        let mut committed: Vec<String> = Vec::new();
        for (shard, (first_lsn, writes)) in &by_shard {
            if let Err(e) = wh.append_at(shard, *first_lsn, writes) {
                if !committed.is_empty() {
                    // Shards share no log: what committed stays committed.
                    drop(undo);
                    drop(locks);
                    return Err(e
                        .with_context("shard", shard)
                        .with_context("committed on shards", committed.join(", ")));
                }
                let undone = ddl::undo_all(wh, undo).await;
                drop(locks);
                return Err(match undone {
                    Ok(()) => e,
                    Err(undo_error) => e.with_context("rollback", undo_error),
                });
            }
            committed.push(shard.clone());
        }
        // Then each remote shard's rows, one append per shard and table.
        let mut remote_by_shard: BTreeMap<(String, TableName), Vec<RecordBatch>> = BTreeMap::new();
        for s in remote {
            remote_by_shard.entry((s.shard, s.table)).or_default().push(s.batch);
        }
        for ((shard, table), batches) in remote_by_shard {
            let sent = match &wh.remote {
                Some(remote) => {
                    let request = crate::shard::remote::Append {
                        namespace: table.namespace.clone(),
                        table: table.name.clone(),
                        shard: shard.clone(),
                    };
                    remote.append(&request, batches).await.map(|_| ())
                }
                None => Err(Error::internal(format!(
                    "rows staged for remote shard {shard} with no remote shards"
                ))),
            };
            if let Err(e) = sent {
                drop(undo);
                drop(locks);
                let e = e.with_context("table", &table);
                return Err(match committed.is_empty() {
                    true => e,
                    false => e.with_context("committed on shards", committed.join(", ")),
                });
            }
            committed.push(shard);
        }
        drop(undo);
        let mut dropped = Ok(());
        for table in &deferred_drops {
            if let Err(e) = drop_deferred(wh, table).await {
                tracing::error!(table = %table, "DROP TABLE at COMMIT failed: {e}");
                if dropped.is_ok() {
                    dropped = Err(e);
                }
            }
        }
        // Release the locks (and the altered tables) before compaction may
        // run inline.
        drop(locks);
        drop(pins);
        for (shard, (_, writes)) in by_shard {
            let survivors: Vec<WalWrite> = writes
                .into_iter()
                .filter(|w| !deferred_drops.contains(&w.table))
                .collect();
            if !survivors.is_empty() {
                wh.after_append(&shard, &survivors).await?;
            }
        }
        dropped?;
        Ok(true)
    }

    /// ROLLBACK: discard everything staged and every deferred drop, undo
    /// the DDL (newest first) and release the lock. Each undo that fails is
    /// logged naming its table and the first is returned; the transaction
    /// is over either way.
    pub async fn rollback(&self, wh: &WarehouseInner) -> Result<()> {
        self.end().roll_back(wh).await
    }

    /// Roll back for a session that goes away (its `Drop`, which cannot
    /// await). Staged writes are discarded at once. Undoing DDL needs the
    /// catalog: on a multi-threaded tokio runtime, and outside any runtime
    /// (a CLI dropping its session after `block_on`), it runs to the end
    /// before this returns; on a current-thread runtime, which cannot
    /// block, it is spawned and holds the write lock until done. Failures
    /// are logged naming the table.
    pub(crate) fn abandon(&self, wh: &Arc<WarehouseInner>) {
        let ending = self.end();
        if ending.undo.is_empty() {
            return;
        }
        let objects: Vec<String> = ending.undo.iter().map(DdlUndo::object).collect();
        // undo_all has logged each failure with its object.
        let undo = |ending: Ending, wh: Arc<WarehouseInner>| async move {
            let _ = ending.roll_back(&wh).await;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                let mut ending = Some(ending);
                // block_in_place refuses (panics, before running anything)
                // where blocking is not allowed, e.g. inside a LocalSet:
                // then the undo runs in the background.
                let blocked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    tokio::task::block_in_place(|| {
                        if let Some(ending) = ending.take() {
                            runtime.block_on(undo(ending, wh.clone()));
                        }
                    })
                }));
                if let (Err(_), Some(ending)) = (blocked, ending) {
                    runtime.spawn(undo(ending, wh.clone()));
                }
            }
            Ok(runtime) => {
                runtime.spawn(undo(ending, wh.clone()));
            }
            Err(_) => match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime.block_on(undo(ending, wh.clone())),
                Err(e) => tracing::error!(
                    objects = ?objects,
                    "a session dropped mid-transaction left DDL that could not be undone: cannot start a runtime: {e}"
                ),
            },
        }
    }
}

/// A deferred DROP TABLE at COMMIT. A table already gone counts as
/// dropped; an error says the transaction's rows did commit.
async fn drop_deferred(wh: &WarehouseInner, table: &TableName) -> Result<()> {
    let ident = iceberg::TableIdent::from_strs([table.namespace.as_str(), table.name.as_str()])?;
    if !wh.catalog.table_exists(&ident).await? {
        return Ok(());
    }
    purge_table(wh, table).await.map_err(|e| {
        Error::new(
            e.kind(),
            format!(
                "the transaction committed, but dropping table \"{}\" failed (run DROP TABLE again): {}",
                table.name,
                e.message()
            ),
        )
        .with_context("table", table)
    })
}
