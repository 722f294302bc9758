//! `ALTER TABLE ... ADD COLUMN / DROP COLUMN / RENAME COLUMN`: Iceberg
//! schema evolution by field id, in one catalog commit.
//!
//! Nothing is rewritten. Every Parquet file and every WAL entry records the
//! field id of each column it holds, and readers map what they read onto the
//! current schema by id (`crate::hot::decode_batch` for the WAL,
//! `crate::table::field_ids` for Parquet): a renamed column keeps its values,
//! a dropped one is no longer read, and one added later is NULL in older
//! rows. A column dropped and added again under the same name gets a new id,
//! so its old values never come back.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{AlterTable, AlterTableOperation, ColumnOption, Ident};
use iceberg::spec::{NestedField, NestedFieldRef, Schema, TableMetadata};
use iceberg::{TableIdent, TableRequirement, TableUpdate};

use super::{Session, StatementOutput, resolve_table};
use crate::error::{Error, ErrorKind, Result};
use crate::hot::TableName;
use crate::sql::ddl::props;
use crate::sql::types::pg_to_iceberg;
use crate::table::constraints::{self, CONSTRAINTS, Constraint};
use crate::table::hidden;
use crate::transaction::DdlUndo;

/// PostgreSQL's identifier rule: lower-cased unless quoted.
fn column_name(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// The schema and properties an ALTER TABLE works on, changed operation by
/// operation before one commit.
struct Evolution<'a> {
    table: &'a TableName,
    metadata: &'a TableMetadata,
    fields: Vec<NestedFieldRef>,
    identifier_ids: Vec<i32>,
    last_column_id: i32,
    constraints: Vec<Constraint>,
    sort_by: Option<Vec<String>>,
}

impl<'a> Evolution<'a> {
    fn new(table: &'a TableName, metadata: &'a TableMetadata) -> Result<Self> {
        let schema = metadata.current_schema();
        Ok(Self {
            table,
            metadata,
            fields: schema.as_struct().fields().to_vec(),
            identifier_ids: schema.identifier_field_ids().collect(),
            last_column_id: metadata.last_column_id(),
            constraints: constraints::from_properties(metadata.properties())?,
            sort_by: metadata.properties().get(props::SORT_BY).map(|list| {
                list.split(',')
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect()
            }),
        })
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    fn missing(&self, name: &str) -> Error {
        Error::new(
            ErrorKind::UndefinedColumn,
            format!("column \"{name}\" of relation \"{}\" does not exist", self.table.name),
        )
    }

    fn not_hidden(&self, name: &str) -> Result<()> {
        if hidden::is_hidden(name) {
            return Err(Error::plan(format!(
                "column name \"{name}\" is reserved for thermocline's hidden columns"
            )));
        }
        Ok(())
    }

    fn add(&mut self, name: String, field: NestedField, if_not_exists: bool) -> Result<()> {
        self.not_hidden(&name)?;
        if self.position(&name).is_some() {
            if if_not_exists {
                return Ok(());
            }
            return Err(Error::new(
                ErrorKind::DuplicateColumn,
                format!("column \"{name}\" of relation \"{}\" already exists", self.table.name),
            ));
        }
        self.last_column_id += 1;
        let mut field = field;
        field.id = self.last_column_id;
        self.fields.push(Arc::new(field));
        Ok(())
    }

    fn drop_column(&mut self, name: &str, if_exists: bool) -> Result<()> {
        self.not_hidden(name)?;
        let Some(index) = self.position(name) else {
            return match if_exists {
                true => Ok(()),
                false => Err(self.missing(name)),
            };
        };
        let id = self.fields[index].id;
        for spec in self.metadata.partition_specs_iter() {
            if spec.fields().iter().any(|p| p.source_id == id) {
                return Err(Error::new(
                    ErrorKind::DependentObjects,
                    format!(
                        "cannot drop column \"{name}\" of table \"{}\": the table is partitioned by it",
                        self.table.name
                    ),
                ));
            }
        }
        self.not_shard_key(name, "drop")?;
        if self.sort_by.as_ref().is_some_and(|s| s.iter().any(|c| c == name)) {
            return Err(Error::new(
                ErrorKind::DependentObjects,
                format!(
                    "cannot drop column \"{name}\" of table \"{}\": the table's sort_by names it",
                    self.table.name
                ),
            ));
        }
        let users = self.fields.iter().filter(|f| !hidden::is_hidden(&f.name)).count();
        if users == 1 {
            return Err(Error::not_supported(format!(
                "cannot drop \"{name}\", the last column of table \"{}\"",
                self.table.name
            )));
        }
        // PostgreSQL drops the constraints that involve the column with it.
        self.constraints.retain(|c| !c.columns.iter().any(|k| k == name));
        self.identifier_ids.retain(|i| *i != id);
        self.fields.remove(index);
        Ok(())
    }

    /// Rows were routed by the shard key's values: it stays as it is.
    fn not_shard_key(&self, name: &str, action: &str) -> Result<()> {
        if self
            .metadata
            .properties()
            .get(crate::shard::routing::SHARD_KEY)
            .map(String::as_str)
            == Some(name)
        {
            return Err(Error::new(
                ErrorKind::DependentObjects,
                format!(
                    "cannot {action} column \"{name}\" of table \"{}\": it is the table's shard key",
                    self.table.name
                ),
            ));
        }
        Ok(())
    }

    fn rename(&mut self, old: &str, new: String) -> Result<()> {
        self.not_hidden(old)?;
        self.not_hidden(&new)?;
        self.not_shard_key(old, "rename")?;
        let index = self.position(old).ok_or_else(|| self.missing(old))?;
        if self.position(&new).is_some() {
            return Err(Error::new(
                ErrorKind::DuplicateColumn,
                format!("column \"{new}\" of relation \"{}\" already exists", self.table.name),
            ));
        }
        let mut field = self.fields[index].as_ref().clone();
        field.name = new.clone();
        self.fields[index] = Arc::new(field);
        for constraint in &mut self.constraints {
            for column in &mut constraint.columns {
                if column == old {
                    *column = new.clone();
                }
            }
        }
        if let Some(sort_by) = &mut self.sort_by {
            for column in sort_by.iter_mut() {
                if column == old {
                    *column = new.clone();
                }
            }
        }
        Ok(())
    }

    /// The catalog updates for the evolved schema and properties.
    fn into_updates(self) -> Result<Vec<TableUpdate>> {
        let schema = Schema::builder()
            .with_schema_id(self.metadata.schemas_iter().map(|s| s.schema_id()).max().unwrap_or(0) + 1)
            .with_fields(self.fields)
            .with_identifier_field_ids(self.identifier_ids)
            .build()?;
        let mut updates = vec![
            TableUpdate::AddSchema { schema },
            TableUpdate::SetCurrentSchema { schema_id: -1 },
        ];
        let mut set = HashMap::new();
        let mut remove = Vec::new();
        match self.constraints.is_empty() {
            true if self.metadata.properties().contains_key(CONSTRAINTS) => remove.push(CONSTRAINTS.to_string()),
            true => {}
            false => {
                set.insert(CONSTRAINTS.to_string(), constraints::to_property(&self.constraints)?);
            }
        }
        if let Some(sort_by) = self.sort_by {
            set.insert(props::SORT_BY.to_string(), sort_by.join(","));
        }
        if !set.is_empty() {
            updates.push(TableUpdate::SetProperties { updates: set });
        }
        if !remove.is_empty() {
            updates.push(TableUpdate::RemoveProperties { removals: remove });
        }
        Ok(updates)
    }
}

impl Session {
    pub(super) async fn alter_table(&self, alter: AlterTable) -> Result<StatementOutput> {
        let table = resolve_table(&alter.name)?;
        self.alter_table_named(&table, alter)
            .await
            .map_err(|e| super::with_table(e, table.to_string()))
    }

    async fn alter_table_named(&self, table: &TableName, alter: AlterTable) -> Result<StatementOutput> {
        let ident = TableIdent::from_strs([table.namespace.as_str(), table.name.as_str()])?;
        if !self.warehouse.catalog.table_exists(&ident).await? {
            if alter.if_exists {
                return Ok(StatementOutput::command("ALTER TABLE"));
            }
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("relation \"{}\" does not exist", table.name),
            ));
        }
        if !self.txn.staged(table).is_empty() {
            return Err(Error::not_supported(
                "ALTER TABLE after writing to the same table in this transaction is not supported",
            ));
        }
        // No writer stages rows and no compaction maps the WAL onto the
        // schema while it changes.
        self.txn.acquire(&self.warehouse).await?;
        let _compaction = self.warehouse.lock_compactions(table).await?;
        let loaded = self.warehouse.load_table(&ident).await?;
        let metadata = loaded.metadata();
        let mut evolution = Evolution::new(table, metadata)?;
        for operation in &alter.operations {
            match operation {
                AlterTableOperation::AddColumn {
                    if_not_exists,
                    column_def,
                    column_position: None,
                    ..
                } => {
                    let name = column_name(&column_def.name);
                    let (data_type, pg_type) = pg_to_iceberg(&column_def.data_type, &name)?;
                    let mut required = false;
                    for option in &column_def.options {
                        match &option.option {
                            ColumnOption::Null => required = false,
                            ColumnOption::NotNull => required = true,
                            other => {
                                return Err(Error::not_supported(format!(
                                    "ADD COLUMN with {other} is not supported yet (existing rows would need it)"
                                ))
                                .with_context("column", &name));
                            }
                        }
                    }
                    if required && self.has_rows(table).await? {
                        return Err(Error::new(
                            ErrorKind::Constraint,
                            format!("column \"{name}\" of relation \"{}\" contains null values", table.name),
                        ));
                    }
                    let field = NestedField::new(0, &name, data_type, required).with_doc(&pg_type);
                    evolution.add(name, field, *if_not_exists)?;
                }
                AlterTableOperation::DropColumn {
                    column_names,
                    if_exists,
                    ..
                } => {
                    for ident in column_names {
                        evolution.drop_column(&column_name(ident), *if_exists)?;
                    }
                }
                AlterTableOperation::RenameColumn {
                    old_column_name,
                    new_column_name,
                } => evolution.rename(&column_name(old_column_name), column_name(new_column_name))?,
                other => {
                    return Err(Error::not_supported(format!(
                        "ALTER TABLE ... {other} is not supported"
                    )));
                }
            }
        }
        let requirements = vec![
            TableRequirement::CurrentSchemaIdMatch {
                current_schema_id: metadata.current_schema_id(),
            },
            TableRequirement::LastAssignedFieldIdMatch {
                last_assigned_field_id: metadata.last_column_id(),
            },
        ];
        let updates = evolution.into_updates()?;
        // What ROLLBACK (or a failure later in the transaction) puts back.
        let properties = [CONSTRAINTS, props::SORT_BY]
            .into_iter()
            .map(|key| (key.to_string(), metadata.properties().get(key).cloned()))
            .collect();
        let undo = DdlUndo::RestoreSchema {
            table: table.clone(),
            schema_id: metadata.current_schema_id(),
            properties,
        };
        // Pinned before the commit: no compaction may write files with the
        // new schema while the transaction can still roll it back.
        if self.txn.is_explicit() {
            self.txn.pin_schema(self.warehouse.pin_schema(table));
        }
        self.warehouse
            .catalog
            .commit_table(&ident, requirements, updates)
            .await?;
        self.txn.record_ddl(undo);
        Ok(StatementOutput::command("ALTER TABLE"))
    }

    /// Whether the table holds any row, hot or cold.
    async fn has_rows(&self, table: &TableName) -> Result<bool> {
        let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
        let sql = format!(
            "SELECT 1 FROM {}.{} LIMIT 1",
            quote(&table.namespace),
            quote(&table.name)
        );
        let batches = self.ctx.sql(&sql).await?.collect().await?;
        Ok(batches.iter().any(|b| b.num_rows() > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_follow_postgres_case_rules() {
        assert_eq!(column_name(&Ident::new("Email")), "email");
        assert_eq!(column_name(&Ident::with_quote('"', "Email")), "Email");
    }
}
