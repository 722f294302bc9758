use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::TryStreamExt;
use iceberg::{Catalog, NamespaceIdent};
use object_store::local::LocalFileSystem;
use url::Url;

use super::*;
use crate::conformance::{append, create_test_table, test_data_file};
use crate::sql::SqliteCatalog;
use crate::storage::file_io;

async fn setup() -> (tempfile::TempDir, Arc<SqliteCatalog>, Table) {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = Url::from_directory_path(dir.path().join("wh")).unwrap();
    let io = file_io(Arc::new(LocalFileSystem::new()), &warehouse);
    let catalog = SqliteCatalog::open(&dir.path().join("c.db"), warehouse, io).unwrap();
    let ns = NamespaceIdent::new("ns".into());
    catalog.create_namespace(&ns, HashMap::new()).await.unwrap();
    let table = create_test_table(&catalog, &ns, "t").await.unwrap();
    (dir, Arc::new(catalog), table)
}

fn commit(table: &Table, shard: &str, expected: i64, new: i64) -> WatermarkCommit {
    let name = format!("{shard}-{new}-{}", uuid::Uuid::new_v4());
    WatermarkCommit::new(
        table.identifier().clone(),
        shard,
        expected,
        new,
        vec![test_data_file(table, &name, 1).unwrap()],
    )
}

/// Snapshots of the current ancestry, oldest first.
fn history(metadata: &TableMetadata) -> Vec<&Snapshot> {
    let mut v: Vec<_> = ancestry(metadata, None).collect();
    v.reverse();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_shards_each_commit_exactly_once_and_never_regress() {
    let (_dir, catalog, table) = setup().await;
    let per_shard = 20;
    let mut tasks = Vec::new();
    for shard in ["a", "b"] {
        for _ in 0..per_shard {
            let (catalog, table) = (catalog.clone(), table.clone());
            // A compactor that lost the race re-reads W and compacts the next
            // lsn, like a real one would after deleting its orphan files.
            tasks.push(tokio::spawn(async move {
                let mut superseded = 0;
                loop {
                    let now = catalog.load_table(table.identifier()).await.unwrap();
                    let w = watermark(now.metadata(), None, shard);
                    match commit(&table, shard, w, w + 1).commit(catalog.as_ref()).await {
                        Ok(CommitOutcome::Committed { .. }) => return superseded,
                        Ok(CommitOutcome::Superseded { current }) => {
                            assert!(current > w, "superseded by an older watermark");
                            superseded += 1;
                        }
                        // 40 racers can outlast the attempt budget: the error
                        // says try again, as a real compactor would.
                        Err(e) if e.is_retryable() => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            }));
        }
    }
    let mut superseded = 0;
    for t in tasks {
        superseded += t.await.unwrap();
    }
    // Not asserted (timing-dependent), but shown: the race is real.
    eprintln!("{superseded} compactions were superseded and retried");
    let now = catalog.load_table(table.identifier()).await.unwrap();
    let w = watermarks(now.metadata(), None);
    assert_eq!(w, [("a".to_string(), per_shard), ("b".to_string(), per_shard)].into());
    let files: u64 = now
        .metadata()
        .current_snapshot()
        .unwrap()
        .summary()
        .additional_properties["total-data-files"]
        .parse()
        .unwrap();
    assert_eq!(files, 2 * per_shard as u64);

    // Every snapshot moves exactly one shard up by one and carries the other:
    // no commit was re-applied with stale properties.
    let mut last: BTreeMap<String, i64> = BTreeMap::new();
    for snapshot in history(now.metadata()) {
        let here = watermarks(now.metadata(), Some(snapshot.snapshot_id()));
        let moved: Vec<_> = here
            .iter()
            .filter(|(k, v)| last.get(*k).copied().unwrap_or(0) != **v)
            .collect();
        assert_eq!(moved.len(), 1, "snapshot {} moved {moved:?}", snapshot.snapshot_id());
        let (k, v) = moved[0];
        assert_eq!(*v, last.get(k).copied().unwrap_or(0) + 1);
        assert!(last.keys().all(|k| here.contains_key(k)), "a shard was dropped");
        last = here;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_shard_race_has_exactly_one_winner() {
    let (_dir, catalog, table) = setup().await;
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let (catalog, table) = (catalog.clone(), table.clone());
            tokio::spawn(async move { commit(&table, "a", 0, 10 + i).commit(catalog.as_ref()).await.unwrap() })
        })
        .collect();
    let mut winners = Vec::new();
    for r in racers {
        match r.await.unwrap() {
            CommitOutcome::Committed { snapshot_id, .. } => winners.push(snapshot_id),
            CommitOutcome::Superseded { current } => assert!(current >= 10),
        }
    }
    assert_eq!(winners.len(), 1);
    let now = catalog.load_table(table.identifier()).await.unwrap();
    assert_eq!(now.metadata().snapshots().len(), 1);
    assert_eq!(now.metadata().current_snapshot_id(), Some(winners[0]));
}

#[tokio::test]
async fn foreign_snapshots_are_walked_through() {
    let (_dir, catalog, table) = setup().await;
    let CommitOutcome::Committed { snapshot_id: s1, .. } =
        commit(&table, "a", 0, 7).commit(catalog.as_ref()).await.unwrap()
    else {
        panic!("superseded on an empty table");
    };
    commit(&table, "b", 0, 2).commit(catalog.as_ref()).await.unwrap();
    // Two appends by a writer that knows nothing of watermarks.
    append(catalog.as_ref(), table.identifier(), "x").await.unwrap();
    let now = append(catalog.as_ref(), table.identifier(), "y").await.unwrap();
    let current = now.metadata().current_snapshot().unwrap();
    assert!(
        !current
            .summary()
            .additional_properties
            .keys()
            .any(|k| k.starts_with(WATERMARK_PREFIX))
    );
    assert_eq!(watermark(now.metadata(), None, "a"), 7);
    assert_eq!(try_watermark(now.metadata(), None, "b").unwrap(), 2);
    assert_eq!(watermark(now.metadata(), None, "c"), 0);
    assert_eq!(watermark(now.metadata(), Some(s1), "b"), 0);
    assert_eq!(watermark(now.metadata(), Some(s1), "a"), 7);

    // The next thermocline commit carries both forward past the foreign ones.
    let CommitOutcome::Committed { table: after, .. } =
        commit(&table, "a", 7, 9).commit(catalog.as_ref()).await.unwrap()
    else {
        panic!("superseded");
    };
    let props = &after
        .metadata()
        .current_snapshot()
        .unwrap()
        .summary()
        .additional_properties;
    assert_eq!(props.get(&watermark_key("a")).map(String::as_str), Some("9"));
    assert_eq!(props.get(&watermark_key("b")).map(String::as_str), Some("2"));
}

#[tokio::test]
async fn bad_requests_and_malformed_watermarks_are_refused() {
    let (_dir, catalog, table) = setup().await;
    let err = commit(&table, "a", 5, 5).commit(catalog.as_ref()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("ns.t") && err.to_string().contains("shard: a"),
        "{err}"
    );

    // A snapshot whose watermark someone else wrote badly.
    let loaded = catalog.load_table(table.identifier()).await.unwrap();
    let tx = Transaction::new(&loaded);
    let tx = tx
        .fast_append()
        .add_data_files(vec![test_data_file(&loaded, "bad", 1).unwrap()])
        .set_snapshot_properties(HashMap::from([(watermark_key("a"), "lots".to_string())]))
        .apply(tx)
        .unwrap();
    let bad = tx.commit(catalog.as_ref()).await.unwrap();
    assert_eq!(watermark(bad.metadata(), None, "a"), 0, "lenient read skips it");
    let err = try_watermark(bad.metadata(), None, "a").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidMetadata);
    let err = commit(&table, "a", 0, 1).commit(catalog.as_ref()).await.unwrap_err();
    assert!(err.to_string().contains("lots"), "{err}");
}

#[test]
fn backoff_grows_and_is_capped() {
    for attempt in 1..40 {
        let d = backoff(attempt);
        assert!(d <= WatermarkCommit::MAX_BACKOFF, "{attempt}: {d:?}");
        assert!(d >= Duration::from_millis(5), "{attempt}: {d:?}");
    }
    assert!(backoff(30) >= Duration::from_millis(250));
}

/// A catalog that lets `meddle` (another writer) commit just before our
/// first `commit_table` reaches the real catalog, so that commit conflicts.
#[derive(Debug)]
struct Meddling {
    inner: Arc<SqliteCatalog>,
    meddle: tokio::sync::Mutex<Option<WatermarkCommit>>,
}

#[async_trait]
impl Catalog for Meddling {
    async fn list_namespaces(&self, p: Option<&NamespaceIdent>) -> iceberg::Result<Vec<NamespaceIdent>> {
        self.inner.list_namespaces(p).await
    }
    async fn create_namespace(&self, n: &NamespaceIdent, p: HashMap<String, String>) -> iceberg::Result<Namespace> {
        self.inner.create_namespace(n, p).await
    }
    async fn get_namespace(&self, n: &NamespaceIdent) -> iceberg::Result<Namespace> {
        self.inner.get_namespace(n).await
    }
    async fn namespace_exists(&self, n: &NamespaceIdent) -> iceberg::Result<bool> {
        self.inner.namespace_exists(n).await
    }
    async fn update_namespace(&self, n: &NamespaceIdent, p: HashMap<String, String>) -> iceberg::Result<()> {
        self.inner.update_namespace(n, p).await
    }
    async fn drop_namespace(&self, n: &NamespaceIdent) -> iceberg::Result<()> {
        self.inner.drop_namespace(n).await
    }
    async fn list_tables(&self, n: &NamespaceIdent) -> iceberg::Result<Vec<TableIdent>> {
        self.inner.list_tables(n).await
    }
    async fn create_table(&self, n: &NamespaceIdent, c: TableCreation) -> iceberg::Result<Table> {
        self.inner.create_table(n, c).await
    }
    async fn load_table(&self, t: &TableIdent) -> iceberg::Result<Table> {
        self.inner.load_table(t).await
    }
    async fn drop_table(&self, t: &TableIdent) -> iceberg::Result<()> {
        self.inner.drop_table(t).await
    }
    async fn purge_table(&self, t: &TableIdent) -> iceberg::Result<()> {
        self.inner.purge_table(t).await
    }
    async fn table_exists(&self, t: &TableIdent) -> iceberg::Result<bool> {
        self.inner.table_exists(t).await
    }
    async fn rename_table(&self, s: &TableIdent, d: &TableIdent) -> iceberg::Result<()> {
        self.inner.rename_table(s, d).await
    }
    async fn register_table(&self, t: &TableIdent, m: String) -> iceberg::Result<Table> {
        self.inner.register_table(t, m).await
    }
    async fn update_table(&self, c: TableCommit) -> iceberg::Result<Table> {
        self.inner.update_table(c).await
    }
}

#[async_trait]
impl CommitCatalog for Meddling {
    async fn commit_table(
        &self,
        ident: &TableIdent,
        requirements: Vec<iceberg::TableRequirement>,
        updates: Vec<iceberg::TableUpdate>,
    ) -> iceberg::Result<Table> {
        if let Some(other) = self.meddle.lock().await.take() {
            let outcome = other.commit(self.inner.as_ref()).await.unwrap();
            assert!(matches!(outcome, CommitOutcome::Committed { .. }), "{outcome:?}");
        }
        self.inner.commit_table(ident, requirements, updates).await
    }
}

fn data_path(table: &Table, name: &str) -> String {
    format!("{}/data/{name}.parquet", table.metadata().location())
}

/// Two files of shard `a` in one snapshot: `f1` (10 rows) and `f2` (20).
async fn two_files(catalog: &SqliteCatalog, table: &Table) -> Table {
    let files = vec![
        test_data_file(table, "f1", 10).unwrap(),
        test_data_file(table, "f2", 20).unwrap(),
    ];
    match WatermarkCommit::new(table.identifier().clone(), "a", 0, 1, files)
        .commit(catalog)
        .await
        .unwrap()
    {
        CommitOutcome::Committed { table, .. } => table,
        other => panic!("{other:?}"),
    }
}

/// Every manifest and manifest list under the table's metadata folder is
/// one some snapshot references: lost attempts left nothing behind.
async fn assert_no_stray_manifests(table: &Table) {
    let metadata_dir = table.metadata().location().trim_start_matches("file://").to_string() + "/metadata";
    let on_disk: BTreeSet<String> = std::fs::read_dir(&metadata_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".avro"))
        .collect();
    let mut referenced = BTreeSet::new();
    for snapshot in table.metadata().snapshots() {
        let name = |p: &str| p.rsplit('/').next().unwrap().to_string();
        referenced.insert(name(snapshot.manifest_list()));
        for file in table.manifest_list_reader(snapshot).load().await.unwrap().entries() {
            referenced.insert(name(&file.manifest_path));
        }
    }
    assert_eq!(on_disk, referenced);
}

#[tokio::test]
async fn a_conflicting_overwrite_retries_on_fresh_metadata() {
    let (_dir, catalog, table) = setup().await;
    let table = two_files(&catalog, &table).await;
    // Shard b appends while our overwrite of f1 is on its way.
    let other = commit(&table, "b", 0, 4);
    let meddling = Meddling {
        inner: catalog.clone(),
        meddle: tokio::sync::Mutex::new(Some(other)),
    };
    let ours = WatermarkCommit::new(
        table.identifier().clone(),
        "a",
        1,
        2,
        vec![test_data_file(&table, "f1r", 8).unwrap()],
    )
    .with_removed_files([data_path(&table, "f1")]);
    let CommitOutcome::Committed {
        table: now, attempts, ..
    } = ours.commit(&meddling).await.unwrap()
    else {
        panic!("superseded");
    };
    assert_eq!(attempts, 2);
    assert_eq!(
        watermarks(now.metadata(), None),
        [("a".to_string(), 2), ("b".to_string(), 4)].into()
    );
    let summary = &now
        .metadata()
        .current_snapshot()
        .unwrap()
        .summary()
        .additional_properties;
    assert_eq!(summary["total-records"], "29", "{summary:?}"); // 20 + 8 + b's 1
    assert_eq!(summary["total-data-files"], "3", "{summary:?}");
    let mut live: Vec<String> = now
        .scan()
        .build()
        .unwrap()
        .plan_files()
        .await
        .unwrap()
        .map_ok(|t| t.data_file_path)
        .try_collect()
        .await
        .unwrap();
    live.sort();
    assert_eq!(live.len(), 3);
    assert!(live.contains(&data_path(&table, "f1r")) && live.contains(&data_path(&table, "f2")));
    assert!(!live.contains(&data_path(&table, "f1")));
    assert_no_stray_manifests(&now).await;
}

#[tokio::test]
async fn a_retry_never_removes_a_file_someone_else_removed_meanwhile() {
    let (_dir, catalog, table) = setup().await;
    let table = two_files(&catalog, &table).await;
    // Shard b rewrites f1 first (deleting other rows of it).
    let other = WatermarkCommit::new(
        table.identifier().clone(),
        "b",
        0,
        1,
        vec![test_data_file(&table, "f1-by-b", 9).unwrap()],
    )
    .with_removed_files([data_path(&table, "f1")]);
    let meddling = Meddling {
        inner: catalog.clone(),
        meddle: tokio::sync::Mutex::new(Some(other)),
    };
    let ours = WatermarkCommit::new(
        table.identifier().clone(),
        "a",
        1,
        2,
        vec![test_data_file(&table, "f1-by-a", 8).unwrap()],
    )
    .with_removed_files([data_path(&table, "f1")]);
    let err = ours.commit(&meddling).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CommitConflict, "{err}");
    assert!(err.is_retryable(), "{err}");
    assert!(err.to_string().contains("f1.parquet"), "{err}");
    let now = catalog.load_table(table.identifier()).await.unwrap();
    assert_eq!(watermark(now.metadata(), None, "a"), 1, "our commit must not land");
    assert_eq!(watermark(now.metadata(), None, "b"), 1);
    assert_no_stray_manifests(&now).await;
}

#[tokio::test]
async fn overwrite_requests_that_break_the_rules_are_refused() {
    let (_dir, catalog, table) = setup().await;
    let table = two_files(&catalog, &table).await;
    let f1 = data_path(&table, "f1");

    let reserved = commit(&table, "a", 1, 2).with_properties([(watermark_key("b"), "99".to_string())]);
    let err = reserved.commit(catalog.as_ref()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let reserved = commit(&table, "a", 1, 2).with_properties([(COMMIT_ID_KEY.to_string(), "x".to_string())]);
    assert_eq!(
        reserved.commit(catalog.as_ref()).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );

    let both = WatermarkCommit::new(
        table.identifier().clone(),
        "a",
        1,
        2,
        vec![test_data_file(&table, "f1", 10).unwrap()],
    )
    .with_removed_files([f1.clone()]);
    let err = both.commit(catalog.as_ref()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");

    let never = commit(&table, "a", 1, 2).with_removed_files([data_path(&table, "never-there")]);
    let err = never.commit(catalog.as_ref()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CommitConflict, "{err}");
    assert!(err.is_retryable() && err.to_string().contains("never-there"), "{err}");

    let now = catalog.load_table(table.identifier()).await.unwrap();
    assert_eq!(
        now.metadata_location(),
        table.metadata_location(),
        "nothing was committed"
    );
    assert_no_stray_manifests(&now).await;
}

#[tokio::test]
async fn extra_properties_ride_along_on_a_fast_append_too() {
    let (_dir, catalog, table) = setup().await;
    let ours = commit(&table, "a", 0, 3).with_properties([("thermocline.max-commit-ts".to_string(), "17".to_string())]);
    let CommitOutcome::Committed { table: now, .. } = ours.commit(catalog.as_ref()).await.unwrap() else {
        panic!("superseded");
    };
    let snapshot = now.metadata().current_snapshot().unwrap();
    assert_eq!(snapshot.summary().operation, iceberg::spec::Operation::Append);
    let props = &snapshot.summary().additional_properties;
    assert_eq!(props["thermocline.max-commit-ts"], "17");
    assert_eq!(props[&watermark_key("a")], "3");
}

#[tokio::test]
async fn copy_on_write_needs_a_v2_table() {
    let (_dir, catalog, _) = setup().await;
    let ns = NamespaceIdent::new("ns".into());
    let creation = TableCreation::builder()
        .name("v1".to_string())
        .schema(crate::conformance::test_schema().unwrap())
        .format_version(iceberg::spec::FormatVersion::V1)
        .build();
    let v1 = catalog.create_table(&ns, creation).await.unwrap();
    let v1 = two_files(&catalog, &v1).await;
    let err = commit(&v1, "a", 1, 2)
        .with_removed_files([data_path(&v1, "f1")])
        .commit(catalog.as_ref())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotSupported, "{err}");
}

#[tokio::test]
async fn a_file_replace_keeps_every_watermark_and_says_replace() {
    let (_dir, catalog, table) = setup().await;
    let table = two_files(&catalog, &table).await;
    // Shard b appends while our merge of f1 + f2 is on its way: the merge
    // retries on the new snapshot and keeps b's file and watermark.
    let meddling = Meddling {
        inner: catalog.clone(),
        meddle: tokio::sync::Mutex::new(Some(commit(&table, "b", 0, 4))),
    };
    let merge = FileReplace {
        ident: table.identifier().clone(),
        removed_files: vec![data_path(&table, "f1"), data_path(&table, "f2")],
        data_files: vec![test_data_file(&table, "merged", 30).unwrap()],
        properties: [("thermocline.merged-files".to_string(), "2".to_string())].into(),
        read_snapshot: table.metadata().current_snapshot_id(),
    };
    let ReplaceOutcome::Committed {
        table: now, attempts, ..
    } = merge.commit(&meddling).await.unwrap()
    else {
        panic!("stale");
    };
    assert_eq!(attempts, 2);
    assert_eq!(
        watermarks(now.metadata(), None),
        [("a".to_string(), 1), ("b".to_string(), 4)].into()
    );
    let snapshot = now.metadata().current_snapshot().unwrap();
    assert_eq!(snapshot.summary().operation, iceberg::spec::Operation::Replace);
    let summary = &snapshot.summary().additional_properties;
    assert_eq!(summary["total-records"], "31", "{summary:?}"); // 30 merged + b's 1
    assert_eq!(summary["total-data-files"], "2", "{summary:?}");
    assert_eq!(summary["thermocline.merged-files"], "2");
    assert_no_stray_manifests(&now).await;
}

#[tokio::test]
async fn a_file_replace_whose_input_was_rewritten_meanwhile_is_stale() {
    let (_dir, catalog, table) = setup().await;
    let table = two_files(&catalog, &table).await;
    // A copy-on-write delete rewrote f1 first: merging the old f1 back in
    // would resurrect the rows it deleted.
    let other = WatermarkCommit::new(
        table.identifier().clone(),
        "a",
        1,
        2,
        vec![test_data_file(&table, "f1-rewritten", 9).unwrap()],
    )
    .with_removed_files([data_path(&table, "f1")]);
    let meddling = Meddling {
        inner: catalog.clone(),
        meddle: tokio::sync::Mutex::new(Some(other)),
    };
    let merge = FileReplace {
        ident: table.identifier().clone(),
        removed_files: vec![data_path(&table, "f1"), data_path(&table, "f2")],
        data_files: vec![test_data_file(&table, "merged", 30).unwrap()],
        properties: Default::default(),
        read_snapshot: table.metadata().current_snapshot_id(),
    };
    match merge.commit(&meddling).await.unwrap() {
        ReplaceOutcome::Stale { reason } => assert!(reason.contains("f1.parquet"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let now = catalog.load_table(table.identifier()).await.unwrap();
    assert_eq!(
        now.metadata()
            .current_snapshot()
            .unwrap()
            .summary()
            .additional_properties["total-records"],
        "29"
    );
    assert_no_stray_manifests(&now).await;

    // Requests that could break the rules are refused.
    let bad = FileReplace {
        ident: table.identifier().clone(),
        removed_files: vec![data_path(&table, "f2")],
        data_files: vec![test_data_file(&table, "x", 1).unwrap()],
        properties: [(watermark_key("a"), "9".to_string())].into(),
        read_snapshot: None,
    };
    assert_eq!(
        bad.commit(catalog.as_ref()).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let empty = FileReplace {
        ident: table.identifier().clone(),
        removed_files: vec![],
        data_files: vec![],
        properties: Default::default(),
        read_snapshot: None,
    };
    assert_eq!(
        empty.commit(catalog.as_ref()).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[tokio::test]
async fn a_file_replace_is_stale_once_delete_files_arrive_after_its_read() {
    let (_dir, catalog, table) = setup().await;
    let table = two_files(&catalog, &table).await;
    let read_at = table.metadata().current_snapshot_id();
    // Another engine's merge-on-read delete (its summary counts the delete
    // file): the merged file would be newer than that delete, which would
    // no longer apply to the rows it deleted.
    let delete = commit(&table, "b", 0, 1).with_properties([("added-delete-files".to_string(), "1".to_string())]);
    assert!(matches!(
        delete.commit(catalog.as_ref()).await.unwrap(),
        CommitOutcome::Committed { .. }
    ));
    let merge = FileReplace {
        ident: table.identifier().clone(),
        removed_files: vec![data_path(&table, "f1"), data_path(&table, "f2")],
        data_files: vec![test_data_file(&table, "merged", 30).unwrap()],
        properties: Default::default(),
        read_snapshot: read_at,
    };
    match merge.commit(catalog.as_ref()).await.unwrap() {
        ReplaceOutcome::Stale { reason } => assert!(reason.contains("delete files"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // Read after the delete, the same merge goes through.
    let now = catalog.load_table(table.identifier()).await.unwrap();
    let merge = FileReplace {
        ident: table.identifier().clone(),
        removed_files: vec![data_path(&table, "f1"), data_path(&table, "f2")],
        data_files: vec![test_data_file(&table, "merged2", 30).unwrap()],
        properties: Default::default(),
        read_snapshot: now.metadata().current_snapshot_id(),
    };
    assert!(matches!(
        merge.commit(catalog.as_ref()).await.unwrap(),
        ReplaceOutcome::Committed { .. }
    ));
}
