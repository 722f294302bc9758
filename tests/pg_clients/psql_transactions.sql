-- BEGIN / COMMIT / ROLLBACK, and a failed transaction that refuses
-- statements (25P02) until it is rolled back.
\set VERBOSITY verbose
CREATE TABLE ledger (id bigint PRIMARY KEY, amount bigint);
BEGIN;
INSERT INTO ledger VALUES (1, 100);
INSERT INTO ledger VALUES (2, 200);
SELECT count(*) AS n FROM ledger;
COMMIT;
BEGIN;
INSERT INTO ledger VALUES (3, 300);
ROLLBACK;
SELECT id, amount FROM ledger ORDER BY id;
BEGIN;
INSERT INTO ledger VALUES (4, 400);
INSERT INTO ledger VALUES (1, 999);
SELECT 1;
COMMIT;
SELECT id, amount FROM ledger ORDER BY id;
START TRANSACTION;
UPDATE ledger SET amount = amount + 1;
DELETE FROM ledger WHERE id = 2;
COMMIT;
SELECT id, amount FROM ledger ORDER BY id;
