//! INSERT into a tiered table: validate, then append to the hot WAL in one
//! SQLite transaction. The statement is acknowledged when that transaction
//! commits; compaction moves the rows to Iceberg later.

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::error::Result as DfResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::TryStreamExt;

use datafusion::execution::session_state::SessionStateBuilder;

use super::TieredTable;
use crate::error::{Error, ErrorKind, Result};
use crate::hot::TableName;

/// INSERT through DataFusion's insert path (CREATE TABLE AS, the DataFrame
/// API): the same checks and staging as the session's INSERT, committed at
/// once unless the session has a transaction open.
#[derive(Debug)]
pub struct HotInsertExec {
    table: TieredTable,
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

fn count_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("count", DataType::UInt64, false)]))
}

impl HotInsertExec {
    pub fn new(table: TieredTable, input: Arc<dyn ExecutionPlan>) -> Self {
        // Callers that build physical plans by hand (CREATE TABLE AS) skip
        // the optimizer that would honour `required_input_distribution`:
        // coalesce here so no input partition is ever left unread.
        let input: Arc<dyn ExecutionPlan> = if input.properties().output_partitioning().partition_count() > 1 {
            Arc::new(CoalescePartitionsExec::new(input))
        } else {
            input
        };
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(count_schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        Self {
            table,
            input,
            properties,
        }
    }
}

/// Check NOT NULL and rebuild the batch with the table's own schema.
pub fn validate_batch(
    table: &TableName,
    schema: &SchemaRef,
    required: &[bool],
    batch: &RecordBatch,
) -> Result<RecordBatch> {
    if batch.num_columns() != schema.fields().len() {
        return Err(Error::new(
            ErrorKind::Plan,
            format!(
                "INSERT has {} columns but table \"{table}\" has {}",
                batch.num_columns(),
                schema.fields().len()
            ),
        ));
    }
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (i, field) in schema.fields().iter().enumerate() {
        let column = batch.column(i);
        if required[i] && column.null_count() > 0 {
            return Err(Error::new(
                ErrorKind::Constraint,
                format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    field.name(),
                    table.name
                ),
            )
            .with_context("table", table)
            .with_context("column", field.name()));
        }
        let column = if column.data_type() == field.data_type() {
            column.clone()
        } else {
            crate::table::strict_cast(column, field.data_type()).map_err(|e| {
                Error::new(
                    ErrorKind::Type,
                    format!(
                        "column \"{}\" is of type {} but the value is of type {}",
                        field.name(),
                        field.data_type(),
                        column.data_type()
                    ),
                )
                .with_context("table", table)
                .with_source(e)
            })?
        };
        columns.push(column);
    }
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

impl DisplayAs for HotInsertExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HotInsert: table={}, shard={}",
            self.table.name(),
            self.table.warehouse().hot.shard()
        )
    }
}

impl ExecutionPlan for HotInsertExec {
    fn name(&self) -> &str {
        "HotInsertExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let Some(input) = children.pop() else {
            return datafusion::common::internal_err!("HotInsertExec needs one input");
        };
        Ok(Arc::new(Self::new(self.table.clone(), input)))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        if partition != 0 {
            return datafusion::common::internal_err!("HotInsertExec has one partition");
        }
        let input = self.input.execute(0, context.clone())?;
        let table = self.table.clone();
        let future = async move {
            let batches: Vec<RecordBatch> = input.try_collect().await?;
            let schema = batches
                .first()
                .map(|b| b.schema())
                .unwrap_or_else(|| table.user_schema().clone());
            let rows = arrow::compute::concat_batches(&schema, &batches)?;
            let state = SessionStateBuilder::new()
                .with_config(context.session_config().clone())
                .with_runtime_env(context.runtime_env())
                .build();
            let txn = table.transaction().clone();
            let written = crate::dml::insert(&state, &table, rows, None, &[]).await;
            let written = match written {
                Ok(w) => w,
                Err(e) => {
                    if !txn.is_explicit() {
                        // Also undoes the table of a CTAS in autocommit.
                        if let Err(undo) = txn.rollback(table.warehouse()).await {
                            return Err(e.with_context("rollback", undo));
                        }
                    }
                    return Err(e);
                }
            };
            if !txn.is_explicit() {
                txn.commit(table.warehouse()).await?;
            }
            let count: ArrayRef = Arc::new(UInt64Array::from(vec![written.count]));
            Ok(RecordBatch::try_new(count_schema(), vec![count])?)
        };
        let stream = futures::stream::once(async move {
            future
                .await
                .map_err(|e: Error| datafusion::error::DataFusionError::from(e))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(count_schema(), stream)))
    }
}
