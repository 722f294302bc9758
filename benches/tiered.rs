//! Benchmarks of the tiered-tables issue, side by side with peers in one run:
//! 1. hot inserts, batched, vs raw rusqlite;
//! 2. hot inserts, single-row, vs raw rusqlite (+ SQLite rows written);
//! 3. compaction rows/s (vs an ArrowWriter floor) and insert-to-Iceberg freshness;
//! 4. tiered scan vs plain DataFusion over the same Parquet files;
//! 5. history: AS OF vs DataFusion over today's files, CDC polls.
//!
//! `cargo bench --bench tiered [-- --quick] [-- --explain] [-- GROUP...]`;
//! see benches/README.md for what every number means.

#[path = "tiered/compaction.rs"]
mod compaction;
#[path = "tiered/data.rs"]
mod data;
#[path = "tiered/harness.rs"]
mod harness;
#[path = "tiered/history.rs"]
mod history;
#[path = "tiered/inserts.rs"]
mod inserts;
#[path = "tiered/scan.rs"]
mod scan;

use harness::{Config, Outcome, R, Table};

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
    print_machine(&cfg);
    let mut outcomes: Vec<Outcome> = Vec::new();
    runtime.block_on(async {
        if cfg.wants("insert-batched") {
            inserts::batched(&cfg, &mut outcomes).await?;
        }
        if cfg.wants("insert-single") {
            inserts::single_row(&cfg, &mut outcomes).await?;
        }
        if cfg.wants("compaction") {
            compaction::compaction(&cfg, &mut outcomes).await?;
        }
        if cfg.wants("freshness") {
            compaction::freshness(&cfg, &mut outcomes).await?;
        }
        if cfg.wants("scan") {
            scan::scans(&cfg, &mut outcomes).await?;
        }
        if cfg.wants("history") {
            history::history(&cfg, &mut outcomes).await?;
        }
        R::Ok(())
    })?;
    println!("\n## Summary (medians; load average at the end: {})", load_average());
    print!("{}", harness::outcome_table(&outcomes));
    Ok(())
}

fn print_machine(cfg: &Config) {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let rustc = std::process::Command::new("rustc")
        .arg("-V")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown (rustc not on PATH)".into());
    let cpu = harness::cpu_model();
    println!("# thermocline tiered-table benchmarks");
    let mut t = Table::new(&["fact", "value"]);
    t.row(vec![
        "date (UTC)".into(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
    ]);
    t.row(vec!["cores".into(), cores.to_string()]);
    t.row(vec!["cpu".into(), cpu]);
    t.row(vec!["rustc".into(), rustc]);
    t.row(vec!["load average (start)".into(), load_average()]);
    t.row(vec!["bench folder".into(), cfg.dir.display().to_string()]);
    t.row(vec!["rows (batched, compaction, scans)".into(), cfg.rows.to_string()]);
    t.row(vec!["rows (single-row inserts)".into(), cfg.single_rows.to_string()]);
    t.row(vec![
        "measured runs".into(),
        format!("{} (scans: {}), after {} warm-up", cfg.runs, cfg.runs * 2, cfg.warmup),
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
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
