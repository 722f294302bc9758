//! The HTTP API: `POST /query`, `GET /health`. (Being written.)

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::error::{Error, Result};
use crate::server::HttpConfig;
use crate::warehouse::Warehouse;

/// The API's routes over `warehouse`.
pub fn router(_warehouse: Arc<Warehouse>, _config: &HttpConfig) -> axum::Router {
    axum::Router::new()
}

/// Serve `router` on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::internal(format!("HTTP server: {e}")))
}
