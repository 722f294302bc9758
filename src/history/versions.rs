//! Every row version a table ever had, with its validity period, as one
//! DataFusion plan over one cut. Time travel and CDC are filters over it.
//!
//! A version is *live* (in the data table: hot, or in Iceberg) or *deleted*
//! (named by a delete event: still hot, or in the change log). Columns:
//!
//! | column | live version | deleted version |
//! |---|---|---|
//! | user columns | its values | its before-image |
//! | `_lsn`, `_shard` | its identity | same |
//! | `_valid_from` | its commit time | same (`_row_commit_ts`) |
//! | `_valid_to` | NULL | commit time of the delete |
//! | `_end_lsn`, `_end_shard` | NULL | the delete event's identity |
//! | `_new_lsn` | NULL | the successor (UPDATE) or NULL (DELETE) |
//!
//! The table *as of* `t` is the versions with `_valid_from <= t` and
//! (`_valid_to` NULL or `> t`). Rows written by another engine have no
//! commit time and count as always there.
//!
//! **The cut.** One instant for all three sources, in this order: the hot
//! tier (entries above the local watermark), then the data table's snapshot
//! `S`, then the change log `L` (compaction commits `L`, then `S`, then
//! truncates the WAL). Hot delete events above `L`'s watermark come from the
//! WAL; logged events beyond what `S` and the hot read cover (a compaction
//! that finished after the hot read) are left out, so every event has its
//! versions on the same side of the cut.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, new_null_array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::MemTable;
use datafusion::common::ScalarValue;
use datafusion::datasource::provider_as_source;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, ident, lit};
use iceberg::TableIdent;

use super::log;
use crate::error::{Error, ErrorKind, Result};
use crate::hot::{HotSnapshot, Lsn, TableName, WalOp};
use crate::table::provider::PinnedCut;
use crate::table::row_id::{NEW_LSN, ROW_COMMIT_TS, ROW_LSN, ROW_SHARD};
use crate::table::{TieredTable, hidden, wal_fields};
use crate::transaction::TransactionState;
use crate::warehouse::WarehouseInner;

pub const VALID_FROM: &str = "_valid_from";
pub const VALID_TO: &str = "_valid_to";
pub const END_LSN: &str = "_end_lsn";
pub const END_SHARD: &str = "_end_shard";

/// The columns after the user columns, in order.
pub fn version_fields() -> Vec<Field> {
    vec![
        Field::new(hidden::LSN, DataType::Int64, true),
        Field::new(hidden::SHARD, DataType::Utf8, true),
        Field::new(VALID_FROM, hidden::commit_ts_type(), true),
        Field::new(VALID_TO, hidden::commit_ts_type(), true),
        Field::new(END_LSN, DataType::Int64, true),
        Field::new(END_SHARD, DataType::Utf8, true),
        Field::new(NEW_LSN, DataType::Int64, true),
    ]
}

fn null_of(data_type: &DataType) -> Result<Expr> {
    Ok(lit(ScalarValue::try_from(data_type)?))
}

/// The versions of one table over one cut.
pub struct Versions {
    /// The data table's provider (committed data only).
    pub table: TieredTable,
    /// The plan: user columns, then [`version_fields`].
    pub plan: LogicalPlan,
}

impl Versions {
    /// Read the cut (see the module docs) and build the plan.
    pub async fn read(wh: &Arc<WarehouseInner>, name: &TableName) -> Result<Self> {
        Self::read_since(wh, name, None).await
    }

    /// [`Self::read`], keeping only versions that began, ended or were
    /// replaced above `since` (what CDC asks for). The condition goes into
    /// each branch's scan, where it prunes by the `_lsn` column statistics:
    /// a consumer's poll reads no file that holds only older rows.
    pub async fn read_since(wh: &Arc<WarehouseInner>, name: &TableName, since: Option<Lsn>) -> Result<Self> {
        let ident = TableIdent::from_strs([name.namespace.as_str(), name.name.as_str()])?;
        let shard = wh.hot.shard().to_string();
        // 1. The hot tier, every user column (a first load only to learn the
        //    columns; the schema cannot change under us without the
        //    compaction lock, and a stale one only maps fewer columns).
        let first = wh.load_table(&ident).await?;
        if first
            .metadata()
            .properties()
            .contains_key(crate::shard::routing::SHARD_KEY)
        {
            // The versions below merge one shard's hot tier with the log.
            return Err(Error::not_supported(
                "row history (versions, CDC, time travel to a time) of sharded tables is not supported yet; \
                 time travel to a snapshot id is",
            )
            .with_context("table", name));
        }
        let columns = wal_fields(first.metadata())?;
        let hot = match wh.hot.read(name, None, Some(&columns)) {
            Ok(hot) => hot,
            Err(e) if e.kind() == ErrorKind::NotFound => HotSnapshot::default(),
            Err(e) => return Err(e),
        };
        // 2. The data table, 3. the change log.
        let data = wh.load_table(&ident).await?;
        let log = log::load(wh, name).await?;

        let committed = TransactionState::new();
        let table = TieredTable::try_new(name.clone(), data.metadata(), wh.clone(), committed.clone())?;
        let watermarks = thermocline_catalog::watermark::watermarks(data.metadata(), None);
        let local_watermark = watermarks.get(&shard).copied().unwrap_or(0).max(hot.local_watermark);
        let hot_last = hot.entries.iter().map(|e| e.last_lsn).max().unwrap_or(0);
        let logged = log.as_ref().map_or(0, |l| {
            thermocline_catalog::watermark::watermark(l.metadata(), None, &shard)
        });

        let events = hot_events(&table, &hot, logged, &shard)?;
        let cut = Arc::new(PinnedCut {
            hot,
            table: data,
            snapshot_id: None,
        });
        let live = live_plan(&table.pinned(cut).with_row_ids(), since)?;
        let mut builder = LogicalPlanBuilder::from(live);
        if events.num_rows() > 0 {
            let source = MemTable::try_new(events.schema(), vec![vec![events]])?;
            builder = builder
                .union(LogicalPlanBuilder::scan("hot_events", provider_as_source(Arc::new(source)), None)?.build()?)?;
        }
        if let Some(log) = log {
            // Each shard's events up to what the cut covers of that shard.
            let mut bounds: Vec<(String, Lsn)> = watermarks.into_iter().filter(|(s, _)| *s != shard).collect();
            bounds.push((shard.clone(), local_watermark.max(hot_last)));
            let log_name = log::log_name(name);
            let log_table = TieredTable::try_new(log_name, log.metadata(), wh.clone(), committed)?;
            let cut = Arc::new(PinnedCut {
                hot: HotSnapshot::default(),
                table: log,
                snapshot_id: None,
            });
            builder = builder.union(logged_plan(&table, &log_table.pinned(cut), &bounds, since)?)?;
        }
        Ok(Self {
            table,
            plan: builder.build()?,
        })
    }

    /// The user columns' names.
    pub fn user_columns(&self) -> Vec<String> {
        self.table
            .user_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }
}

/// Live versions: the data table's scan with row ids.
fn live_plan(table: &TieredTable, since: Option<Lsn>) -> Result<LogicalPlan> {
    let mut exprs: Vec<Expr> = table.user_schema().fields().iter().map(|f| ident(f.name())).collect();
    exprs.push(ident(hidden::LSN));
    exprs.push(ident(hidden::SHARD));
    exprs.push(ident(hidden::COMMIT_TS).alias(VALID_FROM));
    exprs.push(null_of(&hidden::commit_ts_type())?.alias(VALID_TO));
    exprs.push(null_of(&DataType::Int64)?.alias(END_LSN));
    exprs.push(null_of(&DataType::Utf8)?.alias(END_SHARD));
    exprs.push(null_of(&DataType::Int64)?.alias(NEW_LSN));
    let mut builder = LogicalPlanBuilder::scan("live", provider_as_source(Arc::new(table.clone())), None)?;
    if let Some(since) = since {
        builder = builder.filter(ident(hidden::LSN).gt(lit(since)))?;
    }
    Ok(builder.project(exprs)?.build()?)
}

/// Deleted versions in the change log, mapped onto the data table's
/// columns by field id, cut at `bounds` (per shard, the highest event lsn
/// the cut covers).
fn logged_plan(
    data: &TieredTable,
    log: &TieredTable,
    bounds: &[(String, Lsn)],
    since: Option<Lsn>,
) -> Result<LogicalPlan> {
    let log_fields = log.wal_fields();
    let mut exprs = Vec::with_capacity(data.wal_fields().len() + 7);
    for field in data.wal_fields() {
        let id = field.metadata().get(crate::hot::FIELD_ID);
        let expr = match log_fields.iter().find(|f| f.metadata().get(crate::hot::FIELD_ID) == id) {
            Some(source) => cast(ident(source.name()), field.data_type().clone()),
            None => null_of(field.data_type())?,
        };
        exprs.push(expr.alias(field.name()));
    }
    exprs.push(ident(ROW_LSN).alias(hidden::LSN));
    exprs.push(ident(ROW_SHARD).alias(hidden::SHARD));
    exprs.push(ident(ROW_COMMIT_TS).alias(VALID_FROM));
    exprs.push(ident(hidden::COMMIT_TS).alias(VALID_TO));
    exprs.push(ident(hidden::LSN).alias(END_LSN));
    exprs.push(ident(hidden::SHARD).alias(END_SHARD));
    exprs.push(ident(NEW_LSN));
    let within = bounds
        .iter()
        .map(|(shard, lsn)| {
            ident(hidden::SHARD)
                .eq(lit(shard.as_str()))
                .and(ident(hidden::LSN).lt_eq(lit(*lsn)))
        })
        .reduce(Expr::or)
        .unwrap_or_else(|| lit(false));
    let within = match since {
        Some(since) => within.and(
            ident(ROW_LSN)
                .gt(lit(since))
                .or(ident(hidden::LSN).gt(lit(since)))
                .or(ident(NEW_LSN).gt(lit(since))),
        ),
        None => within,
    };
    Ok(
        LogicalPlanBuilder::scan("logged", provider_as_source(Arc::new(log.with_row_ids())), None)?
            .filter(within)?
            .project(exprs)?
            .build()?,
    )
}

/// Deleted versions whose delete event is still hot and not yet logged
/// (lsn above `logged`), in the versions layout.
fn hot_events(table: &TieredTable, hot: &HotSnapshot, logged: Lsn, shard: &str) -> Result<RecordBatch> {
    let users = table.user_schema().fields().len();
    let mut fields: Vec<Field> = table
        .user_schema()
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.extend(version_fields());
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let mut batches = Vec::new();
    for entry in hot
        .entries
        .iter()
        .filter(|e| e.op == WalOp::Delete && e.last_lsn > logged)
    {
        let skip = (logged + 1 - entry.first_lsn).max(0) as usize;
        let rows = entry.batch.slice(skip, entry.batch.num_rows() - skip);
        let first = entry.first_lsn + skip as Lsn;
        let n = rows.num_rows();
        let by_name = |name: &str, data_type: &DataType| -> Result<ArrayRef> {
            Ok(match rows.column_by_name(name) {
                Some(c) if c.data_type() == data_type => c.clone(),
                Some(c) => arrow::compute::cast(c, data_type)?,
                None => new_null_array(data_type, n),
            })
        };
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(users + 7);
        // Decoded with the table's columns (by field id), so by name here.
        for field in table.user_schema().fields() {
            columns.push(by_name(field.name(), field.data_type())?);
        }
        columns.push(by_name(ROW_LSN, &DataType::Int64)?);
        columns.push(by_name(ROW_SHARD, &DataType::Utf8)?);
        columns.push(by_name(ROW_COMMIT_TS, &hidden::commit_ts_type())?);
        // The delete event's own identity: when the version stopped being valid.
        let event = hidden::WalRows {
            first,
            n,
            commit_ts: &entry.commit_ts,
            shard,
        };
        columns.push(event.commit_ts());
        columns.push(event.lsn());
        columns.push(event.shard());
        columns.push(by_name(NEW_LSN, &DataType::Int64)?);
        batches.push(RecordBatch::try_new(schema.clone(), columns).map_err(|e| {
            Error::internal("hot delete events do not fit the versions layout")
                .with_context("table", table.name())
                .with_context("lsn", first)
                .with_source(e)
        })?);
    }
    Ok(arrow::compute::concat_batches(&schema, &batches)?)
}
