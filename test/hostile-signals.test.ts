import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { approvalUpdate } from '../src/workflows/definitions';
import type { DeployStatusView } from '../src/workflows/types';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';
import { assertNothingChanged, markerFile, snapshotWorld, type WorldSnapshot } from './helpers/hostile';

/**
 * Hostile signals and updates at an approval gate. Production is gated before build (so nothing has been
 * built while it waits) by alice, bob or dave with a quorum of 2, and alice requested the deploy. Refused
 * signals are recorded in the timeline (a signal has no way to answer its sender); refused updates fail
 * for their caller. No refused decision may count, and the rejected deploy changes nothing.
 */

let world: DeployWorld;
let handle: WorkflowHandle;
let atGate: WorldSnapshot;

before(async () => {
  world = await startDeployWorld({
    specOverrides: (spec) => {
      // Unsigned on purpose: this suite is about payload shapes and bounds (signatures: hostile-signed-decisions).
      spec.environments.production.gates = [{ before: 'build', approvers: ['alice', 'bob', 'dave'], quorum: 2, requesterMayApprove: false, timeoutMinutes: 60, signed: false }];
    },
  });
  await world.startWorker();
  atGate = await snapshotWorld(world);
  handle = await world.deploy({ environment: 'production', version: '1.0.0', requestedBy: 'alice' });
  await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval');
});
after(async () => {
  await world?.cleanup();
});

const refusedEntries = (s: DeployStatusView) => s.timeline.filter((t) => t.kind === 'signal_refused');
const approvalsOf = (s: DeployStatusView) => (s.pendingGate?.approvals ?? []).map((a) => a.by);

/** Sends a signal and waits until the workflow has recorded its refusal; returns "event — detail". */
async function signalRefused(name: string, payload: unknown): Promise<string> {
  const seen = refusedEntries(await world.status(handle)).length;
  await handle.signal(name, payload);
  const s = await world.waitForStatus(handle, (v) => refusedEntries(v).length > seen, 30_000);
  const entry = refusedEntries(s).at(-1)!;
  return `${entry.event} — ${entry.detail ?? ''}`;
}

async function updateRefused(payload: unknown): Promise<string> {
  try {
    await handle.executeUpdate(approvalUpdate, { args: [payload as never] });
  } catch (err) {
    assert.ok(err instanceof WorkflowUpdateFailedError, `expected WorkflowUpdateFailedError, got ${(err as Error).name}: ${(err as Error).message}`);
    return (err.cause as Error | undefined)?.message ?? err.message;
  }
  assert.fail(`the approval update with ${JSON.stringify(payload).slice(0, 200)} was accepted`);
}

const marker = markerFile('approver');
const MB = 1024 * 1024;

interface Case {
  name: string;
  via: 'signal' | 'update';
  signal?: 'approve' | 'reject' | 'intervene';
  payload: unknown;
  expect: RegExp;
}

const cases: Case[] = [
  // strangers and the requester
  { name: 'approve by a stranger', via: 'signal', signal: 'approve', payload: { by: 'mallory' }, expect: /mallory is not an approver.*allowed: alice, bob, dave/ },
  { name: 'approval update by a stranger', via: 'update', payload: { decision: 'approve', by: 'mallory' }, expect: /mallory is not an approver/ },
  { name: 'reject by a stranger', via: 'signal', signal: 'reject', payload: { by: 'mallory', reason: 'no' }, expect: /mallory is not an approver/ },
  { name: 'approve by the requester', via: 'signal', signal: 'approve', payload: { by: 'alice' }, expect: /alice requested this deploy and may not approve it/ },
  { name: 'approval update by the requester', via: 'update', payload: { decision: 'approve', by: 'alice' }, expect: /alice requested this deploy and may not approve it/ },
  // look-alike and control characters in the approver's name
  { name: 'approve by bоb (Cyrillic о)', via: 'signal', signal: 'approve', payload: { by: 'bоb' }, expect: /approve: by: must be a login or email/ },
  { name: 'approval update by da\\u200bve (zero-width space)', via: 'update', payload: { decision: 'approve', by: 'da\u200bve' }, expect: /approval: by: must be a login or email/ },
  { name: 'approve by dave\\u0000', via: 'signal', signal: 'approve', payload: { by: 'dave\u0000' }, expect: /approve: by: must be a login or email/ },
  { name: 'approve by $(touch marker)', via: 'signal', signal: 'approve', payload: { by: `$(touch ${marker})` }, expect: /approve: by: must be a login or email/ },
  { name: 'approve with a bidi override in the comment', via: 'signal', signal: 'approve', payload: { by: 'dave', comment: 'lgtm \u202eok' }, expect: /approve: comment: must not contain control, bidi or zero-width characters/ },
  { name: 'approval update with a 1 MB comment', via: 'update', payload: { decision: 'approve', by: 'dave', comment: 'x'.repeat(MB) }, expect: /approval: comment: must be at most 500 characters/ },
  // unknown fields, wrong types, missing fields
  { name: 'approve with an unknown field', via: 'signal', signal: 'approve', payload: { by: 'dave', quorum: 0 }, expect: /approve: .*quorum/ },
  { name: 'approve with a string payload', via: 'signal', signal: 'approve', payload: 'dave', expect: /approve: \(payload\): .*expected object/ },
  { name: 'approve without by', via: 'signal', signal: 'approve', payload: { comment: 'ship it' }, expect: /approve: by: .*expected string/ },
  { name: 'approval update with decision "maybe"', via: 'update', payload: { decision: 'maybe', by: 'dave' }, expect: /approval: decision: / },
  { name: 'approval update with by as a number', via: 'update', payload: { decision: 'approve', by: 7 }, expect: /approval: by: .*expected string/ },
  // an intervention nobody asked for
  { name: 'intervene while no compensation failed', via: 'signal', signal: 'intervene', payload: { by: 'dave', action: 'skip' }, expect: /intervene by dave refused — the deploy is not waiting for an intervention/ },
  { name: 'intervene with action "rm -rf"', via: 'signal', signal: 'intervene', payload: { by: 'dave', action: 'rm -rf /' }, expect: /intervene: action: / },
];

for (const c of cases) {
  test(`${c.via} refused at the gate: ${c.name}`, async () => {
    const message = c.via === 'signal' ? await signalRefused(c.signal!, c.payload) : await updateRefused(c.payload);
    assert.match(message, c.expect);
    assert.ok(message.length < 2000, `${c.name}: refusal is ${message.length} chars`);
    const s = await world.status(handle);
    assert.equal(s.status, 'awaiting_approval', `${c.name}: the gate stopped waiting`);
    assert.deepEqual(approvalsOf(s).filter((b) => b !== 'bob'), [], `${c.name}: a refused decision counted`);
    assert.equal(s.pendingGate?.decision, undefined);
  });
}

test('a duplicated approval counts once: bob approves, then bob again by signal (twice) and by update', async () => {
  await handle.signal('approve', { by: 'bob', comment: 'first' });
  const s1 = await world.waitForStatus(handle, (s) => approvalsOf(s).includes('bob'));
  assert.equal(s1.pendingGate?.needed, 1);
  const seen = refusedEntries(s1).length;
  await handle.signal('approve', { by: 'bob', comment: 'again' });
  await handle.signal('approve', { by: 'bob', comment: 'and again' });
  const s2 = await world.waitForStatus(handle, (s) => refusedEntries(s).length >= seen + 2);
  for (const e of refusedEntries(s2).slice(seen)) assert.match(`${e.event} — ${e.detail}`, /approve by bob refused — bob has already approved; the gate needs 2 distinct approvers/);
  assert.match(await updateRefused({ decision: 'approve', by: 'bob' }), /bob has already approved/);
  const s3 = await world.status(handle);
  assert.deepEqual(approvalsOf(s3), ['bob']);
  assert.equal(s3.pendingGate?.needed, 1);
  assert.equal(s3.status, 'awaiting_approval');
});

test('after all that, dave rejects: the deploy ends rejected and nothing was built, migrated, deployed or made live', async () => {
  const state = await handle.executeUpdate(approvalUpdate, { args: [{ decision: 'reject', by: 'dave', comment: 'hostile-input drill' }] });
  assert.equal(state.decision, 'rejected');
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'rejected');
  assert.deepEqual(result.approvals.map((a) => a.by), ['bob']);
  assert.deepEqual(result.stages.map((s) => `${s.stage}:${s.status}`), ['plan:succeeded']);
  await assertNothingChanged(world, atGate, 'rejected after hostile signals', [marker], { registry: 'live' });
  const rows = await world.orchestratorDb.query<{ status: string; approvals: unknown[] }>(`SELECT status, approvals FROM deploy_releases WHERE environment='production'`);
  assert.deepEqual(rows.map((r) => r.status), ['rejected']);
});
