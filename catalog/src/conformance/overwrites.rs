//! Checks of what thermocline's commits need beyond `Catalog`:
//! [`CommitCatalog::commit_table`], and the copy-on-write
//! [`WatermarkCommit`] built on it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::TryStreamExt;
use iceberg::spec::{MAIN_BRANCH, ManifestStatus, Operation, SnapshotReference, SnapshotRetention};
use iceberg::table::Table;
use iceberg::{ErrorKind as K, TableIdent, TableRequirement, TableUpdate};

use super::{append, at, create_test_table, expect_kind, fail, ident, test_data_file};
use crate::commit::CommitCatalog;
use crate::error::{ErrorKind, Result};
use crate::watermark::{CommitOutcome, WatermarkCommit, watermarks};

fn set_property(key: &str, value: &str) -> TableUpdate {
    TableUpdate::SetProperties {
        updates: HashMap::from([(key.to_string(), value.to_string())]),
    }
}

fn main_is(snapshot_id: Option<i64>) -> TableRequirement {
    TableRequirement::RefSnapshotIdMatch {
        r#ref: MAIN_BRANCH.to_string(),
        snapshot_id,
    }
}

/// `commit_table` commits when its requirements hold and is visible to a
/// fresh load; a stale requirement is a conflict that changes nothing; an
/// update the metadata rejects fails and changes nothing.
pub async fn check_commit_table(catalog: &dyn CommitCatalog, ns: &str) -> Result<()> {
    const C: &str = "commit_table";
    let nsi = ident(ns);
    at(C, catalog.create_namespace(&nsi, HashMap::new()).await)?;
    let table = create_test_table(catalog, &nsi, "t").await?;
    let id = table.identifier();
    let uuid = table.metadata().uuid();

    let committed = at(
        C,
        catalog
            .commit_table(
                id,
                vec![TableRequirement::UuidMatch { uuid }, main_is(None)],
                vec![set_property("k", "1")],
            )
            .await,
    )?;
    ensure!(
        C,
        committed.metadata().properties().get("k").map(String::as_str) == Some("1"),
        "the returned table lacks the committed property"
    );
    let reloaded = at(C, catalog.load_table(id).await)?;
    ensure!(
        C,
        reloaded.metadata_location() == committed.metadata_location()
            && reloaded.metadata().properties().get("k").map(String::as_str) == Some("1"),
        "a fresh load does not see the commit"
    );

    // A snapshot lands; a commit still requiring an empty main is stale.
    let moved = append(catalog, id, "f1").await?;
    let unchanged = |what: &'static str, now: Table| {
        if now.metadata_location() == moved.metadata_location()
            && now.metadata().properties().get("k").map(String::as_str) == Some("1")
        {
            Ok(())
        } else {
            Err(fail(C, format!("{what} changed the table")))
        }
    };
    expect_kind(
        C,
        "stale ref requirement",
        catalog
            .commit_table(id, vec![main_is(None)], vec![set_property("k", "2")])
            .await,
        K::CatalogCommitConflicts,
    )?;
    unchanged("a stale ref requirement", at(C, catalog.load_table(id).await)?)?;
    expect_kind(
        C,
        "another table's uuid",
        catalog
            .commit_table(
                id,
                vec![TableRequirement::UuidMatch {
                    uuid: uuid::Uuid::new_v4(),
                }],
                vec![set_property("k", "3")],
            )
            .await,
        K::CatalogCommitConflicts,
    )?;
    unchanged("a wrong uuid requirement", at(C, catalog.load_table(id).await)?)?;

    let dangling = TableUpdate::SetSnapshotRef {
        ref_name: MAIN_BRANCH.to_string(),
        reference: SnapshotReference::new(4_242_424_242, SnapshotRetention::branch(None, None, None)),
    };
    let rejected = catalog
        .commit_table(id, vec![], vec![set_property("k", "4"), dangling])
        .await;
    ensure!(C, rejected.is_err(), "a ref to a missing snapshot was committed");
    unchanged("a rejected update", at(C, catalog.load_table(id).await)?)?;
    Ok(())
}

/// Live data file paths of the current snapshot, through iceberg's scan
/// planning (which only reads manifests: the test files need not exist).
async fn planned_files(table: &Table) -> Result<BTreeSet<String>> {
    let tasks: Vec<_> = table.scan().build()?.plan_files().await?.try_collect().await?;
    Ok(tasks.into_iter().map(|t| t.data_file_path).collect())
}

/// Each live or deleted entry of the current snapshot's manifests:
/// path → (status, snapshot id, data sequence number).
async fn entries(table: &Table) -> Result<BTreeMap<String, Vec<(ManifestStatus, Option<i64>, Option<i64>)>>> {
    let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
    let Some(snapshot) = table.metadata().current_snapshot() else {
        return Ok(out);
    };
    let list = table.manifest_list_reader(snapshot).load().await?;
    for file in list.entries() {
        for entry in file.load_manifest(table.file_io()).await?.entries() {
            out.entry(entry.file_path().to_string()).or_default().push((
                entry.status(),
                entry.snapshot_id(),
                entry.sequence_number(),
            ));
        }
    }
    Ok(out)
}

fn summary_value(table: &Table, key: &str) -> Option<String> {
    table
        .metadata()
        .current_snapshot()
        .and_then(|s| s.summary().additional_properties.get(key).cloned())
}

fn committed(check: &'static str, what: &str, outcome: CommitOutcome) -> Result<(i64, Table)> {
    match outcome {
        CommitOutcome::Committed { snapshot_id, table, .. } => Ok((snapshot_id, table)),
        other => Err(fail(check, format!("{what}: {other:?}"))),
    }
}

/// Copy-on-write watermark commits: removed files leave the table in the
/// same snapshot that adds their rewrites and moves the watermark; the
/// summary's counts and totals are right; untouched files keep their
/// snapshot ids and sequence numbers; a file no longer live is never
/// "removed" again (retryable conflict, nothing committed); racing removals
/// of different files all land, of the same file exactly one does.
pub async fn check_watermark_overwrites(catalog: &dyn CommitCatalog, ns: &str) -> Result<()> {
    const C: &str = "watermark_overwrites";
    let nsi = ident(ns);
    at(C, catalog.create_namespace(&nsi, HashMap::new()).await)?;
    let table = create_test_table(catalog, &nsi, "t").await?;
    let id: TableIdent = table.identifier().clone();
    let file = |name: &str, rows: u64| test_data_file(&table, name, rows);
    let path = |name: &str| format!("{}/data/{name}.parquet", table.metadata().location());

    let outcome = WatermarkCommit::new(id.clone(), "a", 0, 1, vec![file("a1", 10)?, file("a2", 20)?])
        .commit(catalog)
        .await?;
    let (first, _) = committed(C, "first commit of shard a", outcome)?;
    let outcome = WatermarkCommit::new(id.clone(), "b", 0, 1, vec![file("b1", 5)?])
        .commit(catalog)
        .await?;
    committed(C, "first commit of shard b", outcome)?;

    // Shard a rewrites a1 without three of its rows.
    let outcome = WatermarkCommit::new(id.clone(), "a", 1, 2, vec![file("a1r", 7)?])
        .with_removed_files([path("a1")])
        .with_properties([("thermocline.test".to_string(), "yes".to_string())])
        .commit(catalog)
        .await?;
    let (overwrite, now) = committed(C, "overwrite", outcome)?;
    let snapshot = now
        .metadata()
        .current_snapshot()
        .ok_or_else(|| fail(C, "no current snapshot after the overwrite"))?;
    ensure!(
        C,
        snapshot.snapshot_id() == overwrite && snapshot.summary().operation == Operation::Overwrite,
        "snapshot {} is a {:?}",
        snapshot.snapshot_id(),
        snapshot.summary().operation
    );
    for (key, want) in [
        ("added-data-files", "1"),
        ("deleted-data-files", "1"),
        ("added-records", "7"),
        ("deleted-records", "10"),
        ("total-records", "32"),
        ("total-data-files", "3"),
        ("total-files-size", "3072"),
        ("total-delete-files", "0"),
        ("thermocline.test", "yes"),
    ] {
        let got = summary_value(&now, key);
        ensure!(
            C,
            got.as_deref() == Some(want),
            "summary {key} = {got:?}, expected {want}"
        );
    }
    let w = watermarks(now.metadata(), None);
    ensure!(
        C,
        w == [("a".to_string(), 2), ("b".to_string(), 1)].into(),
        "watermarks after the overwrite: {w:?}"
    );
    let live = planned_files(&now).await?;
    ensure!(
        C,
        live == [path("a1r"), path("a2"), path("b1")].into(),
        "scan plans {live:?}"
    );
    let listed = entries(&now).await?;
    let a1 = listed.get(&path("a1")).cloned().unwrap_or_default();
    ensure!(
        C,
        a1 == vec![(ManifestStatus::Deleted, Some(overwrite), Some(1))],
        "entry of the removed file: {a1:?}"
    );
    let a2 = listed.get(&path("a2")).cloned().unwrap_or_default();
    ensure!(
        C,
        a2 == vec![(ManifestStatus::Existing, Some(first), Some(1))],
        "entry of the untouched file in the rewritten manifest: {a2:?}"
    );

    // a1 is gone: removing it again must not commit anything.
    let stale = WatermarkCommit::new(id.clone(), "a", 2, 3, vec![file("a1rr", 6)?])
        .with_removed_files([path("a1")])
        .commit(catalog)
        .await;
    match stale {
        Err(e) if e.kind() == ErrorKind::CommitConflict && e.is_retryable() => {}
        other => return Err(fail(C, format!("removing a file twice: {other:?}"))),
    }
    let after = at(C, catalog.load_table(&id).await)?;
    ensure!(
        C,
        after.metadata_location() == now.metadata_location(),
        "a refused removal moved the table"
    );

    // Removing without adding is a delete.
    let outcome = WatermarkCommit::new(id.clone(), "b", 1, 2, vec![])
        .with_removed_files([path("b1")])
        .commit(catalog)
        .await?;
    let (_, now) = committed(C, "delete", outcome)?;
    let operation = now.metadata().current_snapshot().map(|s| s.summary().operation.clone());
    ensure!(
        C,
        operation == Some(Operation::Delete),
        "removal only is a {operation:?}"
    );
    for (key, want) in [
        ("deleted-records", Some("5")),
        ("total-records", Some("27")),
        ("total-data-files", Some("2")),
        ("added-data-files", None),
    ] {
        let got = summary_value(&now, key);
        ensure!(
            C,
            got.as_deref() == want,
            "delete summary {key} = {got:?}, expected {want:?}"
        );
    }

    // Two shards remove different files at once: both land.
    let (x, y) = futures::join!(
        WatermarkCommit::new(id.clone(), "a", 2, 3, vec![file("a2r", 19)?])
            .with_removed_files([path("a2")])
            .commit(catalog),
        WatermarkCommit::new(id.clone(), "c", 0, 1, vec![file("a1rr", 6)?])
            .with_removed_files([path("a1r")])
            .commit(catalog),
    );
    committed(C, "racing removal by a", x?)?;
    committed(C, "racing removal by c", y?)?;
    let now = at(C, catalog.load_table(&id).await)?;
    let live = planned_files(&now).await?;
    ensure!(
        C,
        live == [path("a2r"), path("a1rr")].into(),
        "after racing removals the scan plans {live:?}"
    );
    let total = summary_value(&now, "total-records");
    ensure!(C, total.as_deref() == Some("25"), "total-records {total:?}");

    // Two shards remove the same file at once: exactly one lands.
    let (x, y) = futures::join!(
        WatermarkCommit::new(id.clone(), "a", 3, 4, vec![file("x", 1)?])
            .with_removed_files([path("a2r")])
            .commit(catalog),
        WatermarkCommit::new(id.clone(), "c", 1, 2, vec![file("y", 1)?])
            .with_removed_files([path("a2r")])
            .commit(catalog),
    );
    let mut won = 0;
    for r in [x, y] {
        match r {
            Ok(CommitOutcome::Committed { .. }) => won += 1,
            Err(e) if e.kind() == ErrorKind::CommitConflict && e.is_retryable() => {}
            other => return Err(fail(C, format!("same-file race: {other:?}"))),
        }
    }
    ensure!(C, won == 1, "same-file race had {won} winners");
    let now = at(C, catalog.load_table(&id).await)?;
    let live = planned_files(&now).await?;
    ensure!(
        C,
        live.len() == 2 && live.contains(&path("a1rr")) && (live.contains(&path("x")) ^ live.contains(&path("y"))),
        "after the same-file race the scan plans {live:?}"
    );
    Ok(())
}
