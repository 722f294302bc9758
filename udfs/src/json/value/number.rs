//! jsonb numbers: the canonical `numeric` text a JSON number is stored and
//! printed in, and numeric equality of two canonical numbers.

use std::borrow::Cow;

/// Exponents beyond this are rejected, as PostgreSQL's `numeric` rejects
/// them: `1e1001` would print as a thousand digits.
const MAX_EXPONENT: i64 = 1000;

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
pub(super) fn numbers_equal(a: &str, b: &str) -> bool {
    fn trimmed(n: &str) -> &str {
        if n.contains('.') {
            n.trim_end_matches('0').trim_end_matches('.')
        } else {
            n
        }
    }
    trimmed(a) == trimmed(b)
}

#[cfg(test)]
mod tests {
    use super::super::canonical;

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
}
