import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { startDeployWorld, type DeployWorld } from '../helpers/deploy-world';
import {
  SLOW_STOP_RUNTIME_COMMAND,
  TOLERANT_HEALTH,
  activityRuns,
  countSideEffects,
  describeResult,
  prebundleWorkflows,
  printFaultResults,
  runScenario,
  startWorkerProcess,
  waitForActivityStarted,
  waitUntil,
  type SideEffects,
  type WorkerProcess,
} from '../helpers/faults';
import type { DeployResult } from '../../src/workflows/types';
import { releaseProcesses } from '../fixtures/targets/harness';
import { readConfigSource } from '../../src/runtime-config';
import { createLocalTarget, type CurrentRelease } from '../../src/targets';

/**
 * A worker killed with SIGKILL at eight points across the deploy stage of staging 1.0.0 -> 1.1.0: six delays
 * after the deploy activity started (the stop of 1.0.0 takes stopTimeoutMs, so they fall before, inside and
 * after it), the moment the start intent is on disk, and the moment the 1.1.0 process exists (between its
 * spawn and the pidfile, when the kill lands in time); and a ninth where the spawned release itself sends
 * SIGKILL to the worker before it can write the pidfile. A new worker retries the stage each time: the
 * deploy succeeds, one release process group listens on the port, and the registry has one live row.
 */

const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let world: DeployWorld;
let bundle: Awaited<ReturnType<typeof prebundleWorkflows>>;
let worker: WorkerProcess;
let workers = 0;
let v100: CurrentRelease;

const nextWorker = () => startWorkerProcess(world, bundle.env, `deploy-stage-worker-${++workers}`);
const stagingRoot = () => world.targetRoot('staging');

before(async () => {
  bundle = await prebundleWorkflows();
  world = await startDeployWorld({
    specOverrides: (spec) => {
      spec.health = { ...spec.health, ...TOLERANT_HEALTH };
      spec.runtime.command = SLOW_STOP_RUNTIME_COMMAND;
    },
  });
  worker = await nextWorker();
  const first = await world.outcome(await world.deploy({ environment: 'staging', version: '1.0.0' }));
  assert.equal(first.status, 'succeeded', describeResult(first.result));
  const current = await localStaging().current();
  assert.ok(current);
  v100 = current;
});

after(async () => {
  await world?.cleanup();
  await bundle?.remove();
  await printFaultResults();
});

function localStaging() {
  return createLocalTarget({ root: stagingRoot(), command: SLOW_STOP_RUNTIME_COMMAND, port: world.ports.staging, keepReleases: 5, stopTimeoutMs: 3000 });
}

/** Process groups of the release processes under the staging root, from /proc/<pid>/stat field 5. */
async function releaseGroups(): Promise<Map<number, string>> {
  const releases = await fs.realpath(path.join(stagingRoot(), 'releases'));
  const groups = new Map<number, string>();
  for (const pid of await releaseProcesses(stagingRoot())) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      groups.set(pgrp, path.relative(releases, await fs.readlink(`/proc/${pid}/cwd`)).split('/')[0]!);
    } catch {
      // exited meanwhile
    }
  }
  return groups;
}

/** Pids listening on the port, as `ss -ltnp` (iproute2) reports them. */
async function listenerPids(port: number): Promise<number[]> {
  const { stdout } = await execFileAsync('ss', ['-Hltnp', `sport = :${port}`]);
  return [...new Set([...stdout.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])))].sort();
}

function pgrpOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}

/** The deploy succeeded, one release process group (1.1.0) runs and alone listens on the port, one live row. */
async function assertOneRelease(status: string, result: DeployResult, e: SideEffects): Promise<void> {
  assert.equal(status, 'succeeded', describeResult(result));
  assert.equal(e.answers, '1.1.0');
  const groups = await releaseGroups();
  assert.equal(groups.size, 1, `one release process group, found ${JSON.stringify([...groups])}`);
  const [[pgrp, release]] = [...groups];
  assert.match(release, /^1\.1\.0-/);
  const listeners = await listenerPids(world.ports.staging);
  assert.ok(listeners.length >= 1, 'something listens on the port');
  for (const pid of listeners) assert.equal(pgrpOf(pid), pgrp, `listener pid ${pid} belongs to the release's process group ${pgrp}`);
  assert.equal(listeners.length, 1, `exactly one process listens, found ${listeners.join(', ')}`);
  assert.equal((await localStaging().status()).pid, pgrp, 'the pidfile names the running release');
  assert.equal(e.liveRows, 1);
  assert.equal(e.registry.filter((x) => x.status === 'live')[0]?.version, '1.1.0');
}

const KILL_POINTS: { label: string; when: () => Promise<unknown> }[] = [
  ...[0, 600, 1500, 2500, 3200, 3800].map((ms) => ({ label: `${ms} ms after the deploy activity started`, when: () => sleep(ms) })),
  {
    label: 'the start intent is on disk',
    when: () => waitUntil('the start intent', () => exists(path.join(stagingRoot(), 'service.starting.json')), 60_000, 5),
  },
  {
    label: 'the 1.1.0 process exists',
    when: () => waitUntil('a 1.1.0 process', async () => [...(await releaseGroups()).values()].some((r) => r.startsWith('1.1.0-')), 60_000, 5),
  },
];

KILL_POINTS.forEach((point, i) => {
  const id = `20-worker-kill-deploy-${i + 1}`;
  test(`worker kill -9 in the deploy stage (${point.label}): a new worker finishes it, one release process listens, one live row`, () =>
    runScenario(__filename, id, `worker kill -9 in deploy: ${point.label}`, 'succeeded', async (r) => {
      // Back to 1.0.0 as an operator would, so that every point deploys 1.0.0 -> 1.1.0.
      await localStaging().rollback(v100, await readConfigSource(world.example.envFiles.staging));

      const handle = await world.deploy({ environment: 'staging', version: '1.1.0' });
      await waitForActivityStarted(handle, 'deploy');
      await point.when();
      const killedAt = await worker.kill();
      const pidFile = await fs.readFile(path.join(stagingRoot(), 'service.pid'), 'utf8').catch(() => 'none');
      const intent = await exists(path.join(stagingRoot(), 'service.starting.json'));
      const running = [...(await releaseGroups()).values()].join(' ') || 'none';
      r.note(`at the kill: pidfile ${pidFile === 'none' ? 'absent' : `names ${(JSON.parse(pidFile) as { releaseId: string }).releaseId}`}, start intent ${intent ? 'present' : 'absent'}, release processes: ${running}`);
      worker = await nextWorker();

      const { status, result } = await world.outcome(handle);
      r.outcome = status;
      const [run] = await activityRuns(handle, 'deploy');
      r.timing(run, killedAt);
      const e = await countSideEffects(world, 'staging');
      r.effects(e, '1.1.0', result?.artifactSha256);

      await assertOneRelease(status, result, e);
    }));
});

test('worker kill -9 by the release it just spawned (before the pidfile): the retry adopts it, one release process listens, one live row', () =>
  runScenario(__filename, '20-worker-kill-deploy-9', 'worker kill -9 in deploy: by the spawned release', 'succeeded', async (r) => {
    await localStaging().rollback(v100, await readConfigSource(world.example.envFiles.staging));
    // The release's first act, while the flag exists, is SIGKILL to its parent: the worker that spawned it and
    // has yet to write the pidfile (a few file operations and an fsync away). No fork, so the kill comes first.
    const flag = path.join(world.dataDir, 'kill-deploying-worker');
    const [shell, dashC, script] = SLOW_STOP_RUNTIME_COMMAND as [string, string, string];
    await world.updateSpec((spec) => (spec.runtime.command = [shell, dashC, `[ -e '${flag}' ] && kill -9 $PPID; ${script}`]));
    await fs.writeFile(flag, '');
    try {
      const handle = await world.deploy({ environment: 'staging', version: '1.1.0' });
      const victim = worker;
      await waitUntil('the release to kill the worker that spawned it', async () => victim.child.exitCode !== null || victim.child.signalCode !== null, 120_000);
      const killedAt = Date.now();
      await fs.rm(flag);
      const pidFile = await fs.readFile(path.join(stagingRoot(), 'service.pid'), 'utf8').catch(() => 'none');
      const atKill = await releaseGroups();
      r.note(`at the kill: pidfile ${pidFile === 'none' ? 'absent' : `names ${(JSON.parse(pidFile) as { releaseId: string }).releaseId}`}, release processes: ${[...atKill.values()].join(' ') || 'none'}`);
      assert.equal(victim.child.signalCode, 'SIGKILL');
      const spawned = [...atKill].find(([, release]) => release.startsWith('1.1.0-'));
      assert.ok(spawned, 'the 1.1.0 release that killed the worker runs');
      worker = await nextWorker();

      const { status, result } = await world.outcome(handle);
      r.outcome = status;
      const [run] = await activityRuns(handle, 'deploy');
      r.timing(run, killedAt);
      const e = await countSideEffects(world, 'staging');
      r.effects(e, '1.1.0', result?.artifactSha256);
      await assertOneRelease(status, result, e);
      assert.ok(run && run.attempt >= 2, `the deploy stage was retried (attempt ${run?.attempt})`);
      // Unrecorded when the worker died (the usual case; the kill races the pidfile): the retry adopted it.
      if (pidFile === 'none') assert.deepEqual([...(await releaseGroups()).keys()], [spawned[0]], 'the unrecorded release was adopted, not replaced');
    } finally {
      await fs.rm(flag, { force: true });
      await world.updateSpec((spec) => (spec.runtime.command = SLOW_STOP_RUNTIME_COMMAND));
    }
  }));
