//! The server's own objects, the same in every warehouse: its one database
//! and owner role (`pg_database`, `pg_roles`, `pg_user`), the access
//! methods and tablespaces, the `vector` extension, and the session's
//! run-time settings (`pg_settings`).

use super::{Source, TableDef};
use crate::pg_catalog::directory::{self, BTREE_AM_OID, DATABASE_OID, HEAP_AM_OID, OWNER_NAME, OWNER_OID};
use crate::pg_catalog::rows::{Ty, V};
use crate::warehouse::CATALOG_NAME;

use Ty::*;

pub(super) const PG_DATABASE: TableDef = TableDef {
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
};

pub(super) const PG_ROLES: TableDef = TableDef {
    name: "pg_roles",
    columns: ROLE_COLUMNS,
    rows: roles,
};

pub(super) const PG_AUTHID: TableDef = TableDef {
    name: "pg_authid",
    columns: ROLE_COLUMNS,
    rows: roles,
};

pub(super) const PG_USER: TableDef = TableDef {
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
};

pub(super) const PG_AM: TableDef = TableDef {
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
};

pub(super) const PG_TABLESPACE: TableDef = TableDef {
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
};

pub(super) const PG_SETTINGS: TableDef = TableDef {
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
};

pub(super) const PG_EXTENSION: TableDef = TableDef {
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
};

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
