"""Schema evolution across the peers (tests/interop_evolution.rs).

Usage: read_evolved.py JOB.json
JOB.action is one of:

  "read": pyiceberg and DuckDB read a table thermocline evolved with ALTER
    TABLE (rename, drop, add) and its change log.
    JOB: {warehouse, table, changes_table, metadata_location, columns, gone,
          renamed: {from, to}, rows, filter, filter_rows, changes, updated, deleted}
      rows: our canonical rows of `columns` (common.py); gone: names no
      reader may show (a renamed column's old name, a dropped column);
      changes: our rows of the change log (before-image + _row_lsn, _new_lsn).
    Checks pyiceberg's scan and DuckDB's iceberg_scan against `rows` (and a
    filter on the renamed column against `filter_rows`), that some data file
    still holds the renamed column under its old name and the same field id
    (nothing was rewritten for the ALTER), and the change log: pyiceberg's
    rows equal ours, the UPDATE's `_new_lsn` is the `_lsn` of its new version,
    the DELETE's is NULL.

  "write": pyiceberg creates JOB.table in JOB.warehouse's catalog, appends,
    evolves the schema (rename a -> b, add c), appends again; thermocline
    then reads it. JOB: {warehouse, table}

Prints a JSON summary on stdout (for "write": the rows in canonical form
with the evolved names, old rows' values under the renamed column); exits
1 on any mismatch.
"""

import json
import sys

import duckdb
import duckdb_extension_avro
import duckdb_extension_iceberg
import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.schema import Schema
from pyiceberg.types import DoubleType, LongType, NestedField, StringType

from common import HIDDEN_COLUMNS, canonical_rows, compare, fail, load_rows
from duckdb_read import extension_path

FIELD_ID = b"PARQUET:field_id"


def open_catalog(wh):
    return SqlCatalog("thermocline", uri=f"sqlite:///{wh}/catalog.db", warehouse=f"file://{wh}/data")


def local_path(location):
    return location[len("file://"):] if location.startswith("file://") else location


def check_no_gone_columns(label, names, gone):
    shown = [name for name in gone if name in names]
    if shown:
        fail(f"{label} shows {shown}, which the table no longer has: {names}")


def files_with_old_name(table, old, new):
    """Data files that hold the renamed column under its old name, with the
    field id the current schema gives the new name."""
    field_id = table.schema().find_field(new).field_id
    count = 0
    for task in table.scan().plan_files():
        schema = pq.read_schema(local_path(task.file.file_path))
        ids = {f.name: int(f.metadata[FIELD_ID]) for f in schema if f.metadata and FIELD_ID in f.metadata}
        if old in ids:
            if ids[old] != field_id:
                fail(f"{task.file.file_path} holds {old!r} with field id {ids[old]}, "
                     f"but {new!r} has field id {field_id}")
            count += 1
        elif ids.get(new, field_id) != field_id:
            fail(f"{task.file.file_path} holds {new!r} with field id {ids[new]}, expected {field_id}")
    return count


def read_pyiceberg(job, catalog):
    table = catalog.load_table(job["table"])
    schema_names = [field.name for field in table.schema().fields]
    check_no_gone_columns("pyiceberg's schema", schema_names, job["gone"])
    scanned = table.scan().to_arrow()
    check_no_gone_columns("pyiceberg's scan()", scanned.column_names, job["gone"])
    missing = [c for c in job["columns"] + list(HIDDEN_COLUMNS) if c not in scanned.column_names]
    if missing:
        fail(f"pyiceberg's scan() lacks {missing}: {scanned.column_names}")
    compare("pyiceberg scan() vs our SELECT", job["rows"],
            canonical_rows(scanned.select(job["columns"])))
    filtered = table.scan(row_filter=job["filter"], selected_fields=tuple(job["columns"])).to_arrow()
    compare(f"pyiceberg scan(row_filter={job['filter']!r}) vs our WHERE", job["filter_rows"],
            canonical_rows(filtered.select(job["columns"])))
    old = files_with_old_name(table, job["renamed"]["from"], job["renamed"]["to"])
    lsn_of = dict(zip(scanned.column("id").to_pylist(), scanned.column("_lsn").to_pylist()))
    return scanned.num_rows, old, lsn_of


def read_changes(job, catalog, lsn_of):
    log = catalog.load_table(job["changes_table"])
    scanned = log.scan().to_arrow()
    check_no_gone_columns("pyiceberg's scan() of the change log", scanned.column_names, job["gone"])
    wanted = list(job["changes"][0].keys()) if job["changes"] else ["id"]
    missing = [c for c in wanted + list(HIDDEN_COLUMNS) if c not in scanned.column_names]
    if missing:
        fail(f"the change log lacks {missing}: {scanned.column_names}")
    compare("pyiceberg scan() of the change log vs ours", job["changes"], canonical_rows(scanned.select(wanted)))

    events = {row["id"]: row for row in canonical_rows(scanned)}
    expected_ids = sorted(job["updated"] + job["deleted"])
    if sorted(events) != expected_ids or len(events) != scanned.num_rows:
        fail(f"the change log holds ids {sorted(scanned.column('id').to_pylist())}, expected {expected_ids}")
    for id in job["deleted"]:
        if events[id]["_new_lsn"] is not None:
            fail(f"DELETE of id {id}: _new_lsn is {events[id]['_new_lsn']}, expected NULL")
    for id in job["updated"]:
        new_lsn = events[id]["_new_lsn"]
        if new_lsn is None:
            fail(f"UPDATE of id {id}: _new_lsn is NULL")
        if new_lsn != lsn_of.get(id):
            fail(f"UPDATE of id {id}: _new_lsn {new_lsn} is not the _lsn of its new version ({lsn_of.get(id)})")
    for id, event in events.items():
        if event["_row_lsn"] is None or event["_lsn"] is None or event["_row_lsn"] >= event["_lsn"]:
            fail(f"event of id {id}: the deleted version (_row_lsn {event['_row_lsn']}) "
                 f"must precede its delete (_lsn {event['_lsn']})")
    return scanned.num_rows


def read_duckdb(job):
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    con.execute(f"LOAD '{extension_path(duckdb_extension_avro, 'avro')}'")
    con.execute(f"LOAD '{extension_path(duckdb_extension_iceberg, 'iceberg')}'")
    con.execute("SET TimeZone = 'UTC'")
    scan = "iceberg_scan('{}')".format(job["metadata_location"].replace("'", "''"))
    columns = ", ".join(job["columns"])

    def run(label, sql):
        try:
            return con.execute(sql).to_arrow_table()
        except duckdb.Error as e:
            fail(f"{label}: DuckDB failed on {sql}: {e}")

    everything = run("every column", f"SELECT * FROM {scan}")
    check_no_gone_columns("DuckDB's SELECT *", everything.column_names, job["gone"])
    rows = run("every row", f"SELECT {columns} FROM {scan}")
    compare("DuckDB iceberg_scan vs our SELECT", job["rows"], canonical_rows(rows))
    filtered = run("filter", f"SELECT {columns} FROM {scan} WHERE {job['filter']}")
    compare(f"DuckDB WHERE {job['filter']} vs ours", job["filter_rows"], canonical_rows(filtered))
    return rows.num_rows


def read(job):
    catalog = open_catalog(job["warehouse"])
    rows, old, lsn_of = read_pyiceberg(job, catalog)
    changes = read_changes(job, catalog, lsn_of)
    duck = read_duckdb(job)
    print(json.dumps({
        "pyiceberg_rows": rows,
        "duckdb_rows": duck,
        "changes": changes,
        "files_with_old_name": old,
    }))


def gauges(schema, ids, evolved):
    rows = []
    for k in ids:
        text = None if k % 7 == 0 else f"a-{k}"
        row = {"id": k, "v": None if k % 5 == 0 else k * 0.5}
        if evolved:
            row["b"] = text
            row["c"] = None if k % 3 == 0 else f"c-{k}"
        else:
            row["a"] = text
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=schema)


def write(job):
    catalog = open_catalog(job["warehouse"])
    catalog.create_namespace_if_not_exists("public")
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "a", StringType(), required=False),
        NestedField(3, "v", DoubleType(), required=False),
    )
    table = catalog.create_table(job["table"], schema=schema)
    old_ids, new_ids = range(1, 31), range(31, 51)
    table.append(gauges(schema.as_arrow(), old_ids, evolved=False))

    with table.update_schema() as update:
        update.rename_column("a", "b")
        update.add_column("c", StringType())
    table = catalog.load_table(job["table"])
    evolved = table.schema()
    if evolved.find_field("b").field_id != 2:
        fail(f"pyiceberg gave the renamed column field id {evolved.find_field('b').field_id}, expected 2")
    table.append(gauges(evolved.as_arrow(), new_ids, evolved=True))

    table = catalog.load_table(job["table"])
    columns = ["id", "b", "v", "c"]
    # What every reader must see: old rows' `a` under `b`, no `c` for them.
    expected = []
    for k in list(old_ids) + list(new_ids):
        expected.append({
            "id": k,
            "b": None if k % 7 == 0 else f"a-{k}",
            "v": None if k % 5 == 0 else k * 0.5,
            "c": None if k <= old_ids[-1] or k % 3 == 0 else f"c-{k}",
        })
    # pyiceberg must read its own evolution right, or the test compares
    # against a peer's bug.
    compare("pyiceberg reading its evolved table", expected, canonical_rows(table.scan().to_arrow().select(columns)))
    print(json.dumps({
        "table": job["table"],
        "rows": expected,
        "old_rows": len(old_ids),
        "rows_with_c": sum(1 for row in expected if row["c"] is not None),
        "snapshots": len(table.snapshots()),
        "metadata_location": table.metadata_location,
    }))


def main():
    job = load_rows(sys.argv[1])
    actions = {"read": read, "write": write}
    if job.get("action") not in actions:
        fail(f"unknown action {job.get('action')!r}, expected one of {sorted(actions)}")
    actions[job["action"]](job)


if __name__ == "__main__":
    main()
