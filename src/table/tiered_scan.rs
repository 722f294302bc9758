//! The root of a tiered table scan: the union of its hot side and its cold
//! side, with the cut it reads (snapshot, watermark) and what pruning did
//! shown in EXPLAIN.

use std::fmt;
use std::sync::Arc;

use datafusion::error::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties};

use crate::hot::Lsn;

/// What the scan reads, for EXPLAIN and for tests.
#[derive(Debug, Clone, Default)]
pub struct CutSummary {
    pub table: String,
    pub snapshot_id: Option<i64>,
    pub shard: String,
    pub watermark: Lsn,
    pub hot_rows: usize,
    /// Data files in the snapshot.
    pub files_total: usize,
    /// Data files left after partition, manifest and metrics pruning.
    pub files_planned: usize,
}

impl CutSummary {
    pub fn files_pruned(&self) -> usize {
        self.files_total.saturating_sub(self.files_planned)
    }
}

/// Union of the tiers of one table. Partitions are the hot side's followed by
/// the cold side's.
#[derive(Debug)]
pub struct TieredScanExec {
    cut: CutSummary,
    children: Vec<Arc<dyn ExecutionPlan>>,
    properties: Arc<PlanProperties>,
}

impl TieredScanExec {
    pub fn try_new(cut: CutSummary, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Self> {
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
            properties,
        })
    }

    pub fn cut(&self) -> &CutSummary {
        &self.cut
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
                c.table, c.hot_rows, c.files_planned, c.files_total
            ),
            _ => write!(
                f,
                "TieredScan: table={}, snapshot={snapshot}, shard={}, watermark={}, hot_rows={}, files_planned={}, files_pruned={} of {}",
                c.table,
                c.shard,
                c.watermark,
                c.hot_rows,
                c.files_planned,
                c.files_pruned(),
                c.files_total
            ),
        }
    }
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

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false; self.children.len()]
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self::try_new(self.cut.clone(), children)?))
    }

    fn execute(&self, mut partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        for child in &self.children {
            let count = child.properties().output_partitioning().partition_count();
            if partition < count {
                return child.execute(partition, context);
            }
            partition -= count;
        }
        datafusion::common::internal_err!("TieredScanExec: partition {partition} out of range")
    }
}
