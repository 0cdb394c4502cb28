import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { unpackArtifact } from '../src/artifacts';
import { FailureType } from '../src/errors';
import { createLocalTarget, type CurrentRelease, type LocalTargetConfig, type ReleaseToDeploy } from '../src/targets';
import { localLayout, type LocalLayout } from '../src/targets/local/config';
import { startServiceProcess, stopServiceProcess } from '../src/targets/local/process';
import { stageRelease, swapCurrent } from '../src/targets/local/releases';
import { writeFileAtomic, writeTransitionState } from '../src/targets/transition-state';
import {
  destroyTargetRoot,
  freePort,
  makeTempDir,
  packRelease,
  processGone,
  releaseProcesses,
  waitForVersion,
  waitUntilGone,
} from './fixtures/targets/harness';

/**
 * Who owns the port, both ways: a stranger that takes the port between the free-port check and the
 * release's start is not mistaken for the release, and a release this target started but never recorded
 * (its worker killed between the spawn and the pidfile) is recognised as its own, not as a stranger.
 */

let work: string;
let v1: ReleaseToDeploy;
let v2: ReleaseToDeploy;
const roots: string[] = [];
const others: ChildProcess[] = [];
const orphanGroups: number[] = [];

before(async () => {
  work = await makeTempDir('local-ports');
  v1 = await packRelease(work, '1.0.0');
  v2 = await packRelease(work, '1.1.0');
});

after(async () => {
  for (const pgrp of orphanGroups) if (!processGone(pgrp)) process.kill(-pgrp, 'SIGKILL');
  for (const root of roots) await destroyTargetRoot(root);
  for (const child of others) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await fs.rm(work, { recursive: true, force: true });
});

async function newConfig(): Promise<{ config: LocalTargetConfig; layout: LocalLayout; progress: string[] }> {
  const root = await makeTempDir('local-root');
  roots.push(root);
  const progress: string[] = [];
  const config: LocalTargetConfig = {
    root,
    command: [process.execPath, 'service.js'],
    port: await freePort(),
    keepReleases: 3,
    stopTimeoutMs: 3000,
    onProgress: (m) => progress.push(m),
  };
  return { config, layout: localLayout(root), progress };
}

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined>, limitMs = 15_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A plain node server in a process of its own, listening on `host`:`port`. */
async function startStranger(port: number, host: string): Promise<ChildProcess> {
  const source = `require('http').createServer((q, s) => s.end(JSON.stringify({ version: 'stranger', pid: process.pid }))).listen(${port}, '${host}', () => console.log('listening'))`;
  const child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  others.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => d.includes('listening') && resolve());
    child.once('exit', (code) => reject(new Error(`the stranger exited with ${code} before listening`)));
  });
  return child;
}

for (const host of ['127.0.0.1', '::']) {
  test(`a process that takes the port (${host}) between the free-port check and the release's start fails the deploy naming it; the release is stopped`, async () => {
    const { config, layout } = await newConfig();
    const target = createLocalTarget(config);
    const gate = path.join(work, `listen-${config.port}`);
    // The release starts, but binds its port only once the gate file exists: the stranger gets there first.
    const deploying = target.deploy(v1, { LISTEN_WHEN_FILE: gate });
    const recorded = await waitFor('the release to be started', async () => JSON.parse(await fs.readFile(layout.pidFile, 'utf8').catch(() => 'null')) as { pid: number } | null);
    const stranger = await startStranger(config.port, host);
    await fs.writeFile(gate, '');

    await assert.rejects(deploying, (err: unknown) => {
      assert.ok(err instanceof ApplicationFailure, String(err));
      assert.equal(err.type, FailureType.TargetCommandFailed);
      assert.equal(err.nonRetryable, true);
      assert.match(err.message, new RegExp(`port ${config.port} is in use by a process that is not this target's release: pid ${stranger.pid} \\(\\S*node -e require`));
      assert.match(err.message, /the release was stopped/);
      return true;
    });
    assert.ok(await waitUntilGone(recorded.pid), 'the release the deploy started was stopped');
    assert.deepEqual(await releaseProcesses(config.root), []);
    await assert.rejects(fs.access(layout.pidFile), { code: 'ENOENT' });
    assert.equal(stranger.exitCode, null, 'the stranger is not ours to stop');
    assert.equal((await target.status()).running, false);
  });
}

/**
 * The first attempt at 1.1.0 as a worker killed with SIGKILL right after the spawn leaves it: transition
 * recorded, `current` swapped, 1.0.0 stopped, 1.1.0 spawned the way the target spawns it and listening,
 * the start intent on disk and no pidfile.
 */
async function unrecordedStart(layout: LocalLayout, config: LocalTargetConfig, previous: CurrentRelease | null, release: ReleaseToDeploy): Promise<number> {
  const next = await stageRelease(layout, release, unpackArtifact, () => {});
  await writeTransitionState(layout.stateFile, { previous, next, completed: false, startedAt: new Date().toISOString() });
  await swapCurrent(layout, next.releaseId);
  await stopServiceProcess(layout, 3000, () => {});
  const pid = await startServiceProcess(layout, { releaseId: next.releaseId, command: config.command, port: config.port, runtimeEnv: {} }, () => {});
  orphanGroups.push(pid);
  await waitForVersion(config.port, release.version);
  await fs.rm(layout.pidFile);
  await writeFileAtomic(layout.startFile, JSON.stringify({ releaseId: next.releaseId, requestedAt: new Date().toISOString(), byPid: 1 }));
  return pid;
}

test('a release started but never recorded is adopted by the retried deploy: one release process, the new version answers', async () => {
  const { config, layout, progress } = await newConfig();
  const target = createLocalTarget(config);
  await target.deploy(v1, {});
  const old = await waitForVersion(config.port, '1.0.0');
  const v1Current = await target.current();
  const orphan = await unrecordedStart(layout, config, v1Current, v2);
  assert.ok(processGone(old.pid));
  assert.equal((await target.status()).running, false, 'nothing is recorded as running');

  const retry = await target.deploy(v2, {});
  assert.equal(retry.noop, false);
  assert.deepEqual(retry.previous, v1Current);
  assert.deepEqual(await releaseProcesses(config.root), [orphan], 'the unrecorded release was adopted, not doubled');
  assert.equal((await waitForVersion(config.port, '1.1.0')).pid, orphan);
  const status = await target.status();
  assert.equal(status.running, true);
  assert.equal(status.pid, orphan);
  await assert.rejects(fs.access(layout.startFile), { code: 'ENOENT' });
  assert.ok(progress.some((m) => m.includes(`adopted pid ${orphan}`)), progress.join('\n'));

  const repeat = await target.deploy(v2, {});
  assert.equal(repeat.noop, true);
  assert.deepEqual(repeat.previous, v1Current);
});

test('rollback stops a release started but never recorded and restores the previous one', async () => {
  const { config, layout } = await newConfig();
  const target = createLocalTarget(config);
  await target.deploy(v1, {});
  const v1Current = await target.current();
  const orphan = await unrecordedStart(layout, config, v1Current, v2);

  const { restored } = await target.rollback(v1Current, {});
  assert.deepEqual(restored, v1Current);
  assert.ok(processGone(orphan), 'the unrecorded 1.1.0 process was stopped');
  const answer = await waitForVersion(config.port, '1.0.0');
  assert.deepEqual(await releaseProcesses(config.root), [answer.pid]);
  assert.equal((await target.status()).pid, answer.pid);

  // And a rollback to nothing after a first deploy that was never recorded stops it too.
  const fresh = await newConfig();
  const orphan2 = await unrecordedStart(fresh.layout, fresh.config, null, v1);
  const cleared = await createLocalTarget(fresh.config).rollback(null, {});
  assert.equal(cleared.restored, null);
  assert.ok(processGone(orphan2));
  assert.deepEqual(await releaseProcesses(fresh.config.root), []);
});

test('a deploy of another version replaces an unrecorded release; a process in a release directory without the release mark is left alone', async () => {
  const { config, layout } = await newConfig();
  const target = createLocalTarget(config);
  const orphan = await unrecordedStart(layout, config, null, v1);
  // An operator's shell in the release directory: same working directory, no DEPLOY_RELEASE_ID.
  const releaseDir = await fs.realpath(layout.currentLink);
  const bystander = spawn('sleep', ['120'], { cwd: releaseDir, stdio: 'ignore', env: { PATH: process.env.PATH } });
  others.push(bystander);

  const outcome = await target.deploy(v2, {});
  assert.equal(outcome.noop, false);
  assert.equal(outcome.previous?.version, '1.0.0');
  assert.ok(processGone(orphan), 'the unrecorded 1.0.0 process was stopped');
  const answer = await waitForVersion(config.port, '1.1.0');
  assert.equal(bystander.exitCode, null, 'the unmarked process was not signalled');
  assert.deepEqual((await releaseProcesses(config.root)).filter((p) => p !== bystander.pid), [answer.pid]);
  bystander.kill('SIGKILL');
});

test('a second process this target started but never recorded is stopped even when the recorded one is current', async () => {
  const { config, layout } = await newConfig();
  const target = createLocalTarget(config);
  const first = await target.deploy(v1, {});
  const recorded = await waitForVersion(config.port, '1.0.0');
  const pidFile = await fs.readFile(layout.pidFile, 'utf8');
  // A second start of the same release (on a port of its own), whose record was lost: the first stays recorded.
  const extra = await startServiceProcess(layout, { releaseId: first.releaseId, command: config.command, port: await freePort(), runtimeEnv: {} }, () => {});
  orphanGroups.push(extra);
  await fs.writeFile(layout.pidFile, pidFile);
  assert.deepEqual(await releaseProcesses(config.root), [recorded.pid, extra].sort((a, b) => a - b));

  const repeat = await target.deploy(v1, {});
  assert.equal(repeat.noop, true);
  assert.ok(await waitUntilGone(extra), 'the unrecorded process was stopped');
  assert.deepEqual(await releaseProcesses(config.root), [recorded.pid]);
  assert.equal((await waitForVersion(config.port, '1.0.0')).pid, recorded.pid, 'the recorded release kept running');
});
