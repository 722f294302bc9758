"""DuckDB reads a table thermocline wrote (tests/interop.rs, test b).

Usage: duckdb_read.py JOB.json
JOB: {metadata_location, queries: [{label, sql, rows}]}
Each query's `{table}` becomes iceberg_scan('<metadata_location>'); its result
must equal `rows`, our answer to the same question (canonical form,
common.py). The iceberg and avro extensions are LOADed from their wheels:
DuckDB cannot download extensions in CI. Exits 1 on any mismatch.
"""

import glob
import json
import os
import sys

import duckdb
import duckdb_extension_avro
import duckdb_extension_iceberg

from common import canonical_rows, compare, fail, load_rows


def extension_path(module, name):
    base = os.path.dirname(module.__file__)
    pattern = f"{base}/extensions/v{duckdb.__version__}/{name}.duckdb_extension"
    found = glob.glob(pattern)
    if not found:
        fail(f"DuckDB extension {name} not found at {pattern}")
    return found[0]


def main():
    job = load_rows(sys.argv[1])
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    con.execute(f"LOAD '{extension_path(duckdb_extension_avro, 'avro')}'")
    con.execute(f"LOAD '{extension_path(duckdb_extension_iceberg, 'iceberg')}'")
    con.execute("SET TimeZone = 'UTC'")
    location = job["metadata_location"].replace("'", "''")
    summary = {}
    for query in job["queries"]:
        sql = query["sql"].replace("{table}", f"iceberg_scan('{location}')")
        try:
            result = con.execute(sql).to_arrow_table()
        except duckdb.Error as e:
            fail(f"{query['label']}: DuckDB failed on {sql}: {e}")
        compare(f"DuckDB {query['label']}", query["rows"], canonical_rows(result))
        summary[query["label"]] = result.num_rows
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
