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

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::compute::{SortColumn, SortOptions, concat_batches, lexsort_to_indices, take_record_batch};
use arrow::datatypes::SchemaRef;
use iceberg::TableIdent;
use iceberg::arrow::{PartitionValueCalculator, arrow_struct_to_literal};
use iceberg::spec::{DataFile, DataFileFormat, Literal, PartitionKey, Transform};
use iceberg::table::Table;
use iceberg::writer::base_writer::data_file_writer::DataFileWriterBuilder;
use iceberg::writer::file_writer::ParquetWriterBuilder;
use iceberg::writer::file_writer::location_generator::{DefaultFileNameGenerator, DefaultLocationGenerator};
use iceberg::writer::file_writer::rolling_writer::RollingFileWriterBuilder;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use thermocline_catalog::watermark::{CommitOutcome, WatermarkCommit};

use super::Progress;
use crate::error::{Error, ErrorKind, Result};
use crate::hot::{HotSnapshot, Lsn, TableName};
use crate::sql::ddl::props;
use crate::table::hidden;
use crate::warehouse::WarehouseInner;

/// What one compaction did.
#[derive(Debug, Clone, Default)]
pub struct CompactionReport {
    pub table: String,
    pub rows: u64,
    pub files: usize,
    pub bytes: u64,
    /// The snapshot this compaction committed, if it committed one.
    pub snapshot_id: Option<i64>,
    /// The shard's watermark after this compaction.
    pub watermark: Lsn,
    /// WAL entries deleted.
    pub truncated: u64,
    /// Another compactor of this shard committed these rows first.
    pub superseded: bool,
    pub elapsed: Duration,
}

/// Rows per Parquet row group: small enough for row-group pruning to bite
/// on sorted data, large enough to keep column chunks efficient.
const ROW_GROUP_ROWS: usize = 256 * 1024;

/// Compact everything hot in `table` at the moment compaction starts.
pub async fn compact_table(
    wh: &WarehouseInner,
    table: &TableName,
    progress: &dyn Progress,
) -> Result<CompactionReport> {
    let started = Instant::now();
    let lock = wh.compaction_lock(table);
    let _guard = lock.lock().await;
    let shard = wh.hot.shard().to_string();
    let keep_since = keep_since(wh);
    let mut report = CompactionReport {
        table: table.to_string(),
        ..Default::default()
    };

    let stats = wh.hot.stats(table)?;
    let ident = TableIdent::from_strs([table.namespace.as_str(), table.name.as_str()])?;
    if stats.rows == 0 {
        report.watermark = stats.local_watermark;
        return Ok(report);
    }
    let upto = stats.max_lsn;
    let hot = wh.hot.read(table, Some(upto), None)?;
    let iceberg_table = wh.load_table(&ident).await?;
    let expected = thermocline_catalog::watermark::watermark(iceberg_table.metadata(), None, &shard);
    if expected >= upto {
        // Already committed (a crash after the commit): just finish.
        report.watermark = expected;
        report.truncated = wh.hot.truncate(table, expected, keep_since)?;
        return Ok(report);
    }

    let batch = wal_rows(&iceberg_table, hot, expected, &shard)?;
    report.rows = batch.num_rows() as u64;
    progress.begin(&format!("compacting {table}"), report.rows);
    let parts = layout(&iceberg_table, batch)?;
    let files = write_files(
        &iceberg_table,
        parts,
        &shard,
        upto,
        progress,
        wh.config.tiering.target_file_size,
    )
    .await?;
    report.files = files.len();
    report.bytes = files.iter().map(|f| f.file_size_in_bytes()).sum();

    let outcome = WatermarkCommit {
        ident: ident.clone(),
        shard: shard.clone(),
        expected,
        new: upto,
        data_files: files.clone(),
    }
    .commit(wh.catalog.as_ref())
    .await;
    match outcome {
        Ok(CommitOutcome::Committed { snapshot_id, .. }) => {
            report.snapshot_id = Some(snapshot_id);
            report.watermark = upto;
            report.truncated = wh.hot.truncate(table, upto, keep_since)?;
        }
        Ok(CommitOutcome::Superseded { current }) => {
            delete_files(&iceberg_table, &files).await;
            report.superseded = true;
            report.watermark = current;
            report.truncated = wh.hot.truncate(table, current, keep_since)?;
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
    Ok(report)
}

/// Entries older than this instant may be deleted once compacted.
fn keep_since(wh: &WarehouseInner) -> i64 {
    let retention = wh.config.tiering.hot_retention.as_micros() as i64;
    chrono::Utc::now().timestamp_micros().saturating_sub(retention)
}

/// Hot rows above `watermark` as one batch in the Iceberg table's Arrow
/// schema (user columns by name, hidden columns generated).
fn wal_rows(table: &Table, hot: HotSnapshot, watermark: Lsn, shard: &str) -> Result<RecordBatch> {
    let arrow_schema: SchemaRef = Arc::new(iceberg::arrow::schema_to_arrow_schema(
        table.metadata().current_schema(),
    )?);
    let mut batches = Vec::with_capacity(hot.entries.len());
    for entry in hot.entries {
        if entry.last_lsn <= watermark {
            continue;
        }
        let skip = (watermark + 1 - entry.first_lsn).max(0) as usize;
        let rows = entry.batch.slice(skip, entry.batch.num_rows() - skip);
        let first = entry.first_lsn + skip as i64;
        let n = rows.num_rows();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(arrow_schema.fields().len());
        for field in arrow_schema.fields() {
            let column: ArrayRef = match field.name().as_str() {
                hidden::LSN => Arc::new(Int64Array::from_iter_values(first..first + n as i64)),
                hidden::COMMIT_TS => {
                    Arc::new(TimestampMicrosecondArray::from(vec![entry.commit_ts; n]).with_timezone("+00:00"))
                }
                hidden::SHARD => Arc::new(StringArray::from(vec![shard; n])),
                name => match rows.column_by_name(name) {
                    Some(c) if c.data_type() == field.data_type() => c.clone(),
                    Some(c) => crate::table::strict_cast(c, field.data_type())?,
                    // A column added after these rows were written.
                    None => arrow::array::new_null_array(field.data_type(), n),
                },
            };
            columns.push(column);
        }
        batches.push(RecordBatch::try_new(arrow_schema.clone(), columns).map_err(|e| {
            Error::new(ErrorKind::Internal, "WAL rows do not fit the table schema")
                .with_context("lsn", first)
                .with_source(e)
        })?);
    }
    Ok(concat_batches(&arrow_schema, &batches)?)
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
    let metadata = table.metadata();
    let schema = metadata.current_schema().clone();
    // The table's property wins (CREATE TABLE validated and normalised it to
    // bytes); a value another engine wrote badly falls back, with a warning.
    let target_file_size = match metadata.properties().get(props::TARGET_FILE_SIZE) {
        None => default_file_size,
        Some(v) => crate::config::parse_size(v).unwrap_or_else(|e| {
            tracing::warn!(
                "table {}: ignoring {}: {e}",
                table.identifier(),
                props::TARGET_FILE_SIZE
            );
            default_file_size
        }),
    } as usize;
    let writer_props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).map_err(|e| Error::internal("zstd level").with_source(e))?,
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    let file_names = DefaultFileNameGenerator::new(
        format!("{shard}-{upto:020}"),
        Some(uuid::Uuid::now_v7().simple().to_string()),
        DataFileFormat::Parquet,
    );
    let rolling = RollingFileWriterBuilder::new(
        ParquetWriterBuilder::new(writer_props, schema.clone()),
        target_file_size,
        table.file_io().clone(),
        DefaultLocationGenerator::new(metadata)?,
        file_names,
    );
    let builder = DataFileWriterBuilder::new(rolling);

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
