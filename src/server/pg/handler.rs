//! One client connection: its [`Session`], the simple and extended query
//! protocols over it, and the mapping of our results and errors onto
//! PostgreSQL's messages.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use async_trait::async_trait;
use datafusion::common::ScalarValue;
use futures::{Sink, SinkExt, stream};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{
    ExtendedQueryHandler, SimpleQueryHandler, send_execution_response, send_query_response, send_ready_for_query,
};
use pgwire::api::results::{DescribePortalResponse, FieldFormat, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, ConnectionHandle, PgWireConnectionState, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::response::{EmptyQueryResponse, TransactionStatus as WireStatus};
use pgwire::messages::simplequery::Query;

use super::copy::{self, CopyCommand};
use super::encode;
use super::params;
use crate::error::{Error, ErrorKind, Result};
use crate::server::PgConfig;
use crate::session::{Description, Session, StatementOutput};
use crate::sql::pg_types::{self, PgType};
use crate::transaction::TransactionStatus;

/// A connection's state shared by its protocol handlers.
pub struct Connection {
    pub(super) session: Arc<Session>,
    pub(super) config: Arc<PgConfig>,
    pub(super) activity: Arc<Activity>,
    pub(super) parser: Arc<StatementParser>,
    pub(super) copy_in: tokio::sync::Mutex<Option<copy::CopyIn>>,
}

/// What the idle-in-transaction watchdog reads: when the last message
/// was handled and whether the session is inside a transaction.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    /// Milliseconds since `started` at the end of the last statement.
    last_ms: AtomicU64,
    /// 1 while a statement runs (never idle then).
    busy: AtomicU64,
}

impl Default for Activity {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            busy: AtomicU64::new(0),
        }
    }
}

impl Activity {
    fn begin(&self) {
        self.busy.store(1, Ordering::SeqCst);
    }

    fn end(&self) {
        self.last_ms
            .store(self.started.elapsed().as_millis() as u64, Ordering::SeqCst);
        self.busy.store(0, Ordering::SeqCst);
    }

    /// How long the session has been idle (zero while a statement runs).
    pub fn idle_for(&self) -> Duration {
        if self.busy.load(Ordering::SeqCst) == 1 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::SeqCst));
        self.started.elapsed().saturating_sub(last)
    }
}

/// A prepared statement: its text and what [`Session::describe`] found.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub sql: String,
    /// `None` when only the bound values tell (`FOR SYSTEM_TIME AS OF $1`):
    /// described at Bind, from the portal.
    pub description: Option<Description>,
    /// COPY is run by the connection, not the session.
    pub copy: Option<CopyCommand>,
    /// PostgreSQL's names for unaliased result columns.
    pub column_names: Option<Vec<Option<String>>>,
}

impl Prepared {
    /// The PostgreSQL type of `$n` (0-based): the client's, else ours.
    fn param_type(&self, index: usize, client: &[Option<Type>]) -> Type {
        if let Some(Some(t)) = client.get(index) {
            return t.clone();
        }
        let pg = match self.description.as_ref().and_then(|d| d.params.get(index)) {
            Some(Some(data_type)) => pg_types::for_data_type(data_type),
            _ => PgType::TEXT,
        };
        wire_type(pg)
    }
}

/// Parses and describes statements for the extended protocol.
pub struct StatementParser {
    session: Arc<Session>,
}

impl StatementParser {
    pub fn new(session: Arc<Session>) -> Self {
        Self { session }
    }
}

#[async_trait]
impl QueryParser for StatementParser {
    type Statement = Prepared;

    async fn parse_sql<C>(&self, _client: &C, sql: &str, _types: &[Option<Type>]) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        if let Some(copy) = CopyCommand::parse(sql).map_err(to_pg_error_in(sql))? {
            return Ok(Some(Prepared {
                sql: sql.to_string(),
                description: Some(Description {
                    params: Vec::new(),
                    schema: None,
                }),
                copy: Some(copy),
                column_names: None,
            }));
        }
        let description = match self.session.describe(sql, &[]).await {
            Ok(None) => return Ok(None),
            Ok(Some(description)) => Some(description),
            // What only the bound values settle (a time-travel bound, a
            // table function's argument) is described at Bind; errors
            // there reach the client then. Syntax errors are reported now.
            Err(e) if max_placeholder(sql) > 0 && !e.message().contains("sql parser error") => None,
            Err(e) => return Err(to_pg_error_in(sql)(e)),
        };
        Ok(Some(Prepared {
            sql: sql.to_string(),
            description,
            copy: None,
            column_names: column_names(sql),
        }))
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        let count = match &stmt.description {
            Some(description) => description.params.len(),
            None => max_placeholder(&stmt.sql),
        };
        Ok((0..count).map(|i| stmt.param_type(i, &[])).collect())
    }

    fn get_result_schema(&self, stmt: &Prepared, format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        Ok(match stmt.description.as_ref().and_then(|d| d.schema.as_ref()) {
            Some(schema) => fields(
                schema,
                format.unwrap_or(&Format::UnifiedText),
                stmt.column_names.as_deref(),
            ),
            None => Vec::new(),
        })
    }
}

/// The pgwire type for one of ours (vector has no built-in one).
pub fn wire_type(pg: PgType) -> Type {
    Type::from_oid(pg.oid).unwrap_or_else(|| {
        Type::new(
            pg.name.to_string(),
            pg.oid,
            postgres_types::Kind::Simple,
            "public".to_string(),
        )
    })
}

/// RowDescription fields for `schema`, in `format`, named as PostgreSQL
/// names them where `names` says so.
pub fn fields(schema: &SchemaRef, format: &Format, names: Option<&[Option<String>]>) -> Vec<FieldInfo> {
    let names = names.filter(|n| n.len() == schema.fields().len());
    schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let pg = pg_types::for_field(field);
            let name = names.and_then(|n| n[i].clone()).unwrap_or_else(|| field.name().clone());
            FieldInfo::new(name, None, None, wire_type(pg), format.format_for(i))
                .with_type_size(pg.len)
                .with_type_modifier(pg.typmod)
        })
        .collect()
}

/// A result's rows as a stream of DataRows, encoded a batch at a time.
fn query_response(output: StatementOutput, format: &Format, names: Option<&[Option<String>]>) -> Response {
    let field_infos = Arc::new(fields(&output.schema, format, names));
    let types: Vec<PgType> = output.schema.fields().iter().map(|f| pg_types::for_field(f)).collect();
    let formats: Vec<FieldFormat> = (0..types.len()).map(|i| format.format_for(i)).collect();
    let rows = stream::iter(output.batches.into_iter().flat_map(move |batch: RecordBatch| {
        match encode::data_rows(&batch, &types, &formats) {
            Ok(rows) => rows.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(to_pg_error(e))],
        }
    }));
    let mut response = QueryResponse::new(field_infos, rows);
    // pgwire appends the number of rows it sent: `SELECT` → `SELECT 3`,
    // `INSERT 0` (RETURNING) → `INSERT 0 3`.
    let command = match output.tag.rsplit_once(' ') {
        Some((command, count)) if count.parse::<u64>().is_ok() => command,
        _ => output.tag.as_str(),
    };
    response.set_command_tag(command);
    Response::Query(response)
}

/// The names PostgreSQL gives the columns of a `SELECT` list: an
/// unaliased column keeps its name, a function call is named after the
/// function (`count`, not `count(*)`), anything else is `?column?`.
/// `None` at a position: keep the planner's name (aliases, `*`).
fn column_names(sql: &str) -> Option<Vec<Option<String>>> {
    use datafusion::sql::sqlparser::ast::{Expr, SelectItem, SetExpr, Statement};
    let statements = datafusion::sql::sqlparser::parser::Parser::parse_sql(
        &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
        sql,
    )
    .ok()?;
    let [Statement::Query(query)] = statements.as_slice() else {
        return None;
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    fn name(expr: &Expr) -> Option<String> {
        Some(match expr {
            Expr::Identifier(ident) => return Some(ident.value.clone()),
            Expr::CompoundIdentifier(parts) => return parts.last().map(|p| p.value.clone()),
            Expr::Function(f) => f
                .name
                .0
                .last()
                .map(|p| p.to_string().to_lowercase().trim_matches('"').to_string())?,
            Expr::Cast { expr, .. } | Expr::Nested(expr) => return name(expr),
            Expr::Case { .. } => "case".to_string(),
            Expr::Exists { .. } => "exists".to_string(),
            Expr::Array(_) => "array".to_string(),
            _ => "?column?".to_string(),
        })
    }
    let mut names = Vec::with_capacity(select.projection.len());
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(expr) => names.push(name(expr)),
            SelectItem::ExprWithAlias { .. } => names.push(None),
            // `*` expands to an unknown number of columns.
            _ => return None,
        }
    }
    Some(names)
}

/// A command tag (`INSERT 0 5`, `CREATE TABLE`) as pgwire's Tag.
fn tag(text: &str) -> Tag {
    let mut words = text.rsplitn(2, ' ');
    let last = words.next().unwrap_or_default();
    match (last.parse::<usize>(), words.next()) {
        (Ok(rows), Some(command)) => Tag::new(command).with_rows(rows),
        _ => Tag::new(text),
    }
}

impl Connection {
    /// Run one statement through the session, with the statement timeout,
    /// and map the outcome (and the transaction status change) onto a
    /// response.
    async fn run(&self, sql: &str, params: Vec<ScalarValue>, format: &Format) -> Result<Response> {
        let before = self.session.transaction_status();
        self.activity.begin();
        let outcome = match self.config.statement_timeout {
            Some(limit) => match tokio::time::timeout(limit, self.session.execute_with_params(sql, params)).await {
                Ok(outcome) => outcome,
                Err(_) => Err(Error::new(
                    ErrorKind::QueryCanceled,
                    "canceling statement due to statement timeout",
                )),
            },
            None => self.session.execute_with_params(sql, params).await,
        };
        self.activity.end();
        let mut outputs = outcome?;
        let after = self.session.transaction_status();
        let Some(output) = outputs.pop() else {
            return Ok(Response::EmptyQuery);
        };
        Ok(match (before, after) {
            (TransactionStatus::Idle, TransactionStatus::InTransaction) => Response::TransactionStart(tag(&output.tag)),
            (TransactionStatus::InTransaction | TransactionStatus::Failed, TransactionStatus::Idle) => {
                Response::TransactionEnd(tag(&output.tag))
            }
            _ if output.has_rows() => query_response(output, format, column_names(sql).as_deref()),
            _ => Response::Execution(tag(&output.tag)),
        })
    }
}

impl Connection {
    /// The session's warnings (a partial answer's missing shards) as
    /// NoticeResponse messages, before the statement's own response.
    async fn send_warnings<C>(&self, client: &mut C) -> PgWireResult<()>
    where
        C: Sink<PgWireBackendMessage> + Unpin + Send,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        for warning in self.session.take_warnings() {
            let notice = pgwire::error::ErrorInfo::new("WARNING".to_string(), "01000".to_string(), warning);
            client.feed(PgWireBackendMessage::NoticeResponse(notice.into())).await?;
        }
        Ok(())
    }

    /// What ReadyForQuery reports: the session's own transaction status.
    fn wire_status(&self) -> WireStatus {
        match self.session.transaction_status() {
            TransactionStatus::Idle => WireStatus::Idle,
            TransactionStatus::InTransaction => WireStatus::Transaction,
            TransactionStatus::Failed => WireStatus::Error,
        }
    }

    /// Run each statement of a simple query and send its results before
    /// the next one runs; stop at the first error (or at COPY FROM STDIN,
    /// whose data follows).
    async fn run_simple<C>(&self, client: &mut C, query: &str) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statements = match crate::sql::split(query) {
            Ok(statements) => statements,
            Err(e) => {
                client
                    .feed(PgWireBackendMessage::ErrorResponse(error_info(&e, Some(query)).into()))
                    .await?;
                return Ok(());
            }
        };
        if statements.is_empty() {
            client
                .feed(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new()))
                .await?;
        }
        // Several statements in one query run as one transaction unless
        // they manage transactions themselves, as in PostgreSQL: a failure
        // takes back the statements before it.
        let implicit = statements.len() > 1
            && self.session.transaction_status() == TransactionStatus::Idle
            && statements.iter().all(|s| !manages_transaction(s.text));
        if implicit {
            self.session.execute("BEGIN").await.map_err(to_pg_error)?;
        }
        let result = self.run_statements(client, &statements).await;
        if implicit {
            let end = match (&result, self.session.transaction_status()) {
                (Ok(()), TransactionStatus::InTransaction) => "COMMIT",
                _ => "ROLLBACK",
            };
            if let Err(e) = self.session.execute(end).await {
                client
                    .feed(PgWireBackendMessage::ErrorResponse(error_info(&e, None).into()))
                    .await?;
            }
        }
        result
    }

    async fn run_statements<C>(&self, client: &mut C, statements: &[crate::sql::StatementText<'_>]) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        for statement in statements {
            let outcome = match CopyCommand::parse(statement.text) {
                Ok(Some(copy)) => copy::start(self, client, copy).await,
                Ok(None) => self.run(statement.text, Vec::new(), &Format::UnifiedText).await,
                Err(e) => Err(e),
            };
            self.send_warnings(client).await?;
            let response = match outcome {
                Ok(response) => response,
                Err(e) => {
                    client
                        .feed(PgWireBackendMessage::ErrorResponse(
                            error_info(&e, Some(statement.text)).into(),
                        ))
                        .await?;
                    return Ok(());
                }
            };
            match response {
                Response::EmptyQuery => {
                    client
                        .feed(PgWireBackendMessage::EmptyQueryResponse(EmptyQueryResponse::new()))
                        .await?;
                }
                Response::Query(rows) => send_query_response(client, rows, true).await?,
                Response::Execution(tag) | Response::TransactionStart(tag) | Response::TransactionEnd(tag) => {
                    send_execution_response(client, tag).await?
                }
                Response::Error(info) => {
                    client.feed(PgWireBackendMessage::ErrorResponse((*info).into())).await?;
                    return Ok(());
                }
                Response::CopyIn(copy) => {
                    pgwire::api::copy::send_copy_in_response(client, copy).await?;
                    client.set_state(PgWireConnectionState::CopyInProgress(false));
                    return Ok(());
                }
                Response::CopyOut(copy) => pgwire::api::copy::send_copy_out_response(client, copy).await?,
                Response::CopyBoth(copy) => pgwire::api::copy::send_copy_both_response(client, copy).await?,
            }
        }
        Ok(())
    }
}

#[async_trait]
impl SimpleQueryHandler for Connection {
    /// The simple protocol, with ReadyForQuery reporting the session's
    /// transaction status (pgwire's own tracking cannot follow ROLLBACK TO
    /// SAVEPOINT out of a failed transaction).
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        let handle = client.session_extensions().get::<Arc<ConnectionHandle>>();
        match handle {
            Some(handle) => {
                let cancelled = handle.start_query().await;
                let finished = tokio::select! {
                    result = self.run_simple(client, &query.query) => Some(result),
                    _ = cancelled => None,
                };
                match finished {
                    Some(result) => result?,
                    None => {
                        let e = Error::new(ErrorKind::QueryCanceled, "canceling statement due to user request");
                        client
                            .feed(PgWireBackendMessage::ErrorResponse(error_info(&e, None).into()))
                            .await?;
                    }
                }
            }
            None => self.run_simple(client, &query.query).await?,
        }
        if !matches!(client.state(), PgWireConnectionState::CopyInProgress(_)) {
            client.set_state(PgWireConnectionState::ReadyForQuery);
            let status = self.wire_status();
            client.set_transaction_status(status);
            send_ready_for_query(client, status).await?;
        }
        Ok(())
    }

    async fn do_query<C>(&self, _client: &mut C, _query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // `on_query` above runs simple queries itself.
        Err(to_pg_error(Error::internal("simple queries run through on_query")))
    }
}

#[async_trait]
impl ExtendedQueryHandler for Connection {
    type Statement = Prepared;
    type QueryParser = StatementParser;

    fn query_parser(&self) -> Arc<StatementParser> {
        self.parser.clone()
    }

    /// A statement described at Parse answers from that; one that needed
    /// its parameters is described now, with the bound values.
    async fn do_describe_portal<C>(
        &self,
        _client: &mut C,
        portal: &Portal<Prepared>,
    ) -> PgWireResult<DescribePortalResponse>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let prepared = &portal.statement.statement;
        let format = &portal.result_column_format;
        let schema = match &prepared.description {
            Some(description) => description.schema.clone(),
            None => {
                let values = bind(portal).map_err(to_pg_error)?;
                self.session
                    .describe(&prepared.sql, &values)
                    .await
                    .map_err(to_pg_error_in(&prepared.sql))?
                    .and_then(|d| d.schema)
            }
        };
        Ok(DescribePortalResponse::new(match schema {
            Some(schema) => fields(&schema, format, prepared.column_names.as_deref()),
            None => Vec::new(),
        }))
    }

    /// ReadyForQuery with the session's transaction status.
    async fn on_sync<C>(&self, client: &mut C, _message: pgwire::messages::extendedquery::Sync) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        client.portal_store().rm_portal("");
        let status = self.wire_status();
        client.set_transaction_status(status);
        send_ready_for_query(client, status).await?;
        client.flush().await?;
        Ok(())
    }

    async fn do_query<C>(&self, client: &mut C, portal: &Portal<Prepared>, _max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let prepared = &portal.statement.statement;
        if let Some(copy) = &prepared.copy {
            return copy::start(self, client, copy.clone())
                .await
                .map_err(to_pg_error_in(&prepared.sql));
        }
        let values = bind(portal).map_err(to_pg_error)?;
        let response = self
            .run(&prepared.sql, values, &portal.result_column_format)
            .await
            .map_err(to_pg_error_in(&prepared.sql));
        self.send_warnings(client).await?;
        response
    }
}

/// The highest `$n` in `sql` (outside quotes: good enough for counting
/// parameters of a statement the planner could not describe).
fn max_placeholder(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let (mut max, mut i, mut quoted) = (0, 0, false);
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => quoted = !quoted,
            b'$' if !quoted => {
                let digits: String = sql[i + 1..].chars().take_while(|c| c.is_ascii_digit()).collect();
                if let Ok(n) = digits.parse::<usize>() {
                    max = max.max(n);
                }
            }
            _ => {}
        }
        i += 1;
    }
    max
}

/// Statements that cannot run inside an implicit transaction: transaction
/// control, COPY (its data arrives later) and CHECKPOINT.
fn manages_transaction(sql: &str) -> bool {
    let first = sql
        .trim_start()
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(
        first.as_str(),
        "begin" | "start" | "commit" | "end" | "rollback" | "abort" | "savepoint" | "release" | "copy" | "checkpoint"
    )
}

/// The portal's parameters as values of the types the statement expects.
fn bind(portal: &Portal<Prepared>) -> Result<Vec<ScalarValue>> {
    let prepared = &portal.statement.statement;
    let client_types = &portal.statement.parameter_types;
    portal
        .parameters
        .iter()
        .enumerate()
        .map(|(i, bytes)| {
            let oid = client_types.get(i).and_then(|t| t.as_ref()).map_or(0, |t| t.oid());
            let inferred: Option<&DataType> = prepared
                .description
                .as_ref()
                .and_then(|d| d.params.get(i))
                .and_then(|t| t.as_ref());
            params::decode(i, bytes.as_deref(), portal.parameter_format.is_binary(i), oid, inferred)
        })
        .collect()
}

/// Our error as PostgreSQL's ErrorResponse fields.
pub fn error_info(e: &Error, sql: Option<&str>) -> ErrorInfo {
    let mut info = ErrorInfo::new(
        "ERROR".to_string(),
        e.kind().sqlstate().to_string(),
        e.message().to_string(),
    );
    // PostgreSQL's DETAIL when we have one (`Key (id)=(1) already
    // exists.`), else the error's context (`table: public.t`).
    let context = e.context();
    info.detail = match context.iter().find(|(k, _)| *k == "detail") {
        Some((_, detail)) => Some(detail.clone()),
        None => {
            let parts: Vec<String> = context
                .iter()
                .filter(|(k, _)| *k != "source")
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
    };
    if let Some(sql) = sql {
        info.position = position(e.message(), sql).map(|p| p.to_string());
    }
    info
}

/// The 1-based character offset of a parser's `Line: l, Column: c` in `sql`.
fn position(message: &str, sql: &str) -> Option<usize> {
    let at = message.rfind("Line: ")?;
    let rest = &message[at + "Line: ".len()..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let line: usize = line.trim().parse().ok()?;
    let column: usize = rest
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .ok()?;
    let mut offset = 0;
    for (i, text) in sql.split('\n').enumerate() {
        if i + 1 == line {
            return Some(offset + column.min(text.chars().count() + 1));
        }
        offset += text.chars().count() + 1;
    }
    None
}

pub fn to_pg_error(e: Error) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(&e, None)))
}

pub fn to_pg_error_in(sql: &str) -> impl Fn(Error) -> PgWireError + '_ {
    move |e| PgWireError::UserError(Box::new(error_info(&e, Some(sql))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_split_the_row_count() {
        let t: pgwire::messages::response::CommandComplete = tag("INSERT 0 5").into();
        assert_eq!(t.tag, "INSERT 0 5");
        let t: pgwire::messages::response::CommandComplete = tag("CREATE TABLE").into();
        assert_eq!(t.tag, "CREATE TABLE");
        let t: pgwire::messages::response::CommandComplete = tag("SELECT 3").into();
        assert_eq!(t.tag, "SELECT 3");
    }

    #[test]
    fn postgres_column_names() {
        let names = column_names("SELECT 1, count(*), t.a, b AS x, sum(c)::int FROM t").expect("names");
        assert_eq!(
            names,
            vec![
                Some("?column?".to_string()),
                Some("count".to_string()),
                Some("a".to_string()),
                None,
                Some("sum".to_string())
            ]
        );
        assert_eq!(column_names("SELECT * FROM t"), None);
    }

    #[test]
    fn positions_from_parser_errors() {
        let sql = "SELECT 1;\nSELEC 2";
        assert_eq!(
            position("sql parser error: Expected: x at Line: 2, Column: 1", sql),
            Some(11)
        );
        assert_eq!(position("no position", sql), None);
    }
}
