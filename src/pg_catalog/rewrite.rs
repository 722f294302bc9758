//! Rewrites PostgreSQL syntax that clients' catalog queries use and
//! DataFusion cannot plan into SQL it can, on the parsed statement:
//!
//! | client writes                              | planned as                                   |
//! |--------------------------------------------|----------------------------------------------|
//! | `pg_class`, `pg_type` (bare)               | `pg_catalog.pg_class` (the search path)      |
//! | `pg_catalog.format_type(...)`              | `format_type(...)`                           |
//! | `x OPERATOR(pg_catalog.~) y`               | `x ~ y`                                      |
//! | `e COLLATE pg_catalog.default`             | `e`                                          |
//! | `'t'::regclass`, `c.oid::regclass`         | `thermocline_regclass_in('t')`, `..._out(c.oid)` |
//! | `::regtype`, `::regnamespace`, `::oid`, `::name` | the matching function or cast          |
//! | `current_user`, `session_user`             | `current_user()`, `session_user()` (UDFs)    |
//! | `ARRAY(SELECT x ...)`                      | `(SELECT array_agg(x) FROM (...))`           |
//! | `_pg_expandarray(a)`, `(_pg_expandarray(a)).n` | `unnest(...)` of its records / field     |
//! | `(r.keys).x`                               | `get_field(r.keys, 'x')`                     |
//! | `col = '{0}'` (array literal)              | `col = make_array(0)`                        |
//! | `FROM generate_series(0, t.col) s`         | an empty relation (see [`Rewriter::table_factor`]) |
//! | `SET application_name = 'x'`               | `SET pg.application_name = 'x'`              |
//! | `SHOW search_path`                         | `SELECT current_setting('search_path') AS search_path` |

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, CastKind, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    Ident, ObjectName, ObjectNamePart, Query, SelectItem, Set, SetExpr, Statement, TableAlias, TableFactor, Value,
    VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::settings;
use super::tables::is_catalog_table;
use crate::error::{Error, Result};

/// Rewrite `statement` in place.
pub fn rewrite(statement: &mut Statement) -> Result<()> {
    if let Some(replacement) = rewrite_statement(statement)? {
        *statement = replacement;
    }
    let mut rewriter = Rewriter {
        error: None,
        catalog_query: reads_catalog(statement),
    };
    let _ = statement.visit(&mut rewriter);
    match rewriter.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// SET and SHOW of PostgreSQL settings.
fn rewrite_statement(statement: &mut Statement) -> Result<Option<Statement>> {
    match statement {
        Statement::ShowVariable { variable } => {
            let name = settings::canonical(&variable.iter().map(|i| i.value.as_str()).collect::<Vec<_>>().join(" "));
            if name == "all" || name.starts_with("datafusion.") {
                return Ok(None);
            }
            let sql = format!(
                "SELECT current_setting({}) AS {}",
                quote_literal(&name),
                quote_identifier(&name)
            );
            parse_statement(&sql).map(Some)
        }
        Statement::Set(set) => {
            let (name, value) = match set {
                Set::SingleAssignment {
                    scope,
                    variable,
                    values,
                    ..
                } => {
                    // SET LOCAL lasts for the session here: close enough for
                    // the settings drivers send.
                    *scope = None;
                    let name = variable.to_string().to_ascii_lowercase();
                    if name.starts_with("datafusion.") || name == "timezone" || name == "time.zone" {
                        return Ok(None);
                    }
                    let value = match values.as_slice() {
                        [one @ (Expr::Value(_) | Expr::Identifier(_) | Expr::UnaryOp { .. })] => one.clone(),
                        // `SET datestyle = ISO, MDY`: the list as text.
                        many => Expr::value(Value::SingleQuotedString(
                            many.iter()
                                .map(|e| e.to_string().trim_matches('\'').to_string())
                                .collect::<Vec<_>>()
                                .join(", "),
                        )),
                    };
                    (name, value)
                }
                Set::SetTimeZone { value, .. } => {
                    let sql = format!("SET TIMEZONE = {value}");
                    return parse_statement(&sql).map(Some);
                }
                Set::SetTransaction { .. } | Set::SetSessionParam(_) => {
                    let text = statement.to_string();
                    let level = ["READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"]
                        .into_iter()
                        .find(|l| text.to_ascii_uppercase().contains(l));
                    match level {
                        Some(level) => (
                            "transaction_isolation".to_string(),
                            Expr::value(Value::SingleQuotedString(level.to_ascii_lowercase())),
                        ),
                        None => ("last_set".to_string(), Expr::value(Value::SingleQuotedString(text))),
                    }
                }
                other => (
                    "last_set".to_string(),
                    Expr::value(Value::SingleQuotedString(other.to_string())),
                ),
            };
            let sql = format!("SET pg.{} = {value}", settings::canonical(&name).replace(' ', "_"));
            parse_statement(&sql).map(Some)
        }
        _ => Ok(None),
    }
}

struct Rewriter {
    error: Option<Error>,
    /// Whether the statement reads a catalog table: only then is `'{0}'`
    /// an array literal (in a user's query it may be text or JSON).
    catalog_query: bool,
}

/// Whether `statement` reads `pg_catalog` or `information_schema`.
fn reads_catalog(statement: &Statement) -> bool {
    use datafusion::sql::sqlparser::ast::visit_relations;
    let found = visit_relations(statement, |relation| {
        let parts = name_parts(relation);
        let catalog = match parts.as_slice() {
            [table] => is_catalog_table(table),
            [schema, ..] => is_system_schema(schema),
            [] => false,
        };
        if catalog {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    found.is_break()
}

impl VisitorMut for Rewriter {
    type Break = ();

    fn pre_visit_relation(&mut self, relation: &mut ObjectName) -> ControlFlow<()> {
        let parts = name_parts(relation);
        match parts.as_slice() {
            [table] if is_catalog_table(table) => {
                relation
                    .0
                    .insert(0, ObjectNamePart::Identifier(Ident::new("pg_catalog")));
            }
            [schema, function] if is_system_schema(schema) && is_set_function(function) => {
                relation.0.remove(0);
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    /// `SELECT pubname, NULL, NULL`: PostgreSQL names both `?column?`;
    /// DataFusion wants distinct names, so repeats get a number.
    fn post_visit_select(&mut self, select: &mut datafusion::sql::sqlparser::ast::Select) -> ControlFlow<()> {
        let mut seen = std::collections::HashSet::new();
        for (i, item) in select.projection.iter_mut().enumerate() {
            if let SelectItem::UnnamedExpr(expr) = item
                && !seen.insert(expr.to_string())
            {
                *item = SelectItem::ExprWithAlias {
                    expr: expr.clone(),
                    alias: Ident::with_quote('"', format!("?column?{}", i + 1)),
                };
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let Some(replacement) = self.table_factor(factor) {
            *factor = replacement;
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match rewrite_expr(expr, self.catalog_query) {
            Ok(Some(new)) => *expr = new,
            Ok(None) => {}
            Err(e) => {
                self.error = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}

impl Rewriter {
    /// A set-returning function in FROM whose arguments are columns of an
    /// earlier FROM item (`generate_series(0, array_upper(pr.prattrs, 1)) s`,
    /// `unnest(tc.reloptions) x`) needs LATERAL, which DataFusion does not
    /// plan. In the queries clients send, those columns belong to catalogs
    /// that are empty or always NULL here (publications, reloptions), so
    /// the function contributes no rows: it becomes an empty relation with
    /// the same alias and column.
    fn table_factor(&self, factor: &TableFactor) -> Option<TableFactor> {
        let TableFactor::Table {
            name,
            args: Some(args),
            alias,
            ..
        } = factor
        else {
            return None;
        };
        let parts = name_parts(name);
        let function = parts.last()?;
        if !is_set_function(function) || !args.args.iter().any(references_column) {
            return None;
        }
        let alias = alias.clone().unwrap_or_else(|| TableAlias {
            explicit: true,
            name: Ident::new(function.as_str()),
            columns: Vec::new(),
            at: None,
        });
        let column = alias
            .columns
            .first()
            .map(|c| c.name.value.clone())
            .unwrap_or_else(|| alias.name.value.clone());
        let sql = format!(
            "SELECT CAST(NULL AS BIGINT) AS {} WHERE false",
            quote_identifier(&column)
        );
        let query = parse_query(&sql).ok()?;
        Some(TableFactor::Derived {
            lateral: false,
            subquery: Box::new(query),
            alias: Some(TableAlias {
                columns: Vec::new(),
                ..alias
            }),
            sample: None,
        })
    }
}

fn rewrite_expr(expr: &Expr, catalog_query: bool) -> Result<Option<Expr>> {
    Ok(Some(match expr {
        Expr::Collate { expr, .. } => (**expr).clone(),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::PGCustomBinaryOperator(parts),
            right,
        } => {
            let op = match parts.last().map(String::as_str) {
                Some("~") => BinaryOperator::PGRegexMatch,
                Some("!~") => BinaryOperator::PGRegexNotMatch,
                Some("~*") => BinaryOperator::PGRegexIMatch,
                Some("!~*") => BinaryOperator::PGRegexNotIMatch,
                Some("=") => BinaryOperator::Eq,
                Some("<>") => BinaryOperator::NotEq,
                Some("<") => BinaryOperator::Lt,
                Some(">") => BinaryOperator::Gt,
                Some("<=") => BinaryOperator::LtEq,
                Some(">=") => BinaryOperator::GtEq,
                Some("||") => BinaryOperator::StringConcat,
                _ => return Ok(None),
            };
            Expr::BinaryOp {
                left: left.clone(),
                op,
                right: right.clone(),
            }
        }
        Expr::BinaryOp {
            left,
            op: op @ (BinaryOperator::Eq | BinaryOperator::NotEq),
            right,
        } if catalog_query => match (array_literal(left), array_literal(right)) {
            (None, Some(array)) if !is_string(left) => Expr::BinaryOp {
                left: left.clone(),
                op: op.clone(),
                right: Box::new(array),
            },
            (Some(array), None) if !is_string(right) => Expr::BinaryOp {
                left: Box::new(array),
                op: op.clone(),
                right: right.clone(),
            },
            _ => return Ok(None),
        },
        Expr::Cast {
            kind: CastKind::DoubleColon | CastKind::Cast,
            expr: inner,
            data_type,
            ..
        } => return rewrite_cast(inner, data_type),
        Expr::Function(function) => return rewrite_function(function),
        Expr::Subquery(query) => return Ok(aggregate_scalar_subquery(query)),
        Expr::CompoundFieldAccess { root, access_chain } => {
            let [AccessExpr::Dot(Expr::Identifier(field))] = access_chain.as_slice() else {
                return Ok(None);
            };
            let root = match root.as_ref() {
                Expr::Nested(inner) => inner.as_ref(),
                other => other,
            };
            let field = field.value.to_ascii_lowercase();
            // `(_pg_expandarray(a)).n`, already `unnest(thermocline_expandarray(a))`.
            if let Some(array) = expandarray_argument(root) {
                parse_expr(&format!(
                    "unnest(thermocline_expandarray_field({array}, {}))",
                    quote_literal(&field)
                ))?
            } else {
                parse_expr(&format!("get_field({root}, {})", quote_literal(&field)))?
            }
        }
        _ => return Ok(None),
    }))
}

fn rewrite_cast(inner: &Expr, data_type: &DataType) -> Result<Option<Expr>> {
    let printed = data_type.to_string().to_ascii_lowercase().replace('"', "");
    let name = printed.strip_prefix("pg_catalog.").unwrap_or(&printed);
    let literal = is_string(inner);
    let call = |f: &str| parse_expr(&format!("{f}({inner})"));
    let cast = |t: &str| parse_expr(&format!("CAST({inner} AS {t})"));
    Ok(Some(match name {
        "regclass" if literal => call("thermocline_regclass_in")?,
        "regclass" => call("thermocline_regclass_out")?,
        "regtype" if literal => call("thermocline_regtype_in")?,
        "regtype" => call("thermocline_regtype_out")?,
        "regnamespace" if !literal => call("thermocline_regnamespace_out")?,
        "oid" | "regrole" | "regproc" | "regprocedure" | "xid" if literal && name != "oid" => cast("TEXT")?,
        "oid" | "regnamespace" | "regrole" | "xid" => cast("BIGINT")?,
        "regproc" | "regprocedure" | "name" | "char" | "text" | "bpchar" | "varchar" => cast("TEXT")?,
        "int2" | "smallint" => cast("SMALLINT")?,
        "int4" | "integer" | "int" => cast("INT")?,
        "int8" | "bigint" => cast("BIGINT")?,
        "bool" | "boolean" => cast("BOOLEAN")?,
        "float4" => cast("REAL")?,
        "float8" => cast("DOUBLE")?,
        // Arrays in the catalogs are lists already; int2vector and
        // oidvector are lists too.
        "int2[]" | "oid[]" | "text[]" | "name[]" | "int2vector" | "oidvector" | "_int2" | "_oid" | "_text"
            if !literal =>
        {
            inner.clone()
        }
        _ if printed.starts_with("pg_catalog.") => {
            return Err(Error::not_supported(format!("type {printed} is not supported")));
        }
        _ => return Ok(None),
    }))
}

fn rewrite_function(function: &datafusion::sql::sqlparser::ast::Function) -> Result<Option<Expr>> {
    let parts = name_parts(&function.name);
    let name = match parts.as_slice() {
        [schema, name] if is_system_schema(schema) => name.clone(),
        [name] => name.clone(),
        _ => return Ok(None),
    };
    let without_parens = matches!(function.args, FunctionArguments::None);
    match (name.as_str(), &function.args) {
        ("current_user" | "session_user" | "user" | "current_role", FunctionArguments::None) => {
            // Called with parentheses so DataFusion plans it as a function;
            // the column is still named after it, as PostgreSQL names it.
            let name = if name == "user" {
                "current_user".to_string()
            } else {
                name
            };
            let mut function = function.clone();
            function.name = ObjectName::from(vec![Ident::new(name)]);
            function.args = FunctionArguments::List(datafusion::sql::sqlparser::ast::FunctionArgumentList {
                duplicate_treatment: None,
                args: Vec::new(),
                clauses: Vec::new(),
            });
            Ok(Some(Expr::Function(function)))
        }
        ("current_schema" | "current_database" | "current_catalog", _) if without_parens => {
            let name = if name == "current_catalog" {
                "current_database"
            } else {
                name.as_str()
            };
            parse_expr(&format!("{name}()")).map(Some)
        }
        ("array", FunctionArguments::Subquery(query)) => array_subquery(query).map(Some),
        ("_pg_expandarray", FunctionArguments::List(list)) => {
            let [FunctionArg::Unnamed(FunctionArgExpr::Expr(array))] = list.args.as_slice() else {
                return Ok(None);
            };
            parse_expr(&format!("unnest(thermocline_expandarray({array}))")).map(Some)
        }
        _ if parts.len() == 2 => {
            let mut function = function.clone();
            function.name = ObjectName::from(vec![Ident::new(name)]);
            Ok(Some(Expr::Function(function)))
        }
        _ => Ok(None),
    }
}

/// A scalar subquery over the catalogs, `(SELECT d.adbin FROM pg_attrdef d
/// WHERE d.adrelid = a.attrelid ...)`, as `(SELECT first_value(d.adbin) ...)`:
/// DataFusion plans a correlated scalar subquery only when it aggregates.
/// The catalogs' keys make these one row at most (PostgreSQL would fail on
/// two), so taking the first changes no answer. Subqueries over user tables
/// are left as written.
///
/// DataFusion also decorrelates only equalities between inner and outer
/// columns, so the other conjuncts are made inner-only first: an outer
/// column equated to an inner one (`c.oid = a.attcollation`) is replaced
/// by it, and a conjunct left with only outer columns (`a.atthasdef`)
/// moves out: `CASE WHEN a.atthasdef THEN (SELECT ...) END`.
fn aggregate_scalar_subquery(query: &Query) -> Option<Expr> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let over_catalogs = select.from.iter().any(|t| {
        std::iter::once(&t.relation)
            .chain(t.joins.iter().map(|j| &j.relation))
            .any(|f| matches!(f, TableFactor::Table { name, .. } if name_parts(name).first().is_some_and(|s| s == "pg_catalog")))
    });
    let no_grouping = matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty());
    let [item] = select.projection.as_slice() else {
        return None;
    };
    let (expr, alias) = match item {
        SelectItem::UnnamedExpr(e) => (e, None),
        SelectItem::ExprWithAlias { expr, alias } => (expr, Some(alias)),
        _ => return None,
    };
    if !over_catalogs || !no_grouping || select.having.is_some() || is_aggregate(expr) {
        return None;
    }
    let inner = from_names(select);
    let mut conjuncts = Vec::new();
    if let Some(selection) = &select.selection {
        split_and(selection, &mut conjuncts);
    }
    // outer column (as written) → the inner column it equals.
    let mut equal: Vec<(String, Expr)> = Vec::new();
    for c in &conjuncts {
        if let Expr::BinaryOp {
            left,
            op: BinaryOperator::Eq,
            right,
        } = c
        {
            match (qualifier(left), qualifier(right)) {
                (Some(l), Some(r)) if inner.contains(&l) && !inner.contains(&r) => {
                    equal.push((right.to_string(), (**left).clone()))
                }
                (Some(l), Some(r)) if inner.contains(&r) && !inner.contains(&l) => {
                    equal.push((left.to_string(), (**right).clone()))
                }
                _ => {}
            }
        }
    }
    let (mut kept, mut moved) = (Vec::new(), Vec::new());
    for mut c in conjuncts {
        let is_correlation = matches!(&c, Expr::BinaryOp { op: BinaryOperator::Eq, left, right }
            if equal.iter().any(|(outer, _)| *outer == left.to_string() || *outer == right.to_string()));
        if !is_correlation {
            let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(&mut c, |e| {
                if let Some((_, replacement)) = equal.iter().find(|(outer, _)| *outer == e.to_string()) {
                    *e = replacement.clone();
                }
                ControlFlow::<()>::Continue(())
            });
        }
        let qualifiers = qualifiers(&c);
        if !qualifiers.is_empty() && qualifiers.iter().all(|q| !inner.contains(q)) {
            moved.push(c);
        } else {
            kept.push(c);
        }
    }
    let wrapped = parse_expr(&format!("first_value({expr})")).ok()?;
    let mut query = query.clone();
    if let SetExpr::Select(select) = query.body.as_mut() {
        select.projection = vec![match alias {
            Some(alias) => SelectItem::ExprWithAlias {
                expr: wrapped,
                alias: alias.clone(),
            },
            None => SelectItem::UnnamedExpr(wrapped),
        }];
        select.selection = kept.into_iter().reduce(|a, b| Expr::BinaryOp {
            left: Box::new(a),
            op: BinaryOperator::And,
            right: Box::new(b),
        });
    }
    let subquery = Expr::Subquery(Box::new(query));
    if moved.is_empty() {
        return Some(subquery);
    }
    let condition = moved.iter().map(|c| format!("({c})")).collect::<Vec<_>>().join(" AND ");
    parse_expr(&format!("CASE WHEN {condition} THEN {subquery} END")).ok()
}

/// The names a select's FROM items go by (alias, else table name).
fn from_names(select: &datafusion::sql::sqlparser::ast::Select) -> Vec<String> {
    select
        .from
        .iter()
        .flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)))
        .filter_map(|f| match f {
            TableFactor::Table { name, alias, .. } => Some(match alias {
                Some(a) => a.name.value.to_ascii_lowercase(),
                None => name_parts(name).last().cloned().unwrap_or_default(),
            }),
            TableFactor::Derived { alias: Some(a), .. } => Some(a.name.value.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

fn split_and(expr: &Expr, out: &mut Vec<Expr>) {
    match expr {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            split_and(left, out);
            split_and(right, out);
        }
        Expr::Nested(inner) => split_and(inner, out),
        other => out.push(other.clone()),
    }
}

/// The table qualifier of `t.col`.
fn qualifier(expr: &Expr) -> Option<String> {
    match expr {
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => Some(parts[0].value.to_ascii_lowercase()),
        _ => None,
    }
}

/// Every table qualifier an expression's columns use.
fn qualifiers(expr: &Expr) -> Vec<String> {
    let mut expr = expr.clone();
    let mut found = Vec::new();
    let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(&mut expr, |e| {
        if let Some(q) = qualifier(e) {
            found.push(q);
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

fn is_aggregate(expr: &Expr) -> bool {
    let Expr::Function(f) = expr else { return false };
    let parts = name_parts(&f.name);
    matches!(
        parts.last().map(String::as_str),
        Some(
            "count"
                | "max"
                | "min"
                | "sum"
                | "avg"
                | "array_agg"
                | "string_agg"
                | "bool_and"
                | "bool_or"
                | "first_value"
                | "every"
        )
    )
}

/// `ARRAY(SELECT x FROM ... ORDER BY k)` as
/// `(SELECT array_agg(x ORDER BY k) FROM ...)`.
fn array_subquery(query: &Query) -> Result<Expr> {
    let mut query = query.clone();
    let order = query.order_by.take();
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Err(Error::not_supported(format!("ARRAY({query}) is not supported")));
    };
    let [item] = select.projection.as_slice() else {
        return Err(Error::not_supported("ARRAY() of a subquery with more than one column"));
    };
    let expr = match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e.clone(),
        _ => return Err(Error::not_supported("ARRAY() of SELECT *")),
    };
    // Correlated (`WHERE oid = ANY(pol.polroles)`): DataFusion cannot plan
    // it. Clients send these only over catalogs that are empty here
    // (policies, reloptions), so the answer is NULL, as theirs would be.
    let inner = from_names(select);
    let correlated = select
        .selection
        .as_ref()
        .is_some_and(|w| qualifiers(w).iter().any(|q| !inner.contains(q)));
    if correlated {
        return parse_expr("CAST(NULL AS TEXT[])");
    }
    // `ORDER BY 1` names the one column.
    let order = order
        .map(|o| o.to_string().replace("ORDER BY 1", &format!("ORDER BY {expr}")))
        .unwrap_or_default();
    select.projection = vec![SelectItem::UnnamedExpr(parse_expr(&format!(
        "array_agg({expr} {order})"
    ))?)];
    Ok(Expr::Subquery(Box::new(query)))
}

/// The `a` of `unnest(thermocline_expandarray(a))`.
fn expandarray_argument(expr: &Expr) -> Option<String> {
    let Expr::Function(unnest) = expr else { return None };
    if name_parts(&unnest.name) != ["unnest"] {
        return None;
    }
    let FunctionArguments::List(list) = &unnest.args else {
        return None;
    };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Function(inner)))] = list.args.as_slice() else {
        return None;
    };
    if name_parts(&inner.name) != ["thermocline_expandarray"] {
        return None;
    }
    let FunctionArguments::List(args) = &inner.args else {
        return None;
    };
    args.args.first().map(|a| a.to_string())
}

/// `'{1,2}'` as `make_array(1, 2)`.
fn array_literal(expr: &Expr) -> Option<Expr> {
    let Expr::Value(v) = expr else { return None };
    let Value::SingleQuotedString(s) = &v.value else {
        return None;
    };
    let body = s.trim().strip_prefix('{')?.strip_suffix('}')?;
    let items: Vec<String> = body
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(|i| match i.parse::<i64>() {
            Ok(n) => n.to_string(),
            Err(_) => quote_literal(i.trim_matches('"')),
        })
        .collect();
    parse_expr(&format!("make_array({})", items.join(", "))).ok()
}

fn is_string(expr: &Expr) -> bool {
    matches!(expr, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_) | Value::EscapedStringLiteral(_)))
}

fn references_column(arg: &FunctionArg) -> bool {
    let mut arg = arg.clone();
    let mut found = false;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(&mut arg, |e| {
        if matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
            found = true;
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

fn name_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) if i.quote_style.is_some() => i.value.clone(),
            ObjectNamePart::Identifier(i) => i.value.to_ascii_lowercase(),
            other => other.to_string(),
        })
        .collect()
}

fn is_system_schema(schema: &str) -> bool {
    schema == "pg_catalog" || schema == "information_schema"
}

fn is_set_function(name: &str) -> bool {
    matches!(
        name,
        "generate_series" | "unnest" | "generate_subscripts" | "_pg_expandarray"
    )
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn quote_identifier(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn parser(sql: &str) -> Result<Parser<'static>> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .map_err(|e| Error::internal(format!("rewriting a catalog query produced bad SQL: {e}: {sql}")))
}

fn parse_expr(sql: &str) -> Result<Expr> {
    parser(sql)?
        .parse_expr()
        .map_err(|e| Error::internal(format!("rewriting a catalog query produced bad SQL: {e}: {sql}")))
}

fn parse_query(sql: &str) -> Result<Query> {
    parser(sql)?
        .parse_query()
        .map(|q| *q)
        .map_err(|e| Error::internal(format!("rewriting a catalog query produced bad SQL: {e}: {sql}")))
}

fn parse_statement(sql: &str) -> Result<Statement> {
    parser(sql)?
        .parse_statement()
        .map_err(|e| Error::internal(format!("rewriting a catalog query produced bad SQL: {e}: {sql}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statement = parse_statement(sql).expect("parses");
        rewrite(&mut statement).expect("rewrites");
        statement.to_string()
    }

    #[test]
    fn psql_syntax() {
        assert_eq!(
            rewritten(
                "SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relname OPERATOR(pg_catalog.~) '^(t)$' COLLATE pg_catalog.default"
            ),
            "SELECT c.oid FROM pg_catalog.pg_class c WHERE c.relname ~ '^(t)$'"
        );
        assert_eq!(
            rewritten("SELECT typname FROM pg_type WHERE oid = 't'::regclass"),
            "SELECT typname FROM pg_catalog.pg_type WHERE oid = thermocline_regclass_in('t')"
        );
        assert_eq!(
            rewritten(
                "SELECT pg_catalog.format_type(a.atttypid, a.atttypmod), c.oid::pg_catalog.regclass::pg_catalog.text FROM x"
            ),
            "SELECT format_type(a.atttypid, a.atttypmod), CAST(thermocline_regclass_out(c.oid) AS TEXT) FROM x"
        );
    }

    #[test]
    fn settings() {
        assert_eq!(rewritten("SET extra_float_digits = 3"), "SET pg.extra_float_digits = 3");
        assert_eq!(
            rewritten("SHOW TRANSACTION ISOLATION LEVEL"),
            "SELECT current_setting('transaction_isolation') AS \"transaction_isolation\""
        );
        assert_eq!(
            rewritten("SET datafusion.execution.batch_size = 10"),
            "SET datafusion.execution.batch_size = 10"
        );
    }
}
