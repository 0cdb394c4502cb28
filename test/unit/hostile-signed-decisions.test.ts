import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { decisionStatementFor, signDecision, type SigningContext } from '../../src/client/signing';
import { parseAllowedSigners } from '../../src/trust/allowed-signers';
import { ensureKeys, writeAllowedSigners } from '../../src/trust/keys';
import { signStatement } from '../../src/trust/sign';
import type { SignedDecision } from '../../src/trust/statement';
import { approvalUpdate, statusQuery } from '../../src/workflows/definitions';
import type { DeployPlan, DeployStatusView, GatePlan } from '../../src/workflows/types';
import { callsOf, type Scenario } from './helpers/stand-ins';
import { startWorkflowEnv, type WorkflowEnv } from './helpers/workflow-env';

/**
 * Signed decisions, attacked through the real Temporal CLI: a name in a payload proves nothing, and a
 * signature proves only the exact decision of the exact run it was made for. Every refusal names its reason
 * and changes nothing; only alice's, bob's (and, for requests, carol's) keys are trusted, and mallory has a
 * real key that no allowed_signers line lists.
 */
const execFileAsync = promisify(execFile);
let env: WorkflowEnv;
let keysDir: string;
let keys: Record<string, string>;
let trust: NonNullable<DeployPlan['trust']>;
let fingerprints: Record<string, string>;

before(async () => {
  env = await startWorkflowEnv();
  keysDir = await fs.mkdtemp(path.join(os.tmpdir(), 'signed-decisions-'));
  const made = await ensureKeys(keysDir, ['alice', 'bob', 'carol', 'mallory']);
  keys = Object.fromEntries(made.map((k) => [k.name, k.privateKeyFile]));
  const file = path.join(keysDir, 'allowed_signers');
  const text = await writeAllowedSigners(file, made.filter((k) => k.name !== 'mallory').map((k) => ({ principal: k.name, publicKeyLine: k.publicKeyLine })));
  trust = { allowedSigners: parseAllowedSigners(text), source: 'allowed_signers', sha256: '0'.repeat(64) };
  fingerprints = {};
  for (const k of made) fingerprints[k.name] = (await execFileAsync('ssh-keygen', ['-lf', k.publicKeyFile])).stdout.split(' ')[1]!;
});
after(async () => {
  await env?.stop();
  if (keysDir) await fs.rm(keysDir, { recursive: true, force: true });
});

const signedGate: GatePlan = { before: 'migrate', approvers: ['alice', 'bob'], quorum: 1, requesterMayApprove: false, timeoutMs: 3_600_000, signed: true };
const signedScenario = (extra: Partial<Scenario> = {}): Scenario => ({ gates: [signedGate], trust, intervention: { operators: ['alice', 'bob'], signed: true }, ...extra });

async function atGate(scenario = signedScenario(), input = {}): Promise<{ handle: WorkflowHandle; context: SigningContext }> {
  const handle = await env.start(scenario, input);
  const s = await env.waitFor(handle, (v) => v.status === 'awaiting_approval', 'awaiting approval');
  assert.equal(s.pendingGate?.signed, true);
  return { handle, context: s.pendingGate!.sign! };
}

/** `temporal workflow signal` through the real binary. */
async function cliSignal(handle: WorkflowHandle, name: string, payload: unknown): Promise<void> {
  await execFileAsync(env.temporal.cli, ['workflow', 'signal', '--address', env.temporal.address, '--workflow-id', handle.workflowId, '--name', name, '--input', JSON.stringify(payload)]);
}

const refused = (s: DeployStatusView) => s.timeline.filter((t) => t.kind === 'signal_refused');

/** Sends a signal with the CLI and returns the refusal the workflow recorded for it; asserts nothing counted. */
async function refusedSignal(handle: WorkflowHandle, name: string, payload: unknown): Promise<string> {
  const before = refused(await handle.query(statusQuery)).length;
  await cliSignal(handle, name, payload);
  const s = await env.waitFor(handle, (v) => refused(v).length > before, 'recording the refusal');
  assert.equal(s.pendingGate?.given ?? 0, 0, 'a refused decision counted');
  assert.ok(s.status === 'awaiting_approval' || s.status === 'needs_intervention', `still waiting (${s.status})`);
  const entry = refused(s).at(-1)!;
  return `${entry.event} — ${entry.detail}`;
}

const sign = (context: SigningContext, decision: SignedDecision, by: string, keyOf = by) => signDecision(context, decision, by, keys[keyOf]!);

test('unsigned, garbage and wrong-key approvals as alice each leave the gate waiting, each naming why', async () => {
  const { handle, context } = await atGate();
  assert.match(await refusedSignal(handle, 'approve', { by: 'alice' }), /approve by alice refused — approve before migrate must be signed by alice's key/);
  assert.match(await refusedSignal(handle, 'approve', { by: 'alice', signature: 'not a signature' }), /signature refused: .*(armor|BEGIN SSH SIGNATURE)/i);
  assert.match(await refusedSignal(handle, 'approve', { by: 'alice', signature: await sign(context, 'approve', 'alice', 'mallory') }), /signature refused: .*(not listed|not in|allowed)/i);
  assert.match(await refusedSignal(handle, 'approve', { by: 'alice', signature: await sign(context, 'approve', 'alice', 'bob') }), /signature refused/);
  assert.match(await refusedSignal(handle, 'approve', { by: 'alice', signature: 'x'.repeat(9000) }), /invalid payload.*signature.*8192/);
  await handle.cancel();
});

test('a signature over another decision, version, stage or namespace is refused', async () => {
  const { handle, context } = await atGate();
  assert.match(await refusedSignal(handle, 'approve', { by: 'alice', signature: await sign(context, 'reject', 'alice') }), /signature refused: .*(does not match|statement)/i);
  assert.match(await refusedSignal(handle, 'approve', { by: 'alice', signature: await sign({ ...context, version: '9.9.9' }, 'approve', 'alice') }), /signature refused/);
  assert.match(await refusedSignal(handle, 'approve', { by: 'alice', signature: await sign({ ...context, stage: 'validate' }, 'approve', 'alice') }), /signature refused/);
  const otherNamespace = await signStatement({ statement: decisionStatementFor(context, 'approve', 'alice'), keyFile: keys.alice!, namespace: 'git' });
  assert.match(await refusedSignal(handle, 'approve', { by: 'alice', signature: otherNamespace }), /signature refused: .*namespace/i);
  await handle.cancel();
});

test('an approval replayed onto a restarted run is refused', async () => {
  const first = await atGate();
  const payload = { by: 'alice', signature: await sign(first.context, 'approve', 'alice') };
  await first.handle.cancel();
  await env.outcome(first.handle).catch(() => undefined);
  const second = await env.start(signedScenario(), {}, first.handle.workflowId);
  await env.waitFor(second, (v) => v.status === 'awaiting_approval', 'awaiting approval again');
  assert.notEqual((await second.describe()).runId, first.context.runId);
  assert.match(await refusedSignal(second, 'approve', payload), /signature refused/);
  await second.cancel();
});

test('the requester cannot approve their own deploy even with a valid signature; a non-approver is refused by name first', async () => {
  const { handle, context } = await atGate(signedScenario({ gates: [{ ...signedGate, approvers: ['alice', 'bob', 'carol'] }] }), { requestedBy: 'carol' });
  assert.match(await refusedSignal(handle, 'approve', { by: 'carol', signature: await sign(context, 'approve', 'carol') }), /carol requested this deploy and may not approve it/);
  assert.match(await refusedSignal(handle, 'approve', { by: 'mallory', signature: await sign(context, 'approve', 'mallory') }), /mallory is not an approver/);
  await handle.cancel();
});

test('the update refuses bad signatures to its caller and leaves no trace in history', async () => {
  const { handle, context } = await atGate();
  for (const signature of [undefined, await sign(context, 'approve', 'alice', 'mallory'), await sign(context, 'reject', 'alice')]) {
    const err = await handle.executeUpdate(approvalUpdate, { args: [{ decision: 'approve', by: 'alice', ...(signature ? { signature } : {}) }] }).then(
      () => assert.fail('accepted'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowUpdateFailedError);
    assert.match((err.cause as Error).message, /must be signed|signature refused/);
  }
  const history = await handle.fetchHistory();
  assert.equal((history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length, 0);
  await handle.cancel();
});

test('alice\'s signed approval through the Temporal CLI approves; the result shows signer, key fingerprint and statement', async () => {
  const { handle, context } = await atGate();
  await cliSignal(handle, 'approve', { by: 'alice', comment: 'checked', signature: await sign(context, 'approve', 'alice') });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'succeeded');
  const [approval] = result.approvals;
  assert.equal(approval?.signature?.signer, 'alice');
  assert.equal(approval?.signature?.fingerprint, fingerprints.alice);
  assert.equal(approval?.signature?.statement, decisionStatementFor(context, 'approve', 'alice'));
  assert.ok(result.timeline.some((t) => t.event.includes(`approved by alice (signed, key ${fingerprints.alice})`)));
});

test('a signed rejection by bob through the update rejects, with his proof', async () => {
  const { handle, context } = await atGate();
  const state = await handle.executeUpdate(approvalUpdate, { args: [{ decision: 'reject', by: 'bob', comment: 'freeze', signature: await sign(context, 'reject', 'bob') }] });
  assert.equal(state.decision, 'rejected');
  assert.equal(state.rejectedBy?.signature?.fingerprint, fingerprints.bob);
  assert.equal((await env.outcome(handle)).result.outcome, 'rejected');
});

test('interventions: a non-operator, an unsigned operator and a signature for another action are refused; a signed retry by bob is taken', async () => {
  const handle = await env.start(signedScenario({ gates: [], behaviour: { validate: 'fail' }, rollbackFailures: 1 }));
  const s = await env.waitFor(handle, (v) => v.status === 'needs_intervention', 'needs_intervention');
  const context = s.pendingIntervention!.sign!;
  assert.deepEqual(s.pendingIntervention?.operators, ['alice', 'bob']);
  assert.match(await refusedSignal(handle, 'intervene', { by: 'mallory', action: 'skip', signature: await sign(context, 'intervene:skip', 'mallory') }), /mallory is not an operator/);
  assert.match(await refusedSignal(handle, 'intervene', { by: 'alice', action: 'skip' }), /must be signed by alice's key/);
  assert.match(await refusedSignal(handle, 'intervene', { by: 'alice', action: 'skip', signature: await sign(context, 'intervene:retry', 'alice') }), /signature refused/);
  assert.match(await refusedSignal(handle, 'intervene', { by: 'alice', action: 'skip', signature: await sign(context, 'approve', 'alice') }), /signature refused/);
  await cliSignal(handle, 'intervene', { by: 'bob', action: 'retry', signature: await sign(context, 'intervene:retry', 'bob') });
  const { result } = await env.outcome(handle);
  assert.equal(result.outcome, 'rolled_back');
  const retried = result.compensations.find((c) => c.status === 'retried');
  assert.equal(retried?.by, 'bob');
  assert.equal(retried?.signature?.fingerprint, fingerprints.bob);
  assert.equal(callsOf(handle.workflowId).filter((c) => c.name === 'rollbackDeploy').length, 2);
});
