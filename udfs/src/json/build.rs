//! Turning SQL values into jsonb: `to_jsonb`, `jsonb_build_array`,
//! `jsonb_build_object`, and `jsonb_in`, the function a cast to `jsonb`
//! becomes.
//!
//! The conversion is PostgreSQL's `to_jsonb`: text becomes a JSON string,
//! numbers JSON numbers (a float that is NaN or infinite becomes the string
//! `"NaN"`, `"Infinity"`, `"-Infinity"`), booleans `true`/`false`, arrays
//! JSON arrays, structs objects, NULL `null`, `bytea` the string `"\x..."`,
//! and anything else (dates, timestamps, intervals) the string Arrow prints
//! for it. A text argument known to be jsonb (its field carries the jsonb
//! marker, e.g. `doc->'a'` or `x::jsonb`) is embedded as the JSON it holds,
//! not quoted as a string. A jsonb *column* is not marked today (the tables'
//! Arrow schema has no field metadata), so `to_jsonb(doc)` quotes it: write
//! `doc::jsonb` to embed it.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use arrow::datatypes::{
    DataType, Decimal32Type, Decimal64Type, Decimal128Type, Decimal256Type, FieldRef, Float16Type, Float32Type,
    Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::{exec_err, internal_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::args::Arguments;
use super::value::{self, Value, normalize_number};
use super::{invalid_parameter, is_jsonb_field, jsonb_field, null_value};

/// The functions of this module.
pub fn all() -> Vec<ScalarUDF> {
    [Build::In, Build::ToJsonb, Build::Array, Build::Object]
        .into_iter()
        .map(|b| ScalarUDF::new_from_impl(BuildFunction::new(b)))
        .collect()
}

/// Which function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Build {
    /// `jsonb_in(x)`: what `x::jsonb` is rewritten to. Text is parsed and
    /// canonicalised (an error if it is not JSON); other values convert as
    /// `to_jsonb` does (PostgreSQL would refuse most of those casts; we
    /// accept them rather than fail).
    In,
    /// `to_jsonb(x)`, alias `to_json`.
    ToJsonb,
    /// `jsonb_build_array(...)`, alias `json_build_array`.
    Array,
    /// `jsonb_build_object(k, v, ...)`, alias `json_build_object`.
    Object,
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BuildFunction {
    build: Build,
    aliases: Vec<String>,
    signature: Signature,
}

impl BuildFunction {
    pub fn new(build: Build) -> Self {
        let alias = match build {
            Build::In => None,
            Build::ToJsonb => Some("to_json"),
            Build::Array => Some("json_build_array"),
            Build::Object => Some("json_build_object"),
        };
        Self {
            build,
            aliases: alias.iter().map(|a| a.to_string()).collect(),
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// Types a value is cast to before conversion, so the converter sees few
/// of them: one string type, no dictionaries, no half floats.
fn storage_type(t: &DataType) -> DataType {
    match t {
        DataType::LargeUtf8 | DataType::Utf8View => DataType::Utf8,
        DataType::Float16 => DataType::Float32,
        DataType::Dictionary(_, value) => storage_type(value),
        other => other.clone(),
    }
}

impl ScalarUDFImpl for BuildFunction {
    fn name(&self) -> &str {
        match self.build {
            Build::In => "jsonb_in",
            Build::ToJsonb => "to_jsonb",
            Build::Array => "jsonb_build_array",
            Build::Object => "jsonb_build_object",
        }
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let n = arg_types.len();
        match self.build {
            Build::In | Build::ToJsonb if n != 1 => return plan_err!("{} takes 1 argument, got {n}", self.name()),
            Build::Object if !n.is_multiple_of(2) => {
                return plan_err!("{}: argument list must have even number of elements", self.name());
            }
            _ => {}
        }
        Ok(arg_types.iter().map(storage_type).collect())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        Ok(jsonb_field(self.name()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arguments = Arguments::new(&args.args, args.number_rows)?;
        // A cast to jsonb reads text as JSON; the others read text as text
        // unless it is known to be jsonb.
        let jsonb: Vec<bool> = args
            .arg_fields
            .iter()
            .map(|f| self.build == Build::In || is_jsonb_field(f))
            .collect();
        let converters = arguments
            .arrays
            .iter()
            .zip(&jsonb)
            .zip(&arguments.constant)
            .map(|((array, jsonb), constant)| Converter::new(array, *jsonb, *constant))
            .collect::<Vec<_>>();
        let mut builder = StringBuilder::with_capacity(arguments.rows, arguments.rows * 16);
        let mut scratch = String::new();
        for row in 0..arguments.rows {
            let value = match self.build {
                Build::In | Build::ToJsonb => {
                    // Strict: NULL in, NULL out.
                    let [converter] = converters.as_slice() else {
                        return internal_err!("{} takes 1 argument", self.name());
                    };
                    match converter.is_null(row) {
                        true => None,
                        false => Some(converter.value(row)?),
                    }
                }
                Build::Array => Some(Value::Array(
                    converters.iter().map(|c| c.value(row)).collect::<Result<_>>()?,
                )),
                Build::Object => {
                    let mut members = Vec::with_capacity(converters.len() / 2);
                    for (i, pair) in converters.chunks_exact(2).enumerate() {
                        let key = key_text(pair[0].value(row)?, 2 * i + 1)?;
                        members.push((key, pair[1].value(row)?));
                    }
                    Some(Value::object(members))
                }
            };
            match value {
                Some(value) => {
                    scratch.clear();
                    value.write_canonical(&mut scratch);
                    builder.append_value(&scratch);
                }
                None => builder.append_null(),
            }
        }
        arguments.finish(Arc::new(builder.finish()))
    }
}

/// An object key from a SQL value: text as it is, numbers and booleans as
/// they print; PostgreSQL's errors for NULL and for containers.
fn key_text(key: Value<'_>, position: usize) -> Result<Cow<'_, str>> {
    match key {
        Value::String(s) | Value::Number(s) => Ok(s),
        Value::Bool(b) => Ok(Cow::Borrowed(if b { "true" } else { "false" })),
        Value::Null => null_value(format!("argument {position}: key must not be null")),
        Value::Array(_) | Value::Object(_) => {
            invalid_parameter("key value must be scalar, not array, composite, or json")
        }
    }
}

/// Converts the rows of one argument.
pub(crate) struct Converter<'a> {
    array: &'a ArrayRef,
    /// Whether the array holds jsonb text.
    jsonb: bool,
    /// For a constant argument, row 0 is every row.
    constant: bool,
}

impl<'a> Converter<'a> {
    pub(crate) fn new(array: &'a ArrayRef, jsonb: bool, constant: bool) -> Self {
        Self { array, jsonb, constant }
    }

    fn row(&self, row: usize) -> usize {
        if self.constant { 0 } else { row }
    }

    pub(crate) fn is_null(&self, row: usize) -> bool {
        is_null(self.array.as_ref(), self.row(row))
    }

    pub(crate) fn value(&self, row: usize) -> Result<Value<'a>> {
        to_value(self.array.as_ref(), self.row(row), self.jsonb)
    }
}

/// The jsonb value of row `row` of `array` (see the module doc).
pub(crate) fn to_value(array: &dyn Array, row: usize, jsonb: bool) -> Result<Value<'_>> {
    if is_null(array, row) {
        return Ok(Value::Null);
    }
    fn integer(n: impl ToString) -> Value<'static> {
        Value::Number(Cow::Owned(n.to_string()))
    }
    let value = match array.data_type() {
        DataType::Null => Value::Null,
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int8 => integer(array.as_primitive::<Int8Type>().value(row)),
        DataType::Int16 => integer(array.as_primitive::<Int16Type>().value(row)),
        DataType::Int32 => integer(array.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => integer(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => integer(array.as_primitive::<UInt8Type>().value(row)),
        DataType::UInt16 => integer(array.as_primitive::<UInt16Type>().value(row)),
        DataType::UInt32 => integer(array.as_primitive::<UInt32Type>().value(row)),
        DataType::UInt64 => integer(array.as_primitive::<UInt64Type>().value(row)),
        DataType::Float16 => {
            let v = array.as_primitive::<Float16Type>().value(row).to_f32();
            float(f64::from(v), v.to_string())
        }
        DataType::Float32 => {
            let v = array.as_primitive::<Float32Type>().value(row);
            float(f64::from(v), v.to_string())
        }
        DataType::Float64 => {
            let v = array.as_primitive::<Float64Type>().value(row);
            float(v, v.to_string())
        }
        DataType::Decimal32(_, scale) => decimal(array.as_primitive::<Decimal32Type>().value(row).to_string(), *scale),
        DataType::Decimal64(_, scale) => decimal(array.as_primitive::<Decimal64Type>().value(row).to_string(), *scale),
        DataType::Decimal128(_, scale) => {
            decimal(array.as_primitive::<Decimal128Type>().value(row).to_string(), *scale)
        }
        DataType::Decimal256(_, scale) => {
            decimal(array.as_primitive::<Decimal256Type>().value(row).to_string(), *scale)
        }
        DataType::Utf8 => text(array.as_string::<i32>().value(row), jsonb)?,
        DataType::LargeUtf8 => text(array.as_string::<i64>().value(row), jsonb)?,
        DataType::Utf8View => text(array.as_string_view().value(row), jsonb)?,
        DataType::Binary => bytea(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => bytea(array.as_binary::<i64>().value(row)),
        DataType::BinaryView => bytea(array.as_binary_view().value(row)),
        DataType::FixedSizeBinary(_) => bytea(array.as_fixed_size_binary().value(row)),
        DataType::List(_) => elements(&array.as_list::<i32>().value(row))?,
        DataType::LargeList(_) => elements(&array.as_list::<i64>().value(row))?,
        DataType::FixedSizeList(..) => elements(&array.as_fixed_size_list().value(row))?,
        DataType::Struct(fields) => {
            let columns = array.as_struct().columns();
            let mut members = Vec::with_capacity(fields.len());
            for (field, column) in fields.iter().zip(columns) {
                let member = to_value(column.as_ref(), row, is_jsonb_field(field))?;
                members.push((Cow::Borrowed(field.name().as_str()), member));
            }
            Value::object(members)
        }
        DataType::Dictionary(_, value_type) => {
            // Decode just this row (casting the whole column per row would
            // make a column quadratic).
            let decoded = arrow::compute::cast(&array.slice(row, 1), value_type)?;
            to_value(decoded.as_ref(), 0, jsonb)?.into_owned()
        }
        _ => {
            let options = FormatOptions::default();
            let formatter = ArrayFormatter::try_new(array, &options)?;
            let mut s = String::new();
            if write!(s, "{}", formatter.value(row)).is_err() {
                return exec_err!("to_jsonb: cannot print a {} value", array.data_type());
            }
            Value::String(Cow::Owned(s))
        }
    };
    Ok(value)
}

/// Whether a row is NULL; a `NullArray` (an untyped `NULL` argument) has
/// no validity buffer, so `Array::is_null` alone would say it is not.
fn is_null(array: &dyn Array, row: usize) -> bool {
    array.data_type().is_null() || array.is_null(row)
}

fn text(s: &str, jsonb: bool) -> Result<Value<'_>> {
    if jsonb {
        Ok(value::parse(s)?)
    } else {
        Ok(Value::String(Cow::Borrowed(s)))
    }
}

fn bytea(bytes: &[u8]) -> Value<'static> {
    let mut s = String::with_capacity(2 + 2 * bytes.len());
    s.push_str("\\x");
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    Value::String(Cow::Owned(s))
}

/// A float as `to_jsonb` gives it: `text` is the float's shortest text
/// that reads back as the same float (Rust's `Display`, which never uses an
/// exponent), and the values JSON has no number for become strings.
fn float(v: f64, text: String) -> Value<'static> {
    if v.is_nan() {
        return Value::String(Cow::Borrowed("NaN"));
    }
    if v.is_infinite() {
        return Value::String(Cow::Borrowed(if v > 0.0 { "Infinity" } else { "-Infinity" }));
    }
    // Display of a float is JSON number syntax without an exponent, so only
    // negative zero changes.
    match normalize_number(&text) {
        Some(n) => Value::Number(Cow::Owned(n.into_owned())),
        None => Value::Number(Cow::Owned(text)),
    }
}

/// A decimal's unscaled integer text and scale as numeric text.
fn decimal(unscaled: String, scale: i8) -> Value<'static> {
    let (sign, digits) = match unscaled.strip_prefix('-') {
        Some(d) => ("-", d.to_string()),
        None => ("", unscaled),
    };
    let text = if scale > 0 {
        let scale = scale as usize;
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        format!("{sign}{int}.{frac}")
    } else {
        let zeros = "0".repeat(scale.unsigned_abs() as usize);
        format!("{sign}{digits}{zeros}")
    };
    match normalize_number(&text) {
        Some(n) => Value::Number(Cow::Owned(n.into_owned())),
        None => Value::Number(Cow::Owned(text)),
    }
}

fn elements(list: &ArrayRef) -> Result<Value<'static>> {
    let mut out = Vec::with_capacity(list.len());
    for i in 0..list.len() {
        out.push(to_value(list.as_ref(), i, false)?.into_owned());
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, ListArray, StringArray,
        StructArray,
    };
    use arrow::datatypes::Field;
    use datafusion::common::ScalarValue;
    use datafusion::config::ConfigOptions;

    use super::*;

    fn call(build: Build, args: Vec<ColumnarValue>, jsonb: &[bool], rows: usize) -> Result<Vec<Option<String>>> {
        let f = BuildFunction::new(build);
        let types: Vec<DataType> = args.iter().map(|a| a.data_type()).collect();
        let coerced = f.coerce_types(&types)?;
        let args = args
            .into_iter()
            .zip(&coerced)
            .map(|(a, t)| a.cast_to(t, None))
            .collect::<Result<Vec<_>>>()?;
        let arg_fields = coerced
            .iter()
            .zip(jsonb)
            .map(|(t, j)| {
                if *j {
                    jsonb_field("a")
                } else {
                    Arc::new(Field::new("a", t.clone(), true))
                }
            })
            .collect();
        let out = f.invoke_with_args(ScalarFunctionArgs {
            args,
            arg_fields,
            number_rows: rows,
            return_field: jsonb_field("r"),
            config_options: Arc::new(ConfigOptions::default()),
        })?;
        let array = out.to_array(rows)?;
        Ok(array.as_string::<i32>().iter().map(|s| s.map(str::to_string)).collect())
    }

    fn column(array: ArrayRef) -> ColumnarValue {
        ColumnarValue::Array(array)
    }

    fn lit(s: &str) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(s.to_string())))
    }

    fn some(items: &[&str]) -> Vec<Option<String>> {
        items.iter().map(|s| Some(s.to_string())).collect()
    }

    #[test]
    fn to_jsonb_converts_like_postgres() -> Result<()> {
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None, Some(-7)]));
        assert_eq!(
            call(Build::ToJsonb, vec![column(ints)], &[false], 3)?,
            vec![Some("1".into()), None, Some("-7".into())]
        );
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![
            1.5,
            0.1,
            1e20,
            -0.0,
            f64::NAN,
            f64::NEG_INFINITY,
        ]));
        assert_eq!(
            call(Build::ToJsonb, vec![column(floats)], &[false], 6)?,
            some(&["1.5", "0.1", "100000000000000000000", "0", "\"NaN\"", "\"-Infinity\""])
        );
        let decimals: ArrayRef = Arc::new(
            Decimal128Array::from(vec![1230, -5, 0])
                .with_precision_and_scale(10, 2)
                .map_err(|e| datafusion::error::DataFusionError::ArrowError(Box::new(e), None))?,
        );
        assert_eq!(
            call(Build::ToJsonb, vec![column(decimals)], &[false], 3)?,
            some(&["12.30", "-0.05", "0.00"])
        );
        let texts: ArrayRef = Arc::new(StringArray::from(vec!["a\"b", "{\"x\":1}"]));
        assert_eq!(
            call(Build::ToJsonb, vec![column(texts.clone())], &[false], 2)?,
            some(&[r#""a\"b""#, r#""{\"x\":1}""#])
        );
        let bools: ArrayRef = Arc::new(BooleanArray::from(vec![true, false]));
        assert_eq!(
            call(Build::ToJsonb, vec![column(bools)], &[false], 2)?,
            some(&["true", "false"])
        );
        let dates: ArrayRef = Arc::new(Date32Array::from(vec![20454]));
        assert_eq!(
            call(Build::ToJsonb, vec![column(dates)], &[false], 1)?,
            some(&["\"2026-01-01\""])
        );
        let bytes: ArrayRef = Arc::new(BinaryArray::from(vec![&[1u8, 255][..]]));
        assert_eq!(
            call(Build::ToJsonb, vec![column(bytes)], &[false], 1)?,
            some(&[r#""\\x01ff""#])
        );
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![
            Some(1),
            None,
        ])]));
        assert_eq!(
            call(Build::ToJsonb, vec![column(list)], &[false], 1)?,
            some(&["[1, null]"])
        );
        let st: ArrayRef = Arc::new(StructArray::from(vec![
            (
                Arc::new(Field::new("b", DataType::Int32, true)),
                Arc::new(Int32Array::from(vec![1])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("a", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec!["x"])) as ArrayRef,
            ),
        ]));
        assert_eq!(
            call(Build::ToJsonb, vec![column(st)], &[false], 1)?,
            some(&[r#"{"a": "x", "b": 1}"#])
        );
        Ok(())
    }

    #[test]
    fn dictionaries_convert_as_their_values() -> Result<()> {
        let dictionary: arrow::array::DictionaryArray<Int32Type> = vec!["x", "y", "x"].into_iter().collect();
        let dictionary: ArrayRef = Arc::new(dictionary);
        let values: Vec<String> = (0..3)
            .map(|row| to_value(dictionary.as_ref(), row, false).map(|v| v.to_canonical()))
            .collect::<Result<_>>()?;
        assert_eq!(values, vec![r#""x""#, r#""y""#, r#""x""#]);
        Ok(())
    }

    #[test]
    fn jsonb_text_is_embedded_not_quoted() -> Result<()> {
        let texts: ArrayRef = Arc::new(StringArray::from(vec![r#"{"x":1e1}"#]));
        assert_eq!(
            call(Build::ToJsonb, vec![column(texts)], &[true], 1)?,
            some(&[r#"{"x": 10}"#])
        );
        Ok(())
    }

    #[test]
    fn jsonb_in_parses_and_canonicalises() -> Result<()> {
        let texts: ArrayRef = Arc::new(StringArray::from(vec![Some(r#"{"b":1,"a":[1.0]}"#), None]));
        assert_eq!(
            call(Build::In, vec![column(texts)], &[false], 2)?,
            vec![Some(r#"{"a": [1.0], "b": 1}"#.to_string()), None]
        );
        let err = call(Build::In, vec![lit("{oops}")], &[false], 1).expect_err("not JSON");
        assert!(err.to_string().contains("invalid input syntax for type json"), "{err}");
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![3]));
        assert_eq!(call(Build::In, vec![column(ints)], &[false], 1)?, some(&["3"]));
        Ok(())
    }

    #[test]
    fn build_array_and_object() -> Result<()> {
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None]));
        assert_eq!(
            call(
                Build::Array,
                vec![lit("a"), column(ints.clone()), lit("[1]")],
                &[false, false, true],
                2
            )?,
            some(&[r#"["a", 1, [1]]"#, r#"["a", null, [1]]"#])
        );
        assert_eq!(call(Build::Array, vec![], &[], 1)?, some(&["[]"]));
        assert_eq!(call(Build::Object, vec![], &[], 1)?, some(&["{}"]));
        assert_eq!(
            call(
                Build::Object,
                vec![lit("n"), column(ints.clone()), lit("a"), lit("x")],
                &[false; 4],
                2
            )?,
            some(&[r#"{"a": "x", "n": 1}"#, r#"{"a": "x", "n": null}"#])
        );
        // Keys that are not text become text; duplicate keys keep the last.
        assert_eq!(
            call(
                Build::Object,
                vec![column(ints.clone()), lit("v"), lit("1"), lit("w")],
                &[false; 4],
                1
            )?,
            some(&[r#"{"1": "w"}"#])
        );
        let err = call(Build::Object, vec![column(ints), lit("v")], &[false; 2], 2).expect_err("null key");
        assert!(err.to_string().contains("argument 1: key must not be null"), "{err}");
        let err = call(Build::Object, vec![lit("k")], &[false], 1).expect_err("odd");
        assert!(err.to_string().contains("even number"), "{err}");
        let err = call(Build::Object, vec![lit("[1]"), lit("v")], &[true, false], 1).expect_err("array key");
        assert!(err.to_string().contains("key value must be scalar"), "{err}");
        Ok(())
    }
}
