//! Workload 2: point SELECT by primary key (`SELECT * FROM kv WHERE id =
//! $1`, prepared) over a table of 100k rows, with 1 and 4 connections, and
//! `SELECT 1` as the floor a statement costs on each server.
//!
//! Each measured run issues queries for a fixed window (every connection
//! in a closed loop: send, wait for the answer, send the next) and counts
//! them; the figure is queries per second from the median run.

use std::time::{Duration, Instant};

use futures::future::try_join_all;
use tokio_postgres::{Client, Statement};

use super::client::{all_values, connect, copy_in, same_answer, wait_all_cold};
use super::config::WireConfig;
use super::data::{kv_ddl, kv_line, mix};
use super::harness::{self, Outcome, R, Stats, Table, fail, ms};
use super::report::{qps, throughput_ratio, us};
use super::servers::Endpoint;

const POINT: &str = "SELECT * FROM kv WHERE id = $1";

pub async fn point_selects(cfg: &WireConfig, ours: &Endpoint, peer: &Endpoint, out: &mut Vec<Outcome>) -> R<()> {
    let n = cfg.point_rows;
    println!(
        "\n## 2. Point SELECT by primary key: `{POINT}` over {n} rows, runs of {} per connection count",
        ms(cfg.window)
    );
    println!(
        "{}; loaded with COPY; thermocline: then CHECKPOINT (rows in Parquet); PostgreSQL: then VACUUM ANALYZE",
        kv_ddl("kv")
    );
    let ours_client = connect(ours).await?;
    let peer_client = connect(peer).await?;
    let mut loads = Table::new(&["load", "thermocline", "PostgreSQL"]);
    let (a, b) = (load(&ours_client, n).await?, load(&peer_client, n).await?);
    loads.row(vec![format!("COPY {n} rows"), ms(a), ms(b)]);
    let start = Instant::now();
    ours_client.batch_execute("CHECKPOINT kv").await?;
    let checkpoint = start.elapsed();
    let start = Instant::now();
    peer_client.batch_execute("VACUUM ANALYZE kv").await?;
    loads.row(vec![
        "CHECKPOINT kv / VACUUM ANALYZE kv".into(),
        ms(checkpoint),
        ms(start.elapsed()),
    ]);
    print!("{}", loads.render());
    println!("thermocline scan: {}", wait_all_cold(&ours_client, "kv").await?);

    // The same answer for present keys, edge keys and a missing one.
    let (ours_point, peer_point) = (ours_client.prepare(POINT).await?, peer_client.prepare(POINT).await?);
    let probes: Vec<i64> = [0, n - 1, n, n + 7]
        .into_iter()
        .chain((0..20).map(|i| mix(i) % n))
        .map(|id| id as i64)
        .collect();
    for id in &probes {
        same_answer(
            &format!("{POINT} with id = {id}"),
            &all_values(&ours_client.query(&ours_point, &[id]).await?)?,
            &all_values(&peer_client.query(&peer_point, &[id]).await?)?,
        )?;
    }

    let mut t = Table::new(&[
        "workload",
        "engine",
        "q/s (median run)",
        "slowest–fastest run",
        "per query (median)",
    ]);
    for (label, sql, connections) in [
        ("SELECT 1 (statement floor)", "SELECT 1", 1),
        ("point SELECT", POINT, 1),
        ("point SELECT", POINT, 4),
    ] {
        let ours_pool = Pool::open(ours, sql, connections).await?;
        let peer_pool = Pool::open(peer, sql, connections).await?;
        let keyed = sql != "SELECT 1";
        let (a, b) = harness::pair(
            &cfg.pair,
            async || ours_pool.run(cfg.window, keyed.then_some(n)).await,
            async || peer_pool.run(cfg.window, keyed.then_some(n)).await,
        )
        .await?;
        let name = format!("{label}, {connections} conn");
        for (engine, s) in [("thermocline", &a), ("PostgreSQL", &b)] {
            t.row(vec![
                name.clone(),
                engine.into(),
                qps(s.median()),
                format!("{}–{}", qps(s.max()), qps(s.min())),
                us(s.median() * connections as u32),
            ]);
        }
        out.push(outcome(&name, &a, &b));
    }
    print!("{}", t.render());
    Ok(())
}

async fn load(client: &Client, n: u64) -> R<Duration> {
    client.batch_execute(&kv_ddl("kv")).await?;
    let start = Instant::now();
    copy_in(client, "COPY kv FROM STDIN", n, kv_line).await?;
    Ok(start.elapsed())
}

fn outcome(name: &str, ours: &Stats, peer: &Stats) -> Outcome {
    Outcome {
        name: name.into(),
        ours: qps(ours.median()),
        peer: qps(peer.median()),
        ratio: throughput_ratio(1.0 / ours.median().as_secs_f64(), 1.0 / peer.median().as_secs_f64()),
        goal: "-".into(),
        met: None,
    }
}

/// Connections to one server, each with the statement prepared.
struct Pool {
    connections: Vec<(Client, Statement)>,
}

impl Pool {
    async fn open(endpoint: &Endpoint, sql: &str, connections: usize) -> R<Self> {
        let mut pool = Vec::with_capacity(connections);
        for _ in 0..connections {
            let client = connect(endpoint).await?;
            let statement = client.prepare(sql).await?;
            pool.push((client, statement));
        }
        Ok(Self { connections: pool })
    }

    /// Every connection queries for `window` (keys drawn from 0..keys when
    /// the statement takes one); returns the time per query, all
    /// connections together.
    async fn run(&self, window: Duration, keys: Option<u64>) -> R<Duration> {
        let start = Instant::now();
        let deadline = start + window;
        let counts = try_join_all(
            self.connections
                .iter()
                .enumerate()
                .map(|(worker, (client, statement))| closed_loop(client, statement, worker as u64, keys, deadline)),
        )
        .await?;
        let elapsed = start.elapsed();
        let queries: u64 = counts.iter().sum();
        Ok(elapsed / queries.max(1) as u32)
    }
}

async fn closed_loop(
    client: &Client,
    statement: &Statement,
    worker: u64,
    keys: Option<u64>,
    deadline: Instant,
) -> R<u64> {
    let mut queries = 0u64;
    let mut draw = worker << 40;
    while Instant::now() < deadline {
        let rows = match keys {
            Some(keys) => {
                draw += 1;
                let id = (mix(draw) % keys) as i64;
                client.query(statement, &[&id]).await?
            }
            None => client.query(statement, &[]).await?,
        };
        if rows.len() != 1 {
            return Err(fail(format!("a point query returned {} rows, expected 1", rows.len())));
        }
        queries += 1;
    }
    Ok(queries)
}
