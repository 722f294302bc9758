//! [`TieredTable`]: one DataFusion table over a hot tier and an Iceberg table.
//!
//! # The cut
//! Every scan reads Iceberg snapshot `S` plus the hot rows with
//! `lsn > W(S, shard)`. The order of the two reads is what makes this exact
//! while compaction runs concurrently:
//! 1. read the hot tier in one SQLite transaction: the local watermark `Wl`
//!    and every entry above it;
//! 2. then load the table's current snapshot `S`. Compaction commits to
//!    Iceberg *before* it truncates the WAL, so `W(S) >= Wl`, and every row
//!    above `W(S)` is still in what step 1 read;
//! 3. drop hot rows with `lsn <= W(S)`: they are already in `S`.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::Session as DfSession;
use datafusion::common::{DFSchema, Statistics};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use futures::TryStreamExt;
use iceberg::TableIdent;
use iceberg::scan::FileScanTask;
use iceberg::spec::TableMetadata;

use super::hot_scan::HotScanExec;
use super::insert::HotInsertExec;
use super::tiered_scan::{ColdFiles, CutSummary, TieredScanExec};
use super::{hidden, predicate};
use crate::error::{Error, ErrorKind, Result};
use crate::hot::{HotSnapshot, Lsn, TableName};
use crate::warehouse::WarehouseInner;

/// A table whose rows live in a hot tier and an Iceberg table.
#[derive(Debug)]
pub struct TieredTable {
    name: TableName,
    ident: TableIdent,
    /// User columns only; hidden columns stay in Parquet.
    schema: SchemaRef,
    /// Which user columns may not be NULL.
    required: Vec<bool>,
    warehouse: Arc<WarehouseInner>,
}

impl TieredTable {
    /// A provider for the table as its current metadata describes it.
    pub fn try_new(name: TableName, metadata: &TableMetadata, warehouse: Arc<WarehouseInner>) -> Result<Self> {
        let ident = TableIdent::from_strs([name.namespace.as_str(), name.name.as_str()])?;
        let (schema, required) = user_schema(metadata)?;
        Ok(Self {
            name,
            ident,
            schema,
            required,
            warehouse,
        })
    }

    pub fn name(&self) -> &TableName {
        &self.name
    }

    /// Read the cut described in the module docs.
    async fn read_cut(&self, projection: Option<&[usize]>) -> Result<(HotSnapshot, iceberg::table::Table, Lsn)> {
        let hot = match self.warehouse.hot.read(&self.name, None, projection) {
            Ok(hot) => hot,
            // A table created by another engine has no WAL here: no hot rows.
            Err(e) if e.kind() == ErrorKind::NotFound => HotSnapshot::default(),
            Err(e) => return Err(e),
        };
        let table = self.warehouse.load_table(&self.ident).await?;
        let watermark = thermocline_catalog::watermark::watermark(table.metadata(), None, self.warehouse.hot.shard())
            .max(hot.local_watermark);
        Ok((hot, table, watermark))
    }

    async fn plan_cold(
        &self,
        state: &dyn DfSession,
        table: &iceberg::table::Table,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
        cut: &mut CutSummary,
    ) -> Result<Option<(Arc<dyn ExecutionPlan>, ColdFiles)>> {
        let metadata = table.metadata();
        cut.cold_rows = Some(0);
        let Some(snapshot) = metadata.current_snapshot() else {
            return Ok(None);
        };
        cut.snapshot_id = Some(snapshot.snapshot_id());
        cut.files_total = snapshot
            .summary()
            .additional_properties
            .get("total-data-files")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);

        let iceberg_schema = metadata.current_schema();
        let mut scan = table.scan().snapshot_id(snapshot.snapshot_id());
        scan = match projection {
            Some(p) => scan.select(p.iter().map(|i| self.schema.field(*i).name().clone())),
            None => scan.select(self.schema.fields().iter().map(|f| f.name().clone())),
        };
        if let Some(p) = predicate::to_iceberg(filters, iceberg_schema) {
            scan = scan.with_filter(p);
        }
        let tasks: Vec<FileScanTask> = scan
            .build()
            .map_err(|e| Error::from(e).with_context("table", &self.name))?
            .plan_files()
            .await
            .map_err(|e| Error::from(e).with_context("table", &self.name))?
            .try_collect()
            .await
            .map_err(|e| Error::from(e).with_context("table", &self.name))?;
        cut.files_planned = tasks.len();
        cut.cold_rows = tasks.iter().map(|t| t.record_count).sum::<Option<u64>>();
        cut.limited = limit.is_some();
        if tasks.is_empty() {
            return Ok(None);
        }

        let mut files = Vec::with_capacity(tasks.len());
        let mut store_url = None;
        for task in &tasks {
            if let Some(delete) = task.deletes.first() {
                return Err(
                    Error::not_supported("tables with Iceberg delete files are not readable yet")
                        .with_context("table", &self.name)
                        .with_context("delete file", &delete.file_path),
                );
            }
            let (url, path) = self.warehouse.object_location(&task.data_file_path)?;
            store_url.get_or_insert(url);
            files.push(PartitionedFile::new(path.to_string(), task.file_size_in_bytes));
        }
        let store_url = store_url.ok_or_else(|| Error::internal("no store for planned files"))?;

        // Spread files over the session's partitions, largest first, so each
        // partition gets a similar number of bytes.
        let partitions = state.config().target_partitions().max(1).min(files.len());
        files.sort_by_key(|f| std::cmp::Reverse(f.object_meta.size));
        let mut groups: Vec<(u64, Vec<PartitionedFile>)> = vec![(0, Vec::new()); partitions];
        for file in files {
            if let Some(lightest) = groups.iter_mut().min_by_key(|(bytes, _)| *bytes) {
                lightest.0 += file.object_meta.size;
                lightest.1.push(file);
            }
        }
        let cold_files = ColdFiles {
            store: self.warehouse.store_for(&store_url)?,
            groups: groups
                .iter()
                .map(|(_, g)| {
                    g.iter()
                        .map(|f| {
                            let location = self.warehouse.location_of(&store_url, &f.object_meta.location);
                            (location, f.object_meta.location.clone(), f.object_meta.size)
                        })
                        .collect()
                })
                .collect(),
        };
        let file_groups = groups.into_iter().map(|(_, g)| FileGroup::new(g)).collect();

        let mut source = ParquetSource::new(self.schema.clone())
            .with_table_parquet_options(state.default_table_options().parquet)
            .with_enable_page_index(true);
        if let Some(filter) = conjunction(filters.to_vec()) {
            let df_schema = DFSchema::try_from(self.schema.as_ref().clone())?;
            let physical = state.create_physical_expr(filter, &df_schema)?;
            source = source.with_predicate(physical);
        }
        let config = FileScanConfigBuilder::new(store_url, Arc::new(source))
            .with_file_groups(file_groups)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .build();
        Ok(Some((DataSourceExec::from_data_source(config), cold_files)))
    }
}

/// The Arrow schema of a table's user columns, and their NOT NULL flags.
pub fn user_schema(metadata: &TableMetadata) -> Result<(SchemaRef, Vec<bool>)> {
    let arrow = iceberg::arrow::schema_to_arrow_schema(metadata.current_schema())?;
    let mut fields = Vec::new();
    let mut required = Vec::new();
    for field in arrow.fields() {
        if hidden::is_hidden(field.name()) {
            continue;
        }
        required.push(!field.is_nullable());
        // Plain fields: the DataFusion side never needs Parquet field ids, and
        // metadata would make hot and cold schemas differ. All nullable on
        // purpose: DataFusion would otherwise reject a NULL while building
        // the VALUES batch, before our check can name the column the way
        // PostgreSQL does. NOT NULL lives in `required` and in Iceberg.
        fields.push(arrow::datatypes::Field::new(
            field.name(),
            field.data_type().clone(),
            true,
        ));
    }
    Ok((Arc::new(arrow::datatypes::Schema::new(fields)), required))
}

/// Keep only rows with `lsn > watermark`; each entry knows its first lsn.
fn rows_above(hot: HotSnapshot, watermark: Lsn) -> (Vec<RecordBatch>, usize) {
    let entries = hot.entries.len();
    let batches = hot
        .entries
        .into_iter()
        .filter(|e| e.last_lsn > watermark)
        .map(|e| {
            if e.first_lsn > watermark {
                e.batch
            } else {
                let skip = (watermark - e.first_lsn + 1) as usize;
                e.batch.slice(skip, e.batch.num_rows() - skip)
            }
        })
        .filter(|b| b.num_rows() > 0)
        .collect();
    (batches, entries)
}

#[async_trait]
impl TableProvider for TieredTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // Used for pruning only; DataFusion re-applies every filter.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    fn statistics(&self) -> Option<Statistics> {
        None
    }

    async fn scan(
        &self,
        state: &dyn DfSession,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let projected = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => self.schema.clone(),
        };
        let (hot, table, watermark) = self.read_cut(projection.map(|p| p.as_slice())).await?;
        let shard = self.warehouse.hot.shard().to_string();
        let (batches, entries) = rows_above(hot, watermark);
        // An empty projection (COUNT(*)) still needs the row count: decode
        // gives zero-column batches with the right number of rows.
        let mut cut = CutSummary {
            table: self.name.to_string(),
            shard: shard.clone(),
            watermark,
            hot_rows: batches.iter().map(|b| b.num_rows()).sum(),
            ..CutSummary::default()
        };
        let cold = self
            .plan_cold(state, &table, projection, filters, limit, &mut cut)
            .await?;
        let hot_exec: Arc<dyn ExecutionPlan> = Arc::new(HotScanExec::new(
            self.name.to_string(),
            shard,
            watermark,
            entries,
            batches,
            projected.clone(),
        ));
        let mut children = vec![hot_exec];
        let cold_files = cold.map(|(plan, files)| {
            children.push(plan);
            files
        });
        Ok(Arc::new(TieredScanExec::try_new(cut, children, cold_files)?))
    }

    async fn insert_into(
        &self,
        _state: &dyn DfSession,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if insert_op != InsertOp::Append {
            return Err(
                Error::not_supported(format!("{insert_op} is not supported; use INSERT INTO"))
                    .with_context("table", &self.name)
                    .into(),
            );
        }
        Ok(Arc::new(HotInsertExec::new(
            self.name.clone(),
            self.schema.clone(),
            self.required.clone(),
            input,
            self.warehouse.clone(),
        )))
    }
}
