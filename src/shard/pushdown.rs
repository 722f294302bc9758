//! [`ShardPushdown`]: the physical optimizer rule that moves work into
//! remote shards, so they send aggregates and top-k rows, not every row.
//!
//! A tiered scan over remote shards reads them through a
//! [`RemoteShardExec`] whose fragment is, at first, the bare tail. Above
//! the scan, a chain of nodes that work partition by partition (filters,
//! projections, partial aggregates, sorts with a limit that keep their
//! partitions, per-partition limits; round-robin repartitions only spread
//! rows, so they are left out of the fragment) gives the same answer run
//! on each shard's part and merged above. The rule finds the highest such
//! chain over a scan with a remote part, and rewrites
//!
//! ```text
//! chain(TieredScan[hot, remote, cold])
//! ```
//! into
//! ```text
//! Union[chain(TieredScan[hot, cold]), RemoteShardScan(fragment = chain(tail))]
//! ```
//!
//! The union has more partitions than the chain had; where the chain's top
//! gave one partition it is merged back into one (in order, if the top was
//! ordered). A fragment that cannot be encoded for the shards (a node or
//! expression `datafusion-proto` does not know) leaves the plan as it was:
//! the shards then send rows. So does `SET thermocline.shard_pushdown =
//! off`.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::limit::LocalLimitExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, Partitioning};

use super::remote::exec::TailExec;
use crate::table::tiered_scan::TieredScanExec;

/// The setting that turns the rule off (`SET thermocline.shard_pushdown =
/// off`): shards then send rows. For comparing, and for finding out
/// whether a wrong answer comes from a pushed-down fragment.
pub const SHARD_PUSHDOWN: &str = "thermocline.shard_pushdown";

#[derive(Debug, Default)]
pub struct ShardPushdown;

impl PhysicalOptimizerRule for ShardPushdown {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        let off = crate::pg_catalog::settings::get(config, SHARD_PUSHDOWN)
            .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "off" | "false" | "0" | "no"));
        if off {
            return Ok(plan);
        }
        push(plan)
    }

    fn name(&self) -> &str {
        "shard_pushdown"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Top down: the first node of a chain that can run on shards is the
/// highest, so the chain is as long as it can be.
fn push(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    if runs_on_shard(&plan)
        && let Some(split) = split(&plan)?
    {
        return Ok(split);
    }
    let children: Vec<Arc<dyn ExecutionPlan>> = plan.children().into_iter().cloned().collect();
    if children.is_empty() {
        return Ok(plan);
    }
    let mut changed = false;
    let mut pushed = Vec::with_capacity(children.len());
    for child in children {
        let new = push(child.clone())?;
        changed |= !Arc::ptr_eq(&new, &child);
        pushed.push(new);
    }
    if changed {
        plan.with_new_children(pushed)
    } else {
        Ok(plan)
    }
}

/// A node that gives the same answer run on each part of its input and
/// merged above.
fn runs_on_shard(plan: &Arc<dyn ExecutionPlan>) -> bool {
    if plan.is::<FilterExec>() || plan.is::<ProjectionExec>() || plan.is::<LocalLimitExec>() {
        return true;
    }
    if let Some(aggregate) = plan.downcast_ref::<AggregateExec>() {
        return *aggregate.mode() == AggregateMode::Partial;
    }
    if let Some(sort) = plan.downcast_ref::<SortExec>() {
        return sort.fetch().is_some() && sort.preserve_partitioning();
    }
    false
}

/// A node that only moves rows between partitions: kept on the local side,
/// left out of the fragment.
fn passes_through(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.downcast_ref::<RepartitionExec>()
        .is_some_and(|r| matches!(r.partitioning(), Partitioning::RoundRobinBatch(_)))
}

/// Rewrite `top` (a node that runs on shards) when the chain below it
/// reaches a tiered scan with a remote part.
fn split(top: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let mut node = top.clone();
    let scan = loop {
        if let Some(scan) = node.downcast_ref::<TieredScanExec>() {
            break scan;
        }
        let children = node.children();
        if !(runs_on_shard(&node) || passes_through(&node)) || children.len() != 1 {
            return Ok(None);
        }
        let child = children[0].clone();
        node = child;
    };
    let Some(remote) = scan.remote() else {
        return Ok(None);
    };
    let fragment = fragment_of(top, &(Arc::new(TailExec::new(scan.schema())) as Arc<dyn ExecutionPlan>))?;
    let remote = match remote.with_fragment(fragment) {
        Ok(remote) => remote,
        Err(e) => {
            tracing::debug!("shards send rows: the plan above them cannot be sent ({e})");
            return Ok(None);
        }
    };
    let local_scan: Arc<dyn ExecutionPlan> = Arc::new(scan.without_remote()?);
    let local = with_leaf(top, &local_scan)?;
    let union = UnionExec::try_new(vec![local, Arc::new(remote)])?;
    if top.output_partitioning().partition_count() != 1 || union.output_partitioning().partition_count() == 1 {
        return Ok(Some(union));
    }
    // The top gave one partition, which the plan above may rely on.
    Ok(Some(match top.output_ordering() {
        Some(ordering) => {
            let fetch = top.downcast_ref::<SortExec>().and_then(SortExec::fetch);
            Arc::new(SortPreservingMergeExec::new(ordering.clone(), union).with_fetch(fetch))
        }
        None => Arc::new(CoalescePartitionsExec::new(union)),
    }))
}

/// The chain from `node` down, without pass-through nodes, over `tail`.
fn fragment_of(node: &Arc<dyn ExecutionPlan>, tail: &Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    if node.is::<TieredScanExec>() {
        return Ok(tail.clone());
    }
    let child = fragment_of(node.children()[0], tail)?;
    if passes_through(node) {
        return Ok(child);
    }
    node.clone().with_new_children(vec![child])
}

/// The chain from `node` down, over `leaf` instead of its scan.
fn with_leaf(node: &Arc<dyn ExecutionPlan>, leaf: &Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    if node.is::<TieredScanExec>() {
        return Ok(leaf.clone());
    }
    let child = with_leaf(node.children()[0], leaf)?;
    node.clone().with_new_children(vec![child])
}
