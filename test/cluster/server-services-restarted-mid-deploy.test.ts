import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { assertStoredInPostgres, startTestCluster, type TestCluster } from '../helpers/cluster';
import { startDeployWorld, type DeployWorld } from '../helpers/deploy-world';
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
  startWorkerProcess,
  waitForActivityStarted,
  waitUntil,
  type WorkerProcess,
} from '../helpers/faults';

/**
 * The Temporal services themselves fail while deploys run, one at a time, on a cluster whose services are
 * separate processes on PostgreSQL. The deploy worker keeps running throughout (it is never restarted): it
 * rides out each outage, and every deploy ends as expected with each side effect applied once.
 *   - history killed with SIGKILL while a migration sleeps in pg_sleep, then started again;
 *   - frontend restarted while a production deploy waits at its approval gate, then approved;
 *   - matching restarted while the deploy stage stops the old release.
 */

let cluster: TestCluster;
let world: DeployWorld;
let bundle: Awaited<ReturnType<typeof prebundleWorkflows>>;
let worker: WorkerProcess;

const registryOf = (rows: Array<{ version: string; status: string }>) => rows.map((r) => `${r.version}:${r.status}`);

before(async () => {
  bundle = await prebundleWorkflows();
  cluster = await startTestCluster('server-services-restarted-mid-deploy');
  world = await startDeployWorld({
    temporal: cluster,
    specOverrides: (spec) => {
      // Stopping a release takes the full stopTimeoutMs (3 s): the deploy stage lasts long enough to restart matching in it.
      spec.runtime.command = SLOW_STOP_RUNTIME_COMMAND;
      spec.health = { ...spec.health, ...TOLERANT_HEALTH };
    },
  });
  await addSlowMigrationVersions(world);
  worker = await startWorkerProcess(world, bundle.env, 'cluster-survivor');
});

after(async () => {
  await world?.cleanup();
  await cluster?.stop();
  await bundle?.remove();
  await printFaultResults();
});

test('cluster: history service killed (SIGKILL) and restarted while the slow migration runs: the deploy completes, the migration applied once', () =>
  runScenario(__filename, 'c06-cluster-history-kill-mid-migrate', 'cluster: history kill -9 + restart during migrate', 'succeeded', async (r) => {
    const handle = await world.deploy({ environment: 'staging', version: '1.2.0' });
    await waitForActivityStarted(handle, 'migrate');
    await waitUntil('the slow migration to be sleeping in pg_sleep', () => findSleepingMigrationBackend(world, 'staging'));
    const historyPid = cluster.cluster.pid('history');
    const faultAt = Date.now();
    await cluster.cluster.stopService('history', 'SIGKILL');
    await cluster.cluster.startService('history');
    r.note(`history pid ${historyPid} killed; a new history process (pid ${cluster.cluster.pid('history')}) listened after ${Date.now() - faultAt} ms`);
    assert.notEqual(cluster.cluster.pid('history'), historyPid);

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    r.timing((await activityRuns(handle, 'migrate'))[0], faultAt);
    const e = await countSideEffects(world, 'staging');
    r.effects(e, '1.2.0', result?.artifactSha256);

    assert.equal(status, 'succeeded', describeResult(result));
    assert.equal(worker.child.exitCode, null, 'the deploy worker rode out the outage');
    assert.deepEqual(e.ledger, Object.fromEntries(MIGRATIONS_UP_TO_1_2_0.map((id) => [id, 1])));
    assert.equal(e.ledgerUnfinished, 0);
    assert.equal(e.slowMigrationRuns, 1, 'the slow migration committed exactly once');
    assert.equal(e.releaseDirs['1.2.0'], 1);
    assert.equal(e.stagingLeftovers, 0);
    assert.deepEqual(e.artifactBlobs, [result.artifactSha256]);
    assert.deepEqual(registryOf(e.registry), ['1.2.0:live']);
    assert.equal(e.answers, '1.2.0');
    await assertStoredInPostgres(cluster, handle, { status: 'completed', attributeValues: ['staging', '1.2.0', 'succeeded'] });
  }));

test('cluster: frontend restarted while production waits at its approval gate: the gate still waits, approval after the restart → succeeded', () =>
  runScenario(__filename, 'c07-cluster-frontend-restart-at-gate', 'cluster: frontend restart at the approval gate', 'succeeded', async (r) => {
    const handle = await world.deploy({ environment: 'production', version: '1.1.0' });
    const waiting = await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', 120_000);
    const before = await countSideEffects(world, 'production');
    assert.deepEqual(before.ledger, {}, 'nothing ran before the gate');
    assert.equal(before.releaseDirs['1.1.0'] ?? 0, 0);

    const frontendPid = cluster.cluster.pid('frontend');
    const faultAt = Date.now();
    await cluster.cluster.restartService('frontend');
    r.note(`frontend pid ${frontendPid} stopped (SIGTERM) and started again as pid ${cluster.cluster.pid('frontend')} in ${Date.now() - faultAt} ms`);
    assert.notEqual(cluster.cluster.pid('frontend'), frontendPid);

    // The same client connection, through the new frontend: the deploy is still at the same gate.
    const after = await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', 60_000);
    assert.deepEqual(after.pendingGate, waiting.pendingGate);
    await world.approve(handle, 'alice', 'approved after the frontend restart');

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const e = await countSideEffects(world, 'production');
    r.effects(e, '1.1.0', result?.artifactSha256);

    assert.equal(status, 'succeeded', describeResult(result));
    assert.deepEqual(result.approvals.map((a) => a.by), ['alice']);
    assert.equal(worker.child.exitCode, null, 'the deploy worker rode out the outage');
    assert.deepEqual(e.ledger, { '001_create_greetings.sql': 1, '002_add_greeting_locale.sql': 1 });
    assert.equal(e.releaseDirs['1.1.0'], 1);
    assert.deepEqual(registryOf(e.registry), ['1.1.0:live']);
    assert.equal(e.answers, '1.1.0');
    await assertStoredInPostgres(cluster, handle, { status: 'completed', attributeValues: ['production', '1.1.0', 'succeeded', 'carol'] });
  }));

test('cluster: matching restarted while the deploy stage stops the old release: the deploy completes, one release directory, one live row', () =>
  runScenario(__filename, 'c08-cluster-matching-restart-mid-deploy', 'cluster: matching restart during deploy', 'succeeded', async (r) => {
    const handle = await world.deploy({ environment: 'staging', version: '1.3.0' });
    await waitForActivityStarted(handle, 'deploy');
    const stateFile = path.join(world.targetRoot('staging'), 'deploy-state.json');
    await waitUntil('the deploy stage to be stopping the old release', async () => {
      const state = JSON.parse(await fs.readFile(stateFile, 'utf8')) as { next?: { version?: string }; completed?: boolean };
      return state.next?.version === '1.3.0' && state.completed === false;
    });
    const matchingPid = cluster.cluster.pid('matching');
    const faultAt = Date.now();
    await cluster.cluster.restartService('matching');
    r.note(`matching pid ${matchingPid} stopped (SIGTERM) and started again as pid ${cluster.cluster.pid('matching')} in ${Date.now() - faultAt} ms`);
    assert.notEqual(cluster.cluster.pid('matching'), matchingPid);

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    r.timing((await activityRuns(handle, 'deploy'))[0], faultAt);
    const e = await countSideEffects(world, 'staging');
    r.effects(e, '1.3.0', result?.artifactSha256);

    assert.equal(status, 'succeeded', describeResult(result));
    assert.equal(result.previousVersion, '1.2.0');
    assert.equal(worker.child.exitCode, null, 'the deploy worker rode out the outage');
    assert.equal(e.releaseDirs['1.3.0'], 1);
    assert.equal(e.stagingLeftovers, 0);
    assert.deepEqual(e.ledger, Object.fromEntries(MIGRATIONS_UP_TO_1_2_0.map((id) => [id, 1])), 'no migration ran again');
    assert.equal(e.slowMigrationRuns, 1);
    assert.deepEqual(registryOf(e.registry), ['1.2.0:superseded', '1.3.0:live']);
    assert.equal(e.liveRows, 1);
    assert.equal(e.answers, '1.3.0');
    assert.deepEqual(e.serviceProcessReleases.map((id) => id.replace(/-[0-9a-f]{12}$/, '')), ['1.3.0'], 'only the new release runs');
    await assertStoredInPostgres(cluster, handle, { status: 'completed', attributeValues: ['staging', '1.3.0', 'succeeded'] });
  }));
