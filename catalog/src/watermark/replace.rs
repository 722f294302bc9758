//! [`FileReplace`]: swap data files for others holding the same rows (small
//! files merged into fewer, larger ones), moving no watermark.
//!
//! The snapshot is built like a copy-on-write commit's (`overwrite.rs`),
//! with operation `replace`, which tells every reader (pyiceberg's
//! incremental scans, Spark's streaming reads) that the table's rows did not
//! change. Every shard's watermark is carried forward unchanged, so the
//! consistent cut `snapshot + hot rows above W(snapshot, shard)` reads the
//! same rows before and after.
//!
//! A conflict with a commit that left the removed files live (a
//! compaction's append, most often) is retried on the new snapshot. If a
//! removed file is no longer live (a copy-on-write delete rewrote it
//! meanwhile), the merged files hold rows that were deleted since: the
//! replace is [`ReplaceOutcome::Stale`], commits nothing, and its files are
//! the caller's to delete.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use iceberg::TableIdent;
use iceberg::spec::DataFile;
use iceberg::table::Table;

use super::{
    COMMIT_ID_KEY, ancestry, backoff, check_request, discard, find_commit, overwrite, try_watermarks, watermark_key,
};
use crate::commit::CommitCatalog;
use crate::error::{Error, ErrorKind, Result};

/// Replace `removed_files` with `data_files` in one snapshot; see the
/// module docs.
#[derive(Debug, Clone)]
pub struct FileReplace {
    pub ident: TableIdent,
    /// Paths of the data files whose rows `data_files` hold.
    pub removed_files: Vec<String>,
    /// The same rows, already written, partitioned by the default spec.
    pub data_files: Vec<DataFile>,
    /// Extra snapshot summary properties (watermark keys, the commit id and
    /// `operation` are refused).
    pub properties: BTreeMap<String, String>,
    /// The snapshot the removed files were read at. A snapshot committed
    /// since that adds delete files (another engine's merge-on-read delete)
    /// makes the replace stale: its deletes would not apply to the new
    /// files, whose sequence number is newer, and deleted rows would return.
    pub read_snapshot: Option<i64>,
}

/// What became of a [`FileReplace`].
// `Committed` carries the whole table: see `CommitOutcome`.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ReplaceOutcome {
    Committed {
        snapshot_id: i64,
        table: Table,
        /// How many attempts it took (1 = no conflict).
        attempts: u32,
    },
    /// A file to remove is no longer live: nothing was committed.
    Stale {
        /// Why, naming a file.
        reason: String,
    },
}

impl FileReplace {
    /// Commits, retrying conflicts that leave the removed files live.
    pub async fn commit(self, catalog: &dyn CommitCatalog) -> Result<ReplaceOutcome> {
        let context = |e: Error| e.with_context("table", self.ident.to_string());
        let removed = self.validate().map_err(context)?;
        let commit_id = uuid::Uuid::now_v7().to_string();
        for attempt in 1..=super::WatermarkCommit::MAX_ATTEMPTS {
            let table = catalog.load_table(&self.ident).await.map_err(|e| context(e.into()))?;
            if attempt > 1
                && let Some(snapshot_id) = find_commit(table.metadata(), &commit_id)
            {
                // An earlier attempt landed although it reported an error.
                return Ok(ReplaceOutcome::Committed {
                    snapshot_id,
                    table,
                    attempts: attempt,
                });
            }
            if let Some(reason) = deletes_since(table.metadata(), self.read_snapshot) {
                return Ok(ReplaceOutcome::Stale { reason });
            }
            let mut properties: HashMap<String, String> = self.properties.clone().into_iter().collect();
            properties.extend(
                try_watermarks(table.metadata())
                    .map_err(context)?
                    .into_iter()
                    .map(|(shard, w)| (watermark_key(&shard), w.to_string())),
            );
            properties.insert(COMMIT_ID_KEY.to_string(), commit_id.clone());
            let staged = match overwrite::stage(&table, &self.data_files, &removed, properties, true).await {
                Ok(staged) => staged,
                // The only conflict staging reports: a file to remove is gone.
                Err(e) if e.kind() == ErrorKind::CommitConflict => {
                    return Ok(ReplaceOutcome::Stale { reason: e.to_string() });
                }
                Err(e) => return Err(context(e)),
            };
            match catalog
                .commit_table(&self.ident, staged.requirements, staged.updates)
                .await
            {
                Ok(table) => {
                    let snapshot_id = table.metadata().current_snapshot_id().ok_or_else(|| {
                        context(Error::new(
                            ErrorKind::Unexpected,
                            "commit returned a table without a snapshot",
                        ))
                    })?;
                    return Ok(ReplaceOutcome::Committed {
                        snapshot_id,
                        table,
                        attempts: attempt,
                    });
                }
                Err(e) if e.kind() == iceberg::ErrorKind::CatalogCommitConflicts => {
                    discard(&table, &staged.written).await;
                    tracing::debug!(table = %self.ident, attempt, error = %e, "file replace conflict; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => return Err(context(e.into())),
            }
        }
        Err(context(
            Error::new(
                ErrorKind::CommitConflict,
                format!(
                    "gave up after {} conflicting attempts",
                    super::WatermarkCommit::MAX_ATTEMPTS
                ),
            )
            .with_retryable(true),
        ))
    }

    fn validate(&self) -> Result<BTreeSet<String>> {
        if self.removed_files.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                "a file replace needs files to remove",
            ));
        }
        check_request(&self.properties, &self.removed_files, &self.data_files)
    }
}

/// Why delete files added after `read_snapshot` make a replace unsafe, if
/// any were: walks back from the current snapshot to `read_snapshot`.
fn deletes_since(metadata: &iceberg::spec::TableMetadata, read_snapshot: Option<i64>) -> Option<String> {
    for snapshot in ancestry(metadata, None) {
        if Some(snapshot.snapshot_id()) == read_snapshot {
            return None;
        }
        let added = snapshot
            .summary()
            .additional_properties
            .get("added-delete-files")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        if added > 0 {
            return Some(format!(
                "snapshot {} added {added} delete files after the files to replace were read",
                snapshot.snapshot_id()
            ));
        }
    }
    None
}
