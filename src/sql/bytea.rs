//! PostgreSQL's bytea input format in INSERT ... VALUES: `'\x0102'` is the
//! two bytes 0x01 0x02, not the six characters DataFusion's string→binary
//! cast would store. Literals bound for a bytea column are rewritten to
//! `decode('0102', 'hex')` before planning; every other literal is left
//! alone (PostgreSQL's escape format is plain bytes, as DataFusion has it).

use datafusion::sql::sqlparser::ast::{Expr, Insert, SetExpr, Value};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::error::{Error, ErrorKind, Result};

/// Whether any VALUES literal looks like PostgreSQL hex bytea input; checked
/// first so the common INSERT pays no table lookup for the rewrite.
pub fn has_hex_literal(insert: &Insert) -> bool {
    let Some(SetExpr::Values(values)) = insert.source.as_ref().map(|q| q.body.as_ref()) else {
        return false;
    };
    values.rows.iter().flat_map(|row| row.iter()).any(|expr| {
        matches!(expr, Expr::Value(v) if matches!(&v.value,
            Value::SingleQuotedString(s) | Value::EscapedStringLiteral(s) if s.starts_with("\\x")))
    })
}

/// Rewrite `'\x..'` literals in the VALUES rows of `insert` wherever the
/// target column (by position) satisfies `is_bytea`.
pub fn decode_hex_literals(
    insert: &mut Insert,
    target_columns: &[String],
    is_bytea: impl Fn(&str) -> bool,
) -> Result<()> {
    let Some(source) = insert.source.as_mut() else {
        return Ok(());
    };
    let SetExpr::Values(values) = source.body.as_mut() else {
        return Ok(());
    };
    for row in values.rows.iter_mut() {
        for (expr, column) in row.iter_mut().zip(target_columns) {
            if !is_bytea(column) {
                continue;
            }
            let Expr::Value(v) = expr else { continue };
            let (Value::SingleQuotedString(text) | Value::EscapedStringLiteral(text)) = &v.value else {
                continue;
            };
            let Some(hex) = text.strip_prefix("\\x") else {
                continue;
            };
            if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
                return Err(
                    Error::new(ErrorKind::Type, format!("invalid hexadecimal digit: \"{bad}\""))
                        .with_context("column", column),
                );
            }
            if hex.len() % 2 != 0 {
                return Err(
                    Error::new(ErrorKind::Type, "invalid hexadecimal data: odd number of digits")
                        .with_context("column", column),
                );
            }
            *expr = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(&format!("decode('{hex}', 'hex')"))
                .and_then(|mut p| p.parse_expr())
                .map_err(|e| Error::internal(format!("cannot build decode(): {e}")))?;
        }
    }
    Ok(())
}
