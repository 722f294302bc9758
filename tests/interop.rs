//! Interop with real Iceberg peers: pyiceberg and DuckDB read the tables we
//! write, and we read a table pyiceberg created and appended to.
//!
//! The peers run as Python scripts (tests/interop/*.py) under
//! `THERMOCLINE_PYTHON` (scripts/setup.sh builds `.venv` with the pinned
//! versions; scripts/test.sh exports it). Without it the tests skip with a
//! message, except under CI (`CI` set), where a missing peer is a failure:
//! these tests must never pass silently in CI (see tests/interop/runner.rs).
//!
//! Rows cross the language boundary in one canonical JSON form (see
//! tests/interop/common.py and tests/interop/canonical.rs): decimals as
//! strings with their scale, timestamps as µs and dates as days since the
//! epoch, binary as hex.

#[path = "interop/canonical.rs"]
mod canonical;
#[path = "common/peers.rs"]
mod peers;
#[path = "interop/runner.rs"]
mod runner;

use std::path::Path;

use arrow::array::AsArray;
use canonical::{by_id, canonical_rows, query};
use runner::{metadata_location, python, run_script, summary, write_json};
use serde_json::{Value, json};
use thermocline::hot::TableName;
use thermocline::{CompactionMode, Session, Warehouse, WarehouseConfig};

/// The text of an EXPLAIN, all plan rows joined.
async fn explain(session: &Session, sql: &str) -> String {
    let batches = query(session, &format!("EXPLAIN {sql}")).await;
    let mut text = String::new();
    for batch in &batches {
        for column in batch.columns() {
            if let Some(strings) = column.as_string_opt::<i32>() {
                for value in strings.iter().flatten() {
                    text.push_str(value);
                    text.push('\n');
                }
            }
        }
    }
    text
}

// ---- the table we write (tests a and b) ----

const COLUMNS: &str = "id, ts, amount, name, qty, ok, d, payload, score";
/// Rows 1..=FIRST go to the first snapshot, ..=COLD to the second, the rest stay hot.
const FIRST: i64 = 120;
const COLD: i64 = 200;
const TOTAL: i64 = 230;
/// Rows land on 2024-01-01 ..= 2024-01-05.
const DAYS: i64 = 5;

/// One row of `events` as SQL VALUES: every type, NULLs in every nullable
/// column, negative numbers, non-ASCII text, a quote, empty bytes.
fn event_values(i: i64) -> String {
    let day = i % DAYS + 1;
    let ts = format!(
        "'2024-01-{day:02} {:02}:{:02}:{:02}.{:06}+00'",
        i * 7 % 24,
        i * 13 % 60,
        i % 60,
        i * 1009 % 1_000_000
    );
    let amount = if i % 11 == 0 {
        "NULL".to_string()
    } else {
        let cents = i * 3_737 % 10_000_000 * if i % 4 == 0 { -1 } else { 1 };
        format!(
            "'{}{}.{:02}'",
            if cents < 0 { "-" } else { "" },
            cents.abs() / 100,
            cents.abs() % 100
        )
    };
    let name = match i {
        _ if i % 7 == 0 => "NULL".to_string(),
        _ if i % 17 == 0 => format!("'ünïcødé-{i} ☃'"),
        // chr(39), not '': the engine's statement splitter loses the
        // doubled quote (reported); this file tests interop, not quoting.
        _ if i % 19 == 0 => format!("'o' || chr(39) || 'brien-{i}'"),
        _ => format!("'name-{}'", i % 13),
    };
    let qty = if i % 9 == 0 {
        "NULL".to_string()
    } else {
        (i * 1000 - 50_000).to_string()
    };
    let ok = match i % 10 {
        0 => "NULL",
        _ if i % 3 == 0 => "true",
        _ => "false",
    };
    let payload = match i {
        _ if i % 6 == 0 => "NULL".to_string(),
        _ if i % 25 == 0 => "X''".to_string(),
        _ => format!("X'{:02x}00ff{:02x}'", i % 256, i / 256),
    };
    let score = if i % 8 == 0 {
        "NULL".to_string()
    } else {
        format!("{:?}", (i - 100) as f64 / 8.0)
    };
    format!("({i}, {ts}, {amount}, {name}, {qty}, {ok}, '2024-01-{day:02}', {payload}, {score})")
}

async fn insert_events(session: &Session, ids: std::ops::RangeInclusive<i64>) {
    let ids: Vec<i64> = ids.collect();
    for chunk in ids.chunks(40) {
        let values: Vec<String> = chunk.iter().map(|&i| event_values(i)).collect();
        let sql = format!("INSERT INTO events ({COLUMNS}) VALUES {}", values.join(", "));
        session
            .execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("insert rows {chunk:?}: {e}"));
    }
}

/// A warehouse in `dir` with `public.events`: two CHECKPOINTs (two
/// snapshots) and a hot tail of `TOTAL - COLD` rows.
async fn build_events(dir: &Path) -> (Warehouse, Session, i64) {
    // Manual: only our CHECKPOINTs move rows, so the split is exact.
    let wh = Warehouse::open(WarehouseConfig::new(dir).with_compaction(CompactionMode::Manual))
        .await
        .expect("open warehouse");
    let session = wh.session();
    session
        .execute(
            "CREATE TABLE events (
                id bigint NOT NULL, ts timestamptz NOT NULL, amount numeric(10,2), name text,
                qty bigint, ok boolean, d date, payload bytea, score double precision
            ) PARTITION BY (day(ts), bucket(4, id))",
        )
        .await
        .expect("create events");
    insert_events(&session, 1..=FIRST).await;
    session.execute("CHECKPOINT").await.expect("first checkpoint");
    insert_events(&session, FIRST + 1..=COLD).await;
    session.execute("CHECKPOINT").await.expect("second checkpoint");
    insert_events(&session, COLD + 1..=TOTAL).await;

    let hot = wh.hot().stats(&TableName::new("public", "events")).expect("hot stats");
    assert_eq!(hot.rows, (TOTAL - COLD) as u64, "rows left hot after two CHECKPOINTs");
    (wh, session, hot.rows as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyiceberg_reads_our_table() {
    let Some(python) = python("pyiceberg_reads_our_table") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wh, session, hot_rows) = build_events(dir.path()).await;

    let total = canonical_rows(&query(&session, "SELECT count(*) AS n FROM events").await);
    assert_eq!(total, vec![json!({"n": TOTAL})], "our count over both tiers");
    let cold = canonical_rows(&query(&session, &format!("SELECT {COLUMNS} FROM events WHERE id <= {COLD}")).await);
    assert_eq!(cold.len() as i64, COLD);
    let day2 = "ts >= '2024-01-02T00:00:00+00:00' and ts < '2024-01-03T00:00:00+00:00'";
    let filtered = canonical_rows(
        &query(
            &session,
            &format!(
                "SELECT {COLUMNS} FROM events WHERE id <= {COLD} AND {}",
                day2.replace(" and ", " AND ")
            ),
        )
        .await,
    );
    assert_eq!(filtered.len() as i64, COLD / DAYS, "our WHERE on day 2");

    let job = dir.path().join("pyiceberg_read.json");
    write_json(
        &job,
        &json!({
            "warehouse": dir.path(),
            "table": "public.events",
            "rows": cold,
            "snapshots": 2,
            "first_snapshot_rows": FIRST,
            "filter": day2,
            "filter_rows": filtered,
        }),
    );
    let summary = summary(
        "pyiceberg_read.py",
        &run_script(&python, "pyiceberg_read.py", &[&job], dir.path()),
    );
    // pyiceberg reads Iceberg only: exactly the rows no longer hot.
    assert_eq!(
        summary["rows"],
        json!(TOTAL - hot_rows),
        "pyiceberg row count = total - hot: {summary}"
    );
    assert_eq!(
        summary["distinct_lsns"],
        json!(COLD),
        "one distinct _lsn per cold row: {summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duckdb_reads_our_table() {
    let Some(python) = python("duckdb_reads_our_table") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let (_wh, session, _) = build_events(dir.path()).await;

    // The same question to both engines; ours restricted to the cold rows,
    // the only ones DuckDB can see.
    let per_day = "SELECT d, count(*) AS n, sum(amount) AS total, sum(qty) AS qty, min(id) AS min_id,
                          max(id) AS max_id, count(name) AS names, min(ts) AS first_ts, max(ts) AS last_ts";
    let ours_per_day = canonical_rows(
        &query(
            &session,
            &format!("{per_day} FROM events WHERE id <= {COLD} GROUP BY d"),
        )
        .await,
    );
    assert_eq!(ours_per_day.len() as i64, DAYS);
    let duck_per_day = "SELECT d, count(*)::BIGINT AS n, sum(amount) AS total, sum(qty)::BIGINT AS qty,
                               min(id) AS min_id, max(id) AS max_id, count(name)::BIGINT AS names,
                               min(ts) AS first_ts, max(ts) AS last_ts FROM {table} GROUP BY d";
    let all_rows = canonical_rows(&query(&session, &format!("SELECT {COLUMNS} FROM events WHERE id <= {COLD}")).await);
    let day3 = canonical_rows(
        &query(
            &session,
            &format!(
                "SELECT count(*) AS n, sum(score) AS score FROM events
                 WHERE id <= {COLD} AND ts >= '2024-01-03T00:00:00Z' AND ts < '2024-01-04T00:00:00Z'"
            ),
        )
        .await,
    );

    let location = metadata_location(dir.path(), "events");
    let job = dir.path().join("duckdb_read.json");
    write_json(
        &job,
        &json!({
            "metadata_location": location,
            "queries": [
                {"label": "per-day aggregates", "sql": duck_per_day, "rows": ours_per_day},
                {"label": "every cold row", "sql": format!("SELECT {COLUMNS} FROM {{table}}"), "rows": all_rows},
                {"label": "one day's count and sum", "rows": day3,
                 "sql": "SELECT count(*)::BIGINT AS n, sum(score) AS score FROM {table}
                         WHERE ts >= TIMESTAMPTZ '2024-01-03 00:00:00+00' AND ts < TIMESTAMPTZ '2024-01-04 00:00:00+00'"},
            ],
        }),
    );
    let summary = summary(
        "duckdb_read.py",
        &run_script(&python, "duckdb_read.py", &[&job], dir.path()),
    );
    assert_eq!(summary["every cold row"], json!(COLD), "DuckDB saw {summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn we_read_a_pyiceberg_table() {
    let Some(python) = python("we_read_a_pyiceberg_table") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let written = dir.path().join("written.json");
    run_script(&python, "pyiceberg_write.py", &[dir.path(), &written], dir.path());
    let written: Value = serde_json::from_slice(&std::fs::read(&written).expect("read written.json")).expect("parse");
    let expected = by_id(written["rows"].as_array().expect("rows").clone());
    assert_eq!(expected.len(), 140);
    assert_eq!(
        written["files"],
        json!(4),
        "pyiceberg wrote one file per day: {}",
        written["files"]
    );

    let wh = Warehouse::open(WarehouseConfig::new(dir.path()).with_compaction(CompactionMode::Manual))
        .await
        .expect("open the warehouse pyiceberg wrote");
    let session = wh.session();
    let ours = by_id(canonical_rows(
        &query(
            &session,
            "SELECT id, ts, value, name, amount, ok, d, payload FROM readings",
        )
        .await,
    ));
    if ours != expected {
        let first_diff = ours.iter().zip(&expected).find(|(a, b)| a != b);
        panic!(
            "we read {} rows of pyiceberg's {}; first difference (ours, theirs): {first_diff:?}",
            ours.len(),
            expected.len()
        );
    }

    let day2 = "FROM readings WHERE ts >= '2024-03-02T00:00:00Z' AND ts < '2024-03-03T00:00:00Z'";
    let count = canonical_rows(&query(&session, &format!("SELECT count(*) AS n {day2}")).await);
    assert_eq!(count, vec![json!({"n": 40})], "rows on 2024-03-02");
    let plan = explain(&session, &format!("SELECT count(*) {day2}")).await;
    let cut = plan
        .lines()
        .find(|l| l.contains("TieredScan:"))
        .unwrap_or_else(|| panic!("EXPLAIN has no TieredScan line:\n{plan}"));
    assert!(
        cut.contains("files_planned=1,") && cut.contains("files_pruned=3 of 4"),
        "the day filter should prune 3 of pyiceberg's 4 day files:\n{plan}"
    );

    // Reading commits nothing: the catalog row is still the one pyiceberg left.
    assert_eq!(
        json!(metadata_location(dir.path(), "readings")),
        written["metadata_location"]
    );
}
