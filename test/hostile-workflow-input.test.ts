import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowNotFoundError } from '@temporalio/client';
import { startDeploy } from '../src/client/deploys';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';
import { assertNothingChanged, assertRefusedAtPlan, markerFile, planRefusal, show, snapshotWorld } from './helpers/hostile';

/**
 * Hostile workflow input, started the way an attacker with CLI access would (client.workflow.start under
 * the lock's ID, bypassing the project's client) and through startDeploy. Every case must be refused at
 * plan, on its first attempt, naming the field, with nothing built, migrated, deployed or recorded.
 */

let world: DeployWorld;
const LOCK_ID = 'deploy-hello-service-staging';
const MB = 1024 * 1024;

before(async () => {
  world = await startDeployWorld();
  await world.startWorker();
});
after(async () => {
  await world?.cleanup();
});

const base = () => ({ spec: world.specPath, environment: 'staging', version: '1.0.0', requestedBy: 'carol' });

interface Case {
  name: string;
  input: () => unknown;
  field: string | RegExp;
  type?: 'InvalidInput' | 'SpecInvalid' | 'WrongWorkflowId';
  workflowId?: string;
  markers?: string[];
}

const marker = { dollar: markerFile('version-dollar'), backtick: markerFile('version-backtick'), requester: markerFile('requester'), reason: markerFile('reason') };

const cases: Case[] = [
  // path traversal
  { name: 'version ../../etc/passwd', input: () => ({ ...base(), version: '../../etc/passwd' }), field: 'input.version' },
  { name: 'version 1.0.0/../../x', input: () => ({ ...base(), version: '1.0.0/../../x' }), field: 'input.version' },
  { name: 'version 1.0.0..x (dot-dot inside)', input: () => ({ ...base(), version: '1.0.0..x' }), field: 'input.version' },
  { name: 'environment ../production', input: () => ({ ...base(), environment: '../production' }), field: 'input.environment' },
  { name: 'spec ../../../../etc/passwd', input: () => ({ ...base(), spec: '../../../../etc/passwd' }), field: 'input.spec' },
  { name: 'spec /etc/passwd (not a spec file)', input: () => ({ ...base(), spec: '/etc/passwd' }), field: 'input.spec' },
  // shell metacharacters
  { name: 'version 1.0.0;rm -rf /', input: () => ({ ...base(), version: '1.0.0;rm -rf /' }), field: 'input.version' },
  { name: 'version $(touch marker)', input: () => ({ ...base(), version: `$(touch ${marker.dollar})` }), field: 'input.version', markers: [marker.dollar] },
  { name: 'version `touch marker`', input: () => ({ ...base(), version: `\`touch ${marker.backtick}\`` }), field: 'input.version', markers: [marker.backtick] },
  { name: 'requestedBy $(touch marker)', input: () => ({ ...base(), requestedBy: `$(touch ${marker.requester})` }), field: 'input.requestedBy', markers: [marker.requester] },
  { name: 'requestedBy carol|sh', input: () => ({ ...base(), requestedBy: 'carol|sh' }), field: 'input.requestedBy' },
  // control and look-alike unicode
  { name: 'version with NUL', input: () => ({ ...base(), version: '1.0.0\u0000' }), field: 'input.version' },
  { name: 'version with bidi override U+202E', input: () => ({ ...base(), version: '1.0.0\u202e1-' }), field: 'input.version' },
  { name: 'version with Cyrillic а (U+0430)', input: () => ({ ...base(), version: '1.0.0-betа' }), field: 'input.version' },
  { name: 'version with zero-width space', input: () => ({ ...base(), version: '1.0.\u200b0' }), field: 'input.version' },
  { name: 'requestedBy with Cyrillic а (cаrol)', input: () => ({ ...base(), requestedBy: 'cаrol' }), field: 'input.requestedBy' },
  { name: 'requestedBy with newline', input: () => ({ ...base(), requestedBy: 'carol\nDeployStatus=succeeded' }), field: 'input.requestedBy' },
  { name: 'reason with bidi override U+202E', input: () => ({ ...base(), reason: 'fix \u202egnp.exe' }), field: 'input.reason' },
  { name: 'reason with escape sequence', input: () => ({ ...base(), reason: 'ok\u001b[2J' }), field: 'input.reason' },
  { name: 'reason $(touch marker) over the limit', input: () => ({ ...base(), reason: `$(touch ${marker.reason})`.padEnd(501, ' ') }), field: 'input.reason', markers: [marker.reason] },
  // huge strings
  { name: 'version of 1 MB', input: () => ({ ...base(), version: '1'.repeat(MB) }), field: 'input.version' },
  { name: 'reason of 1 MB', input: () => ({ ...base(), reason: 'x'.repeat(MB) }), field: 'input.reason' },
  // unknown fields, wrong types, missing fields
  { name: 'unknown field force', input: () => ({ ...base(), force: true }), field: 'input.force' },
  { name: 'unknown field __proto__ (JSON)', input: () => JSON.parse(JSON.stringify({ ...base() }).replace(/^\{/, '{"__proto__":{"admin":true},')), field: 'input.__proto__' },
  { name: 'version as a number', input: () => ({ ...base(), version: 110 }), field: 'input.version' },
  { name: 'requestedBy as an array', input: () => ({ ...base(), requestedBy: ['alice', 'bob'] }), field: 'input.requestedBy' },
  { name: 'spec as a number', input: () => ({ ...base(), spec: 42 }), field: 'input.spec' },
  { name: 'input as a string', input: () => 'deploy hello-service 1.0.0 to staging', field: /workflow input: input: .*expected object/ },
  { name: 'input null', input: () => null, field: /workflow input: input: .*expected object/ },
  { name: 'missing requestedBy', input: () => ({ spec: world.specPath, environment: 'staging', version: '1.0.0' }), field: 'input.requestedBy' },
  { name: 'missing version', input: () => ({ spec: world.specPath, environment: 'staging', requestedBy: 'carol' }), field: 'input.version' },
  // names that pass the syntax but are not this deploy
  { name: 'environment not in the spec', input: () => ({ ...base(), environment: 'qa' }), workflowId: 'deploy-hello-service-qa', field: 'input.environment' },
  { name: 'started under another workflow ID', input: () => base(), workflowId: 'deploy-hello-service-anything', field: /--workflow-id deploy-hello-service-staging/, type: 'WrongWorkflowId' },
  {
    name: 'inline spec of another service under this lock',
    input: () => ({ ...base(), spec: { ...world.spec, service: 'other-service' } }),
    field: /--workflow-id deploy-other-service-staging/,
    type: 'WrongWorkflowId',
  },
];

for (const c of cases) {
  test(`workflow input refused at plan: ${c.name}`, async () => {
    const before = await snapshotWorld(world);
    const handle = await world.client.workflow.start('deployRelease', { taskQueue: 'deploys', workflowId: c.workflowId ?? LOCK_ID, args: [c.input()] });
    const refusal = await planRefusal(world, handle);
    assertRefusedAtPlan(refusal, { field: c.field, type: c.type ?? 'InvalidInput', label: c.name });
    // The refusal never echoes a huge value back into history.
    assert.ok(refusal.reason.length < 2000, `${c.name}: reason is ${refusal.reason.length} chars`);
    await assertNothingChanged(world, before, c.name, c.markers);
  });
}

/** The latest run under the lock ID, or null: startDeploy must refuse before starting anything. */
async function latestRun(): Promise<string | null> {
  try {
    return (await world.client.workflow.getHandle(LOCK_ID).describe()).runId;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

const clientCases: Array<{ name: string; input: () => unknown; field: string }> = [
  { name: 'version ../../etc/passwd', input: () => ({ ...base(), version: '../../etc/passwd' }), field: 'input.version' },
  { name: 'version 1.0.0;rm -rf /', input: () => ({ ...base(), version: `1.0.0;touch ${marker.dollar}` }), field: 'input.version' },
  { name: 'requestedBy with zero-width space', input: () => ({ ...base(), requestedBy: 'ca\u200brol' }), field: 'input.requestedBy' },
  { name: 'unknown field', input: () => ({ ...base(), skipChecks: true }), field: 'input.skipChecks' },
  { name: 'version of 1 MB', input: () => ({ ...base(), version: 'v'.repeat(MB) }), field: 'input.version' },
  { name: 'inline spec with a traversing service name', input: () => ({ ...base(), spec: { ...world.spec, service: '../../etc' } }), field: 'service' },
];

for (const c of clientCases) {
  test(`startDeploy refuses before starting anything: ${c.name} (${show(c.field)})`, async () => {
    const before = await snapshotWorld(world);
    const runBefore = await latestRun();
    await assert.rejects(
      () => startDeploy(world.client, c.input(), { taskQueue: 'deploys', cwd: world.dataDir }),
      (err: Error) => {
        assert.ok(err.message.includes(`${c.field}:`), `${c.name}: expected ${c.field} in: ${err.message.slice(0, 500)}`);
        assert.ok(err.message.length < 2000, `${c.name}: message is ${err.message.length} chars`);
        return true;
      },
    );
    assert.equal(await latestRun(), runBefore, `${c.name}: a workflow run was started`);
    await assertNothingChanged(world, before, c.name, [marker.dollar]);
  });
}
