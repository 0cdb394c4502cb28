import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';

let world: DeployWorld;

before(async () => {
  world = await startDeployWorld();
  await world.startWorker();
});
after(async () => {
  await world?.cleanup();
});

async function ledger(env: 'staging' | 'production'): Promise<string[]> {
  const c = new PgClient({ connectionString: new URL(`/${world.example.databases[env]}`, world.orchestratorDb.url.replace(/\/[^/]*$/, '/')).toString() });
  await c.connect();
  try {
    const { rows } = await c.query(`SELECT id FROM deploy_schema_migrations WHERE state='applied' ORDER BY id`);
    return rows.map((r) => r.id as string);
  } finally {
    await c.end();
  }
}

async function currentTarget(env: string): Promise<string> {
  return path.basename(await fs.readlink(path.join(world.targetRoot(env), 'current')));
}

test('1.0.0 then 1.1.0 reach staging: the service answers 1.1.0, the ledger has the new migration, current points at 1.1.0', async () => {
  const first = await world.outcome(await world.deploy({ environment: 'staging', version: '1.0.0' }));
  assert.equal(first.status, 'succeeded', JSON.stringify(first.result?.timeline, null, 1));
  assert.equal((await world.get('staging', '/')).body.version, '1.0.0');
  assert.deepEqual(await ledger('staging'), ['001_create_greetings.sql']);

  const second = await world.outcome(await world.deploy({ environment: 'staging', version: '1.1.0' }));
  assert.equal(second.status, 'succeeded', JSON.stringify(second.result?.timeline, null, 1));
  assert.equal(second.result.previousVersion, '1.0.0');
  const answer = await world.get('staging', '/');
  assert.equal(answer.body.version, '1.1.0');
  assert.deepEqual(await ledger('staging'), ['001_create_greetings.sql', '002_add_greeting_locale.sql']);
  assert.match(await currentTarget('staging'), /^1\.1\.0-[0-9a-f]{12}$/);
  assert.deepEqual(second.result.stages.map((s) => `${s.stage}:${s.status}`), [
    'plan:succeeded', 'build:succeeded', 'preChecks:succeeded', 'migrate:succeeded', 'deploy:succeeded', 'validate:succeeded',
  ]);
});

test('known-bad 2.0.0 fails its health thresholds and rolls back: 1.1.0 answers again', async () => {
  const handle = await world.deploy({ environment: 'staging', version: '2.0.0' });
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'rolled_back');
  assert.equal(result.compensations.at(-1)?.name, 'rollbackDeploy');
  assert.equal(result.compensations.at(-1)?.status, 'succeeded');
  assert.equal((result.health as { passed: boolean }).passed, false);
  assert.equal((await world.get('staging', '/')).body.version, '1.1.0');
  assert.equal((await world.get('staging', '/readyz')).status, 200);
  assert.match(await currentTarget('staging'), /^1\.1\.0-/);

  const desc = await handle.describe();
  assert.equal(desc.status.name, 'FAILED');
  assert.deepEqual(desc.searchAttributes.DeployStatus, ['rolled_back']);
  const live = await world.orchestratorDb.query(`SELECT version, status FROM deploy_releases WHERE environment='staging' ORDER BY id`);
  assert.deepEqual(live.map((r) => `${r.version}:${r.status}`), ['1.0.0:superseded', '1.1.0:live', '2.0.0:rolled_back']);
});

test('a malformed input fails fast naming the field, and nothing is built or changed', async () => {
  const before = await fs.readdir(path.join(world.dataDir, 'artifacts', 'sha256'));
  const handle = await world.client.workflow.start('deployRelease', {
    taskQueue: 'deploys',
    workflowId: 'deploy-hello-service-staging',
    args: [{ spec: world.specPath, environment: 'staging', version: '../../etc', requestedBy: 'carol' }],
  });
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'failed');
  assert.match(result.reason ?? '', /input\.version/);
  assert.deepEqual(result.stages.map((s) => s.stage), ['plan']);
  assert.deepEqual(await fs.readdir(path.join(world.dataDir, 'artifacts', 'sha256')), before);
  assert.equal((await world.get('staging', '/')).body.version, '1.1.0');
});

test('a deploy started under another workflow ID is refused with the right ID', async () => {
  const handle = await world.client.workflow.start('deployRelease', {
    taskQueue: 'deploys',
    workflowId: 'my-own-id',
    args: [{ spec: world.specPath, environment: 'staging', version: '1.1.0', requestedBy: 'carol' }],
  });
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'failed');
  assert.match(result.reason ?? '', /--workflow-id deploy-hello-service-staging/);
});
