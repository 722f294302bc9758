//! Benchmark 5: history. A table of `rows` events, compacted; then 1% of
//! the rows updated and 1% deleted, compacted again (copy-on-write, the
//! delete events go to the change log `ev$changes`).
//!
//! - `AS OF` before the changes (live versions filtered by commit time plus
//!   the before-images from the change log) against plain DataFusion over
//!   the table's current Parquet files: what reading the past costs over
//!   reading the present.
//! - A CDC consumer's poll (`thermocline_changes` from a recent lsn: the last
//!   1 000 inserts, still hot), and a first read from lsn 0 (every row is
//!   an event), with no peer: the absolute figures.
//!
//! Answers are checked before any time counts: `AS OF` equals the table as
//! it was before the changes, the poll finds exactly the new events.

use std::time::{Duration, Instant};

use super::data::{self, Loader};
use super::harness::{self, Config, Outcome, R, fail, ms};
use super::scan::{parquet_files, peer_context, register_files};

async fn one_row(session: &thermocline::Session, sql: &str) -> R<String> {
    let batches = session.query(sql).await?;
    Ok(arrow::util::pretty::pretty_format_batches(&batches)?.to_string())
}

async fn timed(session: &thermocline::Session, sql: &str) -> R<Duration> {
    let started = Instant::now();
    session.query(sql).await?;
    Ok(started.elapsed())
}

pub async fn history(cfg: &Config, out: &mut Vec<Outcome>) -> R<()> {
    let n = cfg.rows;
    println!("\n## 5. History: {n} rows, 1% updated and 1% deleted after compaction");
    let dir = cfg.tempdir("history")?;
    let wh = data::open_warehouse(dir.path()).await?;
    let session = wh.session();
    session.execute(&data::create_sql("ev", true)).await?;
    let loader = Loader::new(&session)?;
    loader.insert_all(&session, "ev", &data::batches(0, n, n)?).await?;
    session.execute("CHECKPOINT ev").await?;
    let totals = "SELECT count(*) AS n, sum(value) AS s FROM {t}";
    let before = one_row(&session, &totals.replace("{t}", "ev")).await?;
    let instant = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let started = Instant::now();
    session
        .execute("UPDATE ev SET value = value + 1 WHERE id % 100 = 0; DELETE FROM ev WHERE id % 100 = 1")
        .await?;
    let changed = started.elapsed();
    let started = Instant::now();
    session.execute("CHECKPOINT ev").await?;
    println!(
        "UPDATE + DELETE of {} rows: {}; CHECKPOINT (file rewrite + change log): {}",
        n / 50,
        ms(changed),
        ms(started.elapsed())
    );

    let as_of = format!(
        "ev FOR SYSTEM_TIME AS OF '{}'",
        instant.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    );
    let ours_sql = totals.replace("{t}", &as_of);
    let past = one_row(&session, &ours_sql).await?;
    if past != before {
        return Err(fail(format!("AS OF gave\n{past}\nbut the table held\n{before}")));
    }
    let ctx = peer_context();
    register_files(&ctx, "ev_now", &parquet_files(dir.path(), "ev")?).await?;
    let peer_sql = totals.replace("{t}", "ev_now");
    let (ours, peer) = harness::pair(
        cfg,
        async || timed(&session, &ours_sql).await,
        async || {
            let started = Instant::now();
            ctx.sql(&peer_sql).await?.collect().await?;
            Ok(started.elapsed())
        },
    )
    .await?;
    let ratio = ours.median().as_secs_f64() / peer.median().as_secs_f64().max(1e-9);
    println!(
        "count/sum AS OF before the changes: {} (min {}); DataFusion over today's files: {} (min {}); {ratio:.2}x",
        ms(ours.median()),
        ms(ours.min()),
        ms(peer.median()),
        ms(peer.min())
    );
    out.push(Outcome {
        name: "AS OF vs DataFusion over the current files".into(),
        ours: ms(ours.median()),
        peer: ms(peer.median()),
        ratio: format!("{ratio:.2}x"),
        goal: "-".into(),
        met: None,
    });

    // A consumer's poll: the last 1 000 inserts, still hot.
    let last: i64 = {
        let batches = session
            .query("SELECT max(lsn) FROM thermocline_changes('ev', 0)")
            .await?;
        batches
            .first()
            .ok_or_else(|| fail("no lsn"))?
            .column(0)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .ok_or_else(|| fail("lsn is not bigint"))?
            .value(0)
    };
    loader
        .insert_all(&session, "ev", &data::batches(n, n + 1000, n)?)
        .await?;
    let poll = format!("SELECT count(*) AS n FROM thermocline_changes('ev', {last})");
    let found = one_row(&session, &poll).await?;
    if !found.contains("| 1000 |") {
        return Err(fail(format!("the poll found\n{found}\nexpected 1000 events")));
    }
    let mut polls = harness::Stats::default();
    for _ in 0..cfg.runs.max(3) {
        polls.samples.push(timed(&session, &poll).await?);
    }
    println!(
        "CDC poll of the newest 1000 events: {} (min {})",
        ms(polls.median()),
        ms(polls.min())
    );
    out.push(Outcome {
        name: "CDC poll, 1000 new events".into(),
        ours: ms(polls.median()),
        peer: "-".into(),
        ratio: "-".into(),
        goal: "-".into(),
        met: None,
    });
    let first = timed(&session, "SELECT count(*) FROM thermocline_changes('ev', 0)").await?;
    println!(
        "CDC first read from lsn 0 ({} events): {} = {}",
        n + 1000 + n / 100,
        ms(first),
        harness::rate(n + 1000, first)
    );
    out.push(Outcome {
        name: "CDC first read from lsn 0".into(),
        ours: harness::rate(n + 1000, first),
        peer: "-".into(),
        ratio: "-".into(),
        goal: "-".into(),
        met: None,
    });
    Ok(())
}
