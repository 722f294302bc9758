//! Crash safety with a real SIGKILL.
//!
//! The test binary re-runs itself as a child (`crash_child`, selected by
//! `THERMOCLINE_CRASH_CHILD=<dir>`). The child inserts batches of rows with
//! unique ids and acknowledges each batch, after its INSERT returned, by
//! appending the id range to `acks` with an fsynced write; before each
//! INSERT it records the range in `attempts`. The parent kills it at a
//! random moment, opens the warehouse (recovery runs on open) and checks,
//! before and after compacting everything:
//! - no id appears twice;
//! - every acknowledged id is present;
//! - no id appears that was never attempted, and each INSERT is all or
//!   nothing;
//! - (full checks) the Iceberg snapshot names no data file twice, names no
//!   missing file, and its rows plus the hot rows are the table's.
//!
//! The child also UPDATEs and DELETEs ranges of earlier ids now and then
//! (DELETEs booked like INSERTs): an acknowledged DELETE's ids never come
//! back, an id no DELETE named never goes, and an UPDATE (delete of the old
//! version plus insert of the new) never leaves an id twice or not at all.
//!
//! One warehouse serves 50 trials ([`EPOCH`]), so state accumulates:
//! hundreds of commits, orphan files, a WAL left behind by a kill after a
//! commit, and (in about one trial in four, where the parent skips its
//! check) a crashed state that the next child has to recover, possibly being
//! killed while it does. Every tenth check is a full one, after maintenance
//! (expire snapshots, delete orphans); the others only read ids attempted
//! since the last full check, which pruning keeps cheap.
//!
//! Two variants: `inserts` (inline compaction every ~50 rows) and
//! `compaction` (a big hot tail and CHECKPOINT in a loop, so most kills land
//! inside compaction). The child writes its phase to a file (no fsync: a
//! SIGKILL keeps the page cache) so the parent can count where kills landed;
//! "insert+compact" is an INSERT that crosses the threshold, so the kill may
//! have landed in the insert or in the inline compaction that follows it.
//!
//! Knobs: `THERMOCLINE_CRASH_TRIALS` (trials per variant), `THERMOCLINE_SEED`.

mod common;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use thermocline::config::Durability;
use thermocline::write::{MaintenanceOptions, NoProgress};
use thermocline::{CompactionMode, TieringConfig, Warehouse, WarehouseConfig};

const CHILD_ENV: &str = "THERMOCLINE_CRASH_CHILD";
const MODE_ENV: &str = "THERMOCLINE_CRASH_MODE";
const SEED_ENV: &str = "THERMOCLINE_CRASH_CHILD_SEED";
const CHILD_TEST: &str = "crash_child";
/// Phase names are padded to this width so each write overwrites the last.
const PHASE_WIDTH: usize = 16;
const TABLE: &str = "t";
/// 2024-03-08 in µs: every row on that day, so each compaction writes two
/// files (one per bucket): enough for a multi-file commit, few enough to
/// keep hundreds of trials' worth of files quick to scan.
const BASE_TS: i64 = 19_790 * 86_400_000_000;

struct Book {
    warehouse: PathBuf,
    attempts: PathBuf,
    acks: PathBuf,
    /// DELETE ranges, attempted and acknowledged like inserts.
    delete_attempts: PathBuf,
    delete_acks: PathBuf,
    phase: PathBuf,
}

impl Book {
    fn new(base: &Path) -> Self {
        Self {
            warehouse: base.join("warehouse"),
            attempts: base.join("attempts"),
            acks: base.join("acks"),
            delete_attempts: base.join("delete_attempts"),
            delete_acks: base.join("delete_acks"),
            phase: base.join("phase"),
        }
    }
}

/// Complete `lo hi .` lines of a ranges file; a line cut short by a kill is
/// not a record (the write it announces never started or never finished).
fn read_ranges(path: &Path) -> Vec<(i64, i64)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.split_inclusive('\n')
        .filter(|line| line.ends_with(".\n"))
        .map(|line| {
            let mut parts = line.split_whitespace();
            let lo = parts.next().and_then(|p| p.parse().ok()).expect("lo");
            let hi = parts.next().and_then(|p| p.parse().ok()).expect("hi");
            (lo, hi)
        })
        .collect()
}

fn append_range(file: &mut File, lo: i64, hi: i64) {
    file.write_all(format!("{lo} {hi} .\n").as_bytes())
        .expect("append range");
    file.sync_data().expect("fsync range");
}

fn config(book: &Book, compaction: CompactionMode, flush_threshold: u64) -> WarehouseConfig {
    WarehouseConfig::new(&book.warehouse)
        .with_compaction(compaction)
        .with_tiering(TieringConfig {
            flush_threshold,
            flush_interval: Duration::from_secs(3600),
            hot_retention: Duration::ZERO,
            ..TieringConfig::default()
        })
        .with_durability(Durability::Full)
        .with_target_partitions(1)
}

fn insert_sql(lo: i64, hi: i64) -> String {
    // generate_series rather than a VALUES list: planning a long VALUES list
    // in a debug build would take most of the child's life.
    format!(
        "INSERT INTO {TABLE} SELECT value, to_timestamp_micros({BASE_TS} + value % 86400000000), \
         concat('row ', value) FROM generate_series({lo}, {hi})"
    )
}

/// What the child keeps between statements.
struct ChildBooks {
    attempts: File,
    acks: File,
    delete_attempts: File,
    delete_acks: File,
    phase: File,
    next: i64,
    threshold: u64,
}

impl ChildBooks {
    /// Overwrite the phase in place: no truncation, so no metadata update
    /// that could wait behind SQLite's fsyncs, and never an empty file.
    fn phase(&self, p: &str) {
        use std::os::unix::fs::FileExt;
        let padded = format!("{p:<PHASE_WIDTH$}");
        self.phase.write_all_at(padded.as_bytes(), 0).expect("phase file");
    }

    /// Attempt, insert and acknowledge `n` rows with fresh ids.
    async fn insert(&mut self, n: i64, wh: &Warehouse, session: &thermocline::Session) {
        let (lo, hi) = (self.next, self.next + n - 1);
        self.next = hi + 1;
        append_range(&mut self.attempts, lo, hi);
        let table = thermocline::hot::TableName::new("public", TABLE);
        let hot = wh.hot().stats(&table).expect("child: hot stats").rows;
        self.phase(if hot + n as u64 >= self.threshold {
            "insert+compact"
        } else {
            "insert"
        });
        let out = session
            .execute(&insert_sql(lo, hi))
            .await
            .unwrap_or_else(|e| panic!("child: insert {lo}..={hi}: {e}"));
        assert_eq!(out[0].tag, format!("INSERT 0 {n}"));
        self.phase("ack");
        append_range(&mut self.acks, lo, hi);
        self.phase("idle");
    }

    /// Rewrite some existing rows in place (an UPDATE is a delete of the
    /// old version plus an insert of the new one, so a lost or doubled
    /// half shows up as a missing or duplicated id), then delete a range,
    /// attempted and acknowledged like inserts.
    async fn update_and_delete(&mut self, rng: &mut StdRng, session: &thermocline::Session) {
        if self.next <= 1 {
            return;
        }
        let lo = rng.random_range(1..self.next);
        let hi = (lo + rng.random_range(0..30)).min(self.next - 1);
        self.phase("update");
        session
            .execute(&format!(
                "UPDATE {TABLE} SET pad = concat(pad, '+') WHERE id BETWEEN {lo} AND {hi}"
            ))
            .await
            .unwrap_or_else(|e| panic!("child: update {lo}..={hi}: {e}"));
        let lo = rng.random_range(1..self.next);
        let hi = (lo + rng.random_range(0..10)).min(self.next - 1);
        append_range(&mut self.delete_attempts, lo, hi);
        self.phase("delete");
        session
            .execute(&format!("DELETE FROM {TABLE} WHERE id BETWEEN {lo} AND {hi}"))
            .await
            .unwrap_or_else(|e| panic!("child: delete {lo}..={hi}: {e}"));
        self.phase("ack");
        append_range(&mut self.delete_acks, lo, hi);
        self.phase("idle");
    }
}

/// The child: insert and compact until killed.
#[test]
#[ignore = "child process of the crash tests; the parent runs it with THERMOCLINE_CRASH_CHILD set"]
fn crash_child() {
    let Ok(base) = std::env::var(CHILD_ENV) else {
        return;
    };
    let book = Book::new(Path::new(&base));
    let mode = std::env::var(MODE_ENV).expect("crash mode");
    let seed: u64 = std::env::var(SEED_ENV)
        .expect("child seed")
        .parse()
        .expect("child seed");
    let mut rng = StdRng::seed_from_u64(seed);
    let compaction_mode = mode == "compaction";
    let mut books = ChildBooks {
        attempts: OpenOptions::new()
            .create(true)
            .append(true)
            .open(&book.attempts)
            .expect("attempts"),
        acks: OpenOptions::new()
            .create(true)
            .append(true)
            .open(&book.acks)
            .expect("acks"),
        delete_attempts: OpenOptions::new()
            .create(true)
            .append(true)
            .open(&book.delete_attempts)
            .expect("delete attempts"),
        delete_acks: OpenOptions::new()
            .create(true)
            .append(true)
            .open(&book.delete_acks)
            .expect("delete acks"),
        phase: OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&book.phase)
            .expect("phase"),
        next: read_ranges(&book.attempts).iter().map(|r| r.1).max().unwrap_or(0) + 1,
        threshold: if compaction_mode { u64::MAX / 2 } else { 50 },
    };
    let table = thermocline::hot::TableName::new("public", TABLE);

    common::runtime().block_on(async {
        books.phase("open");
        let wh = Warehouse::open(config(&book, CompactionMode::Inline, books.threshold))
            .await
            .expect("child: open");
        let session = wh.session();
        books.phase("idle");
        if compaction_mode && wh.hot().stats(&table).expect("child: hot stats").rows < 500 {
            // A big hot tail, so the CHECKPOINT below takes a while.
            books.insert(rng.random_range(800..1500), &wh, &session).await;
        }
        loop {
            if compaction_mode || rng.random_bool(0.1) {
                books.phase("checkpoint");
                session.execute("CHECKPOINT").await.expect("child: CHECKPOINT");
                books.phase("idle");
            }
            // The compaction variant keeps each CHECKPOINT busy with a few
            // hundred rows (cheap to insert with generate_series).
            let n = if compaction_mode {
                rng.random_range(50..400)
            } else {
                rng.random_range(1..=40)
            };
            books.insert(n, &wh, &session).await;
            if rng.random_bool(if compaction_mode { 0.5 } else { 0.15 }) {
                books.update_and_delete(&mut rng, &session).await;
            }
        }
    });
}

fn spawn_child(book_base: &Path, mode: &str, seed: u64, trial: usize) -> Child {
    let log = File::create(book_base.join(format!("child-{trial}.log"))).expect("child log");
    let err = log.try_clone().expect("child log");
    common::child_command(CHILD_TEST)
        .env(CHILD_ENV, book_base)
        .env(MODE_ENV, mode)
        .env(SEED_ENV, seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("spawn the child test binary")
}

/// Check the exactly-once rule against the books for ids `from..`; returns
/// how many rows have such ids. With `from == 1` this is a full check and
/// also walks the snapshot's manifests.
///
/// Scoped checks keep the trials quick: the table grows to hundreds of
/// files, a debug build pays per file read, and ids only grow, so
/// `id >= from` lets column-metrics pruning skip every file written before
/// the last full check. Rows of older ids can only change through a bug
/// that the next full check (every few trials) catches.
async fn check(wh: &Warehouse, book: &Book, context: &str, from: i64) -> usize {
    let session = wh.session();
    let ids = common::query_i64s(
        &session,
        &format!("SELECT id FROM {TABLE} WHERE id >= {from} ORDER BY id"),
    )
    .await;
    let doubled: Vec<i64> = ids.windows(2).filter(|w| w[0] == w[1]).map(|w| w[0]).take(20).collect();
    assert!(doubled.is_empty(), "{context}: ids present more than once: {doubled:?}");
    let attempts: Vec<(i64, i64)> = read_ranges(&book.attempts)
        .into_iter()
        .filter(|r| r.0 >= from)
        .collect();
    let acks: Vec<(i64, i64)> = read_ranges(&book.acks).into_iter().filter(|r| r.0 >= from).collect();
    // Ids a DELETE may have removed (attempted), and must have (acknowledged).
    let delete_attempts = read_ranges(&book.delete_attempts);
    let delete_acks = read_ranges(&book.delete_acks);
    let maybe_deleted = |id: i64| delete_attempts.iter().any(|&(lo, hi)| lo <= id && id <= hi);
    let is_present = |id: i64| ids.binary_search(&id).is_ok();
    for &(lo, hi) in &delete_acks {
        if let Some(id) = (lo.max(from)..=hi).find(|id| is_present(*id)) {
            panic!("{context}: id {id} is back although DELETE {lo}..={hi} was acknowledged");
        }
    }
    let present = |lo: i64, hi: i64| -> usize {
        let start = ids.partition_point(|&id| id < lo);
        let end = ids.partition_point(|&id| id <= hi);
        end - start
    };
    for &(lo, hi) in &acks {
        if let Some(id) = (lo..=hi).find(|id| !maybe_deleted(*id) && !is_present(*id)) {
            panic!("{context}: acknowledged id {id} (INSERT {lo}..={hi}) is missing and no DELETE named it");
        }
    }
    let mut attempted = 0usize;
    for &(lo, hi) in &attempts {
        attempted += present(lo, hi);
        // All or nothing, among the ids no DELETE touched.
        let kept: Vec<bool> = (lo..=hi).filter(|id| !maybe_deleted(*id)).map(is_present).collect();
        assert!(
            kept.iter().all(|p| *p) || kept.iter().all(|p| !*p),
            "{context}: INSERT of ids {lo}..={hi} is partly there: not atomic"
        );
    }
    assert_eq!(
        attempted,
        ids.len(),
        "{context}: {} ids present that no INSERT attempted (e.g. {:?})",
        ids.len() - attempted,
        ids.iter()
            .find(|&&id| !attempts.iter().any(|&(lo, hi)| lo <= id && id <= hi))
    );
    if from <= 1 {
        let files = common::live_files(wh, "public", TABLE).await;
        assert!(
            files.duplicates().is_empty(),
            "{context}: data files committed twice: {:?}",
            files.duplicates()
        );
        for path in files.by_path.keys() {
            assert!(
                common::local_path(path).exists(),
                "{context}: snapshot names a missing data file {path}"
            );
        }
        // Delete events reach the change log exactly once too (it is written
        // before the data commit that a crash may interrupt): no version is
        // logged as deleted twice.
        match session
            .query(&format!(
                "SELECT _row_shard, _row_lsn FROM \"{TABLE}$changes\" GROUP BY _row_shard, _row_lsn HAVING count(*) > 1"
            ))
            .await
        {
            Ok(batches) => {
                let doubled: usize = batches.iter().map(|b| b.num_rows()).sum();
                assert_eq!(doubled, 0, "{context}: delete events logged more than once");
            }
            // No compaction has logged a delete yet.
            Err(e) if e.kind() == thermocline::ErrorKind::NotFound => {}
            Err(e) => panic!("{context}: cannot read the change log: {e}"),
        }
        let hot = wh
            .hot()
            .stats(&thermocline::hot::TableName::new("public", TABLE))
            .expect("hot stats");
        // Only comparable when every delete is written out: a hot DELETE
        // entry's rows hide cold rows rather than add to them.
        assert!(
            if hot.rows == 0 {
                files.records == ids.len() as u64
            } else {
                files.records + hot.rows >= ids.len() as u64
            },
            "{context}: Iceberg holds {} rows and the hot tier {} above the watermark, but the table reads {}",
            files.records,
            hot.rows,
            ids.len()
        );
    }
    ids.len()
}

#[derive(Default)]
struct Tally {
    trials: usize,
    phases: BTreeMap<String, usize>,
    checked: usize,
    orphans_deleted: usize,
    snapshots_expired: usize,
    acked: i64,
}

/// Trials per warehouse. Every commit adds a manifest that each later scan
/// plans over, so a warehouse that lived through all trials would make the
/// last checks several times slower than the first; 50 trials still pile
/// up a few hundred commits, orphans and recoveries.
const EPOCH: usize = 50;

/// A fresh warehouse with the table, and empty books.
fn new_epoch(rt: &tokio::runtime::Runtime) -> (tempfile::TempDir, Book) {
    let dir = tempfile::tempdir().expect("tempdir");
    let book = Book::new(dir.path());
    rt.block_on(async {
        let wh = Warehouse::open(config(&book, CompactionMode::Manual, 50))
            .await
            .expect("open");
        wh.session()
            .execute(&format!(
                "CREATE TABLE {TABLE} (id bigint NOT NULL, ts timestamptz, pad text) \
                 PARTITION BY (day(ts), bucket(2, id))"
            ))
            .await
            .expect("create table");
    });
    (dir, book)
}

fn run_trials(mode: &str, default_trials: usize) {
    let trials = common::env_usize("THERMOCLINE_CRASH_TRIALS", default_trials);
    let seed = common::seed_from_env().unwrap_or_else(common::clock_seed);
    eprintln!("crash ({mode}): {trials} trials, seed {seed} (replay with THERMOCLINE_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let rt = common::runtime();
    let (mut dir, mut book) = new_epoch(&rt);
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut scope_from = 1i64;
    for trial in 0..trials {
        if trial > 0 && trial % EPOCH == 0 {
            eprintln!("crash ({mode}): {trial} trials in {:.1?}", started.elapsed());
            tally.acked += read_ranges(&book.acks).iter().map(|r| r.1 - r.0 + 1).sum::<i64>();
            (dir, book) = new_epoch(&rt);
            scope_from = 1;
        }
        let context = format!("crash ({mode}) seed {seed} trial {trial}");
        let child_seed: u64 = rng.random();
        let delay = Duration::from_millis(rng.random_range(5..300));
        let mut child = spawn_child(dir.path(), mode, child_seed, trial);
        std::thread::sleep(delay);
        if let Some(status) = child.try_wait().expect("child status") {
            let log = std::fs::read_to_string(dir.path().join(format!("child-{trial}.log"))).unwrap_or_default();
            panic!("{context}: the child exited by itself ({status}) instead of being killed:\n{log}");
        }
        child.kill().expect("SIGKILL the child");
        child.wait().expect("reap the child");
        let _ = std::fs::remove_file(dir.path().join(format!("child-{trial}.log")));
        let phase = std::fs::read_to_string(&book.phase)
            .map(|p| p.trim().to_string())
            .unwrap_or_default();
        std::fs::write(&book.phase, format!("{:<PHASE_WIDTH$}", "start")).expect("reset the phase file");
        *tally.phases.entry(phase.clone()).or_default() += 1;
        tally.trials += 1;
        // One trial in four leaves the crashed state to the next child; the
        // last trial of a warehouse is always checked, fully.
        let last = trial + 1 == trials || (trial + 1) % EPOCH == 0;
        if !last && rng.random_bool(0.25) {
            continue;
        }
        tally.checked += 1;
        let context = format!("{context} (killed in phase {phase})");
        // Every tenth check is a full one, after expiring snapshots and
        // deleting orphans; the others look at ids attempted since the last
        // full one.
        let full = last || tally.checked % 10 == 0;
        let from = scope_from;
        if full {
            scope_from = read_ranges(&book.attempts).iter().map(|r| r.1).max().unwrap_or(0) + 1;
        }
        rt.block_on(async {
            let wh = Warehouse::open(config(&book, CompactionMode::Manual, 50))
                .await
                .unwrap_or_else(|e| panic!("{context}: reopen after the kill: {e}"));
            let before = check(&wh, &book, &format!("{context}, after reopening"), from).await;
            wh.compact(None, &NoProgress)
                .await
                .unwrap_or_else(|e| panic!("{context}: compact: {e}"));
            let after = check(&wh, &book, &format!("{context}, after compacting"), from).await;
            assert_eq!(before, after, "{context}: compaction changed the row count");
            if full {
                // Expire every old snapshot too: maintenance walks the
                // manifests of each snapshot it keeps.
                let reports = wh
                    .maintain(&MaintenanceOptions {
                        snapshot_retention: Duration::ZERO,
                        orphan_retention: Duration::ZERO,
                        dry_run: false,
                    })
                    .await
                    .unwrap_or_else(|e| panic!("{context}: maintain: {e}"));
                tally.orphans_deleted += reports.iter().map(|r| r.orphans_deleted.len()).sum::<usize>();
                tally.snapshots_expired += reports.iter().map(|r| r.snapshots_expired).sum::<usize>();
                let all = check(&wh, &book, &format!("{context}, after maintenance (full check)"), 1).await;
                assert!(
                    all >= after,
                    "{context}: the full check found fewer rows than the scoped one"
                );
            }
        });
    }
    tally.acked += read_ranges(&book.acks).iter().map(|r| r.1 - r.0 + 1).sum::<i64>();
    let in_compaction: usize = ["checkpoint", "insert+compact"]
        .iter()
        .filter_map(|p| tally.phases.get(*p))
        .sum();
    eprintln!(
        "crash ({mode}): {} trials in {:.1?}, {} rows acknowledged; {} checked by the parent; kills by phase {:?}; \
         {in_compaction} inside (or announcing) compaction; {} orphan files deleted, {} snapshots expired",
        tally.trials,
        started.elapsed(),
        tally.acked,
        tally.checked,
        tally.phases,
        tally.orphans_deleted,
        tally.snapshots_expired,
    );
    assert!(tally.trials >= trials);
    // Children that never got going (a harness filter gone wrong) would make
    // every check pass vacuously.
    if trials >= 5 {
        assert!(tally.acked > 0, "crash ({mode}): no child ever acknowledged a row");
    }
    if mode == "compaction" && trials >= 20 {
        assert!(
            in_compaction > 0,
            "crash (compaction): no kill landed inside compaction: {:?}",
            tally.phases
        );
    }
}

#[test]
fn crash_during_inserts_and_inline_compaction() {
    run_trials("inserts", 200);
}

#[test]
fn crash_during_compaction() {
    run_trials("compaction", 100);
}
