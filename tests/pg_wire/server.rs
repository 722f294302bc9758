//! The server under test: the real `thermocline` binary, started by
//! `thermocline --warehouse DIR serve --config FILE` in a fresh temporary
//! warehouse on a free loopback port, and killed when dropped. Every test
//! starts its own, so the tests run in parallel.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The one user the server knows (the binary's default).
pub const USER: &str = "thermocline";
/// The password of servers started with [`ServerBuilder::password`].
pub const PASSWORD: &str = "s3cret-Pass";

/// How long a debug build may take to open the warehouse and bind.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Settings for one server; `start` runs it.
pub struct ServerBuilder {
    password: Option<String>,
    /// More `[pg]` settings, as TOML lines.
    pg: Vec<String>,
    listen: String,
}

impl ServerBuilder {
    /// SCRAM-SHA-256 with [`PASSWORD`] (the default is `trust`).
    pub fn password(mut self) -> Self {
        self.password = Some(PASSWORD.to_string());
        self
    }

    /// A `[pg]` setting as written in the file, e.g. `max_connections = 2`.
    pub fn pg(mut self, line: impl Into<String>) -> Self {
        self.pg.push(line.into());
        self
    }

    pub fn listen(mut self, address: &str) -> Self {
        self.listen = address.to_string();
        self
    }

    /// Start the server and wait until it prints its port.
    pub fn start(self) -> Server {
        let (dir, mut child) = self.spawn();
        let lines = read_stdout(&mut child);
        let port = loop {
            match lines.recv_timeout(START_TIMEOUT) {
                Ok(line) => {
                    if let Some(address) = line.strip_prefix("postgres listening on ") {
                        let port = address.rsplit(':').next().and_then(|p| p.trim().parse::<u16>().ok());
                        break port.unwrap_or_else(|| panic!("no port in {line:?}"));
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    let stderr = std::fs::read_to_string(dir.path().join("server.stderr")).unwrap_or_default();
                    panic!("the server did not print its port ({status:?})\n--- stderr ---\n{stderr}");
                }
            }
        };
        Server {
            child,
            port,
            password: self.password,
            dir,
        }
    }

    /// Run the server expecting it to refuse to start: its exit status and
    /// stderr.
    pub fn start_and_fail(self) -> (ExitStatus, String) {
        let (dir, mut child) = self.spawn();
        let Some(status) = crate::peers::wait_or_kill(&mut child, START_TIMEOUT) else {
            panic!("the server was expected to refuse to start, but it is still running");
        };
        let stderr = std::fs::read_to_string(dir.path().join("server.stderr")).unwrap_or_default();
        (status, stderr)
    }

    fn spawn(&self) -> (tempfile::TempDir, Child) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut toml = format!("[pg]\nlisten = \"{}\"\n", self.listen);
        match &self.password {
            Some(password) => toml.push_str(&format!("password = \"{password}\"\n")),
            None => toml.push_str("auth = \"trust\"\n"),
        }
        for line in &self.pg {
            toml.push_str(line);
            toml.push('\n');
        }
        let config = dir.path().join("server.toml");
        std::fs::write(&config, toml).expect("write server.toml");
        let mut command = Command::new(env!("CARGO_BIN_EXE_thermocline"));
        // Settings come from the file alone, not the test's environment.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("THERMOCLINE_") {
                command.env_remove(name);
            }
        }
        command
            .arg("--warehouse")
            .arg(dir.path().join("warehouse"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .env("THERMOCLINE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("server.stderr")).expect("stderr file"));
        let child = command.spawn().expect("start thermocline serve");
        (dir, child)
    }
}

/// Stdout's lines on a channel (a thread drains it so the server never
/// blocks on a full pipe).
fn read_stdout(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // Nobody may listen any more: keep draining all the same.
            let _ = tx.send(line);
        }
    });
    rx
}

/// A running server; killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    password: Option<String>,
    dir: tempfile::TempDir,
}

impl Server {
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            password: None,
            pg: Vec::new(),
            listen: "127.0.0.1:0".to_string(),
        }
    }

    /// A `trust` server with default settings.
    pub fn start() -> Server {
        Self::builder().start()
    }

    /// A folder for the test's own files (scripts' output, certificates).
    pub fn scratch(&self) -> &Path {
        self.dir.path()
    }

    /// The libpq connection string (psql, psycopg).
    pub fn conninfo(&self) -> String {
        let mut s = format!(
            "host=127.0.0.1 port={} user={USER} dbname=thermocline connect_timeout=10",
            self.port
        );
        if let Some(password) = &self.password {
            s.push_str(&format!(" password={password}"));
        }
        s
    }

    /// libpq's environment variables for this server (node-postgres reads
    /// them too).
    pub fn pg_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("PGHOST", "127.0.0.1".to_string()),
            ("PGPORT", self.port.to_string()),
            ("PGUSER", USER.to_string()),
            ("PGDATABASE", "thermocline".to_string()),
            ("PGCONNECT_TIMEOUT", "10".to_string()),
        ];
        if let Some(password) = &self.password {
            env.push(("PGPASSWORD", password.clone()));
        }
        env
    }

    /// tokio-postgres settings for this server.
    pub fn tokio_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user(USER)
            .dbname("thermocline")
            .connect_timeout(Duration::from_secs(10));
        if let Some(password) = &self.password {
            config.password(password);
        }
        config
    }

    /// The server's log so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.stderr")).unwrap_or_default()
    }

    /// Whether the server process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
