//! Benchmarks 1 and 2: hot inserts (batched and single-row) against raw
//! rusqlite doing the same inserts with the same durability (WAL journal,
//! synchronous = FULL), and SQLite rows written per 1000 rows inserted.

use std::time::Instant;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use datafusion::common::ScalarValue;
use rusqlite::{Connection, params};
use thermocline::hot::TableName;

use super::data::{self, Loader};
use super::harness::{self, Config, Outcome, R, Table, fail, ms, rate, rows_per_sec};

/// The peer: a plain SQLite table with the same columns and PRAGMAs as the
/// hot tier.
fn peer_db(dir: &std::path::Path) -> R<Connection> {
    let conn = Connection::open(dir.join("peer.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE t(id INTEGER NOT NULL, ts INTEGER NOT NULL, tenant INTEGER NOT NULL, kind TEXT NOT NULL, value REAL)",
    )?;
    Ok(conn)
}

/// Insert `batch` into the peer one prepared statement per row; `per_row_tx`
/// makes each row its own transaction, else the batch is one transaction.
fn peer_insert(conn: &mut Connection, batch: &RecordBatch, per_row_tx: bool) -> R<()> {
    let id = batch.column(0).as_primitive::<Int64Type>();
    let ts = batch.column(1).as_primitive::<TimestampMicrosecondType>();
    let tenant = batch.column(2).as_primitive::<Int32Type>();
    let kind = batch.column(3).as_string::<i32>();
    let value = batch.column(4).as_primitive::<Float64Type>();
    let value_at = |i: usize| if value.is_null(i) { None } else { Some(value.value(i)) };
    const SQL: &str = "INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)";
    if per_row_tx {
        let mut stmt = conn.prepare_cached(SQL)?;
        for i in 0..batch.num_rows() {
            stmt.execute(params![
                id.value(i),
                ts.value(i),
                tenant.value(i),
                kind.value(i),
                value_at(i)
            ])?;
        }
    } else {
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(SQL)?;
            for i in 0..batch.num_rows() {
                stmt.execute(params![
                    id.value(i),
                    ts.value(i),
                    tenant.value(i),
                    kind.value(i),
                    value_at(i)
                ])?;
            }
        }
        tx.commit()?;
    }
    Ok(())
}

fn total_changes(conn: &Connection) -> R<u64> {
    Ok(conn.query_row("SELECT total_changes()", [], |r| r.get::<_, i64>(0))? as u64)
}

/// SQLite rows one thermocline run wrote: each commit appends its WAL
/// entries (one Arrow IPC batch each) and bumps the shard's lsn counter
/// (one UPDATE), see src/hot/sqlite.rs.
fn hot_rows_written(wh: &thermocline::Warehouse, table: &str, commits: u64) -> R<u64> {
    let stats = wh.hot().stats(&TableName::new("public", table))?;
    Ok(stats.entries + commits)
}

struct Written {
    ours: u64,
    peer: u64,
}

pub async fn batched(cfg: &Config, out: &mut Vec<Outcome>) -> R<()> {
    let n = cfg.rows;
    println!(
        "\n## 1. Hot inserts, batched: {n} rows, {} rows per statement/transaction",
        data::BATCH_ROWS
    );
    println!("thermocline: INSERT INTO t SELECT * FROM <MemTable> per batch (Manual compaction: the hot path alone)");
    println!("peer: rusqlite, prepared INSERT per row, one transaction per batch; both WAL + synchronous=FULL");
    let batches = data::batches(0, n, n)?;
    let mut written = Written { ours: 0, peer: 0 };
    let (ours, peer) = harness::pair(
        cfg,
        async || {
            let dir = cfg.tempdir("bench-ins-")?;
            let wh = data::open_warehouse(dir.path()).await?;
            let s = wh.session();
            s.execute(&data::create_sql("ins", true)).await?;
            let loader = Loader::new(&s)?;
            let start = Instant::now();
            let rows = loader.insert_all(&s, "ins", &batches).await?;
            let elapsed = start.elapsed();
            if rows != n {
                return Err(fail(format!("inserted {rows} rows, expected {n}")));
            }
            written.ours = hot_rows_written(&wh, "ins", batches.len() as u64)?;
            Ok(elapsed)
        },
        async || {
            let dir = cfg.tempdir("bench-ins-peer-")?;
            let mut conn = peer_db(dir.path())?;
            let before = total_changes(&conn)?;
            let start = Instant::now();
            for b in &batches {
                peer_insert(&mut conn, b, false)?;
            }
            let elapsed = start.elapsed();
            written.peer = total_changes(&conn)? - before;
            Ok(elapsed)
        },
    )
    .await?;
    report("batched", n, &ours, &peer, &written, out, true);
    Ok(())
}

pub async fn single_row(cfg: &Config, out: &mut Vec<Outcome>) -> R<()> {
    let n = cfg.single_rows;
    println!("\n## 2. Hot inserts, single-row: {n} one-row INSERT statements, each its own transaction");
    println!("thermocline: execute_with_params(\"INSERT INTO t VALUES ($1, $2, $3, $4, $5)\")");
    println!("peer: rusqlite, prepared INSERT, autocommit (one fsync'd transaction per row)");
    let rows = data::batch(0, n as usize, n)?;
    let mut all_params: Vec<Vec<ScalarValue>> = Vec::with_capacity(rows.num_rows());
    for i in 0..rows.num_rows() {
        let row = (0..rows.num_columns())
            .map(|c| ScalarValue::try_from_array(rows.column(c), i))
            .collect::<Result<Vec<_>, _>>()?;
        all_params.push(row);
    }
    let mut written = Written { ours: 0, peer: 0 };
    let (ours, peer) = harness::pair(
        cfg,
        async || {
            let dir = cfg.tempdir("bench-single-")?;
            let wh = data::open_warehouse(dir.path()).await?;
            let s = wh.session();
            s.execute(&data::create_sql("single", true)).await?;
            let start = Instant::now();
            for p in &all_params {
                let out = s
                    .execute_with_params("INSERT INTO single VALUES ($1, $2, $3, $4, $5)", p.clone())
                    .await?;
                if out.first().map(|o| o.tag.as_str()) != Some("INSERT 0 1") {
                    return Err(fail("a one-row INSERT did not answer INSERT 0 1"));
                }
            }
            let elapsed = start.elapsed();
            written.ours = hot_rows_written(&wh, "single", n)?;
            Ok(elapsed)
        },
        async || {
            let dir = cfg.tempdir("bench-single-peer-")?;
            let mut conn = peer_db(dir.path())?;
            let before = total_changes(&conn)?;
            let start = Instant::now();
            peer_insert(&mut conn, &rows, true)?;
            let elapsed = start.elapsed();
            written.peer = total_changes(&conn)? - before;
            Ok(elapsed)
        },
    )
    .await?;
    report("single-row", n, &ours, &peer, &written, out, false);
    Ok(())
}

fn report(
    what: &str,
    n: u64,
    ours: &harness::Stats,
    peer: &harness::Stats,
    written: &Written,
    out: &mut Vec<Outcome>,
    has_goal: bool,
) {
    let mut t = Table::new(&[
        "engine",
        "median",
        "min",
        "rows/s (median)",
        "SQLite rows written per 1000 rows",
    ]);
    let per_k = |w: u64| format!("{:.2}", w as f64 * 1000.0 / n as f64);
    t.row(vec![
        "thermocline".into(),
        ms(ours.median()),
        ms(ours.min()),
        rate(n, ours.median()),
        per_k(written.ours),
    ]);
    t.row(vec![
        "rusqlite".into(),
        ms(peer.median()),
        ms(peer.min()),
        rate(n, peer.median()),
        per_k(written.peer),
    ]);
    print!("{}", t.render());
    let ours_rate = rows_per_sec(n, ours.median());
    let ratio = ours_rate / rows_per_sec(n, peer.median());
    println!("ratio thermocline/rusqlite (throughput): {ratio:.2}x");
    let (goal, met) = if has_goal {
        (
            "≥ 300k rows/s and ≥ 0.5× rusqlite".to_string(),
            Some(ours_rate >= 300_000.0 && ratio >= 0.5),
        )
    } else {
        ("report (no goal)".to_string(), None)
    };
    out.push(Outcome {
        name: format!("hot insert, {what}"),
        ours: rate(n, ours.median()),
        peer: rate(n, peer.median()),
        ratio: format!("{ratio:.2}x"),
        goal,
        met,
    });
    out.push(Outcome {
        name: format!("SQLite rows written / 1000 rows, {what}"),
        ours: per_k(written.ours),
        peer: per_k(written.peer),
        ratio: format!("{:.4}x", written.ours as f64 / written.peer.max(1) as f64),
        goal: "report (DESIGN.md)".into(),
        met: None,
    });
}
