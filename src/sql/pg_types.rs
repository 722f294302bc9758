//! The PostgreSQL type a client sees for each Arrow type: its OID, name,
//! length and type modifier, shared by the wire protocol (RowDescription,
//! ParameterDescription) and the `pg_catalog` emulation (`pg_type`,
//! `pg_attribute.atttypid`), so the two always agree.

use arrow::datatypes::{DataType, Field, TimeUnit};

/// Field metadata key naming a column's PostgreSQL type where the Arrow
/// type alone is ambiguous (`jsonb` is Utf8 in Arrow).
pub const PG_TYPE_KEY: &str = "thermocline.pg_type";

/// The OID of `vector` (pgvector's type). pgvector's OID is assigned when
/// the extension is created, so clients look it up by name in `pg_type`;
/// ours is fixed, in the range PostgreSQL gives to user types.
pub const VECTOR_OID: u32 = 16_385;
/// `_vector`, the array of vectors.
pub const VECTOR_ARRAY_OID: u32 = 16_390;

/// One PostgreSQL type as a client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgType {
    pub oid: u32,
    /// `pg_type.typname`: `int4`, `timestamptz`, `vector`.
    pub name: &'static str,
    /// `pg_type.typlen`: bytes, or -1 for variable length.
    pub len: i16,
    /// The type modifier (`numeric(10,2)` → ((10 << 16) | 2) + 4), -1 for none.
    pub typmod: i32,
}

impl PgType {
    const fn of(oid: u32, name: &'static str, len: i16) -> Self {
        Self {
            oid,
            name,
            len,
            typmod: -1,
        }
    }

    pub const BOOL: PgType = PgType::of(16, "bool", 1);
    pub const BYTEA: PgType = PgType::of(17, "bytea", -1);
    pub const INT8: PgType = PgType::of(20, "int8", 8);
    pub const INT2: PgType = PgType::of(21, "int2", 2);
    pub const INT4: PgType = PgType::of(23, "int4", 4);
    pub const TEXT: PgType = PgType::of(25, "text", -1);
    pub const OID: PgType = PgType::of(26, "oid", 4);
    pub const JSON: PgType = PgType::of(114, "json", -1);
    pub const FLOAT4: PgType = PgType::of(700, "float4", 4);
    pub const FLOAT8: PgType = PgType::of(701, "float8", 8);
    pub const UNKNOWN: PgType = PgType::of(705, "unknown", -2);
    pub const VARCHAR: PgType = PgType::of(1043, "varchar", -1);
    pub const DATE: PgType = PgType::of(1082, "date", 4);
    pub const TIME: PgType = PgType::of(1083, "time", 8);
    pub const TIMESTAMP: PgType = PgType::of(1114, "timestamp", 8);
    pub const TIMESTAMPTZ: PgType = PgType::of(1184, "timestamptz", 8);
    pub const INTERVAL: PgType = PgType::of(1186, "interval", 16);
    pub const NUMERIC: PgType = PgType::of(1700, "numeric", -1);
    pub const UUID: PgType = PgType::of(2950, "uuid", 16);
    pub const JSONB: PgType = PgType::of(3802, "jsonb", -1);
    pub const VECTOR: PgType = PgType::of(VECTOR_OID, "vector", -1);

    pub const BOOL_ARRAY: PgType = PgType::of(1000, "_bool", -1);
    pub const BYTEA_ARRAY: PgType = PgType::of(1001, "_bytea", -1);
    pub const INT2_ARRAY: PgType = PgType::of(1005, "_int2", -1);
    pub const INT4_ARRAY: PgType = PgType::of(1007, "_int4", -1);
    pub const TEXT_ARRAY: PgType = PgType::of(1009, "_text", -1);
    pub const INT8_ARRAY: PgType = PgType::of(1016, "_int8", -1);
    pub const FLOAT4_ARRAY: PgType = PgType::of(1021, "_float4", -1);
    pub const FLOAT8_ARRAY: PgType = PgType::of(1022, "_float8", -1);
    pub const TIMESTAMP_ARRAY: PgType = PgType::of(1115, "_timestamp", -1);
    pub const DATE_ARRAY: PgType = PgType::of(1182, "_date", -1);
    pub const TIMESTAMPTZ_ARRAY: PgType = PgType::of(1185, "_timestamptz", -1);
    pub const NUMERIC_ARRAY: PgType = PgType::of(1231, "_numeric", -1);
    pub const JSONB_ARRAY: PgType = PgType::of(3807, "_jsonb", -1);

    /// Every type above: `pg_type`'s rows.
    pub const ALL: &'static [PgType] = &[
        Self::BOOL,
        Self::BYTEA,
        Self::INT8,
        Self::INT2,
        Self::INT4,
        Self::TEXT,
        Self::OID,
        Self::JSON,
        Self::FLOAT4,
        Self::FLOAT8,
        Self::UNKNOWN,
        Self::VARCHAR,
        Self::DATE,
        Self::TIME,
        Self::TIMESTAMP,
        Self::TIMESTAMPTZ,
        Self::INTERVAL,
        Self::NUMERIC,
        Self::UUID,
        Self::JSONB,
        Self::VECTOR,
        Self::BOOL_ARRAY,
        Self::BYTEA_ARRAY,
        Self::INT2_ARRAY,
        Self::INT4_ARRAY,
        Self::TEXT_ARRAY,
        Self::INT8_ARRAY,
        Self::FLOAT4_ARRAY,
        Self::FLOAT8_ARRAY,
        Self::TIMESTAMP_ARRAY,
        Self::DATE_ARRAY,
        Self::TIMESTAMPTZ_ARRAY,
        Self::NUMERIC_ARRAY,
        Self::JSONB_ARRAY,
    ];

    /// The array type whose elements are `self` (`None` for types without one).
    pub fn array(self) -> Option<PgType> {
        Some(match self.oid {
            16 => Self::BOOL_ARRAY,
            17 => Self::BYTEA_ARRAY,
            21 => Self::INT2_ARRAY,
            23 => Self::INT4_ARRAY,
            25 | 1043 => Self::TEXT_ARRAY,
            20 => Self::INT8_ARRAY,
            700 => Self::FLOAT4_ARRAY,
            701 => Self::FLOAT8_ARRAY,
            1114 => Self::TIMESTAMP_ARRAY,
            1082 => Self::DATE_ARRAY,
            1184 => Self::TIMESTAMPTZ_ARRAY,
            1700 => Self::NUMERIC_ARRAY,
            3802 => Self::JSONB_ARRAY,
            VECTOR_OID => PgType::of(VECTOR_ARRAY_OID, "_vector", -1),
            _ => return None,
        })
    }

    /// The element type of an array type.
    pub fn element(self) -> Option<PgType> {
        Self::ALL
            .iter()
            .copied()
            .chain([Self::VECTOR])
            .find(|t| t.array().is_some_and(|a| a.oid == self.oid))
    }

    pub fn by_oid(oid: u32) -> Option<PgType> {
        if oid == VECTOR_ARRAY_OID {
            return Self::VECTOR.array();
        }
        Self::ALL.iter().copied().find(|t| t.oid == oid)
    }

    /// `format_type()`'s spelling: `integer`, `numeric(10,2)`, `timestamp with time zone`.
    pub fn display_name(self) -> String {
        let base = match self.oid {
            16 => "boolean",
            20 => "bigint",
            21 => "smallint",
            23 => "integer",
            700 => "real",
            701 => "double precision",
            1043 => "character varying",
            1083 => "time without time zone",
            1114 => "timestamp without time zone",
            1184 => "timestamp with time zone",
            _ => self.name,
        };
        if self.oid == 1700 && self.typmod >= 4 {
            let m = self.typmod - 4;
            return format!("numeric({},{})", m >> 16, m & 0xffff);
        }
        match self.element() {
            Some(element) => format!("{}[]", element.display_name()),
            None => base.to_string(),
        }
    }
}

/// The PostgreSQL type of a result or table column.
pub fn for_field(field: &Field) -> PgType {
    if let Some(name) = field.metadata().get(PG_TYPE_KEY) {
        match name.as_str() {
            "jsonb" => return PgType::JSONB,
            "json" => return PgType::JSON,
            "varchar" => return PgType::VARCHAR,
            "smallint" => return PgType::INT2,
            "uuid" => return PgType::UUID,
            _ => {}
        }
    }
    if field.extension_type_name() == Some("arrow.json") {
        return PgType::JSONB;
    }
    for_data_type(field.data_type())
}

/// The PostgreSQL type for an Arrow type (Utf8 is `text`).
pub fn for_data_type(data_type: &DataType) -> PgType {
    use DataType as D;
    match data_type {
        D::Boolean => PgType::BOOL,
        D::Int8 | D::Int16 | D::UInt8 => PgType::INT2,
        D::Int32 | D::UInt16 => PgType::INT4,
        D::Int64 | D::UInt32 => PgType::INT8,
        D::UInt64 => PgType::NUMERIC,
        D::Float16 | D::Float32 => PgType::FLOAT4,
        D::Float64 => PgType::FLOAT8,
        D::Decimal32(p, s) | D::Decimal64(p, s) | D::Decimal128(p, s) | D::Decimal256(p, s) => PgType {
            typmod: ((i32::from(*p) << 16) | i32::from(*s as u8)) + 4,
            ..PgType::NUMERIC
        },
        D::Utf8 | D::LargeUtf8 | D::Utf8View => PgType::TEXT,
        D::Binary | D::LargeBinary | D::BinaryView | D::FixedSizeBinary(_) => PgType::BYTEA,
        D::Date32 | D::Date64 => PgType::DATE,
        D::Time32(_) | D::Time64(_) => PgType::TIME,
        D::Timestamp(_, None) => PgType::TIMESTAMP,
        D::Timestamp(_, Some(_)) => PgType::TIMESTAMPTZ,
        D::Interval(_) | D::Duration(_) => PgType::INTERVAL,
        D::FixedSizeList(item, _) if matches!(item.data_type(), D::Float32 | D::Float16 | D::Float64) => PgType::VECTOR,
        D::List(item) | D::LargeList(item) | D::ListView(item) | D::FixedSizeList(item, _) => {
            for_field(item).array().unwrap_or(PgType::TEXT_ARRAY)
        }
        D::Struct(_) | D::Map(_, _) => PgType::JSONB,
        D::Dictionary(_, value) => for_data_type(value),
        _ => PgType::TEXT,
    }
}

/// The Arrow type a parameter of PostgreSQL type `oid` is decoded into
/// (`None`: unknown, let the planner decide).
pub fn arrow_type(oid: u32) -> Option<DataType> {
    Some(match oid {
        16 => DataType::Boolean,
        17 => DataType::Binary,
        20 => DataType::Int64,
        21 => DataType::Int16,
        23 | 26 => DataType::Int32,
        25 | 1043 | 114 | 3802 | 2950 | 1042 | 19 => DataType::Utf8,
        700 => DataType::Float32,
        701 => DataType::Float64,
        1082 => DataType::Date32,
        1083 => DataType::Time64(TimeUnit::Microsecond),
        1114 => DataType::Timestamp(TimeUnit::Microsecond, None),
        1184 => DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
        1700 => DataType::Decimal128(38, 10),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_carries_precision_and_scale() {
        let t = for_data_type(&DataType::Decimal128(10, 2));
        assert_eq!(t.oid, 1700);
        assert_eq!(t.display_name(), "numeric(10,2)");
    }

    #[test]
    fn arrays_and_vectors() {
        let ints = DataType::List(std::sync::Arc::new(Field::new("item", DataType::Int32, true)));
        assert_eq!(for_data_type(&ints), PgType::INT4_ARRAY);
        assert_eq!(PgType::INT4_ARRAY.display_name(), "integer[]");
        let vector = DataType::FixedSizeList(std::sync::Arc::new(Field::new("item", DataType::Float32, true)), 3);
        assert_eq!(for_data_type(&vector).oid, VECTOR_OID);
        let jsonb = Field::new("j", DataType::Utf8, true)
            .with_metadata([(PG_TYPE_KEY.to_string(), "jsonb".to_string())].into());
        assert_eq!(for_field(&jsonb), PgType::JSONB);
    }
}
