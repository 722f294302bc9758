//! The plan nodes of a remote read: [`RemoteShardExec`] on the coordinator
//! (one partition per remote shard, each a `DoGet` of a fragment), the
//! fragment's leaf [`TailExec`], and the codec that carries fragments
//! across ([`FragmentCodec`]).

use std::fmt;
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use bytes::Bytes;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning, PlanProperties,
};
use datafusion_proto::physical_plan::PhysicalExtensionCodec;
use futures::{StreamExt, TryStreamExt};

use super::RemoteShards;
use crate::hot::Lsn;

/// The fragment leaf's encoding: the cut it runs over is the ticket's.
const TAIL: &[u8] = b"thermocline.tail";

/// A remote shard's opened cut.
#[derive(Debug, Clone)]
pub struct RemoteCut {
    pub shard: String,
    pub cut: u64,
    pub watermark: Lsn,
    pub rows: usize,
}

/// The cuts of one scan, closed on their shards when the last plan node
/// holding them goes away.
#[derive(Debug)]
pub struct OpenCuts {
    pub remote: Arc<RemoteShards>,
    pub cuts: Vec<RemoteCut>,
}

impl Drop for OpenCuts {
    fn drop(&mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // they expire on the shard
        };
        let remote = self.remote.clone();
        let cuts = std::mem::take(&mut self.cuts);
        runtime.spawn(async move {
            for cut in cuts {
                remote.close_cut(&cut.shard, cut.cut).await;
            }
        });
    }
}

/// The leaf of a fragment: the rows of the cut it runs over. On the
/// coordinator it only stands for them (and is never executed); a shard
/// decodes it into the cut's rows.
#[derive(Debug)]
pub struct TailExec {
    properties: Arc<PlanProperties>,
}

impl TailExec {
    pub fn new(schema: SchemaRef) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self { properties }
    }
}

impl DisplayAs for TailExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ShardTail")
    }
}

impl ExecutionPlan for TailExec {
    fn name(&self) -> &str {
        "ShardTail"
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

    fn execute(&self, _partition: usize, _context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        datafusion::common::internal_err!("a shard tail runs only on its shard")
    }
}

/// Encodes and decodes fragments. The coordinator's has no rows; a shard's
/// holds the cut's, which the fragment's leaf becomes.
#[derive(Debug, Default)]
pub struct FragmentCodec {
    tail: Option<(SchemaRef, Vec<RecordBatch>)>,
}

impl FragmentCodec {
    /// The shard's codec for a fragment over `batches`.
    pub fn over(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        Self {
            tail: Some((schema, batches)),
        }
    }

    pub fn encode(&self, fragment: Arc<dyn ExecutionPlan>) -> Result<Bytes> {
        datafusion_proto::bytes::physical_plan_to_bytes_with_extension_codec(fragment, self)
    }

    pub fn decode(&self, bytes: &[u8], ctx: &TaskContext) -> Result<Arc<dyn ExecutionPlan>> {
        datafusion_proto::bytes::physical_plan_from_bytes_with_extension_codec(bytes, ctx, self)
    }
}

impl PhysicalExtensionCodec for FragmentCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        _inputs: &[Arc<dyn ExecutionPlan>],
        _ctx: &TaskContext,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if buf != TAIL {
            return datafusion::common::plan_err!("unknown node in a shard fragment");
        }
        let Some((schema, batches)) = &self.tail else {
            return datafusion::common::internal_err!("a fragment's tail decoded away from its shard");
        };
        let source = datafusion::datasource::memory::MemorySourceConfig::try_new(
            std::slice::from_ref(batches),
            schema.clone(),
            None,
        )?;
        Ok(datafusion::datasource::source::DataSourceExec::from_data_source(source))
    }

    fn try_encode(&self, node: Arc<dyn ExecutionPlan>, buf: &mut Vec<u8>) -> Result<()> {
        if node.downcast_ref::<TailExec>().is_none() {
            return datafusion::common::not_impl_err!("{} cannot run on a shard", node.name());
        }
        buf.extend_from_slice(TAIL);
        Ok(())
    }
}

/// How many shards EXPLAIN names one by one.
const SHARDS_SHOWN: usize = 8;

/// Reads remote shards: partition `i` runs the fragment over cut `i` on
/// its shard and streams back what it sends.
#[derive(Debug)]
pub struct RemoteShardExec {
    table: String,
    cuts: Arc<OpenCuts>,
    fragment: Arc<dyn ExecutionPlan>,
    encoded: Bytes,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl RemoteShardExec {
    /// `fragment` must end in a [`TailExec`] and hold only nodes a shard
    /// can decode; an error says it cannot be sent.
    pub fn try_new(table: String, cuts: Arc<OpenCuts>, fragment: Arc<dyn ExecutionPlan>) -> Result<Self> {
        let encoded = FragmentCodec::default().encode(fragment.clone())?;
        let properties = Arc::new(PlanProperties::new(
            fragment.equivalence_properties().clone(),
            Partitioning::UnknownPartitioning(cuts.cuts.len().max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(Self {
            table,
            cuts,
            fragment,
            encoded,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The same cuts, running `fragment` instead.
    pub fn with_fragment(&self, fragment: Arc<dyn ExecutionPlan>) -> Result<Self> {
        Self::try_new(self.table.clone(), self.cuts.clone(), fragment)
    }

    pub fn fragment(&self) -> &Arc<dyn ExecutionPlan> {
        &self.fragment
    }

    /// Whether the fragment is more than the bare tail.
    fn pushed_down(&self) -> bool {
        !self.fragment.children().is_empty()
    }
}

impl DisplayAs for RemoteShardExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cuts = &self.cuts.cuts;
        let rows: usize = cuts.iter().map(|c| c.rows).sum();
        if matches!(t, DisplayFormatType::TreeRender) {
            return write!(f, "table={}\nremote_shards={}\nrows={rows}", self.table, cuts.len());
        }
        write!(f, "RemoteShardScan: table={}, shards=[", self.table)?;
        for (i, cut) in cuts.iter().take(SHARDS_SHOWN).enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            let server = self.cuts.remote.endpoint(&cut.shard).unwrap_or("?");
            write!(f, "{} lsn > {} rows={} at {server}", cut.shard, cut.watermark, cut.rows)?;
        }
        if cuts.len() > SHARDS_SHOWN {
            write!(f, ", … {} more", cuts.len() - SHARDS_SHOWN)?;
        }
        write!(f, "], rows={rows}")?;
        if self.pushed_down() {
            // The fragment, top first, each node on one line.
            write!(f, ", runs on shards=[")?;
            let mut node = Some(self.fragment.clone());
            let mut first = true;
            while let Some(n) = node {
                if !first {
                    write!(f, " <- ")?;
                }
                first = false;
                write!(
                    f,
                    "{}",
                    datafusion::physical_plan::displayable(n.as_ref())
                        .one_line()
                        .to_string()
                        .trim_end()
                )?;
                node = n.children().first().map(|c| Arc::clone(c));
            }
            write!(f, "]")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for RemoteShardExec {
    fn name(&self) -> &str {
        "RemoteShardExec"
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
        let schema = self.schema();
        let Some(cut) = self.cuts.cuts.get(partition).cloned() else {
            if partition == 0 {
                return Ok(Box::pin(RecordBatchStreamAdapter::new(
                    schema,
                    futures::stream::empty(),
                )));
            }
            return datafusion::common::internal_err!(
                "RemoteShardExec has {} partitions, asked for {partition}",
                self.cuts.cuts.len()
            );
        };
        let remote = self.cuts.remote.clone();
        // The stream keeps the cuts open: the plan may be dropped once its
        // streams exist, before they are first polled.
        let open_cuts = self.cuts.clone();
        let encoded = self.encoded.clone();
        let bytes = MetricBuilder::new(&self.metrics).counter("bytes_received", partition);
        let output_rows = MetricBuilder::new(&self.metrics).output_rows(partition);
        let shard = cut.shard.clone();
        let out_schema = schema.clone();
        let stream = futures::stream::once(async move {
            let _open = open_cuts;
            let data = remote.execute(&cut.shard, cut.cut, encoded).await?;
            let remote_for_errors = remote.clone();
            let shard = cut.shard.clone();
            Ok::<_, crate::error::Error>(
                RemoteShards::decode(data).map_err(move |status| remote_for_errors.error(&shard, &status)),
            )
        })
        .try_flatten()
        .map(move |item| match item {
            Ok((batch, n)) => {
                bytes.add(n);
                output_rows.add(batch.num_rows());
                // The shard's field metadata may differ; the types may not.
                let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
                RecordBatch::try_new_with_options(out_schema.clone(), batch.columns().to_vec(), &options).map_err(|e| {
                    DataFusionError::from(
                        crate::error::Error::new(
                            crate::error::ErrorKind::ShardUnavailable,
                            format!("shard {shard} sent rows of another shape: {e}"),
                        )
                        .with_context("shard", &shard),
                    )
                })
            }
            Err(e) => Err(DataFusionError::from(
                e.with_context("while", format!("reading shard {shard}")),
            )),
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
