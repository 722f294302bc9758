-- DDL, inserts and a select of every supported type, through psql's simple
-- query protocol (text results), unaligned so each value is printed as
-- the server sent it. NULLs print as [null].
\set VERBOSITY verbose
\pset null '[null]'
\pset format unaligned
CREATE TABLE every_type (
    id bigint PRIMARY KEY,
    i2 smallint,
    i4 integer,
    i8 bigint,
    f4 real,
    f8 double precision,
    num numeric(12,3),
    txt text,
    vc varchar,
    flag boolean,
    day date,
    ts timestamp,
    tstz timestamptz,
    bin bytea,
    doc jsonb
);
INSERT INTO every_type VALUES
    (1, 32767, 2147483647, 9223372036854775807, 1.5, 3.141592653589793, 123456789.125,
     'plain', 'varying', true, '2024-02-29', '2024-02-29 23:59:58.123456',
     '2024-02-29 23:59:58+00', '\x00ff10', '{"k": [1, 2, {"n": null}]}'),
    (2, -32768, -2147483648, -9223372036854775808, -0.25, -1e-300, -0.001,
     'quote '' and "double" and tab	here', '', false, '1970-01-01', '1999-12-31 00:00:00',
     '2000-01-01 12:00:00+02', '\x', '[]'),
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO every_type (id, txt, doc) VALUES (4, 'ünïcødé ☃', '{"s": "ü"}');
SELECT * FROM every_type ORDER BY id;
SELECT id, i2 + 1 AS i2_plus, i4::bigint * 2 AS i4_twice, num * 2 AS num_twice, length(txt) AS len
FROM every_type WHERE id <= 2 ORDER BY id;
SELECT count(*) AS n, sum(i8 / 2) AS half_sum, min(day) AS first_day, max(tstz) AS last_tstz FROM every_type;
UPDATE every_type SET txt = 'updated' WHERE id = 3;
DELETE FROM every_type WHERE id = 4;
SELECT id, txt FROM every_type ORDER BY id;
CREATE TABLE copied AS SELECT id, txt FROM every_type WHERE id < 3;
SELECT * FROM copied ORDER BY id;
DROP TABLE copied;
SELECT * FROM copied;
