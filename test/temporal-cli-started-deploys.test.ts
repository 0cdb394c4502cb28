import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';
import { temporalCli, type CliRun } from './helpers/workflow-probes';

/**
 * A deploy started the README's way, with `temporal workflow start` (no static summary: only the starter
 * can set one), on a real dev server and worker. The run keeps a one-line summary in its memo and its
 * current details, which the client reads back; a refused `approval` update reaches the Temporal CLI as a
 * non-retryable failure with a type that names it.
 */

const WORKFLOW_ID = 'deploy-hello-service-staging';
let world: DeployWorld;
let handle: WorkflowHandle;

before(async () => {
  world = await startDeployWorld({
    specOverrides: (spec) => {
      // An unsigned gate before the build: the deploy waits (changing nothing) for alice or bob.
      spec.environments.staging.gates = [{ before: 'build', approvers: ['alice', 'bob'], quorum: 1, requesterMayApprove: false, timeoutMinutes: 60, onTimeout: 'reject', signed: false }];
    },
  });
  await world.startWorker();
});
after(async () => {
  await world?.cleanup();
});

const show = (r: CliRun) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** The run's current details, as the Web UI reads them (the SDK's built-in metadata query; needs a worker). */
async function currentDetails(h: WorkflowHandle): Promise<string> {
  const metadata = (await h.query('__temporal_workflow_metadata')) as { currentDetails?: string };
  return metadata.currentDetails ?? '';
}

async function memoSummary(h: WorkflowHandle): Promise<unknown> {
  return (await h.describe()).memo?.summary;
}

test('a deploy started with the README\'s temporal workflow start form has a summary in its memo and current details', async () => {
  const input = { spec: world.specPath, environment: 'staging', version: '1.0.0', requestedBy: 'carol' };
  const r = await temporalCli(world, ['workflow', 'start', '--task-queue', 'deploys', '--type', 'deployRelease', '--workflow-id', WORKFLOW_ID, '--input', JSON.stringify(input)]);
  assert.equal(r.code, 0, show(r));
  handle = world.client.workflow.getHandle(WORKFLOW_ID, /RunId\s+(\S+)/.exec(r.stdout)?.[1]);
  await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval');

  const d = await handle.describe();
  assert.equal(await d.staticSummary(), undefined, 'the CLI form sets no static summary');
  assert.equal(await memoSummary(handle), 'hello-service 1.0.0 → staging, requested by carol: running');
  assert.match(await currentDetails(handle), /^\*\*hello-service 1\.0\.0 → staging\*\* \(requested by carol\)\n\nstatus: `awaiting_approval`, stage: `build`/);
});

test('a refused approval update prints its reason through the Temporal CLI as non-retryable (type ApprovalRefused, retryable: false)', async () => {
  const cases = [
    { input: { decision: 'approve', by: 'carol' }, reason: /carol is not an approver for the gate before build \(allowed: alice, bob\)/ },
    { input: { decision: 'aprove', by: 'alice' }, reason: /approval: decision: / },
  ];
  for (const c of cases) {
    const r = await temporalCli(world, ['workflow', 'update', 'execute', '--workflow-id', WORKFLOW_ID, '--name', 'approval', '--input', JSON.stringify(c.input)]);
    assert.notEqual(r.code, 0, show(r));
    assert.match(r.stderr, c.reason, show(r));
    assert.match(r.stderr, /\(type: ApprovalRefused, retryable: false\)/, show(r));
    assert.doesNotMatch(r.stderr, /retryable: true/, show(r));
  }
  assert.equal((await world.status(handle)).status, 'awaiting_approval', 'refused updates leave the gate waiting');
});

test('once the deploy ends, the memo summary and current details say how', async () => {
  const approved = await temporalCli(world, ['workflow', 'update', 'execute', '--workflow-id', WORKFLOW_ID, '--name', 'approval', '--input', JSON.stringify({ decision: 'approve', by: 'alice' })]);
  assert.equal(approved.code, 0, show(approved));
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', JSON.stringify(result?.timeline, null, 1));

  assert.equal(await memoSummary(handle), 'hello-service 1.0.0 → staging, requested by carol: succeeded');
  assert.match(await currentDetails(handle), /status: `succeeded`, stage: `done`/);
  // The memo is the server's: `temporal workflow describe` shows it with no worker involved.
  await world.stopWorker();
  const described = await temporalCli(world, ['workflow', 'describe', '--workflow-id', WORKFLOW_ID, '--output', 'json']);
  assert.equal(described.code, 0, show(described));
  assert.ok(described.stdout.includes(Buffer.from(JSON.stringify('hello-service 1.0.0 → staging, requested by carol: succeeded')).toString('base64')) || described.stdout.includes('hello-service 1.0.0 → staging, requested by carol: succeeded'), show(described));
});
