//! How vector syntax reaches the functions: the operators, the `vector`
//! type, and casts to and from it.
//!
//! **Operators.** [`VectorOperatorPlanner`] maps, as pgvector defines them:
//!
//! | SQL | sqlparser | when | function |
//! |---|---|---|---|
//! | `a <-> b` | `LtDashGt` | always | `l2_distance` |
//! | `a <=> b` | `Spaceship` | an operand is a vector | `cosine_distance` |
//! | `a <#> b` | `Custom("<#>")` | always | `vector_negative_inner_product` |
//! | `a OPERATOR(vector_negative_inner_product) b` | `PGCustomBinaryOperator` | always | `vector_negative_inner_product` |
//! | `a OPERATOR(l2_distance) b`, `cosine_distance`, `l1_distance` | `PGCustomBinaryOperator` | always | the same name |
//!
//! DataFusion has no `<->` of its own, so it is always ours; a bad operand
//! is then the function's planning error (`l2_distance: expected a vector,
//! not Int64`). `<=>` is MySQL's null-safe equality to DataFusion (`IS NOT
//! DISTINCT FROM`), and stays that unless an operand is a vector: a list of
//! numbers, a field marked as a vector, a cast to `vector`, or a string
//! literal starting with `[`. pgvector's `<#>` reaches us as sqlparser's
//! `Custom("<#>")` and is `vector_negative_inner_product`; `<+>` (L1) is
//! not one token to sqlparser, so it is `l1_distance(a, b)` or
//! `OPERATOR(l1_distance)`.
//!
//! **The type.** [`VectorTypePlanner`] makes `vector(n)` a
//! `FixedSizeList<Float32, n>` field marked as a vector ([`vector_field`])
//! and a bare `vector` a `List<Float32>` one, and hands every other type
//! to the planner installed before it.
//!
//! **Casts.** DataFusion's own cast cannot read `'[1,2,3]'` or check
//! dimensions, so [`VectorCastRewrite`] (run first among the analyzer
//! rules, before type coercion) turns every cast to a vector type into
//! `vector_in(x, n)` (`n` = -1 for a bare `vector`), and a cast of a
//! vector to text into `vector_out(v)`. Casts from a vector to `real[]`
//! stay DataFusion's.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, ScalarValue, plan_err};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::expr_rewriter::FunctionRewrite;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr, TypePlanner};
use datafusion::logical_expr::{Expr, ExprSchemable, ScalarUDF};
use datafusion::sql::sqlparser::ast::{BinaryOperator, DataType as SqlType};

use super::functions::{VectorFunctionKind, checked_dims, udf};
use super::{is_vector_field, vector_field};

/// Plans the vector operators as function calls (see the module doc).
#[derive(Debug)]
pub struct VectorOperatorPlanner {
    l2: Arc<ScalarUDF>,
    cosine: Arc<ScalarUDF>,
    negative_inner: Arc<ScalarUDF>,
    l1: Arc<ScalarUDF>,
}

impl Default for VectorOperatorPlanner {
    fn default() -> Self {
        Self::new()
    }
}

impl VectorOperatorPlanner {
    pub fn new() -> Self {
        Self {
            l2: udf(VectorFunctionKind::L2Distance),
            cosine: udf(VectorFunctionKind::CosineDistance),
            negative_inner: udf(VectorFunctionKind::NegativeInnerProduct),
            l1: udf(VectorFunctionKind::L1Distance),
        }
    }

    /// The function `OPERATOR(name)` stands for, if it is one of ours.
    fn custom_operator(&self, idents: &[String]) -> Option<&Arc<ScalarUDF>> {
        let [name] = idents else {
            return None;
        };
        let name = name.to_ascii_lowercase();
        [&self.negative_inner, &self.l2, &self.cosine, &self.l1]
            .into_iter()
            .find(|f| f.name() == name)
    }
}

/// Whether an operand is known to be a vector: the test that takes `<=>`
/// from DataFusion's `IS NOT DISTINCT FROM`.
fn is_vector_operand(expr: &Expr, schema: &DFSchema) -> bool {
    match expr {
        // DataFusion types a cast by its target but keeps the source's
        // field metadata, so a cast to vector is recognised by its target.
        Expr::Cast(Cast { field, .. }) if is_vector_field(field) => return true,
        Expr::Literal(
            ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)),
            _,
        ) => return s.trim_start().starts_with('['),
        Expr::Alias(alias) => return is_vector_operand(&alias.expr, schema),
        _ => {}
    }
    let Ok((_, field)) = expr.to_field(schema) else {
        return false;
    };
    is_vector_field(&field)
        || matches!(
            field.data_type(),
            DataType::FixedSizeList(item, _) | DataType::List(item) | DataType::LargeList(item)
                if item.data_type().is_numeric()
        )
}

impl ExprPlanner for VectorOperatorPlanner {
    fn plan_binary_op(&self, expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
        // Every binary operator of every query comes through here; typing
        // operands walks their subtrees, so only `<=>` (the one operator
        // that may not be ours) types them, and the rest is decided by the
        // operator alone.
        let function = match &expr.op {
            BinaryOperator::LtDashGt => Some(&self.l2),
            BinaryOperator::PGCustomBinaryOperator(idents) => self.custom_operator(idents),
            // sqlparser reads `<#>` as a PostgreSQL custom operator.
            BinaryOperator::Custom(op) if op == "<#>" => Some(&self.negative_inner),
            BinaryOperator::Spaceship
                if is_vector_operand(&expr.left, schema) || is_vector_operand(&expr.right, schema) =>
            {
                Some(&self.cosine)
            }
            _ => None,
        };
        let Some(function) = function else {
            return Ok(PlannerResult::Original(expr));
        };
        Ok(PlannerResult::Planned(Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::clone(function),
            vec![expr.left, expr.right],
        ))))
    }
}

/// Plans the SQL type `vector(n)` / `vector` (see the module doc); any
/// other type goes to the type planner installed before, if any.
#[derive(Debug)]
pub struct VectorTypePlanner {
    fallback: Option<Arc<dyn TypePlanner>>,
}

impl VectorTypePlanner {
    pub fn new(fallback: Option<Arc<dyn TypePlanner>>) -> Self {
        Self { fallback }
    }
}

/// The dimensions of a SQL `vector` type: `Some(None)` for a bare
/// `vector`, `Some(Some(n))` for `vector(n)`, `None` for another type.
pub fn sql_vector_dims(sql_type: &SqlType) -> Result<Option<Option<i32>>> {
    let SqlType::Custom(name, modifiers) = sql_type else {
        return Ok(None);
    };
    let is_vector = name
        .0
        .last()
        .and_then(|part| part.as_ident())
        .is_some_and(|ident| ident.value.eq_ignore_ascii_case("vector"));
    if !is_vector {
        return Ok(None);
    }
    match modifiers.as_slice() {
        [] => Ok(Some(None)),
        [dims] => match dims.trim().parse::<i64>() {
            Ok(dims) if dims != -1 => Ok(Some(checked_dims(dims)?)),
            _ => plan_err!("dimensions for type vector must be between 1 and 16000, not {dims}"),
        },
        _ => plan_err!("invalid type modifier"),
    }
}

impl TypePlanner for VectorTypePlanner {
    fn plan_type_field(&self, sql_type: &SqlType) -> Result<Option<FieldRef>> {
        if let Some(fallback) = &self.fallback
            && let Some(field) = fallback.plan_type_field(sql_type)?
        {
            return Ok(Some(field));
        }
        Ok(sql_vector_dims(sql_type)?.map(|dims| Arc::new(vector_field("", dims))))
    }
}

/// Rewrites casts to a vector into `vector_in(x, n)` and casts of a vector
/// to text into `vector_out(v)` (see the module doc).
#[derive(Debug)]
pub struct VectorCastRewrite {
    vector_in: Arc<ScalarUDF>,
    vector_out: Arc<ScalarUDF>,
}

impl Default for VectorCastRewrite {
    fn default() -> Self {
        Self::new()
    }
}

impl VectorCastRewrite {
    pub fn new() -> Self {
        Self {
            vector_in: udf(VectorFunctionKind::In),
            vector_out: udf(VectorFunctionKind::Out),
        }
    }
}

/// Whether an expression's value is a vector. A cast is typed by its
/// target (its field keeps the source's metadata, so `v::real[]` would
/// otherwise still look like a vector).
fn is_vector_expr(expr: &Expr, schema: &DFSchema) -> bool {
    match expr {
        Expr::Cast(Cast { field, .. }) => is_vector_field(field),
        Expr::Alias(alias) => is_vector_expr(&alias.expr, schema),
        _ => expr.to_field(schema).is_ok_and(|(_, f)| is_vector_field(&f)),
    }
}

fn is_text_type(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

impl FunctionRewrite for VectorCastRewrite {
    fn name(&self) -> &str {
        "vector_cast_rewrite"
    }

    fn rewrite(&self, expr: Expr, schema: &DFSchema, _config: &ConfigOptions) -> Result<Transformed<Expr>> {
        let Expr::Cast(Cast { expr: inner, field }) = expr else {
            return Ok(Transformed::no(expr));
        };
        if is_vector_field(&field) {
            let dims = match field.data_type() {
                DataType::FixedSizeList(_, dims) => *dims as i64,
                _ => -1,
            };
            return Ok(Transformed::yes(Expr::ScalarFunction(ScalarFunction::new_udf(
                Arc::clone(&self.vector_in),
                vec![*inner, Expr::Literal(ScalarValue::Int64(Some(dims)), None)],
            ))));
        }
        // Only casts to text can be ours; the schema lookup is for them.
        let from_vector = is_text_type(field.data_type()) && is_vector_expr(&inner, schema);
        if !from_vector {
            return Ok(Transformed::no(Expr::Cast(Cast { expr: inner, field })));
        }
        let text = Expr::ScalarFunction(ScalarFunction::new_udf(Arc::clone(&self.vector_out), vec![*inner]));
        Ok(Transformed::yes(match field.data_type() {
            DataType::Utf8 => text,
            _ => Expr::Cast(Cast::new_from_field(
                Box::new(text),
                Arc::new(Field::new(field.name(), field.data_type().clone(), true)),
            )),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Schema;
    use datafusion::logical_expr::{col, lit};
    use datafusion::sql::sqlparser::ast::{Ident, ObjectName};

    fn schema() -> DFSchema {
        let schema = Schema::new(vec![
            vector_field("embedding", Some(3)),
            Field::new("plain", DataType::FixedSizeList(super::super::item_field(), 3), true),
            Field::new("n", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
            Field::new(
                "tags",
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
                true,
            ),
        ]);
        DFSchema::try_from(schema).expect("schema")
    }

    fn plan(left: Expr, op: BinaryOperator, right: Expr) -> Option<String> {
        let planner = VectorOperatorPlanner::new();
        match planner.plan_binary_op(RawBinaryExpr { op, left, right }, &schema()) {
            Ok(PlannerResult::Planned(Expr::ScalarFunction(f))) => Some(f.func.name().to_string()),
            Ok(_) => None,
            Err(e) => Some(format!("error: {e}")),
        }
    }

    fn custom(name: &str) -> BinaryOperator {
        BinaryOperator::PGCustomBinaryOperator(vec![name.to_string()])
    }

    #[test]
    fn operators_map_to_functions() {
        use BinaryOperator as B;
        assert_eq!(
            plan(col("embedding"), B::LtDashGt, lit("[1,2,3]")).as_deref(),
            Some("l2_distance")
        );
        assert_eq!(plan(col("n"), B::LtDashGt, lit(1)).as_deref(), Some("l2_distance"));
        assert_eq!(
            plan(
                col("embedding"),
                custom("vector_negative_inner_product"),
                lit("[1,2,3]")
            )
            .as_deref(),
            Some("vector_negative_inner_product")
        );
        assert_eq!(
            plan(col("embedding"), custom("L1_DISTANCE"), col("plain")).as_deref(),
            Some("l1_distance")
        );
        assert_eq!(
            plan(col("embedding"), custom("l2_distance"), col("plain")).as_deref(),
            Some("l2_distance")
        );
        assert_eq!(
            plan(col("embedding"), custom("cosine_distance"), col("plain")).as_deref(),
            Some("cosine_distance")
        );
        assert_eq!(plan(col("embedding"), custom("other"), col("plain")), None);
        assert_eq!(plan(col("embedding"), B::Minus, col("plain")), None);
    }

    #[test]
    fn spaceship_is_cosine_only_next_to_a_vector() {
        use BinaryOperator as B;
        let cast = Expr::Cast(Cast::new_from_field(
            Box::new(col("s")),
            Arc::new(vector_field("", None)),
        ));
        for (left, right) in [
            (
                col("embedding"),
                Expr::Placeholder(datafusion::logical_expr::expr::Placeholder::new_with_field(
                    "$1".into(),
                    None,
                )),
            ),
            (col("plain"), col("plain")),
            (lit(" [1,2]"), col("s")),
            (col("n"), cast),
        ] {
            assert_eq!(plan(left, B::Spaceship, right).as_deref(), Some("cosine_distance"));
        }
        assert_eq!(plan(lit(1), B::Spaceship, lit(1)), None);
        assert_eq!(plan(col("s"), B::Spaceship, lit("x")), None);
        assert_eq!(plan(col("tags"), B::Spaceship, col("tags")), None);
    }

    fn vector_type(modifiers: &[&str]) -> SqlType {
        SqlType::Custom(
            ObjectName::from(vec![Ident::new("vector")]),
            modifiers.iter().map(|m| m.to_string()).collect(),
        )
    }

    #[test]
    fn type_planner_knows_vector_and_its_limits() -> Result<()> {
        let planner = VectorTypePlanner::new(Some(Arc::new(crate::json::planner::JsonbTypePlanner::new(None))));
        let field = planner.plan_type_field(&vector_type(&["3"]))?.expect("planned");
        assert!(is_vector_field(&field));
        assert_eq!(super::super::vector_dims_of(field.data_type()), Some(3));
        let field = planner.plan_type_field(&vector_type(&[]))?.expect("planned");
        assert!(matches!(field.data_type(), DataType::List(_)));
        assert!(planner.plan_type_field(&vector_type(&["16000"]))?.is_some());
        for bad in ["0", "16001", "-1", "x"] {
            let error = planner.plan_type_field(&vector_type(&[bad])).expect_err(bad);
            assert!(
                error.to_string().contains(&format!(
                    "dimensions for type vector must be between 1 and 16000, not {bad}"
                )),
                "{error}"
            );
        }
        // The planner it wraps still answers for its types; others are not ours.
        assert!(planner.plan_type_field(&SqlType::JSONB)?.is_some());
        assert!(planner.plan_type_field(&SqlType::Text)?.is_none());
        Ok(())
    }

    #[test]
    fn casts_become_vector_in_and_vector_out() -> Result<()> {
        let rewrite = VectorCastRewrite::new();
        let config = ConfigOptions::default();
        let to_vector = Expr::Cast(Cast::new_from_field(
            Box::new(lit("[1,2,3]")),
            Arc::new(vector_field("", Some(3))),
        ));
        let out = rewrite.rewrite(to_vector, &schema(), &config)?;
        let Expr::ScalarFunction(f) = out.data else {
            panic!("expected a call");
        };
        assert_eq!(f.func.name(), "vector_in");
        assert_eq!(f.args[1], lit(3i64));

        let to_text = Expr::Cast(Cast::new(Box::new(col("embedding")), DataType::Utf8));
        let out = rewrite.rewrite(to_text, &schema(), &config)?;
        assert!(matches!(&out.data, Expr::ScalarFunction(f) if f.func.name() == "vector_out"));

        // A list that is not marked as a vector keeps DataFusion's cast.
        let plain = Expr::Cast(Cast::new(Box::new(col("plain")), DataType::Utf8));
        assert!(!rewrite.rewrite(plain, &schema(), &config)?.transformed);
        let other = Expr::Cast(Cast::new(Box::new(col("n")), DataType::Utf8));
        assert!(!rewrite.rewrite(other, &schema(), &config)?.transformed);
        // Nor does a vector cast to real[] first: that prints as an array.
        let real_array = DataType::List(Arc::new(Field::new_list_field(DataType::Float32, true)));
        let via_array = Expr::Cast(Cast::new(
            Box::new(Expr::Cast(Cast::new(Box::new(col("embedding")), real_array))),
            DataType::Utf8,
        ));
        assert!(!rewrite.rewrite(via_array, &schema(), &config)?.transformed);
        Ok(())
    }
}
