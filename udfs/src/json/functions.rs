//! The jsonb functions that take jsonb and text, integer, boolean or
//! `text[]` arguments: the functions behind the operators (under the names
//! PostgreSQL gives them) and `jsonb_typeof`, `jsonb_array_length`,
//! `jsonb_extract_path[_text]`, `jsonb_strip_nulls`, `jsonb_pretty`,
//! `jsonb_set`, `jsonb_insert`.
//!
//! They share one implementation, [`JsonbFunction`]: a table row (see
//! `table`) says a function's name, its parameters, what it returns and
//! which [`Kernel`] computes one row (see `kernel`). Like their PostgreSQL
//! namesakes they are strict (a NULL argument gives NULL) and immutable.

mod kernel;
mod table;

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{internal_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{Arguments, Column, Output, Param, ResultBuilder};
use super::jsonb_field;
use kernel::Kernel;
use table::{Rest, SPECS, Spec};

/// Every function of the table.
pub fn all() -> Vec<ScalarUDF> {
    SPECS
        .iter()
        .map(|spec| ScalarUDF::new_from_impl(JsonbFunction::new(spec)))
        .collect()
}

/// A jsonb function of the table (see `table`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonbFunction {
    name: &'static str,
    aliases: Vec<String>,
    signature: Signature,
    params: &'static [Param],
    rest: Rest,
    output: Output,
    kernel: Kernel,
}

impl JsonbFunction {
    fn new(spec: &Spec) -> Self {
        Self {
            name: spec.name,
            aliases: spec.json_alias.iter().map(|a| a.to_string()).collect(),
            signature: Signature::user_defined(Volatility::Immutable),
            params: spec.params,
            rest: spec.rest,
            output: spec.output,
            kernel: spec.kernel,
        }
    }

    /// The kind of argument `i`, if there may be one.
    fn param(&self, i: usize) -> Option<Param> {
        match (self.params.get(i), self.rest) {
            (Some(p), _) => Some(*p),
            (None, Rest::Optional(p)) if i == self.params.len() => Some(p),
            (None, Rest::Variadic(p)) => Some(p),
            _ => None,
        }
    }
}

impl ScalarUDFImpl for JsonbFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let max = match self.rest {
            Rest::None => Some(self.params.len()),
            Rest::Optional(_) => Some(self.params.len() + 1),
            Rest::Variadic(_) => None,
        };
        if arg_types.len() < self.params.len() || max.is_some_and(|max| arg_types.len() > max) {
            let expected = match max {
                Some(max) if max == self.params.len() => format!("{max}"),
                Some(max) => format!("{} or {max}", self.params.len()),
                None => format!("at least {}", self.params.len()),
            };
            return plan_err!("{} takes {expected} arguments, got {}", self.name, arg_types.len());
        }
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| match self.param(i) {
                Some(param) => param.coerce(self.name, i + 1, t),
                None => plan_err!("{}: too many arguments", self.name),
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.output.data_type())
    }

    /// jsonb results carry the jsonb marker, so an operator applied to them
    /// (`(doc->'a') || '[1]'`) is planned as the jsonb operator.
    fn return_field_from_args(&self, _args: ReturnFieldArgs<'_>) -> Result<FieldRef> {
        Ok(match self.output {
            Output::Jsonb => jsonb_field(self.name),
            other => Arc::new(Field::new(self.name, other.data_type(), true)),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arguments = Arguments::new(&args.args, args.number_rows)?;
        let columns = arguments
            .arrays
            .iter()
            .zip(&arguments.constant)
            .enumerate()
            .map(|(i, (array, constant))| match self.param(i) {
                Some(param) => Column::new(param, array, *constant),
                None => internal_err!("{}: too many arguments", self.name),
            })
            .collect::<Result<Vec<_>>>()?;
        let mut builder = ResultBuilder::new(self.output, arguments.rows);
        let mut cells = Vec::with_capacity(columns.len());
        for row in 0..arguments.rows {
            cells.clear();
            for column in &columns {
                match column.cell(row)? {
                    Some(cell) => cells.push(cell),
                    None => break,
                }
            }
            // Strict: a NULL argument makes a NULL result.
            let out = if cells.len() == columns.len() {
                self.kernel.eval(self.name, &cells)?
            } else {
                None
            };
            builder.append(out)?;
        }
        arguments.finish(builder.finish())
    }
}

/// Calling the functions in tests the way DataFusion calls them.
#[cfg(test)]
mod test_support {
    use std::sync::Arc;

    use arrow::array::{AsArray, StringArray};
    use arrow::datatypes::{DataType, Field};
    use datafusion::common::ScalarValue;
    use datafusion::config::ConfigOptions;
    use datafusion::error::Result;
    use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF};

    use super::all;

    pub(super) fn function(name: &str) -> ScalarUDF {
        all()
            .into_iter()
            .find(|f| f.name() == name || f.aliases().iter().any(|a| a == name))
            .unwrap_or_else(|| panic!("no function {name}"))
    }

    /// Call `name` the way DataFusion does: coerce the argument types, cast,
    /// invoke. `None` in a column is NULL.
    pub(super) fn call(name: &str, args: Vec<ColumnarValue>, rows: usize) -> Result<ColumnarValue> {
        let f = function(name);
        let types: Vec<DataType> = args.iter().map(|a| a.data_type()).collect();
        let coerced = f.coerce_types(&types)?;
        let args = args
            .into_iter()
            .zip(&coerced)
            .map(|(a, t)| a.cast_to(t, None))
            .collect::<Result<Vec<_>>>()?;
        let arg_fields = coerced
            .iter()
            .map(|t| Arc::new(Field::new("a", t.clone(), true)))
            .collect();
        f.invoke_with_args(ScalarFunctionArgs {
            args,
            arg_fields,
            number_rows: rows,
            return_field: Arc::new(Field::new("r", f.return_type(&coerced)?, true)),
            config_options: Arc::new(ConfigOptions::default()),
        })
    }

    pub(super) fn docs(values: &[Option<&str>]) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(StringArray::from(values.to_vec())))
    }

    pub(super) fn text_arg(s: &str) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(s.to_string())))
    }

    pub(super) fn int_arg(i: i64) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Int64(Some(i)))
    }

    pub(super) fn null_arg() -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Null)
    }

    /// The result column as strings, NULL as `None`.
    pub(super) fn strings(result: ColumnarValue) -> Vec<Option<String>> {
        let array = match result {
            ColumnarValue::Array(a) => a,
            ColumnarValue::Scalar(s) => s.to_array().expect("scalar to array"),
        };
        let array = arrow::compute::cast(&array, &DataType::Utf8).expect("cast to text");
        array.as_string::<i32>().iter().map(|s| s.map(str::to_string)).collect()
    }

    pub(super) fn expect(result: Result<ColumnarValue>, expected: &[Option<&str>]) {
        let got = strings(result.expect("call succeeds"));
        let expected: Vec<Option<String>> = expected.iter().map(|s| s.map(str::to_string)).collect();
        assert_eq!(got, expected);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use arrow::array::{ArrayRef, StringArray};
    use datafusion::common::ScalarValue;

    use super::test_support::{call, docs, expect, function, null_arg, text_arg};
    use super::*;

    #[test]
    fn constants_give_a_constant() -> Result<()> {
        let out = call(
            "jsonb_object_field_text",
            vec![text_arg(r#"{"a":"b"}"#), text_arg("a")],
            5,
        )?;
        let ColumnarValue::Scalar(ScalarValue::Utf8(Some(v))) = out else {
            panic!("expected a constant, got {out:?}");
        };
        assert_eq!(v, "b");
        Ok(())
    }

    #[test]
    fn malformed_json_is_an_error_not_a_panic() {
        let err = call(
            "jsonb_object_field",
            vec![docs(&[Some("{\"a\":1"), Some("{}")]), text_arg("a")],
            2,
        )
        .expect_err("bad json");
        assert_eq!(
            err.to_string(),
            "External error: invalid input syntax for type json: The input string ended unexpectedly."
        );
        let err = call("jsonb_typeof", vec![docs(&[Some("nope")])], 1).expect_err("bad json");
        assert!(err.to_string().contains("Token \"nope\" is invalid."));
    }

    #[test]
    fn argument_types_are_checked_when_planning() {
        let f = function("jsonb_object_field");
        assert!(f.coerce_types(&[DataType::Utf8, DataType::Utf8]).is_ok());
        assert!(f.coerce_types(&[DataType::Int32, DataType::Utf8]).is_err());
        assert!(f.coerce_types(&[DataType::Utf8]).is_err());
        let set = function("jsonb_set");
        assert!(
            set.coerce_types(&[DataType::Utf8, DataType::Utf8, DataType::Utf8, DataType::Boolean])
                .is_ok()
        );
        assert!(set.coerce_types(&vec![DataType::Utf8; 5]).is_err());
        assert_eq!(
            function("jsonb_array_element")
                .coerce_types(&[DataType::Utf8View, DataType::Int8])
                .expect("coerces"),
            vec![DataType::Utf8, DataType::Int64]
        );
    }

    #[test]
    fn jsonb_results_are_marked_jsonb() -> Result<()> {
        let f = function("jsonb_object_field");
        let field = f.return_field_from_args(ReturnFieldArgs {
            arg_fields: &[],
            scalar_arguments: &[],
        })?;
        assert!(super::super::is_jsonb_field(&field));
        let field = function("jsonb_typeof").return_field_from_args(ReturnFieldArgs {
            arg_fields: &[],
            scalar_arguments: &[],
        })?;
        assert_eq!(field.metadata(), &HashMap::new());
        Ok(())
    }

    #[test]
    fn every_function_is_immutable() {
        for f in all() {
            assert_eq!(f.signature().volatility, Volatility::Immutable, "{}", f.name());
        }
    }

    #[test]
    fn null_jsonb_argument_is_null() {
        let array: ArrayRef = Arc::new(StringArray::from(vec![None::<&str>]));
        expect(call("jsonb_typeof", vec![ColumnarValue::Array(array)], 1), &[None]);
        expect(call("jsonb_typeof", vec![null_arg()], 1), &[None]);
    }
}
