//! SQLite-specific behaviour; the catalog contract itself is checked by
//! `crate::conformance` (run from `tests/conformance.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use iceberg::{Catalog, NamespaceIdent, TableIdent};
use object_store::local::LocalFileSystem;
use rusqlite::Connection;
use url::Url;

use super::*;
use crate::conformance::{append, create_test_table};
use crate::storage::file_io;

struct Fixture {
    dir: tempfile::TempDir,
    warehouse: Url,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let warehouse = Url::from_directory_path(dir.path().join("warehouse")).unwrap();
        Self { dir, warehouse }
    }

    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("catalog.db")
    }

    fn open(&self) -> SqliteCatalog {
        let io = file_io(Arc::new(LocalFileSystem::new()), &self.warehouse);
        SqliteCatalog::open(&self.db(), self.warehouse.clone(), io).unwrap()
    }

    fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let conn = Connection::open(self.db()).unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        stmt.query_map([], |r| (0..n).map(|i| r.get(i)).collect())
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[tokio::test]
async fn rows_follow_the_jdbc_catalog_layout() {
    let fx = Fixture::new();
    let catalog = fx.open();
    let ns = NamespaceIdent::from_strs(["a", "b"]).unwrap();
    catalog.create_namespace(&ns, HashMap::new()).await.unwrap();
    assert_eq!(
        fx.rows("SELECT catalog_name, namespace, property_key, property_value FROM iceberg_namespace_properties"),
        vec![vec![s("thermocline"), s("a.b"), s("exists"), s("true")]]
    );
    // The marker row is not a user property.
    assert!(catalog.get_namespace(&ns).await.unwrap().properties().is_empty());
    // A parent exists through its child, as in pyiceberg.
    assert!(
        catalog
            .namespace_exists(&NamespaceIdent::new("a".into()))
            .await
            .unwrap()
    );

    let table = create_test_table(&catalog, &ns, "t").await.unwrap();
    let first = table.metadata_location().unwrap().to_string();
    let prefix = format!("{}a/b/t/metadata/00000-", fx.warehouse);
    assert!(
        first.starts_with(&prefix) && first.ends_with(".metadata.json"),
        "{first}"
    );
    let committed = append(&catalog, table.identifier(), "f1").await.unwrap();
    let second = committed.metadata_location().unwrap().to_string();
    assert!(second.contains("/metadata/00001-"), "{second}");
    assert_eq!(
        fx.rows("SELECT catalog_name, table_namespace, table_name, metadata_location, previous_metadata_location, iceberg_type FROM iceberg_tables"),
        vec![vec![s("thermocline"), s("a.b"), s("t"), Some(second), Some(first), s("TABLE")]]
    );
}

#[tokio::test]
async fn opens_a_catalog_created_by_pyiceberg() {
    let fx = Fixture::new();
    // Make a real metadata file with our catalog in another database...
    let other = fx.dir.path().join("ours.db");
    let io = file_io(Arc::new(LocalFileSystem::new()), &fx.warehouse);
    let ours = SqliteCatalog::open(&other, fx.warehouse.clone(), io).unwrap();
    let ns = NamespaceIdent::new("default".into());
    ours.create_namespace(&ns, HashMap::new()).await.unwrap();
    let table = create_test_table(&ours, &ns, "taxis").await.unwrap();
    let location = table.metadata_location().unwrap().to_string();

    // ...and point at it from a database laid out exactly as pyiceberg does.
    {
        let conn = Connection::open(fx.db()).unwrap();
        conn.execute_batch(
            "CREATE TABLE iceberg_tables (catalog_name VARCHAR(255) NOT NULL, table_namespace VARCHAR(255) NOT NULL, \
               table_name VARCHAR(255) NOT NULL, metadata_location VARCHAR(1000), previous_metadata_location VARCHAR(1000), \
               PRIMARY KEY (catalog_name, table_namespace, table_name));
             CREATE TABLE iceberg_namespace_properties (catalog_name VARCHAR(255) NOT NULL, namespace VARCHAR(255) NOT NULL, \
               property_key VARCHAR(255) NOT NULL, property_value VARCHAR(1000) NOT NULL, \
               PRIMARY KEY (catalog_name, namespace, property_key));
             INSERT INTO iceberg_namespace_properties VALUES ('thermocline', 'default', 'exists', 'true');",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO iceberg_tables VALUES ('thermocline', 'default', 'taxis', ?1, NULL)",
            [&location],
        )
        .unwrap();
    }
    let catalog = fx.open();
    let ident = TableIdent::new(ns.clone(), "taxis".into());
    assert_eq!(catalog.list_tables(&ns).await.unwrap(), vec![ident.clone()]);
    let loaded = catalog.load_table(&ident).await.unwrap();
    assert_eq!(loaded.metadata().uuid(), table.metadata().uuid());
    // We can commit to it, and the migration added Java's column.
    append(&catalog, &ident, "f1").await.unwrap();
    assert_eq!(
        fx.rows("SELECT CAST(count(*) AS TEXT) FROM pragma_table_info('iceberg_tables') WHERE name = 'iceberg_type'"),
        vec![vec![s("1")]]
    );
}

#[tokio::test]
async fn two_handles_on_one_file_race_without_losing_commits_or_leaking_metadata() {
    // Two catalogs on one file stand in for two processes.
    let fx = Fixture::new();
    let (a, b) = (fx.open(), fx.open());
    let ns = NamespaceIdent::new("race".into());
    a.create_namespace(&ns, HashMap::new()).await.unwrap();
    let table = create_test_table(&a, &ns, "t").await.unwrap();
    let ident = table.identifier().clone();
    let n = 6;
    let racers = (0..n).map(|i| {
        let (catalog, ident) = (if i % 2 == 0 { &a } else { &b }, ident.clone());
        async move { append(catalog, &ident, &format!("f{i}")).await }
    });
    for r in futures::future::join_all(racers).await {
        r.unwrap();
    }
    let now = b.load_table(&ident).await.unwrap();
    assert_eq!(now.metadata().snapshots().len(), n);
    // One metadata file per version: a swap that lost deleted its file.
    let metadata_dir = fx.dir.path().join("warehouse/race/t/metadata");
    let versions = std::fs::read_dir(metadata_dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".metadata.json")
        })
        .count();
    assert_eq!(versions, n + 1);
}

#[tokio::test]
async fn catalog_names_isolate_catalogs_sharing_a_file() {
    let fx = Fixture::new();
    let main = fx.open();
    let io = file_io(Arc::new(LocalFileSystem::new()), &fx.warehouse);
    let other = SqliteCatalog::open_named(&fx.db(), "other", fx.warehouse.clone(), io).unwrap();
    let ns = NamespaceIdent::new("ns".into());
    main.create_namespace(&ns, HashMap::new()).await.unwrap();
    assert!(!other.namespace_exists(&ns).await.unwrap());
    other.create_namespace(&ns, HashMap::new()).await.unwrap();
    assert_eq!(other.name(), "other");
}

#[tokio::test]
async fn namespace_parts_containing_the_separator_are_refused() {
    let fx = Fixture::new();
    let catalog = fx.open();
    let err = catalog
        .create_namespace(&NamespaceIdent::new("a.b".into()), HashMap::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), iceberg::ErrorKind::DataInvalid);
    assert!(err.to_string().contains("a.b"), "{err}");
}

#[tokio::test]
async fn purge_removes_the_table_folder_and_errors_name_the_table() {
    let fx = Fixture::new();
    let catalog = fx.open();
    let ns = NamespaceIdent::new("ns".into());
    catalog.create_namespace(&ns, HashMap::new()).await.unwrap();
    let table = create_test_table(&catalog, &ns, "t").await.unwrap();
    append(&catalog, table.identifier(), "f1").await.unwrap();
    let folder = fx.dir.path().join("warehouse/ns/t");
    assert!(std::fs::read_dir(folder.join("metadata")).unwrap().count() > 0);
    catalog.purge_table(table.identifier()).await.unwrap();
    let left: Vec<_> = walk(&folder);
    assert!(left.is_empty(), "files left after purge: {left:?}");

    let err = catalog.load_table(table.identifier()).await.unwrap_err();
    assert_eq!(err.kind(), iceberg::ErrorKind::TableNotFound);
    assert!(err.to_string().contains("ns.t"), "{err}");
    let err = catalog
        .drop_namespace(&NamespaceIdent::new("nope".into()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[tokio::test]
async fn a_missing_metadata_file_is_named() {
    let fx = Fixture::new();
    let catalog = fx.open();
    let ns = NamespaceIdent::new("ns".into());
    catalog.create_namespace(&ns, HashMap::new()).await.unwrap();
    let table = create_test_table(&catalog, &ns, "t").await.unwrap();
    let location = table.metadata_location().unwrap().to_string();
    std::fs::remove_file(Url::parse(&location).unwrap().to_file_path().unwrap()).unwrap();
    let err = catalog.load_table(table.identifier()).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&location) && text.contains("ns.t"), "{text}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let p = e.path();
            if p.is_dir() { walk(&p) } else { vec![p] }
        })
        .collect()
}
