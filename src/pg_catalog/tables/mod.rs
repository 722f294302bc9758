//! The `pg_catalog` schema: each table declared as its columns (PostgreSQL
//! 15's names, in its order, for the columns clients read) and a function
//! from a [`Directory`] to its rows. Tables are built when scanned, so a
//! table created a moment ago is listed.
//!
//! Catalogs of things thermocline does not have (policies, triggers,
//! publications, inheritance, ...) are declared with no rows: psql's `\d`
//! joins them and must get an empty answer, not an unknown-table error.
//!
//! - [`provider`]: the schema and table providers DataFusion scans, which
//!   read the warehouse only for the tables that describe it.
//! - [`relations`]: the warehouse's namespaces, tables, columns, indexes and
//!   keys (`pg_class`, `pg_attribute`, `pg_index`, `pg_tables`, ...).
//! - [`types`]: the types and collations (`pg_type`, `pg_collation`).
//! - [`instance`]: the server's own objects: its database, owner role,
//!   access methods, tablespaces, settings and extension.
//! - [`empty`]: the catalogs declared with no rows.

mod empty;
mod instance;
mod provider;
mod relations;
mod types;

use super::directory::Directory;
use super::rows::{Ty, V};

pub use provider::{PgCatalogSchema, PgCatalogTable};

/// What a table's rows are built from.
pub struct Source<'a> {
    pub directory: &'a Directory,
    pub settings: Vec<(String, String)>,
}

type Rows = fn(&Source<'_>) -> Vec<Vec<V>>;

/// One `pg_catalog` table.
pub struct TableDef {
    pub name: &'static str,
    pub columns: &'static [(&'static str, Ty)],
    rows: Rows,
}

/// Every table of the schema.
pub static TABLES: &[TableDef] = &[
    relations::PG_NAMESPACE,
    relations::PG_CLASS,
    relations::PG_ATTRIBUTE,
    types::PG_TYPE,
    relations::PG_INDEX,
    relations::PG_CONSTRAINT,
    instance::PG_DATABASE,
    instance::PG_ROLES,
    instance::PG_AUTHID,
    instance::PG_USER,
    instance::PG_AM,
    instance::PG_TABLESPACE,
    types::PG_COLLATION,
    instance::PG_SETTINGS,
    instance::PG_EXTENSION,
    relations::PG_TABLES,
    relations::PG_INDEXES,
    empty::PG_VIEWS,
    empty::PG_MATVIEWS,
    empty::PG_ATTRDEF,
    empty::PG_DESCRIPTION,
    empty::PG_SHDESCRIPTION,
    empty::PG_INHERITS,
    empty::PG_POLICY,
    empty::PG_STATISTIC_EXT,
    empty::PG_PUBLICATION,
    empty::PG_PUBLICATION_NAMESPACE,
    empty::PG_PUBLICATION_REL,
    empty::PG_PROC,
    empty::PG_ENUM,
    empty::PG_RANGE,
    empty::PG_TRIGGER,
    empty::PG_REWRITE,
    empty::PG_DEPEND,
    empty::PG_SEQUENCE,
    empty::PG_FOREIGN_TABLE,
    empty::PG_PARTITIONED_TABLE,
    empty::PG_EVENT_TRIGGER,
];

/// Whether `name` is a `pg_catalog` table (for qualifying bare names).
pub fn is_catalog_table(name: &str) -> bool {
    TABLES.iter().any(|t| t.name == name)
}
