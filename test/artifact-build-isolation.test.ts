import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { ApplicationFailure } from '@temporalio/common';
import { buildArtifact, findArtifact, unpackArtifact, type BuildOptions } from '../src/artifacts';
import { FailureType } from '../src/errors';
import { createServiceRepo, type GitRepo } from './helpers/git-repo';
import { waitUntilNoProcessWith } from './helpers/processes';

let repo: GitRepo;
let scratch: string;
const pidsToReap: number[] = [];

before(async () => {
  repo = await createServiceRepo();
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'artifact-isolation-'));
});
after(async () => {
  for (const pid of pidsToReap) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await repo.remove();
  await fs.rm(scratch, { recursive: true, force: true });
});

let counter = 0;
function options(version: string, extra: Partial<BuildOptions> = {}): BuildOptions {
  counter += 1;
  return {
    service: 'hello-service',
    version,
    repository: repo.dir,
    buildCommand: ['node', 'build.js'],
    outputs: ['dist'],
    migrationsDir: 'migrations',
    requiredConfig: [],
    storeDir: path.join(scratch, `store-${counter}`),
    workDir: path.join(scratch, `work-${counter}`),
    timeoutMs: 60_000,
    ...extra,
  };
}

function refusedWith(type: string, ...patterns: RegExp[]) {
  return (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    assert.equal(err.type, type);
    assert.equal(err.nonRetryable, true);
    for (const p of patterns) assert.match(err.message, p);
    return true;
  };
}

test('uncommitted, staged and untracked changes in the repository never reach a build', async () => {
  await repo.write({ 'src/server.js': "console.log('uncommitted edit');\n", 'src/untracked.js': 'untracked\n' });
  await repo.write({ 'migrations/003_wip.sql': '-- phase: contract\nDROP TABLE greetings;\n' });
  await repo.git('add', 'migrations/003_wip.sql');
  const statusBefore = await repo.git('status', '--porcelain');
  try {
    const built = await buildArtifact(options('1.1.0'));
    const dest = path.join(scratch, 'uncommitted');
    await unpackArtifact(built.path, dest);
    assert.equal(await fs.readFile(path.join(dest, 'dist/lib/server.js'), 'utf8'), "console.log('hello 1.1.0');\n");
    assert.deepEqual(await fs.readdir(path.join(dest, 'dist/lib')), ['server.js']);
    assert.deepEqual(built.manifest.migrations.map((m) => m.id), ['001_create_greetings.sql', '002_add_greeting_locale.sql']);
    assert.equal(await repo.git('status', '--porcelain'), statusBefore, "the repository's index and working tree are untouched");
  } finally {
    await repo.git('reset', '-q', '--hard');
    await repo.git('clean', '-q', '-fd');
  }
});

test("the worker's environment does not reach the build; only the documented variables do", async () => {
  const secret = `s3cr3t-${process.pid}-do-not-leak`;
  process.env.DEPLOY_TEST_SECRET_TOKEN = secret;
  process.env.BUILD_SHOULD_FAIL = '1'; // the build script fails if it sees this
  try {
    const built = await buildArtifact(options('1.0.0'));
    const dest = path.join(scratch, 'env');
    await unpackArtifact(built.path, dest);
    const seen = JSON.parse(await fs.readFile(path.join(dest, 'dist/build-env.json'), 'utf8'));
    const commitTime = (await repo.git('show', '-s', '--format=%ct', repo.commits['1.0.0']!)).trim();
    assert.deepEqual(Object.keys(seen).sort(), [
      'DEPLOY_COMMIT',
      'DEPLOY_SERVICE',
      'DEPLOY_VERSION',
      'HOME',
      'LANG',
      'PATH',
      'SOURCE_DATE_EPOCH',
      'TMPDIR',
    ]);
    assert.equal(seen.DEPLOY_COMMIT, repo.commits['1.0.0']);
    assert.equal(seen.DEPLOY_SERVICE, 'hello-service');
    assert.equal(seen.DEPLOY_VERSION, '1.0.0');
    assert.equal(seen.SOURCE_DATE_EPOCH, commitTime);
    const tarBytes = gunzipSync(await fs.readFile(built.path));
    assert.equal(tarBytes.includes(secret), false, 'the secret value appears nowhere in the bundle');
  } finally {
    delete process.env.DEPLOY_TEST_SECRET_TOKEN;
    delete process.env.BUILD_SHOULD_FAIL;
  }
});

test('a failing build is refused with its exit code and output tail, and stores nothing', async () => {
  await repo.commit({ tag: '1.2.0', files: { FAIL: 'yes\n' } });
  const o = options('1.2.0');
  const lines: string[] = [];
  await assert.rejects(
    buildArtifact({ ...o, onProgress: (p) => p.phase === 'build' && lines.push(p.message) }),
    refusedWith(FailureType.BuildFailed, /hello-service 1\.2\.0/, /exited with code 3/, /compile error: src\/server\.js line 1/),
  );
  assert.ok(lines.includes('compile error: src/server.js line 1'), 'output lines stream to onProgress');
  assert.equal(await findArtifact(o.storeDir, 'hello-service', '1.2.0'), null);
  assert.deepEqual(await fs.readdir(o.workDir), [], 'the checkout is removed after a failure');
  const blobs = await fs.readdir(path.join(o.storeDir, 'sha256')).catch(() => []);
  assert.deepEqual(blobs, []);
});

test('a missing build tool is refused by name', async () => {
  await assert.rejects(
    buildArtifact(options('1.0.0', { buildCommand: ['no-such-build-tool-xyz', 'build'] })),
    refusedWith(FailureType.BuildFailed, /no-such-build-tool-xyz/, /not found on PATH/),
  );
});

/** A build that starts a grandchild carrying `marker` in its command line, then hangs. */
function hangingBuild(marker: string): string[] {
  const script = `
    const { spawn } = require('node:child_process');
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', ${JSON.stringify(marker)}], { stdio: 'ignore' });
    child.once('spawn', () => console.log('started helper ' + child.pid));
    setInterval(() => {}, 1000);
  `;
  return ['node', '-e', script];
}

test('a build that exceeds its timeout is stopped with everything it started', async () => {
  const marker = `timeout-helper-${process.pid}-${Date.now()}`;
  const o = options('1.0.0', { buildCommand: hangingBuild(marker), timeoutMs: 3000 });
  await assert.rejects(buildArtifact(o), refusedWith(FailureType.BuildFailed, /did not finish within 3000 ms/, /started helper/));
  const left = await waitUntilNoProcessWith(marker);
  pidsToReap.push(...left);
  assert.deepEqual(left, [], 'the helper process was stopped with the build');
  assert.deepEqual(await fs.readdir(o.workDir), []);
});

test('aborting the signal stops the build and its children', async () => {
  const marker = `abort-helper-${process.pid}-${Date.now()}`;
  const controller = new AbortController();
  const o = options('1.0.0', {
    buildCommand: hangingBuild(marker),
    signal: controller.signal,
    onProgress: (p) => {
      if (p.message.startsWith('started helper')) controller.abort(new Error('deploy cancelled by operator'));
    },
  });
  await assert.rejects(buildArtifact(o), /deploy cancelled by operator/);
  const left = await waitUntilNoProcessWith(marker);
  pidsToReap.push(...left);
  assert.deepEqual(left, [], 'the helper process was stopped with the build');
});
