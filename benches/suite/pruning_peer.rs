//! The pruning group's peer: `pruning_plan_files.py` (pyiceberg) running as
//! one process that answers one JSON line per command line, so its runs
//! interleave with ours.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{R, fail};

pub struct PyPlanner {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl PyPlanner {
    /// pyiceberg over `public.ev` in `warehouse`, planning `low <= ts < high`.
    pub fn start(warehouse: &Path, low: &str, high: &str) -> R<Self> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/suite/pruning_plan_files.py");
        let python = crate::tpch_engines::python();
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(warehouse)
            .args(["public.ev", "ts", low, high])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot start {python} {}: {e}", script.display())))?;
        let stdin = child.stdin.take().ok_or_else(|| fail("no stdin for pyiceberg"))?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(|| fail("no stdout for pyiceberg"))?);
        Ok(Self { child, stdin, stdout })
    }

    /// Send `command` and wait for its answer (blocking this worker thread
    /// only: the runtime's other thread stays free).
    pub fn ask(&mut self, command: &str) -> R<Value> {
        tokio::task::block_in_place(|| {
            writeln!(self.stdin, "{command}")?;
            self.stdin.flush()?;
            let mut line = String::new();
            if self.stdout.read_line(&mut line)? == 0 {
                return Err(fail(format!(
                    "pyiceberg exited before answering {command:?} (is pyiceberg installed? set THERMOCLINE_PYTHON)"
                )));
            }
            let answer: Value = serde_json::from_str(&line)
                .map_err(|e| fail(format!("pyiceberg answered {command:?} with {line:?}: {e}")))?;
            match answer.get("error") {
                Some(e) => Err(fail(format!("pyiceberg, {command}: {e}"))),
                None => Ok(answer),
            }
        })
    }

    /// One `warm` or `cold` run, which must plan `files` files.
    pub fn plan(&mut self, command: &str, files: usize) -> R<Value> {
        let answer = self.ask(command)?;
        if answer["files"].as_u64() != Some(files as u64) {
            return Err(fail(format!(
                "pyiceberg, {command}: planned {} files, expected {files}",
                answer["files"]
            )));
        }
        Ok(answer)
    }

    pub fn quit(mut self) -> R<()> {
        writeln!(self.stdin, "quit")?;
        self.stdin.flush()?;
        let status = self.child.wait()?;
        if !status.success() {
            return Err(fail(format!("pyiceberg exited with {status}")));
        }
        Ok(())
    }
}

impl Drop for PyPlanner {
    fn drop(&mut self) {
        // After `quit` this finds the process gone; on an error path it
        // stops the one this bench started.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The time in milliseconds under `key` of a pyiceberg answer.
pub fn millis(answer: &Value, key: &str) -> R<Duration> {
    let ms = answer[key]
        .as_f64()
        .ok_or_else(|| fail(format!("pyiceberg: no {key} in {answer}")))?;
    Ok(Duration::from_secs_f64(ms / 1e3))
}

pub fn version() -> String {
    Command::new(crate::tpch_engines::python())
        .args(["-c", "import pyiceberg; print(pyiceberg.__version__)"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "(version unknown)".into())
}
