//! `thermocline demo`: a warehouse of synthetic events that shows both
//! tiers at work. Most rows are compacted into Iceberg (partitioned by day
//! and tenant bucket), a tail stays hot in SQLite, and the queries and
//! EXPLAIN output show one plan reading both and pruning files.
//!
//! The events are computed from `generate_series` with arithmetic, so every
//! run loads the same rows and the printed answers can be compared.

use std::time::Instant;

use arrow::array::{Array, RecordBatch, StringArray};
use thermocline::hot::TableName;
use thermocline::{Error, Result, Session, StatementOutput, Warehouse};

use super::admin::{compaction_summary, rate};
use super::format::{Format, write_rows};
use super::progress::{BarProgress, bar};

/// 2025-06-01T00:00:00Z: a fixed start, so the queries' dates always match.
const START_MICROS: i64 = 1_748_736_000_000_000;
const DAYS: i64 = 30;
const BATCH_ROWS: u64 = 50_000;

const CREATE: &str = "CREATE TABLE events (
    ts timestamptz NOT NULL,
    tenant_id int NOT NULL,
    kind text NOT NULL,
    amount double precision,
    payload jsonb
) WITH (sort_by = 'ts') PARTITION BY (day(ts), bucket(8, tenant_id))";

/// Event `value` of `rows`: evenly spread over [`DAYS`] days; 97 tenants;
/// four kinds, every twentieth a purchase with an amount.
fn insert_sql(first: u64, last: u64, rows: u64) -> String {
    let step = DAYS * 86_400_000_000 / rows.max(1) as i64;
    format!(
        "INSERT INTO events
         SELECT to_timestamp_micros({START_MICROS} + value * {step}) AS ts,
                CAST((value * 2654435761) % 97 AS INT) AS tenant_id,
                CASE WHEN value % 20 < 11 THEN 'page_view'
                     WHEN value % 20 < 17 THEN 'click'
                     WHEN value % 20 < 19 THEN 'signup'
                     ELSE 'purchase' END AS kind,
                CASE WHEN value % 20 = 19 THEN CAST((value * 2654435761) % 1000003 % 100000 AS DOUBLE) / 100.0 END AS amount,
                '{{\"session\":' || CAST(value % 5000 AS TEXT) || ',\"path\":\"/p/' || CAST(value % 50 AS TEXT) || '\"}}' AS payload
         FROM generate_series({first}, {last})"
    )
}

const QUERIES: [(&str, &str); 5] = [
    (
        "Events and revenue per day, newest 7 days (both tiers)",
        "SELECT CAST(date_trunc('day', ts) AS DATE) AS day, count(*) AS events,
                count(amount) AS purchases, round(sum(amount), 2) AS revenue
         FROM events GROUP BY 1 ORDER BY 1 DESC LIMIT 7",
    ),
    (
        "Top tenants by revenue on 2025-06-10 (one day's files)",
        "SELECT tenant_id, count(*) AS purchases, round(sum(amount), 2) AS revenue
         FROM events
         WHERE ts >= '2025-06-10T00:00:00Z' AND ts < '2025-06-11T00:00:00Z' AND kind = 'purchase'
         GROUP BY tenant_id ORDER BY revenue DESC LIMIT 5",
    ),
    (
        "Events by kind",
        "SELECT kind, count(*) AS events, round(avg(amount), 2) AS avg_amount
         FROM events GROUP BY kind ORDER BY events DESC",
    ),
    ("One tenant, one hour (day and bucket pruning)", POINT_QUERY),
    ("The last two days by kind (hot tail + newest files)", RECENT_QUERY),
];

const POINT_QUERY: &str =
    "SELECT count(*) AS events, min(ts) AS first, max(ts) AS last, round(sum(amount), 2) AS revenue
         FROM events
         WHERE tenant_id = 42 AND ts >= '2025-06-15T12:00:00Z' AND ts < '2025-06-15T13:00:00Z'";

const RECENT_QUERY: &str = "SELECT kind, count(*) AS events FROM events
         WHERE ts >= '2025-06-29T00:00:00Z' GROUP BY kind ORDER BY events DESC";

pub async fn run(wh: &Warehouse, rows: u64, hot_rows: u64) -> Result<()> {
    let started = Instant::now();
    let session = wh.session();
    let table = TableName::new(thermocline::warehouse::DEFAULT_NAMESPACE, "events");
    let root = wh.config().root.display().to_string();
    println!("Building the demo warehouse in {root}\n");
    if wh.tables().await?.contains(&table) {
        session.execute("DROP TABLE public.events").await?;
        println!("Dropped the previous demo table public.events.");
    }
    session.execute(CREATE).await?;
    println!("{CREATE};\n");

    let cold_rows = rows - hot_rows;
    let load_started = Instant::now();
    let progress = bar("loading events", rows);
    load(&session, 0, cold_rows, rows, &progress).await?;
    progress.suspend(|| println!("Loaded {cold_rows} events into the hot tier; compacting them into Iceberg:"));
    let compaction = BarProgress::new();
    let reports = wh.compact(Some(&table), &compaction).await?;
    drop(compaction);
    progress.suspend(|| {
        for report in &reports {
            println!("  {}", compaction_summary(report));
        }
    });
    load(&session, cold_rows, rows, rows, &progress).await?;
    progress.finish_and_clear();
    let load_time = load_started.elapsed();
    let hot = wh.hot().stats(&table)?;
    println!(
        "Loaded {rows} events in {:.1} s ({} rows/s including compaction); {} stay hot in SQLite.\n",
        load_time.as_secs_f64(),
        rate(rows, load_time),
        hot.rows
    );

    for (title, sql) in QUERIES {
        show_query(&session, title, sql).await?;
    }

    println!("-- EXPLAIN: the point query reads one Parquet file (day and tenant-bucket pruning) and the hot tail");
    show_plan(&session, &format!("EXPLAIN {POINT_QUERY}")).await?;
    println!("-- EXPLAIN ANALYZE: the last two days, read from both tiers");
    show_plan(&session, &format!("EXPLAIN ANALYZE {RECENT_QUERY}")).await?;

    println!("Demo finished in {:.1} s.\n", started.elapsed().as_secs_f64());
    println!("The warehouse is {root}:");
    println!(
        "  Iceberg catalog  {root}/catalog.db   (SQL catalog \"thermocline\", the schema pyiceberg's SqlCatalog uses)"
    );
    println!("  Parquet data     {root}/data/");
    println!("  hot tier         {root}/hot/{}.db", wh.config().shard);
    println!("Query it:  thermocline --warehouse {root} sql");
    println!(
        "Open it with pyiceberg (it sees the {} compacted rows; `thermocline compact` moves the {} hot ones):",
        rows - hot.rows,
        hot.rows
    );
    println!("  from pyiceberg.catalog.sql import SqlCatalog");
    println!(
        "  catalog = SqlCatalog(\"thermocline\", uri=\"sqlite:///{root}/catalog.db\", warehouse=\"file://{root}/data\")"
    );
    println!("  print(catalog.load_table(\"public.events\").scan().to_arrow().num_rows)");
    Ok(())
}

/// Insert events `first..last` in batches, advancing `progress`.
async fn load(session: &Session, first: u64, last: u64, rows: u64, progress: &indicatif::ProgressBar) -> Result<()> {
    let mut next = first;
    while next < last {
        let end = (next + BATCH_ROWS).min(last);
        session
            .execute(&insert_sql(next, end - 1, rows))
            .await
            .map_err(|e| e.with_context("demo rows", format!("{next}..{end}")))?;
        progress.inc(end - next);
        next = end;
    }
    Ok(())
}

async fn show_query(session: &Session, title: &str, sql: &str) -> Result<()> {
    println!("-- {title}\n{};", unindent(sql));
    let started = Instant::now();
    let output = single(session.execute(sql).await?)?;
    let elapsed = started.elapsed();
    print_rows(&output)?;
    println!("Time: {:.3} ms\n", elapsed.as_secs_f64() * 1000.0);
    Ok(())
}

/// Print the physical plan text of an EXPLAIN, without the table frame.
async fn show_plan(session: &Session, sql: &str) -> Result<()> {
    println!("{};", unindent(sql));
    let output = single(session.execute(sql).await?)?;
    let mut printed = false;
    for batch in &output.batches {
        let (Some(kinds), Some(plans)) = (string_column(batch, 0), string_column(batch, 1)) else {
            continue;
        };
        for row in 0..batch.num_rows() {
            let kind = kinds.value(row);
            if kind == "physical_plan" || kind.starts_with("Plan with") {
                println!("{}", plans.value(row).trim_end());
                printed = true;
            }
        }
    }
    if !printed {
        print_rows(&output)?;
    }
    println!();
    Ok(())
}

fn string_column(batch: &RecordBatch, index: usize) -> Option<&StringArray> {
    (batch.num_columns() > index)
        .then(|| batch.column(index).as_any().downcast_ref::<StringArray>())
        .flatten()
        .filter(|column| column.null_count() == 0)
}

fn single(mut outputs: Vec<StatementOutput>) -> Result<StatementOutput> {
    outputs
        .pop()
        .ok_or_else(|| Error::internal("a demo query returned no result"))
}

fn print_rows(output: &StatementOutput) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    write_rows(&mut stdout, Format::Table, &output.schema, &output.batches)?;
    Ok(())
}

/// The SQL as typed above, without the source code's indentation.
fn unindent(sql: &str) -> String {
    sql.lines().map(str::trim).collect::<Vec<_>>().join("\n  ")
}
