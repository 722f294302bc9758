//! `FOR SYSTEM_TIME AS OF / BETWEEN / FROM ... TO / ALL` and
//! `FOR VERSION AS OF <snapshot id>`: a table as it was.
//!
//! Times are commit times: `AS OF t` is the table with exactly the commits
//! made at or before `t`, hot or compacted (see [`super::versions`]). The
//! ranges return every version live at some instant of the period, with its
//! `_valid_from` and `_valid_to` (SQL:2011's system-versioned tables):
//! `BETWEEN a AND b` includes versions that began at `b`, `FROM a TO b`
//! does not. `VERSION AS OF` reads one Iceberg snapshot, the cold tier as
//! that commit left it.

use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session as DfSession;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, ScalarValue};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, TableProviderFilterPushDown, ident, lit};
use datafusion::physical_plan::ExecutionPlan;
use iceberg::TableIdent;

use super::versions::{VALID_FROM, VALID_TO, Versions, version_fields};
use crate::error::Result;
use crate::hot::{HotSnapshot, TableName};
use crate::table::TieredTable;
use crate::table::provider::PinnedCut;
use crate::transaction::TransactionState;
use crate::warehouse::WarehouseInner;

/// Which part of a table's history to read. Times are µs since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    AsOf(i64),
    /// `BETWEEN a AND b`: versions live at some instant in `[a, b]`.
    Between(i64, i64),
    /// `FROM a TO b`: versions live at some instant in `[a, b)`.
    FromTo(i64, i64),
    All,
    /// An Iceberg snapshot id.
    Snapshot(i64),
}

impl Period {
    /// Whether rows carry `_valid_from` and `_valid_to`.
    fn shows_validity(self) -> bool {
        matches!(self, Period::Between(..) | Period::FromTo(..) | Period::All)
    }

    /// The versions live at some instant of the period.
    fn filter(self) -> Option<Expr> {
        let ts = |micros: i64| lit(ScalarValue::TimestampMicrosecond(Some(micros), Some("+00:00".into())));
        let began = |e: Expr| ident(VALID_FROM).is_null().or(e);
        let ended_after = |t: i64| ident(VALID_TO).is_null().or(ident(VALID_TO).gt(ts(t)));
        match self {
            Period::AsOf(t) => Some(began(ident(VALID_FROM).lt_eq(ts(t))).and(ended_after(t))),
            Period::Between(a, b) => Some(began(ident(VALID_FROM).lt_eq(ts(b))).and(ended_after(a))),
            Period::FromTo(a, b) => Some(began(ident(VALID_FROM).lt(ts(b))).and(ended_after(a))),
            Period::All | Period::Snapshot(_) => None,
        }
    }
}

/// A table read at a [`Period`] of its history.
#[derive(Debug)]
pub struct HistoryTable {
    warehouse: Arc<WarehouseInner>,
    table: TieredTable,
    period: Period,
    schema: SchemaRef,
}

impl HistoryTable {
    pub async fn try_new(warehouse: Arc<WarehouseInner>, name: TableName, period: Period) -> Result<Self> {
        let ident = TableIdent::from_strs([name.namespace.as_str(), name.name.as_str()])?;
        let loaded = warehouse.load_table(&ident).await?;
        let table = TieredTable::try_new(name, loaded.metadata(), warehouse.clone(), TransactionState::new())?;
        let mut fields: Vec<Field> = table
            .user_schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        if period.shows_validity() {
            fields.extend(
                version_fields()
                    .into_iter()
                    .filter(|f| f.name() == VALID_FROM || f.name() == VALID_TO),
            );
        }
        Ok(Self {
            warehouse,
            table,
            period,
            schema: Arc::new(Schema::new(fields)),
        })
    }
}

/// Filters from DataFusion name columns by the query's qualifier; the plan
/// below has its own.
fn unqualified(expr: Expr) -> Expr {
    expr.transform(|e| match e {
        Expr::Column(c) if c.relation.is_some() => Ok(Transformed::yes(Expr::Column(Column::new_unqualified(c.name)))),
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
    .unwrap_or_else(|e| Expr::Literal(ScalarValue::Utf8(Some(e.to_string())), None))
}

#[async_trait]
impl TableProvider for HistoryTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn DfSession,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if let Period::Snapshot(id) = self.period {
            let ident = TableIdent::from_strs([self.table.name().namespace.as_str(), self.table.name().name.as_str()])
                .map_err(crate::error::Error::from)?;
            let loaded = self.warehouse.load_table(&ident).await?;
            let cut = Arc::new(PinnedCut {
                hot: HotSnapshot::default(),
                table: loaded,
                snapshot_id: Some(id),
            });
            return self.table.pinned(cut).scan(state, projection, filters, limit).await;
        }
        let versions = Versions::read(&self.warehouse, self.table.name()).await?;
        let mut builder = LogicalPlanBuilder::from(versions.plan);
        if let Some(period) = self.period.filter() {
            builder = builder.filter(period)?;
        }
        if let Some(filter) = conjunction(filters.iter().cloned().map(unqualified)) {
            builder = builder.filter(filter)?;
        }
        let columns: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        builder = builder.project(columns.iter().map(|i| ident(self.schema.field(*i).name())))?;
        if let Some(n) = limit {
            builder = builder.limit(0, Some(n))?;
        }
        state.create_physical_plan(&builder.build()?).await
    }
}
