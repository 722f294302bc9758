-- Errors keep their SQLSTATE (VERBOSITY verbose prints it), and the
-- session goes on after each one.
\set VERBOSITY verbose
CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text UNIQUE);
INSERT INTO users VALUES (1, 'ada', 'ada@example.com');
-- unique_violation
INSERT INTO users VALUES (1, 'again', 'other@example.com');
INSERT INTO users VALUES (2, 'bob', 'ada@example.com');
-- not_null_violation
INSERT INTO users (id) VALUES (3);
-- undefined_table
SELECT * FROM no_such_table;
-- undefined_column
SELECT no_such_column FROM users;
-- syntax_error
SELEC 1;
-- invalid_text_representation
SELECT 'abc'::integer;
-- division_by_zero
SELECT 1 / 0;
-- duplicate_table
CREATE TABLE users (id int);
-- the session still works
SELECT id, name FROM users ORDER BY id;
