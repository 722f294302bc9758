"""pyiceberg creates and appends to a table that thermocline then reads
(tests/interop.rs, test c).

Usage: pyiceberg_write.py WAREHOUSE OUT.json
Creates `public.readings` partitioned by day(ts) in WAREHOUSE/catalog.db
(catalog `thermocline`, data under file://WAREHOUSE/data, our layout), appends
two batches (two snapshots), and writes {table, rows, files, snapshots} to
OUT.json with the rows in canonical form (common.py).
"""

import datetime as dt
import json
import sys
from decimal import Decimal

import pyarrow as pa
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import DayTransform
from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    LongType,
    NestedField,
    StringType,
    TimestamptzType,
)

from common import canonical_rows, fail

UTC = dt.timezone.utc


def batch(schema, first_id, day, n):
    rows = []
    for i in range(n):
        k = first_id + i
        rows.append({
            "id": k,
            "ts": dt.datetime(2024, 3, day, i % 24, (7 * i) % 60, tzinfo=UTC),
            "value": None if k % 5 == 0 else k * 0.25,
            "name": None if k % 7 == 0 else f"sensor-{k % 4}",
            "amount": Decimal(k * 37 % 10000) / 100,
            "ok": k % 2 == 0,
            "d": dt.date(2024, 3, day),
            "payload": None if k % 3 == 0 else bytes([k % 256, 0, 255]),
        })
    return pa.Table.from_pylist(rows, schema=schema)


def main():
    wh, out = sys.argv[1], sys.argv[2]
    catalog = SqlCatalog("thermocline", uri=f"sqlite:///{wh}/catalog.db", warehouse=f"file://{wh}/data")
    catalog.create_namespace_if_not_exists("public")
    schema = Schema(
        NestedField(1, "id", LongType(), required=True),
        NestedField(2, "ts", TimestamptzType(), required=False),
        NestedField(3, "value", DoubleType(), required=False),
        NestedField(4, "name", StringType(), required=False),
        NestedField(5, "amount", DecimalType(10, 2), required=False),
        NestedField(6, "ok", BooleanType(), required=False),
        NestedField(7, "d", DateType(), required=False),
        NestedField(8, "payload", BinaryType(), required=False),
    )
    spec = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=DayTransform(), name="ts_day"))
    table = catalog.create_table("public.readings", schema=schema, partition_spec=spec)
    arrow_schema = schema.as_arrow()

    first = pa.concat_tables([batch(arrow_schema, 1, 1, 40), batch(arrow_schema, 41, 2, 40)])
    second = pa.concat_tables([batch(arrow_schema, 81, 3, 30), batch(arrow_schema, 111, 4, 30)])
    table.append(first)
    table.append(second)

    table = catalog.load_table("public.readings")
    if len(table.snapshots()) != 2:
        fail(f"pyiceberg made {len(table.snapshots())} snapshots, expected 2")
    files = len(list(table.scan().plan_files()))
    rows = canonical_rows(pa.concat_tables([first, second]))
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"table": "public.readings", "rows": rows, "files": files,
                   "snapshots": len(table.snapshots()),
                   "metadata_location": table.metadata_location}, f)


if __name__ == "__main__":
    main()
