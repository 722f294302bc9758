//! Workload 3: analytic queries over the events table (1M rows by
//! default), loaded identically on both sides with COPY. thermocline then
//! runs CHECKPOINT, so every row is in Iceberg/Parquet (the cold path);
//! PostgreSQL runs VACUUM ANALYZE (hint bits, visibility map, statistics).
//!
//! Each query's answer is compared between the engines before any timing
//! counts; the figure is the end-to-end median (send, plan, execute, all
//! rows received) of twice the configured runs, after a warm-up.

use std::time::{Duration, Instant};

use tokio_postgres::{Client, Statement};

use super::client::{all_values, connect, copy_in, same_answer, wait_all_cold};
use super::config::WireConfig;
use super::data::{DAYS, EVENTS_DDL, event_line};
use super::harness::{self, Outcome, R, Table, fail, ms, rate};
use super::report::time_ratio;
use super::servers::Endpoint;

const QUERIES: &[(&str, &str)] = &[
    (
        "GROUP BY category (all rows)",
        "SELECT category, count(*), sum(amount), avg(amount) FROM events GROUP BY category ORDER BY category",
    ),
    (
        "one day, GROUP BY tenant",
        "SELECT tenant, count(*), sum(amount), max(amount) FROM events \
         WHERE ts >= '2024-01-20' AND ts < '2024-01-21' GROUP BY tenant ORDER BY tenant",
    ),
    (
        "filter on a value, count",
        "SELECT count(*), sum(amount) FROM events WHERE amount >= 990 AND category = 'cat-03'",
    ),
];

pub async fn analytic(cfg: &WireConfig, ours: &Endpoint, peer: &Endpoint, out: &mut Vec<Outcome>) -> R<()> {
    let n = cfg.analytic_rows;
    let runs = cfg.pair.runs * 2;
    println!(
        "\n## 3. Analytic queries over {n} rows ({DAYS} days, ascending ts), median of {runs} runs after a warm-up"
    );
    println!(
        "{EVENTS_DDL}; loaded with COPY; thermocline: then CHECKPOINT (all rows in Parquet); PostgreSQL: then VACUUM ANALYZE"
    );
    println!(
        "all-hot variant: not measured: `serve` compacts in the background once 1000 rows are hot, \
         so a 1M-row table cannot stay hot through the runs"
    );
    let ours_client = connect(ours).await?;
    let peer_client = connect(peer).await?;
    let mut loads = Table::new(&["load", "thermocline", "PostgreSQL"]);
    let (a, b) = (load(&ours_client, n).await?, load(&peer_client, n).await?);
    loads.row(vec![
        format!("COPY {n} rows"),
        format!("{} ({})", ms(a), rate(n, a)),
        format!("{} ({})", ms(b), rate(n, b)),
    ]);
    let start = Instant::now();
    ours_client.batch_execute("CHECKPOINT events").await?;
    let checkpoint = start.elapsed();
    let start = Instant::now();
    peer_client.batch_execute("VACUUM ANALYZE events").await?;
    loads.row(vec![
        "CHECKPOINT / VACUUM ANALYZE".into(),
        ms(checkpoint),
        ms(start.elapsed()),
    ]);
    print!("{}", loads.render());
    println!("thermocline scan: {}", wait_all_cold(&ours_client, "events").await?);

    let pair_cfg = harness::Config {
        runs,
        ..cfg.pair.clone()
    };
    let mut t = Table::new(&[
        "query",
        "thermocline median (min)",
        "PostgreSQL median (min)",
        "ratio",
        "rows",
    ]);
    for (label, sql) in QUERIES {
        let (ours_q, peer_q) = (ours_client.prepare(sql).await?, peer_client.prepare(sql).await?);
        let expected = all_values(&peer_client.query(&peer_q, &[]).await?)?;
        same_answer(sql, &all_values(&ours_client.query(&ours_q, &[]).await?)?, &expected)?;
        let rows = expected.len();
        let (a, b) = harness::pair(
            &pair_cfg,
            async || timed(&ours_client, &ours_q, rows).await,
            async || timed(&peer_client, &peer_q, rows).await,
        )
        .await?;
        t.row(vec![
            label.to_string(),
            format!("{} ({})", ms(a.median()), ms(a.min())),
            format!("{} ({})", ms(b.median()), ms(b.min())),
            time_ratio(a.median(), b.median()),
            rows.to_string(),
        ]);
        out.push(Outcome {
            name: format!("analytic: {label}"),
            ours: ms(a.median()),
            peer: ms(b.median()),
            ratio: time_ratio(a.median(), b.median()),
            goal: "-".into(),
            met: None,
        });
    }
    print!("{}", t.render());
    Ok(())
}

async fn load(client: &Client, n: u64) -> R<Duration> {
    client.batch_execute(EVENTS_DDL).await?;
    let start = Instant::now();
    copy_in(client, "COPY events FROM STDIN", n, |i, buf| event_line(i, n, buf)).await?;
    Ok(start.elapsed())
}

async fn timed(client: &Client, query: &Statement, rows: usize) -> R<Duration> {
    let start = Instant::now();
    let got = client.query(query, &[]).await?;
    let elapsed = start.elapsed();
    if got.len() != rows {
        return Err(fail(format!("a query returned {} rows, expected {rows}", got.len())));
    }
    Ok(elapsed)
}
