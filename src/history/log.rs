//! The change log: every delete event a shard committed (a DELETE, or the
//! old half of an UPDATE), kept in an Iceberg table `<table>$changes` beside
//! the data table (Trino's `$` convention for a table's companion tables).
//!
//! Why it exists: compaction applies deletes to Iceberg by rewriting files
//! (copy-on-write), so the data table only ever holds live row versions.
//! The versions that were deleted, with their before-images, the lsn and
//! commit time of the delete, and the successor of an updated row, live here
//! instead, and survive WAL truncation. Time travel and CDC read the two
//! together (see [`super::versions`]).
//!
//! Inserts are not logged: every live version is in the data table with its
//! `_lsn` and `_commit_ts`, and every deleted one is here as a before-image
//! with `_row_lsn` and `_row_commit_ts`.
//!
//! Exactly once, by the same rule as the data table: the log records each
//! shard's watermark in the commit that appends its events, and compaction
//! appends to the log *before* it commits the data table (which is before it
//! truncates the WAL). A crash in between leaves the events in the WAL and
//! the log's watermark tells the next compaction which are already logged.
//!
//! The log's schema is the data table's user columns with the same field
//! ids (so readers map before-images by id after an ALTER TABLE), then the
//! event columns below with fixed ids far above any the data table assigns.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, new_null_array};
use arrow::datatypes::SchemaRef;
use iceberg::spec::{NestedField, PrimitiveType, Schema, Type};
use iceberg::table::Table;
use iceberg::writer::{IcebergWriter, IcebergWriterBuilder};
use iceberg::{NamespaceIdent, TableCreation, TableIdent, TableRequirement, TableUpdate};
use thermocline_catalog::watermark::{CommitOutcome, WatermarkCommit};

use crate::error::{Error, ErrorKind, Result};
use crate::hot::{Lsn, TableName, WalEntry, WalOp};
use crate::table::hidden;
use crate::table::row_id::{NEW_LSN, ROW_COMMIT_TS, ROW_LSN, ROW_SHARD};
use crate::warehouse::WarehouseInner;
use crate::write::files;

/// Suffix of a change log's table name.
pub const SUFFIX: &str = "$changes";
/// Table property of a change log naming its data table.
pub const LOG_OF: &str = "thermocline.changes-of";
/// Field ids of the event columns start above this.
const EVENT_FIELD_BASE: i32 = 2_000_000_000;

/// The change log of `table`.
pub fn log_name(table: &TableName) -> TableName {
    TableName::new(table.namespace.clone(), format!("{}{SUFFIX}", table.name))
}

/// Whether a table name is a change log's (hidden from listings, refused
/// for CREATE TABLE).
pub fn is_log_name(name: &str) -> bool {
    name.ends_with(SUFFIX)
}

fn ident(table: &TableName) -> Result<TableIdent> {
    Ok(TableIdent::from_strs([table.namespace.as_str(), table.name.as_str()])?)
}

/// The event columns, after the before-image: `(name, type, required)`.
/// `_lsn`, `_commit_ts` and `_shard` are the delete event's own (hidden
/// columns, as in the data table).
fn event_fields() -> Vec<NestedField> {
    let long = || Type::Primitive(PrimitiveType::Long);
    let string = || Type::Primitive(PrimitiveType::String);
    let ts = || Type::Primitive(PrimitiveType::Timestamptz);
    let fields = [
        (hidden::LSN, long(), true, "lsn of the delete event"),
        (hidden::COMMIT_TS, ts(), true, "commit time of the delete event"),
        (hidden::SHARD, string(), true, "shard that wrote the delete event"),
        (ROW_SHARD, string(), true, "shard of the deleted version"),
        (ROW_LSN, long(), true, "lsn of the deleted version"),
        (ROW_COMMIT_TS, ts(), false, "commit time of the deleted version"),
        (
            NEW_LSN,
            long(),
            false,
            "lsn of the version that replaced it (UPDATE), or NULL (DELETE)",
        ),
    ];
    fields
        .into_iter()
        .enumerate()
        .map(|(i, (name, ty, required, doc))| {
            NestedField::new(EVENT_FIELD_BASE + i as i32 + 1, name, ty, required)
                .with_doc(format!("thermocline: {doc}"))
        })
        .collect()
}

/// The log's schema for the data table's current schema.
pub fn log_schema(data: &Schema) -> Result<Schema> {
    let mut fields: Vec<Arc<NestedField>> = data
        .as_struct()
        .fields()
        .iter()
        .filter(|f| !hidden::is_hidden(&f.name))
        .map(|f| {
            let mut field = f.as_ref().clone();
            // A before-image of a NOT NULL column is never NULL, but the
            // column may be added later with older events lacking it.
            field.required = false;
            Arc::new(field)
        })
        .collect();
    fields.extend(event_fields().into_iter().map(Arc::new));
    Ok(Schema::builder().with_fields(fields).build()?)
}

fn same_fields(a: &Schema, b: &Schema) -> bool {
    let key = |s: &Schema| {
        s.as_struct()
            .fields()
            .iter()
            .map(|f| (f.id, f.name.clone(), f.field_type.to_string()))
            .collect::<Vec<_>>()
    };
    key(a) == key(b)
}

/// Load the log of `table`, or `None` when it has none yet.
pub async fn load(wh: &WarehouseInner, table: &TableName) -> Result<Option<Table>> {
    let ident = ident(&log_name(table))?;
    if !wh.catalog.table_exists(&ident).await? {
        return Ok(None);
    }
    Ok(Some(wh.load_table(&ident).await?))
}

/// Load the log, creating it (or evolving its schema to follow the data
/// table's) as needed. Shards compacting at once may race to do it: the
/// compactors of this process take turns, and a conflict with another
/// process's change is retried on the table it made.
async fn load_for_append(wh: &WarehouseInner, table: &TableName, data: &Table) -> Result<Table> {
    let commit_lock = wh.commit_lock(&log_name(table));
    let _turn = commit_lock.lock().await;
    const ATTEMPTS: u64 = 5;
    for attempt in 1..=ATTEMPTS {
        if let Some(log) = try_load_for_append(wh, table, data).await? {
            return Ok(log);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10 * attempt)).await;
    }
    Err(Error::new(
        ErrorKind::Catalog,
        format!("the change log's schema kept changing under {ATTEMPTS} attempts to update it"),
    )
    .with_context("table", log_name(table)))
}

/// One attempt of [`load_for_append`]: `None` when another writer changed
/// the log's schema first.
async fn try_load_for_append(wh: &WarehouseInner, table: &TableName, data: &Table) -> Result<Option<Table>> {
    let wanted = log_schema(data.metadata().current_schema())?;
    let name = log_name(table);
    let ident = ident(&name)?;
    let log = match load(wh, table).await? {
        Some(log) => log,
        None => {
            let creation = TableCreation::builder()
                .name(name.name.clone())
                .schema(wanted.clone())
                .properties(HashMap::from([
                    (LOG_OF.to_string(), table.name.clone()),
                    ("write.format.default".to_string(), "parquet".to_string()),
                    (crate::sql::ddl::props::COMPRESSION.to_string(), "zstd".to_string()),
                ]))
                .build();
            let namespace = NamespaceIdent::from_strs(table.namespace.split('.'))?;
            match wh.catalog.create_table(&namespace, creation).await {
                Ok(_) => {}
                // Another compactor made it first.
                Err(e) if e.kind() == iceberg::ErrorKind::TableAlreadyExists => {}
                Err(e) => return Err(Error::from(e).with_context("table", &name)),
            }
            wh.load_table(&ident).await?
        }
    };
    if same_fields(log.metadata().current_schema(), &wanted) {
        return Ok(Some(log));
    }
    let metadata = log.metadata();
    let wanted = wanted
        .into_builder()
        .with_schema_id(metadata.schemas_iter().map(|s| s.schema_id()).max().unwrap_or(0) + 1);
    let requirements = vec![TableRequirement::CurrentSchemaIdMatch {
        current_schema_id: metadata.current_schema_id(),
    }];
    let updates = vec![
        TableUpdate::AddSchema {
            schema: wanted.build()?,
        },
        TableUpdate::SetCurrentSchema { schema_id: -1 },
    ];
    match wh.catalog.commit_table(&ident, requirements, updates).await {
        Ok(log) => Ok(Some(log)),
        Err(e) if e.kind() == iceberg::ErrorKind::CatalogCommitConflicts => Ok(None),
        Err(e) => Err(Error::from(e).with_context("table", &name)),
    }
}

/// Append the delete events among `entries` (read with the data table's
/// current columns, see [`crate::table::wal_fields`]) that lie above the
/// log's watermark for `shard` and at or below `upto`, and record `upto` as
/// that watermark, in one commit. Returns the number of events appended.
pub async fn append(
    wh: &WarehouseInner,
    table: &TableName,
    data: &Table,
    entries: &[WalEntry],
    shard: &str,
    upto: Lsn,
    target_file_size: u64,
) -> Result<u64> {
    // Most compactions carry no deletes: no catalog round trip for them.
    if !entries.iter().any(|e| e.op == WalOp::Delete) {
        return Ok(0);
    }
    let existing = load(wh, table).await?;
    let logged = existing.as_ref().map_or(0, |log| {
        thermocline_catalog::watermark::watermark(log.metadata(), None, shard)
    });
    if logged >= upto || !entries.iter().any(|e| e.op == WalOp::Delete && e.last_lsn > logged) {
        return Ok(0);
    }
    let log = load_for_append(wh, table, data).await?;
    let logged = thermocline_catalog::watermark::watermark(log.metadata(), None, shard);
    if logged >= upto {
        return Ok(0);
    }
    let schema: SchemaRef = Arc::new(iceberg::arrow::schema_to_arrow_schema(log.metadata().current_schema())?);
    let mut batches = Vec::new();
    for entry in entries.iter().filter(|e| e.op == WalOp::Delete) {
        let first = entry.first_lsn.max(logged + 1);
        let last = entry.last_lsn.min(upto);
        if first > last {
            continue;
        }
        let rows = entry
            .batch
            .slice((first - entry.first_lsn) as usize, (last - first + 1) as usize);
        batches.push(event_batch(&schema, &rows, entry, first, shard)?);
    }
    let events: u64 = batches.iter().map(|b| b.num_rows() as u64).sum();
    if events == 0 {
        return Ok(0);
    }
    let builder = files::data_file_writers(&log, &format!("{shard}-{upto:020}-changes"), target_file_size)?;
    let mut writer = builder.build(None).await?;
    for batch in batches {
        writer.write(batch).await?;
    }
    let data_files = writer.close().await?;
    let commit_lock = wh.commit_lock(&log_name(table));
    let committing = commit_lock.lock().await;
    let outcome = WatermarkCommit::new(ident(&log_name(table))?, shard, logged, upto, data_files.clone())
        .commit(wh.catalog.as_ref())
        .await
        .map_err(|e| Error::from(e).with_context("table", log_name(table)))?;
    drop(committing);
    if let CommitOutcome::Superseded { .. } = outcome {
        // Another compactor of this shard logged these events first.
        for file in &data_files {
            if let Err(e) = log.file_io().delete(file.file_path()).await {
                tracing::warn!("could not delete superseded file {}: {e}", file.file_path());
            }
        }
        return Ok(0);
    }
    Ok(events)
}

/// One delete entry's rows (`rows`, lsns from `first`) in the log's schema.
fn event_batch(
    schema: &SchemaRef,
    rows: &RecordBatch,
    entry: &WalEntry,
    first: Lsn,
    shard: &str,
) -> Result<RecordBatch> {
    let n = rows.num_rows();
    let wal_rows = hidden::WalRows {
        first,
        n,
        commit_ts: &entry.commit_ts,
        shard,
    };
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let column: ArrayRef = match wal_rows.column(field.name()) {
            Some(hidden) => hidden,
            None => match rows.column_by_name(field.name()) {
                Some(c) if c.data_type() == field.data_type() => c.clone(),
                Some(c) => arrow::compute::cast(c, field.data_type())?,
                // A column added after the event, or `_row_commit_ts` of
                // entries written before it was recorded.
                None => new_null_array(field.data_type(), n),
            },
        };
        columns.push(column);
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| {
        Error::internal("delete events do not fit the change log's schema")
            .with_context("lsn", first)
            .with_source(e)
    })
}
