//! `thermocline serve`: open the warehouse, bind the listeners, print
//! where they are, serve until Ctrl-C or SIGTERM.

use std::io::Write as _;
use std::sync::Arc;

use thermocline::server::config::ProcessEnvironment;
use thermocline::server::{LogFormat, Server, ServerConfig};
use thermocline::{CompactionMode, Error, ErrorKind, Warehouse};
use tokio::runtime::Runtime;

use super::{Cli, ServeArgs};

pub const HELP: &str = "\
Settings come from --config FILE (TOML) and the environment, which wins:
  THERMOCLINE_PG_LISTEN      PostgreSQL address (default 127.0.0.1:5432)
  THERMOCLINE_PG_USER        the user clients log in as (default thermocline)
  THERMOCLINE_PG_PASSWORD    its password (SCRAM-SHA-256)
  THERMOCLINE_PG_AUTH        trust: no password (only on a loopback address)
  THERMOCLINE_PG_TLS_CERT / THERMOCLINE_PG_TLS_KEY   PEM files: offer TLS
  THERMOCLINE_HTTP_LISTEN    start the HTTP API here (e.g. 127.0.0.1:8080)
  THERMOCLINE_HTTP_TOKEN     its bearer token
  THERMOCLINE_FLIGHT_LISTEN / THERMOCLINE_HOST_SHARDS  serve these shards
                             to coordinators over Arrow Flight (--flight-listen,
                             --host-shards 0-49)
  THERMOCLINE_LOG            log level or filter (default info)
  THERMOCLINE_LOG_FORMAT     text or json
Each listener's address is printed on stdout once it is bound.

Examples:
  THERMOCLINE_PG_PASSWORD=secret thermocline serve
  psql \"postgresql://thermocline:secret@127.0.0.1:5432/thermocline\"";

pub fn run(runtime: &Runtime, cli: &Cli, args: &ServeArgs, warehouse_given: bool) -> Result<(), Error> {
    let config = ServerConfig::load(args.config.as_deref(), &ProcessEnvironment)?;
    init_logging(&config);
    let location = match (&config.warehouse, warehouse_given) {
        (Some(from_config), false) => from_config.clone(),
        _ => cli.warehouse.clone(),
    };
    // A server reads no local files as tables unless told which folders.
    let mut warehouse_config = super::base_config(cli, &location)?.with_file_roots(super::file_roots(false));
    if !warehouse_config.read_only {
        warehouse_config = warehouse_config.with_compaction(CompactionMode::Background);
    }
    if let Some(sharding) = &config.sharding {
        warehouse_config = warehouse_config.with_sharding(sharding.clone());
    }
    warehouse_config = super::with_remote_shards(warehouse_config, cli)?;
    let hosted = match &args.host_shards {
        Some(spec) => Some(
            thermocline::shard::remote::parse_shard_set(spec).map_err(|e| e.with_context("option", "--host-shards"))?,
        ),
        None => None,
    };
    if let Some(hosted) = &hosted {
        warehouse_config = warehouse_config.with_hosted_shards(hosted.clone());
    }
    runtime.block_on(async {
        let warehouse = Warehouse::open(warehouse_config)
            .await
            .map_err(|e| e.with_context("warehouse", &location))?;
        if let Some(dir) = &cli.migrations {
            warehouse
                .migrate_with(
                    dir,
                    |m| tracing::info!(file = %m.file, statements = m.statements, "applied migration"),
                )
                .await?;
        }
        let warehouse = Arc::new(warehouse);
        let flight = match (args.flight_listen, &hosted) {
            (Some(addr), Some(hosted)) => {
                let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                    Error::new(
                        ErrorKind::Config,
                        format!("cannot listen on {addr} for Arrow Flight: {e}"),
                    )
                })?;
                let service = warehouse.shard_service(hosted.clone());
                service.check_listen(addr)?;
                Some((listener, service))
            }
            _ => None,
        };
        let iceberg_rest = match args.iceberg_rest_listen {
            Some(addr) => Some(bind_iceberg_rest(addr, args.iceberg_rest_token.as_deref()).await?),
            None => None,
        };
        let server = Server::bind(warehouse.clone(), &config).await?;
        // Servers beside the PostgreSQL and HTTP ones.
        let mut side_tasks = Vec::new();
        if let Some((listener, service)) = flight {
            if let Ok(addr) = listener.local_addr() {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "flight listening on {addr}");
            }
            side_tasks.push(tokio::spawn(service.serve(listener, shutdown_signal())));
        }
        if let Some((listener, options)) = iceberg_rest {
            if let Ok(addr) = listener.local_addr() {
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "iceberg rest catalog listening on http://{addr}");
            }
            let router = thermocline_catalog::rest::router(warehouse.catalog(), options);
            side_tasks.push(tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown_signal())
                    .await
                    .map_err(|e| Error::new(ErrorKind::Internal, format!("iceberg rest catalog server: {e}")))
            }));
        }
        {
            let mut stdout = std::io::stdout().lock();
            if let Some(addr) = server.pg_addr() {
                let _ = writeln!(stdout, "postgres listening on {addr}");
            }
            if let Some(addr) = server.http_addr() {
                let _ = writeln!(stdout, "http listening on {addr}");
            }
            let _ = stdout.flush();
        }
        // Whichever stops first (the Flight server failing included) ends
        // the process.
        if side_tasks.is_empty() {
            return server.run(shutdown_signal()).await;
        }
        let mut side = futures::future::select_all(side_tasks);
        tokio::select! {
            served = server.run(shutdown_signal()) => {
                for task in side.into_inner() {
                    task.abort();
                }
                served
            }
            (ended, _, rest) = &mut side => {
                for task in rest {
                    task.abort();
                }
                match ended {
                    Ok(result) => result,
                    Err(e) => Err(Error::new(ErrorKind::Internal, format!("server task failed: {e}"))),
                }
            }
        }
    })
}

/// The Iceberg REST catalog's listener and options; off loopback only
/// with a token, like the shard server.
async fn bind_iceberg_rest(
    addr: std::net::SocketAddr,
    token: Option<&str>,
) -> Result<(tokio::net::TcpListener, thermocline_catalog::rest::ServerOptions), Error> {
    let mut options = thermocline_catalog::rest::ServerOptions::new();
    match token {
        Some(token) if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(Error::new(
                ErrorKind::Config,
                "the Iceberg REST token must be non-empty printable ASCII without spaces",
            ));
        }
        Some(token) => options = options.with_bearer_token(token),
        None if !addr.ip().is_loopback() => {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "refusing to serve the Iceberg catalog on {addr} without a token: set THERMOCLINE_ICEBERG_REST_TOKEN or listen on loopback"
                ),
            ));
        }
        None => {}
    }
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!("cannot listen on {addr} for the Iceberg REST catalog: {e}"),
        )
    })?;
    Ok((listener, options))
}

/// Ctrl-C, or SIGTERM (what `docker stop` and systemd send).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down");
}

fn init_logging(config: &ServerConfig) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}
