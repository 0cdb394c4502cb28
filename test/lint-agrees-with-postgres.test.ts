import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from 'pg';
import { lintMigrationSet, lintMigrationSource } from '../src/migrations/lint';
import { isNonTransactional, splitStatements } from '../src/migrations/sql';

/** The linter's claims checked against a real PostgreSQL: what splits, what needs no transaction, what rewrites. */
const ADMIN_URL = process.env.LINT_TEST_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const dbName = `t_lint_pg_${randomBytes(4).toString('hex')}`;
let admin: Client;
let db: Client;
let dbUrl: string;

before(async () => {
  admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${dbName}`;
  dbUrl = url.toString();
  db = new Client({ connectionString: dbUrl });
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

/** Rules the linter reports on the last of these migration bodies (each an expand file unless `phase` says otherwise). */
function flaggedRules(bodies: string[], phase: 'expand' | 'contract' = 'expand'): string[] {
  const files = bodies.map((body, i) => ({
    file: `${String(i + 1).padStart(3, '0')}_m.sql`,
    text: `-- phase: ${i === bodies.length - 1 ? phase : 'expand'}\n${body}\n`,
  }));
  return [...new Set(lintMigrationSet(files).at(-1)!.findings.map((f) => f.rule))].sort();
}

interface Observed {
  /** Relation name → lock modes the session holds after the statement. */
  locks: Record<string, string[]>;
  /** Tables whose storage was rewritten (filenode changed). */
  rewritten: string[];
  /** Tables read in full (seq_scan rose). */
  scanned: string[];
}

/** Runs `sql` in a transaction that is rolled back, and reports what it locked, rewrote and scanned among `tables`. */
async function observe(sql: string, tables: string[]): Promise<Observed> {
  const state = async () => {
    const res = await db.query<{ relname: string; node: string; scans: string }>(
      `SELECT c.relname, pg_relation_filenode(c.oid)::text AS node, coalesce(s.seq_scan, 0)::text AS scans
         FROM pg_class c LEFT JOIN pg_stat_xact_user_tables s ON s.relid = c.oid
        WHERE c.relname = ANY($1)`,
      [tables],
    );
    return new Map(res.rows.map((r) => [r.relname, r]));
  };
  await db.query('BEGIN');
  try {
    const before = await state();
    await db.query(sql);
    const after = await state();
    const locks = await db.query<{ relname: string; mode: string }>(
      `SELECT c.relname, l.mode FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
        WHERE l.pid = pg_backend_pid() AND c.relnamespace = 'public'::regnamespace ORDER BY 1, 2`,
    );
    const byRelation: Record<string, string[]> = {};
    for (const l of locks.rows) (byRelation[l.relname] ??= []).push(l.mode);
    return {
      locks: byRelation,
      rewritten: tables.filter((t) => before.get(t)?.node !== after.get(t)?.node),
      scanned: tables.filter((t) => Number(after.get(t)?.scans) > Number(before.get(t)?.scans)),
    };
  } finally {
    await db.query('ROLLBACK');
  }
}

/**
 * For a statement that cannot run in a transaction: holds `holderMode` on `table` in another session, starts
 * the statement, and returns the lock mode it waits for on `table`; then lets it finish.
 */
async function waitedLock(sql: string, table: string, holderMode: string): Promise<string> {
  const holder = new Client({ connectionString: dbUrl });
  const runner = new Client({ connectionString: dbUrl });
  await holder.connect();
  await runner.connect();
  try {
    await holder.query('BEGIN');
    await holder.query(`LOCK TABLE ${table} IN ${holderMode} MODE`);
    const pid = (await runner.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const running = runner.query(sql).then(
      () => null,
      (err: unknown) => err,
    );
    let mode: string | undefined;
    for (let i = 0; i < 600 && !mode; i++) {
      const res = await db.query<{ mode: string }>(
        `SELECT l.mode FROM pg_locks l WHERE l.pid = $1 AND NOT l.granted AND l.relation = $2::regclass`,
        [pid, table],
      );
      mode = res.rows[0]?.mode;
      if (!mode) await new Promise((r) => setTimeout(r, 100));
    }
    await holder.query('COMMIT');
    const err = await running;
    assert.equal(err, null, `${sql}: ${String(err)}`);
    assert.ok(mode, `${sql} never waited for a lock on ${table}`);
    return mode;
  } finally {
    await holder.end();
    await runner.end();
  }
}

describe('the locking rules agree with what PostgreSQL 15 locks, rewrites and scans', () => {
  before(async () => {
    await db.query(`
      CREATE EXTENSION IF NOT EXISTS btree_gist;
      CREATE EXTENSION IF NOT EXISTS citext;
      CREATE TABLE lk (id int, v text, n int);
      INSERT INTO lk SELECT g, g::text, g FROM generate_series(1, 500) g;
      CREATE INDEX lk_v_idx ON lk (v);
      CREATE TABLE parts (id int, k int) PARTITION BY RANGE (k);
      CREATE TABLE parts_1 PARTITION OF parts FOR VALUES FROM (0) TO (10);
      CREATE TABLE parts_2 PARTITION OF parts FOR VALUES FROM (10) TO (20);
      CREATE DOMAIN positive AS int;
      CREATE TABLE dom_a (id int, p positive);
      CREATE TABLE dom_b (q positive);
      INSERT INTO dom_a SELECT g, g FROM generate_series(1, 100) g;
      ALTER DOMAIN positive ADD CONSTRAINT positive_check_nv CHECK (VALUE > 0) NOT VALID;
    `);
  });

  test('REINDEX holds SHARE on the table and ACCESS EXCLUSIVE on the index; CONCURRENTLY only SHARE UPDATE EXCLUSIVE', async () => {
    const index = await observe('REINDEX INDEX lk_v_idx', ['lk']);
    assert.deepEqual(index.locks.lk, ['ShareLock']);
    assert.ok(index.locks.lk_v_idx?.includes('AccessExclusiveLock'), JSON.stringify(index.locks));
    assert.deepEqual(flaggedRules(['REINDEX INDEX lk_v_idx;']), ['reindex-without-concurrently']);
    const table = await observe('REINDEX TABLE lk', ['lk']);
    assert.deepEqual(table.locks.lk, ['ShareLock']);
    assert.deepEqual(flaggedRules(['REINDEX TABLE lk;'], 'contract'), ['reindex-without-concurrently']);

    assert.equal(await waitedLock('REINDEX INDEX CONCURRENTLY lk_v_idx', 'lk', 'SHARE UPDATE EXCLUSIVE'), 'ShareUpdateExclusiveLock');
    assert.deepEqual(flaggedRules(['REINDEX INDEX CONCURRENTLY lk_v_idx;']), []);
  });

  test('VACUUM FULL and CLUSTER take ACCESS EXCLUSIVE and rewrite; plain VACUUM takes SHARE UPDATE EXCLUSIVE', async () => {
    assert.equal(await waitedLock('VACUUM FULL lk', 'lk', 'ACCESS SHARE'), 'AccessExclusiveLock');
    assert.equal(await waitedLock('VACUUM (FULL) lk', 'lk', 'ACCESS SHARE'), 'AccessExclusiveLock');
    assert.equal(await waitedLock('VACUUM lk', 'lk', 'SHARE UPDATE EXCLUSIVE'), 'ShareUpdateExclusiveLock');
    const before = (await db.query(`SELECT pg_relation_filenode('lk')::text AS n`)).rows[0].n;
    await db.query('VACUUM FULL lk');
    assert.notEqual((await db.query(`SELECT pg_relation_filenode('lk')::text AS n`)).rows[0].n, before, 'VACUUM FULL rewrites');
    const cluster = await observe('CLUSTER lk USING lk_v_idx', ['lk']);
    assert.ok(cluster.locks.lk?.includes('AccessExclusiveLock'));
    assert.deepEqual(cluster.rewritten, ['lk']);
    assert.deepEqual(flaggedRules(['VACUUM FULL lk;']), ['vacuum-full-or-cluster']);
    assert.deepEqual(flaggedRules(['VACUUM (FULL) lk;'], 'contract'), ['vacuum-full-or-cluster']);
    assert.deepEqual(flaggedRules(['CLUSTER lk USING lk_v_idx;']), ['vacuum-full-or-cluster']);
    assert.deepEqual(flaggedRules(['VACUUM (ANALYZE) lk;']), []);
  });

  test('DETACH PARTITION holds ACCESS EXCLUSIVE on parent and partition; CONCURRENTLY waits for SHARE UPDATE EXCLUSIVE', async () => {
    const detach = await observe('ALTER TABLE parts DETACH PARTITION parts_1', ['parts']);
    assert.ok(detach.locks.parts?.includes('AccessExclusiveLock'), JSON.stringify(detach.locks));
    assert.ok(detach.locks.parts_1?.includes('AccessExclusiveLock'), JSON.stringify(detach.locks));
    assert.deepEqual(flaggedRules(['ALTER TABLE parts DETACH PARTITION parts_1;']), ['detach-partition-without-concurrently']);
    assert.equal(await waitedLock('ALTER TABLE parts DETACH PARTITION parts_2 CONCURRENTLY', 'parts', 'SHARE UPDATE EXCLUSIVE'), 'ShareUpdateExclusiveLock');
    assert.deepEqual(flaggedRules(['ALTER TABLE parts DETACH PARTITION parts_2 CONCURRENTLY;']), []);
  });

  test('ADD ... EXCLUDE holds ACCESS EXCLUSIVE and cannot be NOT VALID', async () => {
    const sql = 'ALTER TABLE lk ADD CONSTRAINT lk_n_excl EXCLUDE USING gist (n WITH =)';
    const excl = await observe(sql, ['lk']);
    assert.ok(excl.locks.lk?.includes('AccessExclusiveLock'), JSON.stringify(excl.locks));
    await assert.rejects(observe(`${sql} NOT VALID`, ['lk']), /EXCLUDE constraints cannot be marked NOT VALID/);
    assert.deepEqual(flaggedRules([`${sql};`]), ['exclusion-constraint']);
  });

  test('ALTER DOMAIN ADD CONSTRAINT, SET NOT NULL and VALIDATE hold SHARE on every table using the domain; NOT VALID locks none', async () => {
    const cases: Array<[string, boolean]> = [
      ['ALTER DOMAIN positive ADD CONSTRAINT positive_check CHECK (VALUE > 0)', true],
      ['ALTER DOMAIN positive ADD CONSTRAINT positive_check CHECK (VALUE > 0) NOT VALID', false],
      ['ALTER DOMAIN positive VALIDATE CONSTRAINT positive_check_nv', true],
      ['ALTER DOMAIN positive SET NOT NULL', true],
    ];
    for (const [sql, blocksWrites] of cases) {
      const seen = await observe(sql, ['dom_a', 'dom_b']);
      const shared = ['dom_a', 'dom_b'].filter((t) => seen.locks[t]?.includes('ShareLock'));
      assert.deepEqual(shared, blocksWrites ? ['dom_a', 'dom_b'] : [], `${sql}: ${JSON.stringify(seen.locks)}`);
      assert.deepEqual(flaggedRules([`${sql};`]), blocksWrites ? ['alter-domain-constraint'] : [], sql);
    }
  });

  test('VALIDATE CONSTRAINT alone takes SHARE UPDATE EXCLUSIVE; in one ALTER TABLE with DROP COLUMN, ACCESS EXCLUSIVE', async () => {
    await db.query('ALTER TABLE lk ADD COLUMN spare int, ADD CONSTRAINT lk_n_positive CHECK (n > 0) NOT VALID');
    const alone = await observe('ALTER TABLE lk VALIDATE CONSTRAINT lk_n_positive', ['lk']);
    assert.deepEqual(alone.locks.lk, ['ShareUpdateExclusiveLock']);
    assert.deepEqual(alone.scanned, ['lk']);
    const combined = await observe('ALTER TABLE lk VALIDATE CONSTRAINT lk_n_positive, DROP COLUMN spare', ['lk']);
    assert.ok(combined.locks.lk?.includes('AccessExclusiveLock'));
    assert.deepEqual(flaggedRules(['ALTER TABLE lk VALIDATE CONSTRAINT lk_n_positive;']), []);
    assert.deepEqual(flaggedRules(['ALTER TABLE lk VALIDATE CONSTRAINT lk_n_positive, DROP COLUMN spare;'], 'contract'), ['validate-in-same-migration']);
  });

  test('SET NOT NULL and PRIMARY KEY USING INDEX scan exactly when no validated CHECK (col IS NOT NULL) or NOT NULL proves it', async () => {
    const variants: Array<{ name: string; column: string; extra: string[] }> = [
      { name: 'nn_plain', column: 'c int', extra: [] },
      { name: 'nn_unvalidated', column: 'c int', extra: ['ALTER TABLE nn_unvalidated ADD CONSTRAINT nn_unvalidated_c CHECK (c IS NOT NULL) NOT VALID;'] },
      {
        name: 'nn_validated',
        column: 'c int',
        extra: ['ALTER TABLE nn_validated ADD CONSTRAINT nn_validated_c CHECK (c IS NOT NULL) NOT VALID;', 'ALTER TABLE nn_validated VALIDATE CONSTRAINT nn_validated_c;'],
      },
      { name: 'nn_declared', column: 'c int NOT NULL', extra: [] },
    ];
    for (const v of variants) {
      const create = `CREATE TABLE ${v.name} (id int, ${v.column});`;
      const index = `CREATE UNIQUE INDEX CONCURRENTLY ${v.name}_c_key ON ${v.name} (c);`;
      await db.query(create);
      await db.query(`INSERT INTO ${v.name} SELECT g, g FROM generate_series(1, 200) g`);
      await db.query(index);
      for (const e of v.extra) await db.query(e);
      const earlier = [create, index, ...v.extra];

      const setNotNull = `ALTER TABLE ${v.name} ALTER COLUMN c SET NOT NULL`;
      const scannedBySet = (await observe(setNotNull, [v.name])).scanned.length > 0;
      assert.equal(flaggedRules([...earlier, `${setNotNull};`]).includes('set-not-null'), scannedBySet, `${v.name}: SET NOT NULL scanned=${scannedBySet}`);

      const primaryKey = `ALTER TABLE ${v.name} ADD CONSTRAINT ${v.name}_pkey PRIMARY KEY USING INDEX ${v.name}_c_key`;
      const pk = await observe(primaryKey, [v.name]);
      assert.ok(pk.locks[v.name]?.includes('AccessExclusiveLock'));
      const scannedByPk = pk.scanned.length > 0;
      assert.equal(
        flaggedRules([...earlier, `${primaryKey};`]).includes('primary-key-using-nullable-index'),
        scannedByPk,
        `${v.name}: PRIMARY KEY USING INDEX scanned=${scannedByPk}`,
      );
    }
    // Only the plain and the NOT VALID variants scan.
    assert.deepEqual(flaggedRules(['CREATE TABLE x (c int);', 'ALTER TABLE x ADD CONSTRAINT x_c CHECK (c IS NOT NULL) NOT VALID;', 'ALTER TABLE x ALTER COLUMN c SET NOT NULL;']), [
      'set-not-null',
    ]);
  });

  test('alter-column-type passes a type change exactly when PostgreSQL neither rewrites nor scans the table', async () => {
    const changes: Array<{ from: string; to: string; check?: boolean; indexed?: boolean }> = [
      { from: 'varchar(20)', to: 'text' },
      { from: 'varchar(20)', to: 'varchar(40)' },
      { from: 'varchar(20)', to: 'varchar' },
      { from: 'varchar(20)', to: 'varchar(10)' },
      { from: 'character varying(20)', to: 'character varying(21)' },
      { from: 'text', to: 'varchar' },
      { from: 'text', to: 'varchar(10)' },
      { from: 'varchar(20)', to: 'text', check: true },
      { from: 'varchar(20)', to: 'text', indexed: true },
      { from: 'text', to: 'citext' },
      { from: 'text', to: 'citext', indexed: true },
      { from: 'citext', to: 'text' },
      { from: 'numeric(10,2)', to: 'numeric(12,2)' },
      { from: 'numeric(10,2)', to: 'numeric' },
      { from: 'numeric(10,2)', to: 'numeric(12,3)' },
      { from: 'numeric(10,2)', to: 'numeric(9,2)' },
      { from: 'numeric', to: 'numeric(10,2)' },
      { from: 'timestamp(3)', to: 'timestamp(6)' },
      { from: 'timestamp(3)', to: 'timestamp' },
      { from: 'timestamp', to: 'timestamp(6)' },
      { from: 'timestamp', to: 'timestamp(2)' },
      { from: 'timestamptz(0)', to: 'timestamp with time zone' },
      { from: 'time(3)', to: 'time(1)' },
      { from: 'interval(3)', to: 'interval' },
      { from: 'varbit(5)', to: 'varbit(10)' },
      { from: 'cidr', to: 'inet' },
      { from: 'inet', to: 'cidr' },
      { from: 'int', to: 'bigint' },
      { from: 'int', to: 'text' },
    ];
    const samples: Record<string, string> = { cidr: `'10.0.0.0/8'`, inet: `'10.1.2.3'`, varbit: `B'101'` };
    for (const [n, c] of changes.entries()) {
      const table = `tc_${n}`;
      const base = c.from.replace(/\(.*$/, '').split(' ')[0]!;
      const value = samples[base] ?? (/^(timestamp|time)/.test(base) ? 'now()' : base === 'interval' ? `'1 day'` : '1');
      const create = `CREATE TABLE ${table} (id int, c ${c.from}${c.check ? ` CHECK (c IS DISTINCT FROM NULL)` : ''});`;
      const earlier = [create, ...(c.indexed ? [`CREATE INDEX CONCURRENTLY ${table}_c_idx ON ${table} (c);`] : [])];
      await db.query(create);
      await db.query(`INSERT INTO ${table} SELECT g, ${value} FROM generate_series(1, 100) g`);
      if (c.indexed) await db.query(`CREATE INDEX ${table}_c_idx ON ${table} (c)`);
      const alter = `ALTER TABLE ${table} ALTER COLUMN c TYPE ${c.to}`;
      const seen = await observe(alter, [table]);
      const indexRebuilt = c.indexed ? (await observe(alter, [`${table}_c_idx`])).rewritten.length > 0 : false;
      const costly = seen.rewritten.length > 0 || seen.scanned.length > 0 || indexRebuilt;
      const flagged = flaggedRules([...earlier, `${alter};`]).includes('alter-column-type');
      assert.equal(flagged, costly, `${c.from} -> ${c.to}${c.check ? ' with a CHECK' : ''}${c.indexed ? ' indexed' : ''}: rewritten/scanned=${costly}, flagged=${flagged}`);
    }
  });

  test('dropping the default of a NOT NULL column breaks INSERTs that do not name it; renaming an enum value refuses the old one', async () => {
    const sql = "ALTER TABLE lk ADD COLUMN locale text NOT NULL DEFAULT 'en';\nALTER TABLE lk ALTER COLUMN locale DROP DEFAULT;";
    await db.query('BEGIN');
    try {
      await db.query(sql);
      await assert.rejects(db.query('INSERT INTO lk (id, v, n) VALUES (0, $1, 1)', ['x']), (err: { code?: string }) => err.code === '23502');
    } finally {
      await db.query('ROLLBACK');
    }
    assert.deepEqual(flaggedRules([sql]), ['not-null-default-dropped']);

    await db.query(`CREATE TYPE task_status AS ENUM ('new', 'done')`);
    const rename = `ALTER TYPE task_status RENAME VALUE 'done' TO 'completed'`;
    await db.query('BEGIN');
    try {
      await db.query(rename);
      await assert.rejects(db.query(`SELECT 'done'::task_status`), (err: { code?: string }) => err.code === '22P02');
    } finally {
      await db.query('ROLLBACK');
    }
    assert.deepEqual(flaggedRules([`${rename};`]), ['rename-type']);
  });
});
