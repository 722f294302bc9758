-- psycopg 3 `TypeInfo.fetch(conn, "vector")` (psycopg/_typeinfo.py,
-- `_get_info_query` with `to_regtype`), its %(name)s bound to 'vector'.
-- pgvector-python's `register_vector` runs exactly this.
SELECT
    typname AS name, oid, typarray AS array_oid,
    oid::regtype::text AS regtype, typdelim AS delimiter
FROM pg_type t
WHERE t.oid = to_regtype('vector')
ORDER BY t.oid
