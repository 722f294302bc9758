//! `t FOR SYSTEM_TIME ...` inside any statement: each such reference is
//! replaced, before planning, by a [`HistoryTable`] registered for the
//! statement only (see [`crate::sql::period`] for the syntax).

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampMicrosecondType};
use std::collections::HashMap;
use std::sync::Mutex;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::error::Result as DfResult;
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::Expr;
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, VisitMut};

use super::{Session, resolve_table};
use crate::error::{Error, ErrorKind, Result};
use crate::history::time_travel::{HistoryTable, Period};
use crate::sql::Command;
use crate::sql::period::{HistoryKind, take_history_refs};

/// The table function the session's history tables are read through:
/// `thermocline_history_scan('<key>')` (see [`crate::sql::period`]).
pub const SCAN_FUNCTION: &str = "thermocline_history_scan";

/// History tables of the statements running in a session, by key. A table
/// function rather than a catalog: nothing shows up in `SHOW TABLES`.
#[derive(Debug, Default)]
pub(super) struct HistoryTables {
    tables: Mutex<HashMap<String, Arc<dyn TableProvider>>>,
}

impl HistoryTables {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<dyn TableProvider>>> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Make the scan function read this session's tables.
    pub(super) fn register(ctx: &SessionContext) -> Arc<Self> {
        let tables = Arc::new(Self::default());
        ctx.register_udtf(SCAN_FUNCTION, Arc::new(ScanFunction(tables.clone())));
        tables
    }
}

#[derive(Debug)]
struct ScanFunction(Arc<HistoryTables>);

impl TableFunctionImpl for ScanFunction {
    fn call_with_args(&self, args: TableFunctionArgs<'_, '_>) -> DfResult<Arc<dyn TableProvider>> {
        let key = match args.exprs() {
            [Expr::Literal(ScalarValue::Utf8(Some(key)), _)] => key,
            _ => return Err(Error::plan(format!("{SCAN_FUNCTION} is internal: use FOR SYSTEM_TIME")).into()),
        };
        self.0
            .lock()
            .get(key)
            .cloned()
            .ok_or_else(|| Error::plan(format!("{SCAN_FUNCTION}: no history table {key}")).into())
    }
}

/// History tables registered for one statement; dropped with it.
pub(super) struct HistoryScope {
    tables: Option<Arc<HistoryTables>>,
    keys: Vec<String>,
}

impl HistoryScope {
    fn empty() -> Self {
        Self {
            tables: None,
            keys: Vec::new(),
        }
    }
}

impl Drop for HistoryScope {
    fn drop(&mut self) {
        if let Some(tables) = &self.tables {
            let mut tables = tables.lock();
            for key in &self.keys {
                tables.remove(key);
            }
        }
    }
}

impl Session {
    /// [`Self::resolve_history`] for whatever statement a command holds.
    pub(super) async fn resolve_command_history(
        &self,
        command: &mut Command,
        params: &[ScalarValue],
    ) -> Result<HistoryScope> {
        match command {
            Command::DataFusion(statement) | Command::Update(statement) | Command::Delete(statement) => {
                self.resolve_history(statement.as_mut(), params).await
            }
            Command::Insert(insert) => self.resolve_history(insert.as_mut(), params).await,
            Command::CreateTable(create) => self.resolve_history(create.as_mut(), params).await,
            _ => Ok(HistoryScope::empty()),
        }
    }

    /// Replace the history references of `statement` (if any) by tables
    /// registered until the returned scope is dropped.
    pub(super) async fn resolve_history<T: VisitMut>(
        &self,
        statement: &mut T,
        params: &[ScalarValue],
    ) -> Result<HistoryScope> {
        let statement_id = self.history_counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let key = |i: usize| format!("s{statement_id}_{i}");
        let refs = take_history_refs(statement, SCAN_FUNCTION, key)?;
        let mut scope = HistoryScope::empty();
        if refs.is_empty() {
            return Ok(scope);
        }
        scope.tables = Some(self.history.clone());
        for (i, reference) in refs.into_iter().enumerate() {
            let table = resolve_table(&reference.table)?;
            let period = match reference.kind {
                HistoryKind::AsOf => Period::AsOf(self.instant(&reference.bounds, 0, params).await?),
                HistoryKind::Between => Period::Between(
                    self.instant(&reference.bounds, 0, params).await?,
                    self.instant(&reference.bounds, 1, params).await?,
                ),
                HistoryKind::FromTo => Period::FromTo(
                    self.instant(&reference.bounds, 0, params).await?,
                    self.instant(&reference.bounds, 1, params).await?,
                ),
                HistoryKind::All => Period::All,
                HistoryKind::Version => Period::Snapshot(self.snapshot_id(&reference.bounds, params).await?),
            };
            let provider = HistoryTable::try_new(self.warehouse.clone(), table.clone(), period)
                .await
                .map_err(|e| super::with_table(e, table.to_string()))?;
            self.history.lock().insert(key(i), Arc::new(provider));
            scope.keys.push(key(i));
        }
        Ok(scope)
    }

    /// The value of a bound expression: one row of one column.
    async fn bound_value(&self, bounds: &[SqlExpr], i: usize, params: &[ScalarValue]) -> Result<Arc<dyn Array>> {
        let expr = bounds
            .get(i)
            .ok_or_else(|| Error::plan("FOR SYSTEM_TIME is missing a bound"))?;
        let mut frame = self.ctx.sql(&format!("SELECT ({expr})")).await?;
        if !params.is_empty() {
            frame = frame.with_param_values(params.to_vec())?;
        }
        let batches = frame.collect().await?;
        match batches.iter().find(|b| b.num_rows() > 0) {
            Some(batch) if batch.num_rows() == 1 => Ok(batch.column(0).clone()),
            _ => Err(Error::new(
                ErrorKind::Cardinality,
                format!("the time travel bound {expr} must give exactly one value"),
            )),
        }
    }

    /// A bound as µs since the epoch (UTC; a timestamp without time zone
    /// is taken as UTC, a date as its midnight).
    async fn instant(&self, bounds: &[SqlExpr], i: usize, params: &[ScalarValue]) -> Result<i64> {
        let value = self.bound_value(bounds, i, params).await?;
        let wanted = DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()));
        // Not the safe cast: text that is no timestamp is an error, not NULL.
        let options = arrow::compute::CastOptions {
            safe: false,
            ..Default::default()
        };
        let cast = arrow::compute::cast_with_options(&value, &wanted, &options).map_err(|e| {
            let message = match value.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    format!("FOR SYSTEM_TIME needs a timestamp: {e}")
                }
                other => format!("FOR SYSTEM_TIME needs a timestamp, not {other}"),
            };
            Error::new(ErrorKind::Type, message)
        })?;
        let micros = cast.as_primitive::<TimestampMicrosecondType>();
        if micros.is_null(0) {
            return Err(Error::plan("FOR SYSTEM_TIME bound is NULL"));
        }
        Ok(micros.value(0))
    }

    async fn snapshot_id(&self, bounds: &[SqlExpr], params: &[ScalarValue]) -> Result<i64> {
        let value = self.bound_value(bounds, 0, params).await?;
        let cast = arrow::compute::cast(&value, &DataType::Int64)
            .ok()
            .filter(|c| c.is_valid(0))
            .ok_or_else(|| Error::new(ErrorKind::Type, "FOR VERSION AS OF needs a snapshot id (bigint)"))?;
        Ok(cast.as_primitive::<Int64Type>().value(0))
    }
}
