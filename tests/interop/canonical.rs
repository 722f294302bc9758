//! Our rows in the canonical JSON form the interop peers compare against
//! (tests/interop/common.py): decimals as strings with their scale,
//! timestamps as µs and dates as days since the epoch, binary as hex.
//! Shared by the interop tests via `#[path = "interop/canonical.rs"] mod canonical;`.
//!
//! Each test file uses a different subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use serde_json::{Value, json};
use thermocline::Session;

/// Batches as rows of `{column: canonical value}` (common.py's rules).
pub fn canonical_rows(batches: &[RecordBatch]) -> Vec<Value> {
    let mut rows = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        for row in 0..batch.num_rows() {
            let mut object = serde_json::Map::new();
            for (field, column) in schema.fields().iter().zip(batch.columns()) {
                object.insert(field.name().clone(), canonical_value(column.as_ref(), row));
            }
            rows.push(Value::Object(object));
        }
    }
    rows
}

pub fn canonical_value(column: &dyn Array, row: usize) -> Value {
    if column.is_null(row) {
        return Value::Null;
    }
    match column.data_type() {
        DataType::Boolean => json!(column.as_boolean().value(row)),
        DataType::Int8 => json!(column.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => json!(column.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => json!(column.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => json!(column.as_primitive::<Int64Type>().value(row)),
        DataType::Float32 => json!(column.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => json!(column.as_primitive::<Float64Type>().value(row)),
        DataType::Utf8 => json!(column.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => json!(column.as_string::<i64>().value(row)),
        DataType::Utf8View => json!(column.as_string_view().value(row)),
        DataType::Binary => json!(hex(column.as_binary::<i32>().value(row))),
        DataType::LargeBinary => json!(hex(column.as_binary::<i64>().value(row))),
        DataType::BinaryView => json!(hex(column.as_binary_view().value(row))),
        DataType::Date32 => json!(column.as_primitive::<Date32Type>().value(row)),
        DataType::Decimal128(_, _) => {
            let formatted = arrow::util::display::array_value_to_string(column, row).expect("format decimal");
            json!(formatted)
        }
        DataType::Timestamp(unit, _) => json!(match unit {
            TimeUnit::Second => column.as_primitive::<TimestampSecondType>().value(row) * 1_000_000,
            TimeUnit::Millisecond => column.as_primitive::<TimestampMillisecondType>().value(row) * 1_000,
            TimeUnit::Microsecond => column.as_primitive::<TimestampMicrosecondType>().value(row),
            TimeUnit::Nanosecond => column
                .as_primitive::<TimestampNanosecondType>()
                .value(row)
                .div_euclid(1_000),
        }),
        other => panic!("interop canonical form has no rule for {other}"),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Rows sorted by their `id` column, for comparing in Rust.
pub fn by_id(mut rows: Vec<Value>) -> Vec<Value> {
    rows.sort_by_key(|r| r["id"].as_i64().expect("row has an integer id"));
    rows
}

/// Our answer to `sql`, failing the test with the statement on error.
pub async fn query(session: &Session, sql: &str) -> Vec<RecordBatch> {
    session.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Our answer to `sql` in canonical form.
pub async fn query_rows(session: &Session, sql: &str) -> Vec<Value> {
    canonical_rows(&query(session, sql).await)
}
