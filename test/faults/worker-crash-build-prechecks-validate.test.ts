import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { startDeployWorld, type DeployWorld } from '../helpers/deploy-world';
import {
  SLOW_VALIDATE_HEALTH,
  TOLERANT_HEALTH,
  activityRuns,
  buildScratchDirs,
  countSideEffects,
  describeResult,
  prebundleWorkflows,
  printFaultResults,
  runScenario,
  snapshotArtifact,
  startSlowDependency,
  startWorkerProcess,
  storedArtifactSha,
  waitForActivityStarted,
  waitUntil,
  type ArtifactSnapshot,
  type SlowDependency,
  type WorkerProcess,
} from '../helpers/faults';

/**
 * A worker killed with SIGKILL inside the three stages that change nothing outside the orchestrator's own
 * store: build (slowed by a sleep before the build command), pre-checks (slowed by two dependencies that
 * answer after 2 s each) and validate (25 successful probes in a row needed). A new worker process finishes
 * the stage and the deploy; the artifact is stored once and everything downstream happens once.
 */

let world: DeployWorld;
let bundle: Awaited<ReturnType<typeof prebundleWorkflows>>;
let slowDependency: SlowDependency;
let worker: WorkerProcess;
let workers = 0;
let artifact100: ArtifactSnapshot | undefined;

const nextWorker = () => startWorkerProcess(world, bundle.env, `stage-worker-${++workers}`);

before(async () => {
  bundle = await prebundleWorkflows();
  slowDependency = await startSlowDependency(2_000);
  world = await startDeployWorld({
    specOverrides: (spec) => {
      spec.build.command = ['sh', '-c', 'sleep 4; exec node build.js'];
      spec.health = { ...spec.health, ...TOLERANT_HEALTH };
      spec.environments.staging.dependencies = [
        ...(spec.environments.staging.dependencies ?? []),
        { name: 'slow-registry', http: slowDependency.url },
        { name: 'slow-cache', http: slowDependency.url },
      ];
      spec.environments.production.health = SLOW_VALIDATE_HEALTH;
    },
  });
  worker = await nextWorker();
});

after(async () => {
  await world?.cleanup();
  await slowDependency?.close();
  await bundle?.remove();
  await printFaultResults();
});

test('worker kill -9 during build: a new worker builds again, one artifact is stored and the deploy succeeds', () =>
  runScenario(__filename, '01-worker-kill-build', 'worker kill -9 during build', 'succeeded', async (r) => {
    const handle = await world.deploy({ environment: 'staging', version: '1.0.0' });
    await waitForActivityStarted(handle, 'build');
    // The checkout is there and the build command is sleeping: the kill lands inside the build proper.
    await waitUntil('the build checkout', async () => {
      for (const dir of await buildScratchDirs(world)) {
        if (await fs.stat(path.join(world.dataDir, 'work', dir, 'src', 'build.js')).catch(() => undefined)) return true;
      }
      return false;
    });
    const killedAt = await worker.kill();
    worker = await nextWorker();

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const [run] = await activityRuns(handle, 'build');
    r.timing(run, killedAt);
    const e = await countSideEffects(world, 'staging');
    r.effects(e, '1.0.0', result?.artifactSha256);
    const leftovers = await buildScratchDirs(world);
    if (leftovers.length) r.note(`the killed build's scratch checkout stays behind in <dataDir>/work: ${leftovers.join(', ')} (nothing removes it)`);

    assert.equal(status, 'succeeded', describeResult(result));
    assert.ok(run && run.attempt >= 2, `the killed attempt must not be the one that completed (attempt ${run?.attempt})`);
    assert.equal(run.identity, worker.identity);
    assert.equal(await storedArtifactSha(world, '1.0.0'), result.artifactSha256);
    assert.deepEqual(e.artifactBlobs, [result.artifactSha256], 'exactly one artifact file');
    assert.equal(e.artifactTempFiles, 0);
    artifact100 = await snapshotArtifact(world, result.artifactSha256!);
    assert.equal(artifact100.contentSha256, result.artifactSha256, 'the stored bytes hash to their name');
    r.artifactUnchanged = true;
    assert.deepEqual(e.ledger, { '001_create_greetings.sql': 1 });
    assert.equal(e.releaseDirs['1.0.0'], 1);
    assert.deepEqual(e.registry.map((x) => `${x.version}:${x.status}`), ['1.0.0:live']);
    assert.equal(e.answers, '1.0.0');
  }));

test('worker kill -9 during pre-checks: a new worker runs them again, the deploy succeeds, nothing is duplicated', () =>
  runScenario(__filename, '02-worker-kill-prechecks', 'worker kill -9 during preChecks', 'succeeded', async (r) => {
    const requestsBefore = slowDependency.requests;
    const handle = await world.deploy({ environment: 'staging', version: '1.1.0' });
    await waitForActivityStarted(handle, 'preChecks');
    await waitUntil('pre-checks to be probing the slow dependency', async () => slowDependency.requests > requestsBefore);
    const sha = await storedArtifactSha(world, '1.1.0');
    assert.ok(sha);
    const before = await snapshotArtifact(world, sha);
    const killedAt = await worker.kill();
    worker = await nextWorker();

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const [run] = await activityRuns(handle, 'preChecks');
    r.timing(run, killedAt);
    const afterKill = await snapshotArtifact(world, sha);
    r.artifactUnchanged = JSON.stringify(afterKill) === JSON.stringify(before);
    const e = await countSideEffects(world, 'staging');
    r.effects(e, '1.1.0', sha);

    assert.equal(status, 'succeeded', describeResult(result));
    assert.ok(run && run.attempt >= 2, `the killed attempt must not be the one that completed (attempt ${run?.attempt})`);
    assert.equal(run.identity, worker.identity);
    assert.deepEqual(afterKill, before);
    assert.equal(e.artifactBlobs.length, 2, 'one artifact each for 1.0.0 and 1.1.0');
    assert.deepEqual(e.ledger, { '001_create_greetings.sql': 1, '002_add_greeting_locale.sql': 1 });
    assert.equal(e.releaseDirs['1.1.0'], 1);
    assert.equal(e.stagingLeftovers, 0);
    assert.deepEqual(e.registry.map((x) => `${x.version}:${x.status}`), ['1.0.0:superseded', '1.1.0:live']);
    assert.equal(e.liveRows, 1);
    assert.equal(e.answers, '1.1.0');
  }));

test('worker kill -9 during validate: a new worker analyses health again and the deploy succeeds with one live release', () =>
  runScenario(__filename, '03-worker-kill-validate', 'worker kill -9 during validate', 'succeeded', async (r) => {
    const handle = await world.deploy({ environment: 'production', version: '1.0.0' });
    await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', 120_000);
    await world.approve(handle, 'bob', 'fault test');
    await waitForActivityStarted(handle, 'validate');
    await new Promise((resolve) => setTimeout(resolve, 1_000)); // a few probes into the analysis
    const killedAt = await worker.kill();
    worker = await nextWorker();

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const [run] = await activityRuns(handle, 'validate');
    r.timing(run, killedAt);
    const e = await countSideEffects(world, 'production');
    r.effects(e, '1.0.0', result?.artifactSha256);
    const now = result?.artifactSha256 ? await snapshotArtifact(world, result.artifactSha256) : undefined;
    r.artifactUnchanged = JSON.stringify(now) === JSON.stringify(artifact100);

    assert.equal(status, 'succeeded', describeResult(result));
    assert.ok(run && run.attempt >= 2, `the killed attempt must not be the one that completed (attempt ${run?.attempt})`);
    assert.equal(run.identity, worker.identity);
    assert.deepEqual(now, artifact100, 'production reused the artifact staging stored, byte for byte');
    assert.equal(e.artifactBlobs.length, 2);
    assert.deepEqual(e.ledger, { '001_create_greetings.sql': 1 });
    assert.equal(e.releaseDirs['1.0.0'], 1);
    assert.deepEqual(e.registry.map((x) => `${x.version}:${x.status}`), ['1.0.0:live']);
    assert.equal(e.answers, '1.0.0');
    assert.equal((result.health as { passed?: boolean }).passed, true);
  }));
