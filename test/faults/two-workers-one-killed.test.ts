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
 * Two worker processes poll the same task queue; the one running the slow migration is killed with
 * SIGKILL. No new worker is started: the survivor picks the retried attempt up, waits for the killed
 * session's migration lock to be released, and the migration commits once.
 */

let world: DeployWorld;
let bundle: Awaited<ReturnType<typeof prebundleWorkflows>>;
let pool: WorkerProcess[];

before(async () => {
  bundle = await prebundleWorkflows();
  world = await startDeployWorld({ specOverrides: (spec) => (spec.health = { ...spec.health, ...TOLERANT_HEALTH }) });
  await addSlowMigrationVersions(world);
  pool = [await startWorkerProcess(world, bundle.env, 'pool-worker-a'), await startWorkerProcess(world, bundle.env, 'pool-worker-b')];
});

after(async () => {
  await world?.cleanup();
  await bundle?.remove();
  await printFaultResults();
});

test('two workers on one queue, the one running migrate killed: the other finishes the stage and the deploy, migration applied once', () =>
  runScenario(__filename, '10-two-workers-one-killed', 'two workers, the one in migrate killed', 'succeeded', async (r) => {
    const handle = await world.deploy({ environment: 'staging', version: '1.2.0' });
    const running = await waitForActivityStarted(handle, 'migrate');
    await waitUntil('the slow migration to be sleeping in pg_sleep', () => findSleepingMigrationBackend(world, 'staging'));
    const sha = await storedArtifactSha(world, '1.2.0');
    assert.ok(sha);
    const artifactBefore = await snapshotArtifact(world, sha);
    const victim = pool.find((w) => w.identity === running.lastWorkerIdentity);
    assert.ok(victim, `migrate runs on ${running.lastWorkerIdentity}, one of ${pool.map((w) => w.identity).join(', ')}`);
    const survivor = pool.find((w) => w !== victim)!;
    r.note(`migrate ran on ${victim.identity}; ${survivor.identity} kept running`);
    const killedAt = await victim.kill();

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const [run] = await activityRuns(handle, 'migrate');
    r.timing(run, killedAt);
    const e = await countSideEffects(world, 'staging');
    r.effects(e, '1.2.0', result?.artifactSha256);
    const artifactAfter = await snapshotArtifact(world, sha);
    r.artifactUnchanged = JSON.stringify(artifactAfter) === JSON.stringify(artifactBefore);

    assert.equal(status, 'succeeded', describeResult(result));
    assert.equal(run?.identity, survivor.identity, 'the surviving worker finished migrate');
    assert.ok(run && run.attempt >= 2);
    assert.equal(survivor.child.exitCode, null);
    assert.deepEqual(e.ledger, Object.fromEntries(MIGRATIONS_UP_TO_1_2_0.map((id) => [id, 1])));
    assert.equal(e.ledgerUnfinished, 0);
    assert.equal(e.slowMigrationRuns, 1);
    assert.equal(e.releaseDirs['1.2.0'], 1);
    assert.deepEqual(e.artifactBlobs, [sha]);
    assert.deepEqual(artifactAfter, artifactBefore);
    assert.deepEqual(e.registry.map((x) => `${x.version}:${x.status}`), ['1.2.0:live']);
    assert.equal(e.answers, '1.2.0');
  }));
