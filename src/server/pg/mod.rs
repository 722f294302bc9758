//! The PostgreSQL wire protocol server (protocol 3.0, through pgwire).
//!
//! Each accepted connection gets its own [`Session`](crate::Session) and
//! runs on its own task: simple and extended query protocols
//! ([`handler`]), COPY ([`copy`]), SCRAM-SHA-256 or explicit `trust`
//! authentication, optional or required TLS, cancel requests, a
//! connection limit (53300) and an idle-in-transaction timeout (25P03).

mod copy;
mod encode;
mod handler;
mod params;

use std::future::Future;
use std::io::Write as _;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::{ScramAuth, gen_salted_password};
use pgwire::api::auth::{AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler};
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::{
    ClientInfo, ConnectionGuard, ConnectionHandle, ConnectionManager, PgWireServerHandlers, PidSecretKeyGenerator,
    RandomPidSecretKeyGenerator,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use self::handler::{Activity, Connection, StatementParser};
use crate::error::{Error, ErrorKind, Result};
use crate::server::{PgAuth, PgConfig};
use crate::transaction::TransactionStatus;
use crate::warehouse::Warehouse;

/// PBKDF2 rounds for SCRAM (PostgreSQL's default).
const SCRAM_ITERATIONS: usize = 4096;

/// The server: settings and state shared by every connection.
pub struct PgServer {
    warehouse: Arc<Warehouse>,
    config: Arc<PgConfig>,
    tls: Option<TlsAcceptor>,
    /// Running connections, for cancel requests.
    manager: Arc<ConnectionManager>,
    connections: Arc<Semaphore>,
    password: Option<Arc<PasswordSource>>,
}

impl PgServer {
    pub fn new(warehouse: Arc<Warehouse>, config: PgConfig) -> Result<Self> {
        let tls = match &config.tls {
            Some(files) => Some(tls_acceptor(&files.cert, &files.key)?),
            None => None,
        };
        let password = match &config.auth {
            PgAuth::Password(password) => Some(Arc::new(PasswordSource::new(&config.user, password))),
            PgAuth::Trust => None,
        };
        Ok(Self {
            warehouse,
            connections: Arc::new(Semaphore::new(config.max_connections)),
            config: Arc::new(config),
            tls,
            manager: Arc::new(ConnectionManager::new()),
            password,
        })
    }

    /// Accept connections until `shutdown` completes.
    pub async fn accept(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Result<()> {
        let server = Arc::new(self);
        tracing::info!(
            listen = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
            tls = server.tls.is_some(),
            "PostgreSQL server ready"
        );
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                _ = &mut shutdown => return Ok(()),
                accepted = listener.accept() => accepted,
            };
            let (socket, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, go on.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = server.connections.clone().try_acquire_owned() else {
                tracing::warn!(%peer, limit = server.config.max_connections, "connection refused: too many clients");
                refuse(socket, "53300", "sorry, too many clients already").await;
                continue;
            };
            let server = server.clone();
            tokio::spawn(async move {
                server.serve(socket, peer).await;
                drop(permit);
            });
        }
    }

    /// One connection, from start-up to close.
    async fn serve(self: Arc<Self>, socket: TcpStream, peer: std::net::SocketAddr) {
        let _ = socket.set_nodelay(true);
        // A second handle on the socket lets the idle watchdog close it.
        let split = socket
            .into_std()
            .and_then(|s| Ok((s.try_clone()?, s)))
            .and_then(|(closer, s)| Ok((closer, TcpStream::from_std(s)?)));
        let (closer, socket) = match split {
            Ok(split) => split,
            Err(e) => {
                tracing::warn!(%peer, "cannot set up the connection: {e}");
                return;
            }
        };
        let session = Arc::new(self.warehouse.session());
        let activity = Arc::new(Activity::default());
        let connection = Arc::new(Connection {
            parser: Arc::new(StatementParser::new(session.clone())),
            session,
            config: self.config.clone(),
            activity: activity.clone(),
            copy_in: tokio::sync::Mutex::new(None),
        });
        let handlers = Handlers {
            connection: connection.clone(),
            startup: Arc::new(self.startup()),
            cancel: Arc::new(DefaultCancelHandler::new(self.manager.clone())),
        };
        let watched = Arc::downgrade(&connection);
        drop(connection);
        tracing::debug!(%peer, "connection opened");
        let task = tokio::spawn(pgwire::tokio::process_socket(socket, self.tls.clone(), handlers));
        let abort = task.abort_handle();
        let watchdog = self.config.idle_in_transaction_timeout.map(|limit| {
            let tls = self.tls.is_some();
            tokio::spawn(watch_idle(watched, limit, closer, tls, abort))
        });
        match task.await {
            Ok(Ok(())) => tracing::debug!(%peer, "connection closed"),
            Ok(Err(e)) => tracing::debug!(%peer, "connection ended: {e}"),
            Err(e) if e.is_cancelled() => tracing::info!(%peer, "connection closed: idle in transaction too long"),
            Err(e) => tracing::error!(%peer, "connection task failed: {e}"),
        }
        if let Some(watchdog) = watchdog {
            watchdog.abort();
        }
    }

    fn startup(&self) -> Startup {
        let inner = match &self.password {
            Some(source) => {
                let mut parameters = DefaultServerParameterProvider::default();
                parameters.server_version = server_version();
                let mut scram = ScramAuth::new(source.clone());
                scram.set_iterations(SCRAM_ITERATIONS);
                // No channel binding (SCRAM-SHA-256-PLUS): pgwire would offer
                // it to clients that did not negotiate TLS too, which libpq
                // rightly refuses.
                Authenticator::Scram(Box::new(
                    SASLAuthStartupHandler::new(Arc::new(parameters))
                        .with_scram(scram)
                        .with_connection_manager(self.manager.clone()),
                ))
            }
            None => {
                let mut parameters = DefaultServerParameterProvider::default();
                parameters.server_version = server_version();
                Authenticator::Trust(Box::new(Trust {
                    manager: self.manager.clone(),
                    parameters,
                }))
            }
        };
        Startup {
            inner,
            user: self.config.user.clone(),
            tls_required: self.config.tls_required,
        }
    }
}

/// What clients see as `server_version`: the PostgreSQL version whose
/// behaviour we follow, then ours.
fn server_version() -> String {
    format!("16.6 (thermocline {})", env!("CARGO_PKG_VERSION"))
}

/// Close sessions that sit idle inside a transaction longer than `limit`:
/// tell the client why (FATAL 25P03, when the connection is not
/// encrypted), close the socket, and stop the connection's task; dropping
/// its session rolls the transaction back.
async fn watch_idle(
    connection: Weak<Connection>,
    limit: Duration,
    closer: std::net::TcpStream,
    tls: bool,
    abort: tokio::task::AbortHandle,
) {
    let tick = (limit / 4).clamp(Duration::from_millis(20), Duration::from_secs(1));
    loop {
        tokio::time::sleep(tick).await;
        let Some(connection) = connection.upgrade() else {
            return;
        };
        let in_transaction = connection.session.transaction_status() != TransactionStatus::Idle;
        if in_transaction && connection.activity.idle_for() >= limit {
            tracing::info!(?limit, "terminating connection due to idle-in-transaction timeout");
            let mut closer = closer;
            if !tls {
                let _ = closer.write_all(&error_message(
                    "FATAL",
                    "25P03",
                    "terminating connection due to idle-in-transaction timeout",
                ));
            }
            let _ = closer.shutdown(std::net::Shutdown::Both);
            abort.abort();
            return;
        }
    }
}

/// A raw ErrorResponse message, for connections we close ourselves.
fn error_message(severity: &str, code: &str, message: &str) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, value) in [(b'S', severity), (b'V', severity), (b'C', code), (b'M', message)] {
        body.push(field);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut out = vec![b'E'];
    out.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Refuse a connection before start-up with a FATAL error.
async fn refuse(mut socket: TcpStream, code: &str, message: &str) {
    use tokio::io::AsyncWriteExt;
    let _ = socket.write_all(&error_message("FATAL", code, message)).await;
    let _ = socket.shutdown().await;
}

fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> Result<TlsAcceptor> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            Error::new(ErrorKind::Config, format!("cannot read {}: {e}", path.display()))
                .with_context("path", path.display())
        })
    };
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::new(ErrorKind::Config, format!("bad certificate {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(Error::new(
            ErrorKind::Config,
            format!("no certificate in {}", cert.display()),
        ));
    }
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| Error::new(ErrorKind::Config, format!("bad private key {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Config, format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| Error::new(ErrorKind::Config, format!("TLS certificate and key do not match: {e}")))?;
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The one user's SCRAM secret, salted once at start.
#[derive(Debug)]
struct PasswordSource {
    user: String,
    salt: Vec<u8>,
    salted: Vec<u8>,
}

impl PasswordSource {
    fn new(user: &str, password: &str) -> Self {
        let salt: [u8; 16] = rand::random();
        Self {
            user: user.to_string(),
            salted: gen_salted_password(password, &salt, SCRAM_ITERATIONS),
            salt: salt.to_vec(),
        }
    }
}

#[async_trait]
impl AuthSource for PasswordSource {
    // async_trait needs the elided lifetime the trait declares.
    #[allow(elided_lifetimes_in_paths)]
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        if login.user() != Some(self.user.as_str()) {
            // The same error as a wrong password: no probing for user names.
            return Err(PgWireError::InvalidPassword(
                login.user().unwrap_or_default().to_string(),
            ));
        }
        Ok(Password::new(Some(self.salt.clone()), self.salted.clone()))
    }
}

/// `auth = "trust"`: anyone who connects as the configured user.
struct Trust {
    manager: Arc<ConnectionManager>,
    parameters: DefaultServerParameterProvider,
}

impl Trust {
    /// Start-up without a password: the protocol version, the client's
    /// parameters, a backend key (registered for cancel requests), then
    /// AuthenticationOk, our parameters and ReadyForQuery.
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let PgWireFrontendMessage::Startup(startup) = &message else {
            return Ok(());
        };
        pgwire::api::auth::protocol_negotiation(client, startup).await?;
        pgwire::api::auth::save_startup_parameters_to_metadata(client, startup);
        let (pid, secret_key) = RandomPidSecretKeyGenerator::default().generate(client);
        client.set_pid_and_secret_key(pid, secret_key.clone());
        let (handle, guard) = self.manager.register(pid, secret_key);
        client.session_extensions().insert::<Arc<ConnectionHandle>>(handle);
        client.session_extensions().insert::<ConnectionGuard>(guard);
        pgwire::api::auth::finish_authentication(client, &self.parameters).await
    }
}

enum Authenticator {
    Scram(Box<SASLAuthStartupHandler<DefaultServerParameterProvider>>),
    Trust(Box<Trust>),
}

/// Start-up: refuse clients without TLS when it is required and users
/// other than the configured one, then authenticate.
struct Startup {
    inner: Authenticator,
    user: String,
    tls_required: bool,
}

fn fatal(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("FATAL".to_string(), code.to_string(), message)))
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: std::fmt::Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let PgWireFrontendMessage::Startup(startup) = &message {
            let user = startup.parameters.get("user").cloned().unwrap_or_default();
            if self.tls_required && !client.is_secure() {
                return Err(fatal(
                    "28000",
                    format!("no encryption: this server requires TLS for user \"{user}\" (use sslmode=require)"),
                ));
            }
            if matches!(self.inner, Authenticator::Trust(_)) && user != self.user {
                return Err(fatal("28000", format!("role \"{user}\" does not exist")));
            }
        }
        match &self.inner {
            Authenticator::Scram(scram) => scram.on_startup(client, message).await,
            Authenticator::Trust(trust) => trust.on_startup(client, message).await,
        }
    }
}

/// The handlers of one connection.
struct Handlers {
    connection: Arc<Connection>,
    startup: Arc<Startup>,
    cancel: Arc<DefaultCancelHandler>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl pgwire::api::query::SimpleQueryHandler> {
        self.connection.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl pgwire::api::query::ExtendedQueryHandler> {
        self.connection.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.startup.clone()
    }

    fn copy_handler(&self) -> Arc<impl pgwire::api::copy::CopyHandler> {
        self.connection.clone()
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        self.cancel.clone()
    }

    fn error_handler(&self) -> Arc<impl pgwire::api::ErrorHandler> {
        Arc::new(PostgresErrors)
    }
}

/// pgwire's own errors in PostgreSQL's words and codes.
struct PostgresErrors;

impl pgwire::api::ErrorHandler for PostgresErrors {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        let replacement = match error {
            PgWireError::InvalidPassword(_) => {
                let user = client.metadata().get("user").cloned().unwrap_or_default();
                fatal("28P01", format!("password authentication failed for user \"{user}\""))
            }
            PgWireError::PortalNotFound(name) => user_error("34000", format!("portal \"{name}\" does not exist")),
            PgWireError::StatementNotFound(name) => {
                user_error("26000", format!("prepared statement \"{name}\" does not exist"))
            }
            _ => return,
        };
        *error = replacement;
    }
}

fn user_error(code: &str, message: String) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".to_string(), code.to_string(), message)))
}
