//! Transactions over the hot tier.
//!
//! A shard has one writer at a time: the first write of a transaction (or of
//! an autocommit statement) takes the shard's write lock and holds it until
//! COMMIT or ROLLBACK. Under the lock the transaction reserves lsns from the
//! shard's counter and stages its WAL entries in memory; COMMIT appends them
//! all in one SQLite transaction ([`crate::hot::HotStore::commit_at`]), which
//! is the acknowledgement. ROLLBACK, an error in an autocommit statement, or
//! a session dropped mid-transaction just discards the staged entries.
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

use std::sync::{Arc, Mutex, MutexGuard};

use arrow::array::RecordBatch;
use tokio::sync::OwnedMutexGuard;

use crate::error::{Error, ErrorKind, Result};
use crate::hot::{Lsn, TableName, WalEntry, WalOp, WalWrite};
use crate::warehouse::WarehouseInner;

/// One staged WAL entry.
#[derive(Debug, Clone)]
struct Staged {
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
    /// The shard's write lock, from the first write on.
    lock: Option<OwnedMutexGuard<()>>,
    /// The lsn the next staged row gets.
    next_lsn: Lsn,
    staged: Vec<Staged>,
}

/// A session's transaction state, shared with the tables it plans so their
/// scans see the staged entries.
#[derive(Debug, Default)]
pub struct TransactionState {
    inner: Mutex<Inner>,
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

    /// The error for a statement sent to a failed transaction.
    pub fn aborted_error() -> Error {
        Error::new(
            ErrorKind::TransactionState,
            "current transaction is aborted, commands ignored until end of transaction block",
        )
    }

    /// Take the shard's write lock (if this transaction does not hold it
    /// yet) and reserve lsns from the counter. Waits at most the
    /// warehouse's `lock_timeout` for another transaction to finish.
    pub async fn acquire(&self, wh: &WarehouseInner) -> Result<()> {
        if self.lock().lock.is_some() {
            return Ok(());
        }
        let writer = wh.writer_lock();
        let guard = tokio::time::timeout(wh.config.lock_timeout, writer.lock_owned())
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::LockNotAvailable,
                    format!(
                        "could not obtain the shard's write lock within {:?}: another transaction is writing",
                        wh.config.lock_timeout
                    ),
                )
                .with_context("shard", wh.hot.shard())
            })?;
        let next = wh.hot.last_lsn()? + 1;
        let mut inner = self.lock();
        if inner.lock.is_none() {
            inner.lock = Some(guard);
            inner.next_lsn = next;
        }
        Ok(())
    }

    /// The lsn the next staged row will get. Requires [`Self::acquire`].
    pub fn next_lsn(&self) -> Result<Lsn> {
        let inner = self.lock();
        if inner.lock.is_none() {
            return Err(Error::internal("staging a write without the shard's write lock"));
        }
        Ok(inner.next_lsn)
    }

    /// Stage one entry; returns the lsn of its first row.
    pub fn stage(&self, table: &TableName, op: WalOp, batch: RecordBatch) -> Result<Lsn> {
        let mut inner = self.lock();
        if inner.lock.is_none() {
            return Err(Error::internal("staging a write without the shard's write lock"));
        }
        let first_lsn = inner.next_lsn;
        inner.next_lsn += batch.num_rows() as Lsn;
        if batch.num_rows() > 0 {
            inner.staged.push(Staged {
                table: table.clone(),
                op,
                first_lsn,
                batch,
            });
        }
        Ok(first_lsn)
    }

    /// Staged entries of one table, as WAL entries a scan can merge.
    pub fn staged(&self, table: &TableName) -> Vec<WalEntry> {
        let inner = self.lock();
        let now = chrono::Utc::now().timestamp_micros();
        inner
            .staged
            .iter()
            .filter(|s| &s.table == table)
            .map(|s| WalEntry {
                first_lsn: s.first_lsn,
                last_lsn: s.first_lsn + s.batch.num_rows() as Lsn - 1,
                op: s.op,
                commit_ts: now,
                batch: s.batch.clone(),
            })
            .collect()
    }

    /// Append everything staged in one hot-tier commit and release the
    /// lock. Ends an explicit transaction; a failed one rolls back instead
    /// and the result says so (`Ok(false)`).
    pub async fn commit(&self, wh: &WarehouseInner) -> Result<bool> {
        let (staged, failed, lock) = {
            let mut inner = self.lock();
            let failed = inner.failed;
            inner.explicit = false;
            inner.failed = false;
            (std::mem::take(&mut inner.staged), failed, inner.lock.take())
        };
        if failed || staged.is_empty() {
            drop(lock);
            return Ok(!failed);
        }
        let first = staged[0].first_lsn;
        let writes: Vec<WalWrite> = staged
            .into_iter()
            .map(|s| WalWrite {
                table: s.table,
                op: s.op,
                batch: s.batch,
            })
            .collect();
        let result = wh.append_at(first, &writes);
        // Release the lock before compaction may run inline.
        drop(lock);
        result?;
        wh.after_append(&writes).await?;
        Ok(true)
    }

    /// Discard everything staged and release the lock.
    pub fn rollback(&self) {
        let mut inner = self.lock();
        inner.explicit = false;
        inner.failed = false;
        inner.staged.clear();
        inner.lock = None;
    }
}
