import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalTarget, releaseIdFor, type LocalTargetConfig, type ReleaseToDeploy } from '../src/targets';
import {
  destroyTargetRoot,
  freePort,
  makeTempDir,
  packRelease,
  processGone,
  readAllFiles,
  waitForVersion,
  waitUntilGone,
} from './fixtures/targets/harness';

const SECRET = 'app-secret-value-7f3a9c';
const runtimeEnv = { APP_SECRET: SECRET };
let work: string;
let v1: ReleaseToDeploy;
let v2: ReleaseToDeploy;
const roots: string[] = [];

before(async () => {
  work = await makeTempDir('local-lifecycle');
  v1 = await packRelease(work, '1.0.0');
  v2 = await packRelease(work, '1.1.0');
});

after(async () => {
  for (const root of roots) await destroyTargetRoot(root, path.dirname(root));
  await fs.rm(work, { recursive: true, force: true });
});

async function newConfig(): Promise<{ config: LocalTargetConfig; progress: string[] }> {
  const root = path.join(await makeTempDir('local-root'), 'target');
  roots.push(root);
  const progress: string[] = [];
  const config: LocalTargetConfig = {
    root,
    command: [process.execPath, 'service.js'],
    port: await freePort(),
    keepReleases: 3,
    stopTimeoutMs: 5000,
    onProgress: (m) => progress.push(m),
  };
  return { config, progress };
}

test('first deploy starts the release behind current; a second swaps and stops the old process; a repeat is a noop', async () => {
  const { config, progress } = await newConfig();
  const target = createLocalTarget(config);

  const first = await target.deploy(v1, runtimeEnv);
  assert.equal(first.releaseId, releaseIdFor('1.0.0', v1.sha256));
  assert.equal(first.noop, false);
  assert.equal(first.previous, null);
  assert.equal(await fs.readlink(path.join(config.root, 'current')), path.join('releases', first.releaseId));
  const answer1 = await waitForVersion(config.port, '1.0.0');
  assert.equal(answer1.releaseId, first.releaseId);
  assert.equal(answer1.appSecret, SECRET, 'runtime configuration reaches the process environment');
  const status1 = await target.status();
  assert.equal(status1.running, true);
  assert.equal(status1.pid, answer1.pid);
  assert.deepEqual(await target.current(), { releaseId: first.releaseId, version: '1.0.0', sha256: v1.sha256 });

  const second = await target.deploy(v2, runtimeEnv);
  assert.equal(second.noop, false);
  assert.deepEqual(second.previous, { releaseId: first.releaseId, version: '1.0.0', sha256: v1.sha256 });
  assert.equal(await fs.readlink(path.join(config.root, 'current')), path.join('releases', second.releaseId));
  const answer2 = await waitForVersion(config.port, '1.1.0');
  assert.ok(processGone(answer1.pid), 'the 1.0.0 process was stopped');
  assert.notEqual(answer2.pid, answer1.pid);

  const repeat = await target.deploy(v2, runtimeEnv);
  assert.equal(repeat.noop, true);
  assert.deepEqual(repeat.previous, second.previous, 'a repeat reports what 1.1.0 replaced');
  const answer3 = await waitForVersion(config.port, '1.1.0');
  assert.equal(answer3.pid, answer2.pid, 'nothing was restarted');

  // The secret value was handed to the process only: not to results, progress, state, pidfile or logs.
  const written = await readAllFiles(config.root);
  assert.ok(written.includes(first.releaseId), 'the scan read the state and log files');
  for (const haystack of [written, progress.join('\n'), JSON.stringify([first, second, repeat, await target.status()])]) {
    assert.ok(!haystack.includes(SECRET));
  }
});

test('a release that is current but whose process died is started again', async () => {
  const { config } = await newConfig();
  const target = createLocalTarget(config);
  await target.deploy(v1, runtimeEnv);
  const before = await waitForVersion(config.port, '1.0.0');
  process.kill(before.pid, 'SIGKILL');
  assert.ok(await waitUntilGone(before.pid));
  assert.equal((await target.status()).running, false);

  const again = await target.deploy(v1, runtimeEnv);
  assert.equal(again.noop, false);
  const after = await waitForVersion(config.port, '1.0.0');
  assert.notEqual(after.pid, before.pid);
  assert.equal((await target.status()).running, true);
});

test('the service outlives the process that deployed it', async () => {
  const { config } = await newConfig();
  const { onProgress: _ignored, ...plainConfig } = config;
  const script = path.join(__dirname, 'fixtures', 'targets', 'deploy-once.ts');
  const deployer = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify({ config: plainConfig, release: v1, runtimeEnv })], {
    cwd: path.join(__dirname, '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  deployer.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  deployer.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exitCode = await new Promise<number | null>((resolve) => deployer.on('close', resolve));
  assert.equal(exitCode, 0, stderr);
  const { deployerPid } = JSON.parse(stdout) as { deployerPid: number };
  assert.ok(await waitUntilGone(deployerPid), 'the deploying process has exited');

  const answer = await waitForVersion(config.port, '1.0.0');
  assert.notEqual(answer.pid, deployerPid);
  const status = await createLocalTarget(config).status();
  assert.equal(status.running, true);
  assert.equal(status.pid, answer.pid);
});
