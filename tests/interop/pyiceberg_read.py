"""pyiceberg reads a table thermocline wrote (tests/interop.rs, test a).

Usage: pyiceberg_read.py JOB.json
JOB: {warehouse, table, rows, snapshots, first_snapshot_rows, filter, filter_rows}
  rows: our canonical cold rows (common.py); pyiceberg sees only Iceberg, not the hot tier.
Checks the rows, the hidden columns, the snapshot history, time travel to the
first snapshot, and that a partition filter both prunes files and returns our
WHERE's rows. Prints a JSON summary on stdout; exits 1 on any mismatch.
"""

import json
import sys

from pyiceberg.catalog.sql import SqlCatalog

from common import HIDDEN_COLUMNS, canonical_rows, compare, drop_hidden, fail, load_rows


def main():
    job = load_rows(sys.argv[1])
    wh = job["warehouse"]
    catalog = SqlCatalog("thermocline", uri=f"sqlite:///{wh}/catalog.db", warehouse=f"file://{wh}/data")
    table = catalog.load_table(job["table"])

    scanned = table.scan().to_arrow()
    missing = [c for c in HIDDEN_COLUMNS if c not in scanned.column_names]
    if missing:
        fail(f"hidden columns {missing} not in the Iceberg schema: {scanned.column_names}")
    for name in HIDDEN_COLUMNS:
        if scanned.column(name).null_count:
            fail(f"hidden column {name} has {scanned.column(name).null_count} NULLs")
    lsns = scanned.column("_lsn").to_pylist()
    compare("pyiceberg scan() vs our SELECT of the cold rows", job["rows"], canonical_rows(drop_hidden(scanned)))

    # The spec does not order the metadata's snapshot list (iceberg-rust
    # writes it from a map): order by sequence number.
    snapshots = sorted(table.snapshots(), key=lambda s: s.sequence_number)
    if len(snapshots) != job["snapshots"]:
        fail(f"expected {job['snapshots']} snapshots (one per CHECKPOINT), pyiceberg sees {len(snapshots)}")
    # Time travel: the first snapshot holds exactly the first checkpoint's rows.
    if snapshots[0].parent_snapshot_id is not None or snapshots[1].parent_snapshot_id != snapshots[0].snapshot_id:
        fail(f"snapshot lineage: {[(s.snapshot_id, s.parent_snapshot_id) for s in snapshots]}")
    first = table.scan(snapshot_id=snapshots[0].snapshot_id).to_arrow()
    if first.num_rows != job["first_snapshot_rows"]:
        fail(f"first snapshot has {first.num_rows} rows, expected {job['first_snapshot_rows']}")

    all_files = list(table.scan().plan_files())
    filtered = table.scan(row_filter=job["filter"])
    filter_files = list(filtered.plan_files())
    if not 0 < len(filter_files) < len(all_files):
        fail(f"filter {job['filter']!r} planned {len(filter_files)} of {len(all_files)} files: no partition pruning")
    compare(f"pyiceberg scan(row_filter={job['filter']!r}) vs our WHERE",
            job["filter_rows"], canonical_rows(drop_hidden(filtered.to_arrow())))

    print(json.dumps({
        "rows": scanned.num_rows,
        "files": len(all_files),
        "filter_files": len(filter_files),
        "snapshots": len(snapshots),
        "distinct_lsns": len(set(lsns)),
    }))


if __name__ == "__main__":
    main()
