//! Our parsing step in front of DataFusion's planner.
//!
//! SQL text is split into statements with sqlparser's PostgreSQL dialect.
//! Statements DataFusion does not own (CREATE TABLE with an Iceberg
//! partition spec, DROP TABLE, CREATE SCHEMA, CHECKPOINT) become
//! [`Command`]s that the session runs itself; everything else is handed to
//! DataFusion as an already-parsed AST.

pub mod ddl;
pub mod types;

use datafusion::sql::sqlparser::ast::{ObjectName, ObjectType, SchemaName, Statement};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::{Error, ErrorKind, Result};

/// One statement, classified.
#[derive(Debug, Clone)]
pub enum Command {
    /// `CHECKPOINT [table]`: compact now (one table, or all).
    Checkpoint(Option<ObjectName>),
    /// `CREATE TABLE ...` (with columns, or `AS SELECT`).
    CreateTable(Box<datafusion::sql::sqlparser::ast::CreateTable>),
    /// `DROP TABLE [IF EXISTS] a, b`.
    DropTable { names: Vec<ObjectName>, if_exists: bool },
    /// `CREATE SCHEMA [IF NOT EXISTS] s`: an Iceberg namespace.
    CreateSchema { name: String, if_not_exists: bool },
    /// Anything DataFusion plans: queries, INSERT, EXPLAIN, SHOW, DESCRIBE.
    DataFusion(Box<Statement>),
}

/// Split `sql` into statements and classify each.
pub fn parse(sql: &str) -> Result<Vec<Command>> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| Error::new(ErrorKind::Plan, format!("syntax error: {e}")))?;
    let mut commands = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let mut flush = |current: &mut Vec<Token>| -> Result<()> {
        let meaningful: Vec<&Token> = current.iter().filter(|t| !matches!(t, Token::Whitespace(_))).collect();
        if meaningful.is_empty() {
            current.clear();
            return Ok(());
        }
        if let Some(Token::Word(w)) = meaningful.first()
            && w.value.eq_ignore_ascii_case("checkpoint")
        {
            let target = match &meaningful[1..] {
                [] => None,
                rest => {
                    let text: String = rest.iter().map(|t| t.to_string()).collect::<Vec<_>>().join("");
                    let name = Parser::new(&dialect)
                        .try_with_sql(&text)
                        .and_then(|mut p| p.parse_object_name(false))
                        .map_err(|e| Error::plan(format!("CHECKPOINT takes an optional table name: {e}")))?;
                    Some(name)
                }
            };
            commands.push(Command::Checkpoint(target));
            current.clear();
            return Ok(());
        }
        let text: String = current.iter().map(|t| t.to_string()).collect();
        current.clear();
        let statements = Parser::new(&dialect)
            .try_with_sql(&text)
            .and_then(|mut p| p.parse_statements())
            .map_err(|e| Error::new(ErrorKind::Plan, format!("syntax error: {e}")))?;
        for statement in statements {
            commands.push(classify(statement)?);
        }
        Ok(())
    };
    for token in tokens {
        if token.token == Token::SemiColon {
            flush(&mut current)?;
        } else {
            current.push(token.token);
        }
    }
    flush(&mut current)?;
    Ok(commands)
}

fn classify(statement: Statement) -> Result<Command> {
    Ok(match statement {
        Statement::CreateTable(create) => Command::CreateTable(Box::new(create)),
        Statement::Drop {
            object_type: ObjectType::Table,
            if_exists,
            names,
            ..
        } => Command::DropTable { names, if_exists },
        Statement::CreateSchema {
            schema_name,
            if_not_exists,
            ..
        } => {
            let name = match schema_name {
                SchemaName::Simple(name) => name,
                other => return Err(Error::not_supported(format!("CREATE SCHEMA {other} is not supported"))),
            };
            Command::CreateSchema {
                name: normalize_name(&name)?.join("."),
                if_not_exists,
            }
        }
        other => Command::DataFusion(Box::new(other)),
    })
}

/// Identifier parts, lower-cased unless quoted (PostgreSQL's rule).
pub fn normalize_name(name: &ObjectName) -> Result<Vec<String>> {
    name.0
        .iter()
        .map(|part| {
            let ident = part
                .as_ident()
                .ok_or_else(|| Error::plan(format!("unexpected name {name}")))?;
            Ok(if ident.quote_style.is_some() {
                ident.value.clone()
            } else {
                ident.value.to_lowercase()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_classifies() -> Result<()> {
        let commands = parse(
            "CREATE TABLE t (ts timestamptz NOT NULL, tenant int) PARTITION BY (day(ts), bucket(4, tenant));
             INSERT INTO t VALUES (now(), 1); checkpoint; CHECKPOINT s.t; SELECT ';' FROM t",
        )?;
        assert_eq!(commands.len(), 5);
        assert!(matches!(&commands[0], Command::CreateTable(c) if c.partition_by.is_some()));
        assert!(matches!(&commands[1], Command::DataFusion(_)));
        assert!(matches!(&commands[2], Command::Checkpoint(None)));
        assert!(matches!(&commands[3], Command::Checkpoint(Some(n)) if n.to_string() == "s.t"));
        assert!(matches!(&commands[4], Command::DataFusion(_)));
        Ok(())
    }

    #[test]
    fn syntax_errors_say_where() {
        let err = parse("SELEC 1").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Plan);
        assert!(err.to_string().contains("Line: 1"), "{err}");
    }
}
