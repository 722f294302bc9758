//! The crate's one error type, in iceberg-rust's shape: a kind the caller can
//! match on, a message, `(key, value)` context naming the table, namespace or
//! file involved, an optional source, and a `retryable` flag that tells a
//! commit loop whether trying again on fresh metadata can succeed.
//!
//! It converts into [`iceberg::Error`] because our catalogs implement
//! [`iceberg::Catalog`], whose methods return iceberg's error; the kind mapping
//! is what iceberg's own retry logic (`Transaction::commit`) looks at.

use std::fmt;

/// A boxed source error; `Send + Sync` so errors cross task boundaries.
type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, from the caller's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The namespace does not exist (the caller named a wrong one).
    NamespaceNotFound,
    /// The namespace already exists.
    NamespaceAlreadyExists,
    /// The namespace still holds tables or namespaces, so it cannot be dropped.
    NamespaceNotEmpty,
    /// The table does not exist.
    TableNotFound,
    /// The table already exists.
    TableAlreadyExists,
    /// Someone else changed the table first; see [`Error::is_retryable`].
    CommitConflict,
    /// Object storage failed (read, write, list, delete).
    Storage,
    /// The catalog database (SQLite) failed.
    Catalog,
    /// A metadata file or location is malformed.
    InvalidMetadata,
    /// The caller passed a value the catalog cannot store (e.g. a namespace
    /// part containing the `.` separator).
    InvalidInput,
    /// The table uses something thermocline cannot write yet (e.g. a format
    /// version other than 2 for a copy-on-write commit).
    NotSupported,
    /// Anything else: most likely a bug in thermocline.
    Unexpected,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NamespaceNotFound => "NamespaceNotFound",
            ErrorKind::NamespaceAlreadyExists => "NamespaceAlreadyExists",
            ErrorKind::NamespaceNotEmpty => "NamespaceNotEmpty",
            ErrorKind::TableNotFound => "TableNotFound",
            ErrorKind::TableAlreadyExists => "TableAlreadyExists",
            ErrorKind::CommitConflict => "CommitConflict",
            ErrorKind::Storage => "Storage",
            ErrorKind::Catalog => "Catalog",
            ErrorKind::InvalidMetadata => "InvalidMetadata",
            ErrorKind::InvalidInput => "InvalidInput",
            ErrorKind::NotSupported => "NotSupported",
            ErrorKind::Unexpected => "Unexpected",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The crate's error: kind, message, context pairs, source, retryable flag.
pub struct Error {
    kind: ErrorKind,
    message: String,
    context: Vec<(&'static str, String)>,
    source: Option<BoxError>,
    retryable: bool,
}

impl Error {
    /// A new error of `kind`; not retryable unless marked so.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            context: Vec::new(),
            source: None,
            retryable: false,
        }
    }

    /// Adds a `key: value` pair naming what the error is about (table, file, ...).
    pub fn with_context(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.context.push((key, value.into()));
        self
    }

    /// Records the underlying cause.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Marks whether retrying on fresh metadata may succeed.
    pub fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message, without context.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The context pairs, in the order they were added.
    pub fn context(&self) -> &[(&'static str, String)] {
        &self.context
    }

    /// Whether retrying on fresh metadata may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)?;
        if !self.context.is_empty() {
            f.write_str(" (")?;
            for (i, (k, v)) in self.context.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{k}: {v}")?;
            }
            f.write_str(")")?;
        }
        if self.retryable {
            f.write_str(" [retryable]")?;
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Debug is what `unwrap()` in tests and `?` in main print: make it the
        // readable form rather than a struct dump.
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<Error> for iceberg::Error {
    fn from(e: Error) -> Self {
        use iceberg::ErrorKind as K;
        let kind = match e.kind {
            ErrorKind::NamespaceNotFound => K::NamespaceNotFound,
            ErrorKind::NamespaceAlreadyExists => K::NamespaceAlreadyExists,
            ErrorKind::TableNotFound => K::TableNotFound,
            ErrorKind::TableAlreadyExists => K::TableAlreadyExists,
            ErrorKind::CommitConflict => K::CatalogCommitConflicts,
            ErrorKind::NamespaceNotEmpty => K::PreconditionFailed,
            ErrorKind::InvalidMetadata | ErrorKind::InvalidInput => K::DataInvalid,
            ErrorKind::NotSupported => K::FeatureUnsupported,
            ErrorKind::Storage | ErrorKind::Catalog | ErrorKind::Unexpected => K::Unexpected,
        };
        let mut out = iceberg::Error::new(kind, format!("{}: {}", e.kind, e.message)).with_retryable(e.retryable);
        for (k, v) in e.context {
            out = out.with_context(k, v);
        }
        if let Some(source) = e.source {
            out = out.with_source(SourceError(source));
        }
        out
    }
}

/// Carries a boxed source into iceberg (whose `with_source` wants a sized error).
#[derive(Debug)]
struct SourceError(BoxError);

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<iceberg::Error> for Error {
    fn from(e: iceberg::Error) -> Self {
        use iceberg::ErrorKind as K;
        let kind = match e.kind() {
            K::NamespaceNotFound => ErrorKind::NamespaceNotFound,
            K::NamespaceAlreadyExists => ErrorKind::NamespaceAlreadyExists,
            K::TableNotFound => ErrorKind::TableNotFound,
            K::TableAlreadyExists => ErrorKind::TableAlreadyExists,
            K::CatalogCommitConflicts => ErrorKind::CommitConflict,
            K::DataInvalid => ErrorKind::InvalidMetadata,
            K::FeatureUnsupported => ErrorKind::NotSupported,
            _ => ErrorKind::Unexpected,
        };
        let retryable = e.retryable();
        Error::new(kind, "iceberg operation failed")
            .with_retryable(retryable)
            .with_source(e)
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        // SQLITE_BUSY after busy_timeout means another process held the write
        // lock for 5 s: trying again later can work.
        let busy = matches!(
            e.sqlite_error_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        );
        Error::new(ErrorKind::Catalog, "catalog database operation failed")
            .with_retryable(busy)
            .with_source(e)
    }
}

impl From<object_store::Error> for Error {
    fn from(e: object_store::Error) -> Self {
        let path = match &e {
            object_store::Error::NotFound { path, .. }
            | object_store::Error::AlreadyExists { path, .. }
            | object_store::Error::Precondition { path, .. }
            | object_store::Error::NotModified { path, .. } => Some(path.clone()),
            _ => None,
        };
        let message = match &e {
            object_store::Error::NotFound { .. } => "object not found",
            _ => "object store operation failed",
        };
        let mut out = Error::new(ErrorKind::Storage, message);
        if let Some(path) = path {
            out = out.with_context("path", path);
        }
        out.with_source(e)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn display_shows_kind_message_and_every_context_pair() {
        let e = Error::new(ErrorKind::TableNotFound, "no such table")
            .with_context("table", "ns.t")
            .with_context("catalog", "thermocline");
        let s = e.to_string();
        assert!(s.contains("TableNotFound"), "{s}");
        assert!(s.contains("no such table"), "{s}");
        assert!(s.contains("table: ns.t"), "{s}");
        assert!(s.contains("catalog: thermocline"), "{s}");
    }

    #[test]
    fn source_is_chained_and_displayed() {
        let io = std::io::Error::other("disk on fire");
        let e = Error::new(ErrorKind::Storage, "write failed").with_source(io);
        assert!(e.to_string().contains("disk on fire"));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn into_iceberg_maps_kinds_and_keeps_context() {
        let cases = [
            (ErrorKind::NamespaceNotFound, iceberg::ErrorKind::NamespaceNotFound),
            (
                ErrorKind::NamespaceAlreadyExists,
                iceberg::ErrorKind::NamespaceAlreadyExists,
            ),
            (ErrorKind::TableNotFound, iceberg::ErrorKind::TableNotFound),
            (ErrorKind::TableAlreadyExists, iceberg::ErrorKind::TableAlreadyExists),
            (ErrorKind::CommitConflict, iceberg::ErrorKind::CatalogCommitConflicts),
            (ErrorKind::Catalog, iceberg::ErrorKind::Unexpected),
            (ErrorKind::Storage, iceberg::ErrorKind::Unexpected),
            (ErrorKind::NotSupported, iceberg::ErrorKind::FeatureUnsupported),
        ];
        for (ours, theirs) in cases {
            let e: iceberg::Error = Error::new(ours, "m").with_context("table", "ns.t").into();
            assert_eq!(e.kind(), theirs);
            assert!(e.to_string().contains("table: ns.t"), "{e}");
        }
    }

    #[test]
    fn retryable_conflict_survives_the_round_trip() {
        let e: iceberg::Error = Error::new(ErrorKind::CommitConflict, "lost the race")
            .with_retryable(true)
            .into();
        assert!(e.retryable());
        let back = Error::from(e);
        assert_eq!(back.kind(), ErrorKind::CommitConflict);
        assert!(back.is_retryable());

        let e: iceberg::Error = Error::new(ErrorKind::CommitConflict, "stale").into();
        assert!(!e.retryable());
    }

    #[test]
    fn object_store_not_found_names_the_path() {
        let e = object_store::Error::NotFound {
            path: "wh/ns/t/metadata/x.json".into(),
            source: "gone".into(),
        };
        let ours = Error::from(e);
        assert_eq!(ours.kind(), ErrorKind::Storage);
        assert!(ours.to_string().contains("wh/ns/t/metadata/x.json"));
    }
}
