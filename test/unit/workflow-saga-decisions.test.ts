import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { interveneSignal } from '../../src/workflows/definitions';
import type { StageName } from '../../src/workflows/types';
import { callsOf } from './helpers/stand-ins';
import { startWorkflowEnv, type WorkflowEnv } from './helpers/workflow-env';

// The workflow's saga with stand-in activities: what is undone after each failure, in which order, what an
// operator's intervention does, what a cancel in each stage leaves behind, and that bookkeeping never
// undoes a release that passed validation.
let env: WorkflowEnv;
before(async () => {
  env = await startWorkflowEnv();
});
after(async () => {
  await env?.stop();
});

const names = (handle: WorkflowHandle) => callsOf(handle.workflowId).map((c) => c.name);
const needsIntervention = (handle: WorkflowHandle) => env.waitFor(handle, (s) => s.status === 'needs_intervention', 'in needs_intervention');

test('validate fails: the deploy is rolled back after validate, and the outcome is rolled_back', async () => {
  const handle = await env.start({ behaviour: { validate: 'fail' } });
  const { result, failed } = await env.outcome(handle);
  assert.equal(failed, true);
  assert.equal(result.outcome, 'rolled_back');
  assert.deepEqual(names(handle), ['plan', 'build', 'preChecks', 'migrate', 'deploy', 'validate', 'rollbackDeploy', 'recordRelease']);
  assert.deepEqual(result.compensations.map((c) => `${c.name}:${c.status}`), ['rollbackDeploy:succeeded']);
  const record = callsOf(handle.workflowId).at(-1)!.args as { outcome: string };
  assert.equal(record.outcome, 'rolled_back');
});

test('deploy fails half-way: its compensation still runs, because it was pushed before the stage started', async () => {
  const handle = await env.start({ behaviour: { deploy: 'fail' } });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'rolled_back');
  assert.deepEqual(names(handle), ['plan', 'build', 'preChecks', 'migrate', 'deploy', 'rollbackDeploy', 'recordRelease']);
});

for (const stage of ['build', 'preChecks', 'migrate'] as const) {
  test(`${stage} fails: nothing was changed that needs undoing, so the deploy ends failed (not rolled_back)`, async () => {
    const handle = await env.start({ behaviour: { [stage]: 'fail' } });
    const { result } = await env.outcome(handle);
    assert.equal(result.outcome, 'failed');
    assert.ok(!names(handle).includes('rollbackDeploy'));
    assert.equal(names(handle).at(-1), 'recordRelease');
    assert.equal(result.stages.at(-1)?.stage, stage);
    assert.equal(result.stages.at(-1)?.status, 'failed');
  });
}

test('a transient stage failure is retried and the deploy succeeds', async () => {
  const handle = await env.start({ behaviour: { preChecks: { failTimes: 2 } } });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'succeeded');
  assert.deepEqual(callsOf(handle.workflowId).filter((c) => c.name === 'preChecks').map((c) => c.attempt), [1, 2, 3]);
});

test('a failed rollback waits in needs_intervention; retry runs it again and the deploy ends rolled_back', async () => {
  const handle = await env.start({ behaviour: { validate: 'fail' }, rollbackFailures: 1 });
  const s = await needsIntervention(handle);
  assert.equal(s.pendingIntervention?.compensation, 'rollbackDeploy');
  assert.match(s.pendingIntervention!.error, /rollbackDeploy failed/);
  assert.equal((await handle.describe()).searchAttributes?.DeployStatus?.[0], 'needs_intervention');
  await handle.signal(interveneSignal, { by: 'alice', action: 'retry', comment: 'disk freed' });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'rolled_back');
  assert.deepEqual(result.compensations.map((c) => `${c.status}${c.by ? `:${c.by}` : ''}`), ['failed', 'retried:alice', 'succeeded']);
  assert.equal(names(handle).filter((n) => n === 'rollbackDeploy').length, 2);
});

test('skip carries on as if the rollback had succeeded, recorded as the operator\'s decision', async () => {
  const handle = await env.start({ behaviour: { validate: 'fail' }, rollbackFailures: 5 });
  await needsIntervention(handle);
  await handle.signal(interveneSignal, { by: 'bob', action: 'skip', comment: 'restored by hand' });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'rolled_back');
  assert.deepEqual(result.compensations.map((c) => `${c.status}${c.by ? `:${c.by}` : ''}`), ['failed', 'skipped:bob']);
});

test('abort ends the deploy failed, saying who aborted', async () => {
  const handle = await env.start({ behaviour: { validate: 'fail' }, rollbackFailures: 5 });
  await needsIntervention(handle);
  await handle.signal(interveneSignal, { by: 'alice', action: 'abort', comment: 'handing over' });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'failed');
  assert.match(result.reason!, /rollbackDeploy failed and alice aborted the deploy: handing over/);
});

test('an intervention while nothing waits for one is refused and recorded', async () => {
  const handle = await env.start({ behaviour: { migrate: 'block' } });
  await env.waitFor(handle, (s) => s.stage === 'migrate', 'in migrate');
  await handle.signal(interveneSignal, { by: 'mallory', action: 'skip' });
  const s = await env.waitFor(handle, (v) => v.timeline.some((t) => t.kind === 'signal_refused'), 'showing the refusal');
  assert.match(s.timeline.find((t) => t.kind === 'signal_refused')!.detail!, /not waiting for an intervention/);
  await handle.cancel();
});

const undoneAfterCancelIn: Record<StageName, boolean> = { build: false, preChecks: false, migrate: false, deploy: true, validate: true };
for (const [stage, undone] of Object.entries(undoneAfterCancelIn) as Array<[StageName, boolean]>) {
  test(`cancel during ${stage}: the activity is cancelled, ${undone ? 'the deploy is rolled back' : 'nothing needs undoing'}, and the deploy ends cancelled`, async () => {
    const handle = await env.start({ behaviour: { [stage]: 'block' } });
    await env.waitFor(handle, (s) => s.stage === stage && callsOf(handle.workflowId).some((c) => c.name === stage), `in ${stage}`);
    await handle.cancel();
    await assert.rejects(handle.result());
    const described = await handle.describe();
    assert.equal(described.status.name, 'CANCELLED');
    assert.equal(described.searchAttributes?.DeployStatus?.[0], 'cancelled');
    assert.equal(names(handle).includes('rollbackDeploy'), undone);
    const record = callsOf(handle.workflowId).at(-1)!;
    assert.equal(record.name, 'recordRelease');
    assert.equal((record.args as { outcome: string }).outcome, 'cancelled');
  });
}

test('cancel at a gate: nothing ran after the gate and nothing is undone', async () => {
  const handle = await env.start({ gates: [{ before: 'migrate', approvers: [], quorum: 1, requesterMayApprove: false, timeoutMs: 3_600_000 }] });
  await env.waitFor(handle, (s) => s.status === 'awaiting_approval', 'awaiting approval');
  await handle.cancel();
  await assert.rejects(handle.result());
  assert.deepEqual(names(handle), ['plan', 'build', 'preChecks', 'recordRelease']);
});

test('a release that passed validation ends succeeded even when its registry record is refused; nothing is rolled back', async () => {
  const handle = await env.start({ behaviour: { recordRelease: 'fail' } });
  const { result, failed } = await env.outcome(handle);
  assert.equal(failed, false);
  assert.equal(result.outcome, 'succeeded');
  assert.ok(!names(handle).includes('rollbackDeploy'));
  assert.ok(result.timeline.some((t) => /recording succeeded in the release registry failed/.test(t.event)));
  assert.equal((await handle.describe()).searchAttributes?.DeployStatus?.[0], 'succeeded');
});

test('a registry record that fails for a while is retried until it lands; the deploy succeeds', async () => {
  const handle = await env.start({ behaviour: { recordRelease: { failTimes: 2 } } });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'succeeded');
  assert.deepEqual(callsOf(handle.workflowId).filter((c) => c.name === 'recordRelease').map((c) => c.attempt), [1, 2, 3]);
  assert.ok(!names(handle).includes('rollbackDeploy'));
});

test('a final record that fails after a rollback still ends the deploy with its outcome published', async () => {
  const handle = await env.start({ behaviour: { validate: 'fail', recordRelease: 'fail' } });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'rolled_back');
  assert.equal((await handle.describe()).searchAttributes?.DeployStatus?.[0], 'rolled_back');
});
