//! Our parsing step in front of DataFusion's planner.
//!
//! SQL text is split into statements with sqlparser's PostgreSQL dialect.
//! Statements DataFusion does not own (CREATE TABLE with an Iceberg
//! partition spec, DROP TABLE, CREATE SCHEMA, CHECKPOINT) become
//! [`Command`]s that the session runs itself; everything else is handed to
//! DataFusion as an already-parsed AST.

pub mod bytea;
pub mod ddl;
pub mod period;
pub mod pg_types;
pub mod table_args;
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
    DropTable {
        names: Vec<ObjectName>,
        if_exists: bool,
    },
    /// `DESCRIBE t`: columns with their PostgreSQL types and NOT NULL, from
    /// the Iceberg schema (the table of record).
    Describe(ObjectName),
    /// `CREATE SCHEMA [IF NOT EXISTS] s`: an Iceberg namespace.
    CreateSchema {
        name: String,
        if_not_exists: bool,
    },
    /// `ALTER TABLE t ADD/DROP/RENAME COLUMN ...`: Iceberg schema evolution.
    AlterTable(Box<datafusion::sql::sqlparser::ast::AlterTable>),
    /// `BEGIN` / `START TRANSACTION`.
    Begin,
    /// `COMMIT` / `END`.
    Commit,
    /// `ROLLBACK` / `ABORT`.
    Rollback,
    /// `SAVEPOINT name`.
    Savepoint(String),
    /// `RELEASE [SAVEPOINT] name`.
    Release(String),
    /// `ROLLBACK TO [SAVEPOINT] name`.
    RollbackTo(String),
    /// `INSERT`, `UPDATE`, `DELETE`: checked and staged by [`crate::dml`].
    Insert(Box<datafusion::sql::sqlparser::ast::Insert>),
    Update(Box<Statement>),
    Delete(Box<Statement>),
    /// Anything DataFusion plans: queries, INSERT, EXPLAIN, SHOW, DESCRIBE.
    DataFusion(Box<Statement>),
}

impl Command {
    /// The command tag of a statement that writes (data, tables or
    /// schemas), for the error a read-only warehouse gives; `None` for
    /// queries, transaction control and DESCRIBE.
    pub fn write_tag(&self) -> Option<&'static str> {
        match self {
            Command::Checkpoint(_) => Some("CHECKPOINT"),
            Command::CreateTable(_) => Some("CREATE TABLE"),
            Command::DropTable { .. } => Some("DROP TABLE"),
            Command::CreateSchema { .. } => Some("CREATE SCHEMA"),
            Command::AlterTable(_) => Some("ALTER TABLE"),
            Command::Insert(_) => Some("INSERT"),
            Command::Update(_) => Some("UPDATE"),
            Command::Delete(_) => Some("DELETE"),
            Command::Describe(_)
            | Command::Begin
            | Command::Commit
            | Command::Rollback
            | Command::Savepoint(_)
            | Command::Release(_)
            | Command::RollbackTo(_)
            | Command::DataFusion(_) => None,
        }
    }
}

/// Split `sql` into statements and classify each.
pub fn parse(sql: &str) -> Result<Vec<Command>> {
    let mut commands = Vec::new();
    for statement in split(sql)? {
        parse_one(statement.text, Some(statement.first_word), &mut commands)?;
    }
    Ok(commands)
}

/// One statement of a script, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementText<'a> {
    /// The statement's text, without its `;`.
    pub text: &'a str,
    /// The 1-based line of the script its first token is on.
    pub line: u64,
    /// Its first word, lower-cased (empty when it starts with a symbol).
    first_word: String,
}

/// Cut `sql` into its statements; ones of only whitespace and comments are
/// left out.
///
/// Statements are cut out of the original text at top-level `;` tokens (the
/// tokenizer knows strings, comments and dollar quotes), never rebuilt from
/// tokens: that would lose escapes such as `'o''brien'`.
pub fn split(sql: &str) -> Result<Vec<StatementText<'_>>> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| Error::new(ErrorKind::Plan, format!("syntax error: {e}")))?;
    let offsets = LineIndex::new(sql);
    let mut statements = Vec::new();
    let mut start = 0;
    // The first word and line of the statement being read.
    let mut first: Option<(String, u64)> = None;
    for token in &tokens {
        match &token.token {
            Token::SemiColon => {
                let end = offsets.offset(token.span.start.line, token.span.start.column);
                if let Some((first_word, line)) = first.take() {
                    statements.push(StatementText {
                        text: &sql[start..end],
                        line,
                        first_word,
                    });
                }
                start = end + 1;
            }
            Token::Whitespace(_) => {}
            _ if first.is_none() => {
                let word = match &token.token {
                    Token::Word(w) => w.value.to_lowercase(),
                    _ => String::new(),
                };
                first = Some((word, token.span.start.line));
            }
            _ => {}
        }
    }
    if let Some((first_word, line)) = first {
        statements.push(StatementText {
            text: &sql[start.min(sql.len())..],
            line,
            first_word,
        });
    }
    Ok(statements)
}

fn parse_one(text: &str, first_word: Option<String>, commands: &mut Vec<Command>) -> Result<()> {
    let dialect = PostgreSqlDialect {};
    match first_word.as_deref() {
        None => Ok(()), // only whitespace and comments
        Some("checkpoint") => {
            let mut parser = Parser::new(&dialect)
                .try_with_sql(text)
                .map_err(|e| Error::plan(format!("syntax error: {e}")))?;
            parser.next_token(); // CHECKPOINT
            let target = if parser.peek_token().token == Token::EOF {
                None
            } else {
                Some(
                    parser
                        .parse_object_name(false)
                        .map_err(|e| Error::plan(format!("CHECKPOINT takes an optional table name: {e}")))?,
                )
            };
            if parser.peek_token().token != Token::EOF {
                return Err(Error::plan("CHECKPOINT takes an optional table name and nothing else"));
            }
            commands.push(Command::Checkpoint(target));
            Ok(())
        }
        Some(_) => {
            let text = period::rewrite(text)?;
            let statements = Parser::new(&dialect)
                .try_with_sql(&text)
                .and_then(|mut p| p.parse_statements())
                .map_err(|e| Error::new(ErrorKind::Plan, format!("syntax error: {e}")))?;
            for statement in statements {
                commands.push(classify(statement)?);
            }
            Ok(())
        }
    }
}

/// Maps the tokenizer's (line, column) positions, both 1-based and counted
/// in characters, to byte offsets in the text.
pub(crate) struct LineIndex {
    /// Byte offset of the first character of each line.
    line_starts: Vec<usize>,
    text: String,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        for (i, c) in text.char_indices() {
            if c == '\n' {
                line_starts.push(i + 1);
            }
        }
        Self {
            line_starts,
            text: text.to_string(),
        }
    }

    fn offset(&self, line: u64, column: u64) -> usize {
        let line_start = self
            .line_starts
            .get(line.saturating_sub(1) as usize)
            .copied()
            .unwrap_or(self.text.len());
        self.text[line_start..]
            .char_indices()
            .nth(column.saturating_sub(1) as usize)
            .map_or(self.text.len(), |(i, _)| line_start + i)
    }
}

fn classify(statement: Statement) -> Result<Command> {
    Ok(match statement {
        Statement::CreateTable(create) => Command::CreateTable(Box::new(create)),
        Statement::AlterTable(alter) => Command::AlterTable(Box::new(alter)),
        Statement::ExplainTable { table_name, .. } => Command::Describe(table_name),
        Statement::StartTransaction { .. } => Command::Begin,
        Statement::Commit { chain: false, .. } => Command::Commit,
        Statement::Rollback {
            chain: false,
            savepoint: None,
        } => Command::Rollback,
        Statement::Rollback {
            chain: false,
            savepoint: Some(name),
        } => Command::RollbackTo(name.value),
        Statement::Savepoint { name } => Command::Savepoint(name.value),
        Statement::ReleaseSavepoint { name } => Command::Release(name.value),
        Statement::Commit { .. } | Statement::Rollback { .. } => {
            return Err(Error::not_supported("COMMIT/ROLLBACK AND CHAIN is not supported"));
        }
        Statement::Insert(insert) => Command::Insert(Box::new(insert)),
        statement @ Statement::Update(_) => Command::Update(Box::new(statement)),
        statement @ Statement::Delete(_) => Command::Delete(Box::new(statement)),
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
        assert!(matches!(&commands[1], Command::Insert(_)));
        assert!(matches!(&commands[2], Command::Checkpoint(None)));
        assert!(matches!(&commands[3], Command::Checkpoint(Some(n)) if n.to_string() == "s.t"));
        assert!(matches!(&commands[4], Command::DataFusion(_)));
        Ok(())
    }

    #[test]
    fn quotes_and_semicolons_inside_strings_survive_the_split() -> Result<()> {
        let commands = parse("SELECT 'o''brien; x'; -- done;\nSELECT $$a;b$$, 'é;' /* ; */ ;")?;
        assert_eq!(commands.len(), 2);
        let Command::DataFusion(first) = &commands[0] else {
            panic!("expected a query");
        };
        assert_eq!(first.to_string(), "SELECT 'o''brien; x'");
        Ok(())
    }

    #[test]
    fn split_keeps_the_text_and_the_line_of_each_statement() -> Result<()> {
        let script = "-- users\nCREATE TABLE u (id int);\n\n  INSERT INTO u VALUES (1); /* done */ ;\nSELECT 'a;b'";
        let statements = split(script)?;
        let got: Vec<(&str, u64)> = statements.iter().map(|s| (s.text.trim(), s.line)).collect();
        assert_eq!(
            got,
            [
                ("-- users\nCREATE TABLE u (id int)", 2),
                ("INSERT INTO u VALUES (1)", 4),
                ("SELECT 'a;b'", 5)
            ]
        );
        Ok(())
    }

    #[test]
    fn syntax_errors_say_where() {
        let err = parse("SELEC 1").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Plan);
        assert!(err.to_string().contains("Line: 1"), "{err}");
    }
}
