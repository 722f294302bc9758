// node-postgres (npm `pg`) against `thermocline serve` (tests/pg_wire/node.rs):
// parameters, transactions and errors. Connects through the PG* environment
// variables; prints "ok node" when every check passed.
'use strict';

const assert = require('node:assert/strict');
const { Client } = require('pg');

async function expectError(client, text, values, code, message) {
  try {
    await client.query(text, values);
  } catch (e) {
    assert.equal(e.code, code, `SQLSTATE of ${text}: ${e.message}`);
    assert.ok(e.message.includes(message), `${text}: "${e.message}" lacks "${message}"`);
    return e;
  }
  assert.fail(`${text} did not fail`);
}

async function main() {
  const client = new Client();
  await client.connect();
  const other = new Client();
  await other.connect();
  try {
    await client.query(
      'CREATE TABLE orders (id bigint PRIMARY KEY, customer text NOT NULL, total numeric(10,2), paid boolean, placed timestamptz, note jsonb)');

    // Parameters: node-postgres sends them all as text, untyped.
    const placed = new Date(Date.UTC(2024, 1, 29, 12, 30, 0));
    let r = await client.query('INSERT INTO orders VALUES ($1, $2, $3, $4, $5, $6)',
      [1, 'ada', '19.99', true, placed, { items: [1, 2] }]);
    assert.equal(r.rowCount, 1);
    assert.equal(r.command, 'INSERT');
    await client.query('INSERT INTO orders VALUES ($1, $2, $3, $4, $5, $6)', [2, 'bob', null, false, null, null]);
    r = await client.query('SELECT id, customer, total, paid, placed, note FROM orders WHERE id = $1', [1]);
    assert.equal(r.rows.length, 1);
    const row = r.rows[0];
    assert.equal(row.id, '1', 'int8 comes back as a string in node-postgres');
    assert.equal(row.customer, 'ada');
    assert.equal(row.total, '19.99');
    assert.equal(row.paid, true);
    assert.equal(row.placed.getTime(), placed.getTime());
    assert.deepEqual(typeof row.note === 'string' ? JSON.parse(row.note) : row.note, { items: [1, 2] });
    r = await client.query('SELECT id FROM orders WHERE total IS NULL AND paid = $1', [false]);
    assert.deepEqual(r.rows, [{ id: '2' }]);
    r = await client.query('SELECT $1::int AS n, $2 || \'!\' AS s', [41, 'hi']);
    assert.deepEqual(r.rows, [{ n: 41, s: 'hi!' }]);
    // Named (prepared) statements, run twice.
    for (const id of [1, 2]) {
      r = await client.query({ name: 'by-id', text: 'SELECT customer FROM orders WHERE id = $1', values: [id] });
      assert.equal(r.rows[0].customer, id === 1 ? 'ada' : 'bob');
    }
    // Array row mode and field metadata.
    r = await client.query({ text: 'SELECT id, customer FROM orders ORDER BY id', rowMode: 'array' });
    assert.deepEqual(r.rows, [['1', 'ada'], ['2', 'bob']]);
    assert.deepEqual(r.fields.map((f) => [f.name, f.dataTypeID]), [['id', 20], ['customer', 25]]);

    // Transactions.
    await client.query('BEGIN');
    await client.query('INSERT INTO orders (id, customer) VALUES ($1, $2)', [3, 'cy']);
    r = await other.query('SELECT count(*) AS n FROM orders');
    assert.equal(r.rows[0].n, '2', 'an uncommitted row is invisible to another connection');
    await client.query('COMMIT');
    r = await other.query('SELECT count(*) AS n FROM orders');
    assert.equal(r.rows[0].n, '3');
    await client.query('BEGIN');
    await client.query('DELETE FROM orders WHERE id = $1', [3]);
    await client.query('ROLLBACK');
    r = await client.query('SELECT count(*) AS n FROM orders');
    assert.equal(r.rows[0].n, '3', 'rolled back delete');
    await client.query('BEGIN');
    await client.query('INSERT INTO orders (id, customer) VALUES (4, \'dee\')');
    await expectError(client, 'INSERT INTO orders (id, customer) VALUES ($1, $2)', [1, 'dup'], '23505', 'duplicate key');
    await expectError(client, 'SELECT 1', [], '25P02', 'current transaction is aborted');
    await client.query('ROLLBACK');
    r = await client.query('SELECT count(*) AS n FROM orders WHERE id = 4');
    assert.equal(r.rows[0].n, '0', 'the failed transaction left nothing');

    // Errors.
    await expectError(client, 'SELECT * FROM nowhere', [], '42P01', 'relation "nowhere" does not exist');
    await expectError(client, 'SELEC 1', [], '42601', 'syntax error');
    await expectError(client, 'INSERT INTO orders (id, customer) VALUES ($1, $2)', ['x1', 'e'], '22P02', 'invalid input');
    await expectError(client, 'INSERT INTO orders (id) VALUES ($1)', [9], '23502', 'not-null');
    r = await client.query('SELECT customer FROM orders WHERE id = 1');
    assert.deepEqual(r.rows, [{ customer: 'ada' }], 'usable after the errors');
  } finally {
    await client.end();
    await other.end();
  }
  console.log('ok node');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
