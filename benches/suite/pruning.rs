//! The `pruning` group (issue: "a table with 120 monthly partitions and 1000
//! snapshots: planning time ≤ 20 ms and fraction of files read for one
//! month ≤ 1/100, against pyiceberg's `plan_files` on the same table").
//!
//! The table is written by thermocline's own write path (see
//! [`pruning_table`]); the query reads one month of the 120, chosen
//! beforehand (June 2020). Figures:
//! - *planning, warm*: DataFusion physical planning of the query in a session
//!   that has planned it before. This is where thermocline reads the hot
//!   tier, loads the table from the catalog (whose cache keeps the current
//!   snapshot's parsed manifests) and plans files. Peer: pyiceberg's
//!   `scan(row_filter).plan_files()` on a table it has loaded (it keeps
//!   manifest-list entries and re-reads manifests).
//! - *planning, first query*: the same in a warehouse just opened (opening
//!   reads the table's metadata, not its manifests); peer: `plan_files` after
//!   `clear_manifest_cache()` and a fresh `load_table`, which is timed apart.
//!   A table being written pays this after every commit too: each new
//!   snapshot starts a new cache of manifests.
//! - *files read*: data files the plan scans (the `TieredScanExec`'s cut,
//!   what EXPLAIN prints as `files_planned`) over the live data files of the
//!   current snapshot, checked to be the very files pyiceberg plans; and the
//!   same count for each of the 120 months.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::Suite;
use super::harness::{self, Config, Outcome, R, Stats, Table, fail, ms};
use super::report::Report;
use pruning_peer::{PyPlanner, millis};
use pruning_plan::{check_files, cut_of, physical_plan, planned_files};
use pruning_table::{MONTHS, QUERY_MONTH};

#[path = "pruning_peer.rs"]
mod pruning_peer;
#[path = "pruning_plan.rs"]
mod pruning_plan;
#[path = "pruning_table.rs"]
mod pruning_table;

pub async fn pruning(suite: &Suite, report: &mut Report) -> R<()> {
    let cfg = &suite.base;
    let snapshots = harness::env_number("THERMOCLINE_BENCH_SNAPSHOTS", if cfg.quick { 100 } else { 1000 })?.max(1);
    println!("\n## Pruning: {MONTHS} monthly partitions, {snapshots} snapshots, one month read");
    if cfg.quick {
        println!("(--quick: {snapshots} snapshots instead of 1000)");
    }
    let dir = cfg.tempdir("bench-pruning-")?;
    let root = dir.path();
    let wh = pruning_table::open(root).await?;
    let s = wh.session();
    let written = pruning_table::write(&s, snapshots).await?;
    let shape = pruning_table::shape(&wh).await?;
    println!(
        "{} rows in {snapshots} checkpoints ({:.0} s); the table has {} snapshots ({} small-file merges), \
         {} manifests, {} live data files",
        written.rows,
        written.elapsed.as_secs_f64(),
        shape.snapshots,
        shape.merges,
        shape.manifests,
        shape.files,
    );
    let sql = month_query(QUERY_MONTH)?;
    println!("query: {sql}");

    // Answers first: ours against the count kept while writing, and the
    // files our plan reads against the files pyiceberg plans.
    let answer = pruning_table::count_and_sum(&s.query(&sql).await?)?;
    if answer != written.expected {
        return Err(fail(format!(
            "thermocline answered (count, sum) = {answer:?}, the rows written give {:?}",
            written.expected
        )));
    }
    let (_, plan) = physical_plan(s.context(), &sql).await?;
    let cut = cut_of(&plan)?;
    let mut ours_files = planned_files(&plan);
    ours_files.sort();
    let iso = |m| R::Ok(pruning_table::month_start(m)?.format("%Y-%m-%dT%H:%M:%S").to_string());
    let mut peer = PyPlanner::start(root, &iso(QUERY_MONTH)?, &iso(QUERY_MONTH + 1)?)?;
    let info = peer.ask("info")?;
    let peer_files: Vec<String> = info["planned"]
        .as_array()
        .ok_or_else(|| fail(format!("pyiceberg's info has no planned files: {info}")))?
        .iter()
        .filter_map(Value::as_str)
        .map(|p| p.trim_start_matches("file://").trim_start_matches('/').to_string())
        .collect();
    if ours_files != peer_files {
        return Err(fail(format!(
            "thermocline plans {} files, pyiceberg {}:\nours: {ours_files:?}\npyiceberg: {peer_files:?}",
            ours_files.len(),
            peer_files.len()
        )));
    }
    let peer_total = info["files"].as_u64().unwrap_or_default() as usize;
    if cut.files_total != shape.files || peer_total != shape.files || cut.hot_rows() != 0 {
        return Err(fail(format!(
            "live data files disagree: the snapshot summary says {}, the manifests {}, pyiceberg {peer_total}; \
             hot rows {}",
            cut.files_total,
            shape.files,
            cut.hot_rows()
        )));
    }
    for (what, ours, theirs) in [
        ("snapshots", shape.snapshots, info["snapshots"].as_u64()),
        ("manifests", shape.manifests, info["manifests"].as_u64()),
    ] {
        if Some(ours as u64) != theirs {
            return Err(fail(format!(
                "{what}: iceberg-rust counts {ours}, pyiceberg {theirs:?}"
            )));
        }
    }
    let live_manifests = info["live_manifests"].as_u64().unwrap_or_default();
    println!(
        "files read: {} of {} (pyiceberg plans the same files); manifests listing a live file: {live_manifests} of {}",
        cut.files_planned, cut.files_total, shape.manifests
    );
    let mut per_month = Vec::with_capacity(MONTHS as usize);
    for m in 0..MONTHS {
        per_month.push(cut_of(&physical_plan(s.context(), &month_query(m)?).await?.1)?.files_planned);
    }
    per_month.sort_unstable();
    let within = per_month.iter().filter(|f| **f * 100 <= cut.files_total).count();
    let months = format!(
        "Files read by a one-month query over each of the {MONTHS} months: min {}, median {}, max {} of {}; \
         {within} of {MONTHS} months within 1/100.",
        per_month[0],
        per_month[per_month.len() / 2],
        per_month[per_month.len() - 1],
        cut.files_total
    );
    println!("{months}");

    // Warm: the session has planned the query before.
    let planning = Config {
        warmup: 2,
        runs: cfg.runs * 4,
        ..cfg.clone()
    };
    let mut logical = Stats::default();
    let expect = cut.files_planned;
    let (warm, peer_warm) = harness::pair(
        &planning,
        async || {
            let (times, plan) = physical_plan(s.context(), &sql).await?;
            check_files(&plan, expect)?;
            logical.samples.push(times[0]);
            Ok(times[1])
        },
        async || millis(&peer.plan("warm", expect)?, "ms"),
    )
    .await?;
    let mut end_to_end = Stats::default();
    for _ in 0..planning.runs {
        let start = Instant::now();
        s.query(&sql).await?;
        end_to_end.samples.push(start.elapsed());
    }
    // First query: a warehouse opened for each run.
    let mut peer_load = Stats::default();
    let (cold, peer_cold) = harness::pair(
        &Config {
            warmup: 1,
            ..cfg.clone()
        },
        async || {
            let fresh = pruning_table::open(root).await?;
            let session = fresh.session();
            let (times, plan) = physical_plan(session.context(), &sql).await?;
            check_files(&plan, expect)?;
            Ok(times[1])
        },
        async || {
            let answer = peer.plan("cold", expect)?;
            peer_load.samples.push(millis(&answer, "load_ms")?);
            millis(&answer, "ms")
        },
    )
    .await?;
    peer.quit()?;

    let mut t = Table::new(&[
        "figure",
        "thermocline",
        "pyiceberg plan_files",
        "ratio",
        "goal",
        "verdict",
    ]);
    let label = format!("1 month of {MONTHS}, {} snapshots", shape.snapshots);
    for (name, ours, theirs) in [
        ("planning time, warm", &warm, &peer_warm),
        ("planning time, first query after open", &cold, &peer_cold),
    ] {
        let ratio = ours.median().as_secs_f64() / theirs.median().as_secs_f64().max(1e-12);
        let met = ours.median() <= Duration::from_millis(20);
        t.row(vec![
            format!("{name} (median; min)"),
            format!("{} ({})", ms(ours.median()), ms(ours.min())),
            format!("{} ({})", ms(theirs.median()), ms(theirs.min())),
            format!("{ratio:.2}x"),
            "≤ 20 ms".into(),
            verdict(met).into(),
        ]);
        report.outcomes.push(Outcome {
            name: format!("pruning: {name} ({label})"),
            ours: ms(ours.median()),
            peer: format!("{} pyiceberg", ms(theirs.median())),
            ratio: format!("{ratio:.2}x"),
            goal: "≤ 20 ms".into(),
            met: Some(met),
        });
    }
    let met = cut.files_planned * 100 <= cut.files_total;
    let fraction = format!(
        "{}/{} ({:.2}%)",
        cut.files_planned,
        cut.files_total,
        100.0 * cut.files_planned as f64 / cut.files_total.max(1) as f64
    );
    let peer_fraction = format!("{}/{peer_total}", peer_files.len());
    for row in [
        vec![
            "files read for 1 month".into(),
            fraction.clone(),
            peer_fraction.clone(),
            "1.00x".into(),
            "≤ 1/100".into(),
            verdict(met).into(),
        ],
        vec![
            "pyiceberg `load_table` before a first query (median)".into(),
            "-".into(),
            ms(peer_load.median()),
            "-".into(),
            "-".into(),
            "-".into(),
        ],
    ] {
        t.row(row);
    }
    report.outcomes.push(Outcome {
        name: format!("pruning: files read for 1 month ({label})"),
        ours: fraction,
        peer: format!("{peer_fraction} pyiceberg"),
        ratio: "1.00x".into(),
        goal: "≤ 1/100".into(),
        met: Some(met),
    });
    let mut phases = Table::new(&["thermocline, warm (median)", "time"]);
    phases.row(vec!["logical planning".into(), ms(logical.median())]);
    phases.row(vec![
        "physical planning (hot tier, table load, plan_files)".into(),
        ms(warm.median()),
    ]);
    phases.row(vec![
        "end to end (`Session::query`: plan, execute, collect)".into(),
        ms(end_to_end.median()),
    ]);
    let body = format!(
        "A table `PARTITION BY (month(ts))` over {MONTHS} months (2015–2024) written by thermocline: {} rows \
         arriving in time order, one `INSERT` of the rows since the last snapshot then `CHECKPOINT ev` per \
         snapshot, {snapshots} times{} ({:.0} s). It ends with {} snapshots ({} of them small-file merges that \
         compaction started), {} manifests in the current snapshot ({live_manifests} listing a live file) and \
         {} live data files, all cold. The query reads one month, June 2020, chosen beforehand (`{sql}`); its \
         answer is checked against the rows written, and the files it reads against the files pyiceberg {} \
         plans for the same filter.\n\n\
         *Planning* is DataFusion's physical planning of the query (where thermocline reads the hot tier, \
         loads the table and plans files), against pyiceberg's `scan(row_filter).plan_files()` timed inside \
         Python. *Warm*: a session that has planned the query before (thermocline keeps the current \
         snapshot's parsed manifests; pyiceberg keeps manifest-list entries and re-reads manifests); \
         {} runs interleaved. *First query after open*: a warehouse opened for each run (opening reads the \
         table metadata, not the manifests), against `plan_files` after `clear_manifest_cache()` and a fresh \
         `load_table` (timed apart, below); {} runs. Each new snapshot starts a new manifest cache, so on a \
         table being written this is also the first query after every commit. *Files read*: the data files \
         the plan scans (`files_planned` in EXPLAIN) over the live data files. {months}{}\n\n{}\n{}",
        written.rows,
        if cfg.quick {
            " (--quick; the issue's figure is 1000)"
        } else {
            ""
        },
        written.elapsed.as_secs_f64(),
        shape.snapshots,
        shape.merges,
        shape.manifests,
        shape.files,
        pruning_peer::version(),
        planning.runs,
        cfg.runs,
        backtrace_note(),
        t.render(),
        phases.render()
    );
    print!("{}\n{}", t.render(), phases.render());
    report.section("Partition pruning and planning", body);
    Ok(())
}

/// A warning when Rust backtraces are on: iceberg-rust 0.10 builds an
/// `Error` (capturing a backtrace when they are) for every manifest it
/// checks against a filter, `ok_or(Error::new(..))` in
/// `TableScan`'s `PlanContext::get_partition_filter` (src/scan/context.rs),
/// so with 1000 manifests that capture dominates thermocline's planning.
fn backtrace_note() -> String {
    let on = match std::env::var("RUST_LIB_BACKTRACE") {
        Ok(v) => v != "0",
        Err(_) => std::env::var("RUST_BACKTRACE").is_ok_and(|v| v != "0"),
    };
    match on {
        true => " **Rust backtraces were on for this run** (`RUST_BACKTRACE`/`RUST_LIB_BACKTRACE`): \
                 iceberg-rust 0.10 captures one per manifest it checks against the filter (an eager \
                 `ok_or(Error::new(..))` in `PlanContext::get_partition_filter`), which inflates \
                 thermocline's planning times; run with them unset for the figures a server sees."
            .into(),
        false => String::new(),
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

/// The query over month `m`: `count(*)` and `sum(value)` of its rows.
fn month_query(m: i64) -> R<String> {
    let day = |m| R::Ok(pruning_table::month_start(m)?.format("%Y-%m-%d %H:%M:%S").to_string());
    Ok(format!(
        "SELECT count(*) AS n, sum(value) AS s FROM ev WHERE ts >= TIMESTAMP '{}' AND ts < TIMESTAMP '{}'",
        day(m)?,
        day(m + 1)?
    ))
}
