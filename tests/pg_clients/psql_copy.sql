-- COPY FROM STDIN and TO STDOUT, text and csv, and psql's \copy (which
-- runs COPY ... FROM STDIN / TO STDOUT with a local file).
\set VERBOSITY verbose
\pset null '[null]'
CREATE TABLE items (id bigint PRIMARY KEY, name text, price numeric(8,2), seen date);
COPY items FROM STDIN;
1	apple	1.25	2024-01-01
2	tab\there	\N	\N
3	back\\slash	0.50	2024-12-31
\.
COPY items (id, name, price) FROM STDIN (FORMAT csv);
4,"comma, inside",2.00
5,"quote "" inside",
6,,3.75
\.
COPY items FROM STDIN (FORMAT csv, HEADER true);
id,name,price,seen
7,seven,7.00,2024-07-07
\.
SELECT * FROM items ORDER BY id;
COPY items TO STDOUT;
COPY items (id, name) TO STDOUT (FORMAT csv, HEADER true);
COPY (SELECT id, price FROM items WHERE price > 1 ORDER BY id) TO STDOUT (FORMAT csv);
\copy items FROM 'more_items.csv' WITH (FORMAT csv)
\copy items FROM 'more_items.txt'
SELECT count(*) AS n FROM items;
\copy (SELECT id, name FROM items WHERE id >= 100 ORDER BY id) TO 'exported.csv' WITH (FORMAT csv)
\copy items TO 'exported.txt'
-- bad data: the whole COPY fails, nothing is loaded
COPY items FROM STDIN (FORMAT csv);
200,ok,1.00,2024-01-01
not-a-number,bad,1.00,2024-01-01
\.
SELECT count(*) AS n FROM items WHERE id = 200;
