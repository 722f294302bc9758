//! The three engines of the TPC-H group, each in its own process so each
//! one's peak RSS is its own and none shares a runtime with another:
//! - thermocline: the suite binary re-run as `--worker thermocline WAREHOUSE`,
//!   a [`Session`](thermocline::Session) over the loaded warehouse;
//! - bare DataFusion: `--worker datafusion PARQUET_DIR`, a `SessionContext`
//!   with DataFusion's defaults and 2 target partitions, one ListingTable per
//!   table over the plain Parquet files;
//! - DuckDB: `benches/suite/tpch_duckdb.py PARQUET_DIR`, views over the same files.
//!
//! All three speak one line protocol on stdin/stdout (see tpch_duckdb.py):
//! `run qNN` answers `{"ms": .., "rows": [[..]]}` or `{"error": ".."}`, `rss`
//! answers `{"rss_kb": ..}`. The time is measured inside the worker around
//! planning + execution + collecting the result; converting the rows for the
//! answer check happens after the clock stops.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::datasource::file_format::options::{ParquetReadOptions, ReadOptions};
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::prelude::{SessionConfig, SessionContext};
use serde_json::{Value, json};

use super::harness::{R, fail};
use super::tpch_data::TABLES;

/// The Python with DuckDB and pyiceberg: `$THERMOCLINE_PYTHON`, else the
/// repository's `.venv` (made by scripts/setup.sh), else `python3`.
pub fn python() -> String {
    if let Ok(p) = std::env::var("THERMOCLINE_PYTHON") {
        return p;
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if venv.exists() {
        return venv.display().to_string();
    }
    "python3".into()
}

/// Where the 22 query files are.
pub fn queries_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/suite/tpch")
}

/// Query `name` (`q01` … `q22`) with the scale factor's substitutions.
pub fn query_sql(name: &str, fraction: &str) -> R<String> {
    let path = queries_dir().join(format!("{name}.sql"));
    let sql = std::fs::read_to_string(&path).map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    Ok(sql.replace("{FRACTION}", fraction))
}

/// Q11's FRACTION: 0.0001 / SF.
pub fn q11_fraction(sf: f64) -> String {
    format!("{}", 0.0001 / sf)
}

// ---------------------------------------------------------------- driver side

/// One engine's worker process, as the driver sees it.
pub struct Engine {
    pub name: &'static str,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// Seconds from spawn to "ready" (opening the warehouse or registering files).
    pub startup_secs: f64,
}

/// One answer of a worker.
pub struct Reply {
    pub ms: f64,
    pub rows: Vec<Vec<Value>>,
}

impl Engine {
    pub fn spawn(name: &'static str, mut command: Command) -> R<Self> {
        let started = Instant::now();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| fail(format!("cannot start the {name} worker ({command:?}): {e}")))?;
        let stdin = child.stdin.take().ok_or_else(|| fail("worker has no stdin"))?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(|| fail("worker has no stdout"))?);
        let mut engine = Self {
            name,
            child,
            stdin,
            stdout,
            startup_secs: 0.0,
        };
        let first = engine.line()?;
        if first.trim() != "ready" {
            return Err(fail(format!("the {name} worker said {first:?} instead of ready")));
        }
        engine.startup_secs = started.elapsed().as_secs_f64();
        Ok(engine)
    }

    fn line(&mut self) -> R<String> {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line)?;
        if n == 0 {
            let status = self.child.try_wait()?;
            return Err(fail(format!("the {} worker exited ({status:?})", self.name)));
        }
        Ok(line)
    }

    fn ask(&mut self, command: &str) -> R<Value> {
        writeln!(self.stdin, "{command}")?;
        self.stdin.flush()?;
        let line = self.line()?;
        serde_json::from_str(&line).map_err(|e| fail(format!("{} worker: bad reply {line:?}: {e}", self.name)))
    }

    /// Run one query; an engine's error is returned as `Err(message)`.
    pub fn run(&mut self, query: &str) -> R<Result<Reply, String>> {
        let v = self.ask(&format!("run {query}"))?;
        if let Some(e) = v.get("error").and_then(Value::as_str) {
            return Ok(Err(e.to_string()));
        }
        let ms = v
            .get("ms")
            .and_then(Value::as_f64)
            .ok_or_else(|| fail(format!("{} worker: no time in {v}", self.name)))?;
        let rows = match v.get("rows") {
            Some(Value::Array(rows)) => rows
                .iter()
                .map(|r| match r {
                    Value::Array(cells) => Ok(cells.clone()),
                    other => Err(fail(format!("{} worker: a row is not an array: {other}", self.name))),
                })
                .collect::<R<Vec<_>>>()?,
            _ => return Err(fail(format!("{} worker: no rows in its reply", self.name))),
        };
        Ok(Ok(Reply { ms, rows }))
    }

    /// EXPLAIN ANALYZE of one query (Rust workers only), as text.
    pub fn explain(&mut self, query: &str) -> R<String> {
        let v = self.ask(&format!("explain {query}"))?;
        match (
            v.get("plan").and_then(Value::as_str),
            v.get("error").and_then(Value::as_str),
        ) {
            (Some(plan), _) => Ok(plan.to_string()),
            (None, Some(e)) => Ok(format!("EXPLAIN ANALYZE failed: {e}")),
            _ => Err(fail(format!("{} worker: no plan in {v}", self.name))),
        }
    }

    /// The worker's peak resident set size in KiB.
    pub fn peak_rss_kb(&mut self) -> R<u64> {
        let v = self.ask("rss")?;
        v.get("rss_kb")
            .and_then(Value::as_u64)
            .ok_or_else(|| fail(format!("{} worker: no rss in {v}", self.name)))
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command that starts a Rust worker of this same benchmark binary.
pub fn rust_worker(engine: &str, dir: &Path, fraction: &str) -> R<Command> {
    let mut c = Command::new(std::env::current_exe()?);
    c.arg("--worker").arg(engine).arg(dir).arg(fraction);
    Ok(c)
}

pub fn duckdb_worker(parquet: &Path, fraction: &str) -> Command {
    let mut c = Command::new(python());
    c.arg(queries_dir().parent().unwrap_or(Path::new(".")).join("tpch_duckdb.py"))
        .arg(parquet)
        .arg(queries_dir())
        .arg(fraction);
    c
}

// ---------------------------------------------------------------- worker side

/// How a Rust worker answers a query.
enum Runner {
    /// The warehouse is kept open for as long as its session runs.
    Thermocline(thermocline::Session, #[allow(dead_code)] thermocline::Warehouse),
    DataFusion(SessionContext),
}

impl Runner {
    async fn query(&self, sql: &str) -> R<Vec<RecordBatch>> {
        match self {
            Runner::Thermocline(session, _) => Ok(session.query(sql).await?),
            Runner::DataFusion(ctx) => Ok(ctx.sql(sql).await?.collect().await?),
        }
    }
}

/// `--worker thermocline|datafusion DIR FRACTION`.
pub fn worker_main(args: &[String]) -> R<()> {
    let [engine, dir, fraction] = args else {
        return Err(fail("usage: --worker thermocline|datafusion DIR FRACTION"));
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let dir = PathBuf::from(dir);
        let runner = match engine.as_str() {
            "thermocline" => {
                let wh = super::data::open_warehouse(&dir).await?;
                Runner::Thermocline(wh.session(), wh)
            }
            "datafusion" => Runner::DataFusion(datafusion_context(&dir).await?),
            other => return Err(fail(format!("no engine {other}"))),
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready")?;
        out.flush()?;
        for line in std::io::stdin().lines() {
            let line = line?;
            let words: Vec<&str> = line.split_whitespace().collect();
            let reply = match words.as_slice() {
                ["rss"] => json!({ "rss_kb": peak_rss_kb() }),
                ["run", name] => {
                    let sql = query_sql(name, fraction)?;
                    let started = Instant::now();
                    match runner.query(&sql).await {
                        Ok(batches) => {
                            let ms = started.elapsed().as_secs_f64() * 1e3;
                            json!({ "ms": ms, "rows": rows_of(&batches)? })
                        }
                        Err(e) => json!({ "error": e.to_string() }),
                    }
                }
                ["explain", name] => {
                    let sql = format!("EXPLAIN ANALYZE {}", query_sql(name, fraction)?);
                    match runner.query(&sql).await {
                        Ok(batches) => json!({ "plan": plan_text(&batches)? }),
                        Err(e) => json!({ "error": e.to_string() }),
                    }
                }
                _ => json!({ "error": format!("unknown command {line:?}") }),
            };
            writeln!(out, "{reply}")?;
            out.flush()?;
        }
        R::Ok(())
    })
}

/// Bare DataFusion as a user would set it up: defaults, 2 partitions, one
/// ListingTable per table over its folder of Parquet files.
async fn datafusion_context(parquet: &Path) -> R<SessionContext> {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    for (table, _) in TABLES {
        let url = ListingTableUrl::parse(format!("{}/", parquet.join(table).display()))?;
        let options =
            ParquetReadOptions::default().to_listing_options(&ctx.copied_config(), ctx.copied_table_options());
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .infer_schema(&ctx.state())
            .await?;
        ctx.register_table(table, Arc::new(ListingTable::try_new(config)?))?;
    }
    Ok(ctx)
}

/// The plan column of EXPLAIN's answer.
fn plan_text(batches: &[RecordBatch]) -> R<String> {
    let mut out = String::new();
    for row in rows_of(batches)? {
        if let Some(Value::String(plan)) = row.last() {
            out.push_str(plan);
            out.push('\n');
        }
    }
    Ok(out)
}

/// VmHWM of this process, in KiB.
pub fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// Rows as JSON for the answer check: numbers (integers, floats, decimals)
/// as f64, dates and everything else as text.
pub fn rows_of(batches: &[RecordBatch]) -> R<Vec<Vec<Value>>> {
    let mut rows = Vec::new();
    for batch in batches {
        let columns: Vec<Vec<Value>> = batch
            .columns()
            .iter()
            .map(|c| column_values(c.as_ref()))
            .collect::<R<_>>()?;
        for i in 0..batch.num_rows() {
            rows.push(columns.iter().map(|c| c[i].clone()).collect());
        }
    }
    Ok(rows)
}

fn column_values(array: &dyn Array) -> R<Vec<Value>> {
    let numeric = array.data_type().is_numeric();
    if numeric {
        let floats = cast(array, &DataType::Float64)?;
        let floats = floats
            .as_any()
            .downcast_ref::<arrow::array::Float64Array>()
            .ok_or_else(|| fail("cast to Float64 gave another type"))?;
        return Ok((0..floats.len())
            .map(|i| {
                if floats.is_null(i) {
                    Value::Null
                } else {
                    json!(floats.value(i))
                }
            })
            .collect());
    }
    let text = cast(array, &DataType::Utf8)?;
    let text = text
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| fail("cast to Utf8 gave another type"))?;
    Ok((0..text.len())
        .map(|i| {
            if text.is_null(i) {
                Value::Null
            } else {
                json!(text.value(i))
            }
        })
        .collect())
}
