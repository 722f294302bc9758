//! The kernels: how one row of each function of the table is computed,
//! from its (non-NULL) argument cells.

use std::borrow::Cow;

use datafusion::common::internal_err;
use datafusion::error::Result;

use crate::json::args::{Cell, Held, Out};
use crate::json::edit::{self, PathEdit};
use crate::json::invalid_parameter;
use crate::json::value::{self, Value};

/// How one row is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Kernel {
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
    pub(super) fn eval<'s>(self, name: &str, cells: &'s [Cell<'s>]) -> Result<Option<Out<'s>>> {
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
    use std::sync::Arc;

    use arrow::array::{Int64Array, ListArray};
    use arrow::datatypes::Int64Type;
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::ColumnarValue;

    use super::super::test_support::{call, docs, expect, int_arg, null_arg, strings, text_arg};

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
        let keys = keys.cast_to(&crate::json::args::text_list_type(), None).expect("cast");
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
}
