import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { assertStoredInPostgres, startTestCluster, type TestCluster } from '../helpers/cluster';
import { startDeployWorld, type DeployWorld } from '../helpers/deploy-world';
import {
  MIGRATIONS_UP_TO_1_2_0,
  SLOW_STOP_RUNTIME_COMMAND,
  SLOW_VALIDATE_HEALTH,
  TOLERANT_HEALTH,
  activityRuns,
  addSlowMigrationVersions,
  buildScratchDirs,
  countSideEffects,
  describeResult,
  findSleepingMigrationBackend,
  prebundleWorkflows,
  printFaultResults,
  runScenario,
  startSlowDependency,
  startWorkerProcess,
  storedArtifactSha,
  waitForActivityStarted,
  waitUntil,
  type SlowDependency,
  type WorkerProcess,
} from '../helpers/faults';

/**
 * On a Temporal cluster backed by PostgreSQL (services as separate processes), the deploy worker is killed
 * with SIGKILL inside each stage in turn: build, pre-checks, migrate, deploy, validate. A new worker process
 * finishes the stage and the deploy; every side effect happens once, and the run is in the cluster's
 * `temporal` and visibility databases with its final status.
 *
 * Each stage is slowed just enough to be killed inside: the build sleeps 4 s, staging's pre-checks probe a
 * dependency that answers after 2 s, 1.2.0 carries a migration that sleeps in pg_sleep, stopping a release
 * takes the full stop timeout, and production's validate needs 25 good probes in a row.
 */

let cluster: TestCluster;
let world: DeployWorld;
let bundle: Awaited<ReturnType<typeof prebundleWorkflows>>;
let slowDependency: SlowDependency;
let worker: WorkerProcess;
let workers = 0;

const nextWorker = () => startWorkerProcess(world, bundle.env, `cluster-worker-${++workers}`);
const registryOf = (rows: Array<{ version: string; status: string }>) => rows.map((r) => `${r.version}:${r.status}`);

before(async () => {
  bundle = await prebundleWorkflows();
  slowDependency = await startSlowDependency(2_000);
  cluster = await startTestCluster('worker-kill-in-each-stage');
  world = await startDeployWorld({
    temporal: cluster,
    specOverrides: (spec) => {
      spec.build.command = ['sh', '-c', 'sleep 4; exec node build.js'];
      spec.runtime.command = SLOW_STOP_RUNTIME_COMMAND;
      spec.health = { ...spec.health, ...TOLERANT_HEALTH };
      spec.environments.staging.dependencies = [...(spec.environments.staging.dependencies ?? []), { name: 'slow-registry', http: slowDependency.url }];
      spec.environments.production.health = SLOW_VALIDATE_HEALTH;
    },
  });
  await addSlowMigrationVersions(world);
  worker = await nextWorker();
});

after(async () => {
  await world?.cleanup();
  await cluster?.stop();
  await slowDependency?.close();
  await bundle?.remove();
  await printFaultResults();
});

/** Kills the running worker, starts the next one, and returns when the kill happened. */
async function killWorker(): Promise<{ killed: string; at: number }> {
  const killed = worker.identity;
  const at = await worker.kill();
  worker = await nextWorker();
  return { killed, at };
}

test('cluster: worker kill -9 during build: a new worker builds again, one artifact, the deploy succeeds', () =>
  runScenario(__filename, 'c01-cluster-worker-kill-build', 'cluster: worker kill -9 during build', 'succeeded', async (r) => {
    const handle = await world.deploy({ environment: 'staging', version: '1.0.0' });
    await waitForActivityStarted(handle, 'build');
    await waitUntil('the build checkout', async () => {
      for (const dir of await buildScratchDirs(world)) {
        if (await fs.stat(path.join(world.dataDir, 'work', dir, 'src', 'build.js')).catch(() => undefined)) return true;
      }
      return false;
    });
    const { at } = await killWorker();

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const [run] = await activityRuns(handle, 'build');
    r.timing(run, at);
    const e = await countSideEffects(world, 'staging');
    r.effects(e, '1.0.0', result?.artifactSha256);

    assert.equal(status, 'succeeded', describeResult(result));
    assert.ok(run && run.attempt >= 2, `the killed attempt must not be the one that completed (attempt ${run?.attempt})`);
    assert.equal(run.identity, worker.identity);
    assert.deepEqual(e.artifactBlobs, [result.artifactSha256], 'exactly one artifact file');
    assert.equal(e.artifactTempFiles, 0);
    assert.deepEqual(e.ledger, { '001_create_greetings.sql': 1 });
    assert.equal(e.releaseDirs['1.0.0'], 1);
    assert.deepEqual(registryOf(e.registry), ['1.0.0:live']);
    assert.equal(e.answers, '1.0.0');
    await assertStoredInPostgres(cluster, handle, { status: 'completed', attributeValues: ['hello-service', 'staging', '1.0.0', 'succeeded'] });
  }));

test('cluster: worker kill -9 during pre-checks: a new worker runs them again, the deploy succeeds, nothing is duplicated', () =>
  runScenario(__filename, 'c02-cluster-worker-kill-prechecks', 'cluster: worker kill -9 during preChecks', 'succeeded', async (r) => {
    const requestsBefore = slowDependency.requests;
    const handle = await world.deploy({ environment: 'staging', version: '1.1.0' });
    await waitForActivityStarted(handle, 'preChecks');
    await waitUntil('pre-checks to be probing the slow dependency', async () => slowDependency.requests > requestsBefore);
    const sha = await storedArtifactSha(world, '1.1.0');
    assert.ok(sha, 'the build stage stored 1.1.0 before pre-checks started');
    const { at } = await killWorker();

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const [run] = await activityRuns(handle, 'preChecks');
    r.timing(run, at);
    const e = await countSideEffects(world, 'staging');
    r.effects(e, '1.1.0', sha);

    assert.equal(status, 'succeeded', describeResult(result));
    assert.ok(run && run.attempt >= 2, `the killed attempt must not be the one that completed (attempt ${run?.attempt})`);
    assert.equal(run.identity, worker.identity);
    assert.equal(e.artifactBlobs.length, 2, 'one artifact each for 1.0.0 and 1.1.0');
    assert.deepEqual(e.ledger, { '001_create_greetings.sql': 1, '002_add_greeting_locale.sql': 1 });
    assert.equal(e.releaseDirs['1.1.0'], 1);
    assert.deepEqual(registryOf(e.registry), ['1.0.0:superseded', '1.1.0:live']);
    assert.equal(e.answers, '1.1.0');
    await assertStoredInPostgres(cluster, handle, { status: 'completed', attributeValues: ['1.1.0', 'succeeded'] });
  }));

test('cluster: worker kill -9 during migrate: a new worker finishes it, the slow migration commits once with one ledger row', () =>
  runScenario(__filename, 'c03-cluster-worker-kill-migrate', 'cluster: worker kill -9 during migrate', 'succeeded', async (r) => {
    const handle = await world.deploy({ environment: 'staging', version: '1.2.0' });
    await waitForActivityStarted(handle, 'migrate');
    await waitUntil('the slow migration to be sleeping in pg_sleep', () => findSleepingMigrationBackend(world, 'staging'));
    const { at } = await killWorker();

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const [run] = await activityRuns(handle, 'migrate');
    r.timing(run, at);
    const e = await countSideEffects(world, 'staging');
    r.effects(e, '1.2.0', result?.artifactSha256);

    assert.equal(status, 'succeeded', describeResult(result));
    assert.ok(run && run.attempt >= 2, `the killed attempt must not be the one that completed (attempt ${run?.attempt})`);
    assert.equal(run.identity, worker.identity);
    assert.deepEqual(e.ledger, Object.fromEntries(MIGRATIONS_UP_TO_1_2_0.map((id) => [id, 1])));
    assert.equal(e.ledgerUnfinished, 0);
    assert.equal(e.slowMigrationRuns, 1, 'the slow migration committed exactly once');
    assert.equal(e.releaseDirs['1.2.0'], 1);
    assert.equal(e.stagingLeftovers, 0);
    assert.deepEqual(registryOf(e.registry), ['1.0.0:superseded', '1.1.0:superseded', '1.2.0:live']);
    assert.equal(e.answers, '1.2.0');
    await assertStoredInPostgres(cluster, handle, { status: 'completed', attributeValues: ['1.2.0', 'succeeded'] });
  }));

test('cluster: worker kill -9 during deploy (while the old release stops): a new worker finishes it, one release directory, one live row', () =>
  runScenario(__filename, 'c04-cluster-worker-kill-deploy', 'cluster: worker kill -9 during deploy', 'succeeded', async (r) => {
    const handle = await world.deploy({ environment: 'staging', version: '1.3.0' });
    await waitForActivityStarted(handle, 'deploy');
    const stateFile = path.join(world.targetRoot('staging'), 'deploy-state.json');
    await waitUntil('the deploy stage to be stopping the old release', async () => {
      const state = JSON.parse(await fs.readFile(stateFile, 'utf8')) as { next?: { version?: string }; completed?: boolean };
      return state.next?.version === '1.3.0' && state.completed === false;
    });
    const { at } = await killWorker();

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const [run] = await activityRuns(handle, 'deploy');
    r.timing(run, at);
    const e = await countSideEffects(world, 'staging');
    r.effects(e, '1.3.0', result?.artifactSha256);

    assert.equal(status, 'succeeded', describeResult(result));
    assert.equal(result.previousVersion, '1.2.0');
    assert.ok(run && run.attempt >= 2, `the killed attempt must not be the one that completed (attempt ${run?.attempt})`);
    assert.equal(run.identity, worker.identity);
    assert.equal(e.releaseDirs['1.3.0'], 1);
    assert.equal(e.stagingLeftovers, 0);
    assert.deepEqual(e.ledger, Object.fromEntries(MIGRATIONS_UP_TO_1_2_0.map((id) => [id, 1])), 'no migration ran again');
    assert.equal(e.slowMigrationRuns, 1);
    assert.deepEqual(registryOf(e.registry), ['1.0.0:superseded', '1.1.0:superseded', '1.2.0:superseded', '1.3.0:live']);
    assert.equal(e.liveRows, 1);
    assert.equal(e.answers, '1.3.0');
    assert.deepEqual(e.serviceProcessReleases.map((id) => id.replace(/-[0-9a-f]{12}$/, '')), ['1.3.0'], 'only the new release runs');
    await assertStoredInPostgres(cluster, handle, { status: 'completed', attributeValues: ['1.3.0', 'succeeded'] });
  }));

test('cluster: worker kill -9 during validate (production, approved): a new worker analyses health again, one live release', () =>
  runScenario(__filename, 'c05-cluster-worker-kill-validate', 'cluster: worker kill -9 during validate', 'succeeded', async (r) => {
    const handle = await world.deploy({ environment: 'production', version: '1.0.0' });
    await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', 120_000);
    await world.approve(handle, 'bob', 'cluster fault test');
    await waitForActivityStarted(handle, 'validate');
    await waitUntil('a few probes into the analysis', async () => (await world.get('production', '/readyz').catch(() => undefined))?.status === 200);
    const { at } = await killWorker();

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const [run] = await activityRuns(handle, 'validate');
    r.timing(run, at);
    const e = await countSideEffects(world, 'production');
    r.effects(e, '1.0.0', result?.artifactSha256);

    assert.equal(status, 'succeeded', describeResult(result));
    assert.ok(run && run.attempt >= 2, `the killed attempt must not be the one that completed (attempt ${run?.attempt})`);
    assert.equal(run.identity, worker.identity);
    assert.deepEqual(e.ledger, { '001_create_greetings.sql': 1 });
    assert.equal(e.releaseDirs['1.0.0'], 1);
    assert.deepEqual(registryOf(e.registry), ['1.0.0:live']);
    assert.equal(e.answers, '1.0.0');
    assert.equal((result.health as { passed?: boolean }).passed, true);
    assert.deepEqual(result.approvals.map((a) => a.by), ['bob']);
    await assertStoredInPostgres(cluster, handle, { status: 'completed', attributeValues: ['production', '1.0.0', 'succeeded'] });
  }));
