import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { approvalUpdate, approveSignal, rejectSignal } from '../src/workflows/definitions';
import type { DeployResult } from '../src/workflows/types';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';
import { STAGE_WAIT_MS, answeringVersion, closeIfOpen, currentRelease, deployStatusAttribute, exportedHistory, ledger, patientHealth, temporalCli } from './helpers/workflow-probes';

// One world for every gate rule: production starts with the example's gate (before migrate, alice or bob,
// quorum 1, the requester may not approve); scenarios change the spec's gates where they need another rule.
let world: DeployWorld;
const PRODUCTION_ID = 'deploy-hello-service-production';
const exampleGate = { before: 'migrate', approvers: ['alice', 'bob'], quorum: 1, requesterMayApprove: false, timeoutMinutes: 1440, onTimeout: 'reject' };

before(async () => {
  world = await startDeployWorld({ specOverrides: patientHealth });
  await world.startWorker();
});
after(async () => {
  await world?.cleanup();
});

const awaitingApproval = (handle: WorkflowHandle) => world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', STAGE_WAIT_MS);

async function refusedUpdate(handle: WorkflowHandle, args: { decision: 'approve' | 'reject'; by: string }): Promise<string> {
  const err = await handle.executeUpdate(approvalUpdate, { args: [args] }).then(
    () => assert.fail(`the approval update by ${args.by} was accepted`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowUpdateFailedError, `expected WorkflowUpdateFailedError, got ${String(err)}`);
  return (err.cause as Error).message;
}

let succeeded: { handle: WorkflowHandle; result: DeployResult } | undefined;

test('production waits at its gate, refuses every decision the rules forbid, and proceeds only after alice approves with the temporal CLI', async (t) => {
  // bob is an approver, so his own request shows the requester rule rather than the approver list.
  const handle = await world.deploy({ environment: 'production', version: '1.0.0', requestedBy: 'bob' });
  t.after(() => closeIfOpen(handle));
  const waiting = await awaitingApproval(handle);

  // The status query: what it waits for, who may decide, how many, by when.
  assert.equal(waiting.stage, 'migrate');
  assert.equal(waiting.pendingGate?.stage, 'migrate');
  assert.deepEqual(waiting.pendingGate?.approvers, ['alice', 'bob']);
  assert.equal(waiting.pendingGate?.needed, 1);
  assert.equal(waiting.pendingGate?.given, 0);
  assert.ok(Date.parse(waiting.pendingGate!.deadline) > Date.now() + 23 * 3600_000, `deadline ${waiting.pendingGate?.deadline} should be a day away`);
  assert.deepEqual(waiting.stages.map((s) => `${s.stage}:${s.status}`), ['plan:succeeded', 'build:succeeded', 'preChecks:succeeded']);
  assert.equal(await deployStatusAttribute(handle), 'awaiting_approval');
  const metadata = await temporalCli(world, ['workflow', 'metadata', '--workflow-id', PRODUCTION_ID]);
  assert.equal(metadata.code, 0, metadata.stderr);
  assert.match(metadata.stdout, /waiting for: approval before migrate: 1 from alice or bob/);

  // Refused signals change nothing and are recorded with who and why.
  await handle.signal(approveSignal, { by: 'mallory' });
  await handle.signal(approveSignal, { by: 'bob', comment: 'my own deploy' });
  const afterRefusals = await world.waitForStatus(handle, (s) => s.timeline.filter((t) => t.kind === 'signal_refused').length === 2, STAGE_WAIT_MS);
  const refused = afterRefusals.timeline.filter((t) => t.kind === 'signal_refused');
  assert.match(refused[0]!.event, /approve by mallory refused/);
  assert.match(refused[0]!.detail ?? '', /mallory is not an approver .* \(allowed: alice, bob\)/);
  assert.match(refused[1]!.event, /approve by bob refused/);
  assert.match(refused[1]!.detail ?? '', /bob requested this deploy and may not approve it/);
  assert.equal(afterRefusals.status, 'awaiting_approval');
  assert.equal(afterRefusals.pendingGate?.given, 0);

  // The update's validator tells the caller why: through the SDK client and through the CLI.
  assert.match(await refusedUpdate(handle, { decision: 'approve', by: 'mallory' }), /mallory is not an approver for the gate before migrate/);
  assert.match(await refusedUpdate(handle, { decision: 'reject', by: 'bob' }), /bob requested this deploy and may not reject it/);
  const cliRefused = await temporalCli(world, ['workflow', 'update', 'execute', '--workflow-id', PRODUCTION_ID, '--name', 'approval', '--input', '{"decision":"approve","by":"bob"}']);
  assert.notEqual(cliRefused.code, 0, 'the CLI must exit non-zero when the validator refuses');
  assert.match(cliRefused.stderr + cliRefused.stdout, /bob requested this deploy and may not approve it/);
  assert.equal((await world.status(handle)).status, 'awaiting_approval');

  // A name in a payload proves nothing: alice's approval without her signature is refused.
  const forged = await temporalCli(world, ['workflow', 'signal', '--workflow-id', PRODUCTION_ID, '--name', 'approve', '--input', '{"by":"alice"}']);
  assert.equal(forged.code, 0, forged.stderr);
  const afterForgery = await world.waitForStatus(handle, (s) => s.timeline.filter((t) => t.kind === 'signal_refused').length === 3, STAGE_WAIT_MS);
  assert.match(afterForgery.timeline.filter((t) => t.kind === 'signal_refused')[2]!.detail ?? '', /must be signed by alice's key/);
  assert.equal(afterForgery.pendingGate?.given, 0);

  // The real binary sends alice's signed approval.
  const signature = await world.sign(handle, 'approve', 'alice');
  const approved = await temporalCli(world, ['workflow', 'signal', '--workflow-id', PRODUCTION_ID, '--name', 'approve', '--input', JSON.stringify({ by: 'alice', signature })]);
  assert.equal(approved.code, 0, approved.stderr);
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', JSON.stringify(result?.timeline, null, 1));
  assert.equal(result.approvals.length, 1);
  assert.equal(result.approvals[0]!.by, 'alice');
  assert.equal(result.approvals[0]!.via, 'signal');
  assert.match(result.approvals[0]!.signature?.fingerprint ?? '', /^SHA256:[A-Za-z0-9+/]{43}$/);
  assert.match(result.approvals[0]!.signature?.statement ?? '', /^deploy-orchestrator decision v1\n(.*\n)*decision: approve\nsigner: alice\n$/);
  assert.ok(Date.parse(result.approvals[0]!.at) >= Date.parse(waiting.pendingGate!.deadline) - 24 * 3600_000, 'approval time after the gate opened');
  assert.equal(await answeringVersion(world, 'production'), '1.0.0');
  assert.deepEqual(await ledger(world, 'production'), ['001_create_greetings.sql']);
  succeeded = { handle, result };
});

test('audit: the succeeded deploy carries stages with durations, approvals, outcome; search attributes, static summary and activity summaries match', async () => {
  assert.ok(succeeded, 'needs the approved production deploy of the previous test');
  const { handle, result } = succeeded;
  assert.equal(result.outcome, 'succeeded');
  assert.deepEqual(result.compensations, []);
  assert.deepEqual(result.stages.map((s) => `${s.stage}:${s.status}`), [
    'plan:succeeded', 'build:succeeded', 'preChecks:succeeded', 'migrate:succeeded', 'deploy:succeeded', 'validate:succeeded',
  ]);
  for (const s of result.stages) {
    assert.equal(typeof s.durationMs, 'number', `${s.stage} has a duration`);
    assert.ok(s.durationMs! >= 0 && s.finishedAt && s.startedAt, `${s.stage}: ${JSON.stringify(s)}`);
  }
  assert.ok(result.timeline.some((t) => t.kind === 'gate' && /approved by alice \(signed, key SHA256:[A-Za-z0-9+/]+\) \(1\/1\)/.test(t.event)));

  const desc = await handle.describe();
  assert.equal(desc.status.name, 'COMPLETED');
  assert.deepEqual(
    Object.fromEntries(['DeployService', 'DeployEnvironment', 'DeployVersion', 'DeployStage', 'DeployStatus', 'DeployRequestedBy'].map((k) => [k, desc.searchAttributes[k]?.[0]])),
    { DeployService: 'hello-service', DeployEnvironment: 'production', DeployVersion: '1.0.0', DeployStage: 'done', DeployStatus: 'succeeded', DeployRequestedBy: 'bob' },
  );

  const described = await temporalCli(world, ['workflow', 'describe', '--workflow-id', PRODUCTION_ID]);
  assert.equal(described.code, 0, described.stderr);
  assert.match(described.stdout, /hello-service 1\.0\.0 → production, requested by bob/);

  const history = await exportedHistory(world, handle);
  const summaries = new Map<string, string>();
  for (const e of history.events) {
    const attrs = e.activityTaskScheduledEventAttributes;
    if (!attrs) continue;
    const data = e.userMetadata?.summary?.data;
    assert.ok(data, `activity ${attrs.activityType.name} was scheduled without a summary`);
    summaries.set(attrs.activityType.name, JSON.parse(Buffer.from(data, 'base64').toString('utf8')));
  }
  assert.deepEqual([...summaries.keys()], ['plan', 'build', 'preChecks', 'migrate', 'deploy', 'validate', 'recordRelease']);
  assert.match(summaries.get('build')!, /^build hello-service 1\.0\.0/);
  assert.match(summaries.get('migrate')!, /expand migrations of 1\.0\.0 on the production database/);
  assert.match(summaries.get('deploy')!, /deploy 1\.0\.0 to production \(local target\), previous none/);
  assert.match(summaries.get('validate')!, /health analysis of http:\/\/127\.0\.0\.1:\d+\/readyz/);
  assert.match(summaries.get('recordRelease')!, /record 1\.0\.0 in production as succeeded/);
});

test('a reject signal ends the deploy rejected before anything changed: the ledger and the live version stay', async (t) => {
  const ledgerBefore = await ledger(world, 'production');
  const releaseBefore = await currentRelease(world, 'production');
  const handle = await world.deploy({ environment: 'production', version: '1.1.0', requestedBy: 'carol' });
  t.after(() => closeIfOpen(handle));
  await awaitingApproval(handle);
  await handle.signal(rejectSignal, { by: 'bob', reason: 'change freeze', signature: await world.sign(handle, 'reject', 'bob') });
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'rejected');
  assert.match(result.reason ?? '', /rejected by bob: change freeze/);
  assert.deepEqual(result.compensations, [], 'nothing was mutated, so nothing is compensated');
  assert.deepEqual(result.stages.map((s) => s.stage), ['plan', 'build', 'preChecks']);
  assert.deepEqual(await ledger(world, 'production'), ledgerBefore);
  assert.equal(await currentRelease(world, 'production'), releaseBefore);
  assert.equal(await answeringVersion(world, 'production'), '1.0.0');
  assert.equal(await deployStatusAttribute(handle), 'rejected');
  assert.equal((await handle.describe()).status.name, 'FAILED');
});

test('quorum 2 needs two distinct approvers: the same person twice is refused; an accepted update returns the gate state', async (t) => {
  await world.updateSpec((spec) => {
    spec.environments.production.gates = [{ ...exampleGate, quorum: 2 }];
  });
  try {
    const handle = await world.deploy({ environment: 'production', version: '1.1.0', requestedBy: 'carol' });
    t.after(() => closeIfOpen(handle));
    await awaitingApproval(handle);
    await world.approve(handle, 'alice', 'looks good');
    const half = await world.waitForStatus(handle, (s) => s.pendingGate?.given === 1, STAGE_WAIT_MS);
    assert.equal(half.pendingGate?.needed, 1);
    assert.equal(half.status, 'awaiting_approval');

    await world.approve(handle, 'alice');
    const twice = await world.waitForStatus(handle, (s) => s.timeline.some((t) => t.kind === 'signal_refused'), STAGE_WAIT_MS);
    assert.match(twice.timeline.find((t) => t.kind === 'signal_refused')!.detail ?? '', /alice has already approved; the gate needs 2 distinct approvers/);
    assert.equal(twice.pendingGate?.given, 1);
    assert.match(await refusedUpdate(handle, { decision: 'approve', by: 'alice' }), /alice has already approved/);

    const gate = await handle.executeUpdate(approvalUpdate, { args: [{ decision: 'approve', by: 'bob', comment: 'second pair of eyes', signature: await world.sign(handle, 'approve', 'bob') }] });
    assert.equal(gate.decision, 'approved');
    assert.equal(gate.given, 2);
    assert.equal(gate.needed, 0);
    assert.deepEqual(gate.approvals.map((a) => `${a.by}:${a.via}`), ['alice:signal', 'bob:update']);

    const { status, result } = await world.outcome(handle);
    assert.equal(status, 'succeeded', JSON.stringify(result?.timeline, null, 1));
    assert.deepEqual(result.approvals.map((a) => `${a.by}:${a.via}:${a.comment}`), ['alice:signal:looks good', 'bob:update:second pair of eyes']);
    assert.deepEqual(await ledger(world, 'production'), ['001_create_greetings.sql', '002_add_greeting_locale.sql']);
    assert.equal(await answeringVersion(world, 'production'), '1.1.0');
  } finally {
    await world.updateSpec((spec) => {
      spec.environments.production.gates = [exampleGate];
    });
  }
});

test('a gate that times out rejects the deploy and changes nothing', async (t) => {
  await world.updateSpec((spec) => {
    spec.environments.production.gates = [{ ...exampleGate, timeoutSeconds: 3 }];
  });
  try {
    const ledgerBefore = await ledger(world, 'production');
    const handle = await world.deploy({ environment: 'production', version: '2.0.0', requestedBy: 'carol' });
    t.after(() => closeIfOpen(handle));
    // Read from the timeline afterwards: polling for a 3-second wait could miss it on a busy machine.
    const { status, result } = await world.outcome(handle);
    assert.equal(status, 'rejected');
    assert.match(result.reason ?? '', /approval gate before migrate timed out/);
    const gateEntries = result.timeline.filter((t) => t.kind === 'gate');
    const waiting = gateEntries.find((t) => t.event.startsWith('waiting for'));
    const deadline = /deadline (\S+)/.exec(waiting?.detail ?? '')?.[1];
    assert.ok(waiting && deadline, `the gate's wait and deadline are in the timeline: ${JSON.stringify(gateEntries)}`);
    assert.equal(Date.parse(deadline) - Date.parse(waiting.at), 3_000, 'the deadline follows timeoutSeconds');
    const timedOut = gateEntries.find((t) => t.event === 'timed out');
    assert.ok(timedOut && Date.parse(timedOut.at) >= Date.parse(deadline), `timed out at the deadline: ${JSON.stringify(gateEntries)}`);
    assert.deepEqual(result.compensations, []);
    assert.deepEqual(await ledger(world, 'production'), ledgerBefore);
    assert.equal(await answeringVersion(world, 'production'), '1.1.0');
    assert.equal(await deployStatusAttribute(handle), 'rejected');
  } finally {
    await world.updateSpec((spec) => {
      spec.environments.production.gates = [exampleGate];
    });
  }
});

test('a gate after deploy (before validate) that is rejected rolls the deploy back: the previous version answers again', async (t) => {
  const first = await world.outcome(await world.deploy({ environment: 'staging', version: '1.0.0' }));
  assert.equal(first.status, 'succeeded');
  await world.updateSpec((spec) => {
    spec.environments.staging.gates = [{ ...exampleGate, before: 'validate' }];
  });
  try {
    const handle = await world.deploy({ environment: 'staging', version: '1.1.0', requestedBy: 'carol' });
    t.after(() => closeIfOpen(handle));
    const waiting = await awaitingApproval(handle);
    assert.equal(waiting.pendingGate?.stage, 'validate');
    assert.equal(await answeringVersion(world, 'staging'), '1.1.0', 'the new version is deployed while the gate waits');

    const gate = await handle.executeUpdate(approvalUpdate, { args: [{ decision: 'reject', by: 'bob', comment: 'wrong greeting', signature: await world.sign(handle, 'reject', 'bob') }] });
    assert.equal(gate.decision, 'rejected');
    assert.equal(gate.rejectedBy?.by, 'bob');

    const { status, result } = await world.outcome(handle);
    assert.equal(status, 'rejected');
    assert.match(result.reason ?? '', /rejected by bob: wrong greeting/);
    assert.deepEqual(result.compensations.map((c) => `${c.name}:${c.status}`), ['rollbackDeploy:succeeded']);
    assert.equal(await answeringVersion(world, 'staging'), '1.0.0');
    assert.match((await currentRelease(world, 'staging')) ?? '', /^1\.0\.0-/);
    assert.equal(await deployStatusAttribute(handle), 'rejected');
  } finally {
    await world.updateSpec((spec) => {
      delete spec.environments.staging.gates;
    });
  }
});
