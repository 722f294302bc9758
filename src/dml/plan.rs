//! Which rows an UPDATE or DELETE changes, as a DataFusion plan.
//!
//! DataFusion plans `DELETE FROM t WHERE p` as `Dml(Delete, Filter(p, Scan t))`
//! and `UPDATE t SET a = e FROM u WHERE p` as `Dml(Update, Projection(new
//! values, Filter(p, Join(Scan t, Scan u))))`: the input computes the rows,
//! with any predicate, subquery or join. We run that input ourselves after
//! two changes: the scan of the target reads [`TieredTable::with_row_ids`],
//! so each row carries its `_lsn`, `_shard` and `_commit_ts`, and every projection above it
//! passes them through. For an UPDATE the top projection also keeps the old
//! values (`__before_<i>`), the before-image CDC needs.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, TableReference};
use datafusion::datasource::provider_as_source;
use datafusion::datasource::source_as_provider;
use datafusion::logical_expr::{Expr, LogicalPlan, Projection, TableScan};

use crate::error::{Error, Result};
use crate::table::TieredTable;
use crate::table::hidden;

/// Name of the column holding the old value of user column `i`.
pub fn before_column(i: usize) -> String {
    format!("__before_{i}")
}

/// Rewrite a DML statement's input plan as described in the module docs.
/// `before_images` adds the old values to the top projection (UPDATE).
pub fn with_row_ids(input: LogicalPlan, target: &TieredTable, before_images: bool) -> Result<LogicalPlan> {
    let with_ids = Arc::new(target.with_row_ids());
    let mut scans = 0usize;
    let mut qualifier: Option<TableReference> = None;
    let rewritten = input
        .transform_up(|node| match node {
            LogicalPlan::TableScan(scan) if is_target(&scan, target) => {
                scans += 1;
                let new = TableScan::try_new(
                    scan.table_name.clone(),
                    provider_as_source(with_ids.clone()),
                    None,
                    scan.filters.clone(),
                    scan.fetch,
                )?;
                Ok(Transformed::yes(LogicalPlan::TableScan(new)))
            }
            LogicalPlan::Projection(projection) => {
                let input_schema = projection.input.schema().clone();
                let Ok((q, _)) = input_schema.qualified_field_with_unqualified_name(hidden::LSN) else {
                    return Ok(Transformed::no(LogicalPlan::Projection(projection)));
                };
                let q = q.cloned();
                qualifier = q.clone();
                let mut exprs = projection.expr.clone();
                for name in [hidden::LSN, hidden::SHARD, hidden::COMMIT_TS] {
                    let already = exprs.iter().any(|e| matches!(e, Expr::Column(c) if c.name == name));
                    if !already {
                        exprs.push(Expr::Column(Column::new(q.clone(), name)));
                    }
                }
                let new = Projection::try_new(exprs, projection.input.clone())?;
                Ok(Transformed::yes(LogicalPlan::Projection(new)))
            }
            other => Ok(Transformed::yes(other.recompute_schema()?)),
        })?
        .data;
    if scans != 1 {
        return Err(Error::not_supported(format!(
            "UPDATE/DELETE that reads its target table {scans} times in the main query is not supported; \
             use a subquery in WHERE instead"
        ))
        .with_context("table", target.name()));
    }
    if !before_images {
        return Ok(rewritten);
    }
    // The top node of an UPDATE input is the projection of new values.
    let LogicalPlan::Projection(top) = rewritten else {
        return Err(Error::internal("UPDATE input is not a projection"));
    };
    let mut exprs = top.expr.clone();
    for (i, field) in target.user_schema().fields().iter().enumerate() {
        exprs.push(Expr::Column(Column::new(qualifier.clone(), field.name())).alias(before_column(i)));
    }
    Ok(LogicalPlan::Projection(Projection::try_new(exprs, top.input.clone())?))
}

fn is_target(scan: &TableScan, target: &TieredTable) -> bool {
    source_as_provider(&scan.source)
        .ok()
        .and_then(|p| p.downcast_ref::<TieredTable>().map(|t| t.name() == target.name()))
        .unwrap_or(false)
}
