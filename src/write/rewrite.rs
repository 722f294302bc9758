//! Copy-on-write deletes: rewrite the Iceberg data files that hold deleted
//! row versions, without those rows.
//!
//! ```text
//! DeletedRows {(shard, lsn)}
//!   ─► scan plan of the current snapshot, filtered on
//!      _shard = s AND _lsn IN (…) | _lsn BETWEEN lo AND hi (per run of lsns)
//!      (partition, manifest and column-stats pruning pick the candidate files)
//!   ─► each candidate read whole: every column of the current schema, no row
//!      filter, Iceberg delete files of other engines applied
//!   ─► keep_mask drops the deleted versions ─► nothing dropped: file untouched
//!                                            └► remainder written as new file(s) in the
//!                                               same partition, by compaction's writer;
//!                                               the old path goes to `removed`
//! ```
//!
//! Nothing here commits. The caller hands `removed` and `added` to
//! `thermocline_catalog::WatermarkCommit` (`removed_files`, `data_files`),
//! in the same snapshot as the compaction that consumed the deletes. That
//! commit refuses, retryably, to remove a file that is no longer live (another
//! commit rewrote it meanwhile): the caller then rewrites again against the
//! new snapshot. Files written for a rewrite that is never committed are
//! orphans, which maintenance deletes.
//!
//! Readers of the table (pyiceberg, DuckDB, Spark) need nothing special: the
//! result is plain data files, no Iceberg delete files.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{Int64Type, SchemaRef};
use futures::TryStreamExt;
use iceberg::expr::{Predicate, Reference};
use iceberg::scan::FileScanTask;
use iceberg::spec::{DataFile, Datum, PartitionKey};
use iceberg::table::Table;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};

use super::files::{self, DataFileWriters};
use crate::error::{Error, Result};
use crate::hot::Lsn;
use crate::table::hidden;
use crate::table::row_id::DeletedRows;

/// At most this many lsns of one shard go into an `IN` list (iceberg's
/// metrics evaluator gives up on longer ones); more become ranges.
const IN_LIST_MAX: usize = 64;

/// At most this many `BETWEEN` ranges per shard.
const MAX_RANGES: usize = 16;

/// The outcome of [`rewrite_without`]: what to commit, and what was not
/// there to delete.
#[derive(Debug, Clone, Default)]
pub struct FileRewrite {
    /// Paths of the data files that held deleted versions: remove them.
    pub removed: Vec<String>,
    /// Their remainders, already written: add them. None for a file whose
    /// every row was deleted.
    pub added: Vec<DataFile>,
    /// Row versions dropped from the removed files.
    pub rows_removed: u64,
    /// Deleted versions that no data file of the current snapshot held
    /// (e.g. already removed by an earlier rewrite).
    pub not_found: DeletedRows,
}

/// Rewrites every data file of `table`'s current snapshot that holds a
/// version in `deleted`, without those versions; see the module docs.
/// `default_target_file_size` applies unless the table sets its own.
pub async fn rewrite_without(
    table: &Table,
    deleted: &DeletedRows,
    default_target_file_size: u64,
) -> Result<FileRewrite> {
    let mut out = FileRewrite::default();
    let metadata = table.metadata();
    let schema = metadata.current_schema();
    let has_ids = schema.field_by_name(hidden::SHARD).is_some() && schema.field_by_name(hidden::LSN).is_some();
    let filter = candidate_filter(deleted);
    let (Some(filter), true, Some(_)) = (filter, has_ids, metadata.current_snapshot()) else {
        // Nothing to delete, no rows yet, or a table without row identity
        // (made by another engine): no file can hold these versions.
        out.not_found = deleted.clone();
        return Ok(out);
    };
    // A scan task does not say which spec its file was written with, and
    // the remainder must go into the same one: only safe with a single spec.
    if metadata.partition_specs_iter().len() > 1 {
        return Err(Error::not_supported(
            "deleting rows already in Iceberg from a table whose partition spec has evolved",
        )
        .with_context("table", table.identifier()));
    }
    let context = |e: iceberg::Error| Error::from(e).with_context("table", table.identifier());
    let tasks: Vec<FileScanTask> = table
        .scan()
        .select_all()
        .with_filter(filter)
        .build()
        .map_err(context)?
        .plan_files()
        .await
        .map_err(context)?
        .try_collect()
        .await
        .map_err(context)?;

    let writers = files::data_file_writers(table, "rewrite", default_target_file_size)
        .map_err(|e| e.with_context("table", table.identifier()))?;
    let target: SchemaRef = Arc::new(iceberg::arrow::schema_to_arrow_schema(schema).map_err(context)?);
    let mut found = DeletedRows::default();
    for task in tasks {
        let path = task.data_file_path.clone();
        let rewritten = rewrite_file(table, &writers, &target, task, deleted, &mut found)
            .await
            .map_err(|e| e.with_context("table", table.identifier()).with_context("file", &path))?;
        if let Some((dropped, added)) = rewritten {
            out.removed.push(path);
            out.added.extend(added);
            out.rows_removed += dropped;
        }
    }
    for shard in deleted.shards() {
        for lsn in deleted.lsns(shard) {
            if !found.contains(shard, lsn) {
                out.not_found.insert(shard, lsn);
            }
        }
    }
    Ok(out)
}

/// Reads one candidate file and, if it holds a deleted version, writes its
/// remainder: `Some((rows dropped, new files))`, else `None`.
///
/// Batches are streamed; those read before the first deleted row are held
/// back until it is clear the file must be rewritten at all (the scan plan
/// only says it *may* hold one).
async fn rewrite_file(
    table: &Table,
    writers: &DataFileWriters,
    target: &SchemaRef,
    mut task: FileScanTask,
    deleted: &DeletedRows,
    found: &mut DeletedRows,
) -> Result<Option<(u64, Vec<DataFile>)>> {
    let metadata = table.metadata();
    let schema = metadata.current_schema().clone();
    let partition = task.partition.clone().unwrap_or_else(iceberg::spec::Struct::empty);
    let key = PartitionKey::new(
        metadata.default_partition_spec().as_ref().clone(),
        schema.clone(),
        partition,
    );
    // The whole file, in the current schema (columns added since it was
    // written read as NULL): no row filter, every top-level column.
    task.predicate = None;
    task.project_field_ids = schema.as_struct().fields().iter().map(|f| f.id).collect();
    task.schema = schema;
    let mut batches = table
        .reader_builder()
        .build()
        .read(Box::pin(futures::stream::iter([Ok(task)])))?
        .stream();

    let mut held: Vec<RecordBatch> = Vec::new();
    let mut writer = None;
    let mut dropped = 0u64;
    while let Some(batch) = batches.try_next().await? {
        let batch = conform(batch, target)?;
        let shards = id_column(&batch, hidden::SHARD)?;
        let lsns = id_column(&batch, hidden::LSN)?;
        let keep = deleted.keep_mask(shards.as_ref(), lsns.as_ref())?;
        let kept = if keep.true_count() == batch.num_rows() {
            batch
        } else {
            dropped += record_found(&keep, shards.as_ref(), lsns.as_ref(), found)?;
            filter_record_batch(&batch, &keep)?
        };
        held.push(kept);
        if dropped == 0 {
            continue;
        }
        for part in held.drain(..).filter(|b| b.num_rows() > 0) {
            if writer.is_none() {
                writer = Some(writers.build(Some(key.clone())).await?);
            }
            if let Some(w) = writer.as_mut() {
                w.write(part).await?;
            }
        }
    }
    if dropped == 0 {
        return Ok(None);
    }
    let added = match writer {
        Some(mut w) => w.close().await?,
        None => Vec::new(),
    };
    Ok(Some((dropped, added)))
}

/// `batch` in the writer's Arrow schema: the reader's types can differ in
/// representation (e.g. binary widths) from what the writer expects.
pub(super) fn conform(batch: RecordBatch, target: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema().fields() == target.fields() {
        return Ok(batch);
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(target.fields().len());
    for field in target.fields() {
        let column = batch
            .column_by_name(field.name())
            .ok_or_else(|| Error::internal(format!("rewrite read no column \"{}\"", field.name())))?;
        columns.push(if column.data_type() == field.data_type() {
            column.clone()
        } else {
            crate::table::strict_cast(column, field.data_type())?
        });
    }
    Ok(RecordBatch::try_new(target.clone(), columns)?)
}

fn id_column(batch: &RecordBatch, name: &str) -> Result<ArrayRef> {
    batch
        .column_by_name(name)
        .cloned()
        .ok_or_else(|| Error::internal(format!("rewrite read no {name} column")))
}

/// Records the versions `keep` drops in `found`; returns how many.
fn record_found(keep: &BooleanArray, shards: &dyn Array, lsns: &dyn Array, found: &mut DeletedRows) -> Result<u64> {
    let shards = shards
        .as_string_opt::<i32>()
        .ok_or_else(|| Error::internal("row shard column is not Utf8"))?;
    let lsns = lsns
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| Error::internal("row lsn column is not Int64"))?;
    let mut dropped = 0;
    for i in (0..keep.len()).filter(|&i| !keep.value(i)) {
        found.insert(shards.value(i), lsns.value(i));
        dropped += 1;
    }
    Ok(dropped)
}

/// The scan filter that picks the files which may hold a deleted version:
/// per shard, `_shard = s AND _lsn IN (…)` for a few lsns, else the lsns as
/// at most [`MAX_RANGES`] ranges; the shards OR-ed. `None` if nothing is
/// deleted.
fn candidate_filter(deleted: &DeletedRows) -> Option<Predicate> {
    deleted
        .shards()
        .filter_map(|shard| {
            let mut lsns: Vec<Lsn> = deleted.lsns(shard).collect();
            lsns.sort_unstable();
            lsns.dedup();
            let lsn = if lsns.len() <= IN_LIST_MAX {
                Reference::new(hidden::LSN).is_in(lsns.iter().map(|&l| Datum::long(l)))
            } else {
                lsn_ranges(&lsns, MAX_RANGES)
                    .into_iter()
                    .map(|(lo, hi)| {
                        Reference::new(hidden::LSN)
                            .greater_than_or_equal_to(Datum::long(lo))
                            .and(Reference::new(hidden::LSN).less_than_or_equal_to(Datum::long(hi)))
                    })
                    .reduce(Predicate::or)?
            };
            Some(Reference::new(hidden::SHARD).equal_to(Datum::string(shard)).and(lsn))
        })
        .reduce(Predicate::or)
}

/// Sorted, distinct `lsns` as at most `max` inclusive ranges covering them
/// all, cut at the widest gaps: deleted versions come in runs (one statement
/// deletes many), and each gap left out is a span of lsns whose files the
/// scan need not read.
fn lsn_ranges(lsns: &[Lsn], max: usize) -> Vec<(Lsn, Lsn)> {
    let (Some(&first), Some(&last)) = (lsns.first(), lsns.last()) else {
        return Vec::new();
    };
    // (gap, index of the lsn before it), widest first.
    let mut gaps: Vec<(Lsn, usize)> = lsns
        .windows(2)
        .enumerate()
        .filter(|(_, w)| w[1] - w[0] > 1)
        .map(|(i, w)| (w[1] - w[0], i))
        .collect();
    gaps.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut cuts: Vec<usize> = gaps.into_iter().take(max.saturating_sub(1)).map(|(_, i)| i).collect();
    cuts.sort_unstable();
    let mut ranges = Vec::with_capacity(cuts.len() + 1);
    let mut start = first;
    for cut in cuts {
        ranges.push((start, lsns[cut]));
        start = lsns[cut + 1];
    }
    ranges.push((start, last));
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_ranges_cut_at_the_widest_gaps() {
        assert_eq!(lsn_ranges(&[], 4), vec![]);
        assert_eq!(lsn_ranges(&[5], 4), vec![(5, 5)]);
        assert_eq!(lsn_ranges(&[1, 2, 3], 4), vec![(1, 3)]);
        // Gaps of 10 (after 3) and 1000 (after 14); one cut allowed.
        let lsns = [1, 2, 3, 13, 14, 1014, 1015];
        assert_eq!(lsn_ranges(&lsns, 2), vec![(1, 14), (1014, 1015)]);
        assert_eq!(lsn_ranges(&lsns, 3), vec![(1, 3), (13, 14), (1014, 1015)]);
        assert_eq!(lsn_ranges(&lsns, 1), vec![(1, 1015)]);
        assert_eq!(lsn_ranges(&lsns, 10).len(), 3);
    }

    #[test]
    fn filter_is_an_in_list_for_few_lsns_and_ranges_for_many() {
        assert!(candidate_filter(&DeletedRows::default()).is_none());
        let mut few = DeletedRows::default();
        few.insert("a", 7);
        few.insert("a", 9);
        let text = candidate_filter(&few).map(|p| p.to_string()).unwrap_or_default();
        assert!(text.contains("_shard") && text.contains("IN"), "{text}");

        let mut many = DeletedRows::default();
        for lsn in (0..100).chain(5000..5100) {
            many.insert("a", lsn);
        }
        many.insert("b", 1);
        let text = candidate_filter(&many).map(|p| p.to_string()).unwrap_or_default();
        // Shard a: two runs of a hundred lsns, as two ranges; shard b: one lsn.
        assert_eq!(text.matches(" IN ").count(), 1, "{text}");
        assert!(text.contains("_lsn IN (1)"), "{text}");
        for bound in ["_lsn >= 0", "_lsn <= 99", "_lsn >= 5000", "_lsn <= 5099"] {
            assert!(text.contains(bound), "{bound} not in {text}");
        }
    }
}
