//! Reading JSON text as jsonb: a parser that accepts exactly what
//! PostgreSQL's `jsonb_in` accepts, with PostgreSQL's error messages.

use std::borrow::Cow;

use super::number::normalize_number;
use super::{MAX_DEPTH, Value};
use crate::json::JsonError;

/// Parse JSON text as jsonb.
pub fn parse(text: &str) -> Result<Value<'_>, JsonError> {
    let mut parser = Parser { text, pos: 0, depth: 0 };
    parser.skip_whitespace();
    let value = parser.value()?;
    parser.skip_whitespace();
    if parser.pos < text.len() {
        return Err(parser.error(format!("Expected end of input, but found \"{}\".", parser.token())));
    }
    Ok(value)
}

/// A recursive-descent parser over the bytes of a `&str` (so every slice
/// taken at an ASCII delimiter is valid UTF-8).
struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// JSON's whitespace: space, tab, line feed, carriage return.
    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn error(&self, detail: impl Into<String>) -> JsonError {
        JsonError::syntax(detail)
    }

    /// The token at the current position, for messages: a word or number,
    /// a quoted string, or one character.
    fn token(&self) -> &'a str {
        let rest = &self.text[self.pos..];
        let bytes = rest.as_bytes();
        let word = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-') || *b >= 0x80;
        match bytes.first() {
            None => "",
            Some(b'"') => {
                let end = bytes[1..].iter().position(|b| *b == b'"').map_or(rest.len(), |i| i + 2);
                &rest[..end]
            }
            Some(b) if word(b) => {
                let end = bytes.iter().position(|b| !word(b)).unwrap_or(rest.len());
                &rest[..end]
            }
            Some(_) => rest.chars().next().map_or("", |c| &rest[..c.len_utf8()]),
        }
    }

    fn value(&mut self) -> Result<Value<'a>, JsonError> {
        match self.peek() {
            None => Err(self.error("The input string ended unexpectedly.")),
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b) if b.is_ascii_alphabetic() || b >= 0x80 => {
                let word = self.token();
                let value = match word {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => return Err(self.error(format!("Token \"{word}\" is invalid."))),
                };
                self.pos += word.len();
                Ok(value)
            }
            Some(_) => Err(self.error(format!("Expected JSON value, but found \"{}\".", self.token()))),
        }
    }

    fn nested(&mut self, parse: fn(&mut Self) -> Result<Value<'a>, JsonError>) -> Result<Value<'a>, JsonError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("Arrays and objects nest deeper than {MAX_DEPTH} levels.")));
        }
        self.depth += 1;
        let value = parse(self);
        self.depth -= 1;
        value
    }

    fn object(&mut self) -> Result<Value<'a>, JsonError> {
        self.pos += 1; // {
        self.skip_whitespace();
        let mut members = Vec::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            match self.peek() {
                Some(b'"') => {}
                None => return Err(self.error("The input string ended unexpectedly.")),
                Some(_) if members.is_empty() => {
                    return Err(self.error(format!("Expected string or \"}}\", but found \"{}\".", self.token())));
                }
                Some(_) => return Err(self.error(format!("Expected string, but found \"{}\".", self.token()))),
            }
            let key = self.string()?;
            self.skip_whitespace();
            match self.peek() {
                Some(b':') => self.pos += 1,
                None => return Err(self.error("The input string ended unexpectedly.")),
                Some(_) => return Err(self.error(format!("Expected \":\", but found \"{}\".", self.token()))),
            }
            self.skip_whitespace();
            let value = self.value()?;
            members.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace();
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::object(members));
                }
                None => return Err(self.error("The input string ended unexpectedly.")),
                Some(_) => {
                    return Err(self.error(format!("Expected \",\" or \"}}\", but found \"{}\".", self.token())));
                }
            }
        }
    }

    fn array(&mut self) -> Result<Value<'a>, JsonError> {
        self.pos += 1; // [
        self.skip_whitespace();
        let mut elements = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(elements));
        }
        loop {
            if elements.is_empty() && matches!(self.peek(), Some(b',' | b'}')) {
                return Err(self.error(format!(
                    "Expected array element or \"]\", but found \"{}\".",
                    self.token()
                )));
            }
            elements.push(self.value()?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace();
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(elements));
                }
                None => return Err(self.error("The input string ended unexpectedly.")),
                Some(_) => {
                    return Err(self.error(format!("Expected \",\" or \"]\", but found \"{}\".", self.token())));
                }
            }
        }
    }

    /// A string literal; borrowed when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, JsonError> {
        let bytes = self.text.as_bytes();
        self.pos += 1; // opening quote
        let start = self.pos;
        // Fast path: no escapes, so the value is a slice of the input.
        loop {
            match bytes.get(self.pos) {
                None => return Err(self.error("The input string ended unexpectedly.")),
                Some(b'"') => {
                    let s = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(&b) if b < 0x20 => return Err(self.unescaped_control(b)),
                Some(_) => self.pos += 1,
            }
        }
        let mut out = String::from(&self.text[start..self.pos]);
        // A high surrogate waiting for its low half.
        let mut high: Option<u32> = None;
        loop {
            match bytes.get(self.pos) {
                None => return Err(self.error("The input string ended unexpectedly.")),
                Some(b'"') => {
                    if high.is_some() {
                        return Err(self.error("Unicode low surrogate must follow a high surrogate."));
                    }
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let Some(&escape) = bytes.get(self.pos) else {
                        return Err(self.error("The input string ended unexpectedly."));
                    };
                    self.pos += 1;
                    if escape == b'u' {
                        let code = self.hex4()?;
                        match code {
                            0xD800..=0xDBFF => {
                                if high.is_some() {
                                    return Err(self.error("Unicode high surrogate must not follow a high surrogate."));
                                }
                                high = Some(code);
                            }
                            0xDC00..=0xDFFF => {
                                let Some(h) = high.take() else {
                                    return Err(self.error("Unicode low surrogate must follow a high surrogate."));
                                };
                                let scalar = 0x10000 + ((h - 0xD800) << 10) + (code - 0xDC00);
                                out.push(char::from_u32(scalar).unwrap_or(char::REPLACEMENT_CHARACTER));
                            }
                            0 => return Err(self.error("\\u0000 cannot be converted to text.")),
                            _ => {
                                if high.is_some() {
                                    return Err(self.error("Unicode low surrogate must follow a high surrogate."));
                                }
                                out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                            }
                        }
                        continue;
                    }
                    if high.is_some() {
                        return Err(self.error("Unicode low surrogate must follow a high surrogate."));
                    }
                    out.push(match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        _ => {
                            let c = self.text[self.pos - 1..].chars().next().unwrap_or('?');
                            return Err(self.error(format!("Escape sequence \"\\{c}\" is invalid.")));
                        }
                    });
                }
                Some(&b) if b < 0x20 => return Err(self.unescaped_control(b)),
                Some(_) => {
                    if high.is_some() {
                        return Err(self.error("Unicode low surrogate must follow a high surrogate."));
                    }
                    // Copy the run up to the next quote, escape or control
                    // character in one go; it ends at an ASCII byte, so on a
                    // character boundary.
                    let run = bytes[self.pos..]
                        .iter()
                        .position(|b| *b == b'"' || *b == b'\\' || *b < 0x20)
                        .map_or(bytes.len(), |i| self.pos + i);
                    out.push_str(&self.text[self.pos..run]);
                    self.pos = run;
                }
            }
        }
    }

    fn unescaped_control(&self, b: u8) -> JsonError {
        self.error(format!("Character with value 0x{b:02x} must be escaped."))
    }

    /// The four hex digits after `\u`.
    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(digits) = digits else {
            return Err(self.error("\"\\u\" must be followed by four hexadecimal digits."));
        };
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.error("\"\\u\" must be followed by four hexadecimal digits."))
    }

    /// A number, checked against JSON's grammar and then canonicalised.
    fn number(&mut self) -> Result<Value<'a>, JsonError> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let mut end = start;
        let digits = |end: &mut usize| {
            let from = *end;
            while bytes.get(*end).is_some_and(u8::is_ascii_digit) {
                *end += 1;
            }
            *end - from
        };
        if bytes.get(end) == Some(&b'-') {
            end += 1;
        }
        let int_start = end;
        let mut valid = digits(&mut end) > 0 && !(bytes[int_start] == b'0' && end - int_start > 1);
        if valid && bytes.get(end) == Some(&b'.') {
            end += 1;
            valid = digits(&mut end) > 0;
        }
        if valid && matches!(bytes.get(end), Some(b'e' | b'E')) {
            end += 1;
            if matches!(bytes.get(end), Some(b'+' | b'-')) {
                end += 1;
            }
            valid = digits(&mut end) > 0;
        }
        // Like PostgreSQL, a number running into letters is one bad token
        // (`12abc`), not a number followed by garbage.
        let runs_on = bytes
            .get(end)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.' || *b >= 0x80);
        if !valid || runs_on {
            return Err(self.error(format!("Token \"{}\" is invalid.", self.token())));
        }
        self.pos = end;
        let text = &self.text[start..end];
        normalize_number(text)
            .map(Value::Number)
            .ok_or_else(|| self.error(format!("Number \"{text}\" is out of range for type numeric.")))
    }
}

#[cfg(test)]
mod tests {
    use super::super::canonical;
    use super::*;

    #[test]
    fn syntax_errors_use_postgres_wording() {
        for (input, detail) in [
            ("", "The input string ended unexpectedly."),
            ("{", "The input string ended unexpectedly."),
            ("[1,", "The input string ended unexpectedly."),
            ("tru", "Token \"tru\" is invalid."),
            ("01", "Token \"01\" is invalid."),
            ("1.", "Token \"1.\" is invalid."),
            ("12abc", "Token \"12abc\" is invalid."),
            ("{1:2}", "Expected string or \"}\", but found \"1\"."),
            ("{\"a\" 1}", "Expected \":\", but found \"1\"."),
            ("{\"a\":1 \"b\"}", "Expected \",\" or \"}\", but found \"\"b\"\"."),
            ("{\"a\":1,}", "Expected string, but found \"}\"."),
            ("[1 2]", "Expected \",\" or \"]\", but found \"2\"."),
            ("[,]", "Expected array element or \"]\", but found \",\"."),
            ("1 2", "Expected end of input, but found \"2\"."),
            ("}", "Expected JSON value, but found \"}\"."),
            ("\"a\nb\"", "Character with value 0x0a must be escaped."),
            (r#""\x""#, "Escape sequence \"\\x\" is invalid."),
            (r#""\u12""#, "\"\\u\" must be followed by four hexadecimal digits."),
            (r#""\u0000""#, "\\u0000 cannot be converted to text."),
            (r#""\ude00""#, "Unicode low surrogate must follow a high surrogate."),
            (r#""\ud83d""#, "Unicode low surrogate must follow a high surrogate."),
            (
                r#""\ud83d\ud83d""#,
                "Unicode high surrogate must not follow a high surrogate.",
            ),
        ] {
            assert_eq!(canonical(input), format!("error: {detail}"), "{input:?}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert!(canonical(&deep).contains("nest deeper"));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }
}
