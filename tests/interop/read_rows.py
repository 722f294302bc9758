"""pyiceberg and DuckDB read a table after a copy-on-write delete
(tests/interop_rewrite.rs).

Usage: read_rows.py JOB.json
JOB: {warehouse, table, metadata_location, ids, removed, total_records, previous_rows}
  ids: the ids that must remain; removed: data file paths that must no longer
  be planned; previous_rows: rows of the parent snapshot (time travel).
Checks pyiceberg's scan (rows, planned files, the snapshot's operation and
total-records, time travel to the parent) and DuckDB's iceberg_scan of the
metadata file. Prints a JSON summary on stdout; exits 1 on any mismatch.
"""

import json
import sys

import duckdb
import duckdb_extension_avro
import duckdb_extension_iceberg
from pyiceberg.catalog.sql import SqlCatalog

from common import fail, load_rows
from duckdb_read import extension_path


def same_ids(label, expected, actual):
    if sorted(actual) == expected:
        return
    extra = sorted(set(actual) - set(expected))[:5]
    missing = sorted(set(expected) - set(actual))[:5]
    dups = len(actual) - len(set(actual))
    fail(f"{label}: {len(actual)} rows, expected {len(expected)}; "
         f"unexpected {extra}, missing {missing}, duplicates {dups}")


def main():
    job = load_rows(sys.argv[1])
    expected = sorted(job["ids"])
    wh = job["warehouse"]
    catalog = SqlCatalog("thermocline", uri=f"sqlite:///{wh}/catalog.db", warehouse=f"file://{wh}/data")
    table = catalog.load_table(job["table"])

    snapshot = table.current_snapshot()
    operation = snapshot.summary.operation.value
    if operation != "overwrite":
        fail(f"current snapshot is a {operation!r}, expected an overwrite")
    total = snapshot.summary.get("total-records")
    if total != str(job["total_records"]):
        fail(f"total-records is {total!r}, expected {job['total_records']}")

    same_ids("pyiceberg scan()", expected, table.scan(selected_fields=("id",)).to_arrow().column("id").to_pylist())
    planned = {task.file.file_path for task in table.scan().plan_files()}
    still = planned & set(job["removed"])
    if still:
        fail(f"pyiceberg still plans removed files: {sorted(still)[:3]}")
    parent = table.scan(snapshot_id=snapshot.parent_snapshot_id).to_arrow()
    if parent.num_rows != job["previous_rows"]:
        fail(f"the parent snapshot has {parent.num_rows} rows, expected {job['previous_rows']}")

    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    con.execute(f"LOAD '{extension_path(duckdb_extension_avro, 'avro')}'")
    con.execute(f"LOAD '{extension_path(duckdb_extension_iceberg, 'iceberg')}'")
    location = job["metadata_location"].replace("'", "''")
    try:
        duck = [row[0] for row in con.execute(f"SELECT id FROM iceberg_scan('{location}')").fetchall()]
    except duckdb.Error as e:
        fail(f"DuckDB failed on iceberg_scan: {e}")
    same_ids("DuckDB iceberg_scan", expected, duck)

    print(json.dumps({
        "pyiceberg_rows": len(expected),
        "duckdb_rows": len(duck),
        "planned_files": len(planned),
        "operation": operation,
    }))


if __name__ == "__main__":
    main()
