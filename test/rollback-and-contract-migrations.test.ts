import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client as PgClient } from 'pg';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';

const run = promisify(execFile);
let world: DeployWorld;

/**
 * Adds release 1.2.0 to the example's source repository: 1.1.0 plus a CONTRACT migration that makes
 * `locale` mandatory — something 1.0.0 and 1.1.0 (which insert/read rows without it) were not built for.
 */
async function addContractRelease(repo: string): Promise<void> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'contract-release-'));
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: tmp, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
  const work = path.join(tmp, 'work');
  await run('git', ['clone', '--quiet', repo, work], { env });
  await run('git', ['checkout', '--quiet', '1.1.0'], { cwd: work, env });
  const pkg = JSON.parse(await fs.readFile(path.join(work, 'package.json'), 'utf8'));
  pkg.version = '1.2.0';
  await fs.writeFile(path.join(work, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
  await fs.writeFile(
    path.join(work, 'migrations', '003_require_greeting_locale.sql'),
    "-- phase: contract\n-- 1.2.0 always writes a locale; older releases did not.\nUPDATE greetings SET locale = 'en' WHERE locale IS NULL;\n" +
      '-- lint-allow: set-not-null greetings holds a handful of rows, so the scan under the lock is instant\n' +
      'ALTER TABLE greetings ALTER COLUMN locale SET NOT NULL;\n',
  );
  await run('git', ['add', '-A'], { cwd: work, env });
  await run('git', ['commit', '--quiet', '-m', 'Release 1.2.0: locale is required'], { cwd: work, env });
  await run('git', ['tag', '1.2.0'], { cwd: work, env });
  await run('git', ['push', '--quiet', 'origin', '1.2.0'], { cwd: work, env });
  await fs.rm(tmp, { recursive: true, force: true });
}

async function envDb<T>(fn: (c: PgClient) => Promise<T>): Promise<T> {
  const url = new URL(world.orchestratorDb.url);
  url.pathname = `/${world.example.databases.staging}`;
  const c = new PgClient({ connectionString: url.toString() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const ledger = () => envDb(async (c) => (await c.query(`SELECT id, phase FROM deploy_schema_migrations ORDER BY id`)).rows.map((r) => `${r.id}:${r.phase}`));
const storedArtifacts = async () => (await fs.readdir(path.join(world.dataDir, 'artifacts', 'sha256'))).sort();

before(async () => {
  world = await startDeployWorld();
  await addContractRelease(world.example.sourceRepo);
  await world.startWorker();
});
after(async () => {
  await world?.cleanup();
});

test('deploying an earlier version is a rollback that reuses the stored artifact (no rebuild)', async () => {
  assert.equal((await world.outcome(await world.deploy({ environment: 'staging', version: '1.0.0' }))).status, 'succeeded');
  assert.equal((await world.outcome(await world.deploy({ environment: 'staging', version: '1.1.0' }))).status, 'succeeded');
  const artifactsBefore = await storedArtifacts();

  const { status, result } = await world.outcome(await world.deploy({ environment: 'staging', version: '1.0.0', reason: 'roll back' }));
  assert.equal(status, 'succeeded', JSON.stringify(result.timeline, null, 1));
  assert.match(result.stages.find((s) => s.stage === 'plan')!.summary ?? '', /^rollback deploy of 1\.0\.0 \(live: 1\.1\.0\)/);
  assert.match(result.stages.find((s) => s.stage === 'build')!.summary ?? '', /reused, not rebuilt/);
  assert.deepEqual(await storedArtifacts(), artifactsBefore);
  assert.equal((await world.get('staging', '/')).body.version, '1.0.0');
  const rows = await world.orchestratorDb.query(`SELECT version, status FROM deploy_releases WHERE environment='staging' ORDER BY id`);
  assert.deepEqual(rows.map((r) => `${r.version}:${r.status}`), ['1.0.0:superseded', '1.1.0:superseded', '1.0.0:live']);
});

test('a contract migration waits until the release that ships it is live, then a rollback below the baseline is refused', async () => {
  assert.equal((await world.outcome(await world.deploy({ environment: 'staging', version: '1.1.0' }))).status, 'succeeded');

  // First rollout of 1.2.0: its contract migration must NOT run — 1.1.0 (live) still relies on the old shape.
  const first = await world.outcome(await world.deploy({ environment: 'staging', version: '1.2.0' }));
  assert.equal(first.status, 'succeeded', JSON.stringify(first.result.timeline, null, 1));
  assert.deepEqual(await ledger(), ['001_create_greetings.sql:expand', '002_add_greeting_locale.sql:expand']);
  assert.deepEqual((first.result.migrations as { skipped: string[] }).skipped, ['003_require_greeting_locale.sql']);

  // A later deploy, with 1.2.0 live: now the contract runs and the registry records the baseline.
  const second = await world.outcome(await world.deploy({ environment: 'staging', version: '1.2.0', reason: 'contract' }));
  assert.equal(second.status, 'succeeded', JSON.stringify(second.result.timeline, null, 1));
  assert.deepEqual(await ledger(), ['001_create_greetings.sql:expand', '002_add_greeting_locale.sql:expand', '003_require_greeting_locale.sql:contract']);
  const nullable = await envDb(async (c) => (await c.query(`SELECT is_nullable FROM information_schema.columns WHERE table_name='greetings' AND column_name='locale'`)).rows[0].is_nullable);
  assert.equal(nullable, 'NO');
  const baseline = await world.orchestratorDb.query(`SELECT migration_id, live_version FROM deploy_contract_baselines`);
  assert.deepEqual(baseline.map((r) => `${r.migration_id}@${r.live_version}`), ['003_require_greeting_locale.sql@1.2.0']);

  // Rolling back to 1.1.0 would run it on a schema it was not built for: refused before anything changes.
  const rollback = await world.outcome(await world.deploy({ environment: 'staging', version: '1.1.0' }));
  assert.equal(rollback.status, 'failed');
  assert.match(rollback.result.reason ?? '', /rollback-compatibility/);
  assert.match(rollback.result.reason ?? '', /003_require_greeting_locale\.sql/);
  assert.deepEqual(rollback.result.stages.map((s) => `${s.stage}:${s.status}`), ['plan:succeeded', 'build:succeeded', 'preChecks:failed']);
  assert.equal((await world.get('staging', '/')).body.version, '1.2.0');
});
