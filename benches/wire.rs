//! The wire benchmark: `thermocline serve` side by side with a real
//! PostgreSQL that the bench starts on loopback, both driven by the same
//! client (tokio-postgres over TCP, one connection per worker):
//! 1. single-row INSERT throughput, 1 connection, prepared, autocommit;
//! 2. point SELECT by primary key throughput, 1 and 4 connections
//!    (and `SELECT 1`, the floor every statement pays);
//! 3. analytic queries over 1M rows, cold (Parquet) in thermocline.
//!
//! `cargo bench --bench wire [-- --quick] [-- GROUP...]` with groups
//! `insert`, `point`, `analytic`; see benches/README.md for what every
//! number means.

// Shared with benches/tiered.rs, which uses all of it.
#[path = "wire/analytic.rs"]
mod analytic;
#[path = "wire/client.rs"]
mod client;
#[path = "wire/config.rs"]
mod config;
#[path = "wire/data.rs"]
mod data;
#[allow(dead_code)]
#[path = "tiered/harness.rs"]
mod harness;
#[path = "wire/inserts.rs"]
mod inserts;
#[path = "wire/point.rs"]
mod point;
#[path = "wire/report.rs"]
mod report;
#[path = "wire/servers.rs"]
mod servers;

use config::WireConfig;
use harness::{Outcome, R, Table};
use servers::{Postgres, Thermocline};

fn main() {
    if let Err(e) = run() {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> R<()> {
    let cfg = WireConfig::from_env_and_args()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let ours = Thermocline::start(&cfg)?;
    let peer = Postgres::start(&cfg)?;
    let mut outcomes: Vec<Outcome> = Vec::new();
    runtime.block_on(async {
        print_setup(&cfg, &ours, &peer).await?;
        if cfg.wants("insert") {
            inserts::single_row(&cfg, &ours.endpoint, &peer.endpoint, &mut outcomes).await?;
        }
        if cfg.wants("point") {
            point::point_selects(&cfg, &ours.endpoint, &peer.endpoint, &mut outcomes).await?;
        }
        if cfg.wants("analytic") {
            analytic::analytic(&cfg, &ours.endpoint, &peer.endpoint, &mut outcomes).await?;
        }
        R::Ok(())
    })?;
    println!("\n## Summary (medians; load average at the end: {})", load_average());
    let mut t = Table::new(&[
        "workload",
        "thermocline",
        "PostgreSQL",
        "ratio (thermocline / PostgreSQL)",
    ]);
    for o in &outcomes {
        t.row(vec![o.name.clone(), o.ours.clone(), o.peer.clone(), o.ratio.clone()]);
    }
    print!("{}", t.render());
    println!("throughput ratio > 1 or time ratio < 1: thermocline is ahead");
    Ok(())
}

async fn print_setup(cfg: &WireConfig, ours: &Thermocline, peer: &Postgres) -> R<()> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let cpu = harness::cpu_model();
    let client = client::connect(&peer.endpoint).await?;
    let mut settings = Vec::new();
    for name in [
        "synchronous_commit",
        "fsync",
        "wal_sync_method",
        "shared_buffers",
        "max_parallel_workers_per_gather",
    ] {
        let row = client.query_one(&format!("SHOW {name}"), &[]).await?;
        settings.push(format!("{name}={}", row.try_get::<_, String>(0)?));
    }
    println!("# thermocline wire benchmark: thermocline serve vs PostgreSQL, same client");
    let mut t = Table::new(&["fact", "value"]);
    t.row(vec![
        "date (UTC)".into(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
    ]);
    t.row(vec!["cores".into(), cores.to_string()]);
    t.row(vec!["cpu".into(), cpu]);
    t.row(vec!["load average (start)".into(), load_average()]);
    t.row(vec!["bench folder".into(), cfg.pair.dir.display().to_string()]);
    t.row(vec![
        "client".into(),
        "tokio-postgres, TCP 127.0.0.1, prepared statements (binary results), 2 runtime threads, on the same cores as the servers".into(),
    ]);
    t.row(vec![
        "thermocline".into(),
        format!(
            "{} (pid {}), log {}",
            ours.binary.display(),
            ours.pid(),
            ours.log.display()
        ),
    ]);
    t.row(vec![
        "thermocline durability".into(),
        "serve's default, Durability::Full: SQLite WAL with synchronous=FULL, a commit is fsync'd before it is \
         acknowledged; background compaction at 1000 hot rows or 60 s"
            .into(),
    ]);
    t.row(vec![
        "PostgreSQL".into(),
        format!("{} as {}", peer.version, peer.os_user()),
    ]);
    t.row(vec![
        "PostgreSQL settings".into(),
        format!("initdb defaults, -A trust; {}", settings.join(", ")),
    ]);
    t.row(vec!["single-row INSERTs per run".into(), cfg.inserts.to_string()]);
    t.row(vec![
        "point-SELECT table rows / window per run".into(),
        format!("{} / {}", cfg.point_rows, harness::ms(cfg.window)),
    ]);
    t.row(vec!["analytic rows".into(), cfg.analytic_rows.to_string()]);
    t.row(vec![
        "measured runs".into(),
        format!(
            "{} (inserts: {}, analytic: {}), after {} warm-up, engines interleaved",
            cfg.pair.runs,
            cfg.pair.runs.min(3),
            cfg.pair.runs * 2,
            cfg.pair.warmup
        ),
    ]);
    t.row(vec![
        "profile".into(),
        if cfg!(debug_assertions) {
            "debug (numbers are not meaningful)".into()
        } else {
            "release".into()
        },
    ]);
    print!("{}", t.render());
    Ok(())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
