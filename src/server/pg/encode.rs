//! Arrow columns → PostgreSQL DataRow fields, in the text or the binary
//! format of each column's [`PgType`].
//!
//! Columns are downcast once per batch ([`Column`]); each row then appends
//! its length-prefixed fields straight into the DataRow buffer.

use std::fmt::Write as _;

use arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeListArray, GenericListArray, OffsetSizeTrait, PrimitiveArray, RecordBatch,
};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Date32Type, Decimal128Type, DecimalType, Float32Type, Float64Type, Int8Type,
    Int16Type, Int32Type, Int64Type, IntervalMonthDayNanoType, IntervalUnit, Time64MicrosecondType, TimeUnit,
    TimestampMicrosecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use bytes::{BufMut, BytesMut};
use pgwire::api::results::FieldFormat;
use pgwire::messages::data::DataRow;

use crate::error::{Error, Result};
use crate::sql::pg_types::PgType;

/// Days from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's).
const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = PG_EPOCH_DAYS as i64 * 86_400_000_000;

/// One result column ready to encode: the array cast to the type its
/// encoder reads, and the wire type and format.
pub struct Column {
    array: ArrayRef,
    pg: PgType,
    format: FieldFormat,
}

impl Column {
    /// Prepare `array` (of a column whose wire type is `pg`) for encoding.
    pub fn new(array: &ArrayRef, pg: PgType, format: FieldFormat) -> Result<Self> {
        Ok(Self {
            array: normalize(array)?,
            pg,
            format,
        })
    }

    /// Row `row` in the text format (`None` for NULL), for COPY TO.
    pub fn text(&self, row: usize) -> Result<Option<String>> {
        if self.array.is_null(row) {
            return Ok(None);
        }
        let mut text = String::new();
        write_text(&self.array, row, self.pg, &mut text, false)?;
        Ok(Some(text))
    }

    /// Append row `row` as one field: its length (-1 for NULL), then bytes.
    pub fn encode(&self, row: usize, buf: &mut BytesMut) -> Result<()> {
        if self.array.is_null(row) {
            buf.put_i32(-1);
            return Ok(());
        }
        let at = buf.len();
        buf.put_i32(0);
        match self.format {
            FieldFormat::Text => {
                let mut text = String::new();
                write_text(&self.array, row, self.pg, &mut text, false)?;
                buf.put_slice(text.as_bytes());
            }
            FieldFormat::Binary => write_binary(&self.array, row, self.pg, buf)?,
        }
        let len = (buf.len() - at - 4) as i32;
        buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }
}

/// Encode every row of `batch` as DataRows.
pub fn data_rows(batch: &RecordBatch, types: &[PgType], formats: &[FieldFormat]) -> Result<Vec<DataRow>> {
    let columns = batch
        .columns()
        .iter()
        .zip(types.iter().zip(formats))
        .map(|(array, (pg, format))| Column::new(array, *pg, *format))
        .collect::<Result<Vec<_>>>()?;
    let mut rows = Vec::with_capacity(batch.num_rows());
    let mut buf = BytesMut::with_capacity(64 * columns.len().max(1));
    for row in 0..batch.num_rows() {
        for column in &columns {
            column.encode(row, &mut buf)?;
        }
        rows.push(DataRow::new(buf.split(), columns.len() as i16));
    }
    Ok(rows)
}

/// Cast types with one canonical encoder onto it (Utf8View → Utf8,
/// timestamps → microseconds, Date64 → Date32, ...).
fn normalize(array: &ArrayRef) -> Result<ArrayRef> {
    use DataType as D;
    let target = match array.data_type() {
        D::Utf8View | D::LargeUtf8 => Some(D::Utf8),
        D::BinaryView | D::LargeBinary | D::FixedSizeBinary(_) => Some(D::Binary),
        D::Timestamp(unit, tz) if *unit != TimeUnit::Microsecond => {
            Some(D::Timestamp(TimeUnit::Microsecond, tz.clone()))
        }
        D::Date64 => Some(D::Date32),
        D::Time32(_) | D::Time64(TimeUnit::Nanosecond) => Some(D::Time64(TimeUnit::Microsecond)),
        D::Interval(IntervalUnit::YearMonth | IntervalUnit::DayTime) | D::Duration(_) => {
            Some(D::Interval(IntervalUnit::MonthDayNano))
        }
        D::Decimal32(p, s) | D::Decimal64(p, s) => Some(D::Decimal128(*p, *s)),
        D::Float16 => Some(D::Float32),
        D::Dictionary(_, value) => Some(value.as_ref().clone()),
        D::ListView(item) => Some(D::List(item.clone())),
        _ => None,
    };
    Ok(match target {
        Some(t) => arrow::compute::cast(array, &t)?,
        None => array.clone(),
    })
}

fn primitive<T: ArrowPrimitiveType>(array: &ArrayRef) -> &PrimitiveArray<T> {
    array.as_primitive::<T>()
}

/// Row `row` of `array` in PostgreSQL's text format. Inside an array
/// literal (`nested`), strings are quoted where PostgreSQL would.
fn write_text(array: &ArrayRef, row: usize, pg: PgType, out: &mut String, nested: bool) -> Result<()> {
    use DataType as D;
    let w = |e: std::fmt::Error| Error::internal(format!("formatting a value: {e}"));
    match array.data_type() {
        D::Boolean => out.push(if array.as_boolean().value(row) { 't' } else { 'f' }),
        D::Int8 => write!(out, "{}", primitive::<Int8Type>(array).value(row)).map_err(w)?,
        D::Int16 => write!(out, "{}", primitive::<Int16Type>(array).value(row)).map_err(w)?,
        D::Int32 => write!(out, "{}", primitive::<Int32Type>(array).value(row)).map_err(w)?,
        D::Int64 => write!(out, "{}", primitive::<Int64Type>(array).value(row)).map_err(w)?,
        D::UInt8 => write!(out, "{}", primitive::<UInt8Type>(array).value(row)).map_err(w)?,
        D::UInt16 => write!(out, "{}", primitive::<UInt16Type>(array).value(row)).map_err(w)?,
        D::UInt32 => write!(out, "{}", primitive::<UInt32Type>(array).value(row)).map_err(w)?,
        D::UInt64 => write!(out, "{}", primitive::<UInt64Type>(array).value(row)).map_err(w)?,
        D::Float32 => write_float(f64::from(primitive::<Float32Type>(array).value(row)), true, out),
        D::Float64 => write_float(primitive::<Float64Type>(array).value(row), false, out),
        D::Decimal128(_, scale) => out.push_str(&Decimal128Type::format_decimal(
            primitive::<Decimal128Type>(array).value(row),
            decimal_precision(array),
            *scale,
        )),
        D::Utf8 => {
            let s = array.as_string::<i32>().value(row);
            if nested {
                quote_array_element(s, out);
            } else {
                out.push_str(s);
            }
        }
        D::Binary => {
            let bytes = array.as_binary::<i32>().value(row);
            if nested {
                out.push('"');
                out.push_str("\\\\x");
            } else {
                out.push_str("\\x");
            }
            for b in bytes {
                write!(out, "{b:02x}").map_err(w)?;
            }
            if nested {
                out.push('"');
            }
        }
        D::Date32 => write_date(primitive::<Date32Type>(array).value(row), out),
        D::Time64(TimeUnit::Microsecond) => write_time(primitive::<Time64MicrosecondType>(array).value(row), out),
        D::Timestamp(TimeUnit::Microsecond, tz) => {
            let micros = primitive::<TimestampMicrosecondType>(array).value(row);
            if nested {
                out.push('"');
            }
            write_timestamp(micros, out);
            if tz.is_some() {
                out.push_str("+00");
            }
            if nested {
                out.push('"');
            }
        }
        D::Interval(IntervalUnit::MonthDayNano) => {
            let v = primitive::<IntervalMonthDayNanoType>(array).value(row);
            if nested {
                out.push('"');
            }
            write_interval(v.months, v.days, v.nanoseconds / 1000, out);
            if nested {
                out.push('"');
            }
        }
        D::FixedSizeList(_, _) if pg.oid == PgType::VECTOR.oid => {
            let list = array.as_fixed_size_list();
            let values = arrow::compute::cast(&list.value(row), &DataType::Float32)?;
            out.push('[');
            for (i, v) in values.as_primitive::<Float32Type>().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match v {
                    Some(v) => write_float(f64::from(v), true, out),
                    None => out.push_str("NaN"),
                }
            }
            out.push(']');
        }
        D::List(_) => write_text_list(&array.as_list::<i32>().value(row), pg, out)?,
        D::LargeList(_) => write_text_list(&array.as_list::<i64>().value(row), pg, out)?,
        D::FixedSizeList(_, _) => write_text_list(&array.as_fixed_size_list().value(row), pg, out)?,
        D::Struct(_) | D::Map(_, _) => {
            let json = to_json(array, row)?;
            if nested {
                quote_array_element(&json, out);
            } else {
                out.push_str(&json);
            }
        }
        D::Null => {}
        other => {
            // Anything else: Arrow's own rendering.
            let formatter = arrow::util::display::ArrayFormatter::try_new(
                array.as_ref(),
                &arrow::util::display::FormatOptions::default(),
            )?;
            let text = formatter.value(row).to_string();
            if nested {
                quote_array_element(&text, out);
            } else {
                out.push_str(&text);
            }
            tracing::trace!(data_type = %other, "text encoding through Arrow's display");
        }
    }
    Ok(())
}

fn decimal_precision(array: &ArrayRef) -> u8 {
    match array.data_type() {
        DataType::Decimal128(p, _) => *p,
        _ => 38,
    }
}

/// `{1,2,NULL}`: PostgreSQL's array literal.
fn write_text_list(values: &ArrayRef, pg: PgType, out: &mut String) -> Result<()> {
    let element = pg.element().unwrap_or(PgType::TEXT);
    let values = normalize(values)?;
    out.push('{');
    for i in 0..values.len() {
        if i > 0 {
            out.push(',');
        }
        if values.is_null(i) {
            out.push_str("NULL");
        } else {
            write_text(&values, i, element, out, true)?;
        }
    }
    out.push('}');
    Ok(())
}

/// An array element in double quotes when it is empty, `NULL`, or holds
/// a character with meaning inside `{...}`.
fn quote_array_element(s: &str, out: &mut String) {
    let needs_quotes = s.is_empty()
        || s.eq_ignore_ascii_case("null")
        || s.chars()
            .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_whitespace());
    if !needs_quotes {
        out.push_str(s);
        return;
    }
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// PostgreSQL prints the shortest text that reads back to the same value
/// (extra_float_digits = 1, the default since 12), and `NaN`/`Infinity`.
fn write_float(v: f64, single: bool, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        // The shortest digits that read back to the same value, in
        // PostgreSQL's layout: plain for decimal exponents in
        // [-4, digits), else `1.5e+20` / `1e-300` (two exponent digits at
        // least), where digits is 6 for real and 15 for double.
        let scientific = if single {
            format!("{:e}", v as f32)
        } else {
            format!("{v:e}")
        };
        let (mantissa, exponent) = scientific.split_once('e').unwrap_or((scientific.as_str(), "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let limit = if single { 6 } else { 15 };
        if (-4..limit).contains(&exponent) {
            if single {
                out.push_str(&(v as f32).to_string());
            } else {
                out.push_str(&v.to_string());
            }
        } else {
            let sign = if exponent < 0 { '-' } else { '+' };
            let _ = write!(out, "{mantissa}e{sign}{:02}", exponent.abs());
        }
    }
}

fn civil(days_since_1970: i32) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(chrono::Duration::days(days_since_1970.into()))
}

fn write_date(days: i32, out: &mut String) {
    match civil(days) {
        Some(date) => {
            let _ = write!(out, "{}", date.format("%Y-%m-%d"));
        }
        None => {
            let _ = write!(out, "{days}");
        }
    }
}

fn write_time(micros: i64, out: &mut String) {
    let seconds = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000);
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        (seconds / 60) % 60,
        seconds % 60
    );
    write_fraction(fraction, out);
}

/// `.123` for 123000 µs: trailing zeros dropped, as PostgreSQL prints.
fn write_fraction(micros: i64, out: &mut String) {
    if micros != 0 {
        let digits = format!("{micros:06}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

fn write_timestamp(micros: i64, out: &mut String) {
    let days = micros.div_euclid(86_400_000_000);
    let in_day = micros.rem_euclid(86_400_000_000);
    write_date(days as i32, out);
    out.push(' ');
    write_time(in_day, out);
}

/// `1 year 2 mons 3 days 04:05:06.5`: PostgreSQL's interval style.
fn write_interval(months: i32, days: i32, micros: i64, out: &mut String) {
    let mut parts: Vec<String> = Vec::new();
    let (years, months) = (months / 12, months % 12);
    let plural = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 || n == -1 { one } else { many });
    if years != 0 {
        parts.push(plural(years.into(), "year", "years"));
    }
    if months != 0 {
        parts.push(plural(months.into(), "mon", "mons"));
    }
    if days != 0 {
        parts.push(plural(days.into(), "day", "days"));
    }
    if micros != 0 || parts.is_empty() {
        let mut time = String::new();
        if micros < 0 {
            time.push('-');
        }
        write_time(micros.abs(), &mut time);
        parts.push(time);
    }
    out.push_str(&parts.join(" "));
}

fn to_json(array: &ArrayRef, row: usize) -> Result<String> {
    let slice = array.slice(row, 1);
    let field = arrow::datatypes::Field::new("v", slice.data_type().clone(), true);
    let batch = RecordBatch::try_new(
        std::sync::Arc::new(arrow::datatypes::Schema::new(vec![field])),
        vec![slice],
    )?;
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    writer.write(&batch)?;
    writer.finish()?;
    let rows: serde_json::Value = serde_json::from_slice(&writer.into_inner())
        .map_err(|e| Error::internal(format!("JSON of a struct value: {e}")))?;
    Ok(rows
        .get(0)
        .and_then(|r| r.get("v"))
        .map(|v| v.to_string())
        .unwrap_or_else(|| "null".to_string()))
}

/// Row `row` of `array` in PostgreSQL's binary format for `pg`.
fn write_binary(array: &ArrayRef, row: usize, pg: PgType, buf: &mut BytesMut) -> Result<()> {
    use DataType as D;
    match (array.data_type(), pg.oid) {
        (D::Boolean, _) => buf.put_u8(u8::from(array.as_boolean().value(row))),
        (_, 21) => buf.put_i16(integer(array, row)? as i16),
        (_, 23) => buf.put_i32(integer(array, row)? as i32),
        (_, 20) => buf.put_i64(integer(array, row)?),
        (D::Float32, _) => buf.put_f32(primitive::<Float32Type>(array).value(row)),
        (D::Float64, _) => buf.put_f64(primitive::<Float64Type>(array).value(row)),
        (D::Date32, _) => buf.put_i32(primitive::<Date32Type>(array).value(row) - PG_EPOCH_DAYS),
        (D::Time64(TimeUnit::Microsecond), _) => buf.put_i64(primitive::<Time64MicrosecondType>(array).value(row)),
        (D::Timestamp(TimeUnit::Microsecond, _), _) => {
            buf.put_i64(primitive::<TimestampMicrosecondType>(array).value(row) - PG_EPOCH_MICROS)
        }
        (D::Interval(IntervalUnit::MonthDayNano), _) => {
            let v = primitive::<IntervalMonthDayNanoType>(array).value(row);
            buf.put_i64(v.nanoseconds / 1000);
            buf.put_i32(v.days);
            buf.put_i32(v.months);
        }
        (D::Binary, _) => buf.put_slice(array.as_binary::<i32>().value(row)),
        (D::Utf8, 3802) => {
            // jsonb's binary format: a version byte, then the text.
            buf.put_u8(1);
            buf.put_slice(array.as_string::<i32>().value(row).as_bytes());
        }
        (D::Utf8, _) => buf.put_slice(array.as_string::<i32>().value(row).as_bytes()),
        (D::FixedSizeList(_, n), oid) if oid == PgType::VECTOR.oid => {
            // pgvector: dimensions, an unused int16, then float4s.
            let list: &FixedSizeListArray = array.as_fixed_size_list();
            let values = arrow::compute::cast(&list.value(row), &DataType::Float32)?;
            buf.put_i16(*n as i16);
            buf.put_i16(0);
            for v in values.as_primitive::<Float32Type>().iter() {
                buf.put_f32(v.unwrap_or(f32::NAN));
            }
        }
        (D::List(_), _) => write_binary_list(array.as_list::<i32>(), row, pg, buf)?,
        (D::LargeList(_), _) => write_binary_list(array.as_list::<i64>(), row, pg, buf)?,
        (D::Decimal128(_, scale), _) => {
            let text = Decimal128Type::format_decimal(
                primitive::<Decimal128Type>(array).value(row),
                decimal_precision(array),
                *scale,
            );
            write_numeric(&text, buf)?
        }
        (D::UInt64, _) => write_numeric(&primitive::<UInt64Type>(array).value(row).to_string(), buf)?,
        _ => {
            // Types whose binary form is their text (json, text-like).
            let mut text = String::new();
            write_text(array, row, pg, &mut text, false)?;
            buf.put_slice(text.as_bytes());
        }
    }
    Ok(())
}

fn integer(array: &ArrayRef, row: usize) -> Result<i64> {
    use DataType as D;
    Ok(match array.data_type() {
        D::Int8 => primitive::<Int8Type>(array).value(row).into(),
        D::Int16 => primitive::<Int16Type>(array).value(row).into(),
        D::Int32 => primitive::<Int32Type>(array).value(row).into(),
        D::Int64 => primitive::<Int64Type>(array).value(row),
        D::UInt8 => primitive::<UInt8Type>(array).value(row).into(),
        D::UInt16 => primitive::<UInt16Type>(array).value(row).into(),
        D::UInt32 => primitive::<UInt32Type>(array).value(row).into(),
        other => return Err(Error::internal(format!("{other} is not an integer column"))),
    })
}

/// A one-dimensional array: ndim, has-nulls, element OID, length, lower
/// bound 1, then each element length-prefixed.
fn write_binary_list<O: OffsetSizeTrait>(
    list: &GenericListArray<O>,
    row: usize,
    pg: PgType,
    buf: &mut BytesMut,
) -> Result<()> {
    let element = pg.element().unwrap_or(PgType::TEXT);
    let values = normalize(&list.value(row))?;
    buf.put_i32(1);
    buf.put_i32(i32::from(values.null_count() > 0));
    buf.put_u32(element.oid);
    buf.put_i32(values.len() as i32);
    buf.put_i32(1);
    let column = Column {
        array: values,
        pg: element,
        format: FieldFormat::Binary,
    };
    for i in 0..column.array.len() {
        column.encode(i, buf)?;
    }
    Ok(())
}

/// PostgreSQL's binary numeric: base-10000 digits with a weight, sign and
/// display scale, from the decimal's text.
fn write_numeric(text: &str, buf: &mut BytesMut) -> Result<()> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let int_part = int_part.trim_start_matches('0');
    let scale = frac_part.len() as u16;
    // Pad the integer part on the left and the fraction on the right to
    // whole groups of four digits.
    let int_pad = (4 - int_part.len() % 4) % 4;
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let all: String = "0".repeat(int_pad) + int_part + frac_part + &"0".repeat(frac_pad);
    let mut groups: Vec<i16> = Vec::with_capacity(all.len() / 4);
    for chunk in all.as_bytes().chunks(4) {
        let group = std::str::from_utf8(chunk)
            .ok()
            .and_then(|s| s.parse::<i16>().ok())
            .ok_or_else(|| Error::internal(format!("bad decimal text {text:?}")))?;
        groups.push(group);
    }
    let int_groups = (int_part.len() + int_pad) / 4;
    let mut weight = int_groups as i16 - 1;
    // Strip leading and trailing zero groups.
    while groups.first() == Some(&0) {
        groups.remove(0);
        weight -= 1;
    }
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    buf.put_i16(groups.len() as i16);
    buf.put_i16(weight);
    buf.put_u16(if negative && !groups.is_empty() { 0x4000 } else { 0 });
    buf.put_u16(scale);
    for g in groups {
        buf.put_i16(g);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Decimal128Array, Int32Array, ListArray, StringArray, TimestampMicrosecondArray};

    use super::*;

    fn text(array: ArrayRef, pg: PgType) -> Vec<Option<String>> {
        let column = Column::new(&array, pg, FieldFormat::Text).expect("column");
        (0..array.len())
            .map(|i| {
                let mut buf = BytesMut::new();
                column.encode(i, &mut buf).expect("encode");
                let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                (len >= 0).then(|| String::from_utf8_lossy(&buf[4..]).to_string())
            })
            .collect()
    }

    #[test]
    fn text_formats_match_postgres() {
        let ts: ArrayRef =
            Arc::new(TimestampMicrosecondArray::from(vec![Some(1_700_000_000_123_000), None]).with_timezone("+00:00"));
        assert_eq!(
            text(ts, PgType::TIMESTAMPTZ),
            vec![Some("2023-11-14 22:13:20.123+00".to_string()), None]
        );
        let dec: ArrayRef = Arc::new(
            Decimal128Array::from(vec![1250, -5])
                .with_precision_and_scale(10, 2)
                .expect("decimal"),
        );
        assert_eq!(
            text(dec, PgType::NUMERIC),
            vec![Some("12.50".into()), Some("-0.05".into())]
        );
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![Some(vec![
            Some(1),
            None,
            Some(3),
        ])]));
        assert_eq!(text(list, PgType::INT4_ARRAY), vec![Some("{1,NULL,3}".into())]);
        let strings: ArrayRef = Arc::new(ListArray::new(
            Arc::new(arrow::datatypes::Field::new("item", DataType::Utf8, true)),
            arrow::buffer::OffsetBuffer::from_lengths([3]),
            Arc::new(StringArray::from(vec!["a b", "", "x\"y"])),
            None,
        ));
        assert_eq!(
            text(strings, PgType::TEXT_ARRAY),
            vec![Some(r#"{"a b","","x\"y"}"#.into())]
        );
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![Some(-7)]));
        assert_eq!(text(ints, PgType::INT4), vec![Some("-7".into())]);
    }

    #[test]
    fn floats_like_postgres() {
        let f = |v: f64, single: bool| {
            let mut out = String::new();
            write_float(v, single, &mut out);
            out
        };
        assert_eq!(f(-1e-300, false), "-1e-300");
        assert_eq!(f(1.5e20, false), "1.5e+20");
        assert_eq!(f(1e15, false), "1e+15");
        assert_eq!(f(1e14, false), "100000000000000");
        assert_eq!(f(0.0001, false), "0.0001");
        assert_eq!(f(0.00001, false), "1e-05");
        assert_eq!(f(0.1, false), "0.1");
        assert_eq!(f(1e6, true), "1e+06");
        assert_eq!(f(100000.0, true), "100000");
        assert_eq!(f(1.1, true), "1.1");
    }

    #[test]
    fn binary_numeric() -> Result<()> {
        let mut buf = BytesMut::new();
        write_numeric("12345.678", &mut buf)?;
        // ndigits 3, weight 1, positive, dscale 3: 1 2345 6780
        assert_eq!(&buf[..], &[0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]);
        let mut zero = BytesMut::new();
        write_numeric("0.00", &mut zero)?;
        assert_eq!(&zero[..], &[0, 0, 0, 0, 0, 0, 0, 2]);
        Ok(())
    }

    #[test]
    fn intervals() {
        let mut out = String::new();
        write_interval(14, 3, 3_723_500_000, &mut out);
        assert_eq!(out, "1 year 2 mons 3 days 01:02:03.5");
        let mut zero = String::new();
        write_interval(0, 0, 0, &mut zero);
        assert_eq!(zero, "00:00:00");
    }
}
