//! DDL the session runs itself: CREATE/DROP TABLE and SCHEMA (with their
//! undo inside transactions, see [`crate::transaction`]), DESCRIBE and
//! CHECKPOINT. ALTER TABLE is in [`super::alter`].

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::sql::sqlparser::ast::{CreateTable, ObjectName, Statement};
use iceberg::{NamespaceIdent, TableCreation, TableIdent};

use super::{Session, StatementOutput, resolve_table};
use crate::error::{Error, ErrorKind, Result};
use crate::hot::TableName;
use crate::sql::ddl::{columns_from_arrow, columns_from_create, table_definition};
use crate::table::TieredTable;
use crate::transaction::{DdlUndo, purge_table};
use crate::write::NoProgress;

impl Session {
    pub(super) async fn describe_table(&self, name: &ObjectName) -> Result<StatementOutput> {
        let table = resolve_table(name)?;
        let ident = TableIdent::from_strs([table.namespace.as_str(), table.name.as_str()])?;
        let loaded = self.warehouse.load_table(&ident).await?;
        let schema = loaded.metadata().current_schema();
        let (mut names, mut types, mut nullable) = (Vec::new(), Vec::new(), Vec::new());
        for field in schema.as_struct().fields() {
            if crate::table::hidden::is_hidden(&field.name) {
                continue;
            }
            names.push(field.name.clone());
            // CREATE TABLE keeps the PostgreSQL spelling in the field doc;
            // tables made by other engines show the Iceberg type.
            types.push(field.doc.clone().unwrap_or_else(|| field.field_type.to_string()));
            nullable.push(if field.required { "NO" } else { "YES" });
        }
        let out_schema = Arc::new(describe_schema());
        let batch = RecordBatch::try_new(
            out_schema.clone(),
            vec![
                Arc::new(StringArray::from(names)),
                Arc::new(StringArray::from(types)),
                Arc::new(StringArray::from(nullable)),
            ],
        )?;
        Ok(StatementOutput {
            tag: format!("SELECT {}", batch.num_rows()),
            schema: out_schema,
            batches: vec![batch],
        })
    }

    pub(super) async fn create_schema(&self, name: &str, if_not_exists: bool) -> Result<StatementOutput> {
        let ident = NamespaceIdent::from_strs(name.split('.'))?;
        if self.warehouse.catalog.namespace_exists(&ident).await? {
            if if_not_exists {
                return Ok(StatementOutput::command("CREATE SCHEMA"));
            }
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("schema \"{name}\" already exists"),
            ));
        }
        self.warehouse
            .catalog
            .create_namespace(&ident, Default::default())
            .await?;
        self.txn.record_ddl(DdlUndo::DropCreatedSchema(name.to_string()));
        Ok(StatementOutput::command("CREATE SCHEMA"))
    }

    pub(super) async fn create_table(&self, create: CreateTable, params: &[ScalarValue]) -> Result<StatementOutput> {
        let table = resolve_table(&create.name)?;
        if create.or_replace {
            return Err(Error::not_supported("CREATE OR REPLACE TABLE is not supported").with_context("table", &table));
        }
        if create.temporary || create.external {
            return Err(
                Error::not_supported("TEMPORARY and EXTERNAL tables are not supported").with_context("table", &table)
            );
        }
        if crate::history::log::is_log_name(&table.name) {
            return Err(Error::plan(format!(
                "table names ending in \"{}\" are reserved for change logs",
                crate::history::log::SUFFIX
            ))
            .with_context("table", &table));
        }
        let namespace = NamespaceIdent::from_strs(table.namespace.split('.'))?;
        if !self.warehouse.catalog.namespace_exists(&namespace).await? {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("schema \"{}\" does not exist", table.namespace),
            ));
        }
        if self.txn.is_drop_pending(&table) {
            return Err(Error::not_supported(format!(
                "cannot create table \"{}\" again in the transaction that dropped it: DROP TABLE takes effect at COMMIT",
                table.name
            ))
            .with_context("table", &table));
        }
        // In a transaction, no other writer may commit rows into the new
        // table before it commits: ROLLBACK drops it.
        if self.txn.is_explicit() {
            self.txn.acquire(&self.warehouse).await?;
        }
        let ident = TableIdent::new(namespace.clone(), table.name.clone());
        if self.warehouse.catalog.table_exists(&ident).await? {
            if create.if_not_exists {
                return Ok(StatementOutput::command("CREATE TABLE"));
            }
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("relation \"{}\" already exists", table.name),
            )
            .with_context("table", &table));
        }

        // CREATE TABLE AS: the query decides the columns.
        let query_plan = match &create.query {
            Some(query) => {
                if !create.columns.is_empty() {
                    return Err(
                        Error::not_supported("CREATE TABLE AS with a column list is not supported")
                            .with_context("table", &table),
                    );
                }
                let state = self.ctx.state();
                let plan = state
                    .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(
                        Statement::Query(query.clone()),
                    )))
                    .await?;
                let plan = if params.is_empty() {
                    plan
                } else {
                    plan.with_param_values(params.to_vec())?
                };
                Some(plan)
            }
            None => None,
        };
        let (columns, constraints) = match &query_plan {
            Some(plan) => (columns_from_arrow(plan.schema().as_arrow())?, Vec::new()),
            None => columns_from_create(&create, &table.name)?,
        };
        let definition = table_definition(
            &table.to_string(),
            &columns,
            &constraints,
            create.partition_by.as_deref(),
            &create.table_options,
            self.warehouse.config.sharding.as_ref(),
        )?;
        let creation = TableCreation::builder()
            .name(table.name.clone())
            .schema(definition.schema)
            .partition_spec(definition.partition_spec)
            .properties(definition.properties)
            .build();
        match self.warehouse.catalog.create_table(&namespace, creation).await {
            Ok(_) => {}
            Err(e) if e.kind() == iceberg::ErrorKind::TableAlreadyExists && create.if_not_exists => {
                return Ok(StatementOutput::command("CREATE TABLE"));
            }
            Err(e) => return Err(Error::from(e).with_context("table", &table)),
        }
        // Logged before anything else can fail: an error from here on (the
        // WAL, a CTAS's query) drops the table again.
        self.txn.record_ddl(DdlUndo::DropCreatedTable(table.clone()));
        self.warehouse.hot.create_wal(&table)?;

        let Some(plan) = query_plan else {
            return Ok(StatementOutput::command("CREATE TABLE"));
        };
        let loaded = self.warehouse.load_table(&ident).await?;
        let provider = TieredTable::try_new(
            table.clone(),
            loaded.metadata(),
            self.warehouse.clone(),
            self.txn.clone(),
        )?;
        let state = self.ctx.state();
        let input = state.create_physical_plan(&plan).await?;
        let insert =
            datafusion::datasource::TableProvider::insert_into(&provider, &state, input, InsertOp::Append).await?;
        let batches = datafusion::physical_plan::collect(insert, self.ctx.task_ctx()).await?;
        Ok(StatementOutput::command(format!("SELECT {}", count_of(&batches))))
    }

    /// DROP TABLE. Outside a transaction the tables go at once; inside one
    /// the drop is deferred to COMMIT (ROLLBACK keeps them), because a drop
    /// deletes files and cannot be undone. Until COMMIT this session (and
    /// every other) still sees the table; a second DROP of it in the same
    /// transaction finds it gone, and CREATE TABLE of its name is refused.
    pub(super) async fn drop_tables(&self, names: &[ObjectName], if_exists: bool) -> Result<StatementOutput> {
        // Every name is checked before anything is dropped.
        let mut tables: Vec<TableName> = Vec::new();
        for name in names {
            let table = resolve_table(name)?;
            let ident = TableIdent::from_strs([table.namespace.as_str(), table.name.as_str()])?;
            let exists = !tables.contains(&table)
                && !self.txn.is_drop_pending(&table)
                && self.warehouse.catalog.table_exists(&ident).await?;
            if !exists {
                if if_exists {
                    continue;
                }
                return Err(
                    Error::new(ErrorKind::NotFound, format!("table \"{}\" does not exist", table.name))
                        .with_context("table", &table),
                );
            }
            tables.push(table);
        }
        if self.txn.is_explicit() {
            // Nobody else writes the shard until the drop is done.
            self.txn.acquire(&self.warehouse).await?;
            for table in tables {
                self.txn.defer_drop(table);
            }
        } else {
            for table in &tables {
                purge_table(&self.warehouse, table).await?;
            }
        }
        Ok(StatementOutput::command("DROP TABLE"))
    }

    pub(super) async fn checkpoint(&self, target: Option<ObjectName>) -> Result<StatementOutput> {
        let table = target.as_ref().map(resolve_table).transpose()?;
        if let Some(t) = &table {
            let ident = TableIdent::from_strs([t.namespace.as_str(), t.name.as_str()])?;
            // Fails with "does not exist" for an unknown table.
            self.warehouse.load_table(&ident).await?;
        }
        let reports = self.warehouse.compact(table.as_ref(), &NoProgress).await?;
        let schema = Arc::new(Schema::new(vec![
            Field::new("table", DataType::Utf8, false),
            Field::new("rows", DataType::UInt64, false),
            Field::new("files", DataType::UInt64, false),
            Field::new("snapshot_id", DataType::Int64, true),
            Field::new("watermark", DataType::Int64, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(reports.iter().map(|r| r.table.clone()))),
            Arc::new(UInt64Array::from_iter_values(reports.iter().map(|r| r.rows))),
            Arc::new(UInt64Array::from_iter_values(reports.iter().map(|r| r.files as u64))),
            Arc::new(Int64Array::from_iter(reports.iter().map(|r| r.snapshot_id))),
            Arc::new(Int64Array::from_iter_values(reports.iter().map(|r| r.watermark))),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        Ok(StatementOutput {
            tag: "CHECKPOINT".to_string(),
            schema,
            batches: vec![batch],
        })
    }
}

fn count_of(batches: &[RecordBatch]) -> u64 {
    batches
        .iter()
        .filter_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<UInt64Array>()
                .map(|a| a.iter().flatten().sum::<u64>())
        })
        .sum()
}

/// The columns DESCRIBE returns.
pub(super) fn describe_schema() -> Schema {
    Schema::new(vec![
        Field::new("column_name", DataType::Utf8, false),
        Field::new("data_type", DataType::Utf8, false),
        Field::new("is_nullable", DataType::Utf8, false),
    ])
}
