"""Shared helpers for the interop scripts run by tests/interop.rs.

Rows are compared in one canonical JSON form on both sides (the Rust test
writes ours with the same rules), so a mismatch is a real difference in
values, not in how two libraries print them:
  integers -> int, floats -> float, booleans, strings, NULL -> null,
  decimal -> string with the column's scale ("12.50"),
  timestamp[tz] -> int microseconds since the epoch (UTC),
  date -> int days since the epoch, binary -> lowercase hex string.
"""

import json
import sys

import pyarrow as pa
import pyarrow.compute as pc

HIDDEN_COLUMNS = ("_lsn", "_commit_ts", "_shard")


def fail(message):
    print(f"interop mismatch: {message}", file=sys.stderr)
    sys.exit(1)


def _canonical_column(column):
    t = column.type
    if pa.types.is_timestamp(t):
        return pc.cast(pc.cast(column, pa.timestamp("us", tz=t.tz)), pa.int64()).to_pylist()
    if pa.types.is_date32(t):
        return pc.cast(column, pa.int32()).to_pylist()
    if pa.types.is_date64(t):
        return pc.cast(pc.cast(column, pa.date32()), pa.int32()).to_pylist()
    if pa.types.is_decimal(t):
        # Keep the scale: str(Decimal('12.50')) == '12.50'.
        return [None if v is None else str(v) for v in column.to_pylist()]
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return [None if v is None else v.hex() for v in column.to_pylist()]
    if pa.types.is_binary_view(t):
        return [None if v is None else v.hex() for v in pc.cast(column, pa.binary()).to_pylist()]
    return column.to_pylist()


def canonical_rows(table):
    """A pyarrow Table as a list of {column: canonical value} dicts."""
    table = table.combine_chunks() if table.num_rows else table
    names = table.column_names
    columns = [_canonical_column(table.column(name)) for name in names]
    return [dict(zip(names, values)) for values in zip(*columns)] if names else []


def drop_hidden(table):
    present = [c for c in HIDDEN_COLUMNS if c in table.column_names]
    return table.drop_columns(present)


def _key(row):
    return json.dumps(row, sort_keys=True, ensure_ascii=False)


def load_rows(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def compare(label, expected, actual):
    """Exit non-zero naming the first differences when the two row multisets differ."""
    exp = sorted(expected, key=_key)
    act = sorted(actual, key=_key)
    if exp == act:
        return
    exp_keys = [_key(r) for r in exp]
    act_keys = [_key(r) for r in act]
    missing = [k for k in exp_keys if k not in set(act_keys)]
    extra = [k for k in act_keys if k not in set(exp_keys)]
    lines = [f"{label}: expected {len(exp)} rows, got {len(act)}"]
    lines += [f"  missing: {k}" for k in missing[:5]]
    lines += [f"  unexpected: {k}" for k in extra[:5]]
    if not missing and not extra:
        lines.append("  same rows, different multiplicities (duplicates?)")
    fail("\n".join(lines))
