//! The root of a tiered table scan: the union of its hot side and its cold
//! side, with the cut it reads (snapshot, watermark) and what pruning did
//! shown in EXPLAIN.

use std::fmt;
use std::sync::Arc;

use arrow::array::{RecordBatch, RecordBatchOptions};
use arrow::datatypes::SchemaRef;
use datafusion::common::stats::Precision;
use datafusion::common::{ColumnStatistics, Statistics};
use datafusion::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::filter_pushdown::{FilterDescription, FilterPushdownPhase};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path;

use super::row_id::DeletedRows;
use crate::error::{Error, ErrorKind};
use crate::hot::Lsn;

/// What the scan reads, for EXPLAIN and for tests.
#[derive(Debug, Clone, Default)]
pub struct CutSummary {
    pub table: String,
    pub snapshot_id: Option<i64>,
    /// Each shard read, with its watermark in the snapshot.
    pub shards: Vec<ShardCut>,
    /// Remote shards left out of a partial answer.
    pub missing_shards: Vec<String>,
    /// How many shards a sharded table has (`None`: unsharded).
    pub shards_total: Option<usize>,
    /// The query's filter fixed the shard key, so only its owners are read.
    pub shards_narrowed: bool,
    /// Data files in the snapshot.
    pub files_total: usize,
    /// Data files left after partition, manifest and metrics pruning.
    pub files_planned: usize,
    /// Rows the planned files hold, when every file's count is known.
    pub cold_rows: Option<u64>,
    /// The cold side reads at most this many rows (LIMIT pushed down).
    pub limited: bool,
    /// Row versions deleted above the cut (hidden until compaction writes
    /// the deletes into Iceberg).
    pub deleted_rows: usize,
}

/// One shard's part of a cut.
#[derive(Debug, Clone, Default)]
pub struct ShardCut {
    pub shard: String,
    pub watermark: Lsn,
    pub hot_rows: usize,
    /// The server hosting a remote shard (`None`: this process).
    pub server: Option<String>,
}

/// Drops deleted row versions from the cold side's batches, then the
/// identity columns only the filter needed.
#[derive(Debug, Clone)]
pub struct RowFilter {
    pub deleted: Arc<DeletedRows>,
    /// Positions of `_lsn` and `_shard` in the cold scan's output.
    pub lsn: usize,
    pub shard: usize,
    /// Output columns to keep, in order.
    pub keep: Vec<usize>,
}

impl RowFilter {
    fn apply(&self, batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
        let mask = self
            .deleted
            .keep_mask(batch.column(self.shard).as_ref(), batch.column(self.lsn).as_ref())?;
        let filtered = arrow::compute::filter_record_batch(batch, &mask)?;
        let columns = self.keep.iter().map(|i| filtered.column(*i).clone()).collect();
        let options = RecordBatchOptions::new().with_row_count(Some(filtered.num_rows()));
        Ok(RecordBatch::try_new_with_options(schema.clone(), columns, &options)?)
    }
}

impl CutSummary {
    pub fn files_pruned(&self) -> usize {
        self.files_total.saturating_sub(self.files_planned)
    }

    /// Hot rows above the cut, over every shard read.
    pub fn hot_rows(&self) -> usize {
        self.shards.iter().map(|s| s.hot_rows).sum()
    }
}

/// The Parquet files behind each cold partition, kept so that a read error
/// can name the file that caused it.
#[derive(Debug, Clone)]
pub struct ColdFiles {
    pub store: Arc<dyn ObjectStore>,
    /// Per cold partition: (location, path in the store, size in bytes).
    pub groups: Vec<Vec<(String, Path, u64)>>,
}

impl ColdFiles {
    /// Find which file of a partition is unreadable by opening each footer.
    /// Runs only after a read failed, so it costs nothing on the happy path.
    async fn diagnose(self, table: String, group: usize, error: DataFusionError) -> DataFusionError {
        use parquet::arrow::ParquetRecordBatchStreamBuilder;
        use parquet::arrow::async_reader::ParquetObjectReader;
        // The partition's own files first; its siblings' after them, since
        // a partition that runs out of files reads (steals) theirs.
        let files = self.groups.get(group).cloned().unwrap_or_default();
        let siblings = self
            .groups
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != group)
            .flat_map(|(_, g)| g);
        let mut seen = std::collections::HashSet::new();
        for (location, path, size) in files.iter().chain(siblings) {
            if !seen.insert(path) {
                continue;
            }
            let reader = ParquetObjectReader::new(self.store.clone(), path.clone()).with_file_size(*size);
            if let Err(e) = ParquetRecordBatchStreamBuilder::new(reader).await {
                return Error::new(ErrorKind::Storage, "corrupt or unreadable Parquet file")
                    .with_context("table", &table)
                    .with_context("file", location)
                    .with_source(e)
                    .into();
            }
        }
        let names: Vec<&str> = files.iter().map(|(l, _, _)| l.as_str()).collect();
        Error::new(ErrorKind::Storage, format!("reading Parquet failed: {error}"))
            .with_context("table", &table)
            .with_context("files", names.join(", "))
            .into()
    }
}

/// Union of the tiers of one table. Partitions are the hot side's, then the
/// remote shards' (if any), then the cold side's (if any: always the last
/// child).
#[derive(Debug)]
pub struct TieredScanExec {
    cut: CutSummary,
    children: Vec<Arc<dyn ExecutionPlan>>,
    cold_files: Option<ColdFiles>,
    row_filter: Option<RowFilter>,
    /// The remote shards' rows are read elsewhere in the plan, so the
    /// cut's row count is not this node's.
    remote_split: bool,
    properties: Arc<PlanProperties>,
}

impl TieredScanExec {
    /// `children` is the hot scan, then (if any) the cold scan whose
    /// partitions are `cold_files.groups`.
    pub fn try_new(
        cut: CutSummary,
        children: Vec<Arc<dyn ExecutionPlan>>,
        cold_files: Option<ColdFiles>,
        row_filter: Option<RowFilter>,
    ) -> Result<Self> {
        let Some(first) = children.first() else {
            return datafusion::common::internal_err!("TieredScanExec needs at least one tier");
        };
        let schema = first.schema();
        let partitions = children
            .iter()
            .map(|c| c.properties().output_partitioning().partition_count())
            .sum();
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(Self {
            cut,
            children,
            cold_files,
            row_filter,
            remote_split: false,
            properties,
        })
    }

    /// The hot rows' statistics merged with the cold side's (columns mapped
    /// through the row filter); `None` when a tier has none to give.
    fn column_bounds(&self) -> Result<Option<Statistics>> {
        let cold = self.children.last().filter(|_| self.cold_files.is_some());
        // The optimizer may have wrapped the hot scan (EnsureCooperative).
        let hot_scan = self.children.first().and_then(|c| {
            c.downcast_ref::<super::hot_scan::HotScanExec>().or_else(|| {
                c.downcast_ref::<datafusion::physical_plan::coop::CooperativeExec>()
                    .and_then(|coop| coop.input().downcast_ref::<super::hot_scan::HotScanExec>())
            })
        });
        let hot = match hot_scan {
            Some(hot) => Some(hot.bounds()),
            // A cold side alone; any other tier's rows are not bounded here.
            None if self.children.len() == 1 && cold.is_some() => None,
            None => return Ok(None),
        };
        let Some(cold) = cold else {
            return Ok(hot);
        };
        let cold = cold.partition_statistics(None)?;
        let mut cold_columns = Statistics::new_unknown(&self.schema());
        cold_columns.num_rows = cold.num_rows;
        cold_columns.total_byte_size = cold.total_byte_size;
        for (i, column) in cold_columns.column_statistics.iter_mut().enumerate() {
            let source = self
                .row_filter
                .as_ref()
                .map_or(i, |f| f.keep.get(i).copied().unwrap_or(usize::MAX));
            if let Some(c) = cold.column_statistics.get(source) {
                *column = c.clone();
            }
        }
        let mut merged = match hot {
            Some(hot) if hot.num_rows != Precision::Exact(0) => {
                Statistics::try_merge_iter([&hot, &cold_columns], &self.schema())?
            }
            _ => cold_columns,
        };
        // Bytes: the cold files' in-memory estimate, with hot rows assumed
        // as wide as the cold ones.
        if let (Some(bytes), Some(cold_rows)) = (cold.total_byte_size.get_value(), cold.num_rows.get_value())
            && *cold_rows > 0
        {
            let rows = self.cut.cold_rows.map_or(*cold_rows, |c| c as usize) + self.cut.hot_rows();
            merged.total_byte_size = Precision::Inexact(bytes.saturating_mul(rows) / cold_rows);
        }
        Ok(Some(merged))
    }

    pub fn cut(&self) -> &CutSummary {
        &self.cut
    }

    /// The remote shards' part, if the scan has one.
    pub fn remote(&self) -> Option<&crate::shard::remote::exec::RemoteShardExec> {
        self.children
            .iter()
            .find_map(|c| c.downcast_ref::<crate::shard::remote::exec::RemoteShardExec>())
    }

    /// The same scan without its remote shards' part (which a plan above
    /// reads by itself: see `crate::shard::pushdown`).
    pub fn without_remote(&self) -> Result<Self> {
        let children = self
            .children
            .iter()
            .filter(|c| {
                c.downcast_ref::<crate::shard::remote::exec::RemoteShardExec>()
                    .is_none()
            })
            .cloned()
            .collect();
        self.with_children(children, true)
    }

    /// The same scan over `children`.
    fn with_children(&self, children: Vec<Arc<dyn ExecutionPlan>>, remote_split: bool) -> Result<Self> {
        let mut scan = Self::try_new(
            self.cut.clone(),
            children,
            self.cold_files.clone(),
            self.row_filter.clone(),
        )?;
        scan.remote_split = remote_split;
        Ok(scan)
    }
}

impl DisplayAs for TieredScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.cut;
        let snapshot = c.snapshot_id.map_or("none".to_string(), |s| s.to_string());
        match t {
            DisplayFormatType::TreeRender => write!(
                f,
                "table={}\nsnapshot={snapshot}\nhot_rows={}\nfiles={}/{}",
                c.table,
                c.hot_rows(),
                c.files_planned,
                c.files_total
            ),
            _ => {
                write!(f, "TieredScan: table={}, snapshot={snapshot}, ", c.table)?;
                match (c.shards_total, c.shards.as_slice()) {
                    (None, [one]) => write!(f, "shard={}, watermark={}", one.shard, one.watermark)?,
                    (total, shards) => {
                        let total = total.unwrap_or(shards.len());
                        write!(f, "shards={} of {total}", shards.len())?;
                        if c.shards_narrowed {
                            write!(f, " (shard key fixed by the filter)")?;
                        }
                        let remote = shards.iter().filter(|s| s.server.is_some()).count();
                        if remote > 0 {
                            write!(f, ", remote_shards={remote}")?;
                        }
                        if !c.missing_shards.is_empty() {
                            write!(f, ", missing_shards=[{}]", c.missing_shards.join(", "))?;
                        }
                    }
                }
                write!(
                    f,
                    ", hot_rows={}, files_planned={}, files_pruned={} of {}",
                    c.hot_rows(),
                    c.files_planned,
                    c.files_pruned(),
                    c.files_total
                )?;
                if c.deleted_rows > 0 {
                    write!(f, ", deleted_rows={}", c.deleted_rows)?;
                }
                Ok(())
            }
        }
    }
}

/// A column's range, unless it spans its type's whole width (an `i64`
/// from `i64::MIN` to `i64::MAX`, say): DataFusion 54 counts the values in
/// a range as `distance + 1` (`Interval::cardinality`), which overflows
/// `u64` there and panics in debug builds (wraps to 0 in release, a wrong
/// selectivity). Such a range says nothing a filter could use anyway.
fn without_full_width_range(mut column: ColumnStatistics) -> ColumnStatistics {
    if let (Some(min), Some(max)) = (column.min_value.get_value(), column.max_value.get_value())
        && max.distance(min) == Some(usize::MAX)
    {
        column.min_value = Precision::Absent;
        column.max_value = Precision::Absent;
    }
    column
}

impl ExecutionPlan for TieredScanExec {
    fn name(&self) -> &str {
        "TieredScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.children.iter().collect()
    }

    /// Exact row count of the whole scan (hot rows above the cut plus the
    /// planned files' record counts), so `count(*)` is answered from
    /// metadata as DataFusion does for plain Parquet; and estimates of its
    /// bytes and column ranges from the cold files' footers (see
    /// `cold_stats`), inexact because the hot rows are not in them.
    fn partition_statistics(&self, partition: Option<usize>) -> Result<Arc<Statistics>> {
        let mut stats = Statistics::new_unknown(&self.schema());
        if partition.is_some() || self.remote_split {
            return Ok(Arc::new(stats));
        }
        if let Some(cold) = self.cut.cold_rows {
            let rows = cold as usize + self.cut.hot_rows();
            stats.num_rows = if self.cut.limited {
                Precision::Inexact(rows)
            } else {
                Precision::Exact(rows)
            };
        }
        // Column ranges only when they bound every row the scan returns:
        // the hot rows' (exact, read at planning) merged with the cold
        // files' (from their footers); remote shards' rows are in neither.
        if self.remote().is_none()
            && let Some(columns) = self.column_bounds()?
            && columns.column_statistics.len() == stats.column_statistics.len()
        {
            stats.column_statistics = columns
                .column_statistics
                .into_iter()
                .map(|c| without_full_width_range(c.to_inexact()))
                .collect();
            stats.total_byte_size = columns.total_byte_size.to_inexact();
        }
        Ok(Arc::new(stats))
    }

    /// Filters a join or TopK above learns while it runs (DataFusion's
    /// dynamic filters, pushed in the post-optimization phase) go on to the
    /// tiers, so the cold Parquet scan skips row groups and rows the join
    /// would drop. Every column of this node is at the same place in each
    /// child (the cold side's identity columns come after them). Static
    /// filters reach the cold scan through the table provider already.
    fn gather_filters_for_pushdown(
        &self,
        phase: FilterPushdownPhase,
        parent_filters: Vec<Arc<dyn PhysicalExpr>>,
        _config: &ConfigOptions,
    ) -> Result<FilterDescription> {
        if phase != FilterPushdownPhase::Post {
            return Ok(FilterDescription::all_unsupported(&parent_filters, &self.children()));
        }
        FilterDescription::from_children(parent_filters, &self.children())
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false; self.children.len()]
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(self.with_children(children, self.remote_split)?))
    }

    fn execute(&self, mut partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        for (index, child) in self.children.iter().enumerate() {
            let count = child.properties().output_partitioning().partition_count();
            if partition < count {
                let stream = child.execute(partition, context)?;
                let is_cold = index + 1 == self.children.len() && index > 0;
                let Some(files) = self.cold_files.clone().filter(|_| is_cold) else {
                    return Ok(stream);
                };
                let schema = self.schema();
                let table = self.cut.table.clone();
                let row_filter = self.row_filter.clone();
                let out_schema = schema.clone();
                let named = stream.then(move |batch| {
                    let files = files.clone();
                    let table = table.clone();
                    let row_filter = row_filter.clone();
                    let schema = out_schema.clone();
                    async move {
                        match (batch, row_filter) {
                            (Ok(batch), None) => Ok(batch),
                            (Ok(batch), Some(filter)) => filter.apply(&batch, &schema),
                            (Err(e), _) => Err(files.diagnose(table, partition, e).await),
                        }
                    }
                });
                return Ok(Box::pin(RecordBatchStreamAdapter::new(schema, named)));
            }
            partition -= count;
        }
        datafusion::common::internal_err!("TieredScanExec: partition {partition} out of range")
    }
}
