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

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::Write as _;

use super::JsonError;

/// How deep arrays and objects may nest. PostgreSQL's limit is its stack
/// depth; ours keeps the recursive parser, printer and comparisons inside a
/// small (wasm32) stack.
pub const MAX_DEPTH: usize = 512;

/// Exponents beyond this are rejected, as PostgreSQL's `numeric` rejects
/// them: `1e1001` would print as a thousand digits.
const MAX_EXPONENT: i64 = 1000;

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

/// Resolve a possibly negative index against a length.
pub fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let index = if index < 0 { len + index } else { index };
    (0..len).contains(&index).then_some(index as usize)
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

/// The canonical `numeric` text of a JSON number that matched JSON's
/// grammar; `None` if its exponent is out of `numeric`'s range.
///
/// PostgreSQL's rule: the scale is the number of digits after the point
/// minus the exponent, at least 0; the value prints in plain notation with
/// exactly that many fraction digits. Zero is never negative.
pub fn normalize_number(text: &str) -> Option<Cow<'_, str>> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let is_zero = mantissa.bytes().all(|b| b == b'0' || b == b'.');
    let Some(exponent) = exponent else {
        // Plain notation is already canonical, except negative zero.
        return Some(if negative && is_zero {
            Cow::Borrowed(unsigned)
        } else {
            Cow::Borrowed(text)
        });
    };
    let exponent: i64 = match exponent.parse() {
        Ok(e) if (-MAX_EXPONENT..=MAX_EXPONENT).contains(&e) => e,
        _ => return None,
    };
    let (int_digits, frac_digits) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: Vec<u8> = int_digits.bytes().chain(frac_digits.bytes()).collect();
    let scale = (frac_digits.len() as i64 - exponent).max(0) as usize;
    // Where the decimal point falls in `digits` once the exponent applies.
    let point = int_digits.len() as i64 + exponent;
    let mut out = String::with_capacity(digits.len() + scale + 3);
    if negative && !is_zero {
        out.push('-');
    }
    // Integer part: digits before the point (zero-padded when the point
    // lies beyond them), without leading zeros.
    let int_len = point.clamp(0, digits.len() as i64) as usize;
    let integer = std::str::from_utf8(&digits[..int_len]).unwrap_or("");
    let integer = integer.trim_start_matches('0');
    if integer.is_empty() {
        // Every padding zero below is after a zero integer part.
        out.push('0');
    } else {
        out.push_str(integer);
        out.extend(std::iter::repeat_n('0', (point - int_len as i64).max(0) as usize));
    }
    if scale > 0 {
        out.push('.');
        let leading_zeros = (-point).max(0) as usize;
        out.extend(std::iter::repeat_n('0', leading_zeros));
        out.push_str(std::str::from_utf8(&digits[int_len..]).unwrap_or(""));
    }
    Some(Cow::Owned(out))
}

/// Numeric equality of two canonical numbers (`1.0` equals `1`), as jsonb
/// compares numbers.
fn numbers_equal(a: &str, b: &str) -> bool {
    fn trimmed(n: &str) -> &str {
        if n.contains('.') {
            n.trim_end_matches('0').trim_end_matches('.')
        } else {
            n
        }
    }
    trimmed(a) == trimmed(b)
}

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
    use super::*;

    fn canonical(text: &str) -> String {
        match parse(text) {
            Ok(value) => value.to_canonical(),
            Err(e) => format!("error: {}", e.detail),
        }
    }

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
    fn numbers_keep_numeric_scale() {
        for (input, expected) in [
            ("1.50", "1.50"),
            ("1e2", "100"),
            ("1E+2", "100"),
            ("1.5e1", "15"),
            ("1.50e1", "15.0"),
            ("1.5e-3", "0.0015"),
            ("-1.5e-3", "-0.0015"),
            ("12.345e1", "123.45"),
            ("0e5", "0"),
            ("0.00", "0.00"),
            ("-0", "0"),
            ("-0.0", "0.0"),
            ("-0e3", "0"),
            ("0.1e1", "1"),
            ("10e-1", "1.0"),
            ("-12", "-12"),
            ("123456789012345678901234567890", "123456789012345678901234567890"),
        ] {
            assert_eq!(canonical(input), expected, "{input}");
        }
        assert!(canonical("1e1001").starts_with("error: Number \"1e1001\" is out of range"));
    }

    #[test]
    fn strings_escape_like_postgres() {
        assert_eq!(canonical(r#""a\"b\\c\/d""#), r#""a\"b\\c/d""#);
        assert_eq!(canonical(r#""\b\f\n\r\t\u0001""#), r#""\b\f\n\r\t\u0001""#);
        assert_eq!(canonical(r#""\u00e9\ud83d\ude00""#), "\"é😀\"");
        assert_eq!(canonical("\"é\""), "\"é\"");
    }

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
