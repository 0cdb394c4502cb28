import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { approvalUpdate, interveneSignal } from '../src/workflows/definitions';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';
import {
  STAGE_WAIT_MS,
  answeringVersion,
  closeIfOpen,
  currentRelease,
  deployStatusAttribute,
  ledger,
  patientHealth,
  releaseDirOf,
  temporalCli,
} from './helpers/workflow-probes';

// Every compensation path on staging: 1.1.0 is the good release that rollbacks return to; 2.0.0 is the
// known-bad one whose validate fails. A gate before validate holds the deploy after it mutated, which is
// when the test takes the previous release directory away so that rollbackDeploy fails for real.
let world: DeployWorld;
const STAGING_ID = 'deploy-hello-service-staging';
const gateBeforeValidate = { before: 'validate', approvers: ['alice', 'bob'], quorum: 1, requesterMayApprove: false, timeoutMinutes: 60, onTimeout: 'reject' };

before(async () => {
  world = await startDeployWorld({ specOverrides: patientHealth });
  await world.startWorker();
});
after(async () => {
  await world?.cleanup();
});

async function deployCleanly(version: string): Promise<void> {
  await world.updateSpec((spec) => {
    delete spec.environments.staging.gates;
    delete spec.environments.staging.health;
  });
  const { status, result } = await world.outcome(await world.deploy({ environment: 'staging', version }));
  assert.equal(status, 'succeeded', JSON.stringify(result?.timeline, null, 1));
  assert.equal(await answeringVersion(world, 'staging'), version);
}

/**
 * Deploys the known-bad 2.0.0 over 1.1.0 and, while it waits at the gate before validate, moves 1.1.0's
 * release directory away; the approval lets validate fail, and the rollback then cannot find its target.
 */
async function deployWithBrokenRollback(): Promise<{ handle: WorkflowHandle; restore: () => Promise<void> }> {
  await world.updateSpec((spec) => {
    spec.environments.staging.gates = [gateBeforeValidate];
  });
  const handle = await world.deploy({ environment: 'staging', version: '2.0.0', requestedBy: 'carol' });
  await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval' && s.stage === 'validate', STAGE_WAIT_MS);
  const previousDir = await releaseDirOf(world, 'staging', '1.1.0');
  const heldAway = path.join(world.dataDir, `held-away-${path.basename(previousDir)}`);
  await fs.rename(previousDir, heldAway);
  let restored = false;
  const restore = async () => {
    if (restored) return;
    restored = true;
    await fs.rename(heldAway, previousDir);
  };
  await world.approve(handle, 'alice');
  await world.waitForStatus(handle, (s) => s.status === 'needs_intervention', STAGE_WAIT_MS);
  return { handle, restore };
}

test('baseline: 1.1.0 is live on staging', async () => {
  await deployCleanly('1.1.0');
});

test('a failed rollback is never swallowed: needs_intervention names it; retry after the fix rolls back', async (t) => {
  const { handle, restore } = await deployWithBrokenRollback();
  t.after(async () => {
    await restore().catch(() => undefined);
    await closeIfOpen(handle);
  });

  const stuck = await world.status(handle);
  assert.equal(stuck.stage, 'compensating');
  assert.equal(stuck.pendingIntervention?.compensation, 'rollbackDeploy');
  assert.match(stuck.pendingIntervention?.error ?? '', /cannot roll back to release 1\.1\.0-[0-9a-f]+: .* no longer exists/);
  assert.match(stuck.waitingFor ?? '', /rollbackDeploy failed .*send intervene with action retry, skip or abort/);
  assert.equal(await deployStatusAttribute(handle), 'needs_intervention');
  const metadata = await temporalCli(world, ['workflow', 'metadata', '--workflow-id', STAGING_ID]);
  assert.match(metadata.stdout, /needs_intervention/);

  // No gate is waiting now: the approval update says so to its caller.
  const refused = await handle.executeUpdate(approvalUpdate, { args: [{ decision: 'approve', by: 'bob' }] }).then(
    () => assert.fail('the approval update was accepted with no gate waiting'),
    (e: unknown) => e,
  );
  assert.ok(refused instanceof WorkflowUpdateFailedError);
  assert.match((refused.cause as Error).message, /no approval gate is waiting in this deploy/);
  assert.equal((await world.status(handle)).status, 'needs_intervention');

  await restore();
  await handle.signal(interveneSignal, { by: 'alice', action: 'retry', comment: 'release directory restored', signature: await world.sign(handle, 'intervene:retry', 'alice') });
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'rolled_back', JSON.stringify(result?.timeline, null, 1));
  assert.deepEqual(result.compensations.map((c) => `${c.name}:${c.status}${c.by ? `:${c.by}` : ''}`), [
    'rollbackDeploy:failed', 'rollbackDeploy:retried:alice', 'rollbackDeploy:succeeded',
  ]);
  assert.ok(result.timeline.some((e) => e.kind === 'intervention' && /^retry by alice \(signed, key SHA256:[A-Za-z0-9+/]+\)$/.test(e.event) && e.detail === 'release directory restored'));
  assert.equal(await answeringVersion(world, 'staging'), '1.1.0');
  assert.match((await currentRelease(world, 'staging')) ?? '', /^1\.1\.0-/);
  assert.equal(await deployStatusAttribute(handle), 'rolled_back');
  assert.equal((await handle.describe()).status.name, 'FAILED');
});

test('skip: a named human takes responsibility for the failed rollback; the deploy ends rolled_back with the skip recorded', async (t) => {
  const { handle, restore } = await deployWithBrokenRollback();
  t.after(async () => {
    await restore().catch(() => undefined);
    await closeIfOpen(handle);
  });
  await handle.signal(interveneSignal, { by: 'bob', action: 'skip', comment: 'rolled back by hand', signature: await world.sign(handle, 'intervene:skip', 'bob') });
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'rolled_back');
  assert.deepEqual(result.compensations.map((c) => `${c.name}:${c.status}${c.by ? `:${c.by}` : ''}`), ['rollbackDeploy:failed', 'rollbackDeploy:skipped:bob']);
  assert.ok(result.timeline.some((e) => e.kind === 'intervention' && /^skip by bob \(signed, key SHA256:[A-Za-z0-9+/]+\)$/.test(e.event) && e.detail === 'rolled back by hand'));
  assert.equal(await deployStatusAttribute(handle), 'rolled_back');
  // Skipping undoes nothing: 2.0.0 is still current until someone acts; here the operator redeploys 1.1.0.
  assert.match((await currentRelease(world, 'staging')) ?? '', /^2\.0\.0-/);
  await restore();
  await deployCleanly('1.1.0');
});

test('abort: the deploy ends failed and says who aborted it', async (t) => {
  const { handle, restore } = await deployWithBrokenRollback();
  t.after(async () => {
    await restore().catch(() => undefined);
    await closeIfOpen(handle);
  });
  await handle.signal(interveneSignal, { by: 'alice', action: 'abort', comment: 'paging the on-call', signature: await world.sign(handle, 'intervene:abort', 'alice') });
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'failed');
  assert.match(result.reason ?? '', /rollbackDeploy failed and alice aborted the deploy: paging the on-call/);
  assert.deepEqual(result.compensations.map((c) => `${c.name}:${c.status}`), ['rollbackDeploy:failed']);
  assert.equal(await deployStatusAttribute(handle), 'failed');
  await restore();
  await deployCleanly('1.1.0');
});

/** Validate takes long enough to be caught: 60 consecutive successes at 250 ms. */
async function slowValidate(): Promise<void> {
  await world.updateSpec((spec) => {
    delete spec.environments.staging.gates;
    spec.environments.staging.health = { consecutiveSuccesses: 60, windowMs: 40_000 };
  });
}

async function assertCancelledAndRolledBack(handle: WorkflowHandle): Promise<void> {
  const { status } = await world.outcome(handle);
  assert.equal(status, 'cancelled');
  const desc = await handle.describe();
  assert.equal(desc.status.name, 'CANCELLED');
  assert.equal(await deployStatusAttribute(handle), 'cancelled');
  const final = await world.status(handle);
  assert.equal(final.status, 'cancelled');
  assert.ok(final.timeline.some((e) => e.kind === 'compensation' && e.event === 'rollbackDeploy succeeded'), JSON.stringify(final.timeline, null, 1));
  assert.equal(await answeringVersion(world, 'staging'), '1.1.0');
  assert.match((await currentRelease(world, 'staging')) ?? '', /^1\.1\.0-/);
}

test('cancel during validate (client handle.cancel): compensations run, 1.1.0 answers, the workflow is CANCELLED', async (t) => {
  await slowValidate();
  const handle = await world.deploy({ environment: 'staging', version: '1.0.0' });
  t.after(() => closeIfOpen(handle));
  await world.waitForStatus(handle, (s) => s.stage === 'validate', STAGE_WAIT_MS);
  await handle.cancel();
  await assertCancelledAndRolledBack(handle);
});

test('cancel during validate with `temporal workflow cancel`: the same', async (t) => {
  await slowValidate();
  const handle = await world.deploy({ environment: 'staging', version: '1.0.0' });
  t.after(() => closeIfOpen(handle));
  await world.waitForStatus(handle, (s) => s.stage === 'validate', STAGE_WAIT_MS);
  const r = await temporalCli(world, ['workflow', 'cancel', '--workflow-id', STAGING_ID]);
  assert.equal(r.code, 0, r.stderr);
  await assertCancelledAndRolledBack(handle);
});

test('cancel while production waits at its gate: cancelled, nothing built into the environment, nothing migrated', async (t) => {
  const handle = await world.deploy({ environment: 'production', version: '1.0.0', requestedBy: 'carol' });
  t.after(() => closeIfOpen(handle));
  await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', STAGE_WAIT_MS);
  await handle.cancel();
  const { status } = await world.outcome(handle);
  assert.equal(status, 'cancelled');
  assert.equal((await handle.describe()).status.name, 'CANCELLED');
  assert.equal(await deployStatusAttribute(handle), 'cancelled');
  const final = await world.status(handle);
  assert.equal(final.pendingGate, undefined, 'no gate is pending after the cancel');
  assert.equal(final.timeline.filter((e) => e.kind === 'compensation').length, 0);
  assert.deepEqual(await ledger(world, 'production'), []);
  assert.equal(await currentRelease(world, 'production'), null);
});
