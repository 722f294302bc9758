//! Compaction watermarks: where thermocline's exactly-once rule is enforced.
//!
//! A read is the Iceberg snapshot `S` plus, per shard, the hot-WAL rows with
//! `lsn > W(S, shard)`. `W` lives *inside* the snapshot: every snapshot
//! thermocline commits carries `thermocline.watermark.<shard> = <lsn>` in its
//! summary for every shard known in its parent (carried forward) and the
//! committing shard's new value. Because the files and the watermark arrive in
//! one commit, no reader can see compacted rows without the watermark that
//! hides their hot copies, or the reverse.
//!
//! Snapshots written by other engines (pyiceberg, Spark) carry no watermark,
//! so `W` is read by walking parent ids to the nearest snapshot that has it.
//!
//! # The commit, in stages
//!
//! ```text
//! load table ─► W := watermark(current, shard) ─► W ≠ expected? ─► Superseded (caller deletes its files)
//!      ▲                                            │ W = expected
//!      │                                            ▼
//!      │        nothing to remove: fast_append {files, watermarks carried forward, shard := new}
//!      │                           through a *pinned* catalog
//!      │        files to remove:   our own snapshot (overwrite.rs) {remove, add, watermarks}
//!      │                           through commit_table, requiring main = the snapshot checked
//!      │                                            │
//!      └── backoff ◄── conflict (someone moved the table) ◄─┤
//!                                                   ▼
//!                                               Committed
//! ```
//!
//! iceberg's `Transaction::commit` retries a conflict itself by re-applying the
//! append on refreshed metadata, with the snapshot properties computed for the
//! *old* base: that could roll back another shard's newer watermark, or commit
//! rows a second compactor of this shard already committed. The pinned
//! catalog stops that (its `load_table` refuses metadata other than the one we
//! checked, and its conflicts are not retryable), so every retry goes back
//! through our loop and re-checks the watermark.
//!
//! A copy-on-write commit removes the data files its caller rewrote without
//! deleted rows. Every attempt rebuilds its snapshot from the current one,
//! so a retry re-checks that each removed file is still live: if another
//! commit removed one meanwhile (it rewrote the same file for other deletes),
//! ours would resurrect those rows, so the commit fails with a retryable
//! [`ErrorKind::CommitConflict`] instead and the caller redoes its rewrite.
//!
//! # What the catalog must guarantee
//!
//! The catalog is a [`CommitCatalog`] (SQLite, REST, a CAS pointer on R2),
//! and must provide, through both `update_table` and `commit_table`:
//! 1. **Atomic visibility**: a commit's new snapshot (data files, summary,
//!    watermarks) becomes current all at once or not at all.
//! 2. **Compare-and-swap on the metadata pointer**: a commit succeeds only
//!    if the table is still at the metadata its requirements were checked
//!    against; otherwise it fails with
//!    [`iceberg::ErrorKind::CatalogCommitConflicts`] and changes nothing.
//! 3. **Linearizable loads**: `load_table` after a successful commit returns
//!    that commit or a later one, so the watermark check sees the latest `W`.
//! 4. Snapshot summary properties are stored and returned unchanged.
//!
//! And snapshot expiry must keep, on the current snapshot's ancestry, the
//! nearest snapshot carrying watermarks (any thermocline commit carries all
//! of them); otherwise `W` reads as 0 and hot rows would be read twice.

mod overwrite;
mod replace;

pub use replace::{FileReplace, ReplaceOutcome};

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use iceberg::spec::{DataFile, Snapshot, TableMetadata};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::{Catalog, Namespace, NamespaceIdent, TableCommit, TableCreation, TableIdent};
use rand::Rng;

use crate::commit::CommitCatalog;
use crate::error::{Error, ErrorKind, Result};

/// Prefix of the snapshot summary keys holding watermarks.
pub const WATERMARK_PREFIX: &str = "thermocline.watermark.";

/// Snapshot summary key naming the commit attempt that wrote the snapshot, so
/// a commit whose outcome was lost (timeout after the swap) is recognized.
pub const COMMIT_ID_KEY: &str = "thermocline.commit-id";

/// The summary key of `shard`'s watermark.
pub fn watermark_key(shard: &str) -> String {
    format!("{WATERMARK_PREFIX}{shard}")
}

/// `W(S, shard)`: the highest hot-WAL lsn of `shard` whose rows are in the
/// table as of snapshot `snapshot_id` (default: the current snapshot); 0 if no
/// snapshot on its ancestry carries one.
///
/// Lenient: a malformed value (not written by thermocline) is skipped with a
/// warning. [`try_watermark`] refuses it instead; commits use that.
pub fn watermark(table_metadata: &TableMetadata, snapshot_id: Option<i64>, shard: &str) -> i64 {
    let key = watermark_key(shard);
    for snapshot in ancestry(table_metadata, snapshot_id) {
        if let Some(raw) = snapshot.summary().additional_properties.get(&key) {
            match raw.parse() {
                Ok(w) => return w,
                Err(_) => tracing::warn!(
                    snapshot_id = snapshot.snapshot_id(),
                    %key, value = %raw,
                    "ignoring malformed watermark"
                ),
            }
        }
    }
    0
}

/// [`watermark`], but a malformed value is an error naming the snapshot.
pub fn try_watermark(table_metadata: &TableMetadata, snapshot_id: Option<i64>, shard: &str) -> Result<i64> {
    let key = watermark_key(shard);
    for snapshot in ancestry(table_metadata, snapshot_id) {
        if let Some(raw) = snapshot.summary().additional_properties.get(&key) {
            return parse(snapshot, &key, raw);
        }
    }
    Ok(0)
}

/// Every shard's watermark as of `snapshot_id` (default: current), each by
/// the same rule as [`watermark`]: the nearest ancestor carrying its key.
pub fn watermarks(table_metadata: &TableMetadata, snapshot_id: Option<i64>) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for snapshot in ancestry(table_metadata, snapshot_id) {
        for (key, raw) in &snapshot.summary().additional_properties {
            if let Some(shard) = key.strip_prefix(WATERMARK_PREFIX)
                && !out.contains_key(shard)
                && let Ok(w) = raw.parse()
            {
                out.insert(shard.to_string(), w);
            }
        }
    }
    out
}

fn try_watermarks(metadata: &TableMetadata) -> Result<BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for snapshot in ancestry(metadata, None) {
        for (key, raw) in &snapshot.summary().additional_properties {
            if let Some(shard) = key.strip_prefix(WATERMARK_PREFIX)
                && !out.contains_key(shard)
            {
                out.insert(shard.to_string(), parse(snapshot, key, raw)?);
            }
        }
    }
    Ok(out)
}

fn parse(snapshot: &Snapshot, key: &str, raw: &str) -> Result<i64> {
    raw.parse().map_err(|_| {
        Error::new(ErrorKind::InvalidMetadata, "snapshot carries a malformed watermark")
            .with_context("snapshot_id", snapshot.snapshot_id().to_string())
            .with_context("key", key)
            .with_context("value", raw)
    })
}

/// Snapshot `start` (default: current) and its ancestors, newest first. Ends
/// at the root or at an expired parent; bounded so corrupt metadata with a
/// parent cycle cannot loop forever.
fn ancestry(metadata: &TableMetadata, start: Option<i64>) -> impl Iterator<Item = &Snapshot> {
    let mut next = start.or_else(|| metadata.current_snapshot_id());
    let mut budget = metadata.snapshots().len();
    std::iter::from_fn(move || {
        if budget == 0 {
            return None;
        }
        budget -= 1;
        let snapshot = metadata.snapshot_by_id(next?)?;
        next = snapshot.parent_snapshot_id();
        Some(snapshot.as_ref())
    })
}

/// What became of a [`WatermarkCommit`].
// `Committed` carries the whole table: the outcome is short-lived and boxing
// it would only add a deref for every caller.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum CommitOutcome {
    /// The files and the new watermark are in the table, in `snapshot_id`.
    Committed {
        /// The snapshot this commit created.
        snapshot_id: i64,
        /// The table as of that commit.
        table: Table,
        /// How many attempts it took (1 = no conflict).
        attempts: u32,
    },
    /// Another compactor of this shard committed first: the shard's watermark
    /// is no longer `expected`. Nothing was committed; the caller's data files
    /// are orphans to delete, and committing them would duplicate rows.
    Superseded {
        /// The shard's watermark now.
        current: i64,
    },
}

/// One compaction's hand-off: add `data_files` (the shard's WAL rows with
/// `expected < lsn <= new`), remove `removed_files` (copy-on-write: data
/// files already rewritten without the rows the shard's WAL deletes), and
/// move the shard's watermark from `expected` to `new` — atomically, exactly
/// once.
///
/// Build it with [`WatermarkCommit::new`] and the `with_*` setters, or as a
/// literal: the fields are public.
#[derive(Debug, Clone)]
pub struct WatermarkCommit {
    /// The table compacted into.
    pub ident: TableIdent,
    /// The shard whose WAL was compacted.
    pub shard: String,
    /// The watermark the compaction started from (`W` when it read the WAL).
    pub expected: i64,
    /// The highest lsn the commit covers; must exceed `expected`.
    pub new: i64,
    /// The compacted rows, already written, partitioned by the table's
    /// default spec.
    pub data_files: Vec<DataFile>,
    /// Paths of data files to remove. Each must be live in the table when
    /// the commit lands; if one is not, the commit fails with a retryable
    /// [`ErrorKind::CommitConflict`] and the caller must redo its rewrite
    /// against the current snapshot. Empty: a plain fast append.
    pub removed_files: Vec<String>,
    /// Extra snapshot summary properties (e.g. `thermocline.max-commit-ts`).
    /// Watermark keys, [`COMMIT_ID_KEY`] and `operation` are refused; the
    /// computed counts (`added-records`, ...) win over a property of the
    /// same name.
    pub properties: BTreeMap<String, String>,
}

/// Why one commit attempt did not land.
enum Attempt {
    /// Another writer moved the table between our load and our swap; nothing
    /// was committed: try again on fresh metadata.
    Raced(iceberg::Error),
    /// Anything else: report it.
    Failed(Error),
}

impl Attempt {
    fn from_commit(e: iceberg::Error) -> Self {
        if e.kind() == iceberg::ErrorKind::CatalogCommitConflicts {
            Attempt::Raced(e)
        } else {
            Attempt::Failed(e.into())
        }
    }
}

impl WatermarkCommit {
    /// Attempts before giving up with a retryable conflict.
    pub const MAX_ATTEMPTS: u32 = 20;
    const MIN_BACKOFF: Duration = Duration::from_millis(10);
    const MAX_BACKOFF: Duration = Duration::from_millis(500);

    /// A commit that adds `data_files` and moves `shard`'s watermark from
    /// `expected` to `new`, removing nothing and adding no properties.
    pub fn new(
        ident: TableIdent,
        shard: impl Into<String>,
        expected: i64,
        new: i64,
        data_files: Vec<DataFile>,
    ) -> Self {
        Self {
            ident,
            shard: shard.into(),
            expected,
            new,
            data_files,
            removed_files: Vec::new(),
            properties: BTreeMap::new(),
        }
    }

    /// Also removes these data files (paths) in the same snapshot.
    pub fn with_removed_files(mut self, paths: impl IntoIterator<Item = String>) -> Self {
        self.removed_files.extend(paths);
        self
    }

    /// Also writes these properties into the snapshot summary.
    pub fn with_properties(mut self, properties: impl IntoIterator<Item = (String, String)>) -> Self {
        self.properties.extend(properties);
        self
    }

    /// Commits, retrying conflicts with other writers; see the module docs.
    pub async fn commit(self, catalog: &dyn CommitCatalog) -> Result<CommitOutcome> {
        let context = |e: Error| {
            e.with_context("table", self.ident.to_string())
                .with_context("shard", self.shard.as_str())
        };
        let removed = self.validate().map_err(context)?;
        let commit_id = uuid::Uuid::now_v7().to_string();
        for attempt in 1..=Self::MAX_ATTEMPTS {
            let table = catalog.load_table(&self.ident).await.map_err(|e| context(e.into()))?;
            let current = try_watermark(table.metadata(), None, &self.shard).map_err(context)?;
            if current != self.expected {
                // An earlier attempt of ours may have landed although we saw an
                // error (e.g. a timeout after the swap): that is success.
                if let Some(snapshot_id) = find_commit(table.metadata(), &commit_id) {
                    return Ok(CommitOutcome::Committed {
                        snapshot_id,
                        table,
                        attempts: attempt,
                    });
                }
                return Ok(CommitOutcome::Superseded { current });
            }
            let properties = self.summary_properties(&table, &commit_id).map_err(context)?;
            let landed = if removed.is_empty() {
                self.append(catalog, &table, properties).await
            } else {
                self.overwrite(catalog, &table, &removed, properties).await
            };
            match landed {
                Ok(table) => {
                    let snapshot_id = table.metadata().current_snapshot_id().ok_or_else(|| {
                        context(Error::new(
                            ErrorKind::Unexpected,
                            "commit returned a table without a snapshot",
                        ))
                    })?;
                    return Ok(CommitOutcome::Committed {
                        snapshot_id,
                        table,
                        attempts: attempt,
                    });
                }
                Err(Attempt::Raced(e)) => {
                    tracing::debug!(table = %self.ident, shard = %self.shard, attempt, error = %e, "watermark commit conflict; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(Attempt::Failed(e)) => return Err(context(e)),
            }
        }
        Err(context(
            Error::new(
                ErrorKind::CommitConflict,
                format!("gave up after {} conflicting attempts", Self::MAX_ATTEMPTS),
            )
            .with_retryable(true),
        ))
    }

    /// Refuses requests that could break the watermark rule; returns the
    /// set of files to remove.
    fn validate(&self) -> Result<BTreeSet<String>> {
        if self.shard.is_empty() || self.new <= self.expected {
            return Err(Error::new(
                ErrorKind::InvalidInput,
                format!(
                    "a watermark commit needs a shard and new > expected (expected {}, new {})",
                    self.expected, self.new
                ),
            ));
        }
        check_request(&self.properties, &self.removed_files, &self.data_files)
    }

    /// The caller's properties, every shard's watermark carried forward, this
    /// shard's new one, and the attempt's commit id.
    fn summary_properties(&self, table: &Table, commit_id: &str) -> Result<HashMap<String, String>> {
        let mut properties: HashMap<String, String> = self.properties.clone().into_iter().collect();
        properties.extend(
            try_watermarks(table.metadata())?
                .into_iter()
                .map(|(shard, w)| (watermark_key(&shard), w.to_string())),
        );
        properties.insert(watermark_key(&self.shard), self.new.to_string());
        properties.insert(COMMIT_ID_KEY.to_string(), commit_id.to_string());
        Ok(properties)
    }

    /// Nothing to remove: iceberg's fast append, through the pinned catalog.
    async fn append(
        &self,
        catalog: &dyn CommitCatalog,
        table: &Table,
        properties: HashMap<String, String>,
    ) -> std::result::Result<Table, Attempt> {
        let failed = |e: iceberg::Error| Attempt::Failed(e.into());
        let tx = Transaction::new(table);
        let tx = tx
            .fast_append()
            // The watermark already makes the append exactly-once; iceberg's
            // duplicate check would read every manifest of the table per commit.
            .with_check_duplicate(false)
            .add_data_files(self.data_files.clone())
            .set_snapshot_properties(properties)
            .apply(tx)
            .map_err(failed)?;
        let pinned = Pinned {
            inner: catalog,
            metadata_location: table.metadata_location_result().map_err(failed)?.to_string(),
        };
        tx.commit(&pinned).await.map_err(Attempt::from_commit)
    }

    /// Files to remove: our own snapshot (see [`overwrite`]), committed
    /// through [`CommitCatalog::commit_table`] against the snapshot the
    /// watermark was checked on.
    async fn overwrite(
        &self,
        catalog: &dyn CommitCatalog,
        table: &Table,
        removed: &BTreeSet<String>,
        properties: HashMap<String, String>,
    ) -> std::result::Result<Table, Attempt> {
        let staged = overwrite::stage(table, &self.data_files, removed, properties, false)
            .await
            .map_err(Attempt::Failed)?;
        match catalog
            .commit_table(&self.ident, staged.requirements, staged.updates)
            .await
        {
            Ok(table) => Ok(table),
            Err(e) => {
                let attempt = Attempt::from_commit(e);
                // A conflict changed nothing, so this attempt's manifests are
                // garbage; after any other error the commit may have landed.
                if matches!(attempt, Attempt::Raced(_)) {
                    discard(table, &staged.written).await;
                }
                Err(attempt)
            }
        }
    }
}

/// Refuses snapshot properties the commit writes itself, and a file both
/// added and removed; returns the set of files to remove.
fn check_request(
    properties: &BTreeMap<String, String>,
    removed_files: &[String],
    data_files: &[DataFile],
) -> Result<BTreeSet<String>> {
    if let Some(key) = properties
        .keys()
        .find(|k| k.starts_with(WATERMARK_PREFIX) || *k == COMMIT_ID_KEY || *k == "operation")
    {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "snapshot property is reserved for the commit itself",
        )
        .with_context("property", key.as_str()));
    }
    let removed: BTreeSet<String> = removed_files.iter().cloned().collect();
    if let Some(file) = data_files.iter().find(|f| removed.contains(f.file_path())) {
        return Err(
            Error::new(ErrorKind::InvalidInput, "a file cannot be both added and removed")
                .with_context("file", file.file_path()),
        );
    }
    Ok(removed)
}

/// Best-effort removal of files a losing attempt wrote (maintenance would
/// find them as orphans otherwise).
async fn discard(table: &Table, paths: &[String]) {
    for path in paths {
        if let Err(e) = table.file_io().delete(path).await {
            tracing::warn!(%path, error = %e, "could not delete a manifest of a lost commit attempt");
        }
    }
}

/// The snapshot on the current ancestry written by the attempt `commit_id`.
fn find_commit(metadata: &TableMetadata, commit_id: &str) -> Option<i64> {
    ancestry(metadata, None)
        .find(|s| s.summary().additional_properties.get(COMMIT_ID_KEY).map(String::as_str) == Some(commit_id))
        .map(|s| s.snapshot_id())
}

/// Exponential from 10 ms, capped at 500 ms, with jitter so racing
/// compactors spread out instead of colliding again.
fn backoff(attempt: u32) -> Duration {
    let exp = WatermarkCommit::MIN_BACKOFF.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let cap = exp.min(WatermarkCommit::MAX_BACKOFF);
    let millis = cap.as_millis().max(1) as u64;
    Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
}

/// A catalog that only lets one commit through against the metadata we
/// checked the watermark on; see the module docs for why.
#[derive(Debug)]
struct Pinned<'a> {
    inner: &'a dyn Catalog,
    metadata_location: String,
}

fn not_retryable(e: iceberg::Error) -> iceberg::Error {
    if e.kind() == iceberg::ErrorKind::CatalogCommitConflicts {
        e.with_retryable(false)
    } else {
        e
    }
}

#[async_trait]
impl Catalog for Pinned<'_> {
    async fn list_namespaces(&self, parent: Option<&NamespaceIdent>) -> iceberg::Result<Vec<NamespaceIdent>> {
        self.inner.list_namespaces(parent).await
    }
    async fn create_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> iceberg::Result<Namespace> {
        self.inner.create_namespace(namespace, properties).await
    }
    async fn get_namespace(&self, namespace: &NamespaceIdent) -> iceberg::Result<Namespace> {
        self.inner.get_namespace(namespace).await
    }
    async fn namespace_exists(&self, namespace: &NamespaceIdent) -> iceberg::Result<bool> {
        self.inner.namespace_exists(namespace).await
    }
    async fn update_namespace(
        &self,
        namespace: &NamespaceIdent,
        properties: HashMap<String, String>,
    ) -> iceberg::Result<()> {
        self.inner.update_namespace(namespace, properties).await
    }
    async fn drop_namespace(&self, namespace: &NamespaceIdent) -> iceberg::Result<()> {
        self.inner.drop_namespace(namespace).await
    }
    async fn list_tables(&self, namespace: &NamespaceIdent) -> iceberg::Result<Vec<TableIdent>> {
        self.inner.list_tables(namespace).await
    }
    async fn create_table(&self, namespace: &NamespaceIdent, creation: TableCreation) -> iceberg::Result<Table> {
        self.inner.create_table(namespace, creation).await
    }
    async fn load_table(&self, table: &TableIdent) -> iceberg::Result<Table> {
        let loaded = self.inner.load_table(table).await?;
        if loaded.metadata_location() != Some(self.metadata_location.as_str()) {
            return Err(Error::new(
                ErrorKind::CommitConflict,
                "table changed after its watermark was checked",
            )
            .with_context("table", table.to_string())
            .with_context("checked_metadata_location", self.metadata_location.as_str())
            .into());
        }
        Ok(loaded)
    }
    async fn drop_table(&self, table: &TableIdent) -> iceberg::Result<()> {
        self.inner.drop_table(table).await
    }
    async fn purge_table(&self, table: &TableIdent) -> iceberg::Result<()> {
        self.inner.purge_table(table).await
    }
    async fn table_exists(&self, table: &TableIdent) -> iceberg::Result<bool> {
        self.inner.table_exists(table).await
    }
    async fn rename_table(&self, src: &TableIdent, dest: &TableIdent) -> iceberg::Result<()> {
        self.inner.rename_table(src, dest).await
    }
    async fn register_table(&self, table: &TableIdent, metadata_location: String) -> iceberg::Result<Table> {
        self.inner.register_table(table, metadata_location).await
    }
    async fn update_table(&self, commit: TableCommit) -> iceberg::Result<Table> {
        self.inner.update_table(commit).await.map_err(not_retryable)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
