import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { startDeployWorld, type DeployWorld } from './helpers/deploy-world';
import {
  MIGRATIONS_UP_TO_1_2_0,
  SLOW_STOP_RUNTIME_COMMAND,
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
} from './helpers/faults';
import { ADMIN_DATABASE_URL, connectTo } from './helpers/pg';

/**
 * A worker killed with SIGKILL inside the two mutating stages. A new worker process takes the stage over
 * after the heartbeat timeout (3 s in the world's spec), and every side effect happens once: the slow
 * migration commits once with one ledger row, the release directory and the artifact exist once, the
 * registry has exactly one live row, and the service answers the new version.
 */

let world: DeployWorld;
let bundle: Awaited<ReturnType<typeof prebundleWorkflows>>;
let worker: WorkerProcess;
let workers = 0;

const nextWorker = () => startWorkerProcess(world, bundle.env, `crash-worker-${++workers}`);

before(async () => {
  bundle = await prebundleWorkflows();
  world = await startDeployWorld({
    specOverrides: (spec) => {
      // Stopping a release takes the full stopTimeoutMs (3 s), so the deploy stage is long enough to be killed inside.
      spec.runtime.command = SLOW_STOP_RUNTIME_COMMAND;
      spec.health = { ...spec.health, ...TOLERANT_HEALTH };
    },
  });
  await addSlowMigrationVersions(world);
  worker = await nextWorker();
  // A running 1.0.0 in staging, so the deploys below replace (and stop) a live release.
  const first = await world.outcome(await world.deploy({ environment: 'staging', version: '1.0.0' }));
  assert.equal(first.status, 'succeeded', describeResult(first.result));
});

after(async () => {
  await world?.cleanup();
  await bundle?.remove();
  await printFaultResults();
});

test('worker kill -9 during migrate: a new worker finishes it, the slow migration commits once with one ledger row', () =>
  runScenario(__filename, '04-worker-kill-migrate', 'worker kill -9 during migrate', 'succeeded', async (r) => {
    const handle = await world.deploy({ environment: 'staging', version: '1.2.0' });
    await waitForActivityStarted(handle, 'migrate');
    const backend = await waitUntil('the slow migration to be sleeping in pg_sleep', () => findSleepingMigrationBackend(world, 'staging'));
    const sha = await storedArtifactSha(world, '1.2.0');
    assert.ok(sha, 'the build stage stored 1.2.0 before migrate started');
    const artifactBefore = await snapshotArtifact(world, sha);

    const killed = worker.identity;
    const killedAt = await worker.kill();
    worker = await nextWorker();

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const [run] = await activityRuns(handle, 'migrate');
    r.timing(run, killedAt);
    const artifactAfter = await snapshotArtifact(world, sha);
    r.artifactUnchanged = JSON.stringify(artifactAfter) === JSON.stringify(artifactBefore);
    const e = await countSideEffects(world, 'staging');
    r.effects(e, '1.2.0', sha);
    const migrations = result?.migrations as { applied: Array<{ id: string }>; alreadyApplied: string[] } | undefined;
    r.note(`migrate: the completing attempt applied [${migrations?.applied.map((m) => m.id).join(', ')}], found already applied [${migrations?.alreadyApplied.join(', ')}]`);

    assert.equal(status, 'succeeded', describeResult(result));
    assert.equal(result.artifactSha256, sha);
    assert.ok(run && run.attempt >= 2, `the killed attempt must not be the one that completed (attempt ${run?.attempt})`);
    assert.equal(run.identity, worker.identity, `migrate completed on ${run.identity}; the killed worker was ${killed}`);
    assert.deepEqual(e.ledger, Object.fromEntries(MIGRATIONS_UP_TO_1_2_0.map((id) => [id, 1])));
    assert.equal(e.ledgerUnfinished, 0);
    assert.equal(e.slowMigrationRuns, 1, 'the slow migration committed exactly once');
    assert.equal(e.releaseDirs['1.2.0'], 1);
    assert.equal(e.stagingLeftovers, 0);
    assert.deepEqual(artifactAfter, artifactBefore, 'the stored artifact is the same file with the same bytes');
    assert.equal(artifactAfter.contentSha256, sha);
    assert.deepEqual(e.artifactBlobs.length, 2, `one blob each for 1.0.0 and 1.2.0: ${e.artifactBlobs.join(', ')}`);
    assert.equal(e.artifactTempFiles, 0);
    assert.deepEqual(e.registry.map((x) => `${x.version}:${x.status}`), ['1.0.0:superseded', '1.2.0:live']);
    assert.equal(e.liveRows, 1);
    assert.equal(e.answers, '1.2.0');

    // The killed worker's session ended with it (client_connection_check_interval), so its lock is free.
    const admin = await connectTo(ADMIN_DATABASE_URL);
    try {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [backend]);
      assert.equal(rowCount, 0, `the killed worker's migration session (pid ${backend}) is gone`);
    } finally {
      await admin.end();
    }
  }));

test('worker kill -9 during deploy (while the old release is being stopped): a new worker finishes it, one release directory, one live row', () =>
  runScenario(__filename, '05-worker-kill-deploy', 'worker kill -9 during deploy', 'succeeded', async (r) => {
    const handle = await world.deploy({ environment: 'staging', version: '1.3.0' });
    await waitForActivityStarted(handle, 'deploy');
    // Inside the stage: current already points at 1.3.0 and the target waits for 1.2.0 to stop.
    const stateFile = path.join(world.targetRoot('staging'), 'deploy-state.json');
    await waitUntil('the deploy stage to be stopping the old release', async () => {
      const state = JSON.parse(await fs.readFile(stateFile, 'utf8')) as { next?: { version?: string }; completed?: boolean };
      return state.next?.version === '1.3.0' && state.completed === false;
    });
    const sha = await storedArtifactSha(world, '1.3.0');
    assert.ok(sha);
    const artifactBefore = await snapshotArtifact(world, sha);

    const killed = worker.identity;
    const killedAt = await worker.kill();
    worker = await nextWorker();

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const [run] = await activityRuns(handle, 'deploy');
    r.timing(run, killedAt);
    const artifactAfter = await snapshotArtifact(world, sha);
    r.artifactUnchanged = JSON.stringify(artifactAfter) === JSON.stringify(artifactBefore);
    const e = await countSideEffects(world, 'staging');
    r.effects(e, '1.3.0', sha);

    assert.equal(status, 'succeeded', describeResult(result));
    assert.equal(result.previousVersion, '1.2.0');
    assert.ok(run && run.attempt >= 2, `the killed attempt must not be the one that completed (attempt ${run?.attempt})`);
    assert.equal(run.identity, worker.identity, `deploy completed on ${run.identity}; the killed worker was ${killed}`);
    assert.equal(e.releaseDirs['1.3.0'], 1);
    assert.equal(e.releaseDirs['1.2.0'], 1, 'the previous release stays for rollback');
    assert.equal(e.stagingLeftovers, 0);
    assert.deepEqual(artifactAfter, artifactBefore);
    assert.equal(e.artifactBlobs.filter((b) => b === sha).length, 1);
    assert.equal(e.artifactTempFiles, 0);
    assert.deepEqual(e.ledger, Object.fromEntries(MIGRATIONS_UP_TO_1_2_0.map((id) => [id, 1])), 'no migration ran again');
    assert.equal(e.slowMigrationRuns, 1);
    assert.deepEqual(e.registry.map((x) => `${x.version}:${x.status}`), ['1.0.0:superseded', '1.2.0:superseded', '1.3.0:live']);
    assert.equal(e.liveRows, 1);
    assert.equal(e.answers, '1.3.0');
    assert.deepEqual(e.serviceProcessReleases.map((id) => id.replace(/-[0-9a-f]{12}$/, '')), ['1.3.0'], 'only the new release runs');
  }));
