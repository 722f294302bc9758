//! TPC-H, all 22 queries: thermocline (10% of orders and lineitem hot in
//! the WAL, the rest compacted into Iceberg, partitioned by year) against
//! DuckDB and bare DataFusion over the same data as plain Parquet. Each
//! engine runs in its own process with 2 threads; rounds interleave the
//! engines query by query so all three see the same machine load. Round 0 is
//! the cold run (the first in a fresh process), rounds 1..=runs are hot and
//! give the medians. Every answer is compared with DuckDB's before its time
//! counts.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use serde_json::Value;

use super::Suite;
use super::harness::{Outcome, R, Stats, Table, fail, ms};
use super::report::{QueryRatio, Report, geomean};
use super::tpch_data::{self, PARTS};
use super::tpch_engines::{Engine, duckdb_worker, q11_fraction, rust_worker};

/// What one engine did with one query.
#[derive(Default)]
struct Cell {
    cold: Option<f64>,
    hot: Vec<f64>,
    /// The first answer, kept for the check.
    answer: Option<Vec<Vec<Value>>>,
    error: Option<String>,
}

impl Cell {
    fn median_ms(&self) -> Option<f64> {
        let stats = Stats {
            samples: self
                .hot
                .iter()
                .map(|m| std::time::Duration::from_secs_f64(m / 1e3))
                .collect(),
        };
        (!self.hot.is_empty()).then(|| stats.median().as_secs_f64() * 1e3)
    }
}

/// Queries to run: `THERMOCLINE_BENCH_TPCH_QUERIES=1,6,13`, else all 22.
fn queries() -> R<Vec<String>> {
    match std::env::var("THERMOCLINE_BENCH_TPCH_QUERIES") {
        Ok(list) => list
            .split(',')
            .map(|q| {
                q.trim()
                    .trim_start_matches(['q', 'Q'])
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=22).contains(n))
                    .map(|n| format!("q{n:02}"))
                    .ok_or_else(|| fail(format!("THERMOCLINE_BENCH_TPCH_QUERIES: {q:?} is not a query 1..22")))
            })
            .collect(),
        Err(_) => Ok((1..=22).map(|n| format!("q{n:02}")).collect()),
    }
}

pub async fn tpch(suite: &Suite, report: &mut Report) -> R<()> {
    let cfg = &suite.base;
    let sf = suite.sf;
    println!("\n## TPC-H SF{sf}: thermocline (10% hot) vs DuckDB and bare DataFusion over plain Parquet");
    let data = tpch_data::dataset(&cfg.dir, sf)?;

    // Load thermocline, then close the warehouse so the worker opens it alone.
    let warehouse = cfg.tempdir("bench-tpch-")?;
    let started = Instant::now();
    let load = {
        let wh = super::data::open_warehouse(warehouse.path()).await?;
        tpch_data::load_thermocline(&wh.session(), &data).await?
    };
    let load_secs = started.elapsed().as_secs_f64();
    println!(
        "thermocline loaded {} rows ({} hot) in {load_secs:.1} s: inserts {:.1} s ({:.0}k rows/s), CHECKPOINTs {:.1} s",
        load.rows,
        load.hot_rows,
        load.insert_secs,
        load.rows as f64 / load.insert_secs.max(1e-9) / 1e3,
        load.checkpoint_secs
    );

    let fraction = q11_fraction(sf);
    let mut engines = [
        Engine::spawn("thermocline", rust_worker("thermocline", warehouse.path(), &fraction)?)?,
        Engine::spawn("DuckDB", duckdb_worker(&data.dir, &fraction))?,
        Engine::spawn("DataFusion", rust_worker("datafusion", &data.dir, &fraction)?)?,
    ];
    let queries = queries()?;
    let mut cells: Vec<[Cell; 3]> = queries.iter().map(|_| Default::default()).collect();
    for round in 0..=cfg.runs {
        let t = Instant::now();
        for (q, name) in queries.iter().enumerate() {
            for (e, engine) in engines.iter_mut().enumerate() {
                let cell = &mut cells[q][e];
                if cell.error.is_some() {
                    continue;
                }
                match engine.run(name)? {
                    Ok(reply) => {
                        if round == 0 {
                            cell.cold = Some(reply.ms);
                            cell.answer = Some(reply.rows);
                        } else {
                            cell.hot.push(reply.ms);
                        }
                    }
                    Err(e) => {
                        println!("  {name}: {} failed: {e}", engine.name);
                        cell.error = Some(e);
                    }
                }
            }
        }
        println!(
            "  round {round}{} done in {:.1} s",
            if round == 0 { " (cold)" } else { "" },
            t.elapsed().as_secs_f64()
        );
    }
    if cfg.explain {
        explain_slow(&mut engines, &queries, &cells, &suite.results)?;
    }
    let mut rss = Vec::new();
    for engine in engines.iter_mut() {
        rss.push(engine.peak_rss_kb()?);
    }

    // The answer check: thermocline and DataFusion against DuckDB.
    let mut t = Table::new(&[
        "query",
        "thermocline",
        "DuckDB",
        "DataFusion",
        "vs DuckDB",
        "vs DataFusion",
        "thermocline cold",
        "answers",
    ]);
    let (mut vs_duck, mut vs_df) = (Vec::new(), Vec::new());
    let mut sums = [0.0f64; 3];
    let mut problems = Vec::new();
    for (q, name) in queries.iter().enumerate() {
        let [ours, duck, df] = &cells[q];
        let check = |cell: &Cell, who: &str| -> Result<(), String> {
            if let Some(e) = &cell.error {
                return Err(format!("{who} failed: {e}"));
            }
            match (&cell.answer, &duck.answer) {
                (Some(a), Some(b)) => same_answer(a, b).map_err(|d| format!("{who} differs from DuckDB: {d}")),
                _ => Err(format!("{who}: no answer to compare")),
            }
        };
        let ours_ok = check(ours, "thermocline");
        let df_ok = check(df, "DataFusion");
        let medians = [ours.median_ms(), duck.median_ms(), df.median_ms()];
        let verdict = match (&ours_ok, &df_ok) {
            (Ok(()), Ok(())) => "equal".to_string(),
            _ => {
                for e in [&ours_ok, &df_ok].into_iter().filter_map(|r| r.as_ref().err()) {
                    problems.push(format!("{name}: {e}"));
                }
                "DIFFER".to_string()
            }
        };
        let ratio = |a: Option<f64>, b: Option<f64>, ok: bool| match (a, b) {
            (Some(a), Some(b)) if ok && b > 0.0 => Some(a / b),
            _ => None,
        };
        let rd = ratio(medians[0], medians[1], ours_ok.is_ok());
        let rf = ratio(medians[0], medians[2], ours_ok.is_ok() && df_ok.is_ok());
        if let (Some(rd), Some(rf)) = (rd, rf) {
            vs_duck.push(rd);
            vs_df.push(rf);
            for (s, m) in sums.iter_mut().zip(medians) {
                *s += m.unwrap_or(0.0);
            }
            report.tpch.push(QueryRatio {
                query: format!("Q{}", name.trim_start_matches("q0").trim_start_matches('q')),
                vs_duckdb: rd,
                vs_datafusion: rf,
            });
        }
        let show = |m: Option<f64>| m.map(ms_f).unwrap_or_else(|| "-".into());
        let showr = |r: Option<f64>| r.map(|r| format!("{r:.2}×")).unwrap_or_else(|| "-".into());
        t.row(vec![
            name.to_uppercase(),
            show(medians[0]),
            show(medians[1]),
            show(medians[2]),
            showr(rd),
            showr(rf),
            show(ours.cold),
            verdict,
        ]);
    }
    let (gd, gf) = (geomean(vs_duck.iter().copied()), geomean(vs_df.iter().copied()));
    t.row(vec![
        format!("sum ({} queries)", vs_duck.len()),
        ms_f(sums[0]),
        ms_f(sums[1]),
        ms_f(sums[2]),
        format!("geomean {gd:.2}×"),
        format!("geomean {gf:.2}×"),
        String::new(),
        String::new(),
    ]);
    let table = t.render();
    print!("{table}");
    let mut body = String::new();
    let _ = writeln!(
        body,
        "Scale factor {sf}: {} rows generated by `tpchgen` (dbgen's data). thermocline: all eight tables \
         in Iceberg, orders and lineitem partitioned by year, except the newest 1/{PARTS} of orders (by order \
         key) and their line items, {} rows, hot in the WAL. DuckDB and bare DataFusion read the same rows as \
         plain Parquet (snappy, 122 880-row groups). Each engine is its own process with 2 threads; medians of \
         {} hot runs after one cold run (the first in a fresh process), rounds interleaving the engines. \
         Times are planning + execution + collecting the result. Every answer is compared with DuckDB's \
         (numbers to 0.01) before its time counts.\n",
        data.rows, load.hot_rows, cfg.runs
    );
    body.push_str(&table);
    let _ = writeln!(
        body,
        "\nPeak RSS: thermocline {} MiB, DuckDB {} MiB, DataFusion {} MiB. Worker start-up: thermocline {:.2} s \
         (open the warehouse), DuckDB {:.2} s, DataFusion {:.2} s (infer schemas).\n\nLoading thermocline: {} rows \
         in {load_secs:.1} s (batched INSERTs {:.1} s = {:.0}k rows/s, CHECKPOINTs into Iceberg {:.1} s).",
        rss[0] / 1024,
        rss[1] / 1024,
        rss[2] / 1024,
        engines[0].startup_secs,
        engines[1].startup_secs,
        engines[2].startup_secs,
        load.rows,
        load.insert_secs,
        load.rows as f64 / load.insert_secs.max(1e-9) / 1e3,
        load.checkpoint_secs
    );
    if !problems.is_empty() {
        let _ = writeln!(
            body,
            "\n**Answers that differ or failed** (their times do not count):\n"
        );
        for p in &problems {
            let _ = writeln!(body, "- {p}");
        }
    }
    report.section(format!("TPC-H SF{sf}"), body);
    let n = queries.len();
    let counted = vs_duck.len();
    report.outcomes.push(Outcome {
        name: format!("TPC-H SF{sf}: geomean vs DuckDB ({counted}/{n} queries)"),
        ours: format!("sum {}", ms_f(sums[0])),
        peer: format!("sum {}", ms_f(sums[1])),
        ratio: format!("{gd:.2}×"),
        goal: "≤ 1.0×".into(),
        met: Some(counted == n && gd <= 1.0),
    });
    report.outcomes.push(Outcome {
        name: format!("TPC-H SF{sf}: geomean vs bare DataFusion ({counted}/{n} queries)"),
        ours: format!("sum {}", ms_f(sums[0])),
        peer: format!("sum {}", ms_f(sums[2])),
        ratio: format!("{gf:.2}×"),
        goal: "≤ 1.1×".into(),
        met: Some(counted == n && gf <= 1.1),
    });
    if !problems.is_empty() {
        println!("answers that differ or failed:");
        for p in &problems {
            println!("  {p}");
        }
    }
    Ok(())
}

/// For every query where thermocline is slower than bare DataFusion by more
/// than 10%, write both engines' EXPLAIN ANALYZE beside RESULTS.md
/// (`results/explain/qNN-thermocline.txt`, `…/qNN-datafusion.txt`; not
/// committed).
fn explain_slow(engines: &mut [Engine; 3], queries: &[String], cells: &[[Cell; 3]], results: &Path) -> R<()> {
    let dir = results
        .parent()
        .unwrap_or(Path::new("."))
        .join("results")
        .join("explain");
    std::fs::create_dir_all(&dir)?;
    for (q, name) in queries.iter().enumerate() {
        let [ours, _, df] = &cells[q];
        let slow = match (ours.median_ms(), df.median_ms()) {
            (Some(a), Some(b)) => a > 1.1 * b,
            _ => false,
        };
        if !slow {
            continue;
        }
        for (e, file) in [(0, "thermocline"), (2, "datafusion")] {
            let plan = engines[e].explain(name)?;
            std::fs::write(dir.join(format!("{name}-{file}.txt")), plan)?;
        }
        println!("  {name}: EXPLAIN ANALYZE written to {}", dir.display());
    }
    Ok(())
}

fn ms_f(m: f64) -> String {
    ms(std::time::Duration::from_secs_f64(m / 1e3))
}

/// Whether two answers are the same: same rows, numbers equal to 0.01 (or
/// 1e-9 relative), text equal. Rows are compared in order, and if that
/// fails, sorted (ties under ORDER BY may come in either order).
pub fn same_answer(a: &[Vec<Value>], b: &[Vec<Value>]) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("{} rows, not {}", a.len(), b.len()));
    }
    let in_order = a
        .iter()
        .zip(b)
        .enumerate()
        .find_map(|(i, (x, y))| same_row(x, y).err().map(|e| format!("row {}: {e}", i + 1)));
    let Some(first_difference) = in_order else {
        return Ok(());
    };
    let key = |r: &Vec<Value>| r.iter().map(sort_key).collect::<Vec<_>>().join("\u{1}");
    let (mut x, mut y) = (a.to_vec(), b.to_vec());
    x.sort_by_key(key);
    y.sort_by_key(key);
    if x.iter().zip(&y).all(|(r, s)| same_row(r, s).is_ok()) {
        Ok(())
    } else {
        Err(first_difference)
    }
}

fn sort_key(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("{:020.2}", n.as_f64().unwrap_or(0.0)),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn same_row(x: &[Value], y: &[Value]) -> Result<(), String> {
    if x.len() != y.len() {
        return Err(format!("{} columns, not {}", x.len(), y.len()));
    }
    for (i, (a, b)) in x.iter().zip(y).enumerate() {
        let equal = match (a, b) {
            (Value::Number(p), Value::Number(q)) => {
                let (p, q) = (p.as_f64().unwrap_or(f64::NAN), q.as_f64().unwrap_or(f64::NAN));
                (p - q).abs() <= 0.01_f64.max(1e-9 * p.abs().max(q.abs()))
            }
            // A decimal or date rendered as text on one side.
            (Value::Number(p), Value::String(s)) | (Value::String(s), Value::Number(p)) => s
                .parse::<f64>()
                .is_ok_and(|q| (p.as_f64().unwrap_or(f64::NAN) - q).abs() <= 0.01),
            _ => a == b,
        };
        if !equal {
            return Err(format!("column {}: {a} vs {b}", i + 1));
        }
    }
    Ok(())
}
