//! Printing jsonb values in PostgreSQL's two output forms: the canonical
//! text `jsonb_out` prints, and `jsonb_pretty`'s layout; and the text the
//! `->>` family returns.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::Value;

impl Value<'_> {
    /// The canonical jsonb text (`jsonb_out`).
    pub fn to_canonical(&self) -> String {
        let mut out = String::new();
        self.write_canonical(&mut out);
        out
    }

    /// Append the canonical jsonb text to `out`.
    pub fn write_canonical(&self, out: &mut String) {
        match self {
            Value::Array(elements) => {
                out.push('[');
                for (i, element) in elements.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    element.write_canonical(out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_string(key, out);
                    out.push_str(": ");
                    value.write_canonical(out);
                }
                out.push('}');
            }
            scalar => write_scalar(scalar, out),
        }
    }

    /// The text `->>`, `#>>` and the `*_text` functions return: a string
    /// without its quotes, any other value as its jsonb text; `None` for
    /// JSON null, which becomes SQL NULL.
    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Null => None,
            Value::String(s) => Some(Cow::Borrowed(s.as_ref())),
            Value::Number(n) => Some(Cow::Borrowed(n.as_ref())),
            Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            container => Some(Cow::Owned(container.to_canonical())),
        }
    }

    /// `jsonb_pretty`'s layout: one element or member per line, four spaces
    /// per level. Follows PostgreSQL's printer exactly, including its
    /// quirk of printing an empty container over two lines (`{` newline `}`).
    pub fn to_pretty(&self) -> String {
        let mut out = String::new();
        self.write_pretty(0, &mut out);
        out
    }

    fn write_pretty(&self, level: usize, out: &mut String) {
        let newline = |out: &mut String, level: usize| {
            out.push('\n');
            out.extend(std::iter::repeat_n(' ', 4 * level));
        };
        match self {
            Value::Array(elements) => {
                out.push('[');
                for (i, element) in elements.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, level + 1);
                    element.write_pretty(level + 1, out);
                }
                newline(out, level);
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, level + 1);
                    write_string(key, out);
                    out.push_str(": ");
                    value.write_pretty(level + 1, out);
                }
                newline(out, level);
                out.push('}');
            }
            scalar => write_scalar(scalar, out),
        }
    }
}

fn write_scalar(value: &Value<'_>, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(n),
        Value::String(s) => write_string(s, out),
        // Containers are handled by the callers.
        Value::Array(_) | Value::Object(_) => value.write_canonical(out),
    }
}

/// A JSON string literal, escaped the way PostgreSQL's `escape_json` does.
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push_str(escape);
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::super::{canonical, parse};

    #[test]
    fn strings_escape_like_postgres() {
        assert_eq!(canonical(r#""a\"b\\c\/d""#), r#""a\"b\\c/d""#);
        assert_eq!(canonical(r#""\b\f\n\r\t\u0001""#), r#""\b\f\n\r\t\u0001""#);
        assert_eq!(canonical(r#""\u00e9\ud83d\ude00""#), "\"é😀\"");
        assert_eq!(canonical("\"é\""), "\"é\"");
    }

    #[test]
    fn pretty_matches_postgres_layout() {
        let value = parse(r#"{"a": [1, {"b": null}], "c": {}, "d": []}"#).expect("valid");
        assert_eq!(
            value.to_pretty(),
            "{\n    \"a\": [\n        1,\n        {\n            \"b\": null\n        }\n    ],\n    \"c\": {\n    },\n    \"d\": [\n    ]\n}"
        );
        assert_eq!(parse("1").expect("valid").to_pretty(), "1");
        assert_eq!(parse("[]").expect("valid").to_pretty(), "[\n]");
    }
}
