//! `rewrite_without` + a copy-on-write `WatermarkCommit` over real tables:
//! exactly the deleted versions leave the table, every other row keeps its
//! identity, only the files holding a deleted version are rewritten (in
//! their partition, with bloom filters on the key columns), and the
//! snapshot's summary adds up. Checked with iceberg-rust's own reader and
//! planner, with our SQL, and against the Parquet files themselves.

mod cow;

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::AsArray;
use arrow::datatypes::{Date32Type, Int64Type};
use cow::{DELETABLE, Scenario, TOTAL, bloom_filtered_columns, ids_of, is_deleted, read_parquet};
use iceberg::spec::Operation;
use thermocline::table::row_id::DeletedRows;
use thermocline::write::rewrite::rewrite_without;

async fn check(partitioned: bool) {
    let Scenario {
        dir: _dir,
        wh,
        shard,
        before,
        files_before,
        rewrite,
        after,
        ..
    } = cow::run(partitioned).await;

    let deleted_ids: BTreeSet<i64> = before.keys().copied().filter(|&id| is_deleted(id)).collect();
    assert_eq!(rewrite.rows_removed, deleted_ids.len() as u64);
    assert_eq!(
        rewrite.not_found,
        cow::bogus(&shard),
        "only the bogus ids were in no file"
    );

    // Exactly the files holding a deleted row are rewritten; the rest
    // (among them every file of the third CHECKPOINT) are untouched.
    let holding: BTreeSet<String> = files_before
        .iter()
        .filter(|(_, ids)| ids.iter().any(|&id| is_deleted(id)))
        .map(|(path, _)| path.clone())
        .collect();
    let removed: BTreeSet<String> = rewrite.removed.iter().cloned().collect();
    assert_eq!(removed, holding);
    assert!(files_before.len() > removed.len(), "some files must stay untouched");
    let emptied = files_before
        .iter()
        .filter(|(path, ids)| removed.contains(*path) && ids.iter().all(|&id| is_deleted(id)))
        .count();
    assert_eq!(
        emptied,
        usize::from(partitioned),
        "the partitioned case empties one file"
    );
    assert_eq!(
        rewrite.added.len(),
        removed.len() - emptied,
        "one remainder per file kept"
    );

    // The new snapshot plans (before − removed) ∪ added.
    let planned = cow::planned_files(&after).await;
    let mut expected: BTreeSet<String> = files_before.keys().filter(|p| !removed.contains(*p)).cloned().collect();
    expected.extend(rewrite.added.iter().map(|f| f.file_path().to_string()));
    assert_eq!(planned, expected);

    // iceberg-rust reads exactly the other rows, each with its identity.
    let rows = cow::iceberg_rows(&after).await;
    let kept: BTreeMap<i64, cow::Version> = before
        .iter()
        .filter(|(id, _)| !is_deleted(**id))
        .map(|(id, v)| (*id, v.clone()))
        .collect();
    assert_eq!(rows, kept);

    // The summary adds up.
    let snapshot = after.metadata().current_snapshot().expect("snapshot");
    assert_eq!(snapshot.summary().operation, Operation::Overwrite);
    let props = &snapshot.summary().additional_properties;
    let removed_records: usize = files_before
        .iter()
        .filter(|(p, _)| removed.contains(*p))
        .map(|(_, ids)| ids.len())
        .sum();
    let added_records: u64 = rewrite.added.iter().map(|f| f.record_count()).sum();
    assert_eq!(props["total-records"], kept.len().to_string());
    assert_eq!(props["deleted-records"], removed_records.to_string());
    assert_eq!(
        props.get("added-records").map(String::as_str).unwrap_or("0"),
        added_records.to_string()
    );
    assert_eq!(props["total-data-files"], planned.len().to_string());
    assert_eq!(props["deleted-data-files"], removed.len().to_string());

    // Each remainder holds one partition's rows, keeps the key columns'
    // bloom filters, and so do the files compaction writes.
    for file in &rewrite.added {
        let batches = read_parquet(file.file_path());
        if partitioned {
            let days: BTreeSet<i32> = batches
                .iter()
                .flat_map(|b| {
                    b.column_by_name("day")
                        .expect("day")
                        .as_primitive::<Date32Type>()
                        .values()
                        .to_vec()
                })
                .collect();
            assert_eq!(days.len(), 1, "{} mixes days {days:?}", file.file_path());
            assert!(file.file_path().contains("/day="), "{}", file.file_path());
        }
        assert!(ids_of(&batches).iter().all(|&id| !is_deleted(id)));
        assert_eq!(
            bloom_filtered_columns(file.file_path()),
            BTreeSet::from(["email".to_string(), "id".to_string()])
        );
    }
    for path in files_before.keys() {
        assert_eq!(
            bloom_filtered_columns(path),
            BTreeSet::from(["email".to_string(), "id".to_string()]),
            "compacted file {path}"
        );
    }

    // SQL over both tiers agrees.
    let batches = wh
        .session()
        .query("SELECT id FROM t ORDER BY id")
        .await
        .expect("select");
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(ids, kept.keys().copied().collect::<Vec<_>>());
    assert_eq!(ids.len() as i64, TOTAL - deleted_ids.len() as i64);
    assert!(deleted_ids.iter().all(|&id| id <= DELETABLE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrite_of_a_partitioned_table() {
    check(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewrite_of_an_unpartitioned_table() {
    check(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_already_deleted_touch_no_file() {
    let Scenario {
        dir: _dir,
        before,
        after,
        ..
    } = cow::run(false).await;
    let rewrite = rewrite_without(&after, &DeletedRows::default(), 1 << 20)
        .await
        .expect("rewrite");
    assert!(rewrite.removed.is_empty() && rewrite.added.is_empty() && rewrite.not_found.is_empty());

    // Row 10 went in the scenario's rewrite: deleting it again finds it
    // nowhere and rewrites nothing.
    let mut again = DeletedRows::default();
    again.insert(&before[&10].shard, before[&10].lsn);
    let rewrite = rewrite_without(&after, &again, 1 << 20).await.expect("rewrite");
    assert!(rewrite.removed.is_empty() && rewrite.added.is_empty());
    assert_eq!(rewrite.rows_removed, 0);
    assert_eq!(rewrite.not_found, again);
}
