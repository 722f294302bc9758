//! The `thermocline` command line: `sql` (one-shot and REPL), `compact`,
//! `maintain` and `demo` over one warehouse folder.
//!
//! Exit status: 0 on success, 1 when a statement or command fails (a
//! one-shot `sql` stops at the first error, like psql with ON_ERROR_STOP),
//! 2 for bad command-line usage.

mod admin;
mod changes;
mod demo;
mod format;
mod progress;
mod repl;
mod serve;
mod split;
mod sql;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use thermocline::config::parse_duration;
use thermocline::write::MaintenanceOptions;
use thermocline::{CatalogKind, CompactionMode, Error, ErrorKind, Warehouse, WarehouseConfig};
use tokio::runtime::Runtime;

use self::format::Format;
use self::sql::{Printer, Source, Stop, print_error};

#[derive(Debug, Parser)]
#[command(
    name = "thermocline",
    version,
    about = "Lakehouse SQL over a SQLite hot tier and Apache Iceberg tables"
)]
#[command(after_help = "Log level: RUST_LOG (e.g. RUST_LOG=thermocline=debug), default warn, to stderr.")]
struct Cli {
    /// The warehouse: a folder or file:// URL holding catalog.db, hot/ and
    /// data/; or s3://bucket/prefix (r2://...) to query the Iceberg tables
    /// kept there (with --catalog bucket) offline and read-only.
    #[arg(long, global = true, env = "THERMOCLINE_WAREHOUSE", default_value = "./warehouse")]
    warehouse: String,
    /// Where the warehouse keeps its Iceberg catalog: sqlite (catalog.db in
    /// the folder), bucket (beside the data, so the bucket alone is a
    /// warehouse others can read), or the http(s):// URI of an Iceberg REST
    /// catalog (THERMOCLINE_CATALOG_TOKEN, _CREDENTIAL, _WAREHOUSE).
    #[arg(long, global = true, env = "THERMOCLINE_CATALOG", value_name = "KIND", value_parser = catalog_kind)]
    catalog: Option<CatalogKind>,
    /// Keep table data here instead of the warehouse's data/ folder:
    /// s3://bucket/prefix (AWS_* variables for credentials, region and
    /// AWS_ENDPOINT_URL), r2://bucket/prefix (R2_ACCOUNT_ID), or a folder.
    #[arg(long, global = true, env = "THERMOCLINE_DATA", value_name = "LOCATION")]
    data: Option<String>,
    /// This process's shard: names its hot tier and its compaction watermark.
    #[arg(long, global = true, env = "THERMOCLINE_SHARD", default_value = "local")]
    shard: String,
    /// Apply the pending migrations in DIR (`<version>_<name>.sql`, each once,
    /// in version order, each in one transaction) before the command runs.
    #[arg(long, global = true, env = "THERMOCLINE_MIGRATIONS", value_name = "DIR")]
    migrations: Option<PathBuf>,
    /// Shards other servers host, read and written over Arrow Flight:
    /// `0-49=http://10.0.0.1:7001;50-99=http://10.0.0.2:7001`.
    #[arg(long, global = true, env = "THERMOCLINE_REMOTE_SHARDS", value_name = "MAP")]
    remote_shards: Option<String>,
    /// How long a call to a remote shard may take before it fails.
    #[arg(long, global = true, env = "THERMOCLINE_SHARD_TIMEOUT", default_value = "30s", value_parser = duration)]
    shard_timeout: Duration,
    /// The secret coordinators and shard servers share; a shard server
    /// without one listens on loopback only.
    #[arg(
        long,
        global = true,
        env = "THERMOCLINE_SHARD_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    shard_token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run SQL: each -c/-f in order, or an interactive prompt without them.
    #[command(after_help = SQL_HELP)]
    Sql(SqlArgs),
    /// Move hot rows into Iceberg now (one table, or every table with hot rows).
    Compact(CompactArgs),
    /// Expire old snapshots and delete orphan files.
    Maintain(MaintainArgs),
    /// Build a demo warehouse of ~1M events, compact most, query both tiers.
    Demo(DemoArgs),
    /// Print a table's change events (c/u/d) as JSON lines; --follow for new ones.
    Changes(ChangesArgs),
    /// Serve the PostgreSQL wire protocol and the HTTP API.
    #[command(after_help = serve::HELP)]
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Settings file (TOML); THERMOCLINE_* variables override it.
    #[arg(long, env = "THERMOCLINE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Serve shards to coordinators over Arrow Flight at this address.
    #[arg(
        long,
        env = "THERMOCLINE_FLIGHT_LISTEN",
        value_name = "ADDR",
        requires = "host_shards"
    )]
    flight_listen: Option<std::net::SocketAddr>,
    /// The shards this server hosts (`0-49`, `shard-3,7`): their hot tiers,
    /// writes and compaction. Other shards in the folder are left alone.
    #[arg(
        long,
        env = "THERMOCLINE_HOST_SHARDS",
        value_name = "SHARDS",
        requires = "flight_listen"
    )]
    host_shards: Option<String>,
    /// Serve the warehouse's Iceberg catalog over the Iceberg REST protocol
    /// at this address, for pyiceberg, Spark, Trino or another warehouse's
    /// `--catalog http://ADDR`.
    #[arg(long, env = "THERMOCLINE_ICEBERG_REST_LISTEN", value_name = "ADDR")]
    iceberg_rest_listen: Option<std::net::SocketAddr>,
    /// The bearer token REST catalog clients must send; without one the
    /// catalog listens on loopback only.
    #[arg(
        long,
        env = "THERMOCLINE_ICEBERG_REST_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    iceberg_rest_token: Option<String>,
}

#[derive(Debug, Args)]
struct ChangesArgs {
    /// The table (`name` or `schema.name`).
    table: String,
    /// Only events with an lsn above this (the last one a consumer handled).
    #[arg(long, default_value_t = 0)]
    since: i64,
    /// Keep running and print new events as they commit.
    #[arg(long)]
    follow: bool,
    /// How often --follow looks for new events.
    #[arg(long, default_value = "1s", value_parser = duration)]
    interval: Duration,
}

const SQL_HELP: &str = "\
Output: --format table (default) prints aligned tables and (N rows); csv prints a
header line then RFC 4180 rows; json prints one JSON array of row objects per
statement, each on one line, so `jq '.[]'` streams rows and `jq -s` gathers
statements. Nulls are empty in table and csv, null in json. With csv and json,
command tags (INSERT 0 5) and timings go to stderr so stdout parses.

Without -c or -f: an interactive prompt (\\? for help) when stdin is a terminal,
else the SQL script read from stdin. History: $THERMOCLINE_HISTORY or
~/.thermocline_history. One-shot runs stop at the first error and exit 1.

Examples:
  thermocline sql -c \"CREATE TABLE t (id int, ts timestamptz) PARTITION BY (day(ts))\"
  thermocline sql -c \"INSERT INTO t VALUES (1, now())\" -c \"SELECT * FROM t\" --format csv
  thermocline sql -f schema.sql -f load.sql --timing";

#[derive(Debug, Args)]
struct SqlArgs {
    /// SQL to run (several statements allowed); repeatable.
    #[arg(short = 'c', long = "command", value_name = "SQL")]
    command: Vec<String>,
    /// A file of SQL statements to run (`-` for stdin); repeatable.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Vec<PathBuf>,
    /// How rows are printed.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Print each statement's run time (`Time: 1.234 ms`).
    #[arg(long)]
    timing: bool,
}

#[derive(Debug, Args)]
struct CompactArgs {
    /// Only this table (`name` or `schema.name`).
    #[arg(long, value_name = "TABLE")]
    table: Option<String>,
}

#[derive(Debug, Args)]
struct MaintainArgs {
    /// Expire snapshots older than this (90s, 5m, 2h, 7d); the current one always stays.
    #[arg(long, default_value = "7d", value_parser = duration)]
    snapshot_retention: Duration,
    /// Delete unreferenced files older than this.
    #[arg(long, default_value = "3d", value_parser = duration)]
    orphan_retention: Duration,
    /// Report what would be removed, remove nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Events to load.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Of those, how many stay in the hot tier (not compacted).
    #[arg(long, default_value_t = 50_000)]
    hot_rows: u64,
}

fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).map_err(|e| e.to_string())
}

pub fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if !matches!(cli.command, Command::Serve(_)) {
        init_tracing();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            print_error(
                &Error::new(ErrorKind::Internal, "cannot start the async runtime").with_source(e),
                None,
            );
            return ExitCode::FAILURE;
        }
    };
    let sql_matches = matches.subcommand_matches("sql");
    let warehouse_given = !matches!(
        matches.value_source("warehouse"),
        None | Some(clap::parser::ValueSource::DefaultValue)
    );
    if let Command::Serve(args) = &cli.command {
        return match serve::run(&runtime, &cli, args, warehouse_given) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                print_error(&e, None);
                ExitCode::FAILURE
            }
        };
    }
    match run(&runtime, cli, sql_matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Printed) => ExitCode::FAILURE,
        Err(Failure::Error(e)) => {
            print_error(&e, None);
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// How a command failed.
enum Failure {
    /// The error is already on stderr.
    Printed,
    Error(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Error(e)
    }
}

/// Folders queries may read files from: `THERMOCLINE_FILE_ROOTS`
/// (`:`-separated), and the current folder when `with_current`.
pub(crate) fn file_roots(with_current: bool) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = std::env::var_os("THERMOCLINE_FILE_ROOTS")
        .map(|v| {
            std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if with_current && let Ok(current) = std::env::current_dir() {
        roots.push(current);
    }
    roots
}

/// `--catalog`; a REST catalog's token, OAuth credential and warehouse
/// come from THERMOCLINE_CATALOG_TOKEN, _CREDENTIAL and _WAREHOUSE.
fn catalog_kind(text: &str) -> Result<CatalogKind, String> {
    let mut kind: CatalogKind = text.parse().map_err(|e: Error| e.to_string())?;
    if let CatalogKind::Rest { properties, .. } = &mut kind {
        for (var, property) in [
            ("THERMOCLINE_CATALOG_TOKEN", thermocline_catalog::rest::TOKEN),
            ("THERMOCLINE_CATALOG_CREDENTIAL", thermocline_catalog::rest::CREDENTIAL),
            ("THERMOCLINE_CATALOG_WAREHOUSE", thermocline_catalog::rest::WAREHOUSE),
        ] {
            if let Some(value) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
                properties.insert(property.to_string(), value);
            }
        }
    }
    Ok(kind)
}

/// The warehouse at `location` with the shard, data and catalog options.
fn base_config(cli: &Cli, location: &str) -> Result<WarehouseConfig, Error> {
    let storage = thermocline::store::StorageConfig::from_env();
    let mut config = WarehouseConfig::from_location(location, storage.clone())?.with_shard(cli.shard.clone());
    if let Some(data) = &cli.data {
        if config.is_offline() {
            return Err(Error::new(
                ErrorKind::Config,
                format!("--data cannot be given with --warehouse {location}: the bucket is the data location"),
            ));
        }
        config = config.with_data(data.clone(), storage);
    }
    match (cli.catalog.clone(), config.is_offline()) {
        (Some(CatalogKind::Sqlite), true) => Err(Error::new(
            ErrorKind::Config,
            format!(
                "--warehouse {location} reads the catalog kept in the bucket; --catalog sqlite needs a warehouse folder"
            ),
        )),
        (Some(kind), _) => Ok(config.with_catalog(kind)),
        (None, _) => Ok(config),
    }
}

/// The warehouse the global options name.
fn warehouse_config(cli: &Cli) -> Result<WarehouseConfig, Error> {
    // The CLI reads files under the current folder (and the roots named in
    // THERMOCLINE_FILE_ROOTS) as tables.
    let config = base_config(cli, &cli.warehouse)?.with_file_roots(file_roots(true));
    with_remote_shards(config, cli)
}

/// `config` with the remote shards and shard timeout the options name.
fn with_remote_shards(config: WarehouseConfig, cli: &Cli) -> Result<WarehouseConfig, Error> {
    let mut config = config.with_shard_timeout(cli.shard_timeout);
    if let Some(token) = &cli.shard_token {
        config = config.with_shard_token(token.clone());
    }
    Ok(match &cli.remote_shards {
        Some(map) => config.with_remote_shards(
            thermocline::shard::remote::parse_shard_map(map)
                .map_err(|e| e.with_context("option", "--remote-shards"))?,
        ),
        None => config,
    })
}

fn open(runtime: &Runtime, cli: &Cli, mode: CompactionMode) -> Result<Warehouse, Error> {
    let mut config = warehouse_config(cli)?;
    if !config.read_only {
        config = config.with_compaction(mode);
    }
    let wh = runtime
        .block_on(Warehouse::open(config))
        .map_err(|e| e.with_context("warehouse", &cli.warehouse))?;
    if let Some(dir) = &cli.migrations {
        // On stderr, like command tags: stdout stays rows only.
        runtime.block_on(wh.migrate_with(dir, |m| {
            let plural = if m.statements == 1 { "" } else { "s" };
            eprintln!("applied migration {} ({} statement{plural})", m.file, m.statements);
        }))?;
    }
    Ok(wh)
}

fn run(runtime: &Runtime, cli: Cli, sql_matches: Option<&ArgMatches>) -> Result<(), Failure> {
    match &cli.command {
        Command::Sql(args) => {
            let printer = Printer {
                format: args.format,
                timing: args.timing,
            };
            let sources = sql_matches.map(ordered_sources).unwrap_or_default();
            if sources.is_empty() && std::io::stdin().is_terminal() {
                // The prompt's writes are compacted in the background, so
                // they return at once.
                let wh = open(runtime, &cli, CompactionMode::Background)?;
                let session = wh.session();
                return Ok(repl::run(runtime, &session, printer)?);
            }
            let sources = if sources.is_empty() {
                vec![Source::File(PathBuf::from("-"))]
            } else {
                sources
            };
            // One-shot: compaction that is due runs before a statement
            // returns, as nothing would be left running to do it later.
            let wh = open(runtime, &cli, CompactionMode::Inline)?;
            let session = wh.session();
            match runtime.block_on(printer.run_sources(&session, &sources)) {
                Ok(()) | Err(Stop::Closed) => Ok(()),
                Err(Stop::Failed) => Err(Failure::Printed),
            }
        }
        Command::Compact(args) => {
            let table = args.table.as_deref().map(admin::parse_table_name).transpose()?;
            let wh = open(runtime, &cli, CompactionMode::Manual)?;
            runtime.block_on(admin::compact(&wh, table.as_ref()))?;
            Ok(())
        }
        Command::Maintain(args) => {
            let options = MaintenanceOptions {
                snapshot_retention: args.snapshot_retention,
                orphan_retention: args.orphan_retention,
                dry_run: args.dry_run,
            };
            let wh = open(runtime, &cli, CompactionMode::Manual)?;
            runtime.block_on(admin::maintain(&wh, &options))?;
            Ok(())
        }
        Command::Changes(args) => {
            let wh = open(runtime, &cli, CompactionMode::Manual)?;
            runtime.block_on(changes::run(&wh, &args.table, args.since, args.follow, args.interval))?;
            Ok(())
        }
        Command::Serve(_) => Err(Error::internal("serve is run by main").into()),
        Command::Demo(args) => {
            if args.hot_rows > args.rows {
                return Err(Error::new(ErrorKind::Config, "--hot-rows cannot exceed --rows")
                    .with_context("rows", args.rows)
                    .with_context("hot_rows", args.hot_rows)
                    .into());
            }
            let wh = open(runtime, &cli, CompactionMode::Manual)?;
            runtime.block_on(demo::run(&wh, args.rows, args.hot_rows))?;
            Ok(())
        }
    }
}

/// `-c` and `-f` in the order they were given, as psql runs them.
fn ordered_sources(matches: &ArgMatches) -> Vec<Source> {
    let mut sources: Vec<(usize, Source)> = Vec::new();
    if let (Some(indices), Some(values)) = (matches.indices_of("command"), matches.get_many::<String>("command")) {
        sources.extend(indices.zip(values).map(|(i, sql)| (i, Source::Command(sql.clone()))));
    }
    if let (Some(indices), Some(values)) = (matches.indices_of("file"), matches.get_many::<PathBuf>("file")) {
        sources.extend(indices.zip(values).map(|(i, path)| (i, Source::File(path.clone()))));
    }
    sources.sort_by_key(|(i, _)| *i);
    sources.into_iter().map(|(_, source)| source).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(args: &[&str]) -> Vec<String> {
        let matches = Cli::command().get_matches_from(args);
        let sql = matches
            .subcommand_matches("sql")
            .map(ordered_sources)
            .unwrap_or_default();
        sql.into_iter()
            .map(|s| match s {
                Source::Command(c) => format!("c:{c}"),
                Source::File(f) => format!("f:{}", f.display()),
            })
            .collect()
    }

    #[test]
    fn commands_and_files_keep_their_order() {
        let got = sources(&[
            "thermocline",
            "sql",
            "-f",
            "a.sql",
            "-c",
            "SELECT 1",
            "-f",
            "b.sql",
            "-c",
            "SELECT 2",
        ]);
        assert_eq!(got, ["f:a.sql", "c:SELECT 1", "f:b.sql", "c:SELECT 2"]);
    }

    #[test]
    fn global_options_go_before_or_after_the_command() {
        let cli = Cli::parse_from(["thermocline", "sql", "--warehouse", "/tmp/w", "-c", "SELECT 1"]);
        assert_eq!(cli.warehouse, "/tmp/w");
        let cli = Cli::parse_from(["thermocline", "--shard", "s1", "compact", "--table", "events"]);
        assert_eq!(cli.shard, "s1");
        assert!(matches!(cli.command, Command::Compact(CompactArgs { table: Some(ref t) }) if t == "events"));
        let cli = Cli::parse_from(["thermocline", "sql", "--migrations", "db/migrations", "-c", "SELECT 1"]);
        assert_eq!(cli.migrations, Some(PathBuf::from("db/migrations")));
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
