"""DuckDB and pyiceberg read a table straight from its folder, with no
catalog service: the file-system layout a warehouse keeps with
`--catalog bucket` (tests/offline_warehouse.rs).

Usage: read_bucket_table.py TABLE_DIR
TABLE_DIR holds metadata/v{N}.metadata.json and metadata/version-hint.text.
Prints {"duckdb": [rows, sum_v], "pyiceberg": [rows, sum_v]} for the table's
`v` column. DuckDB's iceberg and avro extensions are LOADed from their
wheels, as in duckdb_read.py.
"""

import json
import sys

import duckdb
import duckdb_extension_avro
import duckdb_extension_iceberg
from pyiceberg.table import StaticTable

from duckdb_read import extension_path


def main():
    table_dir = sys.argv[1]
    con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"})
    con.execute(f"LOAD '{extension_path(duckdb_extension_avro, 'avro')}'")
    con.execute(f"LOAD '{extension_path(duckdb_extension_iceberg, 'iceberg')}'")
    quoted = table_dir.replace("'", "''")
    # Without a metadata file named, DuckDB follows version-hint.text.
    duck = con.execute(f"SELECT count(*), sum(v) FROM iceberg_scan('{quoted}')").fetchone()

    # pyiceberg's StaticTable also follows the hint when given the folder.
    table = StaticTable.from_metadata(table_dir).scan(selected_fields=("v",)).to_arrow()
    values = table.column("v").to_pylist()
    py = [table.num_rows, sum(v for v in values if v is not None)]
    print(json.dumps({"duckdb": [duck[0], float(duck[1])], "pyiceberg": [py[0], float(py[1])]}))


if __name__ == "__main__":
    main()
