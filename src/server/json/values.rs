//! Arrow arrays as JSON values (the encoding in the [module doc](super)):
//! integers JavaScript cannot hold exactly and non-finite floats as
//! strings, `numeric` with every digit, dates and timestamps as ISO-8601,
//! `bytea` as hex, nested types as arrays and objects, `jsonb` embedded.

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Field, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, Schema, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Map, Number, Value};

use crate::sql::pg_types::{self, PgType};

/// The largest integer a JavaScript number holds exactly (2^53 − 1).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

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
}
