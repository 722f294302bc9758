//! `thermocline serve`: the PostgreSQL wire protocol ([`pg`]) and the HTTP
//! API ([`http`]) over one warehouse.
//!
//! Every connection (or HTTP request) gets its own [`crate::Session`], so
//! each query reads one consistent cut of the hot tier and the Iceberg
//! snapshot; writers queue on the warehouse's single hot-tier writer lock
//! and give up with `55P03 lock_not_available` after its lock timeout.

pub mod config;
pub mod http;
pub mod json;
pub mod pg;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use self::config::{HttpConfig, LogFormat, PgAuth, PgConfig, ServerConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::warehouse::Warehouse;

/// The listeners of a server, bound but not yet accepting: tests bind to
/// port 0 and read the addresses back before they connect.
pub struct Server {
    warehouse: Arc<Warehouse>,
    pg: Option<(TcpListener, pg::PgServer)>,
    http: Option<(TcpListener, HttpConfig)>,
}

impl Server {
    /// Bind every configured listener (an address in use fails here, before
    /// anything is served).
    pub async fn bind(warehouse: Arc<Warehouse>, config: &ServerConfig) -> Result<Self> {
        config.validate()?;
        // The server first (it reads the TLS files), so a bad certificate
        // fails before any address is announced.
        let pg = match &config.pg {
            Some(pg) => {
                let server = pg::PgServer::new(warehouse.clone(), pg.clone())?;
                Some((bind(pg.listen, "PostgreSQL").await?, server))
            }
            None => None,
        };
        let http = match &config.http {
            Some(http) => Some((bind(http.listen, "HTTP").await?, http.clone())),
            None => None,
        };
        Ok(Self { warehouse, pg, http })
    }

    /// Where the PostgreSQL server listens (the real port when bound to 0).
    pub fn pg_addr(&self) -> Option<SocketAddr> {
        self.pg.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// Serve until `shutdown` completes, then stop accepting; sessions still
    /// open are dropped, which rolls back their transactions.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let (stop, _) = tokio::sync::broadcast::channel::<()>(1);
        let mut tasks = tokio::task::JoinSet::new();
        if let Some((listener, server)) = self.pg {
            let mut stop = stop.subscribe();
            tasks.spawn(async move { server.accept(listener, async move { _ = stop.recv().await }).await });
        }
        if let Some((listener, config)) = self.http {
            let router = http::router(self.warehouse.clone(), &config);
            let mut stop = stop.subscribe();
            tasks.spawn(async move { http::run(listener, router, async move { _ = stop.recv().await }).await });
        }
        let stopper = tokio::spawn(async move {
            shutdown.await;
            _ = stop.send(());
        });
        let mut result = Ok(());
        while let Some(joined) = tasks.join_next().await {
            let outcome = joined
                .map_err(|e| Error::internal(format!("server task failed: {e}")))
                .and_then(|r| r);
            if let Err(e) = outcome {
                tracing::error!(error = %e, "server stopped");
                if result.is_ok() {
                    result = Err(e);
                }
                tasks.abort_all();
            }
        }
        stopper.abort();
        result
    }
}

async fn bind(addr: SocketAddr, what: &str) -> Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        Error::new(ErrorKind::Config, format!("cannot listen on {addr} for {what}: {e}")).with_context("listen", addr)
    })
}
