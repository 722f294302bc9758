//! The types (`pg_type`) every column the catalogs describe can have, with
//! the storage and alignment PostgreSQL reports for them, and the
//! collations (`pg_collation`) the string types use.

use super::{Source, TableDef};
use crate::pg_catalog::directory::{self, DEFAULT_COLLATION_OID, OWNER_OID, PG_CATALOG_OID};
use crate::pg_catalog::rows::{Ty, V};
use crate::sql::pg_types::PgType;

use Ty::*;

pub(super) const PG_TYPE: TableDef = TableDef {
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
};

pub(super) const PG_COLLATION: TableDef = TableDef {
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
};

/// Storage and alignment as PostgreSQL reports them for a type.
pub(super) fn physical(t: PgType) -> (&'static str, &'static str, bool) {
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
pub(super) fn collation(t: PgType) -> i64 {
    if [25, 1043, 1009].contains(&t.oid) {
        DEFAULT_COLLATION_OID
    } else {
        0
    }
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
