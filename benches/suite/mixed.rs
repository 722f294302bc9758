//! The `mixed` group (issue: "inserts running while analytic queries run:
//! query latency with and without the write load").
//!
//! The tiered scan bench's table (N rows partitioned by `day(ts)`, the oldest
//! 90% compacted into Iceberg, the newest 10% hot) in a warehouse with
//! background compaction, as `serve` runs it. Three analytic queries run in
//! turn, a fixed number of times each:
//! 1. *unloaded*: nothing else runs;
//! 2. *loaded*: a second session of the same warehouse inserts 1000-row
//!    batches in a loop meanwhile (see [`mixed_writer`]), and the background
//!    compactor moves them to Iceberg and merges small files as it would;
//! 3. *unloaded after*: once the compactor is quiet, nothing else runs
//!    again, over the table as the inserts left it (more hot rows, files
//!    and snapshots): what the grown table costs without the load.
//!
//! Figures: p50 and p99 latency of each query end to end
//! (`Session::query`: plan, execute, collect), the ratio loaded / unloaded
//! of the p50, and the insert rate the writer achieved. Before any time
//! counts, the unloaded answers are checked equal to plain DataFusion's over
//! the same rows; under load every answer is checked for a consistent cut
//! (see [`check_loaded`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, Int64Array, RecordBatch};
use datafusion::datasource::MemTable;
use thermocline::{CompactionMode, Session, TieringConfig, Warehouse, WarehouseConfig};

use super::Suite;
use super::data::{self, Loader};
use super::harness::{Outcome, R, Stats, Table, fail, ms};
use super::report::Report;
use mixed_writer::{INSERT_ROWS, Writer};

#[path = "mixed_writer.rs"]
mod mixed_writer;

/// The queries, in the order they run. The first two read only days the
/// inserts do not touch (they land on the last day), so their answers must
/// not change under load and their latency is not inflated by more rows;
/// `count(*)` counts everything, from the scan's exact row count (hot rows
/// plus the planned files' record counts), so it is mostly planning.
const QUERIES: [(&str, &str); 3] = [
    (
        "aggregate GROUP BY kind, days 1-29",
        "SELECT kind, count(*) AS n, sum(value) AS s FROM ev WHERE ts < TIMESTAMP '2024-01-30 00:00:00' GROUP BY kind ORDER BY kind",
    ),
    (
        "filter: 1 cold day",
        "SELECT count(*) AS n, sum(value) AS s FROM ev WHERE ts >= TIMESTAMP '2024-01-10 00:00:00' AND ts < TIMESTAMP '2024-01-11 00:00:00'",
    ),
    ("count(*), whole table", "SELECT count(*) AS n FROM ev"),
];

/// Latencies of each query in one phase.
type Phase = [Stats; QUERIES.len()];

pub async fn mixed(suite: &Suite, report: &mut Report) -> R<()> {
    let cfg = &suite.base;
    let n = cfg.rows;
    let cold_rows = n * 9 / 10;
    let runs = cfg.runs * 20;
    println!("\n## Mixed: analytic queries with and without inserts running ({n} rows, {runs} runs per query)");
    let dir = cfg.tempdir("bench-mixed-")?;
    {
        // Loaded with compaction off, so the split is exact.
        let wh = data::open_warehouse(dir.path()).await?;
        let s = wh.session();
        let loader = Loader::new(&s)?;
        s.execute(&data::create_sql("ev", true)).await?;
        loader.insert_all(&s, "ev", &data::batches(0, cold_rows, n)?).await?;
        s.execute("CHECKPOINT ev").await?;
        loader.insert_all(&s, "ev", &data::batches(cold_rows, n, n)?).await?;
    }
    let threshold = (n / 5).max(1000);
    let wh = open_background(dir.path(), threshold).await?;
    let s = wh.session();

    // Answers first: ours against plain DataFusion over the same rows.
    let ctx = super::scan::peer_context();
    ctx.register_table(
        "ev",
        Arc::new(MemTable::try_new(data::schema(), vec![data::batches(0, n, n)?])?),
    )?;
    let mut unloaded_answers = Vec::new();
    for (name, sql) in QUERIES {
        let ours = render(&s.query(sql).await?)?;
        let peer = render(&ctx.sql(sql).await?.collect().await?)?;
        if ours != peer {
            return Err(fail(format!(
                "{name}: answers differ\nthermocline:\n{ours}\nDataFusion:\n{peer}"
            )));
        }
        unloaded_answers.push(ours);
    }

    let before = measure(&s, runs, "unloaded", None).await?;
    let snapshots_before = mixed_writer::snapshots(&wh).await?;
    let writer = Writer::start(&wh, n)?;
    let loaded = measure(
        &s,
        runs,
        "loaded",
        Some(Load {
            writer: &writer,
            rows: n,
            unloaded: &unloaded_answers,
        }),
    )
    .await;
    // Stopped whatever `measure` returned, so its errors surface too.
    // The writer's error first: a query stopped by it only says it stopped.
    let load = writer.stop().await?;
    let loaded = loaded?;
    let snapshots_during = mixed_writer::snapshots(&wh).await? - snapshots_before;
    let grown = n + load.rows;
    let quiet = mixed_writer::settle(&wh).await?;
    println!(
        "  the compactor went quiet {:.1} s after the writer stopped",
        quiet.as_secs_f64()
    );
    let after = measure(&s, runs, "unloaded after", None).await?;

    let mut t = Table::new(&[
        "query",
        "unloaded p50",
        "p99",
        "loaded p50",
        "p99",
        "ratio p50",
        "p99",
        "unloaded after: p50",
        "p99",
    ]);
    for (i, (name, _)) in QUERIES.iter().enumerate() {
        let (b, l, a) = (&before[i], &loaded[i], &after[i]);
        let ratio = |q: f64| l.quantile(q).as_secs_f64() / b.quantile(q).as_secs_f64().max(1e-12);
        t.row(vec![
            name.to_string(),
            ms(b.quantile(0.5)),
            ms(b.quantile(0.99)),
            ms(l.quantile(0.5)),
            ms(l.quantile(0.99)),
            format!("{:.2}x", ratio(0.5)),
            format!("{:.2}x", ratio(0.99)),
            ms(a.quantile(0.5)),
            ms(a.quantile(0.99)),
        ]);
        report.outcomes.push(Outcome {
            name: format!("mixed: {name}, p50 with inserts running"),
            ours: ms(l.quantile(0.5)),
            peer: format!("{} without", ms(b.quantile(0.5))),
            ratio: format!("{:.2}x", ratio(0.5)),
            goal: "- (reported)".into(),
            met: None,
        });
    }
    let writes = format!(
        "During the loaded runs ({:.1} s) the writer inserted {} rows in {} INSERTs of {INSERT_ROWS}: {}; \
         the background compactor committed {snapshots_during} snapshots (compactions and small-file merges). \
         The table grew from {n} to {grown} rows.",
        load.elapsed.as_secs_f64(),
        load.rows,
        load.statements,
        super::harness::rate(load.rows, load.elapsed),
    );
    println!("{}\n{writes}", t.render());
    report.section(
        "Mixed: analytic queries while inserts run",
        format!(
            "{n} rows of the event table partitioned by `day(ts)`, the oldest 90% compacted and the newest 10% \
             hot, in a warehouse with background compaction (at {threshold} hot rows, so the hot share moves \
             between 0 and 20% while inserts run; 2 target partitions, fsync per commit). Three queries run in \
             turn, {runs} times each after 2 warm-up rounds, end to end (`Session::query`). *Unloaded*: \
             nothing else runs. *Loaded*: a second session of the same warehouse inserts {INSERT_ROWS}-row \
             batches (`INSERT … SELECT` from a MemTable) in a loop as fast as it can, new rows landing in the \
             newest day. *Unloaded after*: nothing runs again (once the compactor has committed nothing for \
             2 s), over the table as the inserts left it (more hot rows, files and snapshots): what the grown table costs without the load. Unloaded answers are checked equal to plain \
             DataFusion's over the same rows. The first two queries read only days the inserts do not touch, \
             so their answers must not change under load (checked on every run) and the rows they aggregate \
             stay the same; `count(*)` is answered from the scan's exact row count (hot rows plus the planned \
             files' record counts), mostly planning, and under load must count the initial rows plus whole \
             INSERTs, no fewer than were acknowledged before the query started.\n\n\
             No goal: on this 2-core machine the writer, the compactor and the queries share the same two \
             cores, so the ratio measures CPU sharing as much as interference; a goal such as ≤ 2× would be \
             fair with cores to spare.\n\n{}\n{writes}\n",
            t.render()
        ),
    );
    Ok(())
}

/// A warehouse as `serve` runs it (background compaction), compacting a
/// table once `threshold` rows are hot, never by age during the run.
async fn open_background(dir: &std::path::Path, threshold: u64) -> R<Warehouse> {
    let config = WarehouseConfig::new(dir)
        .with_compaction(CompactionMode::Background)
        .with_target_partitions(2)
        .with_durability(thermocline::config::Durability::Full)
        .with_tiering(TieringConfig {
            flush_threshold: threshold,
            flush_interval: Duration::from_secs(3600),
            ..TieringConfig::default()
        });
    Ok(Warehouse::open(config).await?)
}

/// The write load a phase runs beside, and what its answers must satisfy.
struct Load<'a> {
    writer: &'a Writer,
    /// Rows before the writer started.
    rows: u64,
    /// Each query's unloaded answer.
    unloaded: &'a [String],
}

/// Run every query in turn, 2 unmeasured rounds then `runs` measured ones.
async fn measure(s: &Session, runs: usize, label: &str, load: Option<Load<'_>>) -> R<Phase> {
    let mut phase: Phase = Default::default();
    let started = Instant::now();
    for round in 0..runs + 2 {
        for (i, (name, sql)) in QUERIES.iter().enumerate() {
            let acknowledged = load.as_ref().map_or(0, |l| l.writer.acknowledged());
            let start = Instant::now();
            let answer = s.query(sql).await?;
            let elapsed = start.elapsed();
            if let Some(load) = &load {
                check_loaded(load, i, &answer, acknowledged).map_err(|e| fail(format!("{name}, under load: {e}")))?;
                load.writer.check()?;
            }
            if round >= 2 {
                phase[i].samples.push(elapsed);
            }
        }
    }
    println!(
        "  {label}: {} rounds of the {} queries in {:.1} s",
        runs + 2,
        QUERIES.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(phase)
}

/// Whether an answer under load reads a consistent cut: the queries over
/// days no insert touches answer as they did unloaded; `count(*)` is the
/// initial rows plus whole INSERTs (each INSERT is atomic), at least those
/// acknowledged before the query started and at most those acknowledged by
/// its end plus the one INSERT that may have committed but not yet returned.
fn check_loaded(load: &Load<'_>, query: usize, answer: &[RecordBatch], acknowledged: u64) -> R<()> {
    if query != 2 {
        let got = render(answer)?;
        if got != load.unloaded[query] {
            return Err(fail(format!(
                "answered\n{got}\nunloaded it answered\n{}",
                load.unloaded[query]
            )));
        }
        return Ok(());
    }
    let total: i64 = answer
        .iter()
        .map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .map(|n| n.iter().flatten().sum::<i64>())
                .ok_or_else(|| fail("count(*) is not a bigint"))
        })
        .sum::<R<i64>>()?;
    let seen = (total as u64)
        .checked_sub(load.rows)
        .ok_or_else(|| fail(format!("{total} rows, fewer than at the start")))?;
    let most = load.writer.acknowledged() + INSERT_ROWS as u64;
    if seen % INSERT_ROWS as u64 != 0 || seen < acknowledged || seen > most {
        return Err(fail(format!(
            "the answer counts {seen} inserted rows: not whole INSERTs of {INSERT_ROWS}, or outside \
             [{acknowledged}, {most}]"
        )));
    }
    Ok(())
}

fn render(batches: &[RecordBatch]) -> R<String> {
    Ok(arrow::util::pretty::pretty_format_batches(batches)?.to_string())
}
