//! The engine's one error type: a kind (who is at fault, what PostgreSQL
//! SQLSTATE a client sees), a message, and context pairs that say *where*
//! (table, column, file, lsn). Bridged to DataFusion at the provider boundary.

use std::fmt;

use datafusion::error::DataFusionError;

/// What went wrong, from the user's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The statement is not valid SQL, or names something that does not exist
    /// in a way the planner rejects. The user's fault.
    Plan,
    /// A table, namespace or column that is not there.
    NotFound,
    /// CREATE of something that exists.
    AlreadyExists,
    /// A value of the wrong type for its column.
    Type,
    /// A NOT NULL column given NULL (SQLSTATE 23502).
    Constraint,
    /// A PRIMARY KEY or UNIQUE constraint would hold a duplicate (23505).
    UniqueViolation,
    /// A row would be changed twice by one statement, e.g. two rows of one
    /// `INSERT ... ON CONFLICT DO UPDATE` with the same key (21000).
    Cardinality,
    /// Text that does not parse as a value of its type, e.g. bad JSON (22P02).
    InvalidText,
    /// BEGIN inside a transaction, COMMIT outside one, a statement in a
    /// failed transaction (25P02 and friends).
    TransactionState,
    /// Another session holds the shard's write lock longer than we wait (55P03).
    LockNotAvailable,
    /// A column named that does not exist (42703).
    UndefinedColumn,
    /// A column added or renamed to a name the table already has (42701).
    DuplicateColumn,
    /// A change refused because something else depends on the object, e.g.
    /// dropping a partition source column (2BP01).
    DependentObjects,
    /// A feature we do not (yet) support.
    NotSupported,
    /// The statement was cancelled: a client's cancel request or the
    /// statement timeout (57014).
    QueryCanceled,
    /// The server refuses more connections (53300).
    TooManyConnections,
    /// RELEASE or ROLLBACK TO a savepoint that does not exist (3B001).
    UndefinedSavepoint,
    /// Division by zero (22012).
    DivisionByZero,
    /// A value a type cannot hold, or operands that do not fit together
    /// (22000): a vector with NaN, two vectors of different dimensions.
    DataException,
    /// A number outside its type's range (22003).
    NumericOutOfRange,
    /// Reading something the server does not allow, e.g. a local file
    /// outside the configured roots (42501).
    InsufficientPrivilege,
    /// A file in the warehouse is missing or unreadable (corrupt Parquet,
    /// missing metadata). Not the user's fault; says which file.
    Storage,
    /// A write to a read-only warehouse, e.g. an offline one over a bucket
    /// (25006, PostgreSQL's read_only_sql_transaction).
    ReadOnly,
    /// The hot tier (SQLite) refused or failed.
    HotStore,
    /// The Iceberg catalog failed or a commit lost a race too often.
    Catalog,
    /// Configuration or command-line input.
    Config,
    /// A remote shard could not be reached, did not answer in time, or
    /// failed mid-query (08006); the message names it and its server.
    ShardUnavailable,
    /// A bug in thermocline.
    Internal,
}

impl ErrorKind {
    /// Every kind, for [`ErrorKind::from_sqlstate`].
    const ALL: [ErrorKind; 28] = [
        ErrorKind::Plan,
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::Type,
        ErrorKind::Constraint,
        ErrorKind::UniqueViolation,
        ErrorKind::Cardinality,
        ErrorKind::InvalidText,
        ErrorKind::TransactionState,
        ErrorKind::LockNotAvailable,
        ErrorKind::UndefinedColumn,
        ErrorKind::DuplicateColumn,
        ErrorKind::DependentObjects,
        ErrorKind::NotSupported,
        ErrorKind::QueryCanceled,
        ErrorKind::TooManyConnections,
        ErrorKind::UndefinedSavepoint,
        ErrorKind::DivisionByZero,
        ErrorKind::DataException,
        ErrorKind::NumericOutOfRange,
        ErrorKind::InsufficientPrivilege,
        ErrorKind::Storage,
        ErrorKind::ReadOnly,
        ErrorKind::HotStore,
        ErrorKind::Catalog,
        ErrorKind::Config,
        ErrorKind::ShardUnavailable,
        ErrorKind::Internal,
    ];

    /// The kind whose SQLSTATE is `code` (errors that crossed a process
    /// boundary keep their kind), if any.
    pub fn from_sqlstate(code: &str) -> Option<ErrorKind> {
        Self::ALL.into_iter().find(|k| k.sqlstate() == code)
    }

    /// The PostgreSQL SQLSTATE code a client of the wire server will see.
    pub fn sqlstate(self) -> &'static str {
        match self {
            ErrorKind::Plan => "42601",
            ErrorKind::NotFound => "42P01",
            ErrorKind::AlreadyExists => "42P07",
            ErrorKind::Type => "42804",
            ErrorKind::Constraint => "23502",
            ErrorKind::UniqueViolation => "23505",
            ErrorKind::Cardinality => "21000",
            ErrorKind::InvalidText => "22P02",
            ErrorKind::TransactionState => "25P02",
            ErrorKind::LockNotAvailable => "55P03",
            ErrorKind::UndefinedColumn => "42703",
            ErrorKind::DuplicateColumn => "42701",
            ErrorKind::DependentObjects => "2BP01",
            ErrorKind::NotSupported => "0A000",
            ErrorKind::QueryCanceled => "57014",
            ErrorKind::TooManyConnections => "53300",
            ErrorKind::UndefinedSavepoint => "3B001",
            ErrorKind::DivisionByZero => "22012",
            ErrorKind::DataException => "22000",
            ErrorKind::NumericOutOfRange => "22003",
            ErrorKind::InsufficientPrivilege => "42501",
            ErrorKind::Storage => "58030",
            ErrorKind::ReadOnly => "25006",
            ErrorKind::HotStore => "58000",
            ErrorKind::Catalog => "40001",
            ErrorKind::Config => "F0000",
            ErrorKind::ShardUnavailable => "08006",
            ErrorKind::Internal => "XX000",
        }
    }
}

/// A thermocline error: kind + message + where it happened.
pub struct Error {
    kind: ErrorKind,
    message: String,
    context: Vec<(&'static str, String)>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            context: Vec::new(),
            source: None,
        }
    }

    pub fn with_context(mut self, key: &'static str, value: impl ToString) -> Self {
        self.context.push((key, value.to_string()));
        self
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn context(&self) -> &[(&'static str, String)] {
        &self.context
    }

    pub fn plan(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Plan, message)
    }

    pub fn not_supported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotSupported, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        for (k, v) in &self.context {
            write!(f, " ({k}: {v})")?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {self}", self.kind)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<Error> for DataFusionError {
    fn from(e: Error) -> Self {
        DataFusionError::External(Box::new(e))
    }
}

/// Our error inside a DataFusion error, through the wrappers that only add
/// context or share it.
fn find_ours(e: &DataFusionError) -> Option<&Error> {
    match e {
        DataFusionError::External(inner) => inner.downcast_ref::<Error>(),
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => find_ours(inner),
        DataFusionError::Shared(inner) => find_ours(inner),
        _ => None,
    }
}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Self {
        // jsonb errors carry PostgreSQL's SQLSTATE, wherever DataFusion
        // wrapped them (constant folding, a Parquet row filter).
        if let Some(json) = thermocline_udfs::json::find_json_error(&e) {
            let kind = match json.sqlstate() {
                "22P02" => ErrorKind::InvalidText,
                _ => ErrorKind::Plan,
            };
            return Error::new(kind, json.to_string());
        }
        // So do vector errors (pgvector's codes).
        if let Some(vector) = thermocline_udfs::vector::find_vector_error(&e) {
            let kind = match vector.sqlstate() {
                "22P02" => ErrorKind::InvalidText,
                "22003" => ErrorKind::NumericOutOfRange,
                _ => ErrorKind::DataException,
            };
            return Error::new(kind, vector.to_string());
        }
        // A scalar subquery with several rows is the query's fault
        // (PostgreSQL's 21000), however DataFusion wrapped it.
        if e.to_string().contains("Scalar subquery returned more than one row") {
            return Error::new(
                ErrorKind::Cardinality,
                "more than one row returned by a subquery used as an expression",
            );
        }
        // Unwrap our own errors that travelled through DataFusion so the kind
        // (and so the SQLSTATE) survives the round trip.
        match e {
            DataFusionError::External(inner) => match inner.downcast::<Error>() {
                Ok(ours) => *ours,
                Err(other) => Error::new(ErrorKind::Internal, other.to_string()),
            },
            DataFusionError::Context(ctx, inner) => {
                let inner: Error = (*inner).into();
                // "Optimizer rule 'simplify_expressions' failed" is how a bad
                // literal surfaces (constant folding casts it); the user
                // needs the cast error, not the optimizer's name.
                if ctx.starts_with("Optimizer rule") {
                    return inner;
                }
                let message = format!("{ctx}: {}", inner.message);
                Error { message, ..inner }
            }
            // DataFusion wraps planning errors with a source span; the
            // inner error decides the kind.
            DataFusionError::Diagnostic(_, inner) => (*inner).into(),
            // An error several streams saw (a repartition's input failed):
            // ours inside keeps its kind.
            DataFusionError::Shared(shared) => match find_ours(&shared) {
                Some(ours) => Error {
                    kind: ours.kind,
                    message: ours.message.clone(),
                    context: ours.context.clone(),
                    source: None,
                },
                None => Error::new(ErrorKind::Internal, shared.to_string()),
            },
            // PostgreSQL's words and code for an unknown column.
            DataFusionError::SchemaError(ref err, _)
                if matches!(err.as_ref(), datafusion::common::SchemaError::FieldNotFound { .. }) =>
            {
                let name = match err.as_ref() {
                    datafusion::common::SchemaError::FieldNotFound { field, .. } => field.name.clone(),
                    _ => String::new(),
                };
                Error::new(ErrorKind::UndefinedColumn, format!("column \"{name}\" does not exist"))
                    .with_context("detail", e.strip_backtrace())
            }
            DataFusionError::SQL(..) | DataFusionError::Plan(..) | DataFusionError::SchemaError(..) => {
                let text = e.strip_backtrace();
                // PostgreSQL's words for an unknown table.
                if let Some(name) = text
                    .split_once("table '")
                    .and_then(|(_, rest)| rest.split_once("' not found"))
                    .map(|(name, _)| name)
                {
                    let short = name.rsplit('.').next().unwrap_or(name);
                    return Error::new(ErrorKind::NotFound, format!("relation \"{short}\" does not exist"))
                        .with_context("table", name);
                }
                let kind = if text.contains("not found") || text.contains("No field named") {
                    ErrorKind::NotFound
                } else {
                    ErrorKind::Plan
                };
                Error::new(kind, text)
            }
            DataFusionError::NotImplemented(..) => Error::new(ErrorKind::NotSupported, e.strip_backtrace()),
            DataFusionError::ArrowError(ref inner, _)
                if matches!(inner.as_ref(), arrow::error::ArrowError::DivideByZero) =>
            {
                Error::new(ErrorKind::DivisionByZero, "division by zero")
            }
            DataFusionError::ArrowError(ref inner, _)
                if let arrow::error::ArrowError::CastError(message) = inner.as_ref()
                    && let Some(invalid) = invalid_text(message) =>
            {
                invalid
            }
            DataFusionError::ArrowError(..) => {
                let text = e.strip_backtrace();
                let kind =
                    if text.contains("Cast error") || text.contains("Cannot cast") || text.contains("Parser error") {
                        ErrorKind::Type
                    } else {
                        ErrorKind::Internal
                    };
                Error::new(kind, text)
            }
            DataFusionError::ParquetError(..) | DataFusionError::ObjectStore(..) | DataFusionError::IoError(..) => {
                Error::new(ErrorKind::Storage, e.strip_backtrace())
            }
            DataFusionError::Execution(..) => {
                let text = e.strip_backtrace();
                let kind = if text.contains("Cast error") || text.contains("cast") {
                    ErrorKind::Type
                } else {
                    ErrorKind::Plan
                };
                Error::new(kind, text)
            }
            other => Error::new(ErrorKind::Internal, other.strip_backtrace()),
        }
    }
}

/// Arrow's `Cannot cast string 'abc' to value of Int32 type` in
/// PostgreSQL's words: `invalid input syntax for type integer: "abc"`.
fn invalid_text(message: &str) -> Option<Error> {
    let rest = message.split_once("Cannot cast string '")?.1;
    let (value, rest) = rest.rsplit_once("' to value of ")?;
    let arrow_type = rest.trim_end_matches(" type").trim();
    let pg_type = match arrow_type {
        "Int8" | "Int16" => "smallint",
        "Int32" => "integer",
        "Int64" => "bigint",
        "Float32" => "real",
        "Float64" => "double precision",
        "Boolean" => "boolean",
        "Date32" | "Date64" => "date",
        t if t.starts_with("Timestamp") => "timestamp",
        t if t.starts_with("Decimal") => "numeric",
        t if t.starts_with("Time") => "time",
        _ => return None,
    };
    Some(Error::new(
        ErrorKind::InvalidText,
        format!("invalid input syntax for type {pg_type}: \"{value}\""),
    ))
}

impl From<iceberg::Error> for Error {
    fn from(e: iceberg::Error) -> Self {
        let kind = match e.kind() {
            iceberg::ErrorKind::TableNotFound | iceberg::ErrorKind::NamespaceNotFound => ErrorKind::NotFound,
            iceberg::ErrorKind::TableAlreadyExists | iceberg::ErrorKind::NamespaceAlreadyExists => {
                ErrorKind::AlreadyExists
            }
            iceberg::ErrorKind::FeatureUnsupported => ErrorKind::NotSupported,
            iceberg::ErrorKind::DataInvalid => ErrorKind::Storage,
            iceberg::ErrorKind::CatalogCommitConflicts => ErrorKind::Catalog,
            _ => ErrorKind::Catalog,
        };
        Error::new(kind, e.to_string())
    }
}

impl From<thermocline_catalog::error::Error> for Error {
    fn from(e: thermocline_catalog::error::Error) -> Self {
        let iceberg_error: iceberg::Error = e.into();
        iceberg_error.into()
    }
}

impl From<arrow::error::ArrowError> for Error {
    fn from(e: arrow::error::ArrowError) -> Self {
        Error::from(DataFusionError::ArrowError(Box::new(e), None))
    }
}

impl From<object_store::Error> for Error {
    fn from(e: object_store::Error) -> Self {
        Error::new(ErrorKind::Storage, e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Storage, e.to_string())
    }
}

/// Return early with an [`Error`] of the given kind.
#[macro_export]
macro_rules! bail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::error::Error::new($crate::error::ErrorKind::$kind, format!($($arg)*)))
    };
}
