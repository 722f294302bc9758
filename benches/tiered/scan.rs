//! Benchmark 4: a tiered scan (90% of rows compacted into Iceberg, 10% hot)
//! against plain DataFusion over the SAME Parquet files (plus the hot rows
//! as a MemTable), and a pure-cold comparison. Both answers are checked
//! equal before any time counts.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::options::{ParquetReadOptions, ReadOptions};
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::{SessionConfig, SessionContext};
use thermocline::Session;

use super::data::{self, Loader};
use super::harness::{self, Config, Outcome, R, Stats, Table, fail, ms};

const QUERIES: [(&str, &str); 4] = [
    (
        "aggregate GROUP BY kind",
        "SELECT kind, count(*) AS n, sum(value) AS s FROM {t} GROUP BY kind ORDER BY kind",
    ),
    (
        "filter: 1 cold day",
        "SELECT count(*) AS n, sum(value) AS s FROM {t} WHERE ts >= TIMESTAMP '2024-01-10 00:00:00' AND ts < TIMESTAMP '2024-01-11 00:00:00'",
    ),
    (
        "filter: 1 hot day",
        "SELECT count(*) AS n, sum(value) AS s FROM {t} WHERE ts >= TIMESTAMP '2024-01-29 00:00:00' AND ts < TIMESTAMP '2024-01-30 00:00:00'",
    ),
    ("count(*)", "SELECT count(*) AS n FROM {t}"),
];

/// The peer: plain DataFusion, 2 target partitions, and the Parquet
/// options thermocline's session sets (Utf8 strings, filter pushdown), so
/// the ratio measures tiering and not a different reader configuration.
pub fn peer_context() -> SessionContext {
    let config = SessionConfig::new()
        .with_target_partitions(2)
        .set_bool("datafusion.execution.parquet.schema_force_view_types", false)
        .set_bool("datafusion.execution.parquet.pushdown_filters", true);
    SessionContext::new_with_config(config)
}

/// Every Parquet file of one table in the warehouse's data folder.
pub fn parquet_files(root: &Path, table: &str) -> R<Vec<PathBuf>> {
    let base = root.join("data").join("public").join(table);
    let mut out = Vec::new();
    let mut stack = vec![base.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| fail(format!("cannot list {}: {e}", dir.display())))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                out.push(path);
            }
        }
    }
    if out.is_empty() {
        return Err(fail(format!("no Parquet files under {}", base.display())));
    }
    out.sort();
    Ok(out)
}

/// Register `files` as one ListingTable named `name`.
pub async fn register_files(ctx: &SessionContext, name: &str, files: &[PathBuf]) -> R<()> {
    let urls = files
        .iter()
        .map(|p| ListingTableUrl::parse(p.to_string_lossy().as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    let options = ParquetReadOptions::default().to_listing_options(&ctx.copied_config(), ctx.copied_table_options());
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .infer_schema(&ctx.state())
        .await?;
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

fn render(batches: &[RecordBatch]) -> R<String> {
    Ok(arrow::util::pretty::pretty_format_batches(batches)?.to_string())
}

/// Time of logical planning, physical planning and execution of `sql`.
async fn phases(ctx: &SessionContext, sql: &str) -> R<[Duration; 3]> {
    let t0 = Instant::now();
    let frame = ctx.sql(sql).await?;
    let t1 = Instant::now();
    let (state, plan) = frame.into_parts();
    let physical = state.create_physical_plan(&plan).await?;
    let t2 = Instant::now();
    datafusion::physical_plan::collect(physical, state.task_ctx()).await?;
    Ok([t1 - t0, t2 - t1, t2.elapsed()])
}

async fn phase_medians(ctx: &SessionContext, sql: &str, reps: usize) -> R<[Duration; 3]> {
    let mut stats = [Stats::default(), Stats::default(), Stats::default()];
    for _ in 0..reps {
        let p = phases(ctx, sql).await?;
        for (stat, d) in stats.iter_mut().zip(p) {
            stat.samples.push(d);
        }
    }
    Ok([stats[0].median(), stats[1].median(), stats[2].median()])
}

struct Comparison<'a> {
    label: &'a str,
    ours_table: &'a str,
    peer_table: &'a str,
}

pub async fn scans(cfg: &Config, out: &mut Vec<Outcome>) -> R<()> {
    let n = cfg.rows;
    let cold_rows = n * 9 / 10;
    println!("\n## 4. Tiered scan vs plain DataFusion: {n} rows, table partitioned by day(ts) over 30 days");
    println!(
        "tiered: rows 0..{cold_rows} compacted (days 1-27), the newest {} hot in the WAL; pure cold: all {n} compacted",
        n - cold_rows
    );
    println!(
        "peer: SessionContext, target_partitions=2, ListingTable over the same Parquet files (+ MemTable of the hot rows,"
    );
    println!(
        "      UNION ALL in SQL, for the tiered case); both read Parquet with pushdown_filters=true, Utf8 strings"
    );

    let dir = cfg.tempdir("bench-scan-")?;
    let wh = data::open_warehouse(dir.path()).await?;
    let s = wh.session();
    let loader = Loader::new(&s)?;
    let cold = data::batches(0, cold_rows, n)?;
    let hot = data::batches(cold_rows, n, n)?;
    s.execute(&data::create_sql("ev", true)).await?;
    loader.insert_all(&s, "ev", &cold).await?;
    s.execute("CHECKPOINT ev").await?;
    loader.insert_all(&s, "ev", &hot).await?;
    s.execute(&data::create_sql("ev_cold", true)).await?;
    loader.insert_all(&s, "ev_cold", &cold).await?;
    loader.insert_all(&s, "ev_cold", &hot).await?;
    s.execute("CHECKPOINT ev_cold").await?;

    let ctx = peer_context();
    let root = wh.config().root.clone();
    let ev_files = parquet_files(&root, "ev")?;
    let cold_files = parquet_files(&root, "ev_cold")?;
    println!(
        "Parquet files: tiered table {}, pure-cold table {}",
        ev_files.len(),
        cold_files.len()
    );
    register_files(&ctx, "ev_files", &ev_files).await?;
    register_files(&ctx, "ev_cold_files", &cold_files).await?;
    ctx.register_table(
        "ev_hot",
        Arc::new(MemTable::try_new(data::schema(), vec![hot.clone()])?),
    )?;

    let comparisons = [
        Comparison {
            label: "tiered 90/10",
            ours_table: "ev",
            peer_table: "(SELECT id, ts, tenant, kind, value FROM ev_files UNION ALL SELECT id, ts, tenant, kind, value FROM ev_hot) AS ev",
        },
        Comparison {
            label: "pure cold",
            ours_table: "ev_cold",
            peer_table: "ev_cold_files",
        },
    ];
    let scan_cfg = Config {
        warmup: 2,
        runs: cfg.runs * 2,
        ..cfg.clone()
    };
    let mut t = Table::new(&[
        "case",
        "query",
        "thermocline median",
        "min",
        "DataFusion median",
        "min",
        "ratio",
        "goal ≤ 1.1x",
    ]);
    let mut breakdown = Table::new(&[
        "case",
        "query",
        "ours: logical plan",
        "ours: physical plan",
        "ours: execute",
        "DF: logical plan",
        "DF: physical plan",
        "DF: execute",
    ]);
    for c in &comparisons {
        for (name, template) in QUERIES {
            let ours_sql = template.replace("{t}", c.ours_table);
            let peer_sql = template.replace("{t}", c.peer_table);
            let ours_answer = render(&s.query(&ours_sql).await?)?;
            let peer_answer = render(&ctx.sql(&peer_sql).await?.collect().await?)?;
            if ours_answer != peer_answer {
                return Err(fail(format!(
                    "{} / {name}: answers differ\nthermocline:\n{ours_answer}\nDataFusion:\n{peer_answer}",
                    c.label
                )));
            }
            let (ours, peer) = harness::pair(
                &scan_cfg,
                async || timed_query(&s, &ours_sql).await,
                async || {
                    let start = Instant::now();
                    ctx.sql(&peer_sql).await?.collect().await?;
                    Ok(start.elapsed())
                },
            )
            .await?;
            let ratio = ours.median().as_secs_f64() / peer.median().as_secs_f64().max(1e-12);
            let met = ratio <= 1.1;
            t.row(vec![
                c.label.into(),
                name.into(),
                ms(ours.median()),
                ms(ours.min()),
                ms(peer.median()),
                ms(peer.min()),
                format!("{ratio:.2}x"),
                if met { "met".into() } else { "MISSED".into() },
            ]);
            out.push(Outcome {
                name: format!("scan {}: {name}", c.label),
                ours: ms(ours.median()),
                peer: ms(peer.median()),
                ratio: format!("{ratio:.2}x"),
                goal: "≤ 1.1x DataFusion".into(),
                met: Some(met),
            });
            let o = phase_medians(s.context(), &ours_sql, scan_cfg.runs).await?;
            let p = phase_medians(&ctx, &peer_sql, scan_cfg.runs).await?;
            breakdown.row(vec![
                c.label.into(),
                name.into(),
                ms(o[0]),
                ms(o[1]),
                ms(o[2]),
                ms(p[0]),
                ms(p[1]),
                ms(p[2]),
            ]);
            if cfg.explain {
                explain(&s, &ctx, &ours_sql, &peer_sql).await?;
            }
        }
    }
    print!("{}", t.render());
    println!(
        "\nWhere the time goes (medians of {} runs; physical planning is where thermocline reads the hot tier,",
        scan_cfg.runs
    );
    println!("loads the Iceberg metadata and plans files):");
    print!("{}", breakdown.render());
    Ok(())
}

async fn timed_query(s: &Session, sql: &str) -> R<Duration> {
    let start = Instant::now();
    s.query(sql).await?;
    Ok(start.elapsed())
}

async fn explain(s: &Session, ctx: &SessionContext, ours: &str, peer: &str) -> R<()> {
    println!("\nEXPLAIN ANALYZE (thermocline) {ours}");
    println!("{}", render(&s.query(&format!("EXPLAIN ANALYZE {ours}")).await?)?);
    println!("EXPLAIN ANALYZE (DataFusion) {peer}");
    println!(
        "{}",
        render(&ctx.sql(&format!("EXPLAIN ANALYZE {peer}")).await?.collect().await?)?
    );
    Ok(())
}
