//! Helpers shared by the invariant tests (`differential`, `crash`, `race`):
//! seeds, result normalisation, re-running the test binary as a child
//! process, and reading what the current Iceberg snapshot references.
//!
//! Each test file uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use iceberg::TableIdent;
use iceberg::spec::ManifestList;
use thermocline::{Session, Warehouse};

/// The seed for a run: `THERMOCLINE_SEED` if set, else one derived from the
/// clock (printed by the caller so a failure can be replayed).
pub fn seed_from_env() -> Option<u64> {
    let text = std::env::var("THERMOCLINE_SEED").ok()?;
    let text = text.trim();
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    Some(parsed.unwrap_or_else(|e| panic!("THERMOCLINE_SEED={text:?} is not a u64: {e}")))
}

pub fn clock_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    // Mix in the pid so tests started in the same nanosecond still differ.
    (nanos as u64) ^ (u64::from(std::process::id()) << 32)
}

/// A numeric env knob with a default.
pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{name}={v:?} is not a number: {e}")),
        Err(_) => default,
    }
}

/// One result cell, normalised so thermocline and SQLite results compare:
/// booleans, dates (days) and timestamps (µs) become integers.
#[derive(Debug, Clone)]
pub enum Cell {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
}

impl Cell {
    fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Equal, with doubles compared to a relative tolerance (sums of doubles
    /// depend on the order of addition).
    pub fn matches(&self, other: &Cell) -> bool {
        match (self, other) {
            (Cell::Null, Cell::Null) => true,
            (Cell::Int(a), Cell::Int(b)) => a == b,
            (Cell::Text(a), Cell::Text(b)) => a == b,
            (a, b) => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
                _ => false,
            },
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Null => f.write_str("NULL"),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Float(x) => write!(f, "{x:?}"),
            Cell::Text(s) => write!(f, "{s:?}"),
        }
    }
}

pub type Row = Vec<Cell>;

/// Normalise one Arrow value.
pub fn cell(column: &ArrayRef, row: usize) -> Cell {
    if column.is_null(row) {
        return Cell::Null;
    }
    let int = |v: i64| Cell::Int(v);
    match column.data_type() {
        DataType::Int8 => int(column.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => int(column.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => int(column.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => int(column.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => int(column.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => int(column.as_primitive::<UInt16Type>().value(row).into()),
        DataType::UInt32 => int(column.as_primitive::<UInt32Type>().value(row).into()),
        DataType::UInt64 => {
            let v = column.as_primitive::<UInt64Type>().value(row);
            int(i64::try_from(v).unwrap_or_else(|_| panic!("UInt64 {v} does not fit i64")))
        }
        DataType::Float32 => Cell::Float(column.as_primitive::<Float32Type>().value(row).into()),
        DataType::Float64 => Cell::Float(column.as_primitive::<Float64Type>().value(row)),
        DataType::Boolean => int(i64::from(column.as_boolean().value(row))),
        DataType::Utf8 => Cell::Text(column.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Cell::Text(column.as_string::<i64>().value(row).to_string()),
        DataType::Utf8View => Cell::Text(column.as_string_view().value(row).to_string()),
        DataType::Date32 => int(column.as_primitive::<Date32Type>().value(row).into()),
        DataType::Timestamp(unit, _) => int(match unit {
            TimeUnit::Second => column.as_primitive::<TimestampSecondType>().value(row) * 1_000_000,
            TimeUnit::Millisecond => column.as_primitive::<TimestampMillisecondType>().value(row) * 1_000,
            TimeUnit::Microsecond => column.as_primitive::<TimestampMicrosecondType>().value(row),
            TimeUnit::Nanosecond => column
                .as_primitive::<TimestampNanosecondType>()
                .value(row)
                .div_euclid(1_000),
        }),
        other => panic!("no normalisation for result type {other}"),
    }
}

/// All rows of a query result, normalised.
pub fn rows(batches: &[RecordBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for batch in batches {
        for r in 0..batch.num_rows() {
            out.push(batch.columns().iter().map(|c| cell(c, r)).collect());
        }
    }
    out
}

/// The first column of a query that returns one bigint per row.
pub async fn query_i64s(session: &Session, sql: &str) -> Vec<i64> {
    let batches = session.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    rows(&batches)
        .into_iter()
        .map(|r| match r.first() {
            Some(Cell::Int(i)) => *i,
            other => panic!("{sql}: expected a bigint, got {other:?}"),
        })
        .collect()
}

/// Data files the current snapshot of `namespace.table` references: path →
/// how many live manifest entries name it (more than one is a file committed
/// twice), with the row count of each file.
#[derive(Debug, Default)]
pub struct LiveFiles {
    pub entries: usize,
    pub by_path: HashMap<String, (usize, u64)>,
    pub records: u64,
    pub snapshot_id: Option<i64>,
}

impl LiveFiles {
    /// Paths named by more than one live manifest entry.
    pub fn duplicates(&self) -> Vec<&str> {
        self.by_path
            .iter()
            .filter(|(_, (n, _))| *n > 1)
            .map(|(p, _)| p.as_str())
            .collect()
    }
}

pub async fn live_files(wh: &Warehouse, namespace: &str, table: &str) -> LiveFiles {
    let ident = TableIdent::from_strs([namespace, table]).expect("table ident");
    let table = wh
        .catalog()
        .load_table(&ident)
        .await
        .unwrap_or_else(|e| panic!("load {ident}: {e}"));
    let metadata = table.metadata();
    let mut out = LiveFiles::default();
    let Some(snapshot) = metadata.current_snapshot() else {
        return out;
    };
    out.snapshot_id = Some(snapshot.snapshot_id());
    let io = table.file_io();
    let bytes = io
        .new_input(snapshot.manifest_list())
        .expect("manifest list input")
        .read()
        .await
        .unwrap_or_else(|e| panic!("read manifest list {}: {e}", snapshot.manifest_list()));
    let list = ManifestList::parse_with_version(&bytes, metadata.format_version()).expect("parse manifest list");
    for manifest_file in list.entries() {
        let manifest = manifest_file
            .load_manifest(io)
            .await
            .unwrap_or_else(|e| panic!("load manifest {}: {e}", manifest_file.manifest_path));
        for entry in manifest.entries() {
            if !entry.is_alive() {
                continue;
            }
            out.entries += 1;
            out.records += entry.record_count();
            let slot = out
                .by_path
                .entry(entry.file_path().to_string())
                .or_insert((0, entry.record_count()));
            slot.0 += 1;
        }
    }
    out
}

/// Local path of a `file://` location (or the location itself).
pub fn local_path(location: &str) -> &Path {
    Path::new(location.strip_prefix("file://").unwrap_or(location))
}

/// A command that re-runs this test binary as a child running only `test`
/// (an `#[ignore]`d entry point). Works under `cargo test` and
/// `cargo nextest`: both run the same libtest binary, which takes a filter,
/// `--exact` and `--ignored`.
pub fn child_command(test: &str) -> Command {
    let exe = std::env::current_exe().expect("path of the test binary");
    let mut command = Command::new(exe);
    command.args([test, "--exact", "--ignored", "--nocapture", "--test-threads=1", "-q"]);
    command
}

/// A multi-thread runtime for child processes and blocking test bodies.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}
