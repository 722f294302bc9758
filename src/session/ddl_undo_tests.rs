//! The undo log of transactional DDL, through a session: a schema change
//! made by a raw Iceberg commit (what ALTER TABLE does) and logged as
//! [`DdlUndo::RestoreSchema`] is taken back by ROLLBACK.

use std::sync::Arc;

use iceberg::spec::{NestedField, PrimitiveType, Schema, Type};
use iceberg::{TableIdent, TableRequirement, TableUpdate};

use crate::error::{ErrorKind, Result};
use crate::hot::TableName;
use crate::transaction::DdlUndo;
use crate::{CompactionMode, Warehouse, WarehouseConfig};

/// Add a nullable `email` column to `table` in one commit, as ALTER TABLE
/// ADD COLUMN would; returns the schema id before it.
async fn add_email_column(session: &super::Session, ident: &TableIdent) -> Result<i32> {
    let loaded = session.warehouse.load_table(ident).await?;
    let metadata = loaded.metadata();
    let before = metadata.current_schema_id();
    let current = metadata.current_schema();
    let mut fields = current.as_struct().fields().to_vec();
    fields.push(Arc::new(NestedField::optional(
        metadata.last_column_id() + 1,
        "email",
        Type::Primitive(PrimitiveType::String),
    )));
    let schema = Schema::builder()
        .with_schema_id(before + 1)
        .with_fields(fields)
        .with_identifier_field_ids(current.identifier_field_ids())
        .build()?;
    session
        .warehouse
        .catalog
        .commit_table(
            ident,
            vec![TableRequirement::CurrentSchemaIdMatch {
                current_schema_id: before,
            }],
            vec![
                TableUpdate::AddSchema { schema },
                TableUpdate::SetCurrentSchema { schema_id: -1 },
            ],
        )
        .await?;
    Ok(before)
}

async fn current_schema_id(session: &super::Session, ident: &TableIdent) -> Result<i32> {
    Ok(session
        .warehouse
        .load_table(ident)
        .await?
        .metadata()
        .current_schema_id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_restores_the_schema_before_an_alter() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let wh = Warehouse::open(WarehouseConfig::new(dir.path()).with_compaction(CompactionMode::Manual)).await?;
    let session = wh.session();
    session
        .execute("CREATE TABLE users (id int PRIMARY KEY, name text); INSERT INTO users VALUES (1, 'ann')")
        .await?;
    let ident = TableIdent::from_strs(["public", "users"])?;
    let table = TableName::new("public", "users");

    session.execute("BEGIN").await?;
    session.txn.acquire(&session.warehouse).await?;
    let before = add_email_column(&session, &ident).await?;
    session.txn.record_ddl(DdlUndo::RestoreSchema {
        table: table.clone(),
        schema_id: before,
        properties: Vec::new(),
    });
    session.query("SELECT email FROM users").await?;
    session.execute("ROLLBACK").await?;

    assert_eq!(current_schema_id(&session, &ident).await?, before);
    let err = session
        .query("SELECT email FROM users")
        .await
        .expect_err("the column is gone again");
    assert!(err.to_string().contains("email"), "{err}");
    let rows = session.query("SELECT id, name FROM users").await?;
    assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 1, "data untouched");

    // COMMIT keeps the change: the undo log is forgotten.
    session.execute("BEGIN").await?;
    let before = add_email_column(&session, &ident).await?;
    session.txn.record_ddl(DdlUndo::RestoreSchema {
        table,
        schema_id: before,
        properties: Vec::new(),
    });
    session.execute("COMMIT").await?;
    // A new schema (the column gets a new field id, so a new schema id).
    assert!(current_schema_id(&session, &ident).await? > before);
    session.query("SELECT email FROM users").await?;
    Ok(())
}

/// An undo that cannot be done is an error for ROLLBACK naming the table;
/// the transaction is over all the same, and the other undos still ran.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_undo_is_reported_with_its_table() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let wh = Warehouse::open(WarehouseConfig::new(dir.path()).with_compaction(CompactionMode::Manual)).await?;
    let session = wh.session();
    session.execute("CREATE TABLE users (id int)").await?;
    session.execute("BEGIN; CREATE TABLE made (id int)").await?;
    session.txn.record_ddl(DdlUndo::RestoreSchema {
        table: TableName::new("public", "users"),
        schema_id: 42,
        properties: Vec::new(),
    });
    let err = session.execute("ROLLBACK").await.expect_err("no schema 42");
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert!(err.to_string().contains("table: public.users"), "{err}");
    assert_eq!(
        session.transaction_status(),
        crate::transaction::TransactionStatus::Idle
    );
    let made = TableIdent::from_strs(["public", "made"])?;
    assert!(
        !session.warehouse.catalog.table_exists(&made).await?,
        "earlier undo ran"
    );
    Ok(())
}
