//! Finding the real peers the interop and wire tests drive (Python with
//! the pinned packages, and clients on PATH), under one rule: a missing
//! peer skips the test with a message, except under CI (`CI` set), where it
//! is a failure, so these tests never pass silently in CI.
//! scripts/setup.sh installs every peer; scripts/test.sh exports
//! `THERMOCLINE_PYTHON`.
//!
//! Included with `#[path = "common/peers.rs"] mod peers;` by the test
//! files that need it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// Skip `test` because `what`, or fail it under CI. Returns `None` so a
/// caller can `return missing(...)`.
pub fn missing<T>(test: &str, what: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: CI is set but {what}: run scripts/setup.sh (scripts/test.sh does)");
    }
    eprintln!("SKIPPED {test}: {what}; run scripts/setup.sh (scripts/test.sh does)");
    None
}

/// The interpreter with the pinned Python packages: `THERMOCLINE_PYTHON`.
pub fn python(test: &str) -> Option<PathBuf> {
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
        None => missing(test, "THERMOCLINE_PYTHON is unset (set it to .venv/bin/python)"),
    }
}

/// Wait for `child` up to `timeout`: its exit status, or `None` after it
/// was killed (and reaped) for running too long.
pub fn wait_or_kill(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for a child process") {
            return Some(status);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
