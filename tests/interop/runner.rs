//! Running the Python peers of the interop tests (tests/interop.rs,
//! tests/interop_rewrite.rs, tests/interop_evolution.rs), shared by them via
//! `#[path = "interop/runner.rs"] mod runner;`.
//!
//! The peers run as Python scripts (tests/interop/*.py) under
//! `THERMOCLINE_PYTHON` (scripts/setup.sh builds `.venv` with the pinned
//! versions; scripts/test.sh exports it); tests/common/peers.rs finds it
//! and says when a test skips.
//!
//! Each test file uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub use crate::peers::python;

/// A peer script that runs longer than this is killed and the test fails.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Run `tests/interop/<script>` with `args`; returns its stdout, or fails the
/// test with its stderr. Its stdout and stderr are kept in `scratch` as
/// `<script>.stdout` / `<script>.stderr`.
pub fn run_script(python: &Path, script: &str, args: &[&Path], scratch: &Path) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("interop");
    // Files, not pipes: a chatty script cannot block on a full pipe while we
    // poll for the timeout.
    let out_path = scratch.join(format!("{script}.stdout"));
    let err_path = scratch.join(format!("{script}.stderr"));
    let mut child = Command::new(python)
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("create stdout file"))
        .stderr(File::create(&err_path).expect("create stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {} {script}: {e}", python.display()));
    let started = Instant::now();
    let Some(status) = crate::peers::wait_or_kill(&mut child, SCRIPT_TIMEOUT) else {
        panic!("{script} did not finish in {SCRIPT_TIMEOUT:?}");
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    assert!(
        status.success(),
        "{script} failed ({status}) after {:?}\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}",
        started.elapsed()
    );
    stdout
}

/// The JSON summary a script printed as its stdout.
pub fn summary(script: &str, stdout: &str) -> Value {
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{script} prints a JSON summary on stdout ({e}); it printed:\n{stdout}"))
}

/// Write a job file for a script.
pub fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_vec(value).expect("serialize job")).expect("write job file");
}

/// A table's current metadata file, as the warehouse's catalog file records
/// it for every other reader (catalog `thermocline`, namespace `public`).
pub fn metadata_location(dir: &Path, table: &str) -> String {
    let db = rusqlite::Connection::open(dir.join("catalog.db")).expect("open catalog.db");
    db.query_row(
        "SELECT metadata_location FROM iceberg_tables
         WHERE catalog_name = 'thermocline' AND table_namespace = 'public' AND table_name = ?1",
        [table],
        |r| r.get(0),
    )
    .unwrap_or_else(|e| panic!("iceberg_tables row for public.{table}: {e}"))
}
