import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { promoteSignal, rejectSignal } from '../../src/workflows/definitions';
import type { DeployPlan } from '../../src/workflows/types';
import { callsOf } from './helpers/stand-ins';
import { startWorkflowEnv, type WorkflowEnv } from './helpers/workflow-env';

// The rollout of blueGreen and canary strategies with stand-in activities: which traffic step runs when,
// what a failed analysis, a reject or a promote does, and that the replaced release is stopped only after
// the deploy is recorded as succeeded.
let env: WorkflowEnv;
before(async () => {
  env = await startWorkflowEnv();
});
after(async () => {
  await env?.stop();
});

const promotion = { promoters: ['alice'], signed: false, promoteTimeoutMs: 60_000, scaleDownDelayMs: 0 };
const canary = (steps: Extract<NonNullable<DeployPlan['strategy']>, { type: 'canary' }>['steps']): DeployPlan['strategy'] => ({ type: 'canary', steps, ...promotion });

/** Activity names with the weight of each shiftTraffic. */
const trace = (handle: WorkflowHandle) =>
  callsOf(handle.workflowId).map((c) => (c.name === 'shiftTraffic' ? `shiftTraffic:${(c.args as { weight: number }).weight}` : c.name));

test('canary 25 → 50 with analysis at each step: traffic moves in order, then promote, validate, record, retire', async () => {
  const handle = await env.start({ strategy: canary([{ setWeight: 25 }, { analysis: { against: 'canary' } }, { setWeight: 50 }, { analysis: { against: 'frontDoor' } }]) });
  const { result, failed } = await env.outcome(handle);
  assert.equal(failed, false);
  assert.equal(result.outcome, 'succeeded');
  assert.deepEqual(trace(handle), [
    'plan', 'build', 'preChecks', 'migrate',
    'startRelease', 'shiftTraffic:25', 'analyzeRelease', 'shiftTraffic:50', 'analyzeRelease', 'promoteRelease',
    'validate', 'recordRelease', 'retireReleases',
  ]);
  const analyses = callsOf(handle.workflowId).filter((c) => c.name === 'analyzeRelease').map((c) => (c.args as { against: string }).against);
  assert.deepEqual(analyses, ['canary', 'frontDoor']);
  const status = result.timeline.map((t) => t.event);
  assert.ok(status.some((e) => /step 1\/4: .* takes 25%/.test(e)), status.join('\n'));
});

test('a failed analysis at the first weight stops the canary there and switches back to the stable release', async () => {
  const handle = await env.start({ strategy: canary([{ setWeight: 25 }, { analysis: { against: 'canary' } }, { setWeight: 50 }, { analysis: { against: 'canary' } }]), failAnalysisCall: 1 });
  const { result, failed } = await env.outcome(handle);
  assert.equal(failed, true);
  assert.equal(result.outcome, 'rolled_back');
  assert.deepEqual(trace(handle).slice(4), ['startRelease', 'shiftTraffic:25', 'analyzeRelease', 'rollbackDeploy', 'recordRelease']);
  const rollback = callsOf(handle.workflowId).find((c) => c.name === 'rollbackDeploy')!.args as { previous: { version: string } | null };
  assert.equal(rollback.previous?.version, '0.9.0', 'the rollback goes back to the release that was stable when the canary started');
});

test('a pause without seconds waits for promote: a non-promoter is refused, the promoter resumes the canary', async () => {
  const handle = await env.start({ strategy: canary([{ setWeight: 25 }, { pause: {} }, { setWeight: 100 }]) });
  const paused = await env.waitFor(handle, (s) => s.pendingPromotion !== undefined, 'paused for promote');
  assert.equal(paused.status, 'awaiting_approval');
  assert.equal(paused.pendingPromotion?.stage, 'deploy:step-2');
  assert.deepEqual(paused.pendingPromotion?.promoters, ['alice']);
  assert.equal(paused.traffic?.weight, 25);
  assert.equal(paused.traffic?.step, 2);
  assert.equal(paused.traffic?.current, 'pause until promoted');

  await handle.signal(promoteSignal, { by: 'mallory' });
  const refused = await env.waitFor(handle, (s) => s.timeline.some((t) => t.kind === 'signal_refused'), 'refusing mallory');
  assert.match(refused.timeline.find((t) => t.kind === 'signal_refused')!.detail ?? '', /mallory may not promote/);
  assert.equal(refused.pendingPromotion?.stage, 'deploy:step-2', 'still paused');

  await handle.signal(promoteSignal, { by: 'alice', comment: 'error rate flat' });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'succeeded');
  assert.deepEqual(trace(handle).slice(4, 8), ['startRelease', 'shiftTraffic:25', 'shiftTraffic:100', 'promoteRelease']);
  assert.ok(result.timeline.some((t) => t.event === 'promoted at deploy:step-2 by alice'));
});

test('a reject at a promote pause stops the rollout: the stable release gets all traffic back, outcome rejected', async () => {
  const handle = await env.start({ strategy: canary([{ setWeight: 10 }, { pause: {} }, { setWeight: 50 }]) });
  await env.waitFor(handle, (s) => s.pendingPromotion !== undefined, 'paused for promote');
  await handle.signal(rejectSignal, { by: 'alice', reason: 'latency up' });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'rejected');
  assert.deepEqual(trace(handle).slice(4), ['startRelease', 'shiftTraffic:10', 'rollbackDeploy', 'recordRelease']);
});

test('blueGreen: preview analysis on the new release, pause for promote, then one switch', async () => {
  const handle = await env.start({ strategy: { type: 'blueGreen', previewAnalysis: true, pauseForPromote: true, ...promotion } });
  const paused = await env.waitFor(handle, (s) => s.pendingPromotion !== undefined, 'paused before the switch');
  assert.equal(paused.pendingPromotion?.stage, 'deploy:switch');
  assert.equal(paused.traffic?.weight, 0, 'no traffic reaches the new release before the switch');
  await handle.signal(promoteSignal, { by: 'alice' });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'succeeded');
  assert.deepEqual(trace(handle).slice(4), ['startRelease', 'analyzeRelease', 'promoteRelease', 'validate', 'recordRelease', 'retireReleases']);
});

test('validate fails after the switch: the rollback is the saga\'s switch back, and nothing is retired', async () => {
  const handle = await env.start({ strategy: canary([{ setWeight: 50 }]), behaviour: { validate: 'fail' } });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'rolled_back');
  assert.deepEqual(trace(handle).slice(4), ['startRelease', 'shiftTraffic:50', 'promoteRelease', 'validate', 'rollbackDeploy', 'recordRelease']);
});
