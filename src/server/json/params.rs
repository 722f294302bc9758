//! JSON `params` as the [`ScalarValue`]s that bind `$1, $2, ...` (the
//! table in the [module doc](super)): each value's SQL type inferred from
//! its JSON kind, an array's from its elements' common type.

use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use serde_json::Value;

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
}
