//! PostgreSQL's system catalogs (`pg_catalog`), emulated over the
//! warehouse, for psql's `\d` commands and drivers' introspection. (Being
//! written.)

use std::sync::Arc;

use datafusion::execution::context::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;

use crate::error::Result;
use crate::warehouse::WarehouseInner;

/// Register the catalog's functions (`pg_table_is_visible`, `format_type`, ...)
/// on a new session.
pub fn register(_ctx: &SessionContext, _warehouse: Arc<WarehouseInner>) {}

/// Rewrite what DataFusion cannot plan in clients' catalog queries
/// (`OPERATOR(pg_catalog.~)`, `::regclass`, ...) before planning.
pub fn rewrite(_statement: &mut Statement) -> Result<()> {
    Ok(())
}
