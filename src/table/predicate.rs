//! DataFusion filters → an Iceberg predicate, so the iceberg crate can prune
//! partitions, manifests and files by column metrics before any file is
//! opened.
//!
//! Pruning is an optimisation: every filter still runs above the scan
//! (pushdown is `Inexact`). A conjunct we cannot translate is dropped from
//! the Iceberg predicate, never approximated, so pruning can only be
//! conservative.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Like, Operator};
use iceberg::expr::{Predicate, Reference};
use iceberg::spec::{Datum, PrimitiveType, Schema, Type};

/// The Iceberg predicate for the conjunction of `filters`, if any part of it
/// can be translated.
pub fn to_iceberg(filters: &[Expr], schema: &Schema) -> Option<Predicate> {
    filters
        .iter()
        .filter_map(|f| translate(f, schema))
        .reduce(Predicate::and)
}

fn translate(expr: &Expr, schema: &Schema) -> Option<Predicate> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => match (translate(left, schema), translate(right, schema)) {
                (Some(l), Some(r)) => Some(l.and(r)),
                // Dropping one side of an AND only widens the predicate.
                (Some(p), None) | (None, Some(p)) => Some(p),
                (None, None) => None,
            },
            Operator::Or => Some(translate(left, schema)?.or(translate(right, schema)?)),
            _ => comparison(left, *op, right, schema),
        },
        Expr::Not(inner) => {
            // NOT over a widened predicate would narrow it: only translate
            // when the inner predicate is exact, i.e. a single comparison.
            match inner.as_ref() {
                Expr::BinaryExpr(BinaryExpr { op, .. }) if !matches!(op, Operator::And | Operator::Or) => {
                    Some(translate(inner, schema)?.negate())
                }
                _ => None,
            }
        }
        Expr::IsNull(inner) => Some(Reference::new(column(inner, schema)?.0).is_null()),
        Expr::IsNotNull(inner) => Some(Reference::new(column(inner, schema)?.0).is_not_null()),
        Expr::InList(list) => {
            let (name, ty) = column(&list.expr, schema)?;
            let values: Option<Vec<Datum>> = list.list.iter().map(|e| literal(e, &ty)).collect();
            let reference = Reference::new(name);
            Some(if list.negated {
                reference.is_not_in(values?)
            } else {
                reference.is_in(values?)
            })
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) => {
            let (name, ty) = column(expr, schema)?;
            let low = literal(low, &ty)?;
            let high = literal(high, &ty)?;
            Some(
                Reference::new(name.clone())
                    .greater_than_or_equal_to(low)
                    .and(Reference::new(name).less_than_or_equal_to(high)),
            )
        }
        Expr::Like(Like {
            negated: false,
            expr,
            pattern,
            escape_char: None,
            case_insensitive: false,
        }) => {
            let (name, ty) = column(expr, schema)?;
            if ty != PrimitiveType::String {
                return None;
            }
            let Expr::Literal(ScalarValue::Utf8(Some(p)) | ScalarValue::Utf8View(Some(p)), _) = pattern.as_ref() else {
                return None;
            };
            // Only `prefix%` with no other wildcard is a starts-with.
            let prefix = p.strip_suffix('%')?;
            if prefix.is_empty() || prefix.contains(['%', '_', '\\']) {
                return None;
            }
            Some(Reference::new(name).starts_with(Datum::string(prefix)))
        }
        _ => None,
    }
}

fn comparison(left: &Expr, op: Operator, right: &Expr, schema: &Schema) -> Option<Predicate> {
    // Normalise to `column op literal`.
    let (col, lit, op) = match (column(left, schema), column(right, schema)) {
        (Some(c), None) => (c, right, op),
        (None, Some(c)) => (c, left, op.swap()?),
        _ => return None,
    };
    let (name, ty) = col;
    let datum = literal(lit, &ty)?;
    let reference = Reference::new(name);
    Some(match op {
        Operator::Eq => reference.equal_to(datum),
        Operator::NotEq => reference.not_equal_to(datum),
        Operator::Lt => reference.less_than(datum),
        Operator::LtEq => reference.less_than_or_equal_to(datum),
        Operator::Gt => reference.greater_than(datum),
        Operator::GtEq => reference.greater_than_or_equal_to(datum),
        _ => return None,
    })
}

/// `filters` written against `current`, with each column renamed to what
/// `older` (a schema the same table had before an ALTER TABLE) calls the
/// same field id. A column `older` does not have gets a name no schema has,
/// so the filters on it are not translated (they only prune).
pub fn rename_for(filters: &[Expr], current: &Schema, older: &Schema) -> Vec<Expr> {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    if current.schema_id() == older.schema_id() {
        return filters.to_vec();
    }
    filters
        .iter()
        .map(|filter| {
            filter
                .clone()
                .transform(|e| {
                    let Expr::Column(c) = &e else {
                        return Ok(Transformed::no(e));
                    };
                    let name = current
                        .field_by_name(&c.name)
                        .and_then(|f| older.field_by_id(f.id))
                        .map_or_else(|| format!("{}\u{0}missing", c.name), |f| f.name.clone());
                    if name == c.name {
                        return Ok(Transformed::no(e));
                    }
                    Ok(Transformed::yes(Expr::Column(datafusion::common::Column::new(
                        c.relation.clone(),
                        name,
                    ))))
                })
                .map(|t| t.data)
                .unwrap_or_else(|_| filter.clone())
        })
        .collect()
}

/// A bare column of a primitive type.
fn column(expr: &Expr, schema: &Schema) -> Option<(String, PrimitiveType)> {
    let Expr::Column(c) = expr else {
        return None;
    };
    let field = schema.field_by_name(&c.name)?;
    match field.field_type.as_ref() {
        Type::Primitive(p) => Some((c.name.clone(), p.clone())),
        _ => None,
    }
}

/// A literal converted exactly to the column's type; `None` when the
/// conversion would change the value.
fn literal(expr: &Expr, ty: &PrimitiveType) -> Option<Datum> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    let as_i64 = |v: &ScalarValue| -> Option<i64> {
        match v {
            ScalarValue::Int8(Some(x)) => Some(*x as i64),
            ScalarValue::Int16(Some(x)) => Some(*x as i64),
            ScalarValue::Int32(Some(x)) => Some(*x as i64),
            ScalarValue::Int64(Some(x)) => Some(*x),
            ScalarValue::UInt8(Some(x)) => Some(*x as i64),
            ScalarValue::UInt16(Some(x)) => Some(*x as i64),
            ScalarValue::UInt32(Some(x)) => Some(*x as i64),
            ScalarValue::UInt64(Some(x)) => i64::try_from(*x).ok(),
            _ => None,
        }
    };
    match ty {
        PrimitiveType::Int => Some(Datum::int(i32::try_from(as_i64(value)?).ok()?)),
        PrimitiveType::Long => Some(Datum::long(as_i64(value)?)),
        PrimitiveType::Float => match value {
            ScalarValue::Float32(Some(x)) => Some(Datum::float(*x)),
            _ => None,
        },
        PrimitiveType::Double => match value {
            ScalarValue::Float64(Some(x)) => Some(Datum::double(*x)),
            ScalarValue::Float32(Some(x)) => Some(Datum::double(*x as f64)),
            _ => None,
        },
        PrimitiveType::Boolean => match value {
            ScalarValue::Boolean(Some(b)) => Some(Datum::bool(*b)),
            _ => None,
        },
        PrimitiveType::String => match value {
            ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
                Some(Datum::string(s))
            }
            _ => None,
        },
        PrimitiveType::Date => match value {
            ScalarValue::Date32(Some(d)) => Some(Datum::date(*d)),
            _ => None,
        },
        PrimitiveType::Timestamp | PrimitiveType::Timestamptz => {
            let micros = match value {
                ScalarValue::TimestampMicrosecond(Some(t), _) => *t,
                ScalarValue::TimestampMillisecond(Some(t), _) => t.checked_mul(1_000)?,
                ScalarValue::TimestampSecond(Some(t), _) => t.checked_mul(1_000_000)?,
                // Nanoseconds only when exact: rounding would change the
                // comparison at the boundary.
                ScalarValue::TimestampNanosecond(Some(t), _) if t % 1_000 == 0 => t / 1_000,
                _ => return None,
            };
            // A literal with a time zone compared to a column without one (or
            // the reverse) was already coerced by DataFusion; both are UTC µs.
            Some(if *ty == PrimitiveType::Timestamp {
                Datum::timestamp_micros(micros)
            } else {
                Datum::timestamptz_micros(micros)
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::prelude::{col, lit};
    use iceberg::spec::NestedField;

    use super::*;

    fn schema() -> Schema {
        Schema::builder()
            .with_fields(vec![
                Arc::new(NestedField::required(1, "id", Type::Primitive(PrimitiveType::Long))),
                Arc::new(NestedField::optional(2, "name", Type::Primitive(PrimitiveType::String))),
                Arc::new(NestedField::optional(3, "n", Type::Primitive(PrimitiveType::Int))),
            ])
            .build()
            .expect("valid schema")
    }

    #[test]
    fn translates_comparisons_and_flips_literal_first() {
        let s = schema();
        let p = to_iceberg(&[col("id").gt(lit(5i64)), lit(3i64).lt_eq(col("id"))], &s).expect("translated");
        let text = p.to_string();
        assert!(text.contains("id > 5"), "{text}");
        assert!(text.contains("id >= 3"), "{text}");
    }

    #[test]
    fn or_with_untranslatable_side_is_dropped_and_with_one_side_kept() {
        let s = schema();
        let opaque = col("name").ilike(lit("%x"));
        assert!(to_iceberg(&[col("id").eq(lit(1i64)).or(opaque.clone())], &s).is_none());
        let p = to_iceberg(&[col("id").eq(lit(1i64)).and(opaque)], &s).expect("one side");
        assert_eq!(p.to_string(), "id = 1");
    }

    #[test]
    fn out_of_range_literal_is_not_narrowed() {
        let s = schema();
        assert!(to_iceberg(&[col("n").eq(lit(i64::MAX))], &s).is_none());
    }
}
