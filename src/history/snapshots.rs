//! `thermocline_snapshots('t')`: the Iceberg snapshots of a table, one row
//! each, ordered by sequence number then commit time (iceberg keeps its
//! snapshot list in no particular order).
//!
//! | column | from |
//! |---|---|
//! | `snapshot_id`, `parent_id`, `sequence_number`, `schema_id` | the snapshot |
//! | `committed_at` | its `timestamp-ms`, as a UTC `timestamptz` |
//! | `operation` | its summary's `operation` (`append`, `overwrite`, ...) |
//! | `watermark` | its summary's `thermocline.watermark.<shard>` for this warehouse's shard |
//! | `added_rows`, `deleted_rows`, `total_rows`, `added_files`, `total_files` | its summary's `added-records`, `deleted-records`, `total-records`, `added-data-files`, `total-data-files` |
//! | `is_current` | whether it is the table's current snapshot |
//!
//! The watermark is the one *recorded by* the snapshot: every commit
//! thermocline makes ([`WatermarkCommit`]) writes every known shard's
//! watermark into its own summary (carried forward from the parent, the
//! committing shard's new value), so a thermocline snapshot answers by
//! itself. A snapshot written by another engine carries none and shows
//! NULL, although reads of it use the nearest ancestor's (see
//! [`thermocline_catalog::watermark::watermark`]). Summary counts a writer
//! did not record are NULL too; a missing `added-*`/`deleted-*` count is 0
//! when the summary has `total-records` (Iceberg writers omit zero counts).
//!
//! The table is loaded when the query runs (`scan`), not when it is
//! planned: [`TableFunctionImpl`] is synchronous.
//!
//! [`WatermarkCommit`]: thermocline_catalog::watermark::WatermarkCommit

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{Session as DfSession, TableFunctionArgs, TableFunctionImpl};
use datafusion::common::ScalarValue;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_plan::ExecutionPlan;
use iceberg::TableIdent;
use iceberg::spec::{Snapshot, TableMetadata};
use thermocline_catalog::watermark::watermark_key;

use crate::error::{Error, ErrorKind, Result};
use crate::hot::TableName;
use crate::warehouse::WarehouseInner;

/// The SQL name of the function.
pub const FUNCTION_NAME: &str = "thermocline_snapshots";

/// Register `thermocline_snapshots` on a session.
pub fn register(ctx: &SessionContext, warehouse: Arc<WarehouseInner>) {
    ctx.register_udtf(FUNCTION_NAME, Arc::new(SnapshotsFunction { warehouse }));
}

/// The columns of `thermocline_snapshots`.
pub fn snapshots_schema() -> SchemaRef {
    let bigint = |name: &str, nullable: bool| Field::new(name, DataType::Int64, nullable);
    Arc::new(Schema::new(vec![
        bigint("snapshot_id", false),
        bigint("parent_id", true),
        bigint("sequence_number", false),
        Field::new(
            "committed_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
            false,
        ),
        Field::new("operation", DataType::Utf8, false),
        bigint("watermark", true),
        bigint("added_rows", true),
        bigint("deleted_rows", true),
        bigint("total_rows", true),
        bigint("added_files", true),
        bigint("total_files", true),
        Field::new("is_current", DataType::Boolean, false),
        Field::new("schema_id", DataType::Int32, true),
    ]))
}

/// The `thermocline_snapshots(table)` table function.
#[derive(Debug)]
pub struct SnapshotsFunction {
    warehouse: Arc<WarehouseInner>,
}

fn usage() -> Error {
    Error::plan(format!("usage: {FUNCTION_NAME}('table') with the table name as text"))
}

impl TableFunctionImpl for SnapshotsFunction {
    fn call_with_args(&self, args: TableFunctionArgs<'_, '_>) -> DfResult<Arc<dyn TableProvider>> {
        let [arg] = args.exprs() else {
            return Err(usage().with_context("arguments", args.exprs().len()).into());
        };
        let text = table_argument(arg, args.session())?;
        // Resolved as the session resolves names: lower-cased unless
        // quoted, `public` by default.
        let table = super::table_name(&text)?;
        Ok(Arc::new(SnapshotsTable {
            warehouse: self.warehouse.clone(),
            table,
        }))
    }
}

/// The argument as text: a string literal (`Utf8`, `Utf8View`, `LargeUtf8`),
/// after constant folding so `'t'::text` and `'s' || '.t'` work too.
fn table_argument(arg: &Expr, session: &dyn DfSession) -> Result<String> {
    let folded = match arg {
        Expr::Literal(..) => arg.clone(),
        other => {
            let context = SimplifyContext::builder()
                .with_config_options(Arc::new(session.config_options().clone()))
                .build();
            // Not foldable (a column, a placeholder): report the argument as given.
            ExprSimplifier::new(context)
                .simplify(other.clone())
                .unwrap_or_else(|_| other.clone())
        }
    };
    match folded {
        Expr::Literal(
            ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) | ScalarValue::LargeUtf8(Some(s)),
            _,
        ) => Ok(s),
        Expr::Literal(value, _) => Err(usage().with_context(
            "argument",
            if value.is_null() {
                "NULL".to_string()
            } else {
                format!("{value} of type {}", value.data_type())
            },
        )),
        other => Err(usage().with_context("argument", other)),
    }
}

/// The snapshots of one table, read when scanned.
#[derive(Debug)]
pub struct SnapshotsTable {
    warehouse: Arc<WarehouseInner>,
    table: TableName,
}

#[async_trait]
impl TableProvider for SnapshotsTable {
    fn schema(&self) -> SchemaRef {
        snapshots_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        _state: &dyn DfSession,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let batch = self.read().await.map_err(DataFusionError::from)?;
        let exec = MemorySourceConfig::try_new_exec(&[vec![batch]], snapshots_schema(), projection.cloned())?;
        Ok(exec)
    }
}

impl SnapshotsTable {
    async fn read(&self) -> Result<RecordBatch> {
        let not_found = || {
            Error::new(
                ErrorKind::NotFound,
                format!("relation \"{}\" does not exist", self.table),
            )
        };
        let ident = TableIdent::from_strs([self.table.namespace.as_str(), self.table.name.as_str()])
            .map_err(|_| not_found())?;
        let loaded = match self.warehouse.load_table(&ident).await {
            Ok(t) => t,
            // An unknown namespace too, worded as PostgreSQL words it.
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(not_found()),
            Err(e) => return Err(e),
        };
        snapshot_rows(loaded.metadata(), &self.warehouse.config.shard).map_err(|e| e.with_context("table", &self.table))
    }
}

/// One row per snapshot of `metadata`, in commit order.
fn snapshot_rows(metadata: &TableMetadata, shard: &str) -> Result<RecordBatch> {
    let mut snapshots: Vec<&Snapshot> = metadata.snapshots().map(|s| s.as_ref()).collect();
    snapshots.sort_by_key(|s| (s.sequence_number(), s.timestamp_ms(), s.snapshot_id()));
    let current = metadata.current_snapshot_id();
    let watermark_key = watermark_key(shard);
    let summary = |s: &Snapshot, key: &str| -> Option<i64> {
        let raw = s.summary().additional_properties.get(key)?;
        match raw.parse() {
            Ok(v) => Some(v),
            Err(_) => {
                tracing::warn!(snapshot_id = s.snapshot_id(), key, value = %raw, "ignoring a malformed snapshot summary value");
                None
            }
        }
    };
    let ints = |key: &str| -> ArrayRef { Arc::new(Int64Array::from_iter(snapshots.iter().map(|s| summary(s, key)))) };
    // Iceberg writers (Java, iceberg-rust) leave out zero change counts but
    // always write the totals: with totals, a missing count is 0.
    let counts = |key: &str| -> ArrayRef {
        let kept = |s: &Snapshot| s.summary().additional_properties.contains_key("total-records");
        Arc::new(Int64Array::from_iter(
            snapshots
                .iter()
                .map(|s| summary(s, key).or_else(|| kept(s).then_some(0))),
        ))
    };
    let committed_at = snapshots
        .iter()
        .map(|s| {
            s.timestamp_ms().checked_mul(1000).ok_or_else(|| {
                Error::new(ErrorKind::Storage, "snapshot timestamp out of range")
                    .with_context("snapshot_id", s.snapshot_id())
                    .with_context("timestamp_ms", s.timestamp_ms())
            })
        })
        .collect::<Result<Vec<i64>>>()?;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(snapshots.iter().map(|s| s.snapshot_id()))),
        Arc::new(Int64Array::from_iter(snapshots.iter().map(|s| s.parent_snapshot_id()))),
        Arc::new(Int64Array::from_iter_values(
            snapshots.iter().map(|s| s.sequence_number()),
        )),
        Arc::new(TimestampMicrosecondArray::from(committed_at).with_timezone("+00:00")),
        Arc::new(StringArray::from_iter_values(
            snapshots.iter().map(|s| s.summary().operation.as_str()),
        )),
        ints(&watermark_key),
        counts("added-records"),
        counts("deleted-records"),
        ints("total-records"),
        counts("added-data-files"),
        ints("total-data-files"),
        Arc::new(BooleanArray::from_iter(
            snapshots.iter().map(|s| Some(current == Some(s.snapshot_id()))),
        )),
        Arc::new(Int32Array::from_iter(snapshots.iter().map(|s| s.schema_id()))),
    ];
    RecordBatch::try_new(snapshots_schema(), columns)
        .map_err(|e| Error::new(ErrorKind::Internal, "snapshot rows do not fit their schema").with_source(e))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_like_sql() {
        let t = super::super::table_name("T").unwrap();
        assert_eq!((t.namespace.as_str(), t.name.as_str()), ("public", "t"));
        let t = super::super::table_name("s.\"Mixed\"").unwrap();
        assert_eq!((t.namespace.as_str(), t.name.as_str()), ("s", "Mixed"));
        assert!(super::super::table_name("a.b.c.d").is_err());
        assert!(super::super::table_name("").is_err());
    }

    #[test]
    fn no_snapshots_is_an_empty_batch() {
        let schema = iceberg::spec::Schema::builder().build().unwrap();
        let creation = iceberg::TableCreation::builder()
            .name("t".to_string())
            .location("file:///tmp/t".to_string())
            .schema(schema)
            .build();
        let metadata = iceberg::spec::TableMetadataBuilder::from_table_creation(creation)
            .unwrap()
            .build()
            .unwrap()
            .metadata;
        let batch = snapshot_rows(&metadata, "local").unwrap();
        assert_eq!(batch.num_rows(), 0);
        assert_eq!(batch.schema(), snapshots_schema());
    }
}
