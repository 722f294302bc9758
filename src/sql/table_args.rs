//! Table functions see their arguments when the statement is planned,
//! before `$n` parameters are bound: `thermocline_changes('t', $1)` would
//! see `$1`. With the values known, this pass writes them into table
//! function arguments as literals first.

use std::ops::ControlFlow;

use datafusion::common::ScalarValue;
use datafusion::sql::sqlparser::ast::{Expr, TableFactor, Value, VisitMut, VisitorMut};

/// Replace `$n` inside table-function arguments of `statement` by
/// `params[n - 1]` (integers, floats, strings and booleans; other values
/// are left for the planner).
pub fn bind_table_args<T: VisitMut>(statement: &mut T, params: &[ScalarValue]) {
    if params.is_empty() {
        return;
    }
    let _ = statement.visit(&mut Binder { params });
}

struct Binder<'a> {
    params: &'a [ScalarValue],
}

impl VisitorMut for Binder<'_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table { args: Some(args), .. } = factor {
            for arg in &mut args.args {
                if let datafusion::sql::sqlparser::ast::FunctionArg::Unnamed(
                    datafusion::sql::sqlparser::ast::FunctionArgExpr::Expr(expr),
                ) = arg
                {
                    bind(expr, self.params);
                }
            }
        }
        ControlFlow::Continue(())
    }
}

fn bind(expr: &mut Expr, params: &[ScalarValue]) {
    let Expr::Value(value) = expr else {
        return;
    };
    let Value::Placeholder(name) = &value.value else {
        return;
    };
    let Some(param) = name
        .strip_prefix('$')
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| n.checked_sub(1))
        .and_then(|i| params.get(i))
    else {
        return;
    };
    let literal = match param {
        ScalarValue::Int8(Some(v)) => Value::Number(v.to_string(), false),
        ScalarValue::Int16(Some(v)) => Value::Number(v.to_string(), false),
        ScalarValue::Int32(Some(v)) => Value::Number(v.to_string(), false),
        ScalarValue::Int64(Some(v)) => Value::Number(v.to_string(), false),
        ScalarValue::UInt32(Some(v)) => Value::Number(v.to_string(), false),
        ScalarValue::UInt64(Some(v)) => Value::Number(v.to_string(), false),
        ScalarValue::Float64(Some(v)) if v.is_finite() => Value::Number(v.to_string(), false),
        ScalarValue::Boolean(Some(v)) => Value::Boolean(*v),
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            Value::SingleQuotedString(s.clone())
        }
        _ => return,
    };
    *expr = Expr::value(literal);
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    #[test]
    fn binds_only_table_function_arguments() {
        let mut statements = Parser::parse_sql(
            &PostgreSqlDialect {},
            "SELECT * FROM thermocline_changes($2, $1) WHERE lsn > $1",
        )
        .expect("parses");
        bind_table_args(
            &mut statements[0],
            &[ScalarValue::Int64(Some(7)), ScalarValue::Utf8(Some("t".into()))],
        );
        assert_eq!(
            statements[0].to_string(),
            "SELECT * FROM thermocline_changes('t', 7) WHERE lsn > $1"
        );
    }
}
