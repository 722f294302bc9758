//! Period clauses after a table name (SQL:2011 system versioning, and
//! Trino's Iceberg spelling):
//!
//! ```sql
//! t FOR SYSTEM_TIME AS OF <ts>          -- also FOR TIMESTAMP AS OF <ts>
//! t FOR SYSTEM_TIME BETWEEN <a> AND <b> -- versions live at some instant of [a, b]
//! t FOR SYSTEM_TIME FROM <a> TO <b>     -- ... of [a, b)
//! t FOR SYSTEM_TIME ALL
//! t FOR VERSION AS OF <snapshot id>     -- also FOR SYSTEM_VERSION AS OF
//! ```
//!
//! sqlparser's PostgreSQL dialect parses none of these, so [`rewrite`], a
//! token-level pass over one statement's text, turns each into the
//! table-function call `thermocline_history(t, 'as of', <ts>)`, which it
//! does parse. Bounds are found with sqlparser's own expression parser and
//! copied from the original text (never rebuilt from tokens, which would
//! lose escapes). The session then takes the calls back out of the AST with
//! [`take_history_refs`] and reads the table's history in their place.

use std::borrow::Cow;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, Ident, ObjectName, ObjectNamePart, TableAlias, TableFactor, TableFunctionArgs,
    Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::{Dialect, PostgreSqlDialect, Precedence};
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer};

use super::LineIndex;
use crate::error::{Error, ErrorKind, Result};

/// The table function a period clause becomes.
pub const FUNCTION: &str = "thermocline_history";

/// Which part of the history a clause asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryKind {
    AsOf,
    Between,
    FromTo,
    All,
    Version,
}

impl HistoryKind {
    fn code(self) -> &'static str {
        match self {
            HistoryKind::AsOf => "as of",
            HistoryKind::Between => "between",
            HistoryKind::FromTo => "from to",
            HistoryKind::All => "all",
            HistoryKind::Version => "version",
        }
    }

    fn from_code(code: &str) -> Option<Self> {
        [Self::AsOf, Self::Between, Self::FromTo, Self::All, Self::Version]
            .into_iter()
            .find(|k| k.code() == code)
    }

    fn bounds(self) -> usize {
        match self {
            HistoryKind::All => 0,
            HistoryKind::AsOf | HistoryKind::Version => 1,
            HistoryKind::Between | HistoryKind::FromTo => 2,
        }
    }
}

/// One table read at a period of its history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRef {
    pub table: ObjectName,
    pub kind: HistoryKind,
    pub bounds: Vec<Expr>,
}

fn syntax(message: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Plan, format!("syntax error: {message}"))
}

fn is_word(token: &Token, keyword: Keyword) -> bool {
    matches!(token, Token::Word(w) if w.keyword == keyword && w.quote_style.is_none())
}

/// `SYSTEM_VERSION` is no sqlparser keyword: compare the word itself.
fn is_system_version(token: &Token) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("system_version"))
}

/// Rewrite every period clause of one statement's text (see the module
/// docs). Text without one comes back borrowed.
pub fn rewrite(text: &str) -> Result<Cow<'_, str>> {
    let lower = text.to_ascii_lowercase();
    if !["system_time", "version", "timestamp"]
        .iter()
        .any(|w| lower.contains(w))
        || !lower.contains("for")
    {
        return Ok(Cow::Borrowed(text));
    }
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, text)
        .tokenize_with_location()
        .map_err(syntax)?;
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|i| !matches!(tokens[*i].token, Token::Whitespace(_)))
        .collect();
    let index = LineIndex::new(text);
    let start_of = |t: &TokenWithSpan| index.offset(t.span.start.line, t.span.start.column);
    let end_of = |t: &TokenWithSpan| index.offset(t.span.end.line, t.span.end.column);
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let mut s = 0;
    while s + 1 < significant.len() {
        let (for_token, kind_token) = (&tokens[significant[s]].token, &tokens[significant[s + 1]].token);
        // Only a FOR followed by one of the forms: `substring(s FROM 1 FOR
        // version)` stays what it is.
        let then = |k: usize| significant.get(s + k).map(|i| &tokens[*i].token);
        let as_of =
            then(2).is_some_and(|t| is_word(t, Keyword::AS)) && then(3).is_some_and(|t| is_word(t, Keyword::OF));
        let clause = is_word(for_token, Keyword::FOR)
            && if is_word(kind_token, Keyword::SYSTEM_TIME) {
                as_of
                    || then(2).is_some_and(|t| {
                        [Keyword::BETWEEN, Keyword::FROM, Keyword::ALL]
                            .iter()
                            .any(|k| is_word(t, *k))
                    })
            } else {
                (is_word(kind_token, Keyword::VERSION)
                    || is_word(kind_token, Keyword::TIMESTAMP)
                    || is_system_version(kind_token))
                    && as_of
            };
        if !clause {
            s += 1;
            continue;
        }
        // The table name right before FOR: word (. word)*.
        let mut first = s;
        while first >= 1 && matches!(tokens[significant[first - 1]].token, Token::Word(_)) {
            first -= 1;
            if first >= 1 && tokens[significant[first - 1]].token == Token::Period {
                first -= 1;
            } else {
                break;
            }
        }
        if first == s {
            return Err(syntax("FOR SYSTEM_TIME must follow a table name"));
        }
        // The name must be the table's, right after FROM, JOIN, `,` or `(`:
        // `t x FOR ...` or `t AS x FOR ...` put the alias first.
        let after_from = first >= 1
            && match &tokens[significant[first - 1]].token {
                Token::Comma | Token::LParen => true,
                t => is_word(t, Keyword::FROM) || is_word(t, Keyword::JOIN),
            };
        if !after_from {
            return Err(syntax(
                "a period clause (FOR SYSTEM_TIME, FOR VERSION) goes right after the table name, before any alias",
            ));
        }
        let name = &text[start_of(&tokens[significant[first]])..end_of(&tokens[significant[s - 1]])];
        let after_kind = significant[s + 1] + 1;
        let (kind, bounds, end) = clause_at(&dialect, &tokens, after_kind, kind_token)?;
        let bounds_text: Vec<&str> = bounds
            .iter()
            .map(|(a, b)| &text[start_of(&tokens[*a])..end_of(&tokens[*b])])
            .collect();
        let mut call = format!("{FUNCTION}({name}, '{}'", kind.code());
        for bound in bounds_text {
            call.push_str(", ");
            call.push_str(bound);
        }
        call.push(')');
        edits.push((start_of(&tokens[significant[first]]), end_of(&tokens[end]), call));
        s = significant.iter().position(|i| *i > end).unwrap_or(significant.len());
    }
    if edits.is_empty() {
        return Ok(Cow::Borrowed(text));
    }
    let mut out = text.to_string();
    for (start, end, call) in edits.into_iter().rev() {
        out.replace_range(start..end, &call);
    }
    Ok(Cow::Owned(out))
}

/// A parsed clause: its kind, each bound's first and last token index, and
/// the clause's last token index.
type Clause = (HistoryKind, Vec<(usize, usize)>, usize);

/// Parse the clause after `FOR <kind>` starting at token `at`.
fn clause_at(dialect: &PostgreSqlDialect, tokens: &[TokenWithSpan], at: usize, kind_token: &Token) -> Result<Clause> {
    let mut parser = Parser::new(dialect).with_tokens_with_locations(tokens[at..].to_vec());
    let between = dialect.prec_value(Precedence::Between);
    // Token index (in `tokens`) of the last token the parser consumed.
    let last = |p: &Parser<'_>| -> usize {
        let mut i = at + p.index();
        while i > at && matches!(tokens[i - 1].token, Token::Whitespace(_)) {
            i -= 1;
        }
        i.saturating_sub(1)
    };
    // Token index of the next significant token.
    let next = |p: &Parser<'_>| -> usize {
        let mut i = at + p.index();
        while i < tokens.len() && matches!(tokens[i].token, Token::Whitespace(_)) {
            i += 1;
        }
        i
    };
    let bound = |p: &mut Parser<'_>, precedence: Option<u8>, what: &str| -> Result<(usize, usize)> {
        let first = next(p);
        let parsed = match precedence {
            Some(prec) => p.parse_subexpr(prec),
            None => p.parse_expr(),
        };
        parsed.map_err(|e| syntax(format!("{what}: {e}")))?;
        Ok((first, last(p)))
    };
    let timestamp = is_word(kind_token, Keyword::TIMESTAMP);
    let version = is_word(kind_token, Keyword::VERSION) || is_system_version(kind_token);
    if timestamp || version {
        if !parser.parse_keywords(&[Keyword::AS, Keyword::OF]) {
            return Err(syntax("expected AS OF after FOR VERSION / FOR TIMESTAMP"));
        }
        let b = bound(&mut parser, None, "expected an expression after AS OF")?;
        let kind = if version {
            HistoryKind::Version
        } else {
            HistoryKind::AsOf
        };
        return Ok((kind, vec![b], b.1));
    }
    if parser.parse_keywords(&[Keyword::AS, Keyword::OF]) {
        let b = bound(&mut parser, None, "expected a timestamp after FOR SYSTEM_TIME AS OF")?;
        return Ok((HistoryKind::AsOf, vec![b], b.1));
    }
    if parser.parse_keyword(Keyword::ALL) {
        return Ok((HistoryKind::All, Vec::new(), last(&parser)));
    }
    let (kind, separator) = if parser.parse_keyword(Keyword::BETWEEN) {
        (HistoryKind::Between, Keyword::AND)
    } else if parser.parse_keyword(Keyword::FROM) {
        (HistoryKind::FromTo, Keyword::TO)
    } else {
        return Err(syntax("expected AS OF, BETWEEN, FROM or ALL after FOR SYSTEM_TIME"));
    };
    let a = bound(&mut parser, Some(between), "expected the period's start")?;
    if !parser.parse_keyword(separator) {
        return Err(syntax(format!("expected {separator:?} after the period's start")));
    }
    let b = bound(&mut parser, Some(between), "expected the period's end")?;
    Ok((kind, vec![a, b], b.1))
}

/// Take the `thermocline_history(...)` calls [`rewrite`] made out of
/// `statement`: the `i`-th becomes the table-function call
/// `<scan_function>('<key_for(i)>')`, aliased as the user wrote or as the
/// table's own name (so `t.col` works).
pub fn take_history_refs<T: VisitMut>(
    statement: &mut T,
    scan_function: &str,
    key_for: impl FnMut(usize) -> String,
) -> Result<Vec<HistoryRef>> {
    let mut taker = Taker {
        scan_function: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(scan_function))]),
        key_for,
        refs: Vec::new(),
    };
    match statement.visit(&mut taker) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(taker.refs),
    }
}

struct Taker<F> {
    scan_function: ObjectName,
    key_for: F,
    refs: Vec<HistoryRef>,
}

impl<F: FnMut(usize) -> String> VisitorMut for Taker<F> {
    type Break = Error;

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<Error> {
        let TableFactor::Table { name, alias, args, .. } = factor else {
            return ControlFlow::Continue(());
        };
        let is_history = args.is_some()
            && matches!(name.0.as_slice(), [ObjectNamePart::Identifier(i)] if i.value.eq_ignore_ascii_case(FUNCTION));
        if !is_history {
            return ControlFlow::Continue(());
        }
        let reference = match args.as_ref().map(|a| history_ref(&a.args)) {
            Some(Ok(r)) => r,
            Some(Err(e)) => return ControlFlow::Break(e),
            None => return ControlFlow::Continue(()),
        };
        if alias.is_none()
            && let Some(ObjectNamePart::Identifier(last)) = reference.table.0.last()
        {
            *alias = Some(TableAlias {
                explicit: true,
                name: last.clone(),
                columns: Vec::new(),
                at: None,
            });
        }
        *name = self.scan_function.clone();
        let key = Expr::Value(Value::SingleQuotedString((self.key_for)(self.refs.len())).into());
        *args = Some(TableFunctionArgs {
            args: vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(key))],
            settings: None,
        });
        self.refs.push(reference);
        ControlFlow::Continue(())
    }
}

fn history_ref(args: &[FunctionArg]) -> Result<HistoryRef> {
    let exprs: Vec<&Expr> = args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
            other => Err(Error::plan(format!("{FUNCTION}: unexpected argument {other}"))),
        })
        .collect::<Result<_>>()?;
    let table = match exprs.first() {
        Some(Expr::Identifier(i)) => ObjectName(vec![ObjectNamePart::Identifier(i.clone())]),
        Some(Expr::CompoundIdentifier(parts)) => {
            ObjectName(parts.iter().cloned().map(ObjectNamePart::Identifier).collect())
        }
        _ => return Err(Error::plan(format!("{FUNCTION} needs a table name first"))),
    };
    let kind = match exprs.get(1) {
        Some(Expr::Value(v)) => match &v.value {
            Value::SingleQuotedString(code) => HistoryKind::from_code(code),
            _ => None,
        },
        _ => None,
    }
    .ok_or_else(|| Error::plan(format!("{FUNCTION}: unknown period kind")))?;
    let bounds: Vec<Expr> = exprs.iter().skip(2).map(|e| (*e).clone()).collect();
    if bounds.len() != kind.bounds() {
        return Err(Error::plan(format!(
            "{FUNCTION}: {} takes {} bounds, not {}",
            kind.code(),
            kind.bounds(),
            bounds.len()
        )));
    }
    Ok(HistoryRef { table, kind, bounds })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        rewrite(sql).expect("rewrites").into_owned()
    }

    #[test]
    fn every_form_becomes_a_call() {
        assert_eq!(
            rewritten("SELECT * FROM t FOR SYSTEM_TIME AS OF TIMESTAMP '2026-01-22 10:00:00' WHERE a = 1"),
            "SELECT * FROM thermocline_history(t, 'as of', TIMESTAMP '2026-01-22 10:00:00') WHERE a = 1"
        );
        assert_eq!(
            rewritten("select * from s.\"T\" for system_time between now() - interval '1 day' and now() AS x"),
            "select * from thermocline_history(s.\"T\", 'between', now() - interval '1 day', now()) AS x"
        );
        assert_eq!(
            rewritten("SELECT 1 FROM t FOR SYSTEM_TIME FROM $1 TO $2"),
            "SELECT 1 FROM thermocline_history(t, 'from to', $1, $2)"
        );
        assert_eq!(
            rewritten("SELECT 1 FROM t FOR SYSTEM_TIME ALL JOIN u ON true"),
            "SELECT 1 FROM thermocline_history(t, 'all') JOIN u ON true"
        );
        assert_eq!(
            rewritten("SELECT 1 FROM t FOR VERSION AS OF 42"),
            "SELECT 1 FROM thermocline_history(t, 'version', 42)"
        );
        assert_eq!(
            rewritten("SELECT 1 FROM t FOR TIMESTAMP AS OF (SELECT max(ts) FROM u)"),
            "SELECT 1 FROM thermocline_history(t, 'as of', (SELECT max(ts) FROM u))"
        );
    }

    #[test]
    fn strings_comments_and_other_for_clauses_are_untouched() {
        let sql = "SELECT 'FOR SYSTEM_TIME AS OF x' -- FOR SYSTEM_TIME ALL\nFROM t FOR UPDATE";
        assert!(matches!(rewrite(sql), Ok(Cow::Borrowed(_))));
        let sql = "SELECT substring(s FROM 1 FOR version), substring(s FROM 2 FOR timestamp) FROM t";
        assert!(matches!(rewrite(sql), Ok(Cow::Borrowed(_))));
        assert_eq!(
            rewritten("SELECT 'o''brien' FROM t FOR SYSTEM_TIME AS OF 'x''y'"),
            "SELECT 'o''brien' FROM thermocline_history(t, 'as of', 'x''y')"
        );
    }

    #[test]
    fn malformed_clauses_are_syntax_errors() {
        for sql in [
            "SELECT * FROM t FOR SYSTEM_TIME AS OF",
            "SELECT * FROM t FOR SYSTEM_TIME BETWEEN 1",
            "SELECT * FROM t FOR SYSTEM_TIME AS OF 1 +",
            "SELECT * FROM t AS x FOR SYSTEM_TIME ALL",
            "SELECT * FROM t x FOR SYSTEM_TIME ALL",
        ] {
            let err = rewrite(sql).expect_err(sql);
            assert!(err.to_string().starts_with("syntax error"), "{sql}: {err}");
        }
    }

    #[test]
    fn calls_come_back_out_of_the_ast() -> Result<()> {
        let sql = rewritten(
            "WITH c AS (SELECT * FROM s.t FOR SYSTEM_TIME AS OF $1) \
             SELECT * FROM c JOIN u FOR SYSTEM_TIME BETWEEN 1 AND 2 AS v ON true \
             WHERE EXISTS (SELECT 1 FROM w FOR VERSION AS OF 7)",
        );
        let mut commands = crate::sql::parse(&sql)?;
        let Some(crate::sql::Command::DataFusion(statement)) = commands.first_mut() else {
            panic!("expected a query");
        };
        let refs = take_history_refs(statement.as_mut(), "scan", |i| format!("h{i}"))?;
        let summary: Vec<(String, HistoryKind, Vec<String>)> = refs
            .iter()
            .map(|r| {
                (
                    r.table.to_string(),
                    r.kind,
                    r.bounds.iter().map(|b| b.to_string()).collect(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("s.t".to_string(), HistoryKind::AsOf, vec!["$1".to_string()]),
                (
                    "u".to_string(),
                    HistoryKind::Between,
                    vec!["1".to_string(), "2".to_string()]
                ),
                ("w".to_string(), HistoryKind::Version, vec!["7".to_string()]),
            ]
        );
        let text = statement.to_string();
        assert!(text.contains("FROM scan('h0') AS t"), "{text}");
        assert!(text.contains("JOIN scan('h1') AS v"), "{text}");
        assert!(text.contains("FROM scan('h2') AS w"), "{text}");
        Ok(())
    }
}
