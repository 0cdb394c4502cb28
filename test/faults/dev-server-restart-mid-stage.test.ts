import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDeployWorld, type DeployWorld } from '../helpers/deploy-world';
import {
  MIGRATIONS_UP_TO_1_2_0,
  TOLERANT_HEALTH,
  activityRuns,
  addSlowMigrationVersions,
  countSideEffects,
  describeResult,
  findSleepingMigrationBackend,
  prebundleWorkflows,
  printFaultResults,
  runScenario,
  snapshotArtifact,
  startWorkerProcess,
  storedArtifactSha,
  waitForActivityStarted,
  waitUntil,
  type WorkerProcess,
} from '../helpers/faults';

/**
 * The Temporal dev server stopped and started again on the same SQLite file while the slow migration runs:
 * the deploy completes and the migration took effect once, whether the running attempt's completion got
 * through or the heartbeat timeout made a second attempt find it already in the ledger.
 */

let world: DeployWorld;
let bundle: Awaited<ReturnType<typeof prebundleWorkflows>>;
let worker: WorkerProcess;

before(async () => {
  bundle = await prebundleWorkflows();
  world = await startDeployWorld({ specOverrides: (spec) => (spec.health = { ...spec.health, ...TOLERANT_HEALTH }) });
  await addSlowMigrationVersions(world);
  worker = await startWorkerProcess(world, bundle.env, 'restart-worker');
});

after(async () => {
  await world?.cleanup();
  await bundle?.remove();
  await printFaultResults();
});

test('dev server restart while the slow migration runs: the deploy completes and the migration is applied once', () =>
  runScenario(__filename, '07-dev-server-restart-mid-migrate', 'dev server restart during migrate', 'succeeded', async (r) => {
    const handle = await world.deploy({ environment: 'staging', version: '1.2.0' });
    await waitForActivityStarted(handle, 'migrate');
    await waitUntil('the slow migration to be sleeping in pg_sleep', () => findSleepingMigrationBackend(world, 'staging'));
    const sha = await storedArtifactSha(world, '1.2.0');
    assert.ok(sha);
    const artifactBefore = await snapshotArtifact(world, sha);
    const restartAt = Date.now();
    await world.temporal.restart();
    r.note(`dev server stop + start on the same database file took ${Date.now() - restartAt} ms`);

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const [run] = await activityRuns(handle, 'migrate');
    r.timing(run, restartAt);
    r.note(`migrate completed in attempt ${run?.attempt}${run && run.attempt > 1 ? ' (the running attempt timed out during the restart)' : ' (its completion reached the restarted server)'}`);
    const e = await countSideEffects(world, 'staging');
    r.effects(e, '1.2.0', result?.artifactSha256);
    const artifactAfter = await snapshotArtifact(world, sha);
    r.artifactUnchanged = JSON.stringify(artifactAfter) === JSON.stringify(artifactBefore);

    assert.equal(status, 'succeeded', describeResult(result));
    assert.equal(worker.child.exitCode, null, 'the worker process kept running through the restart');
    assert.deepEqual(e.ledger, Object.fromEntries(MIGRATIONS_UP_TO_1_2_0.map((id) => [id, 1])));
    assert.equal(e.ledgerUnfinished, 0);
    assert.equal(e.slowMigrationRuns, 1);
    assert.equal(e.releaseDirs['1.2.0'], 1);
    assert.deepEqual(e.artifactBlobs, [sha]);
    assert.deepEqual(artifactAfter, artifactBefore);
    assert.deepEqual(e.registry.map((x) => `${x.version}:${x.status}`), ['1.2.0:live']);
    assert.equal(e.answers, '1.2.0');
  }));
