//! SQL behaviour tests: every `tests/slt/*.slt` file (DataFusion's
//! sqllogictest format) run against a fresh warehouse.
//!
//! Each file runs in two modes, each in its own tempdir warehouse (shard
//! `local`, `CompactionMode::Manual`, 2 target partitions so plans do not
//! depend on the machine's core count):
//! - `plain`: records run as written.
//! - `checkpoint`: a `CHECKPOINT` (compact every table) runs before every
//!   `query` record, so every expected result is checked with the rows in
//!   Iceberg as well as in the hot tier: "each query gives the same answer
//!   before and after CHECKPOINT", with the same expected text.
//!
//! A file runs in plain mode only when its name starts with `explain_` or one
//! of its first lines is `# mode: plain-only` (EXPLAIN shows the tiers, which
//! differ between modes). Files may also use `onlyif plain` / `skipif
//! checkpoint` (the mode is a label) on single records.
//!
//! Values are rendered as text the way DataFusion's runner does: NULL as
//! `NULL`, the empty string as `(empty)`, booleans `true`/`false`, floats
//! rounded to 12 decimals with trailing zeros removed (`NaN`, `Infinity`),
//! decimals with their scale (`12.30`), timestamps as Arrow prints them
//! (`2026-01-02T03:04:05`, `...Z` with a time zone). A cell with line breaks
//! (EXPLAIN plans) becomes one row per line. Column types in `query <types>`
//! are checked strictly: `I` integer, `R` float or decimal, `T` text, `B`
//! boolean, `D` date or time, `P` timestamp, `?` anything else.
//!
//! Normalisation of EXPLAIN output (the only output that is rewritten), so
//! files can assert on plans whose ids and paths vary from run to run:
//! - `snapshot=<digits>` becomes `snapshot=<id>`;
//! - a path token (between spaces, brackets, braces, parentheses or commas)
//!   that ends in `.parquet` or contains the warehouse folder becomes `<path>`.
//!
//! Error records (`statement error <regex>`) match against the engine's
//! error text (`Display` of `thermocline::Error`: message plus its context
//! pairs); `statement error (<sqlstate>)` is not used but SQLSTATEs are
//! reported, so a record may also match on them.
//!
//! Usage:
//! - `cargo test --test sqllogictests` runs everything; a free argument is a
//!   filter on test names (`cargo test --test sqllogictests -- insert`).
//!   One line per file and mode, then `N passed, M failed` (CI reads that
//!   line); the exit code is 1 on any failure.
//! - `THERMOCLINE_SLT_COMPLETE=1 cargo test --test sqllogictests -- insert`
//!   rewrites the expected output of the selected files from a plain-mode run
//!   (like sqllogictest's `--complete`), then runs them as tests. Read the
//!   diff: a wrong value written here is a bug, not a new expectation.
//! - `cargo nextest run --test sqllogictests`: the libtest listing protocol
//!   (`--list --format terse`, `NAME --exact --nocapture`) is implemented, one
//!   test per file and mode (`insert.slt::plain`, `insert.slt::checkpoint`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Float32Type, Float64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use sqllogictest::{ColumnType, DBOutput, Record, StatementExpect};
use thermocline::{CompactionMode, Session, StatementOutput, Warehouse, WarehouseConfig};

/// A file taking longer than this fails rather than hanging the suite.
const FILE_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Checkpoint,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Checkpoint => "checkpoint",
        }
    }
}

#[derive(Debug, Clone)]
struct Case {
    path: PathBuf,
    mode: Mode,
}

impl Case {
    fn name(&self) -> String {
        let file = self
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("{file}::{}", self.mode.name())
    }
}

/// The column types of `query <types>`, as in DataFusion's runner.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ColType {
    Integer,
    Float,
    Text,
    Boolean,
    DateTime,
    Timestamp,
    Other,
}

impl ColumnType for ColType {
    fn from_char(value: char) -> Option<Self> {
        Some(match value {
            'I' => Self::Integer,
            'R' => Self::Float,
            'T' => Self::Text,
            'B' => Self::Boolean,
            'D' => Self::DateTime,
            'P' => Self::Timestamp,
            _ => Self::Other,
        })
    }

    fn to_char(&self) -> char {
        match self {
            Self::Integer => 'I',
            Self::Float => 'R',
            Self::Text => 'T',
            Self::Boolean => 'B',
            Self::DateTime => 'D',
            Self::Timestamp => 'P',
            Self::Other => '?',
        }
    }
}

fn col_type(data_type: &DataType) -> ColType {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => ColType::Integer,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => ColType::Float,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColType::Text,
        DataType::Boolean => ColType::Boolean,
        DataType::Date32 | DataType::Date64 | DataType::Time32(_) | DataType::Time64(_) => ColType::DateTime,
        DataType::Timestamp(..) => ColType::Timestamp,
        DataType::Dictionary(_, value) => col_type(value),
        _ => ColType::Other,
    }
}

/// One connection: a session on the case's warehouse.
struct Db {
    session: Session,
    /// The warehouse folder, to normalise paths out of EXPLAIN output.
    root: String,
}

#[async_trait]
impl sqllogictest::AsyncDB for Db {
    type Error = thermocline::Error;
    type ColumnType = ColType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<ColType>, thermocline::Error> {
        let mut outputs = self.session.execute(sql).await?;
        let Some(output) = outputs.pop() else {
            return Ok(DBOutput::StatementComplete(0));
        };
        if !output.has_rows() {
            return Ok(DBOutput::StatementComplete(tag_count(&output.tag)));
        }
        let explain = sql
            .trim_start()
            .get(..7)
            .is_some_and(|w| w.eq_ignore_ascii_case("explain"));
        render(&output, explain.then_some(self.root.as_str()))
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "thermocline"
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }

    fn error_sql_state(err: &thermocline::Error) -> Option<String> {
        Some(err.kind().sqlstate().to_string())
    }
}

/// `INSERT 0 5` → 5, `SELECT 3` → 3, `CREATE TABLE` → 0.
fn tag_count(tag: &str) -> u64 {
    tag.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

fn render(output: &StatementOutput, explain_root: Option<&str>) -> Result<DBOutput<ColType>, thermocline::Error> {
    let types = output.schema.fields().iter().map(|f| col_type(f.data_type())).collect();
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in &output.batches {
        let columns: Vec<Vec<String>> = batch
            .columns()
            .iter()
            .map(|c| column_strings(c, &options))
            .collect::<Result<_, _>>()?;
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = columns
                .iter()
                .map(|c| match explain_root {
                    Some(root) => normalise_explain(&c[row], root),
                    None => c[row].clone(),
                })
                .collect();
            expand_lines(cells, &mut rows);
        }
    }
    Ok(DBOutput::Rows { types, rows })
}

fn column_strings(array: &ArrayRef, options: &FormatOptions<'_>) -> Result<Vec<String>, thermocline::Error> {
    let formatter = ArrayFormatter::try_new(array.as_ref(), options)?;
    let mut out = Vec::with_capacity(array.len());
    for i in 0..array.len() {
        if array.is_null(i) {
            out.push("NULL".to_string());
            continue;
        }
        let text = match array.data_type() {
            DataType::Float64 => float_to_str(array.as_primitive::<Float64Type>().value(i)),
            // Through f32's shortest text, so 1.1f32 is `1.1`, not 1.100000023842.
            DataType::Float32 => {
                let v = array.as_primitive::<Float32Type>().value(i);
                float_to_str(v.to_string().parse::<f64>().unwrap_or(f64::NAN))
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let s = formatter.value(i).to_string();
                if s.is_empty() { "(empty)".to_string() } else { s }
            }
            _ => formatter.value(i).to_string(),
        };
        out.push(text);
    }
    Ok(out)
}

fn float_to_str(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    let s = format!("{v:.12}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

/// A row whose cells hold line breaks becomes one row per line; the other
/// cells are empty on the continuation rows.
fn expand_lines(cells: Vec<String>, rows: &mut Vec<Vec<String>>) {
    if !cells.iter().any(|c| c.contains('\n')) {
        rows.push(cells);
        return;
    }
    let split: Vec<Vec<&str>> = cells.iter().map(|c| c.lines().collect()).collect();
    let height = split.iter().map(Vec::len).max().unwrap_or(1);
    for line in 0..height {
        rows.push(
            split
                .iter()
                .map(|c| c.get(line).copied().unwrap_or("").to_string())
                .collect(),
        );
    }
}

fn normalise_explain(text: &str, root: &str) -> String {
    let root = root.trim_start_matches('/');
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if !token.is_empty() {
            if token.ends_with(".parquet") || (!root.is_empty() && token.contains(root)) {
                out.push_str("<path>");
            } else {
                out.push_str(&normalise_snapshot(token));
            }
            token.clear();
        }
    };
    for c in text.chars() {
        if c.is_whitespace() || matches!(c, '[' | ']' | '{' | '}' | '(' | ')' | ',') {
            flush(&mut token, &mut out);
            out.push(c);
        } else {
            token.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}

/// `snapshot=123` → `snapshot=<id>`.
fn normalise_snapshot(token: &str) -> String {
    match token.split_once("snapshot=") {
        Some((before, digits)) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{before}snapshot=<id>")
        }
        _ => token.to_string(),
    }
}

fn plain_only(path: &Path) -> bool {
    let explain = path
        .file_name()
        .is_some_and(|f| f.to_string_lossy().starts_with("explain_"));
    let marked = std::fs::read_to_string(path)
        .map(|text| text.lines().take(20).any(|l| l.trim() == "# mode: plain-only"))
        .unwrap_or(false);
    explain || marked
}

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "slt"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for path in slt_files() {
        out.push(Case {
            path: path.clone(),
            mode: Mode::Plain,
        });
        if !plain_only(&path) {
            out.push(Case {
                path,
                mode: Mode::Checkpoint,
            });
        }
    }
    out
}

async fn open_warehouse(dir: &Path) -> Result<Warehouse, String> {
    let config = WarehouseConfig::new(dir)
        .with_shard("local")
        .with_compaction(CompactionMode::Manual)
        .with_target_partitions(2);
    Warehouse::open(config)
        .await
        .map_err(|e| format!("cannot open the warehouse in {}: {e}", dir.display()))
}

type Runner =
    sqllogictest::Runner<Db, Box<dyn FnMut() -> futures::future::Ready<Result<Db, thermocline::Error>> + Send>>;

fn runner(warehouse: &Warehouse, root: &Path, mode: Mode) -> Runner {
    let warehouse = warehouse.clone();
    let root = root.display().to_string();
    let make: Box<dyn FnMut() -> futures::future::Ready<Result<Db, thermocline::Error>> + Send> = Box::new(move || {
        futures::future::ready(Ok(Db {
            session: warehouse.session(),
            root: root.clone(),
        }))
    });
    let mut runner = sqllogictest::Runner::new(make);
    runner.add_label(mode.name());
    runner.with_validator(validator);
    runner.with_column_validator(sqllogictest::strict_column_validator);
    runner
}

/// sqllogictest's default validator, except that a row is compared as one
/// line with its outer whitespace trimmed: continuation rows of a multi-line
/// cell start with empty cells, which would otherwise leave a leading space.
fn validator(normalizer: sqllogictest::Normalizer, actual: &[Vec<String>], expected: &[String]) -> bool {
    let joined: Vec<Vec<String>> = actual
        .iter()
        .map(|row| vec![row.iter().map(normalizer).collect::<Vec<_>>().join(" ")])
        .collect();
    sqllogictest::default_validator(normalizer, &joined, expected)
}

/// The records of a file; in checkpoint mode a `CHECKPOINT` before every query.
fn records(path: &Path, mode: Mode) -> Result<Vec<Record<ColType>>, String> {
    let parsed = sqllogictest::parse_file::<ColType>(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if mode == Mode::Plain {
        return Ok(parsed);
    }
    let mut out = Vec::with_capacity(parsed.len() * 2);
    for record in parsed {
        if let Record::Query {
            loc,
            conditions,
            connection,
            ..
        } = &record
        {
            out.push(Record::Statement {
                loc: loc.clone(),
                conditions: conditions.clone(),
                connection: connection.clone(),
                sql: "CHECKPOINT".to_string(),
                expected: StatementExpect::Ok,
                retry: None,
            });
        }
        out.push(record);
    }
    Ok(out)
}

async fn run_case(case: Case) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a tempdir: {e}"))?;
    let warehouse = open_warehouse(dir.path()).await?;
    let records = records(&case.path, case.mode)?;
    let mut runner = runner(&warehouse, dir.path(), case.mode);
    let result = runner.run_multi_async(records).await;
    runner.shutdown_async().await;
    result.map_err(|e| e.display(false).to_string())
}

/// Rewrite a file's expected output from a plain-mode run.
async fn complete(path: PathBuf) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("cannot make a tempdir: {e}"))?;
    let warehouse = open_warehouse(dir.path()).await?;
    let mut runner = runner(&warehouse, dir.path(), Mode::Plain);
    let result = runner
        .update_test_file(
            &path,
            " ",
            validator,
            sqllogictest::default_normalizer,
            sqllogictest::strict_column_validator,
        )
        .await
        .map_err(|e| format!("{}: {e}", path.display()));
    runner.shutdown_async().await;
    result
}

/// Run in a task of its own so a panic in the engine is a failure, not an abort.
async fn guarded<F>(what: String, future: F) -> Result<(), String>
where
    F: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    match tokio::time::timeout(FILE_TIMEOUT, tokio::spawn(future)).await {
        Err(_) => Err(format!("{what}: timed out after {FILE_TIMEOUT:?}")),
        Ok(Err(join)) if join.is_panic() => Err(format!("{what}: PANIC: {join}")),
        Ok(Err(join)) => Err(format!("{what}: {join}")),
        Ok(Ok(result)) => result,
    }
}

#[derive(Debug, Default)]
struct Args {
    list: bool,
    ignored: bool,
    exact: bool,
    filters: Vec<String>,
}

/// libtest's flags, as cargo test and nextest pass them; unknown flags are
/// ignored, free arguments are name filters.
fn parse_args() -> Args {
    let mut args = Args::default();
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--list" => args.list = true,
            "--ignored" => args.ignored = true,
            "--exact" => args.exact = true,
            // Flags that take a value as the next argument.
            "--format" | "--test-threads" | "--logfile" | "--skip" | "--color" | "-Z" | "--report-time" => {
                iter.next();
            }
            other if other.starts_with('-') => {}
            other => args.filters.push(other.to_string()),
        }
    }
    args
}

fn main() -> ExitCode {
    let args = parse_args();
    let selected: Vec<Case> = cases()
        .into_iter()
        .filter(|c| {
            let name = c.name();
            args.filters.is_empty()
                || args.filters.iter().any(|f| {
                    if args.exact {
                        name == *f
                    } else {
                        name.contains(f.as_str())
                    }
                })
        })
        .collect();
    if args.list {
        // No test is ignored: `--list --ignored` lists nothing.
        if !args.ignored {
            for case in &selected {
                println!("{}: test", case.name());
            }
        }
        return ExitCode::SUCCESS;
    }
    if args.ignored {
        println!("0 passed, 0 failed");
        return ExitCode::SUCCESS;
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let complete_mode = std::env::var("THERMOCLINE_SLT_COMPLETE").is_ok_and(|v| v == "1");
    let (passed, failures) = runtime.block_on(async {
        let mut failures: Vec<(String, String)> = Vec::new();
        if complete_mode {
            let mut files: Vec<PathBuf> = selected.iter().map(|c| c.path.clone()).collect();
            files.dedup();
            for path in files {
                let name = format!("{}::complete", path.display());
                match guarded(name.clone(), complete(path.clone())).await {
                    Ok(()) => println!("completed {}", path.display()),
                    Err(e) => failures.push((name, e)),
                }
            }
        }
        let mut passed = 0usize;
        for case in &selected {
            let name = case.name();
            let started = Instant::now();
            let result = guarded(name.clone(), run_case(case.clone())).await;
            let elapsed = started.elapsed().as_secs_f64();
            match result {
                Ok(()) => {
                    passed += 1;
                    println!("{name} ... ok ({elapsed:.2}s)");
                }
                Err(e) => {
                    println!("{name} ... FAILED ({elapsed:.2}s)");
                    failures.push((name, e));
                }
            }
        }
        (passed, failures)
    });
    for (name, error) in &failures {
        println!("\n---- {name} ----\n{error}");
    }
    println!("\n{passed} passed, {} failed", failures.len());
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
