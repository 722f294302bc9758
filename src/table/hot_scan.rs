//! The hot side of a tiered scan: WAL rows above the cut, already read from
//! the shard's hot tier when the scan was planned (that read *is* the cut,
//! see `TieredTable::scan`).

use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
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

/// Scans rows of a table's hot tier that lie above the snapshot watermark.
#[derive(Debug)]
pub struct HotScanExec {
    table: String,
    shard: String,
    /// Rows with lsn at or below this are in the Iceberg snapshot.
    watermark: Lsn,
    entries: usize,
    batches: Arc<Vec<RecordBatch>>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl HotScanExec {
    pub fn new(
        table: String,
        shard: String,
        watermark: Lsn,
        entries: usize,
        batches: Vec<RecordBatch>,
        schema: SchemaRef,
    ) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self {
            table,
            shard,
            watermark,
            entries,
            batches: Arc::new(batches),
            schema,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    pub fn row_count(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

impl DisplayAs for HotScanExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match t {
            DisplayFormatType::TreeRender => write!(
                f,
                "table={}\nshard={}\nlsn>{}\nrows={}",
                self.table,
                self.shard,
                self.watermark,
                self.row_count()
            ),
            _ => write!(
                f,
                "HotScan: table={}, shard={}, lsn > {}, rows={}, wal_entries={}",
                self.table,
                self.shard,
                self.watermark,
                self.row_count(),
                self.entries
            ),
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
        if partition != 0 {
            return datafusion::common::internal_err!("HotScanExec has one partition, asked for {partition}");
        }
        let scanned = MetricBuilder::new(&self.metrics).counter("hot_rows_scanned", partition);
        let output_rows = MetricBuilder::new(&self.metrics).output_rows(partition);
        let stream = MemoryStream::try_new(self.batches.as_ref().clone(), self.schema.clone(), None)?;
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
