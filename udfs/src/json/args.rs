//! Reading the arguments of a jsonb function row by row, whether each is a
//! column or a constant, and building its result column.
//!
//! A function declares each argument as a [`Param`]: the Arrow type it is
//! coerced to at planning time, and how one row of it is read at run time
//! (a [`Cell`]). A constant argument (the key in `doc->'kind'`, the
//! document in `doc @> '{"a": 1}'`) is read once, not once per row: that
//! is where the per-row parse of JSON text would otherwise go.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, Int32Builder, Int64Array, ListArray, StringArray,
    StringBuilder,
};
use arrow::datatypes::{DataType, Field, Int64Type};
use datafusion::common::{ScalarValue, internal_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::ColumnarValue;

use super::invalid_text;
use super::value::{self, Value};

/// What kind of value an argument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Param {
    /// jsonb, as its text.
    Jsonb,
    Text,
    Int,
    Bool,
    /// A `text[]` path or key list: a list, or text in PostgreSQL's array
    /// literal syntax (`'{a,b,0}'`), as an untyped literal would be in
    /// PostgreSQL.
    Path,
    /// The right operand of jsonb `-`: a key (text), an index (integer) or
    /// keys (`text[]`, given as a list).
    KeyIndexOrKeys,
}

fn is_string(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    )
}

fn is_list(t: &DataType) -> bool {
    matches!(
        t,
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..) | DataType::ListView(_)
    )
}

/// `text[]` as these functions read it.
pub(crate) fn text_list_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

impl Param {
    /// The type an argument of type `t` is cast to before the call.
    pub(crate) fn coerce(self, function: &str, position: usize, t: &DataType) -> Result<DataType> {
        let ok = match self {
            Param::Jsonb | Param::Text if is_string(t) => DataType::Utf8,
            Param::Int if t.is_integer() || t.is_null() => DataType::Int64,
            Param::Bool if matches!(t, DataType::Boolean | DataType::Null) => DataType::Boolean,
            Param::Path if is_string(t) => DataType::Utf8,
            Param::Path | Param::KeyIndexOrKeys if is_list(t) => text_list_type(),
            Param::KeyIndexOrKeys if is_string(t) => DataType::Utf8,
            Param::KeyIndexOrKeys if t.is_integer() => DataType::Int64,
            _ => {
                let expected = match self {
                    Param::Jsonb => "jsonb",
                    Param::Text => "text",
                    Param::Int => "an integer",
                    Param::Bool => "boolean",
                    Param::Path => "text[]",
                    Param::KeyIndexOrKeys => "text, an integer or text[]",
                };
                return plan_err!("{function}: argument {position} must be {expected}, not {t}");
            }
        };
        Ok(ok)
    }
}

/// A value borrowed (from a constant argument, or from inside another
/// value) or owned (parsed for this row, or computed). Unlike `Cow` it is
/// covariant in its lifetime, which lets cells and results borrow from
/// each other freely.
#[derive(Debug)]
pub(crate) enum Held<'c, T> {
    Borrowed(&'c T),
    Owned(T),
}

impl<T> std::ops::Deref for Held<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        match self {
            Held::Borrowed(t) => t,
            Held::Owned(t) => t,
        }
    }
}

/// Path elements; `None` for a NULL element.
pub(crate) type Path<'c> = Vec<Option<Cow<'c, str>>>;

/// One row of one argument.
#[derive(Debug)]
pub(crate) enum Cell<'c> {
    Json(Held<'c, Value<'c>>),
    Text(&'c str),
    Int(i64),
    Bool(bool),
    Path(Held<'c, Path<'c>>),
}

impl Cell<'_> {
    /// The same cell, borrowing from this one.
    fn reborrow(&self) -> Cell<'_> {
        match self {
            Cell::Json(v) => Cell::Json(Held::Borrowed(v)),
            Cell::Text(s) => Cell::Text(s),
            Cell::Int(i) => Cell::Int(*i),
            Cell::Bool(b) => Cell::Bool(*b),
            Cell::Path(p) => Cell::Path(Held::Borrowed(p)),
        }
    }
}

/// Where an argument's rows come from, after coercion.
enum Source<'a> {
    Json(&'a StringArray),
    Text(&'a StringArray),
    Int(&'a Int64Array),
    Bool(&'a BooleanArray),
    PathText(&'a StringArray),
    /// A list column, with its values as strings.
    PathList(&'a ListArray, &'a StringArray),
}

impl<'a> Source<'a> {
    fn new(param: Param, array: &'a ArrayRef) -> Result<Self> {
        Ok(match (param, array.data_type()) {
            (Param::Jsonb, DataType::Utf8) => Source::Json(array.as_string()),
            (Param::Text | Param::KeyIndexOrKeys, DataType::Utf8) => Source::Text(array.as_string()),
            (Param::Int | Param::KeyIndexOrKeys, DataType::Int64) => Source::Int(array.as_primitive::<Int64Type>()),
            (Param::Bool, DataType::Boolean) => Source::Bool(array.as_boolean()),
            (Param::Path, DataType::Utf8) => Source::PathText(array.as_string()),
            (Param::Path | Param::KeyIndexOrKeys, DataType::List(_)) => {
                let list = array.as_list::<i32>();
                let Some(values) = list.values().as_string_opt::<i32>() else {
                    return internal_err!("a text[] argument arrived as {}", array.data_type());
                };
                Source::PathList(list, values)
            }
            (param, other) => return internal_err!("a {param:?} argument arrived as {other}"),
        })
    }

    fn cell(&self, row: usize) -> Result<Option<Cell<'a>>> {
        let cell = match self {
            Source::Json(a) => match a.is_valid(row) {
                true => Cell::Json(Held::Owned(value::parse(a.value(row))?)),
                false => return Ok(None),
            },
            Source::Text(a) => match a.is_valid(row) {
                true => Cell::Text(a.value(row)),
                false => return Ok(None),
            },
            Source::Int(a) => match a.is_valid(row) {
                true => Cell::Int(a.value(row)),
                false => return Ok(None),
            },
            Source::Bool(a) => match a.is_valid(row) {
                true => Cell::Bool(a.value(row)),
                false => return Ok(None),
            },
            Source::PathText(a) => match a.is_valid(row) {
                true => Cell::Path(Held::Owned(parse_text_array(a.value(row))?)),
                false => return Ok(None),
            },
            Source::PathList(list, values) => {
                if list.is_null(row) {
                    return Ok(None);
                }
                let offsets = list.value_offsets();
                let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
                let elements = (start..end)
                    .map(|i| values.is_valid(i).then(|| Cow::Borrowed(values.value(i))))
                    .collect();
                Cell::Path(Held::Owned(elements))
            }
        };
        Ok(Some(cell))
    }
}

/// One argument of one call.
pub(crate) struct Column<'a> {
    source: Source<'a>,
    /// For a constant argument, its one cell, read once.
    constant: Option<Option<Cell<'a>>>,
}

impl<'a> Column<'a> {
    pub(crate) fn new(param: Param, array: &'a ArrayRef, constant: bool) -> Result<Self> {
        let source = Source::new(param, array)?;
        let constant = match constant {
            true => Some(source.cell(0)?),
            false => None,
        };
        Ok(Self { source, constant })
    }

    pub(crate) fn cell(&self, row: usize) -> Result<Option<Cell<'_>>> {
        match &self.constant {
            Some(cell) => Ok(cell.as_ref().map(Cell::reborrow)),
            None => self.source.cell(row),
        }
    }
}

/// The arguments of one call as arrays, and how many rows to compute: one
/// when every argument is a constant (the result is then a constant too).
pub(crate) struct Arguments {
    pub arrays: Vec<ArrayRef>,
    pub constant: Vec<bool>,
    pub rows: usize,
    pub all_constant: bool,
}

impl Arguments {
    pub(crate) fn new(args: &[ColumnarValue], number_rows: usize) -> Result<Self> {
        let all_constant = args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_constant { 1 } else { number_rows };
        let mut arrays = Vec::with_capacity(args.len());
        let mut constant = Vec::with_capacity(args.len());
        for arg in args {
            match arg {
                ColumnarValue::Scalar(s) => {
                    arrays.push(s.to_array_of_size(1)?);
                    constant.push(true);
                }
                ColumnarValue::Array(a) => {
                    arrays.push(Arc::clone(a));
                    constant.push(false);
                }
            }
        }
        Ok(Self {
            arrays,
            constant,
            rows,
            all_constant,
        })
    }

    /// The result as the caller expects it: a constant for constant
    /// arguments, else the column.
    pub(crate) fn finish(&self, result: ArrayRef) -> Result<ColumnarValue> {
        if self.all_constant {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }
}

/// What a function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Output {
    Jsonb,
    Text,
    Bool,
    Int,
}

impl Output {
    pub(crate) fn data_type(self) -> DataType {
        match self {
            Output::Jsonb | Output::Text => DataType::Utf8,
            Output::Bool => DataType::Boolean,
            Output::Int => DataType::Int32,
        }
    }
}

/// One row of a result.
pub(crate) enum Out<'s> {
    Json(Held<'s, Value<'s>>),
    Text(Cow<'s, str>),
    Bool(bool),
    Int(i32),
}

/// Builds a result column of an [`Output`] type.
pub(crate) enum ResultBuilder {
    /// jsonb and text; jsonb is printed into the scratch string first.
    Strings(StringBuilder, String),
    Bool(BooleanBuilder),
    Int(Int32Builder),
}

impl ResultBuilder {
    pub(crate) fn new(output: Output, rows: usize) -> Self {
        match output {
            Output::Jsonb | Output::Text => {
                ResultBuilder::Strings(StringBuilder::with_capacity(rows, rows * 16), String::new())
            }
            Output::Bool => ResultBuilder::Bool(BooleanBuilder::with_capacity(rows)),
            Output::Int => ResultBuilder::Int(Int32Builder::with_capacity(rows)),
        }
    }

    pub(crate) fn append(&mut self, out: Option<Out<'_>>) -> Result<()> {
        match (self, out) {
            (ResultBuilder::Strings(b, _), None) => b.append_null(),
            (ResultBuilder::Bool(b), None) => b.append_null(),
            (ResultBuilder::Int(b), None) => b.append_null(),
            (ResultBuilder::Strings(b, scratch), Some(Out::Json(v))) => {
                scratch.clear();
                v.write_canonical(scratch);
                b.append_value(scratch.as_str());
            }
            (ResultBuilder::Strings(b, _), Some(Out::Text(s))) => b.append_value(s),
            (ResultBuilder::Bool(b), Some(Out::Bool(v))) => b.append_value(v),
            (ResultBuilder::Int(b), Some(Out::Int(v))) => b.append_value(v),
            _ => return internal_err!("a jsonb kernel returned a value of the wrong type"),
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> ArrayRef {
        match self {
            ResultBuilder::Strings(mut b, _) => Arc::new(b.finish()),
            ResultBuilder::Bool(mut b) => Arc::new(b.finish()),
            ResultBuilder::Int(mut b) => Arc::new(b.finish()),
        }
    }
}

/// A path element as an array index, the way PostgreSQL reads one
/// (`strtoint`: optional leading whitespace and sign, then digits, nothing
/// after); `None` if it is not one.
pub(crate) fn path_index(element: &str) -> Option<i64> {
    let trimmed = element.trim_start_matches([' ', '\t', '\n', '\r', '\u{b}', '\u{c}']);
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    trimmed.parse::<i32>().ok().map(i64::from)
}

/// Parse a one-dimensional array literal in PostgreSQL's syntax:
/// `{a, "b c", NULL, "NULL"}` is `a`, `b c`, a NULL element, and the text
/// `NULL`. Elements are trimmed unless quoted; `\` escapes the next
/// character.
pub(crate) fn parse_text_array(text: &str) -> Result<Path<'_>> {
    let malformed = |detail: &str| invalid_text(format!("malformed array literal: \"{text}\" ({detail})"));
    let trimmed = text.trim_start();
    let Some(mut rest) = trimmed.strip_prefix('{') else {
        return malformed("Array value must start with \"{\" or dimension information.");
    };
    let mut elements = Vec::new();
    rest = rest.trim_start();
    if let Some(after) = rest.strip_prefix('}') {
        if !after.trim().is_empty() {
            return malformed("Junk after closing right brace.");
        }
        return Ok(elements);
    }
    loop {
        rest = rest.trim_start();
        let mut element = String::new();
        let mut quoted = false;
        let mut escaped_any = false;
        // Length of `element` that must survive trimming (up to the last
        // quoted or escaped character).
        let mut keep = 0;
        let mut chars = rest.char_indices();
        let end = loop {
            let Some((i, c)) = chars.next() else {
                return malformed("Unexpected end of input.");
            };
            match c {
                '\\' => {
                    let Some((_, next)) = chars.next() else {
                        return malformed("Unexpected end of input.");
                    };
                    element.push(next);
                    escaped_any = true;
                    keep = element.len();
                }
                '"' => {
                    quoted = !quoted;
                    escaped_any = true;
                    keep = element.len();
                }
                '{' if !quoted => return malformed("Only one-dimensional arrays are supported here."),
                ',' | '}' if !quoted => break (i, c),
                c => {
                    element.push(c);
                    if quoted {
                        keep = element.len();
                    }
                }
            }
        };
        let (at, delimiter) = end;
        let kept = element[keep..].trim_end().len() + keep;
        element.truncate(kept);
        if element.is_empty() && !escaped_any {
            return malformed(&format!("Unexpected \"{delimiter}\" character."));
        }
        if !escaped_any && element.eq_ignore_ascii_case("null") {
            elements.push(None);
        } else if !escaped_any {
            // Unquoted and unescaped, so the trimmed input is the element.
            elements.push(Some(Cow::Borrowed(rest[..at].trim_end())));
        } else {
            elements.push(Some(Cow::Owned(element)));
        }
        rest = &rest[at + 1..];
        if delimiter == '}' {
            if !rest.trim().is_empty() {
                return malformed("Junk after closing right brace.");
            }
            return Ok(elements);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(text: &str) -> Vec<Option<String>> {
        match parse_text_array(text) {
            Ok(v) => v.into_iter().map(|e| e.map(Cow::into_owned)).collect(),
            Err(e) => vec![Some(format!("error: {e}"))],
        }
    }

    fn some(items: &[&str]) -> Vec<Option<String>> {
        items.iter().map(|s| Some(s.to_string())).collect()
    }

    #[test]
    fn array_literals_parse_like_postgres() {
        assert_eq!(elements("{a,b,0}"), some(&["a", "b", "0"]));
        assert_eq!(elements(" { a , b c } "), some(&["a", "b c"]));
        assert_eq!(elements("{}"), some(&[]));
        assert_eq!(elements("{\"a,b\",\"\"}"), some(&["a,b", ""]));
        assert_eq!(elements("{a\\,b}"), some(&["a,b"]));
        assert_eq!(
            elements("{NULL,null,\"NULL\"}"),
            vec![None, None, Some("NULL".to_string())]
        );
        assert_eq!(elements("{\" x \"}"), some(&[" x "]));
    }

    #[test]
    fn malformed_array_literals_are_errors() {
        for text in ["a", "{a", "{a,}", "{,a}", "{{a}}", "{a} x", "{\"a}"] {
            let got = elements(text);
            let first = got.first().cloned().flatten().unwrap_or_default();
            assert!(first.contains("malformed array literal"), "{text}: {first}");
        }
    }

    #[test]
    fn path_indexes_read_like_strtoint() {
        assert_eq!(path_index("0"), Some(0));
        assert_eq!(path_index("-1"), Some(-1));
        assert_eq!(path_index(" +2"), Some(2));
        assert_eq!(path_index("1 "), None);
        assert_eq!(path_index("a"), None);
        assert_eq!(path_index(""), None);
        assert_eq!(path_index("99999999999"), None);
    }
}
