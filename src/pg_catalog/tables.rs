//! The `pg_catalog` schema: each table declared as its columns (PostgreSQL
//! 15's names, in its order, for the columns clients read) and a function
//! from a [`Directory`] to its rows. Tables are built when scanned, so a
//! table created a moment ago is listed.
//!
//! Catalogs of things thermocline does not have (policies, triggers,
//! publications, inheritance, ...) are declared with no rows: psql's `\d`
//! joins them and must get an empty answer, not an unknown-table error.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, Session};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

use super::directory::{
    self, BTREE_AM_OID, DATABASE_OID, DEFAULT_COLLATION_OID, Directory, DirectoryCache, HEAP_AM_OID, OWNER_NAME,
    OWNER_OID, PG_CATALOG_OID,
};
use super::rows::{Ty, V, batch, schema};
use super::settings;
use crate::sql::pg_types::PgType;
use crate::warehouse::{CATALOG_NAME, WarehouseInner};

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

use Ty::*;

fn none(_: &Source<'_>) -> Vec<Vec<V>> {
    Vec::new()
}

/// Every table of the schema.
pub static TABLES: &[TableDef] = &[
    TableDef {
        name: "pg_namespace",
        columns: &[
            ("oid", Oid),
            ("nspname", Text),
            ("nspowner", Oid),
            ("nspacl", TextArray),
        ],
        rows: namespaces,
    },
    TableDef {
        name: "pg_class",
        columns: &[
            ("oid", Oid),
            ("relname", Text),
            ("relnamespace", Oid),
            ("reltype", Oid),
            ("reloftype", Oid),
            ("relowner", Oid),
            ("relam", Oid),
            ("relfilenode", Oid),
            ("reltablespace", Oid),
            ("relpages", Int4),
            ("reltuples", Float4),
            ("relallvisible", Int4),
            ("reltoastrelid", Oid),
            ("relhasindex", Bool),
            ("relisshared", Bool),
            ("relpersistence", Text),
            ("relkind", Text),
            ("relnatts", Int2),
            ("relchecks", Int2),
            ("relhasrules", Bool),
            ("relhastriggers", Bool),
            ("relhassubclass", Bool),
            ("relrowsecurity", Bool),
            ("relforcerowsecurity", Bool),
            ("relispopulated", Bool),
            ("relreplident", Text),
            ("relispartition", Bool),
            ("relrewrite", Oid),
            ("relfrozenxid", Int8),
            ("relminmxid", Int8),
            ("relacl", TextArray),
            ("reloptions", TextArray),
            ("relpartbound", Text),
        ],
        rows: classes,
    },
    TableDef {
        name: "pg_attribute",
        columns: &[
            ("attrelid", Oid),
            ("attname", Text),
            ("atttypid", Oid),
            ("attstattarget", Int4),
            ("attlen", Int2),
            ("attnum", Int2),
            ("attndims", Int4),
            ("attcacheoff", Int4),
            ("atttypmod", Int4),
            ("attbyval", Bool),
            ("attalign", Text),
            ("attstorage", Text),
            ("attcompression", Text),
            ("attnotnull", Bool),
            ("atthasdef", Bool),
            ("atthasmissing", Bool),
            ("attidentity", Text),
            ("attgenerated", Text),
            ("attisdropped", Bool),
            ("attislocal", Bool),
            ("attinhcount", Int4),
            ("attcollation", Oid),
            ("attacl", TextArray),
            ("attoptions", TextArray),
            ("attfdwoptions", TextArray),
            ("attmissingval", TextArray),
        ],
        rows: attributes,
    },
    TableDef {
        name: "pg_type",
        columns: &[
            ("oid", Oid),
            ("typname", Text),
            ("typnamespace", Oid),
            ("typowner", Oid),
            ("typlen", Int2),
            ("typbyval", Bool),
            ("typtype", Text),
            ("typcategory", Text),
            ("typispreferred", Bool),
            ("typisdefined", Bool),
            ("typdelim", Text),
            ("typrelid", Oid),
            ("typsubscript", Text),
            ("typelem", Oid),
            ("typarray", Oid),
            ("typinput", Text),
            ("typoutput", Text),
            ("typreceive", Text),
            ("typsend", Text),
            ("typmodin", Text),
            ("typmodout", Text),
            ("typanalyze", Text),
            ("typalign", Text),
            ("typstorage", Text),
            ("typnotnull", Bool),
            ("typbasetype", Oid),
            ("typtypmod", Int4),
            ("typndims", Int4),
            ("typcollation", Oid),
            ("typdefaultbin", Text),
            ("typdefault", Text),
            ("typacl", TextArray),
        ],
        rows: types,
    },
    TableDef {
        name: "pg_index",
        columns: &[
            ("indexrelid", Oid),
            ("indrelid", Oid),
            ("indnatts", Int2),
            ("indnkeyatts", Int2),
            ("indisunique", Bool),
            ("indnullsnotdistinct", Bool),
            ("indisprimary", Bool),
            ("indisexclusion", Bool),
            ("indimmediate", Bool),
            ("indisclustered", Bool),
            ("indisvalid", Bool),
            ("indcheckxmin", Bool),
            ("indisready", Bool),
            ("indislive", Bool),
            ("indisreplident", Bool),
            ("indkey", Int2Array),
            ("indcollation", OidArray),
            ("indclass", OidArray),
            ("indoption", Int2Array),
            ("indexprs", Text),
            ("indpred", Text),
        ],
        rows: indexes,
    },
    TableDef {
        name: "pg_constraint",
        columns: &[
            ("oid", Oid),
            ("conname", Text),
            ("connamespace", Oid),
            ("contype", Text),
            ("condeferrable", Bool),
            ("condeferred", Bool),
            ("convalidated", Bool),
            ("conrelid", Oid),
            ("contypid", Oid),
            ("conindid", Oid),
            ("conparentid", Oid),
            ("confrelid", Oid),
            ("confupdtype", Text),
            ("confdeltype", Text),
            ("confmatchtype", Text),
            ("conislocal", Bool),
            ("coninhcount", Int4),
            ("connoinherit", Bool),
            ("conkey", Int2Array),
            ("confkey", Int2Array),
            ("conpfeqop", OidArray),
            ("conppeqop", OidArray),
            ("conffeqop", OidArray),
            ("confdelsetcols", Int2Array),
            ("conexclop", OidArray),
            ("conbin", Text),
        ],
        rows: constraints,
    },
    TableDef {
        name: "pg_database",
        columns: &[
            ("oid", Oid),
            ("datname", Text),
            ("datdba", Oid),
            ("encoding", Int4),
            ("datlocprovider", Text),
            ("datistemplate", Bool),
            ("datallowconn", Bool),
            ("datconnlimit", Int4),
            ("datfrozenxid", Int8),
            ("datminmxid", Int8),
            ("dattablespace", Oid),
            ("datcollate", Text),
            ("datctype", Text),
            ("daticulocale", Text),
            ("datcollversion", Text),
            ("datacl", TextArray),
        ],
        rows: databases,
    },
    TableDef {
        name: "pg_roles",
        columns: ROLE_COLUMNS,
        rows: roles,
    },
    TableDef {
        name: "pg_authid",
        columns: ROLE_COLUMNS,
        rows: roles,
    },
    TableDef {
        name: "pg_user",
        columns: &[
            ("usename", Text),
            ("usesysid", Oid),
            ("usecreatedb", Bool),
            ("usesuper", Bool),
            ("userepl", Bool),
            ("usebypassrls", Bool),
            ("passwd", Text),
            ("valuntil", Text),
            ("useconfig", TextArray),
        ],
        rows: |_| {
            vec![vec![
                OWNER_NAME.into(),
                OWNER_OID.into(),
                true.into(),
                true.into(),
                true.into(),
                true.into(),
                "********".into(),
                V::Null,
                V::Null,
            ]]
        },
    },
    TableDef {
        name: "pg_am",
        columns: &[("oid", Oid), ("amname", Text), ("amhandler", Text), ("amtype", Text)],
        rows: |_| {
            vec![
                vec![
                    HEAP_AM_OID.into(),
                    "heap".into(),
                    "heap_tableam_handler".into(),
                    "t".into(),
                ],
                vec![BTREE_AM_OID.into(), "btree".into(), "bthandler".into(), "i".into()],
            ]
        },
    },
    TableDef {
        name: "pg_tablespace",
        columns: &[
            ("oid", Oid),
            ("spcname", Text),
            ("spcowner", Oid),
            ("spcacl", TextArray),
            ("spcoptions", TextArray),
        ],
        rows: |_| {
            vec![
                vec![1663.into(), "pg_default".into(), OWNER_OID.into()],
                vec![1664.into(), "pg_global".into(), OWNER_OID.into()],
            ]
        },
    },
    TableDef {
        name: "pg_collation",
        columns: &[
            ("oid", Oid),
            ("collname", Text),
            ("collnamespace", Oid),
            ("collowner", Oid),
            ("collprovider", Text),
            ("collisdeterministic", Bool),
            ("collencoding", Int4),
            ("collcollate", Text),
            ("collctype", Text),
        ],
        rows: |_| {
            [
                (DEFAULT_COLLATION_OID, "default", "d", None),
                (950, "C", "c", Some("C")),
                (951, "POSIX", "c", Some("POSIX")),
            ]
            .into_iter()
            .map(|(oid, name, provider, locale)| {
                let locale = locale.map_or(V::Null, V::from);
                vec![
                    oid.into(),
                    name.into(),
                    PG_CATALOG_OID.into(),
                    OWNER_OID.into(),
                    provider.into(),
                    true.into(),
                    (-1).into(),
                    locale.clone(),
                    locale,
                ]
            })
            .collect()
        },
    },
    TableDef {
        name: "pg_settings",
        columns: &[
            ("name", Text),
            ("setting", Text),
            ("unit", Text),
            ("category", Text),
            ("short_desc", Text),
            ("context", Text),
            ("vartype", Text),
            ("source", Text),
            ("boot_val", Text),
            ("reset_val", Text),
        ],
        rows: |source| {
            source
                .settings
                .iter()
                .map(|(name, value)| {
                    vec![
                        name.as_str().into(),
                        value.as_str().into(),
                        V::Null,
                        "Client Connection Defaults".into(),
                        V::Null,
                        "user".into(),
                        "string".into(),
                        "default".into(),
                        value.as_str().into(),
                        value.as_str().into(),
                    ]
                })
                .collect()
        },
    },
    TableDef {
        name: "pg_extension",
        columns: &[
            ("oid", Oid),
            ("extname", Text),
            ("extowner", Oid),
            ("extnamespace", Oid),
            ("extrelocatable", Bool),
            ("extversion", Text),
            ("extconfig", OidArray),
            ("extcondition", TextArray),
        ],
        rows: |_| {
            vec![vec![
                16_384.into(),
                "vector".into(),
                OWNER_OID.into(),
                directory::PUBLIC_OID.into(),
                true.into(),
                "0.7.0".into(),
            ]]
        },
    },
    TableDef {
        name: "pg_tables",
        columns: &[
            ("schemaname", Text),
            ("tablename", Text),
            ("tableowner", Text),
            ("tablespace", Text),
            ("hasindexes", Bool),
            ("hasrules", Bool),
            ("hastriggers", Bool),
            ("rowsecurity", Bool),
        ],
        rows: |source| {
            source
                .directory
                .tables
                .iter()
                .map(|t| {
                    vec![
                        t.namespace.as_str().into(),
                        t.name.as_str().into(),
                        OWNER_NAME.into(),
                        V::Null,
                        (!t.indexes.is_empty()).into(),
                        false.into(),
                        false.into(),
                        false.into(),
                    ]
                })
                .collect()
        },
    },
    TableDef {
        name: "pg_indexes",
        columns: &[
            ("schemaname", Text),
            ("tablename", Text),
            ("indexname", Text),
            ("tablespace", Text),
            ("indexdef", Text),
        ],
        rows: |source| {
            source
                .directory
                .tables
                .iter()
                .flat_map(|t| {
                    t.indexes.iter().map(move |i| {
                        vec![
                            t.namespace.as_str().into(),
                            t.name.as_str().into(),
                            i.name.as_str().into(),
                            V::Null,
                            t.index_def(i).into(),
                        ]
                    })
                })
                .collect()
        },
    },
    TableDef {
        name: "pg_views",
        columns: &[
            ("schemaname", Text),
            ("viewname", Text),
            ("viewowner", Text),
            ("definition", Text),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_matviews",
        columns: &[
            ("schemaname", Text),
            ("matviewname", Text),
            ("matviewowner", Text),
            ("definition", Text),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_attrdef",
        columns: &[("oid", Oid), ("adrelid", Oid), ("adnum", Int2), ("adbin", Text)],
        rows: none,
    },
    TableDef {
        name: "pg_description",
        columns: &[
            ("objoid", Oid),
            ("classoid", Oid),
            ("objsubid", Int4),
            ("description", Text),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_shdescription",
        columns: &[("objoid", Oid), ("classoid", Oid), ("description", Text)],
        rows: none,
    },
    TableDef {
        name: "pg_inherits",
        columns: &[
            ("inhrelid", Oid),
            ("inhparent", Oid),
            ("inhseqno", Int4),
            ("inhdetachpending", Bool),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_policy",
        columns: &[
            ("oid", Oid),
            ("polname", Text),
            ("polrelid", Oid),
            ("polcmd", Text),
            ("polpermissive", Bool),
            ("polroles", OidArray),
            ("polqual", Text),
            ("polwithcheck", Text),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_statistic_ext",
        columns: &[
            ("oid", Oid),
            ("stxrelid", Oid),
            ("stxname", Text),
            ("stxnamespace", Oid),
            ("stxowner", Oid),
            ("stxstattarget", Int4),
            ("stxkeys", Int2Array),
            ("stxkind", TextArray),
            ("stxexprs", Text),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_publication",
        columns: &[
            ("oid", Oid),
            ("pubname", Text),
            ("pubowner", Oid),
            ("puballtables", Bool),
            ("pubinsert", Bool),
            ("pubupdate", Bool),
            ("pubdelete", Bool),
            ("pubtruncate", Bool),
            ("pubviaroot", Bool),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_publication_namespace",
        columns: &[("oid", Oid), ("pnpubid", Oid), ("pnnspid", Oid)],
        rows: none,
    },
    TableDef {
        name: "pg_publication_rel",
        columns: &[
            ("oid", Oid),
            ("prpubid", Oid),
            ("prrelid", Oid),
            ("prqual", Text),
            ("prattrs", Int2Array),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_proc",
        columns: &[
            ("oid", Oid),
            ("proname", Text),
            ("pronamespace", Oid),
            ("proowner", Oid),
            ("prolang", Oid),
            ("prokind", Text),
            ("prorettype", Oid),
            ("proretset", Bool),
            ("pronargs", Int2),
            ("proargtypes", OidArray),
            ("proargnames", TextArray),
            ("prosrc", Text),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_enum",
        columns: &[
            ("oid", Oid),
            ("enumtypid", Oid),
            ("enumsortorder", Float4),
            ("enumlabel", Text),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_range",
        columns: &[
            ("rngtypid", Oid),
            ("rngsubtype", Oid),
            ("rngmultitypid", Oid),
            ("rngcollation", Oid),
            ("rngsubopc", Oid),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_trigger",
        columns: &[
            ("oid", Oid),
            ("tgrelid", Oid),
            ("tgparentid", Oid),
            ("tgname", Text),
            ("tgfoid", Oid),
            ("tgtype", Int2),
            ("tgenabled", Text),
            ("tgisinternal", Bool),
            ("tgconstrrelid", Oid),
            ("tgconstrindid", Oid),
            ("tgconstraint", Oid),
            ("tgdeferrable", Bool),
            ("tginitdeferred", Bool),
            ("tgnargs", Int2),
            ("tgattr", Int2Array),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_rewrite",
        columns: &[
            ("oid", Oid),
            ("rulename", Text),
            ("ev_class", Oid),
            ("ev_type", Text),
            ("ev_enabled", Text),
            ("is_instead", Bool),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_depend",
        columns: &[
            ("classid", Oid),
            ("objid", Oid),
            ("objsubid", Int4),
            ("refclassid", Oid),
            ("refobjid", Oid),
            ("refobjsubid", Int4),
            ("deptype", Text),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_sequence",
        columns: &[
            ("seqrelid", Oid),
            ("seqtypid", Oid),
            ("seqstart", Int8),
            ("seqincrement", Int8),
            ("seqmax", Int8),
            ("seqmin", Int8),
            ("seqcache", Int8),
            ("seqcycle", Bool),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_foreign_table",
        columns: &[("ftrelid", Oid), ("ftserver", Oid), ("ftoptions", TextArray)],
        rows: none,
    },
    TableDef {
        name: "pg_partitioned_table",
        columns: &[
            ("partrelid", Oid),
            ("partstrat", Text),
            ("partnatts", Int2),
            ("partdefid", Oid),
            ("partattrs", Int2Array),
        ],
        rows: none,
    },
    TableDef {
        name: "pg_event_trigger",
        columns: &[
            ("oid", Oid),
            ("evtname", Text),
            ("evtevent", Text),
            ("evtowner", Oid),
            ("evtenabled", Text),
        ],
        rows: none,
    },
];

const ROLE_COLUMNS: &[(&str, Ty)] = &[
    ("oid", Oid),
    ("rolname", Text),
    ("rolsuper", Bool),
    ("rolinherit", Bool),
    ("rolcreaterole", Bool),
    ("rolcreatedb", Bool),
    ("rolcanlogin", Bool),
    ("rolreplication", Bool),
    ("rolbypassrls", Bool),
    ("rolconnlimit", Int4),
    ("rolpassword", Text),
    ("rolvaliduntil", Text),
    ("rolconfig", TextArray),
];

fn roles(_: &Source<'_>) -> Vec<Vec<V>> {
    let mut row: Vec<V> = vec![OWNER_OID.into(), OWNER_NAME.into()];
    row.extend([true; 7].map(V::B));
    row.extend([(-1).into(), "********".into()]);
    vec![row]
}

fn namespaces(source: &Source<'_>) -> Vec<Vec<V>> {
    source
        .directory
        .namespaces
        .iter()
        .map(|n| vec![n.oid.into(), n.name.as_str().into(), OWNER_OID.into()])
        .collect()
}

fn classes(source: &Source<'_>) -> Vec<Vec<V>> {
    let mut rows = Vec::new();
    let class = |oid: i64, name: &str, ns: i64, am: i64, kind: &str, natts: usize, has_index: bool| {
        vec![
            oid.into(),
            name.into(),
            ns.into(),
            0.into(),
            0.into(),
            OWNER_OID.into(),
            am.into(),
            oid.into(),
            0.into(),
            0.into(),
            V::F(-1.0),
            0.into(),
            0.into(),
            has_index.into(),
            false.into(),
            "p".into(),
            kind.into(),
            (natts as i64).into(),
            0.into(),
            false.into(),
            false.into(),
            false.into(),
            false.into(),
            false.into(),
            true.into(),
            "d".into(),
            false.into(),
            0.into(),
            0.into(),
            0.into(),
        ]
    };
    for t in &source.directory.tables {
        rows.push(class(
            t.oid,
            &t.name,
            t.namespace_oid,
            HEAP_AM_OID,
            "r",
            t.columns.len(),
            !t.indexes.is_empty(),
        ));
        for i in &t.indexes {
            rows.push(class(
                i.oid,
                &i.name,
                t.namespace_oid,
                BTREE_AM_OID,
                "i",
                i.columns.len(),
                false,
            ));
        }
    }
    rows
}

/// Storage and alignment as PostgreSQL reports them for a type.
fn physical(t: PgType) -> (&'static str, &'static str, bool) {
    match t.len {
        1 => ("c", "p", true),
        2 => ("s", "p", true),
        4 => ("i", "p", true),
        8 => ("d", "p", true),
        16 => ("d", "p", false),
        _ if t.oid == PgType::NUMERIC.oid => ("i", "m", false),
        _ => ("i", "x", false),
    }
}

/// Collation of a type: `default` for the string types.
fn collation(t: PgType) -> i64 {
    if [25, 1043, 1009].contains(&t.oid) {
        DEFAULT_COLLATION_OID
    } else {
        0
    }
}

fn attributes(source: &Source<'_>) -> Vec<Vec<V>> {
    let mut rows = Vec::new();
    let attribute = |rel: i64, name: &str, num: i16, t: PgType, not_null: bool| {
        let (align, storage, by_val) = physical(t);
        vec![
            rel.into(),
            name.into(),
            i64::from(t.oid).into(),
            (-1).into(),
            i64::from(t.len).into(),
            i64::from(num).into(),
            i64::from(t.element().is_some()).into(),
            (-1).into(),
            i64::from(t.typmod).into(),
            by_val.into(),
            align.into(),
            storage.into(),
            "".into(),
            not_null.into(),
            false.into(),
            false.into(),
            "".into(),
            "".into(),
            false.into(),
            true.into(),
            0.into(),
            collation(t).into(),
        ]
    };
    for t in &source.directory.tables {
        for c in &t.columns {
            rows.push(attribute(t.oid, &c.name, c.num, c.pg_type, c.not_null));
        }
        // An index's columns are its key columns, numbered from 1.
        for i in &t.indexes {
            for (n, num) in i.columns.iter().enumerate() {
                if let Some(c) = t.columns.iter().find(|c| c.num == *num) {
                    rows.push(attribute(i.oid, &c.name, (n + 1) as i16, c.pg_type, false));
                }
            }
        }
    }
    rows
}

fn types(_: &Source<'_>) -> Vec<Vec<V>> {
    directory::all_types()
        .into_iter()
        .map(|t| {
            let (align, storage, by_val) = physical(t);
            let element = t.element();
            let category = match t.oid {
                _ if element.is_some() => "A",
                16 => "B",
                20 | 21 | 23 | 26 | 700 | 701 | 1700 => "N",
                25 | 1043 => "S",
                1082 | 1083 | 1114 | 1184 => "D",
                1186 => "T",
                705 => "X",
                _ => "U",
            };
            let io = if element.is_some() { "array" } else { t.name };
            vec![
                i64::from(t.oid).into(),
                t.name.into(),
                PG_CATALOG_OID.into(),
                OWNER_OID.into(),
                i64::from(t.len).into(),
                by_val.into(),
                if t.oid == 705 { "p" } else { "b" }.into(),
                category.into(),
                matches!(t.oid, 16 | 25 | 701 | 1184).into(),
                true.into(),
                ",".into(),
                0.into(),
                if element.is_some() {
                    "array_subscript_handler"
                } else {
                    "-"
                }
                .into(),
                element.map_or(0, |e| i64::from(e.oid)).into(),
                t.array().map_or(0, |a| i64::from(a.oid)).into(),
                format!("{io}_in").into(),
                format!("{io}_out").into(),
                format!("{io}_recv").into(),
                format!("{io}_send").into(),
                "-".into(),
                "-".into(),
                "-".into(),
                align.into(),
                storage.into(),
                false.into(),
                0.into(),
                (-1).into(),
                0.into(),
                collation(t).into(),
            ]
        })
        .collect()
}

fn indexes(source: &Source<'_>) -> Vec<Vec<V>> {
    let mut rows = Vec::new();
    for t in &source.directory.tables {
        for i in &t.indexes {
            let n = i.columns.len() as i64;
            let keys: Vec<i64> = i.columns.iter().map(|c| i64::from(*c)).collect();
            rows.push(vec![
                i.oid.into(),
                t.oid.into(),
                n.into(),
                n.into(),
                true.into(),
                false.into(),
                i.primary.into(),
                false.into(),
                true.into(),
                false.into(),
                true.into(),
                false.into(),
                true.into(),
                true.into(),
                false.into(),
                V::Ints(keys.clone()),
                V::Ints(vec![0; keys.len()]),
                V::Ints(vec![0; keys.len()]),
                V::Ints(vec![0; keys.len()]),
            ]);
        }
    }
    rows
}

fn constraints(source: &Source<'_>) -> Vec<Vec<V>> {
    let mut rows = Vec::new();
    for t in &source.directory.tables {
        for i in &t.indexes {
            rows.push(vec![
                i.constraint_oid.into(),
                i.name.as_str().into(),
                t.namespace_oid.into(),
                if i.primary { "p" } else { "u" }.into(),
                false.into(),
                false.into(),
                true.into(),
                t.oid.into(),
                0.into(),
                i.oid.into(),
                0.into(),
                0.into(),
                " ".into(),
                " ".into(),
                " ".into(),
                true.into(),
                0.into(),
                true.into(),
                V::Ints(i.columns.iter().map(|c| i64::from(*c)).collect()),
            ]);
        }
    }
    rows
}

fn databases(_: &Source<'_>) -> Vec<Vec<V>> {
    vec![vec![
        DATABASE_OID.into(),
        CATALOG_NAME.into(),
        OWNER_OID.into(),
        6.into(), // UTF8
        "c".into(),
        false.into(),
        true.into(),
        (-1).into(),
        0.into(),
        0.into(),
        1663.into(),
        "C".into(),
        "C".into(),
    ]]
}

/// The `pg_catalog` schema.
#[derive(Debug)]
pub struct PgCatalogSchema {
    warehouse: Arc<WarehouseInner>,
    cache: Arc<DirectoryCache>,
}

impl PgCatalogSchema {
    pub fn new(warehouse: Arc<WarehouseInner>, cache: Arc<DirectoryCache>) -> Self {
        Self { warehouse, cache }
    }
}

/// The tables whose rows come from the warehouse's catalog; the others
/// are fixed, and their scans read nothing.
const READS_WAREHOUSE: &[&str] = &[
    "pg_namespace",
    "pg_class",
    "pg_attribute",
    "pg_index",
    "pg_constraint",
    "pg_tables",
    "pg_indexes",
];

/// Whether `name` is a `pg_catalog` table (for qualifying bare names).
pub fn is_catalog_table(name: &str) -> bool {
    TABLES.iter().any(|t| t.name == name)
}

#[async_trait]
impl SchemaProvider for PgCatalogSchema {
    fn table_names(&self) -> Vec<String> {
        TABLES.iter().map(|t| t.name.to_string()).collect()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        Ok(TABLES.iter().find(|t| t.name == name).map(|def| {
            Arc::new(PgCatalogTable {
                def,
                warehouse: self.warehouse.clone(),
                cache: self.cache.clone(),
            }) as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        is_catalog_table(name)
    }
}

/// One `pg_catalog` table; its rows are built at scan time.
pub struct PgCatalogTable {
    def: &'static TableDef,
    warehouse: Arc<WarehouseInner>,
    cache: Arc<DirectoryCache>,
}

impl std::fmt::Debug for PgCatalogTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgCatalogTable({})", self.def.name)
    }
}

#[async_trait]
impl TableProvider for PgCatalogTable {
    fn schema(&self) -> arrow::datatypes::SchemaRef {
        schema(self.def.columns)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let directory = if READS_WAREHOUSE.contains(&self.def.name) {
            let directory = Arc::new(Directory::read(&self.warehouse).await?);
            self.cache.store(directory.clone());
            directory
        } else {
            Arc::new(Directory::default())
        };
        let source = Source {
            directory: &directory,
            settings: settings::all(state.config_options()),
        };
        let rows = (self.def.rows)(&source);
        let batch = batch(self.def.columns, &rows)?;
        Ok(MemorySourceConfig::try_new_exec(
            &[vec![batch]],
            self.schema(),
            projection.cloned(),
        )?)
    }
}
