import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeployAlreadyRunning, startDeploy } from '../src/client/deploys';
import { rejectSignal } from '../src/workflows/definitions';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';
import { STAGE_WAIT_MS, closeIfOpen, patientHealth, temporalCli } from './helpers/workflow-probes';

// The workflow ID deploy-<service>-<environment> is the deploy lock. A production deploy waiting at its
// gate holds it for as long as the tests need.
let world: DeployWorld;
const PRODUCTION_ID = 'deploy-hello-service-production';

before(async () => {
  world = await startDeployWorld({ specOverrides: patientHealth });
  await world.startWorker();
});
after(async () => {
  await world?.cleanup();
});

test('a second start while a deploy runs is refused, by startDeploy and by the CLI with --id-conflict-policy Fail; the running deploy is untouched', async (t) => {
  const running = await world.deploy({ environment: 'production', version: '1.0.0', requestedBy: 'carol' });
  t.after(() => closeIfOpen(running));
  await world.waitForStatus(running, (s) => s.status === 'awaiting_approval', STAGE_WAIT_MS);
  const runId = (await running.describe()).runId;

  const refused = await startDeploy(world.client, { spec: world.specPath, environment: 'production', version: '1.1.0', requestedBy: 'dave' }, { taskQueue: 'deploys' }).then(
    () => assert.fail('a second deploy of production was started'),
    (e: unknown) => e,
  );
  assert.ok(refused instanceof DeployAlreadyRunning, `expected DeployAlreadyRunning, got ${String(refused)}`);
  assert.equal(refused.workflowId, PRODUCTION_ID);
  assert.equal(refused.runId, runId);
  assert.match(refused.message, new RegExp(`already running as ${PRODUCTION_ID} \\(run ${runId}\\)`));

  const input = JSON.stringify({ spec: world.specPath, environment: 'production', version: '1.1.0', requestedBy: 'dave' });
  const cli = await temporalCli(world, [
    'workflow', 'start', '--task-queue', 'deploys', '--type', 'deployRelease', '--workflow-id', PRODUCTION_ID, '--input', input, '--id-conflict-policy', 'Fail',
  ]);
  // The server refuses the start (conflict policy FAIL). CLI v1.5.1 (Go SDK) then prints the running execution
  // and exits 0 instead of failing; either way the CLI must not have started a second deploy.
  if (cli.code === 0) {
    assert.match(cli.stdout, new RegExp(`RunId\\s+${runId}`), `the CLI started a new run: ${cli.stdout}`);
  } else {
    assert.match(cli.stderr + cli.stdout, /already (started|running)/i);
  }

  const desc = await running.describe();
  assert.equal(desc.runId, runId, 'the running deploy keeps the lock');
  assert.equal(desc.status.name, 'RUNNING');
  const status = await world.status(running);
  assert.equal(status.status, 'awaiting_approval');
  assert.equal(status.version, '1.0.0');
  assert.equal(status.requestedBy, 'carol');

  // Once it ends the lock is free again (the reuse policy allows a new run under the same ID).
  await running.signal(rejectSignal, { by: 'alice', reason: 'lock test done', signature: await world.sign(running, 'reject', 'alice') });
  assert.equal((await world.outcome(running)).status, 'rejected');
  const next = await world.deploy({ environment: 'production', version: '1.1.0', requestedBy: 'dave' });
  t.after(() => closeIfOpen(next));
  assert.notEqual((await next.describe()).runId, runId);
  await world.waitForStatus(next, (s) => s.status === 'awaiting_approval', STAGE_WAIT_MS);
  await next.cancel();
  assert.equal((await world.outcome(next)).status, 'cancelled');
});

test('`temporal workflow execute` under another ID fails at once, non-retryably, and names the right ID', async () => {
  const input = JSON.stringify({ spec: world.specPath, environment: 'staging', version: '1.1.0', requestedBy: 'carol' });
  const cli = await temporalCli(world, ['workflow', 'execute', '--task-queue', 'deploys', '--type', 'deployRelease', '--workflow-id', 'hello-staging-by-hand', '--input', input]);
  assert.notEqual(cli.code, 0, `the deploy under a wrong ID succeeded: ${cli.stdout}`);
  assert.match(cli.stdout + cli.stderr, /start it with --workflow-id deploy-hello-service-staging/);

  const handle = world.client.workflow.getHandle('hello-staging-by-hand');
  assert.equal((await handle.describe()).status.name, 'FAILED');
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const started = events.filter((e) => e.activityTaskStartedEventAttributes);
  assert.equal(started.length, 1, 'plan ran once and was not retried');
  assert.equal(started[0]!.activityTaskStartedEventAttributes!.attempt, 1);
  const failure = events.find((e) => e.activityTaskFailedEventAttributes)!.activityTaskFailedEventAttributes!.failure!;
  assert.equal(failure.applicationFailureInfo?.type, 'WrongWorkflowId');
  assert.equal(failure.applicationFailureInfo?.nonRetryable, true);
  assert.equal(events.filter((e) => e.activityTaskScheduledEventAttributes).length, 1, 'nothing but plan was scheduled');
});

test('two pairs that spell the same lock ID cannot share it: (hello, service-staging) in the registry refuses (hello-service, staging)', async () => {
  // deploy-hello-service-staging reads the same for both pairs; the registry knows the first pair used it.
  await world.orchestratorDb.query(
    `INSERT INTO deploy_releases (service, environment, version, status, requested_by, workflow_id, run_id) VALUES ('hello', 'service-staging', '0.1.0', 'failed', 'carol', 'deploy-hello-service-staging', 'collision-run')`,
  );
  try {
    const handle = await world.deploy({ environment: 'staging', version: '1.0.0' });
    const { status, result } = await world.outcome(handle);
    assert.equal(status, 'failed');
    assert.match(result.reason ?? '', /workflow ID deploy-hello-service-staging is already the deploy lock of service hello in environment service-staging/);
    assert.deepEqual(result.stages.map((s) => `${s.stage}:${s.status}`), ['plan:failed']);
  } finally {
    await world.orchestratorDb.query(`DELETE FROM deploy_releases WHERE run_id='collision-run'`);
  }
});
