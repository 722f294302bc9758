//! The PostgreSQL wire protocol server.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::error::Result;
use crate::server::PgConfig;
use crate::warehouse::Warehouse;

pub struct PgServer {
    _warehouse: Arc<Warehouse>,
    _config: PgConfig,
}

impl PgServer {
    pub fn new(warehouse: Arc<Warehouse>, config: PgConfig) -> Result<Self> {
        Ok(Self {
            _warehouse: warehouse,
            _config: config,
        })
    }

    pub async fn accept(self, _listener: TcpListener, shutdown: impl Future<Output = ()>) -> Result<()> {
        shutdown.await;
        Ok(())
    }
}
