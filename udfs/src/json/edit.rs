//! Edits of jsonb values, with PostgreSQL's rules for each: `||`, `-`,
//! `#-`, `jsonb_set`, `jsonb_insert`, `jsonb_strip_nulls`, and reading a
//! path (`#>`, `jsonb_extract_path`).
//!
//! Edits work on a copy of the parsed tree whose strings still borrow from
//! the input text, so copying a document to change one member is cheap.

use std::borrow::Cow;

use datafusion::error::Result;

use super::args::path_index;
use super::value::{Value, key_order, resolve_index};
use super::{invalid_parameter, invalid_text, null_value};

/// The value at `path` (`#>`, `jsonb_extract_path`): object members by key,
/// array elements by integer index (negative from the end). `None` (SQL
/// NULL) for a NULL path element, a missing key or element, an element that
/// is not an integer, or a path that continues past a scalar. An empty path
/// is the whole value.
pub fn get_path<'v, 'p>(
    value: &'v Value<'v>,
    path: impl IntoIterator<Item = Option<&'p str>>,
) -> Option<&'v Value<'v>> {
    let mut current = value;
    for element in path {
        let element = element?;
        current = match current {
            Value::Object(_) => current.get(element)?,
            Value::Array(_) => current.element(path_index(element)?)?,
            _ => return None,
        };
    }
    Some(current)
}

/// `a || b`: two objects merge (`b`'s members win); anything else is
/// concatenated as arrays, a non-array counting as a one-element array.
pub fn concat<'v>(a: &Value<'v>, b: &Value<'v>) -> Value<'v> {
    match (a, b) {
        (Value::Object(left), Value::Object(right)) => Value::object(left.iter().chain(right).cloned().collect()),
        _ => {
            let elements = |v: &Value<'v>| match v {
                Value::Array(elements) => elements.clone(),
                other => vec![other.clone()],
            };
            let mut out = elements(a);
            out.extend(elements(b));
            Value::Array(out)
        }
    }
}

/// `a - key` and `a - keys`: drop the members with these keys from an
/// object, or the string elements equal to one of them from an array.
pub fn delete_keys<'v>(a: &Value<'v>, keys: &[&str]) -> Result<Value<'v>> {
    match a {
        Value::Object(members) => Ok(Value::Object(
            members
                .iter()
                .filter(|(k, _)| !keys.contains(&k.as_ref()))
                .cloned()
                .collect(),
        )),
        Value::Array(elements) => Ok(Value::Array(
            elements
                .iter()
                .filter(|e| !matches!(e, Value::String(s) if keys.contains(&s.as_ref())))
                .cloned()
                .collect(),
        )),
        _ => invalid_parameter("cannot delete from scalar"),
    }
}

/// `a - index`: drop one array element (negative indexes from the end); an
/// index out of range changes nothing.
pub fn delete_index<'v>(a: &Value<'v>, index: i64) -> Result<Value<'v>> {
    match a {
        Value::Array(elements) => {
            let mut elements = elements.clone();
            if let Some(i) = resolve_index(index, elements.len()) {
                elements.remove(i);
            }
            Ok(Value::Array(elements))
        }
        Value::Object(_) => invalid_parameter("cannot delete from object using integer index"),
        _ => invalid_parameter("cannot delete from scalar"),
    }
}

/// `jsonb_strip_nulls`: drop object members whose value is null, at every
/// depth; nulls in arrays stay.
pub fn strip_nulls<'v>(a: &Value<'v>) -> Value<'v> {
    match a {
        Value::Object(members) => Value::Object(
            members
                .iter()
                .filter(|(_, v)| !matches!(v, Value::Null))
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(elements) => Value::Array(elements.iter().map(strip_nulls).collect()),
        scalar => scalar.clone(),
    }
}

/// What [`edit_path`] does at the end of the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathEdit {
    /// `jsonb_set(..., create_missing => false)`: replace what is there.
    Replace,
    /// `jsonb_set(..., create_missing => true)`: replace, or add a missing
    /// key or an element past either end of an array.
    Create,
    /// `jsonb_insert(..., insert_after => false)`.
    InsertBefore,
    /// `jsonb_insert(..., insert_after => true)`.
    InsertAfter,
    /// `#-`.
    Delete,
}

impl PathEdit {
    fn adds(self) -> bool {
        matches!(self, PathEdit::Create | PathEdit::InsertBefore | PathEdit::InsertAfter)
    }
}

/// `jsonb_set`, `jsonb_insert` and `#-`: change `target` at `path`, as
/// PostgreSQL's `setPath` does.
///
/// Along the path, a key selects an object member and an integer an array
/// element (negative from the end); a path that runs into a scalar or a
/// missing member changes nothing. At the end, `edit` decides; inserting or
/// creating at an array index before the start prepends and past the end
/// appends. Errors, as in PostgreSQL: a scalar target, a NULL path element,
/// a non-integer element where an array is, and `jsonb_insert` onto an
/// existing key.
pub fn edit_path<'v>(
    target: &Value<'v>,
    path: &[Option<Cow<'_, str>>],
    new_value: &Value<'v>,
    edit: PathEdit,
) -> Result<Value<'v>> {
    if !target.is_container() {
        return match edit {
            PathEdit::Delete => invalid_parameter("cannot delete path in scalar"),
            _ => invalid_parameter("cannot set path in scalar"),
        };
    }
    let empty = match target {
        Value::Object(m) => m.is_empty(),
        Value::Array(e) => e.is_empty(),
        _ => false,
    };
    if path.is_empty() || (empty && matches!(edit, PathEdit::Replace | PathEdit::Delete)) {
        return Ok(target.clone());
    }
    let mut out = target.clone();
    edit_in_place(&mut out, path, 0, new_value, edit)?;
    Ok(out)
}

fn edit_in_place<'v>(
    value: &mut Value<'v>,
    path: &[Option<Cow<'_, str>>],
    level: usize,
    new_value: &Value<'v>,
    edit: PathEdit,
) -> Result<()> {
    let last = level + 1 == path.len();
    let Some(element) = path[level].as_deref() else {
        return null_value(format!("path element at position {} is null", level + 1));
    };
    match value {
        Value::Object(members) => match members.binary_search_by(|(k, _)| key_order(k, element)) {
            Ok(i) if !last => edit_in_place(&mut members[i].1, path, level + 1, new_value, edit)?,
            Ok(i) => match edit {
                PathEdit::Delete => {
                    members.remove(i);
                }
                PathEdit::Replace | PathEdit::Create => members[i].1 = new_value.clone(),
                PathEdit::InsertBefore | PathEdit::InsertAfter => {
                    return invalid_parameter(
                        "cannot replace existing key (HINT: Try using the function jsonb_set to replace key value.)",
                    );
                }
            },
            Err(i) if last && edit.adds() => members.insert(i, (Cow::Owned(element.to_string()), new_value.clone())),
            Err(_) => {}
        },
        Value::Array(elements) => {
            let Some(index) = path_index(element) else {
                return invalid_text(format!(
                    "path element at position {} is not an integer: \"{element}\"",
                    level + 1
                ));
            };
            let len = elements.len() as i64;
            if index < -len {
                if last && edit.adds() {
                    elements.insert(0, new_value.clone());
                }
            } else if index >= len {
                if last && edit.adds() {
                    elements.push(new_value.clone());
                }
            } else {
                let i = (if index < 0 { len + index } else { index }) as usize;
                if !last {
                    edit_in_place(&mut elements[i], path, level + 1, new_value, edit)?;
                } else {
                    match edit {
                        PathEdit::Delete => {
                            elements.remove(i);
                        }
                        PathEdit::Replace | PathEdit::Create => elements[i] = new_value.clone(),
                        PathEdit::InsertBefore => elements.insert(i, new_value.clone()),
                        PathEdit::InsertAfter => elements.insert(i + 1, new_value.clone()),
                    }
                }
            }
        }
        // A scalar below the top: PostgreSQL leaves it as it is.
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::value::parse;
    use super::*;

    fn v(text: &str) -> Value<'_> {
        parse(text).expect("valid test JSON")
    }

    fn path(elements: &[&str]) -> Vec<Option<Cow<'static, str>>> {
        elements.iter().map(|e| Some(Cow::Owned(e.to_string()))).collect()
    }

    fn edit(target: &str, p: &[&str], new: &str, edit: PathEdit) -> String {
        match edit_path(&v(target), &path(p), &v(new), edit) {
            Ok(value) => value.to_canonical(),
            Err(e) => format!("error: {}", e.strip_backtrace()),
        }
    }

    #[test]
    fn paths_read_like_postgres() {
        let doc = v(r#"{"a":{"b":[10,{"c":"x"}]},"n":null}"#);
        let get = |p: &[&str]| get_path(&doc, p.iter().map(|s| Some(*s))).map(Value::to_canonical);
        assert_eq!(get(&["a", "b", "1", "c"]).as_deref(), Some(r#""x""#));
        assert_eq!(get(&["a", "b", "-2"]).as_deref(), Some("10"));
        assert_eq!(get(&["a", "b", "x"]), None);
        assert_eq!(get(&["a", "b", "0", "z"]), None);
        assert_eq!(get(&["zz"]), None);
        assert_eq!(get(&["n"]).as_deref(), Some("null"));
        assert_eq!(get(&[]).map(|s| s.len()), Some(doc.to_canonical().len()));
        assert!(get_path(&doc, [Some("a"), None]).is_none());
    }

    #[test]
    fn concat_follows_postgres() {
        let c = |a: &str, b: &str| concat(&v(a), &v(b)).to_canonical();
        assert_eq!(c(r#"{"a":1,"b":2}"#, r#"{"b":3,"c":4}"#), r#"{"a": 1, "b": 3, "c": 4}"#);
        assert_eq!(c("[1,2]", "[3]"), "[1, 2, 3]");
        assert_eq!(c("[1]", r#"{"a":1}"#), r#"[1, {"a": 1}]"#);
        assert_eq!(c(r#"{"a":1}"#, "[1]"), r#"[{"a": 1}, 1]"#);
        assert_eq!(c("1", "2"), "[1, 2]");
        assert_eq!(c(r#"{"a":1}"#, "2"), r#"[{"a": 1}, 2]"#);
    }

    #[test]
    fn deletes_follow_postgres() -> Result<()> {
        assert_eq!(
            delete_keys(&v(r#"{"a":1,"b":2}"#), &["a"])?.to_canonical(),
            r#"{"b": 2}"#
        );
        assert_eq!(
            delete_keys(&v(r#"["a","b","a",1]"#), &["a"])?.to_canonical(),
            r#"["b", 1]"#
        );
        assert_eq!(
            delete_keys(&v(r#"{"a":1,"b":2,"c":3}"#), &["a", "c"])?.to_canonical(),
            r#"{"b": 2}"#
        );
        assert!(delete_keys(&v("1"), &["a"]).is_err());
        assert_eq!(delete_index(&v("[1,2,3]"), -1)?.to_canonical(), "[1, 2]");
        assert_eq!(delete_index(&v("[1,2,3]"), 5)?.to_canonical(), "[1, 2, 3]");
        assert!(delete_index(&v("{}"), 0).is_err());
        assert!(delete_index(&v("\"x\""), 0).is_err());
        Ok(())
    }

    #[test]
    fn strip_nulls_keeps_array_nulls() {
        assert_eq!(
            strip_nulls(&v(r#"{"a":null,"b":[null,{"c":null}]}"#)).to_canonical(),
            r#"{"b": [null, {}]}"#
        );
    }

    #[test]
    fn set_follows_postgres() {
        use PathEdit::*;
        assert_eq!(edit(r#"{"a":1}"#, &["a"], "2", Replace), r#"{"a": 2}"#);
        assert_eq!(edit(r#"{"a":1}"#, &["b"], "2", Replace), r#"{"a": 1}"#);
        assert_eq!(edit(r#"{"a":1}"#, &["b"], "2", Create), r#"{"a": 1, "b": 2}"#);
        assert_eq!(
            edit(r#"{"a":{"b":1}}"#, &["a", "c"], "[]", Create),
            r#"{"a": {"b": 1, "c": []}}"#
        );
        assert_eq!(edit(r#"{"a":1}"#, &["x", "y"], "2", Create), r#"{"a": 1}"#);
        assert_eq!(edit(r#"{"a":1}"#, &["a", "y"], "2", Create), r#"{"a": 1}"#);
        assert_eq!(edit("[1,2,3]", &["-1"], "9", Replace), "[1, 2, 9]");
        assert_eq!(edit("[1,2,3]", &["10"], "9", Create), "[1, 2, 3, 9]");
        assert_eq!(edit("[1,2,3]", &["-10"], "9", Create), "[9, 1, 2, 3]");
        assert_eq!(edit("[1,2,3]", &["10"], "9", Replace), "[1, 2, 3]");
        assert_eq!(edit("[]", &["0"], "9", Create), "[9]");
        assert_eq!(
            edit("[1]", &["a"], "9", Create),
            "error: External error: path element at position 1 is not an integer: \"a\""
        );
        assert_eq!(
            edit("1", &["a"], "9", Create),
            "error: External error: cannot set path in scalar"
        );
        assert_eq!(edit(r#"{"a":1}"#, &[], "9", Create), r#"{"a": 1}"#);
    }

    #[test]
    fn insert_follows_postgres() {
        use PathEdit::*;
        assert_eq!(edit("[1,2,3]", &["1"], "9", InsertBefore), "[1, 9, 2, 3]");
        assert_eq!(edit("[1,2,3]", &["1"], "9", InsertAfter), "[1, 2, 9, 3]");
        assert_eq!(edit("[1,2,3]", &["-1"], "9", InsertAfter), "[1, 2, 3, 9]");
        assert_eq!(edit(r#"{"a":[1]}"#, &["a", "0"], "0", InsertBefore), r#"{"a": [0, 1]}"#);
        assert_eq!(edit(r#"{"a":1}"#, &["b"], "2", InsertAfter), r#"{"a": 1, "b": 2}"#);
        assert!(edit(r#"{"a":1}"#, &["a"], "2", InsertAfter).contains("cannot replace existing key"));
    }

    #[test]
    fn delete_path_follows_postgres() {
        use PathEdit::*;
        assert_eq!(
            edit(r#"{"a":{"b":1,"c":2}}"#, &["a", "b"], "null", Delete),
            r#"{"a": {"c": 2}}"#
        );
        assert_eq!(edit("[1,[2,3]]", &["1", "-1"], "null", Delete), "[1, [2]]");
        assert_eq!(edit(r#"{"a":1}"#, &["z"], "null", Delete), r#"{"a": 1}"#);
        assert_eq!(
            edit("\"s\"", &["z"], "null", Delete),
            "error: External error: cannot delete path in scalar"
        );
        let with_null = vec![Some(Cow::Borrowed("a")), None];
        let err = edit_path(&v(r#"{"a":{"b":1}}"#), &with_null, &Value::Null, Delete).expect_err("null element");
        assert!(err.to_string().contains("path element at position 2 is null"));
    }
}
