import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureType } from '../src/errors';
import { applyMigrations, type RunnableMigration } from '../src/migrations/runner';
import { connectTo, createTestDatabase, type TestDatabase } from './helpers/pg';
import { failureType, isRetryable, migration, runOptions } from './fixtures/migrations/factory';

const REPO_ROOT = path.resolve(__dirname, '..');
const databases: TestDatabase[] = [];
const children: ChildProcess[] = [];

after(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  }
  for (const db of databases) await db.drop();
});

async function freshDatabase(purpose: string): Promise<TestDatabase> {
  const db = await createTestDatabase(purpose);
  databases.push(db);
  return db;
}

async function ledger(db: TestDatabase): Promise<Array<{ id: string; state: string; checksum: string }>> {
  return db.query(`SELECT id, state, checksum FROM public.deploy_schema_migrations ORDER BY id`);
}

async function tableExists(db: TestDatabase, table: string): Promise<boolean> {
  const rows = await db.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [table]);
  return rows[0]!.present;
}

/** Waits until a backend of the test database is running a statement containing `fragment`; returns its pid. */
async function waitForRunningStatement(db: TestDatabase, fragment: string): Promise<number> {
  for (let i = 0; i < 600; i++) {
    const rows = await db.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND position($1 in query) > 0`,
      [fragment],
    );
    if (rows[0]) return rows[0].pid;
    await sleep(100);
  }
  throw new Error(`no backend of ${db.name} ran a statement containing ${fragment} within 60 s`);
}

/** A migration that stalls in pg_sleep(30) while test_control.stall is true, after creating a table and a row. */
function stallingMigration(id: string, table: string): RunnableMigration {
  return migration(
    id,
    `CREATE TABLE ${table} (id int PRIMARY KEY, note text);\n` +
      `INSERT INTO ${table} VALUES (1, 'created once');\n` +
      `SELECT pg_sleep(30) FROM test_control WHERE stall;`,
  );
}

async function createStallControl(db: TestDatabase): Promise<void> {
  await db.query(`CREATE TABLE test_control (stall boolean NOT NULL); INSERT INTO test_control VALUES (true)`);
}

test('(a) a runner killed with SIGKILL mid-migration leaves no ledger row; the rerun applies it once', { timeout: 180_000 }, async () => {
  const db = await freshDatabase('crash_kill');
  await createStallControl(db);
  const m = stallingMigration('001_create_kill_items.sql', 'kill_items');

  const child = spawn('npx', ['tsx', path.join('test', 'fixtures', 'migrations', 'run-migrations.ts')], {
    cwd: REPO_ROOT,
    detached: true, // own process group: npx, tsx and node die together
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MIGRATION_RUN_CONFIG: JSON.stringify({ databaseUrl: db.url, migrations: [m], workflowId: 'deploy-kill-staging' }) },
  });
  children.push(child);
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));

  await waitForRunningStatement(db, 'pg_sleep(30)');
  process.kill(-child.pid!, 'SIGKILL');
  assert.equal(await exited, 'SIGKILL');

  assert.deepEqual(await ledger(db), [], 'a killed transactional migration must leave no ledger row');
  assert.equal(await tableExists(db, 'kill_items'), false, 'its table must not exist: the transaction never committed');

  await db.query(`UPDATE test_control SET stall = false`);
  // The orphaned backend may hold the migration lock until the server notices the client is gone.
  const result = await applyMigrations(runOptions(db.url, [m], { advisoryLockWaitMs: 60_000 }));
  assert.deepEqual(result.applied.map((a) => a.id), [m.id]);
  assert.deepEqual(await ledger(db), [{ id: m.id, state: 'applied', checksum: m.checksum }]);
  assert.deepEqual(await db.query(`SELECT id, note FROM kill_items`), [{ id: 1, note: 'created once' }]);
});

test('(b) a migration backend terminated mid-run surfaces as retryable; the rerun applies it once', { timeout: 120_000 }, async () => {
  const db = await freshDatabase('crash_terminate');
  await createStallControl(db);
  const m = stallingMigration('001_create_terminated_items.sql', 'terminated_items');

  const run = applyMigrations(runOptions(db.url, [m]));
  const outcome = run.then(
    () => null,
    (err: unknown) => err,
  );
  const pid = await waitForRunningStatement(db, 'pg_sleep(30)');
  await db.query(`SELECT pg_terminate_backend($1)`, [pid]);
  const err = await outcome;

  assert.ok(err instanceof Error, 'the run must fail when its backend is terminated');
  assert.equal(isRetryable(err), true, `expected a retryable error, got ${String(err)}`);
  assert.equal(err.name, 'MigrationInterrupted');
  assert.match(err.message, /001_create_terminated_items\.sql/);
  assert.deepEqual(await ledger(db), []);
  assert.equal(await tableExists(db, 'terminated_items'), false);

  await db.query(`UPDATE test_control SET stall = false`);
  const result = await applyMigrations(runOptions(db.url, [m]));
  assert.deepEqual(result.applied.map((a) => a.id), [m.id]);
  assert.deepEqual(await ledger(db), [{ id: m.id, state: 'applied', checksum: m.checksum }]);
  assert.deepEqual(await db.query(`SELECT id FROM terminated_items`), [{ id: 1 }]);
});

test('(c) an INVALID index left by a failed CREATE INDEX CONCURRENTLY is dropped and rebuilt valid on rerun', { timeout: 120_000 }, async () => {
  const db = await freshDatabase('crash_invalid_index');
  const createTable = migration('001_create_subscribers.sql', `CREATE TABLE subscribers (id int PRIMARY KEY, email text NOT NULL);`);
  const buildIndex = migration(
    '002_unique_subscriber_email.sql',
    `CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS subscribers_email_key ON subscribers (email);`,
    { transactional: false },
  );
  await applyMigrations(runOptions(db.url, [createTable], {}));
  await db.query(`INSERT INTO subscribers VALUES (1, 'a@example.test'), (2, 'a@example.test')`);

  const failed = await applyMigrations(runOptions(db.url, [createTable, buildIndex])).then(
    () => null,
    (err: unknown) => err,
  );
  assert.ok(failed instanceof Error, 'building a unique index over duplicates must fail');
  assert.equal(failureType(failed), FailureType.MigrationFailed);
  assert.match(failed.message, /002_unique_subscriber_email\.sql/);
  const indexState = () =>
    db.query<{ valid: boolean }>(
      `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'subscribers_email_key'`,
    );
  assert.deepEqual(await indexState(), [{ valid: false }], 'the failed build leaves an INVALID index behind');
  assert.equal((await ledger(db)).find((r) => r.id === buildIndex.id)?.state, 'started');

  await db.query(`DELETE FROM subscribers WHERE id = 2`);
  const progress: string[] = [];
  const result = await applyMigrations(runOptions(db.url, [createTable, buildIndex], { onProgress: (p) => progress.push(p) }));

  assert.deepEqual(result.applied.map((a) => a.id), [buildIndex.id]);
  assert.deepEqual(result.alreadyApplied, [createTable.id]);
  assert.ok(progress.some((p) => /dropping INVALID index public\.subscribers_email_key/.test(p)), progress.join('\n'));
  assert.deepEqual(await indexState(), [{ valid: true }], 'the rerun builds the index valid');
  assert.equal((await ledger(db)).find((r) => r.id === buildIndex.id)?.state, 'applied');
});

test('(c2) the *_ccnew index left by a cancelled REINDEX CONCURRENTLY is dropped on rerun, which then completes', { timeout: 120_000 }, async () => {
  const db = await freshDatabase('crash_reindex_ccnew');
  const createTable = migration(
    '001_create_subscribers.sql',
    `CREATE TABLE subscribers (id int PRIMARY KEY, email text NOT NULL);\nCREATE INDEX subscribers_email_idx ON subscribers (email);\nCREATE TABLE other (id int);\nCREATE INDEX other_id_idx ON other (id);`,
  );
  const reindex = migration('002_reindex_subscribers_email.sql', `REINDEX INDEX CONCURRENTLY subscribers_email_idx;`, { transactional: false });
  await applyMigrations(runOptions(db.url, [createTable]));
  await db.query(`INSERT INTO subscribers SELECT g, 'user' || g || '@example.test' FROM generate_series(1, 1000) g`);

  const indexes = () =>
    db.query<{ name: string; valid: boolean }>(
      `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relname LIKE 'subscribers_email%' OR c.relname LIKE 'other_id%' ORDER BY 1`,
    );

  // A writer's open transaction makes REINDEX CONCURRENTLY wait after it has created subscribers_email_idx_ccnew.
  const writer = await connectTo(db.url);
  await writer.query(`BEGIN; INSERT INTO subscribers VALUES (0, 'writer@example.test')`);
  // A leftover of another index, on another table, must be left alone: a failed unique build leaves it INVALID.
  await db.query(`INSERT INTO other VALUES (1), (1)`);
  await assert.rejects(db.query(`CREATE UNIQUE INDEX CONCURRENTLY other_id_idx_ccnew ON other (id)`), /could not create unique index/);
  const run = applyMigrations(runOptions(db.url, [createTable, reindex], { lockTimeoutMs: 60_000 })).then(
    () => null,
    (err: unknown) => err,
  );
  const pid = await waitForRunningStatement(db, 'REINDEX INDEX CONCURRENTLY');
  for (let i = 0; i < 600 && !(await indexes()).some((x) => x.name === 'subscribers_email_idx_ccnew'); i++) await sleep(100);
  await db.query(`SELECT pg_cancel_backend($1)`, [pid]);
  const failed = await run;
  await writer.query('ROLLBACK');
  await writer.end();

  assert.ok(failed instanceof Error, 'the cancelled REINDEX must fail the run');
  assert.match(failed.message, /002_reindex_subscribers_email\.sql/);
  assert.deepEqual(await indexes(), [
    { name: 'other_id_idx', valid: true },
    { name: 'other_id_idx_ccnew', valid: false },
    { name: 'subscribers_email_idx', valid: true },
    { name: 'subscribers_email_idx_ccnew', valid: false },
  ]);
  assert.equal((await ledger(db)).find((r) => r.id === reindex.id)?.state, 'started');

  const progress: string[] = [];
  const result = await applyMigrations(runOptions(db.url, [createTable, reindex], { onProgress: (p) => progress.push(p) }));
  assert.deepEqual(result.applied.map((a) => a.id), [reindex.id]);
  assert.ok(
    progress.some((p) => /dropping INVALID index public\.subscribers_email_idx_ccnew left by an interrupted REINDEX CONCURRENTLY/.test(p)),
    progress.join('\n'),
  );
  assert.deepEqual(await indexes(), [
    { name: 'other_id_idx', valid: true },
    { name: 'other_id_idx_ccnew', valid: false },
    { name: 'subscribers_email_idx', valid: true },
  ]);
  assert.equal((await ledger(db)).find((r) => r.id === reindex.id)?.state, 'applied');
});

test('(d) an applied migration whose file changed is refused, naming the file, and nothing runs', { timeout: 60_000 }, async () => {
  const db = await freshDatabase('crash_tampered');
  const original = migration('001_create_accounts.sql', `CREATE TABLE accounts (id int PRIMARY KEY);`);
  await applyMigrations(runOptions(db.url, [original]));

  const tampered = migration('001_create_accounts.sql', `CREATE TABLE accounts (id int PRIMARY KEY, name text);`);
  const next = migration('002_create_invoices.sql', `CREATE TABLE invoices (id int PRIMARY KEY);`);
  const err = await applyMigrations(runOptions(db.url, [tampered, next])).then(
    () => null,
    (e: unknown) => e,
  );

  assert.ok(err instanceof Error);
  assert.equal(failureType(err), FailureType.MigrationRefused);
  assert.equal(isRetryable(err), false);
  assert.match(err.message, /migration 001_create_accounts\.sql: it was applied with checksum/);
  assert.equal(await tableExists(db, 'invoices'), false, 'no migration may run after a refusal');
  assert.deepEqual(await ledger(db), [{ id: original.id, state: 'applied', checksum: original.checksum }]);
});

test('(e) a pending migration that sorts before an applied one is refused, naming both', { timeout: 60_000 }, async () => {
  const db = await freshDatabase('crash_out_of_order');
  const first = migration('001_create_orders.sql', `CREATE TABLE orders (id int PRIMARY KEY);`);
  const third = migration('003_create_refunds.sql', `CREATE TABLE refunds (id int PRIMARY KEY);`);
  await applyMigrations(runOptions(db.url, [first, third]));

  const inserted = migration('002_create_payments.sql', `CREATE TABLE payments (id int PRIMARY KEY);`);
  const err = await applyMigrations(runOptions(db.url, [first, inserted, third])).then(
    () => null,
    (e: unknown) => e,
  );

  assert.ok(err instanceof Error);
  assert.equal(failureType(err), FailureType.MigrationRefused);
  assert.match(err.message, /002_create_payments\.sql \(expand\) is pending but sorts before 003_create_refunds\.sql/);
  assert.equal(await tableExists(db, 'payments'), false);
  assert.deepEqual((await ledger(db)).map((r) => r.id), [first.id, third.id]);
});

test('(f) two runners at once are serialised by the advisory lock; each migration is applied once', { timeout: 60_000 }, async () => {
  const db = await freshDatabase('crash_two_runners');
  // Neither file is idempotent: running either twice would fail, so two successes prove serialisation.
  const migrations = [
    migration('001_create_widgets.sql', `CREATE TABLE widgets (id int PRIMARY KEY);\nINSERT INTO widgets VALUES (1);\nSELECT pg_sleep(0.5);`),
    migration('002_add_second_widget.sql', `INSERT INTO widgets VALUES (2);\nSELECT pg_sleep(0.5);`),
  ];
  const progress: string[][] = [[], []];
  const [a, b] = await Promise.all(
    [0, 1].map((i) =>
      applyMigrations(runOptions(db.url, migrations, { workflowId: `runner-${i}`, onProgress: (p) => progress[i]!.push(p) })),
    ),
  );

  const ids = migrations.map((m) => m.id);
  const [first, second] = a!.applied.length > 0 ? [a!, b!] : [b!, a!];
  assert.deepEqual(first.applied.map((m) => m.id), ids, 'the runner that got the lock first applies both');
  assert.deepEqual(second.applied, [], 'the other finds nothing left to do');
  assert.deepEqual(second.alreadyApplied, ids);
  assert.ok(
    progress.flat().some((p) => p.startsWith('waiting for the migration lock')),
    'one runner must have waited for the other',
  );
  assert.deepEqual(await db.query(`SELECT id FROM widgets ORDER BY id`), [{ id: 1 }, { id: 2 }]);
  assert.equal((await ledger(db)).length, 2);
});

test('(g) lock_timeout is honoured: a migration blocked by ACCESS EXCLUSIVE fails after retries, naming itself and the lock', { timeout: 60_000 }, async () => {
  const db = await freshDatabase('crash_lock_timeout');
  const create = migration('001_create_shipments.sql', `CREATE TABLE shipments (id int PRIMARY KEY);`);
  await applyMigrations(runOptions(db.url, [create]));

  const holder = await connectTo(db.url);
  try {
    const holderPid = (await holder.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`)).rows[0]!.pid;
    await holder.query(`BEGIN; LOCK TABLE shipments IN ACCESS EXCLUSIVE MODE`);
    const alter = migration('002_add_shipment_carrier.sql', `ALTER TABLE shipments ADD COLUMN carrier text;`);
    const progress: string[] = [];
    const err = await applyMigrations(
      runOptions(db.url, [create, alter], { lockTimeoutMs: 400, lockAttempts: 3, onProgress: (p) => progress.push(p) }),
    ).then(
      () => null,
      (e: unknown) => e,
    );

    assert.ok(err instanceof Error, 'the blocked migration must fail');
    assert.equal(isRetryable(err), true);
    assert.equal(err.name, 'MigrationLockTimeout');
    assert.match(err.message, /migration 002_add_shipment_carrier\.sql: could not get a lock within lock_timeout \(400 ms\) in 3 attempt/);
    assert.match(err.message, /AccessExclusiveLock on relation public\.shipments held by pid (\d+)/);
    assert.equal(Number(/held by pid (\d+)/.exec(err.message)![1]), holderPid);
    assert.equal(progress.filter((p) => /attempt \d of 3/.test(p)).length, 2, progress.join('\n'));
  } finally {
    await holder.query('ROLLBACK').catch(() => undefined);
    await holder.end();
  }
  assert.deepEqual((await ledger(db)).map((r) => r.id), [create.id], 'the ledger is unchanged');
  const columns = await db.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'shipments' AND column_name = 'carrier'`);
  assert.equal(columns.length, 0);
});
