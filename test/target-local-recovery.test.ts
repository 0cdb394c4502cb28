import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { unpackArtifact } from '../src/artifacts';
import { createLocalTarget, type LocalTargetConfig, type ReleaseToDeploy } from '../src/targets';
import { localLayout } from '../src/targets/local/config';
import { stageRelease, swapCurrent } from '../src/targets/local/releases';
import { writeTransitionState } from '../src/targets/transition-state';
import {
  destroyTargetRoot,
  freePort,
  makeTempDir,
  packRelease,
  processGone,
  waitForVersion,
  waitUntilGone,
} from './fixtures/targets/harness';

let work: string;
let v1: ReleaseToDeploy;
let v2: ReleaseToDeploy;
const roots: string[] = [];
const foreignPids: number[] = [];

before(async () => {
  work = await makeTempDir('local-recovery');
  v1 = await packRelease(work, '1.0.0');
  v2 = await packRelease(work, '1.1.0');
});

after(async () => {
  for (const root of roots) await destroyTargetRoot(root);
  for (const pid of foreignPids) if (!processGone(pid)) process.kill(pid, 'SIGKILL');
  await fs.rm(work, { recursive: true, force: true });
});

async function newConfig(stopTimeoutMs = 5000): Promise<{ config: LocalTargetConfig; progress: string[] }> {
  const root = await makeTempDir('local-root');
  roots.push(root);
  const progress: string[] = [];
  const config: LocalTargetConfig = {
    root,
    command: [process.execPath, 'service.js'],
    port: await freePort(),
    keepReleases: 3,
    stopTimeoutMs,
    onProgress: (m) => progress.push(m),
  };
  return { config, progress };
}

test('a retry after a crash between the swap and the restart reports the release that was current before', async () => {
  const { config } = await newConfig();
  const target = createLocalTarget(config);
  await target.deploy(v1, {});
  const old = await waitForVersion(config.port, '1.0.0');
  const v1Current = await target.current();

  // The first attempt at 1.1.0 staged it, recorded the transition and swapped `current`, then died.
  const layout = localLayout(config.root);
  const next = await stageRelease(layout, v2, unpackArtifact, () => {});
  await writeTransitionState(layout.stateFile, { previous: v1Current, next, completed: false, startedAt: new Date().toISOString() });
  assert.ok(await swapCurrent(layout, next.releaseId));
  assert.equal((await target.current())?.version, '1.1.0', 'current already names the new release');
  assert.equal((await target.status()).running, false, 'the running process is not the current release');

  const retry = await target.deploy(v2, {});
  assert.equal(retry.noop, false);
  assert.deepEqual(retry.previous, v1Current);
  await waitForVersion(config.port, '1.1.0');
  assert.ok(processGone(old.pid), 'the 1.0.0 process was stopped');

  const repeated = await target.deploy(v2, {});
  assert.equal(repeated.noop, true);
  assert.deepEqual(repeated.previous, v1Current, 'a retry after the deploy completed reports the same previous');
});

test('a pidfile naming a process the target did not start is not signalled', async () => {
  const { config } = await newConfig();
  const target = createLocalTarget(config);
  await target.deploy(v1, {});
  const started = await waitForVersion(config.port, '1.0.0');
  process.kill(started.pid, 'SIGKILL');
  assert.ok(await waitUntilGone(started.pid));

  // As if the pid had been reused by an unrelated process after the service died.
  const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
  foreignPids.push(stranger.pid!);
  const pidFile = path.join(config.root, 'service.pid');
  const record = JSON.parse(await fs.readFile(pidFile, 'utf8')) as Record<string, unknown>;
  await fs.writeFile(pidFile, JSON.stringify({ ...record, pid: stranger.pid }));

  assert.equal((await target.status()).running, false);
  const outcome = await target.deploy(v1, {});
  assert.equal(outcome.noop, false);
  await waitForVersion(config.port, '1.0.0');
  assert.equal(processGone(stranger.pid!), false, 'the unrelated process is still alive');
});

test('a process that ignores SIGTERM is killed with SIGKILL after stopTimeoutMs', async () => {
  const { config, progress } = await newConfig(500);
  const target = createLocalTarget(config);
  const stubbornEnv = { IGNORE_SIGTERM: '1' };
  const first = await target.deploy(v1, stubbornEnv);
  const stubborn = await waitForVersion(config.port, '1.0.0');

  await target.deploy(v2, stubbornEnv);
  assert.ok(processGone(stubborn.pid), 'the 1.0.0 process is gone');
  await waitForVersion(config.port, '1.1.0');
  assert.ok(progress.some((m) => m.includes('sending SIGKILL')), progress.join('\n'));
  const log = await fs.readFile(path.join(config.root, 'logs', `${first.releaseId}.log`), 'utf8');
  assert.match(log, /ignoring SIGTERM/, 'SIGTERM was sent first');
});

test('a port held by a process that is not this target release is refused before anything changes', async () => {
  const { config } = await newConfig();
  const target = createLocalTarget(config);
  await target.deploy(v1, {});
  await waitForVersion(config.port, '1.0.0');
  await target.rollback(null, {}); // our release stopped, `current` removed
  // Another program takes the port (another checkout's service, a stray process).
  const net = await import('node:net');
  const squatter = net.createServer().listen(config.port, '127.0.0.1');
  await new Promise((r) => squatter.once('listening', r));
  try {
    // The refusal names the holder, found from /proc: here the test process itself listens.
    await assert.rejects(target.deploy(v2, {}), new RegExp(`port ${config.port} is in use by a process that is not this target's release \\(pid ${process.pid}: `));
    assert.equal(await target.current(), null, 'current must not have been switched');
  } finally {
    await new Promise((r) => squatter.close(r));
  }
});
