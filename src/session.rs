//! A SQL session: our statements (DDL with partition specs, CHECKPOINT) run
//! here; everything else is planned and run by DataFusion over the
//! warehouse's tiered tables.

mod alter;
mod ddl;
#[cfg(test)]
mod ddl_undo_tests;
mod describe;
mod history;

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionConfig;
use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, FromTable, Insert, ObjectName, OnInsert, SelectItem, Statement, TableFactor, TableObject,
    UpdateTableFromKind,
};
use iceberg::TableIdent;

pub use self::describe::Description;
use crate::dml;
use crate::error::{Error, ErrorKind, Result};
use crate::hot::TableName;
use crate::sql::{Command, normalize_name};
use crate::table::{TieredTable, WarehouseCatalogProvider};
use crate::transaction::{TransactionState, TransactionStatus};
use crate::warehouse::{CATALOG_NAME, DEFAULT_NAMESPACE, WarehouseInner};

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
    /// BEGIN/COMMIT/ROLLBACK state; its staged writes are visible to this
    /// session's queries only.
    txn: Arc<TransactionState>,
    /// `t FOR SYSTEM_TIME ...` tables of the running statement.
    history: Arc<history::HistoryTables>,
    /// Numbers the history tables each statement registers.
    history_counter: std::sync::atomic::AtomicU64,
}

impl Drop for Session {
    /// A session that goes away mid-transaction (a dropped client) rolls
    /// back: nothing it staged was ever acknowledged, and its DDL is undone
    /// (see `TransactionState::abandon`).
    fn drop(&mut self) {
        self.txn.abandon(&self.warehouse);
    }
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
        let ctx = SessionContext::new_with_config_rt(config, warehouse.runtime_env.clone());
        let txn = TransactionState::new();
        ctx.register_catalog(
            CATALOG_NAME,
            Arc::new(WarehouseCatalogProvider::new(warehouse.clone(), txn.clone())),
        );
        // Quoted locations no table has are read as files (url_table).
        let catalogs = Arc::new(datafusion::catalog::DynamicFileCatalog::new(
            ctx.state().catalog_list().clone(),
            Arc::new(crate::url_table::UrlTables::new(warehouse.clone())),
        ));
        let session_id = ctx.session_id();
        let ctx: SessionContext = ctx
            .into_state_builder()
            .with_session_id(session_id)
            .with_catalog_list(catalogs)
            // Last, after DataFusion's rules: moves work into remote shards.
            .with_physical_optimizer_rule(Arc::new(crate::shard::pushdown::ShardPushdown))
            .build()
            .into();
        thermocline_udfs::register_functions(&ctx);
        crate::history::snapshots::register(&ctx, warehouse.clone());
        ctx.register_udtf(
            "thermocline_changes",
            Arc::new(crate::history::cdc::ChangesFunction::new(warehouse.clone())),
        );
        crate::pg_catalog::register(&ctx, warehouse.clone());
        let history = history::HistoryTables::register(&ctx);
        Self {
            warehouse,
            ctx,
            txn,
            history,
            history_counter: Default::default(),
        }
    }

    /// Whether the session is idle, in a transaction, or in a failed one
    /// (what the wire protocol's ReadyForQuery reports).
    pub fn transaction_status(&self) -> TransactionStatus {
        self.txn.status()
    }

    /// Mark the open transaction failed (a COPY whose data was refused):
    /// only ROLLBACK ends it.
    pub fn fail_transaction(&self) {
        if self.txn.is_explicit() {
            self.txn.fail();
        }
    }

    /// Warnings raised since the last call (a partial answer's missing
    /// shards), for the client: the CLI prints them, the wire server sends
    /// them as notices, the HTTP API returns them with the result.
    pub fn take_warnings(&self) -> Vec<String> {
        self.txn.take_warnings()
    }

    /// How far the running statement has read the cold tier (the CLI's
    /// progress bar); reset at the start of each statement by the caller.
    pub fn scan_progress(&self) -> &Arc<crate::table::scan_progress::ScanProgress> {
        self.txn.scan_progress()
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

    /// The columns of table `name` (for `COPY name FROM STDIN`).
    pub async fn table_schema(&self, name: &ObjectName) -> Result<SchemaRef> {
        Ok(self.target_table(name).await?.user_schema().clone())
    }

    /// `COPY name FROM STDIN`: insert `rows` (all of the table's columns,
    /// in order) as one statement, with the same checks, transaction and
    /// acknowledgement as INSERT. Returns the number of rows.
    pub async fn copy_in(&self, name: &ObjectName, rows: RecordBatch) -> Result<u64> {
        if self.txn.status() == TransactionStatus::Failed {
            return Err(TransactionState::aborted_error());
        }
        let mut cancelled = CancelGuard {
            session: self,
            armed: true,
        };
        let result = async {
            let target = self.target_table(name).await?;
            // A sharded table's insert locks the shards its rows go to.
            if target.sharding().is_none() {
                self.txn.acquire(&self.warehouse).await?;
            }
            let state = self.ctx.state();
            Ok(dml::insert(&state, &target, rows, None, &[]).await?.count)
        }
        .await
        .map_err(|e: Error| with_table(e, name.to_string()));
        cancelled.armed = false;
        self.finish_statement(result).await
    }

    /// End a statement: on its own it commits (or rolls back on error);
    /// inside BEGIN an error fails the transaction.
    async fn finish_statement<T>(&self, result: Result<T>) -> Result<T> {
        if self.txn.is_explicit() {
            if result.is_err() {
                self.txn.fail();
            }
            return result;
        }
        match &result {
            Ok(_) => {
                self.txn.commit(&self.warehouse).await?;
            }
            Err(_) => {
                if let Err(undo) = self.txn.rollback(&self.warehouse).await {
                    return result.map_err(|e| e.with_context("rollback", undo));
                }
            }
        }
        result
    }

    /// Run one statement inside the session's transaction: an explicit one
    /// (BEGIN ... COMMIT) or, outside it, one of its own that commits when
    /// the statement succeeds and rolls back when it fails.
    async fn run(&self, command: Command, params: &[ScalarValue]) -> Result<StatementOutput> {
        match command {
            Command::Begin => {
                if !self.txn.begin() {
                    tracing::warn!("there is already a transaction in progress");
                }
                return Ok(StatementOutput::command("BEGIN"));
            }
            Command::Commit => {
                if !self.txn.is_explicit() {
                    tracing::warn!("there is no transaction in progress");
                }
                let committed = self.txn.commit(&self.warehouse).await?;
                return Ok(StatementOutput::command(if committed { "COMMIT" } else { "ROLLBACK" }));
            }
            Command::Rollback => {
                self.txn.rollback(&self.warehouse).await?;
                return Ok(StatementOutput::command("ROLLBACK"));
            }
            Command::Savepoint(name) => {
                self.txn.savepoint(&name)?;
                return Ok(StatementOutput::command("SAVEPOINT"));
            }
            Command::Release(name) => {
                self.txn.release(&name)?;
                return Ok(StatementOutput::command("RELEASE"));
            }
            Command::RollbackTo(name) => {
                self.txn.rollback_to(&self.warehouse, &name).await?;
                return Ok(StatementOutput::command("ROLLBACK"));
            }
            _ => {}
        }
        if self.txn.status() == TransactionStatus::Failed {
            return Err(TransactionState::aborted_error());
        }
        // A statement cancelled mid-way (its future dropped: a client's
        // cancel request, a statement timeout) must leave nothing staged
        // for the next statement to commit.
        let mut cancelled = CancelGuard {
            session: self,
            armed: true,
        };
        let result = self.run_statement(command, params).await;
        cancelled.armed = false;
        // A statement that failed half-way (a CTAS whose SELECT failed
        // after the table was made) leaves nothing behind.
        self.finish_statement(result).await
    }

    async fn run_statement(&self, mut command: Command, params: &[ScalarValue]) -> Result<StatementOutput> {
        // `t FOR SYSTEM_TIME ...` becomes a table registered until the
        // statement ends.
        bind_table_function_args(&mut command, params);
        let _history = self.resolve_command_history(&mut command, params).await?;
        if let Some(tag) = command.write_tag() {
            self.warehouse.check_writable(tag)?;
        }
        match command {
            Command::Begin
            | Command::Commit
            | Command::Rollback
            | Command::Savepoint(_)
            | Command::Release(_)
            | Command::RollbackTo(_) => Err(Error::internal("transaction control")),
            Command::Insert(insert) => {
                let target = insert.table.to_string();
                self.insert(*insert, params).await.map_err(|e| with_table(e, target))
            }
            Command::Update(statement) | Command::Delete(statement) => self.update_or_delete(*statement, params).await,
            Command::Checkpoint(target) => self.checkpoint(target).await,
            Command::CreateTable(create) => self.create_table(*create, params).await,
            Command::AlterTable(alter) => self.alter_table(*alter).await,
            Command::DropTable { names, if_exists } => self.drop_tables(&names, if_exists).await,
            Command::CreateSchema { name, if_not_exists } => self.create_schema(&name, if_not_exists).await,
            Command::Describe(name) => self.describe_table(&name).await,
            Command::DataFusion(statement) => self.run_datafusion(*statement, params).await,
        }
    }

    async fn run_datafusion(&self, mut statement: Statement, params: &[ScalarValue]) -> Result<StatementOutput> {
        crate::pg_catalog::rewrite(&mut statement)?;
        let is_query = matches!(statement, Statement::Query(_));
        // PostgreSQL's command tag for statements without rows.
        let command_tag = match &statement {
            Statement::Set(_) => "SET",
            Statement::CreateView { .. } => "CREATE VIEW",
            Statement::Drop { .. } => "DROP",
            _ => "OK",
        };
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
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let tag = if is_query {
            format!("SELECT {rows}")
        } else {
            command_tag.to_string()
        };
        Ok(StatementOutput { tag, schema, batches })
    }

    /// The table a DML statement writes, seen through this session's
    /// transaction.
    async fn target_table(&self, name: &ObjectName) -> Result<TieredTable> {
        let table = resolve_table(name)?;
        let ident = TableIdent::from_strs([table.namespace.as_str(), table.name.as_str()])?;
        let loaded = self.warehouse.load_table(&ident).await?;
        TieredTable::try_new(table, loaded.metadata(), self.warehouse.clone(), self.txn.clone())
    }

    /// The input of a DML statement's plan: the rows it writes (INSERT) or
    /// the rows it changes (UPDATE, DELETE).
    async fn dml_input(&self, statement: Statement) -> Result<LogicalPlan> {
        let plan = self
            .ctx
            .state()
            .statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(statement)))
            .await?;
        match plan {
            LogicalPlan::Dml(dml) => Ok(Arc::unwrap_or_clone(dml.input)),
            other => Err(Error::internal(format!("expected a DML plan, got {}", other.display()))),
        }
    }

    async fn collect(&self, plan: LogicalPlan, params: &[ScalarValue]) -> Result<RecordBatch> {
        let mut frame = self.ctx.execute_logical_plan(plan).await?;
        if !params.is_empty() {
            frame = frame.with_param_values(params.to_vec())?;
        }
        let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await?;
        Ok(arrow::compute::concat_batches(&schema, &batches)?)
    }

    async fn insert(&self, mut insert: Insert, params: &[ScalarValue]) -> Result<StatementOutput> {
        let on_conflict = match insert.on.take() {
            None => None,
            Some(OnInsert::OnConflict(clause)) => Some(clause),
            Some(other) => {
                return Err(Error::not_supported(format!(
                    "{other} is not supported; use ON CONFLICT"
                )));
            }
        };
        let returning = insert.returning.take();
        let TableObject::TableName(name) = &insert.table else {
            return Err(Error::not_supported("INSERT INTO a table function is not supported"));
        };
        let target = self.target_table(name).await?;
        let alias = insert
            .table_alias
            .as_ref()
            .map(|a| a.alias.value.clone())
            .unwrap_or_else(|| target.name().name.clone());
        // `INSERT INTO t VALUES (1, 'a')` into a wider table fills the
        // remaining columns with their defaults (NULL), as in PostgreSQL.
        if insert.columns.is_empty()
            && let Some(width) = values_width(&insert)
            && width < target.user_schema().fields().len()
        {
            insert.columns = target
                .user_schema()
                .fields()
                .iter()
                .take(width)
                .map(|f| datafusion::sql::sqlparser::ast::Ident::with_quote('"', f.name()))
                .map(|i| ObjectName::from(vec![i]))
                .collect();
        }
        if crate::sql::bytea::has_hex_literal(&insert) {
            self.decode_bytea_literals(&mut insert).await?;
        }
        // The write lock first: rows read by INSERT ... SELECT and keys
        // checked stay as they are until the transaction commits. (A
        // sharded table's insert locks the shards its rows go to, once they
        // are known; its key checks are covered, its SELECT reads committed
        // rows.)
        if target.sharding().is_none() {
            self.txn.acquire(&self.warehouse).await?;
        }
        let input = self.dml_input(Statement::Insert(insert)).await?;
        let rows = self.collect(input, params).await?;
        let state = self.ctx.state();
        let written = dml::insert(&state, &target, rows, on_conflict.as_ref(), params).await?;
        self.dml_output(
            format!("INSERT 0 {}", written.count),
            written,
            returning,
            &alias,
            params,
        )
        .await
    }

    async fn update_or_delete(&self, mut statement: Statement, params: &[ScalarValue]) -> Result<StatementOutput> {
        let (name, alias, returning, assigned) = match &mut statement {
            Statement::Update(update) => {
                let TableFactor::Table { name, alias, .. } = &update.table.relation else {
                    return Err(Error::not_supported("UPDATE of something other than a table"));
                };
                let assigned = update
                    .assignments
                    .iter()
                    .flat_map(|a| match &a.target {
                        AssignmentTarget::ColumnName(n) => normalize_name(n).ok().and_then(|p| p.last().cloned()),
                        AssignmentTarget::Tuple(_) => None,
                    })
                    .collect::<Vec<_>>();
                (
                    name.clone(),
                    alias.as_ref().map(|a| a.name.value.clone()),
                    update.returning.take(),
                    Some(assigned),
                )
            }
            Statement::Delete(delete) => {
                let tables = match &delete.from {
                    FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
                };
                let Some(TableFactor::Table { name, alias, .. }) = tables.first().map(|t| &t.relation) else {
                    return Err(Error::not_supported("DELETE from something other than a table"));
                };
                (
                    name.clone(),
                    alias.as_ref().map(|a| a.name.value.clone()),
                    delete.returning.take(),
                    None,
                )
            }
            _ => return Err(Error::internal("not an UPDATE or DELETE")),
        };
        let target = self
            .target_table(&name)
            .await
            .map_err(|e| with_table(e, name.to_string()))?;
        let alias = alias.unwrap_or_else(|| target.name().name.clone());
        // Every shard that may hold a row the statement changes.
        let shards = target.shards();
        if let Some((shard, server)) = self.warehouse.remote.as_ref().and_then(|r| {
            shards
                .iter()
                .find_map(|s| r.endpoint(s).map(|e| (s.clone(), e.to_string())))
        }) {
            return Err(Error::not_supported(format!(
                "UPDATE and DELETE on a table with remote shards (shard \"{shard}\" is hosted at {server}): \
                 not supported yet"
            ))
            .with_context("table", target.name()));
        }
        self.txn.acquire_shards(&self.warehouse, &shards).await?;
        let input = match &statement {
            Statement::Update(update) if update.from.is_some() => self.update_from_input(update, &target, &alias).await,
            _ => self.dml_input(statement).await,
        }
        .map_err(|e| with_table(e, target.name().to_string()))?;
        let input = dml::plan::with_row_ids(input, &target, assigned.is_some())?;
        let rows = self
            .collect(input, params)
            .await
            .map_err(|e| with_table(e, target.name().to_string()))?;
        let state = self.ctx.state();
        let (tag, written) = match assigned {
            Some(assigned) => {
                let written = dml::update(&state, &target, rows, &assigned).await?;
                (format!("UPDATE {}", written.count), written)
            }
            None => {
                let written = dml::delete(&target, rows).await?;
                (format!("DELETE {}", written.count), written)
            }
        };
        self.dml_output(tag, written, returning, &alias, params).await
    }

    /// `UPDATE t SET a = e FROM u WHERE p` as the query
    /// `SELECT <t's columns, assigned ones replaced by e> FROM t, u WHERE p`
    /// (DataFusion does not plan UPDATE ... FROM yet).
    async fn update_from_input(
        &self,
        update: &datafusion::sql::sqlparser::ast::Update,
        target: &TieredTable,
        alias: &str,
    ) -> Result<LogicalPlan> {
        let schema = target.user_schema();
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let mut columns: Vec<String> = schema
            .fields()
            .iter()
            .map(|f| format!("{}.{}", quote(alias), quote(f.name())))
            .collect();
        for assignment in &update.assignments {
            let AssignmentTarget::ColumnName(name) = &assignment.target else {
                return Err(Error::not_supported("tuple assignments in UPDATE are not supported"));
            };
            let column = normalize_name(name)?.pop().unwrap_or_default();
            let index = schema.index_of(&column).map_err(|_| {
                Error::new(
                    ErrorKind::NotFound,
                    format!(
                        "column \"{column}\" of relation \"{}\" does not exist",
                        target.name().name
                    ),
                )
            })?;
            columns[index] = format!(
                "CAST(({}) AS {}) AS {}",
                assignment.value,
                dml::sql_type(schema.field(index).data_type()),
                quote(&column)
            );
        }
        let from = match &update.from {
            Some(UpdateTableFromKind::BeforeSet(tables) | UpdateTableFromKind::AfterSet(tables)) => {
                tables.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
            }
            None => String::new(),
        };
        let selection = update
            .selection
            .as_ref()
            .map(|s| format!(" WHERE {s}"))
            .unwrap_or_default();
        let sql = format!("SELECT {} FROM {}, {from}{selection}", columns.join(", "), update.table);
        Ok(self.ctx.state().create_logical_plan(&sql).await?)
    }

    async fn dml_output(
        &self,
        tag: String,
        written: dml::Written,
        returning: Option<Vec<SelectItem>>,
        alias: &str,
        params: &[ScalarValue],
    ) -> Result<StatementOutput> {
        let Some(items) = returning else {
            return Ok(StatementOutput::command(tag));
        };
        let (schema, batches) = dml::returning(&items, alias, written.rows, params).await?;
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
}

/// Cleans up after a statement whose future was dropped before it ended:
/// inside BEGIN the transaction fails (as after an error); on its own, what
/// it staged and any DDL it did are rolled back.
struct CancelGuard<'a> {
    session: &'a Session,
    armed: bool,
}

impl Drop for CancelGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if self.session.txn.is_explicit() {
            self.session.txn.fail();
        } else {
            self.session.txn.abandon(&self.session.warehouse);
        }
    }
}

/// Write bound parameters into table-function arguments, which are
/// evaluated at planning (see [`crate::sql::table_args`]).
fn bind_table_function_args(command: &mut Command, params: &[ScalarValue]) {
    use crate::sql::table_args::bind_table_args;
    match command {
        Command::DataFusion(statement) | Command::Update(statement) | Command::Delete(statement) => {
            bind_table_args(statement.as_mut(), params)
        }
        Command::Insert(insert) => bind_table_args(insert.as_mut(), params),
        Command::CreateTable(create) => bind_table_args(create.as_mut(), params),
        _ => {}
    }
}

/// The row width of `INSERT ... VALUES` (`None` for INSERT ... SELECT),
/// when every row has the same number of values.
fn values_width(insert: &Insert) -> Option<usize> {
    let source = insert.source.as_ref()?;
    let datafusion::sql::sqlparser::ast::SetExpr::Values(values) = source.body.as_ref() else {
        return None;
    };
    let width = values.rows.first()?.len();
    values.rows.iter().all(|r| r.len() == width).then_some(width)
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

/// Name the table in an error that does not say which one yet.
fn with_table(e: Error, table: String) -> Error {
    if e.context().iter().any(|(k, _)| *k == "table") {
        e
    } else {
        e.with_context("table", table)
    }
}
