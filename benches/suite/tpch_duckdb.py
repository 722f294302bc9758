"""DuckDB, one engine of the suite's TPC-H group, in its own process.

Started by benches/suite/tpch_engines.rs as
    python tpch_duckdb.py PARQUET_DIR QUERIES_DIR FRACTION
it makes one view per table over the plain Parquet files (the same files
bare DataFusion reads), prints "ready", then answers one command per line
on stdin with one JSON line on stdout:
    run qNN  ->  {"ms": <execution time>, "rows": [[...], ...]}  or {"error": "..."}
    rss      ->  {"rss_kb": <peak resident set size of this process>}
The timed part is execute + fetch as Arrow (no Python objects); the rows are
converted for the answer check after the clock stops.
"""

import datetime
import decimal
import json
import os
import sys
import time

import duckdb

TABLES = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]


def value(v):
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, (datetime.date, datetime.datetime)):
        return v.isoformat()
    return v


def peak_rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    parquet_dir, queries_dir, fraction = sys.argv[1], sys.argv[2], sys.argv[3]
    con = duckdb.connect(":memory:")
    con.execute("SET threads = 2")
    for table in TABLES:
        path = os.path.join(parquet_dir, table, "*.parquet")
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}')")
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.split()
        if not command:
            continue
        if command[0] == "rss":
            print(json.dumps({"rss_kb": peak_rss_kb()}), flush=True)
            continue
        if command[0] != "run" or len(command) != 2:
            print(json.dumps({"error": f"unknown command {line.strip()!r}"}), flush=True)
            continue
        with open(os.path.join(queries_dir, command[1] + ".sql")) as f:
            sql = f.read().replace("{FRACTION}", fraction)
        try:
            started = time.perf_counter()
            table = con.execute(sql).to_arrow_table()
            ms = (time.perf_counter() - started) * 1e3
            rows = [[value(v) for v in row.values()] for row in table.to_pylist()]
            print(json.dumps({"ms": ms, "rows": rows}), flush=True)
        except Exception as e:  # the driver reports it beside the query
            print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)


if __name__ == "__main__":
    main()
