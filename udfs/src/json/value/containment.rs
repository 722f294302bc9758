//! jsonb containment (`@>`, `<@`) and existence (`?`, `?|`, `?&`), with
//! PostgreSQL's rules, numbers compared by value.

use super::Value;
use super::number::numbers_equal;

/// Equality of two scalars (never true for containers).
fn scalars_equal(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
        (Value::String(x), Value::String(y)) => x == y,
        _ => false,
    }
}

/// `a @> b`, PostgreSQL's `jsonb_contains`.
///
/// An object contains an object whose every key it has with a containing
/// value; an array contains an array whose every element matches one of its
/// own (order and duplicates do not matter); scalars contain equal scalars.
/// One rule applies at the top level only: an array contains a scalar that
/// is one of its elements (`'["a"]' @> '"a"'`), but a scalar never contains
/// an array.
pub fn contains(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Object(_), Value::Object(_)) => deep_contains(a, b),
        (Value::Object(_), _) | (_, Value::Object(_)) => false,
        (Value::Array(left), Value::Array(right)) => array_contains(left, right),
        (Value::Array(left), scalar) => array_contains(left, std::slice::from_ref(scalar)),
        (_, Value::Array(_)) => false,
        (x, y) => scalars_equal(x, y),
    }
}

/// Containment below the top level, where a container only contains a
/// container of its own kind.
fn deep_contains(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Object(left), Value::Object(right)) => {
            // Keys are unique, so fewer keys cannot contain more.
            left.len() >= right.len()
                && right.iter().all(|(key, want)| match a.get(key) {
                    Some(have) if have.is_container() || want.is_container() => deep_contains(have, want),
                    Some(have) => scalars_equal(have, want),
                    None => false,
                })
        }
        (Value::Array(left), Value::Array(right)) => array_contains(left, right),
        (x, y) => scalars_equal(x, y),
    }
}

fn array_contains(left: &[Value<'_>], right: &[Value<'_>]) -> bool {
    right.iter().all(|want| {
        if want.is_container() {
            left.iter().any(|have| have.is_container() && deep_contains(have, want))
        } else {
            left.iter().any(|have| scalars_equal(have, want))
        }
    })
}

/// `a ? key`, PostgreSQL's `jsonb_exists`: a top-level key of an object, or
/// a string element of an array, or the string itself for a string scalar.
pub fn exists(a: &Value<'_>, key: &str) -> bool {
    match a {
        Value::Object(_) => a.get(key).is_some(),
        Value::Array(elements) => elements.iter().any(|e| matches!(e, Value::String(s) if s == key)),
        Value::String(s) => s == key,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    #[test]
    fn containment_follows_postgres() {
        let c = |a: &str, b: &str| contains(&parse(a).expect("a"), &parse(b).expect("b"));
        assert!(c(r#"{"a":1,"b":2}"#, r#"{"a":1}"#));
        assert!(c(r#"{"a":1.0}"#, r#"{"a":1}"#));
        assert!(!c(r#"{"a":1}"#, r#"{"a":1,"b":2}"#));
        assert!(c(r#"{"a":{"b":1,"c":2}}"#, r#"{"a":{"b":1}}"#));
        assert!(c("[1,2,3]", "[3,1]"));
        assert!(c("[1,2,3]", "[1,1]"));
        assert!(c("[1,2,3]", "[]"));
        assert!(!c("[1,2,3]", "[4]"));
        assert!(c("[[1,2],[3]]", "[[1]]"));
        assert!(!c("[1,[2]]", "[2]"));
        // Top-level array contains a scalar; not below the top, not reversed.
        assert!(c(r#"["a","b"]"#, r#""a""#));
        assert!(!c(r#"{"a":[1,2]}"#, r#"{"a":1}"#));
        assert!(!c(r#""a""#, r#"["a"]"#));
        assert!(c(r#""a""#, r#""a""#));
        assert!(!c("{}", "[]"));
        assert!(!c(r#"{"a":[]}"#, r#"{"a":{}}"#));
        assert!(c("null", "null"));
    }

    #[test]
    fn exists_follows_postgres() {
        let e = |a: &str, k: &str| exists(&parse(a).expect("a"), k);
        assert!(e(r#"{"a":null}"#, "a"));
        assert!(!e(r#"{"a":{"b":1}}"#, "b"));
        assert!(e(r#"["a",1]"#, "a"));
        assert!(!e("[1]", "1"));
        assert!(e(r#""a""#, "a"));
        assert!(!e("1", "1"));
    }
}
