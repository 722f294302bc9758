//! Transactional DDL: what a transaction's CREATE TABLE, CREATE SCHEMA and
//! ALTER TABLE did to the catalog, and how to take it back.
//!
//! The catalog has no transactions of its own, so DDL takes effect at once
//! and the transaction keeps an undo log ([`DdlUndo`]). ROLLBACK, a failed
//! COMMIT, a failed autocommit statement (a CTAS whose SELECT fails after
//! the table was made) or a session dropped mid-transaction runs the log in
//! reverse order; a successful COMMIT forgets it. DROP TABLE cannot be
//! undone (it deletes files), so inside a transaction it is deferred to
//! COMMIT instead ([`purge_table`] then runs).
//!
//! What an undo must guarantee: **nothing acknowledged is lost.** A DDL
//! statement in a transaction takes the shard's write lock, so no other
//! writer of this shard can commit rows into a table this transaction made
//! before it ends; an undo still checks, and keeps (and reports) a table
//! that holds committed rows rather than drop them.

use std::collections::HashMap;

use iceberg::{NamespaceIdent, TableIdent, TableRequirement, TableUpdate};

use crate::error::{Error, ErrorKind, Result};
use crate::hot::TableName;
use crate::warehouse::WarehouseInner;

/// One entry of a transaction's undo log: how to take back one DDL change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DdlUndo {
    /// CREATE TABLE (or CTAS) made this table: drop it.
    DropCreatedTable(TableName),
    /// CREATE SCHEMA made this namespace: drop it (it is empty once the
    /// tables made after it are undone).
    DropCreatedSchema(String),
    /// ALTER TABLE changed the table's schema: make `schema_id` (the one
    /// before the change) current again. Iceberg keeps every schema, so
    /// this is one catalog commit and no data is touched.
    /// `properties` are the values the ALTER changed, as they were before
    /// (`None`: the property was absent), e.g. the key constraints a DROP
    /// COLUMN took with it.
    RestoreSchema {
        table: TableName,
        schema_id: i32,
        properties: Vec<(String, Option<String>)>,
    },
}

impl DdlUndo {
    /// The object the undo works on, for messages.
    pub fn object(&self) -> String {
        match self {
            DdlUndo::DropCreatedTable(table) | DdlUndo::RestoreSchema { table, .. } => table.to_string(),
            DdlUndo::DropCreatedSchema(schema) => schema.clone(),
        }
    }

    /// Take the change back. Something already gone counts as undone.
    pub(crate) async fn undo(&self, wh: &WarehouseInner) -> Result<()> {
        match self {
            DdlUndo::DropCreatedTable(table) => drop_created_table(wh, table).await,
            DdlUndo::DropCreatedSchema(schema) => drop_created_schema(wh, schema).await,
            DdlUndo::RestoreSchema {
                table,
                schema_id,
                properties,
            } => restore_schema(wh, table, *schema_id, properties).await,
        }
        .map_err(|e| {
            let context = match self {
                DdlUndo::DropCreatedSchema(_) => "schema",
                _ => "table",
            };
            if e.context().iter().any(|(k, _)| *k == context) {
                e
            } else {
                e.with_context(context, self.object())
            }
        })
    }
}

/// Undo `log` newest first. Every entry is tried; each failure is logged
/// with the object it names, and the first is returned.
pub(crate) async fn undo_all(wh: &WarehouseInner, log: Vec<DdlUndo>) -> Result<()> {
    let mut first_error = None;
    for entry in log.into_iter().rev() {
        if let Err(e) = entry.undo(wh).await {
            tracing::error!(object = %entry.object(), "rolling back DDL failed: {e}");
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

fn ident(table: &TableName) -> Result<TableIdent> {
    Ok(TableIdent::from_strs([table.namespace.as_str(), table.name.as_str()])?)
}

/// Drop a table now: its Iceberg metadata and files, its WAL in every
/// local shard and its change log. What DROP TABLE does outside a transaction and at
/// COMMIT inside one.
pub(crate) async fn purge_table(wh: &WarehouseInner, table: &TableName) -> Result<()> {
    let ident = ident(table)?;
    // No compaction commits into a table that is going away.
    let _guards = wh.lock_compactions(table).await?;
    // Remote shards' WALs first: rows left there would come back in a
    // table created later under the same name.
    if let Some(remote) = &wh.remote {
        remote
            .drop_wal(table)
            .await
            .map_err(|e| e.with_context("table", table))?;
    }
    wh.catalog
        .purge_table(&ident)
        .await
        .map_err(|e| Error::from(e).with_context("table", table))?;
    for shard in wh.local_shards()? {
        shard.hot.drop_wal(table)?;
    }
    let log = crate::history::log::log_name(table);
    let log_ident = TableIdent::from_strs([log.namespace.as_str(), log.name.as_str()])?;
    if wh.catalog.table_exists(&log_ident).await? {
        wh.catalog
            .purge_table(&log_ident)
            .await
            .map_err(|e| Error::from(e).with_context("table", &log))?;
    }
    Ok(())
}

async fn drop_created_table(wh: &WarehouseInner, table: &TableName) -> Result<()> {
    let ident = ident(table)?;
    let loaded = match wh.load_table(&ident).await {
        Ok(loaded) => loaded,
        // Never made it into the catalog, or already gone: only a WAL may
        // be left (dropping a missing one is a no-op).
        Err(e) if e.kind() == ErrorKind::NotFound => {
            for shard in wh.local_shards()? {
                shard.hot.drop_wal(table)?;
            }
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    // The transaction's own rows were only staged, never committed: any
    // committed row (in the WAL, or compacted into a snapshot) is someone
    // else's acknowledged write.
    let mut committed_hot = false;
    for shard in wh.local_shards()? {
        committed_hot |= match shard.hot.stats(table) {
            Ok(stats) => stats.max_lsn > 0,
            Err(e) if e.kind() == ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
    }
    if committed_hot || loaded.metadata().current_snapshot().is_some() {
        return Err(Error::new(
            ErrorKind::DependentObjects,
            format!(
                "table \"{}\" was created in the rolled-back transaction but is kept: it holds committed rows",
                table.name
            ),
        ));
    }
    purge_table(wh, table).await
}

async fn drop_created_schema(wh: &WarehouseInner, schema: &str) -> Result<()> {
    let ident = NamespaceIdent::from_strs(schema.split('.'))?;
    match wh.catalog.drop_namespace(&ident).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == iceberg::ErrorKind::NamespaceNotFound => Ok(()),
        // Not empty: another session made a table in it.
        Err(e) => Err(Error::from(e)),
    }
}

/// Make `schema_id` the table's current schema again, in one commit that
/// requires the current schema to be the one we just read (so a concurrent
/// change is never silently overwritten: the commit fails instead).
async fn restore_schema(
    wh: &WarehouseInner,
    table: &TableName,
    schema_id: i32,
    properties: &[(String, Option<String>)],
) -> Result<()> {
    let ident = ident(table)?;
    // Compaction maps WAL entries onto the current schema: not while it
    // changes.
    let _guards = wh.lock_compactions(table).await?;
    let loaded = match wh.load_table(&ident).await {
        Ok(loaded) => loaded,
        // Dropped since: there is no schema left to restore.
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let metadata = loaded.metadata();
    let current = metadata.current_schema_id();
    let changed_properties = properties
        .iter()
        .any(|(key, value)| metadata.properties().get(key) != value.as_ref());
    if current == schema_id && !changed_properties {
        return Ok(());
    }
    if metadata.schema_by_id(schema_id).is_none() {
        return Err(Error::internal(format!(
            "cannot restore schema {schema_id} of table \"{}\": the table has no such schema",
            table.name
        )));
    }
    let mut updates = vec![TableUpdate::SetCurrentSchema { schema_id }];
    let set: HashMap<String, String> = properties
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
        .collect();
    let removals: Vec<String> = properties
        .iter()
        .filter(|(k, v)| v.is_none() && metadata.properties().contains_key(k))
        .map(|(k, _)| k.clone())
        .collect();
    if !set.is_empty() {
        updates.push(TableUpdate::SetProperties { updates: set });
    }
    if !removals.is_empty() {
        updates.push(TableUpdate::RemoveProperties { removals });
    }
    wh.catalog
        .commit_table(
            &ident,
            vec![TableRequirement::CurrentSchemaIdMatch {
                current_schema_id: current,
            }],
            updates,
        )
        .await
        .map_err(|e| Error::from(e).with_context("schema_id", schema_id))?;
    Ok(())
}
