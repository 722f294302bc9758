"""pyiceberg's plan_files on the table thermocline wrote: the peer of the
suite's pruning group (benches/suite/pruning.rs).

Usage: pruning_plan_files.py WAREHOUSE TABLE COLUMN LOW HIGH
The row filter is `LOW <= COLUMN < HIGH` (ISO timestamps). Reads one command
per line on stdin and answers each with one JSON line on stdout:
  info  {"snapshots", "replace_snapshots", "manifests", "live_manifests",
         "files": live data files of the current snapshot,
         "planned": paths of the files the filter plans}
  warm  {"ms", "files"}: plan_files on the table loaded at start-up
        (pyiceberg keeps each manifest list's entries; manifests are re-read)
  cold  {"ms", "load_ms", "files"}: clear pyiceberg's manifest cache, load
        the table from the catalog ("load_ms": reading and parsing its
        metadata), then plan_files ("ms"): no manifest read before is reused
  quit
Only plan_files (and load_table, timed apart) is inside the clock. Any error
answers {"error": "..."}.
"""

import json
import sys
import time

from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.expressions import And, GreaterThanOrEqual, LessThan
from pyiceberg.manifest import clear_manifest_cache


def main():
    wh, name, column, low, high = sys.argv[1:6]
    catalog = SqlCatalog("thermocline", uri=f"sqlite:///{wh}/catalog.db", warehouse=f"file://{wh}/data")
    row_filter = And(GreaterThanOrEqual(column, low), LessThan(column, high))
    table = catalog.load_table(name)

    def plan(t):
        return list(t.scan(row_filter=row_filter).plan_files())

    for line in sys.stdin:
        command = line.strip()
        try:
            if command == "quit":
                return
            if command == "info":
                snapshot = table.current_snapshot()
                manifests = snapshot.manifests(table.io) if snapshot else []
                answer = {
                    "snapshots": len(table.metadata.snapshots),
                    "replace_snapshots": sum(1 for s in table.metadata.snapshots if s.summary and s.summary.operation.value == "replace"),
                    "manifests": len(manifests),
                    "live_manifests": sum(1 for m in manifests if (m.added_files_count or 0) + (m.existing_files_count or 0) > 0),
                    "files": len(list(table.scan().plan_files())),
                    "planned": sorted(task.file.file_path for task in plan(table)),
                }
            elif command == "warm":
                start = time.perf_counter()
                tasks = plan(table)
                answer = {"ms": (time.perf_counter() - start) * 1e3, "files": len(tasks)}
            elif command == "cold":
                clear_manifest_cache()
                start = time.perf_counter()
                fresh = catalog.load_table(name)
                loaded = time.perf_counter()
                tasks = plan(fresh)
                end = time.perf_counter()
                answer = {"ms": (end - loaded) * 1e3, "load_ms": (loaded - start) * 1e3, "files": len(tasks)}
            else:
                answer = {"error": f"unknown command {command!r}"}
        except Exception as e:  # noqa: BLE001 - every error goes back to the bench
            answer = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
