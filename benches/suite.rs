//! The benchmark suite (issue: benchmarks side by side with the peers a user
//! would pick instead). One command, `scripts/bench.sh`, installs the peers
//! and runs this; every figure is a ratio against a peer measured in the same
//! run, every answer is checked equal before its time counts, and the run is
//! written to `benches/RESULTS.md` with a chart of the TPC-H ratios.
//!
//! Groups (all by default; name some to run only those):
//! - `tpch`: TPC-H SF1 (`--sf 10` for SF10), all 22 queries: thermocline
//!   (10% of lineitem/orders hot, the rest in Iceberg) vs DuckDB and bare
//!   DataFusion over the same data as plain Parquet;
//! - `write`: batched and single-row inserts vs rusqlite, compaction rows/s,
//!   freshness (the tiered bench's groups);
//! - `pruning`: 120 monthly partitions and 1000 snapshots: planning time and
//!   files read for one month, vs pyiceberg's `plan_files`;
//! - `mixed`: analytic query latency with and without inserts running.
//!
//! `cargo bench --bench suite -- [--quick] [--sf N] [--explain] [--results PATH] [GROUP...]`
//! (`--explain`: EXPLAIN ANALYZE of the TPC-H queries where thermocline is
//! slower than bare DataFusion, written beside RESULTS.md).

#[path = "tiered/compaction.rs"]
mod compaction;
#[path = "tiered/data.rs"]
mod data;
#[path = "tiered/harness.rs"]
mod harness;
#[path = "tiered/inserts.rs"]
mod inserts;
#[path = "suite/machine.rs"]
mod machine;
#[path = "suite/mixed.rs"]
mod mixed;
#[path = "suite/pruning.rs"]
mod pruning;
#[path = "suite/report.rs"]
mod report;
// The tiered bench's scan group; the suite uses its DataFusion peer set-up.
#[allow(dead_code)]
#[path = "tiered/scan.rs"]
mod scan;
#[path = "suite/tpch.rs"]
mod tpch;
#[path = "suite/tpch_data.rs"]
mod tpch_data;
#[path = "suite/tpch_engines.rs"]
mod tpch_engines;

use std::path::PathBuf;

use harness::{Config, R, fail};
use report::Report;

/// What the suite's command line asked for, beside the tiered bench's
/// [`Config`] (rows, runs, folder) that the write-path group reuses.
#[derive(Debug, Clone)]
pub struct Suite {
    pub base: Config,
    /// TPC-H scale factor.
    pub sf: f64,
    /// Where RESULTS.md goes (the chart goes to `results/` beside it).
    pub results: PathBuf,
}

impl Suite {
    fn parse() -> R<Self> {
        let mut quick = false;
        let mut explain = false;
        let mut sf = None;
        let mut results = None;
        let mut only = Vec::new();
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--explain" => explain = true,
                "--bench" => {}
                "--sf" => {
                    let v = args.next().ok_or_else(|| fail("--sf needs a scale factor"))?;
                    sf = Some(
                        v.parse::<f64>()
                            .ok()
                            .filter(|s| *s > 0.0)
                            .ok_or_else(|| fail(format!("--sf {v:?} is not a positive number")))?,
                    );
                }
                "--results" => {
                    results = Some(PathBuf::from(
                        args.next().ok_or_else(|| fail("--results needs a path"))?,
                    ));
                }
                a if a.starts_with("--") => {
                    return Err(fail(format!("unknown option {a}; see benches/README.md")));
                }
                a => only.push(a.to_string()),
            }
        }
        let number = harness::env_number;
        let base = Config {
            rows: number("THERMOCLINE_BENCH_ROWS", if quick { 50_000 } else { 1_000_000 })?,
            single_rows: number("THERMOCLINE_BENCH_SINGLE_ROWS", if quick { 100 } else { 2_000 })?,
            warmup: 1,
            runs: number("THERMOCLINE_BENCH_RUNS", if quick { 3 } else { 5 })?.max(1) as usize,
            quick,
            explain,
            only,
            dir: harness::bench_dir(),
        };
        let results = results.unwrap_or_else(|| {
            if quick {
                std::env::temp_dir().join("thermocline-bench-quick").join("RESULTS.md")
            } else {
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("benches")
                    .join("RESULTS.md")
            }
        });
        Ok(Self {
            base,
            sf: sf.unwrap_or(if quick { 0.05 } else { 1.0 }),
            results,
        })
    }
}

fn main() {
    // `--worker ENGINE DIR`: one engine of the TPC-H group in its own
    // process, so each engine's peak RSS is its own.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--worker") {
        if let Err(e) = tpch_engines::worker_main(&args[2..]) {
            eprintln!("tpch worker failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    if let Err(e) = run() {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}

fn run() -> R<()> {
    let suite = Suite::parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut report = Report {
        machine: machine::facts(&suite),
        ..Report::default()
    };
    println!("# thermocline benchmark suite");
    let mut t = harness::Table::new(&["fact", "value"]);
    for (k, v) in &report.machine {
        t.row(vec![k.clone(), v.clone()]);
    }
    print!("{}", t.render());
    let cfg = &suite.base;
    let started = std::time::Instant::now();
    runtime.block_on(async {
        if cfg.wants("tpch") {
            tpch::tpch(&suite, &mut report).await?;
        }
        if cfg.wants("write") {
            write_path(cfg, &mut report).await?;
        }
        if cfg.wants("pruning") {
            pruning::pruning(&suite, &mut report).await?;
        }
        if cfg.wants("mixed") {
            mixed::mixed(&suite, &mut report).await?;
        }
        R::Ok(())
    })?;
    report.machine.push((
        "suite time".into(),
        format!(
            "{:.1} min (load average at the end: {})",
            started.elapsed().as_secs_f64() / 60.0,
            machine::load_average()
        ),
    ));
    println!("\n## Summary (medians)");
    print!("{}", report.summary_table());
    if let Some(dir) = suite.results.parent() {
        std::fs::create_dir_all(dir)?;
    }
    report.write(&suite.results)?;
    println!("\nwrote {}", suite.results.display());
    Ok(())
}

/// The write path: the tiered bench's insert, compaction and freshness groups.
async fn write_path(cfg: &Config, report: &mut Report) -> R<()> {
    let first = report.outcomes.len();
    inserts::batched(cfg, &mut report.outcomes).await?;
    inserts::single_row(cfg, &mut report.outcomes).await?;
    compaction::compaction(cfg, &mut report.outcomes).await?;
    compaction::freshness(cfg, &mut report.outcomes).await?;
    report.section(
        "Write path",
        format!(
            "{} rows batched (INSERT … SELECT of 10 000-row batches) and {} single-row INSERTs vs rusqlite \
             with the same PRAGMAs; compaction of {} hot rows to Parquet + one Iceberg commit vs an \
             ArrowWriter floor; freshness from acknowledgement to a committed snapshot.\n\n{}",
            cfg.rows,
            cfg.single_rows,
            cfg.rows,
            harness::outcome_table(&report.outcomes[first..])
        ),
    );
    Ok(())
}
