import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { startDeployWorld, type DeployWorld } from '../helpers/deploy-world';
import { TOLERANT_HEALTH, activityRuns, describeResult, prebundleWorkflows, printFaultResults, runScenario, startWorkerProcess, type WorkerProcess } from '../helpers/faults';

/**
 * Two worker replicas with data directories of their own, as on two machines: they share only Temporal and
 * the PostgreSQL database (release registry and artifact store). Replica A plans and builds, and is killed
 * while the deploy waits at its gate before the deploy stage; its data directory goes with it. Replica B
 * deploys from the shared store: it fetches the artifact by sha256 into its own cache.
 */

let world: DeployWorld;
let bundle: Awaited<ReturnType<typeof prebundleWorkflows>>;
let replicas: string;
let replicaB: WorkerProcess | undefined;
const gate = { before: 'deploy', approvers: ['alice'], quorum: 1, requesterMayApprove: false, timeoutMinutes: 60, onTimeout: 'reject' };

before(async () => {
  bundle = await prebundleWorkflows();
  world = await startDeployWorld({
    specOverrides: (spec) => {
      spec.health = { ...spec.health, ...TOLERANT_HEALTH };
      spec.environments.staging.gates = [gate];
    },
  });
  replicas = await fs.mkdtemp(path.join(os.tmpdir(), 'replicas-'));
});

after(async () => {
  await world?.cleanup();
  await bundle?.remove();
  await fs.rm(replicas, { recursive: true, force: true });
  await printFaultResults();
});

const dataDirOf = (name: string) => path.join(replicas, name);
const cachedBlob = (name: string, sha256: string) => path.join(dataDirOf(name), 'artifacts', 'sha256', `${sha256}.tar.gz`);

async function fileSha256(file: string): Promise<string | null> {
  try {
    return createHash('sha256').update(await fs.readFile(file)).digest('hex');
  } catch {
    return null;
  }
}

async function recordedSha(version: string): Promise<string | undefined> {
  const rows = await world.orchestratorDb.query<{ sha256: string }>(`SELECT sha256 FROM deploy_artifact_versions WHERE service = 'hello-service' AND version = $1`, [version]);
  return rows[0]?.sha256;
}

async function startReplica(name: string): Promise<WorkerProcess> {
  await fs.mkdir(dataDirOf(name), { recursive: true });
  return startWorkerProcess(world, { ...bundle.env, DEPLOY_DATA_DIR: dataDirOf(name) }, name);
}

/** Approves at the gate before deploy (signed by alice) and waits for the outcome. */
async function approveAndFinish(handle: WorkflowHandle) {
  await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', 120_000);
  await world.approve(handle, 'alice');
  return world.outcome(handle);
}

async function identities(handle: WorkflowHandle, ...activities: string[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const a of activities) out[a] = (await activityRuns(handle, a)).map((r) => r.identity);
  return out;
}

test('a deploy whose stages land on two replicas with separate data directories: built on one, deployed by the other from the shared store', () =>
  runScenario(__filename, '11-two-replicas-separate-data-dirs', 'build on replica A, A killed, deploy on replica B from the shared store', 'succeeded', async (r) => {
    const replicaA = await startReplica('replica-a');
    const handle = await world.deploy({ environment: 'staging', version: '1.0.0' });
    await world.waitForStatus(handle, (s) => s.status === 'awaiting_approval', 120_000);
    const sha = await recordedSha('1.0.0');
    assert.ok(sha, 'the build recorded 1.0.0 in the shared store');
    assert.equal(await fileSha256(cachedBlob('replica-a', sha)), sha, "the artifact is in replica A's cache");

    // A goes away with its disk: nothing replica B does may rely on A's data directory.
    await replicaA.kill();
    await fs.rm(dataDirOf('replica-a'), { recursive: true, force: true });
    replicaB = await startReplica('replica-b');
    assert.equal(await fileSha256(cachedBlob('replica-b', sha)), null, "replica B's cache starts without it");

    const { status, result } = await approveAndFinish(handle);
    r.outcome = status;
    assert.equal(status, 'succeeded', describeResult(result));
    const ran = await identities(handle, 'plan', 'build', 'preChecks', 'migrate', 'deploy', 'validate');
    r.note(`history: ${Object.entries(ran).map(([a, ids]) => `${a}@${ids.join('+')}`).join(' ')}`);
    assert.deepEqual(ran.plan, ['replica-a']);
    assert.deepEqual(ran.build, ['replica-a']);
    assert.deepEqual(ran.deploy, ['replica-b']);
    assert.deepEqual(ran.validate, ['replica-b']);

    assert.equal(await fileSha256(cachedBlob('replica-b', sha)), sha, "replica B's cache got the blob by its sha256");
    assert.deepEqual(await fs.readdir(path.join(dataDirOf('replica-b'), 'artifacts')), ['sha256'], 'replica B fetched the blob; it built and recorded nothing');
    assert.equal(result.artifactSha256, sha);
    const live = await world.orchestratorDb.query<{ version: string; artifact_sha256: string }>(`SELECT version, artifact_sha256 FROM deploy_releases WHERE environment = 'staging' AND status = 'live'`);
    assert.deepEqual(live, [{ version: '1.0.0', artifact_sha256: sha }]);
    assert.equal((await world.get('staging', '/')).body.version, '1.0.0');
  }));

test("a rollback to a release whose artifact is gone from the store and every cache is rebuilt, and runs because it hashes to the registry's sha256", () =>
  runScenario(__filename, '12-rollback-rebuilds-lost-artifact', 'rollback to 1.0.0 after its artifact was lost everywhere', 'succeeded', async (r) => {
    assert.ok(replicaB, 'the first scenario left replica B running');
    const forward = await world.deploy({ environment: 'staging', version: '1.1.0' });
    assert.equal((await approveAndFinish(forward)).status, 'succeeded');

    // 1.0.0 was live here (the registry says so, with its sha256), but its bytes and record are gone.
    const sha = (await recordedSha('1.0.0'))!;
    await world.orchestratorDb.query(`DELETE FROM deploy_artifact_blobs WHERE sha256 = $1`, [sha]);
    await world.orchestratorDb.query(`DELETE FROM deploy_artifact_versions WHERE service = 'hello-service' AND version = '1.0.0'`);
    await fs.rm(cachedBlob('replica-b', sha), { force: true });

    const rollback = await world.deploy({ environment: 'staging', version: '1.0.0' });
    await world.waitForStatus(rollback, (s) => s.status === 'awaiting_approval', 180_000);
    const { status, result } = await approveAndFinish(rollback);
    r.outcome = status;
    assert.equal(status, 'succeeded', describeResult(result));
    assert.equal(result.artifactSha256, sha, 'the rebuilt artifact is the one that ran before');
    assert.equal(await recordedSha('1.0.0'), sha, 'the store records it again');
    assert.equal(await fileSha256(cachedBlob('replica-b', sha)), sha);
    const rows = await world.orchestratorDb.query<{ version: string; status: string }>(`SELECT version, status FROM deploy_releases WHERE environment = 'staging' ORDER BY id`);
    assert.deepEqual(rows.map((x) => `${x.version}:${x.status}`), ['1.0.0:superseded', '1.1.0:superseded', '1.0.0:live']);
    assert.equal((await world.get('staging', '/')).body.version, '1.0.0');
  }));
