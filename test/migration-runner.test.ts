import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { FailureType } from '../src/errors';
import { listAppliedContract } from '../src/migrations/compat';
import { MIGRATION_LOCK_KEY, applyMigrations, checkMigrations, parseIndexBuild, parseReindexConcurrently } from '../src/migrations/runner';
import { connectTo, createTestDatabase, type TestDatabase } from './helpers/pg';
import { failureType, isRetryable, migration, runOptions } from './fixtures/migrations/factory';

const databases: TestDatabase[] = [];
after(async () => {
  for (const db of databases) await db.drop();
});

async function freshDatabase(purpose: string): Promise<TestDatabase> {
  const db = await createTestDatabase(purpose);
  databases.push(db);
  return db;
}

async function tableExists(db: TestDatabase, table: string): Promise<boolean> {
  const rows = await db.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [table]);
  return rows[0]!.present;
}

async function advisoryLocksHeld(db: TestDatabase): Promise<number> {
  const rows = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
      WHERE l.locktype = 'advisory' AND d.datname = current_database()`,
  );
  return rows[0]!.n;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => null,
    (err: unknown) => err,
  );
  assert.ok(outcome instanceof Error, 'expected the run to fail');
  return outcome;
}

test('a multi-statement file is applied and recorded with its checksum, phase, timings and workflow id; a rerun skips it', async () => {
  const db = await freshDatabase('runner_apply');
  const m = migration('001_create_greetings.sql', `CREATE TABLE greetings (id int PRIMARY KEY, text text);\nINSERT INTO greetings VALUES (1, 'hello');`);
  const progress: string[] = [];
  const result = await applyMigrations(runOptions(db.url, [m], { workflowId: 'deploy-hello-service-staging', onProgress: (p) => progress.push(p) }));

  assert.deepEqual(result.applied.map(({ id, phase, checksum, transactional }) => ({ id, phase, checksum, transactional })), [
    { id: m.id, phase: 'expand', checksum: m.checksum, transactional: true },
  ]);
  assert.deepEqual(result.alreadyApplied, []);
  assert.deepEqual(progress, [`migration ${m.id} (expand, transactional): applying`, `migration ${m.id}: applied in ${result.applied[0]!.durationMs} ms`]);
  const rows = await db.query<Record<string, unknown>>(
    `SELECT id, checksum, phase, state, workflow_id, duration_ms >= 0 AS has_duration, finished_at >= started_at AS ordered
       FROM public.deploy_schema_migrations`,
  );
  assert.deepEqual(rows, [
    { id: m.id, checksum: m.checksum, phase: 'expand', state: 'applied', workflow_id: 'deploy-hello-service-staging', has_duration: true, ordered: true },
  ]);

  const rerun = await applyMigrations(runOptions(db.url, [m]));
  assert.deepEqual(rerun, { applied: [], alreadyApplied: [m.id], skipped: [] });
  assert.deepEqual(await db.query(`SELECT id FROM greetings`), [{ id: 1 }]);
  assert.equal(await advisoryLocksHeld(db), 0, 'the migration lock is released at the end of a run');
});

test('a runner waiting on the migration lock gives up after advisoryLockWaitMs with a retryable error naming the holder', async () => {
  const db = await freshDatabase('runner_lock_busy');
  const holder = await connectTo(db.url);
  try {
    await holder.query(`SET application_name = 'manual-maintenance'`);
    await holder.query(`SELECT pg_advisory_lock($1::bigint)`, [MIGRATION_LOCK_KEY.toString()]);
    const m = migration('001_create_queue.sql', `CREATE TABLE queue (id int);`);
    const err = await rejection(applyMigrations(runOptions(db.url, [m], { advisoryLockWaitMs: 300 })));
    assert.equal(isRetryable(err), true);
    assert.equal(err.name, 'MigrationLockBusy');
    assert.match(err.message, /another migration run holds the migration lock \(pid \d+ \(manual-maintenance\)\); waited 300 ms/);
    assert.equal(await tableExists(db, 'queue'), false);
  } finally {
    await holder.end();
  }
});

test('an SQL error is permanent and names the file, the line and the Postgres message; nothing of the run is applied', async () => {
  const db = await freshDatabase('runner_sql_error');
  const broken = migration('001_create_tags.sql', `CREATE TABLE tags (id int PRIMARY KEY);\n\nCREATE TABEL tag_links (id int);`);
  const later = migration('002_create_notes.sql', `CREATE TABLE notes (id int);`);
  const err = await rejection(applyMigrations(runOptions(db.url, [broken, later])));

  assert.equal(failureType(err), FailureType.MigrationFailed);
  assert.equal(isRetryable(err), false);
  assert.match(err.message, /^migration 001_create_tags\.sql line 4: syntax error at or near "TABEL" \(SQLSTATE 42601\)/);
  assert.match(err.message, /Nothing from this file was applied/);
  assert.equal(await tableExists(db, 'tags'), false, 'the statements before the error rolled back with it');
  assert.equal(await tableExists(db, 'notes'), false, 'the run stops at the failing file');
  assert.deepEqual(await db.query(`SELECT id FROM public.deploy_schema_migrations`), []);
});

test('a file that commits the runner\'s transaction itself is refused', async () => {
  const db = await freshDatabase('runner_commit_in_file');
  const m = migration('001_create_logs.sql', `CREATE TABLE logs (id int);\nCOMMIT;`);
  const err = await rejection(applyMigrations(runOptions(db.url, [m])));
  assert.equal(failureType(err), FailureType.MigrationFailed);
  assert.match(err.message, /migration 001_create_logs\.sql: the file ends or restarts the transaction/);
  assert.deepEqual(await db.query(`SELECT id FROM public.deploy_schema_migrations`), []);
});

test('contract migrations wait for a later run, even when an expand migration that sorts after them is applied first', async () => {
  const db = await freshDatabase('runner_phases');
  const addColumn = migration('001_add_display_name.sql', `CREATE TABLE members (id int, name text, display_name text);`);
  const dropOld = migration('002_drop_name.sql', `ALTER TABLE members DROP COLUMN name;`, { phase: 'contract' });
  const addIndexTable = migration('003_create_member_events.sql', `CREATE TABLE member_events (id int);`);
  const files = [addColumn, dropOld, addIndexTable];

  const expandRun = await applyMigrations(runOptions(db.url, files, { apply: (m) => m.phase === 'expand' }));
  assert.deepEqual(expandRun.applied.map((m) => m.id), [addColumn.id, addIndexTable.id]);
  assert.deepEqual(expandRun.skipped, [dropOld.id]);
  assert.deepEqual(await checkMigrations(db.url, files), { pending: [dropOld.id], applied: [addColumn.id, addIndexTable.id], problems: [] });
  assert.deepEqual(await listAppliedContract(db.url), []);

  const contractRun = await applyMigrations(runOptions(db.url, files, { apply: (m) => m.phase === 'contract' }));
  assert.deepEqual(contractRun.applied.map((m) => m.id), [dropOld.id]);
  assert.deepEqual(contractRun.alreadyApplied, [addColumn.id, addIndexTable.id]);
  assert.deepEqual(await listAppliedContract(db.url), [dropOld.id]);
});

test('a selection that would leave an earlier expand migration behind is refused before anything runs', async () => {
  const db = await freshDatabase('runner_selection');
  const first = migration('001_create_a.sql', `CREATE TABLE sel_a (id int);`);
  const second = migration('002_create_b.sql', `CREATE TABLE sel_b (id int);`);
  const err = await rejection(applyMigrations(runOptions(db.url, [first, second], { apply: (m) => m.id === second.id })));
  assert.equal(failureType(err), FailureType.MigrationRefused);
  assert.match(err.message, /002_create_b\.sql \(expand\) was selected but 001_create_a\.sql \(expand\), which sorts before it, was not/);
  assert.equal(await tableExists(db, 'sel_b'), false);
});

test('checkMigrations is read-only: on a fresh database it reports everything pending and creates no ledger', async () => {
  const db = await freshDatabase('runner_check');
  const files = [migration('001_create_x.sql', `CREATE TABLE x (id int);`)];
  assert.deepEqual(await checkMigrations(db.url, files), { pending: [files[0]!.id], applied: [], problems: [] });
  assert.equal(await tableExists(db, 'public.deploy_schema_migrations'), false);

  await applyMigrations(runOptions(db.url, files));
  const edited = [migration('001_create_x.sql', `CREATE TABLE x (id bigint);`)];
  const report = await checkMigrations(db.url, edited);
  assert.deepEqual(report.applied, [files[0]!.id]);
  assert.equal(report.problems.length, 1);
  assert.match(report.problems[0]!, /^migration 001_create_x\.sql: it was applied with checksum/);
});

test('a non-transactional build that finished before the run stopped is only marked applied on resume', async () => {
  const db = await freshDatabase('runner_resume_valid');
  const table = migration('001_create_events.sql', `CREATE TABLE events (id int, at timestamptz);`);
  // No IF NOT EXISTS: running it a second time would fail, so success proves it was not re-run.
  const index = migration('002_index_events_at.sql', `CREATE INDEX CONCURRENTLY events_at_idx ON events (at);`, { transactional: false });
  await applyMigrations(runOptions(db.url, [table, index]));
  // The state a crash between the build and the ledger update leaves.
  await db.query(`UPDATE public.deploy_schema_migrations SET state = 'started', finished_at = NULL WHERE id = $1`, [index.id]);

  const progress: string[] = [];
  const result = await applyMigrations(runOptions(db.url, [table, index], { onProgress: (p) => progress.push(p) }));
  assert.deepEqual(result.applied.map((m) => ({ id: m.id, transactional: m.transactional })), [{ id: index.id, transactional: false }]);
  assert.ok(progress.includes(`migration ${index.id} (expand, non-transactional): resuming after an interrupted run`), progress.join('\n'));
  const rows = await db.query(`SELECT state FROM public.deploy_schema_migrations WHERE id = $1`, [index.id]);
  assert.deepEqual(rows, [{ state: 'applied' }]);
});

test('parseIndexBuild finds the index name and table of CREATE INDEX statements after the phase comment', () => {
  assert.deepEqual(parseIndexBuild(`-- phase: expand\n/* why */ CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "Users_Email" ON public."Users" (email);`), {
    name: 'Users_Email',
    table: 'public."Users"',
  });
  assert.deepEqual(parseIndexBuild(`create index concurrently Events_At on events (at)`), { name: 'events_at', table: 'events' });
  assert.deepEqual(parseIndexBuild(`CREATE INDEX CONCURRENTLY ON events (at)`), { name: null, table: null });
  assert.equal(parseIndexBuild(`-- phase: contract\nDROP INDEX CONCURRENTLY IF EXISTS events_at`), null);
});

test('parseReindexConcurrently finds the target of REINDEX ... CONCURRENTLY, in either spelling, and nothing else', () => {
  assert.deepEqual(parseReindexConcurrently(`-- phase: expand\n/* why */ REINDEX INDEX CONCURRENTLY public."Users_Email";`), {
    kind: 'INDEX',
    concurrently: true,
    target: 'public."Users_Email"',
    targetName: 'public.Users_Email',
  });
  assert.deepEqual(parseReindexConcurrently(`reindex (concurrently, verbose) table Events`), {
    kind: 'TABLE',
    concurrently: true,
    target: 'Events',
    targetName: 'events',
  });
  assert.equal(parseReindexConcurrently(`REINDEX (CONCURRENTLY false) TABLE events`), null);
  assert.equal(parseReindexConcurrently(`REINDEX TABLE events`), null);
  assert.equal(parseReindexConcurrently(`CREATE INDEX CONCURRENTLY events_at ON events (at)`), null);
});
