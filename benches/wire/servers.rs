//! The two servers under test, each a child process on loopback in its own
//! temp folder, stopped when dropped: `thermocline serve` and a real
//! PostgreSQL (`initdb -A trust` + `pg_ctl start`).
//!
//! initdb refuses to run as root, so as root PostgreSQL runs as the
//! `postgres` user (else `nobody`) through `runuser`, in a folder handed to
//! that user.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::config::WireConfig;
use super::harness::{R, fail};

/// How a client reaches a server.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub port: u16,
    pub user: String,
    pub dbname: String,
}

impl Endpoint {
    pub fn conninfo(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user={} dbname={} sslmode=disable",
            self.port, self.user, self.dbname
        )
    }
}

/// `thermocline serve` over a fresh warehouse.
pub struct Thermocline {
    child: Child,
    pub endpoint: Endpoint,
    pub binary: PathBuf,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Thermocline {
    pub fn start(cfg: &WireConfig) -> R<Self> {
        let binary = std::env::var_os("THERMOCLINE_BENCH_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_thermocline")));
        let dir = cfg.pair.tempdir("wire-thermocline-")?;
        let log = dir.path().join("serve.log");
        let user = "thermocline";
        let mut child = Command::new(&binary)
            .arg("--warehouse")
            .arg(dir.path().join("warehouse"))
            .arg("serve")
            .env("THERMOCLINE_PG_LISTEN", "127.0.0.1:0")
            .env("THERMOCLINE_PG_AUTH", "trust")
            .env("THERMOCLINE_PG_USER", user)
            .env("THERMOCLINE_LOG", "warn")
            .env_remove("THERMOCLINE_HTTP_LISTEN")
            .env_remove("THERMOCLINE_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .map_err(|e| fail(format!("starting {}: {e}", binary.display())))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| fail("thermocline serve: no stdout"))?;
        // Read stdout on a thread (a blocked pipe would stall the server)
        // and hand over the listener line.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("postgres listening on ") {
                    let _ = tx.send(addr.to_string());
                }
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!(
                    "thermocline serve printed no `postgres listening on` line; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )));
            }
        };
        let port = addr
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .ok_or_else(|| fail(format!("thermocline serve: cannot read a port in {addr:?}")))?;
        Ok(Self {
            child,
            endpoint: Endpoint {
                port,
                user: user.into(),
                dbname: user.into(),
            },
            binary,
            log,
            _dir: dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Thermocline {
    fn drop(&mut self) {
        // SIGTERM first: serve shuts down cleanly on it.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A PostgreSQL cluster made for this run.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    /// Run the server programs as this user (we are root).
    run_as: Option<String>,
    pub endpoint: Endpoint,
    pub version: String,
    _dir: tempfile::TempDir,
}

impl Postgres {
    pub fn start(cfg: &WireConfig) -> R<Self> {
        let bin = server_programs()?;
        let dir = cfg.pair.tempdir("wire-postgres-")?;
        let run_as = if is_root()? {
            let user = ["postgres", "nobody"]
                .into_iter()
                .find(|u| id(&["-u", *u]).is_ok())
                .ok_or_else(|| fail("running as root and neither user postgres nor nobody exists for initdb"))?;
            std::os::unix::fs::chown(dir.path(), Some(id(&["-u", user])?), Some(id(&["-g", user])?))?;
            Some(user.to_string())
        } else {
            None
        };
        let data = dir.path().join("data");
        let command = |program: &str| -> Command {
            let path = bin.join(program);
            match &run_as {
                Some(user) => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", user, "--"]).arg(path);
                    c
                }
                None => Command::new(path),
            }
        };
        run(command("initdb").arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-instructions",
        ]))?;
        let port = free_port()?;
        let options = format!("-c listen_addresses=127.0.0.1 -p {port} -k {}", dir.path().display());
        run(command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.path().join("server.log"))
            .args(["-w", "-t", "120", "-o", &options, "start"]))?;
        let version = String::from_utf8_lossy(&command("postgres").arg("--version").output()?.stdout)
            .trim()
            .to_string();
        Ok(Self {
            bin,
            data,
            run_as,
            endpoint: Endpoint {
                port,
                user: "postgres".into(),
                dbname: "postgres".into(),
            },
            version,
            _dir: dir,
        })
    }

    /// Who the server runs as, for the report.
    pub fn os_user(&self) -> String {
        self.run_as.clone().unwrap_or_else(|| "the current user".into())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let path = self.bin.join("pg_ctl");
        let mut c = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        };
        let stopped = c
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .status();
        if !matches!(stopped, Ok(s) if s.success()) {
            eprintln!(
                "warning: pg_ctl stop failed for {}; stop it by hand",
                self.data.display()
            );
        }
    }
}

/// The folder of initdb, pg_ctl and postgres, from benches/setup-postgres.sh
/// (which installs Debian's postgresql when there is none).
fn server_programs() -> R<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/setup-postgres.sh");
    let out = Command::new("bash").arg(&script).stderr(Stdio::inherit()).output()?;
    let folder = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .trim()
        .to_string();
    if !out.status.success() || folder.is_empty() {
        return Err(fail(format!("{} found no PostgreSQL server", script.display())));
    }
    Ok(PathBuf::from(folder))
}

fn run(command: &mut Command) -> R<()> {
    let out = command.output().map_err(|e| fail(format!("{command:?}: {e}")))?;
    if !out.status.success() {
        return Err(fail(format!(
            "{command:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

fn id(args: &[&str]) -> R<u32> {
    let out = Command::new("id").args(args).output()?;
    if !out.status.success() {
        return Err(fail(format!(
            "id {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

fn is_root() -> R<bool> {
    Ok(id(&["-u"])? == 0)
}

/// A loopback port nobody listens on right now (PostgreSQL cannot be told
/// to pick one itself).
fn free_port() -> R<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
