import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { buildArtifact, findArtifact, verifyArtifact, type BuildOptions } from '../src/artifacts';
import { FailureType } from '../src/errors';
import { createServiceRepo, type GitRepo } from './helpers/git-repo';

let repo: GitRepo;
let scratch: string;

before(async () => {
  repo = await createServiceRepo();
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'artifact-store-'));
});
after(async () => {
  await repo.remove();
  await fs.rm(scratch, { recursive: true, force: true });
});

function options(store: string, version: string, extra: Partial<BuildOptions> = {}): BuildOptions {
  return {
    service: 'hello-service',
    version,
    repository: repo.dir,
    buildCommand: ['node', 'build.js'],
    outputs: ['dist'],
    migrationsDir: 'migrations',
    requiredConfig: [],
    storeDir: path.join(scratch, store),
    workDir: path.join(scratch, 'work'),
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

test('stored bundles and version records are read-only files at content-addressed paths', async () => {
  const built = await buildArtifact(options('store-layout', '1.0.0'));
  assert.equal(built.path, path.join(scratch, 'store-layout', 'sha256', `${built.sha256}.tar.gz`));
  assert.equal((await fs.stat(built.path)).mode & 0o777, 0o444);
  const record = path.join(scratch, 'store-layout', 'hello-service', '1.0.0.json');
  assert.equal((await fs.stat(record)).mode & 0o777, 0o444);
  const parsed = JSON.parse(await fs.readFile(record, 'utf8'));
  assert.equal(parsed.sha256, built.sha256);
  assert.deepEqual(parsed.manifest, built.manifest);
  await verifyArtifact(built);
});

test('a moved tag cannot replace a stored version: the build is refused as a conflict', async () => {
  const store = 'store-moved-tag';
  const original = await buildArtifact(options(store, '1.0.0'));
  await repo.git('tag', '-f', '1.0.0', repo.commits['1.1.0']!);
  try {
    await assert.rejects(
      buildArtifact(options(store, '1.0.0')),
      refusedWith(FailureType.ArtifactConflict, /hello-service version 1\.0\.0 is already stored/, /immutable/, /cut a new version/, /tag moved/),
    );
  } finally {
    await repo.git('tag', '-f', '1.0.0', repo.commits['1.0.0']!);
  }
  const still = await findArtifact(path.join(scratch, store), 'hello-service', '1.0.0');
  assert.equal(still?.sha256, original.sha256);
  await verifyArtifact(still!);
});

test('changed build settings for the same commit are a conflict too', async () => {
  const store = 'store-settings';
  await buildArtifact(options(store, '1.1.0'));
  await assert.rejects(
    buildArtifact(options(store, '1.1.0', { outputs: ['dist', 'build.js'] })),
    refusedWith(FailureType.ArtifactConflict, /build settings changed or the build is not reproducible/),
  );
});

test('concurrent builds of one version agree on one record and one bundle', async () => {
  const store = 'store-concurrent';
  const results = await Promise.all([1, 2, 3, 4].map(() => buildArtifact(options(store, '1.1.0'))));
  const shas = new Set(results.map((r) => r.sha256));
  assert.equal(shas.size, 1);
  assert.equal(results.filter((r) => !r.reused).length, 1, 'exactly one build recorded the version');
  const sha = [...shas][0]!;
  assert.deepEqual(await fs.readdir(path.join(scratch, store, 'sha256')), [`${sha}.tar.gz`], 'no temporary files left behind');
  assert.deepEqual(await fs.readdir(path.join(scratch, store, 'hello-service')), ['1.1.0.json']);
  await verifyArtifact(results[0]!);
});

test('verifyArtifact detects a modified or missing bundle, and rebuilding the version restores it', async () => {
  const store = 'store-tamper';
  const built = await buildArtifact(options(store, '1.0.0'));
  await fs.chmod(built.path, 0o644);
  const bytes = await fs.readFile(built.path);
  bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff; // same size, different content
  await fs.writeFile(built.path, bytes);
  await assert.rejects(verifyArtifact(built), refusedWith(FailureType.ArtifactConflict, /was modified/, new RegExp(built.sha256)));

  const repaired = await buildArtifact(options(store, '1.0.0'));
  assert.equal(repaired.reused, true);
  await verifyArtifact(repaired);

  await fs.rm(built.path, { force: true });
  await assert.rejects(verifyArtifact(built), refusedWith(FailureType.ArtifactConflict, /is missing/));
  await assert.rejects(
    findArtifact(path.join(scratch, store), 'hello-service', '1.0.0'),
    refusedWith(FailureType.ArtifactConflict, /is missing; build the same version again/),
  );
});

test('a build interrupted before recording its version completes on retry', async () => {
  const store = 'store-crash';
  const first = await buildArtifact(options(store, '1.0.0'));
  // As if the worker died after moving the bundle into place but before writing the record.
  await fs.rm(path.join(scratch, store, 'hello-service', '1.0.0.json'));
  await fs.writeFile(path.join(scratch, store, 'sha256', '.tmp-99999-abandoned.tar.gz'), 'half a bundle');
  const retried = await buildArtifact(options(store, '1.0.0'));
  assert.equal(retried.sha256, first.sha256);
  assert.equal(retried.reused, false);
  assert.equal((await findArtifact(path.join(scratch, store), 'hello-service', '1.0.0'))?.sha256, first.sha256);
});

test('service and version names that could escape the store are refused', async () => {
  await assert.rejects(
    buildArtifact(options('store-names', '1.0.0', { service: '../etc' })),
    refusedWith(FailureType.InvalidInput, /service "\.\.\/etc"/),
  );
  await assert.rejects(findArtifact(path.join(scratch, 'store-names'), 'hello-service', '../1.0.0'), refusedWith(FailureType.InvalidInput, /version/));
});
