//! `COPY t [(cols)] FROM STDIN` and `COPY t | (query) TO STDOUT`, in
//! PostgreSQL's text and CSV formats.
//!
//! COPY FROM collects the client's data until CopyDone, parses it into one
//! batch of the table's columns and inserts it as one statement: one
//! acknowledgement, the same checks as INSERT, and inside BEGIN part of
//! the transaction. A value that does not parse is reported with its line
//! and column, as PostgreSQL does, and nothing is inserted.

use std::fmt::Debug;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, FixedSizeListArray, Float32Array, RecordBatch, StringArray, new_null_array,
};
use arrow::compute::CastOptions;
use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use bytes::Bytes;
use datafusion::sql::sqlparser::ast::{
    CopyLegacyCsvOption, CopyLegacyOption, CopyOption, CopySource, CopyTarget, ObjectName, Statement,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use futures::{Sink, SinkExt, stream};
use pgwire::api::ClientInfo;
use pgwire::api::copy::CopyHandler;
use pgwire::api::results::{CopyResponse, FieldFormat, Response, Tag};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};

use super::encode::Column;
use super::handler::{Connection, to_pg_error};
use crate::error::{Error, ErrorKind, Result};
use crate::sql::pg_types;

/// Data a COPY FROM may send before we refuse it (it is held in memory
/// until CopyDone).
const MAX_COPY_BYTES: usize = 1 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    Text,
    Csv,
}

/// A parsed COPY statement.
#[derive(Debug, Clone)]
pub struct CopyCommand {
    /// FROM STDIN (true) or TO STDOUT.
    pub from_stdin: bool,
    /// The table (COPY FROM, or COPY t TO).
    pub table: Option<ObjectName>,
    /// Its listed columns (empty: all).
    pub columns: Vec<String>,
    /// `COPY (query) TO STDOUT`.
    pub query: Option<String>,
    pub format: CopyFormat,
    pub delimiter: char,
    pub null: String,
    pub header: bool,
    pub quote: char,
    pub escape: char,
}

impl CopyCommand {
    /// `Some` for a COPY statement (`None` for anything else).
    pub fn parse(sql: &str) -> Result<Option<Self>> {
        let first = sql
            .trim_start()
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or_default();
        if !first.eq_ignore_ascii_case("copy") {
            return Ok(None);
        }
        let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .map_err(|e| Error::new(ErrorKind::Plan, format!("syntax error in COPY: {e}")))?;
        let [
            Statement::Copy {
                source,
                to,
                target,
                options,
                legacy_options,
                ..
            },
        ] = statements.as_slice()
        else {
            return Err(Error::new(ErrorKind::Plan, "expected one COPY statement"));
        };
        match (to, target) {
            (false, CopyTarget::Stdin) | (true, CopyTarget::Stdout) => {}
            (_, other) => {
                return Err(Error::new(
                    ErrorKind::NotSupported,
                    format!(
                        "COPY {} {other} is not supported over the wire: use STDIN/STDOUT (psql's \\copy reads and writes client files)",
                        if *to { "TO" } else { "FROM" }
                    ),
                ));
            }
        }
        let mut command = CopyCommand {
            from_stdin: !to,
            table: None,
            columns: Vec::new(),
            query: None,
            format: CopyFormat::Text,
            delimiter: '\t',
            null: "\\N".to_string(),
            header: false,
            quote: '"',
            escape: '"',
        };
        match source {
            CopySource::Table { table_name, columns } => {
                command.table = Some(table_name.clone());
                command.columns = columns.iter().map(|c| c.value.to_lowercase()).collect();
            }
            CopySource::Query(query) => {
                if command.from_stdin {
                    return Err(Error::new(ErrorKind::Plan, "COPY FROM needs a table, not a query"));
                }
                command.query = Some(query.to_string());
            }
        }
        let mut delimiter = None;
        let mut null = None;
        for option in options {
            match option {
                CopyOption::Format(name) => {
                    command.format = match name.value.to_lowercase().as_str() {
                        "text" => CopyFormat::Text,
                        "csv" => CopyFormat::Csv,
                        "binary" => return Err(binary_unsupported()),
                        other => {
                            return Err(Error::new(
                                ErrorKind::Plan,
                                format!("COPY format \"{other}\" not recognized"),
                            ));
                        }
                    }
                }
                CopyOption::Delimiter(c) => delimiter = Some(*c),
                CopyOption::Null(s) => null = Some(s.clone()),
                CopyOption::Header(h) => command.header = *h,
                CopyOption::Quote(c) => command.quote = *c,
                CopyOption::Escape(c) => command.escape = *c,
                CopyOption::Encoding(e) if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
                CopyOption::Freeze(_) => {}
                other => {
                    return Err(Error::not_supported(format!("COPY option {other} is not supported")));
                }
            }
        }
        for option in legacy_options {
            match option {
                CopyLegacyOption::Binary => return Err(binary_unsupported()),
                CopyLegacyOption::Delimiter(c) => delimiter = Some(*c),
                CopyLegacyOption::Null(s) => null = Some(s.clone()),
                CopyLegacyOption::Csv(csv) => {
                    command.format = CopyFormat::Csv;
                    for o in csv {
                        match o {
                            CopyLegacyCsvOption::Header => command.header = true,
                            CopyLegacyCsvOption::Quote(c) => command.quote = *c,
                            CopyLegacyCsvOption::Escape(c) => command.escape = *c,
                            other => {
                                return Err(Error::not_supported(format!("COPY option {other} is not supported")));
                            }
                        }
                    }
                }
                other => return Err(Error::not_supported(format!("COPY option {other} is not supported"))),
            }
        }
        if command.format == CopyFormat::Csv {
            command.delimiter = ',';
            command.null = String::new();
        }
        if let Some(d) = delimiter {
            command.delimiter = d;
        }
        if let Some(n) = null {
            command.null = n;
        }
        if command.header && command.format == CopyFormat::Text {
            return Err(Error::new(ErrorKind::Plan, "COPY HEADER available only in CSV mode"));
        }
        Ok(Some(command))
    }
}

fn binary_unsupported() -> Error {
    Error::not_supported("COPY in binary format is not supported; use FORMAT text or csv")
}

/// A COPY FROM waiting for its data.
pub struct CopyIn {
    command: CopyCommand,
    table: ObjectName,
    schema: SchemaRef,
    data: Vec<u8>,
}

/// Start a COPY: for FROM STDIN, check the table and wait for data; for
/// TO STDOUT, run the query and stream its rows.
pub async fn start<C>(conn: &Connection, _client: &mut C, command: CopyCommand) -> Result<Response>
where
    C: ClientInfo + Unpin + Send + Sync,
{
    if command.from_stdin {
        let table = command
            .table
            .clone()
            .ok_or_else(|| Error::internal("COPY FROM without a table"))?;
        let schema = conn.session.table_schema(&table).await?;
        for column in &command.columns {
            if schema.field_with_name(column).is_err() {
                return Err(Error::new(
                    ErrorKind::UndefinedColumn,
                    format!("column \"{column}\" of relation \"{table}\" does not exist"),
                ));
            }
        }
        let columns = if command.columns.is_empty() {
            schema.fields().len()
        } else {
            command.columns.len()
        };
        *conn.copy_in.lock().await = Some(CopyIn {
            command,
            table,
            schema,
            data: Vec::new(),
        });
        return Ok(Response::CopyIn(CopyResponse::new(0, columns, stream::empty())));
    }
    let sql = match (&command.query, &command.table) {
        (Some(query), _) => query.clone(),
        (None, Some(table)) => {
            let columns = if command.columns.is_empty() {
                "*".to_string()
            } else {
                command
                    .columns
                    .iter()
                    .map(|c| format!("\"{}\"", c.replace('"', "\"\"")))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            format!("SELECT {columns} FROM {table}")
        }
        (None, None) => return Err(Error::internal("COPY TO without a source")),
    };
    let mut outputs = conn.session.execute(&sql).await?;
    let output = outputs
        .pop()
        .ok_or_else(|| Error::internal("COPY query returned nothing"))?;
    let columns = output.schema.fields().len();
    let mut lines: Vec<PgWireResult<CopyData>> = Vec::new();
    if command.header {
        let names: Vec<String> = output
            .schema
            .fields()
            .iter()
            .map(|f| quote_csv(f.name(), &command, false))
            .collect();
        lines.push(Ok(CopyData::new(Bytes::from(format!(
            "{}\n",
            names.join(&command.delimiter.to_string())
        )))));
    }
    for batch in &output.batches {
        let encoders = batch
            .columns()
            .iter()
            .zip(output.schema.fields())
            .map(|(array, field)| Column::new(array, pg_types::for_field(field), FieldFormat::Text))
            .collect::<Result<Vec<_>>>()?;
        for row in 0..batch.num_rows() {
            let mut line = String::new();
            for (i, encoder) in encoders.iter().enumerate() {
                if i > 0 {
                    line.push(command.delimiter);
                }
                match encoder.text(row)? {
                    None => line.push_str(&command.null),
                    Some(value) => match command.format {
                        CopyFormat::Text => escape_text(&value, command.delimiter, &mut line),
                        CopyFormat::Csv => line.push_str(&quote_csv(&value, &command, true)),
                    },
                }
            }
            line.push('\n');
            lines.push(Ok(CopyData::new(Bytes::from(line))));
        }
    }
    Ok(Response::CopyOut(CopyResponse::new(0, columns, stream::iter(lines))))
}

/// Text format: backslash, newline, carriage return, tab and the
/// delimiter are backslash-escaped.
fn escape_text(value: &str, delimiter: char, out: &mut String) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == delimiter => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

/// CSV: quoted when it holds the delimiter, the quote, a line break, or
/// (for values) equals the NULL string.
fn quote_csv(value: &str, command: &CopyCommand, is_value: bool) -> String {
    let needs = value.contains(command.delimiter)
        || value.contains(command.quote)
        || value.contains('\n')
        || value.contains('\r')
        || (is_value && value == command.null);
    if !needs {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push(command.quote);
    for c in value.chars() {
        if c == command.quote || c == command.escape {
            out.push(command.escape);
        }
        out.push(c);
    }
    out.push(command.quote);
    out
}

/// One field of input: its text (`None` = NULL).
type Field = Option<String>;

/// Split text-format data into rows of fields, unescaping each.
fn parse_text(data: &str, command: &CopyCommand) -> Result<Vec<Vec<Field>>> {
    let mut rows = Vec::new();
    for line in data.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line == "\\." {
            break;
        }
        if line.is_empty() && rows.len() + 1 >= data.split('\n').count() {
            continue;
        }
        let mut fields = Vec::new();
        let mut current = String::new();
        let mut raw = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if c == command.delimiter {
                fields.push(finish_text_field(&mut current, &mut raw, &command.null));
                continue;
            }
            if c != '\\' {
                current.push(c);
                raw.push(c);
                continue;
            }
            raw.push(c);
            let Some(next) = chars.next() else {
                current.push('\\');
                break;
            };
            raw.push(next);
            match next {
                'b' => current.push('\u{8}'),
                'f' => current.push('\u{c}'),
                'n' => current.push('\n'),
                'r' => current.push('\r'),
                't' => current.push('\t'),
                'v' => current.push('\u{b}'),
                'x' => {
                    let mut hex = String::new();
                    while hex.len() < 2 && chars.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
                        if let Some(h) = chars.next() {
                            hex.push(h);
                            raw.push(h);
                        }
                    }
                    match u8::from_str_radix(&hex, 16) {
                        Ok(b) => current.push(char::from(b)),
                        Err(_) => current.push('x'),
                    }
                }
                d @ '0'..='7' => {
                    let mut octal = String::from(d);
                    while octal.len() < 3 && chars.peek().is_some_and(|c| ('0'..='7').contains(c)) {
                        if let Some(o) = chars.next() {
                            octal.push(o);
                            raw.push(o);
                        }
                    }
                    match u8::from_str_radix(&octal, 8) {
                        Ok(b) => current.push(char::from(b)),
                        Err(_) => current.push_str(&octal),
                    }
                }
                other => current.push(other),
            }
        }
        fields.push(finish_text_field(&mut current, &mut raw, &command.null));
        rows.push(fields);
    }
    Ok(rows)
}

fn finish_text_field(current: &mut String, raw: &mut String, null: &str) -> Field {
    let is_null = raw.as_str() == null;
    raw.clear();
    let value = std::mem::take(current);
    (!is_null).then_some(value)
}

/// Split CSV data into rows of fields: quoted fields may hold the
/// delimiter, quotes (doubled or escaped) and line breaks; an unquoted
/// field equal to the NULL string is NULL.
fn parse_csv(data: &str, command: &CopyCommand) -> Result<Vec<Vec<Field>>> {
    let mut rows = Vec::new();
    let mut fields: Vec<Field> = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut line = 1usize;
    let mut chars = data.chars().peekable();
    let mut row_started = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            // An escaped quote (`""` by default) is a literal quote.
            if c == command.escape && chars.peek() == Some(&command.quote) {
                chars.next();
                current.push(command.quote);
            } else if c == command.quote {
                in_quotes = false;
            } else {
                if c == '\n' {
                    line += 1;
                }
                current.push(c);
            }
            continue;
        }
        row_started = true;
        if c == command.quote {
            in_quotes = true;
            quoted = true;
        } else if c == command.delimiter {
            fields.push(csv_field(&mut current, &mut quoted, &command.null));
        } else if c == '\n' || c == '\r' {
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            fields.push(csv_field(&mut current, &mut quoted, &command.null));
            let row = std::mem::take(&mut fields);
            if !(row.len() == 1 && row[0].as_deref() == Some("\\.")) {
                rows.push(row);
            }
            row_started = false;
            line += 1;
        } else {
            current.push(c);
        }
    }
    if in_quotes {
        return Err(Error::new(
            ErrorKind::InvalidText,
            format!("unterminated CSV quoted field (COPY, line {line})"),
        ));
    }
    if row_started {
        fields.push(csv_field(&mut current, &mut quoted, &command.null));
        if !(fields.len() == 1 && fields[0].as_deref() == Some("\\.")) {
            rows.push(fields);
        }
    }
    Ok(rows)
}

fn csv_field(current: &mut String, quoted: &mut bool, null: &str) -> Field {
    let value = std::mem::take(current);
    let was_quoted = std::mem::replace(quoted, false);
    if !was_quoted && value == null {
        None
    } else {
        Some(value)
    }
}

impl CopyIn {
    /// Parse the collected data into one batch of all the table's columns.
    fn into_batch(self) -> Result<(ObjectName, RecordBatch)> {
        let text = String::from_utf8(self.data)
            .map_err(|e| Error::new(ErrorKind::InvalidText, format!("COPY data is not valid UTF-8: {e}")))?;
        let mut rows = match self.command.format {
            CopyFormat::Text => parse_text(&text, &self.command)?,
            CopyFormat::Csv => parse_csv(&text, &self.command)?,
        };
        if self.command.header && !rows.is_empty() {
            rows.remove(0);
        }
        let first_line = if self.command.header { 2 } else { 1 };
        let listed: Vec<String> = if self.command.columns.is_empty() {
            self.schema.fields().iter().map(|f| f.name().clone()).collect()
        } else {
            self.command.columns.clone()
        };
        for (i, row) in rows.iter().enumerate() {
            if row.len() != listed.len() {
                let problem = if row.len() < listed.len() {
                    "missing data for column"
                } else {
                    "extra data after last expected column"
                };
                let column = listed.get(row.len()).cloned().unwrap_or_default();
                return Err(Error::new(
                    ErrorKind::InvalidText,
                    format!("{problem} \"{column}\" (COPY {}, line {})", self.table, i + first_line),
                ));
            }
        }
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for field in self.schema.fields() {
            let Some(position) = listed.iter().position(|c| c == field.name()) else {
                columns.push(new_null_array(field.data_type(), rows.len()));
                continue;
            };
            let texts: Vec<Option<&str>> = rows.iter().map(|r| r[position].as_deref()).collect();
            let array = convert(&texts, field.data_type()).map_err(|(row, e)| {
                Error::new(
                    ErrorKind::InvalidText,
                    format!(
                        "{e} (COPY {}, line {}, column {})",
                        self.table,
                        row + first_line,
                        field.name()
                    ),
                )
            })?;
            columns.push(array);
        }
        let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
        Ok((self.table, batch))
    }
}

/// Text values into an array of `target`; on failure, the 0-based row and why.
fn convert(texts: &[Option<&str>], target: &DataType) -> std::result::Result<ArrayRef, (usize, String)> {
    match target {
        DataType::Binary => {
            let mut values: Vec<Option<Vec<u8>>> = Vec::with_capacity(texts.len());
            for (row, t) in texts.iter().enumerate() {
                values.push(match t {
                    None => None,
                    Some(t) => Some(hex_bytea(t).map_err(|e| (row, e))?),
                });
            }
            Ok(Arc::new(BinaryArray::from_iter(values)))
        }
        DataType::FixedSizeList(item, n) => {
            let mut flat: Vec<Option<f32>> = Vec::with_capacity(texts.len() * (*n as usize));
            let mut valid = Vec::with_capacity(texts.len());
            for (row, t) in texts.iter().enumerate() {
                match t {
                    None => {
                        flat.extend(std::iter::repeat_n(None, *n as usize));
                        valid.push(false);
                    }
                    Some(t) => {
                        let inner = t.trim().trim_start_matches(['[', '{']).trim_end_matches([']', '}']);
                        let parsed: std::result::Result<Vec<f32>, _> =
                            inner.split(',').map(|v| v.trim().parse::<f32>()).collect();
                        let parsed =
                            parsed.map_err(|_| (row, format!("invalid input syntax for type vector: \"{t}\"")))?;
                        if parsed.len() != *n as usize {
                            return Err((row, format!("expected {n} dimensions, not {}", parsed.len())));
                        }
                        flat.extend(parsed.into_iter().map(Some));
                        valid.push(true);
                    }
                }
            }
            let values = arrow::compute::cast(&(Arc::new(Float32Array::from(flat)) as ArrayRef), item.data_type())
                .map_err(|e| (0, e.to_string()))?;
            FixedSizeListArray::try_new(item.clone(), *n, values, Some(valid.into()))
                .map(|a| Arc::new(a) as ArrayRef)
                .map_err(|e| (0, e.to_string()))
        }
        _ => {
            let strings: ArrayRef = Arc::new(StringArray::from(texts.to_vec()));
            if *target == DataType::Utf8 {
                return Ok(strings);
            }
            let cast = arrow::compute::cast_with_options(
                &strings,
                target,
                &CastOptions {
                    safe: true,
                    ..Default::default()
                },
            )
            .map_err(|e| (0, e.to_string()))?;
            // A value that did not parse came out NULL: name the first.
            if cast.null_count() != strings.null_count()
                && let Some(row) = (0..cast.len()).find(|&i| cast.is_null(i) && !strings.is_null(i))
            {
                let text = texts[row].unwrap_or_default();
                return Err((
                    row,
                    format!(
                        "invalid input syntax for type {}: \"{text}\"",
                        pg_types::for_data_type(target).display_name()
                    ),
                ));
            }
            Ok(cast)
        }
    }
}

fn hex_bytea(text: &str) -> std::result::Result<Vec<u8>, String> {
    let Some(hex) = text.strip_prefix("\\x") else {
        return Ok(text.as_bytes().to_vec());
    };
    if hex.len() % 2 != 0 {
        return Err("invalid hexadecimal data: odd number of digits".to_string());
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&hex[i..i + 2], 16)
                .map_err(|_| format!("invalid hexadecimal digit: \"{}\"", &hex[i..i + 2]))
        })
        .collect()
}

#[async_trait]
impl CopyHandler for Connection {
    async fn on_copy_data<C>(&self, _client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let mut guard = self.copy_in.lock().await;
        let Some(copy) = guard.as_mut() else {
            return Err(to_pg_error(Error::new(
                ErrorKind::Plan,
                "CopyData without a COPY FROM STDIN in progress",
            )));
        };
        if copy.data.len() + copy_data.data.len() > MAX_COPY_BYTES {
            *guard = None;
            return Err(to_pg_error(Error::new(
                ErrorKind::NotSupported,
                format!(
                    "COPY data over {} MiB in one statement; split the load",
                    MAX_COPY_BYTES >> 20
                ),
            )));
        }
        copy.data.extend_from_slice(&copy_data.data);
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let Some(copy) = self.copy_in.lock().await.take() else {
            return Err(to_pg_error(Error::new(
                ErrorKind::Plan,
                "CopyDone without a COPY FROM STDIN in progress",
            )));
        };
        let outcome = async {
            let (table, batch) = copy.into_batch()?;
            self.session.copy_in(&table, batch).await
        }
        .await;
        match outcome {
            Ok(rows) => {
                let tag = Tag::new("COPY").with_rows(rows as usize);
                client.send(PgWireBackendMessage::CommandComplete(tag.into())).await?;
                Ok(())
            }
            Err(e) => {
                // A parse error before the insert still fails the
                // transaction, as in PostgreSQL.
                if self.session.transaction_status() == crate::transaction::TransactionStatus::InTransaction {
                    self.session.fail_transaction();
                }
                Err(to_pg_error(e))
            }
        }
    }

    async fn on_copy_fail<C>(&self, _client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        *self.copy_in.lock().await = None;
        if self.session.transaction_status() == crate::transaction::TransactionStatus::InTransaction {
            self.session.fail_transaction();
        }
        to_pg_error(Error::new(
            ErrorKind::QueryCanceled,
            format!("COPY from stdin failed: {}", fail.message),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(sql: &str) -> CopyCommand {
        CopyCommand::parse(sql).expect("parses").expect("a COPY")
    }

    #[test]
    fn options() {
        let c = command("COPY t (a, b) FROM STDIN WITH (FORMAT csv, HEADER true, NULL 'NA')");
        assert!(c.from_stdin);
        assert_eq!(c.format, CopyFormat::Csv);
        assert_eq!(c.columns, vec!["a", "b"]);
        assert_eq!(c.null, "NA");
        assert!(c.header);
        let legacy = command("COPY t FROM STDIN WITH CSV HEADER");
        assert_eq!(legacy.format, CopyFormat::Csv);
        assert!(legacy.header);
        let out = command("COPY (SELECT 1) TO STDOUT");
        assert!(!out.from_stdin);
        assert!(out.query.is_some());
        assert!(CopyCommand::parse("SELECT 1").expect("ok").is_none());
        assert!(CopyCommand::parse("COPY t FROM '/etc/passwd'").is_err());
        assert!(CopyCommand::parse("COPY t FROM STDIN (FORMAT binary)").is_err());
    }

    #[test]
    fn text_format_unescapes() -> Result<()> {
        let c = command("COPY t FROM STDIN");
        let rows = parse_text("1\ta\\tb\t\\N\n2\tx\\\\y\t\n\\.\n", &c)?;
        assert_eq!(
            rows,
            vec![
                vec![Some("1".into()), Some("a\tb".into()), None],
                vec![Some("2".into()), Some("x\\y".into()), Some("".into())],
            ]
        );
        Ok(())
    }

    #[test]
    fn csv_quotes_nulls_and_line_breaks() -> Result<()> {
        let c = command("COPY t FROM STDIN (FORMAT csv)");
        let rows = parse_csv("1,\"a,\"\"b\"\"\",\n2,\"\",\"x\ny\"\n", &c)?;
        assert_eq!(
            rows,
            vec![
                vec![Some("1".into()), Some("a,\"b\"".into()), None],
                vec![Some("2".into()), Some("".into()), Some("x\ny".into())],
            ]
        );
        assert!(parse_csv("1,\"open\n", &c).is_err());
        Ok(())
    }

    #[test]
    fn conversion_errors_name_the_row() {
        let e = convert(&[Some("1"), Some("x")], &DataType::Int32).expect_err("bad int");
        assert_eq!(e.0, 1);
        assert!(e.1.contains("integer"), "{}", e.1);
    }
}
