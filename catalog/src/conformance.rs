//! One conformance suite every thermocline catalog must pass (SQLite now; a
//! REST catalog and a wasm-safe CAS-pointer catalog later), in the spirit of
//! iceberg-rust's `table_suite.rs`. Each `check_*` takes any [`Catalog`] (or,
//! for what thermocline's commits need beyond it, any [`CommitCatalog`]) and
//! a namespace name it may use freely (it must not exist yet), and returns an
//! error describing the first broken expectation.
//!
//! It lives in the library, not under `tests/`, so other crates (and future
//! catalog crates) can run it against their own implementations.

use std::collections::{HashMap, HashSet};

use futures::future::join_all;
use iceberg::spec::{
    DataContentType, DataFile, DataFileBuilder, DataFileFormat, NestedField, PrimitiveType, Schema, Struct, Type,
};
use iceberg::table::Table;
use iceberg::transaction::{ApplyTransactionAction, Transaction};
use iceberg::{Catalog, ErrorKind as K, NamespaceIdent, TableCreation, TableIdent};

use crate::commit::CommitCatalog;
use crate::error::{Error, ErrorKind, Result};
use crate::watermark::{CommitOutcome, WatermarkCommit, watermark, watermarks};

fn fail(check: &'static str, message: impl Into<String>) -> Error {
    Error::new(
        ErrorKind::Unexpected,
        format!("conformance check failed: {}", message.into()),
    )
    .with_context("check", check)
}

macro_rules! ensure {
    ($check:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(fail($check, format!($($fmt)+)));
        }
    };
}

/// Runs `step` and tags any error with the check it belongs to.
fn at<T>(check: &'static str, r: iceberg::Result<T>) -> Result<T> {
    r.map_err(|e| Error::from(e).with_context("check", check))
}

fn expect_kind<T>(check: &'static str, what: &str, r: iceberg::Result<T>, kind: K) -> Result<()> {
    match r {
        Ok(_) => Err(fail(check, format!("{what}: succeeded, expected {kind}"))),
        Err(e) if e.kind() == kind => Ok(()),
        Err(e) => Err(fail(check, format!("{what}: expected {kind}, got {e}"))),
    }
}

fn ident(ns: &str) -> NamespaceIdent {
    NamespaceIdent::new(ns.to_string())
}

/// The two-column schema the suite's tables use.
pub fn test_schema() -> Result<Schema> {
    Ok(Schema::builder()
        .with_fields(vec![
            NestedField::required(1, "id", Type::Primitive(PrimitiveType::Long)).into(),
            NestedField::optional(2, "name", Type::Primitive(PrimitiveType::String)).into(),
        ])
        .build()?)
}

/// A hand-built data file entry under the table's `data/` folder (the file
/// itself is not written: catalogs never read data files).
pub fn test_data_file(table: &Table, name: &str, rows: u64) -> Result<DataFile> {
    DataFileBuilder::default()
        .content(DataContentType::Data)
        .file_path(format!("{}/data/{name}.parquet", table.metadata().location()))
        .file_format(DataFileFormat::Parquet)
        .file_size_in_bytes(1024)
        .record_count(rows)
        .partition(Struct::empty())
        .partition_spec_id(table.metadata().default_partition_spec_id())
        .build()
        .map_err(|e| Error::new(ErrorKind::Unexpected, "could not build test data file").with_source(e))
}

/// Creates a table for the suite; retries are generous so N racing
/// transactions all land (each conflict round lets exactly one through).
pub async fn create_test_table(catalog: &dyn Catalog, ns: &NamespaceIdent, name: &str) -> Result<Table> {
    let creation = TableCreation::builder()
        .name(name.to_string())
        .schema(test_schema()?)
        .properties(HashMap::from([
            ("commit.retry.num-retries".to_string(), "100".to_string()),
            ("commit.retry.min-wait-ms".to_string(), "1".to_string()),
            ("commit.retry.max-wait-ms".to_string(), "20".to_string()),
        ]))
        .build();
    Ok(catalog.create_table(ns, creation).await?)
}

/// Appends one file with a plain iceberg transaction (no watermark).
pub async fn append(catalog: &dyn Catalog, table: &TableIdent, file: &str) -> Result<Table> {
    let table = catalog.load_table(table).await?;
    let tx = Transaction::new(&table);
    let tx = tx
        .fast_append()
        .add_data_files(vec![test_data_file(&table, file, 10)?])
        .apply(tx)?;
    Ok(tx.commit(catalog).await?)
}

fn total_data_files(table: &Table) -> u64 {
    table
        .metadata()
        .current_snapshot()
        .and_then(|s| s.summary().additional_properties.get("total-data-files").cloned())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Namespace CRUD: create, exists, properties, nesting, update, drop, errors.
pub async fn check_namespaces(catalog: &dyn Catalog, ns: &str) -> Result<()> {
    const C: &str = "namespaces";
    let parent = ident(ns);
    let props = HashMap::from([("owner".to_string(), "thermocline".to_string())]);
    let created = at(C, catalog.create_namespace(&parent, props.clone()).await)?;
    ensure!(
        C,
        created.properties() == &props,
        "create returned {:?}",
        created.properties()
    );
    ensure!(
        C,
        at(C, catalog.namespace_exists(&parent).await)?,
        "created namespace does not exist"
    );
    let got = at(C, catalog.get_namespace(&parent).await)?;
    ensure!(
        C,
        got.properties() == &props,
        "get_namespace returned {:?}",
        got.properties()
    );
    expect_kind(
        C,
        "create existing namespace",
        catalog.create_namespace(&parent, HashMap::new()).await,
        K::NamespaceAlreadyExists,
    )?;

    let child = NamespaceIdent::from_strs([ns, "child"])?;
    at(C, catalog.create_namespace(&child, HashMap::new()).await)?;
    let top = at(C, catalog.list_namespaces(None).await)?;
    ensure!(
        C,
        top.contains(&parent) && !top.contains(&child),
        "top-level listing: {top:?}"
    );
    let under = at(C, catalog.list_namespaces(Some(&parent)).await)?;
    ensure!(C, under == vec![child.clone()], "children of {ns}: {under:?}");
    ensure!(
        C,
        at(C, catalog.get_namespace(&child).await)?.properties().is_empty(),
        "child has properties"
    );

    let replaced = HashMap::from([("comment".to_string(), "replaced".to_string())]);
    at(C, catalog.update_namespace(&parent, replaced.clone()).await)?;
    let got = at(C, catalog.get_namespace(&parent).await)?;
    ensure!(
        C,
        got.properties() == &replaced,
        "update must replace all properties: {:?}",
        got.properties()
    );

    at(C, catalog.drop_namespace(&child).await)?;
    at(C, catalog.drop_namespace(&parent).await)?;
    ensure!(
        C,
        !at(C, catalog.namespace_exists(&parent).await)?,
        "dropped namespace still exists"
    );
    expect_kind(
        C,
        "get dropped namespace",
        catalog.get_namespace(&parent).await,
        K::NamespaceNotFound,
    )?;
    expect_kind(
        C,
        "drop missing namespace",
        catalog.drop_namespace(&parent).await,
        K::NamespaceNotFound,
    )?;
    expect_kind(
        C,
        "update missing namespace",
        catalog.update_namespace(&parent, HashMap::new()).await,
        K::NamespaceNotFound,
    )?;
    Ok(())
}

/// Dropping a namespace that still holds a table is refused and changes
/// nothing. (iceberg's `MemoryCatalog` drops recursively: it skips this.)
pub async fn check_drop_non_empty_namespace(catalog: &dyn Catalog, ns: &str) -> Result<()> {
    const C: &str = "drop_non_empty_namespace";
    let nsi = ident(ns);
    at(C, catalog.create_namespace(&nsi, HashMap::new()).await)?;
    create_test_table(catalog, &nsi, "t").await?;
    ensure!(
        C,
        catalog.drop_namespace(&nsi).await.is_err(),
        "dropped a namespace holding a table"
    );
    ensure!(
        C,
        at(C, catalog.namespace_exists(&nsi).await)?,
        "namespace vanished after a refused drop"
    );
    at(C, catalog.drop_table(&TableIdent::new(nsi.clone(), "t".into())).await)?;
    at(C, catalog.drop_namespace(&nsi).await)?;
    Ok(())
}

/// Table lifecycle: create, list, load, exists, rename, register, drop,
/// purge, and the error kinds of each misuse.
pub async fn check_tables(catalog: &dyn Catalog, ns: &str) -> Result<()> {
    const C: &str = "tables";
    let nsi = ident(ns);
    let t = |name: &str| TableIdent::new(nsi.clone(), name.to_string());
    expect_kind(
        C,
        "create table in missing namespace",
        create_test_table(catalog, &nsi, "a")
            .await
            .map_err(iceberg::Error::from),
        K::NamespaceNotFound,
    )?;
    at(C, catalog.create_namespace(&nsi, HashMap::new()).await)?;
    let a = create_test_table(catalog, &nsi, "a").await?;
    create_test_table(catalog, &nsi, "b").await?;
    ensure!(
        C,
        a.metadata().location().ends_with(&format!("/{ns}/a")),
        "default location {}",
        a.metadata().location()
    );
    let listed: HashSet<_> = at(C, catalog.list_tables(&nsi).await)?.into_iter().collect();
    ensure!(C, listed == HashSet::from([t("a"), t("b")]), "list_tables: {listed:?}");
    expect_kind(
        C,
        "create existing table",
        create_test_table(catalog, &nsi, "a")
            .await
            .map_err(iceberg::Error::from),
        K::TableAlreadyExists,
    )?;

    let loaded = at(C, catalog.load_table(&t("a")).await)?;
    ensure!(
        C,
        loaded.metadata().uuid() == a.metadata().uuid(),
        "loaded another table"
    );
    ensure!(
        C,
        loaded.metadata_location() == a.metadata_location(),
        "load moved the metadata pointer"
    );
    ensure!(
        C,
        at(C, catalog.table_exists(&t("a")).await)?,
        "table_exists(a) is false"
    );
    ensure!(
        C,
        !at(C, catalog.table_exists(&t("zz")).await)?,
        "table_exists(zz) is true"
    );
    expect_kind(
        C,
        "load missing table",
        catalog.load_table(&t("zz")).await,
        K::TableNotFound,
    )?;

    at(C, catalog.rename_table(&t("a"), &t("c")).await)?;
    expect_kind(
        C,
        "load renamed-away table",
        catalog.load_table(&t("a")).await,
        K::TableNotFound,
    )?;
    let c = at(C, catalog.load_table(&t("c")).await)?;
    ensure!(C, c.metadata().uuid() == a.metadata().uuid(), "rename lost the table");
    expect_kind(
        C,
        "rename missing table",
        catalog.rename_table(&t("a"), &t("d")).await,
        K::TableNotFound,
    )?;
    expect_kind(
        C,
        "rename onto existing table",
        catalog.rename_table(&t("c"), &t("b")).await,
        K::TableAlreadyExists,
    )?;

    let location = c.metadata_location_result().map(str::to_string).map_err(Error::from)?;
    let registered = at(C, catalog.register_table(&t("r"), location.clone()).await)?;
    ensure!(
        C,
        registered.metadata().uuid() == c.metadata().uuid(),
        "register_table read other metadata"
    );
    expect_kind(
        C,
        "register existing name",
        catalog.register_table(&t("r"), location).await,
        K::TableAlreadyExists,
    )?;

    at(C, catalog.drop_table(&t("r")).await)?;
    expect_kind(
        C,
        "drop missing table",
        catalog.drop_table(&t("r")).await,
        K::TableNotFound,
    )?;
    at(C, catalog.purge_table(&t("c")).await)?;
    ensure!(
        C,
        !at(C, catalog.table_exists(&t("c")).await)?,
        "purged table still exists"
    );
    at(C, catalog.drop_table(&t("b")).await)?;
    ensure!(
        C,
        at(C, catalog.list_tables(&nsi).await)?.is_empty(),
        "tables left after drops"
    );
    at(C, catalog.drop_namespace(&nsi).await)?;
    Ok(())
}

/// A fast-append commit is visible to a fresh load, with its file.
pub async fn check_append_visible(catalog: &dyn Catalog, ns: &str) -> Result<()> {
    const C: &str = "append_visible";
    let nsi = ident(ns);
    at(C, catalog.create_namespace(&nsi, HashMap::new()).await)?;
    let table = create_test_table(catalog, &nsi, "t").await?;
    ensure!(
        C,
        table.metadata().current_snapshot().is_none(),
        "new table has a snapshot"
    );
    let committed = append(catalog, table.identifier(), "f1").await?;
    let reloaded = at(C, catalog.load_table(table.identifier()).await)?;
    ensure!(
        C,
        reloaded.metadata_location() == committed.metadata_location(),
        "load does not see the commit"
    );
    ensure!(
        C,
        reloaded.metadata().current_snapshot_id() == committed.metadata().current_snapshot_id(),
        "snapshot differs"
    );
    ensure!(
        C,
        total_data_files(&reloaded) == 1,
        "expected 1 data file, summary says {}",
        total_data_files(&reloaded)
    );
    Ok(())
}

/// A commit built on stale metadata (its requirement names an old snapshot)
/// is rejected as a conflict and changes nothing.
pub async fn check_stale_commit_rejected(catalog: &dyn Catalog, ns: &str) -> Result<()> {
    const C: &str = "stale_commit_rejected";
    let nsi = ident(ns);
    at(C, catalog.create_namespace(&nsi, HashMap::new()).await)?;
    let stale = create_test_table(catalog, &nsi, "t").await?;
    let fresh = append(catalog, stale.identifier(), "f1").await?;
    // Through a view that keeps serving the stale table, iceberg's retry
    // cannot refresh its way out: the catalog itself must say no.
    let view = stale_view::StaleView {
        inner: catalog,
        table: stale.clone(),
    };
    let tx = Transaction::new(&stale);
    let tx = tx
        .fast_append()
        .add_data_files(vec![test_data_file(&stale, "f2", 10)?])
        .apply(tx)?;
    expect_kind(C, "stale commit", tx.commit(&view).await, K::CatalogCommitConflicts)?;
    let now = at(C, catalog.load_table(stale.identifier()).await)?;
    ensure!(
        C,
        now.metadata_location() == fresh.metadata_location(),
        "a rejected commit moved the table"
    );
    Ok(())
}

/// `n` transactions appending concurrently all land, through the catalog's
/// conflict detection and iceberg's retry.
pub async fn check_concurrent_appends(catalog: &dyn Catalog, ns: &str, n: usize) -> Result<()> {
    const C: &str = "concurrent_appends";
    let nsi = ident(ns);
    at(C, catalog.create_namespace(&nsi, HashMap::new()).await)?;
    let table = create_test_table(catalog, &nsi, "t").await?;
    let names: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
    let results = join_all(names.iter().map(|name| append(catalog, table.identifier(), name))).await;
    for (i, r) in results.into_iter().enumerate() {
        r.map_err(|e| fail(C, format!("append {i} failed: {e}")))?;
    }
    let now = at(C, catalog.load_table(table.identifier()).await)?;
    ensure!(
        C,
        total_data_files(&now) == n as u64,
        "expected {n} files, found {}",
        total_data_files(&now)
    );
    Ok(())
}

async fn watermark_commit(
    catalog: &dyn CommitCatalog,
    table: &Table,
    shard: &str,
    expected: i64,
    new: i64,
) -> Result<CommitOutcome> {
    let file = test_data_file(table, &format!("{shard}-{new}-{}", uuid::Uuid::new_v4()), 1)?;
    WatermarkCommit::new(table.identifier().clone(), shard, expected, new, vec![file])
        .commit(catalog)
        .await
}

/// The exactly-once rule: watermarks advance per shard, are carried forward
/// across shards and foreign snapshots, and a same-shard race has one winner.
pub async fn check_watermark_commits(catalog: &dyn CommitCatalog, ns: &str) -> Result<()> {
    const C: &str = "watermark_commits";
    let nsi = ident(ns);
    at(C, catalog.create_namespace(&nsi, HashMap::new()).await)?;
    let table = create_test_table(catalog, &nsi, "t").await?;
    ensure!(
        C,
        watermark(table.metadata(), None, "a") == 0,
        "fresh table has a watermark"
    );

    let CommitOutcome::Committed { snapshot_id: first, .. } = watermark_commit(catalog, &table, "a", 0, 5).await?
    else {
        return Err(fail(C, "first commit of shard a was superseded"));
    };
    let CommitOutcome::Committed { table: now, .. } = watermark_commit(catalog, &table, "b", 0, 3).await? else {
        return Err(fail(C, "first commit of shard b was superseded"));
    };
    let w = watermarks(now.metadata(), None);
    ensure!(
        C,
        w == [("a".to_string(), 5), ("b".to_string(), 3)].into(),
        "watermarks not carried forward: {w:?}"
    );
    ensure!(
        C,
        watermark(now.metadata(), Some(first), "b") == 0,
        "W(first, b) should be 0"
    );

    match watermark_commit(catalog, &table, "a", 0, 7).await? {
        CommitOutcome::Superseded { current: 5 } => {}
        other => return Err(fail(C, format!("stale same-shard commit: {other:?}"))),
    }

    // A snapshot from a writer that knows nothing of watermarks.
    let foreign = append(catalog, table.identifier(), "foreign").await?;
    let w = watermarks(foreign.metadata(), None);
    ensure!(
        C,
        w.get("a") == Some(&5) && w.get("b") == Some(&3),
        "foreign snapshot hid watermarks: {w:?}"
    );

    // Same-shard race: both start from 5; exactly one may land.
    let (x, y) = futures::join!(
        watermark_commit(catalog, &table, "a", 5, 10),
        watermark_commit(catalog, &table, "a", 5, 11)
    );
    let outcomes = [x?, y?];
    let won = outcomes
        .iter()
        .filter(|o| matches!(o, CommitOutcome::Committed { .. }))
        .count();
    ensure!(C, won == 1, "same-shard race: {won} winners ({outcomes:?})");
    let now = at(C, catalog.load_table(table.identifier()).await)?;
    let a = watermark(now.metadata(), None, "a");
    ensure!(C, a == 10 || a == 11, "W(a) after the race is {a}");
    ensure!(
        C,
        total_data_files(&now) == 4,
        "expected 4 files after the race, found {}",
        total_data_files(&now)
    );
    Ok(())
}

/// Every check, each in its own namespace `{prefix}_{check}`.
pub async fn run_all(catalog: &dyn CommitCatalog, prefix: &str) -> Result<()> {
    check_namespaces(catalog, &format!("{prefix}_namespaces")).await?;
    check_drop_non_empty_namespace(catalog, &format!("{prefix}_non_empty")).await?;
    check_tables(catalog, &format!("{prefix}_tables")).await?;
    check_append_visible(catalog, &format!("{prefix}_append")).await?;
    check_stale_commit_rejected(catalog, &format!("{prefix}_stale")).await?;
    check_concurrent_appends(catalog, &format!("{prefix}_concurrent"), 8).await?;
    check_watermark_commits(catalog, &format!("{prefix}_watermarks")).await?;
    check_commit_table(catalog, &format!("{prefix}_commit_table")).await?;
    check_watermark_overwrites(catalog, &format!("{prefix}_overwrites")).await?;
    Ok(())
}

mod overwrites;
mod stale_view;

pub use overwrites::{check_commit_table, check_watermark_overwrites};
