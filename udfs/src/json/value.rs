//! The jsonb value model: a parser that accepts exactly what PostgreSQL's
//! `jsonb_in` accepts, and printers for PostgreSQL's two output forms (the
//! canonical text `jsonb_out` prints and `jsonb_pretty`'s layout).
//!
//! Why our own parser rather than `serde_json`: jsonb keeps a number's
//! textual scale (`1.50` stays `1.50`, which an `f64` cannot remember) and
//! the workspace must not turn on serde_json's `arbitrary_precision` feature,
//! which would change number handling for every other crate in the build
//! (the Iceberg metadata code among them). Owning the parser also gives
//! PostgreSQL's error messages.
//!
//! What makes a value canonical (and so what every jsonb output here prints):
//! - object keys ordered as jsonb stores them: shorter keys first, keys of
//!   the same length by their bytes; a duplicated key keeps its last value;
//! - numbers as PostgreSQL's `numeric` prints them: no exponent, the scale
//!   the input spelled (`1.50`, `1e2` → `100`, `1.5e-3` → `0.0015`), no
//!   negative zero;
//! - `", "` between elements and members, `": "` after a key;
//! - strings escaped as PostgreSQL escapes them (`\"`, `\\`, `\b`, `\f`,
//!   `\n`, `\r`, `\t`, other control characters as `\u00XX`), everything
//!   else, `/` and non-ASCII included, printed as is.
//!
//! Values borrow from the text they were parsed from where they can (keys,
//! strings without escapes, numbers already canonical), so reading one field
//! of a document allocates little.
//!
//! The model's parts, each in its own file: `parse` reads text
//! ([`parse()`]), `print` writes the two output forms (and
//! [`write_string`]), `number` keeps numbers in canonical `numeric` form
//! ([`normalize_number`]), and `containment` holds jsonb's containment and
//! existence tests ([`contains`], [`exists`]).

mod containment;
mod number;
mod parse;
mod print;

use std::borrow::Cow;
use std::cmp::Ordering;

pub use containment::{contains, exists};
pub use number::normalize_number;
pub use parse::parse;
pub use print::write_string;

/// How deep arrays and objects may nest. PostgreSQL's limit is its stack
/// depth; ours keeps the recursive parser, printer and comparisons inside a
/// small (wasm32) stack.
pub const MAX_DEPTH: usize = 512;

/// One jsonb value.
#[derive(Debug, Clone)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// A number in canonical `numeric` form (see the module doc).
    Number(Cow<'a, str>),
    String(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    /// Members in jsonb key order (see [`key_order`]), keys unique. Build
    /// objects with [`Value::object`], which establishes this.
    Object(Vec<(Cow<'a, str>, Value<'a>)>),
}

/// jsonb's key order: shorter keys first, then bytewise. PostgreSQL stores
/// object keys in this order, so it is also the order they print in.
pub fn key_order(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

impl<'a> Value<'a> {
    /// An object from members in any order: sorted into jsonb key order,
    /// and of duplicated keys the last one wins (as in PostgreSQL).
    pub fn object(mut members: Vec<(Cow<'a, str>, Value<'a>)>) -> Self {
        // A stable sort keeps duplicates in input order, so the last of a
        // run of equal keys is the one written last.
        members.sort_by(|a, b| key_order(&a.0, &b.0));
        let mut unique: Vec<(Cow<'a, str>, Value<'a>)> = Vec::with_capacity(members.len());
        for member in members {
            match unique.last_mut() {
                Some(last) if last.0 == member.0 => *last = member,
                _ => unique.push(member),
            }
        }
        Value::Object(unique)
    }

    /// A string value.
    pub fn string(s: impl Into<Cow<'a, str>>) -> Self {
        Value::String(s.into())
    }

    /// PostgreSQL's name for the value's type, as `jsonb_typeof` returns it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    pub fn is_container(&self) -> bool {
        matches!(self, Value::Array(_) | Value::Object(_))
    }

    /// The member `key` of an object; `None` for a missing key or a value
    /// that is not an object.
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        let Value::Object(members) = self else {
            return None;
        };
        members
            .binary_search_by(|(k, _)| key_order(k, key))
            .ok()
            .map(|i| &members[i].1)
    }

    /// Element `index` of an array, negative indexes counting from the end
    /// (`-1` is the last); `None` out of range or for a non-array.
    pub fn element(&self, index: i64) -> Option<&Value<'a>> {
        let Value::Array(elements) = self else {
            return None;
        };
        resolve_index(index, elements.len()).map(|i| &elements[i])
    }

    /// A copy that borrows nothing, to outlive the text it was parsed from.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Number(n) => Value::Number(Cow::Owned(n.into_owned())),
            Value::String(s) => Value::String(Cow::Owned(s.into_owned())),
            Value::Array(elements) => Value::Array(elements.into_iter().map(Value::into_owned).collect()),
            Value::Object(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                    .collect(),
            ),
        }
    }
}

/// Resolve a possibly negative index against a length.
pub fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let index = if index < 0 { len + index } else { index };
    (0..len).contains(&index).then_some(index as usize)
}

/// The canonical text of `text`, or `error: ` and the syntax error's detail;
/// the tests of every part of the value model read values through it.
#[cfg(test)]
fn canonical(text: &str) -> String {
    match parse(text) {
        Ok(value) => value.to_canonical(),
        Err(e) => format!("error: {}", e.detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_matches_postgres() {
        assert_eq!(canonical(r#"{"b":[1,2],"a":1}"#), r#"{"a": 1, "b": [1, 2]}"#);
        // Shorter keys first, then bytewise.
        assert_eq!(canonical(r#"{"bb":1,"a":2,"c":3}"#), r#"{"a": 2, "c": 3, "bb": 1}"#);
        // The last duplicate wins.
        assert_eq!(canonical(r#"{"a":1,"b":2,"a":3}"#), r#"{"a": 3, "b": 2}"#);
        assert_eq!(canonical(" [ ] "), "[]");
        assert_eq!(canonical("{}"), "{}");
        assert_eq!(canonical("\t\"x\"\n"), r#""x""#);
        assert_eq!(canonical("null"), "null");
        assert_eq!(canonical("[true,false,null]"), "[true, false, null]");
    }

    #[test]
    fn lookups() {
        let v = parse(r#"{"a":[10,20,30],"bb":{"c":true}}"#).expect("valid");
        assert_eq!(
            v.get("a")
                .and_then(|a| a.element(-1))
                .map(Value::to_canonical)
                .as_deref(),
            Some("30")
        );
        assert!(v.get("a").and_then(|a| a.element(3)).is_none());
        assert!(v.get("a").and_then(|a| a.element(-4)).is_none());
        assert!(v.get("zz").is_none());
        assert_eq!(v.get("bb").map(Value::type_name), Some("object"));
        assert_eq!(parse(r#""x\"y""#).expect("valid").as_text().as_deref(), Some("x\"y"));
        assert_eq!(parse("null").expect("valid").as_text(), None);
    }
}
