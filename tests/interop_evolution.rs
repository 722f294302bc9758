//! Interop after schema evolution (`ALTER TABLE ... ADD / DROP / RENAME
//! COLUMN`, Iceberg evolution by field id, no file rewritten) and of the
//! change log `t$changes`:
//!
//! - ours → theirs: pyiceberg and DuckDB read a table we evolved with the
//!   current names (old files hold a renamed column under its old name and
//!   the same field id, a dropped column is gone, an added one is NULL in
//!   old rows), and pyiceberg reads the before-images of an UPDATE and a
//!   DELETE from the change log compaction wrote beside it;
//! - theirs → ours: we read a table pyiceberg created, appended to, evolved
//!   (rename + add) and appended to again.
//!
//! The peers run as tests/interop/read_evolved.py under `THERMOCLINE_PYTHON`
//! (tests/interop/runner.rs): without it the tests skip with a message,
//! except under CI (`CI` set), where a missing peer is a failure. Rows cross
//! the language boundary in the canonical JSON form of tests/interop.rs.

#[path = "interop/canonical.rs"]
mod canonical;
#[path = "common/peers.rs"]
mod peers;
#[path = "interop/runner.rs"]
mod runner;

use std::path::Path;

use canonical::{by_id, query_rows};
use runner::{metadata_location, python, run_script, summary, write_json};
use serde_json::{Value, json};
use thermocline::hot::TableName;
use thermocline::{CompactionMode, Session, Warehouse, WarehouseConfig};

const SCRIPT: &str = "read_evolved.py";

// ---- ours → theirs ----

/// Rows 1..=OLD are written (and CHECKPOINTed) before the ALTERs, the rest
/// after them.
const OLD: i64 = 40;
const TOTAL: i64 = 60;
/// An old row we UPDATE and one we DELETE after the ALTERs: both live in
/// Parquet files written under the old schema.
const UPDATED: i64 = 5;
const DELETED: i64 = 12;
const UPDATED_NAME: &str = "person-5 (renamed)";
const UPDATED_EMAIL: &str = "five@example.org";

/// What thermocline reads, and the peers must read, with the current names.
const SELECT: &str = "SELECT id, full_name, age, email FROM people ORDER BY id";

/// `name` / `full_name` of row `i` as first written: NULLs, non-ASCII text.
fn name_of(i: i64) -> Option<String> {
    match i {
        _ if i % 9 == 0 => None,
        _ if i % 11 == 0 => Some(format!("zoë-{i} ☃")),
        _ => Some(format!("person-{i}")),
    }
}

fn age_of(i: i64) -> Option<i64> {
    (i % 7 != 0).then_some(20 + i % 50)
}

/// `city` of an old row: written, then dropped; no reader may show it.
fn city_of(i: i64) -> Option<String> {
    (i % 6 != 0).then(|| format!("city-{}", i % 5))
}

/// `email` of a new row (old rows have none).
fn email_of(i: i64) -> Option<String> {
    (i % 10 != 0).then(|| format!("p{i}@example.org"))
}

fn sql_text(value: Option<String>) -> String {
    value.map_or_else(|| "NULL".to_string(), |v| format!("'{v}'"))
}

fn sql_int(value: Option<i64>) -> String {
    value.map_or_else(|| "NULL".to_string(), |v| v.to_string())
}

/// The rows `SELECT` must return at the end, built from the generators.
fn expected_people() -> Vec<Value> {
    (1..=TOTAL)
        .filter(|&i| i != DELETED)
        .map(|i| match i {
            UPDATED => json!({"id": i, "full_name": UPDATED_NAME, "age": age_of(i), "email": UPDATED_EMAIL}),
            _ if i <= OLD => json!({"id": i, "full_name": name_of(i), "age": age_of(i), "email": null}),
            _ => json!({"id": i, "full_name": name_of(i), "age": age_of(i), "email": email_of(i)}),
        })
        .collect()
}

async fn execute(session: &Session, sql: &str) {
    session.execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// A warehouse in `dir` with `public.people` evolved between two
/// CHECKPOINTs, and an UPDATE and a DELETE of old rows compacted into the
/// change log. Nothing is left hot.
async fn build_people(dir: &Path) -> (Warehouse, Session) {
    // Manual: only our CHECKPOINTs move rows, so what the peers see is exact.
    let wh = Warehouse::open(WarehouseConfig::new(dir).with_compaction(CompactionMode::Manual))
        .await
        .expect("open warehouse");
    let session = wh.session();
    execute(
        &session,
        "CREATE TABLE people (id int PRIMARY KEY, name text, age int, city text) PARTITION BY (bucket(4, id))",
    )
    .await;
    let old: Vec<String> = (1..=OLD)
        .map(|i| {
            format!(
                "({i}, {}, {}, {})",
                sql_text(name_of(i)),
                sql_int(age_of(i)),
                sql_text(city_of(i))
            )
        })
        .collect();
    execute(
        &session,
        &format!("INSERT INTO people (id, name, age, city) VALUES {}", old.join(", ")),
    )
    .await;
    execute(&session, "CHECKPOINT").await;

    execute(&session, "ALTER TABLE people RENAME COLUMN name TO full_name").await;
    execute(&session, "ALTER TABLE people DROP COLUMN city").await;
    execute(&session, "ALTER TABLE people ADD COLUMN email text").await;

    let new: Vec<String> = (OLD + 1..=TOTAL)
        .map(|i| {
            format!(
                "({i}, {}, {}, {})",
                sql_text(name_of(i)),
                sql_int(age_of(i)),
                sql_text(email_of(i))
            )
        })
        .collect();
    execute(
        &session,
        &format!(
            "INSERT INTO people (id, full_name, age, email) VALUES {}",
            new.join(", ")
        ),
    )
    .await;
    execute(
        &session,
        &format!("UPDATE people SET full_name = '{UPDATED_NAME}', email = '{UPDATED_EMAIL}' WHERE id = {UPDATED}"),
    )
    .await;
    execute(&session, &format!("DELETE FROM people WHERE id = {DELETED}")).await;
    execute(&session, "CHECKPOINT").await;

    let hot = wh.hot().stats(&TableName::new("public", "people")).expect("hot stats");
    assert_eq!(
        hot.rows, 0,
        "rows left hot after the last CHECKPOINT: the peers would not see them"
    );
    (wh, session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_read_an_evolved_table_and_its_change_log() {
    let test = "peers_read_an_evolved_table_and_its_change_log";
    let Some(python) = python(test) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wh, session) = build_people(dir.path()).await;

    // Our own answer first: the peers are compared against it, so it must
    // be right.
    let ours = query_rows(&session, SELECT).await;
    let expected = expected_people();
    if ours != expected {
        let first_diff = ours.iter().zip(&expected).find(|(a, b)| a != b);
        panic!(
            "thermocline reads {} rows of the evolved table, expected {}; first difference (ours, expected): {first_diff:?}",
            ours.len(),
            expected.len()
        );
    }
    for gone in ["name", "city"] {
        let err = session
            .query(&format!("SELECT {gone} FROM people"))
            .await
            .expect_err("a renamed column's old name and a dropped column must not resolve");
        assert!(err.to_string().contains("does not exist"), "SELECT {gone}: {err}");
    }
    // A filter on the renamed column, matching a row in a file written
    // under the old name.
    let renamed_filter = "full_name = 'person-3'";
    let filtered = query_rows(
        &session,
        &format!("SELECT id, full_name, age, email FROM people WHERE {renamed_filter}"),
    )
    .await;
    assert_eq!(
        filtered,
        vec![json!({"id": 3, "full_name": "person-3", "age": 23, "email": null})],
        "our WHERE on the renamed column"
    );

    let changes = by_id(
        query_rows(
            &session,
            "SELECT id, full_name, age, email, _row_lsn, _new_lsn FROM \"people$changes\"",
        )
        .await,
    );
    let change_ids: Vec<i64> = changes.iter().map(|r| r["id"].as_i64().expect("id")).collect();
    assert_eq!(
        change_ids,
        vec![UPDATED, DELETED],
        "our change log holds the UPDATE's and the DELETE's before-images: {changes:?}"
    );
    assert_eq!(
        changes[0]["full_name"],
        json!(name_of(UPDATED)),
        "before-image of the UPDATE: {changes:?}"
    );

    let job = dir.path().join("read_evolved.json");
    write_json(
        &job,
        &json!({
            "action": "read",
            "warehouse": dir.path(),
            "table": "public.people",
            "changes_table": "public.people$changes",
            "metadata_location": metadata_location(dir.path(), "people"),
            "columns": ["id", "full_name", "age", "email"],
            // A renamed column's old name, and a dropped column: no reader may show them.
            "gone": ["name", "city"],
            "renamed": {"from": "name", "to": "full_name"},
            "rows": ours,
            "filter": renamed_filter,
            "filter_rows": filtered,
            "changes": changes,
            "updated": [UPDATED],
            "deleted": [DELETED],
        }),
    );
    let summary = summary(SCRIPT, &run_script(&python, SCRIPT, &[&job], dir.path()));
    eprintln!("{test}: {summary}");
    assert_eq!(summary["pyiceberg_rows"], json!(TOTAL - 1), "{summary}");
    assert_eq!(summary["duckdb_rows"], json!(TOTAL - 1), "{summary}");
    assert_eq!(summary["changes"], json!(2), "{summary}");
    // Without a file still written under the old schema, this test would
    // not test reading by field id.
    assert!(
        summary["files_with_old_name"].as_u64().is_some_and(|n| n > 0),
        "no data file still holds the column under its old name: {summary}"
    );
}

// ---- theirs → ours ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_read_a_table_pyiceberg_evolved() {
    let test = "we_read_a_table_pyiceberg_evolved";
    let Some(python) = python(test) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let job = dir.path().join("write_evolved.json");
    write_json(
        &job,
        &json!({"action": "write", "warehouse": dir.path(), "table": "public.gauges"}),
    );
    let written = summary(SCRIPT, &run_script(&python, SCRIPT, &[&job], dir.path()));
    let expected = by_id(written["rows"].as_array().expect("rows").clone());
    let old = written["old_rows"].as_i64().expect("old_rows");
    assert!(
        old > 0 && (old as usize) < expected.len(),
        "pyiceberg wrote rows before and after evolving: {written}"
    );

    let wh = Warehouse::open(WarehouseConfig::new(dir.path()).with_compaction(CompactionMode::Manual))
        .await
        .expect("open the warehouse pyiceberg wrote");
    let session = wh.session();
    let ours = by_id(query_rows(&session, "SELECT id, b, v, c FROM gauges").await);
    if ours != expected {
        let first_diff = ours.iter().zip(&expected).find(|(a, b)| a != b);
        let old_b_nulls = ours
            .iter()
            .filter(|r| r["id"].as_i64().is_some_and(|id| id <= old) && r["b"].is_null())
            .count();
        panic!(
            "we read {} rows of pyiceberg's {}; first difference (ours, theirs): {first_diff:?}\n\
             ({old_b_nulls} of the {old} rows written before the rename read `b` as NULL: \
             if that is all of them, the old files' `a` is not being read by field id)",
            ours.len(),
            expected.len()
        );
    }

    // The renamed column filters old rows (statistics of the old name).
    let old_b = query_rows(&session, "SELECT id, b FROM gauges WHERE b = 'a-3'").await;
    assert_eq!(old_b, vec![json!({"id": 3, "b": "a-3"})], "WHERE on the renamed column");
    let with_c = query_rows(&session, "SELECT count(*) AS n FROM gauges WHERE c IS NOT NULL").await;
    assert_eq!(
        with_c,
        vec![json!({"n": written["rows_with_c"]})],
        "rows with the added column set"
    );
    let err = session
        .query("SELECT a FROM gauges")
        .await
        .expect_err("the old name of a renamed column must not resolve");
    assert!(err.to_string().contains("does not exist"), "SELECT a: {err}");

    // Reading commits nothing: the catalog row is still the one pyiceberg left.
    assert_eq!(
        json!(metadata_location(dir.path(), "gauges")),
        written["metadata_location"]
    );
}
