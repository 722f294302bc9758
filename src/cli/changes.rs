//! `thermocline changes TABLE [--since LSN] [--follow]`: a table's change
//! events (see `thermocline_changes` in the README) as JSON lines on
//! stdout, oldest first; with `--follow`, new ones as they commit.
//!
//! A consumer that records the last `lsn` it handled restarts with
//! `--since <that lsn>`; after a crash it may see an event again and
//! de-duplicates by `(shard, lsn)` (at-least-once delivery).

use std::io::Write;
use std::time::Duration;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, TimestampMicrosecondType};
use thermocline::{Error, ErrorKind, Result, Warehouse};

/// Print events above `since`, and with `follow` keep polling every
/// `interval` until interrupted (or stdout closes).
pub async fn run(wh: &Warehouse, table: &str, mut since: i64, follow: bool, interval: Duration) -> Result<()> {
    let session = wh.session();
    let literal = format!("'{}'", table.replace('\'', "''"));
    let stdout = std::io::stdout();
    loop {
        let sql = format!("SELECT * FROM thermocline_changes({literal}, {since}) ORDER BY lsn, shard");
        let batches = session.query(&sql).await?;
        let mut out = stdout.lock();
        for batch in &batches {
            for line in lines(batch)? {
                if writeln!(out, "{line}").is_err() {
                    return Ok(()); // the reader went away (e.g. `| head`)
                }
            }
            let lsns = batch.column(0).as_primitive::<Int64Type>();
            if let Some(max) = arrow::compute::max(lsns) {
                since = since.max(max);
            }
        }
        if out.flush().is_err() {
            return Ok(());
        }
        drop(out);
        if !follow {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// One JSON object per event: `key`, `before` and `after` embedded as JSON.
fn lines(batch: &RecordBatch) -> Result<Vec<String>> {
    let text = |i: usize| {
        batch
            .column(i)
            .as_string_opt::<i32>()
            .ok_or_else(|| Error::new(ErrorKind::Internal, format!("change event column {i} is not text")))
    };
    let lsn = batch.column(0).as_primitive::<Int64Type>();
    let (shard, op, table, key, before, after) = (text(1)?, text(3)?, text(4)?, text(5)?, text(6)?, text(7)?);
    let at = batch.column(2).as_primitive::<TimestampMicrosecondType>();
    let json = |a: &arrow::array::StringArray, r: usize| match a.is_valid(r) {
        true => a.value(r).to_string(),
        false => "null".to_string(),
    };
    let quote = |s: &str| serde_json::Value::String(s.to_string()).to_string();
    let mut lines = Vec::with_capacity(batch.num_rows());
    for r in 0..batch.num_rows() {
        let commit_ts = match at.is_valid(r) {
            true => chrono::DateTime::from_timestamp_micros(at.value(r))
                .map(|t| quote(&t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)))
                .unwrap_or_else(|| "null".to_string()),
            false => "null".to_string(),
        };
        lines.push(format!(
            "{{\"lsn\":{},\"shard\":{},\"commit_ts\":{},\"op\":{},\"table\":{},\"key\":{},\"before\":{},\"after\":{}}}",
            lsn.value(r),
            quote(shard.value(r)),
            commit_ts,
            quote(op.value(r)),
            quote(table.value(r)),
            json(key, r),
            json(before, r),
            json(after, r),
        ));
    }
    Ok(lines)
}
