//! History: what a table held at an earlier time, and what changed.
//!
//! - [`log`]: the change log, `<table>$changes`, where compaction keeps the
//!   delete events that copy-on-write removes from the data table.
//! - [`versions`]: every row version a table ever had, live or deleted,
//!   with its validity period: the one plan time travel (`FOR SYSTEM_TIME`)
//!   and CDC (`thermocline_changes`) read.

pub mod cdc;
pub mod log;
pub mod snapshots;
pub mod time_travel;
pub mod versions;

use crate::error::{Error, Result};
use crate::hot::TableName;
use crate::warehouse::{CATALOG_NAME, DEFAULT_NAMESPACE};

/// A table named in a string argument (`'t'`, `'s.t'`, `'"T"'`), resolved
/// as SQL resolves names: lower-cased unless quoted, `public` by default.
pub fn table_name(text: &str) -> Result<TableName> {
    let dialect = datafusion::sql::sqlparser::dialect::PostgreSqlDialect {};
    let name = datafusion::sql::sqlparser::parser::Parser::new(&dialect)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_object_name(false))
        .map_err(|_| Error::plan(format!("\"{text}\" is not a table name")))?;
    let parts = crate::sql::normalize_name(&name)?;
    match parts.as_slice() {
        [table] => Ok(TableName::new(DEFAULT_NAMESPACE, table.clone())),
        [schema, table] => Ok(TableName::new(schema.clone(), table.clone())),
        [catalog, schema, table] if catalog == CATALOG_NAME => Ok(TableName::new(schema.clone(), table.clone())),
        _ => Err(Error::plan(format!("\"{text}\" is not a table name"))),
    }
}
