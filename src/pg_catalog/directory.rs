//! A snapshot of the warehouse as PostgreSQL's catalogs describe it:
//! namespaces, tables, their columns with PostgreSQL types, and the index
//! each PRIMARY KEY / UNIQUE constraint stands for. Every `pg_catalog`
//! table is built from one of these, read when the table is scanned.
//!
//! OIDs are derived from names (see [`relation_oid`]), so the same object
//! has the same OID in every table, every session and every process: psql
//! reads `c.oid` from one query and sends it back in the next.

use std::sync::{Arc, Mutex};

use arrow::datatypes::{DataType, Field};
use iceberg::{NamespaceIdent, TableIdent};

use crate::error::Result;
use crate::sql::pg_types::{self, PG_TYPE_KEY, PgType};
use crate::table::constraints::{self, ConstraintKind};
use crate::warehouse::WarehouseInner;

/// `pg_catalog`'s namespace OID in PostgreSQL.
pub const PG_CATALOG_OID: i64 = 11;
/// `public`'s namespace OID in PostgreSQL.
pub const PUBLIC_OID: i64 = 2200;
/// `information_schema`'s namespace OID (PostgreSQL assigns it at initdb).
pub const INFORMATION_SCHEMA_OID: i64 = 13_000;
/// The one role: owner of everything (PostgreSQL's bootstrap superuser OID).
pub const OWNER_OID: i64 = 10;
/// The role name clients see as owner and `current_user`.
pub const OWNER_NAME: &str = "thermocline";
/// The database OID (`postgres` has 5 in PostgreSQL).
pub const DATABASE_OID: i64 = 5;
/// `pg_am` rows: heap for tables, btree for the constraint indexes.
pub const HEAP_AM_OID: i64 = 2;
pub const BTREE_AM_OID: i64 = 403;
/// `default` collation, what text columns report.
pub const DEFAULT_COLLATION_OID: i64 = 100;

/// First OID PostgreSQL gives to user objects.
const FIRST_USER_OID: u64 = 16_384;
/// Derived OIDs start above the fixed ones (`vector` 16385, `_vector` 16390).
const FIRST_DERIVED_OID: u64 = FIRST_USER_OID + 16;

/// The OID of a namespace.
pub fn namespace_oid(name: &str) -> i64 {
    match name {
        "pg_catalog" => PG_CATALOG_OID,
        "public" => PUBLIC_OID,
        "information_schema" => INFORMATION_SCHEMA_OID,
        _ => derived_oid(&["namespace", name]),
    }
}

/// The OID of a table (`pg_class.oid`, `pg_attribute.attrelid`, ...).
pub fn relation_oid(namespace: &str, name: &str) -> i64 {
    derived_oid(&["relation", namespace, name])
}

/// The OID of the index behind a constraint (a `pg_class` row of kind `i`).
pub fn index_oid(namespace: &str, constraint: &str) -> i64 {
    derived_oid(&["index", namespace, constraint])
}

/// The OID of a PRIMARY KEY / UNIQUE constraint (`pg_constraint.oid`).
pub fn constraint_oid(namespace: &str, constraint: &str) -> i64 {
    derived_oid(&["constraint", namespace, constraint])
}

/// FNV-1a over the parts, folded into [16400, 2^31): stable across builds
/// and platforms (std's hasher is not), and clear of PostgreSQL's fixed OIDs.
/// Two names may collide with probability ~n²/2^32; both keep working as
/// tables, only catalog joins on the OID would mix them.
fn derived_oid(parts: &[&str]) -> i64 {
    let mut hash: u32 = 0x811c_9dc5;
    for part in parts {
        for byte in part.bytes().chain([0]) {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    }
    let span = (1u64 << 31) - FIRST_DERIVED_OID;
    (FIRST_DERIVED_OID + u64::from(hash) % span) as i64
}

/// One schema.
#[derive(Debug, Clone)]
pub struct Namespace {
    pub oid: i64,
    pub name: String,
}

/// One user column.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// 1-based, PostgreSQL's `attnum`.
    pub num: i16,
    pub pg_type: PgType,
    pub not_null: bool,
}

/// A PRIMARY KEY or UNIQUE constraint and the index that enforces it.
#[derive(Debug, Clone)]
pub struct Index {
    pub oid: i64,
    pub constraint_oid: i64,
    pub name: String,
    pub primary: bool,
    /// `attnum`s of the key columns, in key order.
    pub columns: Vec<i16>,
}

/// One table.
#[derive(Debug, Clone)]
pub struct Table {
    pub oid: i64,
    pub namespace_oid: i64,
    pub namespace: String,
    pub name: String,
    pub columns: Vec<Column>,
    pub indexes: Vec<Index>,
}

impl Table {
    pub fn column_name(&self, num: i16) -> Option<&str> {
        self.columns.iter().find(|c| c.num == num).map(|c| c.name.as_str())
    }

    /// `(id, name)` for an index's key columns.
    pub fn key_list(&self, index: &Index) -> String {
        index
            .columns
            .iter()
            .map(|n| quote_ident(self.column_name(*n).unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `pg_get_indexdef`: `CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)`.
    pub fn index_def(&self, index: &Index) -> String {
        format!(
            "CREATE UNIQUE INDEX {} ON {}.{} USING btree ({})",
            quote_ident(&index.name),
            quote_ident(&self.namespace),
            quote_ident(&self.name),
            self.key_list(index)
        )
    }

    /// `pg_get_constraintdef`: `PRIMARY KEY (id)`, `UNIQUE (email)`.
    pub fn constraint_def(&self, index: &Index) -> String {
        let kind = if index.primary { "PRIMARY KEY" } else { "UNIQUE" };
        format!("{kind} ({})", self.key_list(index))
    }
}

/// The whole warehouse, as the catalogs show it.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub namespaces: Vec<Namespace>,
    pub tables: Vec<Table>,
}

impl Directory {
    /// Read namespaces and every table's current metadata.
    pub async fn read(warehouse: &WarehouseInner) -> Result<Self> {
        let mut namespaces = vec![
            Namespace {
                oid: PG_CATALOG_OID,
                name: "pg_catalog".into(),
            },
            Namespace {
                oid: INFORMATION_SCHEMA_OID,
                name: "information_schema".into(),
            },
        ];
        let mut tables = Vec::new();
        for ident in warehouse.catalog.list_namespaces(None).await? {
            let namespace = ident.join(".");
            namespaces.push(Namespace {
                oid: namespace_oid(&namespace),
                name: namespace.clone(),
            });
            for table in warehouse.catalog.list_tables(&ident).await? {
                if crate::history::log::is_log_name(&table.name) {
                    continue;
                }
                // A table dropped between the listing and the load is gone.
                match read_table(warehouse, &ident, &namespace, &table.name).await {
                    Ok(t) => tables.push(t),
                    Err(e) if e.kind() == crate::error::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(Self { namespaces, tables })
    }

    pub fn table(&self, oid: i64) -> Option<&Table> {
        self.tables.iter().find(|t| t.oid == oid)
    }

    /// The table and index an index OID belongs to.
    pub fn index(&self, oid: i64) -> Option<(&Table, &Index)> {
        self.tables
            .iter()
            .find_map(|t| t.indexes.iter().find(|i| i.oid == oid).map(|i| (t, i)))
    }

    pub fn constraint(&self, oid: i64) -> Option<(&Table, &Index)> {
        self.tables
            .iter()
            .find_map(|t| t.indexes.iter().find(|i| i.constraint_oid == oid).map(|i| (t, i)))
    }

    pub fn namespace_name(&self, oid: i64) -> Option<&str> {
        self.namespaces.iter().find(|n| n.oid == oid).map(|n| n.name.as_str())
    }

    /// The relation (table or index) an OID names: `(namespace, name)`.
    pub fn relation_name(&self, oid: i64) -> Option<(&str, &str)> {
        if let Some(t) = self.table(oid) {
            return Some((&t.namespace, &t.name));
        }
        self.index(oid).map(|(t, i)| (t.namespace.as_str(), i.name.as_str()))
    }
}

async fn read_table(warehouse: &WarehouseInner, ident: &NamespaceIdent, namespace: &str, name: &str) -> Result<Table> {
    let loaded = warehouse
        .load_table(&TableIdent::new(ident.clone(), name.to_string()))
        .await?;
    let metadata = loaded.metadata();
    let iceberg_schema = metadata.current_schema();
    let arrow = iceberg::arrow::schema_to_arrow_schema(iceberg_schema)?;
    let mut columns = Vec::new();
    for (field, arrow_field) in iceberg_schema.as_struct().fields().iter().zip(arrow.fields()) {
        if crate::table::hidden::is_hidden(&field.name) {
            continue;
        }
        columns.push(Column {
            name: field.name.clone(),
            num: i16::try_from(columns.len() + 1).unwrap_or(i16::MAX),
            pg_type: column_type(arrow_field, field.doc.as_deref()),
            not_null: field.required,
        });
    }
    let oid = relation_oid(namespace, name);
    let indexes = constraints::from_properties(metadata.properties())
        .map_err(|e| e.with_context("table", format!("{namespace}.{name}")))?
        .into_iter()
        .map(|c| Index {
            oid: index_oid(namespace, &c.name),
            constraint_oid: constraint_oid(namespace, &c.name),
            primary: c.kind == ConstraintKind::PrimaryKey,
            columns: c
                .columns
                .iter()
                .filter_map(|name| columns.iter().find(|col| &col.name == name).map(|col| col.num))
                .collect(),
            name: c.name,
        })
        .collect();
    Ok(Table {
        oid,
        namespace_oid: namespace_oid(namespace),
        namespace: namespace.to_string(),
        name: name.to_string(),
        columns,
        indexes,
    })
}

/// The PostgreSQL type of a table column: its Arrow type, refined by the
/// spelling CREATE TABLE kept in the Iceberg doc (`jsonb` and `varchar` are
/// strings in Iceberg, `smallint` an int).
pub fn column_type(field: &Field, doc: Option<&str>) -> PgType {
    let field = match doc {
        Some("smallint") if field.data_type() == &DataType::Int32 => {
            Field::new(field.name(), DataType::Int16, field.is_nullable())
        }
        Some(name @ ("jsonb" | "json" | "varchar" | "uuid")) => field
            .clone()
            .with_metadata([(PG_TYPE_KEY.to_string(), name.to_string())].into()),
        _ => field.clone(),
    };
    pg_types::for_field(&field)
}

/// Every type `pg_type` lists: the shared table plus `_vector`.
pub fn all_types() -> Vec<PgType> {
    let mut types = PgType::ALL.to_vec();
    types.extend(PgType::VECTOR.array());
    types
}

/// The type named `name` as `::regtype` / `to_regtype` accept it:
/// `int4`, `integer`, `character varying`, `vector`, `integer[]`.
pub fn type_by_name(name: &str) -> Option<PgType> {
    let name = name.trim().trim_matches('"').to_ascii_lowercase();
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
    if let Some(element) = name.strip_suffix("[]") {
        return type_by_name(element).and_then(PgType::array);
    }
    let alias = match name {
        "int" | "integer" => "int4",
        "smallint" => "int2",
        "bigint" => "int8",
        "real" => "float4",
        "double precision" | "float" => "float8",
        "boolean" => "bool",
        "character varying" => "varchar",
        "decimal" => "numeric",
        "timestamp without time zone" => "timestamp",
        "timestamp with time zone" => "timestamptz",
        "time without time zone" => "time",
        other => other,
    };
    all_types().into_iter().find(|t| t.name == alias)
}

/// PostgreSQL's `quote_ident`: quote unless a plain lower-case identifier.
pub fn quote_ident(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// The last directory a `pg_catalog` scan read, shared with the functions
/// (`pg_get_indexdef`, `::regclass`, `pg_table_is_visible`) that look OIDs
/// up while the same query runs. Scans run before the expressions over
/// their rows, so the functions see the directory their query read.
#[derive(Debug, Default)]
pub struct DirectoryCache {
    latest: Mutex<Option<Arc<Directory>>>,
}

impl DirectoryCache {
    pub fn store(&self, directory: Arc<Directory>) {
        *self.latest.lock().unwrap_or_else(|p| p.into_inner()) = Some(directory);
    }

    pub fn latest(&self) -> Option<Arc<Directory>> {
        self.latest.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::pg_types::{VECTOR_ARRAY_OID, VECTOR_OID};

    #[test]
    fn oids_are_stable_and_clear_of_fixed_ones() {
        let oid = relation_oid("public", "users");
        assert_eq!(oid, relation_oid("public", "users"));
        assert_ne!(oid, relation_oid("other", "users"));
        for name in ["a", "b", "users", "t1", "orders"] {
            let oid = relation_oid("public", name);
            assert!(oid >= FIRST_DERIVED_OID as i64 && oid < (1 << 31), "{oid}");
            assert_ne!(oid, i64::from(VECTOR_OID));
            assert_ne!(oid, i64::from(VECTOR_ARRAY_OID));
        }
    }

    #[test]
    fn types_by_name() {
        assert_eq!(type_by_name("integer"), Some(PgType::INT4));
        assert_eq!(type_by_name("vector").map(|t| t.oid), Some(VECTOR_OID));
        assert_eq!(type_by_name("pg_catalog.int4[]"), Some(PgType::INT4_ARRAY));
        assert_eq!(type_by_name("nope"), None);
    }

    #[test]
    fn jsonb_doc_wins_over_utf8() {
        let f = Field::new("j", DataType::Utf8, true);
        assert_eq!(column_type(&f, Some("jsonb")), PgType::JSONB);
        assert_eq!(column_type(&f, Some("text")), PgType::TEXT);
        let i = Field::new("s", DataType::Int32, true);
        assert_eq!(column_type(&i, Some("smallint")), PgType::INT2);
    }
}
