//! Sharded tables: rows routed to one hot tier per shard, every shard
//! compacting into the one Iceberg table with its own watermark, and reads
//! that fan out over the shards (or go to one, when the filter fixes the
//! key). The fan-out answers are checked against DuckDB over the same rows.

mod common;
#[path = "common/peers.rs"]
mod peers;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use common::{Cell, Row, rows};
use datafusion::common::ScalarValue;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use thermocline::config::Durability;
use thermocline::shard::Sharding;
use thermocline::write::NoProgress;
use thermocline::{CompactionMode, Session, TieringConfig, Warehouse, WarehouseConfig};

fn config(root: &Path, flush_threshold: u64) -> WarehouseConfig {
    WarehouseConfig::new(root)
        .with_compaction(CompactionMode::Inline)
        .with_tiering(TieringConfig {
            flush_threshold,
            flush_interval: Duration::from_secs(3600),
            hot_retention: Duration::ZERO,
            ..TieringConfig::default()
        })
        .with_durability(Durability::Normal)
        .with_target_partitions(2)
}

async fn run(session: &Session, sql: &str) {
    session.execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn query(session: &Session, sql: &str) -> Vec<Row> {
    rows(&session.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")))
}

async fn count(session: &Session, sql: &str) -> i64 {
    match query(session, sql).await.first().and_then(|r| r.first()) {
        Some(Cell::Int(n)) => *n,
        other => panic!("{sql}: expected a count, got {other:?}"),
    }
}

async fn explain(session: &Session, sql: &str) -> String {
    let batches = session
        .query(&format!("EXPLAIN {sql}"))
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"));
    let mut out = String::new();
    for batch in &batches {
        let plans = batch
            .column(1)
            .as_any()
            .downcast_ref::<StringArray>()
            .expect("plan text");
        for plan in plans.iter().flatten() {
            out.push_str(plan);
            out.push('\n');
        }
    }
    out
}

async fn error(session: &Session, sql: &str) -> String {
    match session.execute(sql).await {
        Ok(_) => panic!("{sql}: expected an error"),
        Err(e) => e.to_string(),
    }
}

/// The current snapshot's watermarks, by shard.
async fn watermarks(wh: &Warehouse, table: &str) -> BTreeMap<String, i64> {
    let ident = iceberg::TableIdent::from_strs(["public", table]).expect("ident");
    let loaded = wh.catalog().load_table(&ident).await.expect("load table");
    thermocline_catalog::watermark::watermarks(loaded.metadata(), None)
        .into_iter()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_go_to_the_shard_that_owns_their_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = Warehouse::open(config(dir.path(), 1_000_000).with_compaction(CompactionMode::Manual))
        .await
        .expect("open");
    let s = wh.session();
    run(
        &s,
        "CREATE TABLE events (tenant text, id bigint, amount double precision, PRIMARY KEY (tenant, id)) \
         WITH (shard_key = 'tenant', shards = 8)",
    )
    .await;
    let mut values = Vec::new();
    for i in 0..100 {
        values.push(format!("('t-{}', {i}, {}.5)", i % 20, i));
    }
    run(&s, &format!("INSERT INTO events VALUES {}", values.join(", "))).await;
    assert_eq!(count(&s, "SELECT count(*) FROM events").await, 100);

    let sharding = Sharding::parse("tenant", "8", "consistent", None).expect("sharding");
    let owner = sharding.owner_of(&ScalarValue::from("t-3")).expect("owner");
    assert!(
        dir.path().join(format!("hot/shard-{owner}.db")).exists(),
        "t-3's rows are in its shard's hot tier"
    );
    // A filter that fixes the key reads one shard, and says so.
    let plan = explain(&s, "SELECT count(*) FROM events WHERE tenant = 't-3'").await;
    assert!(plan.contains("shards=1 of 8 (shard key fixed by the filter)"), "{plan}");
    assert!(
        plan.contains(&format!("HotScan: table=public.events, shard=shard-{owner}, lsn > 0")),
        "{plan}"
    );
    assert_eq!(count(&s, "SELECT count(*) FROM events WHERE tenant = 't-3'").await, 5);
    let plan = explain(&s, "SELECT count(*) FROM events WHERE amount > 3").await;
    assert!(plan.contains("of 8") && !plan.contains("fixed by the filter"), "{plan}");

    // Keys: unique per (tenant, id), checked under the owner's lock.
    let e = error(&s, "INSERT INTO events VALUES ('t-3', 3, 1.0)").await;
    assert!(e.contains("duplicate key"), "{e}");
    // A row stays in its shard: moving it to another shard's key is refused.
    let other = (0..20)
        .map(|t| format!("t-{t}"))
        .find(|t| sharding.owner_of(&ScalarValue::from(t.as_str())) != Some(owner))
        .expect("a tenant of another shard");
    let e = error(
        &s,
        &format!("UPDATE events SET tenant = '{other}' WHERE tenant = 't-3'"),
    )
    .await;
    assert!(e.contains("cannot change the shard key \"tenant\""), "{e}");
    for alter in [
        "ALTER TABLE events DROP COLUMN tenant",
        "ALTER TABLE events RENAME COLUMN tenant TO org",
    ] {
        let e = error(&s, alter).await;
        assert!(e.contains("it is the table's shard key"), "{alter}: {e}");
    }
    run(&s, "UPDATE events SET amount = amount + 100 WHERE tenant = 't-3'").await;
    run(&s, "DELETE FROM events WHERE tenant = 't-4'").await;
    let sum = query(&s, "SELECT sum(amount) FROM events WHERE tenant = 't-3'").await;
    assert!(
        sum[0][0].matches(&Cell::Float(3.5 + 23.5 + 43.5 + 63.5 + 83.5 + 500.0)),
        "{sum:?}"
    );

    // An explicit transaction over several shards commits each.
    run(&s, "BEGIN").await;
    run(
        &s,
        "INSERT INTO events VALUES ('t-100', 1, 1), ('t-101', 1, 1), ('t-102', 1, 1)",
    )
    .await;
    assert_eq!(count(&s, "SELECT count(*) FROM events").await, 98);
    run(&s, "ROLLBACK").await;
    assert_eq!(count(&s, "SELECT count(*) FROM events").await, 95);

    // Every shard compacts into the one table with its own watermark.
    let reports = wh.compact(None, &NoProgress).await.expect("compact");
    let compacted: u64 = reports.iter().map(|r| r.rows).sum();
    assert!(reports.len() > 1, "several shards compacted: {reports:?}");
    assert_eq!(compacted, 95, "live rows: inserted, less deleted, updated once");
    let marks = watermarks(&wh, "events").await;
    for report in &reports {
        assert_eq!(marks.get(&report.shard), Some(&report.watermark), "{marks:?}");
    }
    assert_eq!(count(&s, "SELECT count(*) FROM events").await, 95);
    drop(s);
    drop(wh);
    // Reopened, the shards are found on disk.
    let wh = Warehouse::open(config(dir.path(), 1_000_000)).await.expect("reopen");
    let s = wh.session();
    run(&s, "INSERT INTO events VALUES ('t-3', 1000, 1.0)").await;
    assert_eq!(count(&s, "SELECT count(*) FROM events").await, 96);
    assert_eq!(count(&s, "SELECT count(*) FROM events WHERE tenant = 't-3'").await, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sharding_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = Warehouse::open(config(dir.path(), 1000)).await.expect("open");
    let s = wh.session();
    let cases = [
        (
            "CREATE TABLE a (tenant text, id bigint PRIMARY KEY) WITH (shard_key = 'tenant', shards = 4)",
            "must include the shard key \"tenant\"",
        ),
        (
            "CREATE TABLE b (id bigint) WITH (shard_key = 'tenant', shards = 4)",
            "shard key column \"tenant\" does not exist",
        ),
        (
            "CREATE TABLE c (x double precision) WITH (shard_key = 'x', shards = 4)",
            "use an integer, text, date, timestamp or decimal column",
        ),
        (
            "CREATE TABLE d (id bigint) WITH (shard_key = 'id', shards = 0)",
            "between 1 and",
        ),
        (
            "CREATE TABLE e (id bigint) WITH (shard_key = 'id', shards = 3, sharding = 'range', shard_bounds = '10')",
            "needs 2 bounds, not 1",
        ),
        ("CREATE TABLE f (id bigint) WITH (shards = 3)", "need shard_key"),
    ];
    for (sql, want) in cases {
        let e = error(&s, sql).await;
        assert!(e.contains(want), "{sql}: {e}");
    }
    run(
        &s,
        "CREATE TABLE logs (tenant text, msg text) WITH (shard_key = 'tenant', shards = 4)",
    )
    .await;
    let e = error(&s, "INSERT INTO logs VALUES ('a', 'x'), (NULL, 'y')").await;
    assert!(
        e.contains("row has no value for shard key \"tenant\" of table \"logs\""),
        "{e}"
    );
    let e = error(&s, "INSERT INTO logs (msg) VALUES ('no tenant')").await;
    assert!(e.contains("no value for shard key"), "{e}");
    assert_eq!(
        count(&s, "SELECT count(*) FROM logs").await,
        0,
        "nothing of a refused statement stays"
    );

    // Range sharding keeps neighbours together.
    run(
        &s,
        "CREATE TABLE r (day int, v int) WITH (shard_key = 'day', shards = 3, sharding = 'range', shard_bounds = '10,20')",
    )
    .await;
    run(&s, "INSERT INTO r VALUES (1, 1), (9, 1), (10, 2), (19, 2), (25, 3)").await;
    let plan = explain(&s, "SELECT * FROM r WHERE day = 12").await;
    assert!(plan.contains("shard=shard-1"), "{plan}");
    assert_eq!(count(&s, "SELECT count(*) FROM r WHERE day IN (1, 9)").await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_warehouse_default_shards_tables_that_have_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sharding = Sharding::parse("tenant", "4", "hash", None).expect("sharding");
    let wh = Warehouse::open(config(dir.path(), 1000).with_sharding(sharding))
        .await
        .expect("open");
    let s = wh.session();
    run(&s, "CREATE TABLE with_key (tenant bigint, v int)").await;
    run(&s, "CREATE TABLE without_key (v int)").await;
    run(
        &s,
        "INSERT INTO with_key SELECT n, 1 FROM generate_series(1, 40) AS g(n)",
    )
    .await;
    run(&s, "INSERT INTO without_key VALUES (1)").await;
    let plan = explain(&s, "SELECT * FROM with_key").await;
    assert!(plan.contains("shards=4 of 4"), "{plan}");
    let plan = explain(&s, "SELECT * FROM without_key").await;
    assert!(plan.contains("shard=local"), "{plan}");
    assert_eq!(count(&s, "SELECT count(*) FROM with_key").await, 40);
}

/// One row of the fan-out test's model.
#[derive(Debug, Clone)]
struct Event {
    kind: &'static str,
    amount: f64,
    qty: i32,
}

const KINDS: [&str; 4] = ["view", "click", "buy", "refund"];

/// The fan-out queries, the same SQL for thermocline and DuckDB.
fn fan_out_queries() -> Vec<&'static str> {
    vec![
        "SELECT tenant, count(*) AS n, sum(amount), min(amount), max(amount), avg(amount), sum(qty) \
         FROM events GROUP BY tenant ORDER BY tenant",
        "SELECT kind, count(*), sum(qty), avg(amount) FROM events WHERE amount > 50 GROUP BY kind ORDER BY kind",
        "SELECT tenant, id, amount FROM events ORDER BY amount DESC, tenant, id LIMIT 15",
        "SELECT count(*), sum(amount), max(id) FROM events WHERE tenant = 't-17'",
        "SELECT tenant, count(*), min(id) FROM events WHERE tenant IN ('t-1', 't-42', 't-99') GROUP BY tenant ORDER BY tenant",
        "SELECT count(DISTINCT tenant), count(*) FROM events WHERE qty BETWEEN 3 AND 7",
        "SELECT tenant, max(amount) - min(amount) AS spread FROM events GROUP BY tenant \
         HAVING count(*) > 100 ORDER BY spread DESC, tenant LIMIT 5",
        "SELECT count(*) FROM events",
    ]
}

/// DuckDB's answers to `queries` over the Parquet file at `data`.
const DUCKDB_SCRIPT: &str = r#"
import json, sys, duckdb
data, queries = sys.argv[1], json.load(sys.stdin)
con = duckdb.connect()
con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{data}')")
out = []
for q in queries:
    out.append([[v if v is None or isinstance(v, (int, float, str)) else str(v) for v in row]
                for row in con.execute(q).fetchall()])
json.dump(out, sys.stdout)
"#;

fn duckdb_answers(python: &Path, data: &Path, queries: &[&str]) -> Vec<Vec<Row>> {
    use std::io::Write;
    let mut child = std::process::Command::new(python)
        .arg("-c")
        .arg(DUCKDB_SCRIPT)
        .arg(data)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(queries).expect("json").as_bytes())
        .expect("write queries");
    let output = child.wait_with_output().expect("duckdb run");
    assert!(
        output.status.success(),
        "duckdb failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let answers: Vec<Vec<Vec<serde_json::Value>>> = serde_json::from_slice(&output.stdout).expect("duckdb json");
    answers
        .into_iter()
        .map(|rows| {
            rows.into_iter()
                .map(|row| {
                    row.into_iter()
                        .map(|v| match v {
                            serde_json::Value::Null => Cell::Null,
                            serde_json::Value::String(s) => Cell::Text(s),
                            serde_json::Value::Number(n) => match n.as_i64() {
                                Some(i) => Cell::Int(i),
                                None => Cell::Float(n.as_f64().expect("number")),
                            },
                            other => panic!("unexpected duckdb value {other}"),
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// Write the model's rows as the Parquet file DuckDB reads.
fn write_reference(path: &Path, model: &BTreeMap<(String, i64), Event>) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("tenant", DataType::Utf8, false),
        Field::new("id", DataType::Int64, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("amount", DataType::Float64, false),
        Field::new("qty", DataType::Int32, false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(model.keys().map(|(t, _)| t.as_str()))),
            Arc::new(Int64Array::from_iter_values(model.keys().map(|(_, id)| *id))),
            Arc::new(StringArray::from_iter_values(model.values().map(|e| e.kind))),
            Arc::new(Float64Array::from_iter_values(model.values().map(|e| e.amount))),
            Arc::new(Int32Array::from_iter_values(model.values().map(|e| e.qty))),
        ],
    )
    .expect("reference batch");
    let file = std::fs::File::create(path).expect("reference file");
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None).expect("parquet writer");
    writer.write(&batch).expect("write reference");
    writer.close().expect("close reference");
}

fn diff(query: &str, ours: &[Row], reference: &[Row]) -> Option<String> {
    let render = |row: &Row| row.iter().map(ToString::to_string).collect::<Vec<_>>().join(" | ");
    if ours.len() != reference.len() {
        return Some(format!(
            "{query}\n  thermocline returned {} rows, duckdb {}",
            ours.len(),
            reference.len()
        ));
    }
    for (a, b) in ours.iter().zip(reference) {
        if a.len() != b.len() || !a.iter().zip(b).all(|(x, y)| x.matches(y)) {
            return Some(format!(
                "{query}\n  thermocline: {}\n  duckdb:      {}",
                render(a),
                render(b)
            ));
        }
    }
    None
}

/// 100 shards, random rows over 200 tenants inserted in batches (each batch
/// touching most shards), shards compacting on their own thresholds so the
/// table is part hot and part cold, then updates and deletes: every query of
/// [`fan_out_queries`] must equal DuckDB's over the same rows, before and
/// after a final compaction of every shard at once, and after reopening.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_over_100_shards_equals_duckdb() {
    let Some(python) = peers::python("fan_out_over_100_shards_equals_duckdb") else {
        return;
    };
    let seed = common::seed_from_env().unwrap_or_else(common::clock_seed);
    eprintln!("fan-out: seed {seed} (replay with THERMOCLINE_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = Warehouse::open(config(dir.path(), 150)).await.expect("open");
    let s = wh.session();
    run(
        &s,
        "CREATE TABLE events (tenant text, id bigint, kind text, amount double precision, qty int, \
         PRIMARY KEY (tenant, id)) WITH (shard_key = 'tenant', shards = 100)",
    )
    .await;
    let mut model: BTreeMap<(String, i64), Event> = BTreeMap::new();
    let batches = common::env_usize("THERMOCLINE_FANOUT_BATCHES", 30);
    let mut next_id = 0i64;
    for _ in 0..batches {
        let mut values = Vec::new();
        for _ in 0..rng.random_range(300..700) {
            next_id += 1;
            let tenant = format!("t-{}", rng.random_range(0..200));
            let event = Event {
                kind: KINDS[rng.random_range(0..KINDS.len())],
                amount: f64::from(rng.random_range(0..100_000)) / 100.0,
                qty: rng.random_range(0..10),
            };
            values.push(format!(
                "('{tenant}', {next_id}, '{}', {}, {})",
                event.kind, event.amount, event.qty
            ));
            model.insert((tenant, next_id), event);
        }
        run(&s, &format!("INSERT INTO events VALUES {}", values.join(", "))).await;
    }
    // Changes to rows hot and cold, in one shard and in all.
    run(&s, "UPDATE events SET amount = amount + 1000 WHERE tenant = 't-7'").await;
    run(&s, "DELETE FROM events WHERE id % 50 = 0").await;
    run(&s, "UPDATE events SET qty = qty + 1 WHERE kind = 'buy' AND amount < 20").await;
    for ((tenant, _), event) in model.iter_mut() {
        if tenant == "t-7" {
            event.amount += 1000.0;
        }
        if event.kind == "buy" && event.amount < 20.0 {
            event.qty += 1;
        }
    }
    model.retain(|(_, id), _| id % 50 != 0);

    let reference = dir.path().join("reference.parquet");
    write_reference(&reference, &model);
    let queries = fan_out_queries();
    let expected = duckdb_answers(&python, &reference, &queries);
    let check = |stage: &'static str, session: Session| {
        let queries = queries.clone();
        let expected = expected.clone();
        async move {
            for (sql, want) in queries.iter().zip(&expected) {
                let ours = query(&session, sql).await;
                if let Some(d) = diff(sql, &ours, want) {
                    panic!("fan-out seed {seed}, {stage}: {d}");
                }
            }
        }
    };
    let marks = watermarks(&wh, "events").await;
    assert!(
        marks.len() > 10 && marks.len() < 100,
        "some shards compacted on their own, others are still hot: {marks:?}"
    );
    check("part hot, part cold", wh.session()).await;

    let reports = wh.compact(None, &NoProgress).await.expect("compact every shard");
    assert!(reports.len() > 50, "most shards had rows to compact: {}", reports.len());
    let marks = watermarks(&wh, "events").await;
    let sharding = Sharding::parse("tenant", "100", "consistent", None).expect("sharding");
    let written: std::collections::BTreeSet<String> = model
        .keys()
        .filter_map(|(t, _)| sharding.owner_of(&ScalarValue::from(t.as_str())))
        .map(thermocline::shard::shard_name)
        .collect();
    assert_eq!(
        marks.keys().cloned().collect::<std::collections::BTreeSet<_>>(),
        written,
        "every shard written has its watermark in the snapshot"
    );
    for report in &reports {
        assert_eq!(marks.get(&report.shard), Some(&report.watermark), "{}", report.shard);
    }
    let files = common::live_files(&wh, "public", "events").await;
    assert_eq!(files.records, model.len() as u64, "every row once in Iceberg");
    check("all cold", wh.session()).await;
    let plan = explain(&s, "SELECT count(*) FROM events WHERE tenant = 't-17'").await;
    assert!(plan.contains("shards=1 of 100"), "{plan}");

    drop(s);
    drop(wh);
    let wh = Warehouse::open(config(dir.path(), 150)).await.expect("reopen");
    check("reopened", wh.session()).await;
}
