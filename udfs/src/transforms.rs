//! Iceberg's partition transforms as SQL functions:
//! `iceberg_bucket(N, v)`, `iceberg_truncate(W, v)`, `iceberg_year(t)`,
//! `iceberg_month(t)`, `iceberg_day(t)`, `iceberg_hour(t)`.
//!
//! They return exactly the partition values the Iceberg spec defines (and
//! compaction writes), so `SELECT iceberg_bucket(16, tenant_id), count(*)
//! ... GROUP BY 1` shows how rows spread over partitions. Implemented here
//! rather than borrowed from the iceberg crate because that crate does not
//! build for wasm32, where the Durable Object needs the same values.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int32Array, Int32Builder, Int64Array, StringArray};
use arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::{ScalarValue, exec_err, plan_err};
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

/// MurmurHash3 x86 32-bit with seed 0, as the Iceberg spec requires.
pub fn murmur3_32(data: &[u8]) -> i32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h: u32 = 0;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut k: u32 = 0;
        for (i, b) in tail.iter().enumerate() {
            k |= (*b as u32) << (8 * i);
        }
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h as i32
}

/// The Iceberg bucket of a hash: `(hash & Integer.MAX_VALUE) % n`.
fn bucket_of(hash: i32, n: i32) -> i32 {
    (hash & i32::MAX) % n
}

/// Minimal big-endian two's-complement bytes of a decimal's unscaled value.
fn decimal_bytes(v: i128) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 15 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        let redundant = (b == 0x00 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    bytes[start..].to_vec()
}

fn micros_of(array: &ArrayRef) -> Result<Int64Array> {
    match array.data_type() {
        DataType::Timestamp(TimeUnit::Microsecond, _) => Ok(array
            .as_primitive::<TimestampMicrosecondType>()
            .reinterpret_cast::<Int64Type>()),
        DataType::Timestamp(_, tz) => {
            let target = DataType::Timestamp(TimeUnit::Microsecond, tz.clone());
            let cast = arrow::compute::cast(array, &target)?;
            Ok(cast
                .as_primitive::<TimestampMicrosecondType>()
                .reinterpret_cast::<Int64Type>())
        }
        other => exec_err!("expected a timestamp, got {other}"),
    }
}

fn literal_width(args: &ScalarFunctionArgs, function: &str) -> Result<i32> {
    let value = match &args.args[0] {
        ColumnarValue::Scalar(v) => v.clone(),
        ColumnarValue::Array(_) => return exec_err!("{function}: the first argument must be a constant"),
    };
    let n = match value.cast_to(&DataType::Int32)? {
        ScalarValue::Int32(Some(n)) if n > 0 => n,
        other => return exec_err!("{function}: the first argument must be a positive integer, got {other}"),
    };
    Ok(n)
}

/// `iceberg_bucket(N, value)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IcebergBucket {
    signature: Signature,
}

impl Default for IcebergBucket {
    fn default() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for IcebergBucket {
    fn name(&self) -> &str {
        "iceberg_bucket"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match &arg_types[1] {
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::Date32
            | DataType::Timestamp(_, _)
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::Decimal128(_, _) => Ok(DataType::Int32),
            other => plan_err!(
                "iceberg_bucket does not apply to {other} (Iceberg buckets ints, longs, decimals, dates, timestamps, strings and binary)"
            ),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = literal_width(&args, "iceberg_bucket")?;
        let values = args.args[1].to_array(args.number_rows)?;
        let hash_long = |v: i64| bucket_of(murmur3_32(&v.to_le_bytes()), n);
        let out: Int32Array = match values.data_type() {
            DataType::Int8 | DataType::Int16 | DataType::Int32 => {
                let cast = arrow::compute::cast(&values, &DataType::Int64)?;
                cast.as_primitive::<Int64Type>().unary_opt(|v| Some(hash_long(v)))
            }
            DataType::Int64 => values.as_primitive::<Int64Type>().unary_opt(|v| Some(hash_long(v))),
            DataType::Date32 => values
                .as_primitive::<Date32Type>()
                .unary_opt(|v| Some(hash_long(v as i64))),
            DataType::Timestamp(_, _) => micros_of(&values)?.unary_opt(|v| Some(hash_long(v))),
            DataType::Decimal128(_, _) => values
                .as_primitive::<Decimal128Type>()
                .unary_opt(|v| Some(bucket_of(murmur3_32(&decimal_bytes(v)), n))),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let strings = arrow::compute::cast(&values, &DataType::Utf8)?;
                strings
                    .as_string::<i32>()
                    .iter()
                    .map(|s| s.map(|s| bucket_of(murmur3_32(s.as_bytes()), n)))
                    .collect()
            }
            DataType::Binary | DataType::LargeBinary => {
                let bytes = arrow::compute::cast(&values, &DataType::Binary)?;
                bytes
                    .as_binary::<i32>()
                    .iter()
                    .map(|b| b.map(|b| bucket_of(murmur3_32(b), n)))
                    .collect()
            }
            other => return exec_err!("iceberg_bucket does not apply to {other}"),
        };
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `iceberg_truncate(W, value)`: ints round down to a multiple of W,
/// strings keep their first W characters.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IcebergTruncate {
    signature: Signature,
}

impl Default for IcebergTruncate {
    fn default() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for IcebergTruncate {
    fn name(&self) -> &str {
        "iceberg_truncate"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match &arg_types[1] {
            DataType::Int32 => Ok(DataType::Int32),
            DataType::Int64 => Ok(DataType::Int64),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(DataType::Utf8),
            other => plan_err!("iceberg_truncate does not apply to {other}"),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let w = literal_width(&args, "iceberg_truncate")?;
        let values = args.args[1].to_array(args.number_rows)?;
        let out: ArrayRef = match values.data_type() {
            DataType::Int32 => Arc::new(
                values
                    .as_primitive::<Int32Type>()
                    .unary::<_, Int32Type>(|v| v - v.rem_euclid(w)),
            ),
            DataType::Int64 => {
                let w = w as i64;
                Arc::new(
                    values
                        .as_primitive::<Int64Type>()
                        .unary::<_, Int64Type>(|v| v - v.rem_euclid(w)),
                )
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let strings = arrow::compute::cast(&values, &DataType::Utf8)?;
                let truncated: StringArray = strings
                    .as_string::<i32>()
                    .iter()
                    .map(|s| s.map(|s| s.chars().take(w as usize).collect::<String>()))
                    .collect();
                Arc::new(truncated)
            }
            other => return exec_err!("iceberg_truncate does not apply to {other}"),
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// Which time transform a [`IcebergTime`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeUnitTransform {
    Year,
    Month,
    Day,
    Hour,
}

/// `iceberg_year|month|day|hour(t)`: whole units since 1970-01-01 UTC.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IcebergTime {
    unit: TimeUnitTransform,
    name: &'static str,
    signature: Signature,
}

impl IcebergTime {
    pub fn new(unit: TimeUnitTransform) -> Self {
        let name = match unit {
            TimeUnitTransform::Year => "iceberg_year",
            TimeUnitTransform::Month => "iceberg_month",
            TimeUnitTransform::Day => "iceberg_day",
            TimeUnitTransform::Hour => "iceberg_hour",
        };
        Self {
            unit,
            name,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

const MICROS_PER_HOUR: i64 = 3_600_000_000;
const MICROS_PER_DAY: i64 = 24 * MICROS_PER_HOUR;

/// Months since 1970-01 of a day number (proleptic Gregorian).
fn months_of_day(days: i64) -> i32 {
    let (y, m, _) = civil_from_days(days);
    ((y - 1970) * 12 + (m as i64 - 1)) as i32
}

/// Howard Hinnant's days → (year, month, day), valid for any i64 range used here.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl ScalarUDFImpl for IcebergTime {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match (&arg_types[0], self.unit) {
            (DataType::Date32, TimeUnitTransform::Hour) => plan_err!("iceberg_hour does not apply to dates"),
            (DataType::Date32 | DataType::Timestamp(_, _), _) => Ok(DataType::Int32),
            (other, _) => plan_err!("{} applies to dates and timestamps, not {other}", self.name),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let values = args.args[0].to_array(args.number_rows)?;
        let unit = self.unit;
        let from_days = move |days: i64| -> i32 {
            match unit {
                TimeUnitTransform::Year => (civil_from_days(days).0 - 1970) as i32,
                TimeUnitTransform::Month => months_of_day(days),
                TimeUnitTransform::Day | TimeUnitTransform::Hour => days as i32,
            }
        };
        let mut out = Int32Builder::with_capacity(values.len());
        match values.data_type() {
            DataType::Date32 => {
                for v in values.as_primitive::<Date32Type>().iter() {
                    out.append_option(v.map(|d| from_days(d as i64)));
                }
            }
            DataType::Timestamp(_, _) => {
                for v in micros_of(&values)?.iter() {
                    out.append_option(v.map(|us| match unit {
                        TimeUnitTransform::Hour => us.div_euclid(MICROS_PER_HOUR) as i32,
                        _ => from_days(us.div_euclid(MICROS_PER_DAY)),
                    }));
                }
            }
            other => return exec_err!("{} does not apply to {other}", self.name),
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hash values from the Iceberg spec, appendix B.
    #[test]
    fn murmur3_matches_the_iceberg_spec() {
        assert_eq!(murmur3_32(&34i64.to_le_bytes()), 2017239379);
        assert_eq!(murmur3_32(b"iceberg"), 1210000089);
        assert_eq!(murmur3_32(&[0, 1, 2, 3]), -188683207);
        // decimal 14.20 → unscaled 1420
        assert_eq!(murmur3_32(&decimal_bytes(1420)), -500754589);
        // date 2017-11-16 = 17486 days
        assert_eq!(murmur3_32(&17486i64.to_le_bytes()), -653330422);
        // timestamp 2017-11-16T22:31:08 in µs
        assert_eq!(murmur3_32(&1510871468000000i64.to_le_bytes()), -2047944441);
    }

    #[test]
    fn decimal_bytes_are_minimal() {
        assert_eq!(decimal_bytes(0), vec![0]);
        assert_eq!(decimal_bytes(127), vec![0x7f]);
        assert_eq!(decimal_bytes(128), vec![0x00, 0x80]);
        assert_eq!(decimal_bytes(-1), vec![0xff]);
        assert_eq!(decimal_bytes(-129), vec![0xff, 0x7f]);
    }

    #[test]
    fn months_and_years_before_and_after_epoch() {
        assert_eq!(months_of_day(0), 0);
        assert_eq!(months_of_day(-1), -1); // 1969-12-31
        assert_eq!(months_of_day(31), 1); // 1970-02-01
        assert_eq!(civil_from_days(17486), (2017, 11, 16));
    }
}
