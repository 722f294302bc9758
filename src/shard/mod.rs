//! Shards: one hot tier per shard (per tenant group; in production, one
//! Durable Object each), all compacting into one Iceberg table per logical
//! table.
//!
//! - [`routing`]: which shard owns a row (`sharding = {key, count,
//!   algorithm}`), the same answer in every process.
//! - [`shards_for_filters`]: which shards a query must read, when its
//!   filter fixes the shard key.
//!
//! A table is sharded by its properties ([`routing::SHARD_KEY`] and
//! friends), set by `CREATE TABLE ... WITH (shard_key = 'tenant', shards =
//! 16)` or by the warehouse's default sharding. Each shard writes its own
//! WAL with its own lsns and records its own watermark in the Iceberg
//! commits that compact it (`thermocline.watermark.shard-3`); a read is the
//! snapshot plus, for each shard, its rows above its watermark.

pub mod pushdown;
pub mod remote;
pub mod routing;

use std::collections::BTreeSet;

use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

pub use routing::{Algorithm, Sharding, shard_name};

/// The shards a scan with `filters` (a conjunction) must read: `None` for
/// all of them, or the owners of the key values the filters allow when one
/// of them fixes the shard key (`key = v`, `v = key`, `key IN (...)`,
/// `key = a OR key = b`). Each value is first cast to the key column's type
/// `key_type`, as the rows were routed; a value that does not cast leaves
/// the shards unpruned.
pub fn shards_for_filters(sharding: &Sharding, key_type: &DataType, filters: &[Expr]) -> Option<BTreeSet<u32>> {
    let mut chosen: Option<BTreeSet<u32>> = None;
    for filter in filters {
        for conjunct in datafusion::logical_expr::utils::split_conjunction(filter) {
            if let Some(values) = key_values(&sharding.key, conjunct) {
                let mut owners = BTreeSet::new();
                for value in values {
                    if value.is_null() {
                        continue; // `key = NULL` matches nothing
                    }
                    match value.cast_to(key_type).ok().and_then(|v| sharding.owner_of(&v)) {
                        Some(owner) => {
                            owners.insert(owner);
                        }
                        None => return None,
                    }
                }
                chosen = Some(match chosen {
                    Some(previous) => previous.intersection(&owners).copied().collect(),
                    None => owners,
                });
            }
        }
    }
    chosen
}

/// The values `expr` allows for column `key`, when it allows only listed
/// values (NULL literals allow none).
fn key_values(key: &str, expr: &Expr) -> Option<Vec<ScalarValue>> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Eq,
            right,
        }) => match (is_key(key, left), is_key(key, right)) {
            (true, false) => literal(right).map(|v| vec![v]),
            (false, true) => literal(left).map(|v| vec![v]),
            _ => None,
        },
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Or,
            right,
        }) => {
            let mut values = key_values(key, left)?;
            values.extend(key_values(key, right)?);
            Some(values)
        }
        Expr::InList(list) if !list.negated && is_key(key, &list.expr) => {
            list.list.iter().map(literal).collect::<Option<Vec<_>>>()
        }
        _ => None,
    }
}

fn is_key(key: &str, expr: &Expr) -> bool {
    match expr {
        Expr::Column(c) => c.name == key,
        _ => false,
    }
}

fn literal(expr: &Expr) -> Option<ScalarValue> {
    match expr {
        Expr::Literal(value, _) => Some(value.clone()),
        Expr::Cast(cast) => literal(&cast.expr).and_then(|v| v.cast_to(cast.field.data_type()).ok()),
        Expr::TryCast(cast) => literal(&cast.expr).and_then(|v| v.cast_to(cast.field.data_type()).ok()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::{col, lit};

    use super::*;

    #[test]
    fn a_filter_that_fixes_the_key_picks_its_shards() {
        let sharding = Sharding::parse("tenant", "16", "consistent", None).expect("valid");
        let owner = |v: &str| sharding.owner_of(&ScalarValue::from(v)).expect("routes");
        let one = shards_for_filters(
            &sharding,
            &DataType::Utf8,
            &[col("tenant").eq(lit("acme")).and(col("x").gt(lit(3)))],
        );
        assert_eq!(one, Some(BTreeSet::from([owner("acme")])));
        let reversed = shards_for_filters(&sharding, &DataType::Utf8, &[lit("acme").eq(col("tenant"))]);
        assert_eq!(reversed, one);
        let list = shards_for_filters(
            &sharding,
            &DataType::Utf8,
            &[col("tenant").in_list(vec![lit("a"), lit("b")], false)],
        );
        assert_eq!(list, Some(BTreeSet::from([owner("a"), owner("b")])));
        let or = shards_for_filters(
            &sharding,
            &DataType::Utf8,
            &[col("tenant").eq(lit("a")).or(col("tenant").eq(lit("b")))],
        );
        assert_eq!(or, list);
        // Two conjuncts that cannot both hold: no shard at all.
        let none = shards_for_filters(
            &sharding,
            &DataType::Utf8,
            &[col("tenant").eq(lit("a")), col("tenant").eq(lit("zzz-other"))],
        );
        if owner("a") != owner("zzz-other") {
            assert_eq!(none, Some(BTreeSet::new()));
        }
        // Filters that do not fix the key read every shard.
        assert_eq!(
            shards_for_filters(&sharding, &DataType::Utf8, &[col("tenant").gt(lit("a"))]),
            None
        );
        assert_eq!(
            shards_for_filters(
                &sharding,
                &DataType::Utf8,
                &[col("tenant").eq(lit("a")).or(col("x").eq(lit(1)))]
            ),
            None
        );
        assert_eq!(
            shards_for_filters(
                &sharding,
                &DataType::Utf8,
                &[col("tenant").in_list(vec![lit("a")], true)]
            ),
            None
        );
        // Literals are routed as the column's type: an Int64 literal for an
        // Int32 key routes like the stored value, a text one for an integer
        // key is cast first.
        let ints = Sharding::parse("k", "16", "consistent", None).expect("valid");
        let owner = ints.owner_of(&ScalarValue::Int32(Some(7)));
        let by_text = shards_for_filters(&ints, &DataType::Int32, &[col("k").eq(lit("7"))]);
        assert_eq!(by_text, owner.map(|o| BTreeSet::from([o])));
        let by_float = shards_for_filters(&ints, &DataType::Int32, &[col("k").eq(lit("x"))]);
        assert_eq!(by_float, None, "an uncastable value prunes nothing");
    }
}
