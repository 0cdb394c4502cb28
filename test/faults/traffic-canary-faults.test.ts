import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FrontDoor, startLoad } from '../../src/traffic';
import { startDeployWorld, type DeployWorld } from '../helpers/deploy-world';
import { activityRuns, describeResult, prebundleWorkflows, startWorkerProcess, waitUntil, type WorkerProcess } from '../helpers/faults';

/**
 * Faults in the middle of a canary on staging, with real HAProxy, real releases and a real worker process:
 * - the worker killed with SIGKILL while the canary holds 25%: a new worker resumes at the next step (the
 *   25% step is not run again) and no request through the front door fails;
 * - HAProxy killed with SIGKILL while the canary holds 25%: the next traffic step brings it back from its
 *   recorded state, the deploy completes, and what haproxy serves matches what is recorded.
 */

let world: DeployWorld;
let bundle: Awaited<ReturnType<typeof prebundleWorkflows>>;
let worker: WorkerProcess;
let workers = 0;
const nextWorker = () => startWorkerProcess(world, bundle.env, `traffic-worker-${++workers}`);

before(async () => {
  bundle = await prebundleWorkflows();
  world = await startDeployWorld({
    specOverrides: (spec) => {
      spec.environments.staging.strategy = {
        type: 'canary',
        // The pause holds the canary at 25% long enough to strike there.
        steps: [{ setWeight: 25 }, { pause: { seconds: 4 } }, { setWeight: 50 }, { analysis: { against: 'frontDoor' } }],
        scaleDownDelaySeconds: 1,
      };
    },
  });
  worker = await nextWorker();
  const first = await world.outcome(await world.deploy({ environment: 'staging', version: '1.0.0' }));
  assert.equal(first.status, 'succeeded', describeResult(first.result));
});

after(async () => {
  await world?.cleanup();
  await bundle?.remove();
});

const frontDoor = () => new FrontDoor({ name: 'hello-service-staging', publicPort: world.ports.staging, directory: path.join(world.targetRoot('staging'), 'front-door') });

/** The weights of the shiftTraffic activities in history, in the order they were scheduled. */
async function shiftedWeights(handle: Parameters<typeof activityRuns>[0]): Promise<number[]> {
  const history = await handle.fetchHistory();
  const out: number[] = [];
  for (const e of history.events ?? []) {
    const a = e.activityTaskScheduledEventAttributes;
    if (a?.activityType?.name !== 'shiftTraffic') continue;
    const payload = a.input?.payloads?.[0]?.data;
    out.push(JSON.parse(Buffer.from(payload as Uint8Array).toString('utf8')).weight);
  }
  return out;
}

test('worker killed with SIGKILL while the canary holds 25%: a new worker resumes at the next step, no request fails', async () => {
  const load = startLoad({ url: `http://127.0.0.1:${world.ports.staging}/`, concurrency: 4, ratePerSecond: 100, requestTimeoutMs: 5_000 });
  const handle = await world.deploy({ environment: 'staging', version: '1.1.0' });
  await world.waitForStatus(handle, (s) => s.traffic?.weight === 25 && s.traffic.step === 2, 120_000);
  await worker.kill();
  worker = await nextWorker();
  const { status, result } = await world.outcome(handle);
  const report = await load.stop();
  assert.equal(status, 'succeeded', describeResult(result));
  assert.deepEqual(await shiftedWeights(handle), [25, 50], 'each weight step ran once, in order');
  const promotes = await activityRuns(handle, 'promoteRelease');
  assert.equal(promotes.length, 1);
  assert.equal(promotes[0]!.identity, worker.identity, 'the new worker carried the rollout on');
  assert.equal(report.failed, 0, `failed requests: ${JSON.stringify({ byStatus: report.byStatus, conn: report.connectionFailures, timeouts: report.timeouts })}`);
  assert.equal((await world.get('staging', '/')).body.version, '1.1.0');
});

test('HAProxy killed with SIGKILL while the canary holds 25%: it is brought back from its record and the deploy completes', async () => {
  // Back to 1.0.0 first, so the canary below has a stable release to split traffic with.
  const back = await world.outcome(await world.deploy({ environment: 'staging', version: '1.0.0' }));
  assert.equal(back.status, 'succeeded', describeResult(back.result));
  const handle = await world.deploy({ environment: 'staging', version: '1.1.0' });
  await world.waitForStatus(handle, (s) => s.traffic?.weight === 25 && s.traffic.step === 2, 120_000);
  const pidFile = path.join(world.targetRoot('staging'), 'front-door', 'haproxy.pid');
  const pid = Number((await fs.readFile(pidFile, 'utf8')).trim());
  process.kill(pid, 'SIGKILL');
  await waitUntil('haproxy gone', async () => {
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  });
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', describeResult(result));
  const fd = await frontDoor().status();
  assert.equal(fd.running, true);
  assert.notEqual(fd.pid, pid, 'a new haproxy serves the front door');
  assert.ok(fd.matchesRecorded, `haproxy serves what is recorded: ${JSON.stringify({ servers: fd.servers, recorded: fd.recorded })}`);
  assert.deepEqual(fd.recorded.map((s) => s.weight), [100]);
  assert.equal((await world.get('staging', '/')).body.version, '1.1.0');
});
