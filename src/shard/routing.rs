//! Which shard owns a row: `sharding = {key, count, algorithm}`.
//!
//! - `consistent` (the default): jump consistent hashing (Lamping and Veach,
//!   2014) of the key's hash. Going from `n` to `n + 1` shards moves about
//!   `1/(n + 1)` of the keys, all of them to the new shard.
//! - `hash`: the key's hash modulo the count. Even, but a new shard moves
//!   almost every key.
//! - `range`: `count - 1` ascending bounds; shard `i` holds keys in
//!   `[bounds[i-1], bounds[i])`. For keys with a natural order (tenant
//!   numbers, dates) where neighbours should stay together.
//!
//! Routing must give the same answer in every process that ever routes a
//! key, native or wasm32, today or after an upgrade: the key hash is
//! computed from a canonical encoding of the value (every integer type as
//! its i64, text as UTF-8 bytes), with a fixed hash function, never
//! `std::hash`, whose output may change between Rust releases.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use datafusion::common::ScalarValue;
use std::collections::HashMap;

use crate::error::{Error, ErrorKind, Result};

/// Table property: the shard key column.
pub const SHARD_KEY: &str = "thermocline.shard.key";
/// Table property: how many shards.
pub const SHARD_COUNT: &str = "thermocline.shard.count";
/// Table property: `consistent`, `hash` or `range`.
pub const SHARD_ALGORITHM: &str = "thermocline.shard.algorithm";
/// Table property: range bounds, comma-separated (`range` only).
pub const SHARD_BOUNDS: &str = "thermocline.shard.bounds";

/// Most shards a table may have.
pub const MAX_SHARDS: u32 = 4096;

/// The name of shard `index`: its hot tier file (`hot/<name>.db`), its
/// watermark key in Iceberg, its Durable Object name.
pub fn shard_name(index: u32) -> String {
    format!("shard-{index}")
}

/// Whether `name` is one of [`shard_name`]'s: a shard of sharded tables
/// (rather than a process's home shard).
pub fn is_shard_name(name: &str) -> bool {
    name.strip_prefix("shard-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// How a key picks its shard.
#[derive(Debug, Clone, PartialEq)]
pub enum Algorithm {
    Consistent,
    Hash,
    /// `count - 1` ascending bounds.
    Range(Vec<Bound>),
}

/// A range bound, compared with keys of the same family.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bound {
    Integer(i64),
    Text(String),
}

/// A table's sharding.
#[derive(Debug, Clone, PartialEq)]
pub struct Sharding {
    /// The shard key column.
    pub key: String,
    pub count: u32,
    pub algorithm: Algorithm,
}

/// A shard key value in its canonical form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum KeyValue<'a> {
    Integer(i64),
    Text(&'a [u8]),
    Wide(i128),
}

impl Sharding {
    /// Read the sharding from table properties; `None` for an unsharded table.
    pub fn from_properties(properties: &HashMap<String, String>) -> Result<Option<Self>> {
        let Some(key) = properties.get(SHARD_KEY) else {
            return Ok(None);
        };
        let count = properties.get(SHARD_COUNT).map(String::as_str).unwrap_or("1");
        let algorithm = properties
            .get(SHARD_ALGORITHM)
            .map(String::as_str)
            .unwrap_or("consistent");
        let bounds = properties.get(SHARD_BOUNDS).map(String::as_str);
        Self::parse(key, count, algorithm, bounds).map(Some)
    }

    /// Build from the user's words (`WITH (shard_key = ..., shards = ...,
    /// sharding = ..., shard_bounds = ...)` or a config file), checking each.
    pub fn parse(key: &str, count: &str, algorithm: &str, bounds: Option<&str>) -> Result<Self> {
        let bad = |message: String| Error::new(ErrorKind::Config, message);
        if key.is_empty() {
            return Err(bad("the shard key must name a column".into()));
        }
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| bad(format!("shard count {count:?} is not a whole number")))?;
        if count == 0 || count > MAX_SHARDS {
            return Err(bad(format!(
                "shard count must be between 1 and {MAX_SHARDS}, not {count}"
            )));
        }
        let algorithm = match algorithm.trim().to_ascii_lowercase().as_str() {
            "consistent" => Algorithm::Consistent,
            "hash" => Algorithm::Hash,
            "range" => {
                let text = bounds.ok_or_else(|| {
                    bad(format!(
                        "range sharding over {count} shards needs {} shard_bounds, e.g. shard_bounds = '100,200'",
                        count - 1
                    ))
                })?;
                let bounds = parse_bounds(text)?;
                if bounds.len() != count as usize - 1 {
                    return Err(bad(format!(
                        "range sharding over {count} shards needs {} bounds, not {}",
                        count - 1,
                        bounds.len()
                    )));
                }
                if bounds.windows(2).any(|w| w[0] >= w[1]) {
                    return Err(bad(format!("shard bounds must ascend strictly: {text}")));
                }
                Algorithm::Range(bounds)
            }
            other => {
                return Err(bad(format!(
                    "unknown sharding algorithm {other:?}: use consistent, hash or range"
                )));
            }
        };
        Ok(Self {
            key: key.to_string(),
            count,
            algorithm,
        })
    }

    /// The table properties that record this sharding.
    pub fn to_properties(&self) -> Vec<(String, String)> {
        let mut out = vec![
            (SHARD_KEY.to_string(), self.key.clone()),
            (SHARD_COUNT.to_string(), self.count.to_string()),
        ];
        let (name, bounds) = match &self.algorithm {
            Algorithm::Consistent => ("consistent", None),
            Algorithm::Hash => ("hash", None),
            Algorithm::Range(bounds) => ("range", Some(bounds)),
        };
        out.push((SHARD_ALGORITHM.to_string(), name.to_string()));
        if let Some(bounds) = bounds {
            let text: Vec<String> = bounds
                .iter()
                .map(|b| match b {
                    Bound::Integer(i) => i.to_string(),
                    Bound::Text(t) => t.clone(),
                })
                .collect();
            out.push((SHARD_BOUNDS.to_string(), text.join(",")));
        }
        out
    }

    /// Every shard's name, in index order.
    pub fn shard_names(&self) -> Vec<String> {
        (0..self.count).map(shard_name).collect()
    }

    /// Refuse key column types that cannot route: floats (equality is not
    /// what users mean), nested types; range sharding also needs the bounds
    /// to be of the key's family.
    pub fn check_key_type(&self, data_type: &DataType) -> Result<()> {
        let family = family(data_type).ok_or_else(|| {
            Error::new(
                ErrorKind::Type,
                format!(
                    "shard key \"{}\" is of type {data_type}: use an integer, text, date, timestamp or decimal column",
                    self.key
                ),
            )
        })?;
        if let Algorithm::Range(bounds) = &self.algorithm {
            let integers = matches!(family, Family::Integer);
            let text = matches!(family, Family::Text);
            let fits = bounds.iter().all(|b| match b {
                Bound::Integer(_) => integers,
                Bound::Text(_) => text,
            });
            if !fits {
                return Err(Error::new(
                    ErrorKind::Type,
                    format!(
                        "range shard bounds must be {} like the shard key \"{}\" ({data_type})",
                        if integers { "integers" } else { "text" },
                        self.key
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The shard of each row of `column` (the shard key's values). A NULL
    /// key is an error naming the table and the row.
    pub fn route(&self, table: &str, column: &ArrayRef) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(column.len());
        for row in 0..column.len() {
            if column.is_null(row) {
                return Err(self.missing_key(table).with_context("row", row + 1));
            }
            let value = key_value(column.as_ref(), row).ok_or_else(|| self.unroutable(table, column.data_type()))?;
            out.push(self.owner(&value));
        }
        Ok(out)
    }

    /// The shard owning one key value (a literal from a filter). `None`
    /// when the value cannot be a key of this table (NULL, a float).
    pub fn owner_of(&self, value: &ScalarValue) -> Option<u32> {
        if value.is_null() {
            return None;
        }
        let array = value.to_array().ok()?;
        key_value(array.as_ref(), 0).map(|v| self.owner(&v))
    }

    /// The error for a row without its shard key.
    pub fn missing_key(&self, table: &str) -> Error {
        Error::new(
            ErrorKind::Constraint,
            format!(
                "row has no value for shard key \"{}\" of table \"{table}\": every row of a sharded table needs its shard key",
                self.key
            ),
        )
        .with_context("table", table)
        .with_context("column", &self.key)
    }

    fn unroutable(&self, table: &str, data_type: &DataType) -> Error {
        Error::new(
            ErrorKind::Type,
            format!("shard key \"{}\" of type {data_type} cannot route rows", self.key),
        )
        .with_context("table", table)
    }

    fn owner(&self, value: &KeyValue<'_>) -> u32 {
        match &self.algorithm {
            Algorithm::Consistent => jump_hash(hash(value), self.count),
            Algorithm::Hash => (hash(value) % u64::from(self.count)) as u32,
            Algorithm::Range(bounds) => {
                let above = bounds.partition_point(|b| match (b, value) {
                    (Bound::Integer(b), KeyValue::Integer(v)) => b <= v,
                    (Bound::Text(b), KeyValue::Text(v)) => b.as_bytes() <= *v,
                    // Checked at CREATE TABLE; a mismatch cannot reach here,
                    // but keep it deterministic anyway.
                    _ => false,
                });
                above as u32
            }
        }
    }
}

fn parse_bounds(text: &str) -> Result<Vec<Bound>> {
    let parts: Vec<&str> = text.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    let integers: Option<Vec<i64>> = parts.iter().map(|p| p.parse().ok()).collect();
    Ok(match integers {
        Some(ints) => ints.into_iter().map(Bound::Integer).collect(),
        None => parts.into_iter().map(|p| Bound::Text(p.to_string())).collect(),
    })
}

enum Family {
    Integer,
    Text,
    Wide,
}

fn family(data_type: &DataType) -> Option<Family> {
    match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(_, _) => Some(Family::Integer),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Binary | DataType::LargeBinary => {
            Some(Family::Text)
        }
        DataType::Decimal128(_, _) => Some(Family::Wide),
        _ => None,
    }
}

/// Row `row` of `array` in canonical form: every integer type as its i64
/// (so an `int` key and a `bigint` literal route alike), dates as days,
/// timestamps as their raw value, text and bytes as bytes.
fn key_value(array: &dyn Array, row: usize) -> Option<KeyValue<'_>> {
    Some(match array.data_type() {
        DataType::Int8 => KeyValue::Integer(array.as_primitive::<Int8Type>().value(row).into()),
        DataType::Int16 => KeyValue::Integer(array.as_primitive::<Int16Type>().value(row).into()),
        DataType::Int32 => KeyValue::Integer(array.as_primitive::<Int32Type>().value(row).into()),
        DataType::Int64 => KeyValue::Integer(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => KeyValue::Integer(array.as_primitive::<UInt8Type>().value(row).into()),
        DataType::UInt16 => KeyValue::Integer(array.as_primitive::<UInt16Type>().value(row).into()),
        DataType::UInt32 => KeyValue::Integer(array.as_primitive::<UInt32Type>().value(row).into()),
        DataType::UInt64 => KeyValue::Integer(array.as_primitive::<UInt64Type>().value(row) as i64),
        DataType::Date32 => KeyValue::Integer(array.as_primitive::<Date32Type>().value(row).into()),
        DataType::Date64 => KeyValue::Integer(array.as_primitive::<Date64Type>().value(row) / 86_400_000),
        DataType::Timestamp(_, _) => {
            let cast = arrow::compute::cast(&array.slice(row, 1), &DataType::Int64).ok()?;
            KeyValue::Integer(cast.as_primitive::<Int64Type>().value(0))
        }
        DataType::Utf8 => KeyValue::Text(array.as_string::<i32>().value(row).as_bytes()),
        DataType::LargeUtf8 => KeyValue::Text(array.as_string::<i64>().value(row).as_bytes()),
        DataType::Utf8View => KeyValue::Text(array.as_string_view().value(row).as_bytes()),
        DataType::Binary => KeyValue::Text(array.as_binary::<i32>().value(row)),
        DataType::LargeBinary => KeyValue::Text(array.as_binary::<i64>().value(row)),
        DataType::Decimal128(_, _) => KeyValue::Wide(array.as_primitive::<Decimal128Type>().value(row)),
        _ => return None,
    })
}

/// FNV-1a over the canonical bytes (with a type tag, so the integer 1 and
/// the text "1" differ), finished with SplitMix64's mixer so that nearby
/// keys spread over the whole 64-bit range.
fn hash(value: &KeyValue<'_>) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(PRIME);
        }
    };
    match value {
        KeyValue::Integer(i) => {
            feed(b"i");
            feed(&i.to_le_bytes());
        }
        KeyValue::Text(bytes) => {
            feed(b"t");
            feed(bytes);
        }
        KeyValue::Wide(i) => {
            feed(b"w");
            feed(&i.to_le_bytes());
        }
    }
    let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Jump consistent hash: the bucket in `0..buckets` of `key`. Integer and
/// IEEE-754 double arithmetic only, so every platform agrees.
fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    let buckets = i64::from(buckets.max(1));
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    while j < buckets {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int32Array, Int64Array, StringArray};

    use super::*;

    fn spec(count: u32, algorithm: &str, bounds: Option<&str>) -> Sharding {
        Sharding::parse("k", &count.to_string(), algorithm, bounds).expect("valid sharding")
    }

    fn route_ints(sharding: &Sharding, keys: impl IntoIterator<Item = i64>) -> Vec<u32> {
        let column: ArrayRef = Arc::new(Int64Array::from_iter_values(keys));
        sharding.route("t", &column).expect("routes")
    }

    #[test]
    fn consistent_moves_about_one_in_n_plus_one_keys_all_to_the_new_shard() {
        for n in [1u32, 4, 10, 99] {
            let before = route_ints(&spec(n, "consistent", None), 0..100_000);
            let after = route_ints(&spec(n + 1, "consistent", None), 0..100_000);
            let mut moved = 0;
            for (b, a) in before.iter().zip(&after) {
                if b != a {
                    moved += 1;
                    assert_eq!(*a, n, "a moved key goes to the new shard only");
                }
            }
            let expected = 100_000.0 / f64::from(n + 1);
            let ratio = f64::from(moved) / expected;
            assert!(
                (0.9..1.1).contains(&ratio),
                "n={n}: moved {moved}, expected about {expected}"
            );
        }
    }

    #[test]
    fn hash_moves_most_keys_and_both_spread_evenly() {
        let before = route_ints(&spec(10, "hash", None), 0..100_000);
        let after = route_ints(&spec(11, "hash", None), 0..100_000);
        let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
        assert!(moved > 80_000, "modulo hashing reshuffles: {moved}");
        for algorithm in ["hash", "consistent"] {
            let mut counts = [0u32; 16];
            for shard in route_ints(&spec(16, algorithm, None), 0..160_000) {
                counts[shard as usize] += 1;
            }
            for c in counts {
                assert!((9_000..11_000).contains(&c), "{algorithm}: uneven spread {counts:?}");
            }
        }
    }

    #[test]
    fn integer_widths_and_literals_route_alike() {
        let sharding = spec(7, "consistent", None);
        let narrow: ArrayRef = Arc::new(Int32Array::from(vec![5, -3, 1_000_000]));
        let wide = route_ints(&sharding, [5, -3, 1_000_000]);
        assert_eq!(sharding.route("t", &narrow).expect("routes"), wide);
        assert_eq!(sharding.owner_of(&ScalarValue::Int16(Some(5))), Some(wide[0]));
        assert_eq!(sharding.owner_of(&ScalarValue::Int64(None)), None);
        let text: ArrayRef = Arc::new(StringArray::from(vec!["acme", "globex"]));
        let shards = sharding.route("t", &text).expect("routes");
        assert_eq!(sharding.owner_of(&ScalarValue::from("acme")), Some(shards[0]));
    }

    #[test]
    fn routing_is_stable_across_releases() {
        // Pinned: a change here would send existing keys to other shards.
        let sharding = spec(16, "consistent", None);
        assert_eq!(route_ints(&sharding, [0, 1, 2, 42, 1 << 40]), vec![11, 3, 7, 5, 14]);
        assert_eq!(sharding.owner_of(&ScalarValue::from("tenant-7")), Some(10));
    }

    #[test]
    fn range_bounds_split_keys_in_order() {
        let sharding = spec(3, "range", Some("100, 200"));
        assert_eq!(
            route_ints(&sharding, [-5, 99, 100, 199, 200, 10_000]),
            vec![0, 0, 1, 1, 2, 2]
        );
        let text = spec(2, "range", Some("m"));
        assert_eq!(text.owner_of(&ScalarValue::from("apple")), Some(0));
        assert_eq!(text.owner_of(&ScalarValue::from("zebra")), Some(1));
        assert!(text.check_key_type(&DataType::Int64).is_err());
        assert!(sharding.check_key_type(&DataType::Int32).is_ok());
    }

    #[test]
    fn bad_specs_and_null_keys_say_what_is_wrong() {
        let err = |r: Result<Sharding>| r.expect_err("refused").message().to_string();
        assert!(err(Sharding::parse("k", "0", "hash", None)).contains("between 1 and"));
        assert!(err(Sharding::parse("k", "x", "hash", None)).contains("not a whole number"));
        assert!(err(Sharding::parse("k", "3", "modulo", None)).contains("unknown sharding algorithm"));
        assert!(err(Sharding::parse("k", "3", "range", None)).contains("needs 2 shard_bounds"));
        assert!(err(Sharding::parse("k", "3", "range", Some("5,1"))).contains("ascend"));
        assert!(err(Sharding::parse("k", "3", "range", Some("5"))).contains("needs 2 bounds, not 1"));
        let sharding = spec(4, "consistent", None);
        assert!(sharding.check_key_type(&DataType::Float64).is_err());
        let column: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None]));
        let e = sharding.route("events", &column).expect_err("null key");
        assert!(
            e.message().contains("no value for shard key \"k\" of table \"events\""),
            "{e}"
        );
    }

    #[test]
    fn shard_names_are_told_from_home_shards() {
        assert!(is_shard_name(&shard_name(0)) && is_shard_name(&shard_name(4095)));
        for home in ["local", "shard-", "shard-a", "shard-1x", "a"] {
            assert!(!is_shard_name(home), "{home}");
        }
    }

    #[test]
    fn properties_round_trip() {
        let sharding = spec(3, "range", Some("10,20"));
        let props: HashMap<String, String> = sharding.to_properties().into_iter().collect();
        assert_eq!(Sharding::from_properties(&props).expect("parses"), Some(sharding));
        assert_eq!(Sharding::from_properties(&HashMap::new()).expect("parses"), None);
    }
}
