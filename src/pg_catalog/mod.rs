//! PostgreSQL's system catalogs (`pg_catalog`), emulated over the
//! warehouse, so that psql's `\d` commands and drivers' introspection
//! (pgjdbc's `DatabaseMetaData`, psycopg's `TypeInfo.fetch`, BI tools)
//! see the warehouse's schemas, tables, columns and keys.
//!
//! - [`directory`]: the warehouse as the catalogs describe it, with OIDs
//!   derived from names so they agree across tables, sessions and runs.
//! - [`tables`]: the `pg_catalog` schema, each table built when scanned.
//! - [`functions`]: `format_type`, `pg_get_indexdef`, `current_setting`, ...
//! - [`rewrite`]: the PostgreSQL syntax of catalog queries DataFusion cannot
//!   plan (`::regclass`, `OPERATOR(pg_catalog.~)`, `SET`/`SHOW`, ...).
//! - [`settings`]: the run-time settings SET and SHOW act on.
//!
//! What it guarantees: a column's type here is the type the wire protocol
//! reports for it ([`crate::sql::pg_types`]), refined by the spelling
//! CREATE TABLE kept (`jsonb`, `varchar`, `smallint`).

pub mod directory;
pub mod functions;
mod rewrite;
pub mod rows;
pub mod settings;
pub mod tables;

use std::sync::Arc;

use datafusion::execution::context::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;

use crate::error::Result;
use crate::warehouse::{CATALOG_NAME, WarehouseInner};

pub use directory::Directory;
pub use tables::PgCatalogSchema;

/// Register the `pg_catalog` schema, the catalog functions and the
/// settings store on a new session.
pub fn register(ctx: &SessionContext, warehouse: Arc<WarehouseInner>) {
    let cache = Arc::new(directory::DirectoryCache::default());
    ctx.state_ref()
        .write()
        .config_mut()
        .options_mut()
        .extensions
        .insert(settings::PgSettings::default());
    functions::register(ctx, cache.clone());
    if let Some(catalog) = ctx.catalog(CATALOG_NAME) {
        let schema = Arc::new(PgCatalogSchema::new(warehouse, cache));
        if let Err(e) = catalog.register_schema("pg_catalog", schema) {
            tracing::warn!("cannot register pg_catalog: {e}");
        }
    }
}

/// Rewrite what DataFusion cannot plan in clients' catalog queries
/// (`OPERATOR(pg_catalog.~)`, `::regclass`, ...) before planning.
pub fn rewrite(statement: &mut Statement) -> Result<()> {
    rewrite::rewrite(statement)
}
