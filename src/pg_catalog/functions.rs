//! PostgreSQL's catalog functions (`format_type`, `pg_get_indexdef`,
//! `current_setting`, ...) as DataFusion scalar UDFs, plus the internal
//! `thermocline_reg*` functions that [`super::rewrite`] turns `::regclass`
//! and friends into.
//!
//! Each is a closure over its argument arrays ([`PgFunction`]); the ones
//! that look OIDs up read the [`DirectoryCache`] the query's own catalog
//! scans filled, and are volatile so the planner does not fold them before
//! those scans ran.

use std::sync::{Arc, OnceLock};

use arrow::array::{
    Array, ArrayRef, BooleanArray, Int32Array, Int64Array, Int64Builder, ListArray, ListBuilder, StringArray,
    StringBuilder, StructBuilder, TimestampMicrosecondArray, new_null_array,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

use super::directory::{self, Directory, DirectoryCache, OWNER_NAME, quote_ident};
use super::settings;
use crate::sql::pg_types::PgType;
use crate::warehouse::CATALOG_NAME;

type Body = dyn Fn(&Call<'_>) -> DfResult<ArrayRef> + Send + Sync;

/// One call's inputs.
pub struct Call<'a> {
    args: Vec<ArrayRef>,
    rows: usize,
    config: &'a ConfigOptions,
    cache: &'a DirectoryCache,
}

impl Call<'_> {
    fn ints(&self, i: usize) -> DfResult<Option<Int64Array>> {
        let Some(a) = self.args.get(i) else { return Ok(None) };
        let a = cast(a, &DataType::Int64)?;
        Ok(a.as_any().downcast_ref::<Int64Array>().cloned())
    }

    fn texts(&self, i: usize) -> DfResult<Option<StringArray>> {
        let Some(a) = self.args.get(i) else { return Ok(None) };
        let a = cast(a, &DataType::Utf8)?;
        Ok(a.as_any().downcast_ref::<StringArray>().cloned())
    }

    fn directory(&self) -> Option<Arc<Directory>> {
        self.cache.latest()
    }

    /// One text per row from the OID in argument 0.
    fn map_oid(&self, f: impl Fn(i64, Option<&Directory>) -> Option<String>) -> DfResult<ArrayRef> {
        let directory = self.directory();
        let oids = self.ints(0)?;
        Ok(Arc::new(
            (0..self.rows)
                .map(|r| {
                    oids.as_ref()
                        .filter(|o| o.is_valid(r))
                        .and_then(|o| f(o.value(r), directory.as_deref()))
                })
                .collect::<StringArray>(),
        ))
    }

    /// One value per row from the text in argument 0.
    fn map_text<T>(&self, f: impl Fn(&str) -> Option<T>) -> DfResult<Vec<Option<T>>> {
        let texts = self.texts(0)?;
        Ok((0..self.rows)
            .map(|r| texts.as_ref().filter(|t| t.is_valid(r)).and_then(|t| f(t.value(r))))
            .collect())
    }
}

/// A PostgreSQL function as a DataFusion UDF.
pub struct PgFunction {
    name: &'static str,
    signature: Signature,
    return_type: DataType,
    body: Box<Body>,
    cache: Arc<DirectoryCache>,
}

impl std::fmt::Debug for PgFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgFunction({})", self.name)
    }
}

impl PartialEq for PgFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for PgFunction {}
impl std::hash::Hash for PgFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for PgFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> DfResult<DataType> {
        Ok(self.return_type.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DfResult<ColumnarValue> {
        let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { args.number_rows };
        let arrays = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<DfResult<Vec<_>>>()?;
        let call = Call {
            args: arrays,
            rows,
            config: &args.config_options,
            cache: &self.cache,
        };
        let out = (self.body)(&call)?;
        if all_scalar {
            Ok(ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from_array(
                &out, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(out))
        }
    }
}

struct Registry<'a> {
    ctx: &'a SessionContext,
    cache: Arc<DirectoryCache>,
}

impl Registry<'_> {
    fn add(
        &self,
        name: &'static str,
        volatility: Volatility,
        return_type: DataType,
        body: impl Fn(&Call<'_>) -> DfResult<ArrayRef> + Send + Sync + 'static,
    ) {
        let signature = Signature::one_of(vec![TypeSignature::Nullary, TypeSignature::VariadicAny], volatility);
        self.ctx.register_udf(ScalarUDF::new_from_impl(PgFunction {
            name,
            signature,
            return_type,
            body: Box::new(body),
            cache: self.cache.clone(),
        }));
    }

    /// A function that answers the same value on every row.
    fn constant(&self, name: &'static str, value: impl Fn(&ConfigOptions) -> String + Send + Sync + 'static) {
        self.add(name, Volatility::Stable, DataType::Utf8, move |c| {
            Ok(Arc::new(StringArray::from(vec![value(c.config); c.rows])))
        });
    }
}

fn texts(values: Vec<Option<String>>) -> ArrayRef {
    Arc::new(StringArray::from(values))
}

/// The server's start, for `pg_postmaster_start_time()`.
fn started() -> i64 {
    static STARTED: OnceLock<i64> = OnceLock::new();
    *STARTED.get_or_init(|| chrono::Utc::now().timestamp_micros())
}

pub fn version_string() -> String {
    format!(
        "PostgreSQL {} (thermocline {}) on {}-{}, 64-bit",
        settings::SERVER_VERSION,
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

/// Register every function on `ctx`.
pub fn register(ctx: &SessionContext, cache: Arc<DirectoryCache>) {
    let r = Registry { ctx, cache };
    started();
    use Volatility::{Stable, Volatile};

    r.add("format_type", Stable, DataType::Utf8, |c| {
        let (oids, mods) = (c.ints(0)?, c.ints(1)?);
        Ok(texts(
            (0..c.rows)
                .map(|r| {
                    let oid = oids.as_ref().filter(|o| o.is_valid(r))?.value(r);
                    let typmod = mods.as_ref().filter(|m| m.is_valid(r)).map_or(-1, |m| m.value(r));
                    Some(format_type(oid, i32::try_from(typmod).unwrap_or(-1)))
                })
                .collect(),
        ))
    });
    r.add("pg_get_userbyid", Stable, DataType::Utf8, |c| {
        c.map_oid(|_, _| Some(OWNER_NAME.to_string()))
    });
    r.add("pg_table_is_visible", Volatile, DataType::Boolean, |c| {
        let directory = c.directory();
        let search_path = settings::get(c.config, "search_path").unwrap_or_default();
        let oids = c.ints(0)?;
        Ok(Arc::new(
            (0..c.rows)
                .map(|r| {
                    let oid = oids.as_ref().filter(|o| o.is_valid(r))?.value(r);
                    let visible = match directory.as_deref().and_then(|d| d.relation_name(oid)) {
                        Some((namespace, _)) => in_search_path(&search_path, namespace),
                        None => true,
                    };
                    Some(visible)
                })
                .collect::<BooleanArray>(),
        ))
    });
    for name in ["pg_type_is_visible", "pg_function_is_visible"] {
        r.add(name, Stable, DataType::Boolean, |c| {
            Ok(Arc::new(BooleanArray::from(vec![true; c.rows])))
        });
    }
    for name in [
        "has_table_privilege",
        "has_schema_privilege",
        "has_database_privilege",
        "has_column_privilege",
        "has_any_column_privilege",
        "has_function_privilege",
        "has_sequence_privilege",
        "has_type_privilege",
    ] {
        r.add(name, Stable, DataType::Boolean, |c| {
            Ok(Arc::new(BooleanArray::from(vec![true; c.rows])))
        });
    }
    for name in ["pg_relation_is_publishable", "pg_is_in_recovery"] {
        r.add(name, Stable, DataType::Boolean, |c| {
            Ok(Arc::new(BooleanArray::from(vec![false; c.rows])))
        });
    }
    // Expressions are stored as their text, so "deparsing" is the identity.
    r.add("pg_get_expr", Stable, DataType::Utf8, |c| {
        Ok(match c.texts(0)? {
            Some(t) => Arc::new(t),
            None => new_null_array(&DataType::Utf8, c.rows),
        })
    });
    for name in [
        "obj_description",
        "col_description",
        "shobj_description",
        "pg_get_statisticsobjdef_columns",
        "pg_get_partkeydef",
        "pg_get_viewdef",
        "pg_get_triggerdef",
        "pg_get_ruledef",
        "pg_get_function_identity_arguments",
        "pg_get_function_arguments",
        "pg_get_function_result",
        "pg_get_serial_sequence",
    ] {
        r.add(name, Stable, DataType::Utf8, |c| {
            Ok(new_null_array(&DataType::Utf8, c.rows))
        });
    }
    r.add("pg_get_indexdef", Volatile, DataType::Utf8, |c| {
        let column = c.ints(1)?;
        let directory = c.directory();
        let oids = c.ints(0)?;
        Ok(texts(
            (0..c.rows)
                .map(|r| {
                    let oid = oids.as_ref().filter(|o| o.is_valid(r))?.value(r);
                    let (table, index) = directory.as_deref()?.index(oid)?;
                    match column.as_ref().filter(|k| k.is_valid(r)).map(|k| k.value(r)) {
                        Some(k) if k > 0 => {
                            let num = *index.columns.get(usize::try_from(k - 1).ok()?)?;
                            table.column_name(num).map(quote_ident)
                        }
                        _ => Some(table.index_def(index)),
                    }
                })
                .collect(),
        ))
    });
    r.add("pg_get_constraintdef", Volatile, DataType::Utf8, |c| {
        c.map_oid(|oid, d| {
            let (table, index) = d?.constraint(oid)?;
            Some(table.constraint_def(index))
        })
    });
    r.add("pg_encoding_to_char", Stable, DataType::Utf8, |c| {
        c.map_oid(|e, _| Some(if e == 6 { "UTF8" } else { "SQL_ASCII" }.to_string()))
    });
    for name in [
        "pg_table_size",
        "pg_relation_size",
        "pg_total_relation_size",
        "pg_indexes_size",
        "pg_database_size",
    ] {
        r.add(name, Stable, DataType::Int64, |c| {
            Ok(Arc::new(Int64Array::from(vec![0; c.rows])))
        });
    }
    r.add("pg_size_pretty", Stable, DataType::Utf8, |c| {
        let sizes = c.ints(0)?;
        Ok(texts(
            (0..c.rows)
                .map(|r| {
                    sizes
                        .as_ref()
                        .filter(|s| s.is_valid(r))
                        .map(|s| size_pretty(s.value(r)))
                })
                .collect(),
        ))
    });
    r.add("current_setting", Volatile, DataType::Utf8, |c| {
        let missing_ok = c
            .args
            .get(1)
            .and_then(|a| {
                a.as_any()
                    .downcast_ref::<BooleanArray>()
                    .map(|b| b.is_valid(0) && b.value(0))
            })
            .unwrap_or(false);
        let values = c.map_text(|name| Some(settings::get(c.config, name).ok_or(name.to_string())))?;
        let mut out = Vec::with_capacity(values.len());
        for v in values {
            match v {
                Some(Ok(value)) => out.push(Some(value)),
                Some(Err(_)) if missing_ok => out.push(None),
                Some(Err(name)) => {
                    return Err(DataFusionError::External(Box::new(crate::error::Error::new(
                        crate::error::ErrorKind::NotFound,
                        format!("unrecognized configuration parameter \"{name}\""),
                    ))));
                }
                None => out.push(None),
            }
        }
        Ok(texts(out))
    });
    // The value is not kept: a function cannot change the session's
    // config. Drivers call it to set what SET sets, and read the answer.
    r.add("set_config", Volatile, DataType::Utf8, |c| {
        Ok(match c.texts(1)? {
            Some(t) => Arc::new(t),
            None => new_null_array(&DataType::Utf8, c.rows),
        })
    });
    r.constant("current_schema", |config| {
        let path = settings::get(config, "search_path").unwrap_or_default();
        search_path(&path).into_iter().next().unwrap_or_else(|| "public".into())
    });
    r.add("current_schemas", Stable, list_of(DataType::Utf8), |c| {
        let implicit = c
            .args
            .first()
            .and_then(|a| {
                a.as_any()
                    .downcast_ref::<BooleanArray>()
                    .map(|b| b.is_valid(0) && b.value(0))
            })
            .unwrap_or(false);
        let path = settings::get(c.config, "search_path").unwrap_or_default();
        let mut schemas = if implicit {
            vec!["pg_catalog".to_string()]
        } else {
            Vec::new()
        };
        schemas.extend(search_path(&path));
        let mut b = ListBuilder::new(StringBuilder::new());
        for _ in 0..c.rows {
            schemas.iter().for_each(|s| b.values().append_value(s));
            b.append(true);
        }
        Ok(Arc::new(b.finish()))
    });
    r.constant("current_database", |_| CATALOG_NAME.to_string());
    for name in ["current_user", "session_user", "current_role"] {
        r.constant(name, |_| OWNER_NAME.to_string());
    }
    r.constant("version", |_| version_string());
    r.add("pg_backend_pid", Stable, DataType::Int32, |c| {
        Ok(Arc::new(Int32Array::from(vec![std::process::id() as i32; c.rows])))
    });
    r.add(
        "pg_postmaster_start_time",
        Stable,
        DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
        |c| {
            Ok(Arc::new(
                TimestampMicrosecondArray::from(vec![started(); c.rows]).with_timezone("+00:00"),
            ))
        },
    );
    r.add("quote_ident", Stable, DataType::Utf8, |c| {
        Ok(texts(c.map_text(|s| Some(quote_ident(s)))?))
    });
    r.add("array_upper", Stable, DataType::Int32, |c| array_bound(c, true));
    r.add("array_lower", Stable, DataType::Int32, |c| array_bound(c, false));
    r.add("to_regtype", Stable, DataType::Int64, |c| {
        Ok(Arc::new(Int64Array::from(c.map_text(regtype_in)?)))
    });
    r.add("thermocline_regtype_in", Stable, DataType::Int64, |c| {
        Ok(Arc::new(Int64Array::from(c.map_text(regtype_in)?)))
    });
    r.add("to_regclass", Volatile, DataType::Int64, |c| {
        Ok(Arc::new(Int64Array::from(c.map_text(regclass_in)?)))
    });
    r.add("thermocline_regclass_in", Stable, DataType::Int64, |c| {
        Ok(Arc::new(Int64Array::from(c.map_text(regclass_in)?)))
    });
    r.add("thermocline_regclass_out", Volatile, DataType::Utf8, |c| {
        let search_path = settings::get(c.config, "search_path").unwrap_or_default();
        c.map_oid(|oid, d| {
            Some(match d.and_then(|d| d.relation_name(oid)) {
                Some((ns, name)) if in_search_path(&search_path, ns) => quote_ident(name),
                Some((ns, name)) => format!("{}.{}", quote_ident(ns), quote_ident(name)),
                None => oid.to_string(),
            })
        })
    });
    r.add("thermocline_regtype_out", Stable, DataType::Utf8, |c| {
        c.map_oid(|oid, _| Some(format_type(oid, -1)))
    });
    r.add("thermocline_regnamespace_out", Volatile, DataType::Utf8, |c| {
        c.map_oid(|oid, d| {
            Some(
                d.and_then(|d| d.namespace_name(oid))
                    .map_or_else(|| oid.to_string(), quote_ident),
            )
        })
    });
    r.add("thermocline_expandarray", Stable, list_of(expand_type()), expand);
    r.add("thermocline_expandarray_field", Stable, list_of(DataType::Int64), |c| {
        let field = c.texts(1)?;
        let position = field.as_ref().is_some_and(|f| f.is_valid(0) && f.value(0) == "n");
        let mut b = ListBuilder::new(Int64Builder::new());
        for row in int_lists(c)? {
            match row {
                Some(items) => {
                    for (i, x) in items.iter().enumerate() {
                        b.values().append_option(if position { Some(i as i64 + 1) } else { x });
                    }
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        Ok(Arc::new(b.finish()))
    });
}

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, true)))
}

/// `_pg_expandarray`'s record: the element and its 1-based position.
fn expand_type() -> DataType {
    DataType::Struct(Fields::from(vec![
        Field::new("x", DataType::Int64, true),
        Field::new("n", DataType::Int64, true),
    ]))
}

/// `_pg_expandarray(a)`'s records, one list per row.
fn expand(c: &Call<'_>) -> DfResult<ArrayRef> {
    let fields = match expand_type() {
        DataType::Struct(f) => f,
        _ => Fields::empty(),
    };
    let mut b = ListBuilder::new(StructBuilder::from_fields(fields, 0));
    for row in int_lists(c)? {
        match row {
            Some(items) => {
                for (i, x) in items.iter().enumerate() {
                    let record = b.values();
                    if let Some(f) = record.field_builder::<Int64Builder>(0) {
                        f.append_option(x);
                    }
                    if let Some(f) = record.field_builder::<Int64Builder>(1) {
                        f.append_value(i as i64 + 1);
                    }
                    record.append(true);
                }
                b.append(true);
            }
            None => b.append(false),
        }
    }
    Ok(Arc::new(b.finish()))
}

/// The first argument's lists as bigint arrays, one per row (`None` for a
/// NULL list or a first argument that is not a list).
fn int_lists(c: &Call<'_>) -> DfResult<Vec<Option<Int64Array>>> {
    let lists = c.args.first().and_then(|a| a.as_any().downcast_ref::<ListArray>());
    (0..c.rows)
        .map(|r| match lists.filter(|l| l.is_valid(r)) {
            Some(l) => {
                let items = cast(&l.value(r), &DataType::Int64)?;
                Ok(items.as_any().downcast_ref::<Int64Array>().cloned())
            }
            None => Ok(None),
        })
        .collect()
}

fn array_bound(c: &Call<'_>, upper: bool) -> DfResult<ArrayRef> {
    let lists = c.args.first().and_then(|a| a.as_any().downcast_ref::<ListArray>());
    Ok(Arc::new(
        (0..c.rows)
            .map(|r| {
                let l = lists.filter(|l| l.is_valid(r))?;
                let len = l.value_length(r);
                (len > 0).then_some(if upper { len } else { 1 })
            })
            .collect::<Int32Array>(),
    ))
}

/// `format_type(oid, typmod)`: `integer`, `numeric(10,2)`, `character varying(20)`.
pub fn format_type(oid: i64, typmod: i32) -> String {
    let Some(t) = u32::try_from(oid).ok().and_then(PgType::by_oid) else {
        return "???".to_string();
    };
    let t = PgType { typmod, ..t };
    if t.oid == PgType::VARCHAR.oid && typmod >= 4 {
        return format!("character varying({})", typmod - 4);
    }
    t.display_name()
}

/// The names of `search_path`, `"$user"` left out.
fn search_path(path: &str) -> Vec<String> {
    path.split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty() && s != "$user")
        .collect()
}

fn in_search_path(path: &str, namespace: &str) -> bool {
    namespace == "pg_catalog" || search_path(path).iter().any(|s| s == namespace)
}

fn regtype_in(name: &str) -> Option<i64> {
    if let Ok(oid) = name.trim().parse::<i64>() {
        return Some(oid);
    }
    directory::type_by_name(name).map(|t| i64::from(t.oid))
}

/// `'schema.table'::regclass`: the OID is derived from the name, so no
/// lookup is needed; a bare name is in `pg_catalog` if it names a catalog
/// table, else in `public`.
fn regclass_in(name: &str) -> Option<i64> {
    let name = name.trim();
    if let Ok(oid) = name.parse::<i64>() {
        return Some(oid);
    }
    let parts: Vec<String> = name
        .split('.')
        .map(|p| match p.strip_prefix('"').and_then(|p| p.strip_suffix('"')) {
            Some(quoted) => quoted.replace("\"\"", "\""),
            None => p.to_lowercase(),
        })
        .collect();
    match parts.as_slice() {
        [table] if super::tables::is_catalog_table(table) => Some(directory::relation_oid("pg_catalog", table)),
        [table] => Some(directory::relation_oid("public", table)),
        [schema, table] => Some(directory::relation_oid(schema, table)),
        [_, schema, table] => Some(directory::relation_oid(schema, table)),
        _ => None,
    }
}

fn size_pretty(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes.abs() < 10 * 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    for unit in UNITS {
        if value.abs() < 10.0 * 1024.0 || unit == "TB" {
            return format!("{} {unit}", value.round());
        }
        value /= 1024.0;
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_types_like_postgres() {
        assert_eq!(format_type(23, -1), "integer");
        assert_eq!(format_type(1700, ((10 << 16) | 2) + 4), "numeric(10,2)");
        assert_eq!(format_type(1043, 24), "character varying(20)");
        assert_eq!(format_type(3802, -1), "jsonb");
        assert_eq!(format_type(1184, -1), "timestamp with time zone");
    }

    #[test]
    fn regclass_of_names() {
        assert_eq!(regclass_in("users"), Some(directory::relation_oid("public", "users")));
        assert_eq!(regclass_in("S.\"T\""), Some(directory::relation_oid("s", "T")));
        assert_eq!(regclass_in("16400"), Some(16_400));
        assert_eq!(regtype_in("integer"), Some(23));
    }
}
