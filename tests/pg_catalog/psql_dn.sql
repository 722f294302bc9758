-- psql 15 `\dn` (captured with `psql -E` against PostgreSQL 15.18).
-- '16384' stands for the OID the first query returned.

SELECT n.nspname AS "Name",
  pg_catalog.pg_get_userbyid(n.nspowner) AS "Owner"
FROM pg_catalog.pg_namespace n
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY 1;
