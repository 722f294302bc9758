//! Differential test: random batches of inserts into a partitioned and an
//! unpartitioned table, UPDATEs, DELETEs and upserts (into a keyed table),
//! some inside transactions that commit or roll back, CHECKPOINTs at random
//! points, and after every step a fixed set of queries whose answers must
//! equal SQLite's over the same rows.
//!
//! SQLite holds the reference copy: booleans as 0/1, dates as days since the
//! epoch, timestamps as µs since the epoch. Results are normalised to those
//! integers before comparing; doubles compare to a relative tolerance.
//!
//! Knobs: `THERMOCLINE_SEED` (one seed instead of the default set),
//! `THERMOCLINE_DIFF_STEPS` (steps per seed), `THERMOCLINE_DIFF_SEEDS`.

mod common;
#[path = "differential/generate.rs"]
mod generate;
#[path = "differential/history.rs"]
mod history;

use std::time::{Duration, Instant};

use common::{Cell, Row, rows};
use generate::{
    D0, DAY_US, DAYS, DimRow, EvRow, WORDS, date_text, dim_insert_sql, ev_insert_sql, gen_dim, gen_ev, gen_k, sql_text,
    ts_text,
};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rusqlite::params;
use thermocline::config::Durability;
use thermocline::{CompactionMode, Session, TieringConfig, Warehouse, WarehouseConfig};

/// One query, spelled for each engine.
struct Query {
    name: &'static str,
    ours: String,
    sqlite: String,
}

fn q(name: &'static str, ours: impl Into<String>, sqlite: impl Into<String>) -> Query {
    Query {
        name,
        ours: ours.into(),
        sqlite: sqlite.into(),
    }
}

/// The same SQL for both engines.
fn same(name: &'static str, sql: &str) -> Query {
    q(name, sql, sql)
}

/// The query set for one step; filter constants are drawn from `rng` so the
/// boundaries move from step to step.
fn queries(rng: &mut StdRng) -> Vec<Query> {
    let day_a = D0 + rng.random_range(-1..DAYS);
    let day_b = day_a + rng.random_range(1..4);
    let (a, b) = (day_a * DAY_US, day_b * DAY_US);
    let m = (D0 + rng.random_range(0..=DAYS)) * DAY_US;
    let k = gen_k(rng);
    let in_list: Vec<String> = (0..rng.random_range(1..6)).map(|_| gen_k(rng).to_string()).collect();
    let in_list = in_list.join(", ");
    let dim_in: Vec<String> = (0..rng.random_range(1..5))
        .map(|_| rng.random_range(-2..25).to_string())
        .collect();
    let dim_in = dim_in.join(", ");
    let (d1, d2) = (D0 + rng.random_range(-4..4), D0 + rng.random_range(4..12));
    let word = WORDS.choose(rng).copied().unwrap_or("m");
    let ts = |us: i64| sql_text(&ts_text(us));
    let date = |d: i64| format!("DATE '{}'", date_text(d));
    vec![
        same("acct rows", "SELECT id, k, v, s FROM acct ORDER BY id"),
        same(
            "acct by k",
            "SELECT k, count(*), sum(v), min(s) FROM acct GROUP BY k ORDER BY k NULLS FIRST",
        ),
        same("count", "SELECT count(*) FROM ev"),
        same("all rows", "SELECT id, k, v, d, s, b, dt, ts FROM ev ORDER BY id"),
        same(
            "group by k",
            "SELECT k, count(*), count(v), sum(v), min(d), max(d), min(s), max(s), min(ts), max(ts), min(dt) \
             FROM ev GROUP BY k ORDER BY k NULLS FIRST",
        ),
        q(
            "ts day range",
            format!(
                "SELECT count(*), sum(v), min(id), max(id) FROM ev WHERE ts >= {} AND ts < {}",
                ts(a),
                ts(b)
            ),
            format!("SELECT count(*), sum(v), min(id), max(id) FROM ev WHERE ts >= {a} AND ts < {b}"),
        ),
        q(
            "ts around midnight",
            format!(
                "SELECT id, ts FROM ev WHERE ts > {} AND ts <= {} ORDER BY id",
                ts(m - 2),
                ts(m + 1)
            ),
            format!(
                "SELECT id, ts FROM ev WHERE ts > {} AND ts <= {} ORDER BY id",
                m - 2,
                m + 1
            ),
        ),
        q(
            "ts = midnight",
            format!("SELECT count(*), sum(k) FROM ev WHERE ts = {}", ts(m)),
            format!("SELECT count(*), sum(k) FROM ev WHERE ts = {m}"),
        ),
        q(
            "ts outside range",
            format!(
                "SELECT count(*), count(ts) FROM ev WHERE ts < {} OR ts >= {}",
                ts(a),
                ts(b)
            ),
            format!("SELECT count(*), count(ts) FROM ev WHERE ts < {a} OR ts >= {b}"),
        ),
        q(
            "before 1970",
            format!("SELECT id, ts FROM ev WHERE ts < {} ORDER BY ts, id", ts(0)),
            "SELECT id, ts FROM ev WHERE ts < 0 ORDER BY ts, id",
        ),
        same(
            "k in list",
            &format!("SELECT k, count(*), sum(v) FROM ev WHERE k IN ({in_list}) GROUP BY k ORDER BY k"),
        ),
        same(
            "k not in list",
            &format!("SELECT count(*), sum(v) FROM ev WHERE k NOT IN ({in_list})"),
        ),
        q(
            "k and day",
            format!(
                "SELECT count(*), sum(d) FROM ev WHERE k = {k} AND ts >= {} AND ts < {}",
                ts(a),
                ts(b)
            ),
            format!("SELECT count(*), sum(d) FROM ev WHERE k = {k} AND ts >= {a} AND ts < {b}"),
        ),
        same(
            "top v",
            "SELECT id, v, s FROM ev ORDER BY v DESC NULLS LAST, id LIMIT 17",
        ),
        same(
            "first s",
            "SELECT id, s, d FROM ev WHERE s IS NOT NULL ORDER BY s, id LIMIT 11",
        ),
        same("last ids", "SELECT id, k, ts FROM ev ORDER BY id DESC LIMIT 5"),
        same(
            "distinct",
            "SELECT count(DISTINCT k), count(DISTINCT s), count(DISTINCT dt), count(DISTINCT b), count(DISTINCT ts) FROM ev",
        ),
        q(
            "date group",
            format!(
                "SELECT dt, count(*), sum(k) FROM ev WHERE dt >= {} AND dt <= {} GROUP BY dt ORDER BY dt",
                date(d1),
                date(d2)
            ),
            format!("SELECT dt, count(*), sum(k) FROM ev WHERE dt >= {d1} AND dt <= {d2} GROUP BY dt ORDER BY dt"),
        ),
        same(
            "bool group",
            "SELECT b, count(*), avg(d), sum(v) FROM ev GROUP BY b ORDER BY b NULLS FIRST",
        ),
        same("nulls", "SELECT count(*) FROM ev WHERE ts IS NULL OR k IS NULL"),
        q(
            "text and ts",
            format!(
                "SELECT count(*), min(id) FROM ev WHERE s >= {} AND ts >= {}",
                sql_text(word),
                ts(a)
            ),
            format!(
                "SELECT count(*), min(id) FROM ev WHERE s >= {} AND ts >= {a}",
                sql_text(word)
            ),
        ),
        same(
            "join",
            "SELECT dim.name, count(*), sum(ev.v), sum(dim.w) FROM ev JOIN dim ON ev.k = dim.k \
             GROUP BY dim.name ORDER BY dim.name NULLS FIRST",
        ),
        same("dim totals", "SELECT count(*), sum(w), min(name), max(id) FROM dim"),
        same(
            "dim in list",
            &format!("SELECT id, k FROM dim WHERE k IN ({dim_in}) ORDER BY id DESC LIMIT 9"),
        ),
    ]
}

fn sqlite_rows(conn: &rusqlite::Connection, sql: &str) -> Vec<Row> {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("sqlite: {sql}: {e}"));
    let n = stmt.column_count();
    let mut out = Vec::new();
    let mut rs = stmt.query([]).unwrap_or_else(|e| panic!("sqlite: {sql}: {e}"));
    while let Some(r) = rs.next().unwrap_or_else(|e| panic!("sqlite: {sql}: {e}")) {
        let row = (0..n)
            .map(|i| match r.get_ref(i).expect("sqlite column") {
                rusqlite::types::ValueRef::Null => Cell::Null,
                rusqlite::types::ValueRef::Integer(v) => Cell::Int(v),
                rusqlite::types::ValueRef::Real(v) => Cell::Float(v),
                rusqlite::types::ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
                rusqlite::types::ValueRef::Blob(_) => panic!("sqlite: {sql}: unexpected blob"),
            })
            .collect();
        out.push(row);
    }
    out
}

fn render(row: &Row) -> String {
    row.iter().map(ToString::to_string).collect::<Vec<_>>().join(" | ")
}

/// `None` if equal, else a description of the first difference.
fn diff(ours: &[Row], reference: &[Row]) -> Option<String> {
    for (i, (a, b)) in ours.iter().zip(reference).enumerate() {
        if a.len() != b.len() || !a.iter().zip(b).all(|(x, y)| x.matches(y)) {
            return Some(format!(
                "row {i} differs (of {} vs {} rows)\n  thermocline: {}\n  sqlite:      {}",
                ours.len(),
                reference.len(),
                render(a),
                render(b)
            ));
        }
    }
    if ours.len() != reference.len() {
        let extra = if ours.len() > reference.len() {
            format!("first extra row in thermocline: {}", render(&ours[reference.len()]))
        } else {
            format!("first row missing from thermocline: {}", render(&reference[ours.len()]))
        };
        return Some(format!(
            "thermocline returned {} rows, sqlite {}; {extra}",
            ours.len(),
            reference.len()
        ));
    }
    None
}

struct Run {
    seed: u64,
    rng: StdRng,
    wh: Warehouse,
    session: Session,
    lite: rusqlite::Connection,
    next_id: i64,
    log: Vec<String>,
    /// Instants between steps and what `acct` held then (SQLite's answer),
    /// for time travel checks.
    past: Vec<(i64, Vec<Row>)>,
}

impl Run {
    async fn insert_ev(&mut self, n: usize) {
        let rows: Vec<EvRow> = (0..n).map(|i| gen_ev(&mut self.rng, self.next_id + i as i64)).collect();
        self.next_id += n as i64;
        let sql = ev_insert_sql(&rows);
        let out = self.session.execute(&sql).await;
        let out = out.unwrap_or_else(|e| panic!("seed {}: insert into ev: {e}", self.seed));
        assert_eq!(out[0].tag, format!("INSERT 0 {n}"), "seed {}: insert tag", self.seed);
        let tx = self.lite.transaction().expect("sqlite transaction");
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO ev VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                .expect("prepare");
            for r in &rows {
                stmt.execute(params![r.id, r.k, r.v, r.d, r.s, r.b, r.dt, r.ts])
                    .expect("sqlite insert");
            }
        }
        tx.commit().expect("sqlite commit");
        self.log
            .push(format!("insert ev {n} rows (ids {}..={})", rows[0].id, rows[n - 1].id));
    }

    async fn insert_dim(&mut self, n: usize) {
        let rows: Vec<DimRow> = (0..n)
            .map(|i| gen_dim(&mut self.rng, self.next_id + i as i64))
            .collect();
        self.next_id += n as i64;
        let out = self.session.execute(&dim_insert_sql(&rows)).await;
        out.unwrap_or_else(|e| panic!("seed {}: insert into dim: {e}", self.seed));
        let tx = self.lite.transaction().expect("sqlite transaction");
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO dim VALUES (?1, ?2, ?3, ?4)")
                .expect("prepare");
            for r in &rows {
                stmt.execute(params![r.id, r.k, r.name, r.w]).expect("sqlite insert");
            }
        }
        tx.commit().expect("sqlite commit");
        self.log.push(format!("insert dim {n} rows"));
    }

    /// One statement on both engines (the SQL is valid in both dialects).
    /// Returns whether thermocline accepted it; SQLite must agree.
    async fn both(&mut self, sql: &str) -> bool {
        let ours = self.session.execute(sql).await;
        let reference = self.lite.execute_batch(sql);
        self.log.push(format!(
            "{} -> {}",
            truncate(sql),
            if ours.is_ok() { "ok" } else { "error" }
        ));
        match (&ours, &reference) {
            (Ok(_), Ok(())) => true,
            (Err(a), Err(_)) => {
                self.log.push(format!("  (both refused: {a})"));
                false
            }
            (Ok(_), Err(e)) => panic!("seed {}: sqlite refused what we accepted: {sql}: {e}", self.seed),
            (Err(e), Ok(())) => panic!("seed {}: we refused what sqlite accepted: {sql}: {e}", self.seed),
        }
    }

    /// A random UPDATE, DELETE or upsert, sometimes several in one
    /// transaction that commits or rolls back.
    async fn mutate(&mut self) {
        let in_txn = self.rng.random_bool(0.25);
        if in_txn {
            self.both("BEGIN").await;
        }
        for _ in 0..if in_txn { self.rng.random_range(1..4) } else { 1 } {
            let sql = self.mutation_sql();
            self.both(&sql).await;
            if in_txn && self.rng.random_bool(0.2) {
                self.checkpoint().await;
            }
        }
        if in_txn {
            let end = if self.rng.random_bool(0.7) {
                "COMMIT"
            } else {
                "ROLLBACK"
            };
            self.both(end).await;
        }
    }

    fn mutation_sql(&mut self) -> String {
        let rng = &mut self.rng;
        let k = gen_k(rng);
        let m = rng.random_range(2..9);
        let r = rng.random_range(0..m);
        match rng.random_range(0..7) {
            0 => format!(
                "UPDATE ev SET v = v + {}, s = 'u{k}' WHERE k = {k}",
                rng.random_range(-5..50)
            ),
            1 => format!(
                "UPDATE ev SET d = NULL, b = NOT b WHERE id % {m} = {r} AND v > {}",
                rng.random_range(-100..100)
            ),
            2 => format!("DELETE FROM ev WHERE id % {} = {r}", m * 3),
            3 => format!("DELETE FROM ev WHERE k = {k} AND v < {}", rng.random_range(-50..50)),
            4 => {
                let n = rng.random_range(1..40);
                let mut ids: Vec<i64> = (0..n).map(|_| rng.random_range(1..200)).collect();
                ids.sort_unstable();
                ids.dedup();
                let values: Vec<String> = ids
                    .iter()
                    .map(|id| {
                        format!(
                            "({id}, {}, {}, 's{}')",
                            gen_k(rng),
                            rng.random_range(-9..99),
                            rng.random_range(0..5)
                        )
                    })
                    .collect();
                let action = if rng.random_bool(0.3) {
                    "DO NOTHING".to_string()
                } else {
                    "DO UPDATE SET v = acct.v + excluded.v, s = excluded.s".to_string()
                };
                format!(
                    "INSERT INTO acct VALUES {} ON CONFLICT (id) {action}",
                    values.join(", ")
                )
            }
            // `k < 1000000`: k is an int, and PostgreSQL (like us) refuses
            // an overflow that SQLite's 64-bit integers would accept.
            5 => format!(
                "UPDATE acct SET k = k + 1, s = s || '+' WHERE v > {} AND k < 1000000",
                rng.random_range(-9..99)
            ),
            _ => format!("DELETE FROM acct WHERE k = {k} OR id % {m} = {r}"),
        }
    }

    async fn checkpoint(&mut self) {
        let sql = *[
            "CHECKPOINT",
            "CHECKPOINT ev",
            "CHECKPOINT dim",
            "CHECKPOINT public.ev",
            "CHECKPOINT acct",
        ]
        .choose(&mut self.rng)
        .expect("non-empty");
        let out = self.session.execute(sql).await;
        let out = out.unwrap_or_else(|e| panic!("seed {}: {sql}: {e}", self.seed));
        let rows = rows(&out[0].batches);
        self.log.push(format!(
            "{sql} -> {}",
            rows.iter().map(render).collect::<Vec<_>>().join("; ")
        ));
    }

    /// Every query of the step, on both engines.
    async fn compare(&mut self, step: usize) -> Result<(), String> {
        for query in queries(&mut self.rng) {
            let ours = match self.session.query(&query.ours).await {
                Ok(batches) => rows(&batches),
                Err(e) => return Err(self.failure(step, &query, &format!("thermocline failed: {e}"))),
            };
            let reference = sqlite_rows(&self.lite, &query.sqlite);
            if let Some(d) = diff(&ours, &reference) {
                // The plan that gave the wrong answer, to start from.
                let plan = match self.session.query(&format!("EXPLAIN VERBOSE {}", query.ours)).await {
                    Ok(b) => {
                        arrow::util::pretty::pretty_format_batches(&b).map_or_else(|e| e.to_string(), |t| t.to_string())
                    }
                    Err(e) => format!("EXPLAIN failed: {e}"),
                };
                return Err(self.failure(step, &query, &format!("{d}\n{plan}")));
            }
        }
        Ok(())
    }

    fn failure(&self, step: usize, query: &Query, what: &str) -> String {
        let recent = self
            .log
            .iter()
            .rev()
            .take(12)
            .rev()
            .cloned()
            .collect::<Vec<_>>()
            .join("\n    ");
        format!(
            "differential mismatch: seed {seed} (replay with THERMOCLINE_SEED={seed}), step {step}, query \"{}\"\n\
             thermocline SQL: {}\nsqlite SQL: {}\n{what}\nlast steps:\n    {recent}",
            query.name,
            truncate(&query.ours),
            truncate(&query.sqlite),
            seed = self.seed,
        )
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(400) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

async fn run_seed(seed: u64, steps: usize) -> Result<String, String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = StdRng::seed_from_u64(seed);
    // Vary how and when compaction happens, and whether compacted rows stay
    // in SQLite as a cache (the cut must still read them exactly once).
    let compaction = if rng.random_bool(0.5) {
        CompactionMode::Inline
    } else {
        CompactionMode::Manual
    };
    let tiering = TieringConfig {
        flush_threshold: *[700, 2500, 1_000_000].choose(&mut rng).expect("non-empty"),
        flush_interval: Duration::from_secs(3600),
        hot_retention: if rng.random_bool(0.5) {
            Duration::ZERO
        } else {
            Duration::from_secs(300)
        },
        ..TieringConfig::default()
    };
    let with = match rng.random_range(0..3) {
        0 => "WITH (target_file_size = '20000') ",
        1 => "WITH (sort_by = 's') ",
        _ => "",
    };
    let setup = format!(
        "compaction={compaction:?} flush_threshold={} hot_retention={:?} options={with:?}",
        tiering.flush_threshold, tiering.hot_retention
    );
    let config = WarehouseConfig::new(dir.path())
        .with_compaction(compaction)
        .with_tiering(tiering)
        .with_durability(Durability::Normal)
        .with_target_partitions(2);
    let wh = Warehouse::open(config)
        .await
        .map_err(|e| format!("seed {seed}: open: {e}"))?;
    let session = wh.session();
    session
        .execute(&format!(
            "CREATE TABLE ev (id bigint NOT NULL, k int, v bigint, d double precision, s text, b boolean, \
             dt date, ts timestamptz) {with}PARTITION BY (day(ts), bucket(4, k)); \
             CREATE TABLE dim (id bigint NOT NULL, k int, name text, w double precision); \
             CREATE TABLE acct (id bigint PRIMARY KEY, k int, v bigint, s text) PARTITION BY (bucket(4, id))"
        ))
        .await
        .map_err(|e| format!("seed {seed}: create tables: {e}"))?;
    let lite = rusqlite::Connection::open_in_memory().expect("sqlite");
    lite.execute_batch(
        "CREATE TABLE ev (id INTEGER, k INTEGER, v INTEGER, d REAL, s TEXT, b INTEGER, dt INTEGER, ts INTEGER);
         CREATE TABLE dim (id INTEGER, k INTEGER, name TEXT, w REAL);
         CREATE TABLE acct (id INTEGER PRIMARY KEY, k INTEGER, v INTEGER, s TEXT);
         CREATE INDEX ev_k ON ev(k); CREATE INDEX dim_k ON dim(k);",
    )
    .expect("sqlite schema");
    let mut run = Run {
        seed,
        rng,
        wh,
        session,
        lite,
        next_id: 1,
        log: vec![setup.clone()],
        past: Vec::new(),
    };
    // Runs of steps with frequent CHECKPOINTs alternate with quiet runs.
    let mut checkpoint_p = 0.3;
    for step in 0..steps {
        if run.rng.random_bool(0.15) {
            checkpoint_p = *[0.0, 0.3, 0.7].choose(&mut run.rng).expect("non-empty");
        }
        // Mostly small batches, sometimes large ones.
        let n = if run.rng.random_bool(0.3) {
            run.rng.random_range(1..2000)
        } else {
            run.rng.random_range(1..60)
        };
        match run.rng.random_range(0..20) {
            0..=10 => run.insert_ev(n).await,
            11..=13 => run.insert_dim(n.min(300)).await,
            _ => run.mutate().await,
        }
        if run.rng.random_bool(checkpoint_p) {
            run.checkpoint().await;
            if run.rng.random_bool(0.2) {
                run.checkpoint().await;
            }
        }
        run.compare(step).await?;
        if run.rng.random_bool(0.3) {
            run.remember_now();
        }
        if run.rng.random_bool(0.2) {
            run.compare_past(step).await?;
        }
    }
    // Everything into Iceberg, then the same answers once more.
    run.session
        .execute("CHECKPOINT")
        .await
        .map_err(|e| format!("seed {seed}: final CHECKPOINT: {e}"))?;
    run.log.push("final CHECKPOINT".to_string());
    run.compare(steps).await?;
    run.compare_past(steps).await?;
    run.compare_replay(steps).await?;
    let hot = run
        .wh
        .hot()
        .stats(&thermocline::hot::TableName::new("public", "ev"))
        .map_err(|e| e.to_string())?;
    if hot.rows != 0 {
        return Err(format!(
            "seed {seed}: {} rows still hot after the final CHECKPOINT",
            hot.rows
        ));
    }
    Ok(format!("seed {seed}: {steps} steps, {} rows; {setup}", run.next_id - 1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thermocline_matches_sqlite() {
    let steps = common::env_usize("THERMOCLINE_DIFF_STEPS", 12);
    let seeds: Vec<u64> = match common::seed_from_env() {
        Some(seed) => vec![seed],
        None => {
            let base = common::clock_seed();
            (0..common::env_usize("THERMOCLINE_DIFF_SEEDS", 3) as u64)
                .map(|i| base.wrapping_add(i))
                .collect()
        }
    };
    for seed in seeds {
        let started = Instant::now();
        eprintln!("differential: seed {seed} (replay with THERMOCLINE_SEED={seed})");
        match run_seed(seed, steps).await {
            Ok(summary) => eprintln!("differential: {summary} in {:.1?}", started.elapsed()),
            Err(failure) => panic!("{failure}"),
        }
    }
}
