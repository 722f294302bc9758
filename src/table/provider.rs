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
//!
//! A sharded table has one hot tier per shard: step 1 reads each shard the
//! scan needs (all of them, or the owners of the key values its filter
//! fixes), each in its own transaction, and step 3 uses each shard's own
//! watermark `W(S, shard)`. The argument above holds shard by shard.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::Session as DfSession;
use datafusion::common::{DFSchema, Statistics};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
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

use super::constraints::{self, Constraint};
use super::hot_scan::{HotPart, HotScanExec};
use super::insert::HotInsertExec;
use super::row_id::DeletedRows;
use super::tiered_scan::{ColdFiles, CutSummary, RowFilter, ShardCut, TieredScanExec};
use super::{hidden, predicate};
use crate::error::{Error, ErrorKind, Result};
use crate::hot::{HotSnapshot, Lsn, TableName, WalOp};
use crate::shard::Sharding;
use crate::shard::remote::exec::{OpenCuts, RemoteShardExec, TailExec};
use crate::transaction::TransactionState;
use crate::warehouse::WarehouseInner;

mod remote_cut;

pub use remote_cut::{PARTIAL_RESULTS, ShardTailRows};

/// A table whose rows live in a hot tier and an Iceberg table.
#[derive(Debug, Clone)]
pub struct TieredTable {
    name: TableName,
    ident: TableIdent,
    /// User columns; with `row_ids`, followed by `_lsn` and `_shard`.
    schema: SchemaRef,
    /// User columns only (hidden columns stay in Parquet).
    user_schema: SchemaRef,
    /// Which user columns may not be NULL.
    required: Vec<bool>,
    /// PRIMARY KEY and UNIQUE constraints.
    constraints: Vec<Constraint>,
    /// Which user columns are `jsonb` (validated and normalised on write).
    jsonb: Vec<bool>,
    /// The user columns with their Iceberg field ids: how WAL entries are
    /// written and read (see [`crate::hot::decode_batch`]).
    wal_fields: Vec<FieldRef>,
    warehouse: Arc<WarehouseInner>,
    /// The session's transaction: its staged writes are part of every scan.
    txn: Arc<TransactionState>,
    /// A cut read beforehand, which every scan then uses instead of reading
    /// its own: history reads it once for several plans over one instant.
    pinned: Option<Arc<PinnedCut>>,
    /// How rows are spread over shards; `None`: all in the home shard.
    sharding: Option<Arc<Sharding>>,
}

/// One shard's part of a cut: its hot entries and its watermark in the
/// snapshot read.
#[derive(Debug)]
struct ShardTail {
    shard: String,
    hot: HotSnapshot,
    watermark: Lsn,
}

/// A cut read ahead of planning (see [`TieredTable::pinned`]).
#[derive(Debug)]
pub struct PinnedCut {
    /// Hot entries, Insert entries with every user column in table order.
    pub hot: HotSnapshot,
    /// The table as loaded right after `hot` was read.
    pub table: iceberg::table::Table,
    /// Read this snapshot instead of the current one (and no hot rows).
    pub snapshot_id: Option<i64>,
}

impl TieredTable {
    /// A provider for the table as its current metadata describes it, seen
    /// from a session whose transaction is `txn`.
    pub fn try_new(
        name: TableName,
        metadata: &TableMetadata,
        warehouse: Arc<WarehouseInner>,
        txn: Arc<TransactionState>,
    ) -> Result<Self> {
        let ident = TableIdent::from_strs([name.namespace.as_str(), name.name.as_str()])?;
        let (schema, required) = user_schema(metadata)?;
        let wal_fields = wal_fields(metadata)?;
        let constraints =
            constraints::from_properties(metadata.properties()).map_err(|e| e.with_context("table", &name))?;
        let sharding = Sharding::from_properties(metadata.properties())
            .map_err(|e| e.with_context("table", &name))?
            .map(Arc::new);
        let jsonb = metadata
            .current_schema()
            .as_struct()
            .fields()
            .iter()
            .filter(|f| !hidden::is_hidden(&f.name))
            .map(|f| f.doc.as_deref() == Some("jsonb"))
            .collect();
        Ok(Self {
            name,
            ident,
            schema: schema.clone(),
            user_schema: schema,
            required,
            constraints,
            jsonb,
            wal_fields,
            warehouse,
            txn,
            pinned: None,
            sharding,
        })
    }

    /// The table's sharding, if it is sharded.
    pub fn sharding(&self) -> Option<&Sharding> {
        self.sharding.as_deref()
    }

    /// Every shard that holds the table's hot rows.
    pub fn shards(&self) -> Vec<String> {
        match &self.sharding {
            Some(sharding) => sharding.shard_names(),
            None => vec![self.warehouse.config.shard.clone()],
        }
    }

    /// The rows of `batch` (user columns in table order) by the shard that
    /// owns them, shards in name order. An unsharded table's rows all belong
    /// to the home shard. A row without its shard key is an error.
    pub fn shard_rows(&self, batch: &RecordBatch) -> Result<std::collections::BTreeMap<String, Vec<u32>>> {
        let mut rows: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
        let Some(sharding) = &self.sharding else {
            rows.insert(
                self.warehouse.config.shard.clone(),
                (0..batch.num_rows() as u32).collect(),
            );
            return Ok(rows);
        };
        let key = self.user_schema.index_of(&sharding.key).map_err(|_| {
            Error::new(
                ErrorKind::UndefinedColumn,
                format!("shard key column \"{}\" does not exist", sharding.key),
            )
            .with_context("table", &self.name)
        })?;
        let owners = sharding.route(&self.name.name, batch.column(key))?;
        for (row, owner) in owners.into_iter().enumerate() {
            rows.entry(crate::shard::shard_name(owner))
                .or_default()
                .push(row as u32);
        }
        Ok(rows)
    }

    /// The shards a scan with `filters` reads, and whether the filters
    /// narrowed them.
    fn shards_to_read(&self, filters: &[Expr]) -> (Vec<String>, bool) {
        match &self.sharding {
            Some(sharding) => match self
                .user_schema
                .field_with_name(&sharding.key)
                .ok()
                .and_then(|f| crate::shard::shards_for_filters(sharding, f.data_type(), filters))
            {
                Some(owners) => (owners.into_iter().map(crate::shard::shard_name).collect(), true),
                None => (sharding.shard_names(), false),
            },
            None => (vec![self.warehouse.config.shard.clone()], false),
        }
    }

    /// The same table, with each row version's `_lsn`, `_shard` and
    /// `_commit_ts` after the user columns.
    pub fn with_row_ids(&self) -> Self {
        let mut fields: Vec<arrow::datatypes::FieldRef> = self.user_schema.fields().iter().cloned().collect();
        fields.push(Arc::new(Field::new(hidden::LSN, DataType::Int64, true)));
        fields.push(Arc::new(Field::new(hidden::SHARD, DataType::Utf8, true)));
        fields.push(Arc::new(Field::new(hidden::COMMIT_TS, hidden::commit_ts_type(), true)));
        Self {
            schema: Arc::new(Schema::new(fields)),
            ..self.clone()
        }
    }

    /// The same table, planned over `cut` instead of a cut of its own.
    pub fn pinned(&self, cut: Arc<PinnedCut>) -> Self {
        Self {
            pinned: Some(cut),
            ..self.clone()
        }
    }

    pub fn name(&self) -> &TableName {
        &self.name
    }

    pub fn user_schema(&self) -> &SchemaRef {
        &self.user_schema
    }

    pub fn required(&self) -> &[bool] {
        &self.required
    }

    pub fn constraints(&self) -> &[Constraint] {
        &self.constraints
    }

    pub fn jsonb_columns(&self) -> &[bool] {
        &self.jsonb
    }

    /// The user columns with their Iceberg field ids.
    pub fn wal_fields(&self) -> &[FieldRef] {
        &self.wal_fields
    }

    /// `batch` (user columns first, in table order, then any identity
    /// columns) with the field ids of the user columns in its schema, as
    /// every WAL entry is written: readers map old entries by them after
    /// `ALTER TABLE`.
    pub fn wal_batch(&self, batch: RecordBatch) -> Result<RecordBatch> {
        let schema = batch.schema();
        let fields: Vec<FieldRef> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| match self.wal_fields.get(i) {
                Some(w) if w.name() == f.name() => Arc::new(f.as_ref().clone().with_metadata(w.metadata().clone())),
                _ => f.clone(),
            })
            .collect();
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        Ok(RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            batch.columns().to_vec(),
            &options,
        )?)
    }

    pub fn transaction(&self) -> &Arc<TransactionState> {
        &self.txn
    }

    pub(crate) fn warehouse(&self) -> &Arc<WarehouseInner> {
        &self.warehouse
    }

    /// Read the cut described in the module docs over `shards`, plus the
    /// transaction's staged entries (which sit above every committed lsn).
    /// `user_projection` applies to the user columns of insert entries.
    async fn read_cut(
        &self,
        user_projection: Option<&[usize]>,
        shards: &[String],
    ) -> Result<(Vec<ShardTail>, iceberg::table::Table)> {
        if let Some(pinned) = &self.pinned {
            let mut hot = pinned.hot.clone();
            if let Some(p) = user_projection {
                for entry in hot.entries.iter_mut().filter(|e| e.op == WalOp::Insert) {
                    entry.batch = entry.batch.project(p)?;
                }
            }
            let shard = self.warehouse.hot.shard();
            let watermark =
                thermocline_catalog::watermark::watermark(pinned.table.metadata(), pinned.snapshot_id, shard)
                    .max(hot.local_watermark);
            let tail = ShardTail {
                shard: shard.to_string(),
                hot,
                watermark,
            };
            return Ok((vec![tail], pinned.table.clone()));
        }
        let columns: Option<Vec<FieldRef>> =
            user_projection.map(|p| p.iter().map(|i| self.wal_fields[*i].clone()).collect());
        let mut tails = Vec::with_capacity(shards.len());
        for shard in shards {
            let hot = match self.warehouse.hot_of(shard)?.read(&self.name, None, columns.as_deref()) {
                Ok(hot) => hot,
                // A table created by another engine, or a shard not written
                // yet, has no WAL here: no hot rows.
                Err(e) if e.kind() == ErrorKind::NotFound => HotSnapshot::default(),
                Err(e) => return Err(e.with_context("shard", shard)),
            };
            tails.push(ShardTail {
                shard: shard.clone(),
                hot,
                watermark: 0,
            });
        }
        for (shard, mut entry) in self.txn.staged(&self.name) {
            if let (WalOp::Insert, Some(p)) = (entry.op, user_projection) {
                entry.batch = entry.batch.project(p)?;
            }
            // Staged rows of a shard the filters ruled out cannot match them.
            if let Some(tail) = tails.iter_mut().find(|t| t.shard == shard) {
                tail.hot.entries.push(entry);
            }
        }
        let table = self.warehouse.load_table(&self.ident).await?;
        for tail in &mut tails {
            tail.watermark = thermocline_catalog::watermark::watermark(table.metadata(), None, &tail.shard)
                .max(tail.hot.local_watermark);
        }
        Ok((tails, table))
    }

    /// The cold side: Iceberg planning (partition, manifest and metrics
    /// pruning), then a Parquet scan. `projection` indexes this provider's
    /// schema. When rows were deleted above the cut (or row ids are asked
    /// for) the scan also reads `_lsn` and `_shard`; `RowFilter` says how to
    /// drop deleted versions and the columns only the filter needed.
    #[allow(clippy::too_many_arguments)]
    async fn plan_cold(
        &self,
        state: &dyn DfSession,
        table: &iceberg::table::Table,
        projection: &[usize],
        filters: &[Expr],
        limit: Option<usize>,
        deleted: &Arc<DeletedRows>,
        cut: &mut CutSummary,
    ) -> Result<Option<(Arc<dyn ExecutionPlan>, ColdFiles, Option<RowFilter>)>> {
        let metadata = table.metadata();
        cut.cold_rows = Some(0);
        let snapshot = match self.pinned.as_ref().and_then(|p| p.snapshot_id) {
            Some(id) => Some(metadata.snapshot_by_id(id).ok_or_else(|| {
                Error::new(
                    ErrorKind::NotFound,
                    format!("snapshot {id} of table \"{}\" does not exist", self.name.name),
                )
            })?),
            None => metadata.current_snapshot(),
        };
        let Some(snapshot) = snapshot else {
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
        // The file schema: user columns, then the identity columns.
        let users = self.user_schema.fields().len();
        let file_schema = self.with_row_ids().schema;
        let mut file_projection = projection.to_vec();
        let filter_deleted = !deleted.is_empty();
        if filter_deleted {
            for id in [users, users + 1] {
                if !file_projection.contains(&id) {
                    file_projection.push(id);
                }
            }
        }
        // Iceberg plans with the snapshot's schema, which may predate an
        // ALTER TABLE: filters name columns as that schema does (by field
        // id), and the Parquet scan below does its own projection.
        let snapshot_schema = snapshot.schema(metadata)?;
        // Planning only: the Parquet scan below projects by itself.
        let scan = table.scan().snapshot_id(snapshot.snapshot_id()).select_empty();
        let planned_filters = predicate::rename_for(filters, iceberg_schema, &snapshot_schema);
        let scan = match predicate::to_iceberg(&planned_filters, &snapshot_schema) {
            Some(p) => scan.with_filter(p),
            None => scan,
        };
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
        // Deleted versions make the files' record counts an upper bound.
        cut.cold_rows = match filter_deleted {
            true => None,
            false => tasks.iter().map(|t| t.record_count).sum::<Option<u64>>(),
        };
        // A LIMIT pushed below the delete filter could come up short.
        let limit = limit.filter(|_| !filter_deleted);
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
        // Footers and page indexes come from the runtime's metadata cache:
        // data files never change once written, so each is parsed once.
        let metadata_cache = state.runtime_env().cache_manager.get_file_metadata_cache();
        let (mut files, cold_statistics) = super::cold_stats::attach(
            files,
            self.warehouse.store_for(&store_url)?,
            metadata_cache.clone(),
            &file_schema,
            iceberg_schema,
        )
        .await;

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
        // Reads are counted for the session's progress display.
        let planned_bytes: u64 = cold_files.groups.iter().flatten().map(|(_, _, size)| *size).sum();
        let file_groups: Vec<FileGroup> = groups.into_iter().map(|(_, g)| FileGroup::new(g)).collect();
        let (file_groups, cold_files) = split_into_ranges(file_groups, cold_files, state.config_options());

        self.txn.scan_progress().planned(tasks.len() as u64, planned_bytes);
        let counted: Arc<dyn object_store::ObjectStore> = Arc::new(super::scan_progress::CountingStore::new(
            cold_files.store.clone(),
            self.txn.scan_progress().clone(),
        ));
        let readers = CachedParquetFileReaderFactory::new(counted, metadata_cache);
        let mut source = ParquetSource::new(file_schema.clone())
            .with_table_parquet_options(state.default_table_options().parquet)
            .with_parquet_file_reader_factory(Arc::new(readers))
            .with_enable_page_index(true);
        if let Some(filter) = conjunction(filters.to_vec()) {
            let df_schema = DFSchema::try_from(file_schema.as_ref().clone())?;
            let physical = state.create_physical_expr(filter, &df_schema)?;
            source = source.with_predicate(physical);
        }
        let mut config = FileScanConfigBuilder::new(store_url, Arc::new(source));
        if let Some(statistics) = cold_statistics {
            config = config.with_statistics(statistics);
        }
        let config = config
            .with_file_groups(file_groups)
            .with_projection_indices(Some(file_projection.clone()))?
            .with_limit(limit)
            // Columns are matched to each file's by Iceberg field id, so
            // renamed and dropped-then-re-added columns read correctly.
            .with_expr_adapter(Some(Arc::new(super::field_ids::FieldIdAdapterFactory::from_iceberg(
                iceberg_schema,
            ))))
            .build();
        let row_filter = filter_deleted.then(|| RowFilter {
            deleted: deleted.clone(),
            lsn: file_projection.iter().position(|i| *i == users).unwrap_or_default(),
            shard: file_projection.iter().position(|i| *i == users + 1).unwrap_or_default(),
            keep: (0..projection.len()).collect(),
        });
        Ok(Some((DataSourceExec::from_data_source(config), cold_files, row_filter)))
    }
}

/// Fewer files than partitions (a small table written in one file, a
/// filter that keeps one month) leave cores idle: as DataFusion does for a
/// plain Parquet table (`datafusion.optimizer.repartition_file_scans`), the
/// files are cut into byte ranges of about equal size, one group per
/// partition. The Parquet reader reads each row group in the range holding
/// its middle, so a range is whole row groups and every row is read once.
fn split_into_ranges(
    groups: Vec<FileGroup>,
    cold_files: ColdFiles,
    config: &datafusion::config::ConfigOptions,
) -> (Vec<FileGroup>, ColdFiles) {
    let partitions = config.execution.target_partitions.max(1);
    let files: usize = groups.iter().map(FileGroup::len).sum();
    if !config.optimizer.repartition_file_scans || files >= partitions {
        return (groups, cold_files);
    }
    let Some(split) = datafusion::datasource::physical_plan::FileGroupPartitioner::new()
        .with_target_partitions(partitions)
        .with_repartition_file_min_size(config.optimizer.repartition_file_min_size)
        .repartition_file_groups(&groups)
    else {
        return (groups, cold_files);
    };
    let by_path: std::collections::HashMap<&object_store::path::Path, &(String, object_store::path::Path, u64)> =
        cold_files.groups.iter().flatten().map(|f| (&f.1, f)).collect();
    let named = split
        .iter()
        .map(|g| {
            g.iter()
                .filter_map(|f| by_path.get(&f.object_meta.location).map(|&f| f.clone()))
                .collect()
        })
        .collect();
    let cold_files = ColdFiles {
        store: cold_files.store.clone(),
        groups: named,
    };
    (split, cold_files)
}

/// The Arrow schema of a table's user columns, and their NOT NULL flags.
pub fn user_schema(metadata: &TableMetadata) -> Result<(SchemaRef, Vec<bool>)> {
    let arrow = iceberg::arrow::schema_to_arrow_schema(metadata.current_schema())?;
    let docs: std::collections::HashMap<&str, &str> = metadata
        .current_schema()
        .as_struct()
        .fields()
        .iter()
        .filter_map(|f| f.doc.as_deref().map(|d| (f.name.as_str(), d)))
        .collect();
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
        let plain = arrow::datatypes::Field::new(field.name(), field.data_type().clone(), true);
        // Types Arrow cannot tell apart (jsonb and varchar are Utf8,
        // smallint is Int32 in Iceberg) ride in the field metadata, so
        // clients (the wire protocol's OIDs, `\d`) see what was declared.
        fields.push(match docs.get(field.name().as_str()) {
            Some(&pg @ ("jsonb" | "smallint" | "varchar")) => {
                plain.with_metadata([(crate::sql::pg_types::PG_TYPE_KEY.to_string(), pg.to_string())].into())
            }
            _ => plain,
        });
    }
    Ok((Arc::new(arrow::datatypes::Schema::new(fields)), required))
}

/// The user columns of the table's current schema, each with its Iceberg
/// field id in the Arrow field metadata ([`crate::hot::FIELD_ID`]).
pub fn wal_fields(metadata: &TableMetadata) -> Result<Vec<FieldRef>> {
    let arrow = iceberg::arrow::schema_to_arrow_schema(metadata.current_schema())?;
    Ok(arrow
        .fields()
        .iter()
        .filter(|f| !hidden::is_hidden(f.name()))
        .map(|f| {
            let id = f.metadata().get(crate::hot::FIELD_ID).cloned().unwrap_or_default();
            Arc::new(
                Field::new(f.name(), f.data_type().clone(), true)
                    .with_metadata([(crate::hot::FIELD_ID.to_string(), id)].into()),
            )
        })
        .collect())
}

/// Hot rows of one shard's cut: insert entries' rows above `watermark`,
/// without the versions in `deleted`, shaped to `projection` of the provider
/// schema (`users` user columns, then `_lsn`, `_shard`, `_commit_ts`; the
/// user columns of each batch are already projected to the user part of
/// `projection`).
fn hot_rows(
    hot: HotSnapshot,
    watermark: Lsn,
    shard: &str,
    users: usize,
    projection: &[usize],
    schema: &SchemaRef,
    deleted: &DeletedRows,
) -> Result<Vec<RecordBatch>> {
    let mut batches = Vec::new();
    for entry in hot.entries {
        if entry.op != WalOp::Insert || entry.last_lsn <= watermark {
            continue;
        }
        let skip = (watermark + 1 - entry.first_lsn).max(0) as usize;
        let rows = entry.batch.slice(skip, entry.batch.num_rows() - skip);
        let first = entry.first_lsn + skip as Lsn;
        let n = rows.num_rows();
        let wal_rows = hidden::WalRows {
            first,
            n,
            commit_ts: &entry.commit_ts,
            shard,
        };
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(projection.len());
        let mut user_index = 0;
        for i in projection {
            if *i < users {
                columns.push(rows.column(user_index).clone());
                user_index += 1;
            } else if *i == users {
                columns.push(wal_rows.lsn());
            } else if *i == users + 1 {
                columns.push(wal_rows.shard());
            } else {
                columns.push(wal_rows.commit_ts());
            }
        }
        let options = RecordBatchOptions::new().with_row_count(Some(n));
        let mut batch = RecordBatch::try_new_with_options(schema.clone(), columns, &options)?;
        if let Some(mask) = deleted.keep_mask_range(shard, first, n) {
            batch = arrow::compute::filter_record_batch(&batch, &mask)?;
        }
        if batch.num_rows() > 0 {
            batches.push(batch);
        }
    }
    coalesce(schema, batches)
}

/// Rows per batch the hot scan aims for when it joins small entries.
const HOT_BATCH_ROWS: usize = 8192;

/// Join runs of small batches into batches of about [`HOT_BATCH_ROWS`]
/// rows. A table written row by row has one WAL entry per row, and every
/// operator above the scan pays per batch, not per row.
fn coalesce(schema: &SchemaRef, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    if batches.len() <= 1 {
        return Ok(batches);
    }
    let mut out = Vec::new();
    let mut run: Vec<RecordBatch> = Vec::new();
    let mut rows = 0;
    let flush = |run: &mut Vec<RecordBatch>, out: &mut Vec<RecordBatch>| -> Result<()> {
        match run.len() {
            0 => {}
            1 => out.append(run),
            _ => {
                out.push(arrow::compute::concat_batches(schema, run.iter())?);
                run.clear();
            }
        }
        Ok(())
    };
    for batch in batches {
        if batch.num_rows() >= HOT_BATCH_ROWS {
            flush(&mut run, &mut out)?;
            rows = 0;
            out.push(batch);
            continue;
        }
        if rows + batch.num_rows() > HOT_BATCH_ROWS {
            flush(&mut run, &mut out)?;
            rows = 0;
        }
        rows += batch.num_rows();
        run.push(batch);
    }
    flush(&mut run, &mut out)?;
    Ok(out)
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
        let projection: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let projected = Arc::new(self.schema.project(&projection)?);
        let users = self.user_schema.fields().len();
        let user_projection: Vec<usize> = projection.iter().copied().filter(|i| *i < users).collect();
        let (shards, narrowed) = self.shards_to_read(filters);
        // Shards other processes host are read through their cuts (see
        // `crate::shard::remote`), after the snapshot is loaded.
        let remote = self.warehouse.remote.clone().filter(|_| self.pinned.is_none());
        let (remote_shards, local_shards): (Vec<String>, Vec<String>) = shards
            .into_iter()
            .partition(|s| remote.as_ref().is_some_and(|r| r.contains(s)));
        let (mut tails, mut table) = self.read_cut(Some(&user_projection), &local_shards).await?;
        let mut remote_cuts = Vec::new();
        let mut missing = Vec::new();
        if let Some(remote) = remote.as_ref().filter(|_| !remote_shards.is_empty()) {
            let partial = crate::pg_catalog::settings::get(state.config_options(), PARTIAL_RESULTS)
                .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "on" | "true" | "1" | "yes"));
            let columns: Vec<String> = projected.fields().iter().map(|f| f.name().clone()).collect();
            let (newer, opened, left_out) = self
                .open_remote_cuts(remote, &remote_shards, &columns, table, partial)
                .await?;
            table = newer;
            // Any snapshot loaded after the local hot reads makes a cut with
            // them (module docs), the one the remote cuts used included.
            for tail in &mut tails {
                tail.watermark = thermocline_catalog::watermark::watermark(table.metadata(), None, &tail.shard)
                    .max(tail.hot.local_watermark);
            }
            remote_cuts = opened;
            missing = left_out;
        }
        // Versions deleted above the cut, whichever shard wrote the delete.
        let mut deleted = DeletedRows::default();
        for tail in &tails {
            deleted.extend(&DeletedRows::above(&tail.hot.entries, tail.watermark)?);
        }
        for (_, opened) in &remote_cuts {
            for (shard, lsns) in &opened.deleted {
                for lsn in lsns {
                    deleted.insert(shard, *lsn);
                }
            }
        }
        for shard in &missing {
            deleted.drop_shard(shard);
        }
        if !missing.is_empty() {
            self.txn.warn(format!(
                "partial answer: table \"{}\" is missing shards {} (unreachable)",
                self.name.name,
                missing.join(", ")
            ));
        }
        // An empty projection (COUNT(*)) still needs the row count: decode
        // gives zero-column batches with the right number of rows.
        let mut parts = Vec::with_capacity(tails.len());
        for tail in tails {
            let entries = tail.hot.entries.len();
            let batches = hot_rows(
                tail.hot,
                tail.watermark,
                &tail.shard,
                users,
                &projection,
                &projected,
                &deleted,
            )?;
            parts.push(HotPart::new(tail.shard, tail.watermark, entries, batches));
        }
        let deleted = Arc::new(deleted);
        let mut shard_cuts: Vec<ShardCut> = parts
            .iter()
            .map(|p| ShardCut {
                shard: p.shard.clone(),
                watermark: p.watermark,
                hot_rows: p.row_count(),
                server: None,
            })
            .collect();
        shard_cuts.extend(remote_cuts.iter().map(|(c, _)| ShardCut {
            shard: c.shard.clone(),
            watermark: c.watermark,
            hot_rows: c.rows,
            server: remote.as_ref().and_then(|r| r.endpoint(&c.shard)).map(str::to_string),
        }));
        let mut cut = CutSummary {
            table: self.name.to_string(),
            shards: shard_cuts,
            missing_shards: missing,
            shards_total: self.sharding.as_ref().map(|s| s.count as usize),
            shards_narrowed: narrowed,
            deleted_rows: deleted.len(),
            ..CutSummary::default()
        };
        let cold = self
            .plan_cold(state, &table, &projection, filters, limit, &deleted, &mut cut)
            .await?;
        let hot_exec: Arc<dyn ExecutionPlan> =
            Arc::new(HotScanExec::new(self.name.to_string(), parts, projected.clone()));
        let mut children = vec![hot_exec];
        if let (Some(remote), false) = (&remote, remote_cuts.is_empty()) {
            let cuts = Arc::new(OpenCuts {
                remote: remote.clone(),
                cuts: remote_cuts.into_iter().map(|(c, _)| c).collect(),
            });
            // The bare tail: rows. `crate::shard::pushdown` moves more of
            // the plan into the fragment where it can.
            let tail = Arc::new(TailExec::new(projected.clone()));
            children.push(Arc::new(RemoteShardExec::try_new(self.name.to_string(), cuts, tail)?));
        }
        let mut row_filter = None;
        let cold_files = cold.map(|(plan, files, filter)| {
            children.push(plan);
            row_filter = filter;
            files
        });
        Ok(Arc::new(TieredScanExec::try_new(
            cut, children, cold_files, row_filter,
        )?))
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
        Ok(Arc::new(HotInsertExec::new(self.clone(), input)))
    }
}
