//! How jsonb syntax reaches the functions: operators, the `jsonb` type in
//! casts, and `text[]` literals.
//!
//! **Operators.** sqlparser's PostgreSQL dialect tokenizes every jsonb
//! operator (`?` included: in that dialect it is an operator, never a
//! placeholder; parameters are `$1`), and DataFusion hands each binary
//! operator to the registered [`ExprPlanner`]s before its own planning.
//! [`JsonbOperatorPlanner`] maps them, as PostgreSQL does, onto:
//!
//! | operator | when | function |
//! |---|---|---|
//! | `->` | left text | `jsonb_object_field`, or `jsonb_array_element` for an integer right |
//! | `->>` | left text | `jsonb_object_field_text` / `jsonb_array_element_text` |
//! | `#>`, `#>>` | left text | `jsonb_extract_path_op`, `jsonb_extract_path_text_op` |
//! | `@>`, `<@` | both text | `jsonb_contains`, `jsonb_contained` |
//! | `?`, `?\|`, `?&` | left text | `jsonb_exists`, `jsonb_exists_any`, `jsonb_exists_all` |
//! | `#-` | left text | `jsonb_delete_path` |
//! | `\|\|` | both jsonb, or jsonb and an untyped literal | `jsonb_concat` |
//! | `-` | left jsonb | `jsonb_delete` |
//!
//! `doc->-1` and `doc->>-1` work too, although sqlparser reads `->-` as one
//! operator (see [`split_sign`]).
//!
//! "Text" includes NULL and not-yet-typed operands. The first group has no
//! other meaning on text, so a jsonb column (stored as text) needs no cast.
//! `||` and `-` do have one (string concatenation; `-` is arithmetic), so
//! they are only taken over when an operand is *known* to be jsonb: the
//! result of a jsonb function or operator, or a cast to `jsonb`. A jsonb
//! table column is not known to be jsonb today (see [`super::build`]), so
//! `doc || '{"a": 1}'` stays text concatenation; `doc::jsonb || ...` works.
//!
//! **The `jsonb` type.** DataFusion rejects `'...'::jsonb` (it has no JSON
//! type); [`JsonbTypePlanner`] makes `json` and `jsonb` a `Utf8` field
//! marked with Arrow's `arrow.json` extension type, and
//! [`JsonbCastRewrite`] turns each cast to it into `jsonb_in(x)`, which
//! parses and canonicalises (so a cast of bad text is PostgreSQL's error).
//! `json` is treated as `jsonb`: its values print canonicalised.
//!
//! **`text[]` literals.** DataFusion casts `'{a,b}'::text[]` by wrapping the
//! whole string as one element. Where such a cast is an argument of a
//! function that takes a path or keys, [`JsonbCastRewrite`] replaces it
//! with the list PostgreSQL means. (An untyped `'{a,b}'` needs nothing: the
//! functions parse PostgreSQL's array syntax themselves.)

use std::collections::HashMap;
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::expr_rewriter::FunctionRewrite;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr, TypePlanner};
use datafusion::logical_expr::{Expr, ExprSchemable, ScalarUDF};
use datafusion::sql::sqlparser::ast::{BinaryOperator, DataType as SqlType};

use super::args::parse_text_array;
use super::build::{Build, BuildFunction};
use super::{is_jsonb_field, jsonb_field};

/// What the planner knows of one operand.
struct Operand {
    /// `None` when it cannot be typed yet (a placeholder).
    data_type: Option<DataType>,
    /// Known to be jsonb.
    jsonb: bool,
    /// A string literal with no type of its own, which PostgreSQL would
    /// read as whatever the other side needs.
    untyped_literal: bool,
}

impl Operand {
    fn of(expr: &Expr, schema: &DFSchema) -> Self {
        let field = expr.to_field(schema).ok().map(|(_, f)| f);
        // DataFusion types a cast by its target type but keeps the source's
        // field metadata, so a cast to jsonb is recognised by its target.
        let cast_to_jsonb = matches!(expr, Expr::Cast(Cast { field, .. }) if is_jsonb_field(field));
        Self {
            data_type: field.as_ref().map(|f| f.data_type().clone()),
            jsonb: cast_to_jsonb || field.as_ref().is_some_and(|f| is_jsonb_field(f)),
            untyped_literal: matches!(expr, Expr::Literal(ScalarValue::Utf8(_) | ScalarValue::Null, None)),
        }
    }

    /// Text, NULL or not yet typed: what a jsonb operand can be.
    fn is_text(&self) -> bool {
        match &self.data_type {
            None => true,
            Some(DataType::Dictionary(_, value)) => is_text_type(value),
            Some(t) => is_text_type(t),
        }
    }

    fn is_integer(&self) -> bool {
        self.data_type.as_ref().is_some_and(DataType::is_integer)
    }

    fn is_list(&self) -> bool {
        matches!(
            self.data_type,
            Some(DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..))
        )
    }
}

fn is_text_type(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    )
}

/// Plans jsonb operators as function calls (see the module doc).
#[derive(Debug)]
pub struct JsonbOperatorPlanner {
    functions: HashMap<String, Arc<ScalarUDF>>,
}

impl Default for JsonbOperatorPlanner {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonbOperatorPlanner {
    pub fn new() -> Self {
        let functions = super::scalar_functions()
            .into_iter()
            .map(|f| (f.name().to_string(), Arc::new(f)))
            .collect();
        Self { functions }
    }

    /// The function for `left op right`, if it is a jsonb operation.
    fn function_for(op: &BinaryOperator, left: &Operand, right: &Operand) -> Option<&'static str> {
        let name = match op {
            BinaryOperator::Arrow if left.is_text() && right.is_integer() => "jsonb_array_element",
            BinaryOperator::Arrow if left.is_text() => "jsonb_object_field",
            BinaryOperator::LongArrow if left.is_text() && right.is_integer() => "jsonb_array_element_text",
            BinaryOperator::LongArrow if left.is_text() => "jsonb_object_field_text",
            BinaryOperator::HashArrow if left.is_text() => "jsonb_extract_path_op",
            BinaryOperator::HashLongArrow if left.is_text() => "jsonb_extract_path_text_op",
            BinaryOperator::AtArrow if left.is_text() && right.is_text() => "jsonb_contains",
            BinaryOperator::ArrowAt if left.is_text() && right.is_text() => "jsonb_contained",
            BinaryOperator::Question if left.is_text() => "jsonb_exists",
            BinaryOperator::QuestionPipe if left.is_text() => "jsonb_exists_any",
            BinaryOperator::QuestionAnd if left.is_text() => "jsonb_exists_all",
            BinaryOperator::HashMinus if left.is_text() => "jsonb_delete_path",
            BinaryOperator::StringConcat
                if (left.jsonb && (right.jsonb || right.untyped_literal)) || (right.jsonb && left.untyped_literal) =>
            {
                "jsonb_concat"
            }
            BinaryOperator::Minus if left.jsonb && (right.is_text() || right.is_integer() || right.is_list()) => {
                "jsonb_delete"
            }
            _ => return None,
        };
        Some(name)
    }
}

/// `doc->-1` as PostgreSQL reads it: `doc -> (-1)`.
///
/// sqlparser reads a run of operator characters as one operator, so `->-1`
/// arrives as the unknown operator `->-` applied to `1`. PostgreSQL's lexer
/// instead ends an operator before a trailing `+` or `-` (unless the
/// operator holds one of ``~ ! @ # % ^ & | ` ?``), which makes `->-1` the
/// arrow applied to `-1`. This undoes the difference for the two arrows.
fn split_sign(op: BinaryOperator, right: Expr) -> (BinaryOperator, Expr) {
    let BinaryOperator::Custom(name) = &op else {
        return (op, right);
    };
    let arrow = |base: &str| match base {
        "->" => Some(BinaryOperator::Arrow),
        "->>" => Some(BinaryOperator::LongArrow),
        _ => None,
    };
    if let Some(arrow) = name.strip_suffix('-').and_then(arrow) {
        return (arrow, Expr::Negative(Box::new(right)));
    }
    if let Some(arrow) = name.strip_suffix('+').and_then(arrow) {
        return (arrow, right);
    }
    (op, right)
}

/// The operators that mean nothing on text but jsonb.
const JSONB_ONLY_OPERATORS: &[BinaryOperator] = &[
    BinaryOperator::Arrow,
    BinaryOperator::LongArrow,
    BinaryOperator::HashArrow,
    BinaryOperator::HashLongArrow,
    BinaryOperator::AtArrow,
    BinaryOperator::ArrowAt,
    BinaryOperator::Question,
    BinaryOperator::QuestionPipe,
    BinaryOperator::QuestionAnd,
    BinaryOperator::HashMinus,
];

/// Whether an expression could be known to be jsonb: a cast, a function
/// call or a column (whose field may carry the jsonb marker), or an alias
/// of one. Operators and literals never are.
fn may_be_jsonb(expr: &Expr) -> bool {
    match expr {
        Expr::Cast(_) | Expr::ScalarFunction(_) | Expr::Column(_) => true,
        Expr::Alias(alias) => may_be_jsonb(&alias.expr),
        _ => false,
    }
}

impl ExprPlanner for JsonbOperatorPlanner {
    fn plan_binary_op(&self, expr: RawBinaryExpr, schema: &DFSchema) -> Result<PlannerResult<RawBinaryExpr>> {
        let RawBinaryExpr { op, left, right } = expr;
        let (op, right) = split_sign(op, right);
        // Every binary operator of every query comes through here; typing
        // the operands costs a walk of their subtrees, so first rule out
        // what cannot be ours: other operators, and `||` / `-` whose
        // operands cannot be jsonb (`a - b - c` has a left that is `-`).
        let candidate = match op {
            BinaryOperator::StringConcat => may_be_jsonb(&left) || may_be_jsonb(&right),
            BinaryOperator::Minus => may_be_jsonb(&left),
            _ => JSONB_ONLY_OPERATORS.contains(&op),
        };
        if !candidate {
            return Ok(PlannerResult::Original(RawBinaryExpr { op, left, right }));
        }
        let left_operand = Operand::of(&left, schema);
        let right_operand = Operand::of(&right, schema);
        let function = Self::function_for(&op, &left_operand, &right_operand).and_then(|name| self.functions.get(name));
        let Some(function) = function else {
            return Ok(PlannerResult::Original(RawBinaryExpr { op, left, right }));
        };
        Ok(PlannerResult::Planned(Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::clone(function),
            vec![left, right],
        ))))
    }
}

/// Plans the SQL types `json` and `jsonb` (see the module doc); any other
/// type goes to the type planner that was installed before, if any.
#[derive(Debug)]
pub struct JsonbTypePlanner {
    fallback: Option<Arc<dyn TypePlanner>>,
}

impl JsonbTypePlanner {
    pub fn new(fallback: Option<Arc<dyn TypePlanner>>) -> Self {
        Self { fallback }
    }
}

impl TypePlanner for JsonbTypePlanner {
    fn plan_type_field(&self, sql_type: &SqlType) -> Result<Option<arrow::datatypes::FieldRef>> {
        if let Some(fallback) = &self.fallback
            && let Some(field) = fallback.plan_type_field(sql_type)?
        {
            return Ok(Some(field));
        }
        let is_json = match sql_type {
            SqlType::JSON | SqlType::JSONB => true,
            SqlType::Custom(name, modifiers) if modifiers.is_empty() => {
                let name = name.to_string();
                name.eq_ignore_ascii_case("json") || name.eq_ignore_ascii_case("jsonb")
            }
            _ => false,
        };
        Ok(is_json.then(|| jsonb_field("")))
    }
}

/// Functions whose `text[]` argument may arrive as a `'{...}'::text[]` cast.
const TAKES_TEXT_ARRAY: &[&str] = &[
    "jsonb_extract_path_op",
    "jsonb_extract_path_text_op",
    "jsonb_exists_any",
    "jsonb_exists_all",
    "jsonb_delete",
    "jsonb_delete_path",
    "jsonb_set",
    "jsonb_insert",
];

/// Rewrites casts to `jsonb` into `jsonb_in(x)`, and `'{...}'::text[]`
/// arguments of jsonb functions into lists (see the module doc). Runs
/// first among DataFusion's analyzer rules, before type coercion.
#[derive(Debug)]
pub struct JsonbCastRewrite {
    jsonb_in: Arc<ScalarUDF>,
}

impl Default for JsonbCastRewrite {
    fn default() -> Self {
        Self::new()
    }
}

impl JsonbCastRewrite {
    pub fn new() -> Self {
        Self {
            jsonb_in: Arc::new(ScalarUDF::new_from_impl(BuildFunction::new(Build::In))),
        }
    }
}

impl FunctionRewrite for JsonbCastRewrite {
    fn name(&self) -> &str {
        "jsonb_cast_rewrite"
    }

    fn rewrite(&self, expr: Expr, schema: &DFSchema, _config: &ConfigOptions) -> Result<Transformed<Expr>> {
        match expr {
            Expr::Cast(Cast { expr: inner, field }) if is_jsonb_field(&field) => {
                let already_jsonb = inner.to_field(schema).is_ok_and(|(_, f)| is_jsonb_field(&f));
                if already_jsonb {
                    return Ok(Transformed::yes(*inner));
                }
                Ok(Transformed::yes(Expr::ScalarFunction(ScalarFunction::new_udf(
                    Arc::clone(&self.jsonb_in),
                    vec![*inner],
                ))))
            }
            Expr::ScalarFunction(mut call) if TAKES_TEXT_ARRAY.contains(&call.func.name()) => {
                let mut changed = false;
                for arg in &mut call.args {
                    if let Some(list) = text_array_literal(arg)? {
                        *arg = list;
                        changed = true;
                    }
                }
                let expr = Expr::ScalarFunction(call);
                Ok(if changed {
                    Transformed::yes(expr)
                } else {
                    Transformed::no(expr)
                })
            }
            other => Ok(Transformed::no(other)),
        }
    }
}

/// `'{a,b}'::text[]` as the list literal `['a', 'b']`; `None` for any
/// other expression.
fn text_array_literal(expr: &Expr) -> Result<Option<Expr>> {
    let Expr::Cast(Cast { expr: inner, field }) = expr else {
        return Ok(None);
    };
    if !matches!(field.data_type(), DataType::List(_) | DataType::LargeList(_)) {
        return Ok(None);
    }
    let text = match inner.as_ref() {
        Expr::Literal(
            ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)),
            _,
        ) => s,
        _ => return Ok(None),
    };
    let elements: Vec<ScalarValue> = parse_text_array(text)?
        .into_iter()
        .map(|e| ScalarValue::Utf8(e.map(|s| s.into_owned())))
        .collect();
    let list = ScalarValue::List(ScalarValue::new_list_nullable(&elements, &DataType::Utf8));
    Ok(Some(Expr::Literal(list, None)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{Field, Schema};
    use datafusion::logical_expr::{col, lit};

    fn schema() -> DFSchema {
        let schema = Schema::new(vec![
            Field::new("doc", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
            Field::new(
                "tags",
                DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
                true,
            ),
        ]);
        DFSchema::try_from(schema).expect("schema")
    }

    fn plan(left: Expr, op: BinaryOperator, right: Expr) -> Option<String> {
        let planner = JsonbOperatorPlanner::new();
        match planner.plan_binary_op(RawBinaryExpr { op, left, right }, &schema()) {
            Ok(PlannerResult::Planned(Expr::ScalarFunction(f))) => Some(f.func.name().to_string()),
            Ok(_) => None,
            Err(e) => Some(format!("error: {e}")),
        }
    }

    fn jsonb(e: Expr) -> Expr {
        Expr::ScalarFunction(ScalarFunction::new_udf(
            Arc::new(ScalarUDF::new_from_impl(BuildFunction::new(Build::In))),
            vec![e],
        ))
    }

    #[test]
    fn operators_on_text_map_to_functions() {
        use BinaryOperator as B;
        let cases = [
            (B::Arrow, lit("a"), "jsonb_object_field"),
            (B::Arrow, lit(1), "jsonb_array_element"),
            (B::Arrow, col("n"), "jsonb_array_element"),
            (B::LongArrow, lit("a"), "jsonb_object_field_text"),
            (B::LongArrow, lit(-1i64), "jsonb_array_element_text"),
            (B::HashArrow, lit("{a,b}"), "jsonb_extract_path_op"),
            (B::HashLongArrow, lit("{a,b}"), "jsonb_extract_path_text_op"),
            (B::AtArrow, lit("{}"), "jsonb_contains"),
            (B::ArrowAt, lit("{}"), "jsonb_contained"),
            (B::Question, lit("a"), "jsonb_exists"),
            (B::QuestionPipe, col("tags"), "jsonb_exists_any"),
            (B::QuestionAnd, lit("{a}"), "jsonb_exists_all"),
            (B::HashMinus, lit("{a}"), "jsonb_delete_path"),
        ];
        for (op, right, expected) in cases {
            assert_eq!(plan(col("doc"), op.clone(), right).as_deref(), Some(expected), "{op:?}");
        }
    }

    #[test]
    fn arrow_then_minus_is_a_negative_index() {
        use BinaryOperator as B;
        assert_eq!(
            plan(col("doc"), B::Custom("->-".into()), lit(1)).as_deref(),
            Some("jsonb_array_element")
        );
        assert_eq!(
            plan(col("doc"), B::Custom("->>-".into()), lit(1)).as_deref(),
            Some("jsonb_array_element_text")
        );
        assert_eq!(
            plan(col("doc"), B::Custom("->>+".into()), lit(1)).as_deref(),
            Some("jsonb_array_element_text")
        );
        assert_eq!(plan(col("doc"), B::Custom("#>-".into()), lit(1)), None);
    }

    #[test]
    fn other_operands_are_left_alone() {
        use BinaryOperator as B;
        // Lists @> lists stay array containment; numbers are not jsonb.
        assert_eq!(plan(col("tags"), B::AtArrow, col("tags")), None);
        assert_eq!(plan(col("n"), B::Arrow, lit("a")), None);
        // Text || text is string concatenation; text - text is not ours.
        assert_eq!(plan(col("doc"), B::StringConcat, lit("x")), None);
        assert_eq!(plan(lit("a"), B::StringConcat, lit("b")), None);
        assert_eq!(plan(col("doc"), B::Minus, lit("a")), None);
        assert_eq!(plan(col("n"), B::Minus, lit(1)), None);
    }

    #[test]
    fn concat_and_minus_need_a_known_jsonb_operand() {
        use BinaryOperator as B;
        assert_eq!(
            plan(jsonb(col("doc")), B::StringConcat, lit("[1]")).as_deref(),
            Some("jsonb_concat")
        );
        assert_eq!(
            plan(lit("[1]"), B::StringConcat, jsonb(col("doc"))).as_deref(),
            Some("jsonb_concat")
        );
        assert_eq!(
            plan(jsonb(col("doc")), B::StringConcat, jsonb(lit("1"))).as_deref(),
            Some("jsonb_concat")
        );
        // A typed text column next to jsonb: PostgreSQL concatenates text.
        assert_eq!(plan(col("doc"), B::StringConcat, jsonb(lit("1"))), None);
        assert_eq!(
            plan(jsonb(col("doc")), B::Minus, lit("a")).as_deref(),
            Some("jsonb_delete")
        );
        assert_eq!(
            plan(jsonb(col("doc")), B::Minus, lit(0)).as_deref(),
            Some("jsonb_delete")
        );
        assert_eq!(
            plan(jsonb(col("doc")), B::Minus, col("tags")).as_deref(),
            Some("jsonb_delete")
        );
    }

    #[test]
    fn type_planner_knows_json_and_jsonb() -> Result<()> {
        let planner = JsonbTypePlanner::new(None);
        for t in [SqlType::JSON, SqlType::JSONB] {
            let field = planner.plan_type_field(&t)?.expect("planned");
            assert!(is_jsonb_field(&field));
            assert_eq!(field.data_type(), &DataType::Utf8);
        }
        assert!(planner.plan_type_field(&SqlType::Text)?.is_none());
        Ok(())
    }

    #[test]
    fn casts_to_jsonb_become_jsonb_in() -> Result<()> {
        let rewrite = JsonbCastRewrite::new();
        let cast = Expr::Cast(Cast::new_from_field(Box::new(col("doc")), jsonb_field("")));
        let out = rewrite.rewrite(cast, &schema(), &ConfigOptions::default())?;
        let Expr::ScalarFunction(f) = out.data else {
            panic!("expected a call");
        };
        assert_eq!(f.func.name(), "jsonb_in");
        // A cast of something already jsonb is dropped.
        let twice = Expr::Cast(Cast::new_from_field(Box::new(jsonb(col("doc"))), jsonb_field("")));
        let out = rewrite.rewrite(twice, &schema(), &ConfigOptions::default())?;
        assert!(matches!(out.data, Expr::ScalarFunction(f) if f.func.name() == "jsonb_in"));
        Ok(())
    }

    #[test]
    fn text_array_casts_become_lists() -> Result<()> {
        let rewrite = JsonbCastRewrite::new();
        let path = Expr::Cast(Cast::new(
            Box::new(lit("{a,\"b c\",NULL}")),
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
        ));
        let planner = JsonbOperatorPlanner::new();
        let PlannerResult::Planned(call) = planner.plan_binary_op(
            RawBinaryExpr {
                op: BinaryOperator::HashArrow,
                left: col("doc"),
                right: path,
            },
            &schema(),
        )?
        else {
            panic!("not planned");
        };
        let out = rewrite.rewrite(call, &schema(), &ConfigOptions::default())?;
        assert!(out.transformed);
        let Expr::ScalarFunction(f) = out.data else {
            panic!("expected a call");
        };
        let Expr::Literal(ScalarValue::List(list), _) = &f.args[1] else {
            panic!("expected a list literal, got {}", f.args[1]);
        };
        let values = list.value(0);
        let values = arrow::array::AsArray::as_string::<i32>(values.as_ref());
        assert_eq!(values.iter().collect::<Vec<_>>(), vec![Some("a"), Some("b c"), None]);
        Ok(())
    }
}
