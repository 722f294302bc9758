//! Benchmarks of the shards issue, each beside its peer in the same run:
//! 1. fan-out: the same rows in a 100-shard table and in a 1-shard table
//!    (90% compacted into Iceberg, 10% hot), the same queries (goal: at
//!    most 2× the 1-shard time);
//! 2. remote shards: two shard server processes hosting 50 shards each,
//!    a coordinator fanning out over Arrow Flight; time, and the bytes the
//!    shards send with the plan pushed to them (partial aggregates, top-k)
//!    against the bytes of the rows they would send without it.
//!
//! Every answer is checked equal to the peer's before its time counts.
//! `cargo bench --bench shards [-- --quick] [-- GROUP...]`; see
//! benches/README.md.

// Shared with the tiered benches, which use all of it.
#[path = "tiered/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use datafusion::physical_plan::{ExecutionPlan, collect};
use harness::{Config, Outcome, R, Stats, Table, fail, ms};
use thermocline::{CompactionMode, Session, Warehouse, WarehouseConfig};

const SHARDS: u32 = 100;

const QUERIES: [(&str, &str); 4] = [
    (
        "GROUP BY tenant",
        "SELECT tenant, count(*) AS n, sum(v) AS s, avg(v) AS a FROM {t} GROUP BY tenant ORDER BY tenant",
    ),
    (
        "filter count",
        "SELECT count(*) AS n, sum(v) AS s FROM {t} WHERE v % 7 = 3",
    ),
    ("top-10", "SELECT tenant, v FROM {t} ORDER BY v DESC, tenant LIMIT 10"),
    (
        "one tenant",
        "SELECT count(*) AS n, sum(v) AS s FROM {t} WHERE tenant = 17",
    ),
];

fn main() {
    if let Err(e) = run() {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> R<()> {
    let cfg = Config::from_env_and_args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "# thermocline shard benchmarks ({} rows, {} runs, {})",
        cfg.rows,
        cfg.runs,
        if cfg!(debug_assertions) {
            "debug: numbers are not meaningful"
        } else {
            "release"
        }
    );
    let mut outcomes = Vec::new();
    runtime.block_on(async {
        if cfg.wants("fan-out") {
            fan_out(&cfg, &mut outcomes).await?;
        }
        if cfg.wants("remote") {
            remote(&cfg, &mut outcomes).await?;
        }
        R::Ok(())
    })?;
    println!("\n## Summary (medians)");
    print!("{}", harness::outcome_table(&outcomes));
    Ok(())
}

/// `INSERT ... SELECT` of rows `from..to` into `table`: tenant, v, note.
fn load_sql(table: &str, from: u64, to: u64) -> String {
    format!(
        "INSERT INTO {table} SELECT CAST((i * 7919) % 1000 AS INT), (i * 104729) % 100003 - 50000, \
         concat('n', CAST(i % 13 AS TEXT)) FROM generate_series({from}, {to}) AS g(i)"
    )
}

async fn query(session: &Session, sql: &str) -> R<(Duration, Vec<RecordBatch>)> {
    let started = Instant::now();
    let batches = session.query(sql).await?;
    Ok((started.elapsed(), batches))
}

/// `ours` and `peer` timed alternately; their medians' ratio.
async fn timed_pair(cfg: &Config, session: &Session, ours: &str, peer: &str) -> R<(Stats, Stats, f64)> {
    let (x, y) = harness::pair(
        cfg,
        async || Ok(query(session, ours).await?.0),
        async || Ok(query(session, peer).await?.0),
    )
    .await?;
    let ratio = x.median().as_secs_f64() / y.median().as_secs_f64().max(1e-9);
    Ok((x, y, ratio))
}

fn same(a: &[RecordBatch], b: &[RecordBatch], what: &str) -> R<()> {
    let a = arrow::util::pretty::pretty_format_batches(a)?.to_string();
    let b = arrow::util::pretty::pretty_format_batches(b)?.to_string();
    if a != b {
        return Err(fail(format!("{what}: answers differ:\n{a}\nvs\n{b}")));
    }
    Ok(())
}

/// 1. The same rows in 100 shards and in one.
async fn fan_out(cfg: &Config, outcomes: &mut Vec<Outcome>) -> R<()> {
    println!("\n## fan-out: 100 shards vs 1 shard, same rows (90% cold, 10% hot)");
    let dir = cfg.tempdir("shards-fanout")?;
    let wh = Warehouse::open(
        WarehouseConfig::new(dir.path())
            .with_compaction(CompactionMode::Manual)
            .with_target_partitions(2),
    )
    .await?;
    let session = wh.session();
    session
        .execute(&format!(
            "CREATE TABLE ev100 (tenant int, v bigint, note text) WITH (shard_key = 'tenant', shards = {SHARDS}); \
             CREATE TABLE ev1 (tenant int, v bigint, note text) WITH (shard_key = 'tenant', shards = 1)"
        ))
        .await?;
    let cold = cfg.rows * 9 / 10;
    let started = Instant::now();
    for table in ["ev100", "ev1"] {
        session.execute(&load_sql(table, 1, cold)).await?;
    }
    session.execute("CHECKPOINT").await?;
    for table in ["ev100", "ev1"] {
        session.execute(&load_sql(table, cold + 1, cfg.rows)).await?;
    }
    println!("loaded in {}", ms(started.elapsed()));
    let mut t = Table::new(&["query", "100 shards", "1 shard", "ratio"]);
    for (name, sql) in QUERIES {
        let ours = sql.replace("{t}", "ev100");
        let peer = sql.replace("{t}", "ev1");
        let (_, a) = query(&session, &ours).await?;
        let (_, b) = query(&session, &peer).await?;
        same(&a, &b, name)?;
        let (x, y, ratio) = timed_pair(cfg, &session, &ours, &peer).await?;
        t.row(vec![
            name.into(),
            ms(x.median()),
            ms(y.median()),
            format!("{ratio:.2}×"),
        ]);
        outcomes.push(Outcome {
            name: format!("fan-out 100 shards: {name}"),
            ours: ms(x.median()),
            peer: format!("{} (1 shard)", ms(y.median())),
            ratio: format!("{ratio:.2}×"),
            goal: "≤ 2×".into(),
            met: Some(ratio <= 2.0),
        });
    }
    print!("{}", t.render());
    Ok(())
}

/// A shard server process, killed when dropped.
struct ShardServer(Child, u16);

impl ShardServer {
    fn start(dir: &Path, name: &str, shards: &str) -> R<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_thermocline"))
            .arg("--warehouse")
            .arg(dir)
            .args([
                "--shard",
                name,
                "serve",
                "--flight-listen",
                "127.0.0.1:0",
                "--host-shards",
                shards,
            ])
            .env("THERMOCLINE_PG_LISTEN", "127.0.0.1:0")
            .env("THERMOCLINE_PG_AUTH", "trust")
            .env("THERMOCLINE_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or_else(|| fail("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            let line = lines.next().ok_or_else(|| fail(format!("server {name} exited")))??;
            if let Some(addr) = line.strip_prefix("flight listening on ") {
                break addr
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| fail("no port"))?;
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(Self(child, port))
    }
}

impl Drop for ShardServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Run `sql` and sum the bytes its remote shard scans received.
async fn remote_bytes(session: &Session, sql: &str) -> R<(Vec<RecordBatch>, usize)> {
    let plan = session.context().sql(sql).await?.create_physical_plan().await?;
    let batches = collect(plan.clone(), session.context().task_ctx()).await?;
    fn sum(plan: &Arc<dyn ExecutionPlan>) -> usize {
        let own = plan
            .metrics()
            .and_then(|m| m.sum_by_name("bytes_received"))
            .map(|v| v.as_usize())
            .unwrap_or(0);
        own + plan.children().iter().map(|c| sum(c)).sum::<usize>()
    }
    Ok((batches, sum(&plan)))
}

/// 2. Two shard servers, 50 shards each; the coordinator is this process.
async fn remote(cfg: &Config, outcomes: &mut Vec<Outcome>) -> R<()> {
    println!("\n## remote: 2 shard servers × 50 shards over Arrow Flight, all rows hot");
    let dir = cfg.tempdir("shards-remote")?;
    {
        let wh = Warehouse::open(WarehouseConfig::new(dir.path()).with_shard("setup")).await?;
        wh.session()
            .execute(&format!(
                "CREATE TABLE evr (tenant int, v bigint, note text) WITH (shard_key = 'tenant', shards = {SHARDS}); \
                 CREATE TABLE ev1 (tenant int, v bigint, note text) WITH (shard_key = 'tenant', shards = 1)"
            ))
            .await?;
    }
    let a = ShardServer::start(dir.path(), "node-a", "0-49")?;
    let b = ShardServer::start(dir.path(), "node-b", "50-99")?;
    let mut remote = BTreeMap::new();
    for i in 0..SHARDS {
        let port = if i < 50 { a.1 } else { b.1 };
        remote.insert(format!("shard-{i}"), format!("http://127.0.0.1:{port}"));
    }
    let wh = Warehouse::open(
        WarehouseConfig::new(dir.path())
            .with_shard("coordinator")
            .with_compaction(CompactionMode::Manual)
            .with_target_partitions(2)
            .with_remote_shards(remote),
    )
    .await?;
    let session = wh.session();
    // Hot rows on the servers (each shard stays under the 1000-row
    // compaction threshold: what the shards send is all of them).
    let rows = (cfg.rows / 10).min(90_000);
    let started = Instant::now();
    let step = 10_000;
    let mut from = 1;
    while from <= rows {
        let to = (from + step - 1).min(rows);
        session.execute(&load_sql("evr", from, to)).await?;
        session.execute(&load_sql("ev1", from, to)).await?;
        from = to + 1;
    }
    println!(
        "loaded {rows} rows through the coordinator in {}",
        ms(started.elapsed())
    );
    let mut t = Table::new(&[
        "query",
        "remote 100 shards",
        "local 1 shard",
        "ratio",
        "bytes sent",
        "bytes as rows",
    ]);
    for (name, sql) in QUERIES {
        let ours = sql.replace("{t}", "evr");
        let peer = sql.replace("{t}", "ev1");
        let (pushed, bytes) = remote_bytes(&session, &ours).await?;
        let (_, local) = query(&session, &peer).await?;
        same(&pushed, &local, name)?;
        session.execute("SET thermocline.shard_pushdown = off").await?;
        let (unpushed, row_bytes) = remote_bytes(&session, &ours).await?;
        session.execute("SET thermocline.shard_pushdown = on").await?;
        same(&unpushed, &local, name)?;
        let (x, y, ratio) = timed_pair(cfg, &session, &ours, &peer).await?;
        let kib = |b: usize| format!("{:.1} KiB", b as f64 / 1024.0);
        t.row(vec![
            name.into(),
            ms(x.median()),
            ms(y.median()),
            format!("{ratio:.2}×"),
            kib(bytes),
            kib(row_bytes),
        ]);
        outcomes.push(Outcome {
            name: format!(
                "remote shards: {name} (bytes {} vs {} as rows)",
                kib(bytes),
                kib(row_bytes)
            ),
            ours: ms(x.median()),
            peer: format!("{} (1 local shard)", ms(y.median())),
            ratio: format!("{ratio:.2}×"),
            goal: "-".into(),
            met: None,
        });
    }
    print!("{}", t.render());
    drop(session);
    drop(wh);
    drop((a, b));
    Ok(())
}
