//! PostgreSQL column types ↔ Iceberg types.
//!
//! Iceberg is the table of record, so a column's Arrow type is always the one
//! iceberg-rust derives from its Iceberg type; the PostgreSQL spelling the
//! user wrote is kept in the field's doc so `\d` can show it later.

use arrow::datatypes::DataType as ArrowType;
use datafusion::sql::sqlparser::ast::{DataType, ExactNumberInfo, TimezoneInfo};
use iceberg::spec::{PrimitiveType, Type};

use crate::error::{Error, ErrorKind, Result};

/// Precision and scale for `numeric` written without them. PostgreSQL's
/// numeric is unbounded; Iceberg's decimal is at most 38 digits.
pub const DEFAULT_NUMERIC: (u32, u32) = (38, 10);

/// The Iceberg type for a PostgreSQL type, and the name shown to users.
pub fn pg_to_iceberg(data_type: &DataType, column: &str) -> Result<(Type, String)> {
    use DataType as D;
    let primitive = |p: PrimitiveType, name: &str| Ok((Type::Primitive(p), name.to_string()));
    match data_type {
        D::SmallInt(_) | D::Int2(_) => primitive(PrimitiveType::Int, "smallint"),
        D::Int(_) | D::Integer(_) | D::Int4(_) => primitive(PrimitiveType::Int, "integer"),
        D::BigInt(_) | D::Int8(_) => primitive(PrimitiveType::Long, "bigint"),
        D::Real | D::Float4 => primitive(PrimitiveType::Float, "real"),
        D::DoublePrecision | D::Float8 | D::Double(_) => primitive(PrimitiveType::Double, "double precision"),
        D::Float(info) => match info {
            ExactNumberInfo::Precision(p) | ExactNumberInfo::PrecisionAndScale(p, _) if *p <= 24 => {
                primitive(PrimitiveType::Float, "real")
            }
            _ => primitive(PrimitiveType::Double, "double precision"),
        },
        D::Numeric(info) | D::Decimal(info) | D::Dec(info) => {
            let (precision, scale) = match info {
                ExactNumberInfo::None => DEFAULT_NUMERIC,
                ExactNumberInfo::Precision(p) => (*p as u32, 0),
                ExactNumberInfo::PrecisionAndScale(p, s) => (*p as u32, *s as u32),
            };
            if precision == 0 || precision > 38 || scale > precision {
                return Err(Error::new(
                    ErrorKind::Type,
                    format!("numeric({precision},{scale}) is out of range: precision must be 1..38 and scale at most the precision"),
                )
                .with_context("column", column));
            }
            primitive(
                PrimitiveType::Decimal { precision, scale },
                &format!("numeric({precision},{scale})"),
            )
        }
        D::Text | D::String(_) => primitive(PrimitiveType::String, "text"),
        D::Varchar(_) | D::CharacterVarying(_) | D::Char(_) | D::Character(_) | D::CharVarying(_) => {
            primitive(PrimitiveType::String, "varchar")
        }
        D::Boolean | D::Bool => primitive(PrimitiveType::Boolean, "boolean"),
        D::Date => primitive(PrimitiveType::Date, "date"),
        D::Timestamp(_, TimezoneInfo::Tz | TimezoneInfo::WithTimeZone) => {
            primitive(PrimitiveType::Timestamptz, "timestamptz")
        }
        D::Timestamp(_, _) => primitive(PrimitiveType::Timestamp, "timestamp"),
        D::Bytea => primitive(PrimitiveType::Binary, "bytea"),
        D::JSONB | D::JSON => primitive(PrimitiveType::String, "jsonb"),
        D::Custom(name, _) => {
            let name = name.to_string().to_lowercase();
            match name.as_str() {
                "timestamptz" => primitive(PrimitiveType::Timestamptz, "timestamptz"),
                "jsonb" | "json" => primitive(PrimitiveType::String, "jsonb"),
                "int2" => primitive(PrimitiveType::Int, "smallint"),
                _ => Err(unsupported(&name, column)),
            }
        }
        other => Err(unsupported(&other.to_string(), column)),
    }
}

fn unsupported(type_name: &str, column: &str) -> Error {
    Error::new(ErrorKind::Type, format!("type \"{type_name}\" is not supported")).with_context("column", column)
}

/// The Iceberg type for an Arrow type produced by a query (CREATE TABLE AS).
pub fn arrow_to_iceberg(data_type: &ArrowType, column: &str) -> Result<(Type, String)> {
    use arrow::datatypes::TimeUnit;
    let primitive = |p: PrimitiveType, name: &str| Ok((Type::Primitive(p), name.to_string()));
    match data_type {
        ArrowType::Int8 | ArrowType::Int16 | ArrowType::UInt8 => primitive(PrimitiveType::Int, "smallint"),
        ArrowType::Int32 | ArrowType::UInt16 => primitive(PrimitiveType::Int, "integer"),
        ArrowType::Int64 | ArrowType::UInt32 => primitive(PrimitiveType::Long, "bigint"),
        ArrowType::Float16 | ArrowType::Float32 => primitive(PrimitiveType::Float, "real"),
        ArrowType::Float64 => primitive(PrimitiveType::Double, "double precision"),
        ArrowType::Decimal128(p, s) if *s >= 0 => primitive(
            PrimitiveType::Decimal {
                precision: *p as u32,
                scale: *s as u32,
            },
            &format!("numeric({p},{s})"),
        ),
        ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View => primitive(PrimitiveType::String, "text"),
        ArrowType::Binary | ArrowType::LargeBinary | ArrowType::BinaryView => primitive(PrimitiveType::Binary, "bytea"),
        ArrowType::Boolean => primitive(PrimitiveType::Boolean, "boolean"),
        ArrowType::Date32 | ArrowType::Date64 => primitive(PrimitiveType::Date, "date"),
        ArrowType::Timestamp(_, Some(_)) => primitive(PrimitiveType::Timestamptz, "timestamptz"),
        ArrowType::Timestamp(
            TimeUnit::Second | TimeUnit::Millisecond | TimeUnit::Microsecond | TimeUnit::Nanosecond,
            None,
        ) => primitive(PrimitiveType::Timestamp, "timestamp"),
        ArrowType::Null => Err(Error::new(
            ErrorKind::Type,
            "cannot infer a column type from NULL: cast it, e.g. NULL::text",
        )
        .with_context("column", column)),
        other => Err(unsupported(&other.to_string(), column)),
    }
}
