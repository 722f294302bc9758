//! The real clients the wire tests drive: psql, psycopg (under
//! `THERMOCLINE_PYTHON`), node-postgres and the openssl CLI.
//!
//! A missing client skips or fails the test by the rule of
//! tests/common/peers.rs, as for the interop tests.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::peers::missing;
pub use crate::peers::python;

/// A client that runs longer than this is killed and the test fails.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The folder of the client scripts.
pub fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("pg_clients")
}

/// An executable on PATH.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

pub fn psql(test: &str) -> Option<PathBuf> {
    on_path("psql").or_else(|| missing(test, "psql is not installed (Debian postgresql-client)"))
}

pub fn openssl(test: &str) -> Option<PathBuf> {
    on_path("openssl").or_else(|| missing(test, "the openssl CLI is not installed"))
}

/// node and the node_modules folder holding `pg`: `THERMOCLINE_NODE_MODULES`,
/// else where scripts/setup.sh installs it.
pub fn node(test: &str) -> Option<(PathBuf, PathBuf)> {
    let Some(node) = on_path("node") else {
        return missing(test, "node is not installed");
    };
    let modules = match std::env::var_os("THERMOCLINE_NODE_MODULES").filter(|p| !p.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => {
            let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
            home.join(".cache/thermocline/node-pg/node_modules")
        }
    };
    if !modules.join("pg").join("package.json").is_file() {
        return missing(
            test,
            &format!("node-postgres is not installed in {}", modules.display()),
        );
    }
    Some((node, modules))
}

/// What a finished client printed.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Fail the test unless the client exited 0.
    pub fn success(self, what: &str) -> Self {
        assert!(
            self.status.success(),
            "{what} failed ({})\n--- stderr ---\n{}\n--- stdout ---\n{}",
            self.status,
            self.stderr,
            self.stdout
        );
        self
    }
}

/// Run `command` (stdin from `stdin`, if given) with [`CLIENT_TIMEOUT`];
/// its output goes through files named `<name>.stdout/.stderr` in
/// `scratch`, so a chatty client cannot block on a full pipe.
pub fn run(mut command: Command, name: &str, stdin: Option<&Path>, scratch: &Path) -> Outcome {
    run_with(&mut command, name, stdin, scratch, false)
}

/// Like [`run`], with stderr merged into stdout (psql interleaves its
/// errors with its results, as pg_regress records them).
pub fn run_merged(mut command: Command, name: &str, stdin: Option<&Path>, scratch: &Path) -> Outcome {
    run_with(&mut command, name, stdin, scratch, true)
}

fn run_with(command: &mut Command, name: &str, stdin: Option<&Path>, scratch: &Path, merged: bool) -> Outcome {
    let out_path = scratch.join(format!("{name}.stdout"));
    let err_path = scratch.join(format!("{name}.stderr"));
    let out = File::create(&out_path).expect("create stdout file");
    let err = if merged {
        out.try_clone().expect("clone stdout file")
    } else {
        File::create(&err_path).expect("create stderr file")
    };
    command
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PGCONNECT_TIMEOUT", "10")
        .stdout(out)
        .stderr(err);
    match stdin {
        Some(path) => command.stdin(File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))),
        None => command.stdin(Stdio::null()),
    };
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
    let Some(status) = crate::peers::wait_or_kill(&mut child, CLIENT_TIMEOUT) else {
        let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
        panic!("{name} did not finish in {CLIENT_TIMEOUT:?}\n--- output so far ---\n{stdout}");
    };
    Outcome {
        status,
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: if merged {
            String::new()
        } else {
            std::fs::read_to_string(&err_path).unwrap_or_default()
        },
    }
}

/// A self-signed certificate and key for `localhost` / 127.0.0.1, made
/// with the openssl CLI in `dir`: (cert, key).
pub fn self_signed_certificate(openssl: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("server.crt");
    let key = dir.join("server.key");
    let mut command = Command::new(openssl);
    command
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args(["-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert);
    run(command, "openssl", None, dir).success("openssl req");
    (cert, key)
}
