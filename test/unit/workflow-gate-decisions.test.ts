import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { approvalUpdate, approveSignal, rejectSignal } from '../../src/workflows/definitions';
import type { GatePlan } from '../../src/workflows/types';
import { callsOf } from './helpers/stand-ins';
import { startWorkflowEnv, type WorkflowEnv } from './helpers/workflow-env';

// The workflow's gate decisions with stand-in activities: who may approve, how many, what a rejection or a
// timeout does, what the update answers, and the deploy lock.
let env: WorkflowEnv;
before(async () => {
  env = await startWorkflowEnv();
});
after(async () => {
  await env?.stop();
});

const gate = (g: Partial<GatePlan> = {}): GatePlan => ({ before: 'migrate', approvers: ['alice', 'bob'], quorum: 1, requesterMayApprove: false, timeoutMs: 3_600_000, ...g });
const names = (handle: WorkflowHandle) => callsOf(handle.workflowId).map((c) => c.name);
const waiting = (handle: WorkflowHandle) => env.waitFor(handle, (s) => s.status === 'awaiting_approval', 'awaiting approval');
const refusals = (handle: WorkflowHandle, n: number) =>
  env.waitFor(handle, (s) => s.timeline.filter((t) => t.kind === 'signal_refused').length >= n, `showing ${n} refused signal(s)`).then((s) => s.timeline.filter((t) => t.kind === 'signal_refused'));

async function updateRefusal(handle: WorkflowHandle, args: { decision: 'approve' | 'reject'; by: string; comment?: string }): Promise<string> {
  const err = await handle.executeUpdate(approvalUpdate, { args: [args] }).then(
    () => assert.fail(`the update by ${args.by} was accepted`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowUpdateFailedError, String(err));
  return (err.cause as Error).message;
}

test('without a gate every stage runs once, in order, then the record; the deploy succeeds', async () => {
  const handle = await env.start();
  const { result, failed } = await env.outcome(handle);
  assert.equal(failed, false);
  assert.equal(result.outcome, 'succeeded');
  assert.deepEqual(names(handle), ['plan', 'build', 'preChecks', 'migrate', 'deploy', 'validate', 'recordRelease']);
  assert.deepEqual(result.stages.map((s) => `${s.stage}:${s.status}`), ['plan:succeeded', 'build:succeeded', 'preChecks:succeeded', 'migrate:succeeded', 'deploy:succeeded', 'validate:succeeded']);
  const described = await handle.describe();
  assert.equal(described.searchAttributes?.DeployStatus?.[0], 'succeeded');
});

test('a gate holds the deploy before its stage and shows who may decide, how many and by when', async () => {
  const handle = await env.start({ gates: [gate()] });
  const s = await waiting(handle);
  assert.equal(s.stage, 'migrate');
  assert.deepEqual(s.pendingGate && { stage: s.pendingGate.stage, approvers: s.pendingGate.approvers, needed: s.pendingGate.needed, given: s.pendingGate.given }, { stage: 'migrate', approvers: ['alice', 'bob'], needed: 1, given: 0 });
  assert.deepEqual(names(handle), ['plan', 'build', 'preChecks']);
  assert.equal((await handle.describe()).searchAttributes?.DeployStatus?.[0], 'awaiting_approval');
  await handle.signal(approveSignal, { by: 'alice', comment: 'ok' });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'succeeded');
  assert.deepEqual(result.approvals.map((a) => [a.by, a.via, a.comment]), [['alice', 'signal', 'ok']]);
  // The approvals reach the registry's live row with the deploy, not only at the end.
  const deployCall = callsOf(handle.workflowId).find((c) => c.name === 'deploy')!;
  assert.deepEqual((deployCall.args as { approvals: Array<{ by: string }> }).approvals.map((a) => a.by), ['alice']);
});

test('someone who is not an approver is refused, and the refusal is recorded with who and why', async () => {
  const handle = await env.start({ gates: [gate()] });
  await waiting(handle);
  await handle.signal(approveSignal, { by: 'mallory' });
  const [refused] = await refusals(handle, 1);
  assert.match(refused!.event, /approve by mallory refused/);
  assert.match(refused!.detail!, /not an approver.*allowed: alice, bob/);
  assert.equal((await waiting(handle)).pendingGate?.given, 0);
  await handle.cancel();
});

test('the requester may not approve their own deploy unless the gate allows it', async () => {
  const strict = await env.start({ gates: [gate()] }, { requestedBy: 'bob' });
  await waiting(strict);
  assert.match(await updateRefusal(strict, { decision: 'approve', by: 'bob' }), /bob requested this deploy and may not approve it/);
  await strict.cancel();

  const lenient = await env.start({ gates: [gate({ requesterMayApprove: true })] }, { requestedBy: 'bob' });
  await waiting(lenient);
  await lenient.signal(approveSignal, { by: 'bob' });
  assert.equal((await env.outcome(lenient)).result.outcome, 'succeeded');
});

test('a quorum of two needs two distinct approvers: a second approval by the same person is refused', async () => {
  const handle = await env.start({ gates: [gate({ quorum: 2 })] });
  await waiting(handle);
  await handle.signal(approveSignal, { by: 'alice' });
  await env.waitFor(handle, (s) => s.pendingGate?.given === 1, 'one approval given');
  assert.match(await updateRefusal(handle, { decision: 'approve', by: 'alice' }), /alice has already approved; the gate needs 2 distinct approvers/);
  const state = await handle.executeUpdate(approvalUpdate, { args: [{ decision: 'approve', by: 'bob' }] });
  assert.equal(state.decision, 'approved');
  assert.equal(state.given, 2);
  const { result } = await env.outcome(handle);
  assert.deepEqual(result.approvals.map((a) => [a.by, a.via]), [['alice', 'signal'], ['bob', 'update']]);
});

test('a rejection ends the deploy as rejected before the gated stage; nothing after it runs and nothing is undone', async () => {
  const handle = await env.start({ gates: [gate()] });
  await waiting(handle);
  await handle.signal(rejectSignal, { by: 'bob', reason: 'not during the sale' });
  const { result, failed } = await env.outcome(handle);
  assert.equal(failed, true);
  assert.equal(result.outcome, 'rejected');
  assert.match(result.reason!, /rejected by bob: not during the sale/);
  assert.deepEqual(names(handle), ['plan', 'build', 'preChecks', 'recordRelease']);
  assert.deepEqual(result.compensations, []);
});

test('a gate that gets no decision in time rejects the deploy', async () => {
  const handle = await env.start({ gates: [gate({ timeoutMs: 1500 })] });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'rejected');
  assert.match(result.reason!, /approval gate before migrate timed out/);
  assert.ok(result.timeline.some((t) => t.kind === 'gate' && t.event === 'timed out'));
});

test('the update is refused with the reason when no gate waits, and a refused update leaves no trace in history', async () => {
  const handle = await env.start({ gates: [gate({ before: 'validate' })], behaviour: { migrate: 'block' } });
  await env.waitFor(handle, (s) => s.stage === 'migrate', 'in migrate');
  assert.match(await updateRefusal(handle, { decision: 'approve', by: 'alice' }), /no approval gate is waiting/);
  assert.match(await updateRefusal(handle, { decision: 'approve', by: 'alice', comment: 'bad\u0007bell' }), /comment.*control/);
  await handle.cancel();
  await env.outcome(handle).catch(() => undefined);
  const history = await handle.fetchHistory();
  const updateEvents = (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionUpdateCompletedEventAttributes);
  assert.equal(updateEvents.length, 0);
});

test('a malformed signal payload is refused as invalid, naming the field', async () => {
  const handle = await env.start({ gates: [gate()] });
  await waiting(handle);
  await handle.signal(approveSignal, { by: 'alice', extra: 'x' } as never);
  await handle.signal(approveSignal, 'alice' as never);
  const refused = await refusals(handle, 2);
  assert.match(refused[0]!.event, /approve refused: invalid payload/);
  assert.match(refused[0]!.detail!, /extra/);
  assert.equal((await waiting(handle)).pendingGate?.given, 0);
  await handle.cancel();
});

test('a rejection at a gate after deploy rolls the deploy back', async () => {
  const handle = await env.start({ gates: [gate({ before: 'validate' })] });
  await waiting(handle);
  await handle.executeUpdate(approvalUpdate, { args: [{ decision: 'reject', by: 'alice', comment: 'wrong build' }] });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'rejected');
  assert.deepEqual(names(handle), ['plan', 'build', 'preChecks', 'migrate', 'deploy', 'rollbackDeploy', 'recordRelease']);
  assert.deepEqual(result.compensations.map((c) => `${c.name}:${c.status}`), ['rollbackDeploy:succeeded']);
});

test('the deploy lock: a second start under the same ID is refused while the first runs', async () => {
  const first = await env.start({ gates: [gate()] });
  await waiting(first);
  await assert.rejects(
    env.client.workflow.start('deployRelease', { taskQueue: env.taskQueue, workflowId: first.workflowId, workflowIdConflictPolicy: 'FAIL', args: [{}] }),
    WorkflowExecutionAlreadyStartedError,
  );
  await first.cancel();
});

test('the deploy lock: a deploy started under another ID is refused by the real plan, once, naming the right ID', async () => {
  const handle = await env.start({ realPlan: true }, { spec: 'examples/hello-service/deploy.yaml' }, 'deploy-hello-service-somewhere-else');
  const err = await handle.result().then(
    () => assert.fail('the deploy ran under a foreign ID'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError);
  assert.match(String((err.cause as Error).message), /not this deploy's lock; start it with --workflow-id deploy-hello-service-staging/);
  const plans = callsOf(handle.workflowId).filter((c) => c.name === 'plan');
  assert.equal(plans.length, 1, 'a refusal is not retried');
});
