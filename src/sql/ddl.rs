//! CREATE TABLE → an Iceberg table definition: schema (user columns, then
//! the hidden columns that travel with every row), partition spec, and
//! table properties.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::sql::sqlparser::ast::{
    ColumnOption, CreateTable, CreateTableOptions, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident,
    SqlOption, TableConstraint, Value,
};
use iceberg::spec::{NestedField, PrimitiveType, Schema, Transform, Type, UnboundPartitionSpec};

use super::types::{arrow_to_iceberg, pg_to_iceberg};
use crate::error::{Error, ErrorKind, Result};
use crate::table::constraints::{self, CONSTRAINTS, Constraint, ConstraintKind};
use crate::table::hidden;

/// Everything needed to create a table in the catalog.
#[derive(Debug, Clone)]
pub struct TableDefinition {
    pub schema: Schema,
    pub partition_spec: UnboundPartitionSpec,
    pub properties: HashMap<String, String>,
}

/// One user column before field ids are assigned.
#[derive(Debug, Clone)]
pub struct ColumnSpec {
    pub name: String,
    pub data_type: Type,
    pub pg_type: String,
    pub required: bool,
}

/// Table property keys thermocline reads.
pub mod props {
    /// Columns compaction sorts each file by (comma separated).
    pub const SORT_BY: &str = "thermocline.sort-by";
    /// Iceberg's own target file size property.
    pub const TARGET_FILE_SIZE: &str = "write.target-file-size-bytes";
    pub const COMPRESSION: &str = "write.parquet.compression-codec";
}

/// Columns and key constraints of a CREATE TABLE with a column list.
/// `table` is the bare table name (constraint names derive from it).
pub fn columns_from_create(create: &CreateTable, table: &str) -> Result<(Vec<ColumnSpec>, Vec<Constraint>)> {
    if create.columns.is_empty() && create.query.is_none() {
        return Err(Error::plan(format!(
            "table \"{}\" needs at least one column",
            create.name
        )));
    }
    let mut columns = Vec::with_capacity(create.columns.len());
    let mut constraints = Vec::new();
    for column in &create.columns {
        let name = column.name.value.clone();
        let (data_type, pg_type) = pg_to_iceberg(&column.data_type, &name)?;
        let mut required = false;
        for option in &column.options {
            match &option.option {
                ColumnOption::NotNull => required = true,
                ColumnOption::Null => required = false,
                ColumnOption::PrimaryKey(_) => constraints.push(key_constraint(
                    table,
                    option.name.as_ref(),
                    ConstraintKind::PrimaryKey,
                    vec![name.clone()],
                )),
                ColumnOption::Unique(_) => constraints.push(key_constraint(
                    table,
                    option.name.as_ref(),
                    ConstraintKind::Unique,
                    vec![name.clone()],
                )),
                other => {
                    return Err(
                        Error::not_supported(format!("column option {other} is not supported yet"))
                            .with_context("table", &create.name)
                            .with_context("column", &name),
                    );
                }
            }
        }
        columns.push(ColumnSpec {
            name,
            data_type,
            pg_type,
            required,
        });
    }
    for constraint in &create.constraints {
        let (name, kind, keys) = match constraint {
            TableConstraint::PrimaryKey(pk) => (pk.name.as_ref(), ConstraintKind::PrimaryKey, &pk.columns),
            TableConstraint::Unique(unique) => (unique.name.as_ref(), ConstraintKind::Unique, &unique.columns),
            other => {
                return Err(
                    Error::not_supported(format!("table constraint {other} is not supported"))
                        .with_context("table", &create.name),
                );
            }
        };
        let names = keys
            .iter()
            .map(|k| match &k.column.expr {
                Expr::Identifier(ident) => Ok(ident.value.clone()),
                other => Err(Error::not_supported(format!(
                    "constraint on expression {other} is not supported; name columns"
                ))
                .with_context("table", &create.name)),
            })
            .collect::<Result<Vec<_>>>()?;
        constraints.push(key_constraint(table, name, kind, names));
    }
    check_constraints(table, &mut columns, &constraints)?;
    Ok((columns, constraints))
}

fn key_constraint(table: &str, name: Option<&Ident>, kind: ConstraintKind, columns: Vec<String>) -> Constraint {
    Constraint {
        name: name
            .map(|n| n.value.clone())
            .unwrap_or_else(|| Constraint::default_name(table, kind, &columns)),
        kind,
        columns,
    }
}

/// One primary key at most; key columns exist; primary key columns become
/// NOT NULL (PostgreSQL's rule, and Iceberg's for identifier fields).
fn check_constraints(table: &str, columns: &mut [ColumnSpec], constraints: &[Constraint]) -> Result<()> {
    let primary = constraints
        .iter()
        .filter(|c| c.kind == ConstraintKind::PrimaryKey)
        .count();
    if primary > 1 {
        return Err(Error::plan(format!(
            "multiple primary keys for table \"{table}\" are not allowed"
        )));
    }
    let mut names = std::collections::HashSet::new();
    for constraint in constraints {
        if !names.insert(constraint.name.as_str()) {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "constraint \"{}\" for relation \"{table}\" already exists",
                    constraint.name
                ),
            ));
        }
        for key in &constraint.columns {
            let Some(column) = columns.iter_mut().find(|c| &c.name == key) else {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("column \"{key}\" named in key does not exist"),
                )
                .with_context("table", table));
            };
            if !matches!(column.data_type, Type::Primitive(_)) {
                return Err(Error::not_supported(format!(
                    "column \"{key}\" of type {} cannot be part of a key",
                    column.pg_type
                ))
                .with_context("table", table));
            }
            if constraint.kind == ConstraintKind::PrimaryKey {
                column.required = true;
            }
        }
    }
    Ok(())
}

/// Columns for CREATE TABLE AS, from the query's output schema.
pub fn columns_from_arrow(schema: &arrow::datatypes::Schema) -> Result<Vec<ColumnSpec>> {
    schema
        .fields()
        .iter()
        .map(|f| {
            let (data_type, pg_type) = arrow_to_iceberg(f.data_type(), f.name())?;
            Ok(ColumnSpec {
                name: f.name().clone(),
                data_type,
                pg_type,
                required: false,
            })
        })
        .collect()
}

/// Build the table definition: columns get ids 1..n, hidden columns follow.
/// `default_sharding` (the warehouse's) applies when the options name no
/// shard key and the table has its key column.
pub fn table_definition(
    table: &str,
    columns: &[ColumnSpec],
    constraints: &[Constraint],
    partition_by: Option<&Expr>,
    options: &CreateTableOptions,
    default_sharding: Option<&crate::shard::Sharding>,
) -> Result<TableDefinition> {
    let mut fields = Vec::with_capacity(columns.len() + 3);
    let mut seen = std::collections::HashSet::new();
    for (i, column) in columns.iter().enumerate() {
        if hidden::is_hidden(&column.name) {
            return Err(Error::plan(format!(
                "column name \"{}\" is reserved for thermocline's hidden columns",
                column.name
            ))
            .with_context("table", table));
        }
        if !seen.insert(column.name.clone()) {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                format!("column \"{}\" specified more than once", column.name),
            )
            .with_context("table", table));
        }
        let field = NestedField::new(i as i32 + 1, &column.name, column.data_type.clone(), column.required)
            .with_doc(&column.pg_type);
        fields.push(Arc::new(field));
    }
    let next_id = columns.len() as i32 + 1;
    fields.push(Arc::new(
        NestedField::required(next_id, hidden::LSN, Type::Primitive(PrimitiveType::Long))
            .with_doc("thermocline: hot-WAL lsn of the row"),
    ));
    fields.push(Arc::new(
        NestedField::required(
            next_id + 1,
            hidden::COMMIT_TS,
            Type::Primitive(PrimitiveType::Timestamptz),
        )
        .with_doc("thermocline: commit time of the row"),
    ));
    fields.push(Arc::new(
        NestedField::required(next_id + 2, hidden::SHARD, Type::Primitive(PrimitiveType::String))
            .with_doc("thermocline: shard that wrote the row"),
    ));
    let identifier_ids: Vec<i32> = constraints
        .iter()
        .filter(|c| c.kind == ConstraintKind::PrimaryKey)
        .flat_map(|c| c.columns.iter())
        .filter_map(|key| columns.iter().position(|c| &c.name == key))
        .map(|i| i as i32 + 1)
        .collect();
    let schema = Schema::builder()
        .with_fields(fields)
        .with_identifier_field_ids(identifier_ids)
        .build()
        .map_err(|e| Error::from(e).with_context("table", table))?;

    let partition_spec = partition_spec(table, &schema, partition_by)?;

    let mut properties = HashMap::from([
        ("write.format.default".to_string(), "parquet".to_string()),
        (props::COMPRESSION.to_string(), "zstd".to_string()),
    ]);
    properties.extend(table_options(table, options)?);
    if !properties.contains_key(crate::shard::routing::SHARD_KEY)
        && let Some(sharding) = default_sharding.filter(|s| columns.iter().any(|c| c.name == s.key))
    {
        properties.extend(sharding.to_properties());
    }
    check_sharding(table, &schema, constraints, &properties)?;
    if !constraints.is_empty() {
        properties.insert(CONSTRAINTS.to_string(), constraints::to_property(constraints)?);
    }
    // A bad sort column would otherwise only fail at the first compaction.
    if let Some(list) = properties.get(props::SORT_BY) {
        for column in list.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if schema.field_by_name(column).is_none() || hidden::is_hidden(column) {
                return Err(Error::new(
                    ErrorKind::NotFound,
                    format!("sort_by column \"{column}\" does not exist"),
                )
                .with_context("table", table));
            }
        }
    }
    Ok(TableDefinition {
        schema,
        partition_spec,
        properties,
    })
}

/// A sharded table's key column must exist and route, and every PRIMARY KEY
/// and UNIQUE constraint must include it: a key then lives in one shard,
/// whose write lock makes its uniqueness check sound.
fn check_sharding(
    table: &str,
    schema: &Schema,
    constraints: &[Constraint],
    properties: &HashMap<String, String>,
) -> Result<()> {
    let sharding = crate::shard::Sharding::from_properties(properties)
        .map_err(|e| Error::new(ErrorKind::Plan, e.message().to_string()).with_context("table", table))?;
    let Some(sharding) = sharding else {
        for key in [
            crate::shard::routing::SHARD_COUNT,
            crate::shard::routing::SHARD_ALGORITHM,
            crate::shard::routing::SHARD_BOUNDS,
        ] {
            if properties.contains_key(key) {
                return Err(Error::plan("sharding options need shard_key = '<column>'").with_context("table", table));
            }
        }
        return Ok(());
    };
    let field = schema
        .field_by_name(&sharding.key)
        .filter(|f| !hidden::is_hidden(&f.name))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::UndefinedColumn,
                format!("shard key column \"{}\" does not exist", sharding.key),
            )
            .with_context("table", table)
        })?;
    let arrow_type = iceberg::arrow::type_to_arrow_type(&field.field_type)
        .map_err(|e| Error::from(e).with_context("table", table))?;
    sharding
        .check_key_type(&arrow_type)
        .map_err(|e| e.with_context("table", table))?;
    if let Some(c) = constraints.iter().find(|c| !c.columns.contains(&sharding.key)) {
        return Err(Error::plan(format!(
            "constraint \"{}\" must include the shard key \"{}\": a key of a sharded table lives in one shard",
            c.name, sharding.key
        ))
        .with_context("table", table));
    }
    Ok(())
}

/// `WITH (key = value, ...)`: Iceberg table properties, with a few friendly
/// aliases for thermocline's knobs.
fn table_options(table: &str, options: &CreateTableOptions) -> Result<HashMap<String, String>> {
    let list: &[SqlOption] = match options {
        CreateTableOptions::None => return Ok(HashMap::new()),
        CreateTableOptions::With(list)
        | CreateTableOptions::Options(list)
        | CreateTableOptions::Plain(list)
        | CreateTableOptions::TableProperties(list) => list,
    };
    let mut out = HashMap::new();
    for option in list {
        let SqlOption::KeyValue { key, value } = option else {
            return Err(Error::plan(format!("table option {option} must be key = value")).with_context("table", table));
        };
        let value = match value {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
                Value::Number(n, _) => n.clone(),
                Value::Boolean(b) => b.to_string(),
                other => other.to_string(),
            },
            Expr::Identifier(ident) => ident.value.clone(),
            other => other.to_string(),
        };
        let key = match key.value.as_str() {
            "sort_by" => props::SORT_BY.to_string(),
            "target_file_size" => props::TARGET_FILE_SIZE.to_string(),
            "shard_key" => crate::shard::routing::SHARD_KEY.to_string(),
            "shards" | "shard_count" => crate::shard::routing::SHARD_COUNT.to_string(),
            "sharding" | "shard_algorithm" => crate::shard::routing::SHARD_ALGORITHM.to_string(),
            "shard_bounds" => crate::shard::routing::SHARD_BOUNDS.to_string(),
            other => other.to_string(),
        };
        let value = if key == props::TARGET_FILE_SIZE {
            crate::config::parse_size(&value)
                .map_err(|e| Error::plan(e.message().to_string()).with_context("table", table))?
                .to_string()
        } else {
            value
        };
        out.insert(key, value);
    }
    Ok(out)
}

fn partition_spec(table: &str, schema: &Schema, partition_by: Option<&Expr>) -> Result<UnboundPartitionSpec> {
    let mut builder = UnboundPartitionSpec::builder();
    let Some(expr) = partition_by else {
        return Ok(builder.build());
    };
    let items: Vec<&Expr> = match expr {
        Expr::Tuple(items) => items.iter().collect(),
        Expr::Nested(inner) => vec![inner.as_ref()],
        other => vec![other],
    };
    for item in items {
        let (transform, column) = partition_transform(table, item)?;
        let field = schema.field_by_name(&column).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("partition column \"{column}\" does not exist"),
            )
            .with_context("table", table)
            .with_context("partition", item)
        })?;
        if hidden::is_hidden(&column) {
            return Err(
                Error::plan(format!("cannot partition by hidden column \"{column}\"")).with_context("table", table)
            );
        }
        // Reject transforms the column's type cannot take now, with the
        // column named, instead of an opaque error at commit.
        if transform.result_type(&field.field_type).is_err() {
            return Err(Error::new(
                ErrorKind::Plan,
                format!(
                    "partition transform {transform} cannot apply to column \"{column}\" of type {}",
                    field.field_type
                ),
            )
            .with_context("table", table));
        }
        let name = match transform {
            Transform::Identity => column.clone(),
            Transform::Year => format!("{column}_year"),
            Transform::Month => format!("{column}_month"),
            Transform::Day => format!("{column}_day"),
            Transform::Hour => format!("{column}_hour"),
            Transform::Bucket(_) => format!("{column}_bucket"),
            Transform::Truncate(_) => format!("{column}_trunc"),
            _ => format!("{column}_{transform}"),
        };
        builder = builder.add_partition_field(field.id, name, transform).map_err(|e| {
            Error::from(e)
                .with_context("table", table)
                .with_context("partition", item)
        })?;
    }
    Ok(builder.build())
}

/// `col`, `day(col)`, `bucket(16, col)`, `truncate(4, col)`, ...
fn partition_transform(table: &str, expr: &Expr) -> Result<(Transform, String)> {
    let bad = || {
        Error::plan(format!(
            "bad partition spec {expr}: expected a column or identity|year|month|day|hour(col), bucket(N, col), truncate(W, col)"
        ))
        .with_context("table", table)
    };
    match expr {
        Expr::Identifier(ident) => Ok((Transform::Identity, ident.value.clone())),
        Expr::Nested(inner) => partition_transform(table, inner),
        Expr::Function(function) => {
            let name = function.name.to_string().to_lowercase();
            let FunctionArguments::List(list) = &function.args else {
                return Err(bad());
            };
            let args: Vec<&Expr> = list
                .args
                .iter()
                .map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Ok(e),
                    _ => Err(bad()),
                })
                .collect::<Result<_>>()?;
            let column = |e: &Expr| match e {
                Expr::Identifier(ident) => Ok(ident.value.clone()),
                _ => Err(bad()),
            };
            let width = |e: &Expr| match e {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => n.parse::<u32>().ok().filter(|w| *w > 0).ok_or_else(bad),
                    _ => Err(bad()),
                },
                _ => Err(bad()),
            };
            match (name.as_str(), args.as_slice()) {
                ("identity", [c]) => Ok((Transform::Identity, column(c)?)),
                ("year" | "years", [c]) => Ok((Transform::Year, column(c)?)),
                ("month" | "months", [c]) => Ok((Transform::Month, column(c)?)),
                ("day" | "days", [c]) => Ok((Transform::Day, column(c)?)),
                ("hour" | "hours", [c]) => Ok((Transform::Hour, column(c)?)),
                ("bucket", [n, c]) => Ok((Transform::Bucket(width(n)?), column(c)?)),
                ("truncate", [w, c]) => Ok((Transform::Truncate(width(w)?), column(c)?)),
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}
