//! A SQL session: our statements (DDL with partition specs, CHECKPOINT) run
//! here; everything else is planned and run by DataFusion over the
//! warehouse's tiered tables.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::prelude::SessionConfig;
use datafusion::sql::sqlparser::ast::{CreateTable, ObjectName, Statement};
use iceberg::{NamespaceIdent, TableCreation, TableIdent};

use crate::error::{Error, ErrorKind, Result};
use crate::hot::TableName;
use crate::sql::ddl::{columns_from_arrow, columns_from_create, table_definition};
use crate::sql::{Command, normalize_name};
use crate::table::{TieredTable, WarehouseCatalogProvider};
use crate::warehouse::{CATALOG_NAME, DEFAULT_NAMESPACE, WarehouseInner};
use crate::write::NoProgress;

/// The result of one statement.
#[derive(Debug, Clone)]
pub struct StatementOutput {
    /// PostgreSQL's command tag: `SELECT 3`, `INSERT 0 5`, `CREATE TABLE`.
    pub tag: String,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl StatementOutput {
    fn command(tag: impl Into<String>) -> Self {
        Self {
            tag: tag.into(),
            schema: Arc::new(Schema::empty()),
            batches: Vec::new(),
        }
    }

    pub fn row_count(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// Whether the statement returns rows (a query) rather than only a tag.
    pub fn has_rows(&self) -> bool {
        !self.schema.fields().is_empty()
    }
}

pub struct Session {
    warehouse: Arc<WarehouseInner>,
    ctx: SessionContext,
}

impl Session {
    pub(crate) fn new(warehouse: Arc<WarehouseInner>) -> Self {
        let mut config = SessionConfig::new()
            .with_default_catalog_and_schema(CATALOG_NAME, DEFAULT_NAMESPACE)
            .with_create_default_catalog_and_schema(false)
            .with_information_schema(true)
            .set_str("datafusion.sql_parser.dialect", "PostgreSQL")
            // Our tables' strings are Utf8 on both tiers: reading Parquet as
            // Utf8View would only add a cast.
            .set_bool("datafusion.execution.parquet.schema_force_view_types", false);
        if let Some(n) = warehouse.config.target_partitions {
            config = config.with_target_partitions(n);
        }
        let ctx = SessionContext::new_with_config(config);
        ctx.register_catalog(CATALOG_NAME, Arc::new(WarehouseCatalogProvider::new(warehouse.clone())));
        thermocline_udfs::register_functions(&ctx);
        Self { warehouse, ctx }
    }

    /// The DataFusion context, for registering more functions or tables.
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Run every statement in `sql`, in order; stops at the first error.
    pub async fn execute(&self, sql: &str) -> Result<Vec<StatementOutput>> {
        self.execute_with_params(sql, Vec::new()).await
    }

    /// Run `sql` with `$1, $2, ...` bound to `params`.
    pub async fn execute_with_params(&self, sql: &str, params: Vec<ScalarValue>) -> Result<Vec<StatementOutput>> {
        let commands = crate::sql::parse(sql)?;
        let mut outputs = Vec::with_capacity(commands.len());
        for command in commands {
            outputs.push(self.run(command, &params).await?);
        }
        Ok(outputs)
    }

    /// Run one query and return its rows (the last statement's, if several).
    pub async fn query(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let mut outputs = self.execute(sql).await?;
        Ok(outputs.pop().map(|o| o.batches).unwrap_or_default())
    }

    async fn run(&self, command: Command, params: &[ScalarValue]) -> Result<StatementOutput> {
        match command {
            Command::Checkpoint(target) => self.checkpoint(target).await,
            Command::CreateTable(create) => self.create_table(*create, params).await,
            Command::DropTable { names, if_exists } => self.drop_tables(&names, if_exists).await,
            Command::CreateSchema { name, if_not_exists } => self.create_schema(&name, if_not_exists).await,
            Command::Describe(name) => self.describe(&name).await,
            Command::DataFusion(statement) => self.run_datafusion(*statement, params).await,
        }
    }

    async fn run_datafusion(&self, statement: Statement, params: &[ScalarValue]) -> Result<StatementOutput> {
        // Errors of an INSERT (a value that does not cast, say) name the table.
        let target = match &statement {
            Statement::Insert(insert) => Some(insert.table.to_string()),
            _ => None,
        };
        self.plan_and_run(statement, params).await.map_err(|e| match target {
            Some(table) if !e.context().iter().any(|(k, _)| *k == "table") => e.with_context("table", table),
            _ => e,
        })
    }

    async fn plan_and_run(&self, mut statement: Statement, params: &[ScalarValue]) -> Result<StatementOutput> {
        if let Statement::Insert(insert) = &mut statement
            && crate::sql::bytea::has_hex_literal(insert)
        {
            self.decode_bytea_literals(insert).await?;
        }
        let is_insert = matches!(statement, Statement::Insert(_));
        let is_query = matches!(statement, Statement::Query(_));
        let state = self.ctx.state();
        let plan = state
            .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(statement)))
            .await?;
        let mut frame = self.ctx.execute_logical_plan(plan).await?;
        if !params.is_empty() {
            frame = frame.with_param_values(params.to_vec())?;
        }
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await?;
        if is_insert {
            let rows = count_of(&batches);
            return Ok(StatementOutput::command(format!("INSERT 0 {rows}")));
        }
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let tag = if is_query {
            format!("SELECT {rows}")
        } else {
            "OK".to_string()
        };
        Ok(StatementOutput { tag, schema, batches })
    }

    /// See [`crate::sql::bytea`].
    async fn decode_bytea_literals(&self, insert: &mut datafusion::sql::sqlparser::ast::Insert) -> Result<()> {
        let datafusion::sql::sqlparser::ast::TableObject::TableName(name) = &insert.table else {
            return Ok(());
        };
        // An unknown table is reported by the planner, with its own message.
        let Ok(provider) = self.ctx.table_provider(name.to_string()).await else {
            return Ok(());
        };
        let schema = provider.schema();
        let columns: Vec<String> = if insert.columns.is_empty() {
            schema.fields().iter().map(|f| f.name().clone()).collect()
        } else {
            insert
                .columns
                .iter()
                .map(|c| c.to_string().trim_matches('"').to_lowercase())
                .collect()
        };
        let is_bytea = |column: &str| {
            schema.field_with_name(column).is_ok_and(|f| {
                matches!(
                    f.data_type(),
                    DataType::Binary | DataType::LargeBinary | DataType::BinaryView
                )
            })
        };
        crate::sql::bytea::decode_hex_literals(insert, &columns, is_bytea)
    }

    async fn describe(&self, name: &ObjectName) -> Result<StatementOutput> {
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
        let out_schema = Arc::new(Schema::new(vec![
            Field::new("column_name", DataType::Utf8, false),
            Field::new("data_type", DataType::Utf8, false),
            Field::new("is_nullable", DataType::Utf8, false),
        ]));
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

    async fn create_schema(&self, name: &str, if_not_exists: bool) -> Result<StatementOutput> {
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
        Ok(StatementOutput::command("CREATE SCHEMA"))
    }

    async fn create_table(&self, create: CreateTable, params: &[ScalarValue]) -> Result<StatementOutput> {
        let table = resolve_table(&create.name)?;
        if create.or_replace {
            return Err(Error::not_supported("CREATE OR REPLACE TABLE is not supported").with_context("table", &table));
        }
        if create.temporary || create.external {
            return Err(
                Error::not_supported("TEMPORARY and EXTERNAL tables are not supported").with_context("table", &table)
            );
        }
        let namespace = NamespaceIdent::from_strs(table.namespace.split('.'))?;
        if !self.warehouse.catalog.namespace_exists(&namespace).await? {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("schema \"{}\" does not exist", table.namespace),
            ));
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
        let columns = match &query_plan {
            Some(plan) => columns_from_arrow(plan.schema().as_arrow())?,
            None => columns_from_create(&create)?,
        };
        let definition = table_definition(
            &table.to_string(),
            &columns,
            create.partition_by.as_deref(),
            &create.table_options,
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
        self.warehouse.hot.create_wal(&table)?;

        let Some(plan) = query_plan else {
            return Ok(StatementOutput::command("CREATE TABLE"));
        };
        let loaded = self.warehouse.load_table(&ident).await?;
        let provider = TieredTable::try_new(table.clone(), loaded.metadata(), self.warehouse.clone())?;
        let state = self.ctx.state();
        let input = state.create_physical_plan(&plan).await?;
        let insert =
            datafusion::datasource::TableProvider::insert_into(&provider, &state, input, InsertOp::Append).await?;
        let batches = datafusion::physical_plan::collect(insert, self.ctx.task_ctx()).await?;
        Ok(StatementOutput::command(format!("SELECT {}", count_of(&batches))))
    }

    async fn drop_tables(&self, names: &[ObjectName], if_exists: bool) -> Result<StatementOutput> {
        for name in names {
            let table = resolve_table(name)?;
            let ident = TableIdent::from_strs([table.namespace.as_str(), table.name.as_str()])?;
            if !self.warehouse.catalog.table_exists(&ident).await? {
                if if_exists {
                    continue;
                }
                return Err(
                    Error::new(ErrorKind::NotFound, format!("table \"{}\" does not exist", table.name))
                        .with_context("table", &table),
                );
            }
            // Take the compaction lock so no compaction commits into a table
            // that is going away.
            let lock = self.warehouse.compaction_lock(&table);
            let _guard = lock.lock().await;
            self.warehouse
                .catalog
                .purge_table(&ident)
                .await
                .map_err(|e| Error::from(e).with_context("table", &table))?;
            self.warehouse.hot.drop_wal(&table)?;
        }
        Ok(StatementOutput::command("DROP TABLE"))
    }

    async fn checkpoint(&self, target: Option<ObjectName>) -> Result<StatementOutput> {
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

/// `t` → public.t, `s.t` → s.t.
fn resolve_table(name: &ObjectName) -> Result<TableName> {
    let parts = normalize_name(name)?;
    match parts.as_slice() {
        [table] => Ok(TableName::new(DEFAULT_NAMESPACE, table.clone())),
        [schema, table] => Ok(TableName::new(schema.clone(), table.clone())),
        [catalog, schema, table] if catalog == CATALOG_NAME => Ok(TableName::new(schema.clone(), table.clone())),
        _ => Err(Error::plan(format!(
            "improper qualified name (too many dotted names): {name}"
        ))),
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
