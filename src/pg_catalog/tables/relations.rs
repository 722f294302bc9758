//! The catalogs that describe the warehouse: its namespaces (schemas), its
//! tables and their constraint indexes as relations (`pg_class`), their
//! columns (`pg_attribute`), the indexes and keys (`pg_index`,
//! `pg_constraint`) and the views psql and drivers read them through
//! (`pg_tables`, `pg_indexes`). Their rows come from the [`Directory`] read
//! when the table is scanned.
//!
//! [`Directory`]: crate::pg_catalog::Directory

use super::types::{collation, physical};
use super::{Source, TableDef};
use crate::pg_catalog::directory::{BTREE_AM_OID, HEAP_AM_OID, OWNER_NAME, OWNER_OID};
use crate::pg_catalog::rows::{Ty, V};
use crate::sql::pg_types::PgType;

use Ty::*;

pub(super) const PG_NAMESPACE: TableDef = TableDef {
    name: "pg_namespace",
    columns: &[
        ("oid", Oid),
        ("nspname", Text),
        ("nspowner", Oid),
        ("nspacl", TextArray),
    ],
    rows: namespaces,
};

pub(super) const PG_CLASS: TableDef = TableDef {
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
};

pub(super) const PG_ATTRIBUTE: TableDef = TableDef {
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
};

pub(super) const PG_INDEX: TableDef = TableDef {
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
};

pub(super) const PG_CONSTRAINT: TableDef = TableDef {
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
};

pub(super) const PG_TABLES: TableDef = TableDef {
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
};

pub(super) const PG_INDEXES: TableDef = TableDef {
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
};

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
