import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';
import {
  TOLERANT_HEALTH,
  activityRuns,
  countSideEffects,
  describeResult,
  prebundleWorkflows,
  printFaultResults,
  runScenario,
  snapshotArtifact,
  startWorkerProcess,
  type WorkerProcess,
} from './helpers/faults';

/**
 * The Temporal dev server stopped and started again on the same SQLite file while a production deploy waits
 * at its approval gate: the gate is still pending afterwards, the worker process reconnects on its own, the
 * approval arrives after the restart and the deploy completes; nothing that ran before the gate runs again.
 */

let world: DeployWorld;
let bundle: Awaited<ReturnType<typeof prebundleWorkflows>>;
let worker: WorkerProcess;

before(async () => {
  bundle = await prebundleWorkflows();
  world = await startDeployWorld({ specOverrides: (spec) => (spec.health = { ...spec.health, ...TOLERANT_HEALTH }) });
  worker = await startWorkerProcess(world, bundle.env, 'restart-worker');
});

after(async () => {
  await world?.cleanup();
  await bundle?.remove();
  await printFaultResults();
});

test('dev server restart while a production deploy waits at the gate: approved afterwards, it succeeds and nothing ran twice', () =>
  runScenario(__filename, '06-dev-server-restart-at-gate', 'dev server restart at the production gate', 'succeeded', async (r) => {
    const handle = await world.deploy({ environment: 'production', version: '1.0.0' });
    const waiting = await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', 120_000);
    assert.equal(waiting.pendingGate?.stage, 'migrate');

    const restartStarted = Date.now();
    await world.temporal.restart();
    r.note(`dev server stop + start on the same database file took ${Date.now() - restartStarted} ms`);

    // The gate survived the restart and the same worker process answers the query again.
    const after = await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', 120_000);
    assert.equal(after.pendingGate?.stage, 'migrate');
    assert.equal(after.pendingGate?.needed, 1);
    assert.equal(worker.child.exitCode, null, 'the worker process kept running through the restart');

    await world.approve(handle, 'alice', 'approved after the server restart');
    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const e = await countSideEffects(world, 'production');
    r.effects(e, '1.0.0', result?.artifactSha256);
    const artifact = result?.artifactSha256 ? await snapshotArtifact(world, result.artifactSha256) : undefined;
    r.artifactUnchanged = artifact?.contentSha256 === result?.artifactSha256;

    assert.equal(status, 'succeeded', describeResult(result));
    assert.deepEqual(result.approvals.map((a) => a.by), ['alice']);
    for (const stage of ['build', 'preChecks', 'migrate', 'deploy', 'validate']) {
      const runs = await activityRuns(handle, stage);
      assert.equal(runs.length, 1, `${stage} was scheduled once`);
    }
    assert.deepEqual(e.ledger, { '001_create_greetings.sql': 1 });
    assert.equal(e.releaseDirs['1.0.0'], 1);
    assert.deepEqual(e.artifactBlobs, [result.artifactSha256]);
    assert.equal(artifact?.contentSha256, result.artifactSha256);
    assert.deepEqual(e.registry.map((x) => `${x.version}:${x.status}`), ['1.0.0:live']);
    assert.equal(e.answers, '1.0.0');
    const [row] = await world.orchestratorDb.query<{ approvals: Array<{ by: string }> }>(
      `SELECT approvals FROM deploy_releases WHERE environment = 'production' AND status = 'live'`,
    );
    assert.deepEqual(row?.approvals.map((a) => a.by), ['alice'], 'the registry records who approved');
  }));
