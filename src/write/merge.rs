//! Merging small data files into fewer, larger ones (Iceberg's "rewrite
//! data files", bin-packing).
//!
//! Compaction writes at least one file per partition per shard each time it
//! runs, so a table fed by many shards, or compacted often, gathers many
//! small files; every scan then opens, and reads the footer of, each one.
//! Merging reads a partition's small files whole and writes their rows
//! again in files of the target size:
//!
//! ```text
//! current snapshot's data files
//!   ─► small: under 3/4 of the target size (tables whose partition spec
//!      never evolved)
//!   ─► grouped by partition; a partition with MIN_INPUT_FILES or more
//!      ─► packed into bins of about the target size
//!      ─► each bin read whole (deletes of other engines applied, columns
//!         added since read as NULL) and written by compaction's writer
//!   ─► FileReplace: remove the inputs, add the outputs, every watermark
//!      carried forward, operation `replace`
//! ```
//!
//! Rows keep their `_shard` and `_lsn` columns, so copy-on-write deletes
//! and the hot tier's hiding of cold versions work on merged files as on
//! any other. A merge whose inputs a concurrent copy-on-write delete
//! rewrote commits nothing (`ReplaceOutcome::Stale`) and deletes its files;
//! the next merge starts from the new snapshot.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use futures::TryStreamExt;
use iceberg::TableIdent;
use iceberg::scan::FileScanTask;
use iceberg::spec::{DataFile, PartitionKey};
use iceberg::table::Table;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use thermocline_catalog::watermark::{FileReplace, ReplaceOutcome};

use super::files;
use super::rewrite::conform;
use crate::error::{Error, Result};
use crate::hot::TableName;
use crate::warehouse::WarehouseInner;

/// A partition is merged once it has this many small files (Iceberg's
/// `min-input-files` default).
pub const MIN_INPUT_FILES: usize = 5;

/// What a merge did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    pub table: String,
    /// Small files merged away.
    pub files_removed: usize,
    /// Files written in their place.
    pub files_added: usize,
    /// Rows rewritten.
    pub rows: u64,
    /// Bytes of the files merged away.
    pub bytes: u64,
    /// The merge lost a race with a copy-on-write delete and committed
    /// nothing.
    pub stale: bool,
}

/// Whether `table` may have small files worth a merge: its snapshots since
/// the last merge (a `replace` snapshot) added at least
/// [`MIN_INPUT_FILES`] data files. Reads only the table metadata, so
/// compaction asks after every pass; the plan then looks at the files. A
/// plan that finds nothing to merge (the new files spread over many
/// partitions) is repeated at the next pass.
pub fn worth_merging(table: &Table) -> bool {
    let metadata = table.metadata();
    let mut added = 0u64;
    let mut next = metadata.current_snapshot();
    while let Some(snapshot) = next {
        let summary = snapshot.summary();
        if summary.operation == iceberg::spec::Operation::Replace {
            return false;
        }
        added += summary
            .additional_properties
            .get("added-data-files")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1);
        if added >= MIN_INPUT_FILES as u64 {
            return true;
        }
        next = snapshot.parent_snapshot_id().and_then(|id| metadata.snapshot_by_id(id));
    }
    false
}

/// Files under this size are small.
fn small_limit(target: u64) -> u64 {
    target / 4 * 3
}

/// Merge the small files of `name`; `None` when there was nothing to merge.
pub async fn merge_small_files(wh: &WarehouseInner, name: &TableName) -> Result<Option<MergeReport>> {
    let ident = TableIdent::from_strs([name.namespace.as_str(), name.name.as_str()])?;
    if wh.schema_pinned(name) {
        tracing::info!("not merging files of {name}: an open transaction altered it");
        return Ok(None);
    }
    let table = wh.load_table(&ident).await?;
    let default_target = wh.config.tiering.target_file_size;
    let target = files::target_file_size(&table, default_target) as u64;
    let context = |e: iceberg::Error| Error::from(e).with_context("table", name);
    if table.metadata().current_snapshot().is_none() {
        return Ok(None);
    }
    let tasks: Vec<FileScanTask> = table
        .scan()
        .select_all()
        .build()
        .map_err(context)?
        .plan_files()
        .await
        .map_err(context)?
        .try_collect()
        .await
        .map_err(context)?;
    let bins = plan_bins(&table, tasks, target);
    if bins.is_empty() {
        return Ok(None);
    }

    let mut report = MergeReport {
        table: name.to_string(),
        ..Default::default()
    };
    let writers =
        files::data_file_writers(&table, "merge", default_target).map_err(|e| e.with_context("table", name))?;
    let schema = table.metadata().current_schema().clone();
    let arrow_schema: SchemaRef = Arc::new(iceberg::arrow::schema_to_arrow_schema(&schema).map_err(context)?);
    let mut removed = Vec::new();
    let mut added: Vec<DataFile> = Vec::new();
    for bin in bins {
        let key = PartitionKey::new(
            table.metadata().default_partition_spec().as_ref().clone(),
            schema.clone(),
            bin.partition.clone(),
        );
        let mut writer = writers.build(Some(key)).await.map_err(context)?;
        for mut task in bin.tasks {
            let path = task.data_file_path.clone();
            report.bytes += task.file_size_in_bytes;
            // The whole file, in the current schema.
            task.predicate = None;
            task.project_field_ids = schema.as_struct().fields().iter().map(|f| f.id).collect();
            task.schema = schema.clone();
            let mut batches = table
                .reader_builder()
                .build()
                .read(Box::pin(futures::stream::iter([Ok(task)])))
                .map_err(context)?
                .stream();
            while let Some(batch) = batches
                .try_next()
                .await
                .map_err(|e| context(e).with_context("file", &path))?
            {
                report.rows += batch.num_rows() as u64;
                writer.write(conform(batch, &arrow_schema)?).await.map_err(context)?;
            }
            removed.push(path);
        }
        added.extend(writer.close().await.map_err(context)?);
    }
    report.files_removed = removed.len();
    report.files_added = added.len();

    let written: Vec<String> = added.iter().map(|f| f.file_path().to_string()).collect();
    let replace = FileReplace {
        ident,
        removed_files: removed,
        data_files: added,
        properties: BTreeMap::from([("thermocline.merged-files".to_string(), report.files_removed.to_string())]),
        read_snapshot: table.metadata().current_snapshot_id(),
    };
    // One commit at a time per table from this process (see `commit_lock`).
    let lock = wh.commit_lock(name);
    let outcome = {
        let _guard = lock.lock().await;
        replace.commit(wh.catalog.as_ref()).await
    };
    match outcome {
        Ok(ReplaceOutcome::Committed { .. }) => Ok(Some(report)),
        Ok(ReplaceOutcome::Stale { reason }) => {
            tracing::info!("merge of {name} lost a race and committed nothing: {reason}");
            delete_files(&table, &written).await;
            report.stale = true;
            Ok(Some(report))
        }
        Err(e) => {
            // The commit may have landed despite the error (a timeout after
            // the swap): leave the files to maintenance's orphan sweep.
            Err(Error::from(e).with_context("table", name))
        }
    }
}

/// Best effort: files of a merge that never committed.
async fn delete_files(table: &Table, paths: &[String]) {
    for path in paths {
        if let Err(e) = table.file_io().delete(path).await {
            tracing::warn!(%path, error = %e, "could not delete a file of a stale merge; maintenance will");
        }
    }
}

/// Small files of one partition to write again as one or a few files.
struct Bin {
    partition: iceberg::spec::Struct,
    tasks: Vec<FileScanTask>,
}

/// The bins a merge rewrites: per partition of the default spec holding at
/// least [`MIN_INPUT_FILES`] small files, those files (largest first) packed
/// into bins of about `target` bytes; a bin of one file is left alone.
fn plan_bins(table: &Table, tasks: Vec<FileScanTask>, target: u64) -> Vec<Bin> {
    // A scan task does not say which spec its file was written with (iceberg
    // 0.10), and the merged file must go into the same one: only safe with a
    // single spec, as for copy-on-write rewrites.
    if table.metadata().partition_specs_iter().len() > 1 {
        tracing::info!(
            "not merging files of {}: its partition spec has evolved",
            table.identifier()
        );
        return Vec::new();
    }
    let mut by_partition: BTreeMap<String, (iceberg::spec::Struct, Vec<FileScanTask>)> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for task in tasks {
        if task.file_size_in_bytes >= small_limit(target) || !seen.insert(task.data_file_path.clone()) {
            continue;
        }
        let partition = task.partition.clone().unwrap_or_else(iceberg::spec::Struct::empty);
        by_partition
            .entry(format!("{partition:?}"))
            .or_insert_with(|| (partition, Vec::new()))
            .1
            .push(task);
    }
    let mut bins = Vec::new();
    for (_, (partition, mut small)) in by_partition {
        if small.len() < MIN_INPUT_FILES {
            continue;
        }
        small.sort_by_key(|t| std::cmp::Reverse(t.file_size_in_bytes));
        let mut packed: Vec<Vec<FileScanTask>> = vec![Vec::new()];
        let mut size = 0u64;
        for task in small {
            if packed.last().is_some_and(|b| !b.is_empty()) && size + task.file_size_in_bytes > target {
                packed.push(Vec::new());
                size = 0;
            }
            size += task.file_size_in_bytes;
            if let Some(bin) = packed.last_mut() {
                bin.push(task);
            }
        }
        bins.extend(packed.into_iter().filter(|b| b.len() > 1).map(|tasks| Bin {
            partition: partition.clone(),
            tasks,
        }));
    }
    bins
}
