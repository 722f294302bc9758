//! The catalog database: the JDBC-catalog schema that Java's `JdbcCatalog`
//! and pyiceberg's `SqlCatalog` share, in a SQLite file, so either of them can
//! open a thermocline catalog directly (and we can open theirs).
//!
//! Every method is synchronous and short: it takes the connection lock, runs
//! a statement or one transaction, and releases the lock before returning, so
//! it is never held across an `.await`. Several processes may share the file:
//! WAL mode lets readers run beside the writer, and `busy_timeout` makes a
//! writer wait for another process's write instead of failing at once.
//!
//! Namespaces are stored dotted (`a.b`), as both reference implementations do.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::{Error, ErrorKind, Result};

/// pyiceberg writes this property for a namespace created without properties,
/// so that the namespace has a row and therefore exists.
pub(crate) const EXISTS_PROPERTY: &str = "exists";

/// The DDL of pyiceberg 0.12 (`pyiceberg/catalog/sql.py`) plus Java's V1
/// `iceberg_type` column (NULL or 'TABLE' for tables, 'VIEW' for views; pyiceberg
/// ignores it). `IF NOT EXISTS` lets us open a catalog another tool created.
const DDL: &str = "
CREATE TABLE IF NOT EXISTS iceberg_tables (
    catalog_name VARCHAR(255) NOT NULL,
    table_namespace VARCHAR(255) NOT NULL,
    table_name VARCHAR(255) NOT NULL,
    metadata_location VARCHAR(1000),
    previous_metadata_location VARCHAR(1000),
    iceberg_type VARCHAR(5),
    PRIMARY KEY (catalog_name, table_namespace, table_name)
);
CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (
    catalog_name VARCHAR(255) NOT NULL,
    namespace VARCHAR(255) NOT NULL,
    property_key VARCHAR(255) NOT NULL,
    property_value VARCHAR(1000) NOT NULL,
    PRIMARY KEY (catalog_name, namespace, property_key)
);
";

/// Rows that are tables (not Java views): pyiceberg leaves `iceberg_type` NULL.
const IS_TABLE: &str = "(iceberg_type IS NULL OR iceberg_type = 'TABLE')";

/// The connection and the catalog name every row is keyed by.
#[derive(Debug)]
pub(crate) struct Db {
    conn: Mutex<Connection>,
    catalog: String,
}

impl Db {
    pub(crate) fn open(path: &Path, catalog: String) -> Result<Self> {
        let at = |e: rusqlite::Error| {
            Error::from(e)
                .with_context("catalog_db", path.display().to_string())
                .with_context("catalog", catalog.as_str())
        };
        let conn = Connection::open(path).map_err(at)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(at)?;
        // An in-memory database answers "memory": that is fine, it has no WAL.
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
            .map_err(at)?;
        conn.execute_batch(DDL).map_err(at)?;
        // A catalog created by pyiceberg lacks Java's column: add it like
        // JdbcCatalog's V0 → V1 migration does.
        let has_type = conn
            .prepare("SELECT 1 FROM pragma_table_info('iceberg_tables') WHERE name = 'iceberg_type'")
            .and_then(|mut s| s.exists([]))
            .map_err(at)?;
        if !has_type {
            conn.execute_batch("ALTER TABLE iceberg_tables ADD COLUMN iceberg_type VARCHAR(5)")
                .map_err(at)?;
        }
        Ok(Self {
            conn: Mutex::new(conn),
            catalog,
        })
    }

    pub(crate) fn catalog(&self) -> &str {
        &self.catalog
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>> {
        self.conn.lock().map_err(|_| {
            Error::new(
                ErrorKind::Catalog,
                "catalog connection lock poisoned by a panic in another thread",
            )
            .with_context("catalog", self.catalog.as_str())
        })
    }

    /// Runs `f` in an IMMEDIATE transaction: the write lock is taken up front,
    /// so a check-then-write cannot interleave with another process's write.
    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    pub(crate) fn namespace_exists(&self, ns: &str) -> Result<bool> {
        namespace_exists(&*self.lock()?, &self.catalog, ns)
    }

    /// Every namespace strictly below `parent` (all of them for `None`), dotted.
    pub(crate) fn namespaces_under(&self, parent: Option<&str>) -> Result<BTreeSet<String>> {
        let conn = self.lock()?;
        let prefix = parent.map(|p| format!("{p}.")).unwrap_or_default();
        let mut out = BTreeSet::new();
        for sql in [
            "SELECT DISTINCT table_namespace FROM iceberg_tables WHERE catalog_name = ?1",
            "SELECT DISTINCT namespace FROM iceberg_namespace_properties WHERE catalog_name = ?1",
        ] {
            let mut stmt = conn.prepare(sql)?;
            let rows = stmt.query_map(params![self.catalog], |r| r.get::<_, String>(0))?;
            for ns in rows {
                let ns = ns?;
                if ns.starts_with(&prefix) && ns.len() > prefix.len() {
                    out.insert(ns);
                }
            }
        }
        Ok(out)
    }

    pub(crate) fn namespace_properties(&self, ns: &str) -> Result<HashMap<String, String>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(
            "SELECT property_key, property_value FROM iceberg_namespace_properties \
             WHERE catalog_name = ?1 AND namespace = ?2",
        )?;
        let rows = stmt.query_map(params![self.catalog, ns], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub(crate) fn create_namespace(&self, ns: &str, props: &HashMap<String, String>) -> Result<()> {
        self.write(|tx| {
            if namespace_exists(tx, &self.catalog, ns)? {
                return Err(
                    Error::new(ErrorKind::NamespaceAlreadyExists, "namespace already exists")
                        .with_context("namespace", ns),
                );
            }
            insert_properties(tx, &self.catalog, ns, props)
        })
    }

    /// Replaces the namespace's properties with `props` (the full set).
    pub(crate) fn replace_properties(&self, ns: &str, props: &HashMap<String, String>) -> Result<()> {
        self.write(|tx| {
            if !namespace_exists(tx, &self.catalog, ns)? {
                return Err(namespace_not_found(ns));
            }
            tx.execute(
                "DELETE FROM iceberg_namespace_properties WHERE catalog_name = ?1 AND namespace = ?2",
                params![self.catalog, ns],
            )?;
            insert_properties(tx, &self.catalog, ns, props)
        })
    }

    pub(crate) fn drop_namespace(&self, ns: &str) -> Result<()> {
        self.write(|tx| {
            if !namespace_exists(tx, &self.catalog, ns)? {
                return Err(namespace_not_found(ns));
            }
            let child = format!("{ns}.");
            let non_empty: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM iceberg_tables WHERE catalog_name = ?1 \
                   AND (table_namespace = ?2 OR substr(table_namespace, 1, length(?3)) = ?3)) \
                 OR EXISTS (SELECT 1 FROM iceberg_namespace_properties WHERE catalog_name = ?1 \
                   AND substr(namespace, 1, length(?3)) = ?3)",
                params![self.catalog, ns, child],
                |r| r.get(0),
            )?;
            if non_empty {
                return Err(Error::new(
                    ErrorKind::NamespaceNotEmpty,
                    "namespace still holds tables or namespaces; drop them first",
                )
                .with_context("namespace", ns));
            }
            tx.execute(
                "DELETE FROM iceberg_namespace_properties WHERE catalog_name = ?1 AND namespace = ?2",
                params![self.catalog, ns],
            )?;
            Ok(())
        })
    }

    pub(crate) fn list_tables(&self, ns: &str) -> Result<Vec<String>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT table_name FROM iceberg_tables \
             WHERE catalog_name = ?1 AND table_namespace = ?2 AND {IS_TABLE} ORDER BY table_name"
        ))?;
        let rows = stmt.query_map(params![self.catalog, ns], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The table's current metadata location; `None` if there is no such table.
    pub(crate) fn metadata_location(&self, ns: &str, table: &str) -> Result<Option<String>> {
        let conn = self.lock()?;
        // Cached: every query loads its tables through this.
        let location: Option<Option<String>> = conn
            .prepare_cached(&format!(
                "SELECT metadata_location FROM iceberg_tables \
                 WHERE catalog_name = ?1 AND table_namespace = ?2 AND table_name = ?3 AND {IS_TABLE}"
            ))?
            .query_row(params![self.catalog, ns, table], |r| r.get(0))
            .optional()?;
        // A row without a location is not a loadable table (pyiceberg agrees).
        Ok(location.flatten())
    }

    /// Adds a table row; `TableAlreadyExists` if the name is taken.
    pub(crate) fn insert_table(&self, ns: &str, table: &str, location: &str) -> Result<()> {
        self.write(|tx| {
            if !namespace_exists(tx, &self.catalog, ns)? {
                return Err(namespace_not_found(ns));
            }
            if table_row_exists(tx, &self.catalog, ns, table)? {
                return Err(table_already_exists(ns, table));
            }
            tx.execute(
                "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, \
                 metadata_location, previous_metadata_location, iceberg_type) \
                 VALUES (?1, ?2, ?3, ?4, NULL, 'TABLE')",
                params![self.catalog, ns, table, location],
            )?;
            Ok(())
        })
    }

    /// Removes a table row; `false` if there was none.
    pub(crate) fn delete_table(&self, ns: &str, table: &str) -> Result<bool> {
        let n = self.lock()?.execute(
            &format!(
                "DELETE FROM iceberg_tables \
                 WHERE catalog_name = ?1 AND table_namespace = ?2 AND table_name = ?3 AND {IS_TABLE}"
            ),
            params![self.catalog, ns, table],
        )?;
        Ok(n > 0)
    }

    pub(crate) fn rename_table(&self, src: (&str, &str), dst: (&str, &str)) -> Result<()> {
        self.write(|tx| {
            if !namespace_exists(tx, &self.catalog, dst.0)? {
                return Err(namespace_not_found(dst.0));
            }
            if table_row_exists(tx, &self.catalog, dst.0, dst.1)? {
                return Err(table_already_exists(dst.0, dst.1));
            }
            let n = tx.execute(
                &format!(
                    "UPDATE iceberg_tables SET table_namespace = ?4, table_name = ?5 \
                     WHERE catalog_name = ?1 AND table_namespace = ?2 AND table_name = ?3 AND {IS_TABLE}"
                ),
                params![self.catalog, src.0, src.1, dst.0, dst.1],
            )?;
            if n == 0 {
                return Err(table_not_found(src.0, src.1));
            }
            Ok(())
        })
    }

    /// The commit point: moves the metadata pointer from `old` to `new` only if
    /// it still is `old`. `false` means another writer moved it first.
    pub(crate) fn swap_metadata_location(&self, ns: &str, table: &str, old: &str, new: &str) -> Result<bool> {
        let n = self.lock()?.execute(
            "UPDATE iceberg_tables SET metadata_location = ?5, previous_metadata_location = ?4 \
             WHERE catalog_name = ?1 AND table_namespace = ?2 AND table_name = ?3 \
             AND metadata_location = ?4",
            params![self.catalog, ns, table, old, new],
        )?;
        Ok(n == 1)
    }
}

/// A namespace exists if it, or a namespace below it, has a property row or a
/// table (pyiceberg's `_namespace_exists`).
fn namespace_exists(conn: &Connection, catalog: &str, ns: &str) -> Result<bool> {
    let child = format!("{ns}.");
    // Cached: every query's name resolution asks this.
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM iceberg_tables WHERE catalog_name = ?1 \
               AND (table_namespace = ?2 OR substr(table_namespace, 1, length(?3)) = ?3)) \
             OR EXISTS (SELECT 1 FROM iceberg_namespace_properties WHERE catalog_name = ?1 \
               AND (namespace = ?2 OR substr(namespace, 1, length(?3)) = ?3))",
        )?
        .query_row(params![catalog, ns, child], |r| r.get(0))?)
}

fn table_row_exists(conn: &Connection, catalog: &str, ns: &str, table: &str) -> Result<bool> {
    // Any row, view or table: the primary key covers both.
    Ok(conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM iceberg_tables \
         WHERE catalog_name = ?1 AND table_namespace = ?2 AND table_name = ?3)",
        params![catalog, ns, table],
        |r| r.get(0),
    )?)
}

fn insert_properties(conn: &Connection, catalog: &str, ns: &str, props: &HashMap<String, String>) -> Result<()> {
    let mut stmt = conn.prepare(
        "INSERT INTO iceberg_namespace_properties (catalog_name, namespace, property_key, property_value) \
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    if props.is_empty() {
        // Without a row the namespace would not exist.
        stmt.execute(params![catalog, ns, EXISTS_PROPERTY, "true"])?;
    }
    for (k, v) in props {
        stmt.execute(params![catalog, ns, k, v])?;
    }
    Ok(())
}

pub(crate) fn namespace_not_found(ns: &str) -> Error {
    Error::new(ErrorKind::NamespaceNotFound, "namespace does not exist").with_context("namespace", ns)
}

pub(crate) fn table_not_found(ns: &str, table: &str) -> Error {
    Error::new(ErrorKind::TableNotFound, "table does not exist").with_context("table", format!("{ns}.{table}"))
}

fn table_already_exists(ns: &str, table: &str) -> Error {
    Error::new(ErrorKind::TableAlreadyExists, "table already exists").with_context("table", format!("{ns}.{table}"))
}
