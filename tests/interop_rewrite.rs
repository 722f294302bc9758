//! Interop after a copy-on-write delete: pyiceberg and DuckDB read exactly
//! the rows left once `rewrite_without` and a `WatermarkCommit` removed the
//! rewritten files (plain data files; no Iceberg delete files involved), and
//! pyiceberg still time-travels to the snapshot before it.
//!
//! The peers run as tests/interop/read_rows.py under `THERMOCLINE_PYTHON`,
//! exactly like tests/interop.rs: without it the tests skip with a message,
//! except under CI (`CI` set), where a missing peer is a failure.

mod cow;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A peer script that runs longer than this is killed and the test fails.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// The interpreter with the pinned peers, or `None` (after saying so) when
/// the test should skip.
fn python(test: &str) -> Option<PathBuf> {
    match std::env::var_os("THERMOCLINE_PYTHON").filter(|p| !p.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.exists(),
                "THERMOCLINE_PYTHON={} does not exist: run scripts/setup.sh (it builds .venv)",
                path.display()
            );
            Some(path)
        }
        None if std::env::var_os("CI").is_some() => {
            panic!("{test}: CI is set but THERMOCLINE_PYTHON is not: the interop tests must run in CI")
        }
        None => {
            eprintln!(
                "SKIPPED {test}: THERMOCLINE_PYTHON is unset; run scripts/setup.sh and set it to .venv/bin/python"
            );
            None
        }
    }
}

/// Runs `tests/interop/<script> <job>`; returns its stdout, or fails the
/// test with its stderr.
fn run_script(python: &Path, script: &str, job: &Path, scratch: &Path) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("interop");
    // Files, not pipes: a chatty script cannot block on a full pipe while we
    // poll for the timeout.
    let out_path = scratch.join(format!("{script}.stdout"));
    let err_path = scratch.join(format!("{script}.stderr"));
    let mut child = Command::new(python)
        .arg(dir.join(script))
        .arg(job)
        .current_dir(&dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("create stdout file"))
        .stderr(File::create(&err_path).expect("create stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {} {script}: {e}", python.display()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the python script") {
            break status;
        }
        if started.elapsed() > SCRIPT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{script} did not finish in {SCRIPT_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(
        status.success(),
        "{script} failed ({status})\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}"
    );
    stdout
}

async fn peers_read_the_remaining_rows(test: &str, partitioned: bool) {
    let Some(python) = python(test) else {
        return;
    };
    let scenario = cow::run(partitioned).await;
    let ids: Vec<i64> = scenario
        .before
        .keys()
        .copied()
        .filter(|&id| !cow::is_deleted(id))
        .collect();
    let job = scenario.dir.path().join("read_rows.json");
    let body = json!({
        "warehouse": scenario.dir.path(),
        "table": "public.t",
        "metadata_location": scenario.after.metadata_location().expect("metadata location"),
        "ids": ids,
        "removed": scenario.rewrite.removed,
        "total_records": ids.len(),
        "previous_rows": scenario.before.len(),
    });
    std::fs::write(&job, serde_json::to_vec(&body).expect("serialize job")).expect("write job");
    let stdout = run_script(&python, "read_rows.py", &job, scenario.dir.path());
    let summary: Value = serde_json::from_str(stdout.trim()).expect("read_rows.py prints a JSON summary");
    eprintln!("{test}: {summary}");
    assert_eq!(summary["duckdb_rows"], json!(ids.len()), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_read_a_partitioned_table_after_a_rewrite() {
    peers_read_the_remaining_rows("peers_read_a_partitioned_table_after_a_rewrite", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_read_an_unpartitioned_table_after_a_rewrite() {
    peers_read_the_remaining_rows("peers_read_an_unpartitioned_table_after_a_rewrite", false).await;
}
