//! The hot side of a tiered scan: WAL rows above the cut, already read from
//! each shard's hot tier when the scan was planned (that read *is* the cut,
//! see `TieredTable::scan`).

use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};
use futures::StreamExt;

use crate::hot::Lsn;

/// One shard's hot rows above its watermark, already read.
#[derive(Debug, Clone)]
pub struct HotPart {
    pub shard: String,
    /// Rows with lsn at or below this are in the Iceberg snapshot.
    pub watermark: Lsn,
    /// WAL entries read.
    pub entries: usize,
    pub batches: Arc<Vec<RecordBatch>>,
}

impl HotPart {
    pub fn new(shard: String, watermark: Lsn, entries: usize, batches: Vec<RecordBatch>) -> Self {
        Self {
            shard,
            watermark,
            entries,
            batches: Arc::new(batches),
        }
    }

    pub fn row_count(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

/// How many shards EXPLAIN names one by one before it summarises.
const SHARDS_SHOWN: usize = 8;

/// Scans rows of a table's hot tiers that lie above each shard's snapshot
/// watermark: one partition per shard.
#[derive(Debug)]
pub struct HotScanExec {
    table: String,
    parts: Vec<HotPart>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
    /// [`Self::bounds`], computed once: the optimizer asks many times.
    bounds: std::sync::OnceLock<Statistics>,
}

impl HotScanExec {
    /// Exact row count, null counts and value ranges of the hot rows (read
    /// when the scan was planned), so the tiered scan's ranges bound every
    /// row it returns: DataFusion takes a column whose range is one value as
    /// a constant and drops sorts on it.
    pub fn bounds(&self) -> Statistics {
        self.bounds.get_or_init(|| self.compute_bounds()).clone()
    }

    fn compute_bounds(&self) -> Statistics {
        use datafusion::functions_aggregate::min_max::{MaxAccumulator, MinAccumulator};
        use datafusion::logical_expr::Accumulator;
        let mut stats = Statistics::new_unknown(&self.schema);
        let batches: Vec<&RecordBatch> = self.parts.iter().flat_map(|p| p.batches.iter()).collect();
        stats.num_rows = Precision::Exact(batches.iter().map(|b| b.num_rows()).sum());
        for (i, column) in stats.column_statistics.iter_mut().enumerate() {
            let data_type = self.schema.field(i).data_type();
            let (Ok(mut min), Ok(mut max)) = (MinAccumulator::try_new(data_type), MaxAccumulator::try_new(data_type))
            else {
                continue;
            };
            let mut nulls = 0;
            let mut ok = true;
            for batch in &batches {
                let array = batch.column(i).clone();
                nulls += array.null_count();
                ok &= min.update_batch(std::slice::from_ref(&array)).is_ok()
                    && max.update_batch(std::slice::from_ref(&array)).is_ok();
            }
            column.null_count = Precision::Exact(nulls);
            if let (true, Ok(lo), Ok(hi)) = (ok, min.evaluate(), max.evaluate())
                && !lo.is_null()
                && !hi.is_null()
            {
                column.min_value = Precision::Exact(lo);
                column.max_value = Precision::Exact(hi);
            }
        }
        stats
    }

    pub fn new(table: String, parts: Vec<HotPart>, schema: SchemaRef) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(parts.len().max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self {
            table,
            parts,
            schema,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
            bounds: std::sync::OnceLock::new(),
        }
    }

    pub fn row_count(&self) -> usize {
        self.parts.iter().map(HotPart::row_count).sum()
    }
}

impl DisplayAs for HotScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries: usize = self.parts.iter().map(|p| p.entries).sum();
        match (t, self.parts.as_slice()) {
            (DisplayFormatType::TreeRender, [part]) => write!(
                f,
                "table={}\nshard={}\nlsn>{}\nrows={}",
                self.table,
                part.shard,
                part.watermark,
                self.row_count()
            ),
            (DisplayFormatType::TreeRender, parts) => write!(
                f,
                "table={}\nshards={}\nrows={}",
                self.table,
                parts.len(),
                self.row_count()
            ),
            (_, [part]) => write!(
                f,
                "HotScan: table={}, shard={}, lsn > {}, rows={}, wal_entries={}",
                self.table,
                part.shard,
                part.watermark,
                self.row_count(),
                entries
            ),
            (_, parts) => {
                write!(f, "HotScan: table={}, shards=[", self.table)?;
                for (i, part) in parts.iter().take(SHARDS_SHOWN).enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{} lsn > {} rows={}", part.shard, part.watermark, part.row_count())?;
                }
                if parts.len() > SHARDS_SHOWN {
                    write!(f, ", … {} more", parts.len() - SHARDS_SHOWN)?;
                }
                write!(f, "], rows={}, wal_entries={entries}", self.row_count())
            }
        }
    }
}

impl ExecutionPlan for HotScanExec {
    fn name(&self) -> &str {
        "HotScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let batches = match self.parts.get(partition) {
            Some(part) => part.batches.as_ref().clone(),
            // A scan over no shard at all (the filter allows none) still
            // has one, empty, partition.
            None if partition == 0 => Vec::new(),
            None => {
                return datafusion::common::internal_err!(
                    "HotScanExec has {} partitions, asked for {partition}",
                    self.parts.len()
                );
            }
        };
        let scanned = MetricBuilder::new(&self.metrics).counter("hot_rows_scanned", partition);
        let output_rows = MetricBuilder::new(&self.metrics).output_rows(partition);
        let stream = MemoryStream::try_new(batches, self.schema.clone(), None)?;
        let counted = stream.map(move |batch| {
            if let Ok(b) = &batch {
                scanned.add(b.num_rows());
                output_rows.add(b.num_rows());
            }
            batch
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), counted)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
