import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { assertStoredInPostgres, startTestCluster, type TestCluster } from '../helpers/cluster';
import { startDeployWorld, type DeployWorld } from '../helpers/deploy-world';
import { countSideEffects, describeResult } from '../helpers/faults';

/**
 * The rehearsal `npm run demo` performs, on a Temporal cluster backed by PostgreSQL instead of the dev
 * server: hello-service 1.0.0 → staging, 1.1.0 → staging, the known-bad 2.0.0 → staging (rolls back by
 * itself), 1.1.0 → production approved by alice through the Temporal CLI. Each deploy's effects are counted
 * and its run is found in the cluster's databases; the audit query of the README finds the rollback.
 */

const execFileAsync = promisify(execFile);

let cluster: TestCluster;
let world: DeployWorld;
const handles: Record<string, WorkflowHandle> = {};

const registryOf = (rows: Array<{ version: string; status: string }>) => rows.map((r) => `${r.version}:${r.status}`);

before(async () => {
  // With the Web UI server (deploy/temporal/ui.yaml), which the audit step reads through.
  cluster = await startTestCluster('runbook-rehearsal', { ui: true });
  world = await startDeployWorld({ temporal: cluster });
  await world.startWorker();
});

after(async () => {
  await world?.cleanup();
  await cluster?.stop();
});

async function temporal(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(cluster.cli, [...args, '--address', cluster.address], { timeout: 60_000 });
  return stdout;
}

test('rehearsal on the cluster, step 1: 1.0.0 → staging succeeds and creates its table', async () => {
  const handle = (handles.first = await world.deploy({ environment: 'staging', version: '1.0.0' }));
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', describeResult(result));
  const e = await countSideEffects(world, 'staging');
  assert.deepEqual(e.ledger, { '001_create_greetings.sql': 1 });
  assert.equal(e.releaseDirs['1.0.0'], 1);
  assert.deepEqual(registryOf(e.registry), ['1.0.0:live']);
  assert.equal(e.answers, '1.0.0');
  await assertStoredInPostgres(cluster, handle, { status: 'completed', attributeValues: ['hello-service', 'staging', '1.0.0', 'succeeded', 'carol'] });
});

test('rehearsal on the cluster, step 2: 1.1.0 → staging succeeds with its expand migration in the ledger', async () => {
  const handle = (handles.second = await world.deploy({ environment: 'staging', version: '1.1.0' }));
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', describeResult(result));
  assert.equal(result.previousVersion, '1.0.0');
  const e = await countSideEffects(world, 'staging');
  assert.deepEqual(e.ledger, { '001_create_greetings.sql': 1, '002_add_greeting_locale.sql': 1 });
  assert.equal(e.releaseDirs['1.1.0'], 1);
  assert.deepEqual(registryOf(e.registry), ['1.0.0:superseded', '1.1.0:live']);
  assert.equal(e.answers, '1.1.0');
  await assertStoredInPostgres(cluster, handle, { status: 'completed', attributeValues: ['1.1.0', 'succeeded'] });
});

test('rehearsal on the cluster, step 3: known-bad 2.0.0 → staging fails its health thresholds and rolls back to 1.1.0', async () => {
  const handle = (handles.bad = await world.deploy({ environment: 'staging', version: '2.0.0' }));
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'rolled_back', describeResult(result));
  assert.equal(result.compensations.at(-1)?.name, 'rollbackDeploy');
  assert.equal(result.compensations.at(-1)?.status, 'succeeded');
  const e = await countSideEffects(world, 'staging');
  assert.deepEqual(e.ledger, { '001_create_greetings.sql': 1, '002_add_greeting_locale.sql': 1 }, '2.0.0 ships no migration');
  assert.equal(e.releaseDirs['2.0.0'], 1, 'the bad release was unpacked once');
  assert.deepEqual(registryOf(e.registry), ['1.0.0:superseded', '1.1.0:live', '2.0.0:rolled_back']);
  assert.equal(e.liveRows, 1);
  assert.equal(e.answers, '1.1.0', '1.1.0 answers again');
  assert.deepEqual(e.serviceProcessReleases.map((id) => id.replace(/-[0-9a-f]{12}$/, '')), ['1.1.0']);
  await assertStoredInPostgres(cluster, handle, { status: 'failed', attributeValues: ['2.0.0', 'rolled_back'] });
});

test('rehearsal on the cluster, step 4: 1.1.0 → production waits at the gate until alice approves with the Temporal CLI', async () => {
  const handle = (handles.production = await world.deploy({ environment: 'production', version: '1.1.0' }));
  await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', 120_000);
  assert.deepEqual((await countSideEffects(world, 'production')).ledger, {}, 'nothing ran before the approval');

  const signature = await world.sign(handle, 'approve', 'alice');
  await temporal('workflow', 'signal', '--workflow-id', 'deploy-hello-service-production', '--name', 'approve', '--input', JSON.stringify({ by: 'alice', comment: 'rehearsal', signature }));

  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', describeResult(result));
  assert.deepEqual(result.approvals.map((a) => a.by), ['alice']);
  const e = await countSideEffects(world, 'production');
  assert.deepEqual(e.ledger, { '001_create_greetings.sql': 1, '002_add_greeting_locale.sql': 1 });
  assert.equal(e.releaseDirs['1.1.0'], 1);
  assert.deepEqual(registryOf(e.registry), ['1.1.0:live']);
  assert.equal(e.answers, '1.1.0');
  await assertStoredInPostgres(cluster, handle, { status: 'completed', attributeValues: ['production', '1.1.0', 'succeeded'] });
});

test('rehearsal on the cluster, audit: the README query finds the rollback through PostgreSQL visibility', async () => {
  assert.ok(handles.bad, 'step 3 ran');
  const listed = JSON.parse(
    await temporal('workflow', 'list', '--query', 'DeployService="hello-service" AND DeployStatus="rolled_back"', '--output', 'json'),
  ) as Array<{ execution: { workflowId: string; runId: string } }>;
  const badRunId = (await handles.bad.describe()).runId;
  assert.deepEqual(listed.map((w) => w.execution.runId), [badRunId]);

  const count = JSON.parse(await temporal('workflow', 'count', '--query', 'DeployService="hello-service"', '--output', 'json')) as { count: string | number };
  assert.equal(Number(count.count), 4, 'four deploys of hello-service');
  const rows = await cluster.queryVisibilityDb<{ n: string }>(
    `SELECT count(*) AS n FROM executions_visibility WHERE workflow_type_name = 'deployRelease'`,
  );
  assert.equal(Number(rows[0]?.n), 4, 'the visibility database holds the four runs');

  // The Web UI server's API (what its workflow list page calls) answers the same query through the frontend.
  const uiUrl = cluster.cluster.uiUrl;
  assert.ok(uiUrl, 'the cluster runs the Web UI server');
  const query = encodeURIComponent('DeployService="hello-service" AND DeployStatus="rolled_back"');
  const response = await fetch(`${uiUrl}/api/v1/namespaces/default/workflows?query=${query}`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(response.status, 200, await response.clone().text());
  const body = (await response.json()) as { executions?: Array<{ execution?: { runId?: string } }> };
  assert.deepEqual(body.executions?.map((w) => w.execution?.runId), [badRunId]);
});
