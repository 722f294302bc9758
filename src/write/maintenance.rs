//! Warehouse maintenance: merge small data files (see [`super::merge`]),
//! expire old snapshots, then delete files no snapshot references (orphans
//! from compactions that crashed before their commit, and files only
//! expired snapshots used).
//!
//! Orphans are only deleted once older than a retention: a compaction in
//! flight has written files it has not committed yet, and those must live.

use std::collections::HashSet;
use std::time::Duration;

use futures::TryStreamExt;
use iceberg::TableIdent;
use iceberg::spec::ManifestList;
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use object_store::ObjectStoreExt;

use crate::error::{Error, Result};
use crate::hot::TableName;
use crate::warehouse::WarehouseInner;

#[derive(Debug, Clone)]
pub struct MaintenanceOptions {
    /// Expire snapshots older than this (the current one always stays).
    pub snapshot_retention: Duration,
    /// Delete unreferenced files older than this.
    pub orphan_retention: Duration,
    /// Report what would be done, change nothing.
    pub dry_run: bool,
}

impl Default for MaintenanceOptions {
    fn default() -> Self {
        Self {
            snapshot_retention: Duration::from_secs(7 * 86_400),
            orphan_retention: Duration::from_secs(3 * 86_400),
            dry_run: false,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct MaintenanceReport {
    pub table: String,
    /// Small data files merged away, and the files written in their place.
    pub files_merged: usize,
    pub files_written: usize,
    pub snapshots_expired: usize,
    pub orphans_deleted: Vec<String>,
}

pub async fn maintain_table(
    wh: &WarehouseInner,
    name: &TableName,
    options: &MaintenanceOptions,
) -> Result<MaintenanceReport> {
    let ident = TableIdent::from_strs([name.namespace.as_str(), name.name.as_str()])?;
    let mut report = MaintenanceReport {
        table: name.to_string(),
        ..Default::default()
    };
    let now_ms = chrono::Utc::now().timestamp_millis();

    if !options.dry_run
        && let Some(merge) = super::merge::merge_small_files(wh, name).await?
        && !merge.stale
    {
        report.files_merged = merge.files_removed;
        report.files_written = merge.files_added;
    }
    let mut table = wh.load_table(&ident).await?;
    let older_than = now_ms - options.snapshot_retention.as_millis() as i64;
    let expiring = table
        .metadata()
        .snapshots()
        .filter(|s| s.timestamp_ms() < older_than)
        .filter(|s| Some(s.snapshot_id()) != table.metadata().current_snapshot_id())
        .count();
    if expiring > 0 && !options.dry_run {
        let tx = Transaction::new(&table);
        let action = tx.expire_snapshots().expire_older_than_ms(older_than).retain_last(1);
        let tx = action.apply(tx)?;
        let before = table.metadata().snapshots().len();
        table = tx
            .commit(wh.catalog.as_ref())
            .await
            .map_err(|e| Error::from(e).with_context("table", name))?;
        report.snapshots_expired = before.saturating_sub(table.metadata().snapshots().len());
    } else {
        report.snapshots_expired = expiring;
    }

    let referenced = referenced_files(&table).await?;
    let (store_url, prefix) = wh.object_location(table.metadata().location())?;
    let store = wh.store_for(&store_url)?;
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(options.orphan_retention).unwrap_or_default();
    let listed: Vec<object_store::ObjectMeta> = store
        .list(Some(&prefix))
        .try_collect()
        .await
        .map_err(|e| Error::from(e).with_context("table", name))?;
    for object in listed {
        let location = wh.location_of(&store_url, &object.location);
        // A catalog kept in the bucket points at the current metadata with
        // this file (DuckDB and pyiceberg follow it too).
        let catalog_pointer = object.location.filename() == Some("version-hint.text");
        if catalog_pointer || referenced.contains(&location) || object.last_modified >= cutoff {
            continue;
        }
        if !options.dry_run {
            store
                .delete(&object.location)
                .await
                .map_err(|e| Error::from(e).with_context("file", &location))?;
        }
        report.orphans_deleted.push(location);
    }
    Ok(report)
}

/// Every file any live snapshot or metadata version needs.
async fn referenced_files(table: &Table) -> Result<HashSet<String>> {
    let metadata = table.metadata();
    let io = table.file_io();
    let mut files = HashSet::new();
    if let Some(location) = table.metadata_location() {
        files.insert(location.to_string());
    }
    for log in metadata.metadata_log() {
        files.insert(log.metadata_file.clone());
    }
    for stats in metadata.statistics_iter() {
        files.insert(stats.statistics_path.clone());
    }
    for stats in metadata.partition_statistics_iter() {
        files.insert(stats.statistics_path.clone());
    }
    for snapshot in metadata.snapshots() {
        files.insert(snapshot.manifest_list().to_string());
        let bytes = io.new_input(snapshot.manifest_list())?.read().await?;
        let list = ManifestList::parse_with_version(&bytes, metadata.format_version())?;
        for manifest_file in list.entries() {
            // Every fast-append snapshot lists all earlier manifests again:
            // read each manifest once, or the walk is quadratic in snapshots.
            if !files.insert(manifest_file.manifest_path.clone()) {
                continue;
            }
            let manifest = manifest_file.load_manifest(io).await?;
            for entry in manifest.entries() {
                files.insert(entry.file_path().to_string());
            }
        }
    }
    Ok(files)
}
