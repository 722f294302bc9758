//! Catalogs of things thermocline does not have (views, policies, triggers,
//! publications, inheritance, sequences, ...), declared with their columns
//! and no rows: psql's `\d` joins them and must get an empty answer.

use super::{Source, TableDef};
use crate::pg_catalog::rows::{Ty, V};

use Ty::*;

pub(super) const PG_VIEWS: TableDef = TableDef {
    name: "pg_views",
    columns: &[
        ("schemaname", Text),
        ("viewname", Text),
        ("viewowner", Text),
        ("definition", Text),
    ],
    rows: none,
};

pub(super) const PG_MATVIEWS: TableDef = TableDef {
    name: "pg_matviews",
    columns: &[
        ("schemaname", Text),
        ("matviewname", Text),
        ("matviewowner", Text),
        ("definition", Text),
    ],
    rows: none,
};

pub(super) const PG_ATTRDEF: TableDef = TableDef {
    name: "pg_attrdef",
    columns: &[("oid", Oid), ("adrelid", Oid), ("adnum", Int2), ("adbin", Text)],
    rows: none,
};

pub(super) const PG_DESCRIPTION: TableDef = TableDef {
    name: "pg_description",
    columns: &[
        ("objoid", Oid),
        ("classoid", Oid),
        ("objsubid", Int4),
        ("description", Text),
    ],
    rows: none,
};

pub(super) const PG_SHDESCRIPTION: TableDef = TableDef {
    name: "pg_shdescription",
    columns: &[("objoid", Oid), ("classoid", Oid), ("description", Text)],
    rows: none,
};

pub(super) const PG_INHERITS: TableDef = TableDef {
    name: "pg_inherits",
    columns: &[
        ("inhrelid", Oid),
        ("inhparent", Oid),
        ("inhseqno", Int4),
        ("inhdetachpending", Bool),
    ],
    rows: none,
};

pub(super) const PG_POLICY: TableDef = TableDef {
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
};

pub(super) const PG_STATISTIC_EXT: TableDef = TableDef {
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
};

pub(super) const PG_PUBLICATION: TableDef = TableDef {
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
};

pub(super) const PG_PUBLICATION_NAMESPACE: TableDef = TableDef {
    name: "pg_publication_namespace",
    columns: &[("oid", Oid), ("pnpubid", Oid), ("pnnspid", Oid)],
    rows: none,
};

pub(super) const PG_PUBLICATION_REL: TableDef = TableDef {
    name: "pg_publication_rel",
    columns: &[
        ("oid", Oid),
        ("prpubid", Oid),
        ("prrelid", Oid),
        ("prqual", Text),
        ("prattrs", Int2Array),
    ],
    rows: none,
};

pub(super) const PG_PROC: TableDef = TableDef {
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
};

pub(super) const PG_ENUM: TableDef = TableDef {
    name: "pg_enum",
    columns: &[
        ("oid", Oid),
        ("enumtypid", Oid),
        ("enumsortorder", Float4),
        ("enumlabel", Text),
    ],
    rows: none,
};

pub(super) const PG_RANGE: TableDef = TableDef {
    name: "pg_range",
    columns: &[
        ("rngtypid", Oid),
        ("rngsubtype", Oid),
        ("rngmultitypid", Oid),
        ("rngcollation", Oid),
        ("rngsubopc", Oid),
    ],
    rows: none,
};

pub(super) const PG_TRIGGER: TableDef = TableDef {
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
};

pub(super) const PG_REWRITE: TableDef = TableDef {
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
};

pub(super) const PG_DEPEND: TableDef = TableDef {
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
};

pub(super) const PG_SEQUENCE: TableDef = TableDef {
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
};

pub(super) const PG_FOREIGN_TABLE: TableDef = TableDef {
    name: "pg_foreign_table",
    columns: &[("ftrelid", Oid), ("ftserver", Oid), ("ftoptions", TextArray)],
    rows: none,
};

pub(super) const PG_PARTITIONED_TABLE: TableDef = TableDef {
    name: "pg_partitioned_table",
    columns: &[
        ("partrelid", Oid),
        ("partstrat", Text),
        ("partnatts", Int2),
        ("partdefid", Oid),
        ("partattrs", Int2Array),
    ],
    rows: none,
};

pub(super) const PG_EVENT_TRIGGER: TableDef = TableDef {
    name: "pg_event_trigger",
    columns: &[
        ("oid", Oid),
        ("evtname", Text),
        ("evtevent", Text),
        ("evtowner", Oid),
        ("evtenabled", Text),
    ],
    rows: none,
};

fn none(_: &Source<'_>) -> Vec<Vec<V>> {
    Vec::new()
}
