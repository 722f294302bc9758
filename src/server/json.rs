//! The HTTP API's shapes, free of any network stack: the request and
//! response bodies, Arrow rows as JSON, JSON parameters as
//! [`ScalarValue`]s, and the Arrow IPC stream answer. The HTTP server
//! ([`super::http`]) and, later, the Durable Object (wasm32) both serve these
//! shapes, so this module uses only arrow, serde/serde_json,
//! `datafusion::common::ScalarValue` and the arrow-only type map of
//! [`crate::sql::pg_types`] — nothing that needs tokio or sockets.
//!
//! # Request
//!
//! ```json
//! {"sql": "SELECT * FROM t WHERE id = $1 AND tags @> $2", "params": [7, {"a": 1}]}
//! ```
//!
//! `params` bind `$1, $2, ...` ([`param_values`]):
//!
//! | JSON                         | parameter                                        |
//! |------------------------------|--------------------------------------------------|
//! | `null`                       | untyped NULL (takes the type its place needs)    |
//! | `true` / `false`             | `boolean`                                        |
//! | integer                      | `bigint` (`numeric` above `i64::MAX`)            |
//! | other number                 | `double precision`                               |
//! | string                       | `text` (cast by the planner: dates, timestamps…) |
//! | object                       | `text` holding the object's JSON (for `jsonb`)   |
//! | array                        | a SQL array of the elements' common type         |
//!
//! An array is a SQL array, never JSON text: `[1, 2.5]` is `float8[]`,
//! `[[1], [2, 3]]` is `bigint[][]`, `["a", null]` is `text[]`. Elements of
//! no common type (`[1, "a"]`) are refused; pass a JSON array meant for a
//! `jsonb` column as a string (`"[1, \"a\"]"`).
//!
//! # Response
//!
//! ```json
//! {"columns": [{"name": "id", "type": "int8"}], "rows": [[1], [2]], "row_count": 2, "command": "SELECT 2"}
//! ```
//!
//! `type` is the PostgreSQL type name the wire protocol reports for the
//! column. Rows are arrays in column order. `row_count` counts `rows`; a
//! statement without rows (INSERT without RETURNING, CREATE TABLE) has no
//! columns and no rows, and its count is in `command`, PostgreSQL's command
//! tag (`INSERT 0 5`). Values ([`rows`]):
//!
//! - integers are numbers, except `bigint`/unsigned values beyond ±(2^53−1),
//!   which JavaScript cannot hold exactly: those are strings;
//! - floats are numbers; NaN and infinities are the strings `"NaN"`,
//!   `"Infinity"`, `"-Infinity"` (PostgreSQL's spelling);
//! - `numeric` is a string with all its digits (`"12.50"`): exact;
//! - `date` is `"YYYY-MM-DD"`; `timestamp` is ISO-8601 without an offset
//!   (`"2026-01-02T10:00:00.5"`); `timestamptz` is ISO-8601 in UTC with `Z`;
//! - `bytea` is PostgreSQL's hex text, `"\\x0102ff"`;
//! - arrays and vectors are JSON arrays, composite values (structs, maps)
//!   are objects; `jsonb` is embedded as JSON, not as a string;
//! - anything else is the text Arrow displays for it (time, interval).
//!
//! With `Accept: application/vnd.apache.arrow.stream` the same result is an
//! Arrow IPC stream instead ([`arrow_stream`]), values untouched.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Field, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, Schema, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::error::ArrowError;
use arrow::ipc::writer::StreamWriter;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::ScalarValue;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use crate::sql::pg_types::{self, PgType};

/// The media type of an Arrow IPC stream answer.
pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

/// The largest integer a JavaScript number holds exactly (2^53 − 1).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// `POST /query`'s body.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    /// One statement or several separated by `;`.
    pub sql: String,
    /// Values of `$1, $2, ...` (see [`param_values`]).
    #[serde(default)]
    pub params: Vec<Value>,
}

/// One result column.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Column {
    pub name: String,
    /// The PostgreSQL type name (`int8`, `timestamptz`, `jsonb`, `_text`).
    #[serde(rename = "type")]
    pub type_name: String,
}

/// `POST /query`'s JSON answer.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct QueryResponse {
    pub columns: Vec<Column>,
    /// One array per row, values in column order.
    pub rows: Vec<Vec<Value>>,
    /// The number of `rows`.
    pub row_count: usize,
    /// PostgreSQL's command tag: `SELECT 3`, `INSERT 0 5`, `CREATE TABLE`.
    pub command: String,
}

impl QueryResponse {
    /// The answer for one statement's output. `schema` names and types the
    /// columns (it carries the field metadata that marks `jsonb`); the
    /// batches supply the values.
    pub fn new(command: impl Into<String>, schema: &Schema, batches: &[RecordBatch]) -> Result<Self, ArrowError> {
        let columns = schema
            .fields()
            .iter()
            .map(|f| Column {
                name: f.name().clone(),
                type_name: pg_types::for_field(f).name.to_string(),
            })
            .collect();
        let rows = rows(schema, batches)?;
        Ok(Self {
            columns,
            row_count: rows.len(),
            rows,
            command: command.into(),
        })
    }
}

/// Every error answer: `{"error": {"message", "sqlstate", "context"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ErrorBody {
    pub message: String,
    /// PostgreSQL's five-character SQLSTATE (`42P01`, `23505`, `55P03`).
    pub sqlstate: String,
    /// Where it happened: `table`, `column`, `file`, `lsn`, `param`...
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, String>,
}

impl ErrorResponse {
    pub fn new(sqlstate: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorBody {
                message: message.into(),
                sqlstate: sqlstate.into(),
                context: BTreeMap::new(),
            },
        }
    }

    pub fn with_context(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.error.context.insert(key.into(), value.to_string());
        self
    }
}

/// The health answer of `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct HealthResponse {
    /// `ok`, or `unavailable` when the hot tier cannot be read.
    pub status: String,
    /// The warehouse folder.
    pub warehouse: String,
    /// This process's shard.
    pub shard: String,
    /// The last lsn committed to the shard's hot tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hot_lsn: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The HTTP status for an engine error's SQLSTATE: 409 for conflicts a
/// retry may resolve, 503 when the server is busy or going away, 500 for the
/// server's own faults, 400 for everything that is the statement's.
pub fn http_status(sqlstate: &str) -> u16 {
    match sqlstate {
        // Unique violation, serialization failure, deadlock, the shard's
        // write lock not available in time: a retry may succeed.
        "23505" | "40001" | "40P01" | "55P03" => 409,
        _ => match sqlstate.get(..2) {
            // Too many connections, cancelled, shutting down.
            Some("53" | "57") => 503,
            // Storage, the hot tier, configuration, bugs.
            Some("58" | "F0" | "XX") | None => 500,
            // Syntax, names, types, data, constraints, transaction state,
            // features we lack.
            Some(_) => 400,
        },
    }
}

// ---------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------

/// A parameter that has no SQL value. SQLSTATE 22023 (invalid parameter value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// 1-based, as in `$1`.
    pub position: usize,
    pub message: String,
}

impl ParamError {
    pub const SQLSTATE: &'static str = "22023";
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "parameter ${}: {}", self.position, self.message)
    }
}

impl std::error::Error for ParamError {}

/// The values of `$1, $2, ...` for JSON `params` (table in the module doc).
pub fn param_values(params: &[Value]) -> Result<Vec<ScalarValue>, ParamError> {
    params
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let fail = |message: String| ParamError {
                position: i + 1,
                message,
            };
            match value {
                // Untyped, like a PostgreSQL parameter of unknown type: the
                // planner casts it to whatever its place needs.
                Value::Null => Ok(ScalarValue::Null),
                _ => {
                    let data_type = infer_type(value).map_err(fail)?;
                    to_scalar(value, &data_type).map_err(fail)
                }
            }
        })
        .collect()
}

/// Integers above `i64::MAX` (up to `u64::MAX`; serde_json reads larger
/// ones as floats) are numeric(20,0), PostgreSQL's type for them.
const BIG_INTEGER: DataType = DataType::Decimal128(20, 0);

fn infer_type(value: &Value) -> Result<DataType, String> {
    Ok(match value {
        Value::Null => DataType::Null,
        Value::Bool(_) => DataType::Boolean,
        Value::Number(n) if n.is_i64() => DataType::Int64,
        Value::Number(n) if n.is_u64() => BIG_INTEGER,
        Value::Number(_) => DataType::Float64,
        Value::String(_) | Value::Object(_) => DataType::Utf8,
        Value::Array(items) => {
            let mut element = DataType::Null;
            for item in items {
                let next = infer_type(item)?;
                element = unify(&element, &next).ok_or_else(|| {
                    format!(
                        "array elements must share one type, found {} and {}; \
                         pass JSON for a jsonb column as a string",
                        describe(&element),
                        describe(&next)
                    )
                })?;
            }
            DataType::new_list(element, true)
        }
    })
}

/// The type both `a` and `b` convert to without loss, if any.
fn unify(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType as D;
    Some(match (a, b) {
        (D::Null, other) | (other, D::Null) => other.clone(),
        _ if a == b => a.clone(),
        (D::Int64, D::Decimal128(..)) | (D::Decimal128(..), D::Int64) => BIG_INTEGER,
        (D::Float64, D::Int64 | D::Decimal128(..)) | (D::Int64 | D::Decimal128(..), D::Float64) => D::Float64,
        (D::List(x), D::List(y)) => DataType::new_list(unify(x.data_type(), y.data_type())?, true),
        _ => return None,
    })
}

fn describe(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Boolean => "boolean",
        DataType::Int64 | DataType::Decimal128(..) | DataType::Float64 => "number",
        DataType::Utf8 => "string",
        DataType::List(_) => "array",
        _ => "null",
    }
}

fn to_scalar(value: &Value, data_type: &DataType) -> Result<ScalarValue, String> {
    let unexpected = || format!("cannot convert {value} to {data_type}");
    Ok(match (value, data_type) {
        (Value::Null, _) => ScalarValue::try_from(data_type).map_err(|e| e.to_string())?,
        (Value::Bool(b), DataType::Boolean) => ScalarValue::Boolean(Some(*b)),
        (Value::Number(n), DataType::Int64) => ScalarValue::Int64(Some(n.as_i64().ok_or_else(unexpected)?)),
        (Value::Number(n), DataType::Decimal128(p, s)) => {
            let v = match (n.as_i64(), n.as_u64()) {
                (Some(v), _) => i128::from(v),
                (None, Some(v)) => i128::from(v),
                _ => return Err(unexpected()),
            };
            ScalarValue::Decimal128(Some(v), *p, *s)
        }
        (Value::Number(n), DataType::Float64) => ScalarValue::Float64(Some(n.as_f64().ok_or_else(unexpected)?)),
        (Value::String(s), DataType::Utf8) => ScalarValue::Utf8(Some(s.clone())),
        (Value::Object(_), DataType::Utf8) => ScalarValue::Utf8(Some(value.to_string())),
        (Value::Array(items), DataType::List(element)) => {
            let values = items
                .iter()
                .map(|item| to_scalar(item, element.data_type()))
                .collect::<Result<Vec<_>, _>>()?;
            ScalarValue::List(ScalarValue::new_list_nullable(&values, element.data_type()))
        }
        _ => return Err(unexpected()),
    })
}

// ---------------------------------------------------------------------------
// Arrow → JSON
// ---------------------------------------------------------------------------

/// Every row of `batches` as a JSON array (encoding in the module doc).
/// `schema`'s fields decide which text columns are `jsonb`.
pub fn rows(schema: &Schema, batches: &[RecordBatch]) -> Result<Vec<Vec<Value>>, ArrowError> {
    let mut rows = Vec::with_capacity(batches.iter().map(|b| b.num_rows()).sum());
    for batch in batches {
        let mut columns = Vec::with_capacity(batch.num_columns());
        for (i, array) in batch.columns().iter().enumerate() {
            // The statement's schema carries the metadata (jsonb); a batch
            // built by an operator may have dropped it.
            let field = schema
                .fields()
                .get(i)
                .unwrap_or_else(|| &batch.schema_ref().fields()[i]);
            columns.push(values(field, array)?.into_iter());
        }
        for _ in 0..batch.num_rows() {
            rows.push(columns.iter_mut().map(|c| c.next().unwrap_or(Value::Null)).collect());
        }
    }
    Ok(rows)
}

/// The JSON value of each element of `array`, a column described by `field`.
pub fn values(field: &Field, array: &ArrayRef) -> Result<Vec<Value>, ArrowError> {
    let jsonb = is_jsonb(field);
    let mut out = Vec::with_capacity(array.len());
    // `each!(typed_array, |v| json)`: the JSON of every element, NULL for
    // nulls; the body runs in this function, so `?` works inside it.
    macro_rules! each {
        ($typed:expr, |$v:ident| $body:expr) => {{
            let typed = $typed;
            for i in 0..typed.len() {
                if typed.is_null(i) {
                    out.push(Value::Null);
                } else {
                    let $v = typed.value(i);
                    out.push($body);
                }
            }
        }};
    }
    use DataType as D;
    match array.data_type() {
        D::Null => out.resize(array.len(), Value::Null),
        D::Boolean => each!(array.as_boolean(), |v| Value::Bool(v)),
        D::Int8 => each!(array.as_primitive::<Int8Type>(), |v| Value::from(v)),
        D::Int16 => each!(array.as_primitive::<Int16Type>(), |v| Value::from(v)),
        D::Int32 => each!(array.as_primitive::<Int32Type>(), |v| Value::from(v)),
        D::Int64 => each!(array.as_primitive::<Int64Type>(), |v| integer(v)),
        D::UInt8 => each!(array.as_primitive::<UInt8Type>(), |v| Value::from(v)),
        D::UInt16 => each!(array.as_primitive::<UInt16Type>(), |v| Value::from(v)),
        D::UInt32 => each!(array.as_primitive::<UInt32Type>(), |v| Value::from(v)),
        D::UInt64 => each!(array.as_primitive::<UInt64Type>(), |v| unsigned(v)),
        D::Float16 => each!(array.as_primitive::<Float16Type>(), |v| float32(v.to_f32())),
        D::Float32 => each!(array.as_primitive::<Float32Type>(), |v| float32(v)),
        D::Float64 => each!(array.as_primitive::<Float64Type>(), |v| float64(v)),
        D::Utf8 => each!(array.as_string::<i32>(), |v| text(v, jsonb)),
        D::LargeUtf8 => each!(array.as_string::<i64>(), |v| text(v, jsonb)),
        D::Utf8View => each!(array.as_string_view(), |v| text(v, jsonb)),
        D::Binary => each!(array.as_binary::<i32>(), |v| bytea(v)),
        D::LargeBinary => each!(array.as_binary::<i64>(), |v| bytea(v)),
        D::BinaryView => each!(array.as_binary_view(), |v| bytea(v)),
        D::FixedSizeBinary(_) => each!(array.as_fixed_size_binary(), |v| bytea(v)),
        D::Date32 => each!(array.as_primitive::<Date32Type>(), |v| date(
            i64::from(v) * SECONDS_PER_DAY
        )),
        D::Date64 => each!(array.as_primitive::<Date64Type>(), |v| date(v.div_euclid(1_000))),
        D::Timestamp(unit, tz) => {
            let utc = tz.is_some();
            match unit {
                TimeUnit::Second => each!(array.as_primitive::<TimestampSecondType>(), |v| timestamp(v, 1, utc)),
                TimeUnit::Millisecond => {
                    each!(array.as_primitive::<TimestampMillisecondType>(), |v| timestamp(
                        v, 1_000, utc
                    ))
                }
                TimeUnit::Microsecond => {
                    each!(array.as_primitive::<TimestampMicrosecondType>(), |v| timestamp(
                        v, 1_000_000, utc
                    ))
                }
                TimeUnit::Nanosecond => {
                    each!(array.as_primitive::<TimestampNanosecondType>(), |v| timestamp(
                        v,
                        1_000_000_000,
                        utc
                    ))
                }
            }
        }
        D::Decimal32(..) | D::Decimal64(..) | D::Decimal128(..) | D::Decimal256(..) => displayed(array, &mut out)?,
        D::List(item) => each!(array.as_list::<i32>(), |v| Value::Array(values(item, &v)?)),
        D::LargeList(item) => each!(array.as_list::<i64>(), |v| Value::Array(values(item, &v)?)),
        D::FixedSizeList(item, _) => each!(array.as_fixed_size_list(), |v| Value::Array(values(item, &v)?)),
        D::ListView(item) => each!(array.as_list_view::<i32>(), |v| Value::Array(values(item, &v)?)),
        D::LargeListView(item) => each!(array.as_list_view::<i64>(), |v| Value::Array(values(item, &v)?)),
        D::Struct(fields) => {
            let structs = array.as_struct();
            let mut children = fields
                .iter()
                .zip(structs.columns())
                .map(|(f, c)| values(f, c).map(Vec::into_iter))
                .collect::<Result<Vec<_>, _>>()?;
            for i in 0..structs.len() {
                // Advance every child, null row or not, to stay aligned.
                let object: Map<String, Value> = fields
                    .iter()
                    .zip(children.iter_mut())
                    .map(|(f, c)| (f.name().clone(), c.next().unwrap_or(Value::Null)))
                    .collect();
                out.push(if structs.is_null(i) {
                    Value::Null
                } else {
                    Value::Object(object)
                });
            }
        }
        D::Map(entries, _) => {
            let D::Struct(kv) = entries.data_type() else {
                return Err(ArrowError::InvalidArgumentError(format!(
                    "map entries of type {}",
                    entries.data_type()
                )));
            };
            let (Some(key_field), Some(value_field)) = (kv.first(), kv.get(1)) else {
                return Err(ArrowError::InvalidArgumentError(
                    "map entries without key and value".into(),
                ));
            };
            each!(array.as_map(), |entry| {
                let keys = values(key_field, entry.column(0))?;
                let vals = values(value_field, entry.column(1))?;
                Value::Object(keys.into_iter().zip(vals).map(|(k, v)| (key_text(k), v)).collect())
            })
        }
        D::Dictionary(_, value_type) => {
            let plain = arrow::compute::cast(array, value_type)?;
            return values(&field.clone().with_data_type(value_type.as_ref().clone()), &plain);
        }
        D::RunEndEncoded(_, value_field) => {
            let plain = arrow::compute::cast(array, value_field.data_type())?;
            return values(&field.clone().with_data_type(value_field.data_type().clone()), &plain);
        }
        _ => displayed(array, &mut out)?,
    }
    Ok(out)
}

const SECONDS_PER_DAY: i64 = 86_400;

/// Whether a text column holds `jsonb` (either marker: ours or Arrow's
/// canonical `arrow.json` extension, which the jsonb functions set).
fn is_jsonb(field: &Field) -> bool {
    matches!(
        field.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) && pg_types::for_field(field) == PgType::JSONB
}

fn integer(v: i64) -> Value {
    if v.unsigned_abs() <= MAX_SAFE_INTEGER {
        Value::from(v)
    } else {
        Value::String(v.to_string())
    }
}

fn unsigned(v: u64) -> Value {
    if v <= MAX_SAFE_INTEGER {
        Value::from(v)
    } else {
        Value::String(v.to_string())
    }
}

/// Through its shortest decimal text, so `0.1f32` is `0.1`, not
/// `0.10000000149011612`.
fn float32(v: f32) -> Value {
    if v.is_finite() {
        float64(v.to_string().parse().unwrap_or(f64::from(v)))
    } else {
        float64(f64::from(v))
    }
}

fn float64(v: f64) -> Value {
    match Number::from_f64(v) {
        Some(n) => Value::Number(n),
        None if v.is_nan() => Value::String("NaN".into()),
        None if v > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// A jsonb value embedded as JSON; text that does not parse (it should
/// always) stays a string rather than failing the whole answer.
fn text(v: &str, jsonb: bool) -> Value {
    if jsonb && let Ok(parsed) = serde_json::from_str(v) {
        return parsed;
    }
    Value::String(v.to_string())
}

fn bytea(v: &[u8]) -> Value {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(2 + 2 * v.len());
    s.push_str("\\x");
    for b in v {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    Value::String(s)
}

fn key_text(key: Value) -> String {
    match key {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

fn date(seconds: i64) -> Value {
    match chrono::DateTime::from_timestamp(seconds, 0) {
        Some(t) => Value::String(t.format("%Y-%m-%d").to_string()),
        None => Value::String(format!("{} days", seconds / SECONDS_PER_DAY)),
    }
}

/// `v` units of `1/per_second` s since the epoch, ISO-8601; `utc` adds `Z`
/// (Arrow keeps timestamptz as UTC instants whatever the zone).
fn timestamp(v: i64, per_second: i64, utc: bool) -> Value {
    let seconds = v.div_euclid(per_second);
    let nanos = v.rem_euclid(per_second) * (1_000_000_000 / per_second);
    match chrono::DateTime::from_timestamp(seconds, nanos as u32) {
        Some(t) => {
            let text = t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.f").to_string();
            Value::String(if utc { text + "Z" } else { text })
        }
        None => Value::String(v.to_string()),
    }
}

/// Arrow's own text for each element (decimals keep every digit).
fn displayed(array: &ArrayRef, out: &mut Vec<Value>) -> Result<(), ArrowError> {
    let formatter = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())?;
    for i in 0..array.len() {
        out.push(if array.is_null(i) {
            Value::Null
        } else {
            Value::String(formatter.value(i).to_string())
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Arrow IPC
// ---------------------------------------------------------------------------

/// `batches` as an Arrow IPC stream (`schema` first; a statement without
/// rows is a stream of the empty schema and no batches).
pub fn arrow_stream(schema: &Schema, batches: &[RecordBatch]) -> Result<Vec<u8>, ArrowError> {
    // The batches' own schema when there are any: the IPC writer wants
    // every batch to match the schema it wrote first.
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| Arc::new(schema.clone()));
    let mut writer = StreamWriter::try_new(Vec::new(), &schema)?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.into_inner()
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        BinaryArray, BooleanArray, Date32Array, Decimal128Array, FixedSizeListArray, Float32Array, Float64Array,
        Int32Array, Int64Array, ListArray, StringArray, StructArray, TimestampMicrosecondArray, UInt64Array,
    };
    use arrow::datatypes::Int64Type;
    use serde_json::json;

    use super::*;

    fn encode(field: Field, array: ArrayRef) -> Vec<Value> {
        let schema = Schema::new(vec![field]);
        let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![array]).expect("batch");
        rows(&schema, &[batch])
            .expect("encode")
            .into_iter()
            .map(|mut r| r.remove(0))
            .collect()
    }

    #[test]
    fn integers_beyond_javascript_precision_are_strings() {
        let big = 1i64 << 53;
        let values = encode(
            Field::new("n", DataType::Int64, true),
            Arc::new(Int64Array::from(vec![
                Some(1),
                Some(big - 1),
                Some(big),
                Some(-big),
                None,
                Some(i64::MIN),
            ])),
        );
        assert_eq!(
            values,
            [
                json!(1),
                json!(9_007_199_254_740_991i64),
                json!("9007199254740992"),
                json!("-9007199254740992"),
                Value::Null,
                json!("-9223372036854775808")
            ]
        );
        let unsigned = encode(
            Field::new("u", DataType::UInt64, true),
            Arc::new(UInt64Array::from(vec![7, u64::MAX])),
        );
        assert_eq!(unsigned, [json!(7), json!("18446744073709551615")]);
        let small = encode(
            Field::new("i", DataType::Int32, true),
            Arc::new(Int32Array::from(vec![-3])),
        );
        assert_eq!(small, [json!(-3)]);
    }

    #[test]
    fn floats_numbers_and_postgres_spellings() {
        let values = encode(
            Field::new("f", DataType::Float64, true),
            Arc::new(Float64Array::from(vec![
                1.5,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ])),
        );
        assert_eq!(
            values,
            [json!(1.5), json!("NaN"), json!("Infinity"), json!("-Infinity")]
        );
        let real = encode(
            Field::new("r", DataType::Float32, true),
            Arc::new(Float32Array::from(vec![0.1f32])),
        );
        assert_eq!(real, [json!(0.1)]);
    }

    #[test]
    fn decimals_keep_every_digit() {
        let array = Decimal128Array::from(vec![Some(1250), Some(-5), None])
            .with_precision_and_scale(10, 2)
            .expect("decimal");
        let values = encode(Field::new("d", DataType::Decimal128(10, 2), true), Arc::new(array));
        assert_eq!(values, [json!("12.50"), json!("-0.05"), Value::Null]);
    }

    #[test]
    fn text_bool_bytea_and_jsonb() {
        let text = encode(
            Field::new("t", DataType::Utf8, true),
            Arc::new(StringArray::from(vec![Some("{\"a\":1}"), None])),
        );
        assert_eq!(text, [json!("{\"a\":1}"), Value::Null], "plain text stays a string");
        let jsonb_field = Field::new("j", DataType::Utf8, true)
            .with_metadata([(pg_types::PG_TYPE_KEY.to_string(), "jsonb".to_string())].into());
        let jsonb = encode(
            jsonb_field,
            Arc::new(StringArray::from(vec![Some("{\"a\":[1,2]}"), Some("3"), None])),
        );
        assert_eq!(jsonb, [json!({"a": [1, 2]}), json!(3), Value::Null]);
        let extension = encode(
            thermocline_udfs::json::jsonb_field("j").as_ref().clone(),
            Arc::new(StringArray::from(vec!["[true]"])),
        );
        assert_eq!(extension, [json!([true])], "arrow.json extension marks jsonb too");
        let bools = encode(
            Field::new("b", DataType::Boolean, true),
            Arc::new(BooleanArray::from(vec![Some(true), None])),
        );
        assert_eq!(bools, [json!(true), Value::Null]);
        let bytes = encode(
            Field::new("b", DataType::Binary, true),
            Arc::new(BinaryArray::from(vec![&[0x01u8, 0xab, 0xff][..], &[][..]])),
        );
        assert_eq!(bytes, [json!("\\x01abff"), json!("\\x")]);
    }

    #[test]
    fn dates_and_timestamps_iso_8601() {
        let dates = encode(
            Field::new("d", DataType::Date32, true),
            Arc::new(Date32Array::from(vec![0, 20_454, -1])),
        );
        assert_eq!(dates, [json!("1970-01-01"), json!("2026-01-01"), json!("1969-12-31")]);
        let micros = vec![1_767_261_600_000_000, 1_767_261_600_500_000, -1];
        let naive = encode(
            Field::new("ts", DataType::Timestamp(TimeUnit::Microsecond, None), true),
            Arc::new(TimestampMicrosecondArray::from(micros.clone())),
        );
        assert_eq!(
            naive,
            [
                json!("2026-01-01T10:00:00"),
                json!("2026-01-01T10:00:00.500"),
                json!("1969-12-31T23:59:59.999999")
            ]
        );
        let tz = DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()));
        let utc = encode(
            Field::new("ts", tz, true),
            Arc::new(TimestampMicrosecondArray::from(micros).with_timezone("+00:00")),
        );
        assert_eq!(utc[0], json!("2026-01-01T10:00:00Z"));
    }

    #[test]
    fn lists_vectors_and_structs() {
        let list = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
            None,
            Some(vec![]),
        ]);
        let field = Field::new("l", list.data_type().clone(), true);
        assert_eq!(
            encode(field, Arc::new(list)),
            [json!([1, null, 3]), Value::Null, json!([])]
        );

        let item = Arc::new(Field::new("item", DataType::Float32, true));
        let vector = FixedSizeListArray::try_new(
            item.clone(),
            2,
            Arc::new(Float32Array::from(vec![0.5, 1.0, 0.25, -2.0])),
            None,
        )
        .expect("vector");
        let field = Field::new("v", DataType::FixedSizeList(item, 2), true);
        assert_eq!(
            encode(field, Arc::new(vector)),
            [json!([0.5, 1.0]), json!([0.25, -2.0])]
        );

        let structs = StructArray::from(vec![
            (
                Arc::new(Field::new("a", DataType::Int32, true)),
                Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("b", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec![Some("x"), None])) as ArrayRef,
            ),
        ]);
        let field = Field::new("s", structs.data_type().clone(), true);
        assert_eq!(
            encode(field, Arc::new(structs)),
            [json!({"a": 1, "b": "x"}), json!({"a": 2, "b": null})]
        );
    }

    #[test]
    fn sliced_batches_encode_their_own_rows() {
        let list = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(vec![Some(1)]), Some(vec![Some(2)])]);
        let field = Field::new("l", list.data_type().clone(), true);
        let schema = Arc::new(Schema::new(vec![field]));
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(list)]).expect("batch");
        let rows = rows(&schema, &[batch.slice(1, 1)]).expect("rows");
        assert_eq!(rows, [[json!([2])]]);
    }

    #[test]
    fn params_of_every_json_kind() {
        let params = param_values(&[
            json!(1),
            json!("x"),
            Value::Null,
            json!(true),
            json!(1.5),
            json!([1, 2, 3]),
            json!({"a": 1}),
            json!(u64::MAX),
        ])
        .expect("params");
        assert_eq!(params[0], ScalarValue::Int64(Some(1)));
        assert_eq!(params[1], ScalarValue::Utf8(Some("x".into())));
        assert_eq!(params[2], ScalarValue::Null);
        assert_eq!(params[3], ScalarValue::Boolean(Some(true)));
        assert_eq!(params[4], ScalarValue::Float64(Some(1.5)));
        let ints = [1, 2, 3].map(|v| ScalarValue::Int64(Some(v)));
        assert_eq!(
            params[5],
            ScalarValue::List(ScalarValue::new_list_nullable(&ints, &DataType::Int64))
        );
        assert_eq!(params[6], ScalarValue::Utf8(Some("{\"a\":1}".into())));
        assert_eq!(params[7], ScalarValue::Decimal128(Some(i128::from(u64::MAX)), 20, 0));
    }

    #[test]
    fn array_params_take_their_common_type() {
        let mixed = param_values(&[json!([1, 2.5, null])]).expect("numbers");
        assert_eq!(mixed[0].data_type(), DataType::new_list(DataType::Float64, true));
        let nested = param_values(&[json!([[1], [], null])]).expect("nested");
        assert_eq!(
            nested[0].data_type(),
            DataType::new_list(DataType::new_list(DataType::Int64, true), true)
        );
        let texts = param_values(&[json!(["a", null])]).expect("texts");
        assert_eq!(texts[0].data_type(), DataType::new_list(DataType::Utf8, true));
        let error = param_values(&[json!(1), json!([1, "a"])]).expect_err("no common type");
        assert_eq!(error.position, 2);
        assert!(error.message.contains("number and string"), "{error}");
    }

    #[test]
    fn statuses_by_sqlstate() {
        assert_eq!(http_status("42601"), 400);
        assert_eq!(http_status("42P01"), 400);
        assert_eq!(http_status("23502"), 400);
        assert_eq!(http_status("23505"), 409);
        assert_eq!(http_status("55P03"), 409);
        assert_eq!(http_status("40001"), 409);
        assert_eq!(http_status("XX000"), 500);
        assert_eq!(http_status("58030"), 500);
    }

    #[test]
    fn arrow_stream_of_a_command_is_an_empty_schema() {
        let bytes = arrow_stream(&Schema::empty(), &[]).expect("stream");
        let reader = arrow::ipc::reader::StreamReader::try_new(bytes.as_slice(), None).expect("reader");
        assert!(reader.schema().fields().is_empty());
        assert_eq!(reader.count(), 0);
    }

    #[test]
    fn requests_refuse_unknown_fields() {
        let ok: QueryRequest = serde_json::from_str(r#"{"sql": "SELECT 1"}"#).expect("no params");
        assert!(ok.params.is_empty());
        assert!(serde_json::from_str::<QueryRequest>(r#"{"sql": "SELECT $1", "param": [1]}"#).is_err());
    }
}
