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
        let server = Server::bind(warehouse.clone(), &config).await?;
        let flight_task = match flight {
            Some((listener, service)) => {
                if let Ok(addr) = listener.local_addr() {
                    let mut stdout = std::io::stdout().lock();
                    let _ = writeln!(stdout, "flight listening on {addr}");
                }
                Some(tokio::spawn(service.serve(listener, shutdown_signal())))
            }
            None => None,
        };
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
        match flight_task {
            Some(mut task) => tokio::select! {
                served = server.run(shutdown_signal()) => {
                    task.abort();
                    served
                }
                flight = &mut task => match flight {
                    Ok(result) => result,
                    Err(e) => Err(Error::new(ErrorKind::Internal, format!("shard server task failed: {e}"))),
                },
            },
            None => server.run(shutdown_signal()).await,
        }
    })
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
