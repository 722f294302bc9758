//! The snapshot of a copy-on-write commit, produced by hand: iceberg 0.10's
//! only snapshot action is a fast append, which cannot remove a file.
//!
//! ```text
//! parent's manifest list
//!   ├─ delete manifests, and data manifests listing none of the removed
//!   │  files live ─────────────────────────────────────► carried over as they are
//!   └─ data manifests listing a removed file live ────► rewritten: that entry DELETED,
//!        the other live entries EXISTING (snapshot id and sequence numbers
//!        kept), entries an earlier snapshot deleted dropped
//! added files ─► one new data manifest of ADDED entries (the default spec)
//! new manifests, then the carried ones ─► new manifest list
//!   ─► snapshot: operation `overwrite` (`delete` if nothing is added),
//!      sequence number = the table's next, parent = the current snapshot
//! ```
//!
//! Every removed file must be live in the parent; if one is not, someone
//! else removed it (or never had it) and the caller must rewrite against the
//! current snapshot: a retryable [`ErrorKind::CommitConflict`]. Nothing is
//! committed for a file that is no longer there.
//!
//! The summary's `added-*`/`deleted-*` counts come from the files
//! themselves (iceberg's `SnapshotSummaryCollector`), its `total-*` from the
//! parent's totals plus added minus removed, as the spec's snapshot summary
//! section describes. A parent without a total (some engines skip them)
//! leaves that total out rather than guess.
//!
//! Only format version 2 is produced: thermocline creates v2 tables; v1
//! manifests need a snapshot id on every entry and v3 needs row lineage.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::{StreamExt, TryStreamExt};
use iceberg::spec::{
    DataContentType, DataFile, FormatVersion, MAIN_BRANCH, Manifest, ManifestContentType, ManifestFile,
    ManifestListWriter, ManifestWriter, ManifestWriterBuilder, Operation, PartitionSpec, SchemaRef, Snapshot,
    SnapshotReference, SnapshotRetention, SnapshotSummaryCollector, Summary, TableProperties,
};
use iceberg::table::Table;
use iceberg::{TableRequirement, TableUpdate};

use crate::error::{Error, ErrorKind, Result};

/// Manifests read at once while looking for the removed files.
const MANIFEST_READ_CONCURRENCY: usize = 8;

/// `total-*` summary keys, each with the keys of what a snapshot adds to it
/// and removes from it.
const TOTALS: [(&str, &str, &str); 6] = [
    ("total-data-files", "added-data-files", "deleted-data-files"),
    ("total-delete-files", "added-delete-files", "removed-delete-files"),
    ("total-records", "added-records", "deleted-records"),
    ("total-files-size", "added-files-size", "removed-files-size"),
    (
        "total-position-deletes",
        "added-position-deletes",
        "removed-position-deletes",
    ),
    (
        "total-equality-deletes",
        "added-equality-deletes",
        "removed-equality-deletes",
    ),
];

/// One attempt's snapshot, ready for `CommitCatalog::commit_table`.
#[derive(Debug)]
pub(super) struct Staged {
    pub(super) requirements: Vec<TableRequirement>,
    pub(super) updates: Vec<TableUpdate>,
    /// The manifests and manifest list this attempt wrote: garbage unless
    /// the commit lands.
    pub(super) written: Vec<String>,
}

/// Writes the manifests and manifest list of a snapshot that removes
/// `removed` (data file paths) from `table`'s current snapshot and adds
/// `added`, with `properties` in its summary; see the module docs. With
/// `replace`, the snapshot says the table's rows did not change (operation
/// `replace`: the same rows in other files).
pub(super) async fn stage(
    table: &Table,
    added: &[DataFile],
    removed: &BTreeSet<String>,
    properties: HashMap<String, String>,
    replace: bool,
) -> Result<Staged> {
    let metadata = table.metadata();
    if metadata.format_version() != FormatVersion::V2 {
        return Err(Error::new(
            ErrorKind::NotSupported,
            format!(
                "copy-on-write commits need format version 2; the table is at {}",
                metadata.format_version()
            ),
        ));
    }
    let Some(parent) = metadata.current_snapshot() else {
        return Err(gone(removed, removed.len()));
    };
    let mut producer = Producer::new(table);
    producer.check_added(added)?;

    let list = table.manifest_list_reader(parent).load().await?;
    let mut carried = Vec::new();
    let mut to_read = Vec::new();
    for manifest in list.consume_entries() {
        // Counts are optional in the spec: read the manifest unless they
        // say it holds no live entry.
        let no_live = manifest.added_files_count == Some(0) && manifest.existing_files_count == Some(0);
        if manifest.content == ManifestContentType::Deletes || no_live {
            carried.push(manifest);
        } else {
            to_read.push(manifest);
        }
    }
    let io = table.file_io();
    let read: Vec<(ManifestFile, Manifest)> = futures::stream::iter(to_read)
        .map(|file| async move {
            let manifest = file
                .load_manifest(io)
                .await
                .map_err(|e| Error::from(e).with_context("manifest", file.manifest_path.as_str()))?;
            Ok::<_, Error>((file, manifest))
        })
        .buffered(MANIFEST_READ_CONCURRENCY)
        .try_collect()
        .await?;

    let mut found = BTreeSet::new();
    let mut to_rewrite = Vec::new();
    for (file, manifest) in read {
        let mut hit = false;
        for entry in manifest.entries() {
            if entry.is_alive() && removed.contains(entry.file_path()) {
                found.insert(entry.file_path().to_string());
                hit = true;
            }
        }
        if hit {
            to_rewrite.push((file, manifest));
        } else {
            carried.push(file);
        }
    }
    if found.len() != removed.len() {
        let missing: BTreeSet<String> = removed.difference(&found).cloned().collect();
        return Err(gone(&missing, missing.len()));
    }

    let mut manifests = Vec::with_capacity(carried.len() + to_rewrite.len() + 1);
    if !added.is_empty() {
        manifests.push(producer.added_manifest(added).await?);
    }
    for (file, manifest) in to_rewrite {
        manifests.push(producer.rewritten_manifest(&file, manifest, removed).await?);
    }
    manifests.extend(carried);
    let manifest_list = producer.manifest_list(parent.snapshot_id(), manifests).await?;

    let operation = if replace {
        Operation::Replace
    } else if added.is_empty() {
        Operation::Delete
    } else {
        Operation::Overwrite
    };
    let summary = producer.summary(operation, properties, parent.summary());
    let snapshot = Snapshot::builder()
        .with_snapshot_id(producer.snapshot_id)
        .with_parent_snapshot_id(Some(parent.snapshot_id()))
        .with_sequence_number(producer.sequence_number)
        .with_timestamp_ms(now_ms())
        .with_manifest_list(manifest_list)
        .with_summary(summary)
        .with_schema_id(metadata.current_schema_id())
        .build();
    let snapshot_id = producer.snapshot_id;
    Ok(Staged {
        requirements: vec![
            TableRequirement::UuidMatch { uuid: metadata.uuid() },
            TableRequirement::RefSnapshotIdMatch {
                r#ref: MAIN_BRANCH.to_string(),
                snapshot_id: Some(parent.snapshot_id()),
            },
        ],
        updates: vec![
            TableUpdate::AddSnapshot { snapshot },
            TableUpdate::SetSnapshotRef {
                ref_name: MAIN_BRANCH.to_string(),
                reference: SnapshotReference::new(snapshot_id, SnapshotRetention::branch(None, None, None)),
            },
        ],
        written: producer.written,
    })
}

/// The retryable conflict for files to remove that the parent does not hold
/// live; names the first.
fn gone(missing: &BTreeSet<String>, count: usize) -> Error {
    let mut e = Error::new(
        ErrorKind::CommitConflict,
        "a data file to remove is not live in the current snapshot (another commit removed it?): \
         rewrite against the current snapshot and try again",
    )
    .with_retryable(true);
    if let Some(first) = missing.iter().next() {
        e = e.with_context("file", first.as_str());
    }
    e.with_context("missing_files", count.to_string())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The new snapshot's identity and everything it has written so far.
struct Producer<'a> {
    table: &'a Table,
    snapshot_id: i64,
    sequence_number: i64,
    /// Names this attempt's files, as iceberg's own producer does.
    commit_uuid: uuid::Uuid,
    manifests_written: u64,
    written: Vec<String>,
    summary: SnapshotSummaryCollector,
}

impl<'a> Producer<'a> {
    fn new(table: &'a Table) -> Self {
        let metadata = table.metadata();
        let mut summary = SnapshotSummaryCollector::default();
        let limit = metadata
            .properties()
            .get(TableProperties::PROPERTY_WRITE_PARTITION_SUMMARY_LIMIT)
            .and_then(|v| v.parse().ok())
            .unwrap_or(TableProperties::PROPERTY_WRITE_PARTITION_SUMMARY_LIMIT_DEFAULT);
        summary.set_partition_summary_limit(limit);
        Self {
            table,
            snapshot_id: unique_snapshot_id(table),
            sequence_number: metadata.next_sequence_number(),
            commit_uuid: uuid::Uuid::now_v7(),
            manifests_written: 0,
            written: Vec::new(),
            summary,
        }
    }

    /// Added files go into a manifest of the default spec, so they must be
    /// data files partitioned by it (as a fast append requires). A partition
    /// tuple of the wrong arity would make the manifest writer panic.
    fn check_added(&self, added: &[DataFile]) -> Result<()> {
        let arity = self.table.metadata().default_partition_type().fields().len();
        for file in added {
            if file.content_type() != DataContentType::Data || file.partition().fields().len() != arity {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "files to add must be data files partitioned by the table's default spec",
                )
                .with_context("file", file.file_path()));
            }
        }
        Ok(())
    }

    fn manifest_writer(&mut self, schema: SchemaRef, spec: PartitionSpec) -> Result<ManifestWriter> {
        let path = format!(
            "{}/metadata/{}-m{}.avro",
            self.table.metadata().location(),
            self.commit_uuid,
            self.manifests_written
        );
        self.manifests_written += 1;
        let output = self.table.file_io().new_output(&path)?;
        Ok(ManifestWriterBuilder::new(output, Some(self.snapshot_id), schema, spec).build_v2_data())
    }

    async fn finish(&mut self, writer: ManifestWriter) -> Result<ManifestFile> {
        let manifest = writer.write_manifest_file().await?;
        self.written.push(manifest.manifest_path.clone());
        Ok(manifest)
    }

    /// The added files as ADDED entries, with this snapshot's sequence number.
    async fn added_manifest(&mut self, added: &[DataFile]) -> Result<ManifestFile> {
        let metadata = self.table.metadata();
        let schema = metadata.current_schema().clone();
        let spec = metadata.default_partition_spec().clone();
        let mut writer = self.manifest_writer(schema.clone(), spec.as_ref().clone())?;
        for file in added {
            self.summary.add_file(file, schema.clone(), spec.clone());
            writer.add_file(file.clone(), self.sequence_number)?;
        }
        self.finish(writer).await
    }

    /// `manifest` again, in its own schema and spec, with the removed files'
    /// entries DELETED and the other live entries EXISTING.
    async fn rewritten_manifest(
        &mut self,
        file: &ManifestFile,
        manifest: Manifest,
        removed: &BTreeSet<String>,
    ) -> Result<ManifestFile> {
        let (entries, meta) = manifest.into_parts();
        let schema = meta.schema().clone();
        let spec = Arc::new(meta.partition_spec().clone());
        let mut writer = self.manifest_writer(schema.clone(), spec.as_ref().clone())?;
        for entry in entries.iter().filter(|e| e.is_alive()) {
            // Loading the manifest filled in what entries inherit; an entry
            // still without them is a broken manifest, not ours to guess at.
            let incomplete = || {
                Error::new(
                    ErrorKind::InvalidMetadata,
                    "live manifest entry without snapshot id or sequence numbers",
                )
                .with_context("manifest", file.manifest_path.as_str())
                .with_context("file", entry.file_path())
            };
            let sequence_number = entry.sequence_number().ok_or_else(incomplete)?;
            let file_sequence_number = entry.file_sequence_number.ok_or_else(incomplete)?;
            let data_file = entry.data_file().clone();
            if removed.contains(entry.file_path()) {
                self.summary.remove_file(&data_file, schema.clone(), spec.clone());
                writer.add_delete_file(data_file, sequence_number, Some(file_sequence_number))?;
            } else {
                let snapshot_id = entry.snapshot_id().ok_or_else(incomplete)?;
                writer.add_existing_file(data_file, snapshot_id, sequence_number, Some(file_sequence_number))?;
            }
        }
        self.finish(writer).await
    }

    async fn manifest_list(&mut self, parent_id: i64, manifests: Vec<ManifestFile>) -> Result<String> {
        let path = format!(
            "{}/metadata/snap-{}-1-{}.avro",
            self.table.metadata().location(),
            self.snapshot_id,
            self.commit_uuid
        );
        let output = self.table.file_io().new_output(&path)?.writer().await?;
        let mut writer = ManifestListWriter::v2(output, self.snapshot_id, Some(parent_id), self.sequence_number);
        writer.add_manifests(manifests.into_iter())?;
        writer.close().await?;
        self.written.push(path.clone());
        Ok(path)
    }

    /// `properties`, then the computed counts over them (a caller cannot
    /// shadow `added-records` with a wrong value), then the totals.
    fn summary(&self, operation: Operation, mut properties: HashMap<String, String>, parent: &Summary) -> Summary {
        properties.extend(self.summary.build());
        let count = |props: &HashMap<String, String>, key: &str| props.get(key).and_then(|v| v.parse::<u64>().ok());
        for (total, added, removed) in TOTALS {
            match count(&parent.additional_properties, total) {
                Some(before) => {
                    let after = (before + count(&properties, added).unwrap_or(0))
                        .saturating_sub(count(&properties, removed).unwrap_or(0));
                    properties.insert(total.to_string(), after.to_string());
                }
                None => {
                    properties.remove(total);
                }
            }
        }
        Summary {
            operation,
            additional_properties: properties,
        }
    }
}

/// A positive snapshot id no snapshot of the table has, drawn like
/// iceberg's own producer draws them.
fn unique_snapshot_id(table: &Table) -> i64 {
    loop {
        let (hi, lo) = uuid::Uuid::new_v4().as_u64_pair();
        let id = ((hi ^ lo) as i64).checked_abs().unwrap_or(i64::MAX);
        if id != 0 && table.metadata().snapshot_by_id(id).is_none() {
            return id;
        }
    }
}
