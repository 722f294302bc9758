//! Bind parameters → `ScalarValue`s of the types the planner expects.
//!
//! A parameter arrives as bytes in the text or binary format of the type
//! the client named in Parse (or none: OID 0, "unknown"). It is read as
//! that type, then cast to the type the planner inferred for `$n`, so
//! `WHERE id = $1` with an int8 parameter against an int4 column works,
//! as in PostgreSQL.

use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;

use crate::error::{Error, ErrorKind, Result};
use crate::sql::pg_types::{self, PgType};

/// Decode parameter `index` (0-based): `bytes` (`None` = NULL) in text or
/// binary, sent as `client_oid` (0: unspecified), for a placeholder the
/// planner typed `inferred`.
pub fn decode(
    index: usize,
    bytes: Option<&[u8]>,
    binary: bool,
    client_oid: u32,
    inferred: Option<&DataType>,
) -> Result<ScalarValue> {
    let bad = |what: String| Error::new(ErrorKind::InvalidText, format!("parameter ${}: {what}", index + 1));
    // The type the bytes are in: the client's, else the inferred one, else text.
    let source_oid = if client_oid != 0 {
        client_oid
    } else {
        inferred
            .map(|t| pg_types::for_data_type(t).oid)
            .unwrap_or(PgType::TEXT.oid)
    };
    let Some(bytes) = bytes else {
        return Ok(match inferred {
            Some(t) => ScalarValue::try_from(t).unwrap_or(ScalarValue::Null),
            None => ScalarValue::Utf8(None),
        });
    };
    let value = if binary {
        decode_binary(bytes, source_oid).map_err(|e| bad(e.message().to_string()))?
    } else {
        let text = std::str::from_utf8(bytes).map_err(|_| bad("not valid UTF-8".into()))?;
        decode_text(text, source_oid, inferred).map_err(|e| bad(e.message().to_string()))?
    };
    match inferred {
        Some(target) if value.data_type() != *target && !matches!(target, DataType::Null) => value
            .cast_to(target)
            .map_err(|e| bad(format!("cannot convert {value} to {target}: {e}"))),
        _ => Ok(value),
    }
}

fn decode_text(text: &str, oid: u32, inferred: Option<&DataType>) -> Result<ScalarValue> {
    // bytea's text form is hex (`\x0102`), not the bytes themselves.
    if oid == PgType::BYTEA.oid {
        return Ok(ScalarValue::Binary(Some(decode_hex_bytea(text)?)));
    }
    if oid == PgType::BOOL.oid {
        return Ok(ScalarValue::Boolean(Some(parse_bool(text)?)));
    }
    let target = match inferred {
        // A list or vector placeholder takes `{1,2}` or `[1,2]`.
        Some(t @ (DataType::List(_) | DataType::FixedSizeList(_, _) | DataType::LargeList(_))) => {
            return decode_text_list(text, t);
        }
        Some(t) if oid == PgType::TEXT.oid || oid == PgType::UNKNOWN.oid || oid == PgType::VARCHAR.oid => t.clone(),
        _ => pg_types::arrow_type(oid).unwrap_or(DataType::Utf8),
    };
    if target == DataType::Utf8 {
        return Ok(ScalarValue::Utf8(Some(text.to_string())));
    }
    if target == DataType::Boolean {
        return Ok(ScalarValue::Boolean(Some(parse_bool(text)?)));
    }
    ScalarValue::try_from_string(text.to_string(), &target).map_err(|e| {
        Error::new(
            ErrorKind::InvalidText,
            format!("invalid input {text:?} for type {target}: {e}"),
        )
    })
}

fn parse_bool(text: &str) -> Result<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "yes" | "y" | "on" | "1" => Ok(true),
        "f" | "false" | "no" | "n" | "off" | "0" => Ok(false),
        _ => Err(Error::new(
            ErrorKind::InvalidText,
            format!("invalid input syntax for type boolean: {text:?}"),
        )),
    }
}

fn decode_hex_bytea(text: &str) -> Result<Vec<u8>> {
    let Some(hex) = text.strip_prefix("\\x") else {
        return Ok(text.as_bytes().to_vec());
    };
    if hex.len() % 2 != 0 {
        return Err(Error::new(
            ErrorKind::InvalidText,
            "invalid hexadecimal data: odd number of digits",
        ));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| {
                Error::new(
                    ErrorKind::InvalidText,
                    format!("invalid hexadecimal digit in {:?}", &hex[i..i + 2]),
                )
            })
        })
        .collect()
}

/// `{1,2,3}` (an array) or `[1,2,3]` (a vector) into a list value.
fn decode_text_list(text: &str, target: &DataType) -> Result<ScalarValue> {
    let trimmed = text.trim();
    let inner = trimmed
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .or_else(|| trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')))
        .ok_or_else(|| Error::new(ErrorKind::InvalidText, format!("malformed array literal: {text:?}")))?;
    let item = match target {
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => f.data_type().clone(),
        _ => DataType::Utf8,
    };
    let values = if inner.trim().is_empty() {
        Vec::new()
    } else {
        inner
            .split(',')
            .map(|v| {
                let v = v.trim().trim_matches('"');
                if v.eq_ignore_ascii_case("null") {
                    ScalarValue::try_from(&item).map_err(Error::from)
                } else {
                    ScalarValue::try_from_string(v.to_string(), &item).map_err(Error::from)
                }
            })
            .collect::<Result<Vec<_>>>()?
    };
    let list = ScalarValue::new_list_nullable(&values, &item);
    Ok(ScalarValue::List(list).cast_to(target)?)
}

/// Binary format for the types clients send in binary.
fn decode_binary(bytes: &[u8], oid: u32) -> Result<ScalarValue> {
    let fixed = |n: usize| -> Result<&[u8]> {
        if bytes.len() == n {
            Ok(bytes)
        } else {
            Err(Error::new(
                ErrorKind::InvalidText,
                format!("binary value of {} bytes, expected {n}", bytes.len()),
            ))
        }
    };
    let pg_epoch_days = 10_957i32;
    let pg_epoch_micros = i64::from(pg_epoch_days) * 86_400_000_000;
    Ok(match oid {
        16 => ScalarValue::Boolean(Some(fixed(1)?[0] != 0)),
        21 => ScalarValue::Int16(Some(i16::from_be_bytes(array(fixed(2)?)))),
        23 | 26 => ScalarValue::Int32(Some(i32::from_be_bytes(array(fixed(4)?)))),
        20 => ScalarValue::Int64(Some(i64::from_be_bytes(array(fixed(8)?)))),
        700 => ScalarValue::Float32(Some(f32::from_be_bytes(array(fixed(4)?)))),
        701 => ScalarValue::Float64(Some(f64::from_be_bytes(array(fixed(8)?)))),
        17 => ScalarValue::Binary(Some(bytes.to_vec())),
        25 | 1043 | 1042 | 19 | 705 | 114 => ScalarValue::Utf8(Some(utf8(bytes)?)),
        3802 => match bytes.split_first() {
            Some((1, rest)) => ScalarValue::Utf8(Some(utf8(rest)?)),
            _ => return Err(Error::new(ErrorKind::InvalidText, "unsupported jsonb binary version")),
        },
        1082 => ScalarValue::Date32(Some(i32::from_be_bytes(array(fixed(4)?)) + pg_epoch_days)),
        1114 => ScalarValue::TimestampMicrosecond(Some(i64::from_be_bytes(array(fixed(8)?)) + pg_epoch_micros), None),
        1184 => ScalarValue::TimestampMicrosecond(
            Some(i64::from_be_bytes(array(fixed(8)?)) + pg_epoch_micros),
            Some("+00:00".into()),
        ),
        1083 => ScalarValue::Time64Microsecond(Some(i64::from_be_bytes(array(fixed(8)?)))),
        2950 => ScalarValue::Utf8(Some(
            uuid::Uuid::from_slice(fixed(16)?)
                .map_err(|e| Error::new(ErrorKind::InvalidText, e.to_string()))?
                .to_string(),
        )),
        1700 => ScalarValue::try_from_string(numeric_text(bytes)?, &DataType::Decimal128(38, 10))?,
        oid if oid == PgType::VECTOR.oid => {
            if bytes.len() < 4 {
                return Err(Error::new(ErrorKind::InvalidText, "vector value too short"));
            }
            let dims = i16::from_be_bytes([bytes[0], bytes[1]]) as usize;
            let body = &bytes[4..];
            if body.len() != dims * 4 {
                return Err(Error::new(
                    ErrorKind::InvalidText,
                    "vector length does not match its dimensions",
                ));
            }
            let values: Vec<ScalarValue> = body
                .chunks(4)
                .map(|c| ScalarValue::Float32(Some(f32::from_be_bytes([c[0], c[1], c[2], c[3]]))))
                .collect();
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &DataType::Float32))
        }
        other => {
            let name = PgType::by_oid(other).map_or_else(|| format!("OID {other}"), |t| t.name.to_string());
            return Err(Error::new(
                ErrorKind::NotSupported,
                format!("binary format for parameters of type {name} is not supported; send it as text"),
            ));
        }
    })
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

fn utf8(bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| Error::new(ErrorKind::InvalidText, "not valid UTF-8"))
}

/// PostgreSQL's binary numeric as decimal text.
fn numeric_text(bytes: &[u8]) -> Result<String> {
    let short = || Error::new(ErrorKind::InvalidText, "numeric value too short");
    if bytes.len() < 8 {
        return Err(short());
    }
    let word = |i: usize| i16::from_be_bytes([bytes[i], bytes[i + 1]]);
    let ndigits = word(0) as usize;
    let weight = word(2) as i32;
    let sign = word(4) as u16;
    let dscale = word(6) as usize;
    if bytes.len() < 8 + 2 * ndigits {
        return Err(short());
    }
    if sign == 0xC000 {
        return Err(Error::new(ErrorKind::InvalidText, "NaN is not a valid numeric here"));
    }
    let digits: Vec<i16> = (0..ndigits).map(|i| word(8 + 2 * i)).collect();
    let mut int_part = String::new();
    for w in 0..=weight.max(-1) {
        let d = digits.get(w as usize).copied().unwrap_or(0);
        if int_part.is_empty() {
            int_part.push_str(&d.to_string());
        } else {
            int_part.push_str(&format!("{d:04}"));
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    let mut frac = String::new();
    let mut position = weight + 1;
    while frac.len() < dscale {
        let d = if position >= 0 {
            digits.get(position as usize).copied().unwrap_or(0)
        } else {
            0
        };
        frac.push_str(&format!("{d:04}"));
        position += 1;
    }
    frac.truncate(dscale);
    let sign = if sign == 0x4000 { "-" } else { "" };
    Ok(if frac.is_empty() {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_params_take_the_inferred_type() -> Result<()> {
        assert_eq!(
            decode(0, Some(b"42"), false, 0, Some(&DataType::Int32))?,
            ScalarValue::Int32(Some(42))
        );
        // int8 sent, int4 expected.
        assert_eq!(
            decode(0, Some(&7i64.to_be_bytes()), true, 20, Some(&DataType::Int32))?,
            ScalarValue::Int32(Some(7))
        );
        assert_eq!(
            decode(0, Some(b"x"), false, 0, None)?,
            ScalarValue::Utf8(Some("x".into()))
        );
        assert_eq!(
            decode(0, Some(b"t"), false, 16, None)?,
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(
            decode(0, None, false, 0, Some(&DataType::Int64))?,
            ScalarValue::Int64(None)
        );
        let e = decode(1, Some(b"abc"), false, 0, Some(&DataType::Int32)).expect_err("not a number");
        assert!(e.message().contains("parameter $2"), "{e}");
        assert_eq!(e.kind(), ErrorKind::InvalidText);
        Ok(())
    }

    #[test]
    fn binary_numeric_reads_back() -> Result<()> {
        // 12345.678: ndigits 3, weight 1, dscale 3 → 1 2345 6780
        let bytes = [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c];
        assert_eq!(numeric_text(&bytes)?, "12345.678");
        assert_eq!(numeric_text(&[0, 1, 0xff, 0xff, 0x40, 0, 0, 2, 0x13, 0x88])?, "-0.50");
        Ok(())
    }

    #[test]
    fn bytea_hex() -> Result<()> {
        assert_eq!(decode_hex_bytea("\\x01ff")?, vec![1, 255]);
        assert!(decode_hex_bytea("\\x0").is_err());
        Ok(())
    }
}
