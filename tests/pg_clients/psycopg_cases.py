"""psycopg 3 against `thermocline serve` (tests/pg_wire/psycopg.rs).

    python psycopg_cases.py CASE

connects through libpq's PG* environment variables, runs one case and
prints `ok CASE`; a failed check raises (the traceback says which). Each
case starts from an empty warehouse.
"""

import datetime
import decimal
import json
import sys
import threading
import time

import psycopg
from psycopg import sql
from psycopg.types.json import Json, Jsonb

UTC = datetime.timezone.utc

# One value of every supported type, as psycopg adapts it from Python.
COLUMNS = [
    ("id", "bigint PRIMARY KEY", 1),
    ("i2", "smallint", -32768),
    ("i4", "integer", 2147483647),
    ("i8", "bigint", -9223372036854775808),
    ("f4", "real", 1.5),
    ("f8", "double precision", 2.718281828459045),
    ("num", "numeric(12,3)", decimal.Decimal("-123456789.125")),
    ("txt", "text", "it's \"quoted\"\tand ünïcødé ☃"),
    ("flag", "boolean", True),
    ("day", "date", datetime.date(2024, 2, 29)),
    ("ts", "timestamp", datetime.datetime(2024, 2, 29, 23, 59, 58, 123456)),
    ("tstz", "timestamptz", datetime.datetime(2000, 1, 1, 10, 0, 0, tzinfo=UTC)),
    ("bin", "bytea", b"\x00\x01\xfe\xff"),
    ("doc", "jsonb", {"k": [1, 2, {"n": None}], "s": "ü"}),
]

# The OIDs PostgreSQL describes those columns with.
OIDS = {
    "id": 20, "i2": 21, "i4": 23, "i8": 20, "f4": 700, "f8": 701, "num": 1700, "txt": 25,
    "flag": 16, "day": 1082, "ts": 1114, "tstz": 1184, "bin": 17, "doc": 3802,
}


def connect(**kwargs):
    return psycopg.connect("", **kwargs)


def create_every_type(cur, table="every_type"):
    cols = ", ".join(f"{name} {decl}" for name, decl, _ in COLUMNS)
    cur.execute(f"CREATE TABLE {table} ({cols})")


def normalize(row):
    """A row as comparable values: jsonb may come back as text until the
    server describes it as jsonb, timestamptz in any zone."""
    out = []
    for (name, _, _), value in zip(COLUMNS, row):
        if name == "doc" and isinstance(value, str):
            value = json.loads(value)
        if isinstance(value, datetime.datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC)
        if isinstance(value, memoryview):
            value = bytes(value)
        out.append(value)
    return out


def expected_row(id_):
    row = [value for _, _, value in COLUMNS]
    row[0] = id_
    return row


def check_equal(got, want, what):
    assert got == want, f"{what}:\n got  {got!r}\n want {want!r}"


def case_params_every_type():
    """Every type as a query parameter, in text (%t), binary (%b) and
    psycopg's choice (%s), and NULLs; read back in text and binary."""
    with connect(autocommit=True) as conn:
        cur = conn.cursor()
        create_every_type(cur)
        for id_, placeholder in [(1, "%s"), (2, "%t"), (3, "%b")]:
            values = expected_row(id_)
            values[-1] = Jsonb(values[-1])
            marks = ", ".join([placeholder] * len(COLUMNS))
            cur.execute(f"INSERT INTO every_type VALUES ({marks})", values)
        # jsonb as plain text and as Json; NULL in every column.
        cur.execute("INSERT INTO every_type (id, doc) VALUES (%s, %s)", (4, '{"a": 1}'))
        cur.execute("INSERT INTO every_type (id, doc) VALUES (%s, %s)", (5, Json([1, "x"])))
        nulls = [6] + [None] * (len(COLUMNS) - 1)
        cur.execute(f"INSERT INTO every_type VALUES ({', '.join(['%s'] * len(COLUMNS))})", nulls)
        cur.execute("INSERT INTO every_type (id, i4) VALUES (%b, %b)", (7, None))

        for binary in (False, True):
            cur = conn.cursor(binary=binary)
            cur.execute("SELECT * FROM every_type WHERE id <= 3 ORDER BY id")
            rows = [normalize(r) for r in cur.fetchall()]
            for id_, row in zip((1, 2, 3), rows):
                check_equal(row, expected_row(id_), f"row {id_}, binary results={binary}")
            cur.execute("SELECT id, doc FROM every_type WHERE id IN (4, 5) ORDER BY id")
            docs = [(i, json.loads(d) if isinstance(d, str) else d) for i, d in cur.fetchall()]
            check_equal(docs, [(4, {"a": 1}), (5, [1, "x"])], f"jsonb, binary results={binary}")
            cur.execute("SELECT * FROM every_type WHERE id = 6")
            check_equal(list(cur.fetchone()), nulls, "NULLs")
            cur.execute("SELECT id, i4 FROM every_type WHERE id = 7")
            check_equal(cur.fetchone(), (7, None), "binary NULL")


def case_params_in_expressions():
    """Parameters the planner has to type from where they are used."""
    with connect(autocommit=True) as conn:
        cur = conn.cursor()
        create_every_type(cur)
        for id_ in range(1, 6):
            values = expected_row(id_)
            values[-1] = Jsonb(values[-1])
            values[5] = float(id_)
            cur.execute(f"INSERT INTO every_type VALUES ({', '.join(['%s'] * len(COLUMNS))})", values)
        cur.execute("SELECT id FROM every_type WHERE id > %s AND f8 <= %s ORDER BY id", (1, 4.0))
        check_equal([r[0] for r in cur.fetchall()], [2, 3, 4], "int and float comparisons")
        cur.execute("SELECT count(*) FROM every_type WHERE day = %s AND ts < %s AND tstz = %s",
                    (datetime.date(2024, 2, 29), datetime.datetime(2030, 1, 1),
                     datetime.datetime(2000, 1, 1, 11, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))))
        check_equal(cur.fetchone()[0], 5, "date / timestamp / timestamptz parameters")
        cur.execute("SELECT id FROM every_type WHERE txt LIKE %s AND flag = %s AND num < %s ORDER BY id LIMIT %s",
                    ("it%", True, decimal.Decimal("0"), 2))
        check_equal([r[0] for r in cur.fetchall()], [1, 2], "text / bool / numeric / LIMIT parameters")
        cur.execute("SELECT %s + 1, %s || 'x', %s::bigint * 2", (41, "ab", "21"))
        check_equal(cur.fetchone(), (42, "abx", 42), "parameters in the select list")
        cur.execute("SELECT id FROM every_type WHERE bin = %s ORDER BY id LIMIT 1", (b"\x00\x01\xfe\xff",))
        check_equal(cur.fetchone(), (1,), "bytea parameter")
        cur.execute("UPDATE every_type SET txt = %s WHERE id = %s", ("changed", 5))
        check_equal(cur.rowcount, 1, "UPDATE rowcount")
        cur.execute("DELETE FROM every_type WHERE id IN (%s, %s)", (4, 5))
        check_equal(cur.rowcount, 2, "DELETE rowcount")
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("every_type")))
        check_equal(cur.fetchone()[0], 3, "after the delete")


def case_result_types():
    """Result columns are described with PostgreSQL's type OIDs, so
    clients pick the right decoders."""
    with connect(autocommit=True) as conn:
        cur = conn.cursor()
        create_every_type(cur)
        cur.execute("SELECT * FROM every_type")
        got = {d.name: d.type_code for d in cur.description}
        check_equal(got, OIDS, "RowDescription type OIDs")


def case_literal_types():
    """Literals: a string is text, and a column is named after the
    function that computes it. Known differences (README, Known limits):
    an integer literal is bigint (int8), where PostgreSQL makes one that
    fits int4, and a decimal literal is double precision, not numeric
    (DataFusion's decimals cannot hold `1e-300`)."""
    with connect(autocommit=True) as conn:
        cur = conn.execute("SELECT 1 AS one, 1.5 AS dec, 'x' AS t, 3000000000 AS big")
        got = {d.name: d.type_code for d in cur.description}
        check_equal(got, {"one": 20, "dec": 701, "t": 25, "big": 20}, "literal type OIDs")
        check_equal(cur.fetchone(), (1, 1.5, "x", 3000000000), "literal values")
        cur = conn.execute("SELECT count(*), 1 FROM range(3)")
        check_equal([d.name for d in cur.description], ["count", "?column?"], "column names")


def case_transactions():
    with connect() as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE ledger (id bigint PRIMARY KEY, amount bigint)")
        conn.commit()
        cur.execute("INSERT INTO ledger VALUES (%s, %s)", (1, 100))
        check_equal(conn.info.transaction_status, psycopg.pq.TransactionStatus.INTRANS, "inside a transaction")
        conn.commit()
        cur.execute("INSERT INTO ledger VALUES (%s, %s)", (2, 200))
        conn.rollback()
        cur.execute("SELECT id FROM ledger ORDER BY id")
        check_equal(cur.fetchall(), [(1,)], "rolled back")
        conn.commit()

        # An error inside a transaction: later statements fail with 25P02
        # until the rollback, which undoes the earlier insert.
        cur.execute("INSERT INTO ledger VALUES (3, 300)")
        try:
            cur.execute("INSERT INTO ledger VALUES (1, 999)")
            raise AssertionError("duplicate key accepted")
        except psycopg.errors.UniqueViolation:
            pass
        check_equal(conn.info.transaction_status, psycopg.pq.TransactionStatus.INERROR, "failed transaction")
        try:
            cur.execute("SELECT 1")
            raise AssertionError("statement accepted in a failed transaction")
        except psycopg.errors.InFailedSqlTransaction as e:
            check_equal(e.sqlstate, "25P02", "in failed transaction")
        conn.rollback()
        cur.execute("SELECT id FROM ledger ORDER BY id")
        check_equal(cur.fetchall(), [(1,)], "after the failed transaction")
        conn.commit()

        # The transaction() context manager commits, and rolls back on an
        # exception.
        with conn.transaction():
            cur.execute("INSERT INTO ledger VALUES (4, 400)")
        try:
            with conn.transaction():
                cur.execute("INSERT INTO ledger VALUES (5, 500)")
                raise KeyError("abort")
        except KeyError:
            pass
        cur.execute("SELECT id FROM ledger ORDER BY id")
        check_equal(cur.fetchall(), [(1,), (4,)], "transaction() blocks")
        conn.commit()

    # A second connection sees only what was committed.
    with connect(autocommit=True) as other, connect() as writer:
        writer.execute("INSERT INTO ledger VALUES (6, 600)")
        check_equal(other.execute("SELECT count(*) FROM ledger").fetchone()[0], 2, "uncommitted row invisible")
        writer.commit()
        check_equal(other.execute("SELECT count(*) FROM ledger").fetchone()[0], 3, "committed row visible")


def case_savepoints():
    """Nested transaction() blocks are savepoints."""
    with connect() as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE ledger (id bigint PRIMARY KEY)")
        conn.commit()
        with conn.transaction():
            cur.execute("INSERT INTO ledger VALUES (1)")
            try:
                with conn.transaction():
                    cur.execute("INSERT INTO ledger VALUES (2)")
                    cur.execute("INSERT INTO ledger VALUES (1)")
            except psycopg.errors.UniqueViolation:
                pass
            with conn.transaction():
                cur.execute("INSERT INTO ledger VALUES (3)")
        cur.execute("SELECT id FROM ledger ORDER BY id")
        check_equal(cur.fetchall(), [(1,), (3,)], "savepoint rolled back, the rest committed")


def case_history_params():
    """Time travel and change data capture take their bounds as
    parameters: a consumer resumes from the last lsn it handled."""
    with connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE acct (id bigint PRIMARY KEY, v text)")
        conn.execute("INSERT INTO acct VALUES (1, 'a')")
        before = conn.execute("SELECT now()").fetchone()[0]
        conn.execute("UPDATE acct SET v = %s WHERE id = %s", ("b", 1))
        got = conn.execute("SELECT v FROM acct FOR SYSTEM_TIME AS OF %s", (before,)).fetchall()
        check_equal(got, [("a",)], "AS OF a bound parameter")
        events = conn.execute("SELECT lsn, op FROM thermocline_changes('acct', %s) ORDER BY lsn", (0,)).fetchall()
        check_equal([op for _, op in events], ["c", "u"], "all change events")
        last = events[0][0]
        later = conn.execute("SELECT op FROM thermocline_changes(%s, %s)", ("acct", last)).fetchall()
        check_equal(later, [("u",)], "events after the first lsn")


def expect_error(cur, query, params, sqlstate, message, exception=psycopg.Error):
    try:
        cur.execute(query, params)
    except exception as e:
        check_equal(e.sqlstate, sqlstate, f"SQLSTATE of {query!r}")
        check_equal(e.diag.sqlstate, sqlstate, f"diag.sqlstate of {query!r}")
        assert message in e.diag.message_primary, f"{query!r}: {e.diag.message_primary!r} lacks {message!r}"
        return e
    raise AssertionError(f"{query!r} did not fail")


def case_errors():
    with connect(autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE users (id bigint PRIMARY KEY, age int, name text NOT NULL)")
        cur.execute("INSERT INTO users VALUES (%s, %s, %s)", (1, 30, "ada"))
        e = expect_error(cur, "INSERT INTO users VALUES (%s, %s, %s)", (1, 31, "again"), "23505",
                         'duplicate key value violates unique constraint "users_pkey"', psycopg.errors.UniqueViolation)
        assert "Key (id)=(1) already exists" in (e.diag.message_detail or ""), e.diag.message_detail
        expect_error(cur, "SELECT * FROM missing_table", None, "42P01", 'relation "missing_table" does not exist',
                     psycopg.errors.UndefinedTable)
        expect_error(cur, "SELEC 1", None, "42601", "syntax error", psycopg.errors.SyntaxError)
        expect_error(cur, "INSERT INTO users VALUES (2, %s, 'bob')", ("not a number",), "22P02", "invalid input",
                     psycopg.errors.InvalidTextRepresentation)
        expect_error(cur, "INSERT INTO users (id, age) VALUES (3, 1)", None, "23502", "not-null",
                     psycopg.errors.NotNullViolation)
        # The connection is fine after all of them.
        cur.execute("SELECT id, age, name FROM users")
        check_equal(cur.fetchall(), [(1, 30, "ada")], "after the errors")


def case_cast_errors():
    """Errors the engine raises while computing, not binding."""
    with connect(autocommit=True) as conn:
        cur = conn.cursor()
        expect_error(cur, "SELECT 'abc'::integer", None, "22P02", 'invalid input syntax for type integer: "abc"',
                     psycopg.errors.InvalidTextRepresentation)
        expect_error(cur, "SELECT %s::integer", ("abc",), "22P02", 'invalid input syntax for type integer: "abc"',
                     psycopg.errors.InvalidTextRepresentation)
        expect_error(cur, "SELECT 1 / 0", None, "22012", "division by zero", psycopg.errors.DivisionByZero)
        check_equal(cur.execute("SELECT 1 + 1").fetchone(), (2,), "after the errors")


def case_copy():
    with connect(autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE items (id bigint PRIMARY KEY, name text, price numeric(8,2), seen date)")
        rows = [(i, f"item {i}\twith tab" if i % 7 == 0 else f"item {i}", decimal.Decimal(i) / 4,
                 datetime.date(2024, 1, 1) + datetime.timedelta(days=i) if i % 5 else None) for i in range(1, 1001)]
        with cur.copy("COPY items (id, name, price, seen) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        check_equal(cur.rowcount, 1000, "COPY FROM rowcount")
        with cur.copy("COPY items FROM STDIN (FORMAT csv)") as copy:
            copy.write('2001,"csv, with comma",1.50,2024-05-05\n2002,,,\n')
        check_equal(cur.execute("SELECT count(*), sum(price) FROM items").fetchone(),
                    (1002, sum(r[2] for r in rows) + decimal.Decimal("1.50")), "count and sum after COPY")

        with cur.copy("COPY (SELECT id, name, price, seen FROM items WHERE id <= 1000 ORDER BY id) TO STDOUT") as copy:
            copy.set_types(["bigint", "text", "numeric", "date"])
            got = list(copy.rows())
        check_equal(got, rows, "COPY TO STDOUT (text) round trip")
        with cur.copy("COPY (SELECT id, name FROM items WHERE id > 2000 ORDER BY id) TO STDOUT (FORMAT csv, HEADER true)") as copy:
            text = b"".join(bytes(block) for block in copy).decode()
        check_equal(text, 'id,name\n2001,"csv, with comma"\n2002,\n', "COPY TO STDOUT (csv)")

        # A bad row fails the whole COPY; the connection is usable after it.
        try:
            with cur.copy("COPY items (id, name) FROM STDIN") as copy:
                copy.write("3001\tok\nbad\tno\n")
            raise AssertionError("bad COPY data accepted")
        except psycopg.Error as e:
            check_equal(e.sqlstate, "22P02", "bad COPY data")
        check_equal(cur.execute("SELECT count(*) FROM items WHERE id = 3001").fetchone(), (0,), "nothing loaded")


def case_prepared():
    """psycopg prepares a statement server-side after 5 executions (and at
    once with prepare=True); the prepared statement keeps working with new
    parameters."""
    with connect(autocommit=True) as conn:
        check_equal(conn.prepare_threshold, 5, "psycopg's default threshold")
        cur = conn.cursor()
        cur.execute("CREATE TABLE kv (k bigint PRIMARY KEY, v text)")
        for i in range(20):
            cur.execute("INSERT INTO kv VALUES (%s, %s)", (i, f"v{i}"))
        for i in range(20):
            cur.execute("SELECT v FROM kv WHERE k = %s", (i,))
            check_equal(cur.fetchone(), (f"v{i}",), f"auto-prepared select, run {i}")
        for i in range(3):
            cur.execute("SELECT count(*) FROM kv WHERE k >= %s", (i * 5,), prepare=True)
            check_equal(cur.fetchone(), (20 - i * 5,), f"prepare=True, run {i}")
        # The server really holds named statements: psycopg's names
        # (_pg3_N) are reused, so an error here means they were lost.
        prepared = [k for k in conn._prepared._names] if hasattr(conn, "_prepared") else []
        assert prepared, "psycopg prepared nothing"
        # prepare=False always goes through the unnamed statement.
        cur.execute("SELECT v FROM kv WHERE k = %s", (3,), prepare=False)
        check_equal(cur.fetchone(), ("v3",), "unprepared")


def case_executemany():
    """executemany runs in pipeline mode (many Parse/Bind/Execute, one Sync)."""
    with connect(autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE events (id bigint PRIMARY KEY, kind text, at timestamptz)")
        base = datetime.datetime(2024, 1, 1, tzinfo=UTC)
        rows = [(i, ("click", "view", "buy")[i % 3], base + datetime.timedelta(seconds=i)) for i in range(500)]
        cur.executemany("INSERT INTO events VALUES (%s, %s, %s)", rows)
        check_equal(cur.execute("SELECT count(*) FROM events").fetchone(), (500,), "executemany count")
        cur.execute("SELECT kind, count(*) FROM events GROUP BY kind ORDER BY kind")
        check_equal(cur.fetchall(), [("buy", 166), ("click", 167), ("view", 167)], "grouped")
        # returning=True: one result per execution.
        cur.executemany("SELECT count(*) FROM events WHERE id < %s", [(10,), (100,)], returning=True)
        results = []
        while True:
            results.append(cur.fetchone())
            if not cur.nextset():
                break
        check_equal(results, [(10,), (100,)], "executemany returning")
        # A failing row inside executemany fails the call.
        try:
            cur.executemany("INSERT INTO events VALUES (%s, %s, %s)", [(1000, "x", base), (1, "dup", base)])
            raise AssertionError("duplicate accepted by executemany")
        except psycopg.errors.UniqueViolation:
            pass
        check_equal(cur.execute("SELECT 1").fetchone(), (1,), "usable after the failure")


def case_fetch_many_rows():
    with connect(autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("SELECT value, value * 2 AS doubled, 'row ' || value AS label FROM range(200000)")
        rows = sorted(cur.fetchall())
        check_equal(len(rows), 200000, "rows fetched")
        check_equal(rows[123456], (123456, 246912, "row 123456"), "one row")
        check_equal(sum(r[0] for r in rows), 200000 * 199999 // 2, "every value")
        cur.execute("SELECT value FROM range(1000)")
        check_equal(len(cur.fetchmany(300)), 300, "fetchmany")
        check_equal(len(cur.fetchall()), 700, "the rest")
        # Single-row mode.
        check_equal(sum(1 for _ in cur.stream("SELECT value FROM range(5000)")), 5000, "stream()")
        # Binary results for many rows.
        cur = conn.cursor(binary=True)
        cur.execute("SELECT value FROM range(100000)")
        check_equal(sum(r[0] for r in cur.fetchall()), 100000 * 99999 // 2, "binary rows")


# A query that runs for minutes unless cancelled: a cross join DataFusion
# cannot shortcut.
LONG_QUERY = "SELECT count(*) FROM range(100000) a, range(100000) b WHERE a.value + b.value = 3"


def case_cancel():
    """conn.cancel() from another thread stops a running query with
    57014; the connection is usable after it."""
    with connect(autocommit=True) as conn:
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        started = time.monotonic()
        try:
            conn.execute(LONG_QUERY)
            raise AssertionError("the long query was not cancelled")
        except psycopg.errors.QueryCanceled as e:
            check_equal(e.sqlstate, "57014", "cancelled")
        elapsed = time.monotonic() - started
        print(f"cancelled after {elapsed:.2f} s")
        assert elapsed < 30, f"the cancel took {elapsed:.1f} s"
        check_equal(conn.execute("SELECT 40 + 2").fetchone(), (42,), "usable after the cancel")


def case_login():
    """The connection works and used the password (SCRAM) when one is set."""
    with connect(autocommit=True) as conn:
        check_equal(conn.execute("SELECT 6 * 7").fetchone(), (42,), "a query")
        print(f"used_password={conn.pgconn.used_password} ssl={conn.pgconn.ssl_in_use}")


def case_wrong_password():
    """The connection is refused with PostgreSQL's message (libpq gives
    psycopg no SQLSTATE for a failed connection)."""
    try:
        connect()
    except psycopg.OperationalError as e:
        message = str(e)
        assert 'password authentication failed for user "thermocline"' in message.lower(), message
        return
    raise AssertionError("connected with a wrong password")


CASES = {name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")}

if __name__ == "__main__":
    case = sys.argv[1]
    if case not in CASES:
        sys.exit(f"unknown case {case!r}; cases: {', '.join(CASES)}")
    CASES[case]()
    print(f"ok {case}")
