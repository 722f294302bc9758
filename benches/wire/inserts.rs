//! Workload 1: single-row INSERT throughput over one connection, a prepared
//! `INSERT INTO t VALUES ($1, $2, $3)` per row, each its own (autocommit)
//! transaction.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::client::{all_values, connect, same_answer};
use super::config::WireConfig;
use super::data::{kv_ddl, kv_row};
use super::harness::{self, Outcome, R, Stats, Table, fail, ms, rate};
use super::report::{throughput_ratio, us};
use super::servers::Endpoint;

pub async fn single_row(cfg: &WireConfig, ours: &Endpoint, peer: &Endpoint, out: &mut Vec<Outcome>) -> R<()> {
    let n = cfg.inserts;
    // A run of 5000 takes thermocline a minute or more: the warm-up inserts
    // a tenth, and at most 3 runs are measured, to keep the bench in budget.
    let warmup_rows = (n / 10).max(1);
    let pair_cfg = harness::Config {
        runs: cfg.pair.runs.min(3),
        ..cfg.pair.clone()
    };
    println!(
        "\n## 1. Single-row INSERT: {n} rows per run ({} measured runs after a warm-up of {warmup_rows}), 1 connection, autocommit",
        pair_cfg.runs
    );
    println!(
        "prepared `INSERT INTO ins_<run> VALUES ($1, $2, $3)`, a fresh table per run: {}",
        kv_ddl("ins_<run>")
    );
    let ours_client = connect(ours).await?;
    let peer_client = connect(peer).await?;
    let (mut ours_run, mut peer_run) = (0u32, 0u32);
    let rows = |run: u32| {
        if run as usize <= pair_cfg.warmup {
            warmup_rows
        } else {
            n
        }
    };
    let (a, b) = harness::pair(
        &pair_cfg,
        async || {
            ours_run += 1;
            insert_run(&ours_client, &format!("ins_{ours_run}"), rows(ours_run)).await
        },
        async || {
            peer_run += 1;
            insert_run(&peer_client, &format!("ins_{peer_run}"), rows(peer_run)).await
        },
    )
    .await?;
    // Every run's table holds the same rows on both sides.
    for run in 1..=ours_run.min(peer_run) {
        let sql = format!("SELECT count(*), min(id), max(id), sum(amount), min(name), max(name) FROM ins_{run}");
        let theirs = all_values(&peer_client.query(&sql, &[]).await?)?;
        same_answer(&sql, &all_values(&ours_client.query(&sql, &[]).await?)?, &theirs)?;
    }
    print_stats(n, &a, &b);
    out.push(Outcome {
        name: format!("single-row INSERT, 1 conn ({n} rows)"),
        ours: rate(n, a.median()),
        peer: rate(n, b.median()),
        ratio: throughput_ratio(n as f64 / a.median().as_secs_f64(), n as f64 / b.median().as_secs_f64()),
        goal: "-".into(),
        met: None,
    });
    Ok(())
}

async fn insert_run(client: &Client, table: &str, n: u64) -> R<Duration> {
    client.batch_execute(&kv_ddl(table)).await?;
    let insert = client
        .prepare(&format!("INSERT INTO {table} VALUES ($1, $2, $3)"))
        .await?;
    let rows: Vec<_> = (0..n).map(kv_row).collect();
    let start = Instant::now();
    for (id, name, amount) in &rows {
        let inserted = client.execute(&insert, &[id, name, amount]).await?;
        if inserted != 1 {
            return Err(fail(format!("INSERT INTO {table} of id {id} reported {inserted} rows")));
        }
    }
    Ok(start.elapsed())
}

fn print_stats(n: u64, ours: &Stats, peer: &Stats) {
    let mut t = Table::new(&[
        "engine",
        "median run",
        "min run",
        "rows/s (median)",
        "per INSERT (median)",
    ]);
    for (engine, s) in [("thermocline", ours), ("PostgreSQL", peer)] {
        t.row(vec![
            engine.into(),
            ms(s.median()),
            ms(s.min()),
            rate(n, s.median()),
            us(s.median() / n as u32),
        ]);
    }
    print!("{}", t.render());
}
