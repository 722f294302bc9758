//! Interop after a copy-on-write delete: pyiceberg and DuckDB read exactly
//! the rows left once `rewrite_without` and a `WatermarkCommit` removed the
//! rewritten files (plain data files; no Iceberg delete files involved), and
//! pyiceberg still time-travels to the snapshot before it.
//!
//! The peers run as tests/interop/read_rows.py under `THERMOCLINE_PYTHON`,
//! through the runner tests/interop.rs uses (tests/interop/runner.rs):
//! without it the tests skip with a message, except under CI (`CI` set),
//! where a missing peer is a failure.

mod cow;
#[path = "common/peers.rs"]
mod peers;
#[path = "interop/runner.rs"]
mod runner;

use runner::{python, run_script, summary, write_json};
use serde_json::json;

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
    write_json(&job, &body);
    let summary = summary(
        "read_rows.py",
        &run_script(&python, "read_rows.py", &[&job], scenario.dir.path()),
    );
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
