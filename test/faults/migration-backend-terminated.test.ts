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
  pendingActivity,
  prebundleWorkflows,
  printFaultResults,
  runScenario,
  snapshotArtifact,
  startWorkerProcess,
  storedArtifactSha,
  terminateBackend,
  waitForActivityStarted,
  waitUntil,
} from '../helpers/faults';

/**
 * The migration session's backend terminated by the database (pg_terminate_backend, as an operator or a
 * failover would) while the slow migration runs: its transaction rolls back, the activity fails retryably
 * (MigrationInterrupted), the next attempt applies the migration, and it commits exactly once.
 */

let world: DeployWorld;
let bundle: Awaited<ReturnType<typeof prebundleWorkflows>>;

before(async () => {
  bundle = await prebundleWorkflows();
  world = await startDeployWorld({ specOverrides: (spec) => (spec.health = { ...spec.health, ...TOLERANT_HEALTH }) });
  await addSlowMigrationVersions(world);
  await startWorkerProcess(world, bundle.env, 'terminate-worker');
});

after(async () => {
  await world?.cleanup();
  await bundle?.remove();
  await printFaultResults();
});

test('pg_terminate_backend on the migration session mid-migration: the activity retries and the migration is applied once', () =>
  runScenario(__filename, '08-migration-backend-terminated', 'pg_terminate_backend during migrate', 'succeeded', async (r) => {
    const handle = await world.deploy({ environment: 'staging', version: '1.2.0' });
    await waitForActivityStarted(handle, 'migrate');
    const pid = await waitUntil('the slow migration to be sleeping in pg_sleep', () => findSleepingMigrationBackend(world, 'staging'));
    const sha = await storedArtifactSha(world, '1.2.0');
    assert.ok(sha);
    const artifactBefore = await snapshotArtifact(world, sha);
    const terminatedAt = Date.now();
    assert.equal(await terminateBackend(pid), true, `pg_terminate_backend(${pid})`);

    // The failed attempt is visible on the pending activity while the retry runs.
    const retrying = await waitUntil('migrate to be retried', async () => {
      const p = await pendingActivity(handle, 'migrate');
      return p && p.attempt >= 2 ? p : undefined;
    });
    r.note(`first attempt failed with: ${retrying.lastFailure}`);

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const [run] = await activityRuns(handle, 'migrate');
    r.timing(run, terminatedAt);
    const e = await countSideEffects(world, 'staging');
    r.effects(e, '1.2.0', sha);
    const artifactAfter = await snapshotArtifact(world, sha);
    r.artifactUnchanged = JSON.stringify(artifactAfter) === JSON.stringify(artifactBefore);

    assert.match(retrying.lastFailure ?? '', /connection was lost/, 'the termination is reported as a lost connection and retried');
    assert.equal(status, 'succeeded', describeResult(result));
    assert.ok(run && run.attempt >= 2, `migrate completed in attempt ${run?.attempt}`);
    assert.deepEqual(e.ledger, Object.fromEntries(MIGRATIONS_UP_TO_1_2_0.map((id) => [id, 1])));
    assert.equal(e.ledgerUnfinished, 0);
    assert.equal(e.slowMigrationRuns, 1, 'the terminated transaction rolled back; the retry committed once');
    assert.equal(e.releaseDirs['1.2.0'], 1);
    assert.deepEqual(artifactAfter, artifactBefore);
    assert.deepEqual(e.artifactBlobs, [sha]);
    assert.deepEqual(e.registry.map((x) => `${x.version}:${x.status}`), ['1.2.0:live']);
    assert.equal(e.answers, '1.2.0');
  }));
