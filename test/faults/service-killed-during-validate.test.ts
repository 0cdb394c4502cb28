import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { startDeployWorld, type DeployWorld } from '../helpers/deploy-world';
import {
  SLOW_VALIDATE_HEALTH,
  activityRuns,
  countSideEffects,
  describeResult,
  prebundleWorkflows,
  printFaultResults,
  runScenario,
  snapshotArtifact,
  startWorkerProcess,
  storedArtifactSha,
  waitForActivityStarted,
  waitUntil,
} from '../helpers/faults';

/**
 * The new release's process killed with SIGKILL (the pid in <target root>/service.pid) while validate
 * probes it: the health analysis fails on consecutive refused probes, the saga rolls the target back, and
 * the previous release answers again, live in the registry.
 */

let world: DeployWorld;
let bundle: Awaited<ReturnType<typeof prebundleWorkflows>>;

before(async () => {
  bundle = await prebundleWorkflows();
  world = await startDeployWorld({ specOverrides: (spec) => (spec.health = { ...spec.health, ...SLOW_VALIDATE_HEALTH }) });
  await startWorkerProcess(world, bundle.env, 'validate-worker');
  const first = await world.outcome(await world.deploy({ environment: 'staging', version: '1.0.0' }));
  assert.equal(first.status, 'succeeded', describeResult(first.result));
});

after(async () => {
  await world?.cleanup();
  await bundle?.remove();
  await printFaultResults();
});

test('service process killed during validate: health analysis fails and the deploy rolls back to the previous version, which answers', () =>
  runScenario(__filename, '09-service-killed-during-validate', 'service kill -9 during validate', 'rolled_back', async (r) => {
    const handle = await world.deploy({ environment: 'staging', version: '1.1.0' });
    await waitForActivityStarted(handle, 'validate');
    const pidFile = path.join(world.targetRoot('staging'), 'service.pid');
    // Wait until 1.1.0 answers, so the analysis has seen it healthy before it dies.
    await waitUntil('1.1.0 to answer', async () => (await world.get('staging', '/')).body?.version === '1.1.0');
    const { pid, releaseId } = JSON.parse(await fs.readFile(pidFile, 'utf8')) as { pid: number; releaseId: string };
    assert.match(releaseId, /^1\.1\.0-/);
    const sha = await storedArtifactSha(world, '1.1.0');
    assert.ok(sha);
    const artifactBefore = await snapshotArtifact(world, sha);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');

    const { status, result } = await world.outcome(handle);
    r.outcome = status;
    const [rollback] = await activityRuns(handle, 'rollbackDeploy');
    r.timing(rollback, killedAt);
    r.note('restart/recovery ms here: service killed -> rollbackDeploy started / completed');
    const e = await countSideEffects(world, 'staging');
    r.effects(e, '1.1.0', result?.artifactSha256);
    const artifactAfter = await snapshotArtifact(world, sha);
    r.artifactUnchanged = JSON.stringify(artifactAfter) === JSON.stringify(artifactBefore);
    const health = result?.health as { passed?: boolean; reason?: string } | undefined;
    r.note(`health: ${health?.reason}`);

    assert.equal(status, 'rolled_back', describeResult(result));
    assert.equal(health?.passed, false);
    assert.match(health?.reason ?? '', /failed in a row/);
    assert.deepEqual(result.compensations.map((c) => `${c.name}:${c.status}`), ['rollbackDeploy:succeeded']);
    assert.equal(rollback?.attempt, 1);
    assert.equal(e.answers, '1.0.0', 'the previous release answers again');
    assert.deepEqual(e.serviceProcessReleases.map((id) => id.replace(/-[0-9a-f]{12}$/, '')), ['1.0.0']);
    const now = JSON.parse(await fs.readFile(pidFile, 'utf8')) as { pid: number; releaseId: string };
    assert.match(now.releaseId, /^1\.0\.0-/);
    assert.notEqual(now.pid, pid);
    assert.match(path.basename(await fs.readlink(path.join(world.targetRoot('staging'), 'current'))), /^1\.0\.0-/);
    assert.deepEqual(e.registry.map((x) => `${x.version}:${x.status}`), ['1.0.0:live', '1.1.0:rolled_back']);
    assert.equal(e.liveRows, 1);
    assert.deepEqual(e.ledger, { '001_create_greetings.sql': 1, '002_add_greeting_locale.sql': 1 }, 'the expand migration stays, once');
    assert.equal(e.releaseDirs['1.1.0'], 1);
    assert.equal(e.releaseDirs['1.0.0'], 1);
    assert.equal(e.artifactBlobs.length, 2);
    assert.deepEqual(artifactAfter, artifactBefore);
  }));
