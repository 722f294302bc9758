//! The one client both servers get: tokio-postgres over TCP, plus what the
//! benchmark needs on top of it: COPY loading and answers in a form that
//! compares across engines.

use std::pin::pin;

use bytes::Bytes;
use futures::SinkExt as _;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, Row};

use super::harness::{R, fail};
use super::servers::Endpoint;

/// One connection; its I/O task runs on the bench's runtime.
pub async fn connect(endpoint: &Endpoint) -> R<Client> {
    let (client, connection) = tokio_postgres::connect(&endpoint.conninfo(), NoTls)
        .await
        .map_err(|e| fail(format!("connecting to {}: {e}", endpoint.conninfo())))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("connection error: {e}");
        }
    });
    Ok(client)
}

/// `COPY ... FROM STDIN` of `rows` lines that `line(i, buf)` appends, sent
/// in ~1 MB messages; checks the row count the server reports.
pub async fn copy_in(client: &Client, sql: &str, rows: u64, mut line: impl FnMut(u64, &mut String)) -> R<()> {
    const CHUNK: usize = 1 << 20;
    let mut sink = pin!(client.copy_in::<_, Bytes>(sql).await?);
    let mut buf = String::with_capacity(CHUNK + 256);
    for i in 0..rows {
        line(i, &mut buf);
        if buf.len() >= CHUNK {
            sink.send(Bytes::from(std::mem::take(&mut buf))).await?;
        }
    }
    if !buf.is_empty() {
        sink.send(Bytes::from(buf)).await?;
    }
    let copied = sink.as_mut().finish().await?;
    if copied != rows {
        return Err(fail(format!(
            "{sql}: the server reports {copied} rows copied, expected {rows}"
        )));
    }
    Ok(())
}

/// A result value as both engines' answers compare.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) => true,
            (Int(a), Int(b)) => a == b,
            (Text(a), Text(b)) => a == b,
            (Bool(a), Bool(b)) => a == b,
            // An integer answer typed float8 by one engine is still the answer.
            (Int(a), Float(b)) | (Float(b), Int(a)) => (*a as f64) == *b,
            // The data are multiples of 0.25, so sums are exact in any order;
            // the tolerance only absorbs a last-bit difference in a division.
            (Float(a), Float(b)) => a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs()),
            _ => false,
        }
    }
}

/// Row `row`'s values; fails on a type the benchmark does not compare.
pub fn values(row: &Row) -> R<Vec<Value>> {
    let mut out = Vec::with_capacity(row.len());
    for (i, column) in row.columns().iter().enumerate() {
        let t = column.type_();
        let v = if *t == Type::INT8 {
            row.try_get::<_, Option<i64>>(i)?.map(Value::Int)
        } else if *t == Type::INT4 {
            row.try_get::<_, Option<i32>>(i)?.map(|v| Value::Int(v.into()))
        } else if *t == Type::INT2 {
            row.try_get::<_, Option<i16>>(i)?.map(|v| Value::Int(v.into()))
        } else if *t == Type::FLOAT8 {
            row.try_get::<_, Option<f64>>(i)?.map(Value::Float)
        } else if *t == Type::FLOAT4 {
            row.try_get::<_, Option<f32>>(i)?.map(|v| Value::Float(v.into()))
        } else if *t == Type::TEXT || *t == Type::VARCHAR || *t == Type::NAME || *t == Type::BPCHAR {
            row.try_get::<_, Option<String>>(i)?.map(Value::Text)
        } else if *t == Type::BOOL {
            row.try_get::<_, Option<bool>>(i)?.map(Value::Bool)
        } else {
            return Err(fail(format!(
                "column {} has type {t}, which the benchmark does not compare",
                column.name()
            )));
        };
        out.push(v.unwrap_or(Value::Null));
    }
    Ok(out)
}

pub fn all_values(rows: &[Row]) -> R<Vec<Vec<Value>>> {
    rows.iter().map(values).collect()
}

/// Fail unless both engines gave the same rows (in order) for `what`.
pub fn same_answer(what: &str, ours: &[Vec<Value>], peer: &[Vec<Value>]) -> R<()> {
    if ours.len() != peer.len() {
        return Err(fail(format!(
            "{what}: thermocline returned {} rows, PostgreSQL {}",
            ours.len(),
            peer.len()
        )));
    }
    for (i, (a, b)) in ours.iter().zip(peer).enumerate() {
        if a != b {
            return Err(fail(format!(
                "{what}: row {i} differs:\n  thermocline {a:?}\n  PostgreSQL  {b:?}"
            )));
        }
    }
    Ok(())
}

/// Wait until thermocline's plan for `table` reads no hot rows (all in
/// Parquet), up to a minute: CHECKPOINT returns at once while a background
/// compaction of the same rows is still running. Returns the scan's line of
/// EXPLAIN, for the report.
pub async fn wait_all_cold(client: &Client, table: &str) -> R<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let mut plan = String::new();
        for message in client.simple_query(&format!("EXPLAIN SELECT * FROM {table}")).await? {
            if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
                for i in 0..row.len() {
                    plan.push_str(row.get(i).unwrap_or(""));
                    plan.push('\n');
                }
            }
        }
        let scan = plan.lines().find(|l| l.contains("TieredScan")).map(str::trim);
        let hot = scan
            .and_then(|l| l.split("hot_rows=").nth(1))
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<u64>().ok());
        match (scan, hot) {
            (Some(scan), Some(0)) => return Ok(scan.to_string()),
            (Some(_), Some(_)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            _ => return Err(fail(format!("{table} did not become all-cold; EXPLAIN:\n{plan}"))),
        }
    }
}
