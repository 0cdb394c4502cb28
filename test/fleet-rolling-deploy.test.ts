import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { FrontDoor, startLoad, type LoadRun } from '../src/traffic';
import { readFleetState } from '../src/targets/fleet';
import type { AgentProcess } from './helpers/host-agents';
import { versionsIn } from './helpers/traffic';
import { REPO_ROOT, startDeployWorld, type DeployWorld } from './helpers/deploy-world';

// The example's fleet environment on the real stack: six hosts, each served by its own host agent process
// on its own task queue, behind one HAProxy front door, two hosts per batch. A rolling deploy under a steady
// load through the front door loses no request; the known-bad release halts after its first batch and
// every host is back on the previous version.
let world: DeployWorld;
let load: LoadRun | undefined;
const agents: AgentProcess[] = [];
const HOSTS = ['web-1', 'web-2', 'web-3', 'web-4', 'web-5', 'web-6'];
let hostPorts: Record<string, number>;
let frontDoorPort: number;

before(async () => {
  world = await startDeployWorld();
  await world.startWorker();
  const t = world.spec.environments.fleet.target;
  hostPorts = Object.fromEntries((t.hosts as Array<{ name: string; port: number }>).map((h) => [h.name, h.port]));
  frontDoorPort = t.frontDoor.port;
  // Six agent processes, one per host, as six machines would run them.
  for (const host of HOSTS) agents.push(await world.spawnAgents([host]));
});

after(async () => {
  await load?.stop().catch(() => undefined);
  await world?.cleanup();
});

async function versionOn(port: number): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(3_000) });
    return ((await res.json()) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

async function versions(): Promise<Record<string, string | null>> {
  return Object.fromEntries(await Promise.all(HOSTS.map(async (h) => [h, await versionOn(hostPorts[h]!)] as const)));
}

test('first fleet deploy: all six hosts run 1.0.0, each in the front door, each host and batch a child workflow', async () => {
  const handle = await world.deploy({ environment: 'fleet', version: '1.0.0' });
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', JSON.stringify(result.timeline.slice(-6), null, 1));
  assert.deepEqual(await versions(), Object.fromEntries(HOSTS.map((h) => [h, '1.0.0'])));
  assert.deepEqual([result.fleet?.updated, result.fleet?.total, result.fleet?.failed, result.fleet?.batches], [6, 6, 0, 3]);
  // The front door serves every host.
  const door = await new FrontDoor({ name: 'hello-service-fleet', publicPort: frontDoorPort, directory: path.join(world.dataDir, 'targets', 'fleet', 'front-door') }).status();
  assert.equal(door.running, true);
  assert.deepEqual(door.recorded.map((s) => [s.name, s.port, s.state]), HOSTS.map((h) => [h, hostPorts[h], 'ready']));
  assert.equal(await versionOn(frontDoorPort), '1.0.0');
  // Each agent keeps its host's releases under its own root; the orchestrator records what they reported.
  for (const h of HOSTS) assert.match(await fs.readlink(path.join(world.hostRoot(h), 'current')), /1\.0\.0-/);
  const state = await readFleetState(path.join(world.dataDir, 'targets', 'fleet'));
  assert.deepEqual(HOSTS.map((h) => [h, state.hosts[h]?.status, state.hosts[h]?.current?.version]), HOSTS.map((h) => [h, 'updated', '1.0.0']));
  const batch = await world.client.workflow.getHandle(`${handle.workflowId}/batch-3`).describe();
  assert.equal(batch.type, 'deployFleetBatch');
  const host = await world.client.workflow.getHandle(`${handle.workflowId}/batch-3/host-web-6`).describe();
  assert.equal(host.type, 'deployFleetHost');
  assert.equal(host.status.name, 'COMPLETED');
});

test('rolling 1.0.0 → 1.1.0 under load: two hosts at a time, every host on 1.1.0, and the front door loses no request', async () => {
  load = startLoad({ url: `http://127.0.0.1:${frontDoorPort}/`, concurrency: 4, ratePerSecond: 100, requestTimeoutMs: 5_000 });
  const handle = await world.deploy({ environment: 'fleet', version: '1.1.0' });
  const mid = await world.waitForStatus(handle, (s) => (s.fleet?.batch ?? 0) >= 2, 120_000);
  assert.equal(mid.fleet?.total, 6);
  load.phase('mixed');
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'succeeded', JSON.stringify(result.timeline.slice(-6), null, 1));
  load.phase('after');
  await new Promise((r) => setTimeout(r, 1_000));
  const report = await load.stop();
  load = undefined;
  assert.equal(report.failed, 0, `failed requests: ${JSON.stringify({ byStatus: report.byStatus, conn: report.connectionFailures, timeouts: report.timeouts })}`);
  assert.ok(report.answered > 100, `the load ran: ${report.answered} requests answered`);
  assert.deepEqual(Object.keys(versionsIn(report.phases['after']!.byBody)), ['1.1.0']);
  assert.deepEqual(await versions(), Object.fromEntries(HOSTS.map((h) => [h, '1.1.0'])));
  assert.deepEqual(result.fleet?.hosts.map((h) => [h.host, h.status, h.batch]), HOSTS.map((h, i) => [h, 'updated', Math.floor(i / 2) + 1]));
  // Batch by batch: batch 2's hosts started only after batch 1's hosts finished.
  const closeOf = async (id: string) => (await world.client.workflow.getHandle(id).describe());
  const b1 = await closeOf(`${handle.workflowId}/batch-1`);
  const b2 = await closeOf(`${handle.workflowId}/batch-2`);
  assert.ok(b1.closeTime! <= b2.startTime, 'batch 2 started after batch 1 closed');
});

test('the known-bad 2.0.0 halts after its first batch; web-1 and web-2 are rolled back, the rest never touched', async () => {
  const before = await versions();
  const untouchedPids = await Promise.all(HOSTS.slice(2).map((h) => fs.readFile(path.join(world.hostRoot(h), 'service.pid'), 'utf8')));
  const handle = await world.deploy({ environment: 'fleet', version: '2.0.0' });
  const { status, result } = await world.outcome(handle);
  assert.equal(status, 'rolled_back');
  assert.match(result.reason ?? '', /more than maxFailedHosts 0; the rollout halted after batch 1\/3/);
  assert.deepEqual(before, Object.fromEntries(HOSTS.map((h) => [h, '1.1.0'])));
  assert.deepEqual(await versions(), before, 'every host answers with 1.1.0 again');
  assert.deepEqual(result.fleet?.hosts.map((h) => h.status), ['rolled_back', 'rolled_back', 'pending', 'pending', 'pending', 'pending']);
  const afterPids = await Promise.all(HOSTS.slice(2).map((h) => fs.readFile(path.join(world.hostRoot(h), 'service.pid'), 'utf8')));
  assert.deepEqual(afterPids, untouchedPids, 'hosts of later batches kept their processes');
  for (const h of HOSTS.slice(0, 2)) assert.match(await fs.readlink(path.join(world.hostRoot(h), 'current')), /1\.1\.0-/);
  // The rollback ran through the agents, last updated host first.
  const rollback = await world.client.workflow.getHandle(`${handle.workflowId}/rollback-1-1`).describe();
  assert.equal(rollback.type, 'rollbackFleetHosts');
  assert.equal(await versionOn(frontDoorPort), '1.1.0');
  const door = await new FrontDoor({ name: 'hello-service-fleet', publicPort: frontDoorPort, directory: path.join(world.dataDir, 'targets', 'fleet', 'front-door') }).status();
  assert.deepEqual(door.recorded.map((s) => s.state), HOSTS.map(() => 'ready'), 'every host is back in the front door');
});

test('deployctl status shows the host table of the last fleet deploy', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/cli/deployctl.ts'), 'status', 'hello-service', '--env', 'fleet'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...world.workerEnv },
  });
  assert.match(stdout, /hello-service 2\.0\.0 → fleet: rolled_back/);
  assert.match(stdout, /hosts: 0\/6 updated, 0 failed, 2 rolled back — batch 1\/3 \(2 at a time, at most 0 failed\)/);
  assert.match(stdout, /HOST +BATCH +STATUS +RELEASE \/ ERROR/);
  assert.match(stdout, /web-1 +1 +rolled_back +/);
  assert.match(stdout, /web-6 +3 +pending/);
});
