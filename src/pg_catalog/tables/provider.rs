//! The `pg_catalog` schema as DataFusion sees it: a [`SchemaProvider`] that
//! finds each table by name in [`TABLES`], and a [`TableProvider`] that
//! builds the table's rows when it is scanned. Only the tables that
//! describe the warehouse read it (and refresh the [`DirectoryCache`] the
//! catalog functions use); the others are built from nothing.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, Session};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::{Source, TABLES, TableDef, is_catalog_table};
use crate::pg_catalog::directory::{Directory, DirectoryCache};
use crate::pg_catalog::rows::{batch, schema};
use crate::pg_catalog::settings;
use crate::warehouse::WarehouseInner;

/// The `pg_catalog` schema.
#[derive(Debug)]
pub struct PgCatalogSchema {
    warehouse: Arc<WarehouseInner>,
    cache: Arc<DirectoryCache>,
}

impl PgCatalogSchema {
    pub fn new(warehouse: Arc<WarehouseInner>, cache: Arc<DirectoryCache>) -> Self {
        Self { warehouse, cache }
    }
}

/// The tables whose rows come from the warehouse's catalog; the others
/// are fixed, and their scans read nothing.
const READS_WAREHOUSE: &[&str] = &[
    "pg_namespace",
    "pg_class",
    "pg_attribute",
    "pg_index",
    "pg_constraint",
    "pg_tables",
    "pg_indexes",
];

#[async_trait]
impl SchemaProvider for PgCatalogSchema {
    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|t| t.name.to_string()).collect()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        Ok(TABLES.iter().find(|t| t.name == name).map(|def| {
            Arc::new(PgCatalogTable {
                def,
                warehouse: self.warehouse.clone(),
                cache: self.cache.clone(),
            }) as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        is_catalog_table(name)
    }
}

/// One `pg_catalog` table; its rows are built at scan time.
pub struct PgCatalogTable {
    def: &'static TableDef,
    warehouse: Arc<WarehouseInner>,
    cache: Arc<DirectoryCache>,
}

impl std::fmt::Debug for PgCatalogTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgCatalogTable({})", self.def.name)
    }
}

#[async_trait]
impl TableProvider for PgCatalogTable {
    fn schema(&self) -> arrow::datatypes::SchemaRef {
        schema(self.def.columns)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let directory = if READS_WAREHOUSE.contains(&self.def.name) {
            let directory = Arc::new(Directory::read(&self.warehouse).await?);
            self.cache.store(directory.clone());
            directory
        } else {
            Arc::new(Directory::default())
        };
        let source = Source {
            directory: &directory,
            settings: settings::all(state.config_options()),
        };
        let rows = (self.def.rows)(&source);
        let batch = batch(self.def.columns, &rows)?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.schema(),
            projection.cloned(),
        )?)
    }
}
