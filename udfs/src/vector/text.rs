//! pgvector's text form of a vector, `[1,2.5,-0.001]`: reading it
//! ([`parse`]) with pgvector's rules and errors, and writing it
//! ([`write_vector`]) digit for digit as pgvector prints it.

use std::fmt::Write as _;

use super::{MAX_DIMENSIONS, VectorError};

/// pgvector's whitespace: what C's `isspace` accepts.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

/// Read the text form of a vector, appending its elements to `out`, as
/// pgvector's `vector_in` does: `[`, numbers separated by commas, `]`,
/// whitespace anywhere between. Returns how many elements were read (at
/// least 1); on error `out` may hold part of the vector.
pub fn parse_into(text: &str, out: &mut Vec<f32>) -> Result<usize, VectorError> {
    let bytes = text.as_bytes();
    let syntax = || VectorError::syntax(text);
    let skip_spaces = |mut at: usize| {
        while at < bytes.len() && is_space(bytes[at]) {
            at += 1;
        }
        at
    };
    let mut at = skip_spaces(0);
    if bytes.get(at) != Some(&b'[') {
        return Err(syntax());
    }
    at = skip_spaces(at + 1);
    if bytes.get(at) == Some(&b']') {
        return Err(VectorError::data("vector must have at least 1 dimension"));
    }
    let mut dims = 0;
    loop {
        if dims == MAX_DIMENSIONS {
            return Err(VectorError::new(
                super::VectorErrorKind::TooManyDimensions,
                format!("vector cannot have more than {MAX_DIMENSIONS} dimensions"),
            ));
        }
        at = skip_spaces(at);
        let start = at;
        while at < bytes.len() && !is_space(bytes[at]) && bytes[at] != b',' && bytes[at] != b']' {
            at += 1;
        }
        // The token ends at an ASCII byte or at the end, so it is whole UTF-8.
        let token = &text[start..at];
        let value: f32 = token.parse().map_err(|_| syntax())?;
        check_element(value, token)?;
        out.push(value);
        dims += 1;
        at = skip_spaces(at);
        match bytes.get(at) {
            Some(b',') => at += 1,
            Some(b']') => {
                at += 1;
                break;
            }
            _ => return Err(syntax()),
        }
    }
    if skip_spaces(at) != bytes.len() {
        return Err(syntax());
    }
    Ok(dims)
}

/// Read the text form of a vector (see [`parse_into`]).
pub fn parse(text: &str) -> Result<Vec<f32>, VectorError> {
    let mut out = Vec::new();
    parse_into(text, &mut out)?;
    Ok(out)
}

/// pgvector's check of each element read: finite. `token` is the text it
/// was read from, when there is one: an infinity from a finite-looking
/// number (`1e39`) is out of range rather than infinite.
pub(crate) fn check_element(value: f32, token: &str) -> Result<(), VectorError> {
    if value.is_finite() {
        return Ok(());
    }
    if value.is_nan() {
        return Err(VectorError::data("NaN not allowed in vector"));
    }
    if !token.is_empty() && !token.to_ascii_lowercase().contains("inf") {
        return Err(VectorError::new(
            super::VectorErrorKind::OutOfRange,
            format!("\"{token}\" is out of range for type vector"),
        ));
    }
    Err(VectorError::data("infinite value not allowed in vector"))
}

/// Append the text form of a vector to `out`: `[1,2.5,-0.001]`.
pub fn write_vector(values: &[f32], out: &mut String) {
    out.push('[');
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_float(*value, out);
    }
    out.push(']');
}

/// The text form of a vector: `[1,2.5,-0.001]`.
pub fn format_vector(values: &[f32]) -> String {
    let mut out = String::with_capacity(values.len() * 8 + 2);
    write_vector(values, &mut out);
    out
}

/// Append a float as PostgreSQL prints a `real` (and so as pgvector prints
/// each element): the shortest digits that read back as the same float,
/// in fixed notation when the decimal exponent is in -4..6 (`0.0001`,
/// `123456`), else in scientific notation with at least two exponent
/// digits (`1e-05`, `1.234567e+06`), as C's `%g` would.
pub fn write_float(value: f32, out: &mut String) {
    if !value.is_finite() {
        // Not a vector element (they are checked), but say something
        // PostgreSQL would.
        out.push_str(if value.is_nan() {
            "NaN"
        } else if value > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `-1.2345e-7`.
    let mut scientific = String::with_capacity(16);
    let _ = write!(scientific, "{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    out.push_str(sign);
    if (-4..6).contains(&exponent) {
        if exponent < 0 {
            out.push_str("0.");
            for _ in 0..(-exponent - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let whole = exponent as usize + 1;
            if digits.len() <= whole {
                out.push_str(&digits);
                for _ in digits.len()..whole {
                    out.push('0');
                }
            } else {
                out.push_str(&digits[..whole]);
                out.push('.');
                out.push_str(&digits[whole..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.unsigned_abs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(value: f32) -> String {
        let mut out = String::new();
        write_float(value, &mut out);
        out
    }

    #[test]
    fn floats_print_as_postgres_prints_real() {
        let cases = [
            (1.0, "1"),
            (2.5, "2.5"),
            (-0.001, "-0.001"),
            (0.0, "0"),
            (-0.0, "-0"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (123456.0, "123456"),
            (100000.0, "100000"),
            (1234567.0, "1.234567e+06"),
            (1e6, "1e+06"),
            (3e38, "3e+38"),
            (f32::MIN_POSITIVE, "1.1754944e-38"),
            (1.0 / 3.0, "0.33333334"),
            (12.25, "12.25"),
            (-98765.4, "-98765.4"),
        ];
        for (value, expected) in cases {
            assert_eq!(float(value), expected, "{value:e}");
        }
    }

    #[test]
    fn printed_floats_read_back_exactly() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..10_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let value = f32::from_bits((state >> 32) as u32);
            if !value.is_finite() {
                continue;
            }
            let text = float(value);
            assert_eq!(text.parse::<f32>().map(f32::to_bits), Ok(value.to_bits()), "{text}");
        }
    }

    #[test]
    fn vectors_read_with_whitespace_signs_and_exponents() -> Result<(), VectorError> {
        assert_eq!(parse("[1,2,3]")?, vec![1.0, 2.0, 3.0]);
        assert_eq!(parse("  [ 1.5 , -2e3,3 ]  ")?, vec![1.5, -2000.0, 3.0]);
        assert_eq!(parse("[+1,.5,5.,1E-2]")?, vec![1.0, 0.5, 5.0, 0.01]);
        assert_eq!(parse("[\t1\n]")?, vec![1.0]);
        assert_eq!(format_vector(&parse("[1, 2.5, -0.001]")?), "[1,2.5,-0.001]");
        Ok(())
    }

    #[test]
    fn bad_text_gets_pgvectors_errors() {
        let error = |text: &str| parse(text).expect_err(text).to_string();
        for bad in [
            "[1,2", "1,2]", "[1,,2]", "[1 2]", "[a]", "[1,2]x", "", "[", "[1,]", "(1,2)", "[1e]",
        ] {
            assert_eq!(error(bad), format!("invalid input syntax for type vector: \"{bad}\""));
        }
        assert_eq!(error("[]"), "vector must have at least 1 dimension");
        assert_eq!(error("[ ]"), "vector must have at least 1 dimension");
        assert_eq!(error("[1,NaN]"), "NaN not allowed in vector");
        assert_eq!(error("[inf]"), "infinite value not allowed in vector");
        assert_eq!(error("[-Infinity]"), "infinite value not allowed in vector");
        assert_eq!(error("[1e39]"), "\"1e39\" is out of range for type vector");
        let long = format!("[{}]", vec!["1"; MAX_DIMENSIONS + 1].join(","));
        assert_eq!(error(&long), "vector cannot have more than 16000 dimensions");
        let longest = format!("[{}]", vec!["1"; MAX_DIMENSIONS].join(","));
        assert_eq!(parse(&longest).map(|v| v.len()), Ok(MAX_DIMENSIONS));
    }
}
