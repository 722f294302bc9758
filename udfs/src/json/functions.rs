//! The jsonb functions that take jsonb and text, integer, boolean or
//! `text[]` arguments: the functions behind the operators (under the names
//! PostgreSQL gives them) and `jsonb_typeof`, `jsonb_array_length`,
//! `jsonb_extract_path[_text]`, `jsonb_strip_nulls`, `jsonb_pretty`,
//! `jsonb_set`, `jsonb_insert`.
//!
//! They share one implementation, [`JsonbFunction`]: a table row says a
//! function's name, its parameters, what it returns and which [`Kernel`]
//! computes one row. Like their PostgreSQL namesakes they are strict (a
//! NULL argument gives NULL) and immutable.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{internal_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::args::{Arguments, Cell, Column, Held, Out, Output, Param, ResultBuilder};
use super::edit::{self, PathEdit};
use super::value::{self, Value};
use super::{invalid_parameter, jsonb_field};

/// Arguments after the required ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Rest {
    None,
    /// One more, optional.
    Optional(Param),
    /// Any number more, of one kind (`VARIADIC`).
    Variadic(Param),
}

/// How one row is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kernel {
    ObjectField {
        text: bool,
    },
    ArrayElement {
        text: bool,
    },
    /// `#>` / `#>>`: the path is one `text[]` argument.
    PathOperator {
        text: bool,
    },
    /// `jsonb_extract_path[_text]`: the path is the variadic arguments.
    ExtractPath {
        text: bool,
    },
    Contains,
    Contained,
    Exists,
    ExistsAny,
    ExistsAll,
    Concat,
    Delete,
    DeletePath,
    Typeof,
    ArrayLength,
    StripNulls,
    Pretty,
    Set,
    Insert,
}

/// One row of the function table.
struct Spec {
    name: &'static str,
    /// PostgreSQL's `json` twin, if it has one.
    json_alias: Option<&'static str>,
    params: &'static [Param],
    rest: Rest,
    output: Output,
    kernel: Kernel,
}

use Param::{Bool, Int, Jsonb, KeyIndexOrKeys, Path, Text};

const SPECS: &[Spec] = &[
    Spec {
        name: "jsonb_object_field",
        json_alias: Some("json_object_field"),
        params: &[Jsonb, Text],
        rest: Rest::None,
        output: Output::Jsonb,
        kernel: Kernel::ObjectField { text: false },
    },
    Spec {
        name: "jsonb_object_field_text",
        json_alias: Some("json_object_field_text"),
        params: &[Jsonb, Text],
        rest: Rest::None,
        output: Output::Text,
        kernel: Kernel::ObjectField { text: true },
    },
    Spec {
        name: "jsonb_array_element",
        json_alias: Some("json_array_element"),
        params: &[Jsonb, Int],
        rest: Rest::None,
        output: Output::Jsonb,
        kernel: Kernel::ArrayElement { text: false },
    },
    Spec {
        name: "jsonb_array_element_text",
        json_alias: Some("json_array_element_text"),
        params: &[Jsonb, Int],
        rest: Rest::None,
        output: Output::Text,
        kernel: Kernel::ArrayElement { text: true },
    },
    Spec {
        name: "jsonb_extract_path_op",
        json_alias: Some("json_extract_path_op"),
        params: &[Jsonb, Path],
        rest: Rest::None,
        output: Output::Jsonb,
        kernel: Kernel::PathOperator { text: false },
    },
    Spec {
        name: "jsonb_extract_path_text_op",
        json_alias: Some("json_extract_path_text_op"),
        params: &[Jsonb, Path],
        rest: Rest::None,
        output: Output::Text,
        kernel: Kernel::PathOperator { text: true },
    },
    Spec {
        name: "jsonb_extract_path",
        json_alias: Some("json_extract_path"),
        params: &[Jsonb],
        rest: Rest::Variadic(Text),
        output: Output::Jsonb,
        kernel: Kernel::ExtractPath { text: false },
    },
    Spec {
        name: "jsonb_extract_path_text",
        json_alias: Some("json_extract_path_text"),
        params: &[Jsonb],
        rest: Rest::Variadic(Text),
        output: Output::Text,
        kernel: Kernel::ExtractPath { text: true },
    },
    Spec {
        name: "jsonb_contains",
        json_alias: None,
        params: &[Jsonb, Jsonb],
        rest: Rest::None,
        output: Output::Bool,
        kernel: Kernel::Contains,
    },
    Spec {
        name: "jsonb_contained",
        json_alias: None,
        params: &[Jsonb, Jsonb],
        rest: Rest::None,
        output: Output::Bool,
        kernel: Kernel::Contained,
    },
    Spec {
        name: "jsonb_exists",
        json_alias: None,
        params: &[Jsonb, Text],
        rest: Rest::None,
        output: Output::Bool,
        kernel: Kernel::Exists,
    },
    Spec {
        name: "jsonb_exists_any",
        json_alias: None,
        params: &[Jsonb, Path],
        rest: Rest::None,
        output: Output::Bool,
        kernel: Kernel::ExistsAny,
    },
    Spec {
        name: "jsonb_exists_all",
        json_alias: None,
        params: &[Jsonb, Path],
        rest: Rest::None,
        output: Output::Bool,
        kernel: Kernel::ExistsAll,
    },
    Spec {
        name: "jsonb_concat",
        json_alias: None,
        params: &[Jsonb, Jsonb],
        rest: Rest::None,
        output: Output::Jsonb,
        kernel: Kernel::Concat,
    },
    Spec {
        name: "jsonb_delete",
        json_alias: None,
        params: &[Jsonb, KeyIndexOrKeys],
        rest: Rest::None,
        output: Output::Jsonb,
        kernel: Kernel::Delete,
    },
    Spec {
        name: "jsonb_delete_path",
        json_alias: None,
        params: &[Jsonb, Path],
        rest: Rest::None,
        output: Output::Jsonb,
        kernel: Kernel::DeletePath,
    },
    Spec {
        name: "jsonb_typeof",
        json_alias: Some("json_typeof"),
        params: &[Jsonb],
        rest: Rest::None,
        output: Output::Text,
        kernel: Kernel::Typeof,
    },
    Spec {
        name: "jsonb_array_length",
        json_alias: Some("json_array_length"),
        params: &[Jsonb],
        rest: Rest::None,
        output: Output::Int,
        kernel: Kernel::ArrayLength,
    },
    Spec {
        name: "jsonb_strip_nulls",
        json_alias: Some("json_strip_nulls"),
        params: &[Jsonb],
        rest: Rest::None,
        output: Output::Jsonb,
        kernel: Kernel::StripNulls,
    },
    Spec {
        name: "jsonb_pretty",
        json_alias: None,
        params: &[Jsonb],
        rest: Rest::None,
        output: Output::Text,
        kernel: Kernel::Pretty,
    },
    Spec {
        name: "jsonb_set",
        json_alias: None,
        params: &[Jsonb, Path, Jsonb],
        rest: Rest::Optional(Bool),
        output: Output::Jsonb,
        kernel: Kernel::Set,
    },
    Spec {
        name: "jsonb_insert",
        json_alias: None,
        params: &[Jsonb, Path, Jsonb],
        rest: Rest::Optional(Bool),
        output: Output::Jsonb,
        kernel: Kernel::Insert,
    },
];

/// Every function of the table.
pub fn all() -> Vec<ScalarUDF> {
    SPECS
        .iter()
        .map(|spec| ScalarUDF::new_from_impl(JsonbFunction::new(spec)))
        .collect()
}

/// A jsonb function of the table above.
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

fn json<'s>(value: &'s Value<'s>) -> Out<'s> {
    Out::Json(Held::Borrowed(value))
}

fn owned_json(value: Value<'_>) -> Out<'_> {
    Out::Json(Held::Owned(value))
}

fn text<'s>(value: &'s Value<'s>) -> Option<Out<'s>> {
    value.as_text().map(Out::Text)
}

impl Kernel {
    /// One row. `None` is SQL NULL.
    fn eval<'s>(self, name: &str, cells: &'s [Cell<'s>]) -> Result<Option<Out<'s>>> {
        use Cell::{Bool, Int, Json, Path, Text};
        let out = match (self, cells) {
            (Kernel::ObjectField { text: false }, [Json(doc), Text(key)]) => doc.get(key).map(json),
            (Kernel::ObjectField { text: true }, [Json(doc), Text(key)]) => doc.get(key).and_then(text),
            (Kernel::ArrayElement { text: false }, [Json(doc), Int(i)]) => doc.element(*i).map(json),
            (Kernel::ArrayElement { text: true }, [Json(doc), Int(i)]) => doc.element(*i).and_then(text),
            (Kernel::PathOperator { text: as_text }, [Json(doc), Path(path)]) => {
                let found = edit::get_path(doc, path.iter().map(|e| e.as_deref()));
                if as_text { found.and_then(text) } else { found.map(json) }
            }
            (Kernel::ExtractPath { text: as_text }, [Json(doc), elements @ ..]) => {
                let mut path = Vec::with_capacity(elements.len());
                for element in elements {
                    let Text(element) = element else {
                        return internal_err!("{name}: a path element is not text");
                    };
                    path.push(Some(*element));
                }
                let found = edit::get_path(doc, path);
                if as_text { found.and_then(text) } else { found.map(json) }
            }
            (Kernel::Contains, [Json(a), Json(b)]) => Some(Out::Bool(value::contains(a, b))),
            (Kernel::Contained, [Json(a), Json(b)]) => Some(Out::Bool(value::contains(b, a))),
            (Kernel::Exists, [Json(doc), Text(key)]) => Some(Out::Bool(value::exists(doc, key))),
            (Kernel::ExistsAny, [Json(doc), Path(keys)]) => {
                // NULL keys are skipped, as in PostgreSQL.
                Some(Out::Bool(keys.iter().flatten().any(|k| value::exists(doc, k))))
            }
            (Kernel::ExistsAll, [Json(doc), Path(keys)]) => {
                Some(Out::Bool(keys.iter().flatten().all(|k| value::exists(doc, k))))
            }
            (Kernel::Concat, [Json(a), Json(b)]) => Some(owned_json(edit::concat(a, b))),
            (Kernel::Delete, [Json(doc), Text(key)]) => Some(owned_json(edit::delete_keys(doc, &[key])?)),
            (Kernel::Delete, [Json(doc), Int(i)]) => Some(owned_json(edit::delete_index(doc, *i)?)),
            (Kernel::Delete, [Json(doc), Path(keys)]) => {
                let keys: Vec<&str> = keys.iter().flatten().map(Cow::as_ref).collect();
                Some(owned_json(edit::delete_keys(doc, &keys)?))
            }
            (Kernel::DeletePath, [Json(doc), Path(path)]) => {
                Some(owned_json(edit::edit_path(doc, path, &Value::Null, PathEdit::Delete)?))
            }
            (Kernel::Typeof, [Json(doc)]) => Some(Out::Text(Cow::Borrowed(doc.type_name()))),
            (Kernel::ArrayLength, [Json(doc)]) => match &**doc {
                Value::Array(elements) => match i32::try_from(elements.len()) {
                    Ok(n) => Some(Out::Int(n)),
                    Err(_) => return invalid_parameter(format!("{name}: array too long")),
                },
                Value::Object(_) => return invalid_parameter("cannot get array length of a non-array"),
                _ => return invalid_parameter("cannot get array length of a scalar"),
            },
            (Kernel::StripNulls, [Json(doc)]) => Some(owned_json(edit::strip_nulls(doc))),
            (Kernel::Pretty, [Json(doc)]) => Some(Out::Text(Cow::Owned(doc.to_pretty()))),
            (Kernel::Set, [Json(target), Path(path), Json(new), rest @ ..]) => {
                let create = !matches!(rest, [Bool(false)]);
                let mode = if create { PathEdit::Create } else { PathEdit::Replace };
                Some(owned_json(edit::edit_path(target, path, new, mode)?))
            }
            (Kernel::Insert, [Json(target), Path(path), Json(new), rest @ ..]) => {
                let after = matches!(rest, [Bool(true)]);
                let mode = if after {
                    PathEdit::InsertAfter
                } else {
                    PathEdit::InsertBefore
                };
                Some(owned_json(edit::edit_path(target, path, new, mode)?))
            }
            (kernel, _) => return internal_err!("{name}: arguments do not fit {kernel:?}"),
        };
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use arrow::array::{ArrayRef, AsArray, Int64Array, ListArray, StringArray};
    use arrow::datatypes::Int64Type;
    use datafusion::common::ScalarValue;
    use datafusion::config::ConfigOptions;

    use super::*;

    fn function(name: &str) -> ScalarUDF {
        all()
            .into_iter()
            .find(|f| f.name() == name || f.aliases().iter().any(|a| a == name))
            .unwrap_or_else(|| panic!("no function {name}"))
    }

    /// Call `name` the way DataFusion does: coerce the argument types, cast,
    /// invoke. `None` in a column is NULL.
    fn call(name: &str, args: Vec<ColumnarValue>, rows: usize) -> Result<ColumnarValue> {
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

    fn docs(values: &[Option<&str>]) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(StringArray::from(values.to_vec())))
    }

    fn text_arg(s: &str) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Utf8(Some(s.to_string())))
    }

    fn int_arg(i: i64) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Int64(Some(i)))
    }

    fn null_arg() -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Null)
    }

    /// The result column as strings, NULL as `None`.
    fn strings(result: ColumnarValue) -> Vec<Option<String>> {
        let array = match result {
            ColumnarValue::Array(a) => a,
            ColumnarValue::Scalar(s) => s.to_array().expect("scalar to array"),
        };
        let array = arrow::compute::cast(&array, &DataType::Utf8).expect("cast to text");
        array.as_string::<i32>().iter().map(|s| s.map(str::to_string)).collect()
    }

    fn expect(result: Result<ColumnarValue>, expected: &[Option<&str>]) {
        let got = strings(result.expect("call succeeds"));
        let expected: Vec<Option<String>> = expected.iter().map(|s| s.map(str::to_string)).collect();
        assert_eq!(got, expected);
    }

    const DOCS: &[Option<&str>] = &[
        Some(r#"{"kind":"click","n":5,"tags":["a","b"],"meta":{"x":null,"y":1.50}}"#),
        Some(r#"[10,"x",null]"#),
        Some(r#""just text""#),
        None,
    ];

    #[test]
    fn object_field_and_text() {
        expect(
            call("jsonb_object_field", vec![docs(DOCS), text_arg("kind")], 4),
            &[Some(r#""click""#), None, None, None],
        );
        expect(
            call("jsonb_object_field_text", vec![docs(DOCS), text_arg("kind")], 4),
            &[Some("click"), None, None, None],
        );
        expect(
            call("jsonb_object_field", vec![docs(DOCS), text_arg("meta")], 4),
            &[Some(r#"{"x": null, "y": 1.50}"#), None, None, None],
        );
        expect(
            call("json_object_field_text", vec![docs(DOCS), text_arg("tags")], 4),
            &[Some(r#"["a", "b"]"#), None, None, None],
        );
        // A missing key and a NULL key are NULL.
        expect(
            call("jsonb_object_field", vec![docs(DOCS), text_arg("zz")], 4),
            &[None, None, None, None],
        );
        expect(
            call("jsonb_object_field", vec![docs(DOCS), null_arg()], 4),
            &[None, None, None, None],
        );
    }

    #[test]
    fn json_null_is_jsonb_null_but_sql_null_as_text() {
        let doc = docs(&[Some(r#"{"a":null}"#)]);
        expect(
            call("jsonb_object_field", vec![doc.clone(), text_arg("a")], 1),
            &[Some("null")],
        );
        expect(call("jsonb_object_field_text", vec![doc, text_arg("a")], 1), &[None]);
    }

    #[test]
    fn array_elements() {
        expect(
            call("jsonb_array_element", vec![docs(DOCS), int_arg(0)], 4),
            &[None, Some("10"), None, None],
        );
        expect(
            call("jsonb_array_element_text", vec![docs(DOCS), int_arg(-2)], 4),
            &[None, Some("x"), None, None],
        );
        expect(
            call("jsonb_array_element_text", vec![docs(DOCS), int_arg(-1)], 4),
            &[None, None, None, None],
        );
        expect(
            call("jsonb_array_element", vec![docs(DOCS), int_arg(7)], 4),
            &[None, None, None, None],
        );
        // An index column, not just a constant.
        let indexes = ColumnarValue::Array(Arc::new(Int64Array::from(vec![Some(0), Some(1), Some(0), Some(0)])));
        expect(
            call("jsonb_array_element", vec![docs(DOCS), indexes], 4),
            &[None, Some(r#""x""#), None, None],
        );
    }

    #[test]
    fn path_operators_take_array_literals_and_lists() {
        expect(
            call("jsonb_extract_path_op", vec![docs(DOCS), text_arg("{meta,y}")], 4),
            &[Some("1.50"), None, None, None],
        );
        expect(
            call("jsonb_extract_path_text_op", vec![docs(DOCS), text_arg("{tags,-1}")], 4),
            &[Some("b"), None, None, None],
        );
        expect(
            call("jsonb_extract_path_text_op", vec![docs(DOCS), text_arg("{}")], 4),
            &[
                Some(r#"{"n": 5, "kind": "click", "meta": {"x": null, "y": 1.50}, "tags": ["a", "b"]}"#),
                Some(r#"[10, "x", null]"#),
                Some("just text"),
                None,
            ],
        );
        let list = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(vec![Some(1)])]);
        let list = ColumnarValue::Scalar(ScalarValue::List(Arc::new(list)));
        expect(
            call("jsonb_extract_path_op", vec![docs(DOCS), list], 4),
            &[None, Some(r#""x""#), None, None],
        );
        let err = call("jsonb_extract_path_op", vec![docs(DOCS), text_arg("meta")], 4).expect_err("not an array");
        assert!(err.to_string().contains("malformed array literal"), "{err}");
    }

    #[test]
    fn extract_path_functions_are_variadic() {
        expect(
            call(
                "jsonb_extract_path",
                vec![docs(DOCS), text_arg("meta"), text_arg("y")],
                4,
            ),
            &[Some("1.50"), None, None, None],
        );
        expect(
            call(
                "json_extract_path_text",
                vec![docs(DOCS), text_arg("tags"), text_arg("0")],
                4,
            ),
            &[Some("a"), None, None, None],
        );
        expect(
            call(
                "jsonb_extract_path_text",
                vec![docs(DOCS), text_arg("meta"), null_arg()],
                4,
            ),
            &[None, None, None, None],
        );
        assert!(call("jsonb_extract_path", vec![], 1).is_err());
    }

    #[test]
    fn containment_and_existence() {
        let probe = |name: &str, arg: ColumnarValue| strings(call(name, vec![docs(DOCS), arg], 4).expect("call"));
        assert_eq!(
            probe("jsonb_contains", text_arg(r#"{"kind":"click","meta":{"y":1.5}}"#)),
            vec![Some("true".into()), Some("false".into()), Some("false".into()), None]
        );
        assert_eq!(
            probe("jsonb_contains", text_arg("10")),
            vec![Some("false".into()), Some("true".into()), Some("false".into()), None]
        );
        assert_eq!(
            probe("jsonb_contained", text_arg(r#"[10,"x",null,4]"#)),
            vec![Some("false".into()), Some("true".into()), Some("false".into()), None]
        );
        assert_eq!(
            probe("jsonb_exists", text_arg("x")),
            vec![Some("false".into()), Some("true".into()), Some("false".into()), None]
        );
        assert_eq!(
            probe("jsonb_exists_any", text_arg("{zz,n}")),
            vec![Some("true".into()), Some("false".into()), Some("false".into()), None]
        );
        assert_eq!(
            probe("jsonb_exists_all", text_arg("{kind,n,NULL}")),
            vec![Some("true".into()), Some("false".into()), Some("false".into()), None]
        );
        assert_eq!(
            probe("jsonb_exists_all", text_arg("{}")),
            vec![Some("true".into()), Some("true".into()), Some("true".into()), None]
        );
    }

    #[test]
    fn typeof_length_strip_pretty() {
        expect(
            call("jsonb_typeof", vec![docs(DOCS)], 4),
            &[Some("object"), Some("array"), Some("string"), None],
        );
        expect(
            call("json_typeof", vec![docs(&[Some("1"), Some("null"), Some("true")])], 3),
            &[Some("number"), Some("null"), Some("boolean")],
        );
        expect(
            call("jsonb_array_length", vec![docs(&[Some("[1,[2,3]]"), None])], 2),
            &[Some("2"), None],
        );
        let err = call("jsonb_array_length", vec![docs(&[Some("{}")])], 1).expect_err("object");
        assert!(err.to_string().contains("cannot get array length of a non-array"));
        let err = call("jsonb_array_length", vec![docs(&[Some("3")])], 1).expect_err("scalar");
        assert!(err.to_string().contains("cannot get array length of a scalar"));
        expect(
            call("jsonb_strip_nulls", vec![docs(DOCS)], 4),
            &[
                Some(r#"{"n": 5, "kind": "click", "meta": {"y": 1.50}, "tags": ["a", "b"]}"#),
                Some(r#"[10, "x", null]"#),
                Some(r#""just text""#),
                None,
            ],
        );
        expect(
            call("jsonb_pretty", vec![docs(&[Some(r#"{"a":[1]}"#)])], 1),
            &[Some("{\n    \"a\": [\n        1\n    ]\n}")],
        );
    }

    #[test]
    fn concat_and_delete() {
        let doc = docs(&[Some(r#"{"a":1,"b":[1,2]}"#), Some("[1,2,3]"), None]);
        expect(
            call("jsonb_concat", vec![doc.clone(), text_arg(r#"{"c":true}"#)], 3),
            &[
                Some(r#"{"a": 1, "b": [1, 2], "c": true}"#),
                Some(r#"[1, 2, 3, {"c": true}]"#),
                None,
            ],
        );
        expect(
            call("jsonb_delete", vec![doc.clone(), text_arg("a")], 3),
            &[Some(r#"{"b": [1, 2]}"#), Some("[1, 2, 3]"), None],
        );
        let list = ListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(vec![Some(1)])]);
        let keys = ColumnarValue::Scalar(ScalarValue::List(Arc::new(list)));
        let keys = keys.cast_to(&super::super::args::text_list_type(), None).expect("cast");
        expect(
            call("jsonb_delete", vec![docs(&[Some(r#"{"1":1,"2":2}"#)]), keys], 1),
            &[Some(r#"{"2": 2}"#)],
        );
        expect(
            call("jsonb_delete", vec![docs(&[Some("[1,2,3]")]), int_arg(0)], 1),
            &[Some("[2, 3]")],
        );
        let err = call("jsonb_delete", vec![doc.clone(), int_arg(0)], 3).expect_err("object by index");
        assert!(
            err.to_string()
                .contains("cannot delete from object using integer index")
        );
        let objects = docs(&[Some(r#"{"a":1,"b":[1,2]}"#), None]);
        expect(
            call("jsonb_delete_path", vec![objects, text_arg("{b,0}")], 2),
            &[Some(r#"{"a": 1, "b": [2]}"#), None],
        );
        let err = call("jsonb_delete_path", vec![doc, text_arg("{b,0}")], 3).expect_err("key into an array");
        assert!(
            err.to_string()
                .contains("path element at position 1 is not an integer: \"b\""),
            "{err}"
        );
    }

    #[test]
    fn set_and_insert() {
        let doc = docs(&[Some(r#"{"a":{"b":1}}"#), None]);
        expect(
            call("jsonb_set", vec![doc.clone(), text_arg("{a,b}"), text_arg("[2]")], 2),
            &[Some(r#"{"a": {"b": [2]}}"#), None],
        );
        expect(
            call("jsonb_set", vec![doc.clone(), text_arg("{a,c}"), text_arg("3")], 2),
            &[Some(r#"{"a": {"b": 1, "c": 3}}"#), None],
        );
        let no_create = ColumnarValue::Scalar(ScalarValue::Boolean(Some(false)));
        expect(
            call(
                "jsonb_set",
                vec![doc.clone(), text_arg("{a,c}"), text_arg("3"), no_create],
                2,
            ),
            &[Some(r#"{"a": {"b": 1}}"#), None],
        );
        expect(
            call("jsonb_set", vec![doc.clone(), text_arg("{a,b}"), null_arg()], 2),
            &[None, None],
        );
        expect(
            call(
                "jsonb_insert",
                vec![docs(&[Some("[1,2]")]), text_arg("{0}"), text_arg("0")],
                1,
            ),
            &[Some("[0, 1, 2]")],
        );
        let after = ColumnarValue::Scalar(ScalarValue::Boolean(Some(true)));
        expect(
            call(
                "jsonb_insert",
                vec![docs(&[Some("[1,2]")]), text_arg("{0}"), text_arg("0"), after],
                1,
            ),
            &[Some("[1, 0, 2]")],
        );
        let err = call("jsonb_set", vec![docs(&[Some("1")]), text_arg("{a}"), text_arg("0")], 1).expect_err("scalar");
        assert!(err.to_string().contains("cannot set path in scalar"));
    }

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
