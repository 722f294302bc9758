//! Change data capture: `thermocline_changes('t', since_lsn)`.
//!
//! Every committed write yields events, in lsn order:
//!
//! | op | when | `lsn` | `before` | `after` |
//! |---|---|---|---|---|
//! | `c` | INSERT (or the insert half of an upsert) | the new version's | NULL | the row |
//! | `u` | UPDATE, ON CONFLICT DO UPDATE | the new version's | old row | new row |
//! | `d` | DELETE | the delete event's | the row | NULL |
//!
//! with `shard`, `commit_ts`, `table_name` and `key` (the primary key's
//! columns as a jsonb object, NULL for a table without one). Events come
//! from [`super::versions`], so they survive compaction: deleted versions
//! are in the change log, live ones in the data table with their lsn.
//!
//! **Delivery is at-least-once.** A consumer remembers the highest `lsn` it
//! processed (per `shard`) and asks again with it as `since_lsn`; an event
//! it sees twice (it crashed before recording its position) has the same
//! `(shard, lsn)` both times, which is how it de-duplicates. lsns grow with
//! commit order within a shard and commits become visible in that order
//! (one writer per shard), so an event never appears below a position
//! already read; a rolled-back transaction leaves a gap, not an event.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, AsArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimestampMicrosecondType};
use async_trait::async_trait;
use datafusion::catalog::{Session as DfSession, TableFunctionArgs, TableFunctionImpl};
use datafusion::common::ScalarValue;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, ident, lit};
use datafusion::physical_plan::ExecutionPlan;

use super::versions::{END_LSN, END_SHARD, VALID_FROM, VALID_TO, Versions};
use crate::error::{Error, ErrorKind, Result};
use crate::hot::TableName;
use crate::table::constraints::ConstraintKind;
use crate::table::hidden;
use crate::table::row_id::NEW_LSN;
use crate::warehouse::WarehouseInner;

/// The columns of `thermocline_changes`.
pub fn event_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("lsn", DataType::Int64, false),
        Field::new("shard", DataType::Utf8, false),
        Field::new("commit_ts", hidden::commit_ts_type(), true),
        Field::new("op", DataType::Utf8, false),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("key", DataType::Utf8, true),
        Field::new("before", DataType::Utf8, true),
        Field::new("after", DataType::Utf8, true),
    ]))
}

/// The `thermocline_changes(table, since_lsn)` table function.
#[derive(Debug)]
pub struct ChangesFunction {
    warehouse: Arc<WarehouseInner>,
}

impl ChangesFunction {
    pub fn new(warehouse: Arc<WarehouseInner>) -> Self {
        Self { warehouse }
    }
}

/// A constant argument, folded (so `'t'`, `10`, `$1` after binding, `5 + 5`
/// all work).
fn constant(args: &TableFunctionArgs<'_, '_>, i: usize) -> Result<Option<ScalarValue>> {
    let Some(expr) = args.exprs().get(i) else {
        return Ok(None);
    };
    let context = datafusion::logical_expr::simplify::SimplifyContext::builder()
        .with_config_options(Arc::new(args.session().config_options().clone()))
        .with_current_time()
        .build();
    let simplified =
        datafusion::optimizer::simplify_expressions::ExprSimplifier::new(context).simplify(expr.clone())?;
    match simplified {
        Expr::Literal(value, _) => Ok(Some(value)),
        other => Err(Error::plan(format!(
            "thermocline_changes takes constant arguments, not {other}"
        ))),
    }
}

impl TableFunctionImpl for ChangesFunction {
    fn call_with_args(&self, args: TableFunctionArgs<'_, '_>) -> DfResult<Arc<dyn TableProvider>> {
        let usage = || Error::plan("usage: thermocline_changes('table', since_lsn)");
        if args.exprs().is_empty() || args.exprs().len() > 2 {
            return Err(usage().into());
        }
        let name = match constant(&args, 0)? {
            Some(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s))) => s,
            _ => return Err(usage().into()),
        };
        let since = match constant(&args, 1)? {
            None | Some(ScalarValue::Null) => 0,
            Some(v) => match v.cast_to(&DataType::Int64) {
                Ok(ScalarValue::Int64(Some(n))) => n,
                _ => {
                    return Err(
                        Error::new(ErrorKind::Type, format!("since_lsn must be a bigint, not {v}"))
                            .with_context("usage", "thermocline_changes('table', since_lsn)")
                            .into(),
                    );
                }
            },
        };
        let table = super::table_name(&name)?;
        Ok(Arc::new(ChangeEvents {
            warehouse: self.warehouse.clone(),
            table,
            since,
        }))
    }
}

/// The events of one table above an lsn.
#[derive(Debug)]
pub struct ChangeEvents {
    warehouse: Arc<WarehouseInner>,
    table: TableName,
    since: i64,
}

#[async_trait]
impl TableProvider for ChangeEvents {
    fn schema(&self) -> SchemaRef {
        event_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn DfSession,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let events = events(&self.warehouse, state, &self.table, self.since)
            .await
            .map_err(|e| DataFusionError::from(e.with_context("table", &self.table)))?;
        let exec = MemorySourceConfig::try_new_exec(&[vec![events]], event_schema(), projection.cloned())?;
        Ok(exec)
    }
}

/// Every event of `table` with an lsn above `since`, in lsn order.
pub async fn events(
    warehouse: &Arc<WarehouseInner>,
    state: &dyn DfSession,
    table: &TableName,
    since: i64,
) -> Result<RecordBatch> {
    let versions = Versions::read_since(warehouse, table, Some(since)).await?;
    let build_object = state
        .scalar_functions()
        .get("jsonb_build_object")
        .cloned()
        .ok_or_else(|| Error::internal("jsonb_build_object is not registered"))?;
    let jsonb_in = state
        .scalar_functions()
        .get("jsonb_in")
        .cloned()
        .ok_or_else(|| Error::internal("jsonb_in is not registered"))?;
    let user = versions.table.user_schema().clone();
    let object = |columns: &[String]| -> Expr {
        let mut args = Vec::with_capacity(columns.len() * 2);
        for name in columns {
            let index = user.index_of(name).unwrap_or_default();
            let value = match versions.table.jsonb_columns().get(index) {
                Some(true) => jsonb_in.call(vec![ident(name)]),
                _ => ident(name),
            };
            args.push(lit(name.as_str()));
            args.push(value);
        }
        build_object.call(args)
    };
    let key_columns: Option<Vec<String>> = versions
        .table
        .constraints()
        .iter()
        .find(|c| c.kind == ConstraintKind::PrimaryKey)
        .map(|c| c.columns.clone());
    let all_columns = versions.user_columns();
    let above = |c: &str| ident(c).gt(lit(since));
    let plan = LogicalPlanBuilder::from(versions.plan.clone())
        .filter(above(hidden::LSN).or(above(END_LSN)).or(above(NEW_LSN)))?
        .project(vec![
            ident(hidden::LSN),
            ident(hidden::SHARD),
            ident(VALID_FROM),
            ident(VALID_TO),
            ident(END_LSN),
            ident(END_SHARD),
            ident(NEW_LSN),
            object(&all_columns).alias("row"),
            match &key_columns {
                Some(k) => object(k).alias("key"),
                None => lit(ScalarValue::Utf8(None)).alias("key"),
            },
        ])?
        .build()?;
    let physical = state.create_physical_plan(&plan).await?;
    let batches = datafusion::physical_plan::collect(physical, state.task_ctx()).await?;
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| Arc::new(Schema::empty()));
    let versions = arrow::compute::concat_batches(&schema, &batches)?;
    pair(&versions, &table.to_string(), since)
}

/// One collected versions batch (see [`events`]) into events.
fn pair(v: &RecordBatch, table_name: &str, since: i64) -> Result<RecordBatch> {
    let mut event = EventBuilder::default();
    if v.num_rows() == 0 {
        return event.finish(table_name);
    }
    let int = |i: usize| v.column(i).as_primitive::<Int64Type>();
    let text = |i: usize| -> Result<&arrow::array::StringArray> {
        v.column(i)
            .as_string_opt::<i32>()
            .ok_or_else(|| Error::internal(format!("versions column {i} is not Utf8")))
    };
    let ts = |i: usize| v.column(i).as_primitive::<TimestampMicrosecondType>();
    let (lsn, shard, from, to, end_lsn, end_shard, new_lsn) =
        (int(0), text(1)?, ts(2), ts(3), int(4), text(5)?, int(6));
    let (row, key) = (v.column(7).as_string::<i32>(), v.column(8).as_string_opt::<i32>());
    let opt = |a: &StringArray, r: usize| a.is_valid(r).then(|| a.value(r).to_string());
    let key_of = |r: usize| key.and_then(|k| opt(k, r));
    // Versions by identity, and the ones that are the new half of an UPDATE.
    let mut by_id: HashMap<(&str, i64), usize> = HashMap::new();
    let mut successors: HashSet<(&str, i64)> = HashSet::new();
    for r in 0..v.num_rows() {
        if lsn.is_valid(r) && shard.is_valid(r) {
            by_id.insert((shard.value(r), lsn.value(r)), r);
        }
        if new_lsn.is_valid(r) && end_shard.is_valid(r) {
            successors.insert((end_shard.value(r), new_lsn.value(r)));
        }
    }
    for r in 0..v.num_rows() {
        if end_lsn.is_valid(r) {
            let at = to.is_valid(r).then(|| to.value(r));
            let event_shard = end_shard.value(r);
            if new_lsn.is_null(r) && end_lsn.value(r) > since {
                event.push(end_lsn.value(r), event_shard, at, "d", key_of(r), opt(row, r), None);
            } else if new_lsn.is_valid(r) && new_lsn.value(r) > since {
                let next = by_id.get(&(event_shard, new_lsn.value(r))).copied();
                let after = next.and_then(|n| opt(row, n));
                let key = next.and_then(key_of).or_else(|| key_of(r));
                event.push(new_lsn.value(r), event_shard, at, "u", key, opt(row, r), after);
            }
        }
        if lsn.is_valid(r) && lsn.value(r) > since && !successors.contains(&(shard.value(r), lsn.value(r))) {
            let at = from.is_valid(r).then(|| from.value(r));
            event.push(lsn.value(r), shard.value(r), at, "c", key_of(r), None, opt(row, r));
        }
    }
    event.finish(table_name)
}

/// One event before it becomes a row.
struct Event {
    lsn: i64,
    shard: String,
    at: Option<i64>,
    op: &'static str,
    key: Option<String>,
    before: Option<String>,
    after: Option<String>,
}

#[derive(Default)]
struct EventBuilder {
    rows: Vec<Event>,
}

impl EventBuilder {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        lsn: i64,
        shard: &str,
        at: Option<i64>,
        op: &'static str,
        key: Option<String>,
        before: Option<String>,
        after: Option<String>,
    ) {
        self.rows.push(Event {
            lsn,
            shard: shard.to_string(),
            at,
            op,
            key,
            before,
            after,
        });
    }

    fn finish(mut self, table_name: &str) -> Result<RecordBatch> {
        self.rows.sort_by(|a, b| (a.lsn, &a.shard).cmp(&(b.lsn, &b.shard)));
        let rows = &self.rows;
        let columns: Vec<Arc<dyn Array>> = vec![
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.lsn))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.shard.as_str()))),
            Arc::new(TimestampMicrosecondArray::from_iter(rows.iter().map(|r| r.at)).with_timezone("+00:00")),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.op))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|_| table_name))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.key.as_deref()))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.before.as_deref()))),
            Arc::new(StringArray::from_iter(rows.iter().map(|r| r.after.as_deref()))),
        ];
        RecordBatch::try_new(event_schema(), columns)
            .map_err(|e| Error::new(ErrorKind::Internal, "change events do not fit their schema").with_source(e))
    }
}
