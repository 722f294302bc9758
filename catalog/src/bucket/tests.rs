//! `BucketCatalog`-specific behaviour: the object layout, the conditional
//! create as the commit point, the version hint being only a hint, and the
//! metadata cache surviving a table being dropped and recreated. The catalog
//! contract itself is `crate::conformance`, run here over both stores.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use iceberg::spec::MAIN_BRANCH;
use iceberg::{Catalog, ErrorKind as K, NamespaceIdent, TableIdent, TableRequirement, TableUpdate};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore, ObjectStoreExt,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use tokio::sync::Notify;

use super::*;
use crate::conformance::{self, append, create_test_table};

/// A local folder (`file://` root) and the store over it.
fn local() -> (tempfile::TempDir, Url, Arc<dyn ObjectStore>) {
    let dir = tempfile::tempdir().unwrap();
    let root = Url::from_directory_path(dir.path().join("warehouse")).unwrap();
    (dir, root, Arc::new(LocalFileSystem::new()))
}

fn memory_root() -> Url {
    Url::parse("memory://bucket/wh").unwrap()
}

fn catalog(store: &Arc<dyn ObjectStore>, root: &Url) -> BucketCatalog {
    BucketCatalog::new(store.clone(), root.clone(), "bucket").unwrap()
}

fn set_property(key: &str, value: &str) -> TableUpdate {
    TableUpdate::SetProperties {
        updates: HashMap::from([(key.to_string(), value.to_string())]),
    }
}

fn property(table: &Table, key: &str) -> Option<String> {
    table.metadata().properties().get(key).cloned()
}

/// Names of the files directly in `dir`, sorted.
fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes_over_a_local_folder() {
    let (_dir, root, store) = local();
    conformance::run_all(&catalog(&store, &root), "local").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes_over_an_in_memory_store_with_a_fixed_runtime() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let catalog = catalog(&store, &memory_root()).with_runtime(Runtime::try_current().unwrap());
    conformance::run_all(&catalog, "memory").await.unwrap();
}

#[tokio::test]
async fn files_follow_the_hadoop_table_layout() {
    let (dir, root, store) = local();
    let catalog = catalog(&store, &root);
    let parent = NamespaceIdent::new("a".into());
    let ns = NamespaceIdent::from_strs(["a", "b"]).unwrap();
    let props = HashMap::from([("owner".to_string(), "me".to_string())]);
    catalog.create_namespace(&parent, HashMap::new()).await.unwrap();
    catalog.create_namespace(&ns, props.clone()).await.unwrap();
    let warehouse = dir.path().join("warehouse");
    let marker: HashMap<String, String> =
        serde_json::from_slice(&std::fs::read(warehouse.join("a/b/.namespace.json")).unwrap()).unwrap();
    assert_eq!(marker, props);
    assert!(warehouse.join("a/.namespace.json").is_file());

    let table = create_test_table(&catalog, &ns, "t").await.unwrap();
    assert_eq!(table.metadata().location(), format!("{}a/b/t", root));
    append(&catalog, table.identifier(), "f1").await.unwrap();
    let last = catalog
        .commit_table(table.identifier(), vec![], vec![set_property("k", "v")])
        .await
        .unwrap();
    let pointer = warehouse.join("a/b/t/metadata");
    assert_eq!(
        last.metadata_location().unwrap(),
        format!("{}a/b/t/metadata/v3.metadata.json", root)
    );
    let files = files_in(&pointer);
    for name in [
        "v1.metadata.json",
        "v2.metadata.json",
        "v3.metadata.json",
        "version-hint.text",
    ] {
        assert!(files.contains(&name.to_string()), "{name} missing from {files:?}");
    }
    assert!(!files.contains(&"v4.metadata.json".to_string()), "{files:?}");
    assert_eq!(std::fs::read_to_string(pointer.join("version-hint.text")).unwrap(), "3");
    // Plain Iceberg metadata JSON, readable by anyone.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pointer.join("v3.metadata.json")).unwrap()).unwrap();
    assert_eq!(json["table-uuid"], table.metadata().uuid().to_string());
    assert_eq!(json["properties"]["k"], "v");
    assert_eq!(json["metadata-log"].as_array().unwrap().len(), 2);

    // A rename moves the pointer folder; a registration starts one at v1.
    let renamed = TableIdent::new(ns.clone(), "u".into());
    catalog.rename_table(table.identifier(), &renamed).await.unwrap();
    assert!(
        !files_in(&pointer)
            .iter()
            .any(|f| f.ends_with(".metadata.json") || f == "version-hint.text"),
        "{:?}",
        files_in(&pointer)
    );
    let moved = files_in(&warehouse.join("a/b/u/metadata"));
    assert!(
        moved.contains(&"v1.metadata.json".to_string()) && !moved.contains(&"v2.metadata.json".to_string()),
        "{moved:?}"
    );
    let loaded = catalog.load_table(&renamed).await.unwrap();
    assert_eq!(property(&loaded, "k").as_deref(), Some("v"));
    assert_eq!(loaded.metadata().location(), format!("{}a/b/t", root));

    let listed = catalog.list_tables(&ns).await.unwrap();
    assert_eq!(listed, vec![renamed.clone()]);
    assert_eq!(catalog.list_namespaces(None).await.unwrap(), vec![parent.clone()]);
    assert_eq!(catalog.list_namespaces(Some(&parent)).await.unwrap(), vec![ns.clone()]);
}

#[tokio::test]
async fn a_stale_garbage_or_missing_version_hint_still_loads_the_newest_version() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let root = memory_root();
    let writer = catalog(&store, &root);
    let ns = NamespaceIdent::new("ns".into());
    writer.create_namespace(&ns, HashMap::new()).await.unwrap();
    let table = create_test_table(&writer, &ns, "t").await.unwrap();
    let id = table.identifier();
    for i in 1..=3 {
        writer
            .commit_table(id, vec![], vec![set_property("k", &i.to_string())])
            .await
            .unwrap();
    }
    let hint = ObjectPath::from("wh/ns/t/metadata/version-hint.text");
    let newest = format!("{root}/ns/t/metadata/v4.metadata.json");
    for (what, content) in [
        ("stale", Some("1")),
        ("garbage", Some("not a number")),
        ("ahead of the table", Some("9")),
        ("zero", Some("0")),
        ("missing", None),
    ] {
        match content {
            Some(text) => {
                store.put(&hint, PutPayload::from(text.to_string())).await.unwrap();
            }
            None => store.delete(&hint).await.unwrap(),
        }
        // A fresh catalog (nothing cached) and the writer itself.
        for reader in [&catalog(&store, &root), &writer] {
            let loaded = reader.load_table(id).await.unwrap();
            assert_eq!(loaded.metadata_location(), Some(newest.as_str()), "{what} hint");
            assert_eq!(property(&loaded, "k").as_deref(), Some("3"), "{what} hint");
            assert!(reader.table_exists(id).await.unwrap(), "{what} hint");
        }
    }
    // The next commit writes v5 and puts the hint back.
    writer
        .commit_table(id, vec![], vec![set_property("k", "4")])
        .await
        .unwrap();
    let got = store.get(&hint).await.unwrap().bytes().await.unwrap();
    assert_eq!(&got[..], b"5");
}

/// Holds back writes of one object until released, so a test can let
/// another writer commit in between.
#[derive(Debug)]
struct Gated {
    inner: Arc<dyn ObjectStore>,
    suffix: &'static str,
    arrived: Notify,
    release: Notify,
}

impl fmt::Display for Gated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gated({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Gated {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        // Any write, not only a conditional one: a catalog that overwrote
        // must lose this test, not hang it.
        if location.as_ref().ends_with(self.suffix) {
            self.arrived.notify_one();
            self.release.notified().await;
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &ObjectPath, options: GetOptions) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&ObjectPath>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&ObjectPath>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &ObjectPath, to: &ObjectPath, options: CopyOptions) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[tokio::test]
async fn a_lost_race_is_a_retryable_conflict_and_the_winner_stays() {
    let inner: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let root = memory_root();
    let gate = Arc::new(Gated {
        inner: inner.clone(),
        suffix: "/t/metadata/v2.metadata.json",
        arrived: Notify::new(),
        release: Notify::new(),
    });
    let winner = catalog(&inner, &root);
    let loser = catalog(&(gate.clone() as Arc<dyn ObjectStore>), &root);
    let ns = NamespaceIdent::new("ns".into());
    winner.create_namespace(&ns, HashMap::new()).await.unwrap();
    let table = create_test_table(&winner, &ns, "t").await.unwrap();
    let id = table.identifier().clone();
    // Both have loaded v1, and both commits' requirements hold against it.
    let seen_by_loser = loser.load_table(&id).await.unwrap();
    assert_eq!(seen_by_loser.metadata_location(), table.metadata_location());
    let requirements = || {
        vec![
            TableRequirement::UuidMatch {
                uuid: table.metadata().uuid(),
            },
            TableRequirement::RefSnapshotIdMatch {
                r#ref: MAIN_BRANCH.to_string(),
                snapshot_id: None,
            },
        ]
    };

    let (lost, won) = tokio::join!(
        // Checks its requirements against v1, then stalls before creating v2...
        loser.commit_table(&id, requirements(), vec![set_property("writer", "loser")]),
        // ...while the winner commits v2; then the loser's create goes ahead.
        async {
            tokio::time::timeout(Duration::from_secs(30), gate.arrived.notified())
                .await
                .expect("the loser never tried to write v2");
            let won = winner
                .commit_table(&id, requirements(), vec![set_property("writer", "winner")])
                .await;
            gate.release.notify_one();
            won
        }
    );
    let won = won.unwrap();
    let err = lost.unwrap_err();
    assert_eq!(err.kind(), K::CatalogCommitConflicts, "{err}");
    assert!(err.retryable(), "{err}");
    assert!(err.to_string().contains("another writer"), "{err}");
    assert!(err.to_string().contains("ns.t"), "{err}");

    // A third catalog, and the loser itself, see the winner's v2 and nothing more.
    for reader in [&catalog(&inner, &root), &loser] {
        let now = reader.load_table(&id).await.unwrap();
        assert_eq!(now.metadata_location(), won.metadata_location());
        assert_eq!(property(&now, "writer").as_deref(), Some("winner"));
    }
    let v3 = ObjectPath::from("wh/ns/t/metadata/v3.metadata.json");
    assert!(inner.head(&v3).await.is_err(), "the loser wrote a version");
}

#[tokio::test]
async fn a_failed_requirement_is_a_retryable_conflict_naming_it() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let root = memory_root();
    let (a, b) = (catalog(&store, &root), catalog(&store, &root));
    let ns = NamespaceIdent::new("ns".into());
    a.create_namespace(&ns, HashMap::new()).await.unwrap();
    let table = create_test_table(&a, &ns, "t").await.unwrap();
    let id = table.identifier();
    // Both load v1 (an empty main); a appends first.
    let stale = b.load_table(id).await.unwrap();
    append(&a, id, "f1").await.unwrap();
    let main_is_empty = TableRequirement::RefSnapshotIdMatch {
        r#ref: MAIN_BRANCH.to_string(),
        snapshot_id: stale.metadata().current_snapshot_id(),
    };
    let err = b
        .commit_table(id, vec![main_is_empty], vec![set_property("k", "b")])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), K::CatalogCommitConflicts, "{err}");
    assert!(err.retryable(), "{err}");
    assert!(err.to_string().contains("RefSnapshotIdMatch"), "{err}");
    let now = b.load_table(id).await.unwrap();
    assert!(now.metadata_location().unwrap().ends_with("/v2.metadata.json"));
    assert_eq!(property(&now, "k"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_catalogs_on_one_folder_race_without_losing_commits() {
    // Two catalogs on one folder stand in for two processes.
    let (dir, root, store) = local();
    let (a, b) = (catalog(&store, &root), catalog(&store, &root));
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
    // Exactly one metadata version per commit: a lost race writes nothing.
    let versions: Vec<String> = files_in(&dir.path().join("warehouse/race/t/metadata"))
        .into_iter()
        .filter(|f| f.ends_with(".metadata.json"))
        .collect();
    let mut expected: Vec<String> = (1..=n + 1).map(|v| format!("v{v}.metadata.json")).collect();
    expected.sort();
    assert_eq!(versions, expected);
    assert!(
        now.metadata_location()
            .unwrap()
            .ends_with(&format!("/v{}.metadata.json", n + 1))
    );
}

#[tokio::test]
async fn a_dropped_and_recreated_table_is_not_served_from_the_cache() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let root = memory_root();
    for catalog in [
        catalog(&store, &root),
        catalog(&store, &root).with_runtime(Runtime::try_current().unwrap()),
    ] {
        let ns = NamespaceIdent::new(format!("ns{}", catalog.runtime.is_some()));
        catalog.create_namespace(&ns, HashMap::new()).await.unwrap();
        let first = create_test_table(&catalog, &ns, "t").await.unwrap();
        let id = first.identifier();
        assert_eq!(
            catalog.load_table(id).await.unwrap().metadata().uuid(),
            first.metadata().uuid()
        );
        catalog.drop_table(id).await.unwrap();
        assert!(!catalog.table_exists(id).await.unwrap());
        let second = create_test_table(&catalog, &ns, "t").await.unwrap();
        assert_eq!(second.metadata_location(), first.metadata_location(), "both are v1");
        assert_ne!(second.metadata().uuid(), first.metadata().uuid());
        let loaded = catalog.load_table(id).await.unwrap();
        assert_eq!(loaded.metadata().uuid(), second.metadata().uuid());
    }
}

#[tokio::test]
async fn names_that_do_not_map_onto_one_folder_are_refused() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let catalog = catalog(&store, &memory_root());
    for bad in ["a.b", ".hidden", "a/b", "", "x#y", "50%", "q?"] {
        let err = catalog
            .create_namespace(&NamespaceIdent::new(bad.into()), HashMap::new())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), K::DataInvalid, "{bad}: {err}");
    }
    let ns = NamespaceIdent::new("ns".into());
    catalog.create_namespace(&ns, HashMap::new()).await.unwrap();
    for bad in [".t", "a/b", "", "t#1"] {
        let err = create_test_table(&catalog, &ns, bad).await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidMetadata, "{bad}: {err}");
    }
    // A dot is fine in a table name (its folder cannot be a namespace's).
    create_test_table(&catalog, &ns, "events.v2").await.unwrap();
}

#[tokio::test]
async fn namespace_rules() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let catalog = catalog(&store, &memory_root());
    let parent = NamespaceIdent::new("p".into());
    let child = NamespaceIdent::from_strs(["p", "c"]).unwrap();
    // A nested namespace needs its parent.
    let err = catalog.create_namespace(&child, HashMap::new()).await.unwrap_err();
    assert_eq!(err.kind(), K::NamespaceNotFound, "{err}");
    let err = catalog.list_namespaces(Some(&parent)).await.unwrap_err();
    assert_eq!(err.kind(), K::NamespaceNotFound, "{err}");
    catalog.create_namespace(&parent, HashMap::new()).await.unwrap();
    catalog.create_namespace(&child, HashMap::new()).await.unwrap();
    // A parent holding a namespace is not empty.
    let err = catalog.drop_namespace(&parent).await.unwrap_err();
    assert_eq!(err.kind(), K::PreconditionFailed, "{err}");
    // A table and a namespace may not share a folder (purging the table
    // would delete the namespace).
    let err = create_test_table(&catalog, &parent, "c").await.unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::InvalidMetadata, "{err}");
    create_test_table(&catalog, &child, "t").await.unwrap();
    let err = catalog
        .create_namespace(&NamespaceIdent::from_strs(["p", "c", "t"]).unwrap(), HashMap::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), K::DataInvalid, "{err}");
    assert_eq!(catalog.list_namespaces(Some(&child)).await.unwrap(), vec![]);
    let err = catalog.drop_namespace(&child).await.unwrap_err();
    assert_eq!(err.kind(), K::PreconditionFailed, "{err}");
}

#[tokio::test]
async fn register_reads_the_metadata_and_refuses_what_it_cannot_read() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let root = memory_root();
    let catalog = catalog(&store, &root);
    let ns = NamespaceIdent::new("ns".into());
    catalog.create_namespace(&ns, HashMap::new()).await.unwrap();
    let table = create_test_table(&catalog, &ns, "t").await.unwrap();
    let copy = TableIdent::new(ns.clone(), "copy".into());
    let missing = format!("{root}/ns/t/metadata/v7.metadata.json");
    let err = catalog.register_table(&copy, missing.clone()).await.unwrap_err();
    assert!(err.to_string().contains("v7.metadata.json"), "{err}");
    assert!(!catalog.table_exists(&copy).await.unwrap());

    let registered = catalog
        .register_table(&copy, table.metadata_location().unwrap().to_string())
        .await
        .unwrap();
    assert_eq!(registered.metadata().uuid(), table.metadata().uuid());
    assert_eq!(
        registered.metadata_location(),
        Some(format!("{root}/ns/copy/metadata/v1.metadata.json").as_str())
    );
    let err = catalog
        .register_table(
            &TableIdent::new(NamespaceIdent::new("nope".into()), "x".into()),
            missing,
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), K::NamespaceNotFound, "{err}");
}

#[test]
fn version_file_names_are_parsed_strictly() {
    let v = |name: &str| version_of(&ObjectPath::from(format!("wh/ns/t/metadata/{name}")));
    assert_eq!(v("v1.metadata.json"), Some(1));
    assert_eq!(v("v12.metadata.json"), Some(12));
    for other in [
        "v0.metadata.json",
        "v01.metadata.json",
        "v+1.metadata.json",
        "v1.gz.metadata.json",
        "00001-abc.metadata.json",
        "version-hint.text",
        "snap-1-1-abc.avro",
    ] {
        assert_eq!(v(other), None, "{other}");
    }
    assert_eq!(parse_hint(b"7\n"), Some(7));
    assert_eq!(parse_hint(b"0"), None);
    assert_eq!(parse_hint(b"x"), None);
}
