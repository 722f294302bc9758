//! Compactors racing on one table.
//!
//! (a) two `Warehouse` handles on the same folder and shard (separate SQLite
//!     connections, separate compaction locks) compact concurrently, with
//!     inserts and readers running at the same time;
//! (b) two child processes (this binary re-run as `race_child`) compact the
//!     same warehouse and shard while the parent inserts;
//! (c) shards "a" and "b" compact into the same table concurrently.
//!
//! After each round: every row exactly once (count and ids), the current
//! snapshot names no data file twice and holds exactly the compacted rows,
//! and every reader during the round saw no duplicate. (a) also asserts the
//! race really happened: some compactor reported `superseded`.
//!
//! Knob: `THERMOCLINE_SEED`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use thermocline::config::Durability;
use thermocline::hot::TableName;
use thermocline::write::{CompactionReport, NoProgress};
use thermocline::{CompactionMode, Session, TieringConfig, Warehouse, WarehouseConfig};

const CHILD_ENV: &str = "THERMOCLINE_RACE_CHILD";
const CHILD_TEST: &str = "race_child";
const STOP_FILE: &str = "stop-compactors";

fn config(root: &Path, shard: &str) -> WarehouseConfig {
    WarehouseConfig::new(root)
        .with_shard(shard)
        .with_compaction(CompactionMode::Manual)
        .with_tiering(TieringConfig {
            hot_retention: Duration::ZERO,
            ..TieringConfig::default()
        })
        .with_durability(Durability::Normal)
        .with_target_partitions(2)
}

fn table() -> TableName {
    TableName::new("public", "t")
}

async fn create_table(wh: &Warehouse) {
    wh.session()
        .execute("CREATE TABLE t (id bigint NOT NULL, k int, pad text) PARTITION BY (bucket(4, id))")
        .await
        .expect("create table");
}

async fn insert(session: &Session, lo: i64, hi: i64) {
    let values: Vec<String> = (lo..=hi).map(|id| format!("({id}, {}, 'p{id}')", id % 7)).collect();
    let sql = format!("INSERT INTO t VALUES {}", values.join(", "));
    let out = session
        .execute(&sql)
        .await
        .unwrap_or_else(|e| panic!("insert {lo}..={hi}: {e}"));
    assert_eq!(out[0].tag, format!("INSERT 0 {}", hi - lo + 1));
}

/// Every id of `expected` exactly once, through `wh`'s cut; the snapshot
/// references each data file once, and its rows plus this shard's hot rows
/// are the table (call when no other shard has hot rows).
async fn check_exactly_once(wh: &Warehouse, expected: &BTreeSet<i64>, context: &str) {
    let session = wh.session();
    let ids = common::query_i64s(&session, "SELECT id FROM t ORDER BY id").await;
    let distinct: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "{context}: {} rows read twice",
        ids.len() - distinct.len()
    );
    let lost: Vec<_> = expected.difference(&distinct).take(10).collect();
    assert!(lost.is_empty(), "{context}: rows lost (ids {lost:?}...)");
    let extra: Vec<_> = distinct.difference(expected).take(10).collect();
    assert!(extra.is_empty(), "{context}: rows never inserted (ids {extra:?}...)");
    let files = common::live_files(wh, "public", "t").await;
    assert!(
        files.duplicates().is_empty(),
        "{context}: data files committed twice: {:?}",
        files.duplicates()
    );
    assert_eq!(
        files.entries,
        files.by_path.len(),
        "{context}: live manifest entries vs distinct files"
    );
    for path in files.by_path.keys() {
        assert!(
            common::local_path(path).exists(),
            "{context}: snapshot names a missing data file {path}"
        );
    }
    let hot = wh.hot().stats(&table()).expect("hot stats");
    assert_eq!(
        files.records + hot.rows,
        ids.len() as u64,
        "{context}: Iceberg holds {} rows and this shard's hot tier {}, but the table reads {}",
        files.records,
        hot.rows,
        ids.len()
    );
}

/// Reads the table in a loop until `stop`, asserting that no cut ever shows
/// a row twice and that rows never go missing (the count never drops below
/// `floor`, the rows acknowledged before the readers started).
async fn reader(wh: Warehouse, stop: Arc<AtomicBool>, floor: usize, context: String) -> usize {
    let session = wh.session();
    let mut reads = 0;
    while !stop.load(Ordering::Relaxed) || reads == 0 {
        let counts = common::query_i64s(&session, "SELECT count(*) - count(DISTINCT id) FROM t").await;
        assert_eq!(counts, vec![0], "{context}: a concurrent read saw duplicate rows");
        let n = common::query_i64s(&session, "SELECT count(*) FROM t").await[0];
        assert!(
            n as usize >= floor,
            "{context}: a concurrent read saw {n} rows, fewer than the {floor} acknowledged"
        );
        reads += 1;
    }
    reads
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_compactors_one_shard_threads() {
    let seed = common::seed_from_env().unwrap_or_else(common::clock_seed);
    eprintln!("race (threads): seed {seed} (replay with THERMOCLINE_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let a = Warehouse::open(config(dir.path(), "local")).await.expect("open a");
    create_table(&a).await;
    let b = Warehouse::open(config(dir.path(), "local")).await.expect("open b");
    let t = table();
    let mut expected = BTreeSet::new();
    let mut next = 1i64;
    let (mut superseded, mut committed, mut rounds, mut reads) = (0usize, 0usize, 0usize, 0usize);
    let started = Instant::now();
    // Loop until the race has happened (bounded), and at least a few rounds.
    while rounds < 20 || (superseded == 0 && rounds < 150) {
        let context = format!("race (threads) seed {seed} round {rounds}");
        let n = rng.random_range(50..600);
        let session = if rng.random_bool(0.5) { a.session() } else { b.session() };
        insert(&session, next, next + n - 1).await;
        expected.extend(next..next + n);
        next += n;

        let stop = Arc::new(AtomicBool::new(false));
        let readers = tokio::spawn(reader(a.clone(), stop.clone(), expected.len(), context.clone()));
        let (a2, b2, t1, t2) = (a.clone(), b.clone(), t.clone(), t.clone());
        let ca = tokio::spawn(async move { a2.compact(Some(&t1), &NoProgress).await });
        let cb = tokio::spawn(async move { b2.compact(Some(&t2), &NoProgress).await });
        // More inserts while both compact.
        let extra = rng.random_range(1..40);
        insert(&b.session(), next, next + extra - 1).await;
        expected.extend(next..next + extra);
        next += extra;
        let mut reports: Vec<CompactionReport> = Vec::new();
        for handle in [ca, cb] {
            let result = handle.await.expect("compaction task");
            reports.extend(result.unwrap_or_else(|e| panic!("{context}: compact: {e}")));
        }
        stop.store(true, Ordering::Relaxed);
        reads += readers.await.expect("reader task");
        superseded += reports.iter().filter(|r| r.superseded).count();
        committed += reports.iter().filter(|r| r.snapshot_id.is_some()).count();
        let (_, watermarks) = table_state(&a).await;
        let local = a.hot().stats(&t).expect("hot stats").local_watermark;
        assert_eq!(
            watermarks.get("local").copied().unwrap_or(0),
            local,
            "{context}: the snapshot's watermark and the hot tier's local watermark disagree after both compactors finished"
        );
        check_exactly_once(&a, &expected, &format!("{context}, read through handle a")).await;
        check_exactly_once(&b, &expected, &format!("{context}, read through handle b")).await;
        rounds += 1;
    }
    // Everything compacted: Iceberg alone holds every row, once.
    a.compact(Some(&t), &NoProgress).await.expect("final compaction");
    check_exactly_once(&a, &expected, &format!("race (threads) seed {seed} final")).await;
    let files = common::live_files(&a, "public", "t").await;
    assert_eq!(
        files.records,
        expected.len() as u64,
        "Iceberg row count after compacting everything"
    );
    eprintln!(
        "race (threads): {rounds} rounds in {:.1?}, {} rows, {committed} commits, {superseded} superseded, {reads} concurrent reads",
        started.elapsed(),
        expected.len()
    );
    assert!(
        superseded > 0,
        "race (threads) seed {seed}: in {rounds} rounds no compactor was ever superseded: the race never happened"
    );
}

/// The child: compact until the parent creates the stop file.
#[test]
#[ignore = "child process of the race tests; the parent runs it with THERMOCLINE_RACE_CHILD set"]
fn race_child() {
    let Ok(root) = std::env::var(CHILD_ENV) else {
        return;
    };
    let root = Path::new(&root).to_path_buf();
    common::runtime().block_on(async {
        let wh = Warehouse::open(config(&root, "local")).await.expect("child: open");
        let (mut rounds, mut committed, mut superseded) = (0usize, 0usize, 0usize);
        let t = table();
        loop {
            // Read the stop file first so one last compaction follows it.
            let stop = root.join(STOP_FILE).exists();
            let reports = wh
                .compact(Some(&t), &NoProgress)
                .await
                .unwrap_or_else(|e| panic!("child: compact: {e}"));
            rounds += 1;
            committed += reports.iter().filter(|r| r.snapshot_id.is_some()).count();
            superseded += reports.iter().filter(|r| r.superseded).count();
            if stop {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        println!("RACE_CHILD rounds={rounds} committed={committed} superseded={superseded}");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_compactors_one_shard_processes() {
    let seed = common::seed_from_env().unwrap_or_else(common::clock_seed);
    eprintln!("race (processes): seed {seed} (replay with THERMOCLINE_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = Warehouse::open(config(dir.path(), "local")).await.expect("open");
    create_table(&wh).await;
    let session = wh.session();
    let mut expected = BTreeSet::new();
    let mut next = 1i64;
    let children: Vec<_> = (0..2)
        .map(|_| {
            common::child_command(CHILD_TEST)
                .env(CHILD_ENV, dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn a compactor process")
        })
        .collect();
    let started = Instant::now();
    let mut batches = 0;
    // Insert for a while; the children compact whatever is hot.
    while started.elapsed() < Duration::from_secs(4) || batches < 20 {
        let n = rng.random_range(1..300);
        insert(&session, next, next + n - 1).await;
        expected.extend(next..next + n);
        next += n;
        batches += 1;
        let ids = common::query_i64s(&session, "SELECT count(*) - count(DISTINCT id) FROM t").await;
        assert_eq!(
            ids,
            vec![0],
            "race (processes) seed {seed}: a read during compaction saw duplicates"
        );
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..20))).await;
    }
    std::fs::write(dir.path().join(STOP_FILE), b"stop").expect("stop file");
    let mut summary = Vec::new();
    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .expect("join")
            .expect("wait");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "race (processes) seed {seed}: a compactor process failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find(|l| l.starts_with("RACE_CHILD"))
            .unwrap_or_else(|| panic!("race (processes) seed {seed}: a compactor never ran:\n{stdout}"));
        summary.push(line.trim_start_matches("RACE_CHILD ").to_string());
    }
    // Read through a fresh handle too: recovery on open must not change the answer.
    check_exactly_once(&wh, &expected, &format!("race (processes) seed {seed}")).await;
    let fresh = Warehouse::open(config(dir.path(), "local")).await.expect("reopen");
    check_exactly_once(&fresh, &expected, &format!("race (processes) seed {seed}, reopened")).await;
    fresh.compact(None, &NoProgress).await.expect("final compaction");
    check_exactly_once(&fresh, &expected, &format!("race (processes) seed {seed}, compacted")).await;
    let files = common::live_files(&fresh, "public", "t").await;
    assert_eq!(
        files.records,
        expected.len() as u64,
        "Iceberg row count after compacting everything"
    );
    eprintln!(
        "race (processes): {batches} insert batches, {} rows in {:.1?}; compactors: {}",
        expected.len(),
        started.elapsed(),
        summary.join("; ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_shards_compact_into_one_table() {
    let seed = common::seed_from_env().unwrap_or_else(common::clock_seed);
    eprintln!("race (shards): seed {seed} (replay with THERMOCLINE_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let a = Warehouse::open(config(dir.path(), "a")).await.expect("open shard a");
    create_table(&a).await;
    let b = Warehouse::open(config(dir.path(), "b")).await.expect("open shard b");
    let t = table();
    let mut expected = BTreeSet::new();
    // Shard a writes ids from 1, shard b from 1_000_000_000.
    let (mut next_a, mut next_b) = (1i64, 1_000_000_000i64);
    let (mut last_wa, mut last_wb) = (0i64, 0i64);
    let started = Instant::now();
    let rounds = 25;
    for round in 0..rounds {
        let context = format!("race (shards) seed {seed} round {round}");
        let (na, nb) = (rng.random_range(1..400), rng.random_range(1..400));
        let (sa, sb) = (a.session(), b.session());
        tokio::join!(
            insert(&sa, next_a, next_a + na - 1),
            insert(&sb, next_b, next_b + nb - 1)
        );
        expected.extend(next_a..next_a + na);
        expected.extend(next_b..next_b + nb);
        next_a += na;
        next_b += nb;
        let (snapshots_before, _) = table_state(&a).await;
        let (a2, b2, t1, t2) = (a.clone(), b.clone(), t.clone(), t.clone());
        let ca = tokio::spawn(async move { a2.compact(Some(&t1), &NoProgress).await });
        let cb = tokio::spawn(async move { b2.compact(Some(&t2), &NoProgress).await });
        let ra = ca
            .await
            .expect("task")
            .unwrap_or_else(|e| panic!("{context}: compact shard a: {e}"));
        let rb = cb
            .await
            .expect("task")
            .unwrap_or_else(|e| panic!("{context}: compact shard b: {e}"));
        for (shard, reports, last) in [("a", &ra, &mut last_wa), ("b", &rb, &mut last_wb)] {
            assert_eq!(
                reports.len(),
                1,
                "{context}: shard {shard} compacted {} tables",
                reports.len()
            );
            let r = &reports[0];
            assert!(
                !r.superseded,
                "{context}: shard {shard} was superseded by the other shard"
            );
            assert!(
                r.snapshot_id.is_some(),
                "{context}: shard {shard} committed nothing: {r:?}"
            );
            assert!(
                r.watermark > *last,
                "{context}: shard {shard} watermark did not advance: {r:?}"
            );
            *last = r.watermark;
        }
        let (snapshots, watermarks) = table_state(&a).await;
        assert_eq!(
            snapshots,
            snapshots_before + 2,
            "{context}: both shards must each add one snapshot"
        );
        // Each commit carries the other shard's watermark forward: neither
        // may be lost or rolled back by the other's retry.
        let want: std::collections::BTreeMap<String, i64> =
            [("a".to_string(), last_wa), ("b".to_string(), last_wb)].into();
        assert_eq!(watermarks, want, "{context}: watermarks in the current snapshot");
        for (shard, wh, w) in [("a", &a, last_wa), ("b", &b, last_wb)] {
            let stats = wh.hot().stats(&t).expect("hot stats");
            assert_eq!(stats.local_watermark, w, "{context}: shard {shard} local watermark");
            assert_eq!(stats.rows, 0, "{context}: shard {shard} still has hot rows");
            check_exactly_once(wh, &expected, &format!("{context}, read through shard {shard}")).await;
        }
        let files = common::live_files(&a, "public", "t").await;
        assert_eq!(files.records, expected.len() as u64, "{context}: Iceberg row count");
    }
    eprintln!(
        "race (shards): {rounds} rounds, {} rows in {:.1?}; watermarks a={last_wa} b={last_wb}",
        expected.len(),
        started.elapsed()
    );
}

/// How many snapshots the table has, and the watermarks its current one carries.
async fn table_state(wh: &Warehouse) -> (usize, std::collections::BTreeMap<String, i64>) {
    let ident = iceberg::TableIdent::from_strs(["public", "t"]).expect("ident");
    let table = wh.catalog().load_table(&ident).await.expect("load table");
    let metadata = table.metadata();
    // Merges of small files (operation `replace`) move rows between files,
    // not into the table: only compactions count.
    let compactions = metadata
        .snapshots()
        .filter(|s| s.summary().operation != iceberg::spec::Operation::Replace)
        .count();
    (compactions, thermocline_catalog::watermarks(metadata, None))
}
