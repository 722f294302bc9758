use std::collections::HashMap;
use std::sync::Arc;

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
    WatermarkCommit {
        ident: table.identifier().clone(),
        shard: shard.to_string(),
        expected,
        new,
        data_files: vec![test_data_file(table, &name, 1).unwrap()],
    }
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
