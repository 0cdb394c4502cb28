import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { lintMigrationSource } from '../src/migrations/lint';
import { isNonTransactional, splitStatements } from '../src/migrations/sql';

/** The linter's claims checked against a real PostgreSQL: what splits, what needs no transaction, what rewrites. */
const ADMIN_URL = process.env.LINT_TEST_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `t_lint_pg_${randomBytes(4).toString('hex')}`;
let admin: Client;
let db: Client;

before(async () => {
  admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  db = new Client({ connectionString: url.toString() });
  await db.connect();
});

after(async () => {
  await db?.end();
  await admin?.query(`DROP DATABASE IF EXISTS ${dbName}`);
  await admin?.end();
});

describe('against a real PostgreSQL', () => {
  test('a tricky file split into statements runs statement by statement, each piece valid SQL', async () => {
    const sql = [
      '-- phase: expand',
      'CREATE TABLE "drop table" (id int, note text); -- a trailing ; comment',
      "INSERT INTO \"drop table\" VALUES (1, 'a;''b'), (2, E'c\\';d'), (3, $q$ e; $$ f $q$);",
      '/* outer /* nested ; */ still comment ; */',
      'CREATE FUNCTION count_rows() RETURNS bigint LANGUAGE plpgsql AS $fn$',
      'BEGIN',
      '  RETURN (SELECT count(*) FROM "drop table"); -- ; inside',
      'END',
      '$fn$;',
      'CREATE FUNCTION sign_of(a int) RETURNS int LANGUAGE sql',
      'BEGIN ATOMIC',
      '  SELECT CASE WHEN a > 0 THEN 1 WHEN a < 0 THEN -1 ELSE 0 END;',
      'END;',
      'INSERT INTO "drop table" VALUES (4, sign_of(-5)::text)',
    ].join('\n');
    const statements = splitStatements(sql);
    assert.equal(statements.length, 5);
    for (const s of statements) await db.query(s.text);
    const rows = await db.query('SELECT id, note FROM "drop table" ORDER BY id');
    assert.deepEqual(
      rows.rows.map((r) => r.note),
      ["a;'b", "c';d", ' e; $$ f ', '-1'],
    );
    const count = await db.query('SELECT count_rows() AS n');
    assert.equal(Number(count.rows[0].n), 4);
    assert.deepEqual(lintMigrationSource('001_tricky.sql', sql).findings, []);
  });

  test('isNonTransactional is true exactly for the statements PostgreSQL refuses inside a transaction block', async () => {
    await db.query('CREATE TABLE nt (a int); CREATE INDEX nt_a_idx ON nt (a)');
    const cases = [
      'CREATE INDEX CONCURRENTLY nt_a2_idx ON nt (a)',
      'CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS nt_a3_idx ON nt (a)',
      'DROP INDEX CONCURRENTLY IF EXISTS nt_a_idx',
      'REINDEX INDEX CONCURRENTLY nt_a_idx',
      'VACUUM nt',
      'VACUUM (ANALYZE) nt',
      'CREATE INDEX nt_a4_idx ON nt (a)',
      'DROP INDEX IF EXISTS nt_a4_idx',
      'REINDEX INDEX nt_a_idx',
      'ANALYZE nt',
      'ALTER TABLE nt ADD COLUMN "concurrently" int',
    ];
    for (const sql of cases) {
      let refused = false;
      await db.query('BEGIN');
      try {
        await db.query(sql);
      } catch (err) {
        assert.equal((err as { code?: string }).code, '25001', `${sql}: ${(err as Error).message}`);
        refused = true;
      } finally {
        await db.query('ROLLBACK');
      }
      assert.equal(isNonTransactional(sql), refused, sql);
    }
  });

  test('volatile-default flags an ADD COLUMN exactly when PostgreSQL rewrites the table', async () => {
    await db.query('CREATE TABLE rw (id int); INSERT INTO rw SELECT generate_series(1, 100)');
    const columns = [
      'c1 timestamptz DEFAULT now()',
      'c2 timestamptz DEFAULT CURRENT_TIMESTAMP',
      'c3 timestamptz DEFAULT statement_timestamp()',
      "c4 text DEFAULT 'en'",
      "c5 numeric DEFAULT '0'::numeric(10, 2)",
      "c6 jsonb DEFAULT '{}'",
      "c7 text DEFAULT lower('X')",
      'c8 uuid DEFAULT gen_random_uuid()',
      'c9 timestamptz DEFAULT clock_timestamp()',
      'c10 float8 DEFAULT random()',
      'c11 bigserial',
      'c12 bigint GENERATED ALWAYS AS IDENTITY',
      'c13 int GENERATED ALWAYS AS (id * 2) STORED',
    ];
    for (const column of columns) {
      const sql = `ALTER TABLE rw ADD COLUMN ${column}`;
      const before = await db.query(`SELECT pg_relation_filenode('rw') AS node`);
      await db.query(sql);
      const after = await db.query(`SELECT pg_relation_filenode('rw') AS node`);
      const rewritten = before.rows[0].node !== after.rows[0].node;
      const flagged = lintMigrationSource('002_rw.sql', `-- phase: expand\n${sql};\n`).findings.some((f) => f.rule === 'volatile-default');
      assert.equal(flagged, rewritten, `${column}: rewritten=${rewritten}, flagged=${flagged}`);
    }
  });
});
