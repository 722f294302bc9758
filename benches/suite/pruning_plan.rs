//! What a physical plan of the pruning group's query reads: the cut of its
//! tiered scan (as EXPLAIN prints it) and the Parquet files of its file scans.

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use thermocline::table::{CutSummary, TieredScanExec};

use crate::harness::{R, fail};

/// Logical and physical planning times of `sql`, and the physical plan.
pub async fn physical_plan(ctx: &SessionContext, sql: &str) -> R<([Duration; 2], Arc<dyn ExecutionPlan>)> {
    let t0 = Instant::now();
    let frame = ctx.sql(sql).await?;
    let t1 = Instant::now();
    let (state, plan) = frame.into_parts();
    let physical = state.create_physical_plan(&plan).await?;
    Ok(([t1 - t0, t1.elapsed()], physical))
}

/// The cut of the plan's one tiered scan.
pub fn cut_of(plan: &Arc<dyn ExecutionPlan>) -> R<CutSummary> {
    if let Some(scan) = plan.downcast_ref::<TieredScanExec>() {
        return Ok(scan.cut().clone());
    }
    plan.children()
        .into_iter()
        .find_map(|child| cut_of(child).ok())
        .ok_or_else(|| fail("the plan has no TieredScanExec"))
}

/// The path of every Parquet file the plan's file scans read.
pub fn planned_files(plan: &Arc<dyn ExecutionPlan>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(config) = plan
        .downcast_ref::<DataSourceExec>()
        .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
    {
        for group in &config.file_groups {
            out.extend(group.files().iter().map(|f| f.object_meta.location.to_string()));
        }
    }
    for child in plan.children() {
        out.extend(planned_files(child));
    }
    out
}

pub fn check_files(plan: &Arc<dyn ExecutionPlan>, expected: usize) -> R<()> {
    let planned = cut_of(plan)?.files_planned;
    if planned != expected {
        return Err(fail(format!("a run planned {planned} files, the first {expected}")));
    }
    Ok(())
}
