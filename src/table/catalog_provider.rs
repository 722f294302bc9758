//! Makes the warehouse's Iceberg namespaces and tables visible to
//! DataFusion: SQL schemas are Iceberg namespaces, tables are
//! [`TieredTable`]s.
//!
//! DataFusion asks for schema and table *names* synchronously; the catalog
//! answers those from its SQLite file without waiting on any I/O reactor,
//! so blocking on it here is safe.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, SchemaProvider};
use datafusion::datasource::TableProvider;
use datafusion::error::Result as DfResult;
use iceberg::{NamespaceIdent, TableIdent};

use super::TieredTable;
use crate::error::{Error, ErrorKind};
use crate::hot::TableName;
use crate::transaction::TransactionState;
use crate::warehouse::WarehouseInner;

#[derive(Debug)]
pub struct WarehouseCatalogProvider {
    warehouse: Arc<WarehouseInner>,
    /// The session's transaction, handed to every table it resolves.
    txn: Arc<TransactionState>,
    /// PostgreSQL's system catalogs ([`crate::pg_catalog`]), registered
    /// once by the session; not an Iceberg namespace.
    pg_catalog: OnceLock<Arc<dyn SchemaProvider>>,
}

/// The schema name of the system catalogs.
const PG_CATALOG: &str = "pg_catalog";

impl WarehouseCatalogProvider {
    pub fn new(warehouse: Arc<WarehouseInner>, txn: Arc<TransactionState>) -> Self {
        Self {
            warehouse,
            txn,
            pg_catalog: OnceLock::new(),
        }
    }
}

impl CatalogProvider for WarehouseCatalogProvider {
    fn schema_names(&self) -> Vec<String> {
        let catalog = self.warehouse.catalog.clone();
        let mut names: Vec<String> = match futures::executor::block_on(catalog.list_namespaces(None)) {
            Ok(namespaces) => namespaces.iter().map(|n| n.join(".")).collect(),
            Err(e) => {
                tracing::warn!("cannot list namespaces: {e}");
                Vec::new()
            }
        };
        if self.pg_catalog.get().is_some() {
            names.push(PG_CATALOG.to_string());
        }
        names
    }

    /// Only `pg_catalog` can be registered: user schemas are Iceberg
    /// namespaces, made with CREATE SCHEMA.
    fn register_schema(
        &self,
        name: &str,
        schema: Arc<dyn SchemaProvider>,
    ) -> DfResult<Option<Arc<dyn SchemaProvider>>> {
        if name != PG_CATALOG {
            return Err(Error::new(
                ErrorKind::NotSupported,
                format!("cannot register schema \"{name}\" here: use CREATE SCHEMA"),
            )
            .into());
        }
        let previous = self.pg_catalog.get().cloned();
        let _ = self.pg_catalog.set(schema);
        Ok(previous)
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if name == PG_CATALOG {
            return self.pg_catalog.get().cloned();
        }
        let namespace = NamespaceIdent::from_strs(name.split('.')).ok()?;
        let exists = futures::executor::block_on(self.warehouse.catalog.namespace_exists(&namespace)).unwrap_or(false);
        exists.then(|| {
            Arc::new(WarehouseSchemaProvider {
                namespace: name.to_string(),
                ident: namespace,
                warehouse: self.warehouse.clone(),
                txn: self.txn.clone(),
            }) as Arc<dyn SchemaProvider>
        })
    }
}

#[derive(Debug)]
pub struct WarehouseSchemaProvider {
    namespace: String,
    ident: NamespaceIdent,
    warehouse: Arc<WarehouseInner>,
    txn: Arc<TransactionState>,
}

#[async_trait]
impl SchemaProvider for WarehouseSchemaProvider {
    fn table_names(&self) -> Vec<String> {
        match futures::executor::block_on(self.warehouse.catalog.list_tables(&self.ident)) {
            // Change logs (`t$changes`) are readable by name but not listed.
            Ok(tables) => tables
                .into_iter()
                .map(|t| t.name)
                .filter(|n| !crate::history::log::is_log_name(n))
                .collect(),
            Err(e) => {
                tracing::warn!("cannot list tables of {}: {e}", self.namespace);
                Vec::new()
            }
        }
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let ident = TableIdent::new(self.ident.clone(), name.to_string());
        let table = match self.warehouse.load_table(&ident).await {
            Ok(table) => table,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let provider = TieredTable::try_new(
            TableName::new(&self.namespace, name),
            table.metadata(),
            self.warehouse.clone(),
            self.txn.clone(),
        )?;
        Ok(Some(Arc::new(provider)))
    }

    fn table_exist(&self, name: &str) -> bool {
        let ident = TableIdent::new(self.ident.clone(), name.to_string());
        futures::executor::block_on(self.warehouse.catalog.table_exists(&ident)).unwrap_or(false)
    }

    fn register_table(&self, name: String, _table: Arc<dyn TableProvider>) -> DfResult<Option<Arc<dyn TableProvider>>> {
        Err(Error::new(
            ErrorKind::NotSupported,
            format!("cannot register \"{name}\" here: use CREATE TABLE"),
        )
        .into())
    }
}
