//! `thermocline serve`'s settings: a TOML file, then environment variables
//! on top (the variables win, so a container can override one setting of a
//! shared file).
//!
//! ```toml
//! warehouse = "./warehouse"
//!
//! [log]
//! level = "info"          # or a RUST_LOG-style filter: "thermocline=debug,warn"
//! format = "text"         # or "json"
//!
//! [pg]
//! listen = "127.0.0.1:5432"
//! user = "thermocline"
//! password = "secret"     # SCRAM-SHA-256; or auth = "trust" (explicitly)
//! tls_cert = "server.crt" # PEM; with tls_key, TLS is offered
//! tls_key = "server.key"
//! tls_required = false    # refuse clients that do not use TLS
//! max_connections = 256
//! statement_timeout = "0" # 0 = none
//! idle_in_transaction_timeout = "60s"
//!
//! [http]
//! listen = "127.0.0.1:8080"
//! token = "secret"        # bearer token; required off loopback
//!
//! [sharding]              # the default for new tables that have the key column
//! key = "tenant"
//! count = 16
//! algorithm = "consistent" # or "hash", or "range" with bounds = "100,200,..."
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::config::parse_duration;
use crate::error::{Error, ErrorKind, Result};

/// Everything `thermocline serve` needs besides the warehouse itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Folder or URL of the warehouse (`None`: the CLI's `--warehouse`).
    pub warehouse: Option<String>,
    pub log: LogConfig,
    /// The PostgreSQL wire server (`None`: not started).
    pub pg: Option<PgConfig>,
    /// The HTTP API (`None`: not started).
    pub http: Option<HttpConfig>,
    /// The warehouse's default sharding for new tables.
    pub sharding: Option<crate::shard::Sharding>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A level (`info`) or an `EnvFilter` directive list.
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// How wire clients prove who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgAuth {
    /// SCRAM-SHA-256 against this password.
    Password(String),
    /// Anyone who can connect is `user`. Only when configured explicitly.
    Trust,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PgConfig {
    pub listen: SocketAddr,
    /// The one user name clients log in as.
    pub user: String,
    pub auth: PgAuth,
    /// PEM certificate chain and private key; with both, TLS is offered.
    pub tls: Option<TlsFiles>,
    /// Refuse clients that do not negotiate TLS.
    pub tls_required: bool,
    /// Connections beyond this are refused with SQLSTATE 53300.
    pub max_connections: usize,
    /// A statement running longer is cancelled with 57014 (`None`: no limit).
    pub statement_timeout: Option<Duration>,
    /// A session idle inside a transaction this long is closed with 25P03
    /// and its transaction rolled back (`None`: never).
    pub idle_in_transaction_timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// Clients send `Authorization: Bearer <token>` (`None`: no auth, only
    /// allowed on loopback).
    pub token: Option<String>,
    /// Requests with a body larger than this are refused (413).
    pub max_body_bytes: usize,
}

pub const DEFAULT_PG_LISTEN: &str = "127.0.0.1:5432";
pub const DEFAULT_PG_USER: &str = "thermocline";
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
pub const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_HTTP_MAX_BODY: usize = 16 << 20;

/// The file as written: every field optional, durations as text.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    warehouse: Option<String>,
    #[serde(default)]
    log: FileLog,
    pg: Option<FilePg>,
    http: Option<FileHttp>,
    sharding: Option<FileSharding>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSharding {
    key: String,
    count: u32,
    algorithm: Option<String>,
    bounds: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLog {
    level: Option<String>,
    format: Option<LogFormat>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePg {
    listen: Option<String>,
    user: Option<String>,
    password: Option<String>,
    /// `scram-sha-256` (the default when a password is set) or `trust`.
    auth: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_required: Option<bool>,
    max_connections: Option<usize>,
    statement_timeout: Option<String>,
    idle_in_transaction_timeout: Option<String>,
    #[serde(default = "default_true")]
    enabled: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHttp {
    listen: Option<String>,
    token: Option<String>,
    max_body_bytes: Option<usize>,
}

fn default_true() -> bool {
    true
}

/// Where settings come from: the environment, or a fixed map in tests.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl<const N: usize> Environment for [(&str, &str); N] {
    fn var(&self, name: &str) -> Option<String> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }
}

impl ServerConfig {
    /// Read `path` (if given), then apply the `THERMOCLINE_*` variables, then
    /// check the result (see [`ServerConfig::validate`]).
    pub fn load(path: Option<&Path>, env: &dyn Environment) -> Result<Self> {
        let file = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::new(ErrorKind::Config, format!("cannot read {}: {e}", path.display())))?;
                Self::parse_file(&text).map_err(|e| e.with_context("file", path.display()))?
            }
            None => FileConfig::default(),
        };
        let config = Self::resolve(file, env)?;
        config.validate()?;
        Ok(config)
    }

    /// Parse TOML text (no environment, no checks): for tests and tools.
    pub fn from_toml(text: &str) -> Result<Self> {
        Self::resolve(Self::parse_file(text)?, &[] as &[(&str, &str); 0])
    }

    fn parse_file(text: &str) -> Result<FileConfig> {
        toml::from_str(text).map_err(|e| Error::new(ErrorKind::Config, format!("bad server config: {e}")))
    }

    fn resolve(file: FileConfig, env: &dyn Environment) -> Result<Self> {
        let log = LogConfig {
            level: env
                .var("THERMOCLINE_LOG")
                .or(file.log.level)
                .unwrap_or_else(|| "info".to_string()),
            format: match env.var("THERMOCLINE_LOG_FORMAT") {
                Some(f) => match f.to_ascii_lowercase().as_str() {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    other => {
                        return Err(Error::new(
                            ErrorKind::Config,
                            format!("THERMOCLINE_LOG_FORMAT={other}: expected text or json"),
                        ));
                    }
                },
                None => file.log.format.unwrap_or(LogFormat::Text),
            },
        };

        // No [pg] section: the PostgreSQL server with its defaults.
        let file_pg = file.pg.unwrap_or(FilePg {
            enabled: true,
            ..Default::default()
        });
        let pg = if file_pg.enabled || env.var("THERMOCLINE_PG_LISTEN").is_some() {
            let listen = env
                .var("THERMOCLINE_PG_LISTEN")
                .or(file_pg.listen)
                .unwrap_or_else(|| DEFAULT_PG_LISTEN.to_string());
            let password = env.var("THERMOCLINE_PG_PASSWORD").or(file_pg.password);
            let auth = match (env.var("THERMOCLINE_PG_AUTH").or(file_pg.auth).as_deref(), password) {
                (Some("trust"), _) => PgAuth::Trust,
                (None | Some("scram-sha-256"), Some(password)) => PgAuth::Password(password),
                (None | Some("scram-sha-256"), None) => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        "the PostgreSQL server needs a password (pg.password or THERMOCLINE_PG_PASSWORD), \
                         or auth = \"trust\" to let anyone who can connect in",
                    ));
                }
                (Some(other), _) => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!("pg.auth = {other:?}: expected \"scram-sha-256\" or \"trust\""),
                    ));
                }
            };
            let tls = match (
                env.var("THERMOCLINE_PG_TLS_CERT")
                    .map(PathBuf::from)
                    .or(file_pg.tls_cert),
                env.var("THERMOCLINE_PG_TLS_KEY").map(PathBuf::from).or(file_pg.tls_key),
            ) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                (None, None) => None,
                _ => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        "TLS needs both pg.tls_cert and pg.tls_key",
                    ));
                }
            };
            Some(PgConfig {
                listen: parse_listen("pg.listen", &listen)?,
                user: env
                    .var("THERMOCLINE_PG_USER")
                    .or(file_pg.user)
                    .unwrap_or_else(|| DEFAULT_PG_USER.to_string()),
                auth,
                tls,
                tls_required: file_pg.tls_required.unwrap_or(false),
                max_connections: file_pg.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
                statement_timeout: optional_duration(file_pg.statement_timeout.as_deref())?,
                idle_in_transaction_timeout: match file_pg.idle_in_transaction_timeout.as_deref() {
                    None => Some(DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT),
                    text => optional_duration(text)?,
                },
            })
        } else {
            None
        };

        let http_listen = env
            .var("THERMOCLINE_HTTP_LISTEN")
            .or(file.http.as_ref().and_then(|h| h.listen.clone()));
        let http = match http_listen {
            Some(listen) => {
                let file_http = file.http.unwrap_or_default();
                Some(HttpConfig {
                    listen: parse_listen("http.listen", &listen)?,
                    token: env.var("THERMOCLINE_HTTP_TOKEN").or(file_http.token),
                    max_body_bytes: file_http.max_body_bytes.unwrap_or(DEFAULT_HTTP_MAX_BODY),
                })
            }
            None => None,
        };

        let sharding = match file.sharding {
            Some(s) => Some(
                crate::shard::Sharding::parse(
                    &s.key,
                    &s.count.to_string(),
                    s.algorithm.as_deref().unwrap_or("consistent"),
                    s.bounds.as_deref(),
                )
                .map_err(|e| e.with_context("setting", "sharding"))?,
            ),
            None => None,
        };
        Ok(Self {
            warehouse: env.var("THERMOCLINE_WAREHOUSE").or(file.warehouse),
            log,
            pg,
            http,
            sharding,
        })
    }

    /// Refuse settings that would expose data: a non-loopback listener
    /// with no password (PostgreSQL) or no token (HTTP), TLS required with
    /// no certificate, and a server with nothing to serve.
    pub fn validate(&self) -> Result<()> {
        if self.pg.is_none() && self.http.is_none() {
            return Err(Error::new(
                ErrorKind::Config,
                "nothing to serve: enable [pg] or set http.listen / THERMOCLINE_HTTP_LISTEN",
            ));
        }
        if let Some(pg) = &self.pg {
            if pg.auth == PgAuth::Trust && !pg.listen.ip().is_loopback() {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "refusing to listen on {} with auth = \"trust\": anyone who can reach it could read and write \
                         every table; set a password (THERMOCLINE_PG_PASSWORD) or listen on 127.0.0.1",
                        pg.listen
                    ),
                ));
            }
            if let PgAuth::Password(p) = &pg.auth
                && p.is_empty()
            {
                return Err(Error::new(ErrorKind::Config, "pg.password is empty"));
            }
            if pg.tls_required && pg.tls.is_none() {
                return Err(Error::new(
                    ErrorKind::Config,
                    "pg.tls_required needs pg.tls_cert and pg.tls_key",
                ));
            }
            if pg.max_connections == 0 {
                return Err(Error::new(ErrorKind::Config, "pg.max_connections must be at least 1"));
            }
        }
        if let Some(http) = &self.http
            && http.token.is_none()
            && !http.listen.ip().is_loopback()
        {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "refusing to serve HTTP on {} without a bearer token: set http.token or THERMOCLINE_HTTP_TOKEN, \
                     or listen on 127.0.0.1",
                    http.listen
                ),
            ));
        }
        Ok(())
    }
}

fn parse_listen(setting: &str, text: &str) -> Result<SocketAddr> {
    // `localhost:5432` is what people type; resolve it like a client would.
    if let Some(port) = text.strip_prefix("localhost:") {
        return format!("127.0.0.1:{port}")
            .parse()
            .map_err(|_| bad_listen(setting, text));
    }
    text.parse().map_err(|_| bad_listen(setting, text))
}

fn bad_listen(setting: &str, text: &str) -> Error {
    Error::new(
        ErrorKind::Config,
        format!("{setting} = {text:?}: expected an address and port such as 127.0.0.1:5432 or [::]:5432"),
    )
}

/// `"0"` or absent means none.
fn optional_duration(text: Option<&str>) -> Result<Option<Duration>> {
    match text {
        None => Ok(None),
        Some(t) => {
            let d = parse_duration(t)?;
            Ok((!d.is_zero()).then_some(d))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_a_password() {
        let e = ServerConfig::from_toml("").expect_err("no password");
        assert!(e.message().contains("needs a password"), "{e}");
    }

    #[test]
    fn file_then_environment() -> Result<()> {
        let file = r#"
            warehouse = "/data/wh"
            [pg]
            listen = "127.0.0.1:6000"
            password = "from-file"
            idle_in_transaction_timeout = "5s"
            [http]
            listen = "127.0.0.1:8080"
        "#;
        let env = [
            ("THERMOCLINE_PG_PASSWORD", "from-env"),
            ("THERMOCLINE_PG_LISTEN", "localhost:6001"),
        ];
        let config = ServerConfig::resolve(ServerConfig::parse_file(file)?, &env)?;
        config.validate()?;
        let pg = config.pg.as_ref().expect("pg");
        assert_eq!(pg.auth, PgAuth::Password("from-env".into()));
        assert_eq!(pg.listen.to_string(), "127.0.0.1:6001");
        assert_eq!(pg.idle_in_transaction_timeout, Some(Duration::from_secs(5)));
        assert_eq!(pg.user, DEFAULT_PG_USER);
        assert_eq!(config.warehouse.as_deref(), Some("/data/wh"));
        assert_eq!(config.sharding, None);
        assert_eq!(config.http.as_ref().map(|h| h.listen.port()), Some(8080));
        Ok(())
    }

    #[test]
    fn trust_only_on_loopback() -> Result<()> {
        let open = ServerConfig::from_toml("[pg]\nlisten = \"0.0.0.0:5432\"\nauth = \"trust\"")?;
        let e = open.validate().expect_err("trust off loopback");
        assert!(e.message().contains("refusing to listen on 0.0.0.0:5432"), "{e}");
        ServerConfig::from_toml("[pg]\nauth = \"trust\"")?.validate()?;
        ServerConfig::from_toml("[pg]\nlisten = \"0.0.0.0:5432\"\npassword = \"x\"")?.validate()?;
        Ok(())
    }

    #[test]
    fn http_off_loopback_needs_a_token() -> Result<()> {
        let e = ServerConfig::from_toml("[pg]\nenabled = false\n[http]\nlisten = \"0.0.0.0:8080\"")?
            .validate()
            .expect_err("no token");
        assert!(e.message().contains("without a bearer token"), "{e}");
        Ok(())
    }

    #[test]
    fn sharding_section_sets_the_default() -> Result<()> {
        let config = ServerConfig::from_toml("[pg]\nauth = \"trust\"\n[sharding]\nkey = \"tenant\"\ncount = 16")?;
        let sharding = config.sharding.expect("sharding");
        assert_eq!((sharding.key.as_str(), sharding.count), ("tenant", 16));
        assert_eq!(sharding.algorithm, crate::shard::Algorithm::Consistent);
        let e = ServerConfig::from_toml(
            "[pg]\nauth = \"trust\"\n[sharding]\nkey = \"t\"\ncount = 2\nalgorithm = \"range\"",
        )
        .expect_err("range without bounds");
        assert!(e.message().contains("needs 1 shard_bounds"), "{e}");
        Ok(())
    }

    #[test]
    fn unknown_settings_and_bad_values_are_named() {
        let e = ServerConfig::from_toml("[pg]\nlisten_addr = \"x\"").expect_err("unknown key");
        assert!(e.message().contains("listen_addr"), "{e}");
        let e = ServerConfig::from_toml("[pg]\nlisten = \"nowhere\"\npassword = \"x\"").expect_err("bad address");
        assert!(e.message().contains("pg.listen"), "{e}");
    }
}
