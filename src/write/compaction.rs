//! Compaction: hot WAL rows → Parquet files → one Iceberg commit that
//! carries the shard's watermark → WAL truncation.
//!
//! ```text
//! prepare   read WAL entries with lsn ≤ L; W0 := W(current snapshot, shard)
//! write     rows with lsn in (W0, L] → Parquet, partitioned and sorted
//! commit    fast-append {files} with W := L, only if W(current, shard) is
//!           still W0 (thermocline_catalog::WatermarkCommit retries other
//!           shards' races, reports same-shard ones as Superseded)
//! truncate  local watermark := L; delete WAL entries ≤ L
//! ```
//! A crash before `commit` leaves orphan files (removed by maintenance) and
//! an intact WAL. A crash after it leaves a WAL that recovery truncates on
//! the next open, and a reader in between already skips rows ≤ W(S).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::{SortColumn, SortOptions, concat_batches, lexsort_to_indices, take_record_batch};
use arrow::datatypes::SchemaRef;
use iceberg::TableIdent;
use iceberg::arrow::{PartitionValueCalculator, arrow_struct_to_literal};
use iceberg::spec::{DataFile, Literal, PartitionKey, Transform};
use iceberg::table::Table;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use thermocline_catalog::watermark::{CommitOutcome, WatermarkCommit};

use super::rewrite::{FileRewrite, rewrite_without};
use super::{Progress, files};
use crate::error::{Error, ErrorKind, Result};
use crate::hot::{HotSnapshot, HotStoreRef, Lsn, TableName, WalOp};
use crate::sql::ddl::props;
use crate::table::hidden;
use crate::table::row_id::DeletedRows;
use crate::warehouse::WarehouseInner;

/// What one compaction did.
#[derive(Debug, Clone, Default)]
pub struct CompactionReport {
    pub table: String,
    /// The shard whose hot rows were compacted.
    pub shard: String,
    pub rows: u64,
    pub files: usize,
    pub bytes: u64,
    /// The snapshot this compaction committed, if it committed one.
    pub snapshot_id: Option<i64>,
    /// The shard's watermark after this compaction.
    pub watermark: Lsn,
    /// WAL entries deleted.
    pub truncated: u64,
    /// Row versions deleted (by DELETE, UPDATE, upsert) that this
    /// compaction wrote out: dropped before reaching Iceberg, or removed
    /// from the files that held them.
    pub deleted: u64,
    /// Data files rewritten without deleted rows.
    pub rewritten: usize,
    /// Delete events appended to the table's change log.
    pub logged: u64,
    /// Another compactor of this shard committed these rows first.
    pub superseded: bool,
    pub elapsed: Duration,
}

/// Compact everything hot in `table` in the shard whose hot tier is `hot`,
/// at the moment compaction starts. Shards compact the same table
/// independently: each commit records only its own shard's watermark, and
/// commits that race are retried by [`WatermarkCommit`].
pub async fn compact_table(
    wh: &WarehouseInner,
    hot_tier: &HotStoreRef,
    table: &TableName,
    progress: &dyn Progress,
) -> Result<CompactionReport> {
    let mut attempt = 1;
    loop {
        match compact_once(wh, hot_tier, table, progress).await? {
            Compacted::Done(report) => return Ok(report),
            Compacted::RewriteRaced(e) if attempt < REWRITE_ATTEMPTS => {
                tracing::debug!("compacting {table}: {e}; rewriting again (attempt {attempt})");
                attempt += 1;
            }
            Compacted::RewriteRaced(e) => return Err(Error::from(e).with_context("table", table)),
        }
    }
}

/// How often a compaction redoes its copy-on-write rewrite when another
/// commit rewrote the same files first (shards whose rows share a merged
/// file, compacting side by side).
const REWRITE_ATTEMPTS: u32 = 10;

enum Compacted {
    Done(CompactionReport),
    /// A file the rewrite replaced was rewritten by another commit first;
    /// nothing was committed and this attempt's files are deleted.
    RewriteRaced(thermocline_catalog::Error),
}

/// Whether `e` says a file to remove was no longer live. Such a commit
/// checked before it swapped anything and no earlier attempt of it landed
/// (that would have moved the watermark), so nothing was committed.
fn lost_its_input(e: &thermocline_catalog::Error) -> bool {
    e.kind() == thermocline_catalog::ErrorKind::CommitConflict && e.context().iter().any(|(k, _)| *k == "missing_files")
}

async fn compact_once(
    wh: &WarehouseInner,
    hot_tier: &HotStoreRef,
    table: &TableName,
    progress: &dyn Progress,
) -> Result<Compacted> {
    let started = Instant::now();
    let shard = hot_tier.shard().to_string();
    let lock = wh.compaction_lock(table, &shard);
    let _guard = lock.lock().await;
    let keep_since = keep_since(wh);
    let mut report = CompactionReport {
        table: table.to_string(),
        shard: shard.clone(),
        ..Default::default()
    };

    let stats = hot_tier.stats(table)?;
    if wh.schema_pinned(table) {
        tracing::info!("not compacting {table}: an open transaction altered it");
        report.watermark = stats.local_watermark;
        return Ok(Compacted::Done(report));
    }
    let ident = TableIdent::from_strs([table.namespace.as_str(), table.name.as_str()])?;
    if stats.rows == 0 {
        report.watermark = stats.local_watermark;
        return Ok(Compacted::Done(report));
    }
    let upto = stats.max_lsn;
    // ALTER TABLE takes the compaction lock too: the schema holds still
    // while this compaction maps WAL entries onto it by field id.
    let iceberg_table = wh.load_table(&ident).await?;
    let columns = crate::table::wal_fields(iceberg_table.metadata())?;
    let hot = hot_tier.read(table, Some(upto), Some(&columns))?;
    let expected = thermocline_catalog::watermark::watermark(iceberg_table.metadata(), None, &shard);
    if expected >= upto {
        // Already committed (a crash after the commit): just finish.
        report.watermark = expected;
        report.truncated = hot_tier.truncate(table, expected, keep_since)?;
        return Ok(Compacted::Done(report));
    }

    // Delete events go to the change log before the data commit: see
    // `history::log` for why that order makes them exactly-once.
    report.logged = crate::history::log::append(
        wh,
        table,
        &iceberg_table,
        &hot.entries,
        &shard,
        upto,
        wh.config.tiering.target_file_size,
    )
    .await?;
    let changes = wal_changes(&iceberg_table, hot, expected, &shard)?;
    let batch = changes.rows;
    report.rows = batch.num_rows() as u64;
    report.deleted = (changes.cold_deletes.len() + changes.hot_deleted) as u64;
    progress.begin(&format!("compacting {table}"), report.rows);
    // Deletes of rows already in Iceberg: rewrite the files that hold them
    // (copy-on-write), committed together with the new rows.
    let rewrite = if changes.cold_deletes.is_empty() {
        FileRewrite::default()
    } else {
        rewrite_without(
            &iceberg_table,
            &changes.cold_deletes,
            wh.config.tiering.target_file_size,
        )
        .await?
    };
    if !rewrite.not_found.is_empty() {
        tracing::warn!(
            "compacting {table}: {} deleted row versions were in no data file (already gone?)",
            rewrite.not_found.len()
        );
    }
    let mut files = if batch.num_rows() == 0 {
        Vec::new()
    } else {
        let parts = layout(&iceberg_table, batch)?;
        write_files(
            &iceberg_table,
            parts,
            &shard,
            upto,
            progress,
            wh.config.tiering.target_file_size,
        )
        .await?
    };
    files.extend(rewrite.added.iter().cloned());
    report.files = files.len();
    report.rewritten = rewrite.removed.len();
    report.bytes = files.iter().map(|f| f.file_size_in_bytes()).sum();

    let commit_lock = wh.commit_lock(table);
    let committing = commit_lock.lock().await;
    let outcome = WatermarkCommit {
        ident: ident.clone(),
        shard: shard.clone(),
        expected,
        new: upto,
        data_files: files.clone(),
        removed_files: rewrite.removed.clone(),
        properties: Default::default(),
    }
    .commit(wh.catalog.as_ref())
    .await;
    drop(committing);
    match outcome {
        Ok(CommitOutcome::Committed { snapshot_id, .. }) => {
            report.snapshot_id = Some(snapshot_id);
            report.watermark = upto;
            report.truncated = hot_tier.truncate(table, upto, keep_since)?;
        }
        Ok(CommitOutcome::Superseded { current }) => {
            delete_files(&iceberg_table, &files).await;
            report.superseded = true;
            report.watermark = current;
            report.truncated = hot_tier.truncate(table, current, keep_since)?;
        }
        Err(e) if lost_its_input(&e) => {
            delete_files(&iceberg_table, &files).await;
            return Ok(Compacted::RewriteRaced(e));
        }
        Err(e) => {
            // The commit may or may not have landed (e.g. a lost response);
            // leave the files to maintenance rather than risk deleting
            // committed data. The WAL is intact either way.
            return Err(Error::from(e).with_context("table", table));
        }
    }
    progress.finish();
    report.elapsed = started.elapsed();
    Ok(Compacted::Done(report))
}

/// Entries older than this instant may be deleted once compacted.
fn keep_since(wh: &WarehouseInner) -> i64 {
    let retention = wh.config.tiering.hot_retention.as_micros() as i64;
    chrono::Utc::now().timestamp_micros().saturating_sub(retention)
}

/// What the WAL above a watermark holds, ready to compact.
struct WalChanges {
    /// Surviving new row versions, in the Iceberg table's Arrow schema.
    rows: RecordBatch,
    /// Deleted versions already in Iceberg (or written by other shards).
    cold_deletes: DeletedRows,
    /// Versions both written and deleted above the watermark: never written.
    hot_deleted: usize,
}

/// Hot entries above `watermark`: insert entries become one batch in the
/// Iceberg table's Arrow schema (user columns by name, hidden columns
/// generated), minus the versions delete entries remove.
fn wal_changes(table: &Table, hot: HotSnapshot, watermark: Lsn, shard: &str) -> Result<WalChanges> {
    let arrow_schema: SchemaRef = Arc::new(iceberg::arrow::schema_to_arrow_schema(
        table.metadata().current_schema(),
    )?);
    let deleted = DeletedRows::above(&hot.entries, watermark)?;
    let mut batches = Vec::with_capacity(hot.entries.len());
    let mut hot_deleted = 0;
    for entry in hot.entries {
        if entry.op != WalOp::Insert || entry.last_lsn <= watermark {
            continue;
        }
        let skip = (watermark + 1 - entry.first_lsn).max(0) as usize;
        let rows = entry.batch.slice(skip, entry.batch.num_rows() - skip);
        let first = entry.first_lsn + skip as i64;
        let n = rows.num_rows();
        let wal_rows = hidden::WalRows {
            first,
            n,
            commit_ts: &entry.commit_ts,
            shard,
        };
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(arrow_schema.fields().len());
        for field in arrow_schema.fields() {
            let column: ArrayRef = match wal_rows.column(field.name()) {
                Some(hidden) => hidden,
                None => match rows.column_by_name(field.name()) {
                    Some(c) if c.data_type() == field.data_type() => c.clone(),
                    Some(c) => crate::table::strict_cast(c, field.data_type())?,
                    // A column added after these rows were written.
                    None => arrow::array::new_null_array(field.data_type(), n),
                },
            };
            columns.push(column);
        }
        let mut batch = RecordBatch::try_new(arrow_schema.clone(), columns).map_err(|e| {
            Error::new(ErrorKind::Internal, "WAL rows do not fit the table schema")
                .with_context("lsn", first)
                .with_source(e)
        })?;
        if let Some(mask) = deleted.keep_mask_range(shard, first, n) {
            batch = arrow::compute::filter_record_batch(&batch, &mask)?;
            hot_deleted += n - batch.num_rows();
        }
        batches.push(batch);
    }
    // What is left to delete lives in Iceberg: this shard's versions at or
    // below the watermark, and other shards' versions.
    let mut cold_deletes = DeletedRows::default();
    for deleted_shard in deleted.shards() {
        for lsn in deleted.lsns(deleted_shard) {
            if deleted_shard != shard || lsn <= watermark {
                cold_deletes.insert(deleted_shard, lsn);
            }
        }
    }
    Ok(WalChanges {
        rows: concat_batches(&arrow_schema, &batches)?,
        cold_deletes,
        hot_deleted,
    })
}

/// Order rows for the files compaction writes and cut them into partitions.
///
/// One sort by (partition values, sort columns, lsn), then each run of equal
/// partition values is one partition: a zero-copy slice. Partition values
/// are computed vectorised, once per row, and turned into an Iceberg literal
/// once per partition. (iceberg's `RecordBatchPartitionSplitter` instead
/// filters the whole batch once per partition: quadratic with hundreds of
/// partitions.) Sort columns are `thermocline.sort-by` if set, else the
/// partition source columns (bucket excluded: its order is a hash).
fn layout(table: &Table, batch: RecordBatch) -> Result<Vec<(Option<PartitionKey>, RecordBatch)>> {
    let metadata = table.metadata();
    let schema = metadata.current_schema();
    let spec = metadata.default_partition_spec();
    let mut keys: Vec<String> = match metadata.properties().get(props::SORT_BY) {
        Some(list) => list
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None => spec
            .fields()
            .iter()
            .filter(|f| !matches!(f.transform, Transform::Bucket(_)))
            .filter_map(|f| schema.field_by_id(f.source_id).map(|sf| sf.name.clone()))
            .collect(),
    };
    keys.push(hidden::LSN.to_string());
    keys.dedup();
    let ascending = Some(SortOptions {
        descending: false,
        nulls_first: true,
    });

    let mut columns = Vec::with_capacity(keys.len() + spec.fields().len());
    let partitioning = if spec.is_unpartitioned() {
        None
    } else {
        let calculator = PartitionValueCalculator::try_new(spec, schema)?;
        let values = calculator.calculate(&batch)?;
        for column in values.as_struct().columns() {
            columns.push(SortColumn {
                values: column.clone(),
                options: ascending,
            });
        }
        Some((calculator, values))
    };
    for key in &keys {
        let values = batch.column_by_name(key).ok_or_else(|| {
            Error::new(ErrorKind::Plan, format!("sort column \"{key}\" does not exist"))
                .with_context("table", table.identifier())
        })?;
        columns.push(SortColumn {
            values: values.clone(),
            options: ascending,
        });
    }
    let indices = lexsort_to_indices(&columns, None)?;
    let sorted = take_record_batch(&batch, &indices)?;
    let Some((calculator, values)) = partitioning else {
        return Ok(vec![(None, sorted)]);
    };
    let values = arrow::compute::take(values.as_ref(), &indices, None)?;
    let runs = arrow::compute::partition(values.as_struct().columns())?;
    let mut parts = Vec::with_capacity(runs.len());
    for run in runs.ranges() {
        let first = values.slice(run.start, 1);
        let literal = arrow_struct_to_literal(&first, calculator.partition_type())?
            .into_iter()
            .next()
            .flatten();
        let Some(Literal::Struct(data)) = literal else {
            return Err(Error::internal("partition value is not a struct").with_context("table", table.identifier()));
        };
        let key = PartitionKey::new(spec.as_ref().clone(), schema.clone(), data);
        parts.push((Some(key), sorted.slice(run.start, run.end - run.start)));
    }
    Ok(parts)
}

async fn write_files(
    table: &Table,
    parts: Vec<(Option<PartitionKey>, RecordBatch)>,
    shard: &str,
    upto: Lsn,
    progress: &dyn Progress,
    default_file_size: u64,
) -> Result<Vec<DataFile>> {
    let builder = files::data_file_writers(table, &format!("{shard}-{upto:020}"), default_file_size)?;

    let mut files = Vec::new();
    for (key, part) in parts {
        let rows = part.num_rows() as u64;
        let mut writer = builder.build(key).await?;
        writer.write(part).await?;
        files.extend(writer.close().await?);
        progress.advance(rows);
    }
    Ok(files)
}

async fn delete_files(table: &Table, files: &[DataFile]) {
    for file in files {
        if let Err(e) = table.file_io().delete(file.file_path()).await {
            tracing::warn!("could not delete superseded file {}: {e}", file.file_path());
        }
    }
}
